// `npm start` as a person uses it: it prints the demo and collector URLs,
// the demo sends to the project's collector in Chromium and shows what it
// stored, its chart draws an outage queueing up and draining (looked at in
// a screenshot), and Ctrl-C stops both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { launchBrowser, waitFor } from '../support/browser.mjs';
import { countColour, readPng } from '../support/png.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

/** The chart's series colours (www/demo.js). */
const COLOURS = { tracked: '#0969da', sent: '#1a7f37', held: '#bf8700', stored: '#8250df' };

test("npm start serves the demo and the collector; the demo shows what is stored and draws an outage queueing up and draining; Ctrl-C stops both (in Chromium only: npm start and the collector are under test here, the SDK's engines in the other suites)", { timeout: 420_000 }, async () => {
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
  const demo = `http://127.0.0.1:${demoPort}`;
  const collector = async () => (await fetch(`${demo}/api/collector`)).json();
  try {
    await waitFor(
      () => {
        if (exit) throw new Error(`npm start exited early (${JSON.stringify(exit)}):\n${output}`);
        return output.includes('Press Ctrl-C');
      },
      { what: 'npm start to print its URLs', timeoutMs: 360_000, intervalMs: 200 },
    );
    assert.match(output, new RegExp(`demo: +http://127\\.0\\.0\\.1:${demoPort}/`));
    assert.match(output, new RegExp(`collector: +http://127\\.0\\.0\\.1:${collectorPort}/v1/batch`));
    const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
    await page.goto(`${demo}/`);
    const before = (await collector()).stored;

    await page.click('#track-one');
    await page.click('#identify');
    await page.click('#flush');
    await waitFor(async () => (await collector()).latest.some((e) => e.type === 'identify'), { what: 'the identify event stored' });
    await waitFor(async () => (await page.textContent('#collector-stats')).includes(`events stored${before + 2}`), { what: 'what is stored shown on the page' });

    // An outage: the collector stops, a burst queues up, it starts again and the queue drains.
    await page.click('#collector-stop');
    await waitFor(async () => (await page.textContent('#collector-state')).includes('stopped'), { what: 'the stopped collector shown' });
    await page.click('#track-burst');
    await waitFor(async () => (await page.evaluate(() => analytics.metrics().pending)) >= 1000, { what: 'the burst queued up' });
    await page.waitForTimeout(1_500); // a flat stretch of the chart, the burst held
    await page.click('#collector-start');
    await waitFor(async () => (await collector()).stored === before + 1002, { what: 'the burst stored once the collector is back', timeoutMs: 60_000 });
    await waitFor(async () => (await page.evaluate(() => analytics.metrics().pending)) === 0, { what: 'the page drained' });
    // One more sample drawn after the drain (each redraw moves every point).
    const heldLine = () => page.evaluate(() => document.querySelector('#chart polyline[data-series="held"]')?.getAttribute('points'));
    const drawn = await heldLine();
    await waitFor(async () => (await heldLine()) !== drawn, { what: 'the chart redrawn after the drain' });
    assert.equal((await collector()).duplicates, 0);

    const shot = await page.locator('#chart').screenshot();
    mkdirSync(`${root}target/screenshots`, { recursive: true });
    writeFileSync(`${root}target/screenshots/demo-chart.png`, shot);
    const image = readPng(shot);
    for (const [series, colour] of Object.entries(COLOURS)) {
      assert.ok(countColour(image, colour) > 100, `the ${series} line (${colour}) is drawn: ${countColour(image, colour)} pixels`);
    }
  } finally {
    await browser.close();
    if (!exit) process.kill(-child.pid, 'SIGINT');
  }
  const { code, signal } = await exited;
  assert.ok(code === 0 || signal === 'SIGINT', `exit ${code} ${signal}`);
  await assert.rejects(fetch(`http://127.0.0.1:${collectorPort}/metrics`), 'the collector stopped');
});
