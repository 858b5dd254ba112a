// A batch as the page hands it to the recorder's worker (js/worker.js):
// packEvents groups consecutive events by their shared ending, and
// batchBody makes exactly the body the page would have joined itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchBody, packEvents } from '../../js/worker.js';

const OPEN = '{"batch":[';
const CLOSE = '],"sentAt":"2026-12-02T00:00:00.000Z"}';
/** The body as the page joined it before batches were packed. */
const joined = (events) => `${OPEN}${events.map((e) => e.json + e.tail).join(',')}${CLOSE}`;

const event = (n, tail) => ({ json: `{"type":"track","event":"E","properties":{"n":${n},"text":"a\\nb\\u0002 ü"},"messageId":"m${n}"`, tail });
const contextA = ',"context":{"page":{"path":"/a"},"locale":"de-DE"}}';
const contextB = ',"context":{"page":{"path":"/b"}}}';

test('a batch of one page view packs its shared ending once and unpacks to the joined body', () => {
  const events = [1, 2, 3].map((n) => event(n, contextA));
  const packed = packEvents(events);
  assert.deepEqual(packed.map(([tail]) => tail), [contextA]);
  assert.equal(batchBody([OPEN, packed, CLOSE]), joined(events));
  assert.doesNotThrow(() => JSON.parse(batchBody([OPEN, packed, CLOSE])));
});

test('events that end differently (a page view, adopted events with their context inline) keep their order', () => {
  const events = [event(1, contextA), event(2, contextB), event(3, contextB), { json: '{"type":"track","messageId":"m4","context":{}}', tail: '' }, event(5, contextA)];
  const packed = packEvents(events);
  assert.equal(packed.length, 4);
  assert.equal(batchBody([OPEN, packed, CLOSE]), joined(events));
  assert.deepEqual(JSON.parse(batchBody([OPEN, packed, CLOSE])).batch.map((e) => e.messageId), ['m1', 'm2', 'm3', 'm4', 'm5']);
});

test('an empty batch is the envelope alone', () => {
  assert.equal(batchBody([OPEN, packEvents([]), CLOSE]), `${OPEN}${CLOSE}`);
});

test('a packed burst carries each shared ending once: far fewer characters than its body', () => {
  const events = Array.from({ length: 500 }, (_, n) => event(n, contextA.replace('}}', `,"padding":"${'x'.repeat(600)}"}}`)));
  const packed = packEvents(events);
  const packedChars = packed.reduce((sum, [tail, starts]) => sum + tail.length + starts.reduce((chars, start) => chars + start.length, 0), 0);
  assert.ok(packedChars * 3 < joined(events).length, `${packedChars} packed against ${joined(events).length}`);
  assert.equal(batchBody([OPEN, packed, CLOSE]), joined(events));
});
