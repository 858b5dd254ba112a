// A consumer's view: `npm pack` the built package, install the tarball into
// a throwaway Vite app, production-build it, serve it on 127.0.0.1, click in
// Chromium, and check the events at a local collector.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCollector } from '../../www/collector.mjs';
import { serveDirectory } from '../../scripts/lib/static-server.mjs';
import { launchBrowser, waitFor } from '../support/browser.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
let work;
let tarball;

before(() => {
  work = mkdtempSync(join(tmpdir(), 'analytics-wasm-consumer-'));
  execFileSync('npm', ['pack', join(root, 'pkg'), '--pack-destination', work, '--silent'], { stdio: 'pipe' });
  tarball = join(work, readdirSync(work).find((f) => f.endsWith('.tgz')));
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

test('the packed tarball holds the entry, types, glue and wasm', () => {
  const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
  for (const file of ['index.js', 'index.d.ts', 'config.js', 'config-rules.js', 'context.js', 'identity.js', 'page-store.js', 'session.js', 'analytics_wasm.js', 'analytics_wasm_bg.wasm', 'package.json']) {
    assert.ok(listing.includes(`package/${file}`), `${file} missing from ${listing.join(', ')}`);
  }
});

test('a Vite production build of an app using the package delivers events', async () => {
  const app = join(work, 'vite-app');
  cpSync(join(root, 'tests/consumer/vite-app'), app, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
  manifest.dependencies = { 'analytics-wasm': `file:${tarball}` };
  writeFileSync(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--silent'], { cwd: app, stdio: 'pipe' });
  execFileSync(process.execPath, [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], { cwd: app, stdio: 'pipe' });
  const assets = readdirSync(join(app, 'dist/assets'));
  assert.ok(assets.some((f) => f.endsWith('.wasm')), `the wasm was bundled as an asset: ${assets}`);

  const collector = await startCollector();
  const site = await serveDirectory(join(app, 'dist'));
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.goto(`${site.url}/?endpoint=${encodeURIComponent(collector.endpoint)}`);
    await page.click('#buy');
    const events = await waitFor(() => collector.events().length >= 2 && collector.events(), { what: 'page and track events' });
    const [pageEvent, order] = events;
    assert.equal(pageEvent.type, 'page');
    assert.equal(order.type, 'track');
    assert.equal(order.event, 'Order Completed');
    assert.deepEqual(order.properties, { orderId: 'o-1', total: 42.5, items: [{ sku: 'a' }] });
    assert.match(order.messageId, /^[0-9a-f-]{36}$/);
    assert.equal(collector.stats().duplicates, 0);
    assert.equal(collector.stats().malformed, 0);
  } finally {
    await browser.close();
    await site.close();
    await collector.close();
  }
});
