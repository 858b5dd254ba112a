// analytics-wasm: the entry, and a map of the package.
//
//   createAnalytics()  returns the page-level client
//                      (client.js: identity.js, session.js, page-store.js,
//                      calls.js, input.js, outcomes.js, config.js), all
//                      synchronous: it captures each call and its outcome.
//                      It never throws: a bad config field is reported as
//                      an error of type 'config' and left at its default.
//   recorder.js        loaded lazily, only with consent: makes the captured
//                      calls events (context.js, plugins) for driver.js,
//                      the one drive loop over the wasm core (core.js,
//                      src/core/) and its leaves: storage.js (chunk-log.js),
//                      transport.js, tabs.js, lifecycle.js, announce.js,
//                      worker.js (its worker: large sends and
//                      a burst's IndexedDB writes off the page's thread).
//                      The build makes them one minified file,
//                      analytics-recorder.js, that this entry loads by URL, as
//                      it does the wasm: a bundler then ships it as an
//                      asset, and an app's critical path carries no
//                      module-preload runtime.
//
// It runs in a page and in Web Workers (dedicated, shared, service); on the
// server (no window, no worker scope) every call is a no-op.
import { RECORDER_KEY, loadScript } from './asset-keys.js';
import { Client } from './client.js';
import { emptyMetrics } from './metrics.js';
import { settled as settledOutcome } from './outcomes.js';

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
  flush: async () => ({ sent: 0, failed: 0, pending: 0 }),
};
for (const call of ['track', 'identify', 'page', 'group', 'alias']) {
  serverClient[call] = (...args) => settledOutcome('refused', 'on the server: nothing is sent', args.find((arg) => typeof arg === 'function'));
}
for (const call of ['optOut', 'shutdown', 'reset', 'optIn', 'register', 'registerOnce', 'unregister']) serverClient[call] = () => settled;

/** Creates an analytics client; a bad config field is reported (on('error'), type 'config'), never thrown. */
export function createAnalytics(config) {
  if (!inBrowser) return serverClient;
  // Each named here, in this form, so that bundlers ship it as an asset of this package.
  const recorder = new URL('./analytics-recorder.js', import.meta.url);
  const assets = { wasm: new URL('./analytics-core.wasm', import.meta.url), jsCore: new URL('./analytics-core.js', import.meta.url), recorder };
  return new Client(config, assets, () => loadScript(recorder, RECORDER_KEY));
}
