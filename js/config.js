// The config's rules and messages. A bad field never throws: it is left at
// its default, so one typo does not break the page or lose its events, and
// reported when the recorder loads (an error of type 'config' naming the
// field and what is allowed). The entry reads its own fields (identity,
// sessions, consent, debug) synchronously by PAGE_RULES' tests alone
// (pageSettings); the messages, and the recorder's fields with the core's own
// rules (core-names.js), are the recorder's (configSettings), off the critical
// path.
import { NUMERIC_FIELDS } from './core-names.js';
import { isObject } from './options.js';

const isBoolean = (value) => typeof value === 'boolean';

// The fields the entry owns (the wasm never sees them): name: [test, default].
const PAGE_RULES = {
  sessionTimeoutMs: [(value) => Number.isSafeInteger(value) && value >= 60_000 && value <= 86_400_000, 1_800_000],
  cookieDomain: [(value) => typeof value === 'string' && /^\.?[a-z0-9.-]{1,253}$/i.test(value), null],
  anonymousIdCookie: [(value) => typeof value === 'string' && /^[\w!#$%&'*+.^`|~-]{1,64}$/.test(value), null],
  optOutByDefault: [isBoolean, false],
  respectPrivacySignals: [isBoolean, false],
  debug: [isBoolean, false],
};

/** The page-level settings: each field of `config` that passes its test, else its default. */
export function pageSettings(config) {
  const settings = {};
  for (const [field, [test, fallback]] of Object.entries(PAGE_RULES)) {
    const value = isObject(config) ? config[field] : undefined;
    settings[field] = value !== undefined && test(value) ? value : fallback;
  }
  return settings;
}

// What each page field must be, for the recorder's messages.
const PAGE_RULE_TEXTS = {
  sessionTimeoutMs: 'an integer between 60000 and 86400000',
  cookieDomain: 'a domain name such as "example.com"',
  anonymousIdCookie: "a cookie name of 1 to 64 letters, digits or !#$%&'*+-.^_`|~",
  optOutByDefault: 'a boolean',
  respectPrivacySignals: 'a boolean',
  debug: 'a boolean',
};

/**
 * Each field's rule for the recorder: [test, what it must be, default]. The
 * endpoint and writeKey are checked on their own (configSettings): nothing
 * could be sent without them.
 */
function recorderRules() {
  const rules = { endpoint: [() => true], writeKey: [() => true] };
  for (const [field, [min, max, fallback]] of Object.entries(NUMERIC_FIELDS)) {
    rules[field] = [(value) => Number.isSafeInteger(value) && value >= min && value <= max, `an integer between ${min} and ${max}`, fallback];
  }
  for (const [field, choices] of Object.entries({ compression: ['none', 'gzip'], storage: ['auto', 'indexeddb', 'localstorage', 'memory'] })) {
    rules[field] = [(value) => choices.includes(value), `one of ${choices.map((choice) => `"${choice}"`).join(', ')}`, choices[0]];
  }
  for (const [field, [test, fallback]] of Object.entries(PAGE_RULES)) rules[field] = [test, PAGE_RULE_TEXTS[field], fallback];
  return rules;
}

/** A value as a message shows it. */
const show = (value) => {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
};

/** An Error of type 'config': nothing could be sent with this config. */
const unusable = (message) => Object.assign(new Error(message), { type: 'config' });

/**
 * The config the recorder takes, from what createAnalytics was given: each
 * bad field reported through `problem(message)` and left at its default
 * (pageSettings left a page field at its default too), an unknown one
 * reported and dropped. Throws an Error of type 'config' when the endpoint
 * or writeKey is bad: nothing could be sent with it.
 */
export function configSettings(config, problem) {
  if (!isObject(config)) {
    problem(`config must be an object, got ${show(config)}`);
    config = {};
  }
  const rules = recorderRules();
  const settings = {};
  for (const [field, value] of Object.entries(config)) {
    const [test, rule, fallback] = rules[field] ?? [];
    if (value === undefined) continue;
    if (!test) problem(`unknown config field "${field}"; it is ignored`);
    else if (test(value)) settings[field] = value;
    else {
      problem(`${field} must be ${rule}, got ${show(value)}; ${fallback === null ? 'it is ignored' : `the default ${show(fallback)} is used`}`);
      if (fallback !== null) settings[field] = fallback;
    }
  }
  const endpoint = typeof settings.endpoint === 'string' ? settings.endpoint : '';
  // The core's rule: an http(s) URL with a host, or a path on this site.
  if (!/^(https?:\/\/[^/\s]|\/(?!\/))\S*$/.test(endpoint)) throw unusable(`endpoint must start with https://, http:// or /, got ${show(settings.endpoint ?? '')}`);
  // The rule above is the core's; the URL must also parse (a bracket left
  // open, a port above 65535…), a path against the page it runs on.
  try {
    new URL(endpoint, typeof location === 'undefined' ? 'http://localhost/' : location.href);
  } catch {
    throw unusable(`endpoint is not a valid URL: "${endpoint}"`);
  }
  if (settings.writeKey !== undefined && !(typeof settings.writeKey === 'string' && /^[\x21-\x7e]{1,256}$/.test(settings.writeKey))) {
    throw unusable('writeKey must be 1 to 256 printable ASCII characters');
  }
  const retryBase = settings.retryBaseMs ?? NUMERIC_FIELDS.retryBaseMs[2];
  const retryMax = settings.retryMaxMs ?? NUMERIC_FIELDS.retryMaxMs[2];
  if (retryMax < retryBase) {
    problem(`retryMaxMs must be an integer between ${retryBase} and ${NUMERIC_FIELDS.retryMaxMs[1]}, got ${retryMax}; ${retryBase} is used`);
    settings.retryMaxMs = retryBase;
  }
  return settings;
}
