// Launches Debian's Chromium through playwright-core (never a downloaded browser).
import { chromium } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    timeout: 60_000,
  });
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor(check, { timeoutMs = 15_000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}

/**
 * Waits until `count()` reaches `target`, for as long as it keeps rising: it
 * fails only after `stallMs` with no progress (or `maxMs` in all), so a
 * loaded machine that delivers slowly still passes while a stuck queue fails.
 */
export async function waitForCount(count, target, { what = `${target}`, stallMs = 20_000, maxMs = 300_000, intervalMs = 100 } = {}) {
  const start = Date.now();
  let last = -1;
  let lastChange = start;
  while (true) {
    const now = Date.now();
    const value = await count();
    if (value >= target) return value;
    if (value !== last) {
      last = value;
      lastChange = now;
    }
    if (now - lastChange > stallMs) throw new Error(`waiting for ${what}: stuck at ${value} of ${target} for ${stallMs} ms`);
    if (now - start > maxMs) throw new Error(`waiting for ${what}: ${value} of ${target} after ${maxMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
