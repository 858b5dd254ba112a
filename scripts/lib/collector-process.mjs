// The project's collector (collector/, the `analytics-collector` binary) as
// a process, for `npm start` and the tests: started on 127.0.0.1 with a
// port of its own and a SQLite file (by default in a fresh directory), read
// through its /metrics and the `sqlite3` command line, stopped by its PID.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** Built by scripts/build-collector.sh. */
export const COLLECTOR_BIN = process.env.COLLECTOR_BIN ?? `${root}target/collector/analytics-collector`;

/** Waits for `child` to print `listening on <url>`; rejects if it exits first or takes over `timeoutMs`. */
function listening(child, timeoutMs) {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`the collector printed no address within ${timeoutMs} ms: ${err.slice(-2000)}`)), timeoutMs);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.stderr.on('data', (chunk) => {
      err = (err + chunk).slice(-20_000);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the collector exited (${code ?? signal}) before listening: ${err.slice(-2000)}`));
    });
  });
}

/** Prometheus text as { name or name{labels}: value }. */
export function parseMetrics(text) {
  const values = {};
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match) values[match[1]] = Number(match[2]);
  }
  return values;
}

/**
 * Starts the collector serving `writeKeys` (CORS for any origin unless
 * `corsOrigins` says otherwise), with more flags in `args`, on the SQLite
 * file `db` (default: a new one in a directory of its own, removed by
 * `stop`). Resolves once it listens.
 */
export async function startCollectorProcess({ writeKeys = ['wk'], corsOrigins = ['*'], args = [], db, port = 0, timeoutMs = 30_000 } = {}) {
  const dir = db ? null : mkdtempSync(join(tmpdir(), 'analytics-collector-'));
  const file = db ?? join(dir, 'events.db');
  const flags = ['serve', '--listen', `127.0.0.1:${port}`, '--db', file, '--log-format', 'text'];
  for (const key of writeKeys) flags.push('--write-key', key);
  for (const origin of corsOrigins) flags.push('--cors-origin', origin);
  const child = spawn(COLLECTOR_BIN, [...flags, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = await listening(child, timeoutMs);
  const metrics = async () => parseMetrics(await (await fetch(`${url}/metrics`)).text());
  return {
    url,
    endpoint: `${url}/v1/batch`,
    db: file,
    pid: child.pid,
    exited,
    /** Whether the process still runs. */
    get up() {
      return child.exitCode === null && child.signalCode === null;
    },
    /** Its counters now (collector_events_stored_total, …). */
    metrics,
    /** Rows of `sql` run on its file by the sqlite3 command line, as objects. */
    query(sql) {
      const result = spawnSync('sqlite3', ['-json', file, sql], { encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`sqlite3: ${result.stderr}`);
      return result.stdout.trim() ? JSON.parse(result.stdout) : [];
    },
    /** Stored rows and distinct messageIds, and the copies it dropped. */
    async counts(writeKey = writeKeys[0]) {
      const [row] = this.query(`SELECT count(*) AS rows, count(DISTINCT message_id) AS ids FROM events WHERE write_key = '${writeKey}'`);
      const m = await metrics();
      return { rows: row.rows, ids: row.ids, duplicates: m.collector_events_duplicate_total ?? 0 };
    },
    /** SIGTERM: it finishes what it holds and exits; resolves to how. */
    async stop({ keepFile = false } = {}) {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGTERM');
      const how = await exited;
      if (dir && !keepFile) rmSync(dir, { recursive: true, force: true });
      return how;
    },
    /** SIGKILL: no chance to finish anything. */
    async kill() {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
      return exited;
    },
  };
}
