// analytics-wasm: the JavaScript entry. createAnalytics() returns at once;
// the wasm loads lazily and calls made meanwhile are buffered and replayed in
// order. On the server (no window) every call is a no-op.
import init, { Analytics as Engine } from './analytics_wasm.js';
import { checkConfig } from './config.js';

const TRACK = 0;
const IDENTIFY = 1;
const PAGE = 2;
const GROUP = 3;
const ALIAS = 4;

const inBrowser = typeof window !== 'undefined' && typeof document !== 'undefined';

let loading;
const loadWasm = () => (loading ??= init({ module_or_path: new URL('./analytics_wasm_bg.wasm', import.meta.url) }));

const text = (value) => (value == null ? '' : String(value));

// Values JSON cannot hold: BigInt becomes its decimal string; an object met
// again (a cycle or a shared reference) becomes "[Circular]". Functions,
// symbols and undefined are dropped, as JSON.stringify does.
function tolerantReplacer() {
  const seen = new WeakSet();
  return (key, value) => {
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'object' && value !== null) {
      if (seen.has(value)) return '[Circular]';
      seen.add(value);
    }
    return value;
  };
}

const describe = (value) => (Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`);

const EMPTY_METRICS = Object.freeze({
  eventsTracked: 0, eventsRestored: 0, eventsSent: 0, droppedOverflow: 0, droppedRejected: 0,
  droppedTooLarge: 0, droppedExpired: 0, restoreCorrupt: 0, batchesSent: 0, batchesFailed: 0,
  retries: 0, bytesSent: 0, pending: 0, pendingBytes: 0, inFlight: 0, inFlightBatches: 0,
  circuitState: 'closed', nextRetryAt: null, authPaused: false, online: true, lastError: null,
  storage: null, anonymousId: null,
});

class Analytics {
  #engine = null;
  #buffer = [];
  #listeners = new Set();
  #closed = false;

  constructor(config) {
    this.ready = inBrowser ? this.#start({ ...config }) : Promise.resolve();
  }

  async #start(config) {
    try {
      await loadWasm();
      const engine = new Engine(config, (type, message) => this.#emit(type, message));
      await engine.start();
      this.#engine = engine;
      for (const call of this.#buffer) engine.record(...call);
      this.#buffer = [];
    } catch (error) {
      this.#closed = true;
      this.#emit('load', `analytics-wasm could not start: ${error?.message ?? error}`);
    }
  }

  #emit(type, message) {
    const error = { type, message };
    if (this.#listeners.size === 0) {
      console.warn(`[analytics-wasm] ${type}: ${message}`);
      return;
    }
    for (const listener of this.#listeners) {
      try {
        listener(error);
      } catch {
        // A throwing listener must not stop the others or the queue.
      }
    }
  }

  #serialize(properties) {
    if (properties == null) return '{}';
    if (typeof properties !== 'object' || Array.isArray(properties)) {
      this.#emit('input', `properties must be a plain object, got ${describe(properties)}; event dropped`);
      return null;
    }
    try {
      return JSON.stringify(properties);
    } catch {
      try {
        return JSON.stringify(properties, tolerantReplacer());
      } catch (error) {
        this.#emit('input', `properties could not be serialized (${error?.message ?? error}); event dropped`);
        return null;
      }
    }
  }

  #record(kind, name, properties, userId) {
    if (!inBrowser || this.#closed) return;
    const json = this.#serialize(properties);
    if (json === null) return;
    if (this.#engine) this.#engine.record(kind, name, json, userId, 0);
    else this.#buffer.push([kind, name, json, userId, Date.now()]);
  }

  track(event, properties) {
    this.#record(TRACK, text(event), properties, '');
  }

  identify(userId, traits) {
    this.#record(IDENTIFY, '', traits, text(userId));
  }

  page(name, properties) {
    this.#record(PAGE, text(name), properties, '');
  }

  group(groupId, traits) {
    this.#record(GROUP, text(groupId), traits, '');
  }

  alias(userId, previousId) {
    this.#record(ALIAS, text(previousId), undefined, text(userId));
  }

  on(type, listener) {
    if (type !== 'error' || typeof listener !== 'function') return () => {};
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  metrics() {
    if (this.#engine) return JSON.parse(this.#engine.metrics());
    return { ...EMPTY_METRICS, pending: this.#buffer.length };
  }

  async flush() {
    await this.ready;
    if (!this.#engine) return { sent: 0, failed: 0, pending: this.#buffer.length };
    return this.#engine.flush();
  }

  async shutdown() {
    await this.ready;
    if (this.#engine && !this.#closed) {
      this.#closed = true;
      await this.#engine.shutdown();
    }
    this.#closed = true;
  }
}

/** Creates an analytics client. Throws an Error naming the field on bad config. */
export function createAnalytics(config) {
  return new Analytics(checkConfig(config));
}
