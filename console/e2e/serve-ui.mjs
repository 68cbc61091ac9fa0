#!/usr/bin/env node
// Serves console/dist at /ui and passes every other path to an angzarr HTTP
// listener: the console's current build against a binary built before it
// (the binary embeds console/dist at compile time). Used by `e2e/run` with
// CONSOLE_E2E_UI=proxy, and by hand:
//   node e2e/serve-ui.mjs --listen 127.0.0.1:1398 --target http://127.0.0.1:1311
import { createServer, request } from 'node:http';
import { readFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const [host, port] = arg('--listen', '127.0.0.1:1398').split(':');
const target = new URL(arg('--target', 'http://127.0.0.1:1311'));
const types = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
};

const server = createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/ui' || url.pathname.startsWith('/ui/')) {
    const rel = normalize(url.pathname.slice(4)).replace(/^(\.\.[/\\])+/, '');
    let file = rel === '' || rel === '.' ? 'index.html' : rel;
    let body;
    try {
      body = await readFile(join(dist, file));
    } catch {
      file = 'index.html';
      body = await readFile(join(dist, file));
    }
    res.writeHead(200, { 'content-type': types[file.split('.').pop()] ?? 'application/octet-stream' });
    res.end(body);
    return;
  }
  const upstream = request(
    { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      res.flushHeaders(); // Server-Sent Events: the page learns it is subscribed from the headers
      up.pipe(res);
    },
  );
  upstream.on('error', (e) => {
    res.writeHead(502, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ code: 'UNAVAILABLE', message: `proxy: ${e.message}` }));
  });
  req.pipe(upstream);
});
server.listen(Number(port), host, () =>
  console.log(`serving console/dist at http://${host}:${server.address().port}/ui, the rest from ${target.origin}`),
);
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => server.close(() => process.exit(0)));
