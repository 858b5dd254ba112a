// The browser shell: one drive loop that feeds the core (core.js) its
// inputs and carries out its actions with the leaves: storage, transport,
// tabs, lifecycle, announcements. The leaves know nothing of this module.
//
// The shell holds each event's bytes, encoded once here, under a handle;
// the core holds only handles, sizes and times and decides everything.
// Inputs (calls, page events, send outcomes, adoptions) go straight to the
// core, which never calls back; `#drive()` then takes its actions one at a
// time, so a browser that runs page work inside one of our calls (Firefox
// does, in storage and beacon calls made while a tab closes) finds a loop it
// can drive itself.
import { Core, loadCore } from './core.js';
import { CORE_KEY, loadScript } from './asset-keys.js';
import { STORAGE_ANSWER_MS, describe, openStorage, within, usableLocalStorage } from './storage.js';
import { beacon, canKeepalive, readReceipts, readRejections, readRetryAfter, send } from './transport.js';
import { batchBody, packEvents, sendLargeVia, workerJobs } from './engine-worker.js';
import { LEASE_EXPIRY_MS, LEASE_RENEW_MS, Lease, lockName, ownership, requestLock } from './tabs.js';
import { attachLifecycle, isHidden, isOnline } from './lifecycle.js';
import { openAnnouncer } from './announce.js';
import { isObject, readOptions } from './options.js';

const NAMESPACE = 'analytics-wasm';
/** How long a fetch's network error waits for a pagehide that would make it the unload's abort. */
const UNLOAD_ABORT_GRACE_MS = 250;
/** A network error seen this long before pagehide is a real failure (a background tab's timers fire late). */
const UNLOAD_ABORT_WINDOW_MS = 100;
/** When the second adoption pass runs, after start (see start()). */
const LATE_PASS_MS = 2000;
/** Most events written to storage in one task while the page is visible (a long task blocks the page). */
const PERSIST_PER_TASK = 500;

/** The field that holds each kind of event's name, and the one that holds its properties or traits. */
export const NAME_FIELD = { track: 'event', page: 'name', group: 'groupId', alias: 'previousId' };
export const BODY_FIELD = { track: 'properties', page: 'properties', identify: 'traits', group: 'traits' };

const timeOrigin = performance.timeOrigin;
const monotonic = () => timeOrigin + performance.now();

/** The identity members of an event's JSON (`userId` empty: none). */
const who = (userId, anonymousId) => `,"anonymousId":${JSON.stringify(anonymousId)}${userId ? `,"userId":${JSON.stringify(userId)}` : ''}`;

/** `over` merged into `base` (both parsed JSON): objects merge, anything else replaces. */
function deepMerge(base, over) {
  for (const [key, value] of Object.entries(over)) base[key] = isObject(value) && isObject(base[key]) ? deepMerge(base[key], value) : value;
  return base;
}

/** Why a released event that no send or notice accounts for was dropped. */
const DROPPED_FROM_QUEUE = 'dropped from the queue: over maxQueueEvents or maxQueueBytes, or older than maxEventAgeMs';

const NON_ASCII = /[^\x00-\x7f]/;

/** UTF-8 length of a string (lone surrogates cannot occur in JSON.stringify output). */
export function utf8Bytes(text) {
  // Most event JSON is ASCII, which one native scan tells.
  if (!NON_ASCII.test(text)) return text.length;
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else {
      bytes += 2;
      if (c >= 0xd800 && c < 0xdc00) i++;
    }
  }
  return bytes;
}

const FAILURES = {
  status: (n) => `send failed: the collector answered ${n}`,
  network: () => 'send failed: network error',
  timeout: () => 'send failed: timed out',
  rateLimited: () => 'rate limited: the collector answered 429',
  authPaused: (n) => `sending paused: the collector answered ${n} (check writeKey); events are kept`,
  batchDropped: (n) => `batch dropped: the collector answered ${n}`,
  eventRefused: (n) => `event dropped: the collector answered ${n} for it alone`,
  eventTooLarge: () => 'event dropped: the collector answered 413 for it alone',
  eventsRejected: (n, reason) => `collector rejected ${n} event(s): ${reason}`,
};

/**
 * Compiles the core, opens storage, adopts what closed tabs left; resolves
 * to the engine. `page` carries what the page's modules already have, so
 * this module (built into one file, analytics-engine.js) holds no copy of
 * them: `wasm` (a fetch of the core, or null), `jsCore` (the URL of the
 * core compiled to JavaScript), `tables` (tables.js), `engine` (this
 * script's URL, or none).
 */
export async function startEngine(config, emit, page) {
  // Storage opens, and the partition's lock is taken, while the core compiles.
  const random = crypto.getRandomValues(new Uint8Array(8));
  const partition = Array.from(random, (b) => b.toString(16).padStart(2, '0')).join('');
  // Own the partition before anything is written to it.
  const lock = requestLock(lockName(NAMESPACE, partition), false);
  const opening = openStorage(config.storage ?? 'auto', NAMESPACE, partition);
  const [{ exports, engine: kind, fallbackReason }, opened] = await Promise.all([loadCore(page.wasm, () => loadScript(page.jsCore, CORE_KEY)), opening]);
  if (fallbackReason) emit('debug', `${fallbackReason}: using the core compiled to JavaScript`);
  const engine = new Engine(exports, config, emit, kind, page);
  await engine.start(partition, opened, lock && (await lock.granted) ? lock : null);
  return engine;
}

export class Engine {
  #core;
  /** handle → '' (delivered) or why it was dropped, for events about to be released. */
  #fates = new Map();
  #emit;
  /** Which compilation of the core runs: 'wasm' or 'js'. */
  #kind;
  #endpoint;
  #compress;
  #debug;
  #timeoutMs;
  #writeKeyMember;
  /** handle → { id, json, tail, bytes, at, outcome }: the events the core holds, each one's JSON text `json + tail`. */
  #events = new Map();
  #next = 1;
  #context = '{}';
  #contextBytes = 2;
  /** What ends each event with this context (`,"context":…}`). */
  #tail = ',"context":{}}';
  #who = who('', '');
  #storage = null;
  /** Handles to write, oldest first: a Persist is written PERSIST_PER_TASK a task while the page is visible. */
  #unwritten = [];
  #writeTimer = null;
  #lastWrite = null;
  #storageFailures = 0;
  #hidden = false;
  #closed = false;
  /** Fetches in flight: batch → its handles. */
  #fetches = new Map();
  /** Fetches whose network error is held back: batch → when it was seen. */
  #heldErrors = new Map();
  #flushes = [];
  #timer = null;
  #timerAt = Infinity;
  #partition = '';
  #ownership = ownership();
  #ownLock = null;
  #lease = null;
  #leaseTimer = null;
  #detachLifecycle = () => {};
  #announcer = null;
  #watching = new Set();
  #adopting = false;
  #rescanning = false;
  #adoptedPartitions = 0;
  #adoptedEvents = 0;
  /**
   * The messageIds this tab has adopted. A closed tab's last localStorage
   * writes can reach this tab's view after its partition was adopted
   * (Firefox): read again, they are not queued twice.
   */
  #adoptedIds = new Set();
  #lastReason = '';
  #expiredLogged = 0;

  /** The engine's worker (engine-worker.js): large sends and IndexedDB writes off the page's thread. */
  #jobs;
  /** Sends a packed batch (engine-worker.js's sendLargeVia): from the worker for large ones. */
  #sendBody;

  /** `page` as for startEngine: its `tables`, and `engine`, this script's URL (for the engine's worker). */
  constructor(exports, config, emit, kind, { tables, engine }) {
    this.#jobs = workerJobs(engine);
    this.#sendBody = sendLargeVia(this.#jobs);
    this.#emit = emit;
    this.#kind = kind;
    this.#endpoint = config.endpoint;
    this.#compress = config.compression === 'gzip';
    this.#debug = config.debug === true;
    this.#timeoutMs = config.requestTimeoutMs ?? 10_000;
    this.#writeKeyMember = config.writeKey === undefined ? '' : `,"writeKey":${JSON.stringify(config.writeKey)}`;
    const emptyBody = utf8Bytes(batchBody(this.#batch([], new Date(0).toISOString())));
    this.#core = new Core(exports, config, Math.floor(Math.random() * 2 ** 52), emptyBody, tables);
  }

  // --- what the page says ---------------------------------------------------

  /** The `context` object (JSON text) sent with every later event; measured only when it changes. */
  setContext(json) {
    if (json === this.#context) return;
    this.#context = json;
    this.#contextBytes = utf8Bytes(json);
    this.#tail = `,"context":${json}}`;
  }

  /** Who later events are attributed to (`userId` empty: nobody). */
  setIdentity(userId, anonymousId) {
    if (userId === this.#userId && anonymousId === this.#anonymousId) return;
    this.#userId = userId;
    this.#anonymousId = anonymousId;
    this.#who = who(userId, anonymousId);
  }

  #userId = '';
  #anonymousId = '';

  /**
   * Records one call: `type` 'track' … 'alias'; `json` its properties or
   * traits; `at` when it was made (wall clock: its timestamp); `id` its
   * messageId; `optionsJson` its options (options.js), or ''; `category` a
   * page's, or ''; `outcome` the call's (outcomes.js), settled when the
   * event is delivered, dropped or refused; `waited`: it waited for the
   * engine to start, so the core is told its age too.
   */
  record(type, name, json, at, id, optionsJson, category, outcome, waited) {
    if (this.#closed) return;
    const extra = optionsJson ? readOptions(optionsJson, type) : null;
    if (typeof extra === 'string') {
      this.#emit('input', extra);
      outcome?.settle('refused', extra);
      return;
    }
    const nameField = NAME_FIELD[type];
    const bodyField = BODY_FIELD[type];
    let whoMembers = this.#who;
    let context = this.#context;
    // The context, most of an event's bytes, is measured once, when it changes.
    let contextBytes = this.#contextBytes;
    let stamp = this.#iso(at);
    let members = category ? `,"category":${JSON.stringify(category)}` : '';
    let idJson = `"${id}"`;
    if (extra) {
      if (extra.userId !== undefined || extra.anonymousId !== undefined) whoMembers = who(extra.userId ?? this.#userId, extra.anonymousId ?? this.#anonymousId);
      if (extra.context) {
        context = JSON.stringify(deepMerge(JSON.parse(context), extra.context));
        contextBytes = utf8Bytes(context);
      }
      if (extra.timestamp !== undefined) stamp = new Date(extra.timestamp).toISOString();
      if (extra.integrations) members += `,"integrations":${extra.integrations}`;
      if (extra.messageId) idJson = JSON.stringify(id);
    }
    // Joined, not added: one flat string, where `+` makes a rope of a dozen
    // pieces that measuring it (utf8Bytes) then copies flat again.
    const head = [
      `{"type":"${type}"`,
      nameField && name ? `,"${nameField}":${JSON.stringify(name)}` : '',
      members,
      bodyField ? `,"${bodyField}":${json || '{}'}` : '',
      ',"messageId":',
      idJson,
      whoMembers,
      `,"timestamp":"${stamp}"`,
    ].join('');
    // The context ends the event: one string for a page view's events, which storage keeps once per chunk.
    const tail = context === this.#context ? this.#tail : `,"context":${context}}`;
    const bytes = utf8Bytes(head) + contextBytes + 12;
    const handle = this.#next++;
    this.#hold(handle, { id, json: head, tail, bytes, at, outcome });
    const limit = this.#core.track(handle, bytes, waited ? at : -1, this.#now(), extra?.priority === 'high');
    if (limit > 0) {
      this.#let(handle);
      const message = `event is ${bytes} bytes encoded, larger than the limit of ${limit} bytes`;
      this.#emit('input', message);
      outcome?.settle('refused', message);
      return;
    }
    if (this.#debug) this.#debugLine(`queued ${id} (${this.#core.metrics().pending} pending)`);
    this.#soon();
  }

  /** `time` as ISO 8601; a burst's calls share a millisecond, and the text with it. */
  #iso(time) {
    if (time !== this.#isoTime) {
      this.#isoTime = time;
      this.#isoText = new Date(time).toISOString();
    }
    return this.#isoText;
  }

  #isoTime = NaN;
  #isoText = '';

  /** Sends everything pending; resolves with { sent, failed, pending } once it is settled or re-queued. */
  flush() {
    return new Promise((resolve) => {
      this.#flushes.push({ resolve, sent: 0, failed: 0 });
      this.#core.event('flush', this.#now());
      this.#drive();
    });
  }

  metrics() {
    const { failure, ...metrics } = this.#core.metrics();
    metrics.lastError = failure ? FAILURES[failure.kind](failure.number, this.#lastReason) : null;
    metrics.storage = this.#storage?.kind ?? null;
    metrics.engine = this.#kind;
    metrics.ownership = this.#ownership;
    metrics.partition = this.#partition;
    metrics.adoptedPartitions = this.#adoptedPartitions;
    metrics.adoptedEvents = this.#adoptedEvents;
    return metrics;
  }

  /** Flushes, persists what is left, and lets go of the page; what stays persisted is for other tabs. */
  async shutdown() {
    await this.flush();
    this.#core.event('persistNow', this.#now());
    this.#drive();
    this.#writeUnwritten(Infinity);
    if (this.#lastWrite && (await within(STORAGE_ANSWER_MS, this.#lastWrite.then(() => true, () => true), false)) === false) {
      this.#emit('storage', `storage did not answer within ${STORAGE_ANSWER_MS} ms`);
    }
    this.#detach();
  }

  /** Opt-out: nothing more is sent, and this tab's and every orphaned partition are deleted. */
  async discard() {
    if (this.#closed) return;
    const { pending, inFlight } = this.#core.metrics();
    this.#detach();
    for (const waiter of this.#flushes.splice(0)) waiter.resolve({ sent: 0, failed: 0, pending: 0 });
    for (const event of this.#events.values()) event.outcome?.settle('dropped', 'opted out');
    if (this.#debug) this.#debugLine(`opted out: ${pending + inFlight} event(s) discarded, persisted events deleted`);
    const storage = this.#storage;
    if (!storage) return;
    const removed = (async () => {
      await storage.deletePartition(this.#partition);
      for (const orphan of await storage.others()) {
        const claim = await this.#claim(orphan);
        if (!claim) continue;
        await storage.deletePartition(orphan);
        claim.release();
      }
      return true;
    })();
    try {
      if (!(await within(STORAGE_ANSWER_MS, removed, false))) this.#emit('storage', `storage did not answer within ${STORAGE_ANSWER_MS} ms`);
    } catch (error) {
      this.#emit('storage', `storage write failed (events stay queued in memory): ${describe(error)}`);
    }
    storage.close();
  }

  // --- start ---------------------------------------------------------------

  /** Takes a partition, opens storage, attaches page listeners, adopts what closed tabs left. */
  /**
   * Starts on `partition`, with the storage `openStorage` gave ({ storage,
   * problems }) and the partition's lock (null without Web Locks).
   */
  async start(partition, { storage, problems }, lock) {
    this.#partition = partition;
    this.#ownLock = lock;
    for (const problem of problems) this.#emit('storage', `${problem}; using ${storage.kind}`);
    this.#storage = storage;
    storage.offload(this.#jobs);
    const now = this.#now();
    if (storage.kind === 'memory') this.#core.event('noPersistence', now);
    if (this.#ownership === 'lease') {
      try {
        this.#lease = new Lease(usableLocalStorage(), NAMESPACE);
        this.#lease.renew(this.#partition, Date.now());
        this.#leaseTimer = setInterval(() => this.#lease.renew(this.#partition, Date.now()), LEASE_RENEW_MS);
      } catch {
        // No localStorage: no lease, and no tab can adopt this one's events (there is nowhere they could be).
      }
    }
    if (!isOnline()) this.#core.event('offline', now);
    if (isHidden()) {
      this.#hidden = true;
      this.#core.event('hidden', now);
    }
    this.#detachLifecycle = attachLifecycle((event) => this.#onPage(event));
    // Tabs that open later say hello; those open now answer it.
    this.#announcer = openAnnouncer(NAMESPACE, (kind, value) => this.#onAnnouncement(kind, value));
    this.#announcer?.hello(this.#partition);
    this.#drive();
    // `ready` waits for the first adoption pass to put the events back in
    // the queue, not for their move under this tab's partition to commit:
    // one transaction moves them, so no moment holds two copies. And only
    // so long: storage that does not answer (another page may hold it, as
    // one frozen in WebKit's back/forward cache did) must not hold this
    // page up; its events leave from memory meanwhile, and the pass goes on.
    const adopted = await within(STORAGE_ANSWER_MS, this.#adoptOrphans().then(() => true), false);
    // A page that went away just before this one started (a reload, a
    // closed tab) may have written its last records where this page sees
    // them only later: one more pass, however the page is shown.
    setTimeout(() => this.#adoptOrphans(), LATE_PASS_MS);
    if (!adopted) {
      this.#emit('storage', `storage did not answer within ${STORAGE_ANSWER_MS} ms: events are sent from memory meanwhile; those left by earlier pages are restored when it answers`);
    }
  }

  // --- the drive loop ---------------------------------------------------------

  /** The monotonic time now, having told the core what the wall clock reads at it. */
  #now() {
    const now = monotonic();
    const wall = Date.now();
    // The core keeps the clocks' offset in whole ms: told only when that changes (not at each event of a burst).
    if (wall - Math.floor(now) !== this.#wallOffset) {
      this.#wallOffset = wall - Math.floor(now);
      this.#core.clock(wall, now);
    }
    return now;
  }

  #wallOffset = NaN;

  /** A drive at the end of this task's microtasks (a burst of track() calls costs one). */
  #soon() {
    if (this.#soonQueued) return;
    this.#soonQueued = true;
    queueMicrotask(() => {
      this.#soonQueued = false;
      this.#drive();
    });
  }

  #soonQueued = false;

  /** Takes the core's actions one at a time and carries them out, then re-arms the timer. */
  #drive() {
    if (this.#closed || !this.#storage) return;
    for (let action = this.#core.poll(this.#now()); action; action = this.#core.poll(this.#now())) {
      if (action.type === 'persist') this.#persist(action.handles);
      else if (action.type === 'release') this.#release(action.handles);
      else if (action.type === 'send') this.#send(action);
      else if (action.type === 'receipts') this.#askReceipts(action);
      else this.#notice(action);
    }
    if (this.#debug) this.#logExpired();
    this.#arm();
    this.#resolveFlushes();
  }

  #arm() {
    const at = this.#core.wakeup();
    if (at === null || at >= this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    // Browsers clamp, and may fire a millisecond early: aim one late.
    this.#timer = setTimeout(() => {
      this.#timerAt = Infinity;
      this.#drive();
    }, Math.max(0, at - monotonic()) + 1);
  }

  #hold(handle, event) {
    this.#events.set(handle, event);
  }

  #let(handle) {
    this.#events.delete(handle);
  }

  #persist(handles) {
    const idle = this.#unwritten.length === 0;
    for (const handle of handles) this.#unwritten.push(handle);
    if (this.#hidden) this.#writeUnwritten(Infinity);
    else if (idle) this.#writeSlice();
  }

  /** Writes the next slice now and the rest in later tasks, in order. */
  #writeSlice() {
    this.#writeTimer = null;
    this.#writeUnwritten(PERSIST_PER_TASK);
    if (this.#unwritten.length && !this.#closed) this.#writeTimer = setTimeout(() => this.#writeSlice(), 0);
  }

  /** Writes up to `limit` waiting events, oldest first; one released meanwhile is not written. */
  #writeUnwritten(limit) {
    const handles = this.#unwritten.splice(0, Math.min(limit, this.#unwritten.length));
    const events = handles.map((h) => this.#events.get(h)).filter(Boolean);
    if (!events.length) return;
    const write = this.#storage.write(events, this.#hidden);
    this.#wrote(write);
    // A hidden page's write is spilled with it; a visible one's waits here until it commits.
    if (write?.then && !this.#hidden) {
      this.#uncommitted.set(write, handles);
      write.then(() => this.#uncommitted.delete(write), () => {});
    }
  }

  /**
   * IndexedDB writes not committed yet → their handles: a page going away
   * can lose them, so they are spilled when it hides (once: a spilled
   * event stays in the spill until it is released).
   */
  #uncommitted = new Map();

  #release(handles) {
    const ids = [];
    for (const handle of handles) {
      const event = this.#events.get(handle);
      const fate = this.#fates.get(handle);
      this.#fates.delete(handle);
      this.#let(handle);
      if (!event) continue;
      ids.push(event.id);
      if (fate === '') event.outcome?.settle('delivered');
      else event.outcome?.settle('dropped', fate ?? DROPPED_FROM_QUEUE);
    }
    if (this.#storage.kind !== 'memory') this.#wrote(this.#storage.delete(ids));
  }

  #wrote(write) {
    if (!write) return;
    if (write.error) return this.#storageFailed(write.error);
    this.#lastWrite = write;
    write.catch((error) => this.#storageFailed(error));
  }

  #storageFailed(error) {
    this.#storageFailures++;
    this.#emit('storage', `storage write failed (events stay queued in memory): ${describe(error?.target?.error ?? error)}`);
  }

  /** A batch of `events` ({ json, tail }), packed as engine-worker.js's batchBody takes it. */
  #batch(events, sentAt) {
    return ['{"batch":[', packEvents(events), `],"sentAt":"${sentAt}"${this.#writeKeyMember}}`];
  }

  #send({ batch, beacon: byBeacon, handles, bodyBytes }) {
    // Date.now(): the wall clock the page's own code may have moved.
    const packed = this.#batch(
      handles.map((h) => this.#events.get(h)),
      new Date(Date.now()).toISOString(),
    );
    // A hidden page's batch leaves by fetch with keepalive: it outlives the
    // page, and a page that stays is told the answer. sendBeacon, whose
    // answer nobody is told (its events stay stored, to be asked about
    // later), only where fetch cannot keepalive.
    if (byBeacon && !canKeepalive()) {
      const body = batchBody(packed);
      const queued = beacon(this.#endpoint, body);
      if (queued !== null) {
        if (this.#debug) this.#debugLine(`batch ${batch}: sending ${handles.length} event(s), ${body.length} bytes, by sendBeacon${queued ? '' : ' (refused)'}`);
        // Settled at once: a closing tab may end inside the next call.
        this.#settle(batch, handles, queued ? 'beaconQueued' : 'beaconRefused');
        return;
      }
    }
    if (this.#debug) this.#debugLine(`batch ${batch}: sending ${handles.length} event(s), ${bodyBytes} bytes, by ${byBeacon ? 'fetch keepalive' : 'fetch'}`);
    this.#fetches.set(batch, handles);
    // A keepalive request must leave at once: its body stays plain.
    this.#sendBody(this.#endpoint, packed, bodyBytes, { timeoutMs: this.#timeoutMs, keepalive: byBeacon, compress: this.#compress && !byBeacon }).then(async (result) => {
      if (result === 'network' && !byBeacon) {
        // The browser aborts a page's fetches as it unloads, and may say so
        // before pagehide reaches us (Firefox does; Chromium when another
        // listener runs first). If pagehide follows at once, the core has
        // abandoned this batch and ignores the abort.
        this.#heldErrors.set(batch, monotonic());
        await new Promise((resolve) => setTimeout(resolve, UNLOAD_ABORT_GRACE_MS));
        if (!this.#heldErrors.delete(batch)) return;
      }
      this.#settleFetch(batch, result);
    });
  }

  #settleFetch(batch, result) {
    const handles = this.#fetches.get(batch);
    if (!handles) return;
    this.#fetches.delete(batch);
    let outcome = result;
    if (typeof result === 'object') {
      const rejected = readRejections(result.text);
      const byId = new Map(handles.map((h) => [this.#events.get(h)?.id, h]));
      const named = rejected.filter(([id]) => byId.has(id));
      if (named.length) this.#lastReason = named[0][1];
      this.#rejections = named;
      outcome = { status: result.status, retry: readRetryAfter(result.retryAfter), rejected: named.map(([id]) => byId.get(id)) };
    }
    this.#settle(batch, handles, outcome);
    this.#drive();
  }

  #rejections = [];

  /**
   * Asks the collector which of these events (restored, or handed to
   * sendBeacon) it holds: docs/wire-contract.md, "Receipts". Those it
   * holds are delivered; the core sends the others again.
   */
  #askReceipts({ request, handles }) {
    const ids = handles.map((h) => this.#events.get(h)?.id);
    const body = `{"batch":[],"receipts":${JSON.stringify(ids)},"sentAt":"${new Date(Date.now()).toISOString()}"${this.#writeKeyMember}}`;
    if (this.#debug) this.#debugLine(`asking the collector which of ${ids.length} event(s) it holds`);
    send(this.#endpoint, body, { timeoutMs: this.#timeoutMs }).then((result) => {
      let held = null;
      let outcome = result;
      if (typeof result === 'object') {
        const receipts = readReceipts(result.text);
        if (receipts) {
          const holds = new Set(receipts);
          held = handles.filter((h) => holds.has(this.#events.get(h)?.id));
        }
        outcome = { status: result.status, retry: readRetryAfter(result.retryAfter) };
      }
      const report = this.#core.receipts(request, outcome, held, this.#now());
      if (!report) return;
      for (const handle of held ?? []) if (this.#events.has(handle)) this.#fates.set(handle, '');
      this.#tell(report.health);
      if (this.#debug) this.#debugLine(`the collector holds ${report.sent} of ${ids.length}${held ? '' : ' (it gives no receipts)'}; ${report.requeued} to send again`);
      this.#drive();
    });
  }

  /** Tells the other tabs what a request found of the collector, so they wait out an outage, and resume, with this one. */
  #tell(health) {
    if (health === 'failing') this.#announcer?.failed(this.#endpoint);
    if (health === 'recovered') this.#announcer?.recovered(this.#endpoint);
  }

  #settle(batch, handles, outcome) {
    const events = handles.length;
    const report = this.#core.settle(batch, outcome, this.#now());
    if (!report) return;
    this.#tell(report.health);
    // What becomes of each (told when they are released): all sent, some
    // rejected by name (a notice says why), or all dropped by the answer.
    if (report.sent > 0) {
      const rejected = new Set(outcome.rejected);
      for (const handle of handles) if (!rejected.has(handle)) this.#fates.set(handle, '');
    } else if (report.dropped === events && typeof outcome === 'object') {
      for (const handle of handles) this.#fates.set(handle, `the collector answered ${outcome.status}`);
    }
    for (const waiter of this.#flushes) {
      waiter.sent += report.sent;
      waiter.failed += events - report.sent;
    }
    if (this.#debug) {
      const { nextRetryAt, lastError } = this.metrics();
      const retry = nextRetryAt === null ? '' : `; retry in ${Math.max(0, nextRetryAt - Date.now())} ms`;
      const why = report.sent < events && lastError ? ` (${lastError})` : '';
      const kept = report.unconfirmed ? `, ${report.unconfirmed} kept until the collector confirms them` : '';
      this.#debugLine(`batch ${batch}: ${report.sent} sent, ${report.dropped} dropped (rejected), ${report.requeued} re-queued${kept}${retry}${why}`);
    }
  }

  #notice({ kind, a, b, handles }) {
    const idOf = (h) => this.#events.get(h)?.id ?? h;
    const texts = {
      authFailed: () => ['auth', `the collector answered ${a}: sending is paused until flush() or a new config; events are kept`],
      batchRejected: () => ['delivery', `the collector answered ${a}: dropped a batch of ${b} event(s)`],
      eventsRejected: () => {
        const reasons = new Map(this.#rejections);
        for (const h of handles) this.#fates.set(h, `rejected by the collector: ${reasons.get(idOf(h)) ?? ''}`);
        const listed = handles.slice(0, 5).map((h) => `; ${idOf(h)}: ${reasons.get(idOf(h)) ?? ''}`);
        return ['delivery', `the collector rejected ${a} event(s)${listed.join('')}`];
      },
      eventTooLarge: () => ['delivery', `event ${idOf(a)} dropped: the collector answered 413 for it alone`],
      eventRefused: () => ['delivery', `event ${idOf(a)} dropped: the collector answered ${b} for it alone`],
      circuitOpened: () => ['delivery', `the collector failed ${a} sends in a row: sending paused for ${Math.floor(Math.max(0, b - monotonic()) / 1000)} s; events are kept`],
    };
    const [type, message] = texts[kind]();
    // An event refused alone is dropped for what the message says.
    if (kind === 'eventTooLarge' || kind === 'eventRefused') this.#fates.set(a, message);
    this.#emit(type, message);
  }

  #resolveFlushes() {
    if (!this.#flushes.length || this.#fetches.size) return;
    const { pending } = this.#core.metrics();
    for (const waiter of this.#flushes.splice(0)) waiter.resolve({ sent: waiter.sent, failed: waiter.failed, pending });
  }

  #debugLine(line) {
    this.#emit('debug', line);
  }

  #logExpired() {
    const { droppedExpired } = this.#core.metrics();
    if (droppedExpired > this.#expiredLogged) {
      this.#debugLine(`dropped ${droppedExpired - this.#expiredLogged} event(s) older than maxEventAgeMs`);
      this.#expiredLogged = droppedExpired;
    }
  }

  // --- the page ---------------------------------------------------------------

  #onPage(event) {
    if (this.#closed) return;
    const now = this.#now();
    if (event === 'hidden' || event === 'unload') this.#hidden = true;
    if (event === 'visible') this.#hidden = false;
    if (event === 'unload') {
      // Held errors seen well before this are failures, not the unload's aborts.
      for (const [batch, at] of this.#heldErrors) {
        if (now - at <= UNLOAD_ABORT_WINDOW_MS) continue;
        this.#heldErrors.delete(batch);
        this.#settleFetch(batch, 'network');
      }
    }
    this.#core.event(event, now);
    this.#drive();
    // A page going away may not get another task: what still waits is
    // written now, after the batches for the way out have left (their
    // events are kept until an answer or a receipt confirms them), and what
    // was written but not committed (an unload can abort it) is copied to
    // the spill.
    if (this.#hidden) {
      for (const handles of this.#uncommitted.values()) this.#storage.spill(handles.map((h) => this.#events.get(h)).filter(Boolean));
      this.#uncommitted.clear();
      this.#writeUnwritten(Infinity);
    }
    // A tab may have gone away while this one was in the background.
    if (event === 'visible') this.#adoptOrphans();
  }

  #detach() {
    this.#closed = true;
    clearTimeout(this.#writeTimer);
    this.#unwritten = [];
    this.#detachLifecycle();
    this.#announcer?.close();
    clearTimeout(this.#timer);
    clearInterval(this.#leaseTimer);
    this.#ownLock?.release();
    if (this.#lease) this.#lease.release(this.#partition);
  }

  // --- tabs: adoption of what closed tabs left ------------------------------------

  /** The right to read and delete a partition no live tab owns, or null. */
  async #claim(orphan) {
    if (this.#ownership === 'web-locks') {
      const lock = requestLock(lockName(NAMESPACE, orphan), true);
      return (await lock.granted) ? lock : null;
    }
    if (!this.#lease) return null;
    return (await this.#lease.claim(orphan, this.#partition, Date.now())) ? { release: () => this.#lease.release(orphan) } : null;
  }

  /** One pass over every partition no live tab owns; live tabs' partitions are watched. */
  /**
   * One pass over what closed tabs left: adopts each partition this tab can
   * claim. Resolves once their events are back in the queue (sending them
   * need not wait), to { done }: a promise of each one's move under this
   * partition committed. Null when a pass is running.
   */
  async #adoptOrphans() {
    if (this.#adopting || this.#closed || !this.#storage) return null;
    this.#adopting = true;
    const finishing = [];
    try {
      for (const orphan of await this.#storage.others()) {
        const claim = await this.#claim(orphan);
        if (claim) {
          const { done } = await this.#adoptOne(orphan);
          finishing.push(done.finally(() => claim.release()));
        } else if (this.#ownership === 'web-locks') this.#watch(orphan);
      }
    } catch (error) {
      this.#emit('storage', `could not read orphaned events: ${describe(error)}`);
    }
    const done = Promise.all(finishing).finally(() => {
      this.#adopting = false;
    });
    return { done };
  }

  /** Waits for a live tab's lock, once per partition, and adopts what it leaves behind. */
  #watch(partition) {
    if (this.#watching.has(partition) || partition === this.#partition) return;
    this.#watching.add(partition);
    const lock = requestLock(lockName(NAMESPACE, partition), false);
    lock?.granted.then(async (granted) => {
      if (granted && !this.#closed) await (await this.#adoptOne(partition)).done.catch(() => {});
      lock.release();
      this.#watching.delete(partition);
    });
  }

  /** `value`: a partition ('hello', 'here') or an endpoint ('failed', 'recovered'). */
  #onAnnouncement(kind, value) {
    if (this.#closed) return;
    if (kind === 'failed' || kind === 'recovered') {
      // Another tab's request to this collector.
      if (value === this.#endpoint) {
        this.#core.peer(kind, this.#now());
        this.#drive();
      }
      return;
    }
    const partition = value;
    if (partition === this.#partition) return;
    if (kind === 'hello') this.#announcer?.here(this.#partition);
    if (this.#ownership === 'web-locks') this.#watch(partition);
    else this.#rescanWhileTabsLive();
  }

  /** Without Web Locks no tab's going is signalled: look again each time a lease could have expired. */
  async #rescanWhileTabsLive() {
    if (this.#rescanning) return;
    this.#rescanning = true;
    while (!this.#closed) {
      await new Promise((resolve) => setTimeout(resolve, LEASE_EXPIRY_MS + LEASE_RENEW_MS));
      await (await this.#adoptOrphans())?.done;
      if (this.#closed || (await this.#storage.others()).length === 0) break;
    }
    this.#rescanning = false;
  }

  /**
   * Moves `orphan`'s events into this queue (same messageIds); resolves once
   * they are in it, to { done }: a promise of their move under this tab's
   * partition committed, the orphan deleted with it (never rejects).
   */
  async #adoptOne(orphan) {
    let read;
    try {
      read = await this.#storage.read(orphan);
    } catch (error) {
      this.#emit('storage', `could not read orphaned events: ${describe(error)}`);
      return { done: Promise.resolve() };
    }
    if (read.corrupt) this.#core.corrupt(read.corrupt);
    // Ids this tab holds already (adoption is rare: no index is kept per event).
    const held = new Set(Array.from(this.#events.values(), (e) => e.id));
    const fresh = read.events.filter((e) => !held.has(e.id) && !this.#adoptedIds.has(e.id));
    for (const e of fresh) this.#adoptedIds.add(e.id);
    // Moved under this partition (the orphan deleted with it) before the
    // core hears of them, so that one it drops or sends at once is removed
    // from where it now is.
    const moved = this.#storage.adopt(orphan, fresh).catch((error) => this.#emit('storage', `could not move adopted events: ${describe(error)}`));
    if (fresh.length) {
      this.#lastWrite = moved;
      const flat = [];
      for (const e of fresh) {
        const handle = this.#next++;
        const bytes = utf8Bytes(e.json);
        this.#hold(handle, { id: e.id, json: e.json, tail: '', bytes, at: e.at });
        flat.push(handle, bytes, e.at);
      }
      const { accepted } = this.#core.restore(flat, this.#now());
      this.#adoptedPartitions++;
      this.#adoptedEvents += accepted;
      // Sending them starts in the next task: `ready` lets the page go on first.
      setTimeout(() => this.#drive(), 0);
    }
    return { done: moved };
  }
}
