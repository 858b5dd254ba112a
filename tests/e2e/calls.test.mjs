// The calls people bring from analytics.js: every argument form, the
// per-call options, and what each call returns, checked in Chromium, Firefox
// and WebKit against the collector's wire bodies (which the harness also
// holds to Segment's own rules: tests/support/segment.mjs).
import { beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useHarness, waitFor } from './harness.mjs';
import { BROWSERS } from '../support/browsers/index.mjs';

let h;

for (const browser of BROWSERS) {
  describe(browser, () => {
    const harness = useHarness({ browserName: browser });
    beforeEach(() => {
      h = harness();
    });

    /** Runs `calls` (page code, with `analytics` and `record`) after ready, flushes, and returns the events received and what the page recorded. */
    async function run(calls, { count, config = {} }) {
      const { page, context } = await h.open(config);
      const recorded = await page.evaluate(async (source) => {
        await analytics.ready;
        const record = [];
        await (0, eval)(`(async (analytics, record) => { ${source} })`)(analytics, record);
        await analytics.flush();
        return { record, errors: window.errors.map((e) => `${e.type}: ${e.message}`) };
      }, calls);
      const events = await waitFor(() => h.collector.events().length >= count && h.collector.events(), { what: `${count} events` });
      await context.close();
      return { events, ...recorded };
    }

    /** An event without what differs per load (ids, times, context), for exact comparison. */
    const wire = ({ messageId, timestamp, anonymousId, context, receivedAt, sentAt, transport, ...rest }) => rest;

    test('track(event, properties, options): the options shape that one event on the wire', async () => {
      const { events } = await run(
        `analytics.track('Backfilled', { a: 1 }, {
           timestamp: new Date('2026-01-02T03:04:05.678Z'),
           messageId: 'order-77-completed',
           userId: 'u-override',
           anonymousId: 'anon-override',
           context: { app: { name: 'shop' }, page: { title: 'Checkout' } },
           integrations: { All: false, Mixpanel: true },
         });
         analytics.track('Plain');`,
        { count: 2 },
      );
      const [backfilled, plain] = events;
      assert.deepEqual(wire(backfilled), { type: 'track', event: 'Backfilled', integrations: { All: false, Mixpanel: true }, properties: { a: 1 }, userId: 'u-override' });
      assert.equal(backfilled.messageId, 'order-77-completed');
      assert.equal(backfilled.timestamp, '2026-01-02T03:04:05.678Z');
      assert.equal(backfilled.anonymousId, 'anon-override');
      assert.deepEqual(backfilled.context.app, { name: 'shop' }, 'context is merged in');
      assert.equal(backfilled.context.page.title, 'Checkout', 'a nested field is replaced');
      assert.equal(backfilled.context.page.url, plain.context.page.url, 'the rest of the page context stays');
      assert.deepEqual(wire(plain), { type: 'track', event: 'Plain', properties: {} }, 'the next event has none of it');
      assert.notEqual(plain.anonymousId, 'anon-override');
      assert.equal(plain.context.app, undefined);
    });

    test('a callback may come second, third or fourth, and hears once that its event was delivered', async () => {
      const { events, record } = await run(
        `const heard = (name) => (outcome) => record.push([name, outcome.status, typeof outcome.messageId]);
         analytics.track('Second', heard('second'));
         analytics.track('Third', { n: 3 }, heard('third'));
         analytics.track('Fourth', { n: 4 }, { integrations: {} }, heard('fourth'));
         await new Promise((resolve) => setTimeout(resolve, 0));`,
        { count: 3 },
      );
      assert.deepEqual(events.map(wire), [
        { type: 'track', event: 'Second', properties: {} },
        { type: 'track', event: 'Third', properties: { n: 3 } },
        { type: 'track', event: 'Fourth', integrations: {}, properties: { n: 4 } },
      ]);
      assert.deepEqual(record.sort(), [['fourth', 'delivered', 'string'], ['second', 'delivered', 'string'], ['third', 'delivered', 'string']]);
    });

    test('each call returns an outcome to await: delivered, dropped with the reason, or refused; none rejects', async () => {
      h.collector.setFault({ rejectEvents: ['Rejected'] });
      const { record } = await run(
        `const delivered = analytics.track('Delivered');
         const rejected = analytics.track('Rejected');
         const refused = analytics.track('', { a: 1 });
         record.push(typeof delivered.messageId, delivered.messageId === rejected.messageId, refused.messageId);
         await analytics.flush();
         for (const outcome of [delivered, rejected, refused]) record.push(await outcome);`,
        { count: 1 },
      );
      const [idType, same, refusedId, delivered, rejected, refused] = record;
      assert.equal(idType, 'string');
      assert.equal(same, false);
      assert.equal(refusedId, null);
      assert.equal(delivered.status, 'delivered');
      assert.equal(delivered.reason, undefined);
      assert.equal(rejected.status, 'dropped');
      assert.match(rejected.reason, /rejected by the collector: event name "Rejected" is refused/);
      assert.equal(refused.status, 'refused');
      assert.match(refused.reason, /track\(\): event must be a non-empty string/);
    });

    test('page takes every analytics.js form and sends name and category as analytics.js does', async () => {
      const { events } = await run(
        `analytics.page();
         analytics.page('Pricing');
         analytics.page('Docs', 'Install');
         analytics.page({ plan: 'pro' });
         analytics.page('Pricing', { plan: 'team' });
         analytics.page('Docs', 'API', { section: 2 }, { integrations: { All: true } });`,
        { count: 6 },
      );
      const { path, referrer, search, title, url } = events[0].context.page;
      const own = { path, referrer, search, title, url };
      assert.deepEqual(events.map(wire), [
        { type: 'page', properties: own },
        { type: 'page', name: 'Pricing', properties: { ...own, name: 'Pricing' } },
        { type: 'page', name: 'Install', category: 'Docs', properties: { ...own, category: 'Docs', name: 'Install' } },
        { type: 'page', properties: { ...own, plan: 'pro' } },
        { type: 'page', name: 'Pricing', properties: { ...own, plan: 'team', name: 'Pricing' } },
        { type: 'page', name: 'API', category: 'Docs', integrations: { All: true }, properties: { ...own, section: 2, category: 'Docs', name: 'API' } },
      ]);
    });

    test('identify, group and alias take their analytics.js forms, with options and callbacks', async () => {
      const { events, record } = await run(
        `const heard = (name) => (outcome) => record.push([name, outcome.status]);
         analytics.identify({ plan: 'free' });
         analytics.identify('user-1', { plan: 'pro' }, { timestamp: '2026-03-04T05:06:07.000Z' }, heard('identify'));
         analytics.group('acme', { size: 10 }, { integrations: { Salesforce: true } });
         analytics.group('beta', heard('group'));
         analytics.alias('user-2', { messageId: 'alias-1' });
         analytics.alias('user-3', 'user-2', heard('alias'));
         await new Promise((resolve) => setTimeout(resolve, 0));`,
        { count: 6 },
      );
      assert.deepEqual(events.map(wire), [
        { type: 'identify', traits: { plan: 'free' } },
        { type: 'identify', traits: { plan: 'pro' }, userId: 'user-1' },
        { type: 'group', groupId: 'acme', integrations: { Salesforce: true }, traits: { size: 10 }, userId: 'user-1' },
        { type: 'group', groupId: 'beta', traits: {}, userId: 'user-1' },
        { type: 'alias', previousId: 'user-1', userId: 'user-2' },
        { type: 'alias', previousId: 'user-2', userId: 'user-3' },
      ]);
      assert.equal(events[1].timestamp, '2026-03-04T05:06:07.000Z');
      assert.equal(events[4].messageId, 'alias-1');
      assert.deepEqual(record.sort(), [['alias', 'delivered'], ['group', 'delivered'], ['identify', 'delivered']]);
    });

    test('a bad option refuses that event with an input error naming it; nothing throws and the others arrive', async () => {
      const { events, record, errors } = await run(
        `const calls = [
           () => analytics.track('Bad Time', {}, { timestamp: 'yesterday' }),
           () => analytics.track('Bad Date', {}, { timestamp: new Date('nonsense') }),
           () => analytics.track('Bad Id', {}, { messageId: 5 }),
           () => analytics.track('Bad Context', {}, { context: 'app' }),
           () => analytics.track('Bad Options', {}, 'options'),
           () => analytics.track('First', {}, { messageId: 'same' }),
           () => analytics.track('Again', {}, { messageId: 'same' }),
           () => analytics.track('Fine'),
         ];
         const outcomes = [];
         for (const call of calls) {
           try { outcomes.push(call()); } catch (error) { record.push('thrown: ' + error); }
         }
         await analytics.flush();
         for (const outcome of outcomes) record.push((await outcome).status);`,
        { count: 2 },
      );
      assert.deepEqual(record, ['refused', 'refused', 'refused', 'refused', 'refused', 'delivered', 'refused', 'delivered']);
      assert.deepEqual(events.map((e) => e.event), ['First', 'Fine']);
      const input = errors.filter((e) => e.startsWith('input: '));
      assert.equal(input.length, 6, JSON.stringify(errors));
      for (const named of ['options.timestamp must be a Date or an ISO 8601 string, got a string', 'options.timestamp must be a Date or an ISO 8601 string, got null', 'options.messageId must be a string', 'options.context must be an object', 'options must be a plain object', 'options.messageId "same" is already queued']) {
        assert.ok(input.some((e) => e.includes(named)), `${named} in ${JSON.stringify(input)}`);
      }
    });

    test('register merges super properties into every later track (its own properties win), persisted until unregister or reset', async () => {
      const { page, context } = await h.open({});
      await page.evaluate(async () => {
        await analytics.ready;
        analytics.register({ plan: 'pro', app: 'web' });
        analytics.track('A', { plan: 'team' });
        analytics.registerOnce({ app: 'ignored', tier: 1 });
        analytics.unregister('app');
        analytics.track('B');
        analytics.page('Not Merged');
        await analytics.flush();
      });
      await page.reload();
      await page.evaluate(async () => {
        await analytics.ready;
        analytics.track('C', { extra: true });
        analytics.reset();
        analytics.track('D');
        await analytics.flush();
      });
      const events = await waitFor(() => h.collector.events().length >= 5 && h.collector.events(), { what: '5 events' });
      const byName = Object.fromEntries(events.map((e) => [e.event ?? e.name, e.properties]));
      assert.deepEqual(byName.A, { plan: 'team', app: 'web' });
      assert.deepEqual(byName.B, { plan: 'pro', tier: 1 });
      assert.equal(byName['Not Merged'].plan, undefined, 'only track events carry them');
      assert.deepEqual(byName.C, { plan: 'pro', tier: 1, extra: true }, 'kept across a reload');
      assert.deepEqual(byName.D, {}, 'reset forgets them');
      await context.close();
    });

    test('context.campaign comes from the landing page utm_* parameters and is kept for the session', async () => {
      const { page, context } = await h.open({}, { query: '&utm_source=newsletter&utm_campaign=spring&utm_medium=email&utm_term=shoes&utm_content=hero' });
      await page.evaluate(async () => {
        await analytics.ready;
        analytics.track('Landed');
        history.pushState({}, '', '/pricing');
        analytics.page('Pricing');
        await analytics.flush();
      });
      const other = await h.open({});
      await other.page.evaluate(async () => {
        await analytics.ready;
        analytics.track('Direct');
        await analytics.flush();
      });
      const events = await waitFor(() => h.collector.events().length >= 3 && h.collector.events(), { what: '3 events' });
      const campaign = { name: 'spring', source: 'newsletter', medium: 'email', term: 'shoes', content: 'hero' };
      assert.deepEqual(events[0].context.campaign, campaign);
      assert.deepEqual(events[1].context.campaign, campaign, 'a later page of the session keeps it');
      assert.equal(events[2].context.campaign, undefined, 'another visitor came directly');
      if (browser === 'chromium') {
        assert.ok(Array.isArray(events[0].context.userAgentData.brands), 'Chromium gives its low-entropy client hints');
        assert.equal(typeof events[0].context.userAgentData.mobile, 'boolean');
      } else {
        assert.equal(events[0].context.userAgentData, undefined, 'Firefox and WebKit have none');
      }
      await context.close();
      await other.context.close();
    });

    test('anonymousIdCookie: the id the site server set in a first-party cookie is preferred over localStorage', async () => {
      const init = () => {
        document.cookie = 'ajs_anonymous_id=server-visitor-1; Path=/';
        localStorage.setItem('aw:anonymousId', 'script-visitor');
      };
      const { page, context } = await h.open({ anonymousIdCookie: 'ajs_anonymous_id' }, { init });
      const user = await page.evaluate(async () => {
        await analytics.ready;
        analytics.track('Seen');
        await analytics.flush();
        return analytics.user();
      });
      const [event] = await waitFor(() => h.collector.events().length >= 1 && h.collector.events(), { what: '1 event' });
      assert.equal(user.anonymousId, 'server-visitor-1');
      assert.equal(event.anonymousId, 'server-visitor-1');
      await context.close();
    });

    test('options.priority other than high or normal refuses that event, naming the option', async () => {
      const { events, record, errors } = await run(
        `record.push((await analytics.track('Urgent', {}, { priority: 'urgent' })).status);
         analytics.track('Fine', {}, { priority: 'normal' });`,
        { count: 1 },
      );
      assert.deepEqual(record, ['refused']);
      assert.deepEqual(events.map((e) => e.event), ['Fine']);
      assert.ok(errors.some((e) => e.includes('track(): options.priority must be "high" or "normal", got a string of 6 characters')), JSON.stringify(errors));
    });

    test('opting out settles the outcome of every event still queued as dropped', async () => {
      h.collector.setFault({ status: 503 });
      const { record } = await run(
        `const queued = analytics.track('Waiting');
         await analytics.optOut();
         record.push(await queued, await analytics.track('After'));
         analytics.optIn();
         await analytics.ready;
         analytics.track('Counted');
         await new Promise((resolve) => setTimeout(resolve, 0));`,
        { count: 0 },
      );
      const [waiting, after] = record;
      assert.deepEqual({ status: waiting.status, reason: waiting.reason }, { status: 'dropped', reason: 'opted out' });
      assert.deepEqual({ status: after.status, reason: after.reason, messageId: after.messageId }, { status: 'refused', reason: 'opted out', messageId: null });
    });

    test("options.priority 'high': on overflow every normal event goes before it", async () => {
      h.collector.setFault({ status: 503 });
      const { page, context } = await h.open({ maxQueueEvents: 3, retryBaseMs: 50 });
      const dropped = await page.evaluate(async () => {
        await analytics.ready;
        const purchase = analytics.track('Purchase', { total: 9 }, { priority: 'high' });
        const normal = [1, 2, 3, 4].map((i) => analytics.track(`Browse ${i}`));
        const early = await Promise.all(normal.slice(0, 2));
        return { statuses: early.map((o) => o.status), purchase: purchase.messageId };
      });
      h.collector.setFault({});
      await page.evaluate(() => analytics.flush());
      const events = await waitFor(() => h.collector.events().length >= 3 && h.collector.events(), { what: '3 events' });
      assert.deepEqual(dropped.statuses, ['dropped', 'dropped'], 'the two oldest normal events went first');
      assert.deepEqual(events.map((e) => e.event).sort(), ['Browse 3', 'Browse 4', 'Purchase']);
      assert.equal(events.find((e) => e.event === 'Purchase').messageId, dropped.purchase);
      await context.close();
    });
  });
}
