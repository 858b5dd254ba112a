// The server half of a server-rendered app: the same module runs on the
// server (to render) and in the browser (to hydrate), and calls analytics
// in both. On the server every call must be a no-op that does not throw.
import { createAnalytics } from 'analytics-wasm';

export async function renderPage({ endpoint, clientScript }) {
  const analytics = createAnalytics({ endpoint, writeKey: 'consumer-ssr' });
  analytics.identify('server-user', { rendered: true });
  analytics.page('Server Render');
  analytics.track('Server Rendered', { at: 'server' });
  const flushed = await analytics.flush();
  await analytics.shutdown();
  return {
    flushed,
    html: `<!doctype html><meta charset="utf-8"><title>SSR</title>
<div id="app">rendered on the server</div>
<script src="${clientScript}" defer></script>`,
  };
}
