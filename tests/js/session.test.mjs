// Session rules (js/session.js) with explicit times and an in-memory store
// shared the way tabs of one origin share localStorage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { continueSession, SessionClock } from '../../js/session.js';

const MINUTE = 60_000;
const TIMEOUT = 30 * MINUTE;

function memoryStore() {
  const map = new Map();
  return { get: (k) => map.get(k) ?? null, set: (k, v) => map.set(k, v), remove: (k) => map.delete(k), map };
}

test('the first event starts a session whose id is its start time', () => {
  assert.deepEqual(continueSession(null, 1_000, TIMEOUT), { id: 1_000, lastActivity: 1_000 });
});

test('an event within the timeout continues the session and moves its last activity', () => {
  assert.deepEqual(continueSession({ id: 1_000, lastActivity: 5_000 }, 5_000 + TIMEOUT - 1, TIMEOUT), { id: 1_000, lastActivity: 5_000 + TIMEOUT - 1 });
});

test('an event at the timeout or later starts a new session', () => {
  assert.deepEqual(continueSession({ id: 1_000, lastActivity: 5_000 }, 5_000 + TIMEOUT, TIMEOUT), { id: 5_000 + TIMEOUT, lastActivity: 5_000 + TIMEOUT });
});

test('a clock that went backwards before the session start starts a new session', () => {
  assert.equal(continueSession({ id: 10_000, lastActivity: 10_000 }, 9_000, TIMEOUT).id, 9_000);
});

test('a session keeps going while events come, however long it lasts', () => {
  const clock = new SessionClock(memoryStore(), TIMEOUT);
  const first = clock.touch(0);
  let now = 0;
  for (let i = 0; i < 10; i++) {
    now += TIMEOUT - MINUTE;
    assert.equal(clock.touch(now), first);
  }
});

test('a tab whose own view timed out continues the session another tab kept alive', () => {
  const shared = memoryStore();
  const idleTab = new SessionClock(shared, TIMEOUT);
  const busyTab = new SessionClock(shared, TIMEOUT);
  const id = idleTab.touch(0);
  assert.equal(busyTab.touch(1_000), id);
  assert.equal(busyTab.touch(TIMEOUT - MINUTE), id);
  assert.equal(idleTab.touch(TIMEOUT + 5 * MINUTE), id, 'the busy tab was active 6 minutes ago');
});

test('the stored session is written for a new session and at most once a second otherwise', () => {
  const store = memoryStore();
  let writes = 0;
  const counting = { ...store, set: (k, v) => { writes += 1; store.set(k, v); } };
  const clock = new SessionClock(counting, TIMEOUT);
  for (let now = 0; now < 5_000; now += 10) clock.touch(now);
  assert.equal(writes, 5);
});

test('end() forgets the session: the next event starts a new one', () => {
  const store = memoryStore();
  const clock = new SessionClock(store, TIMEOUT);
  clock.touch(1_000);
  clock.end();
  assert.equal(clock.touch(2_000), 2_000);
});

test('a corrupt stored session is ignored', () => {
  const store = memoryStore();
  store.set('aw:session', '{"id":"x"}');
  assert.equal(new SessionClock(store, TIMEOUT).touch(7_000), 7_000);
});
