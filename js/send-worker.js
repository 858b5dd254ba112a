// Large batch bodies sent from a dedicated worker: handing a 460 KB body to
// `fetch` costs Chromium's main thread 3 to 5 ms (the copy into the network
// stack), and a burst of 10,000 events makes 26 of them. A worker pays that
// instead; the page only posts the text. The worker runs the engine's own
// script (analytics-engine.js, loaded as a classic worker script), which
// answers with transport.js's `send`. Small bodies, keepalive requests (a
// page going away, whose worker goes with it) and pages where no worker
// starts (no Worker, a cross-origin asset, a CSP that refuses it) send from
// the page, as before.
import { send } from './transport.js';

/** The worker's name, by which the engine's script knows it is the sender. */
export const SENDER_NAME = 'analytics-wasm sender';
/** Bodies shorter than this are sent from the page: a worker would cost more than it saves. */
export const WORKER_FROM_CHARS = 64 * 1024;
/** How long past its own timeout the page waits for the worker's answer before calling it a timeout. */
const ANSWER_GRACE_MS = 5000;

/** In the worker: answers each [id, endpoint, body, options] with [id, result]. */
export function serveSends(scope) {
  scope.onmessage = async ({ data: [id, endpoint, body, options] }) => scope.postMessage([id, await send(endpoint, body, options)]);
}

/**
 * A `send` (as transport.js's) that hands large bodies to a worker running
 * the script at `url` (started at the first one), or null for none: then
 * everything is sent from this thread.
 */
export function workerSender(url) {
  let worker = null;
  let failed = !url || typeof Worker !== 'function' || typeof document === 'undefined';
  const waiting = new Map();
  let next = 0;

  // A worker that cannot start (or fails later) hands what it holds back to this thread.
  const fallBack = () => {
    failed = true;
    worker?.terminate();
    worker = null;
    for (const job of waiting.values()) job.answer(send(...job.args));
    waiting.clear();
  };

  const start = () => {
    const started = new Worker(url, { name: SENDER_NAME });
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

  return (endpoint, body, options) => {
    if (failed || options.keepalive || body.length < WORKER_FROM_CHARS) return send(endpoint, body, options);
    try {
      worker ??= start();
    } catch {
      fallBack();
      return send(endpoint, body, options);
    }
    return new Promise((resolve) => {
      const id = next++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        resolve('timeout');
      }, options.timeoutMs + ANSWER_GRACE_MS);
      const answer = (result) => {
        clearTimeout(timer);
        resolve(result);
      };
      waiting.set(id, { answer, args: [endpoint, body, options] });
      worker.postMessage([id, endpoint, body, options]);
    });
  };
}
