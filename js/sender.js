// Sending what the core asks to send, and saying what came of it: a batch
// (by fetch, from the worker when its body is large; as the page goes away
// by fetch with keepalive, else sendBeacon) and a receipt request. What
// happened is reported as it is, in the shape the core takes (core.js's
// settle and receipts); the core classifies it. Imports nothing of the
// driver.
//
// The browser aborts a page's fetches as it unloads, and may say so before
// pagehide reaches the page (Firefox does; Chromium when another pagehide
// listener runs first). So a fetch's network error is held a moment: if
// the unload follows, the core has abandoned that batch and ignores it.
import { beacon, canKeepalive, readReceipts, readRejections, readRetryAfter, send } from './transport.js';
import { batchBody, sendLargeVia } from './worker.js';

/** How long a fetch's network error waits for a pagehide that would make it the unload's abort. */
const UNLOAD_ABORT_GRACE_MS = 250;
/** A network error seen this long before pagehide is a real failure (a background tab's timers fire late). */
const UNLOAD_ABORT_WINDOW_MS = 100;

/**
 * Sends to `config.endpoint` (with its requestTimeoutMs and compression);
 * large bodies through `jobs` (worker.js's workerJobs). `settled(batch,
 * outcome, named)` hears each batch's outcome (an answer's status and
 * Retry-After), with the rejections its answer named, of the batch's
 * events ([messageId, reason]); `now()` is the monotonic clock;
 * `debug(line)`, when given, hears each send.
 */
export function createSender({ endpoint, requestTimeoutMs = 10_000, compression }, jobs, { settled, now, debug }) {
  const sendBody = sendLargeVia(jobs);
  /** Fetches in flight: batch → the ids of its events. */
  const fetches = new Map();
  /** Fetches whose network error is held back: batch → when it was seen. */
  const held = new Map();

  const answered = (batch, result) => {
    const ids = fetches.get(batch);
    if (!ids) return;
    fetches.delete(batch);
    if (typeof result !== 'object') return settled(batch, result, []);
    const listed = new Set(ids);
    settled(batch, { status: result.status, retry: readRetryAfter(result.retryAfter) }, readRejections(result.text).filter(([id]) => listed.has(id)));
  };

  return {
    /** Batches whose answer has not come yet. */
    inFlight: () => fetches.size,

    /**
     * Sends batch `batch`, `packed` as the encoder packs it, `bytes` long;
     * `ids` its events' messageIds (to read a rejection list by);
     * `wayOut`: the page is hidden, so it must outlive the page.
     */
    send(batch, packed, bytes, ids, wayOut) {
      // A hidden page's batch leaves by fetch with keepalive: it outlives the
      // page, and a page that stays is told the answer. sendBeacon, whose
      // answer nobody is told (its events stay stored, to be asked about
      // later), only where fetch cannot keepalive.
      if (wayOut && !canKeepalive()) {
        const body = batchBody(packed);
        const queued = beacon(endpoint, body);
        if (queued !== null) {
          debug?.(`batch ${batch}: sending ${ids.length} event(s), ${body.length} bytes, by sendBeacon${queued ? '' : ' (refused)'}`);
          // Settled at once: a closing tab may end inside the next call.
          return settled(batch, queued ? 'beaconQueued' : 'beaconRefused', []);
        }
      }
      debug?.(`batch ${batch}: sending ${ids.length} event(s), ${bytes} bytes, by ${wayOut ? 'fetch keepalive' : 'fetch'}`);
      fetches.set(batch, ids);
      // A keepalive request must leave at once: its body stays plain.
      const options = { timeoutMs: requestTimeoutMs, keepalive: wayOut, compress: compression === 'gzip' && !wayOut };
      sendBody(endpoint, packed, bytes, options).then(async (result) => {
        if (result === 'network' && !wayOut) {
          held.set(batch, now());
          await new Promise((resolve) => setTimeout(resolve, UNLOAD_ABORT_GRACE_MS));
          if (!held.delete(batch)) return;
        }
        answered(batch, result);
      });
    },

    /** The page unloads at `at`: network errors held from well before are failures, not its aborts. */
    unload(at) {
      for (const [batch, seen] of held) {
        if (at - seen <= UNLOAD_ABORT_WINDOW_MS) continue;
        held.delete(batch);
        answered(batch, 'network');
      }
    },

    /**
     * Sends a receipt request (`body` the encoder's); resolves to [outcome,
     * the ids its answer says the collector holds, or null when it gave no
     * receipts].
     */
    async receipts(body) {
      const result = await send(endpoint, body, { timeoutMs: requestTimeoutMs });
      if (typeof result !== 'object') return [result, null];
      return [{ status: result.status, retry: readRetryAfter(result.retryAfter) }, readReceipts(result.text)];
    },
  };
}
