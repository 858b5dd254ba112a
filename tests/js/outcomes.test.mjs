// What a call returns (js/outcomes.js): its messageId and its settled result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Outcome, settled } from '../../js/outcomes.js';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test("an outcome without the caller's messageId makes a UUID v4 once, the same on every read and in its result", async () => {
  const outcome = new Outcome(undefined, undefined);
  const first = outcome.messageId;
  assert.match(first, V4);
  assert.equal(outcome.messageId, first);
  outcome.settle('delivered');
  assert.deepEqual(await outcome, { messageId: first, status: 'delivered' });
});

test("an outcome settled before its messageId was read still names one, and the callback hears the same", async () => {
  const heard = [];
  const outcome = new Outcome(undefined, (result) => heard.push(result));
  outcome.settle('dropped', 'opted out');
  assert.match(outcome.messageId, V4);
  assert.deepEqual(heard, [{ messageId: outcome.messageId, status: 'dropped', reason: 'opted out' }]);
  assert.deepEqual(await outcome, heard[0]);
});

test('an outcome without a messageId takes the one its maker makes, once; read first, it keeps its own', () => {
  let made = 0;
  const make = () => `id-${++made}`;
  const recorded = new Outcome(undefined, undefined);
  assert.equal(recorded.messageIdOr(make), 'id-1');
  assert.equal(recorded.messageIdOr(make), 'id-1');
  assert.equal(recorded.messageId, 'id-1');
  const readFirst = new Outcome(undefined, undefined);
  const own = readFirst.messageId;
  assert.equal(readFirst.messageIdOr(make), own);
  assert.equal(new Outcome('order-77', undefined).messageIdOr(make), 'order-77');
  assert.equal(settled('refused', 'opted out').messageIdOr(make), null, 'refused: none');
  assert.equal(made, 1);
});

test("the caller's own messageId is kept as given", () => {
  assert.equal(new Outcome('order-77', undefined).messageId, 'order-77');
});

test('a call refused at once has no messageId', async () => {
  const outcome = settled('refused', 'opted out');
  assert.equal(outcome.messageId, null);
  assert.deepEqual(await outcome, { messageId: null, status: 'refused', reason: 'opted out' });
});
