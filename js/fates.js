// What becomes of each event, told to the call that made it: its outcome
// (outcomes.js) settles 'delivered', or 'dropped' with why, when the core
// releases the event. An answer or a notice decides an event's fate before
// its release; an event released with none was dropped from the queue
// (over its bounds, or too old). Imports nothing of the driver.

/** Why a released event that no answer or notice accounts for was dropped. */
export const DROPPED_FROM_QUEUE = 'dropped from the queue: over maxQueueEvents or maxQueueBytes, or older than maxEventAgeMs';

/**
 * The fates of the events the core holds, until each is released: a
 * closure (its state and helpers minify to one-letter names, which a
 * class's fields do not).
 */
export function createFates() {
  /** handle → '' (delivered) or why it was dropped, for events about to be released. */
  const fates = new Map();
  const set = (handles, fate) => {
    for (const handle of handles) fates.set(handle, fate);
  };
  return {
    /** These events were delivered. */
    delivered: (handles) => set(handles, ''),
    /** These events are dropped, for `why`. */
    dropped: set,
    /**
     * What a batch's answer decided (`report` the core's, `outcome` as the
     * sender reported it): those sent are delivered (bar the ones rejected
     * by name, whose notice says why); a whole batch dropped by its answer
     * is dropped for that answer.
     */
    answered(handles, report, outcome) {
      if (report.sent > 0) {
        const rejected = new Set(outcome.rejected);
        set(handles.filter((handle) => !rejected.has(handle)), '');
      } else if (report.dropped === handles.length && typeof outcome === 'object') {
        set(handles, `the collector answered ${outcome.status}`);
      }
    },
    /** Settles the outcome of `event` (`handle`'s, if the driver still holds it), released now, by its fate. */
    released(handle, event) {
      const fate = fates.get(handle);
      fates.delete(handle);
      if (fate === '') event?.outcome?.settle('delivered');
      else event?.outcome?.settle('dropped', fate ?? DROPPED_FROM_QUEUE);
    },
  };
}
