// `npm start`: builds the package, starts the dev collector and the demo on
// 127.0.0.1, prints both URLs, and stops both on Ctrl-C.
//   COLLECTOR_PORT (default 8787), DEMO_PORT (default 5173)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startCollector } from '../www/collector.mjs';
import { serveDirectory } from './lib/static-server.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const collectorPort = Number(process.env.COLLECTOR_PORT ?? 8787);
const demoPort = Number(process.env.DEMO_PORT ?? 5173);

const run = (cmd, args, env = {}) => {
  const result = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, env: { ...process.env, ...env } });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

run('bash', ['scripts/setup.sh']);
run('bash', ['scripts/build.sh']);
const collector = await startCollector({ port: collectorPort, logFile: `${root}www/.data/events.jsonl` });
run(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--config', 'www/vite.config.mjs'], {
  VITE_COLLECTOR_URL: collector.url,
});
const demo = await serveDirectory(`${root}www/dist`, { port: demoPort });

console.log(`
analytics-wasm demo
  demo:       ${demo.url}/
  collector:  ${collector.endpoint}   (events: ${collector.url}/v1/events, stats: ${collector.url}/v1/stats)
  event log:  www/.data/events.jsonl
Press Ctrl-C to stop both.`);

const stop = async () => {
  await Promise.all([demo.close(), collector.close()]);
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
