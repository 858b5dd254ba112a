// Segment's own libraries, written by nobody here, delivering to the
// project's collector (collector/): @segment/analytics-node from Node, and
// Segment's browser SDK (@segment/analytics-next, bundled into a test page
// with esbuild, its `apiHost` pointed at the collector) in Chromium. Each
// counts the rows stored: exactly what it sent, once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Analytics } from '@segment/analytics-node';
import { launchBrowser, waitFor } from '../support/browser.mjs';
import { serveDirectory } from '../../scripts/lib/static-server.mjs';
import { startCollectorProcess } from '../../scripts/lib/collector-process.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const WRITE_KEY = 'segment-libraries';

let collector;
before(async () => {
  collector = await startCollectorProcess({ writeKeys: [WRITE_KEY] });
});
after(async () => {
  await collector?.stop();
});

const rowsOf = (source) =>
  collector.query(`SELECT type, event, user_id AS userId, anonymous_id AS anonymousId, json_extract(message, '$.properties.i') AS i FROM events WHERE json_extract(message, '$.properties.source') = '${source}' ORDER BY i`);

test('@segment/analytics-node delivers 100 track and 1 identify to the collector: each stored once', async () => {
  const analytics = new Analytics({ writeKey: WRITE_KEY, host: collector.url, path: '/v1/batch', flushAt: 20, maxRetries: 3 });
  const errors = [];
  analytics.on('error', (error) => errors.push(String(error?.reason ?? error)));
  analytics.identify({ userId: 'node-user', traits: { plan: 'pro' } });
  for (let i = 0; i < 100; i++) analytics.track({ userId: 'node-user', event: 'Node Event', properties: { i, source: 'analytics-node' } });
  await analytics.closeAndFlush({ timeout: 30_000 });
  assert.deepEqual(errors, []);
  const rows = rowsOf('analytics-node');
  assert.equal(rows.length, 100);
  assert.deepEqual(rows.map((r) => r.i), Array.from({ length: 100 }, (_, i) => i));
  assert.ok(rows.every((r) => r.type === 'track' && r.event === 'Node Event' && r.userId === 'node-user'));
  const [identify] = collector.query("SELECT type, user_id AS userId, json_extract(message, '$.traits.plan') AS plan FROM events WHERE type = 'identify' AND user_id = 'node-user'");
  assert.deepEqual(identify, { type: 'identify', userId: 'node-user', plan: 'pro' });
  const [{ ids }] = collector.query(`SELECT count(DISTINCT message_id) AS ids FROM events WHERE user_id = 'node-user'`);
  assert.equal(ids, 101);
  console.log(`segment libraries: analytics-node ${JSON.stringify({ tracked: 100, stored: rows.length + 1, duplicates: (await collector.metrics()).collector_events_duplicate_total })}`);
});

test("Segment's browser SDK (analytics-next), its apiHost pointed at the collector, delivers 20 track, a page and an identify: each stored once (in Chromium only: the collector is under test, not the browser)", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'analytics-next-page-'));
  const browser = await launchBrowser();
  let site;
  try {
    writeFileSync(
      join(dir, 'entry.js'),
      `import { AnalyticsBrowser } from ${JSON.stringify(`${root}node_modules/@segment/analytics-next/dist/pkg/index.js`)};\nwindow.AnalyticsBrowser = AnalyticsBrowser;\n`,
    );
    await build({ entryPoints: [join(dir, 'entry.js')], bundle: true, format: 'esm', outfile: join(dir, 'segment.js'), logLevel: 'silent', define: { 'process.env.NODE_ENV': '"production"' } });
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>analytics-next</title><script type="module" src="./segment.js"></script>');
    site = await serveDirectory(dir);
    const page = await browser.newPage();
    page.on('pageerror', (error) => console.error('pageerror (analytics-next):', error.message));
    await page.goto(`${site.url}/index.html`);
    await page.waitForFunction(() => typeof window.AnalyticsBrowser === 'function');
    const apiHost = collector.url.replace('http://', '') + '/v1';
    await page.evaluate(
      async ([writeKey, apiHost]) => {
        // Settings as Segment's CDN would give them, so nothing is fetched from it.
        const cdnSettings = { integrations: { 'Segment.io': { apiKey: writeKey, apiHost, protocol: 'http' } }, plan: {} };
        const [analytics] = await window.AnalyticsBrowser.load({ writeKey, cdnSettings }, { integrations: { 'Segment.io': { apiHost, protocol: 'http' } } });
        await analytics.identify('browser-user', { plan: 'pro' });
        await analytics.page('Docs', { source: 'analytics-next' });
        for (let i = 0; i < 20; i++) await analytics.track('Browser Event', { i, source: 'analytics-next' });
      },
      [WRITE_KEY, apiHost],
    );
    await waitFor(() => rowsOf('analytics-next').length === 21, { what: '21 rows from analytics-next', timeoutMs: 30_000 });
    const rows = rowsOf('analytics-next');
    const tracks = rows.filter((r) => r.type === 'track');
    assert.equal(tracks.length, 20);
    assert.deepEqual(tracks.map((r) => r.i), Array.from({ length: 20 }, (_, i) => i));
    assert.ok(tracks.every((r) => r.event === 'Browser Event' && r.userId === 'browser-user' && r.anonymousId));
    assert.equal(rows.filter((r) => r.type === 'page').length, 1);
    const identifies = collector.query("SELECT count(*) AS n FROM events WHERE type = 'identify' AND user_id = 'browser-user'");
    assert.deepEqual(identifies, [{ n: 1 }]);
    console.log(`segment libraries: analytics-next ${JSON.stringify({ sent: 22, stored: rows.length + identifies[0].n, duplicates: (await collector.metrics()).collector_events_duplicate_total })}`);
  } finally {
    await browser.close();
    await site?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
