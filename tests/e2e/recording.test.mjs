// When and where a call becomes an event, in Chromium, Firefox and WebKit:
// recorded in a task after the caller's (at once in a closing page), at
// most maxQueueEvents waiting, and large batch bodies sent from a worker
// (from the page where no worker can start).
import { beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useHarness, waitFor, wayOut } from './harness.mjs';
import { BROWSERS } from '../support/browsers/index.mjs';

let h;

for (const browser of BROWSERS) {
  describe(browser, () => {
    const harness = useHarness({ browserName: browser });
    beforeEach(() => {
      h = harness();
    });

    test('after ready, a burst is recorded in tasks after the caller\'s, in call order, and every event arrives', async () => {
      const { page, context } = await h.open({});
      const { withinTheLoop, seen } = await page.evaluate(async () => {
        await analytics.ready;
        const seen = [];
        analytics.use({ name: 'order', beforeSend: (event) => void seen.push(event.properties.i) });
        for (let i = 0; i < 3000; i++) analytics.track('Burst', { i });
        const withinTheLoop = seen.length;
        await analytics.flush();
        return { withinTheLoop, seen };
      });
      assert.equal(withinTheLoop, 0, 'the caller paid for capturing the calls, not for recording them');
      assert.deepEqual(seen, Array.from({ length: 3000 }, (_, i) => i));
      const events = await waitFor(() => h.collector.events().length >= 3000 && h.collector.events(), { what: '3,000 events' });
      // Batches go out two at a time, so they may arrive in either order: each event once.
      assert.deepEqual(events.map((e) => e.properties.i).sort((a, b) => a - b), Array.from({ length: 3000 }, (_, i) => i));
      await context.close();
    });

    test('no more calls wait to be recorded than the queue may hold (maxQueueEvents): each call beyond it records the oldest waiting one', async () => {
      const { page, context } = await h.open({ maxQueueEvents: 100 });
      const withinTheLoop = await page.evaluate(async () => {
        await analytics.ready;
        let seen = 0;
        analytics.use({ name: 'count', beforeSend: () => void seen++ });
        for (let i = 0; i < 250; i++) analytics.track('Burst', { i });
        return seen;
      });
      assert.equal(withinTheLoop, 150, 'the 150 calls past the first 100 each recorded one; 100 wait');
      await context.close();
    });

    // Counts the page's own fetch() calls to the collector.
    const COUNT_PAGE_FETCHES = () => {
      window.pageFetches = 0;
      const pageFetch = window.fetch;
      window.fetch = (url, init) => {
        if (String(url).includes('/v1/batch')) window.pageFetches++;
        return pageFetch(url, init);
      };
    };
    const LARGE_BURST = async () => {
      await analytics.ready;
      const padding = 'x'.repeat(1000);
      for (let i = 0; i < 1000; i++) analytics.track('Large', { i, padding });
      await analytics.flush();
      return window.pageFetches;
    };

    test('large batch bodies leave from a worker: the page\'s own fetch carries none of them', async () => {
      const { page, context } = await h.open({}, { init: COUNT_PAGE_FETCHES });
      assert.equal(await page.evaluate(LARGE_BURST), 0);
      const events = await waitFor(() => h.collector.events().length >= 1000 && h.collector.events(), { what: '1,000 events' });
      assert.equal(new Set(events.map((e) => e.properties.i)).size, 1000);
      await context.close();
    });

    test('where no worker can start, large batch bodies leave from the page and all arrive', async () => {
      const { page, context } = await h.open({}, { init: `(${COUNT_PAGE_FETCHES})(); delete window.Worker;` });
      assert.ok((await page.evaluate(LARGE_BURST)) >= 2, 'the batches went through the page');
      const events = await waitFor(() => h.collector.events().length >= 1000 && h.collector.events(), { what: '1,000 events' });
      assert.equal(new Set(events.map((e) => e.properties.i)).size, 1000);
      await context.close();
    });

    // A page is hidden by the time its pagehide listeners run in all three
    // browsers, so these calls are recorded within the call; the recorder's
    // own pagehide hand-off covers a browser that fires pagehide first.
    for (const how of ['closing', 'navigating away']) {
      // Firefox closed by WebDriver BiDi delivers no event tracked in pagehide,
      // whether it is recorded within the call or in a later task.
      const skip = browser === 'firefox' && how === 'closing' ? 'Firefox closed by BiDi delivers no event tracked in pagehide, however recorded' : false;
      test(`a call made in a pagehide listener the page added before the SDK's arrives (${how})`, { skip }, async () => {
        // Added before createAnalytics(), so it runs before the SDK's own listeners.
        const init = () => addEventListener('pagehide', () => window.analytics?.track('Leaving'));
        const { page, context } = await h.open({ flushAt: 1000, flushIntervalMs: 60_000 }, { init });
        await page.evaluate(() => analytics.ready);
        if (how === 'closing') await page.close({ runBeforeUnload: true });
        else await page.goto(`${h.site.url}/blank.html`);
        await waitFor(() => h.collector.events().some((e) => e.event === 'Leaving'), { what: 'the Leaving event' });
        await context.close();
      });
    }

    for (const how of ['closing', 'navigating away']) {
      const skip = browser === 'firefox' && how === 'closing' ? 'Firefox closed by BiDi delivers no event tracked in pagehide, however recorded' : false;
      test(`a call made in a pagehide listener the page added after the SDK's arrives, sent as the page goes away (${how})`, { skip }, async () => {
        const { page, context } = await h.open({ flushAt: 1000, flushIntervalMs: 60_000 });
        await page.evaluate(async () => {
          await analytics.ready;
          // Added once the SDK has started, so it runs after the SDK's own unload flush.
          addEventListener('pagehide', () => analytics.track('Leaving late'));
        });
        const expected = await wayOut(page);
        if (how === 'closing') await page.close({ runBeforeUnload: true });
        else await page.goto(`${h.site.url}/blank.html`);
        await waitFor(() => h.collector.events().some((e) => e.event === 'Leaving late'), { what: 'the Leaving late event' });
        assert.equal(h.collector.events().find((e) => e.event === 'Leaving late').transport, expected, 'sent as the page went away');
        await context.close();
      });
    }
  });
}
