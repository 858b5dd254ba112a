// The analytics surface around the queue, in real Chromium against the dev
// collector: identity, sessions, context, consent, plugins and debug logging.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { useHarness, waitFor } from './harness.mjs';

const harness = useHarness();
let h;
beforeEach(() => {
  h = harness();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const settle = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens the test page again in the same context (a reload or a second tab). */
async function reopen(context, config = {}) {
  return (await h.open(config, { context })).page;
}

async function flushed(page, script) {
  return page.evaluate(async (source) => {
    await analytics.ready;
    // eslint-disable-next-line no-new-func
    await new Function(source)();
    return analytics.flush();
  }, script);
}

test('anonymousId is a UUID made once, kept across reloads, and sent on every event', async () => {
  const { page, context } = await h.open({});
  await flushed(page, "analytics.track('A'); analytics.track('B');");
  const again = await reopen(context);
  await flushed(again, "analytics.track('C');");
  const events = await waitFor(() => h.collector.events().length >= 3 && h.collector.events(), { what: '3 events' });
  const ids = new Set(events.map((e) => e.anonymousId));
  assert.equal(ids.size, 1, `one anonymousId across the reload: ${[...ids]}`);
  assert.match([...ids][0], UUID);
  assert.equal(await again.evaluate(() => analytics.user().anonymousId), [...ids][0]);
  await context.close();
});

test('identify persists userId and traits across a reload; later events carry the userId', async () => {
  const { page, context } = await h.open({});
  await flushed(page, "analytics.identify('user-1', { plan: 'pro' }); analytics.identify({ seats: 3 });");
  const again = await reopen(context);
  assert.deepEqual(await again.evaluate(() => analytics.user().traits), { plan: 'pro', seats: 3 });
  await flushed(again, "analytics.track('After Reload');");
  const events = await waitFor(() => h.collector.events().length >= 3 && h.collector.events(), { what: '3 events' });
  assert.deepEqual(events[1].traits, { plan: 'pro', seats: 3 }, 'identify traits merge');
  assert.equal(events[2].userId, 'user-1');
  await context.close();
});

test('identify with a different userId starts from no traits', async () => {
  const { page, context } = await h.open({});
  await flushed(page, "analytics.identify('user-1', { plan: 'pro' }); analytics.identify('user-2', { role: 'admin' });");
  const events = await waitFor(() => h.collector.events().length >= 2 && h.collector.events(), { what: '2 events' });
  assert.equal(events[1].userId, 'user-2');
  assert.deepEqual(events[1].traits, { role: 'admin' });
  await context.close();
});

test('reset() forgets userId, traits and group and makes a new anonymousId, persisted', async () => {
  const { page, context } = await h.open({});
  const before = await page.evaluate(async () => {
    await analytics.ready;
    analytics.identify('user-1', { plan: 'pro' });
    analytics.group('acme', { size: 10 });
    const user = analytics.user();
    analytics.reset();
    analytics.track('Logged Out');
    await analytics.flush();
    return user;
  });
  const again = await reopen(context);
  const after = await again.evaluate(() => analytics.user());
  assert.equal(after.userId, null);
  assert.deepEqual(after.traits, {});
  assert.match(after.anonymousId, UUID);
  assert.notEqual(after.anonymousId, before.anonymousId);
  const events = await waitFor(() => h.collector.events().length >= 3 && h.collector.events(), { what: '3 events' });
  const loggedOut = events.find((e) => e.event === 'Logged Out');
  assert.equal(loggedOut.userId, undefined);
  assert.equal(loggedOut.anonymousId, after.anonymousId);
  await context.close();
});

test('group persists the group and merges its traits; alias links the current userId by default', async () => {
  const { page, context } = await h.open({});
  await flushed(page, "analytics.identify('user-1', { plan: 'pro' }); analytics.group('acme', { size: 10 }); analytics.group('acme', { plan: 'team' }); analytics.alias('user-1-new');");
  const events = await waitFor(() => h.collector.events().length >= 4 && h.collector.events(), { what: '4 events' });
  const [, first, second, alias] = events;
  assert.equal(first.groupId, 'acme');
  assert.deepEqual(second.traits, { size: 10, plan: 'team' });
  assert.equal(alias.type, 'alias');
  assert.equal(alias.previousId, 'user-1');
  assert.equal(alias.userId, 'user-1-new');
  assert.deepEqual(await page.evaluate(() => analytics.user()), { userId: 'user-1-new', anonymousId: alias.anonymousId, traits: { plan: 'pro' } }, 'the same person: traits stay');
  await context.close();
});

test('with cookieDomain, a page whose localStorage is empty (another subdomain) finds the visitor in the cookie', async () => {
  const { page, context } = await h.open({ cookieDomain: '127.0.0.1' });
  const first = await page.evaluate(() => {
    analytics.identify('user-7');
    return analytics.user();
  });
  assert.match(await page.evaluate(() => document.cookie), /aw_anonymous_id=/);
  await page.evaluate(() => localStorage.clear());
  const again = await reopen(context, { cookieDomain: '127.0.0.1' });
  const second = await again.evaluate(() => analytics.user());
  assert.equal(second.anonymousId, first.anonymousId);
  assert.equal(second.userId, 'user-7');
  const without = await reopen(await h.browser.newContext());
  assert.notEqual(await without.evaluate(() => analytics.user().anonymousId), first.anonymousId);
  await context.close();
});

test('events carry a sessionId in context, the same across a reload within the timeout', async () => {
  const { page, context } = await h.open({});
  await flushed(page, "analytics.track('One');");
  // A reload of the same tab (a second tab opened at once may not see this
  // one's localStorage write yet: Chromium hands it over asynchronously).
  await page.reload();
  await flushed(page, "analytics.track('Two');");
  // By name: a page another test left open may still send its own events.
  const named = (name) => h.collector.events().find((e) => e.event === name);
  const [one, two] = await waitFor(() => named('One') && named('Two') && [named('One'), named('Two')], { what: 'One and Two' });
  assert.ok(Number.isSafeInteger(one.context.sessionId), `sessionId ${one.context.sessionId}`);
  assert.equal(two.context.sessionId, one.context.sessionId);
  assert.equal(await page.evaluate(() => analytics.metrics().sessionId), one.context.sessionId);
  await context.close();
});

test('a session idle longer than sessionTimeoutMs ends: the next event starts a new one', async () => {
  const { page, context } = await h.open({ sessionTimeoutMs: 60_000 });
  const first = await page.evaluate(() => analytics.metrics().sessionId);
  // The visitor was last active 61 s ago (in this tab or any other).
  await page.evaluate(() => {
    const stored = JSON.parse(localStorage.getItem('aw:session'));
    const idle = { id: stored.id - 61_000, lastActivity: Date.now() - 61_000 };
    localStorage.setItem('aw:session', JSON.stringify(idle));
  });
  const again = await reopen(context, { sessionTimeoutMs: 60_000 });
  const second = await again.evaluate(() => analytics.metrics().sessionId);
  assert.ok(second > first, `a new session started: ${first} → ${second}`);
  await context.close();
});

test('context holds library, page, userAgent, locale, timezone and screen; page() refreshes the page fields', async () => {
  const { page, context, url } = await h.open({});
  await flushed(page, `
    analytics.track('Before');
    history.pushState({}, '', '/pricing?plan=pro');
    document.title = 'Pricing';
    analytics.track('Same Page View');
    analytics.page('Pricing');
    analytics.track('After');
  `);
  const events = await waitFor(() => h.collector.events().length >= 4 && h.collector.events(), { what: '4 events' });
  const [before, same, pageEvent, after] = events;
  const c = before.context;
  assert.equal(c.library.name, 'analytics-wasm');
  assert.match(c.library.version, /^\d+\.\d+\.\d+/);
  // The test page takes its set-up (`init`) out of its URL before anything reads it.
  assert.equal(c.page.url, url.replace(/&init=[^&]*/, ''));
  assert.equal(c.page.path, '/');
  assert.equal(c.page.title, 'analytics-wasm test page');
  assert.equal(c.page.referrer, '');
  assert.match(c.userAgent, /Chrome/);
  assert.ok(c.locale, 'locale');
  assert.ok(c.timezone, 'timezone');
  assert.ok(c.screen.width > 0 && c.screen.height > 0 && c.screen.density > 0, JSON.stringify(c.screen));
  assert.deepEqual(same.context, before.context, 'computed once per page view, not per event');
  for (const event of [pageEvent, after]) {
    assert.equal(event.context.page.path, '/pricing');
    assert.equal(event.context.page.search, '?plan=pro');
    assert.equal(event.context.page.title, 'Pricing');
  }
  await context.close();
});

test('the timezone is read from Temporal at each page, correct at the first event even when another is remembered', async () => {
  const { page, context } = await h.open({});
  const real = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
  await page.evaluate(() => {
    localStorage.setItem('aw:timezone', 'Etc/Stale');
    localStorage.removeItem('aw:session');
  });
  // `early=1`: one event tracked in the task that creates the client.
  const { page: again } = await h.open({}, { context, query: '&early=1' });
  await again.evaluate(() => analytics.flush());
  const [event] = await waitFor(() => h.collector.events().length >= 1 && h.collector.events(), { what: '1 event' });
  assert.equal(event.event, 'Early');
  assert.equal(event.context.timezone, real);
  await context.close();
});

// Engines without Temporal (WebKit): Intl's answer, remembered. Temporal is
// removed before the package loads.
const WITHOUT_TEMPORAL = () => delete globalThis.Temporal;

test('without Temporal, the timezone is worked out at the first event, not before ready', async () => {
  const { page, context } = await h.open({}, { init: WITHOUT_TEMPORAL });
  await page.evaluate(() => analytics.ready);
  assert.equal(await page.evaluate(() => typeof Temporal), 'undefined');
  assert.equal(await page.evaluate(() => localStorage.getItem('aw:timezone')), null, 'ready did not wait for it');
  await flushed(page, "analytics.track('First');");
  const real = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
  assert.equal(await page.evaluate(() => localStorage.getItem('aw:timezone')), real);
  const [event] = await waitFor(() => h.collector.events().length >= 1 && h.collector.events(), { what: '1 event' });
  assert.equal(event.context.timezone, real);
  await context.close();
});

test('without Temporal, the timezone is remembered, and checked again when idle at the start of a session', async () => {
  const { page, context } = await h.open({}, { init: WITHOUT_TEMPORAL });
  await flushed(page, "analytics.track('First');");
  const real = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
  assert.equal(await page.evaluate(() => localStorage.getItem('aw:timezone')), real);
  h.collector.reset();
  // The visitor travelled: a stale timezone is remembered, and a new session starts.
  await page.evaluate(() => {
    localStorage.setItem('aw:timezone', 'Etc/Stale');
    localStorage.removeItem('aw:session');
  });
  // `early=1`: one event tracked in the task that creates the client.
  const { page: again } = await h.open({}, { context, query: '&early=1', init: WITHOUT_TEMPORAL });
  await again.evaluate(async () => {
    await analytics.ready;
    // Until the idle check has run (it may wait for the page to be idle,
    // up to 5 s), which it does once the first event is recorded.
    for (let waited = 0; localStorage.getItem('aw:timezone') === 'Etc/Stale' && waited < 10_000; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    analytics.track('After Idle');
    await analytics.flush();
  });
  const events = await waitFor(() => h.collector.events().length >= 2 && h.collector.events(), { what: '2 events' });
  assert.equal(events[0].event, 'Early');
  assert.equal(events[0].context.timezone, 'Etc/Stale', 'the remembered value is used at once');
  assert.equal(events[1].context.timezone, real, 'the idle check corrected it');
  assert.equal(await again.evaluate(() => localStorage.getItem('aw:timezone')), real);
  await context.close();
});

test('optOut() clears the queue and what is persisted, sends nothing, and is remembered across reloads', async () => {
  h.collector.setFault({ status: 503 });
  const { page, context } = await h.open({ flushAt: 1000 });
  await page.evaluate(async () => {
    await analytics.ready;
    for (let i = 0; i < 10; i++) analytics.track('Before Opt-Out', { i });
    await analytics.flush(); // fails (503): the events stay queued, and no beacon is tried on close
    await new Promise((resolve) => setTimeout(resolve, 500)); // persisted
    await analytics.optOut();
    analytics.track('While Opted Out');
  });
  const out = await page.evaluate(() => analytics.metrics());
  assert.equal(out.optedOut, true);
  assert.equal(out.pending, 0);
  // Closing the tab would leave any persisted events to the next tab.
  await page.close();
  h.collector.setFault({});
  const again = await reopen(context);
  const reloaded = await again.evaluate(async () => {
    await analytics.ready;
    analytics.track('Still Opted Out');
    return {
      optedOut: analytics.metrics().optedOut,
      wasmFetched: performance.getEntriesByType('resource').some((r) => r.name.endsWith('.wasm')),
    };
  });
  assert.deepEqual(reloaded, { optedOut: true, wasmFetched: false }, 'an opted-out page does not even load the wasm');
  await again.evaluate(async () => {
    analytics.optIn();
    await analytics.ready;
    analytics.track('Opted In');
    await analytics.flush();
  });
  const events = await waitFor(() => h.collector.events().length >= 1 && h.collector.events(), { what: 'the opted-in event' });
  await settle(300);
  assert.deepEqual(h.collector.events().map((e) => e.event), ['Opted In'], 'nothing from before the opt-out came back');
  assert.equal(events[0].type, 'track');
  assert.equal(await again.evaluate(() => analytics.metrics().adoptedEvents), 0);
  await context.close();
});

test('optOut() in one tab stops and clears the other open tabs, and optIn() resumes them', async () => {
  h.collector.setFault({ status: 503 });
  const { page: first, context } = await h.open({ flushAt: 1000 });
  const second = await reopen(context, { flushAt: 1000 });
  await second.evaluate(async () => {
    await analytics.ready;
    for (let i = 0; i < 5; i++) analytics.track('In Second Tab', { i });
  });
  await first.evaluate(async () => {
    await analytics.ready;
    await analytics.optOut();
  });
  await waitFor(() => second.evaluate(() => analytics.metrics().optedOut), { what: 'the second tab to hear of the opt-out' });
  h.collector.setFault({});
  await second.evaluate(() => {
    analytics.track('Ignored');
    return analytics.flush();
  });
  await settle(300);
  assert.equal(h.collector.events().length, 0);
  // And optIn() in one tab lets the others send again.
  await first.evaluate(() => analytics.optIn());
  await waitFor(async () => !(await second.evaluate(() => analytics.metrics().optedOut)), { what: 'the second tab to hear of the opt-in' });
  await second.evaluate(async () => {
    await analytics.ready;
    analytics.track('After Opt-In');
    await analytics.flush();
  });
  await waitFor(() => h.collector.events().length >= 1, { what: 'the event tracked after opting in' });
  assert.deepEqual(h.collector.events().map((e) => e.event), ['After Opt-In']);
  await context.close();
});

test('optOutByDefault: nothing is queued until optIn(), and the choice is remembered', async () => {
  const { page, context } = await h.open({ optOutByDefault: true });
  await page.evaluate(async () => {
    analytics.track('Before Consent');
    await analytics.flush();
  });
  assert.equal(await page.evaluate(() => analytics.metrics().optedOut), true);
  await page.evaluate(async () => {
    analytics.optIn();
    analytics.track('After Consent');
    await analytics.ready;
    await analytics.flush();
  });
  const again = await reopen(context, { optOutByDefault: true });
  assert.equal(await again.evaluate(() => analytics.metrics().optedOut), false, 'optIn() is remembered');
  const events = await waitFor(() => h.collector.events().length >= 1 && h.collector.events(), { what: '1 event' });
  await settle(200);
  assert.deepEqual(h.collector.events().map((e) => e.event), ['After Consent']);
  assert.equal(events.length, 1);
  await context.close();
});

test('respectPrivacySignals: Global Privacy Control opts out, and optIn() cannot override it', async () => {
  const context = await h.browser.newContext();
  await context.addInitScript(() => Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true }));
  const { page } = await h.open({ respectPrivacySignals: true }, { context });
  await page.evaluate(async () => {
    analytics.optIn();
    analytics.track('Never Sent');
    await analytics.flush();
  });
  assert.equal(await page.evaluate(() => analytics.metrics().optedOut), true);
  const ignoring = await reopen(context, {});
  await flushed(ignoring, "analytics.track('Signal Not Honoured');");
  const events = await waitFor(() => h.collector.events().length >= 1 && h.collector.events(), { what: '1 event' });
  assert.deepEqual(events.map((e) => e.event), ['Signal Not Honoured'], 'without the option the signal is not applied');
  await context.close();
});

test('plugins run in order, can change or drop an event, and one that throws is reported and skipped', async () => {
  const { page, context } = await h.open({});
  const errors = await page.evaluate(async () => {
    await analytics.ready;
    analytics
      .use({ name: 'stamp', beforeSend(event) { event.properties = { ...event.properties, order: ['stamp'] }; } })
      .use({ name: 'broken', beforeSend() { throw new Error('boom'); } })
      .use({ name: 'second', beforeSend(event) { event.properties.order.push('second'); event.context.app = { name: 'shop' }; return event; } })
      .use({ name: 'filter', beforeSend(event) { return event.event === 'Secret' ? null : event; } });
    analytics.track('Visible', { a: 1 });
    analytics.track('Secret', { a: 2 });
    await analytics.flush();
    return window.errors;
  });
  const events = await waitFor(() => h.collector.events().length >= 1 && h.collector.events(), { what: '1 event' });
  await settle(200);
  assert.equal(h.collector.events().length, 1, 'the filtered event was dropped');
  assert.deepEqual(events[0].properties, { a: 1, order: ['stamp', 'second'] });
  assert.deepEqual(events[0].context.app, { name: 'shop' }, 'plugins may change context');
  assert.equal(errors.length, 2, JSON.stringify(errors));
  assert.equal(errors[0].type, 'plugin');
  assert.match(errors[0].message, /plugin "broken" threw \(boom\)/);
  await context.close();
});

test('use() refuses something that is not a plugin, naming what one is, without throwing', async () => {
  const { page, context } = await h.open({});
  const result = await page.evaluate(() => {
    try {
      const returned = analytics.use(() => {});
      return { thrown: null, chained: returned === analytics, errors: window.errors };
    } catch (error) {
      return { thrown: error.message };
    }
  });
  assert.equal(result.thrown, null);
  assert.equal(result.chained, true);
  assert.match(result.errors[0].message, /a plugin is an object with a beforeSend\(event\) function, got a function/);
  assert.equal(result.errors[0].type, 'input');
  await context.close();
});

test('debug: an event dropped for its age is logged with the reason', async () => {
  const context = await h.browser.newContext();
  // A closed tab left an event 8 days old in localStorage (the record form of src/core/record.rs).
  await context.addInitScript(() => {
    if (sessionStorage.getItem('seeded')) return;
    sessionStorage.setItem('seeded', '1');
    const id = '00000000-0000-4000-8000-000000000001';
    const old = Date.now() - 8 * 24 * 3600 * 1000;
    const json = JSON.stringify({ type: 'track', event: 'Old', properties: {}, messageId: id, anonymousId: 'a', timestamp: new Date(old).toISOString() });
    localStorage.setItem(`analytics-wasm:deadbeefdeadbeef:e:${id}`, `0\t${id}\t${old}\t${json}`);
  });
  const { page } = await h.open({ debug: true, storage: 'localstorage' }, { context });
  const lines = [];
  page.on('console', (message) => {
    if (message.type() === 'debug') lines.push(message.text());
  });
  const metrics = await page.evaluate(async () => {
    await analytics.ready;
    analytics.track('New');
    await analytics.flush();
    return analytics.metrics();
  });
  assert.equal(metrics.droppedExpired, 1);
  // Console messages reach the test asynchronously.
  await waitFor(() => /dropped 1 event\(s\) older than maxEventAgeMs/.test(lines.join('\n')), { what: 'the age line' });
  assert.deepEqual(h.collector.events().map((e) => e.event), ['New']);
  await context.close();
});

test('debug: true logs each decision to the console; off by default it logs nothing', async () => {
  h.collector.setFault({ status: 503 });
  const { page, context } = await h.open({ debug: true, retryBaseMs: 50 });
  const lines = [];
  page.on('console', (message) => {
    if (message.type() === 'debug') lines.push(message.text());
  });
  await page.evaluate(async () => {
    await analytics.ready;
    analytics.use({ name: 'filter', beforeSend: (event) => (event.event === 'Dropped' ? null : event) });
    analytics.track('Logged');
    analytics.track('Dropped');
    await analytics.flush();
  });
  h.collector.setFault({});
  await waitFor(() => h.collector.events().length >= 1, { what: 'the retried event' });
  await waitFor(() => lines.some((l) => /1 sent/.test(l)), { what: 'the sent line' });
  const log = lines.join('\n');
  assert.match(log, /queued [0-9a-f-]{36} \(1 pending\)/);
  assert.match(log, /dropped by plugin "filter": track Dropped/);
  assert.match(log, /batch \d+: sending 1 event\(s\), \d+ bytes, by fetch/);
  assert.match(log, /batch \d+: 0 sent, 0 dropped \(rejected\), 1 re-queued; retry in \d+ ms/);
  assert.match(log, /batch \d+: 1 sent/);

  const quiet = await reopen(context, {});
  const quietLines = [];
  quiet.on('console', (message) => {
    if (message.type() === 'debug') quietLines.push(message.text());
  });
  await flushed(quiet, "analytics.track('Quiet');");
  assert.deepEqual(quietLines, []);
  await context.close();
});
