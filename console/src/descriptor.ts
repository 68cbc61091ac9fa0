/**
 * Command bodies checked against the descriptors the gateway knows
 * (`GET /v1/console/types`) before they are sent: the proto3 JSON mapping's
 * rules for each field type, unknown and duplicated fields, and nested
 * messages. The server checks again and its word is final; this only lets
 * the page say what is wrong while the body is typed, and refuse to send it.
 */

import type { FieldInfo, MessageType, Types } from './api';
import { base64ToBytes, base64ToUuid, isUuid, uuidToBase64 } from './uuid';

export type TypeIndex = Map<string, MessageType>;

export function indexTypes(types: Types): TypeIndex {
  return new Map(types.commands.map((t) => [t.name, t]));
}

export interface Problem {
  /** Where: `amount.currencyCode`, `players[2]`; '' for the body itself. */
  path: string;
  message: string;
}

/** `{ok, value}` or the parser's message. */
export function parseJson(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, message: `not JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
}

const INT32 = new Set(['int32', 'sint32', 'sfixed32']);
const UINT32 = new Set(['uint32', 'fixed32']);
const INT64 = new Set(['int64', 'sint64', 'sfixed64']);
const UINT64 = new Set(['uint64', 'fixed64']);

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function integer(v: unknown, lo: bigint, hi: bigint, what: string): string | null {
  let n: bigint;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return `${what} must be a whole number, not ${v}`;
    n = BigInt(v);
  } else if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) {
    n = BigInt(v.trim());
  } else {
    return `${what} must be a whole number (or a string of one), not ${JSON.stringify(v)}`;
  }
  if (n < lo || n > hi) return `${what} out of range: ${String(n)} (${String(lo)}..${String(hi)})`;
  return null;
}

/** Why `v` is not a valid proto3 JSON value of a non-repeated field of `f`'s type; null when it is. */
function scalarProblem(f: FieldInfo, v: unknown): string | null {
  const t = f.type;
  if (INT32.has(t)) return integer(v, -(2n ** 31n), 2n ** 31n - 1n, t);
  if (UINT32.has(t)) return integer(v, 0n, 2n ** 32n - 1n, t);
  if (INT64.has(t)) return integer(v, -(2n ** 63n), 2n ** 63n - 1n, t);
  if (UINT64.has(t)) return integer(v, 0n, 2n ** 64n - 1n, t);
  switch (t) {
    case 'double':
    case 'float':
      if (typeof v === 'number') return null;
      if (
        typeof v === 'string' &&
        (['NaN', 'Infinity', '-Infinity'].includes(v) || (v.trim() !== '' && !Number.isNaN(Number(v))))
      )
        return null;
      return `${t} must be a number, not ${JSON.stringify(v)}`;
    case 'bool':
      return typeof v === 'boolean' ? null : `bool must be true or false, not ${JSON.stringify(v)}`;
    case 'string':
      return typeof v === 'string' ? null : `string expected, not ${JSON.stringify(v)}`;
    case 'bytes':
      if (typeof v !== 'string') return `bytes must be a base64 string, not ${JSON.stringify(v)}`;
      if (isUuid(v)) return `bytes must be base64: the UUID ${v} is "${uuidToBase64(v)}"`;
      return base64ToBytes(v) === null ? `bytes must be base64, not ${JSON.stringify(v)}` : null;
    case 'enum':
      return typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v))
        ? null
        : `${f.message ?? 'enum'} must be a value's name or number, not ${JSON.stringify(v)}`;
    default:
      return null; // a kind this page does not know: the server decides
  }
}

/** Well-known types, whose JSON form is not an object of their fields. */
function wellKnownProblem(name: string, v: unknown): string | null | undefined {
  switch (name) {
    case 'google.protobuf.Timestamp':
      return typeof v === 'string' && !Number.isNaN(Date.parse(v))
        ? null
        : `${name} must be an RFC 3339 time such as "2026-01-01T00:00:00Z", not ${JSON.stringify(v)}`;
    case 'google.protobuf.Duration':
      return typeof v === 'string' && /^-?\d+(\.\d+)?s$/.test(v)
        ? null
        : `${name} must be like "1.5s", not ${JSON.stringify(v)}`;
    default:
      return name.startsWith('google.protobuf.') ? null : undefined;
  }
}

function checkValue(index: TypeIndex, f: FieldInfo, v: unknown, path: string, out: Problem[], depth: number): void {
  if (f.type === 'message' && f.message !== null) {
    const wk = wellKnownProblem(f.message, v);
    if (wk !== undefined) {
      if (wk !== null) out.push({ path, message: wk });
      return;
    }
    if (!isObject(v)) {
      out.push({ path, message: `${f.message} must be an object, not ${JSON.stringify(v)}` });
      return;
    }
    const inner = index.get(f.message);
    if (inner) checkMessage(index, inner, v, path, out, depth + 1);
    return; // a nested or map type the page has no descriptor of: the server decides
  }
  const p = scalarProblem(f, v);
  if (p !== null) out.push({ path, message: p });
}

function checkMessage(
  index: TypeIndex,
  type: MessageType,
  body: Record<string, unknown>,
  path: string,
  out: Problem[],
  depth: number,
): void {
  if (depth > 32) {
    out.push({ path, message: 'nested too deep' });
    return;
  }
  const seen = new Map<string, string>();
  for (const [key, v] of Object.entries(body)) {
    const f = type.fields.find((x) => x.jsonName === key || x.name === key);
    const here = join(path, key);
    if (!f) {
      const names = type.fields.map((x) => x.jsonName).join(', ') || 'none';
      out.push({ path: here, message: `${type.name} has no field \`${key}\` (its fields: ${names})` });
      continue;
    }
    const other = seen.get(f.name);
    if (other !== undefined) {
      out.push({ path: here, message: `\`${key}\` and \`${other}\` are the same field` });
      continue;
    }
    seen.set(f.name, key);
    if (v === null) continue; // proto3 JSON: null is the default
    if (f.repeated) {
      if (!Array.isArray(v)) {
        out.push({ path: here, message: `repeated field: a list expected, not ${JSON.stringify(v)}` });
        continue;
      }
      v.forEach((item, i) => {
        if (item === null) out.push({ path: `${here}[${i}]`, message: 'a list may not hold null' });
        else checkValue(index, f, item, `${here}[${i}]`, out, depth);
      });
    } else {
      checkValue(index, f, v, here, out, depth);
    }
  }
}

/** What is wrong with `body` as proto3 JSON of `typeName`; [] when nothing is. */
export function validateBody(index: TypeIndex, typeName: string, body: unknown): Problem[] {
  const type = index.get(typeName);
  if (!type) return [{ path: '', message: `the gateway knows no message type \`${typeName}\`` }];
  if (!isObject(body))
    return [{ path: '', message: `the body must be a JSON object (${typeName}), not ${JSON.stringify(body)}` }];
  const out: Problem[] = [];
  checkMessage(index, type, body, '', out, 0);
  return out;
}

function example(index: TypeIndex, f: FieldInfo, depth: number): unknown {
  if (f.repeated) return [];
  if (f.type === 'message' && f.message !== null) {
    if (f.message === 'google.protobuf.Timestamp') return new Date(0).toISOString();
    const inner = index.get(f.message);
    return inner && depth < 4 ? template(index, inner.name, depth + 1) : {};
  }
  if (INT64.has(f.type) || UINT64.has(f.type)) return '0';
  if (INT32.has(f.type) || UINT32.has(f.type) || f.type === 'double' || f.type === 'float') return 0;
  if (f.type === 'bool') return false;
  if (f.type === 'enum') return 0;
  return '';
}

/** A body of `typeName` with every field at an example value: a starting point to edit. */
export function template(index: TypeIndex, typeName: string, depth = 0): Record<string, unknown> {
  const type = index.get(typeName);
  const out: Record<string, unknown> = {};
  for (const f of type?.fields ?? []) out[f.jsonName] = example(index, f, depth);
  return out;
}

/** One line per field: `amount: examples.Currency`, `players: repeated string`. */
export function describeFields(type: MessageType): string[] {
  return type.fields.map((f) => `${f.jsonName}: ${f.repeated ? 'repeated ' : ''}${f.message ?? f.type}`);
}

export interface BytesUuid {
  path: string;
  uuid: string;
}

/**
 * The `bytes` fields of a decoded message that hold exactly 16 bytes, as
 * UUIDs (roots travel so, e.g. `FundsTransferred.fromPlayerRoot`): the
 * pages show the UUID beside the base64.
 */
export function bytesUuids(index: TypeIndex, typeName: string, value: unknown, path = ''): BytesUuid[] {
  const type = index.get(typeName);
  if (!type || !isObject(value)) return [];
  const out: BytesUuid[] = [];
  for (const [key, v] of Object.entries(value)) {
    const f = type.fields.find((x) => x.jsonName === key || x.name === key);
    if (!f) continue;
    const items: [string, unknown][] =
      f.repeated && Array.isArray(v) ? v.map((x, i) => [`${join(path, key)}[${i}]`, x]) : [[join(path, key), v]];
    for (const [p, item] of items) {
      if (f.type === 'bytes' && typeof item === 'string') {
        const u = base64ToUuid(item);
        if (u !== null) out.push({ path: p, uuid: u });
      } else if (f.type === 'message' && f.message !== null) {
        out.push(...bytesUuids(index, f.message, item, p));
      }
    }
  }
  return out;
}
