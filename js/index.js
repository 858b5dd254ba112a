// analytics-wasm: the entry, and a map of the package.
//
//   createAnalytics()  checks the config (config.js, rules from the core's
//                      tables.js) and returns the page-level client
//                      (client.js: identity.js, session.js, context.js,
//                      page-store.js, input.js), all synchronous.
//   engine.js          loaded lazily, only with consent: the one drive loop
//                      over the wasm core (core.js, src/core/) and its
//                      leaves: storage.js (chunk-log.js), transport.js,
//                      tabs.js, lifecycle.js, announce.js.
//
// It runs in a page and in Web Workers (dedicated, shared, service); on the
// server (no window, no worker scope) every call is a no-op.
import { Client } from './client.js';
import { checkConfig } from './config.js';
import { emptyMetrics } from './metrics.js';

const inBrowser = (typeof window !== 'undefined' && typeof document !== 'undefined') || typeof WorkerGlobalScope !== 'undefined';

const settled = Promise.resolve();
const serverClient = {
  ready: settled,
  use() {
    return this;
  },
  on: () => () => {},
  user: () => ({ userId: null, anonymousId: null, traits: {} }),
  metrics: () => ({ ...emptyMetrics(0), anonymousId: null, userId: null, sessionId: null, optedOut: false }),
  optOut: () => settled,
  flush: async () => ({ sent: 0, failed: 0, pending: 0 }),
  shutdown: () => settled,
};
for (const call of ['track', 'identify', 'page', 'group', 'alias', 'reset', 'optIn']) serverClient[call] = () => {};

/** Creates an analytics client. Throws an Error naming the field on bad config. */
export function createAnalytics(config) {
  const checked = checkConfig(config);
  // Named here so bundlers ship the wasm as an asset of this package.
  return inBrowser ? new Client(checked, new URL('./analytics-core.wasm', import.meta.url), () => import('./engine.js')) : serverClient;
}
