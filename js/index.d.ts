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
}

/** A plain JSON-serializable object. See the README for how other values are handled. */
export type Properties = Record<string, unknown>;

export interface AnalyticsError {
  /** `config`, `load`, `input` (a refused event), `delivery`, `auth` or `storage`. */
  type: 'config' | 'load' | 'input' | 'delivery' | 'auth' | 'storage';
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
  anonymousId: string | null;
}

export interface Analytics {
  /** Resolves when the wasm is loaded and persisted events are restored. Never rejects. */
  readonly ready: Promise<void>;
  track(event: string, properties?: Properties): void;
  identify(userId: string, traits?: Properties): void;
  page(name?: string, properties?: Properties): void;
  group(groupId: string, traits?: Properties): void;
  alias(userId: string, previousId: string): void;
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
