// Where the time goes, for `npm run bench`: a CPU profile of the page's main
// thread read by module and function of js/ (through the source maps the
// build writes to target/sourcemaps/, never shipped), and a start-up
// timeline read from the browser calls the recorder makes. They explain a
// figure; they are no measure of it (the profiler slows what it samples).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TraceMap, originalPositionFor } from '@jridgewell/trace-mapping';

const root = fileURLToPath(new URL('..', import.meta.url));
const SAMPLING_INTERVAL_US = 100;

/** Starts Chromium's sampling profiler on a CDP session; resolves to a function that stops it and resolves to the profile. */
export async function startProfiler(cdp) {
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_US });
  await cdp.send('Profiler.start');
  return async () => (await cdp.send('Profiler.stop')).profile;
}

const maps = new Map();
/** The source map of a shipped file (pkg/<name>), or null when the build wrote none. */
function mapOf(name) {
  if (!maps.has(name)) {
    const file = `${root}target/sourcemaps/${name}.map`;
    maps.set(name, existsSync(file) ? new TraceMap(JSON.parse(readFileSync(file, 'utf8'))) : null);
  }
  return maps.get(name);
}

const sources = new Map();
const KEYWORDS = new Set(['if', 'for', 'while', 'switch', 'catch', 'return', 'await', 'typeof', 'new', 'function']);

/** A function's name as its defining line gives it: a function, a method, or an arrow's binding; null for a line that defines none. */
function definedAt(text) {
  const named =
    text.match(/function\*?\s+([\w$]+)/) ??
    text.match(/^\s*(?:static\s+|async\s+|get\s+|set\s+)*(#?[\w$]+)\s*\([^)]*\)?\s*\{?\s*$/) ??
    text.match(/^\s*(?:static\s+|async\s+|get\s+|set\s+)*(#?[\w$]+)\s*\(.*\)\s*\{/) ??
    text.match(/(#?[\w$]+)\s*=\s*(?:async\s*)?(?:\([^)]*\)|[\w$]+)\s*=>/) ??
    // A class's field initializers run as a function of their own.
    text.match(/class\s+([\w$]+)/);
  return named && !KEYWORDS.has(named[1]) ? named[1] : null;
}

/**
 * The function of js/<source> a position is in, by name: the one defined
 * at its line, or else the nearest defined above it (a callback within a
 * method is shown as the method's, with the line).
 */
export function functionAt(source, line) {
  if (!sources.has(source)) {
    const file = `${root}js/${source}`;
    sources.set(source, existsSync(file) ? readFileSync(file, 'utf8').split('\n') : []);
  }
  const lines = sources.get(source);
  const own = definedAt(lines[line - 1] ?? '');
  if (own) return own;
  for (let above = line - 2; above >= 0 && above >= line - 60; above--) {
    const name = definedAt(lines[above]);
    if (name) return `${name} (line ${line})`;
  }
  return `line ${line}`;
}

/** What one profile node's own time is spent in, as a row label; a browser call is named with its caller's (`parent`, a call frame). */
function labelOf(callFrame, parent) {
  const own = frameLabel(callFrame);
  return parent && own.startsWith('browser call') ? `${own}, from ${frameLabel(parent)}` : own;
}

function frameLabel({ functionName, url, lineNumber, columnNumber }) {
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (functionName === '(program)') return 'the browser itself (V8 and Blink outside any script)';
  if (url.endsWith('.wasm')) return 'the wasm core';
  // Code without a URL is the browser's own (a builtin, no line) or the bench's, evaluated in the page.
  if (!url) return lineNumber < 0 ? `browser call: ${functionName || '(anonymous)'}` : `the bench's own code: ${functionName || '(anonymous)'}`;
  const file = new URL(url).pathname.split('/').pop();
  const map = mapOf(file);
  if (map) {
    const at = originalPositionFor(map, { line: lineNumber + 1, column: columnNumber });
    if (at.source) return `${at.source} ${functionAt(at.source, at.line)}`;
  }
  return `${file} ${functionName || '(anonymous)'}`;
}

/**
 * A profile's self time by label, in ms, largest first. `within(stack)`
 * says whether a sample counts, given its stack's function names (leaf
 * last); idle time never does.
 */
export function timeByFunction(profile, within = () => true) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const counted = new Map();
  const counts = (id) => {
    if (!counted.has(id)) {
      const stack = [];
      for (let at = id; at !== undefined; at = parentOf.get(at)) stack.unshift(byId.get(at).callFrame.functionName);
      counted.set(id, within(stack));
    }
    return counted.get(id);
  };
  const totals = new Map();
  let all = 0;
  profile.samples.forEach((id, index) => {
    const node = byId.get(id);
    const name = node.callFrame.functionName;
    if (name === '(idle)' || name === '(root)' || !counts(id)) return;
    // A sample's time is the interval up to the next one.
    const ms = (profile.timeDeltas[index + 1] ?? 0) / 1000;
    const label = labelOf(node.callFrame, byId.get(parentOf.get(id))?.callFrame);
    totals.set(label, (totals.get(label) ?? 0) + ms);
    all += ms;
  });
  return { totalMs: all, rows: [...totals].sort((a, b) => b[1] - a[1]) };
}

/**
 * Starts Chromium's sampling heap profiler, counting what garbage
 * collection frees too; resolves to a function that stops it and resolves
 * to the profile.
 */
export async function startAllocationSampling(cdp) {
  await cdp.send('HeapProfiler.enable');
  await cdp.send('HeapProfiler.startSampling', { samplingInterval: 8192, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  return async () => (await cdp.send('HeapProfiler.stopSampling')).profile;
}

/** A sampled heap profile's bytes allocated by label, in MB, largest first, as timeByFunction gives time (`within` alike). */
export function allocationByFunction(profile, within = () => true) {
  const totals = new Map();
  let all = 0;
  const walk = (node, stack, parent) => {
    const here = [...stack, node.callFrame.functionName];
    if (node.selfSize > 0 && within(here)) {
      const label = labelOf(node.callFrame, parent?.callFrame);
      totals.set(label, (totals.get(label) ?? 0) + node.selfSize / 1e6);
      all += node.selfSize / 1e6;
    }
    for (const child of node.children ?? []) walk(child, here, node);
  };
  walk(profile.head, [], null);
  return { totalMB: all, rows: [...totals].sort((a, b) => b[1] - a[1]) };
}

/** Prints allocationByFunction's answer. */
export function printAllocation(title, { totalMB, rows }, top = 12) {
  console.log(`\n${title}: ${totalMB.toFixed(1)} MB sampled`);
  for (const [label, mb] of rows.slice(0, top)) console.log(`  ${mb.toFixed(2).padStart(7)} MB  ${((100 * mb) / totalMB).toFixed(0).padStart(3)}%  ${label}`);
}

/** The mean of several `timeByFunction` answers, row by row. */
export function meanTime(answers) {
  const totals = new Map();
  for (const { rows } of answers) for (const [label, ms] of rows) totals.set(label, (totals.get(label) ?? 0) + ms / answers.length);
  return { totalMs: answers.reduce((sum, { totalMs }) => sum + totalMs / answers.length, 0), rows: [...totals].sort((a, b) => b[1] - a[1]), runs: answers.length };
}

/** Prints `timeByFunction`'s answer: the largest rows, each with its share. */
export function printTime(title, { totalMs, rows, runs = 1 }, top = 16) {
  console.log(`\n${title}: ${totalMs.toFixed(1)} ms sampled${runs > 1 ? `, the mean of ${runs} runs` : ''}`);
  for (const [label, ms] of rows.slice(0, top)) console.log(`  ${ms.toFixed(1).padStart(7)} ms  ${((100 * ms) / totalMs).toFixed(0).padStart(3)}%  ${label}`);
  const rest = rows.slice(top).reduce((sum, [, ms]) => sum + ms, 0);
  if (rest > 0) console.log(`  ${rest.toFixed(1).padStart(7)} ms  ${((100 * rest) / totalMs).toFixed(0).padStart(3)}%  the other ${rows.length - top}`);
}

/**
 * Run in the page before anything else (an init script): records when the
 * calls start-up waits on begin and end, in performance.now() ms, into
 * window.startupCalls. Reads nothing of the SDK: it wraps the browser.
 */
export function startupProbe() {
  const calls = (window.startupCalls = []);
  const timed = (name, begin, promise) =>
    promise.then(
      (value) => (calls.push({ name, begin, end: performance.now() }), value),
      (error) => {
        calls.push({ name, begin, end: performance.now() });
        throw error;
      },
    );
  const { instantiateStreaming } = WebAssembly;
  WebAssembly.instantiateStreaming = (...args) => timed('wasm compile and instantiate', performance.now(), instantiateStreaming.apply(WebAssembly, args));
  const open = IDBFactory.prototype.open;
  IDBFactory.prototype.open = function (...args) {
    const begin = performance.now();
    const request = open.apply(this, args);
    request.addEventListener('success', () => calls.push({ name: 'IndexedDB open', begin, end: performance.now() }));
    return request;
  };
  for (const method of ['getAll', 'getAllKeys']) {
    const read = IDBObjectStore.prototype[method];
    IDBObjectStore.prototype[method] = function (...args) {
      const begin = performance.now();
      const request = read.apply(this, args);
      request.addEventListener('success', () => calls.push({ name: `IndexedDB ${method}`, begin, end: performance.now() }));
      return request;
    };
  }
  const locks = navigator.locks;
  if (locks) {
    const request = locks.request.bind(locks);
    locks.request = (name, ...rest) => {
      const begin = performance.now();
      const at = rest.findIndex((arg) => typeof arg === 'function');
      const callback = rest[at];
      rest[at] = (lock) => (calls.push({ name: `lock ${lock ? 'granted' : 'refused'}`, begin, end: performance.now() }), callback(lock));
      return request(name, ...rest);
    };
  }
}

/**
 * The phases of one start-up, [name, begin, end] in ms from `t0`:
 * `marks` the page's own ({ imported, created, ready }), `resources` its
 * resource timing entries, `calls` startupProbe's records.
 */
export function startupPhases(t0, marks, resources, calls) {
  const phases = [];
  for (const { name, startTime, responseEnd } of resources) {
    const file = new URL(name).pathname.split('/').pop();
    if (/^(index\.js|analytics-recorder\.js|analytics-core\.wasm)$/.test(file)) phases.push([`fetch ${file}`, startTime - t0, responseEnd - t0]);
  }
  phases.push(['import index.js (fetch and run)', 0, marks.imported - t0]);
  phases.push(['createAnalytics()', marks.imported - t0, marks.created - t0]);
  const recorder = resources.find((entry) => entry.name.endsWith('analytics-recorder.js'));
  const firstCall = Math.min(...calls.map((call) => call.begin));
  if (recorder && Number.isFinite(firstCall)) phases.push(['recorder script run, until its first call', recorder.responseEnd - t0, firstCall - t0]);
  for (const { name, begin, end } of calls) phases.push([name, begin - t0, end - t0]);
  const lastEnd = Math.max(...calls.map((call) => call.end));
  if (Number.isFinite(lastEnd)) phases.push(['after the last call: adoption pass, then ready', lastEnd - t0, marks.ready - t0]);
  phases.push(['ready', 0, marks.ready - t0]);
  return phases.sort((a, b) => a[1] - b[1] || a[2] - b[2]);
}

/** Prints the phases of several start-ups: each phase's median begin and end (the first of a name in each). */
export function printPhases(title, runs) {
  const names = [...new Set(runs.flatMap((phases) => phases.map(([name]) => name)))];
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  console.log(`\n${title} (median of ${runs.length}; ms from the import)`);
  const rows = names.map((name) => {
    const found = runs.map((phases) => phases.find(([n]) => n === name)).filter(Boolean);
    return [name, median(found.map((p) => p[1])), median(found.map((p) => p[2])), found.length];
  });
  for (const [name, begin, end, seen] of rows.sort((a, b) => a[1] - b[1])) {
    console.log(`  ${begin.toFixed(1).padStart(6)} → ${end.toFixed(1).padStart(6)}  (${(end - begin).toFixed(1).padStart(5)})  ${name}${seen < runs.length ? ` (in ${seen} of ${runs.length})` : ''}`);
  }
  return rows;
}
