// The browser half: hydrates and tracks.
import { createAnalytics } from 'analytics-wasm';

const endpoint = new URLSearchParams(location.search).get('endpoint');
const analytics = createAnalytics({ endpoint, writeKey: 'consumer-ssr' });
analytics.track('Hydrated', { app: document.getElementById('app').textContent });
analytics.flush();
window.analytics = analytics;
