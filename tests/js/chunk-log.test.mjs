// The chunked event log (js/chunk-log.js), as a property: after any sequence
// of appends, removals and reloads, what a reload finds is exactly the events
// not yet removed, with the record each last wrote, and the store is empty
// once every event is removed. Cases come from a seeded generator, so a
// failure names a seed that reproduces it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkLog, CHUNK_EVENTS } from '../../js/chunk-log.js';

const CASES = 2000;

/** xorshift32: a small deterministic generator. */
function generator(seed) {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  return { below: (n) => Math.floor(next() * n) };
}

function apply(store, write) {
  for (const [key, value] of write.puts) store.set(key, value);
  for (const key of write.deletes) store.delete(key);
}

const sorted = (map) => [...map.entries()].sort(([a], [b]) => a.localeCompare(b));
const ids = (random) => Array.from({ length: 1 + random.below(7) }, () => random.below(40));

/** Runs one generated case; returns null, or what went wrong. */
function runCase(seed) {
  const random = generator(seed);
  const store = new Map();
  let log = new ChunkLog();
  // id → its record line, as the latest append wrote it.
  const model = new Map();
  const steps = 1 + random.below(59);
  for (let step = 0; step < steps; step++) {
    const choice = random.below(7);
    if (choice < 3) {
      const numbers = [...new Set(ids(random))];
      // Records of one append share a long ending (a page view's context),
      // which chunks store once; the id's number makes endings differ in part.
      const context = String(numbers[0] % 3).padStart(80, '0');
      // Whole lines, or each line's start with its ending given apart: the
      // same ending for all (a page view's context), one that differs for
      // some, or one too short to share.
      const form = random.below(4);
      const tail = form === 3 ? '"}' : `,"context":"${context}"}`;
      const records = numbers.map((n, i) => {
        const start = `1\tid${n}\t0\t{"n":${n}`;
        if (form === 0) return [`id${n}`, start + tail];
        return [`id${n}`, start, form === 2 && i % 2 ? `,"context":"${context}${n}"}` : tail];
      });
      for (const [id, start, end = ''] of records) model.set(id, start + end);
      apply(store, log.append(records));
    } else if (choice < 6) {
      const gone = ids(random).map((n) => `id${n}`);
      for (const id of gone) model.delete(id);
      apply(store, log.remove(gone));
    } else {
      log = ChunkLog.load([...store]).log;
    }
    const found = new Map(ChunkLog.load([...store]).records);
    if (JSON.stringify(sorted(found)) !== JSON.stringify(sorted(model))) return `step ${step}: found ${JSON.stringify(sorted(found))}, expected ${JSON.stringify(sorted(model))}`;
  }
  apply(store, log.remove([...model.keys()]));
  return store.size === 0 ? null : `left behind: ${JSON.stringify([...store])}`;
}

test('a reload finds exactly the events not removed, with their records, and nothing is left once all are removed', () => {
  for (let seed = 1; seed <= CASES; seed++) {
    const problem = runCase(seed * 2654435761);
    assert.equal(problem, null, `seed ${seed * 2654435761}: ${problem}`);
  }
});

test('records come back in write order across chunks', () => {
  const store = new Map();
  const log = new ChunkLog();
  const records = Array.from({ length: CHUNK_EVENTS * 2 + 3 }, (_, i) => [`id${i}`, `${i}\tid${i}\t0\t{}`]);
  apply(store, log.append(records));
  assert.equal(store.size, 3, 'one record per chunk of CHUNK_EVENTS');
  assert.deepEqual(ChunkLog.load([...store].reverse()).records, records);
});

test("an ending given with the records is stored once, as it is, and lines come back whole", () => {
  const store = new Map();
  const ending = `,"context":${JSON.stringify({ page: 'x'.repeat(200) })}}`;
  const records = Array.from({ length: 10 }, (_, i) => [`id${i}`, `${i}\tid${i}\t0\t{"n":${i}`, ending]);
  apply(store, new ChunkLog().append(records));
  const [body] = store.values();
  assert.equal(body.split(ending).length, 2, 'the ending once');
  assert.deepEqual(ChunkLog.load([...store]).records, records.map(([id, start, end]) => [id, start + end]));
});

test('records that end differently are stored whole', () => {
  const store = new Map();
  const context = (n) => `,"context":${JSON.stringify({ page: String(n).repeat(100) })}}`;
  const records = Array.from({ length: 4 }, (_, i) => [`id${i}`, `${i}\tid${i}\t0\t{"n":${i}`, context(i < 2 ? 1 : 2)]);
  apply(store, new ChunkLog().append(records));
  const [body] = store.values();
  assert.ok(!body.startsWith('\u0001'));
  assert.deepEqual(ChunkLog.load([...store]).records, records.map(([id, start, end]) => [id, start + end]));
});

test('a line without an id gets one of its own, so it can be refused and removed', () => {
  const store = new Map([['c0', 'garbage\n1\tid1\t0\t{}']]);
  const { log, records } = ChunkLog.load([...store]);
  assert.deepEqual(records, [['c0#0', 'garbage'], ['id1', '1\tid1\t0\t{}']]);
  apply(store, log.remove(['c0#0', 'id1']));
  assert.equal(store.size, 0);
});

test('an event written twice in one append is one event of its chunk: removing it once leaves nothing', () => {
  const store = new Map();
  const log = new ChunkLog();
  apply(store, log.append([['id1', '1\tid1\t0\t{"a":1}'], ['id1', '1\tid1\t0\t{"a":2}'], ['id2', '2\tid2\t0\t{}']]));
  apply(store, log.remove(['id1', 'id2']));
  assert.equal(store.size, 0);
  assert.equal(log.size, 0);
});

test('a stored chunk holding one line twice is one event of it once reloaded: removing it once leaves nothing', () => {
  const store = new Map([['c0', '1\tid1\t0\t{}\n1\tid1\t0\t{}']]);
  const { log } = ChunkLog.load([...store]);
  apply(store, log.remove(['id1']));
  assert.equal(store.size, 0);
});
