// What the driver tells the page, in words: the last delivery problem
// (metrics().lastError) and the notices the core raises (on('error')). The
// core hands out codes and numbers; each text is here, once. Imports
// nothing of the driver.

/** metrics().lastError, by the core's failure kind (core-names.js FAILURE_NAMES). */
export const FAILURES = {
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
 * A notice of the core (`kind`, numbers `a` and `b`, `handles` of a
 * rejection) as [error type, message]: `idOf(handle)` names an event,
 * `reasons` (messageId → reason) are the collector's for a rejection, `now`
 * the monotonic time (a circuit's reopening is a monotonic time too).
 */
export function noticeMessage({ kind, a, b, handles }, idOf, reasons, now) {
  switch (kind) {
    case 'authFailed':
      return ['auth', `the collector answered ${a}: sending is paused until flush() or a new config; events are kept`];
    case 'batchRejected':
      return ['delivery', `the collector answered ${a}: dropped a batch of ${b} event(s)`];
    case 'eventsRejected': {
      const listed = handles.slice(0, 5).map((h) => `; ${idOf(h)}: ${reasons.get(idOf(h)) ?? ''}`);
      return ['delivery', `the collector rejected ${a} event(s)${listed.join('')}`];
    }
    case 'eventTooLarge':
      return ['delivery', `event ${idOf(a)} dropped: the collector answered 413 for it alone`];
    case 'eventRefused':
      return ['delivery', `event ${idOf(a)} dropped: the collector answered ${b} for it alone`];
    default:
      return ['delivery', `the collector failed ${a} sends in a row: sending paused for ${Math.floor(Math.max(0, b - now) / 1000)} s; events are kept`];
  }
}
