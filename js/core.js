// The deterministic core (src/core/), compiled to wasm, behind a small typed
// wrapper over the functions it exports (src/wasm/mod.rs). Events cross as
// handles and sizes, never bytes; lists pass through the module's `io`
// buffer and small values through its `num` buffer.
//
// Where the wasm cannot run (no WebAssembly, a Content-Security-Policy
// without 'wasm-unsafe-eval', a failed compile), the same core compiled to
// JavaScript by binaryen's wasm2js (analytics-core.js, built from the same
// crate) is loaded instead, only then, and behaves identically.
// The metric names shared with the page's modules (tables.js) come in as a
// parameter: the recorder's script is one file, loaded by URL, and must not
// carry a second copy of them.
import { ACTION_NAMES, CIRCUIT_STATE_NAMES, FAILURE_NAMES, HEALTH_NAMES, NOTICE_NAMES, NUMERIC_FIELDS, OUTCOME_NAMES, PAGE_EVENT_NAMES, PEER_NAMES } from './core-names.js';

/** Compiles and instantiates the wasm `response` (a fetch of it; streaming where the server allows it). */
async function instantiateWasm(response) {
  try {
    return (await WebAssembly.instantiateStreaming(response, {})).instance.exports;
  } catch (error) {
    // A wrong Content-Type stops streaming compilation, not compilation.
    if (error instanceof WebAssembly.CompileError || error?.name === 'EvalError') throw error;
    const bytes = await (await response).arrayBuffer();
    return (await WebAssembly.instantiate(bytes, {})).instance.exports;
  }
}

const reasonOf = (error) => String(error?.message ?? error);

/**
 * The core's exports: from the wasm `response` (null when there is no
 * WebAssembly), or else from its JavaScript build, whose `instantiate`
 * `loadJsCore()` resolves to. Resolves to { exports, kind: 'wasm' | 'js',
 * fallbackReason }; rejects with both reasons when neither loads.
 */
export async function loadCore(response, loadJsCore) {
  let fallbackReason = 'WebAssembly is not available';
  if (response) {
    try {
      return { exports: await instantiateWasm(response), kind: 'wasm', fallbackReason: null };
    } catch (error) {
      fallbackReason = `the wasm did not start: ${reasonOf(error)}`;
    }
  }
  try {
    const instantiate = await loadJsCore();
    return { exports: instantiate(), kind: 'js', fallbackReason };
  } catch (error) {
    throw new Error(`${fallbackReason}; and the core compiled to JavaScript did not load either: ${reasonOf(error)}`);
  }
}

/** A name's code: its index in the generated table (src/abi.rs). */
const codeOf = (names, name) => names.indexOf(name);

export class Core {
  #x;
  #num;
  #buffer = null;
  #metricNames;

  /** Creates the queue; throws naming the first setting out of range (configSettings in config.js reports and replaces them first). `tables` is tables.js. */
  constructor(exports, config, seed, emptyBodyBytes, { METRIC_NAMES }) {
    this.#x = exports;
    this.#metricNames = METRIC_NAMES;
    const names = Object.keys(NUMERIC_FIELDS);
    names.forEach((name, i) => {
      this.#nums()[i] = config[name] ?? NUMERIC_FIELDS[name][2];
    });
    const bad = this.#x.aw_new(seed, emptyBodyBytes);
    if (bad >= 0) throw new Error(`analytics-wasm config: ${names[bad]} is out of range`);
  }

  #nums() {
    if (this.#buffer !== this.#x.memory.buffer) {
      this.#buffer = this.#x.memory.buffer;
      this.#num = new Float64Array(this.#buffer, this.#x.aw_num(), 32);
    }
    return this.#num;
  }

  #list(ptr, count) {
    return Array.from(new Float64Array(this.#x.memory.buffer, ptr, count));
  }

  /** Writes `values` to the io buffer. */
  #put(values) {
    const ptr = this.#x.aw_io(values.length);
    new Float64Array(this.#x.memory.buffer, ptr, values.length).set(values);
  }

  clock(wall, now) {
    this.#x.aw_clock(wall, now);
  }

  get maxEventBytes() {
    return this.#x.aw_max_event_bytes();
  }

  /** Queues an event; returns 0, or the limit it is over. `at`: wall-clock time of an earlier call, or -1. */
  track(handle, bytes, at, now, high = false) {
    return this.#x.aw_track(handle, bytes, at, high ? 1 : 0, now);
  }

  /** Takes back events stored under this queue, a flat list of handle, bytes, tracked at. */
  restore(flat, now) {
    this.#put(flat);
    const accepted = this.#x.aw_restore(flat.length / 3, now);
    return { accepted, dropped: this.#nums()[0] };
  }

  corrupt(records) {
    this.#x.aw_corrupt(records);
  }

  /** A page or control event: hidden, unload, visible, online, offline, flush, persistNow, noPersistence. */
  event(name, now) {
    this.#x.aw_event(codeOf(PAGE_EVENT_NAMES, name), now);
  }

  /**
   * Reports a batch's outcome ('network', 'timeout', 'beaconQueued',
   * 'beaconRefused' or a response: { status, retry: [kind, value], rejected:
   * handles }); returns { sent, dropped, requeued, unconfirmed, health }
   * (health: 'unchanged', 'failing' or 'recovered', for the other tabs), or
   * null for a batch the core no longer knows.
   */
  settle(batch, outcome, now) {
    const response = typeof outcome === 'object' ? outcome : null;
    const rejected = response?.rejected ?? [];
    this.#put(rejected);
    const retry = response?.retry ?? [0, 0];
    return this.#report(this.#x.aw_settle(batch, codeOf(OUTCOME_NAMES, response ? 'response' : outcome), response?.status ?? 0, retry[0], retry[1], rejected.length, now));
  }

  /**
   * Reports a receipt request's answer: `outcome` as for settle (without
   * rejections), `held` the handles its receipts name, or null when it
   * had no receipts. Returns a report as settle does, `sent` being the
   * events the collector holds.
   */
  receipts(request, outcome, held, now) {
    const response = typeof outcome === 'object' ? outcome : null;
    this.#put(held ?? []);
    const retry = response?.retry ?? [0, 0];
    return this.#report(this.#x.aw_receipts(request, codeOf(OUTCOME_NAMES, response ? 'response' : outcome), response?.status ?? 0, retry[0], retry[1], held ? held.length : -1, now));
  }

  #report(known) {
    if (!known) return null;
    const n = this.#nums();
    return { sent: n[0], dropped: n[1], requeued: n[2], unconfirmed: n[3], health: HEALTH_NAMES[n[4]] };
  }

  /** Another tab's request to the collector 'failed', or 'recovered' (succeeded after failing). */
  peer(kind, now) {
    this.#x.aw_peer(codeOf(PEER_NAMES, kind), now);
  }

  /** The next action, or null: { type: 'persist' | 'release', handles } | { type: 'send', batch, beacon, handles, bodyBytes } | { type: 'receipts', request, handles } | { type: 'notice', kind, a, b, handles }. */
  poll(now) {
    const type = ACTION_NAMES[this.#x.aw_poll(now)];
    if (!type) return null;
    const n = this.#nums();
    if (type === 'send') return { type, batch: n[0], beacon: n[1] === 1, handles: this.#list(n[7], n[2]), bodyBytes: n[3] };
    if (type === 'receipts') return { type, request: n[0], handles: this.#list(n[7], n[2]) };
    if (type === 'notice') return { type, kind: NOTICE_NAMES[n[0]], a: n[1], b: n[2], handles: this.#list(n[7], n[0] === 2 ? n[1] : 0) };
    return { type, handles: this.#list(n[7], n[0]) };
  }

  /** When to poll next, on the monotonic clock; null for never. */
  wakeup() {
    const at = this.#x.aw_wakeup();
    return at < 0 ? null : at;
  }

  /** The core's metrics by name, and the last failure as { kind, number } (or null). */
  metrics() {
    this.#x.aw_metrics();
    const n = this.#nums();
    const out = {};
    this.#metricNames.forEach((name, i) => {
      out[name] = n[i];
    });
    // The gauges after the named ones (src/wasm/mod.rs aw_metrics).
    const g = this.#metricNames.length;
    out.circuitState = CIRCUIT_STATE_NAMES[n[g]];
    out.nextRetryAt = n[g + 1] < 0 ? null : n[g + 1];
    out.authPaused = n[g + 2] === 1;
    out.online = n[g + 3] === 1;
    out.failure = n[g + 4] < 0 ? null : { kind: FAILURE_NAMES[n[g + 4]], number: n[g + 5] };
    return out;
  }
}
