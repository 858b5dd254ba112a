// What each call returns: its event's outcome, known once the event is
// delivered, dropped (with the reason) or refused at the call. It is a
// thenable rather than a promise, so a burst of calls nobody awaits
// allocates one small object each and makes a promise only for those
// awaited. A callback given to the call hears the same result, once; one
// that throws is ignored. Nothing here rejects.

class Outcome {
  #callback;
  #result = null;
  #promise = null;
  #resolve = null;

  constructor(messageId, callback) {
    this.messageId = messageId;
    this.#callback = callback;
  }

  /** Settles it: `status` 'delivered', 'dropped' or 'refused', and why (not for delivered). */
  settle(status, reason) {
    if (this.#result) return;
    this.#result = reason === undefined ? { messageId: this.messageId, status } : { messageId: this.messageId, status, reason };
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
export function settled(status, reason, callback, messageId = null) {
  const outcome = new Outcome(messageId, callback);
  outcome.settle(status, reason);
  return outcome;
}

/** The outcomes of this page's queued events, by messageId, until each is settled. */
export class Outcomes {
  #pending = new Map();

  /** A call whose event is queued under `messageId`. */
  queued(messageId, callback) {
    const outcome = new Outcome(messageId, callback);
    this.#pending.set(messageId, outcome);
    return outcome;
  }

  /** Whether an event of this page with `messageId` is still queued. */
  has(messageId) {
    return this.#pending.has(messageId);
  }

  /** The event `messageId` is settled (see Outcome#settle). */
  settle(messageId, status, reason) {
    const outcome = this.#pending.get(messageId);
    if (!outcome) return;
    this.#pending.delete(messageId);
    outcome.settle(status, reason);
  }

  /** Every event still queued is dropped, for `reason`. */
  dropAll(reason) {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const outcome of pending) outcome.settle('dropped', reason);
  }
}
