// The recorder's dedicated worker: work that costs the page's main thread
// more than posting it does. Handing a 460 KB body to `fetch` costs
// Chromium's main thread 3 to 5 ms (the copy into the network stack), and
// a burst of 10,000 events makes 26 of them; its IndexedDB writes (64 puts
// of 4.4 M characters, 80 deletes, 45 transactions) cost it 100 to 270 ms.
// The worker runs the recorder's own script (analytics-recorder.js, loaded as
// a classic worker script), which answers the jobs below. Where no worker
// starts (no Worker, a cross-origin asset, a CSP that refuses it, a
// service worker's recorder) or one fails, each job runs on the page's
// thread, as it would without one.
import { writeByName } from './storage.js';
import { send } from './transport.js';

/** The worker's name, by which the recorder's script knows it is the worker. */
export const WORKER_NAME = 'analytics-wasm worker';
/** Bodies and writes smaller than this (64 KB) stay on the page: a worker would cost more than it saves. */
export const WORKER_FROM_SIZE = 64 * 1024;
/** How long past its own timeout the page waits for the worker's answer to a send before calling it a timeout. */
const ANSWER_GRACE_MS = 5000;

/**
 * `events` ({ json, tail }: each one's JSON text is json + tail) packed for
 * batchBody: consecutive events that end alike (the page view's context,
 * one string, most of each event's bytes) as [tail, their starts]. A third
 * of the characters of the body, which repeats each tail: what the page
 * copies to hand a burst's bodies to the worker. The starts stay apart,
 * as the page holds them: joined here, they would be copied once more.
 */
export function packEvents(events) {
  const groups = [];
  let group = null;
  for (const event of events) {
    if (event.tail !== group?.[0]) groups.push((group = [event.tail, []]));
    group[1].push(event.json);
  }
  return groups;
}

/** The body of a packed batch: [open, packEvents(events), close]. */
export const batchBody = ([open, groups, close]) => open + groups.map(([tail, starts]) => starts.join(tail + ',') + tail).join(',') + close;

/** What the worker does: send a packed batch (transport.js's `send`), and storage.js's `writeByName`. */
const JOBS = { send: (endpoint, packed, options) => send(endpoint, batchBody(packed), options), write: writeByName };

/** In the worker: answers each [id, job, ...args] with [id, what JOBS[job](...args) resolves to]. */
export function serveJobs(scope) {
  scope.onmessage = async ({ data: [id, job, ...args] }) => scope.postMessage([id, await JOBS[job](...args)]);
}

/**
 * The page's side of a worker running the script at `url` (none: every
 * job runs here). `run(job, args, here, timeoutMs)` posts the job to the
 * worker, started at the first, and resolves to its answer, or to
 * 'timeout' after `timeoutMs`; where no worker runs it resolves to what
 * `here()` does. Jobs the worker held when it failed run `here()` too, in
 * the order they were posted.
 */
export function workerJobs(url) {
  let worker = null;
  let failed = !url || typeof Worker !== 'function' || typeof document === 'undefined';
  const waiting = new Map();
  let next = 0;

  const fallBack = () => {
    failed = true;
    worker?.terminate();
    worker = null;
    // One that throws here rejects its own job, not the others'.
    for (const job of waiting.values()) job.answer(new Promise((done) => done(job.here())));
    waiting.clear();
  };

  const start = () => {
    const started = new Worker(url, { name: WORKER_NAME });
    started.onmessage = ({ data: [id, result] }) => {
      waiting.get(id)?.answer(result);
      waiting.delete(id);
    };
    started.onerror = (event) => {
      event.preventDefault();
      fallBack();
    };
    return started;
  };

  return {
    /** Work smaller than this (a body's bytes, a write's characters) is best done here. */
    fromSize: WORKER_FROM_SIZE,
    /** A job may go to the worker (none has failed to start or run). */
    get usable() {
      return !failed;
    },
    run(job, args, here, timeoutMs = Infinity) {
      if (failed) return here();
      try {
        worker ??= start();
      } catch {
        fallBack();
        return here();
      }
      return new Promise((resolve) => {
        const id = next++;
        const timer = timeoutMs < Infinity && setTimeout(() => {
          waiting.delete(id);
          resolve('timeout');
        }, timeoutMs);
        const answer = (result) => {
          clearTimeout(timer);
          resolve(result);
        };
        waiting.set(id, { answer, here });
        worker.postMessage([id, job, ...args]);
      });
    },
  };
}

/**
 * Sends a packed batch (as transport.js's `send` does its body) whose body
 * is `bytes` long: from `jobs`' worker, which makes the body, if it is
 * large. Small bodies and keepalive requests (a page going away, whose
 * worker goes with it) are sent from the page.
 */
export const sendLargeVia = (jobs) => (endpoint, packed, bytes, options) => {
  const here = () => send(endpoint, batchBody(packed), options);
  return options.keepalive || bytes < jobs.fromSize ? here() : jobs.run('send', [endpoint, packed, options], here, options.timeoutMs + ANSWER_GRACE_MS);
};
