// The dev collector: a Segment-compatible batch endpoint on 127.0.0.1 with
// dedupe by messageId, a JSON-lines log, counters, and fault injection
// controlled over HTTP. Used by `npm start` (the demo) and by the tests.
//
//   node www/collector.mjs [--port 8787] [--log path/to/events.jsonl]
//
// Endpoints
//   POST /v1/batch        {"batch":[…],"sentAt":…} as application/json or text/plain
//                         (gzip with Content-Encoding: gzip); `?fault=<json>` applies
//                         a fault to this request alone (for tests running side by side).
//                         {"batch":[],"receipts":[ids]} is a receipt request, answered
//                         {"receipts":[the ids it holds]} (docs/wire-contract.md)
//   GET  /v1/events       accepted events, first copy of each messageId, in arrival order
//                         (`?last=N`: the newest N, newest first)
//   GET  /v1/stats        counters: requests, received, duplicates, rejected, bytes, …
//   GET  /v1/requests     one line per request: time, status, events, bytes, mode
//   POST /control/fault   set the fault (JSON body, see FAULT below); {} clears it
//   POST /control/reset   forget events, counters and fault
import { createServer } from 'node:http';
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { pathToFileURL } from 'node:url';

const TYPES = new Set(['track', 'identify', 'page', 'group', 'alias', 'screen']);

// FAULT: what the collector does to the next requests.
//   status        answer this status instead of accepting (e.g. 503, 401)
//   retryAfter    Retry-After header value sent with `status`
//   maxBodyBytes  answer 413 to bodies larger than this
//   rejectEvents  event names to refuse individually (200 with a rejected list)
//   refuseEvents  event names that make the whole batch a 400 with no list of
//                 events (as a collector that cannot say which event is at fault)
//   maxEventBytes answer 400 with no list to a batch holding an event whose JSON
//                 is larger than this (Segment refuses messages over 32 KB so)
//   delayMs       wait before answering
//   drop          destroy the connection without answering
//   down          same as drop, for "the collector is down"
//   wayOutStatus  answer this status to requests a page sends as it goes away
//                 (fetch with keepalive, as tests/e2e/harness.mjs marks them, or
//                 sendBeacon), and accept the others
//   noReceipts    answer receipt requests as a collector that gives none does
//                 (as an empty batch: 200, no receipts), as Segment's API would
const NO_FAULT = Object.freeze({});

function validateEvent(event) {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return 'event must be an object';
  if (!TYPES.has(event.type)) return `unknown type ${JSON.stringify(event.type)}`;
  // Any id will do (a caller may give its own), as Segment takes it.
  if (typeof event.messageId !== 'string' || event.messageId === '' || event.messageId.length > 256) return 'messageId must be a string of 1 to 256 characters';
  if (typeof event.timestamp !== 'string' || Number.isNaN(Date.parse(event.timestamp))) return 'timestamp must be an ISO 8601 date';
  if (typeof event.anonymousId !== 'string' && typeof event.userId !== 'string') return 'anonymousId or userId is required';
  if (event.type === 'track' && (typeof event.event !== 'string' || event.event === '')) return 'track requires event';
  return null;
}

export function startCollector({ port = 0, logFile = null, quiet = true, checkBody = null } = {}) {
  let currentFault = NO_FAULT;
  let events = [];
  let seen = new Map();
  let requests = [];
  // What `checkBody(body, bytes)` (a caller's conformance check, e.g. the
  // tests' Segment one) found wrong with the bodies received.
  let violations = [];
  let stats;
  const resetStats = () => {
    stats = { requests: 0, batches: 0, received: 0, duplicates: 0, rejected: 0, malformed: 0, bytes: 0, refused: 0, tooLarge: 0, receiptRequests: 0, receiptsAsked: 0, receiptsHeld: 0 };
  };
  resetStats();
  if (logFile) mkdirSync(dirname(logFile), { recursive: true });

  const cors = (res) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Methods', 'POST, GET, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Content-Type, Content-Encoding');
    res.setHeader('Access-Control-Expose-Headers', 'Retry-After');
    res.setHeader('Access-Control-Max-Age', '600');
  };
  const json = (res, status, body, headers = {}) => {
    cors(res);
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const readBody = (req) =>
    new Promise((resolve, reject) => {
      const chunks = [];
      req.on('data', (chunk) => chunks.push(chunk));
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });

  async function handleBatch(req, res, url) {
    const fault = url.searchParams.has('fault') ? JSON.parse(url.searchParams.get('fault')) : currentFault;
    const raw = await readBody(req);
    stats.requests += 1;
    stats.bytes += raw.length;
    // `?keepalive` marks a keepalive fetch where a test page asks (tests/e2e/harness.mjs).
    const mode = url.searchParams.has('keepalive') ? 'keepalive' : (req.headers['sec-fetch-mode'] ?? null);
    const entry = { at: Date.now(), bytes: raw.length, mode, type: req.headers['content-type'] ?? null, encoding: req.headers['content-encoding'] ?? null, status: 0, events: 0 };
    requests.push(entry);
    const answer = (status, body, headers) => {
      entry.status = status;
      json(res, status, body, headers);
    };
    if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault.drop || fault.down) {
      entry.status = -1;
      stats.refused += 1;
      req.socket.destroy();
      return;
    }
    if (fault.maxBodyBytes && raw.length > fault.maxBodyBytes) {
      stats.tooLarge += 1;
      return answer(413, { error: `body of ${raw.length} bytes is over ${fault.maxBodyBytes}` });
    }
    let body;
    try {
      const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    // Counted before any fault, so that a test sees what a refused request carried.
    if (Array.isArray(body?.batch)) entry.events = body.batch.length;
    const status = fault.status || (fault.wayOutStatus && (mode === 'keepalive' || mode === 'no-cors') ? fault.wayOutStatus : 0);
    if (status) {
      stats.refused += 1;
      const headers = fault.retryAfter !== undefined ? { 'Retry-After': String(fault.retryAfter) } : {};
      return answer(status, { error: 'fault injected' }, headers);
    }
    if (body === undefined) {
      stats.malformed += 1;
      return answer(400, { error: 'body is not JSON' });
    }
    if (body === null || typeof body !== 'object' || !Array.isArray(body.batch)) {
      stats.malformed += 1;
      return answer(400, { error: 'body must be {"batch":[…]}' });
    }
    if (checkBody) violations.push(...checkBody(body, raw.length));
    if (Array.isArray(body.receipts) && body.batch.length === 0) {
      entry.receipts = body.receipts.length;
      if (fault.noReceipts) return answer(200, {});
      const held = body.receipts.filter((id) => seen.has(id));
      stats.receiptRequests += 1;
      stats.receiptsAsked += body.receipts.length;
      stats.receiptsHeld += held.length;
      return answer(200, { receipts: held });
    }
    const malformed = [];
    for (const event of body.batch) {
      const problem = validateEvent(event);
      if (problem) malformed.push({ messageId: event?.messageId ?? null, reason: problem });
    }
    if (malformed.length > 0) {
      stats.malformed += 1;
      stats.rejected += malformed.length;
      // Nothing of this batch is kept; the sender drops the named events and re-sends the rest.
      return answer(400, { rejected: malformed.filter((r) => typeof r.messageId === 'string') });
    }
    const refuseBatch = new Set(fault.refuseEvents ?? []);
    const oversize = fault.maxEventBytes && body.batch.find((event) => JSON.stringify(event).length > fault.maxEventBytes);
    if (oversize || body.batch.some((event) => refuseBatch.has(event.event))) {
      stats.refused += 1;
      return answer(400, { error: oversize ? `a message is over ${fault.maxEventBytes} bytes` : 'the batch holds a refused event' });
    }
    const rejected = [];
    const refuse = new Set(fault.rejectEvents ?? []);
    stats.batches += 1;
    for (const event of body.batch) {
      if (refuse.has(event.event)) {
        rejected.push({ messageId: event.messageId, reason: `event name "${event.event}" is refused` });
        stats.rejected += 1;
        continue;
      }
      if (seen.has(event.messageId)) {
        stats.duplicates += 1;
        seen.set(event.messageId, seen.get(event.messageId) + 1);
        continue;
      }
      seen.set(event.messageId, 1);
      const record = { ...event, receivedAt: new Date().toISOString(), sentAt: body.sentAt, transport: entry.mode };
      events.push(record);
      stats.received += 1;
      if (logFile) appendFileSync(logFile, JSON.stringify(record) + '\n');
    }
    return answer(200, rejected.length ? { rejected } : {});
  }

  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    try {
      if (req.method === 'OPTIONS') {
        cors(res);
        res.writeHead(204);
        return res.end();
      }
      if (req.method === 'POST' && url.pathname === '/v1/batch') return await handleBatch(req, res, url);
      if (req.method === 'GET' && url.pathname === '/v1/events') {
        const last = Number(url.searchParams.get('last') ?? 0);
        return json(res, 200, { events: last > 0 ? events.slice(-last).reverse() : events });
      }
      if (req.method === 'GET' && url.pathname === '/v1/stats') return json(res, 200, { ...stats, unique: seen.size, fault: currentFault });
      if (req.method === 'GET' && url.pathname === '/v1/requests') return json(res, 200, { requests });
      if (req.method === 'POST' && url.pathname === '/control/fault') {
        const text = (await readBody(req)).toString('utf8');
        currentFault = Object.freeze(text ? JSON.parse(text) : {});
        return json(res, 200, { fault: currentFault });
      }
      if (req.method === 'POST' && url.pathname === '/control/reset') {
        currentFault = NO_FAULT;
        events = [];
        seen = new Map();
        requests = [];
        violations = [];
        resetStats();
        return json(res, 200, { ok: true });
      }
      json(res, 404, { error: 'not found' });
    } catch (error) {
      json(res, 500, { error: String(error?.message ?? error) });
    }
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const url = `http://127.0.0.1:${address.port}`;
      if (!quiet) console.log(`collector listening on ${url}/v1/batch`);
      resolve({
        url,
        endpoint: `${url}/v1/batch`,
        port: address.port,
        setFault: (next) => {
          currentFault = Object.freeze({ ...next });
        },
        events: () => events,
        stats: () => ({ ...stats, unique: seen.size }),
        requests: () => requests,
        violations: () => violations,
        /** The violations found so far, cleared: for a test that breaks a rule on purpose. */
        takeViolations: () => violations.splice(0),
        reset: () => {
          currentFault = NO_FAULT;
          events = [];
          seen = new Map();
          requests = [];
          violations = [];
          resetStats();
        },
        close: () =>
          new Promise((done) => {
            server.closeAllConnections?.();
            server.close(() => done());
          }),
      });
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const option = (name, fallback) => {
    const index = args.indexOf(name);
    return index >= 0 ? args[index + 1] : fallback;
  };
  const collector = await startCollector({
    port: Number(option('--port', process.env.COLLECTOR_PORT ?? 8787)),
    logFile: option('--log', null),
    quiet: false,
  });
  const stop = async () => {
    await collector.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
