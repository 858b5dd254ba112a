// analytics-wasm: the entry. All that loads before anything else is this
// and the config check: createAnalytics() checks the config, returns at once
// and loads the page-level client (client.js) and, when consent allows, the
// engine (engine.js: the shell and the wasm core) lazily. Calls made
// meanwhile are buffered with their time and replayed in order. On the
// server (no window) every call is a no-op.
import { checkConfig } from './config.js';
import { emptyMetrics } from './metrics.js';

const inBrowser = typeof window !== 'undefined' && typeof document !== 'undefined';

/** A snapshot of a call's properties or traits, as the call saw them (JSON is what is sent). */
const snapshot = (value) => {
  try {
    return value !== null && typeof value === 'object' ? JSON.parse(JSON.stringify(value)) : value;
  } catch {
    // BigInt, cycles, a throwing getter: the client handles (and reports) it.
    return value;
  }
};

class Analytics {
  #client = null;
  #calls = [];
  #listeners = new Set();

  constructor(config) {
    this.ready = Promise.resolve();
    if (!inBrowser) return;
    // Named here so bundlers ship the wasm as an asset of this package.
    const wasm = new URL('./analytics-core.wasm', import.meta.url);
    this.ready = import('./client.js').then(
      ({ Client }) => {
        const client = new Client(config, this.#listeners, wasm);
        this.#client = client;
        for (const [method, args, at] of this.#calls.splice(0)) client.replay(method, args, at);
        return client.ready;
      },
      (error) => this.#fail(error),
    );
  }

  #fail(error) {
    const report = { type: 'load', message: `analytics-wasm could not start: ${error?.message ?? error}` };
    if (!this.#listeners.size) console.warn(`[analytics-wasm] ${report.message}`);
    for (const listener of this.#listeners) {
      try {
        listener(report);
      } catch {
        // A throwing listener must not stop the others.
      }
    }
  }

  /** Runs `method` on the client, or buffers it (with its time) until the client is here. */
  #call(method, args, snapshotAt) {
    if (!inBrowser) return undefined;
    if (this.#client) return this.#client[method](...args);
    if (snapshotAt !== undefined) args[snapshotAt] = snapshot(args[snapshotAt]);
    this.#calls.push([method, args, Date.now()]);
    return undefined;
  }

  track(event, properties) {
    this.#call('track', [event, properties], 1);
  }

  identify(userId, traits) {
    this.#call('identify', [userId, traits], userId !== null && typeof userId === 'object' ? 0 : 1);
  }

  page(name, properties) {
    this.#call('page', [name, properties], 1);
  }

  group(groupId, traits) {
    this.#call('group', [groupId, traits], 1);
  }

  alias(userId, previousId) {
    this.#call('alias', [userId, previousId]);
  }

  reset() {
    this.#call('reset', []);
  }

  use(plugin) {
    this.#call('use', [plugin]);
    return this;
  }

  on(type, listener) {
    if (type !== 'error' || typeof listener !== 'function') return () => {};
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Who events are attributed to; before the client is here, as this browser last stored it. */
  user() {
    if (this.#client) return this.#client.user();
    const stored = (key) => {
      try {
        return localStorage.getItem(key);
      } catch {
        return null;
      }
    };
    const traits = snapshot(JSON.parse(inBrowser ? stored('aw:traits') ?? '{}' : '{}'));
    return { userId: inBrowser ? stored('aw:userId') : null, anonymousId: inBrowser ? stored('aw:anonymousId') : null, traits };
  }

  metrics() {
    if (this.#client) return this.#client.metrics();
    return { ...emptyMetrics(this.#calls.length), anonymousId: null, userId: null, sessionId: null, optedOut: false };
  }

  optOut() {
    if (!inBrowser) return Promise.resolve();
    return this.#client ? this.#client.optOut() : this.ready.then(() => this.#client?.optOut());
  }

  optIn() {
    if (this.#client) this.#client.optIn();
    else if (inBrowser) this.ready.then(() => this.#client?.optIn());
  }

  async flush() {
    await this.ready;
    return this.#client ? this.#client.flush() : { sent: 0, failed: 0, pending: 0 };
  }

  async shutdown() {
    await this.ready;
    await this.#client?.shutdown();
  }
}

/** Creates an analytics client. Throws an Error naming the field on bad config. */
export function createAnalytics(config) {
  return new Analytics(checkConfig(config));
}
