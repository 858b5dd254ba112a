// The package's synchronous config check (js/config.js) and the core's own
// validation must agree: what the check accepts the core takes, and a
// setting the check refuses for its range the core refuses too. The rules
// come from one table, the core's, generated into pkg/tables.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Core } from '../../pkg/core.js';
import { checkConfig, engineConfig, PAGE_FIELDS } from '../../pkg/config.js';
import * as tables from '../../pkg/tables.js';

const { NUMERIC_FIELDS } = tables;

const wasm = readFileSync(new URL('../../pkg/analytics-core.wasm', import.meta.url));

const endpoint = 'https://collector.example/v1/batch';

/** 'ok', or the field the core refuses. */
async function coreVerdict(config) {
  const { instance } = await WebAssembly.instantiate(wasm, {});
  try {
    new Core(instance.exports, config, 1, 48, tables);
    return 'ok';
  } catch (error) {
    return error.message.match(/config: (\w+) is out of range/)?.[1] ?? error.message;
  }
}

function jsVerdict(config) {
  try {
    checkConfig(config);
    return 'ok';
  } catch (error) {
    return error.message.replace(/^analytics-wasm config: /, '');
  }
}

const cases = [
  { endpoint },
  { endpoint: '/v1/batch' },
  { endpoint: 'http://127.0.0.1:8787/v1/batch', writeKey: 'wk_1' },
  { endpoint: 'ftp://x' },
  { endpoint: '//cdn.example/v1' },
  { endpoint: 'https://' },
  { endpoint: 'https://a b' },
  {},
  { endpoint, writeKey: 'has space' },
  { endpoint, writeKey: 42 },
  { endpoint, flushAt: 0 },
  { endpoint, flushAt: -1 },
  { endpoint, flushAt: 1.5 },
  { endpoint, flushAt: '20' },
  { endpoint, flushAt: 1e20 },
  { endpoint, flushat: 20 },
  { endpoint, retryBaseMs: 5000, retryMaxMs: 1000 },
  { endpoint, storage: 'cookies' },
  { endpoint, storage: 'memory' },
  { endpoint, compression: 'gzip' },
  { endpoint, compression: 'none' },
  { endpoint, compression: 'brotli' },
  { endpoint, debug: true },
  { endpoint, debug: 'yes' },
  { endpoint, debug: 1 },
];
for (const [name, [min, max]] of Object.entries(NUMERIC_FIELDS)) {
  cases.push({ endpoint, [name]: min }, { endpoint, [name]: max }, { endpoint, [name]: max + 1 });
  if (min > 0) cases.push({ endpoint, [name]: min - 1 });
}

test('what the JS check accepts the core takes, and a range it refuses the core refuses', async () => {
  for (const config of cases) {
    const js = jsVerdict(config);
    const rangeError = js.match(/^(\w+) must be between/)?.[1];
    if (js === 'ok') assert.equal(await coreVerdict(config), 'ok', JSON.stringify(config));
    else if (rangeError && Number.isSafeInteger(config[rangeError])) assert.equal(await coreVerdict(config), rangeError, JSON.stringify(config));
  }
});

test('the page-level fields are checked in JS and are not the core\'s', async () => {
  const config = { endpoint, sessionTimeoutMs: 60_000, cookieDomain: 'example.com', anonymousIdCookie: 'ajs_anonymous_id', optOutByDefault: true, respectPrivacySignals: false, debug: true };
  assert.equal(jsVerdict(config), 'ok');
  assert.deepEqual(engineConfig(config), { endpoint, debug: true });
  assert.equal(await coreVerdict(engineConfig(config)), 'ok');
  assert.deepEqual([...PAGE_FIELDS].sort(), ['anonymousIdCookie', 'cookieDomain', 'optOutByDefault', 'respectPrivacySignals', 'sessionTimeoutMs']);
});

test('bad page-level fields are named with what is allowed', () => {
  assert.equal(jsVerdict({ endpoint, sessionTimeoutMs: 1000 }), 'sessionTimeoutMs must be between 60000 and 86400000, got 1000');
  assert.equal(jsVerdict({ endpoint, sessionTimeoutMs: '30m' }), 'sessionTimeoutMs must be a non-negative integer, got "30m"');
  assert.equal(jsVerdict({ endpoint, optOutByDefault: 'true' }), 'optOutByDefault must be a boolean, got "true"');
  assert.equal(jsVerdict({ endpoint, cookieDomain: 'a b; path=/' }), 'cookieDomain must be a domain name such as "example.com", got "a b; path=/"');
  assert.match(jsVerdict({ endpoint, anonymousIdCookie: 'id; Path=/' }), /^anonymousIdCookie must be a cookie name of 1 to 64 letters, digits or .*, got "id; Path=\/"$/);
});

test('a bad field is named with its allowed range', () => {
  assert.equal(jsVerdict({ endpoint, flushAt: 0 }), 'flushAt must be between 1 and 1000, got 0');
  assert.equal(jsVerdict({ endpoint, maxQueueEvents: -5 }), 'maxQueueEvents must be a non-negative integer, got -5');
  assert.equal(jsVerdict({ endpoint, flushat: 20 }), 'unknown config field "flushat"');
});

test('the generated rules carry the core defaults', () => {
  assert.deepEqual(NUMERIC_FIELDS.flushAt, [1, 1000, 20]);
  assert.deepEqual(NUMERIC_FIELDS.maxQueueEvents, [1, 100000, 10000]);
  assert.deepEqual(NUMERIC_FIELDS.maxQueueBytes, [1024, 50000000, 16000000]);
});

test('an endpoint that does not parse as a URL is refused at creation, naming the field', () => {
  assert.equal(jsVerdict({ endpoint: 'http://[::1' }), 'endpoint is not a valid URL: "http://[::1"');
  assert.equal(jsVerdict({ endpoint: 'http://127.0.0.1:99999/v1/batch' }), 'endpoint is not a valid URL: "http://127.0.0.1:99999/v1/batch"');
  assert.equal(jsVerdict({ endpoint: 'https://[::1]:8443/v1/batch' }), 'ok');
  assert.equal(jsVerdict({ endpoint: '/v1/batch' }), 'ok', 'a path resolves against the page');
});
