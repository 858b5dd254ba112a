// One core, two compilations: the wasm and its wasm2js build (the fallback
// where WebAssembly cannot run) are driven with the same seeded inputs,
// every kind of input the shell gives, and must answer every call the same.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Core } from '../../pkg/core.js';
import { CORE_KEY } from '../../pkg/asset-keys.js';
import '../../pkg/analytics-core.js';
import * as tables from '../../pkg/tables.js';

const wasm = readFileSync(new URL('../../pkg/analytics-core.wasm', import.meta.url));
const instantiate = globalThis[CORE_KEY];
const CASES = 60;
const STEPS = 400;
const EVENTS = ['hidden', 'visible', 'unload', 'online', 'offline', 'flush', 'persistNow'];

function generator(seed) {
  let state = seed >>> 0 || 1;
  return (n) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return Math.floor(((state >>> 0) / 2 ** 32) * n);
  };
}

/** Runs one seeded case on `exports`; returns the trace of every answer. */
function run(exports, seed) {
  const below = generator(seed);
  const config = { endpoint: '/v1/batch', flushAt: 1 + below(30), maxQueueEvents: 20 + below(200), maxEventBytes: 1024 + below(4000), retryBaseMs: 1 + below(2000) };
  const core = new Core(exports, config, seed, 40, tables);
  const trace = [];
  let now = 1_000_000;
  let wall = 1_700_000_000_000;
  let handle = 1;
  const inFlight = [];
  const asking = [];
  const held = [];
  for (let step = 0; step < STEPS; step++) {
    const dt = below(1500);
    now += dt;
    wall += below(10) === 0 ? below(7_200_000) - 3_600_000 : dt;
    core.clock(wall, now);
    const choice = below(10);
    if (choice < 4) {
      const bytes = below(20) === 0 ? 8000 : 100 + below(900);
      trace.push(['track', core.track(handle, bytes, below(8) === 0 ? wall - below(100_000) : -1, now, below(4) === 0)]);
      held.push(handle++);
    } else if (choice < 6 && inFlight.length) {
      const send = inFlight.splice(below(inFlight.length), 1)[0];
      let outcome;
      if (send.beacon) outcome = below(4) === 0 ? 'beaconRefused' : 'beaconQueued';
      else {
        const kind = below(10);
        if (kind === 0) outcome = 'network';
        else if (kind === 1) outcome = 'timeout';
        else {
          const status = [200, 200, 200, 500, 429, 413, 400, 401, 404][below(9)];
          const rejected = below(4) === 0 ? send.handles.filter(() => below(3) === 0) : [];
          outcome = { status, retry: below(3) === 0 ? [1, below(10)] : [0, 0], rejected };
        }
      }
      trace.push(['settle', core.settle(send.batch, outcome, now)]);
    } else if (choice < 7) {
      trace.push(['event', core.event(EVENTS[below(EVENTS.length)], now)]);
    } else if (choice < 8 && held.length) {
      const restored = [];
      for (let i = 0; i < 1 + below(5); i++) restored.push(handle++, 100 + below(500), wall - below(1_000_000_000));
      trace.push(['restore', core.restore(restored, now)]);
    } else if (choice < 9) {
      core.corrupt(below(3));
    } else if (asking.length && below(2) === 0) {
      const request = asking.shift();
      const kind = below(6);
      const outcome = kind === 0 ? 'network' : { status: [200, 200, 200, 503, 429, 404][kind], retry: below(3) === 0 ? [1, below(10)] : [0, 0] };
      const receipts = below(4) === 0 ? null : request.handles.filter(() => below(2) === 0);
      trace.push(['receipts', core.receipts(request.request, outcome, receipts, now)]);
    } else {
      trace.push(['peer', core.peer(below(2) === 0 ? 'failed' : 'recovered', now)]);
    }
    for (let action = core.poll(now); action; action = core.poll(now)) {
      trace.push(['action', action]);
      if (action.type === 'send') inFlight.push(action);
      if (action.type === 'receipts') asking.push(action);
    }
    trace.push(['wakeup', core.wakeup()], ['metrics', core.metrics()]);
  }
  return trace;
}

test('the wasm and the core compiled to JavaScript answer every input the same', async () => {
  for (let seed = 1; seed <= CASES; seed++) {
    const { instance } = await WebAssembly.instantiate(wasm, {});
    const fromWasm = run(instance.exports, seed * 7919);
    const fromJs = run(instantiate(), seed * 7919);
    assert.equal(fromJs.length, fromWasm.length, `seed ${seed * 7919}: trace length`);
    for (let i = 0; i < fromWasm.length; i++) {
      assert.deepEqual(fromJs[i], fromWasm[i], `seed ${seed * 7919}, answer ${i}`);
    }
  }
});

test('each instance of the JavaScript build is a core of its own', () => {
  const config = { endpoint: '/v1/batch' };
  const first = new Core(instantiate(), config, 1, 40, tables);
  const second = new Core(instantiate(), config, 2, 40, tables);
  first.clock(1_700_000_000_000, 1000);
  first.track(1, 100, -1, 1000);
  assert.equal(first.metrics().eventsTracked, 1);
  assert.equal(second.metrics().eventsTracked, 0);
});
