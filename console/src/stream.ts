/**
 * The event stream of a correlation id (`GET /v1/stream/{id}`, Server-Sent
 * Events named `event`, each an `angzarr.EventBook` in proto3 JSON) turned
 * into rows a person reads: domain, root as a UUID, sequence, type, the
 * event's fields, and — for an event that a saga's or process manager's
 * command caused — the cover of the event that caused it (`cover.ext`).
 */

import { rootToUuid } from './uuid';

export interface Cause {
  domain: string;
  root: string | null;
}

export interface StreamRow {
  domain: string;
  /** The root as a UUID (null when the cover had none or it was not 16 bytes). */
  root: string | null;
  correlationId: string;
  sequence: number;
  /** The event's full type name (`examples.FundsDeposited`); '(external)' for external payloads. */
  type: string;
  createdAt: string | null;
  /** The event's fields, without `@type`. */
  event: Record<string, unknown>;
  /** Set on events of commands a saga or process manager issued. */
  causedBy: Cause | null;
}

/** `examples.FundsDeposited` from `type.googleapis.com/examples.FundsDeposited`. */
export function typeName(typeUrl: string): string {
  const i = typeUrl.lastIndexOf('/');
  return i >= 0 ? typeUrl.slice(i + 1) : typeUrl;
}

/** The short name: `FundsDeposited` from `examples.FundsDeposited`. */
export function shortName(fullName: string): string {
  const i = fullName.lastIndexOf('.');
  return i >= 0 ? fullName.slice(i + 1) : fullName;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});

/** The rows of one `event` message's data (an EventBook, as text or parsed). */
export function decodeEventBook(data: string | unknown): StreamRow[] {
  const book = obj(typeof data === 'string' ? JSON.parse(data) : data);
  const cover = obj(book.cover);
  const domain = typeof cover.domain === 'string' ? cover.domain : '';
  const root = rootToUuid(cover.root);
  const correlationId = typeof cover.correlationId === 'string' ? cover.correlationId : '';
  const ext = obj(cover.ext);
  const causedBy: Cause | null =
    typeof ext['@type'] === 'string' && typeName(ext['@type']) === 'angzarr.Cover'
      ? { domain: typeof ext.domain === 'string' ? ext.domain : '', root: rootToUuid(ext.root) }
      : null;
  const pages = Array.isArray(book.pages) ? book.pages : [];
  return pages.map((raw): StreamRow => {
    const page = obj(raw);
    const header = obj(page.header);
    // proto3 JSON leaves out defaults: a missing sequence is 0.
    const sequence = typeof header.sequence === 'number' ? header.sequence : 0;
    let type = '';
    let event: Json = {};
    if (page.event !== undefined) {
      const { ['@type']: url, ...fields } = obj(page.event);
      type = typeof url === 'string' ? typeName(url) : '';
      event = fields;
    } else if (page.external !== undefined) {
      type = '(external)';
      event = obj(page.external);
    }
    return {
      domain,
      root,
      correlationId,
      sequence,
      type,
      createdAt: typeof page.createdAt === 'string' ? page.createdAt : null,
      event,
      causedBy,
    };
  });
}

/** `2026-12-01 09:10:48.463Z`: an RFC 3339 time, shorter and still exact to the millisecond. */
export function formatTime(rfc3339: string | null): string {
  if (rfc3339 === null) return '—';
  const t = Date.parse(rfc3339);
  if (Number.isNaN(t)) return rfc3339;
  return new Date(t).toISOString().replace('T', ' ');
}
