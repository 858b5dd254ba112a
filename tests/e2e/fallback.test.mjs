// Where WebAssembly cannot run, the same core compiled to JavaScript runs
// instead: a page with no WebAssembly global, and one whose CSP lacks
// 'wasm-unsafe-eval' (script-src 'self'), deliver every event; with
// 'wasm-unsafe-eval' the wasm runs. Chromium, Firefox and WebKit.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useHarness, waitFor } from './harness.mjs';
import { BROWSERS } from '../support/browsers/index.mjs';

for (const browserName of BROWSERS) {
  describe(browserName, () => {
    const harness = useHarness({ browserName });

    /** Opens `path` (a strict-CSP page) with `config`; resolves with the page. */
    async function openCspPage(path, config = {}) {
      const h = harness();
      const context = await h.browser.newContext();
      const page = await context.newPage();
      const query = `config=${encodeURIComponent(JSON.stringify({ endpoint: h.collector.endpoint, ...config }))}`;
      await page.goto(`${h.site.url}/${path}?${query}`);
      await page.evaluate(async () => {
        while (!window.analytics) await new Promise((r) => setTimeout(r, 10));
        await window.analytics.ready;
      });
      return { page, context };
    }

    const trackTwenty = (page) =>
      page.evaluate(async () => {
        for (let i = 0; i < 20; i++) analytics.track('Fallback Event', { i });
        await analytics.flush();
        return { metrics: analytics.metrics(), errors: window.errors };
      });

    test('a page without WebAssembly sends every event through the core compiled to JavaScript', async () => {
      const h = harness();
      const { page, context } = await h.open({ debug: true }, { init: 'delete globalThis.WebAssembly' });
      await page.evaluate(() => analytics.ready);
      const { metrics, errors } = await trackTwenty(page);
      await waitFor(() => h.collector.stats().received >= 20, { what: '20 events' });
      console.log(`fallback no-wasm (${browserName}): ${JSON.stringify({ received: h.collector.stats().received, core: metrics.core, storage: metrics.storage })}`);
      assert.equal(metrics.core, 'js');
      assert.equal(h.collector.stats().received, 20);
      assert.equal(h.collector.stats().duplicates, 0);
      assert.deepEqual(errors, []);
      await context.close();
    });

    test("a CSP of script-src 'self' sends every event through the core compiled to JavaScript, and debug says why", async () => {
      const h = harness();
      const { page, context } = await openCspPage('csp.html', { debug: true });
      const { metrics, errors } = await trackTwenty(page);
      await waitFor(() => h.collector.stats().received >= 20, { what: '20 events' });
      const why = await page.evaluate(() => window.debugLines.find((line) => line.includes('using the core compiled to JavaScript')));
      console.log(`fallback csp (${browserName}): ${JSON.stringify({ received: h.collector.stats().received, core: metrics.core, why })}`);
      assert.equal(metrics.core, 'js');
      assert.equal(h.collector.stats().received, 20);
      assert.equal(h.collector.stats().duplicates, 0);
      assert.deepEqual(errors, []);
      assert.match(why, /the wasm did not start/);
      await context.close();
    });

    test("with 'wasm-unsafe-eval' in the CSP the wasm runs", async () => {
      const h = harness();
      const { page, context } = await openCspPage('csp-wasm.html');
      const { metrics } = await trackTwenty(page);
      await waitFor(() => h.collector.stats().received >= 20, { what: '20 events' });
      assert.equal(metrics.core, 'wasm');
      assert.equal(h.collector.stats().received, 20);
      await context.close();
    });
  });
}

describe('chromium only: request routing', () => {
  const harness = useHarness();

  test('when the JavaScript build cannot load either, one load error names both reasons and no call throws', async () => {
    const h = harness();
    const context = await h.browser.newContext();
    await context.route('**/analytics-core.js', (route) => route.abort());
    const { page } = await h.open({}, { context, init: 'delete globalThis.WebAssembly' });
    const result = await page.evaluate(async () => {
      await analytics.ready;
      let thrown = null;
      try {
        analytics.track('After a failed load', { i: 1 });
        await analytics.flush();
      } catch (error) {
        thrown = String(error);
      }
      return { errors: window.errors, thrown };
    });
    assert.equal(result.thrown, null);
    const loads = result.errors.filter((e) => e.type === 'load');
    assert.equal(loads.length, 1, JSON.stringify(result.errors));
    assert.match(loads[0].message, /WebAssembly is not available; and the core compiled to JavaScript did not load either: /);
    await context.close();
  });
});
