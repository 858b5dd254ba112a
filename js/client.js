// The page-level client: identity, sessions, context, consent and plugins,
// all synchronous, so a call's effects (who the user is, which session,
// what was refused and why) are there when it returns. The engine
// (engine.js: the shell and the wasm core) loads lazily, and only when
// consent allows: an opted-out visitor never downloads the wasm. Events
// recorded before it is ready are buffered, serialized and timed, and
// handed to it in order.
import { aliasCall, pageCall, userCall } from './calls.js';
import { engineConfig, pageSettings } from './config.js';
import { pageContext, rememberedTimezone, sessionCampaign } from './context.js';
import { Identity, uuid } from './identity.js';
import { MAX_ID_LENGTH, MAX_NAME_LENGTH, checkName, describe, serialize } from './input.js';
import { emptyMetrics } from './metrics.js';
import { GivenIds, Outcome, settled } from './outcomes.js';
import { createPageStore } from './page-store.js';
import { SessionClock } from './session.js';
import { METRIC_NAMES, NUMERIC_FIELDS } from './tables.js';

const KINDS = { track: 0, identify: 1, page: 2, group: 3, alias: 4 };
const CONSENT = 'aw:consent';
const SUPER_PROPERTIES = 'aw:superProperties';

const text = (value) => (value == null ? '' : String(value));

/** Do Not Track or Global Privacy Control is on. */
const privacySignal = () => navigator.doNotTrack === '1' || globalThis.doNotTrack === '1' || navigator.globalPrivacyControl === true;

// The name, and the field holding it, of each kind of call in a plugin's event.
const NAME_FIELD = { track: 'event', identify: null, page: 'name', group: 'groupId', alias: 'previousId' };
const BODY_FIELD = { track: 'properties', identify: 'traits', page: 'properties', group: 'traits', alias: null };

export class Client {
  #config;
  #settings;
  #assets;
  #loadEngine;
  #engine = null;
  #starting = null;
  #buffer = [];
  #listeners = new Set();
  #plugins = [];
  #closed = false;
  #optedOut = false;
  #store;
  #identity;
  #session;
  #context;
  #contextJson;
  #timezone;
  #contextSession;
  #engineContext = null;
  #engineUserId = null;
  #engineAnonymousId = null;
  #givenIds = new GivenIds();
  /** register()'s properties, merged into every track's (persisted); null when there are none. */
  #superProperties = null;
  /** The last input problem reported: the reason a refused call's outcome gives. */
  #lastProblem = '';

  /**
   * `config` has been checked (checkConfig); `assets` is where the core is:
   * { wasm: its URL, loadJsCore: resolves to the `instantiate` of the core
   * compiled to JavaScript }; `loadEngine` resolves to { startEngine }.
   */
  constructor(config, assets, loadEngine) {
    this.#config = engineConfig(config);
    this.#settings = pageSettings(config);
    this.#assets = assets;
    this.#loadEngine = loadEngine;
    this.ready = Promise.resolve();
    this.#store = createPageStore({ cookieDomain: this.#settings.cookieDomain, anonymousIdCookie: this.#settings.anonymousIdCookie });
    const choice = this.#store.get(CONSENT);
    this.#optedOut = this.#blockedBySignal() || choice === 'out' || (choice === null && this.#settings.optOutByDefault);
    // The wasm and the engine are requested first: the work below (a first
    // visit's timezone alone takes Chromium 10 to 16 ms) then overlaps their
    // download and compile instead of delaying it.
    if (this.#optedOut) this.#debug('opted out: the wasm is not loaded and nothing is queued');
    else this.ready = this.#start();
    this.#identity = new Identity(this.#store);
    this.#loadSuperProperties();
    this.#session = new SessionClock(this.#store, this.#settings.sessionTimeoutMs);
    const now = Date.now();
    const sessionId = this.#session.touch(now);
    // A remembered timezone is checked again once per session, when idle.
    this.#timezone = rememberedTimezone(this.#store, sessionId === now, (timezone) => {
      this.#timezone = timezone;
      this.#setContextField('timezone', timezone);
    });
    this.#refreshContext(sessionId);
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
      // The wasm is fetched while the engine's JS loads, not after it.
      const wasm = typeof WebAssembly === 'object' ? fetch(this.#assets.wasm) : null;
      wasm?.catch(() => {});
      const { startEngine } = await this.#loadEngine();
      if (this.#closed || this.#optedOut) return;
      const page = { wasm, loadJsCore: this.#assets.loadJsCore, tables: { METRIC_NAMES, NUMERIC_FIELDS } };
      const engine = await startEngine(this.#config, (type, message) => this.#emit(type, message), page);
      if (this.#closed || this.#optedOut) {
        await engine.discard();
        return;
      }
      this.#engine = engine;
      this.#engineContext = null;
      this.#engineUserId = null;
      this.#engineAnonymousId = null;
      for (const call of this.#buffer) this.#send(...call);
      this.#buffer = [];
    } catch (error) {
      this.#closed = true;
      const message = `analytics-wasm could not start: ${error?.message ?? error}`;
      this.#emit('load', message);
      this.#dropBuffer(message);
    }
  }

  #emit(type, message) {
    if (type === 'debug') {
      if (this.#settings.debug) console.debug(`[analytics-wasm] ${message}`);
      return;
    }
    if (this.#settings.debug) console.debug(`[analytics-wasm] ${type} error: ${message}`);
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

  #refreshContext(sessionId) {
    this.#context = pageContext(sessionId, this.#timezone, sessionCampaign(this.#store, sessionId));
    this.#contextSession = sessionId;
    this.#contextJson = JSON.stringify(this.#context);
  }

  /** Sets one field of the page context (session or timezone), keeping its JSON in step. */
  #setContextField(field, value) {
    this.#context[field] = value;
    if (field === 'sessionId') {
      this.#contextSession = value;
      this.#context.campaign = sessionCampaign(this.#store, value);
    }
    this.#contextJson = JSON.stringify(this.#context);
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
    if (this.#closed) return settled('refused', 'the client is shut down', callback);
    if (this.#optedOut) {
      this.#debug('ignored: opted out');
      return settled('refused', 'opted out', callback);
    }
    return this.#guard(call, body) ?? settled('refused', this.#lastProblem, callback);
  }

  /**
   * Queues one event (or buffers it until the engine is ready) and returns
   * its outcome; null after reporting why it is refused. `options` are the
   * call's, kept as their JSON text (the engine checks them: options.js);
   * `category` is a page's.
   */
  #record(type, name, body, options, callback, category = '') {
    const optionsJson = options == null ? '' : this.#serialize(options, `${type}(): options`);
    if (optionsJson === null) return null;
    const given = optionsJson && JSON.parse(optionsJson).messageId;
    const messageId = typeof given === 'string' && given !== '' ? given : uuid();
    if (messageId === given && this.#givenIds.taken(messageId)) {
      this.#report(`${type}(): options.messageId "${messageId}" is already queued; event dropped`);
      return null;
    }
    const now = Date.now();
    const sessionId = this.#session.touch(now);
    if (sessionId !== this.#contextSession) this.#setContextField('sessionId', sessionId);
    let userId = this.#identity.userId ?? '';
    let anonymousId = this.#identity.anonymousId;
    let contextJson = this.#contextJson;
    if (this.#plugins.length > 0) {
      const event = this.#runPlugins(type, name, body, userId, anonymousId, now, messageId, category);
      if (typeof event === 'string') return settled('dropped', event, callback, messageId);
      name = text(NAME_FIELD[type] && event[NAME_FIELD[type]]);
      body = BODY_FIELD[type] ? event[BODY_FIELD[type]] : undefined;
      userId = text(event.userId);
      anonymousId = text(event.anonymousId);
      contextJson = this.#serialize(event.context, 'context');
      if (contextJson === null) return null;
    }
    const json = BODY_FIELD[type] === null ? '' : this.#serialize(body);
    if (json === null) return null;
    const outcome = new Outcome(messageId, callback);
    if (messageId === given) this.#givenIds.add(messageId, outcome);
    if (this.#engine) this.#send(KINDS[type], name, json, userId, anonymousId, contextJson, 0, messageId, optionsJson, category, outcome);
    else this.#buffer.push([KINDS[type], name, json, userId, anonymousId, contextJson, now, messageId, optionsJson, category, outcome]);
    return outcome;
  }

  /** Drops what waits for the engine, settling each call's outcome. */
  #dropBuffer(reason) {
    for (const call of this.#buffer) call[10].settle('dropped', reason);
    this.#buffer = [];
  }

  // Context and ids cross into the wasm only when they change, not per call.
  #send(kind, name, json, userId, anonymousId, contextJson, at, messageId, optionsJson, category, outcome) {
    if (contextJson !== this.#engineContext) {
      this.#engine.setContext(contextJson);
      this.#engineContext = contextJson;
    }
    if (userId !== this.#engineUserId || anonymousId !== this.#engineAnonymousId) {
      this.#engine.setIdentity(userId, anonymousId);
      this.#engineUserId = userId;
      this.#engineAnonymousId = anonymousId;
    }
    this.#engine.record(kind, name, json, at, messageId, optionsJson, category, outcome);
  }

  /** The event as plugins see it, after each plugin in order; the reason, if one dropped it. */
  #runPlugins(type, name, body, userId, anonymousId, now, messageId, category) {
    let event = { type, messageId, userId: userId || null, anonymousId, context: JSON.parse(this.#contextJson), timestamp: new Date(now).toISOString() };
    if (NAME_FIELD[type]) event[NAME_FIELD[type]] = name;
    if (BODY_FIELD[type]) event[BODY_FIELD[type]] = body ?? {};
    if (category) event.category = category;
    for (const plugin of this.#plugins) {
      let result;
      try {
        result = plugin.beforeSend(event);
      } catch (error) {
        this.#emit('plugin', `plugin "${plugin.name}" threw (${error?.message ?? error}); skipped, the event continues`);
        continue;
      }
      if (result === null || result === false) {
        const reason = `dropped by plugin "${plugin.name}": ${type} ${name}`;
        this.#debug(reason);
        return reason;
      }
      if (result !== undefined) {
        if (typeof result !== 'object' || result.type !== type) {
          this.#emit('plugin', `plugin "${plugin.name}" returned ${describe(result)}, not the ${type} event; skipped`);
          continue;
        }
        event = result;
      }
    }
    return event;
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
      if (name === null) return null;
      // The call's own properties win over register()'s.
      if (this.#superProperties) {
        const json = this.#serialize(properties);
        if (json === null) return null;
        properties = { ...this.#superProperties, ...JSON.parse(json) };
      }
      return this.#record('track', name, properties, options, callback);
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
      const json = pageCategory === null ? null : this.#serialize(body);
      if (json === null) return null;
      this.#refreshContext(this.#session.touch(Date.now()));
      // As analytics.js sends it: the page's own fields, the given properties, then its category and name.
      const { path, referrer, search, title, url } = this.#context.page;
      const properties = { path, referrer, search, title, url, ...JSON.parse(json) };
      if (pageCategory) properties.category = pageCategory;
      if (pageName) properties.name = pageName;
      return this.#record('page', pageName, properties, options, callback, pageCategory);
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
    this.#refreshContext(this.#session.touch(Date.now()));
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

  #applyOptOut() {
    if (this.#optedOut && !this.#engine) return Promise.resolve();
    this.#optedOut = true;
    const dropped = this.#buffer.length;
    this.#dropBuffer('opted out');
    const engine = this.#engine;
    this.#engine = null;
    this.#debug(`opted out: ${dropped} buffered call(s) dropped`);
    return engine ? engine.discard() : Promise.resolve();
  }

  optIn() {
    if (this.#blockedBySignal()) {
      this.#debug('optIn() ignored: Do Not Track / Global Privacy Control is on and respectPrivacySignals is set');
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

  /** Adds a plugin: `{ name, beforeSend(event) }`, run in the order added. */
  use(plugin) {
    this.#guard('use', () => {
      if (plugin === null || typeof plugin !== 'object' || typeof plugin.beforeSend !== 'function') {
        this.#emit('input', `use(): a plugin is an object with a beforeSend(event) function, got ${describe(plugin)}; not added`);
        return;
      }
      const name = typeof plugin.name === 'string' && plugin.name !== '' ? plugin.name : `plugin ${this.#plugins.length + 1}`;
      this.#plugins.push({ name, beforeSend: plugin.beforeSend.bind(plugin) });
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
    const base = this.#engine ? this.#engine.metrics() : emptyMetrics(this.#buffer.length);
    return {
      ...base,
      anonymousId: this.#identity?.anonymousId ?? null,
      userId: this.#identity?.userId ?? null,
      sessionId: this.#session?.id ?? null,
      optedOut: this.#optedOut,
    };
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
