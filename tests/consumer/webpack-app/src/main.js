// A user's app bundled by webpack 5: imports the package by name, exactly as from npm.
import { createAnalytics } from 'analytics-wasm';

const endpoint = new URLSearchParams(location.search).get('endpoint');
const analytics = createAnalytics({ endpoint, writeKey: 'consumer-webpack' });
analytics.page('Shop', { path: location.pathname });
document.getElementById('buy').addEventListener('click', () => {
  analytics.track('Order Completed', { orderId: 'o-2', total: 10 });
  analytics.flush();
});
window.analytics = analytics;
