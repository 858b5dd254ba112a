// Sending batch bodies: `fetch` with a timeout, and for a page that is
// hidden or going away `fetch` with `keepalive` (which outlives the page,
// and whose answer a page that stays is told), else `sendBeacon` (whose
// answer nobody is). Bodies are `text/plain;charset=UTF-8`, a
// CORS-safelisted type, so no preflight is needed. What happened is
// reported as it is; the core classifies it. The contract with the
// collector: docs/wire-contract.md.

/** Bodies at least this long are worth compressing. */
export const COMPRESS_FROM_BYTES = 1024;

async function gzip(body) {
  const stream = new Blob([body]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Response(stream).arrayBuffer();
}

/**
 * POSTs `body` to `endpoint`. Resolves to { status, retryAfter, text },
 * 'network' or 'timeout'; never rejects. `keepalive` lets it outlive the
 * page; `compress` gzips bodies of COMPRESS_FROM_BYTES or more (declared
 * with Content-Encoding: gzip, which the collector must accept and allow
 * in CORS) where the browser has CompressionStream.
 */
export async function send(endpoint, body, { timeoutMs, keepalive = false, compress = false }) {
  const headers = { 'Content-Type': 'text/plain;charset=UTF-8' };
  let payload = body;
  if (compress && body.length >= COMPRESS_FROM_BYTES && typeof CompressionStream === 'function') {
    try {
      payload = await gzip(body);
      headers['Content-Encoding'] = 'gzip';
    } catch {
      payload = body;
    }
  }
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  try {
    const response = await fetch(endpoint, { method: 'POST', body: payload, headers, keepalive, signal: controller.signal });
    // Cross-origin, this needs `Access-Control-Expose-Headers: Retry-After`.
    const retryAfter = response.headers.get('retry-after');
    const text = await response.text().catch(() => '');
    return { status: response.status, retryAfter, text };
  } catch {
    return timedOut ? 'timeout' : 'network';
  } finally {
    clearTimeout(timer);
  }
}

/** Whether `fetch` can outlive the page (`keepalive`; Firefox before 133 cannot). */
export const canKeepalive = () => typeof Request === 'function' && 'keepalive' in Request.prototype;

/** Queues `body` with navigator.sendBeacon: true or false, or null without sendBeacon. */
export function beacon(endpoint, body) {
  if (typeof navigator === 'undefined' || typeof navigator.sendBeacon !== 'function') return null;
  try {
    return navigator.sendBeacon(endpoint, body);
  } catch {
    return false;
  }
}

/** `Retry-After` as the core takes it: [1, seconds], [2, wall-clock ms], or [0, 0]. */
export function readRetryAfter(value) {
  const text = value?.trim() ?? '';
  if (/^\d{1,12}$/.test(text)) return [1, Number(text)];
  const at = Date.parse(text);
  return Number.isNaN(at) ? [0, 0] : [2, at];
}

/**
 * The messageIds a receipt request's answer says the collector holds
 * ({"receipts":[…]}), or null when it gives no receipts.
 */
export function readReceipts(text) {
  if (!text || !text.includes('"receipts"')) return null;
  try {
    const list = JSON.parse(text)?.receipts;
    return Array.isArray(list) ? list.filter((id) => typeof id === 'string') : null;
  } catch {
    return null;
  }
}

/**
 * The batch's events a response body names as rejected, by the rejection
 * contract ({"rejected":[{"messageId", "reason"}]}): [[id, reason]].
 */
export function readRejections(text) {
  if (!text || !text.includes('"rejected"')) return [];
  try {
    const list = JSON.parse(text)?.rejected;
    if (!Array.isArray(list)) return [];
    return list
      .filter((entry) => typeof entry?.messageId === 'string')
      .slice(0, 10_000)
      .map((entry) => [entry.messageId, String(entry.reason ?? '').slice(0, 200)]);
  } catch {
    return [];
  }
}
