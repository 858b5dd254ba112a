// The bench's profile reading (benches/where-time-goes.mjs): a CPU or heap
// profile of the shipped, minified code is read by module and function of
// js/, through the source maps the build writes to target/sourcemaps/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TraceMap, generatedPositionFor } from '@jridgewell/trace-mapping';
import { allocationByFunction, timeByFunction } from '../../benches/where-time-goes.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const RECORDER_URL = 'http://127.0.0.1:1/pkg/analytics-recorder.js';

/** Where the build put js/chunk-log.js's chunkBody in the shipped recorder, as V8 reports a function's position (0-based). */
function chunkBodyFrame() {
  const map = new TraceMap(JSON.parse(readFileSync(`${root}target/sourcemaps/analytics-recorder.js.map`, 'utf8')));
  const line = readFileSync(`${root}js/chunk-log.js`, 'utf8').split('\n').findIndex((text) => text.startsWith('function chunkBody(')) + 1;
  const at = generatedPositionFor(map, { source: 'chunk-log.js', line, column: 0 });
  return { functionName: 'x', url: RECORDER_URL, lineNumber: at.line - 1, columnNumber: at.column };
}

const frame = (functionName) => ({ functionName, url: '', lineNumber: -1, columnNumber: -1 });

/** root → benchLoop → chunkBody → join (a builtin); root → GC; root → idle. */
function cpuProfile() {
  return {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 4, 5] },
      { id: 2, callFrame: { ...frame('benchLoop'), lineNumber: 3 }, children: [3] },
      { id: 3, callFrame: chunkBodyFrame(), children: [6] },
      { id: 4, callFrame: frame('(garbage collector)') },
      { id: 5, callFrame: frame('(idle)') },
      { id: 6, callFrame: frame('join') },
    ],
    samples: [3, 4, 5, 6, 3],
    // A sample's time is the interval up to the next one (µs).
    timeDeltas: [0, 1000, 2000, 3000, 4000],
  };
}

test("a CPU profile's own time is read by module and function of js/, a browser call named with its caller, idle time left out", () => {
  const { totalMs, rows } = timeByFunction(cpuProfile());
  assert.deepEqual(rows, [
    ['browser call: join, from chunk-log.js chunkBody', 4],
    ['garbage collection', 2],
    ['chunk-log.js chunkBody', 1],
  ]);
  assert.equal(totalMs, 7);
});

test('only the samples whose stack `within` accepts count', () => {
  const { totalMs, rows } = timeByFunction(cpuProfile(), (stack) => stack.includes('benchLoop'));
  assert.deepEqual(rows.map(([label]) => label), ['browser call: join, from chunk-log.js chunkBody', 'chunk-log.js chunkBody']);
  assert.equal(totalMs, 5);
});

test("a heap profile's bytes are read by function the same way, in MB", () => {
  const head = {
    callFrame: frame('(root)'),
    selfSize: 0,
    children: [{ callFrame: chunkBodyFrame(), selfSize: 3e6, children: [{ callFrame: frame('join'), selfSize: 4e6, children: [] }] }],
  };
  const { totalMB, rows } = allocationByFunction({ head });
  assert.deepEqual(rows, [
    ['browser call: join, from chunk-log.js chunkBody', 4],
    ['chunk-log.js chunkBody', 3],
  ]);
  assert.equal(totalMB, 7);
});
