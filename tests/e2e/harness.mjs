// Shared setup for browser end-to-end tests: a dev collector, a static server
// for the test page and the built package, and a browser (Chromium by default;
// see ../support/browsers/index.mjs for the driver every browser shares).
import { before, after, beforeEach, afterEach } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startCollector } from '../../www/collector.mjs';
import { serveDirectory } from '../../scripts/lib/static-server.mjs';
import { waitFor, waitForCount } from '../support/browser.mjs';
import { launchNamed } from '../support/browsers/index.mjs';
import { segmentViolations } from '../support/segment.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));

export { waitFor, waitForCount };

/** Set-up that makes a page run the core compiled to JavaScript, as a browser without WebAssembly would. */
export const WITHOUT_WEBASSEMBLY = 'delete globalThis.WebAssembly';

/**
 * Set-up on every test page: a fetch made with `keepalive` (the way a page
 * sends as it goes away) gets `keepalive` in its query, so the collector
 * can tell it (its `mode`, and each event's `transport`, read 'keepalive')
 * from a plain fetch, which its headers do not.
 */
export const MARK_KEEPALIVE = `{
  const fetchNow = globalThis.fetch;
  globalThis.fetch = (url, options) => fetchNow(options?.keepalive ? url + (String(url).includes('?') ? '&' : '?') + 'keepalive' : url, options);
}`;

/** How a page's requests leave as it goes away: 'keepalive' (fetch with keepalive), or 'no-cors' (sendBeacon) where fetch cannot keepalive. */
export const wayOut = (page) => page.evaluate(() => ('keepalive' in Request.prototype ? 'keepalive' : 'no-cors'));

/**
 * `core`: 'wasm' (the browser's own), or 'js': every page opened has its
 * WebAssembly global removed before any script runs, so the package falls
 * back to the core compiled to JavaScript. `collector`: one to send to
 * ({ endpoint }, closed by its owner), instead of a dev collector.
 */
export async function startHarness({ browserName = 'chromium', core = 'wasm', collector: given = null } = {}) {
  // Every body any test's dev collector receives is held to Segment's rules.
  const collector = given ?? (await startCollector({ checkBody: segmentViolations }));
  const site = await serveDirectory(`${root}tests/e2e/pages`, { routes: { '/pkg/': `${root}pkg` } });
  const browser = await launchNamed(browserName);
  return {
    browserName,
    core,
    collector,
    site,
    browser,
    /** The test page's URL with `createAnalytics(config)`; `init` is code run before anything else on it. */
    pageUrl(config, { query = '', init } = {}) {
      const code = [MARK_KEEPALIVE, core === 'js' ? WITHOUT_WEBASSEMBLY : null, init ? (typeof init === 'function' ? `(${init})()` : init) : null].filter(Boolean).join(';\n');
      const initQuery = code ? `&init=${encodeURIComponent(code)}` : '';
      return `${site.url}/?config=${encodeURIComponent(JSON.stringify({ endpoint: collector.endpoint, ...config }))}${initQuery}${query}`;
    },
    /** Opens the test page in a fresh context (or `context`) with `createAnalytics(config)`. */
    async open(config, { context, query = '', init } = {}) {
      const ctx = context ?? (await browser.newContext());
      const page = await ctx.newPage();
      page.on('pageerror', (error) => console.error(`pageerror (${browserName}):`, error.message));
      const url = this.pageUrl(config, { query, init });
      await page.goto(url);
      return { page, context: ctx, url };
    },
    async close() {
      await browser.close();
      await site.close();
      if (!given) await collector.close();
    },
  };
}

/**
 * Waits until the origin of `page` stores `count` events, read through the
 * package's storage leaf as the next page load would read them: a condition
 * for a crash to leave them behind, instead of a sleep that a busy machine
 * can outlast.
 */
export async function waitForStored(page, count, { timeoutMs = 15_000 } = {}) {
  const stored = await page.evaluate(
    async ([count, timeoutMs]) => {
      const { openStorage } = await import('/pkg/storage.js');
      const { storage } = await openStorage('auto', 'analytics-wasm', 'test-reader');
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        let stored = 0;
        for (const partition of await storage.others()) stored += (await storage.read(partition)).events.length;
        if (stored >= count || Date.now() > deadline) {
          storage.close();
          return stored;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    [count, timeoutMs],
  );
  if (stored < count) throw new Error(`timed out after ${timeoutMs} ms waiting for ${count} stored events (stored: ${stored})`);
}

/**
 * How many events the package's storage holds now, in every partition, as
 * the next page load would read them: 0 means nothing is left for any page
 * to restore or adopt.
 */
export async function countStored(page) {
  return page.evaluate(async () => {
    const { openStorage } = await import('/pkg/storage.js');
    const { storage } = await openStorage('auto', 'analytics-wasm', 'test-reader');
    let stored = 0;
    for (const partition of await storage.others()) stored += (await storage.read(partition)).events.length;
    storage.close();
    return stored;
  });
}

/**
 * Starts one harness for the calling test file (or suite) on `browserName`,
 * resets the collector before each test and stops everything after the
 * last; returns a getter.
 */
export function useHarness({ browserName = 'chromium', core = 'wasm' } = {}) {
  let harness;
  before(async () => {
    harness = await startHarness({ browserName, core });
  });
  after(async () => {
    await harness?.close();
  });
  beforeEach(() => harness.collector.reset());
  afterEach(() => {
    const violations = harness.collector.violations();
    if (violations.length) throw new Error(`bodies broke Segment's rules (tests/support/segment.mjs): ${violations.slice(0, 5).join('; ')}`);
  });
  return () => harness;
}
