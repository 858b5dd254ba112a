// A user's app: imports the package by name, exactly as from npm.
import { createAnalytics } from 'analytics-wasm';

const endpoint = new URLSearchParams(location.search).get('endpoint');
const analytics = createAnalytics({ endpoint, writeKey: 'consumer-parcel' });
analytics.page('Shop', { path: location.pathname });
document.getElementById('buy').addEventListener('click', () => {
  analytics.track('Order Completed', { orderId: 'o-1', total: 42.5, items: [{ sku: 'a' }] });
  analytics.flush();
});
window.analytics = analytics;
