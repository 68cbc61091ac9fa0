#!/usr/bin/env node
// A stand-in for angzarr's HTTP listener, for working on the console without
// a Rust build: the console API's routes with the contract's shapes
// (coordinators/src/console/, admin.rs, http.rs), an in-memory log, and the
// recorded configuration and descriptors of `angzarr dev` (fixtures/).
//
//   npm run fake                 # http://127.0.0.1:1399, then `npm run dev`
//   node dev/fake-server.mjs --listen 127.0.0.1:1399 [--commands off]
//
// What it does not do: run business logic. A command appends one event of
// the command's own type with its body as the fields (enough to see books,
// roots, streams and lag move). Lag is of one projector, `bankroll`, which
// reads one event a second unless stopped: POST /fake/projector/stop|start.
// It also serves console/dist at /ui, as the binary does.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = (name) => JSON.parse(readFileSync(join(here, '..', 'fixtures', name), 'utf8'));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const [host, port] = arg('--listen', '127.0.0.1:1399').split(':');
const config = { ...fixture('config-embedded.json'), commandsEnabled: arg('--commands', 'on') !== 'off' };
const types = fixture('types.json');
const PARTITIONS = 8;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** domain → root → events ({sequence, type, createdAt, correlationId, event}). */
const books = new Map(config.domains.map((d) => [d.name, new Map()]));
const partitionOf = (root) => parseInt(root.slice(0, 8), 16) % PARTITIONS;
const subscribers = new Set(); // {correlationId, res}
let bankroll = { running: true, read: 0 };
let log = []; // every event, in commit order: {domain, root, partition}
const started = Date.now();

const send = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};
const error = (res, status, code, message) => send(res, status, { code, message });

function append(domain, root, type, fields, correlationId) {
  const book = books.get(domain);
  const events = book.get(root) ?? [];
  const e = { sequence: events.length, type, createdAt: new Date().toISOString(), correlationId, event: fields };
  events.push(e);
  book.set(root, events);
  log.push({ domain, root, partition: partitionOf(root) });
  const page = {
    header: { sequence: e.sequence },
    createdAt: e.createdAt,
    event: { '@type': `type.googleapis.com/${type}`, ...fields },
  };
  const cover = {
    domain,
    root: { value: Buffer.from(root.replace(/-/g, ''), 'hex').toString('base64') },
    correlationId,
  };
  for (const s of subscribers) {
    if (s.correlationId === correlationId)
      s.res.write(`event: event\ndata: ${JSON.stringify({ cover, pages: [page] })}\n\n`);
  }
  return { cover: { ...cover, root }, pages: [page], nextSequence: events.length };
}

function lag() {
  const rows = (behindOf) =>
    config.domains.flatMap((d) =>
      Array.from({ length: PARTITIONS }, (_, p) => {
        const end = log.filter((e) => e.domain === d.name && e.partition === p).length;
        const lagging = Math.min(end, behindOf(d.name, p));
        return { domain: d.name, partition: p, committed: end === 0 ? null : end - lagging, end, lag: lagging };
      }),
    );
  const unread = log.slice(bankroll.read);
  return {
    sampledAt: new Date(Math.floor(Date.now() / 2000) * 2000).toISOString(),
    groups: [
      { group: 'angzarr-command-handler', stream: 'commands', error: null, partitions: rows(() => 0) },
      {
        group: 'projector.bankroll',
        stream: 'events',
        error: null,
        partitions: rows((d, p) => unread.filter((e) => e.domain === d && e.partition === p).length).filter(
          (r) => r.domain === 'player',
        ),
      },
    ],
  };
}
setInterval(() => {
  if (bankroll.running && bankroll.read < log.length) bankroll.read++;
}, 1000).unref();

async function body(req) {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text;
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const route = `${req.method} /${parts.slice(0, 2).join('/')}`;
  try {
    if (url.pathname === '/ui' || url.pathname.startsWith('/ui/')) {
      const rel = normalize(url.pathname.slice(4)).replace(/^(\.\.[/\\])+/, '') || 'index.html';
      let file = join(here, '..', 'dist', rel === '.' ? 'index.html' : rel);
      let data;
      try {
        data = readFileSync(file);
      } catch {
        file = join(here, '..', 'dist', 'index.html');
        data = readFileSync(file);
      }
      const kind = { html: 'text/html', js: 'text/javascript', css: 'text/css' }[file.split('.').pop()];
      res.writeHead(200, { 'content-type': `${kind ?? 'application/octet-stream'}; charset=utf-8` });
      return res.end(data);
    }
    switch (route) {
      case 'GET /v1/console':
        if (parts[2] === 'config') return send(res, 200, config);
        if (parts[2] === 'types') return send(res, 200, types);
        break;
      case 'GET /v1/status':
        return send(res, 200, {
          tasks: config.domains.flatMap((d) =>
            Array.from({ length: PARTITIONS }, (_, p) => ({
              group: 'angzarr-command-handler',
              domain: d.name,
              partition: p,
              state: 'serving',
              sinceMs: Date.now() - started,
              restarts: 0,
              lastError: null,
              owner: `fake:${process.pid}`,
            })),
          ),
        });
      case 'GET /v1/lag':
        return send(res, 200, lag());
      case 'GET /v1/roots': {
        const book = books.get(parts[2]);
        if (!book) return error(res, 404, 'NOT_FOUND', `unknown domain \`${parts[2]}\``);
        const after = url.searchParams.get('after');
        if (after !== null && !UUID.test(after))
          return error(res, 400, 'INVALID_ARGUMENT', `\`${after}\` is not a UUID`);
        const limit = Math.min(500, Math.max(1, Number(url.searchParams.get('limit') ?? 50)));
        const roots = [...book.keys()].sort().filter((r) => after === null || r > after);
        return send(res, 200, { roots: roots.slice(0, limit), next: roots.length > limit ? roots[limit - 1] : null });
      }
      case 'GET /v1/books': {
        const [, , domain, root] = parts;
        if (!UUID.test(root ?? '')) return error(res, 400, 'INVALID_ARGUMENT', `\`${root}\` is not a UUID`);
        const book = books.get(domain);
        if (!book) return error(res, 404, 'NOT_FOUND', `unknown domain \`${domain}\``);
        const asOf = url.searchParams.get('asOfSequence');
        const events = (book.get(root) ?? []).filter((e) => asOf === null || e.sequence <= Number(asOf));
        return send(res, 200, { domain, root, snapshot: null, events });
      }
      case 'GET /v1/stream': {
        const correlationId = parts.slice(2).join('/').trim();
        if (!correlationId) return error(res, 400, 'INVALID_ARGUMENT', 'correlation_id is empty');
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.flushHeaders();
        const s = { correlationId, res };
        subscribers.add(s);
        req.on('close', () => subscribers.delete(s));
        return;
      }
      case 'POST /v1/console': {
        if (parts[2] !== 'send') break;
        if (!config.commandsEnabled) {
          return error(
            res,
            403,
            'PERMISSION_DENIED',
            'sending commands from the console is off (gateway.console_commands)',
          );
        }
        let r;
        try {
          r = JSON.parse(await body(req));
        } catch (e) {
          return error(res, 400, 'INVALID_ARGUMENT', `not a send request: ${e.message}`);
        }
        if (!UUID.test(r.root ?? '')) return error(res, 400, 'INVALID_ARGUMENT', `\`${r.root}\` is not a UUID`);
        if (!books.has(r.domain)) return error(res, 404, 'NOT_FOUND', `unknown domain \`${r.domain}\``);
        if (!types.commands.some((t) => t.name === r.type)) {
          return error(res, 400, 'INVALID_ARGUMENT', `unknown message type \`${r.type}\``);
        }
        const next = books.get(r.domain).get(r.root)?.length ?? 0;
        if (r.sequence !== null && r.sequence !== undefined && r.sequence !== next) {
          return error(
            res,
            409,
            'FAILED_PRECONDITION',
            `sequence mismatch on ${r.domain}/${r.root}: the command expects sequence ${r.sequence}, the aggregate's next sequence is ${next}`,
          );
        }
        const events = append(r.domain, r.root, r.type, r.body ?? {}, randomUUID());
        return send(res, 200, { accepted: true, response: { events } });
      }
      case 'POST /fake/projector':
        bankroll.running = parts[2] === 'start';
        return send(res, 200, { running: bankroll.running });
      case 'GET /healthz':
        res.writeHead(200);
        return res.end('ok');
    }
    error(res, 404, 'NOT_FOUND', `the fake server has no route ${req.method} ${url.pathname}`);
  } catch (e) {
    error(res, 500, 'INTERNAL', String(e));
  }
});
server.listen(Number(port), host, () =>
  console.log(`fake angzarr HTTP API on http://${host}:${server.address().port}`),
);
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));
