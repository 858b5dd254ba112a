// The reliability suite: what browsers and networks do to events, against
// the dev collector, in every browser (Chromium, Firefox, WebKit: see
// ../support/browsers/index.mjs). Every scenario asserts exact counts at the
// collector and in metrics(), and prints them (`scenario N (browser): …`).
// In Chromium the suite runs a second time with the core compiled to
// JavaScript (WebAssembly removed before any script runs), the fallback of
// browsers where WebAssembly cannot run.
import { describe, test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { countStored, useHarness, waitFor, waitForCount, waitForStored, wayOut } from './harness.mjs';
import { BROWSERS } from '../support/browsers/index.mjs';

const RUNS = BROWSERS.map((browserName) => ({ browserName, core: 'wasm' }));
if (BROWSERS.includes('chromium')) RUNS.push({ browserName: 'chromium', core: 'js' });

for (const { browserName, core } of RUNS) {
  const label = core === 'js' ? `${browserName}, core in JS` : browserName;
  describe(label, () => {
    const harness = useHarness({ browserName, core });
    let h;
    beforeEach(() => {
      h = harness();
    });

    const report = (scenario, counts) => console.log(`scenario ${scenario} (${label}): ${JSON.stringify(counts)}`);
    const received = () => h.collector.stats().received;
    const indices = () => h.collector.events().map((e) => e.properties.i).sort((a, b) => a - b);
    const range = (from, to) => Array.from({ length: to - from }, (_, k) => from + k);
    /** Waits until `page` holds nothing unsent, so that closing it sends nothing into the next test. */
    const waitForIdle = async (page) => {
      let metrics;
      await waitFor(async () => {
        metrics = await page.evaluate(() => analytics.metrics());
        return metrics.pending === 0 && metrics.inFlight === 0;
      }, { what: 'the page to hold nothing unsent', timeoutMs: 30_000 }).catch((error) => {
        throw new Error(`${error.message}; page ${JSON.stringify(metrics)}`);
      });
    };

    // Ten properties: strings, numbers, a boolean, a nested object and an array.
    const TEN_PROPERTIES = `(i) => ({ i, plan: 'pro', price: 49.99, currency: 'EUR', trial: false,
      source: 'pricing-page', tags: ['a', 'b', 'c'], nested: { x: 1, y: 'two' }, experiment: 'checkout-v2', step: 3 })`;

    /** Hides the page the way a tab switch does: visibilityState and the event. */
    const hidePage = (page) =>
      page.evaluate(() => {
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
        document.dispatchEvent(new Event('visibilitychange'));
      });

    test('0. what the browser gives: IndexedDB, Web Locks, sendBeacon, CompressionStream (gzip bodies arrive)', async () => {
      const { page, context } = await h.open({ compression: 'gzip', flushAt: 50 });
      const given = await page.evaluate(async () => {
        await analytics.ready;
        for (let i = 0; i < 50; i++) analytics.track('Compressed', { i, text: 'the same words again and again' });
        await analytics.flush();
        const m = analytics.metrics();
        return { core: m.core, storage: m.storage, ownership: m.ownership, sendBeacon: typeof navigator.sendBeacon === 'function', compressionStream: typeof CompressionStream === 'function' };
      });
      await waitFor(() => received() === 50, { what: '50 gzipped events' });
      const encodings = [...new Set(h.collector.requests().map((r) => r.encoding))];
      assert.deepEqual(given, { core, storage: 'indexeddb', ownership: 'web-locks', sendBeacon: true, compressionStream: true });
      assert.deepEqual(encodings, ['gzip']);
      assert.deepEqual(indices(), range(0, 50));
      report(0, { ...given, encodings, bytesPerEvent: +(h.collector.stats().bytes / 50).toFixed(1) });
      await context.close();
    });

    test('1. steady state: 10,000 events with 10 properties arrive exactly once', async () => {
      const { page, context } = await h.open({});
      const metrics = await page.evaluate(async (makeSource) => {
        const properties = eval(makeSource);
        await analytics.ready;
        for (let i = 0; i < 10_000; i++) {
          analytics.track('Steady', properties(i));
          // A very busy page: 100 events every 10 ms (10,000 events/s).
          if (i % 100 === 99) await new Promise((r) => setTimeout(r, 10));
        }
        await analytics.flush();
        return analytics.metrics();
      }, TEN_PROPERTIES);
      await waitForCount(received, 10_000, { what: '10,000 events' });
      const stats = h.collector.stats();
      assert.equal(stats.duplicates, 0);
      assert.deepEqual(indices(), range(0, 10_000));
      assert.equal(metrics.droppedOverflow, 0);
      report(1, { received: stats.received, duplicates: stats.duplicates, requests: stats.requests, bytesPerEvent: +(stats.bytes / 10_000).toFixed(1), droppedOverflow: metrics.droppedOverflow });
      await context.close();
    });

    /** Counts, in window.workerJobs, the jobs the page posts to the recorder's worker, by kind, and the answers it hears. */
    const countWorkerJobs = () => {
      const counts = (window.workerJobs = { posted: {}, answers: 0 });
      const listening = new WeakSet();
      const post = Worker.prototype.postMessage;
      Worker.prototype.postMessage = function (message, ...rest) {
        counts.posted[message[1]] = (counts.posted[message[1]] ?? 0) + 1;
        if (!listening.has(this)) {
          listening.add(this);
          this.addEventListener('message', () => counts.answers++);
        }
        return post.call(this, message, ...rest);
      };
    };

    test('17. a burst: 10,000 events tracked in one synchronous loop with the default config all arrive, once, its large writes and sends made by the recorder\'s worker', async () => {
      const { page, context } = await h.open({}, { init: countWorkerJobs });
      await page.evaluate(() => analytics.ready);
      const started = Date.now();
      const metrics = await page.evaluate((makeSource) => {
        const properties = eval(makeSource);
        for (let i = 0; i < 10_000; i++) analytics.track('Burst', properties(i));
        return analytics.metrics();
      }, TEN_PROPERTIES);
      await waitForCount(received, 10_000, { what: '10,000 events of the burst' });
      const deliveredMs = Date.now() - started;
      const stats = h.collector.stats();
      assert.equal(metrics.droppedOverflow, 0, 'nothing of the burst was dropped');
      assert.equal(stats.duplicates, 0);
      assert.deepEqual(indices(), range(0, 10_000));
      // Every browser runs the worker: a burst's writes and bodies are large enough for it, and it answers each job.
      const jobs = await page.evaluate(() => window.workerJobs);
      assert.ok(jobs.posted.write > 0 && jobs.posted.send > 0, `jobs posted to the worker: ${JSON.stringify(jobs.posted)}`);
      const posted = jobs.posted.write + jobs.posted.send;
      await waitFor(() => page.evaluate((posted) => window.workerJobs.answers === posted, posted), { what: `the worker's answers to its ${posted} jobs` });
      report(17, { received: stats.received, duplicates: stats.duplicates, requests: stats.requests, deliveredMs, workerJobs: jobs.posted });
      await context.close();
    });

    // How a page goes away: the tab closes, or it navigates to another page.
    const leave = (page, how) => (how === 'closing' ? page.close({ runBeforeUnload: true }) : page.goto(`${h.site.url}/blank.html`));

    for (const how of ['closing', 'navigating away']) {
      // Firefox closing a tab for WebDriver BiDi now and then drops what the
      // page did in pagehide: in 1 run in 15 of the suite's first tests (1
      // in 3 with other suites running), none or part of the 50 arrived,
      // and a run traced inside the SDK had handed all 50 to a sendBeacon
      // the browser accepted. There a fresh tab tries again, up to three
      // times: an SDK that failed to send them would fail all three.
      const attempts = browserName === 'firefox' && how === 'closing' ? 3 : 1;
      test(`2. unload (${how}): 50 events tracked just before all arrive`, async () => {
        for (let attempt = 1; ; attempt++) {
          h.collector.reset();
          const { page, context } = await h.open({ flushAt: 1000, flushIntervalMs: 60_000 });
          await page.evaluate(async () => {
            await analytics.ready;
            for (let i = 0; i < 50; i++) analytics.track('Unload', { i });
          });
          const expected = await wayOut(page);
          await leave(page, how);
          try {
            await waitFor(() => received() === 50, { what: `50 events after ${how} (attempt ${attempt} of ${attempts})`, timeoutMs: attempts > 1 ? 5000 : undefined });
          } catch (error) {
            await context.close();
            if (attempt < attempts) continue;
            throw error;
          }
          const stats = h.collector.stats();
          assert.equal(stats.duplicates, 0);
          assert.deepEqual(indices(), range(0, 50));
          const modes = [...new Set(h.collector.requests().map((r) => r.mode))];
          assert.deepEqual(modes, [expected], 'sent as the page went away, by fetch with keepalive (else sendBeacon)');
          report(2, { how, received: stats.received, duplicates: stats.duplicates, requests: stats.requests, transport: modes, attempt });
          await context.close();
          return;
        }
      });
    }

    // The page's own pagehide listener, registered before the SDK's: in Chromium
    // it lets the browser's abort of a fetch reach the SDK before its own
    // pagehide listener runs (Firefox reports the abort before pagehide anyway).
    const EARLIER_PAGEHIDE_LISTENER = () => addEventListener('pagehide', () => {});

    for (const how of ['closing', 'navigating away']) {
      // As in scenario 2: Firefox closing a tab for BiDi now and then drops
      // the page's pagehide work, so there a fresh tab tries again, up to
      // three times.
      const attempts = browserName === 'firefox' && how === 'closing' ? 3 : 1;
      test(`12. a fetch in flight at unload (${how}): its events and the pending ones leave with the page, and a later visit asks about them instead of sending copies`, async () => {
        let context;
        let beaconed;
        let expected;
        for (let attempt = 1; ; attempt++) {
          h.collector.reset();
          let page;
          ({ page, context } = await h.open({}, { init: EARLIER_PAGEHIDE_LISTENER }));
          await page.evaluate(() => analytics.ready);
          expected = await wayOut(page);
          // The collector holds each request 400 ms: the first batch (flushAt 20) is still in flight at unload.
          h.collector.setFault({ delayMs: 400 });
          await page.evaluate(() => {
            for (let i = 0; i < 30; i++) analytics.track('In Flight', { i });
          });
          await waitFor(() => h.collector.requests().length >= 1, { what: 'the first batch at the collector' });
          await leave(page, how);
          beaconed = () => h.collector.requests().filter((r) => r.mode === expected).reduce((sum, r) => sum + r.events, 0);
          try {
            await waitFor(() => received() === 30 && beaconed() >= 10, { what: `30 events after unload, 10 or more by ${expected} (attempt ${attempt} of ${attempts})`, timeoutMs: 15_000 });
            break;
          } catch (error) {
            await context.close();
            if (attempt < attempts) continue;
            throw error;
          }
        }
        assert.deepEqual(indices(), range(0, 30));
        const copiesAtUnload = h.collector.stats().duplicates;

        // What left with the page stays stored until something confirms it:
        // a later visit asks the collector about it (receipts) and sends
        // nothing again, since the collector holds it all.
        h.collector.setFault({});
        const next = await h.open({ receiptGraceMs: 500 }, { context });
        let later;
        // On a busy machine Firefox can keep a closed page running long enough
        // to have everything confirmed: then nothing is left to restore.
        await waitFor(async () => {
          later = await next.page.evaluate(() => analytics.metrics());
          return later.unconfirmed === 0 && later.pending === 0 && (later.eventsRestored > 0 || (await countStored(next.page)) === 0);
        }, { what: 'the later visit to restore and settle what the page left' });
        assert.ok(later.eventsRestored <= 30);
        assert.equal(later.eventsConfirmed, later.eventsRestored, JSON.stringify(later));
        assert.equal(later.eventsResent, 0);
        assert.equal(received(), 30, 'no event the later visit sent was new');
        assert.equal(h.collector.stats().duplicates, copiesAtUnload, 'and it sent no copy');
        report(12, { how, received: received(), duplicates: h.collector.stats().duplicates, [expected]: beaconed(), restoredByNextPage: later.eventsRestored, confirmedByNextPage: later.eventsConfirmed });
        await context.close();
      });
    }

    // What a page sends as it goes away cannot be followed: the collector may
    // refuse it (a deploy, an overload) with nobody left to hear. So those
    // events stay stored, and the next page load (or a new tab, adopting
    // them) asks the collector which it holds before sending the rest again.
    const LEAVE_AND_COME_BACK = {
      reloading: async (page) => {
        await page.reload();
        return page;
      },
      'navigating away and back': async (page, url) => {
        await page.goto(`${h.site.url}/blank.html`);
        await page.goto(url);
        return page;
      },
      'closing, then a new tab': async (page, url, context) => {
        await page.close({ runBeforeUnload: true });
        return (await h.open({ receiptGraceMs: 500 }, { context })).page;
      },
    };
    for (const [how, comeBack] of Object.entries(LEAVE_AND_COME_BACK)) {
      for (const receipts of [true, false]) {
        const collector = receipts ? 'a collector that gives receipts' : 'one that gives none';
        test(`19. the collector refuses what the page sends as it goes away (${how}; ${collector}): all 14 events arrive afterwards, none twice`, async () => {
          const { page, context, url } = await h.open({ flushAt: 1000, flushIntervalMs: 60_000, receiptGraceMs: 500 });
          await page.evaluate(async () => {
            await analytics.ready;
            for (let i = 0; i < 14; i++) analytics.track('Refused On The Way Out', { i });
          });
          await waitForStored(page, 14);
          h.collector.setFault({ wayOutStatus: 503, noReceipts: !receipts });
          const expected = await wayOut(page);
          const back = await comeBack(page, url, context);
          await waitFor(() => received() === 14, { what: '14 events after coming back', timeoutMs: 30_000 });
          let later;
          await waitFor(async () => {
            later = await back.evaluate(() => analytics.metrics());
            return later.unconfirmed === 0 && later.pending === 0 && later.inFlight === 0;
          }, { what: 'the page that came back to settle what it restored' });
          const refused = h.collector.requests().filter((r) => r.mode === expected && r.status === 503);
          const stats = h.collector.stats();
          assert.deepEqual(indices(), range(0, 14));
          assert.equal(stats.duplicates, 0);
          // Firefox now and then runs no pagehide work in a tab closed by BiDi
          // (see 2.): then nothing was refused, and the events were only stored.
          if (browserName !== 'firefox' || !how.startsWith('closing')) assert.equal(refused.reduce((n, r) => n + r.events, 0), 14, `the way-out request: ${JSON.stringify(h.collector.requests())}`);
          assert.equal(later.eventsRestored, 14);
          assert.equal(later.eventsResent, 14, 'the collector held none: each sent again once');
          assert.equal(later.eventsConfirmed, 0);
          assert.ok(receipts ? stats.receiptRequests >= 1 : stats.receiptRequests === 0, `receipt requests answered: ${stats.receiptRequests}`);
          report(19, { how, receipts, received: stats.received, duplicates: stats.duplicates, refusedOnTheWayOut: refused.length, restored: later.eventsRestored, resent: later.eventsResent, receiptRequests: stats.receiptRequests });
          await context.close();
        });
      }
    }

    test('13. navigating away and back: the next page load is ready at once and sends its own events', async () => {
      const { page, context, url } = await h.open({ flushAt: 1000, flushIntervalMs: 60_000 });
      await page.evaluate(async () => {
        await analytics.ready;
        for (let i = 0; i < 5; i++) analytics.track('First Page', { i });
      });
      await page.goto(`${h.site.url}/blank.html`);
      await waitFor(() => received() === 5, { what: 'the first page\'s 5 events' });
      await page.goto(url);
      const second = await page.evaluate(async () => {
        const started = performance.now();
        const within = (promise, ms) => Promise.race([promise, new Promise((r) => setTimeout(() => r('no answer'), ms))]);
        const ready = await within(analytics.ready.then(() => 'ready'), 10_000);
        const readyMs = Math.round(performance.now() - started);
        for (let i = 0; i < 5; i++) analytics.track('Second Page', { i });
        const flushed = await within(analytics.flush(), 10_000);
        return { ready, readyMs, flushed, metrics: analytics.metrics(), errors: window.errors };
      });
      await waitFor(() => received() === 10, { what: '10 events', timeoutMs: 15_000 });
      assert.equal(second.ready, 'ready');
      assert.equal(second.metrics.storage, 'indexeddb');
      assert.deepEqual(second.errors, [], 'storage answered: no error');
      assert.equal(h.collector.events().filter((e) => e.event === 'Second Page').length, 5);
      assert.equal(h.collector.stats().duplicates, 0);
      report(13, { received: received(), readyMs: second.readyMs, flushed: second.flushed, storage: second.metrics.storage });
      await context.close();
    });

    test('14. storage that does not answer: another page holds IndexedDB busy; ready comes anyway, events leave from memory, storage catches up', async () => {
      const context = await h.browser.newContext();
      // A page of the origin whose readwrite transaction never ends (each request
      // issues the next), as a page frozen in the back/forward cache can.
      const holder = await context.newPage();
      await holder.goto(`${h.site.url}/blank.html`);
      await holder.evaluate(() => {
        const open = indexedDB.open('analytics-wasm', 1);
        open.onupgradeneeded = () => open.result.createObjectStore('events');
        return new Promise((resolve) => {
          open.onsuccess = () => {
            const store = open.result.transaction('events', 'readwrite').objectStore('events');
            const spin = () => {
              if (window.releaseStorage) return;
              store.get('spin').onsuccess = spin;
            };
            spin();
            resolve();
          };
        });
      });
      const { page } = await h.open({}, { context });
      const during = await page.evaluate(async () => {
        const started = performance.now();
        const ready = await Promise.race([analytics.ready.then(() => 'ready'), new Promise((r) => setTimeout(() => r('no answer'), 15_000))]);
        const readyMs = Math.round(performance.now() - started);
        for (let i = 0; i < 20; i++) analytics.track('Stalled Storage', { i });
        await analytics.flush();
        return { ready, readyMs, metrics: analytics.metrics(), errors: window.errors };
      });
      await waitFor(() => received() === 20, { what: '20 events sent from memory' });
      assert.equal(during.ready, 'ready');
      assert.ok(during.errors.some((e) => e.type === 'storage' && /did not answer/.test(e.message)), JSON.stringify(during.errors));
      // The holder lets go: storage answers, and this page's writes and adoption pass complete.
      h.collector.setFault({ status: 503 });
      await holder.evaluate(() => {
        window.releaseStorage = true;
      });
      await page.evaluate(async () => {
        for (let i = 20; i < 30; i++) analytics.track('Stalled Storage', { i });
        await analytics.flush();
      });
      await page.waitForTimeout(500);
      h.collector.setFault({});
      await page.reload();
      await page.evaluate(() => analytics.ready);
      await waitFor(() => received() === 30, { what: '30 events, the last 10 after a reload', timeoutMs: 30_000 });
      assert.deepEqual(indices(), range(0, 30));
      report(14, { received: received(), duplicates: h.collector.stats().duplicates, readyMs: during.readyMs, storageErrors: during.errors.filter((e) => e.type === 'storage').length });
      // A retry the reload cut short can have delivered the last 10 already
      // while the page still holds copies it may send (at-least-once); closed
      // now, it would beacon them into the next test's collector.
      await waitForIdle(page);
      await context.close();
    });

    test('3. hidden tab: pending events are sent when the page is hidden, before any timer', async () => {
      const { page, context } = await h.open({ flushAt: 1000, flushIntervalMs: 600_000 });
      await page.evaluate(async () => {
        await analytics.ready;
        for (let i = 0; i < 30; i++) analytics.track('Hidden', { i });
      });
      const hiddenAt = Date.now();
      await hidePage(page);
      // Counted by name: what another test's page sends as it closes is not this page's.
      const hiddenEvents = () => h.collector.events().filter((e) => e.event === 'Hidden').length;
      await waitFor(() => hiddenEvents() === 30, { what: '30 events after hide', timeoutMs: 5_000 }).catch(async (error) => {
        const metrics = await page.evaluate(() => analytics.metrics()).catch(() => null);
        throw new Error(`${error.message}; collector ${JSON.stringify(h.collector.stats())} ${JSON.stringify(h.collector.requests())}; page ${JSON.stringify(metrics)}`);
      });
      const elapsed = Date.now() - hiddenAt;
      // The page stays: it is told the answer, and its events are settled.
      const metrics = await waitFor(async () => {
        const m = await page.evaluate(() => analytics.metrics());
        return m.eventsSent === 30 && m;
      }, { what: 'the page to hear its 30 events were delivered' });
      assert.equal(metrics.pending, 0);
      assert.equal(metrics.unconfirmed, 0);
      assert.ok(elapsed < 5_000, 'long before the 600 s interval timer');
      report(3, { received: received(), duplicates: h.collector.stats().duplicates, msAfterHide: elapsed, transport: h.collector.requests().map((r) => r.mode) });
      await context.close();
    });

    test('3b. background tab: events tracked while hidden survive a collector outage', async () => {
      const { page, context } = await h.open({});
      await page.evaluate(() => analytics.ready);
      await hidePage(page);
      h.collector.setFault({ down: true });
      await page.evaluate(async () => {
        for (let i = 0; i < 30; i++) analytics.track('Background', { i });
        await analytics.flush();
      });
      const during = received();
      h.collector.setFault({});
      await page.evaluate(() => analytics.flush());
      await waitFor(() => received() === 30, { what: '30 events after the outage', timeoutMs: 30_000 });
      const metrics = await page.evaluate(() => analytics.metrics());
      assert.equal(during, 0);
      assert.deepEqual(indices(), range(0, 30));
      assert.ok(metrics.batchesFailed >= 1, 'the outage was seen, not hidden behind beacons');
      report('3b', { received: received(), duplicates: h.collector.stats().duplicates, batchesFailed: metrics.batchesFailed, transport: [...new Set(h.collector.requests().filter((r) => r.status === 200).map((r) => r.mode))] });
      await context.close();
    });

    test('4. reload persistence: 200 events tracked while the collector fails arrive after a reload, once', async () => {
      const { page, context } = await h.open({});
      await page.evaluate(() => analytics.ready);
      h.collector.setFault({ status: 503 });
      await page.evaluate(async () => {
        for (let i = 0; i < 200; i++) analytics.track('Reload', { i });
        await analytics.flush();
      });
      const refused = h.collector.stats().refused;
      await page.reload();
      h.collector.setFault({});
      const restored = await page.evaluate(async () => {
        await analytics.ready;
        return analytics.metrics().eventsRestored;
      });
      await waitFor(() => received() === 200, { what: '200 events after reload', timeoutMs: 20_000 }).catch(async (error) => {
        const metrics = await page.evaluate(() => analytics.metrics()).catch(() => null);
        throw new Error(`${error.message}; restored ${restored}; collector ${JSON.stringify(h.collector.stats())}; page ${JSON.stringify(metrics)}`);
      });
      await page.waitForTimeout(300);
      const stats = h.collector.stats();
      assert.equal(restored, 200);
      assert.equal(stats.received, 200);
      assert.equal(stats.duplicates, 0);
      assert.deepEqual(indices(), range(0, 200));
      report(4, { received: stats.received, duplicates: stats.duplicates, restored, refusedBeforeReload: refused, requests: stats.requests });
      await context.close();
    });

    test('4b. reload with an IndexedDB write still open: the unload aborts it, and no event is lost', async () => {
      // Once `holdWrites` is set, readwrite transactions are kept open (a
      // read after each read, commit() ignored) and pagehide aborts them, as
      // a page torn down with a write in flight does.
      const init = () => {
        const held = [];
        const transaction = IDBDatabase.prototype.transaction;
        IDBDatabase.prototype.transaction = function (names, mode, ...rest) {
          const tx = transaction.call(this, names, mode, ...rest);
          if (mode === 'readwrite' && window.holdWrites) {
            tx.commit = () => {};
            const store = tx.objectStore(names);
            const keepOpen = () => {
              store.get('keep-open').onsuccess = keepOpen;
            };
            keepOpen();
            held.push(tx);
          }
          return tx;
        };
        addEventListener('pagehide', () => {
          for (const tx of held) tx.abort();
        });
      };
      const { page, context } = await h.open({}, { init });
      await page.evaluate(() => analytics.ready);
      h.collector.setFault({ status: 503 });
      await page.evaluate(async () => {
        window.holdWrites = true;
        for (let i = 0; i < 200; i++) analytics.track('Reload', { i });
        await analytics.flush();
        // Past persistDebounceMs: the write is issued, and held open.
        await new Promise((resolve) => setTimeout(resolve, 400));
      });
      await page.reload();
      h.collector.setFault({});
      await waitFor(() => received() === 200, { what: '200 events after reload', timeoutMs: 20_000 });
      await page.waitForTimeout(300);
      assert.equal(h.collector.stats().duplicates, 0);
      assert.deepEqual(indices(), range(0, 200));
      await context.close();
    });

    test('5. outage: 500 events tracked during 10 s of collector downtime all arrive soon after it returns; backoff keeps requests few', async () => {
      const { page, context } = await h.open({});
      await page.evaluate(() => analytics.ready);
      h.collector.setFault({ down: true });
      const downAt = Date.now();
      await page.evaluate(async () => {
        for (let i = 0; i < 500; i++) {
          analytics.track('Outage', { i });
          await new Promise((r) => setTimeout(r, 20));
        }
      });
      const trackedFor = Date.now() - downAt;
      const during = h.collector.requests().length;
      h.collector.setFault({});
      const upAt = Date.now();
      // Probes keep coming every 2-4 s: the return is seen then, not after a
      // 30 s circuit (the bench prints the figure; this bound has headroom).
      await waitFor(() => received() === 500, { what: '500 events within 20 s of the collector\'s return', timeoutMs: 20_000 });
      const drainedAfter = Date.now() - upAt;
      const metrics = await page.evaluate(() => analytics.metrics());
      const stats = h.collector.stats();
      const perSecond = during / (trackedFor / 1000);
      assert.equal(stats.duplicates, 0);
      assert.deepEqual(indices(), range(0, 500));
      assert.ok(perSecond <= 2, `${during} requests in ${trackedFor} ms of outage`);
      report(5, { received: stats.received, duplicates: stats.duplicates, outageMs: trackedFor, requestsDuringOutage: during, requestsPerSecond: +perSecond.toFixed(2), msToDrainAfterReturn: drainedAfter, batchesFailed: metrics.batchesFailed, circuitOpened: metrics.batchesFailed >= 5 });
      await context.close();
    });

    test('6. 429 with Retry-After: 3: no request before 3 s, then everything arrives', async () => {
      const { page, context } = await h.open({});
      await page.evaluate(() => analytics.ready);
      h.collector.setFault({ status: 429, retryAfter: 3 });
      await page.evaluate(() => {
        for (let i = 0; i < 20; i++) analytics.track('Limited', { i });
      });
      await waitFor(() => h.collector.requests().length >= 1, { what: 'the 429' });
      h.collector.setFault({});
      await waitFor(() => received() === 20, { what: '20 events after Retry-After', timeoutMs: 15_000 });
      const [limited, ...later] = h.collector.requests();
      const gap = later[0].at - limited.at;
      assert.equal(limited.status, 429);
      assert.ok(gap >= 2_990, `retried after ${gap} ms`);
      assert.equal(h.collector.stats().duplicates, 0);
      report(6, { received: received(), duplicates: h.collector.stats().duplicates, firstRetryAfterMs: gap, requests: h.collector.requests().length });
      await context.close();
    });

    test('7. 413: bodies over 10 KB are refused; batches split until they fit; one oversize event is dropped', async () => {
      const { page, context } = await h.open({ flushAt: 61 });
      await page.evaluate(() => analytics.ready);
      h.collector.setFault({ maxBodyBytes: 10_240 });
      const metrics = await page.evaluate(async () => {
        const padding = 'p'.repeat(300);
        for (let i = 0; i < 60; i++) analytics.track('Sized', { i, padding });
        analytics.track('Oversize', { i: 'big', padding: 'x'.repeat(12_000) });
        await analytics.flush();
        for (let k = 0; k < 100 && analytics.metrics().pending + analytics.metrics().inFlight > 0; k++) {
          await new Promise((r) => setTimeout(r, 50));
          await analytics.flush();
        }
        return analytics.metrics();
      });
      await waitFor(() => received() === 60, { what: '60 events that fit' });
      const stats = h.collector.stats();
      assert.deepEqual(indices(), range(0, 60));
      assert.equal(metrics.droppedTooLarge, 1);
      assert.equal(metrics.eventsSent, 60);
      assert.ok(h.collector.events().every((e) => e.event !== 'Oversize'));
      assert.ok(h.collector.requests().every((r) => r.status !== 200 || r.bytes <= 10_240));
      report(7, { received: stats.received, duplicates: stats.duplicates, tooLargeAnswers: stats.tooLarge, requests: stats.requests, droppedTooLarge: metrics.droppedTooLarge });
      await context.close();
    });

    test('8. per-event rejection: exactly the rejected event is dropped and counted', async () => {
      const { page, context } = await h.open({});
      await page.evaluate(() => analytics.ready);
      h.collector.setFault({ rejectEvents: ['Rejected'] });
      const result = await page.evaluate(async () => {
        for (let i = 0; i < 20; i++) analytics.track(i === 7 ? 'Rejected' : 'Accepted', { i });
        const flushed = await analytics.flush();
        return { flushed, metrics: analytics.metrics(), errors: window.errors };
      });
      await waitFor(() => received() === 19, { what: '19 accepted events' });
      assert.deepEqual(indices(), range(0, 20).filter((i) => i !== 7));
      assert.equal(result.metrics.droppedRejected, 1);
      assert.equal(result.metrics.eventsSent, 19);
      assert.ok(result.errors.some((e) => e.type === 'delivery' && e.message.includes('rejected 1 event')));
      report(8, { received: received(), duplicates: h.collector.stats().duplicates, droppedRejected: result.metrics.droppedRejected, flush: result.flushed });
      await context.close();
    });

    test('9. bad input: the page keeps working, other events arrive, errors are reported', async () => {
      const { page, context } = await h.open({});
      const result = await page.evaluate(async () => {
        await analytics.ready;
        const circular = { a: 1 };
        circular.self = circular;
        const thrown = [];
        const attempts = [
          ['Circular', circular],
          ['BigInt', { n: 12345678901234567890n }],
          ['Functions', { f: () => 1, kept: 'yes' }],
          ['Huge', { s: 'x'.repeat(2 * 1024 * 1024) }],
          ['NotAnObject', 'just a string'],
          ['Array', [1, 2]],
          ['Good', { fine: true }],
        ];
        for (const [name, properties] of attempts) {
          try {
            analytics.track(name, properties);
          } catch (error) {
            thrown.push(String(error));
          }
        }
        analytics.track('After', { stillWorking: true });
        await analytics.flush();
        return { thrown, errors: window.errors, metrics: analytics.metrics() };
      });
      await waitFor(() => received() === 5, { what: '5 good events' });
      const names = h.collector.events().map((e) => e.event).sort();
      assert.deepEqual(result.thrown, []);
      assert.deepEqual(names, ['After', 'BigInt', 'Circular', 'Functions', 'Good']);
      const inputErrors = result.errors.filter((e) => e.type === 'input');
      assert.equal(inputErrors.length, 3, JSON.stringify(inputErrors));
      assert.equal(result.metrics.droppedTooLarge, 1);
      report(9, { received: received(), duplicates: h.collector.stats().duplicates, inputErrors: inputErrors.length, droppedTooLarge: result.metrics.droppedTooLarge, thrown: result.thrown.length });
      await context.close();
    });

    test('8b. a 400 with no list of events: one bad event among 20 costs only itself', async () => {
      const { page, context } = await h.open({});
      await page.evaluate(() => analytics.ready);
      h.collector.setFault({ refuseEvents: ['Poison'] });
      await page.evaluate(async () => {
        for (let i = 0; i < 20; i++) analytics.track(i === 7 ? 'Poison' : 'Good', { i });
        await analytics.flush();
      });
      await waitFor(() => received() === 19, { what: '19 good events' });
      const metrics = await waitFor(async () => {
        const m = await page.evaluate(() => analytics.metrics());
        return m.pending + m.inFlight === 0 && m;
      }, { what: 'a drained queue' });
      const requests = h.collector.requests().length;
      assert.deepEqual(indices(), range(0, 20).filter((i) => i !== 7));
      assert.equal(metrics.droppedRejected, 1);
      assert.equal(metrics.eventsSent, 19);
      assert.ok(requests <= 11, `${requests} requests to find one bad event among 20`);
      report('8b', { received: received(), duplicates: h.collector.stats().duplicates, droppedRejected: metrics.droppedRejected, requests });
      await context.close();
    });

    test('8c. a message over 32 KB: refused at track() by default, split out of its batch when allowed', async () => {
      const { page, context } = await h.open({});
      h.collector.setFault({ maxEventBytes: 32_768 });
      const refused = await page.evaluate(async () => {
        await analytics.ready;
        for (let i = 0; i < 20; i++) analytics.track('Sized', i === 5 ? { i, text: 'x'.repeat(40_000) } : { i });
        await analytics.flush();
        return { errors: window.errors.filter((e) => e.type === 'input').map((e) => e.message), metrics: analytics.metrics() };
      });
      await waitFor(() => received() === 19, { what: '19 events' });
      assert.equal(refused.errors.length, 1);
      assert.match(refused.errors[0], /event is \d+ bytes encoded, larger than the limit of 32768 bytes/);
      assert.equal(refused.metrics.droppedTooLarge, 1);
      await context.close();
      h.collector.reset();
      const allowed = await h.open({ maxEventBytes: 65_536 });
      h.collector.setFault({ maxEventBytes: 32_768 });
      const metrics = await allowed.page.evaluate(async () => {
        await analytics.ready;
        for (let i = 0; i < 20; i++) analytics.track('Sized', i === 5 ? { i, text: 'x'.repeat(40_000) } : { i });
        await analytics.flush();
        for (let k = 0; k < 100 && analytics.metrics().pending + analytics.metrics().inFlight > 0; k++) {
          await new Promise((r) => setTimeout(r, 50));
          await analytics.flush();
        }
        return analytics.metrics();
      });
      await waitFor(() => received() === 19, { what: '19 events around the 40 KB one' });
      assert.deepEqual(indices(), range(0, 20).filter((i) => i !== 5));
      assert.equal(metrics.droppedRejected, 1);
      // Allowing a message over Segment's 32 KB is what this half tests: that is all Segment's rules find.
      const broke = h.collector.takeViolations();
      assert.ok(broke.length > 0 && broke.every((v) => v.includes('Your message must be < 32kb')), JSON.stringify(broke.slice(0, 3)));
      report('8c', { received: received(), refusedAtTrack: refused.errors.length, droppedRejectedWhenAllowed: metrics.droppedRejected, requests: h.collector.requests().length });
      await allowed.context.close();
    });

    test('8d. a stored record framed like an event but not JSON is not restored; the other events arrive', async () => {
      const { page, context } = await h.open({ storage: 'localstorage' }, {
        init: () => {
          // A closed tab's partition holding one record cut short by a crash (record form of src/core/record.rs).
          const id = '00000000-0000-4000-8000-00000000c0de';
          const json = `{"type":"track","event":"Broken","messageId":"${id}","anonymousId":"a","timestamp":"${new Date().toISOString()}","properties":{"i":-1,}`;
          localStorage.setItem(`analytics-wasm:feedfacefeedface:e:${id}`, `0\t${id}\t${Date.now()}\t${json}}`);
        },
      });
      const metrics = await page.evaluate(async () => {
        await analytics.ready;
        for (let i = 0; i < 19; i++) analytics.track('Good', { i });
        await analytics.flush();
        return analytics.metrics();
      });
      await waitFor(() => received() === 19, { what: '19 good events' });
      assert.equal(metrics.restoreCorrupt, 1);
      assert.equal(metrics.eventsRestored, 0);
      assert.deepEqual(indices(), range(0, 19));
      assert.equal(h.collector.stats().malformed, 0, 'nothing unparseable reached the collector');
      report('8d', { received: received(), restoreCorrupt: metrics.restoreCorrupt, malformedAtCollector: h.collector.stats().malformed });
      await context.close();
    });

    // Moves the page's wall clock (Date.now) by `ms` from where it is now.
    const shiftWallClock = (page, ms) =>
      page.evaluate((ms) => {
        if (!window.realNow) {
          window.realNow = Date.now.bind(Date);
          window.wallShift = 0;
          Date.now = () => window.realNow() + window.wallShift;
        }
        window.wallShift += ms;
      }, ms);
    const HOUR = 3_600_000;

    test('15. the wall clock jumps forward 3 days, then back to 2 h behind, during an outage: all 150 events arrive', async () => {
      const { page, context } = await h.open({});
      await page.evaluate(() => analytics.ready);
      h.collector.setFault({ down: true });
      const trackBlock = (from) =>
        page.evaluate((from) => {
          for (let i = from; i < from + 50; i++) analytics.track('Clock', { i });
        }, from);
      await trackBlock(0);
      await shiftWallClock(page, 72 * HOUR);
      await trackBlock(50);
      await page.waitForTimeout(300);
      // Corrected, and then some: 2 h behind the real time.
      await shiftWallClock(page, -74 * HOUR);
      await trackBlock(100);
      await page.waitForTimeout(500);
      h.collector.setFault({});
      // No call after this: only the SDK's own timers can send them.
      await waitFor(() => received() === 150, { what: '150 events after the clock moved', timeoutMs: 70_000 });
      const metrics = await page.evaluate(() => analytics.metrics());
      assert.deepEqual(indices(), range(0, 150));
      assert.equal(metrics.droppedExpired, 0);
      const stamps = new Map(h.collector.events().map((e) => [e.properties.i, Date.parse(e.timestamp)]));
      assert.ok(stamps.get(60) > Date.now() + 71 * HOUR && stamps.get(120) < Date.now() - HOUR, 'timestamps are the page\'s wall clock');
      report(15, { received: received(), duplicates: h.collector.stats().duplicates, droppedExpired: metrics.droppedExpired });
      await context.close();
    });

    test('16. the wall clock set back 2 h: the flush interval still fires after 5 s', async () => {
      const { page, context } = await h.open({});
      await page.evaluate(() => analytics.ready);
      await shiftWallClock(page, -2 * HOUR);
      await page.evaluate(() => {
        for (let i = 0; i < 30; i++) analytics.track('Clock Back', { i });
      });
      // 20 leave at once (flushAt); the other 10 on the 5 s interval, with no flush() call.
      await waitFor(() => received() === 30, { what: '30 events on the interval', timeoutMs: 15_000 });
      assert.deepEqual(indices(), range(0, 30));
      const sentAt = Date.parse(h.collector.events()[0].sentAt);
      assert.ok(sentAt < Date.now() - HOUR, 'sentAt is the page\'s wall clock');
      report(16, { received: received(), duplicates: h.collector.stats().duplicates });
      await context.close();
    });

    test('10a. storage failure: IndexedDB blocked → localStorage; nothing lost', async () => {
      const { page, context } = await h.open({}, {
        init: () => {
          Object.defineProperty(window, 'indexedDB', {
            configurable: true,
            get: () => ({ open() { throw new DOMException('blocked by policy', 'SecurityError'); } }),
          });
        },
      });
      h.collector.setFault({ status: 503 });
      const during = await page.evaluate(async () => {
        await analytics.ready;
        for (let i = 0; i < 40; i++) analytics.track('Fallback', { i });
        await analytics.flush();
        await new Promise((r) => setTimeout(r, 200));
        return { metrics: analytics.metrics(), stored: Object.keys(localStorage).filter((k) => k.includes(':e:')).length, errors: window.errors };
      });
      h.collector.setFault({});
      await waitFor(() => received() === 40, { what: '40 events', timeoutMs: 20_000 });
      assert.equal(during.metrics.storage, 'localstorage');
      assert.equal(during.stored, 40, 'persisted in localStorage');
      assert.ok(during.errors.some((e) => e.type === 'storage' && e.message.includes('SecurityError')));
      assert.deepEqual(indices(), range(0, 40));
      report('10a', { received: received(), duplicates: h.collector.stats().duplicates, storage: during.metrics.storage, persisted: during.stored });
      await context.close();
    });

    test('10b. storage failure: no IndexedDB and localStorage over quota → memory; nothing lost while the page lives', async () => {
      const { page, context } = await h.open({}, {
        init: () => {
          Object.defineProperty(window, 'indexedDB', { configurable: true, get: () => undefined });
          Storage.prototype.setItem = function () {
            throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
          };
        },
      });
      h.collector.setFault({ status: 503 });
      const during = await page.evaluate(async () => {
        await analytics.ready;
        for (let i = 0; i < 40; i++) analytics.track('Memory', { i });
        await analytics.flush();
        return { metrics: analytics.metrics(), errors: window.errors };
      });
      h.collector.setFault({});
      await waitFor(() => received() === 40, { what: '40 events', timeoutMs: 20_000 });
      assert.equal(during.metrics.storage, 'memory');
      assert.ok(during.errors.some((e) => e.type === 'storage' && e.message.includes('QuotaExceededError')));
      assert.deepEqual(indices(), range(0, 40));
      report('10b', { received: received(), duplicates: h.collector.stats().duplicates, storage: during.metrics.storage });
      await context.close();
    });

    test('10c. storage failure: localStorage fills up mid-session → write errors reported, nothing lost', async () => {
      const { page, context } = await h.open({}, {
        init: () => {
          Object.defineProperty(window, 'indexedDB', { configurable: true, get: () => undefined });
          const setItem = Storage.prototype.setItem;
          Storage.prototype.setItem = function (key, value) {
            if (key.includes(':e:')) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
            return setItem.call(this, key, value);
          };
        },
      });
      h.collector.setFault({ status: 503 });
      const during = await page.evaluate(async () => {
        await analytics.ready;
        for (let i = 0; i < 40; i++) analytics.track('Quota', { i });
        await analytics.flush();
        await new Promise((r) => setTimeout(r, 200));
        return { metrics: analytics.metrics(), errors: window.errors };
      });
      h.collector.setFault({});
      await waitFor(() => received() === 40, { what: '40 events', timeoutMs: 20_000 });
      assert.equal(during.metrics.storage, 'localstorage');
      assert.equal(during.metrics.pending + during.metrics.inFlight, 40, 'still queued in memory');
      assert.ok(during.errors.some((e) => e.type === 'storage' && e.message.includes('QuotaExceededError')));
      assert.deepEqual(indices(), range(0, 40));
      report('10c', { received: received(), duplicates: h.collector.stats().duplicates, storage: during.metrics.storage, storageErrors: during.errors.filter((e) => e.type === 'storage').length });
      await context.close();
    });

    test('18a. a bad config field is reported as a config error naming the field and its range, and the events arrive with its default', async () => {
      const { page, context } = await h.open({ flushAt: 0, flushat: 20, storage: 'cookies', sessionTimeoutMs: 5 });
      const result = await page.evaluate(async () => {
        await analytics.ready;
        analytics.track('Configured badly', { ok: true });
        await analytics.flush();
        return { errors: window.errors, metrics: analytics.metrics() };
      });
      const events = await waitFor(() => h.collector.events().length >= 1 && h.collector.events(), { what: 'the event' });
      assert.equal(events[0].event, 'Configured badly');
      report('18a', { received: received(), configErrors: result.errors.filter((e) => e.type === 'config').length, storage: result.metrics.storage });
      assert.deepEqual(result.errors.filter((e) => e.type === 'config').map((e) => e.message), [
        'flushAt must be an integer between 1 and 1000, got 0; the default 20 is used',
        'unknown config field "flushat"; it is ignored',
        'storage must be one of "auto", "indexeddb", "localstorage", "memory", got "cookies"; the default "auto" is used',
        'sessionTimeoutMs must be an integer between 60000 and 86400000, got 5; the default 1800000 is used',
      ]);
      assert.equal(result.metrics.storage, 'indexeddb', 'storage is the default, auto');
      await context.close();
    });

    test('18b. an endpoint nothing could be sent to is a config error: each call made before is settled dropped with it, and each after refused with it', async () => {
      const { page, context } = await h.open({});
      const result = await page.evaluate(async () => {
        const errors = [];
        const client = createAnalytics({ endpoint: 'ftp://collector.example' });
        client.on('error', (error) => errors.push(error));
        const before = client.track('Nowhere to go');
        await client.ready;
        const after = client.track('Still nowhere');
        return { before: await before, after: await after, errors };
      });
      const message = 'analytics-wasm could not start: endpoint must start with https://, http:// or /, got "ftp://collector.example"';
      assert.deepEqual(result.errors, [{ type: 'config', message }]);
      assert.deepEqual(result.before, { messageId: result.before.messageId, status: 'dropped', reason: message });
      assert.deepEqual(result.after, { messageId: null, status: 'refused', reason: message });
      report('18b', { before: result.before.status, after: result.after.status, received: received() });
      await context.close();
    });

    test('18c. createAnalytics never throws, whatever it is given', async () => {
      const { page, context } = await h.open({});
      const thrown = await page.evaluate(() => {
        const thrown = [];
        for (const config of [undefined, null, 'https://collector.example', [], { endpoint: 42 }, { flushAt: Symbol('x') }]) {
          try {
            createAnalytics(config).on('error', () => {});
          } catch (error) {
            thrown.push(String(error));
          }
        }
        return thrown;
      });
      assert.deepEqual(thrown, []);
      await context.close();
    });

    test('11. queue bound: 2,000 events while down with maxQueueEvents 1000 → exactly the newest 1,000 arrive', async () => {
      const { page, context } = await h.open({ maxQueueEvents: 1000 });
      await page.evaluate(() => analytics.ready);
      h.collector.setFault({ down: true });
      await page.evaluate(() => {
        for (let i = 0; i < 2000; i++) analytics.track('Bounded', { i });
      });
      await page.waitForTimeout(200);
      h.collector.setFault({});
      await waitForCount(received, 1000, { what: '1,000 events' });
      const metrics = await waitFor(
        async () => {
          const m = await page.evaluate(() => analytics.metrics());
          return m.pending === 0 && m.inFlight === 0 && m;
        },
        { what: 'a drained queue' },
      );
      assert.deepEqual(indices(), range(1000, 2000));
      assert.equal(metrics.droppedOverflow, 1000);
      assert.equal(metrics.eventsSent, 1000);
      assert.equal(h.collector.stats().duplicates, 0);
      report(11, { received: received(), duplicates: h.collector.stats().duplicates, droppedOverflow: metrics.droppedOverflow, oldestReceived: indices()[0], newestReceived: indices().at(-1) });
      await context.close();
    });
  });
}
