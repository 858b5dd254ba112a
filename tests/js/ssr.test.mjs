// Importing the package during server-side rendering (Node, no window) must
// not throw, and every call is a harmless no-op.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAnalytics } from '../../js/index.js';

test('the package imports and runs in Node without a window', async () => {
  assert.equal(typeof window, 'undefined');
  const analytics = createAnalytics({ endpoint: 'https://collector.example/v1/batch' });
  analytics.track('Rendered', { path: '/' });
  analytics.identify('user-1', { plan: 'pro' });
  analytics.page('Home');
  await analytics.ready;
  assert.deepEqual(await analytics.flush(), { sent: 0, failed: 0, pending: 0 });
  assert.equal(analytics.metrics().eventsTracked, 0);
  await analytics.shutdown();
});

test('identity, consent and plugins are harmless no-ops on the server', async () => {
  const analytics = createAnalytics({ endpoint: 'https://collector.example/v1/batch', optOutByDefault: true, cookieDomain: 'example.com' });
  let ran = false;
  analytics.use({ name: 'spy', beforeSend: (event) => { ran = true; return event; } });
  analytics.group('acme', { size: 1 });
  analytics.alias('user-2');
  analytics.reset();
  analytics.optIn();
  await analytics.optOut();
  analytics.track('After');
  assert.deepEqual(analytics.user(), { userId: null, anonymousId: null, traits: {} });
  assert.equal(ran, false, 'no event exists on the server for a plugin to see');
  const metrics = analytics.metrics();
  assert.equal(metrics.anonymousId, null);
  assert.equal(metrics.sessionId, null);
});

test('a bad config does not throw on the server either: every call is a no-op', async () => {
  for (const config of [{ endpoint: 'ftp://x' }, { endpoint: 'https://collector.example/v1/batch', flushAt: 0 }, undefined]) {
    const analytics = createAnalytics(config);
    assert.equal((await analytics.track('Rendered')).status, 'refused');
  }
});
