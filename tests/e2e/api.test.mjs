// The npm package's JS API in real Chromium against the dev collector.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { useHarness, waitFor } from './harness.mjs';

const harness = useHarness();
let h;
beforeEach(() => {
  h = harness();
});

test('calls made before the wasm is ready are buffered and delivered in call order', async () => {
  const { page, context } = await h.open({}, { query: '&early=5' });
  assert.equal(await page.evaluate(() => window.earlyCallsBeforeReady), true, 'the calls were made before ready');
  await page.evaluate(() => analytics.flush());
  const events = await waitFor(() => h.collector.events().length >= 5 && h.collector.events(), { what: '5 events' });
  assert.deepEqual(events.map((e) => e.properties.i), [0, 1, 2, 3, 4]);
  await context.close();
});

test('the collector receives the Segment-compatible batch body', async () => {
  const { page, context } = await h.open({ writeKey: 'wk_test' });
  await page.evaluate(async () => {
    await analytics.ready;
    analytics.identify('user-42', { email: 'a@example.com' });
    analytics.track('Signed Up', { plan: 'pro', seats: 3 });
    analytics.page('Pricing', { path: '/pricing' });
    analytics.group('acme', { size: 10 });
    analytics.alias('user-42', 'anon-before');
    await analytics.flush();
  });
  const events = await waitFor(() => h.collector.events().length >= 5 && h.collector.events(), { what: '5 events' });
  const [identify, track, page_, group, alias] = events;
  assert.equal(identify.type, 'identify');
  assert.equal(identify.userId, 'user-42');
  assert.deepEqual(identify.traits, { email: 'a@example.com' });
  assert.equal(track.type, 'track');
  assert.equal(track.event, 'Signed Up');
  assert.deepEqual(track.properties, { plan: 'pro', seats: 3 });
  assert.equal(track.userId, 'user-42', 'identify sets userId for later events');
  // A UUID v7: the time it was made, in ms, leads it, so ids sort by time.
  assert.match(track.messageId, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const madeAt = parseInt(track.messageId.replace('-', '').slice(0, 12), 16);
  assert.ok(Math.abs(madeAt - Date.parse(track.timestamp)) < 60_000, `made at ${new Date(madeAt).toISOString()}, tracked at ${track.timestamp}`);
  assert.ok(track.anonymousId);
  assert.ok(!Number.isNaN(Date.parse(track.timestamp)));
  assert.ok(!Number.isNaN(Date.parse(track.sentAt)));
  assert.equal(track.context.library.name, 'analytics-wasm');
  assert.equal(page_.name, 'Pricing');
  assert.equal(group.groupId, 'acme');
  assert.equal(alias.previousId, 'anon-before');
  await context.close();
});

test('track never throws on bad properties; the errors are reported and other events arrive', async () => {
  const { page, context } = await h.open({});
  const result = await page.evaluate(async () => {
    await analytics.ready;
    const circular = { name: 'loop' };
    circular.self = circular;
    const thrown = [];
    const calls = [
      () => analytics.track('Circular', circular),
      () => analytics.track('BigInt', { big: 10n ** 20n }),
      () => analytics.track('Function', { fn() {}, kept: 1, symbol: Symbol('s'), missing: undefined }),
      () => analytics.track('Array', [1, 2, 3]),
      () => analytics.track('String', 'not an object'),
      () => analytics.track('Huge', { text: 'x'.repeat(2_000_000) }),
      () => analytics.track('Throwing toJSON', { toJSON() { throw new Error('nope'); } }),
      () => analytics.track('Fine', { ok: true }),
    ];
    for (const call of calls) {
      try {
        call();
      } catch (error) {
        thrown.push(String(error));
      }
    }
    await analytics.flush();
    return { thrown, errors: window.errors };
  });
  assert.deepEqual(result.thrown, []);
  const events = await waitFor(() => h.collector.events().length >= 4 && h.collector.events(), { what: '4 events' });
  const byName = Object.fromEntries(events.map((e) => [e.event, e.properties]));
  assert.deepEqual(Object.keys(byName).sort(), ['BigInt', 'Circular', 'Fine', 'Function']);
  assert.equal(byName.Circular.self, '[Circular]');
  assert.equal(byName.BigInt.big, '100000000000000000000');
  assert.deepEqual(byName.Function, { kept: 1 });
  const inputErrors = result.errors.filter((e) => e.type === 'input').map((e) => e.message);
  assert.equal(inputErrors.length, 4, JSON.stringify(inputErrors));
  assert.ok(inputErrors.some((m) => m.includes('got an array')));
  assert.ok(inputErrors.some((m) => m.includes('got a string')));
  assert.ok(inputErrors.some((m) => /event is \d+ bytes encoded, larger than the limit of \d+ bytes/.test(m)));
  assert.ok(inputErrors.some((m) => m.includes('nope')));
  await context.close();
});

test('an event name that is not a string or a number is refused, never coerced and never thrown', async () => {
  const { page, context } = await h.open({});
  const result = await page.evaluate(async () => {
    await analytics.ready;
    const thrown = [];
    const names = [{ a: 1 }, Object.create(null), { toString() { throw new Error('no name'); } }, '', 'x'.repeat(256), null, undefined, true, Symbol('s'), 42, 'Good'];
    for (const name of names) {
      try {
        analytics.track(name, { ok: true });
      } catch (error) {
        thrown.push(String(error));
      }
    }
    await analytics.flush();
    return { thrown, errors: window.errors.filter((e) => e.type === 'input').map((e) => e.message) };
  });
  await waitFor(() => h.collector.stats().received === 2, { what: '2 events' });
  await page.waitForTimeout(200);
  assert.deepEqual(result.thrown, []);
  assert.deepEqual(h.collector.events().map((e) => e.event).sort(), ['42', 'Good']);
  assert.equal(result.errors.length, 9, JSON.stringify(result.errors));
  assert.ok(result.errors.every((m) => m.startsWith('track(): event must be a non-empty string of at most 255 characters, or a number; got ')));
  assert.ok(result.errors.some((m) => m.includes('got an object')));
  assert.ok(result.errors.some((m) => m.includes('got a string of 256 characters')));
  assert.equal(h.collector.stats().received, 2);
  await context.close();
});

test('properties whose toJSON gives no object are refused, not thrown', async () => {
  const { page, context } = await h.open({});
  const result = await page.evaluate(async () => {
    await analytics.ready;
    const thrown = [];
    const calls = [
      () => analytics.track('Undefined toJSON', { toJSON() { return undefined; } }),
      () => analytics.track('Number toJSON', { toJSON() { return 5; } }),
      () => analytics.track('Fine', { ok: 1 }),
    ];
    for (const call of calls) {
      try {
        call();
      } catch (error) {
        thrown.push(String(error));
      }
    }
    await analytics.flush();
    return { thrown, errors: window.errors.filter((e) => e.type === 'input').map((e) => e.message) };
  });
  await waitFor(() => h.collector.stats().received === 1, { what: 'the good event' });
  assert.deepEqual(result.thrown, []);
  assert.deepEqual(h.collector.events().map((e) => e.event), ['Fine']);
  assert.equal(result.errors.length, 2);
  assert.ok(result.errors.every((m) => m.includes('must serialize to a JSON object')), JSON.stringify(result.errors));
  await context.close();
});

test('identify, group and page never throw on throwing getters or proxies; the error names the argument', async () => {
  const { page, context } = await h.open({});
  const result = await page.evaluate(async () => {
    await analytics.ready;
    const getter = { get email() { throw new Error('getter says no'); } };
    const proxy = new Proxy({}, { ownKeys() { throw new Error('trap says no'); }, get() { throw new Error('trap says no'); } });
    const thrown = [];
    const calls = [
      () => analytics.identify('u1', getter),
      () => analytics.identify('u1', proxy),
      () => analytics.identify(proxy),
      () => analytics.group('g1', getter),
      () => analytics.group(proxy),
      () => analytics.page('Pricing', proxy),
      () => analytics.alias({ id: 'x' }),
      () => analytics.use(proxy),
      () => analytics.track('After', { ok: true }),
    ];
    for (const call of calls) {
      try {
        call();
      } catch (error) {
        thrown.push(String(error));
      }
    }
    await analytics.flush();
    return { thrown, errors: window.errors.filter((e) => e.type === 'input').map((e) => e.message), user: analytics.user() };
  });
  await waitFor(() => h.collector.stats().received === 1, { what: 'the good event' });
  await page.waitForTimeout(200);
  assert.deepEqual(result.thrown, []);
  assert.deepEqual(h.collector.events().map((e) => e.event), ['After']);
  assert.equal(result.errors.length, 8, JSON.stringify(result.errors));
  assert.ok(result.errors.some((m) => m.includes('traits could not be serialized (getter says no)')));
  assert.ok(result.errors.some((m) => m.includes('group(): groupId must be')));
  assert.ok(result.errors.some((m) => m.includes('alias(): userId must be')));
  assert.equal(result.user.userId, null, 'a refused identify changes nothing');
  await context.close();
});

test('flush resolves with what was sent, what failed and what is pending', async () => {
  const { page, context } = await h.open({});
  await page.evaluate(() => analytics.ready);
  h.collector.setFault({ status: 503 });
  // Metrics are read in the task flush() resolves in: the retry's jittered
  // delay may be a few milliseconds, and it must not have started yet.
  const { failed, metrics, now } = await page.evaluate(async () => {
    for (let i = 0; i < 3; i++) analytics.track('Retry me', { i });
    const failed = await analytics.flush();
    return { failed, metrics: analytics.metrics(), now: Date.now() };
  });
  h.collector.setFault({});
  assert.deepEqual(failed, { sent: 0, failed: 3, pending: 3 });
  assert.equal(metrics.lastError, 'send failed: the collector answered 503');
  assert.ok(metrics.nextRetryAt !== null && metrics.nextRetryAt >= now, `a retry is scheduled (nextRetryAt ${metrics.nextRetryAt}, now ${now})`);
  await waitFor(() => h.collector.stats().received === 3, { what: '3 events after the backoff' });
  // The page hears the response a moment after the collector answers it.
  await waitFor(async () => (await page.evaluate(() => analytics.metrics())).eventsSent === 3, { what: 'the page to settle' });
  const after = await page.evaluate(() => analytics.flush());
  assert.deepEqual(after, { sent: 0, failed: 0, pending: 0 }, 'nothing left to flush');
  await context.close();
});

test('the SDK never listens for unload or beforeunload', async () => {
  const context = await h.browser.newContext();
  await context.addInitScript(() => {
    window.registered = [];
    const add = EventTarget.prototype.addEventListener;
    EventTarget.prototype.addEventListener = function (type, ...rest) {
      window.registered.push(type);
      return add.call(this, type, ...rest);
    };
  });
  const { page } = await h.open({}, { context });
  const registered = await page.evaluate(async () => {
    await analytics.ready;
    return window.registered;
  });
  assert.ok(registered.includes('visibilitychange') && registered.includes('pagehide'), JSON.stringify(registered));
  assert.ok(!registered.includes('unload') && !registered.includes('beforeunload'));
  await context.close();
});

test('nothing is sent while the browser is offline; going online resumes', async () => {
  const { page, context } = await h.open({ flushAt: 5 });
  await page.evaluate(() => analytics.ready);
  await context.setOffline(true);
  await page.evaluate(() => {
    for (let i = 0; i < 10; i++) analytics.track('Offline', { i });
  });
  await page.waitForTimeout(300);
  const offline = await page.evaluate(() => analytics.metrics());
  assert.equal(offline.online, false);
  assert.equal(offline.pending, 10);
  assert.equal(offline.batchesFailed, 0, 'no doomed request was attempted');
  assert.equal(h.collector.stats().requests, 0);
  await context.setOffline(false);
  await waitFor(() => h.collector.stats().received === 10, { what: '10 events after going online' });
  await context.close();
});

test('a 401 pauses sending, is reported as an auth error, keeps every event, and flush() resumes', async () => {
  const { page, context } = await h.open({});
  await page.evaluate(() => analytics.ready);
  h.collector.setFault({ status: 401 });
  const paused = await page.evaluate(async () => {
    for (let i = 0; i < 20; i++) analytics.track('Auth', { i });
    await analytics.flush();
    for (let i = 20; i < 25; i++) analytics.track('Auth', { i });
    await new Promise((r) => setTimeout(r, 300));
    return { metrics: analytics.metrics(), errors: window.errors };
  });
  assert.equal(paused.metrics.authPaused, true);
  assert.equal(paused.metrics.pending, 25, 'nothing dropped');
  assert.equal(h.collector.stats().requests, 1, 'no request after the 401');
  assert.ok(paused.errors.some((e) => e.type === 'auth' && e.message.includes('401')));
  h.collector.setFault({});
  const resumed = await page.evaluate(() => analytics.flush());
  assert.equal(resumed.sent, 25);
  assert.equal(h.collector.stats().received, 25);
  await context.close();
});

test('shutdown flushes, persists what is left, detaches, and leaves the rest to another tab', async () => {
  const context = await h.browser.newContext();
  const { page } = await h.open({}, { context });
  await page.evaluate(() => analytics.ready);
  h.collector.setFault({ status: 503 });
  const after = await page.evaluate(async () => {
    for (let i = 0; i < 5; i++) analytics.track('Before Shutdown', { i });
    await analytics.shutdown();
    analytics.track('After Shutdown', {});
    document.dispatchEvent(new Event('visibilitychange'));
    return analytics.metrics();
  });
  assert.equal(after.eventsTracked, 5, 'calls after shutdown are no-ops');
  h.collector.setFault({});
  const other = await h.open({}, { context });
  await other.page.evaluate(() => analytics.ready);
  await waitFor(() => h.collector.stats().received === 5, { what: 'the 5 events, from the other tab' });
  const adopted = await other.page.evaluate(() => analytics.metrics().adoptedEvents);
  assert.equal(adopted, 5, 'shutdown released the partition');
  assert.ok(h.collector.events().every((e) => e.event === 'Before Shutdown'));
  await context.close();
});

// Counts, per IndexedDB transaction, the chunk records (of up to 250 events)
// it puts: those made on the page, and the writes posted to the recorder's
// worker (each one transaction there), where a burst's writes go.
const COUNT_CHUNK_PUTS = () => {
  window.chunkPutsPerTransaction = [];
  const postMessage = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (message, ...rest) {
    if (message?.[1] === 'write') window.chunkPutsPerTransaction.push(message[4].puts.filter(([key]) => /^c\d+$/.test(key)).length);
    return postMessage.call(this, message, ...rest);
  };
  const transaction = IDBDatabase.prototype.transaction;
  IDBDatabase.prototype.transaction = function (...args) {
    const tx = transaction.apply(this, args);
    const index = window.chunkPutsPerTransaction.push(0) - 1;
    const objectStore = tx.objectStore.bind(tx);
    tx.objectStore = (name) => {
      const store = objectStore(name);
      const put = store.put.bind(store);
      store.put = (value, key) => {
        if (/\/c\d+$/.test(String(key))) window.chunkPutsPerTransaction[index] += 1;
        return put(value, key);
      };
      return store;
    };
    return tx;
  };
};

test('a burst is written to storage at most 500 events a task while the page is visible, and all of it is written', async () => {
  const { page, context } = await h.open({}, { init: COUNT_CHUNK_PUTS });
  await page.evaluate(() => analytics.ready);
  h.collector.setFault({ drop: true });
  await page.evaluate(() => {
    for (let i = 0; i < 5000; i++) analytics.track('Burst', { i });
  });
  // 5,000 events are 20 chunks of 250.
  const puts = await waitFor(
    async () => {
      const counts = await page.evaluate(() => window.chunkPutsPerTransaction);
      return counts.reduce((a, b) => a + b, 0) >= 20 && counts;
    },
    { what: '5,000 events written' },
  );
  assert.ok(Math.max(...puts) <= 2, `chunk records per transaction: ${puts.filter(Boolean)}`);
  // Nothing of this burst may leave with the page as it closes and reach the
  // collector during the next test: the page opts out, which drops it all.
  await page.evaluate(() => analytics.optOut());
  await context.close();
  h.collector.setFault({});
});

test('a loop of as many track() calls as the queue holds records none of them inside the loop; each call beyond records the oldest', async () => {
  const { page, context } = await h.open({});
  const recordedInLoop = await page.evaluate(async () => {
    await analytics.ready;
    // A plugin runs as an event is recorded: it tells where recording happens.
    let inLoop = false;
    let recorded = 0;
    analytics.use({ name: 'where', beforeSend: (event) => ((recorded += inLoop ? 1 : 0), event) });
    const loop = (count) => {
      recorded = 0;
      inLoop = true;
      for (let i = 0; i < count; i++) analytics.track('Loop', { i });
      inLoop = false;
      return recorded;
    };
    const atTheBound = loop(10_000);
    await analytics.flush();
    const beyond = loop(10_003);
    await analytics.flush();
    return { atTheBound, beyond };
  });
  assert.deepEqual(recordedInLoop, { atTheBound: 0, beyond: 3 });
  // The 3 recorded in the loop are the oldest of the second: the queue's bound drops them.
  await waitFor(() => h.collector.stats().received === 20_000, { what: 'the newest 10,000 of each loop', timeoutMs: 60_000 });
  const m = await page.evaluate(() => analytics.metrics());
  assert.deepEqual([m.eventsTracked, m.eventsSent, m.droppedOverflow], [20_003, 20_000, 3]);
  await context.close();
});
