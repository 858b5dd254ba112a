// Turns the calls the page client captured (client.js) into the events the
// driver records. It loads with the driver (analytics-recorder.js), off the
// critical path, and owns what an event needs beyond the call itself: the
// `context` (context.js: page, campaign, timezone, screen, client hints),
// the plugins' beforeSend, register()'s super properties merged in, a page
// event's own fields, and the rule that a caller's messageId is not queued
// twice. Calls arrive in the order they were made; each carries what was
// true when it was made (its time, session, user, page view), so a call
// buffered while the recorder loads is recorded as if it had not waited.
import { startDriver } from './driver.js';
import { BODY_FIELD, NAME_FIELD } from './encoding.js';
import { pageContext, rememberedTimezone, sessionCampaign } from './context.js';
import { isObject } from './options.js';
import { configSettings } from './config.js';
import { NUMERIC_FIELDS } from './core-names.js';

const text = (value) => (value == null ? '' : String(value));
/** Most time one task spends recording taken calls while the page is visible. */
const SLICE_MS = 8;

/**
 * Checks the config createAnalytics was given (configSettings: each bad
 * field reported and left at its default; rejects with an Error of type
 * 'config' when nothing could be sent with it), starts the driver (startDriver's `config`, `emit`
 * and `page`) and resolves to the recorder over it. `page` also carries the client's
 * `store`, `plugins` (the list use() fills: each `{ plugin, name,
 * beforeSend }` as read when it was added), `view` (the page as it was
 * when the client was made) and `newSession` (whether that started one).
 */
export async function startRecording(given, emit, page) {
  const config = configSettings(given, (message) => emit('config', message));
  const starting = startDriver(config, emit, page);
  const recorder = new Recorder(emit, page, config.maxQueueEvents ?? NUMERIC_FIELDS.maxQueueEvents[2]);
  recorder.driver = await starting;
  return recorder;
}

export class Recorder {
  /** The driver the events go to (driver.js). */
  driver = null;
  #emit;
  #store;
  #plugins;
  /** The timezone events carry (context.js), known from the first event on. */
  #timezone;
  #timezoneKnown = false;
  #newSession;
  #view;
  #context = null;
  #contextJson = '';
  #contextSession = null;
  /** The callers' own messageIds (options.messageId) → the outcome of the event holding it. */
  #givenIds = new Map();
  /** Calls taken and not recorded yet, oldest first. */
  #waiting = [];
  /** Most calls that wait: the queue's own bound (maxQueueEvents), so waiting costs no more memory than queueing. */
  #waitingMax;
  /** A task is set to record #waiting. */
  #recordSet = false;
  /** #waiting is being recorded (a call made meanwhile joins its end). */
  #recording = false;
  /** pagehide was heard, and no pageshow since: calls are recorded within the call. */
  #unloading = false;

  /**
   * A UUID v7 for an event without a messageId of its own: the time in
   * milliseconds, then 74 random bits of the page's UUID v4 (identity.js's
   * uuid, handed over in `page`). Ids that sort by when they were made keep
   * a collector's dedupe index growing at one end: analytics-collector
   * stores about 2.5 times as many events a second as with random ids
   * (docs/collector.md). Made as the event is recorded, never in track().
   */
  #timeOrderedId = () => {
    const time = Date.now().toString(16).padStart(12, '0');
    return `${time.slice(0, 8)}-${time.slice(8)}-7${this.#uuid().slice(15)}`;
  };

  #uuid;

  /** `page` as for startRecording; `waitingMax` the most calls taken that wait to be recorded. */
  constructor(emit, { store, plugins, view, newSession, uuid }, waitingMax) {
    this.#uuid = uuid;
    this.#newSession = newSession;
    this.#waitingMax = waitingMax;
    this.#emit = emit;
    this.#store = store;
    this.#plugins = plugins;
    this.#view = view;
    // Before the driver's own listeners (added once it has started): what
    // the page tracked is recorded before the driver flushes for a hidden
    // or closing page.
    const page = globalThis.document;
    if (page) {
      page.addEventListener('visibilitychange', () => this.recordWaiting());
      addEventListener('pagehide', () => {
        this.#unloading = true;
        this.recordWaiting();
      });
      addEventListener('pageshow', () => (this.#unloading = false));
    }
  }

  /**
   * Takes a call made now. It is recorded in a task of its own, after the
   * caller's: a burst of track() costs the caller about what capturing it
   * costs, and the page can paint in between. A hidden or closing page's
   * call is recorded at once, since its next task may never run. Beyond as
   * many waiting calls as the queue may hold, each call taken records the
   * oldest one (which the queue's bound then drops), so a longer burst
   * holds no more than the queue would, and one within it runs nothing of
   * the driver in the caller's loop.
   */
  take(call) {
    this.#waiting.push(call);
    if (this.#unloading || globalThis.document?.visibilityState === 'hidden') this.recordWaiting();
    else {
      if (this.#waiting.length - this.#recorded > this.#waitingMax && !this.#recording) this.#record(this.#waiting[this.#recorded++]);
      if (!this.#recordSet) {
        this.#recordSet = true;
        setTimeout(() => this.recordWaiting(SLICE_MS));
      }
    }
  }

  /** How many of #waiting's first calls are recorded already (by take(), past the bound). */
  #recorded = 0;

  /** Records the calls taken, oldest first, for at most `sliceMs` (the rest in a later task). */
  recordWaiting(sliceMs = Infinity) {
    this.#recordSet = false;
    if (this.#recording) return;
    this.#recording = true;
    const calls = this.#waiting;
    const end = performance.now() + sliceMs;
    let done = this.#recorded;
    this.#recorded = 0;
    try {
      while (done < calls.length) {
        this.#record(calls[done++]);
        if ((done & 255) === 0 && performance.now() > end) break;
      }
    } finally {
      this.#recording = false;
      this.#waiting = done === calls.length ? [] : calls.slice(done);
      if (this.#waiting.length && !this.#recordSet) {
        this.#recordSet = true;
        setTimeout(() => this.recordWaiting(SLICE_MS));
      }
    }
  }

  /** Opted out: the calls taken are dropped, and so is what the driver holds. */
  discard() {
    for (const call of this.#waiting.slice(this.#recorded)) call.outcome.settle('dropped', 'opted out');
    this.#waiting = [];
    this.#recorded = 0;
    return this.driver.discard();
  }

  #setContext(sessionId, view) {
    if (!this.#timezoneKnown) {
      // At the first event, not at start-up: without Temporal a first
      // visit's timezone costs 20 to 50 ms (ICU), which `ready` need not
      // wait for. A remembered one is checked again when idle, once per session.
      this.#timezoneKnown = true;
      this.#timezone = rememberedTimezone(this.#store, this.#newSession, (timezone) => {
        this.#timezone = timezone;
        this.#setContext(this.#contextSession, this.#view);
      });
    }
    this.#view = view;
    this.#contextSession = sessionId;
    this.#context = pageContext(view, sessionId, this.#timezone, sessionCampaign(this.#store, view, sessionId));
    this.#contextJson = JSON.stringify(this.#context);
  }

  /** Records one captured call (client.js says what it holds). */
  #record(call) {
    const { type, outcome } = call;
    const messageId = outcome.messageIdOr(this.#timeOrderedId);
    if (call.given) {
      if (this.#givenIds.get(messageId)?.settled === false) {
        const message = `${type}(): options.messageId "${messageId}" is already queued; event dropped`;
        this.#emit('input', message);
        outcome.settle('refused', message);
        return;
      }
      // Settled ones are forgotten now and then, so the map stays small.
      if (this.#givenIds.size >= 1000) for (const [id, held] of this.#givenIds) if (held.settled) this.#givenIds.delete(id);
      this.#givenIds.set(messageId, outcome);
    }
    if (type === 'page' || call.sessionId !== this.#contextSession) this.#setContext(call.sessionId, call.view ?? this.#view);
    let { name, json, userId, anonymousId } = call;
    let contextJson = this.#contextJson;
    if (call.supers) json = JSON.stringify({ ...call.supers, ...JSON.parse(json) });
    if (type === 'page') {
      // As analytics.js sends it: the page's own fields, the given properties, then its category and name.
      const { path, referrer, search, title, url } = this.#context.page;
      const properties = { path, referrer, search, title, url, ...JSON.parse(json) };
      if (call.category) properties.category = call.category;
      if (name) properties.name = name;
      json = JSON.stringify(properties);
    }
    if (this.#plugins.length > 0) {
      const event = this.#runPlugins(call, name, json, userId, anonymousId);
      if (typeof event === 'string') {
        outcome.settle('dropped', event);
        return;
      }
      name = text(NAME_FIELD[type] && event[NAME_FIELD[type]]);
      userId = text(event.userId);
      anonymousId = text(event.anonymousId);
      try {
        json = BODY_FIELD[type] ? JSON.stringify(event[BODY_FIELD[type]] ?? {}) : '';
        contextJson = JSON.stringify(event.context);
      } catch (error) {
        const message = `a plugin's event could not be serialized (${error?.message ?? error}); event dropped`;
        this.#emit('input', message);
        outcome.settle('refused', message);
        return;
      }
      if (!json.startsWith('{') && BODY_FIELD[type]) json = '{}';
      if (!contextJson?.startsWith('{')) contextJson = '{}';
    }
    // The call, become its event: what encoding.js's encode takes.
    Object.assign(call, { name, json, id: messageId, context: contextJson, userId, anonymousId });
    this.driver.record(call);
  }

  /** The event as plugins see it, after each plugin in order; the reason, if one dropped it. */
  #runPlugins(call, name, json, userId, anonymousId) {
    const { type } = call;
    let event = { type, messageId: call.outcome.messageId, userId: userId || null, anonymousId, context: JSON.parse(this.#contextJson), timestamp: new Date(call.at).toISOString() };
    if (NAME_FIELD[type]) event[NAME_FIELD[type]] = name;
    if (BODY_FIELD[type]) event[BODY_FIELD[type]] = JSON.parse(json);
    if (call.category) event.category = call.category;
    for (const [index, { plugin, name: given, beforeSend }] of this.#plugins.entries()) {
      const pluginName = typeof given === 'string' && given !== '' ? given : `plugin ${index + 1}`;
      let result;
      try {
        result = beforeSend.call(plugin, event);
      } catch (error) {
        this.#emit('plugin', `plugin "${pluginName}" threw (${error?.message ?? error}); skipped, the event continues`);
        continue;
      }
      if (result === null || result === false) {
        const reason = `dropped by plugin "${pluginName}": ${type} ${name}`;
        this.#emit('debug', reason);
        return reason;
      }
      if (result !== undefined) {
        if (!isObject(result) || result.type !== type) {
          this.#emit('plugin', `plugin "${pluginName}" returned ${isObject(result) ? `a ${result.type} event` : String(result)}, not the ${type} event; skipped`);
          continue;
        }
        event = result;
      }
    }
    return event;
  }
}
