// Compares two builds of the package on the bench's target 4: main-thread
// work (CDP TaskDuration) after 10,000 events tracked in one loop, until
// all are delivered, fresh pages of each build interleaved (A B, B A, …)
// so the machine's drift falls on both alike. Prints each load and the
// medians. Nothing is asserted.
//
//   node benches/ab-after-loop.mjs <pkg dir A> <pkg dir B> [rounds=4] [none|gzip]
import { fileURLToPath } from 'node:url';
import { startCollector } from '../www/collector.mjs';
import { serveDirectory } from '../scripts/lib/static-server.mjs';
import { launchNamed } from '../tests/support/browsers/index.mjs';
import { waitFor } from '../tests/support/browser.mjs';
import { PROPERTIES } from './properties.mjs';
const root = fileURLToPath(new URL('../', import.meta.url));
const [a, b, roundsArg, compression = 'none'] = process.argv.slice(2);
const sites = { A: await serveDirectory(`${root}tests/e2e/pages`, { routes: { '/pkg/': a } }), B: await serveDirectory(`${root}tests/e2e/pages`, { routes: { '/pkg/': b } }) };
const browser = await launchNamed('chromium');
const out = { A: [], B: [] };
for (let round = 0; round < Number(roundsArg ?? 4); round++) {
  for (const which of round % 2 ? ['B', 'A'] : ['A', 'B']) {
    const collector = await startCollector();
    const context = await browser.newContext();
    const page = await context.newPage();
    const config = { endpoint: collector.endpoint, maxQueueEvents: 20000, maxQueueBytes: 50000000, compression };
    await page.goto(`${sites[which].url}/?config=${encodeURIComponent(JSON.stringify(config))}`);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    const taskSeconds = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'TaskDuration').value;
    await page.evaluate(() => analytics.ready);
    const before = await taskSeconds();
    const loopMs = await page.evaluate((source) => { const p = eval(source); const s = performance.now(); for (let i = 0; i < 10000; i++) analytics.track('Wire', p(i)); return performance.now() - s; }, PROPERTIES);
    await waitFor(() => collector.stats().received === 10000, { timeoutMs: 60000, what: '10k' });
    await page.waitForTimeout(300);
    out[which].push(Math.round(((await taskSeconds()) - before - loopMs / 1000) * 1000));
    await context.close();
    await collector.close();
  }
}
const med = (l) => [...l].sort((x, y) => x - y)[Math.floor(l.length / 2)];
console.log('A', out.A.join(' '), 'median', med(out.A));
console.log('B', out.B.join(' '), 'median', med(out.B));
await browser.close();
for (const s of Object.values(sites)) await s.close?.();
process.exit(0);
