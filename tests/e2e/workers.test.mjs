// The package in Web Workers, where there is no window or document: events
// persist in IndexedDB and leave by fetch (no beacon, no page lifecycle, no
// cookie, no localStorage). Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countStored, useHarness, waitFor } from './harness.mjs';

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

/** Posts `message` to the page's active service worker and resolves with its answer. */
const askServiceWorker = (page, message) =>
  page.evaluate(async (message) => {
    const registration = await navigator.serviceWorker.ready;
    return new Promise((resolve) => {
      navigator.serviceWorker.addEventListener('message', function listen({ data }) {
        if (data.type !== message.type) return;
        navigator.serviceWorker.removeEventListener('message', listen);
        resolve(data);
      });
      registration.active.postMessage(message);
    });
  }, message);

test('a service worker tracks 50 events; they survive the worker being stopped, and all 50 arrive once after it restarts', async () => {
  const h = harness();
  const context = await h.browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error('pageerror:', error.message));
  await page.goto(`${h.site.url}/blank.html`);
  h.collector.setFault({ status: 503 });
  await page.evaluate(async (endpoint) => {
    await navigator.serviceWorker.register(`/sw.js?endpoint=${encodeURIComponent(endpoint)}`, { type: 'module' });
    await navigator.serviceWorker.ready;
  }, h.collector.endpoint);
  const tracked = await askServiceWorker(page, { type: 'track', count: 50 });
  assert.deepEqual(tracked.errors, []);
  assert.equal(tracked.metrics.storage, 'indexeddb');
  await waitFor(async () => (await countStored(page)) > 0, { what: 'the events persisted in IndexedDB' });
  const cdp = await context.newCDPSession(page);
  await cdp.send('ServiceWorker.enable');
  await cdp.send('ServiceWorker.stopAllWorkers');
  h.collector.setFault({});
  // The next message starts a new instance of the worker, which adopts what the stopped one left.
  const restarted = await askServiceWorker(page, { type: 'flush' });
  await waitFor(() => h.collector.stats().received >= 50, { what: '50 events from the restarted service worker' });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const stats = h.collector.stats();
  console.log(`worker (service): ${JSON.stringify({ received: stats.received, duplicates: stats.duplicates, adoptedEvents: restarted.metrics.adoptedEvents, sentBeforeStop: tracked.metrics.eventsSent })}`);
  assert.equal(tracked.metrics.eventsSent, 0, 'nothing left before the stop');
  assert.equal(stats.received, 50);
  assert.equal(stats.duplicates, 0);
  assert.equal(restarted.metrics.adoptedEvents, 50, 'the new instance adopted what the stopped one persisted');
  await context.close();
});
