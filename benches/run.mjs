// `npm run bench`: size, main-thread cost, start-up, wire and background
// cost in headless Chromium, what a collector outage and a page going away
// cost (outage.mjs), plus the native core benchmark. Prints one
// table and writes benches/results.json; asserts nothing (machines are noisy).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { startHarness, waitFor } from '../tests/e2e/harness.mjs';
import { shippedSize } from '../scripts/shipped-size.mjs';
import { startCollector } from '../www/collector.mjs';
import { PROPERTIES } from './properties.mjs';
import { measureOutages, outageRows } from './outage.mjs';
import { appTrackRows, measureAppTrack } from './app-track.mjs';
import { allocationByFunction, meanTime, printAllocation, printPhases, printTime, startAllocationSampling, startProfiler, startupPhases, startupProbe, timeByFunction } from './where-time-goes.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const LOADS = Number(process.env.BENCH_LOADS ?? 5);
const results = {};
/** What explains the figures (where-time-goes.mjs), printed after the table. */
const explained = {};
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const round = (value, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

// ---------- size ----------
function sizeOf(files) {
  const bytes = Buffer.concat(files.map((f) => readFileSync(`${root}pkg/${f}`)));
  return {
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
    brotli: brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
}
// What every visitor loads of JS: the entry and the recorder (the core compiled
// to JS is fetched only where WebAssembly cannot run, the service-worker
// entry only by service workers).
const JS_FILES = ['index.js', 'analytics-recorder.js'];
results.size = {
  wasm: sizeOf(['analytics-core.wasm']),
  js: sizeOf(JS_FILES),
  // Compressed separately, as a server sends them.
  total: null,
};
results.size.total = {
  raw: results.size.wasm.raw + results.size.js.raw,
  gzip: results.size.wasm.gzip + results.size.js.gzip,
  brotli: results.size.wasm.brotli + results.size.js.brotli,
};

// Where the wasm bytes go: twiggy on a build that keeps function names.
function breakdown() {
  const twiggy = spawnSync('twiggy', ['--version']);
  if (twiggy.status !== 0) {
    spawnSync('cargo', ['install', 'twiggy', '--locked'], { stdio: 'inherit' });
  }
  // The release build before wasm-opt keeps its function names.
  const named = `${root}target/shipped/analytics_wasm.wasm`;
  const top = spawnSync('twiggy', ['top', '-n', '60', named], { encoding: 'utf8' });
  if (top.status !== 0) return null;
  const crates = {};
  const all = spawnSync('twiggy', ['top', '-n', '100000', '--format', 'csv', named], { encoding: 'utf8' });
  for (const line of all.stdout.split('\n').slice(1)) {
    const match = line.match(/^"?(.*?)"?,(\d+),/);
    if (!match) continue;
    const name = match[1].replace(/^<+/, '');
    if (name.includes('function names')) continue;
    const crate = name.startsWith('data segment') ? 'data (.rodata: strings, panic locations)' : name.split('::')[0].replace(/\[.*$/, '');
    crates[crate] = (crates[crate] ?? 0) + Number(match[2]);
  }
  const byCrate = Object.entries(crates).sort((a, b) => b[1] - a[1]).slice(0, 15);
  writeFileSync(`${root}benches/wasm-breakdown.txt`, `# twiggy top (names kept; before wasm-opt)\n${top.stdout}\n# bytes by crate\n${byCrate.map(([c, b]) => `${String(b).padStart(8)}  ${c}`).join('\n')}\n`);
  return Object.fromEntries(byCrate.slice(0, 8));
}
results.size.byCrate = breakdown();

// What an app ships once its bundler has minified us: the consumer Vite app
// (tests/consumer/vite-app) built for production, per file, in total, and
// the critical path (scripts/shipped-size.mjs, which the size budget checks).
results.size.bundledByVite = await shippedSize();

// ---------- browser ----------

const h = await startHarness();
try {
  // track() against JSON.stringify, with IndexedDB and with persistence off.
  const trackRuns = { indexeddb: [], memory: [] };
  for (let load = 0; load < LOADS; load++) {
    for (const storage of ['indexeddb', 'memory']) {
      const { page, context } = await h.open({ maxQueueEvents: 20_000, maxQueueBytes: 50_000_000, storage: storage === 'indexeddb' ? 'auto' : 'memory' });
      trackRuns[storage].push(
        await page.evaluate(async (source) => {
          const properties = eval(source);
          await analytics.ready;
          for (let i = 0; i < 500; i++) JSON.stringify(properties(i));
          let t0 = performance.now();
          for (let i = 0; i < 10_000; i++) JSON.stringify(properties(i));
          const stringify = performance.now() - t0;
          t0 = performance.now();
          for (let i = 0; i < 10_000; i++) analytics.track('Checkout Step Viewed', properties(i));
          const track = performance.now() - t0;
          await analytics.flush();
          // The same again once V8 has had time to optimise the hot wasm
          // (it starts every function in its baseline compiler): the cost
          // a page that tracks steadily pays, next to a fresh page's.
          await new Promise((resolve) => setTimeout(resolve, 500));
          t0 = performance.now();
          for (let i = 0; i < 10_000; i++) analytics.track('Checkout Step Viewed', properties(i));
          const trackWarm = performance.now() - t0;
          await analytics.flush();
          // The same, each call's outcome awaited (a promise per call), next
          // to the loop above that ignores them (no promise is made).
          await new Promise((resolve) => setTimeout(resolve, 500));
          const awaited = [];
          t0 = performance.now();
          for (let i = 0; i < 10_000; i++) awaited.push(analytics.track('Checkout Step Viewed', properties(i)).then((outcome) => outcome.status));
          const trackWarmAwaited = performance.now() - t0;
          await analytics.flush();
          const delivered = (await Promise.all(awaited)).filter((status) => status === 'delivered').length;
          return { stringify, track, trackWarm, trackWarmAwaited, delivered };
        }, PROPERTIES),
      );
      await context.close();
    }
  }
  const perCall = (runs, key) => (median(runs.map((r) => r[key])) * 1000) / 10_000;
  results.track = {
    usPerCall: round(perCall(trackRuns.indexeddb, 'track')),
    stringifyUsPerCall: round(perCall(trackRuns.indexeddb, 'stringify')),
    usPerCallPersistenceOff: round(perCall(trackRuns.memory, 'track')),
  };
  results.track.usPerCallWarm = round(perCall(trackRuns.indexeddb, 'trackWarm'));
  results.track.usPerCallWarmAwaited = round(perCall(trackRuns.indexeddb, 'trackWarmAwaited'));
  results.track.awaitedRatioWarm = round(results.track.usPerCallWarmAwaited / results.track.usPerCallWarm);
  results.track.awaitedDelivered = median(trackRuns.indexeddb.map((r) => r.delivered));
  results.track.usPerCallWarmPersistenceOff = round(perCall(trackRuns.memory, 'trackWarm'));
  results.track.ratioToStringify = round(results.track.usPerCall / results.track.stringifyUsPerCall);
  results.track.ratioToStringifyWarm = round(results.track.usPerCallWarm / results.track.stringifyUsPerCall);
  results.track.persistenceRatioWarm = round(results.track.usPerCallWarm / results.track.usPerCallWarmPersistenceOff);
  results.track.persistenceRatio = round(results.track.usPerCall / results.track.usPerCallPersistenceOff);

  // Import to ready: empty queue, and with 1,000 persisted events to adopt.
  // `probe`: the browser calls start-up waits on are timed (startupProbe), for the phases printed below.
  const startup = async (seed, returning = false, probe = false) => {
    const context = await h.browser.newContext();
    if (returning) {
      // A visitor's second page: identity, session and timezone remembered.
      const { page } = await h.open({}, { context });
      await page.evaluate(() => analytics.ready);
      await page.close();
    }
    if (seed) {
      const { page } = await h.open({}, { context });
      h.collector.setFault({ status: 503 });
      await page.evaluate(async () => {
        await analytics.ready;
        for (let i = 0; i < 1000; i++) analytics.track('Seed', { i });
      });
      await page.waitForTimeout(400);
      await page.close();
    }
    h.collector.setFault({ status: 503 });
    const page = await context.newPage();
    if (probe) await page.addInitScript(startupProbe);
    await page.goto(`${h.site.url}/blank.html`);
    const ms = await page.evaluate(async (endpoint) => {
      const t0 = performance.now();
      const { createAnalytics } = await import('/pkg/index.js');
      const imported = performance.now();
      const analytics = createAnalytics({ endpoint });
      const created = performance.now();
      await analytics.ready;
      const ready = performance.now();
      const resources = performance.getEntriesByType('resource').map(({ name, startTime, responseEnd }) => ({ name, startTime, responseEnd }));
      return { ms: ready - t0, adopted: analytics.metrics().adoptedEvents, t0, marks: { imported, created, ready }, resources, calls: window.startupCalls ?? [] };
    }, h.collector.endpoint);
    // Closed while the collector still refuses: the adopted events must not
    // arrive later, in the next measure's count.
    await context.close();
    h.collector.setFault({});
    return ms;
  };
  const empty = [];
  const returning = [];
  const seeded = [];
  for (let load = 0; load < LOADS; load++) {
    empty.push((await startup(false)).ms);
    returning.push((await startup(false, true)).ms);
    seeded.push(await startup(true));
  }
  results.startup = {
    msEmpty: round(median(empty), 1),
    msReturningVisitor: round(median(returning), 1),
    msWith1000Persisted: round(median(seeded.map((s) => s.ms)), 1),
    adoptedEvents: seeded[0].adopted,
  };

  // Wire and background cost: 10,000 events, with and without gzip.
  const wire = async (compression) => {
    // A collector of its own: a request an earlier measure's closed page
    // left in flight must not count here.
    const collector = await startCollector();
    const { page, context } = await h.open({ endpoint: collector.endpoint, maxQueueEvents: 20_000, maxQueueBytes: 50_000_000, compression });
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    const taskSeconds = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'TaskDuration').value;
    await page.evaluate(() => {
      window.longTasks = [];
      new PerformanceObserver((list) => window.longTasks.push(...list.getEntries().map((e) => ({ start: e.startTime, duration: e.duration })))).observe({ type: 'longtask' });
    });
    await page.evaluate(() => analytics.ready);
    const beforeLoop = await taskSeconds();
    const loopMs = await page.evaluate((source) => {
      const properties = eval(source);
      const start = performance.now();
      for (let i = 0; i < 10_000; i++) analytics.track('Wire', properties(i));
      // What runs from here on is the SDK's work after the loop, in the
      // loop's own task (its microtasks) and in later ones.
      window.loopEnd = performance.now();
      return window.loopEnd - start;
    }, PROPERTIES);
    await waitFor(() => collector.stats().received === 10_000, { timeoutMs: 60_000, what: '10,000 events' }).catch(async (error) => {
      const metrics = await page.evaluate(() => analytics.metrics()).catch(() => null);
      throw new Error(`${error.message}; collector ${JSON.stringify(collector.stats())}; page ${JSON.stringify(metrics)}`);
    });
    await page.waitForTimeout(300);
    // All main-thread work from the loop's start until delivered, less the loop itself.
    const background = (await taskSeconds()) - beforeLoop - loopMs / 1000;
    // A long task that holds the loop counts from the loop's end.
    const longTasks = await page.evaluate(() =>
      window.longTasks.filter((t) => t.start + t.duration > window.loopEnd).map((t) => t.start + t.duration - Math.max(t.start, window.loopEnd)),
    );
    const stats = collector.stats();
    await context.close();
    await collector.close();
    return {
      requests: stats.requests,
      bytesPerEvent: round(stats.bytes / 10_000, 1),
      backgroundMs: round(background * 1000, 1),
      longestTaskMs: round(Math.max(0, ...longTasks), 1),
    };
  };
  results.wire = { plain: await wire('none'), gzip: await wire('gzip') };
  results.wire.compressionRatio = round(results.wire.plain.bytesPerEvent / results.wire.gzip.bytesPerEvent);

  // A burst in one synchronous loop, default config: how many arrive, how
  // soon, and the heap the held events retain (after a forced GC).
  const burst = async (count) => {
    h.collector.reset();
    const { page, context } = await h.open({});
    const cdp = await context.newCDPSession(page);
    await page.evaluate(() => analytics.ready);
    await cdp.send('HeapProfiler.collectGarbage');
    const before = (await cdp.send('Runtime.getHeapUsage')).usedSize;
    const started = Date.now();
    await page.evaluate(
      ([source, count]) => {
        const properties = eval(source);
        for (let i = 0; i < count; i++) analytics.track('Burst', properties(i));
      },
      [PROPERTIES, count],
    );
    await cdp.send('HeapProfiler.collectGarbage');
    const retained = (await cdp.send('Runtime.getHeapUsage')).usedSize - before;
    const kept = Math.min(count, 10_000);
    await waitFor(() => h.collector.stats().received >= kept, { timeoutMs: 120_000, what: `${kept} events of the burst` });
    const deliveredMs = Date.now() - started;
    const metrics = await page.evaluate(() => analytics.metrics());
    const { received, duplicates } = h.collector.stats();
    await context.close();
    return { tracked: count, received, duplicates, droppedOverflow: metrics.droppedOverflow, deliveredMs, retainedHeapMB: round(retained / 1e6, 1) };
  };
  results.burst = { tenThousand: await burst(10_000), hundredThousand: await burst(100_000) };

  // A collector outage of 10 s and of 60 s, and the next visit's cost of
  // what a page sent as it went away.
  results.outage = await measureOutages(h);

  // track() as an app ships us, next to a hand-written batcher.
  results.appTrack = await measureAppTrack({ loads: LOADS });

  // ---------- where the time goes ----------
  // Apart from the measures above, so that neither the profiler nor the
  // probes slow what they report.
  explained.startup = {};
  for (const [name, returningVisit] of [['first visit', false], ['returning', true]]) {
    const runs = [];
    for (let load = 0; load < LOADS; load++) {
      const { t0, marks, resources, calls } = await startup(false, returningVisit, true);
      runs.push(startupPhases(t0, marks, resources, calls));
    }
    explained.startup[name] = runs;
  }

  // A fresh page's 10,000 track() calls: the cost per 1,000 calls (V8 runs
  // new code in its baseline tiers first), and where the loop's time goes.
  const trackBlocks = [];
  const trackProfiles = [];
  for (let load = 0; load < LOADS; load++) {
    const { page, context } = await h.open({ maxQueueEvents: 20_000, maxQueueBytes: 50_000_000 });
    const cdp = await context.newCDPSession(page);
    await page.evaluate(() => analytics.ready);
    const stop = await startProfiler(cdp);
    const blocks = await page.evaluate((source) => {
      const properties = eval(source);
      const blocks = (call) => {
        const ends = [performance.now()];
        for (let i = 0; i < 10_000; i++) {
          call(i);
          if (i % 1000 === 999) ends.push(performance.now());
        }
        // ms per 1,000 calls: µs per call.
        return ends.slice(1).map((end, k) => end - ends[k]);
      };
      function benchLoop() {
        for (let i = 0; i < 500; i++) JSON.stringify(properties(i));
        const stringify = blocks((i) => JSON.stringify(properties(i)));
        return { stringify, track: blocks((i) => analytics.track('Checkout Step Viewed', properties(i))) };
      }
      return benchLoop();
    }, PROPERTIES);
    trackBlocks.push(blocks);
    trackProfiles.push(timeByFunction(await stop(), (stack) => stack.includes('benchLoop')));
    await context.close();
  }
  const blockMedians = (key) => trackBlocks[0][key].map((_, k) => median(trackBlocks.map((blocks) => blocks[key][k])));
  explained.trackBlocks = { track: blockMedians('track'), stringify: blockMedians('stringify') };
  explained.trackProfile = meanTime(trackProfiles);

  // The main thread's work after a loop of 10,000, until they are delivered:
  // its time (LOADS runs), then what it allocates (one more run), which
  // garbage collection then frees.
  const afterLoop = [];
  for (let load = 0; load <= LOADS; load++) {
    const sampleAllocations = load === LOADS;
    const collector = await startCollector();
    const { page, context } = await h.open({ endpoint: collector.endpoint, maxQueueEvents: 20_000, maxQueueBytes: 50_000_000 });
    const cdp = await context.newCDPSession(page);
    await page.evaluate(() => analytics.ready);
    const stop = await (sampleAllocations ? startAllocationSampling : startProfiler)(cdp);
    await page.evaluate((source) => {
      const properties = eval(source);
      function benchLoop() {
        for (let i = 0; i < 10_000; i++) analytics.track('Wire', properties(i));
      }
      benchLoop();
    }, PROPERTIES);
    await waitFor(() => collector.stats().received === 10_000, { timeoutMs: 60_000, what: '10,000 events (profiled)' });
    await page.waitForTimeout(300);
    const afterTheLoop = (stack) => !stack.includes('benchLoop');
    if (sampleAllocations) explained.afterLoopAllocation = allocationByFunction(await stop(), afterTheLoop);
    else afterLoop.push(timeByFunction(await stop(), afterTheLoop));
    await context.close();
    await collector.close();
  }
  explained.afterLoop = meanTime(afterLoop);
} finally {
  await h.close();
}

// ---------- native core ----------
const divan = spawnSync('cargo', ['bench', '--bench', 'core'], { encoding: 'utf8', cwd: root });
const medianOf = (name) => {
  const lines = divan.stdout.split('\n');
  const at = lines.findIndex((l) => l.includes(name));
  const row = lines[at + 1] ?? '';
  const cells = row.split('│').map((c) => c.trim());
  const parse = (text) => {
    const match = text?.match(/([\d.]+) (ns|µs|ms|s)/);
    if (!match) return null;
    return Number(match[1]) * { ns: 1e-6, µs: 1e-3, ms: 1, s: 1000 }[match[2]];
  };
  return parse(cells[2]);
};
const trackMs = medianOf('track ');
const batchMs = medianOf('track_and_batch');
results.native = {
  trackNsPerEvent: trackMs && round((trackMs * 1e6) / 10_000, 0),
  trackEventsPerSecond: trackMs && Math.round(10_000 / (trackMs / 1000)),
  trackAndBatchNsPerEvent: batchMs && round((batchMs * 1e6) / 10_000, 0),
  trackAndBatchEventsPerSecond: batchMs && Math.round(10_000 / (batchMs / 1000)),
};

// ---------- report ----------
const rows = [
  ['size: wasm (raw / gzip / brotli)', `${results.size.wasm.raw} / ${results.size.wasm.gzip} / ${results.size.wasm.brotli} B`],
  ['size: JS (raw / gzip / brotli)', `${results.size.js.raw} / ${results.size.js.gzip} / ${results.size.js.brotli} B`],
  ['size: package files, wasm + all JS (gzip / brotli)', `${results.size.total.gzip} / ${results.size.total.brotli} B`],
  ['size: in a Vite production app, everything (gzip / brotli)', `${results.size.bundledByVite.total.gzip} / ${results.size.bundledByVite.total.brotli} B`, 'target ≤ 24,000 B gzip'],
  ['size: in a Vite app, critical path (gzip / brotli)', `${results.size.bundledByVite.criticalPath.gzip} / ${results.size.bundledByVite.criticalPath.brotli} B`, 'target ≤ 5,000 B gzip'],
  ['size: the core compiled to JS, only where wasm cannot run (raw / gzip / brotli)', results.size.bundledByVite.fallback ? `${results.size.bundledByVite.fallback.raw} / ${results.size.bundledByVite.fallback.gzip} / ${results.size.bundledByVite.fallback.brotli} B` : 'not built'],
  ...appTrackRows(results.appTrack),
  ['track() µs/call, fresh page / warm (IndexedDB)', `${results.track.usPerCall} / ${results.track.usPerCallWarm}`],
  ['JSON.stringify µs/call (floor)', results.track.stringifyUsPerCall],
  ['track() / stringify, fresh page / warm', `${results.track.ratioToStringify} / ${results.track.ratioToStringifyWarm}`, 'budget ≤ 2'],
  ['track() with / without persistence, fresh / warm', `${results.track.persistenceRatio} / ${results.track.persistenceRatioWarm}`, 'budget ≤ 1.2'],
  ['track() warm, each outcome awaited / ignored (µs)', `${results.track.usPerCallWarmAwaited} / ${results.track.usPerCallWarm} = ${results.track.awaitedRatioWarm}× (${results.track.awaitedDelivered} of 10,000 heard delivered)`, 'ignored costs no promise'],
  ['import → ready, empty queue (ms), first visit / returning', `${results.startup.msEmpty} / ${results.startup.msReturningVisitor}`, 'budget ≤ 50'],
  ['import → ready, 1,000 persisted (ms)', results.startup.msWith1000Persisted],
  ['wire: requests / bytes per event, plain', `${results.wire.plain.requests} / ${results.wire.plain.bytesPerEvent}`],
  ['wire: requests / bytes per event, gzip', `${results.wire.gzip.requests} / ${results.wire.gzip.bytesPerEvent}`, 'budget ≤ 50 B, ≥ 4× smaller'],
  ['wire: compression ratio', results.wire.compressionRatio],
  ['main-thread ms after a loop of 10k until delivered, the loop task\'s tail included (plain / gzip)', `${results.wire.plain.backgroundMs} / ${results.wire.gzip.backgroundMs}`, 'budget ≤ 200'],
  ['longest task ms after the loop (plain / gzip)', `${results.wire.plain.longestTaskMs} / ${results.wire.gzip.longestTaskMs}`, 'budget ≤ 50'],
  ['burst of 10,000 in one loop: received, ms to deliver, heap retained', `${results.burst.tenThousand.received} (dup ${results.burst.tenThousand.duplicates}), ${results.burst.tenThousand.deliveredMs} ms, ${results.burst.tenThousand.retainedHeapMB} MB`, 'all, once, ≤ 5 s'],
  ['burst of 100,000: received / dropped, heap retained', `${results.burst.hundredThousand.received} / ${results.burst.hundredThousand.droppedOverflow}, ${results.burst.hundredThousand.retainedHeapMB} MB`, 'newest 10,000 kept'],
  ...outageRows(results.outage),
  ['native core: track ns/event (events/s)', `${results.native.trackNsPerEvent} (${results.native.trackEventsPerSecond})`],
  ['native core: track+batch ns/event (events/s)', `${results.native.trackAndBatchNsPerEvent} (${results.native.trackAndBatchEventsPerSecond})`],
];
console.log('\nanalytics-wasm benchmarks (median of %d page loads)\n', LOADS);
for (const [name, value, budget = ''] of rows) console.log(`${name.padEnd(50)} ${String(value).padEnd(28)} ${budget}`);

console.log('\nwhere the time goes (separate runs, profiled or probed; they explain the figures above, they do not measure them)');
for (const [name, runs] of Object.entries(explained.startup)) printPhases(`import → ready, ${name}: the phases`, runs);
const perBlock = (list) => list.map((us) => us.toFixed(2)).join(' ');
console.log(`\ntrack() on a fresh page, µs per call for each 1,000 calls, in order (median of ${LOADS}, profiled):`);
console.log(`  track()         ${perBlock(explained.trackBlocks.track)}`);
console.log(`  JSON.stringify  ${perBlock(explained.trackBlocks.stringify)}`);
printTime("a fresh page's loop of 10,000 track() (with the properties' own making), by function", explained.trackProfile);
printTime('the main thread after a loop of 10,000 until delivered (plain), by function', explained.afterLoop);
printAllocation('what the main thread allocates after that loop until delivered (one run), by function', explained.afterLoopAllocation);
results.explained = {
  startup: explained.startup,
  trackBlocksUsPerCall: explained.trackBlocks,
  trackProfileMs: explained.trackProfile.rows.slice(0, 20).map(([label, ms]) => [label, round(ms, 1)]),
  afterLoopProfileMs: explained.afterLoop.rows.slice(0, 20).map(([label, ms]) => [label, round(ms, 1)]),
  afterLoopAllocationMB: explained.afterLoopAllocation.rows.slice(0, 20).map(([label, mb]) => [label, round(mb, 2)]),
};
results.measuredAt = new Date().toISOString();
writeFileSync(`${root}benches/results.json`, JSON.stringify(results, null, 2) + '\n');
console.log('\nwritten: benches/results.json, benches/wasm-breakdown.txt');
