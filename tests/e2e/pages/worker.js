// A dedicated Worker using the package as a page would: the endpoint comes
// in the script's query; `track` messages track events, `flush` flushes and
// answers with the result and the metrics.
import { createAnalytics } from '/pkg/index.js';

const endpoint = new URL(self.location.href).searchParams.get('endpoint');
const analytics = createAnalytics({ endpoint });
const errors = [];
analytics.on('error', (error) => errors.push(error));

self.onmessage = async ({ data }) => {
  if (data.type === 'track') {
    for (let i = 0; i < data.count; i++) analytics.track('Worker Event', { i });
    self.postMessage({ type: 'tracked' });
  } else if (data.type === 'flush') {
    await analytics.ready;
    const flushed = await analytics.flush();
    self.postMessage({ type: 'flushed', flushed, metrics: analytics.metrics(), errors });
  }
};
self.postMessage({ type: 'started' });
