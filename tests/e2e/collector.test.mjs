// The SDK against the project's collector (collector/, the Rust binary),
// in every browser: steady traffic, a page going away, a reload and two
// tabs. Each test starts its own collector on a fresh SQLite file and
// counts what it stored: the rows, the distinct messageIds (the same
// number, or an event was stored twice), and the copies it dropped. In
// Chromium it runs a second time with the core compiled to JavaScript.
import { describe, test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { countStored, startHarness, waitFor, waitForStored, wayOut } from './harness.mjs';
import { BROWSERS } from '../support/browsers/index.mjs';
import { startCollectorProcess } from '../../scripts/lib/collector-process.mjs';

const WRITE_KEY = 'e2e';

const RUNS = BROWSERS.map((browserName) => ({ browserName, core: 'wasm' }));
if (BROWSERS.includes('chromium')) RUNS.push({ browserName: 'chromium', core: 'js' });

for (const { browserName, core } of RUNS) {
  const label = core === 'js' ? `${browserName}, core in JS` : browserName;
  describe(`${label}, against analytics-collector`, () => {
    let h;
    let collector;
    // The harness reads the endpoint at each page it opens: this test's collector.
    const current = { get endpoint() { return collector.endpoint; } };
    before(async () => {
      h = await startHarness({ browserName, core, collector: current });
    });
    after(async () => {
      await h?.close();
    });
    beforeEach(async () => {
      collector = await startCollectorProcess({ writeKeys: [WRITE_KEY] });
    });
    afterEach(async () => {
      await collector?.stop();
    });

    const report = (name, counts) => console.log(`collector ${name} (${label}): ${JSON.stringify(counts)}`);
    const open = (config = {}, options) => h.open({ writeKey: WRITE_KEY, ...config }, options);
    const stored = async () => (await collector.counts(WRITE_KEY)).rows;
    /**
     * Until the page has restored `restored` events (or nothing is left in
     * storage for it to restore) and holds nothing unsent or unconfirmed.
     */
    const settled = async (page, restored) => {
      let m;
      try {
        return await waitFor(async () => {
          m = await page.evaluate(() => analytics.metrics());
          const done = m.pending === 0 && m.inFlight === 0 && m.unconfirmed === 0;
          return done && (m.eventsRestored >= restored || (await countStored(page)) === 0) && m;
        }, { what: `the page to restore ${restored} events and settle everything`, timeoutMs: 30_000 });
      } catch (error) {
        throw new Error(`${error.message}; its metrics: ${JSON.stringify(m)}`);
      }
    };

    test('steady: 1,000 events with 10 properties are stored, once each', async () => {
      const { page, context } = await open();
      await page.evaluate(async () => {
        await analytics.ready;
        for (let i = 0; i < 1000; i++) {
          analytics.track('Steady', { i, plan: 'pro', price: 49.99, currency: 'EUR', trial: false, source: 'pricing', tags: ['a', 'b'], nested: { x: 1 }, experiment: 'v2', step: 3 });
          if (i % 100 === 99) await new Promise((r) => setTimeout(r, 10));
        }
        await analytics.flush();
      });
      assert.equal(await page.evaluate(() => analytics.metrics().core), core, 'the core this run is for');
      await waitFor(async () => (await stored()) === 1000, { what: '1,000 rows', timeoutMs: 30_000 });
      const counts = await collector.counts(WRITE_KEY);
      assert.deepEqual(counts, { rows: 1000, ids: 1000, duplicates: 0 });
      const [row] = collector.query("SELECT type, event, anonymous_id IS NOT NULL AS who, json_extract(message, '$.properties.price') AS price FROM events WHERE write_key = 'e2e' LIMIT 1");
      assert.deepEqual(row, { type: 'track', event: 'Steady', who: 1, price: 49.99 });
      report('steady', counts);
      await context.close();
    });

    for (const how of ['closing', 'navigating away']) {
      test(`a page going away (${how}): the 50 events it tracked last are stored, and the next visit sends no copy`, async () => {
        const { page, context } = await open({ flushAt: 1000, flushIntervalMs: 60_000, receiptGraceMs: 500 });
        await page.evaluate(async () => {
          await analytics.ready;
          for (let i = 0; i < 50; i++) analytics.track('Going Away', { i });
        });
        await waitForStored(page, 50);
        const expected = await wayOut(page);
        if (how === 'closing') await page.close({ runBeforeUnload: true });
        else await page.goto(`${h.site.url}/blank.html`);
        // Firefox closed by BiDi now and then runs no pagehide work (see the
        // reliability suite's scenario 2): the next visit then sends them.
        const next = await open({ receiptGraceMs: 500 }, { context });
        await waitFor(async () => (await stored()) === 50, { what: '50 rows', timeoutMs: 30_000 });
        const later = await settled(next.page, 50);
        const counts = await collector.counts(WRITE_KEY);
        assert.deepEqual(counts, { rows: 50, ids: 50, duplicates: 0 });
        report(`going away, ${how}`, { ...counts, wayOut: expected, confirmedByNextVisit: later.eventsConfirmed, resentByNextVisit: later.eventsResent });
        await context.close();
      });
    }

    test('a reload right after 200 events: all stored once', async () => {
      const { page, context } = await open({ receiptGraceMs: 500 });
      await page.evaluate(async () => {
        await analytics.ready;
        for (let i = 0; i < 200; i++) analytics.track('Reloaded', { i });
      });
      await page.reload();
      await waitFor(async () => (await stored()) === 200, { what: '200 rows', timeoutMs: 30_000 });
      // Whether the reloaded page finds events left to restore is timing: on
      // a busy machine the first page can have every one confirmed before it
      // goes. Either way nothing is stored twice.
      const later = await settled(page, 1);
      const counts = await collector.counts(WRITE_KEY);
      assert.equal(counts.rows, 200);
      assert.equal(counts.ids, 200);
      report('reload', { ...counts, restoredByNextPage: later.eventsRestored, confirmedByNextPage: later.eventsConfirmed, resentByNextPage: later.eventsResent });
      await context.close();
    });

    test('two tabs, 500 events each: 1,000 stored, none twice', async () => {
      const context = await h.browser.newContext();
      const [a, b] = await Promise.all([open({}, { context }), open({}, { context })]);
      const trackIn = (page, tab) =>
        page.evaluate(async (tab) => {
          await analytics.ready;
          for (let i = 0; i < 500; i++) {
            analytics.track('Two Tabs', { tab, i });
            if (i % 100 === 99) await new Promise((r) => setTimeout(r, 10));
          }
          await analytics.flush();
        }, tab);
      await Promise.all([trackIn(a.page, 'A'), trackIn(b.page, 'B')]);
      await waitFor(async () => (await stored()) === 1000, { what: '1,000 rows', timeoutMs: 30_000 });
      const counts = await collector.counts(WRITE_KEY);
      assert.deepEqual(counts, { rows: 1000, ids: 1000, duplicates: 0 });
      const perTab = collector.query("SELECT json_extract(message, '$.properties.tab') AS tab, count(*) AS n FROM events GROUP BY tab ORDER BY tab");
      assert.deepEqual(perTab, [{ tab: 'A', n: 500 }, { tab: 'B', n: 500 }]);
      report('two tabs', counts);
      await context.close();
    });
  });
}
