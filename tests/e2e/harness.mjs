// Shared setup for browser end-to-end tests: a dev collector, a static server
// for the test page and the built package, and Debian's Chromium.
import { before, after, beforeEach } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startCollector } from '../../www/collector.mjs';
import { serveDirectory } from '../../scripts/lib/static-server.mjs';
import { launchBrowser, waitFor } from '../support/browser.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));

export { waitFor };

export async function startHarness() {
  const collector = await startCollector();
  const site = await serveDirectory(`${root}tests/e2e/pages`, { routes: { '/pkg/': `${root}pkg` } });
  const browser = await launchBrowser();
  return {
    collector,
    site,
    browser,
    /** Opens the test page in a fresh context with `createAnalytics(config)`. */
    async open(config, { context, query = '' } = {}) {
      const ctx = context ?? (await browser.newContext());
      const page = await ctx.newPage();
      page.on('pageerror', (error) => console.error('pageerror:', error.message));
      const url = `${site.url}/?config=${encodeURIComponent(JSON.stringify({ endpoint: collector.endpoint, ...config }))}${query}`;
      await page.goto(url);
      return { page, context: ctx, url };
    },
    async close() {
      await browser.close();
      await site.close();
      await collector.close();
    },
  };
}

/**
 * Starts one harness for the calling test file, resets the collector before
 * each test and stops everything after the last; returns a getter.
 */
export function useHarness() {
  let harness;
  before(async () => {
    harness = await startHarness();
  });
  after(async () => {
    await harness?.close();
  });
  beforeEach(() => harness.collector.reset());
  return () => harness;
}
