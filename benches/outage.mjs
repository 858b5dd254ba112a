// What a collector's bad moments cost, in headless Chromium: an outage
// while a page tracks, and a page that goes away. `npm run bench` prints
// these; `node benches/outage.mjs` prints them alone.
//
// - outage(h, outageMs): the collector answers 503 for `outageMs` while the
//   page tracks 500 events over its first 5 s, then recovers. How many of
//   the 500 arrive within 60 s of the recovery, how many requests the
//   outage cost, and how long after the recovery the last new event
//   arrived. A 10 s outage runs three times: when the last probe of the
//   outage falls is chance, and the range shows it.
// - wayOut(h, receipts): a page tracks 14 events (fewer than flushAt) and
//   reloads; the collector takes what it sends as it goes away. What the
//   next page load then costs to settle them: requests and bytes, with a
//   collector that gives receipts and with one that gives none (it gets
//   each event again, and drops the copies).
import { fileURLToPath } from 'node:url';
import { waitFor } from '../tests/e2e/harness.mjs';

const TRACKED = 500;
const TRACKING_MS = 5_000;
/** How long after the recovery arrivals are watched. */
const WATCH_MS = 60_000;

export async function outage(h, outageMs) {
  h.collector.reset();
  const { page, context } = await h.open({});
  await page.evaluate(() => analytics.ready);
  const start = Date.now();
  h.collector.setFault({ status: 503 });
  const tracking = page.evaluate(
    async ([count, ms]) => {
      for (let i = 0; i < count; i++) {
        analytics.track('Outage', { i });
        await new Promise((resolve) => setTimeout(resolve, ms / count));
      }
    },
    [TRACKED, TRACKING_MS],
  );
  await new Promise((resolve) => setTimeout(resolve, outageMs));
  const during = h.collector.requests().length;
  h.collector.setFault({});
  const recoveredAt = Date.now();
  await tracking;
  // The arrival of each new event is seen as its request is logged.
  await waitFor(() => h.collector.stats().received === TRACKED || Date.now() - recoveredAt > WATCH_MS, { what: 'the outage run', timeoutMs: WATCH_MS + 5_000 });
  const accepted = h.collector.requests().filter((r) => r.status === 200 && r.events > 0);
  const lastAt = accepted.length ? Math.max(...accepted.map((r) => r.at)) : null;
  const result = {
    outageMs,
    received: h.collector.stats().received,
    duplicates: h.collector.stats().duplicates,
    requestsDuringOutage: during,
    lastNewEventAfterRecoveryMs: lastAt === null ? null : Math.max(0, lastAt - recoveredAt),
  };
  await context.close();
  return result;
}

export async function wayOut(h, receipts) {
  h.collector.reset();
  h.collector.setFault({ noReceipts: !receipts });
  const { page, context } = await h.open({ flushAt: 1000, flushIntervalMs: 60_000, receiptGraceMs: 500 });
  await page.evaluate(async () => {
    await analytics.ready;
    for (let i = 0; i < 14; i++) analytics.track('Way Out', { i });
  });
  await page.reload();
  await waitFor(() => h.collector.stats().received === 14, { what: '14 events sent as the page went away' });
  const before = h.collector.requests().length;
  let metrics;
  await waitFor(async () => {
    metrics = await page.evaluate(() => analytics.metrics());
    return metrics.eventsRestored > 0 && metrics.unconfirmed === 0 && metrics.pending === 0 && metrics.inFlight === 0;
  }, { what: 'the next page load to settle them' });
  const next = h.collector.requests().slice(before);
  const result = {
    receipts,
    nextVisitRequests: next.length,
    nextVisitBytes: next.reduce((sum, r) => sum + r.bytes, 0),
    copies: h.collector.stats().duplicates,
    confirmed: metrics.eventsConfirmed,
    resent: metrics.eventsResent,
  };
  await context.close();
  return result;
}

const span = (values, format = String) => {
  const [low, high] = [Math.min(...values), Math.max(...values)];
  return low === high ? format(low) : `${format(low)}–${format(high)}`;
};
const seconds = (ms) => (ms / 1000).toFixed(1);

/** Rows for the bench's table. */
export function outageRows({ outages, wayOuts }) {
  const rows = [];
  for (const outageMs of [...new Set(outages.map((o) => o.outageMs))]) {
    const runs = outages.filter((o) => o.outageMs === outageMs);
    const last = runs.map((o) => o.lastNewEventAfterRecoveryMs);
    rows.push([
      `outage of ${outageMs / 1000} s, 500 tracked over its first 5 s (${runs.length} run${runs.length > 1 ? 's' : ''}): arrived within 60 s of recovery / requests during it / last new event after recovery`,
      `${span(runs.map((o) => o.received))} (dup ${span(runs.map((o) => o.duplicates))}) / ${span(runs.map((o) => o.requestsDuringOutage))} / ${last.includes(null) ? '–' : `${span(last, seconds)} s`}`,
      outageMs <= 10_000 ? 'target 500 / ≤ 6 / ≤ 5 s' : 'target 500 / – / ≤ 5 s',
    ]);
  }
  for (const w of wayOuts) {
    rows.push([
      `14 events sent as a page went away: the next visit's requests / bytes / copies (${w.receipts ? 'collector gives receipts' : 'collector gives none'})`,
      `${w.nextVisitRequests} / ${w.nextVisitBytes} B / ${w.copies} (confirmed ${w.confirmed}, resent ${w.resent})`,
      w.receipts ? 'no copy' : 'at most one copy each',
    ]);
  }
  return rows;
}

export async function measureOutages(h) {
  return {
    outages: [await outage(h, 10_000), await outage(h, 10_000), await outage(h, 10_000), await outage(h, 60_000)],
    wayOuts: [await wayOut(h, true), await wayOut(h, false)],
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { startHarness } = await import('../tests/e2e/harness.mjs');
  const h = await startHarness();
  try {
    const measured = await measureOutages(h);
    for (const [name, value, target = ''] of outageRows(measured)) console.log(`${name.padEnd(50)} ${String(value).padEnd(28)} ${target}`);
  } finally {
    await h.close();
  }
}
