// The ids the package makes (anonymousIds and every event's messageId).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { uuid } from '../../js/identity.js';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('ids are RFC 4122 version 4 UUIDs, none repeated, across many pools of random bytes', () => {
  const seen = new Set();
  for (let i = 0; i < 50_000; i++) {
    const id = uuid();
    assert.match(id, V4);
    seen.add(id);
  }
  assert.equal(seen.size, 50_000);
});

test('every hex digit position varies (no byte of the pool is reused or fixed but the version and variant)', () => {
  const ids = Array.from({ length: 2000 }, uuid);
  for (let position = 0; position < 36; position++) {
    if ([8, 13, 14, 18, 19, 23].includes(position)) continue; // dashes, version, variant
    assert.ok(new Set(ids.map((id) => id[position])).size >= 8, `position ${position}`);
  }
});
