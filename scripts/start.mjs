// `npm start`: builds the package and the collector, starts the collector
// (collector/, storing into www/.data/events.db) and the demo on 127.0.0.1,
// prints both URLs, and stops both on Ctrl-C.
//   COLLECTOR_PORT (default 8788), DEMO_PORT (default 5173)
//
// Besides the demo's files, the demo's server answers the page about the
// collector, which keeps no read API of its own:
//   GET  /api/collector        { up, stored, duplicates, latest: the 20 newest rows }
//   POST /api/collector/stop   SIGTERM: a real outage, for the page to queue through
//   POST /api/collector/start  the same collector again, on the same port and file
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startCollectorProcess } from './lib/collector-process.mjs';
import { serveDirectory } from './lib/static-server.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const collectorPort = Number(process.env.COLLECTOR_PORT ?? 8788);
const demoPort = Number(process.env.DEMO_PORT ?? 5173);
const WRITE_KEY = 'demo';
const db = `${root}www/.data/events.db`;

const run = (cmd, args, env = {}) => {
  const result = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, env: { ...process.env, ...env } });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

run('bash', ['scripts/setup.sh']);
run('bash', ['scripts/build.sh']);
run('bash', ['scripts/build-collector.sh']);
mkdirSync(`${root}www/.data`, { recursive: true });

const demoOrigin = `http://127.0.0.1:${demoPort}`;
const startCollector = () => startCollectorProcess({ writeKeys: [WRITE_KEY], corsOrigins: [demoOrigin], port: collectorPort, db });
let collector = await startCollector();
let changing = null;

run(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--config', 'www/vite.config.mjs'], {
  VITE_COLLECTOR_URL: collector.url,
  VITE_WRITE_KEY: WRITE_KEY,
});

const json = (res, status, body) => {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
};
const demo = await serveDirectory(`${root}www/dist`, {
  port: demoPort,
  handlers: {
    '/api/collector': (req, res) => {
      const [{ stored }] = collector.query('SELECT count(*) AS stored FROM events');
      const [{ duplicates }] = collector.query('SELECT coalesce(sum(dropped), 0) AS duplicates FROM duplicates');
      const latest = collector.query(
        "SELECT type, coalesce(event, json_extract(message, '$.name'), '') AS name, received_at AS receivedAt, json_extract(message, '$.properties') AS properties FROM events ORDER BY id DESC LIMIT 20",
      );
      json(res, 200, { up: collector.up, stored, duplicates, latest });
    },
    '/api/collector/stop': async (req, res) => {
      if (req.method !== 'POST') return json(res, 405, { error: 'POST' });
      await changing;
      if (collector.up) changing = collector.stop({ keepFile: true });
      await changing;
      json(res, 200, { up: false });
    },
    '/api/collector/start': async (req, res) => {
      if (req.method !== 'POST') return json(res, 405, { error: 'POST' });
      await changing;
      if (!collector.up) {
        changing = startCollector().then((started) => (collector = started));
        await changing;
      }
      json(res, 200, { up: true });
    },
  },
});

console.log(`
analytics-wasm demo
  demo:       ${demo.url}/
  collector:  ${collector.endpoint}   (metrics: ${collector.url}/metrics)
  events:     www/.data/events.db     (sqlite3 www/.data/events.db 'SELECT type, event, timestamp FROM events')
Press Ctrl-C to stop both.`);

const stop = async () => {
  await Promise.all([demo.close(), collector.up ? collector.stop({ keepFile: true }) : null]);
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
