// Main-thread cost of track() in headless Chromium: µs per call over 10,000
// calls with 10 properties, against JSON.stringify of the same properties
// alone (the floor), median of 5 page loads. Prints numbers; asserts nothing.
import { startHarness } from '../tests/e2e/harness.mjs';

const LOADS = Number(process.env.BENCH_LOADS ?? 5);
const CALLS = 10_000;

const h = await startHarness();
const runs = [];
try {
  for (let load = 0; load < LOADS; load++) {
    const { page, context } = await h.open({ maxQueueEvents: 20_000, storage: process.env.BENCH_STORAGE ?? 'auto' });
    const result = await page.evaluate(async (calls) => {
      await analytics.ready;
      const properties = (i) => ({
        plan: 'pro', price: 49.99, currency: 'EUR', seats: i, trial: false,
        source: 'pricing-page', tags: ['a', 'b', 'c'], nested: { x: 1, y: 'two' },
        experiment: 'checkout-v2', step: 3,
      });
      // Warm up both paths.
      for (let i = 0; i < 500; i++) JSON.stringify(properties(i));
      let t0 = performance.now();
      for (let i = 0; i < calls; i++) JSON.stringify(properties(i));
      const stringify = performance.now() - t0;
      t0 = performance.now();
      for (let i = 0; i < calls; i++) analytics.track('Checkout Step Viewed', properties(i));
      const track = performance.now() - t0;
      await analytics.flush();
      return { stringify, track };
    }, CALLS);
    runs.push(result);
    await context.close();
  }
} finally {
  await h.close();
}
const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
const trackUs = (median(runs.map((r) => r.track)) * 1000) / CALLS;
const stringifyUs = (median(runs.map((r) => r.stringify)) * 1000) / CALLS;
const result = { calls: CALLS, loads: LOADS, trackUsPerCall: +trackUs.toFixed(3), stringifyUsPerCall: +stringifyUs.toFixed(3), ratio: +(trackUs / stringifyUs).toFixed(2) };
console.log(`track(): ${result.trackUsPerCall} µs/call; JSON.stringify alone: ${result.stringifyUsPerCall} µs/call; ratio ${result.ratio} (median of ${LOADS} loads, ${CALLS} calls, 10 properties)`);
if (process.env.BENCH_JSON) console.log(JSON.stringify(result));
