// The driver: the one loop that drives the core (core.js, src/core/), as
// quinn's ConnectionDriver drives a connection. It alone calls the core.
//
// Inputs, each given to the core with the time, then the loop runs:
//   record(event)          a call the recorder made an event of (encoding.js)
//   page events            hidden, unload, visible, online, offline (lifecycle.js)
//   flush(), shutdown()    the page's calls
//   a batch's answer       from the sender (sender.js): core.settle
//   a receipt answer       from the sender: core.receipts
//   adopted events         from a closed tab (adoption.js): core.restore
//   other tabs' news       a failing or recovered collector (announce.js): core.peer
//   the timer              armed for core.wakeup()
// Outputs, the core's actions, taken one at a time by #drive():
//   persist, release       to storage (persistence.js); release settles each
//                          event's outcome by its fate (fates.js)
//   send, receipts         to the sender
//   notice                 to the page's on('error'), in words (messages.js)
// A browser that runs page work inside one of our calls (Firefox does, in
// storage and send calls made while a tab closes) finds a loop it can
// drive itself: each step reads the core afresh.
import { Core, loadCore } from './core.js';
import { CORE_KEY, loadScript } from './asset-keys.js';
import { STORAGE_ANSWER_MS, describe, openStorage, within } from './storage.js';
import { batchBody, workerJobs } from './worker.js';
import { lockName, requestLock } from './tabs.js';
import { attachLifecycle, isHidden, isOnline } from './lifecycle.js';
import { openAnnouncer } from './announce.js';
import { createEncoder, utf8Bytes } from './encoding.js';
import { createFates } from './fates.js';
import { FAILURES, noticeMessage } from './messages.js';
import { createPersistence } from './persistence.js';
import { createSender } from './sender.js';
import { createAdoption } from './adoption.js';

const NAMESPACE = 'analytics-wasm';
/** When the second adoption pass runs, after start (see start()). */
const LATE_PASS_MS = 2000;

const timeOrigin = performance.timeOrigin;
const monotonic = () => timeOrigin + performance.now();

/**
 * Compiles the core, opens storage, adopts what closed tabs left; resolves
 * to the driver. `page` carries what the page's modules already have, so
 * the lazily loaded script holds no copy of them: `wasm` (a fetch of the
 * core, or null), `jsCore` (the URL of the core compiled to JavaScript),
 * `tables` (tables.js), `recorder` (this script's URL, for its worker).
 */
export async function startDriver(config, emit, page) {
  // Storage opens, and the partition's lock is taken, while the core compiles.
  const random = crypto.getRandomValues(new Uint8Array(8));
  const partition = Array.from(random, (b) => b.toString(16).padStart(2, '0')).join('');
  // Own the partition before anything is written to it.
  const lock = requestLock(lockName(NAMESPACE, partition), false);
  const opening = openStorage(config.storage ?? 'auto', NAMESPACE, partition);
  const [{ exports, kind, fallbackReason }, opened] = await Promise.all([loadCore(page.wasm, () => loadScript(page.jsCore, CORE_KEY)), opening]);
  if (fallbackReason) emit('debug', `${fallbackReason}: using the core compiled to JavaScript`);
  const driver = new Driver(exports, config, emit, kind, page);
  await driver.start(partition, opened, lock && (await lock.granted) ? lock : null);
  return driver;
}

export class Driver {
  #core;
  #emit;
  /** Which compilation of the core runs: 'wasm' or 'js'. */
  #kind;
  #endpoint;
  #debug;
  /** handle → { id, json, tail, bytes, at, outcome }: the events the core holds, each one's JSON text `json + tail`. */
  #events = new Map();
  #next = 1;
  #encoder;
  #fates = createFates();
  #jobs;
  #sender;
  /** Batches in flight: batch → its handles. */
  #batches = new Map();
  /** The last rejection list's reasons, by messageId, for its notice. */
  #reasons = new Map();
  #lastReason = '';
  #storage = null;
  #persistence = null;
  #adoption = null;
  #partition = '';
  #ownLock = null;
  #hidden = false;
  #closed = false;
  #flushes = [];
  /** #drive() is running: what an input made it do is done by that run, not a nested one. */
  #driving = false;
  #timer = null;
  #timerAt = Infinity;
  #detachLifecycle = () => {};
  #announcer = null;
  #expiredLogged = 0;
  #wallOffset = NaN;
  #soonQueued = false;

  /** `page` as for startDriver: its `tables`, and `recorder`, this script's URL (for its worker). */
  constructor(exports, config, emit, kind, { tables, recorder }) {
    this.#emit = emit;
    this.#kind = kind;
    this.#endpoint = config.endpoint;
    this.#debug = config.debug === true;
    this.#encoder = createEncoder(config.writeKey);
    this.#jobs = workerJobs(recorder);
    this.#sender = createSender(config, this.#jobs, {
      settled: (batch, outcome, named) => this.#settled(batch, outcome, named),
      now: monotonic,
      debug: this.#debug ? (line) => this.#debugLine(line) : null,
    });
    const emptyBody = utf8Bytes(batchBody(this.#encoder.batch([], new Date(0).toISOString())));
    this.#core = new Core(exports, config, Math.floor(Math.random() * 2 ** 52), emptyBody, tables);
  }

  // --- what the page says -------------------------------------------------------

  /**
   * Records one event: what encoding.js's `encode` takes, and `outcome` (the
   * call's, settled when the event is delivered, dropped or refused) and
   * `waited` (it waited for the recorder to start: the core is told its age).
   */
  record(call) {
    if (this.#closed) return;
    const { outcome } = call;
    const event = this.#encoder.encode(call);
    if (typeof event === 'string') {
      this.#emit('input', event);
      outcome?.settle('refused', event);
      return;
    }
    event.outcome = outcome;
    const handle = this.#next++;
    this.#events.set(handle, event);
    const limit = this.#core.track(handle, event.bytes, call.waited ? event.at : -1, this.#now(), event.high);
    if (limit > 0) {
      this.#events.delete(handle);
      const message = `event is ${event.bytes} bytes encoded, larger than the limit of ${limit} bytes`;
      this.#emit('input', message);
      outcome?.settle('refused', message);
      return;
    }
    if (this.#debug) this.#debugLine(`queued ${event.id} (${this.#core.metrics().pending} pending)`);
    this.#soon();
  }

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
    metrics.core = this.#kind;
    metrics.partition = this.#partition;
    return Object.assign(metrics, this.#adoption?.counts);
  }

  /** Flushes, persists what is left, and lets go of the page; what stays persisted is for other tabs. */
  async shutdown() {
    await this.flush();
    this.#core.event('persistNow', this.#now());
    this.#drive();
    this.#persistence.writeAll(this.#hidden);
    const last = this.#persistence.lastWrite();
    if (last && (await within(STORAGE_ANSWER_MS, last.then(() => true, () => true), false)) === false) {
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
      await this.#adoption.deleteOrphans();
      return true;
    })();
    try {
      if (!(await within(STORAGE_ANSWER_MS, removed, false))) this.#emit('storage', `storage did not answer within ${STORAGE_ANSWER_MS} ms`);
    } catch (error) {
      this.#emit('storage', `storage write failed (events stay queued in memory): ${describe(error)}`);
    }
    storage.close();
  }

  // --- start -----------------------------------------------------------------------

  /**
   * Starts on `partition`, with the storage `openStorage` gave ({ storage,
   * problems }) and the partition's lock (null without Web Locks): attaches
   * page listeners, and adopts what closed tabs left.
   */
  async start(partition, { storage, problems }, lock) {
    this.#partition = partition;
    this.#ownLock = lock;
    for (const problem of problems) this.#emit('storage', `${problem}; using ${storage.kind}`);
    this.#storage = storage;
    storage.offload(this.#jobs);
    this.#persistence = createPersistence(storage, (handle) => this.#events.get(handle), this.#emit);
    this.#adoption = createAdoption(NAMESPACE, partition, storage, {
      restore: (events, corrupt, moved) => this.#restore(events, corrupt, moved),
      heldIds: () => new Set(Array.from(this.#events.values(), (e) => e.id)),
      emit: this.#emit,
    });
    const now = this.#now();
    if (storage.kind === 'memory') this.#core.event('noPersistence', now);
    if (!isOnline()) this.#core.event('offline', now);
    if (isHidden()) {
      this.#hidden = true;
      this.#core.event('hidden', now);
    }
    this.#detachLifecycle = attachLifecycle((event) => this.#onPage(event));
    // Tabs that open later say hello; those open now answer it.
    this.#announcer = openAnnouncer(NAMESPACE, (kind, value) => this.#heard(kind, value));
    this.#announcer?.hello(this.#partition);
    this.#drive();
    // `ready` waits for the first adoption pass to put the events back in
    // the queue, not for their move under this tab's partition to commit:
    // one transaction moves them, so no moment holds two copies. And only
    // so long: storage that does not answer (another page may hold it, as
    // one frozen in WebKit's back/forward cache did) must not hold this
    // page up; its events leave from memory meanwhile, and the pass goes on.
    const adopted = await within(STORAGE_ANSWER_MS, this.#adoption.pass().then(() => true), false);
    // A page that went away just before this one started (a reload, a
    // closed tab) may have written its last records where this page sees
    // them only later: one more pass, however the page is shown.
    setTimeout(() => this.#adoption.pass(), LATE_PASS_MS);
    if (!adopted) {
      this.#emit('storage', `storage did not answer within ${STORAGE_ANSWER_MS} ms: events are sent from memory meanwhile; those left by earlier pages are restored when it answers`);
    }
  }

  /** Adopted events into the queue (their records moved under this partition by `moved`); returns how many it took. */
  #restore(events, corrupt, moved) {
    if (corrupt) this.#core.corrupt(corrupt);
    if (!events.length) return 0;
    this.#persistence.wrote(moved);
    const flat = [];
    for (const e of events) {
      const handle = this.#next++;
      const bytes = utf8Bytes(e.json);
      this.#events.set(handle, { id: e.id, json: e.json, tail: '', bytes, at: e.at });
      flat.push(handle, bytes, e.at);
    }
    const { accepted } = this.#core.restore(flat, this.#now());
    // Sending them starts in the next task: `ready` lets the page go on first.
    setTimeout(() => this.#drive(), 0);
    return accepted;
  }

  // --- the drive loop -----------------------------------------------------------------

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

  /** A drive at the end of this task's microtasks (a burst of track() calls costs one). */
  #soon() {
    if (this.#soonQueued) return;
    this.#soonQueued = true;
    queueMicrotask(() => {
      this.#soonQueued = false;
      this.#drive();
    });
  }

  /** Takes the core's actions one at a time and carries them out, then re-arms the timer. */
  #drive() {
    if (this.#closed || !this.#storage || this.#driving) return;
    this.#driving = true;
    try {
      for (let action = this.#core.poll(this.#now()); action; action = this.#core.poll(this.#now())) {
        if (action.type === 'persist') this.#persistence.persist(action.handles, this.#hidden);
        else if (action.type === 'release') this.#release(action.handles);
        else if (action.type === 'send') this.#send(action);
        else if (action.type === 'receipts') this.#askReceipts(action);
        else this.#notice(action);
      }
    } finally {
      this.#driving = false;
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

  #release(handles) {
    const ids = [];
    for (const handle of handles) {
      const event = this.#events.get(handle);
      this.#events.delete(handle);
      this.#fates.released(handle, event);
      if (event) ids.push(event.id);
    }
    this.#persistence.release(ids);
  }

  #send({ batch, beacon, handles, bodyBytes }) {
    const events = handles.map((h) => this.#events.get(h));
    // Date.now(): the wall clock the page's own code may have moved.
    const packed = this.#encoder.batch(events, new Date(Date.now()).toISOString());
    this.#batches.set(batch, handles);
    this.#sender.send(batch, packed, bodyBytes, events.map((e) => e.id), beacon);
  }

  /** A batch's answer, from the sender: `named` the rejections it named, as [messageId, reason]. */
  #settled(batch, outcome, named) {
    const handles = this.#batches.get(batch);
    if (!handles) return;
    this.#batches.delete(batch);
    if (typeof outcome === 'object') {
      const byId = new Map(handles.map((h) => [this.#events.get(h)?.id, h]));
      if (named.length) this.#lastReason = named[0][1];
      this.#reasons = new Map(named);
      outcome.rejected = named.map(([id]) => byId.get(id));
    }
    const report = this.#core.settle(batch, outcome, this.#now());
    if (report) {
      this.#tell(report.health);
      // What becomes of each (told when they are released): all sent, some
      // rejected by name (a notice says why), or all dropped by the answer.
      this.#fates.answered(handles, report, outcome);
      for (const waiter of this.#flushes) {
        waiter.sent += report.sent;
        waiter.failed += handles.length - report.sent;
      }
      if (this.#debug) this.#debugSettled(batch, handles.length, report);
    }
    this.#drive();
  }

  /**
   * Asks the collector which of these events (restored, or handed to
   * sendBeacon) it holds: docs/wire-contract.md, "Receipts". Those it
   * holds are delivered; the core sends the others again.
   */
  async #askReceipts({ request, handles }) {
    const ids = handles.map((h) => this.#events.get(h)?.id);
    if (this.#debug) this.#debugLine(`asking the collector which of ${ids.length} event(s) it holds`);
    const [outcome, receipts] = await this.#sender.receipts(this.#encoder.receiptRequest(ids, new Date(Date.now()).toISOString()));
    const holds = receipts && new Set(receipts);
    const held = holds && handles.filter((h) => holds.has(this.#events.get(h)?.id));
    const report = this.#core.receipts(request, outcome, held, this.#now());
    if (!report) return;
    this.#fates.delivered((held ?? []).filter((handle) => this.#events.has(handle)));
    this.#tell(report.health);
    if (this.#debug) this.#debugLine(`the collector holds ${report.sent} of ${ids.length}${held ? '' : ' (it gives no receipts)'}; ${report.requeued} to send again`);
    this.#drive();
  }

  /** Tells the other tabs what a request found of the collector, so they wait out an outage, and resume, with this one. */
  #tell(health) {
    if (health === 'failing') this.#announcer?.failed(this.#endpoint);
    if (health === 'recovered') this.#announcer?.recovered(this.#endpoint);
  }

  #notice(notice) {
    const idOf = (h) => this.#events.get(h)?.id ?? h;
    const [type, message] = noticeMessage(notice, idOf, this.#reasons, monotonic());
    // The events it names are dropped for what it says.
    if (notice.kind === 'eventsRejected') for (const h of notice.handles) this.#fates.dropped([h], `rejected by the collector: ${this.#reasons.get(idOf(h)) ?? ''}`);
    if (notice.kind === 'eventTooLarge' || notice.kind === 'eventRefused') this.#fates.dropped([notice.a], message);
    this.#emit(type, message);
  }

  #resolveFlushes() {
    if (!this.#flushes.length || this.#sender.inFlight()) return;
    const { pending } = this.#core.metrics();
    for (const waiter of this.#flushes.splice(0)) waiter.resolve({ sent: waiter.sent, failed: waiter.failed, pending });
  }

  #debugLine(line) {
    this.#emit('debug', line);
  }

  #debugSettled(batch, events, report) {
    const { nextRetryAt, lastError } = this.metrics();
    const retry = nextRetryAt === null ? '' : `; retry in ${Math.max(0, nextRetryAt - Date.now())} ms`;
    const why = report.sent < events && lastError ? ` (${lastError})` : '';
    const kept = report.unconfirmed ? `, ${report.unconfirmed} kept until the collector confirms them` : '';
    this.#debugLine(`batch ${batch}: ${report.sent} sent, ${report.dropped} dropped (rejected), ${report.requeued} re-queued${kept}${retry}${why}`);
  }

  #logExpired() {
    const { droppedExpired } = this.#core.metrics();
    if (droppedExpired > this.#expiredLogged) {
      this.#debugLine(`dropped ${droppedExpired - this.#expiredLogged} event(s) older than maxEventAgeMs`);
      this.#expiredLogged = droppedExpired;
    }
  }

  // --- the page and the other tabs -----------------------------------------------------

  #onPage(event) {
    if (this.#closed) return;
    const now = this.#now();
    if (event === 'hidden' || event === 'unload') this.#hidden = true;
    if (event === 'visible') this.#hidden = false;
    if (event === 'unload') this.#sender.unload(now);
    this.#core.event(event, now);
    this.#drive();
    // A page going away may not get another task: what still waits is
    // written now, after the batches for the way out have left (their
    // events are kept until an answer or a receipt confirms them).
    if (this.#hidden) this.#persistence.pageHidden();
    // A tab may have gone away while this one was in the background.
    if (event === 'visible') this.#adoption.pass();
  }

  /** `value`: a partition ('hello', 'here') or an endpoint ('failed', 'recovered'). */
  #heard(kind, value) {
    if (this.#closed) return;
    if (kind === 'failed' || kind === 'recovered') {
      // Another tab's request to this collector.
      if (value === this.#endpoint) {
        this.#core.peer(kind, this.#now());
        this.#drive();
      }
      return;
    }
    if (value === this.#partition) return;
    if (kind === 'hello') this.#announcer?.here(this.#partition);
    this.#adoption.heardOf(value);
  }

  #detach() {
    this.#closed = true;
    this.#persistence?.close();
    this.#detachLifecycle();
    this.#announcer?.close();
    clearTimeout(this.#timer);
    this.#adoption?.close();
    this.#ownLock?.release();
  }
}
