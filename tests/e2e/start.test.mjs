// `npm start` as a person uses it: it prints the demo and collector URLs,
// the demo works in Chromium against the collector, and Ctrl-C stops both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { launchBrowser, waitFor } from '../support/browser.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

test('npm start serves the demo and the collector, and stops on Ctrl-C', { timeout: 300_000 }, async () => {
  const [demoPort, collectorPort] = [await freePort(), await freePort()];
  const child = spawn('npm', ['start', '--silent'], {
    cwd: root,
    env: { ...process.env, DEMO_PORT: String(demoPort), COLLECTOR_PORT: String(collectorPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  let exit = null;
  const exited = new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    }),
  );
  const browser = await launchBrowser();
  try {
    await waitFor(
      () => {
        if (exit) throw new Error(`npm start exited early (${JSON.stringify(exit)}):\n${output}`);
        return output.includes('Press Ctrl-C');
      },
      { what: 'npm start to print its URLs', timeoutMs: 240_000, intervalMs: 200 },
    );
    assert.match(output, new RegExp(`demo: +http://127\\.0\\.0\\.1:${demoPort}/`));
    assert.match(output, new RegExp(`collector: +http://127\\.0\\.0\\.1:${collectorPort}/v1/batch`));
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${demoPort}/`);
    await page.click('#track-one');
    await page.click('#flush');
    const stats = async () => (await fetch(`http://127.0.0.1:${collectorPort}/v1/stats`)).json();
    await waitFor(async () => (await stats()).received >= 1, { what: 'the demo event at the collector' });
    await waitFor(async () => (await page.textContent('#metrics')).includes('eventsSent1'), { what: 'metrics shown on the page' });
    await page.click('#identify');
    await page.click('#flush');
    await waitFor(async () => (await page.textContent('#metrics')).includes('userIddemo-user'), { what: 'the identified user shown on the page' });
    const events = async () => (await (await fetch(`http://127.0.0.1:${collectorPort}/v1/events?last=5`)).json()).events;
    await waitFor(async () => (await events()).some((e) => e.type === 'identify' && e.userId === 'demo-user'), { what: 'the identify event at the collector' });
  } finally {
    await browser.close();
    if (!exit) process.kill(-child.pid, 'SIGINT');
  }
  const { code, signal } = await exited;
  assert.ok(code === 0 || signal === 'SIGINT', `exit ${code} ${signal}`);
  await assert.rejects(fetch(`http://127.0.0.1:${collectorPort}/v1/stats`), 'the collector stopped');
});
