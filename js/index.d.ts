/** Configuration of createAnalytics(). Every field but `endpoint` is optional. */
export interface AnalyticsConfig {
  /** Collector URL: `https://…`, `http://…`, or a same-origin path starting with `/`. */
  endpoint: string;
  /** Sent in every batch body as `writeKey`. */
  writeKey?: string;
  /** Where the queue is persisted: IndexedDB (`auto`, default) with fallback to localStorage, then memory. */
  storage?: 'auto' | 'indexeddb' | 'localstorage' | 'memory';
  /** Gzip fetch bodies of 1 KB or more with CompressionStream (`Content-Encoding: gzip`; the collector must accept it and allow the header in CORS). Default `none`. Beacon bodies are never compressed. */
  compression?: 'gzip' | 'none';
  /** Pending events that start a flush (1–1000, default 20). A trigger, not a cap. */
  flushAt?: number;
  /** Age of the oldest pending event that starts a flush (1–3,600,000 ms, default 5000). */
  flushIntervalMs?: number;
  /** Most fetch batches in flight (1–16, default 2). */
  flushConcurrency?: number;
  /** Most events per batch (1–10,000, default 500). */
  maxBatchEvents?: number;
  /** Most bytes per fetch body (1024–16,000,000, default 500,000). */
  maxBatchBytes?: number;
  /** Most bytes per beacon and in all keepalive requests in flight (1024–65,536, default 65,536). */
  maxBeaconBytes?: number;
  /** Most events held; the oldest is dropped beyond (1–100,000, default 1000). */
  maxQueueEvents?: number;
  /** Most encoded bytes held; the oldest is dropped beyond (1024–50,000,000, default 5,000,000). */
  maxQueueBytes?: number;
  /** Most bytes of one encoded event; larger is refused at the call (1024–16,000,000, default 32,768: Segment's per-message limit). */
  maxEventBytes?: number;
  /** First backoff ceiling (1–600,000 ms, default 1000). */
  retryBaseMs?: number;
  /** Largest backoff ceiling (retryBaseMs–86,400,000 ms, default 60,000). */
  retryMaxMs?: number;
  /** Longest wait a Retry-After header can impose (0–86,400,000 ms, default 300,000). */
  maxRetryAfterMs?: number;
  /** Consecutive failed sends that open the circuit (1–1000, default 5). */
  circuitFailureThreshold?: number;
  /** How long an open circuit blocks sends (1–86,400,000 ms, default 30,000). */
  circuitOpenMs?: number;
  /** Events older than this are dropped (60,000–31,536,000,000 ms, default 7 days). */
  maxEventAgeMs?: number;
  /** Longest time a tracked event lives only in memory (0–60,000 ms, default 100). */
  persistDebounceMs?: number;
  /** A send not answered within this is a timeout (1000–300,000 ms, default 10,000). */
  requestTimeoutMs?: number;
  /** A session ends after this long without an event (60,000–86,400,000 ms, default 1,800,000: 30 minutes). */
  sessionTimeoutMs?: number;
  /** Also keep `anonymousId` and `userId` in cookies on this domain (e.g. `example.com`), so every subdomain sees the same visitor. Default: localStorage only. */
  cookieDomain?: string;
  /** Start opted out until `optIn()` is called (a consent banner). A choice made earlier with `optIn()`/`optOut()` is remembered and wins. Default false. */
  optOutByDefault?: boolean;
  /** Treat Do Not Track or Global Privacy Control as an opt-out that `optIn()` cannot override. Default false. */
  respectPrivacySignals?: boolean;
  /** Log every decision (queued, batched, sent, retried, dropped and why) with `console.debug`. Default false; costs nothing when off. */
  debug?: boolean;
}

/** A plain JSON-serializable object. See the README for how other values are handled. */
export type Properties = Record<string, unknown>;

export interface AnalyticsError {
  /** `config`, `load`, `input` (a refused event), `delivery`, `auth`, `storage` or `plugin` (a plugin threw). */
  type: 'config' | 'load' | 'input' | 'delivery' | 'auth' | 'storage' | 'plugin';
  message: string;
}

export interface FlushResult {
  /** Events delivered while the flush ran. */
  sent: number;
  /** Events whose sends failed while the flush ran (re-queued or dropped). */
  failed: number;
  /** Events still pending afterwards. */
  pending: number;
}

export interface Metrics {
  eventsTracked: number;
  eventsRestored: number;
  eventsSent: number;
  droppedOverflow: number;
  droppedRejected: number;
  droppedTooLarge: number;
  droppedExpired: number;
  restoreCorrupt: number;
  batchesSent: number;
  batchesFailed: number;
  retries: number;
  bytesSent: number;
  pending: number;
  pendingBytes: number;
  inFlight: number;
  inFlightBatches: number;
  circuitState: 'closed' | 'open' | 'half-open';
  /** Epoch ms before which nothing is sent (backoff, Retry-After, open circuit), or null. */
  nextRetryAt: number | null;
  authPaused: boolean;
  online: boolean;
  lastError: string | null;
  /** The storage backend in use, or null before `ready`. */
  storage: 'indexeddb' | 'localstorage' | 'memory' | null;
  /** Which compilation of the core runs: `'wasm'`, or `'js'` where WebAssembly cannot (no WebAssembly, a CSP without `'wasm-unsafe-eval'`); null before `ready`. */
  engine: 'wasm' | 'js' | null;
  /** How tabs agree who owns persisted events: Web Locks, or the localStorage lease fallback. Absent before `ready`. */
  ownership?: 'web-locks' | 'lease';
  /** This page load's storage partition. Absent before `ready`. */
  partition?: string;
  /** Partitions of closed tabs whose events this tab took over. Absent before `ready`. */
  adoptedPartitions?: number;
  /** Events taken over from closed tabs. Absent before `ready`. */
  adoptedEvents?: number;
  /** null on the server. */
  anonymousId: string | null;
  userId: string | null;
  /** The current session's id (its start, epoch ms), or null on the server. */
  sessionId: number | null;
  optedOut: boolean;
}

/** The `context` sent with every event; computed once per page view and by `page()`. */
export interface EventContext {
  library: { name: 'analytics-wasm'; version: string };
  page: { path: string; referrer: string; search: string; title: string; url: string };
  userAgent: string;
  locale: string;
  timezone?: string;
  screen: { width: number; height: number; density: number } | null;
  sessionId: number;
  [key: string]: unknown;
}

/** An event as plugins see it. The name and body fields depend on `type`. */
export interface PluginEvent {
  type: 'track' | 'identify' | 'page' | 'group' | 'alias';
  /** track: the event name. */
  event?: string;
  /** page: the page name. */
  name?: string;
  /** group: the group id. */
  groupId?: string;
  /** alias: the id being aliased. */
  previousId?: string;
  /** track and page. */
  properties?: Properties;
  /** identify and group. */
  traits?: Properties;
  userId: string | null;
  anonymousId: string;
  context: EventContext;
  /** When the call was made (ISO 8601); informational, changing it has no effect. */
  timestamp: string;
}

export interface Plugin {
  name: string;
  /**
   * Runs synchronously before an event is queued, in the order plugins were added.
   * Return the event (or a replacement of the same type), or nothing to keep it with
   * your changes; return `null` or `false` to drop it. A plugin that throws is reported
   * as an `error` of type `plugin` and skipped; the event continues.
   */
  beforeSend(event: PluginEvent): PluginEvent | null | false | void;
}

export interface User {
  userId: string | null;
  anonymousId: string | null;
  traits: Properties;
}

export interface Analytics {
  /** Resolves when the wasm is loaded and the events closed tabs and earlier pages left are back in the queue (written again under this tab just after). Never rejects. */
  readonly ready: Promise<void>;
  track(event: string, properties?: Properties): void;
  /** Sets (and persists) the userId for later events and merges `traits`; a different userId starts from no traits. */
  identify(userId: string, traits?: Properties): void;
  /** Anonymous traits: merges them without a userId. */
  identify(traits: Properties): void;
  /** Refreshes the page context (url, path, referrer, title), then records a page event. */
  page(name?: string, properties?: Properties): void;
  /** Sets (and persists) the group and merges its traits. */
  group(groupId: string, traits?: Properties): void;
  /** Links `previousId` (default: the current userId, else the anonymousId) to `userId`, which becomes the userId. */
  alias(userId: string, previousId?: string): void;
  /** Logout: forgets userId, traits and group, makes a new anonymousId and starts a new session. */
  reset(): void;
  /** Who events are attributed to now. */
  user(): User;
  /** Stops queuing and sending, deletes persisted events, and remembers the choice (in every tab). */
  optOut(): Promise<void>;
  /** Undoes optOut() (or optOutByDefault) and remembers it; ignored while a privacy signal is honoured. */
  optIn(): void;
  /** Adds a before-send plugin; returns the client for chaining. */
  use(plugin: Plugin): Analytics;
  /** Sends everything pending; resolves once it is settled or re-queued. */
  flush(): Promise<FlushResult>;
  metrics(): Metrics;
  /** Subscribes to error reports; returns the unsubscribe function. Errors are never thrown from track(). */
  on(type: 'error', listener: (error: AnalyticsError) => void): () => void;
  /** Flushes, persists what is left and detaches from the page. */
  shutdown(): Promise<void>;
}

/** Creates a client. Throws an Error naming the field and the allowed values on bad config. */
export function createAnalytics(config: AnalyticsConfig): Analytics;
