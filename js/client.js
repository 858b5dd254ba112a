// The page-level client: identity, sessions, context, consent and plugins,
// all synchronous, so a call's effects (who the user is, which session,
// what was refused and why) are there when it returns. The engine
// (engine.js: the shell and the wasm core) loads lazily, and only when
// consent allows: an opted-out visitor never downloads the wasm. Events
// recorded before it is ready are buffered, serialized and timed, and
// handed to it in order.
import { engineConfig, pageSettings } from './config.js';
import { pageContext, rememberedTimezone } from './context.js';
import { Identity, uuid } from './identity.js';
import { MAX_ID_LENGTH, MAX_NAME_LENGTH, checkName, describe, serialize } from './input.js';
import { emptyMetrics } from './metrics.js';
import { createPageStore } from './page-store.js';
import { SessionClock } from './session.js';
import { METRIC_NAMES, NUMERIC_FIELDS } from './tables.js';

const KINDS = { track: 0, identify: 1, page: 2, group: 3, alias: 4 };
const CONSENT = 'aw:consent';

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
    this.#store = createPageStore({ cookieDomain: this.#settings.cookieDomain });
    const choice = this.#store.get(CONSENT);
    this.#optedOut = this.#blockedBySignal() || choice === 'out' || (choice === null && this.#settings.optOutByDefault);
    // The wasm and the engine are requested first: the work below (a first
    // visit's timezone alone takes Chromium 10 to 16 ms) then overlaps their
    // download and compile instead of delaying it.
    if (this.#optedOut) this.#debug('opted out: the wasm is not loaded and nothing is queued');
    else this.ready = this.#start();
    this.#identity = new Identity(this.#store);
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
      const page = { wasm, loadJsCore: this.#assets.loadJsCore, uuid, tables: { METRIC_NAMES, NUMERIC_FIELDS } };
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
      this.#emit('load', `analytics-wasm could not start: ${error?.message ?? error}`);
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
    this.#context = pageContext(sessionId, this.#timezone);
    this.#contextSession = sessionId;
    this.#contextJson = JSON.stringify(this.#context);
  }

  /** Sets one field of the page context (session or timezone), keeping its JSON in step. */
  #setContextField(field, value) {
    this.#context[field] = value;
    if (field === 'sessionId') this.#contextSession = value;
    this.#contextJson = JSON.stringify(this.#context);
  }

  #report = (message) => this.#emit('input', message);

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
      this.#emit('input', `${call}() failed (${error?.message ?? error}); call dropped`);
      return undefined;
    }
  }

  /** False when the call must do nothing: on the server, closed, or opted out. */
  #active() {
    if (this.#closed) return false;
    if (this.#optedOut) {
      this.#debug('ignored: opted out');
      return false;
    }
    return true;
  }

  #record(type, name, body) {
    const now = Date.now();
    const sessionId = this.#session.touch(now);
    if (sessionId !== this.#contextSession) this.#setContextField('sessionId', sessionId);
    let userId = this.#identity.userId ?? '';
    let anonymousId = this.#identity.anonymousId;
    let contextJson = this.#contextJson;
    if (this.#plugins.length > 0) {
      const event = this.#runPlugins(type, name, body, userId, anonymousId, now);
      if (event === null) return;
      name = text(NAME_FIELD[type] && event[NAME_FIELD[type]]);
      body = BODY_FIELD[type] ? event[BODY_FIELD[type]] : undefined;
      userId = text(event.userId);
      anonymousId = text(event.anonymousId);
      contextJson = this.#serialize(event.context);
      if (contextJson === null) return;
    }
    const json = BODY_FIELD[type] === null ? '' : this.#serialize(body);
    if (json === null) return;
    if (this.#engine) this.#send(KINDS[type], name, json, userId, anonymousId, contextJson, 0);
    else this.#buffer.push([KINDS[type], name, json, userId, anonymousId, contextJson, now]);
  }

  // Context and ids cross into the wasm only when they change, not per call.
  #send(kind, name, json, userId, anonymousId, contextJson, at) {
    if (contextJson !== this.#engineContext) {
      this.#engine.setContext(contextJson);
      this.#engineContext = contextJson;
    }
    if (userId !== this.#engineUserId || anonymousId !== this.#engineAnonymousId) {
      this.#engine.setIdentity(userId, anonymousId);
      this.#engineUserId = userId;
      this.#engineAnonymousId = anonymousId;
    }
    this.#engine.record(kind, name, json, at);
  }

  /** The event as plugins see it, after each plugin in order; null if one dropped it. */
  #runPlugins(type, name, body, userId, anonymousId, now) {
    let event = { type, userId: userId || null, anonymousId, context: JSON.parse(this.#contextJson), timestamp: new Date(now).toISOString() };
    if (NAME_FIELD[type]) event[NAME_FIELD[type]] = name;
    if (BODY_FIELD[type]) event[BODY_FIELD[type]] = body ?? {};
    for (const plugin of this.#plugins) {
      let result;
      try {
        result = plugin.beforeSend(event);
      } catch (error) {
        this.#emit('plugin', `plugin "${plugin.name}" threw (${error?.message ?? error}); skipped, the event continues`);
        continue;
      }
      if (result === null || result === false) {
        this.#debug(`dropped by plugin "${plugin.name}": ${type} ${name}`);
        return null;
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

  track(event, properties) {
    this.#guard('track', () => {
      if (!this.#active()) return;
      const name = this.#name('track', 'event', event, MAX_NAME_LENGTH);
      if (name !== null) this.#record('track', name, properties);
    });
  }

  identify(userId, traits) {
    this.#guard('identify', () => {
      if (!this.#active()) return;
      if (userId !== null && typeof userId === 'object') [userId, traits] = [null, userId];
      const id = userId === '' ? '' : this.#name('identify', 'userId', userId, MAX_ID_LENGTH, true);
      const plain = id === null ? null : this.#plainTraits(traits);
      if (plain === null) return;
      this.#identity.identify(id === '' ? null : id, plain);
      this.#record('identify', '', this.#identity.traits);
    });
  }

  page(name, properties) {
    this.#guard('page', () => {
      if (!this.#active()) return;
      const pageName = this.#name('page', 'name', name, MAX_NAME_LENGTH, true);
      if (pageName === null) return;
      this.#refreshContext(this.#session.touch(Date.now()));
      this.#record('page', pageName, properties);
    });
  }

  group(groupId, traits) {
    this.#guard('group', () => {
      if (!this.#active()) return;
      const id = this.#name('group', 'groupId', groupId, MAX_ID_LENGTH);
      const plain = id === null ? null : this.#plainTraits(traits);
      if (plain === null) return;
      this.#identity.group(id, plain);
      this.#record('group', id, this.#identity.groupTraits);
    });
  }

  alias(userId, previousId) {
    this.#guard('alias', () => {
      if (!this.#active()) return;
      const id = this.#name('alias', 'userId', userId, MAX_ID_LENGTH);
      const previous = id === null ? null : this.#name('alias', 'previousId', previousId ?? this.#identity.userId ?? this.#identity.anonymousId, MAX_ID_LENGTH);
      if (previous === null) return;
      this.#identity.alias(id);
      this.#record('alias', previous, undefined);
    });
  }

  /** Logout: forgets the user, traits and group, and starts a new anonymous visitor and session. */
  reset() {
    this.#identity.reset();
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
    this.#buffer = [];
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
