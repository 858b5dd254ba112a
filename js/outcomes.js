// What each call returns: its event's outcome, known once the event is
// delivered, dropped (with the reason) or refused at the call. It is a
// thenable rather than a promise, and it travels with its event (no table
// of them is kept), so a burst of calls nobody awaits allocates one small
// object each and makes a promise only for those awaited. A callback given
// to the call hears the same result, once; one that throws is ignored.
// Nothing here rejects.
import { uuid } from './identity.js';

/** One call's outcome; it travels with its event, which settles it (fates.js). */
export class Outcome {
  #messageId;
  #callback;
  #result = null;
  #promise = null;
  #resolve = null;

  /**
   * `messageId`: the caller's own, null for a call refused at once, or
   * undefined for a UUID v4 made when it is first read: the recorder reads
   * it in a task of its own, so the caller's track() does not pay for it.
   */
  constructor(messageId, callback) {
    this.#messageId = messageId;
    this.#callback = callback;
  }

  /** The event's messageId (see the constructor). */
  get messageId() {
    return this.messageIdOr(uuid);
  }

  /** The event's messageId, made by `make` if it has none yet (the recorder's are time-ordered). */
  messageIdOr(make) {
    if (this.#messageId === undefined) this.#messageId = make();
    return this.#messageId;
  }

  get settled() {
    return this.#result !== null;
  }

  /** Settles it: `status` 'delivered', 'dropped' or 'refused', and why (not for delivered). */
  settle(status, reason) {
    if (this.#result) return;
    this.#result = { messageId: this.messageId, status };
    if (reason !== undefined) this.#result.reason = reason;
    this.#resolve?.(this.#result);
    if (this.#callback) {
      try {
        this.#callback(this.#result);
      } catch {
        // The page's callback must not stop the queue.
      }
    }
  }

  then(onSettled, onRejected) {
    this.#promise ??= this.#result ? Promise.resolve(this.#result) : new Promise((resolve) => (this.#resolve = resolve));
    return this.#promise.then(onSettled, onRejected);
  }
}

/** A call settled at once: refused (bad input, opted out, on the server) or dropped by a plugin. */
export function settled(status, reason, callback) {
  const outcome = new Outcome(null, callback);
  outcome.settle(status, reason);
  return outcome;
}
