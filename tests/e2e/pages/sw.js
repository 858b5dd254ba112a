// A module service worker using the package's service-worker entry; the
// endpoint comes in the script's query. A `track` message tracks events, a
// `flush` message flushes; each is answered with the metrics.
import { createAnalytics } from '/pkg/service-worker.js';

const endpoint = new URL(self.location.href).searchParams.get('endpoint');
const analytics = createAnalytics({ endpoint });
const errors = [];
analytics.on('error', (error) => errors.push(error));

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
self.addEventListener('message', (event) => {
  event.waitUntil(
    (async () => {
      const { type, count } = event.data;
      let flushed = null;
      if (type === 'track') for (let i = 0; i < count; i++) analytics.track('Service Worker Event', { i });
      await analytics.ready;
      if (type === 'flush') flushed = await analytics.flush();
      event.source.postMessage({ type, flushed, metrics: analytics.metrics(), errors });
    })(),
  );
});
