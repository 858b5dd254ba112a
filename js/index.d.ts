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
  // generated: numeric settings (cargo run --bin generate; do not edit)
  /** Pending events that start a flush (a trigger, not a cap: a batch takes every pending event that fits). (1–1,000, default 20) */
  flushAt?: number;
  /** Age of the oldest pending event that starts a flush. (1–3,600,000, default 5,000) */
  flushIntervalMs?: number;
  /** Most batches in flight at once by `fetch` (one at a time while the collector fails). (1–16, default 2) */
  flushConcurrency?: number;
  /** Most events in one batch. (1–10,000, default 500) */
  maxBatchEvents?: number;
  /** Most bytes of one `fetch` body, envelope included. (1,024–16,000,000, default 500,000) */
  maxBatchBytes?: number;
  /** Most bytes of one request sent as the page goes away, and of all of them in flight (the browsers' keepalive quota is 64 KB). (1,024–65,536, default 65,536) */
  maxBeaconBytes?: number;
  /** Most events held (pending, in flight and unconfirmed); beyond it the oldest is dropped (`droppedOverflow`). (1–100,000, default 10,000) */
  maxQueueEvents?: number;
  /** Most encoded bytes held; beyond it the oldest is dropped. (1,024–50,000,000, default 16,000,000) */
  maxQueueBytes?: number;
  /** Most bytes of one encoded event (Segment refuses a message over 32 KB with a 400 for its whole batch); a larger event is refused at the call with an `input` error giving its size and the limit. (1,024–16,000,000, default 32,768) */
  maxEventBytes?: number;
  /** The retry unit: while the collector fails, the first retry waits 1–2 of it, later ones 2–4, drawn at random; see `circuitOpenMs`. (1–600,000, default 1,000) */
  retryBaseMs?: number;
  /** Longest wait between tries, whatever the rest says (at least `retryBaseMs`). (retryBaseMs–86,400,000, default 60,000) */
  retryMaxMs?: number;
  /** Longest wait a `Retry-After` header can impose. (0–86,400,000, default 300,000) */
  maxRetryAfterMs?: number;
  /** Failed sends in a row that open the circuit (reported once, as an error of type `delivery`). (1–1,000, default 5) */
  circuitFailureThreshold?: number;
  /** The longest wait between probes of a failing collector: once an outage has lasted a minute or so, the wait grows to a sixteenth of its length, up to this. (1–86,400,000, default 30,000) */
  circuitOpenMs?: number;
  /** Events older than this are dropped (`droppedExpired`). (60,000–31,536,000,000, default 604,800,000) */
  maxEventAgeMs?: number;
  /** Longest time a tracked event lives only in memory. (0–60,000, default 100) */
  persistDebounceMs?: number;
  /** A send not answered within this is a timeout. (1,000–300,000, default 10,000) */
  requestTimeoutMs?: number;
  /** How long events left by an earlier page or a closed tab (and events handed to `sendBeacon`) wait before the collector is asked which of them it holds, so that a request the other page left in flight lands first (`docs/wire-contract.md`, Receipts). (0–600,000, default 3,000) */
  receiptGraceMs?: number;
  // end of generated
  /** A session ends after this long without an event (60,000–86,400,000 ms, default 1,800,000: 30 minutes). */
  sessionTimeoutMs?: number;
  /** Take the anonymousId from this first-party cookie, set by the site's server (it outlives WebKit's 7-day cap on script-written storage); preferred over localStorage. */
  anonymousIdCookie?: string;
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

/** Options of one call, as analytics.js takes them. A bad one refuses that event with an `input` error naming it. */
export interface CallOptions {
  /** When the event happened (a backfilled event): a Date or an ISO 8601 string. Default: the call. */
  timestamp?: Date | string;
  /** Your own id for the event, for dedupe across systems: 1 to 256 characters, none a control character, not one of an event still queued. */
  messageId?: string;
  /** This event's anonymousId (the visitor's is unchanged). */
  anonymousId?: string | number;
  /** This event's userId (the user's is unchanged). */
  userId?: string | number;
  /** Deep-merged over the page context for this event. */
  context?: Record<string, unknown>;
  /** Sent as it is, as the event's `integrations`. */
  integrations?: Record<string, unknown>;
  /** `high` (a purchase, say): sent ahead of normal events, and dropped on overflow only when no normal event waits. Default `normal`. */
  priority?: 'high' | 'normal';
}

/** What became of one call's event. */
export interface EventOutcome {
  /** The event's messageId; null when the call was refused before there was an event. */
  messageId: string | null;
  /** `delivered`: the collector accepted it; `dropped`: it was queued, then given up; `refused`: it never entered the queue. */
  status: 'delivered' | 'dropped' | 'refused';
  /** Why it was dropped or refused. */
  reason?: string;
}

/** What each call returns: settles once its event is delivered, dropped or refused; never rejects. Await it, or ignore it at no cost. */
export interface Outcome extends PromiseLike<EventOutcome> {
  readonly messageId: string | null;
}

/** Called once with the call's outcome. */
export type Callback = (outcome: EventOutcome) => void;

/** A tracking plan: event names and the properties each takes (`createAnalytics<Plan>()`). */
export type EventMap = Record<string, Properties>;

/** The names of a plan's events whose properties may be left out. */
type OptionalEvents<Events> = { [Name in keyof Events]: {} extends Events[Name] ? Name : never }[keyof Events] & string;

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
  // generated: metrics (cargo run --bin generate; do not edit)
  /** Events given to the queue (those refused as too large included). */
  eventsTracked: number;
  /** Events taken back from storage (left by an earlier page load or a closed tab). */
  eventsRestored: number;
  /** Events the collector accepted. */
  eventsSent: number;
  /** Restored events, or events handed to `sendBeacon`, that the collector's receipts showed it holds: delivered, and not sent again. */
  eventsConfirmed: number;
  /** Oldest events dropped because the queue was full. */
  droppedOverflow: number;
  /** Events the collector refused (4xx, or named in a rejection list). */
  droppedRejected: number;
  /** Events too large for any batch, or refused alone with 413. */
  droppedTooLarge: number;
  /** Events older than `maxEventAgeMs`. */
  droppedExpired: number;
  /** Stored records refused at restore as corrupt (not events). */
  restoreCorrupt: number;
  /** Batches accepted (2xx, or taken by `sendBeacon`). */
  batchesSent: number;
  /** Batches that did not deliver. */
  batchesFailed: number;
  /** Batches sent that held an event sent before. */
  retries: number;
  /** Restored or beaconed events sent again because no receipt said the collector holds them (it gives none, or does not hold them): each may be a copy, which the collector drops by `messageId`. */
  eventsResent: number;
  /** Body bytes of accepted batches. */
  bytesSent: number;
  /** Events waiting to be sent. */
  pending: number;
  /** Their encoded bytes. */
  pendingBytes: number;
  /** Events in batches being sent. */
  inFlight: number;
  /** Batches being sent. */
  inFlightBatches: number;
  /** Events restored from storage (or handed to `sendBeacon`) waiting to learn whether the collector holds them. */
  unconfirmed: number;
  // end of generated
  circuitState: 'closed' | 'open' | 'half-open';
  /** Epoch ms before which nothing is sent (backoff, Retry-After, open circuit), or null. */
  nextRetryAt: number | null;
  authPaused: boolean;
  online: boolean;
  lastError: string | null;
  /** The storage backend in use, or null before `ready`. */
  storage: 'indexeddb' | 'localstorage' | 'memory' | null;
  /** Which compilation of the core runs: `'wasm'`, or `'js'` where WebAssembly cannot (no WebAssembly, a CSP without `'wasm-unsafe-eval'`); null before `ready`. */
  core: 'wasm' | 'js' | null;
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
  /** The low-entropy client hints, where the browser has them. */
  userAgentData?: { brands: { brand: string; version: string }[]; mobile: boolean; platform: string };
  locale: string;
  timezone?: string;
  screen: { width: number; height: number; density: number } | null;
  /** From utm_* parameters of this page, or of the session's landing page. */
  campaign?: { name?: string; source?: string; medium?: string; term?: string; content?: string };
  sessionId: number;
  [key: string]: unknown;
}

/** An event as plugins see it. The name and body fields depend on `type`. */
export interface PluginEvent {
  type: 'track' | 'identify' | 'page' | 'group' | 'alias';
  /** The event's messageId (the call's `options.messageId`, else a UUID v7 made as the event is recorded, or a UUID v4 if read before); informational. */
  messageId: string;
  /** track: the event name. */
  event?: string;
  /** page: the page name. */
  name?: string;
  /** page: the page category, when the call gave one. */
  category?: string;
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

export interface Analytics<Events extends EventMap = EventMap> {
  /** Resolves when the wasm is loaded and the events closed tabs and earlier pages left are back in the queue, written again under this tab. Never rejects. */
  readonly ready: Promise<void>;
  /** Records an event; with a tracking plan, its name and properties are checked against it. */
  track<Name extends keyof Events & string>(event: Name, properties: Events[Name], options?: CallOptions, callback?: Callback): Outcome;
  track<Name extends keyof Events & string>(event: Name, properties: Events[Name], callback: Callback): Outcome;
  track<Name extends OptionalEvents<Events>>(event: Name, callback?: Callback): Outcome;
  /** Sets (and persists) the userId for later events and merges `traits`; a different userId starts from no traits. */
  identify(userId: string | number | null, traits?: Properties, options?: CallOptions, callback?: Callback): Outcome;
  identify(userId: string | number | null, traits: Properties, callback: Callback): Outcome;
  identify(userId: string | number, callback: Callback): Outcome;
  /** Anonymous traits: merges them without a userId. */
  identify(traits: Properties, options?: CallOptions, callback?: Callback): Outcome;
  identify(traits: Properties, callback: Callback): Outcome;
  /** Refreshes the page context (url, path, referrer, title), then records a page event; two strings are a category and a name. */
  page(category: string, name: string, properties?: Properties, options?: CallOptions, callback?: Callback): Outcome;
  page(category: string, name: string, callback: Callback): Outcome;
  page(name?: string, properties?: Properties, options?: CallOptions, callback?: Callback): Outcome;
  page(name: string, properties: Properties, callback: Callback): Outcome;
  page(name: string, callback: Callback): Outcome;
  page(properties: Properties, options?: CallOptions, callback?: Callback): Outcome;
  page(callback: Callback): Outcome;
  /** Sets (and persists) the group and merges its traits. */
  group(groupId: string | number, traits?: Properties, options?: CallOptions, callback?: Callback): Outcome;
  group(groupId: string | number, traits: Properties, callback: Callback): Outcome;
  group(groupId: string | number, callback: Callback): Outcome;
  /** Links `previousId` (default: the current userId, else the anonymousId) to `userId`, which becomes the userId. */
  alias(userId: string | number, previousId?: string | number | null, options?: CallOptions, callback?: Callback): Outcome;
  alias(userId: string | number, previousId: string | number | null, callback: Callback): Outcome;
  alias(userId: string | number, options: CallOptions, callback?: Callback): Outcome;
  alias(userId: string | number, callback: Callback): Outcome;
  /** Super properties: merged into every later track()'s properties (its own win), persisted until unregister() or reset(). */
  register(properties: Properties): void;
  /** As register(), for the names not registered already. */
  registerOnce(properties: Properties): void;
  /** Forgets one super property. */
  unregister(name: string): void;
  /** Logout: forgets userId, traits, group and super properties, makes a new anonymousId and starts a new session. */
  reset(): void;
  /** Who events are attributed to now. */
  user(): User;
  /** Stops queuing and sending, deletes persisted events, and remembers the choice (in every tab). */
  optOut(): Promise<void>;
  /** Undoes optOut() (or optOutByDefault) and remembers it; ignored while a privacy signal is honoured. */
  optIn(): void;
  /** Adds a before-send plugin; returns the client for chaining. */
  use(plugin: Plugin): Analytics<Events>;
  /** Sends everything pending; resolves once it is settled or re-queued. */
  flush(): Promise<FlushResult>;
  metrics(): Metrics;
  /** Subscribes to error reports; returns the unsubscribe function. Errors are never thrown from track(). */
  on(type: 'error', listener: (error: AnalyticsError) => void): () => void;
  /** Flushes, persists what is left and detaches from the page. */
  shutdown(): Promise<void>;
}

/**
 * Creates a client; never throws. A bad config field is left at its default and reported when
 * the recorder loads (an `error` of type `config` naming the field and what is allowed); an
 * endpoint or writeKey nothing could be sent with stops the client, each call settled `dropped`.
 * `Events`, a tracking plan, makes track() check event names and properties against it.
 */
export function createAnalytics<Events extends EventMap = EventMap>(config: AnalyticsConfig): Analytics<Events>;
