// Serves a directory on 127.0.0.1: the demo for `npm start`, pages for browser tests.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
};

/**
 * Serves `root` on 127.0.0.1 (`port` 0: any free port); `routes` maps extra
 * paths to other directories, `handlers` paths to functions (req, res, url)
 * that answer them.
 */
export function serveDirectory(root, { routes = {}, handlers = {}, port = 0 } = {}) {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const handler = handlers[url.pathname];
    if (handler) {
      try {
        return await handler(req, res, url);
      } catch (error) {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        return res.end(String(error?.message ?? error));
      }
    }
    const path = decodeURIComponent(url.pathname);
    let base = root;
    let rest = path;
    for (const [prefix, dir] of Object.entries(routes)) {
      if (path.startsWith(prefix)) {
        base = dir;
        rest = path.slice(prefix.length - 1);
      }
    }
    const file = normalize(join(base, rest.endsWith('/') ? `${rest}index.html` : rest));
    if (!file.startsWith(normalize(base))) {
      res.writeHead(403);
      return res.end();
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end('not found');
    }
  });
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      resolve({
        url: `http://127.0.0.1:${address.port}`,
        close: () => new Promise((done) => { server.closeAllConnections?.(); server.close(() => done()); }),
      });
    });
  });
}
