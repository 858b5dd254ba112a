// track() as an app ships us: a Vite production build of a page that
// imports the package by name, createAnalytics with the default config,
// 10,000 events of 10 properties built before the timed loop, one
// synchronous loop of track() in headless Chromium, a fresh page each load;
// next to a hand-written batcher (JSON.stringify and push) built and
// measured the same way in the same run. `npm run bench` prints it;
// `node benches/app-track.mjs` prints it alone.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchBrowser } from '../tests/support/browser.mjs';
import { serveDirectory } from '../scripts/lib/static-server.mjs';
import { startCollector } from '../www/collector.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const EVENTS = 10_000;

/** What both pages share: the events, built before the loop. */
const EVENTS_SOURCE = `
export const events = Array.from({ length: ${EVENTS} }, (_, i) => ({
  i, plan: 'pro', price: 49.99, currency: 'EUR', trial: false, source: 'pricing-page',
  tags: ['a', 'b', 'c'], nested: { x: 1, y: 'two' }, experiment: 'checkout-v2', step: 3,
}));
`;

const PAGES = {
  // The package, as an app uses it. `ready` waited for or not: a page that
  // tracks at once records into the client's buffer, later ones into the recorder.
  sdk: `
import { createAnalytics } from 'analytics-wasm';
import { events } from './events.js';
const endpoint = new URLSearchParams(location.search).get('endpoint');
const analytics = createAnalytics({ endpoint });
window.run = async (afterReady) => {
  if (afterReady) await analytics.ready;
  const t0 = performance.now();
  for (let i = 0; i < events.length; i++) analytics.track('Checkout Step Viewed', events[i]);
  const ms = performance.now() - t0;
  await analytics.flush();
  return ms;
};
`,
  // A hand-written batcher, JSON.stringify and push: what the SDK is held to.
  naive: `
import { events } from './events.js';
const queue = [];
const track = (event, properties) => queue.push(JSON.stringify({ event, properties }));
window.run = async () => {
  const t0 = performance.now();
  for (let i = 0; i < events.length; i++) track('Checkout Step Viewed', events[i]);
  return performance.now() - t0;
};
`,
};

async function buildPage(name, source) {
  const { build } = await import('vite');
  const dir = mkdtempSync(join(tmpdir(), `analytics-wasm-app-${name}-`));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><title>app</title><script type="module" src="./main.js"></script>');
  writeFileSync(join(dir, 'main.js'), source);
  writeFileSync(join(dir, 'events.js'), EVENTS_SOURCE);
  await build({ root: dir, logLevel: 'silent', resolve: { alias: { 'analytics-wasm': `${root}pkg/index.js` } }, build: { outDir: join(dir, 'dist'), emptyOutDir: true } });
  return dir;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** µs per track() call, median of `loads` fresh page loads each: the SDK before and after `ready`, and the naive batcher. */
export async function measureAppTrack({ loads = 5 } = {}) {
  const dirs = { sdk: await buildPage('sdk', PAGES.sdk), naive: await buildPage('naive', PAGES.naive) };
  const collector = await startCollector();
  const browser = await launchBrowser();
  const sites = {};
  try {
    for (const [name, dir] of Object.entries(dirs)) sites[name] = await serveDirectory(join(dir, 'dist'));
    const runs = { sdkBeforeReady: [], sdkAfterReady: [], naive: [] };
    for (let load = 0; load < loads; load++) {
      // Interleaved, so that a busy moment of the machine falls on all three.
      for (const [key, site, afterReady] of [['naive', sites.naive, false], ['sdkBeforeReady', sites.sdk, false], ['sdkAfterReady', sites.sdk, true]]) {
        const context = await browser.newContext();
        const page = await context.newPage();
        await page.goto(`${site.url}/index.html?endpoint=${encodeURIComponent(collector.endpoint)}`);
        await page.waitForFunction(() => typeof window.run === 'function');
        runs[key].push(await page.evaluate((afterReady) => window.run(afterReady), afterReady));
        await context.close();
      }
    }
    const us = (key) => Math.round((median(runs[key]) * 1000 * 100) / EVENTS) / 100;
    const result = { naiveUs: us('naive'), sdkBeforeReadyUs: us('sdkBeforeReady'), sdkAfterReadyUs: us('sdkAfterReady') };
    result.ratioBeforeReady = Math.round((result.sdkBeforeReadyUs / result.naiveUs) * 100) / 100;
    result.ratioAfterReady = Math.round((result.sdkAfterReadyUs / result.naiveUs) * 100) / 100;
    return result;
  } finally {
    await browser.close();
    for (const site of Object.values(sites)) await site.close();
    await collector.close();
    for (const dir of Object.values(dirs)) rmSync(dir, { recursive: true, force: true });
  }
}

/** Rows for the bench's table. */
export const appTrackRows = (r) => [
  ['track() in a Vite production app, µs/call: naive batcher / SDK before ready / after ready', `${r.naiveUs} / ${r.sdkBeforeReadyUs} / ${r.sdkAfterReadyUs}`],
  ['track() in a Vite production app / naive batcher, before / after ready', `${r.ratioBeforeReady} / ${r.ratioAfterReady}`, 'target ≤ 2'],
];

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await measureAppTrack({ loads: Number(process.env.BENCH_LOADS ?? 5) });
  for (const [name, value, target = ''] of appTrackRows(result)) console.log(`${name.padEnd(50)} ${String(value).padEnd(28)} ${target}`);
}
