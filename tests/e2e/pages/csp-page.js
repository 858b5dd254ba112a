// The test page's script for pages with a strict Content-Security-Policy,
// which allows no inline script: the package, configured from the query.
import { createAnalytics } from '/pkg/index.js';

const config = JSON.parse(new URLSearchParams(location.search).get('config') ?? '{}');
window.errors = [];
window.debugLines = [];
const debug = console.debug.bind(console);
console.debug = (...args) => {
  window.debugLines.push(args.join(' '));
  debug(...args);
};
window.analytics = createAnalytics(config);
window.analytics.on('error', (error) => window.errors.push(error));
