// The package in Web Workers, where there is no window or document: events
// persist in IndexedDB and leave by fetch (no beacon, no page lifecycle, no
// cookie, no localStorage). Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useHarness, waitFor } from './harness.mjs';

const harness = useHarness();

test('a dedicated worker tracks 200 events and all 200 arrive, once', async () => {
  const h = harness();
  const context = await h.browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error('pageerror:', error.message));
  await page.goto(`${h.site.url}/blank.html`);
  const result = await page.evaluate(async (endpoint) => {
    const worker = new Worker(`/worker.js?endpoint=${encodeURIComponent(endpoint)}`, { type: 'module' });
    const next = (type) => new Promise((resolve, reject) => {
      worker.addEventListener('message', function listen({ data }) {
        if (data.type !== type) return;
        worker.removeEventListener('message', listen);
        resolve(data);
      });
      worker.addEventListener('error', (event) => reject(new Error(event.message ?? 'worker error')), { once: true });
    });
    await next('started');
    worker.postMessage({ type: 'track', count: 200 });
    await next('tracked');
    worker.postMessage({ type: 'flush' });
    return next('flushed');
  }, h.collector.endpoint);
  await waitFor(() => h.collector.stats().received >= 200, { what: '200 events from the worker' });
  const stats = h.collector.stats();
  console.log(`worker (dedicated): ${JSON.stringify({ received: stats.received, duplicates: stats.duplicates, storage: result.metrics.storage, flushed: result.flushed })}`);
  assert.equal(stats.received, 200);
  assert.equal(stats.duplicates, 0);
  assert.equal(result.metrics.eventsSent, 200);
  assert.equal(result.metrics.storage, 'indexeddb', 'events persist in IndexedDB in a worker');
  assert.deepEqual(result.errors, []);
  const events = h.collector.events();
  assert.ok(events.every((e) => typeof e.anonymousId === 'string' && e.anonymousId.length === 36), 'every event has an anonymousId');
  assert.equal(events[0].context.page.url, `${h.site.url}/worker.js?endpoint=${encodeURIComponent(h.collector.endpoint)}`, 'the page context is the worker\'s location');
  await context.close();
});
