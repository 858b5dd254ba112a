// The page-level client: identity, sessions, consent and super properties,
// all synchronous, so a call's effects (who the user is, which session,
// what was refused and why) are there when it returns. Each event call is
// captured as it is made: its properties and options as JSON (later
// changes to the objects do not reach it), its time, session, user and
// page view, and its outcome. What else an event needs (context, plugins,
// a page's own fields) is the recorder's (recorder.js), which loads with
// the recorder, lazily and only when consent allows: an opted-out visitor
// never downloads it or the wasm. Calls made before it is ready wait here,
// in order.
import { aliasCall, pageCall, userCall } from './calls.js';
import { pageSettings } from './config.js';
import { Identity, uuid } from './identity.js';
import { MAX_ID_LENGTH, MAX_NAME_LENGTH, checkName, describe, serialize } from './input.js';
import { emptyMetrics } from './metrics.js';
import { isObject } from './options.js';
import { Outcome, settled } from './outcomes.js';
import { createPageStore } from './page-store.js';
import { SessionClock } from './session.js';
import { METRIC_NAMES } from './tables.js';

const CONSENT = 'aw:consent';
const SUPER_PROPERTIES = 'aw:superProperties';
const SHUT_DOWN = 'the client is shut down';

/** Do Not Track or Global Privacy Control is on. */
const privacySignal = () => navigator.doNotTrack === '1' || globalThis.doNotTrack === '1' || navigator.globalPrivacyControl === true;

/** The page as a call sees it (a worker has a location but no document). */
const currentView = () => ({ href: location.href, title: globalThis.document?.title ?? '', referrer: globalThis.document?.referrer ?? '' });

export class Client {
  #config;
  #settings;
  #assets;
  #loadRecorder;
  /** The recorder (recorder.js), once loaded and started. */
  #recorder = null;
  #starting = null;
  /** Calls captured before the recorder was ready, oldest first. */
  #buffer = [];
  #listeners = new Set();
  #plugins = [];
  /** Why calls are refused from now on ('' while open): shut down, or the client could not start. */
  #closed = '';
  #optedOut = false;
  #store;
  #identity;
  #session;
  /** The page when the client was made, and whether that started a session. */
  #view = currentView();
  #newSession = false;
  /** register()'s properties, merged into every track's (persisted); null when there are none. */
  #superProperties = null;
  /** The last input problem reported: the reason a refused call's outcome gives. */
  #lastProblem = '';

  /**
   * `config` is what createAnalytics was given; `assets` the URLs of what
   * loads lazily: { wasm: the core, jsCore: the core compiled to
   * JavaScript, recorder: the recorder's script, if it has one }; `loadRecorder`
   * resolves to startRecording (recorder.js).
   */
  constructor(config, assets, loadRecorder) {
    this.#settings = pageSettings(config);
    // As given (a copy): the recorder checks it, and reports what is bad, when it loads.
    this.#config = isObject(config) ? { ...config } : config;
    this.#assets = assets;
    this.#loadRecorder = loadRecorder;
    this.ready = Promise.resolve();
    this.#store = createPageStore({ cookieDomain: this.#settings.cookieDomain, anonymousIdCookie: this.#settings.anonymousIdCookie });
    const choice = this.#store.get(CONSENT);
    this.#optedOut = this.#blockedBySignal() || choice === 'out' || (choice === null && this.#settings.optOutByDefault);
    // The wasm and the recorder are requested first: the work below then
    // overlaps their download and compile instead of delaying it.
    if (this.#optedOut) this.#debug('opted out: nothing is loaded or queued');
    else this.ready = this.#start();
    this.#identity = new Identity(this.#store);
    this.#loadSuperProperties();
    this.#session = new SessionClock(this.#store, this.#settings.sessionTimeoutMs);
    const now = Date.now();
    this.#newSession = this.#session.touch(now) === now;
    // Another tab's optOut()/optIn() applies here too (a worker has no localStorage, and hears nothing).
    globalThis.addEventListener?.('storage', (event) => {
      if (event.key !== CONSENT) return;
      if (event.newValue === 'out') this.#applyOptOut();
      else if (event.newValue === 'in') this.#applyOptIn();
    });
  }

  #blockedBySignal() {
    return this.#settings.respectPrivacySignals && privacySignal();
  }

  #start() {
    this.#starting ??= this.#load().finally(() => {
      this.#starting = null;
    });
    return this.#starting;
  }

  async #load() {
    try {
      // The wasm is fetched while the recorder's script loads, not after it.
      const wasm = typeof WebAssembly === 'object' ? fetch(this.#assets.wasm) : null;
      wasm?.catch(() => {});
      const startRecording = await this.#loadRecorder();
      if (this.#closed || this.#optedOut) return;
      const page = {
        ...this.#assets,
        wasm,
        tables: { METRIC_NAMES },
        uuid,
        store: this.#store,
        plugins: this.#plugins,
        view: this.#view,
        newSession: this.#newSession,
      };
      const recorder = await startRecording(this.#config, (type, message) => this.#emit(type, message), page);
      if (this.#closed || this.#optedOut) {
        await recorder.discard();
        return;
      }
      this.#recorder = recorder;
      const buffered = this.#buffer;
      this.#buffer = [];
      // Recorded after `ready`, in order, like any call made now.
      for (const call of buffered) recorder.take(call);
    } catch (error) {
      const message = `analytics-wasm could not start: ${error?.message ?? error}`;
      this.#closed = message;
      // A config nothing could be sent with is the config's error, not the load's.
      this.#emit(error?.type === 'config' ? 'config' : 'load', message);
      this.#dropBuffer(message);
    }
  }

  #emit(type, message) {
    if (type === 'debug') return this.#debug(message);
    this.#debug(`${type} error: ${message}`);
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

  #debug(message) {
    if (this.#settings.debug) console.debug(`[analytics-wasm] ${message}`);
  }

  #report = (message) => {
    this.#lastProblem = message;
    this.#emit('input', message);
  };

  #name(call, argument, value, max, optional) {
    return checkName(this.#report, call, argument, value, max, optional);
  }

  #serialize(value, what) {
    return serialize(this.#report, value, what);
  }

  /** Traits as a plain copy (what identify/group persist), or null after reporting why not. */
  #plainTraits(traits) {
    const json = this.#serialize(traits, 'traits');
    return json === null ? null : JSON.parse(json);
  }

  /** Runs a public call; whatever it throws is reported, never thrown into the page. */
  #guard(call, body) {
    try {
      return body();
    } catch (error) {
      this.#report(`${call}() failed (${error?.message ?? error}); call dropped`);
      return undefined;
    }
  }

  /**
   * Runs an event call: `body` returns its outcome, or null once it has
   * reported why the event is refused. Closed or opted out, it does nothing.
   */
  #call(call, callback, body) {
    if (this.#closed) return settled('refused', this.#closed, callback);
    if (this.#optedOut) {
      this.#debug('ignored: opted out');
      return settled('refused', 'opted out', callback);
    }
    return this.#guard(call, body) ?? settled('refused', this.#lastProblem, callback);
  }

  /**
   * Captures one event call and hands it to the recorder (or keeps it until
   * the recorder is ready); returns its outcome, or null after reporting
   * why it is refused. `body` (properties or traits) is kept as its JSON
   * text, and `options` as a copy: the recorder checks them (options.js). `view`
   * is a page call's page; `category` its category.
   */
  #record(type, name, body, options, callback, category = '', view = null) {
    const optionsJson = options == null ? '' : this.#serialize(options, `${type}(): options`);
    if (optionsJson === null) return null;
    const json = type === 'alias' ? '' : this.#serialize(body);
    if (json === null) return null;
    // The page's own copy: getters and toJSON ran once, at the call.
    const copied = optionsJson ? JSON.parse(optionsJson) : null;
    const given = copied?.messageId;
    const isGiven = typeof given === 'string' && given !== '';
    const at = Date.now();
    const call = {
      type,
      name,
      json,
      options: copied,
      category,
      view,
      at,
      sessionId: this.#session.touch(at),
      userId: this.#identity.userId ?? '',
      anonymousId: this.#identity.anonymousId,
      // The call's own properties win over register()'s (the recorder merges them).
      supers: type === 'track' ? this.#superProperties : null,
      given: isGiven,
      // It waits for the recorder to start (then the core is told its age).
      waited: !this.#recorder,
      outcome: new Outcome(isGiven ? given : undefined, callback),
    };
    if (this.#recorder) this.#recorder.take(call);
    else this.#buffer.push(call);
    return call.outcome;
  }

  /** Drops what waits for the recorder, settling each call's outcome. */
  #dropBuffer(reason) {
    for (const call of this.#buffer) call.outcome.settle('dropped', reason);
    this.#buffer = [];
  }

  track(event, properties, options, callback) {
    // analytics.js's forms: a callback may come second or third.
    if (typeof properties === 'function') {
      callback = properties;
      properties = options = undefined;
    } else if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    return this.#call('track', callback, () => {
      const name = this.#name('track', 'event', event, MAX_NAME_LENGTH);
      return name === null ? null : this.#record('track', name, properties, options, callback);
    });
  }

  /** Super properties: merged into every later track()'s properties (its own win), persisted until unregister() or reset(). */
  register(properties) {
    this.#guard('register', () => this.#register(properties, true));
  }

  /** As register(), for the properties not registered already. */
  registerOnce(properties) {
    this.#guard('registerOnce', () => this.#register(properties, false));
  }

  unregister(name) {
    this.#guard('unregister', () => {
      if (!this.#superProperties || !(name in this.#superProperties)) return;
      const { [name]: _, ...rest } = this.#superProperties;
      this.#saveSuperProperties(rest);
    });
  }

  #register(properties, replace) {
    const json = this.#serialize(properties, 'register(): properties');
    if (json === null) return;
    const added = JSON.parse(json);
    this.#saveSuperProperties(replace ? { ...this.#superProperties, ...added } : { ...added, ...this.#superProperties });
  }

  #loadSuperProperties() {
    try {
      const stored = JSON.parse(this.#store.get(SUPER_PROPERTIES) ?? 'null');
      if (stored && typeof stored === 'object' && !Array.isArray(stored) && Object.keys(stored).length) this.#superProperties = stored;
    } catch {
      // Unreadable: none.
    }
  }

  #saveSuperProperties(properties) {
    const empty = Object.keys(properties).length === 0;
    this.#superProperties = empty ? null : properties;
    if (empty) this.#store.remove(SUPER_PROPERTIES);
    else this.#store.set(SUPER_PROPERTIES, JSON.stringify(properties));
  }

  identify(...args) {
    const { id: userId, body: traits, options, callback } = userCall(args);
    return this.#call('identify', callback, () => {
      const id = userId === '' ? '' : this.#name('identify', 'userId', userId, MAX_ID_LENGTH, true);
      const plain = id === null ? null : this.#plainTraits(traits);
      if (plain === null) return null;
      this.#identity.identify(id === '' ? null : id, plain);
      return this.#record('identify', '', this.#identity.traits, options, callback);
    });
  }

  page(...args) {
    const { category, name, body, options, callback } = pageCall(args);
    return this.#call('page', callback, () => {
      const pageName = this.#name('page', 'name', name, MAX_NAME_LENGTH, true);
      const pageCategory = pageName === null ? null : this.#name('page', 'category', category, MAX_NAME_LENGTH, true);
      return pageCategory === null ? null : this.#record('page', pageName, body, options, callback, pageCategory, currentView());
    });
  }

  group(...args) {
    const { id: groupId, body: traits, options, callback } = userCall(args);
    return this.#call('group', callback, () => {
      const id = this.#name('group', 'groupId', groupId, MAX_ID_LENGTH);
      const plain = id === null ? null : this.#plainTraits(traits);
      if (plain === null) return null;
      this.#identity.group(id, plain);
      return this.#record('group', id, this.#identity.groupTraits, options, callback);
    });
  }

  alias(...args) {
    const { id: userId, previousId, options, callback } = aliasCall(args);
    return this.#call('alias', callback, () => {
      const id = this.#name('alias', 'userId', userId, MAX_ID_LENGTH);
      const previous = id === null ? null : this.#name('alias', 'previousId', previousId ?? this.#identity.userId ?? this.#identity.anonymousId, MAX_ID_LENGTH);
      if (previous === null) return null;
      this.#identity.alias(id);
      return this.#record('alias', previous, undefined, options, callback);
    });
  }

  /** Logout: forgets the user, traits and group, and starts a new anonymous visitor and session. */
  reset() {
    this.#identity.reset();
    this.#saveSuperProperties({});
    this.#session.end();
    this.#session.touch(Date.now());
  }

  /** Who events are attributed to now. */
  user() {
    const { userId, anonymousId, traits } = this.#identity;
    return { userId, anonymousId, traits: { ...traits } };
  }

  optOut() {
    this.#store.set(CONSENT, 'out');
    return this.#applyOptOut();
  }

  async #applyOptOut() {
    if (this.#optedOut && !this.#recorder) return;
    this.#optedOut = true;
    const dropped = this.#buffer.length;
    this.#dropBuffer('opted out');
    const recorder = this.#recorder;
    this.#recorder = null;
    this.#debug(`opted out: ${dropped} call(s) dropped`);
    await recorder?.discard();
  }

  optIn() {
    if (this.#blockedBySignal()) {
      this.#debug('optIn() ignored: respectPrivacySignals, and Do Not Track or Global Privacy Control is on');
      return;
    }
    this.#store.set(CONSENT, 'in');
    this.#applyOptIn();
  }

  #applyOptIn() {
    if (!this.#optedOut || this.#blockedBySignal()) return;
    this.#optedOut = false;
    if (!this.#closed) this.ready = this.#start();
  }

  /** Adds a plugin: `{ name, beforeSend(event) }`, run in the order added (recorder.js). */
  use(plugin) {
    this.#guard('use', () => {
      // Read once, here: a getter runs within use(), never while an event is recorded.
      const beforeSend = plugin?.beforeSend;
      if (typeof plugin !== 'object' || typeof beforeSend !== 'function') {
        this.#emit('input', `use(): a plugin is an object with a beforeSend(event) function, got ${describe(plugin)}; not added`);
      } else this.#plugins.push({ plugin, name: plugin.name, beforeSend });
    });
    return this;
  }

  /** Listens for errors (`type` 'error'); returns the function that stops listening. */
  on(type, listener) {
    if (type !== 'error' || typeof listener !== 'function') return () => {};
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  metrics() {
    this.#recorder?.recordWaiting();
    const base = this.#recorder ? this.#recorder.driver.metrics() : emptyMetrics(this.#buffer.length);
    return {
      ...base,
      anonymousId: this.#identity.anonymousId,
      userId: this.#identity.userId,
      sessionId: this.#session.id,
      optedOut: this.#optedOut,
    };
  }

  async flush() {
    await this.ready;
    if (!this.#recorder) return { sent: 0, failed: 0, pending: this.#buffer.length };
    this.#recorder.recordWaiting();
    return this.#recorder.driver.flush();
  }

  async shutdown() {
    await this.ready;
    if (this.#recorder && !this.#closed) {
      this.#closed = SHUT_DOWN;
      this.#recorder.recordWaiting();
      await this.#recorder.driver.shutdown();
    }
    this.#closed ||= SHUT_DOWN;
  }
}
