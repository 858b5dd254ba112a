// A consumer's view: `npm pack` the built package, install the tarball into
// throwaway apps (Vite, webpack 5, esbuild, Rollup, Parcel, Next.js with
// Turbopack and with webpack, and a server-rendered app), production-build
// them, serve them on 127.0.0.1, use them in Chromium, and check the events at
// a local collector.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import webpack from 'webpack';
import * as esbuild from 'esbuild';
import { rollup } from 'rollup';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import { importMetaAssets } from '@web/rollup-plugin-import-meta-assets';
import { startCollector } from '../../www/collector.mjs';
import { segmentViolations } from '../support/segment.mjs';
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

test('the packed tarball holds the two entries, the types, the recorder, the wasm and its JavaScript build, the README and both licences, and nothing else', () => {
  const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
  const shipped = ['index.js', 'service-worker.js', 'index.d.ts', 'analytics-recorder.js', 'analytics-core.wasm', 'analytics-core.js', 'package.json', 'README.md', 'LICENSE-MIT', 'LICENSE-APACHE'];
  assert.deepEqual(listing, shipped.map((file) => `package/${file}`).sort());
});

/** Copies a fixture app and installs the packed tarball into it, as a user would. */
function installApp(name, { within = work } = {}) {
  const app = join(within, name);
  rmSync(app, { recursive: true, force: true });
  cpSync(join(root, 'tests/consumer', name), app, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
  manifest.dependencies = { 'analytics-wasm': `file:${tarball}` };
  writeFileSync(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--silent'], { cwd: app, stdio: 'pipe' });
  return app;
}

/** A webpack 5 production build of `entry` into `outDir/main.js`. */
function webpackBuild(app, entry, outDir) {
  return new Promise((resolve, reject) => {
    webpack({ mode: 'production', context: app, entry, output: { path: outDir, filename: 'main.js', publicPath: 'auto' } }, (error, stats) => {
      if (error) return reject(error);
      if (stats.hasErrors()) return reject(new Error(stats.toString({ all: false, errors: true })));
      resolve(stats);
    });
  });
}

/** Loads the built app in Chromium, clicks Buy, and returns what the collector got; `withoutWebAssembly` removes the global first. */
async function clickBuyAndCheck(dir, { withoutWebAssembly = false } = {}) {
  const collector = await startCollector({ checkBody: segmentViolations });
  const site = await serveDirectory(dir);
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    if (withoutWebAssembly) await page.addInitScript(() => delete globalThis.WebAssembly);
    await page.goto(`${site.url}/?endpoint=${encodeURIComponent(collector.endpoint)}`);
    await page.click('#buy');
    const events = await waitFor(() => collector.events().length >= 2 && collector.events(), { what: 'page and track events' });
    assert.deepEqual(collector.violations(), [], "every body keeps Segment's rules");
    return { events, stats: collector.stats() };
  } finally {
    await browser.close();
    await site.close();
    await collector.close();
  }
}

test('a Vite production build of an app using the package delivers events', async () => {
  const app = installApp('vite-app');
  execFileSync(process.execPath, [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], { cwd: app, stdio: 'pipe' });
  const assets = readdirSync(join(app, 'dist/assets'));
  assert.ok(assets.some((f) => f.endsWith('.wasm')), `the wasm was bundled as an asset: ${assets}`);
  const { events, stats } = await clickBuyAndCheck(join(app, 'dist'));
  const [pageEvent, order] = events;
  assert.equal(pageEvent.type, 'page');
  assert.equal(order.type, 'track');
  assert.equal(order.event, 'Order Completed');
  assert.deepEqual(order.properties, { orderId: 'o-1', total: 42.5, items: [{ sku: 'a' }] });
  assert.match(order.messageId, /^[0-9a-f-]{36}$/);
  assert.equal(stats.duplicates, 0);
  assert.equal(stats.malformed, 0);
  // The bundler found the core's JavaScript build too: without WebAssembly it runs.
  const fallback = await clickBuyAndCheck(join(app, 'dist'), { withoutWebAssembly: true });
  assert.deepEqual(fallback.events.map((e) => e.type), ['page', 'track']);
  assert.equal(fallback.stats.duplicates, 0);
});

test('a webpack 5 production build of an app using the package delivers events', async () => {
  const app = installApp('webpack-app');
  const dist = join(app, 'dist');
  await webpackBuild(app, './src/main.js', dist);
  cpSync(join(app, 'index.html'), join(dist, 'index.html'));
  const files = readdirSync(dist);
  assert.ok(files.some((f) => f.endsWith('.wasm')), `webpack emitted the wasm as an asset: ${files}`);
  const { events, stats } = await clickBuyAndCheck(dist);
  const [pageEvent, order] = events;
  assert.equal(pageEvent.type, 'page');
  assert.equal(order.event, 'Order Completed');
  assert.deepEqual(order.properties, { orderId: 'o-2', total: 10 });
  assert.equal(order.context.library.name, 'analytics-wasm');
  assert.equal(stats.duplicates, 0);
  const fallback = await clickBuyAndCheck(dist, { withoutWebAssembly: true });
  assert.deepEqual(fallback.events.map((e) => e.type), ['page', 'track']);
});

/** Checks a built app as a visitor meets it, with WebAssembly and without (the core's JavaScript build). */
async function checkBuiltApp(dist) {
  const { events, stats } = await clickBuyAndCheck(dist);
  assert.deepEqual(events.map((e) => e.type), ['page', 'track']);
  assert.equal(events[1].event, 'Order Completed');
  assert.equal(stats.duplicates, 0);
  const fallback = await clickBuyAndCheck(dist, { withoutWebAssembly: true });
  assert.deepEqual(fallback.events.map((e) => e.type), ['page', 'track']);
}

test('an esbuild build (bundle, ESM) with the three assets copied beside it delivers events', async () => {
  const app = installApp('esbuild-app');
  const dist = join(app, 'dist');
  // esbuild leaves new URL('./analytics-core.wasm', import.meta.url) as it
  // is: the three files the package loads by URL (the wasm, the recorder and
  // the core's JavaScript build) are copied next to the output, as the
  // README says.
  await esbuild.build({ absWorkingDir: app, entryPoints: ['main.js'], bundle: true, format: 'esm', minify: true, outdir: dist, logLevel: 'silent' });
  for (const asset of ['analytics-core.wasm', 'analytics-recorder.js', 'analytics-core.js']) {
    cpSync(join(app, 'node_modules/analytics-wasm', asset), join(dist, asset));
  }
  cpSync(join(app, 'index.html'), join(dist, 'index.html'));
  assert.ok(!readFileSync(join(dist, 'main.js'), 'utf8').includes('IndexedDB did not answer'), 'the recorder is not in the entry bundle');
  await checkBuiltApp(dist);
});

test('a Rollup build with @web/rollup-plugin-import-meta-assets delivers events', async () => {
  const app = installApp('rollup-app');
  const dist = join(app, 'dist');
  const bundle = await rollup({ input: join(app, 'main.js'), plugins: [nodeResolve({ rootDir: app }), importMetaAssets()], onwarn: () => {} });
  await bundle.write({ dir: dist, format: 'es' });
  await bundle.close();
  cpSync(join(app, 'index.html'), join(dist, 'index.html'));
  assert.ok(readdirSync(dist, { recursive: true }).some((f) => String(f).endsWith('.wasm')), 'the plugin emitted the wasm');
  await checkBuiltApp(dist);
});

test('a Parcel 2 production build delivers events, with no setting', async () => {
  const app = installApp('parcel-app');
  const dist = join(app, 'dist');
  execFileSync(join(root, 'node_modules/.bin/parcel'), ['build', 'index.html', '--dist-dir', 'dist', '--no-cache', '--public-url', './', '--log-level', 'error'], { cwd: app, stdio: 'pipe' });
  assert.ok(readdirSync(dist).some((f) => f.endsWith('.wasm')), 'Parcel emitted the wasm');
  await checkBuiltApp(dist);
});

// Next.js resolves itself and React from the workspace, so its apps are
// built inside it (target/, not in git) rather than in the temporary dir.
for (const bundler of ['turbopack', 'webpack']) {
  test(`a Next.js static export built with ${bundler === 'turbopack' ? 'Turbopack (the default)' : 'webpack (--webpack)'} delivers events`, async () => {
    const app = installApp('next-app', { within: join(root, 'target', `consumer-${bundler}`) });
    const args = ['build', ...(bundler === 'webpack' ? ['--webpack'] : [])];
    execFileSync(join(root, 'node_modules/.bin/next'), args, { cwd: app, stdio: 'pipe', env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', CONSUMER_WORKSPACE_ROOT: root } });
    const dist = join(app, 'out');
    assert.ok(readdirSync(dist, { recursive: true }).some((f) => String(f).endsWith('.wasm')), 'Next.js emitted the wasm');
    await checkBuiltApp(dist);
    rmSync(join(root, 'target', `consumer-${bundler}`), { recursive: true, force: true });
  });
}

test('a server-side render calls the package in Node without throwing, and only the browser sends events', async () => {
  const app = installApp('ssr-app');
  const dist = join(app, 'dist');
  await webpackBuild(app, './client.js', dist);
  const { renderPage } = await import(pathToFileURL(join(app, 'render.mjs')).href);
  const collector = await startCollector({ checkBody: segmentViolations });
  // The client bundle is main.js, the chunk webpack splits off for the
  // lazily loaded recorder, and the wasm.
  const built = new Set(readdirSync(dist));
  const renders = [];
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const file = url.pathname.slice(1);
    if (built.has(file)) {
      res.setHeader('Content-Type', file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript');
      return res.end(readFileSync(join(dist, file)));
    }
    if (url.pathname !== '/') {
      res.statusCode = 404;
      return res.end();
    }
    const rendered = await renderPage({ endpoint: collector.endpoint, clientScript: '/main.js' });
    renders.push(rendered.flushed);
    res.setHeader('Content-Type', 'text/html');
    res.end(rendered.html);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/?endpoint=${encodeURIComponent(collector.endpoint)}`);
    const events = await waitFor(() => collector.events().length >= 1 && collector.events(), { what: 'the hydrated event' });
    await page.evaluate(() => window.analytics.flush());
    assert.deepEqual(renders, [{ sent: 0, failed: 0, pending: 0 }], 'the server render ran once and sent nothing');
    assert.deepEqual(collector.events().map((e) => e.event), ['Hydrated']);
    assert.deepEqual(events[0].properties, { app: 'rendered on the server' });
    assert.match(events[0].context.userAgent, /Chrome/, 'sent from the browser');
  } finally {
    await browser.close();
    await new Promise((resolve) => server.close(resolve));
    await collector.close();
  }
});
