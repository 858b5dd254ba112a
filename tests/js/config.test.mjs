// The package's config check (js/config.js) and the core's own validation
// must agree: what the check takes without a problem the core takes, and a
// setting the check refuses for its range the core refuses too. The rules
// come from one table, the core's, generated into pkg/core-names.js. A bad
// field is reported and left at its default, never thrown; only a config
// nothing could be sent with (the endpoint, the writeKey) stops the client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Core } from '../../pkg/core.js';
import { configSettings, pageSettings } from '../../pkg/config.js';
import { NUMERIC_FIELDS } from '../../pkg/core-names.js';
import * as tables from '../../pkg/tables.js';

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

/** What configSettings makes of `config`: its settings and the problems it reported, or the error it threw. */
function check(config) {
  const problems = [];
  try {
    return { settings: configSettings(config, (message) => problems.push(message)), problems };
  } catch (error) {
    return { error, problems };
  }
}

/** 'ok', the first problem reported, or the message of the error thrown. */
function jsVerdict(config) {
  const { error, problems } = check(config);
  return error ? error.message : (problems[0] ?? 'ok');
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

test('what the JS check takes without a problem the core takes, and a range it refuses the core refuses', async () => {
  for (const config of cases) {
    const js = jsVerdict(config);
    const rangeError = js.match(/^(\w+) must be an integer between/)?.[1];
    if (js === 'ok') assert.equal(await coreVerdict(config), 'ok', JSON.stringify(config));
    else if (rangeError && Number.isSafeInteger(config[rangeError])) assert.equal(await coreVerdict(config), rangeError, JSON.stringify(config));
  }
});

test('what the check makes of any config the core takes', async () => {
  for (const config of cases) {
    const { settings } = check(config);
    if (settings) assert.equal(await coreVerdict(settings), 'ok', JSON.stringify(config));
  }
});

test('a bad field is reported naming its range and its default, and the default is used', () => {
  const { settings, problems } = check({ endpoint, flushAt: 0, maxQueueEvents: -5, flushIntervalMs: 1.5 });
  assert.deepEqual(problems, [
    'flushAt must be an integer between 1 and 1000, got 0; the default 20 is used',
    'maxQueueEvents must be an integer between 1 and 100000, got -5; the default 10000 is used',
    'flushIntervalMs must be an integer between 1 and 3600000, got 1.5; the default 5000 is used',
  ]);
  assert.deepEqual(settings, { endpoint, flushAt: 20, maxQueueEvents: 10000, flushIntervalMs: 5000 });
});

test('an unknown field (a typo) is reported and ignored', () => {
  const { settings, problems } = check({ endpoint, flushat: 20 });
  assert.deepEqual(problems, ['unknown config field "flushat"; it is ignored']);
  assert.deepEqual(settings, { endpoint });
});

test('a value outside a field\'s choices is reported with the choices, and the default is used', () => {
  const { settings, problems } = check({ endpoint, storage: 'cookies', compression: 'brotli' });
  assert.deepEqual(problems, [
    'storage must be one of "auto", "indexeddb", "localstorage", "memory", got "cookies"; the default "auto" is used',
    'compression must be one of "none", "gzip", got "brotli"; the default "none" is used',
  ]);
  assert.equal(settings.storage, 'auto');
  assert.equal(settings.compression, 'none');
});

test('retryMaxMs below retryBaseMs is reported, and retryBaseMs is used for both', () => {
  const { settings, problems } = check({ endpoint, retryBaseMs: 5000, retryMaxMs: 1000 });
  assert.deepEqual(problems, ['retryMaxMs must be an integer between 5000 and 86400000, got 1000; 5000 is used']);
  assert.equal(settings.retryMaxMs, 5000);
});

test('a config that is not an object is reported, and its endpoint is missing', () => {
  const { error, problems } = check('https://collector.example');
  assert.deepEqual(problems, ['config must be an object, got "https://collector.example"']);
  assert.equal(error.type, 'config');
  assert.equal(error.message, 'endpoint must start with https://, http:// or /, got ""');
});

test('an endpoint or writeKey nothing could be sent with throws an error of type config, naming the field', () => {
  for (const [config, message] of [
    [{}, 'endpoint must start with https://, http:// or /, got ""'],
    [{ endpoint: 'ftp://x' }, 'endpoint must start with https://, http:// or /, got "ftp://x"'],
    [{ endpoint: 42 }, 'endpoint must start with https://, http:// or /, got 42'],
    [{ endpoint, writeKey: 'has space' }, 'writeKey must be 1 to 256 printable ASCII characters'],
    [{ endpoint, writeKey: 42 }, 'writeKey must be 1 to 256 printable ASCII characters'],
  ]) {
    const { error } = check(config);
    assert.equal(error?.type, 'config', JSON.stringify(config));
    assert.equal(error.message, message);
  }
});

test('the page-level fields are read by the entry, and the core takes a config that has them', async () => {
  const config = { endpoint, sessionTimeoutMs: 60_000, cookieDomain: 'example.com', anonymousIdCookie: 'ajs_anonymous_id', optOutByDefault: true, respectPrivacySignals: false, debug: true };
  assert.deepEqual(pageSettings(config), { sessionTimeoutMs: 60_000, cookieDomain: 'example.com', anonymousIdCookie: 'ajs_anonymous_id', optOutByDefault: true, respectPrivacySignals: false, debug: true });
  assert.deepEqual(check(config), { settings: config, problems: [] });
  assert.equal(await coreVerdict(check(config).settings), 'ok');
});

test('a bad page-level field is left at its default by the entry, and reported by the check naming what is allowed', () => {
  const config = { endpoint, sessionTimeoutMs: 1000, optOutByDefault: 'true', cookieDomain: 'a b; path=/', anonymousIdCookie: 'id; Path=/', debug: 1 };
  assert.deepEqual(pageSettings(config), { sessionTimeoutMs: 1_800_000, cookieDomain: null, anonymousIdCookie: null, optOutByDefault: false, respectPrivacySignals: false, debug: false });
  const { problems } = check(config);
  assert.deepEqual(problems.slice(0, 3), [
    'sessionTimeoutMs must be an integer between 60000 and 86400000, got 1000; the default 1800000 is used',
    'optOutByDefault must be a boolean, got "true"; the default false is used',
    'cookieDomain must be a domain name such as "example.com", got "a b; path=/"; it is ignored',
  ]);
  assert.match(problems[3], /^anonymousIdCookie must be a cookie name of 1 to 64 letters, digits or .*, got "id; Path=\/"; it is ignored$/);
  assert.equal(problems[4], 'debug must be a boolean, got 1; the default false is used');
  assert.deepEqual(pageSettings('not an object'), pageSettings({}));
});

test('the generated rules carry the core defaults', () => {
  assert.deepEqual(NUMERIC_FIELDS.flushAt, [1, 1000, 20]);
  assert.deepEqual(NUMERIC_FIELDS.maxQueueEvents, [1, 100000, 10000]);
  assert.deepEqual(NUMERIC_FIELDS.maxQueueBytes, [1024, 50000000, 16000000]);
});

test('an endpoint that does not parse as a URL cannot be sent to, naming the field', () => {
  assert.equal(jsVerdict({ endpoint: 'http://[::1' }), 'endpoint is not a valid URL: "http://[::1"');
  assert.equal(jsVerdict({ endpoint: 'http://127.0.0.1:99999/v1/batch' }), 'endpoint is not a valid URL: "http://127.0.0.1:99999/v1/batch"');
  assert.equal(jsVerdict({ endpoint: 'https://[::1]:8443/v1/batch' }), 'ok');
  assert.equal(jsVerdict({ endpoint: '/v1/batch' }), 'ok', 'a path resolves against the page');
});
