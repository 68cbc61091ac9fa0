/**
 * The gateway's HTTP API as the console uses it: one typed function per
 * route (coordinators/src/console/mod.rs, coordinators/src/admin.rs), and
 * one error type carrying the server's `{code, message}` verbatim, so a page
 * shows exactly what the API said, next to the control that asked.
 */

export interface Topics {
  commands: string;
  events: string;
  snapshots: string;
}

export interface DomainInfo {
  name: string;
  partitions: number;
  /** The topics on Kafka; null on the embedded log. */
  topics: Topics | null;
}

/** A projector, saga or process manager, and the domains it listens to. */
export interface Component {
  name: string;
  domains: string[];
}

export interface ConsoleConfig {
  commandsEnabled: boolean;
  log: { type: 'embedded' | 'kafka'; topicPrefix: string | null };
  domains: DomainInfo[];
  projectors: Component[];
  sagas: Component[];
  processManagers: Component[];
}

export type TaskState = 'restoring' | 'serving' | 'failed';

/** One partition task of the process serving the page. */
export interface Task {
  group: string;
  domain: string;
  partition: number;
  state: TaskState;
  sinceMs: number;
  restarts: number;
  lastError: string | null;
  owner: string;
}

export interface Status {
  tasks: Task[];
}

export interface PartitionLag {
  domain: string;
  partition: number;
  committed: number | null;
  end: number;
  lag: number;
}

export interface GroupLag {
  group: string;
  stream: 'commands' | 'events';
  partitions: PartitionLag[];
  error: string | null;
}

export interface LagSample {
  /** When the server sampled (RFC 3339); null before the first sample. */
  sampledAt: string | null;
  groups: GroupLag[];
}

export interface RootsPage {
  roots: string[];
  /** Pass as `after` for the next page; null on the last page. */
  next: string | null;
}

export interface BookEvent {
  sequence: number | null;
  type: string;
  createdAt: string | null;
  event: unknown;
}

export interface Book {
  domain: string;
  root: string;
  snapshot: { sequence: number; state: unknown } | null;
  events: BookEvent[];
}

export interface FieldInfo {
  name: string;
  jsonName: string;
  /** `message`, `enum`, `string`, `int64`, `bool`, `bytes`, ... */
  type: string;
  /** The message or enum type's full name, for `message` and `enum`. */
  message: string | null;
  repeated: boolean;
}

export interface MessageType {
  name: string;
  domain: string | null;
  fields: FieldInfo[];
}

export interface Types {
  commands: MessageType[];
}

export const SYNC_MODES = ['ASYNC', 'DECISION', 'SIMPLE', 'CASCADE', 'ISOLATED'] as const;
export type SyncMode = (typeof SYNC_MODES)[number];

export interface SendRequest {
  domain: string;
  root: string;
  type: string;
  body: unknown;
  syncMode: SyncMode;
  /** null: the server reads the aggregate's current sequence. */
  sequence: number | null;
}

export interface SendResult {
  accepted: boolean;
  response: unknown;
}

/** What the API refused, as it said it: `code` (gRPC's name) and `message`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** `CODE: message`, the form the pages show. */
  describe(): string {
    return `${this.code}: ${this.message}`;
  }
}

/** An error as the pages show it: the API's code and message, or the exception's text. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) return e.describe();
  if (e instanceof Error) return e.message;
  return String(e);
}

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

const seg = encodeURIComponent;

/** The API at `base` ('' = the origin that served the page). */
export class Api {
  constructor(
    private readonly base = '',
    private readonly fetcher: Fetch = (i, init) => fetch(i, init),
  ) {}

  /** The URL of a route, for links and EventSource. */
  url(path: string): string {
    return this.base + path;
  }

  private async request<T>(path: string, init?: RequestInit): Promise<T> {
    let res: Response;
    try {
      res = await this.fetcher(this.url(path), init);
    } catch (e) {
      throw new ApiError(
        0,
        'UNAVAILABLE',
        `cannot reach the gateway (${path}): ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    const text = await res.text();
    let body: unknown = undefined;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!res.ok) {
      const b = body as { code?: unknown; message?: unknown } | undefined;
      if (b && typeof b.code === 'string' && typeof b.message === 'string') {
        throw new ApiError(res.status, b.code, b.message);
      }
      throw new ApiError(res.status, `HTTP_${res.status}`, text.trim() || res.statusText || 'no message');
    }
    if (body === undefined) {
      throw new ApiError(res.status, 'INTERNAL', `${path} answered ${res.status} without JSON: ${text.slice(0, 200)}`);
    }
    return body as T;
  }

  config(): Promise<ConsoleConfig> {
    return this.request('/v1/console/config');
  }

  status(): Promise<Status> {
    return this.request('/v1/status');
  }

  lag(): Promise<LagSample> {
    return this.request('/v1/lag');
  }

  roots(domain: string, after: string | null, limit = 50): Promise<RootsPage> {
    const q = new URLSearchParams({ limit: String(limit) });
    if (after !== null) q.set('after', after);
    return this.request(`/v1/roots/${seg(domain)}?${q}`);
  }

  book(domain: string, root: string, asOfSequence: number | null = null): Promise<Book> {
    const q = asOfSequence === null ? '' : `?asOfSequence=${asOfSequence}`;
    return this.request(`/v1/books/${seg(domain)}/${seg(root)}${q}`);
  }

  types(): Promise<Types> {
    return this.request('/v1/console/types');
  }

  send(req: SendRequest): Promise<SendResult> {
    return this.request('/v1/console/send', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(req),
    });
  }

  /** The Server-Sent Events URL of a correlation id. */
  streamUrl(correlationId: string): string {
    return this.url(`/v1/stream/${seg(correlationId)}`);
  }
}
