// The entry for service workers: `import 'analytics-wasm/service-worker'`.
// A service worker may not use import() (the HTML specification forbids
// it), so the recorder is imported here statically instead of loaded lazily;
// everything else is the main entry's. Pages and other workers use the
// main entry, which keeps the recorder off their critical path.
import { Client } from './client.js';
import { startRecording } from './recorder.js';

/** Creates an analytics client; a bad config field is reported (on('error'), type 'config'), never thrown. */
export function createAnalytics(config) {
  const assets = { wasm: new URL('./analytics-core.wasm', import.meta.url), jsCore: new URL('./analytics-core.js', import.meta.url) };
  return new Client(config, assets, async () => startRecording);
}
