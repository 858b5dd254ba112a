// The config's rules and messages. A bad field never throws: it is left at
// its default, so one typo does not break the page or lose its events, and
// reported when the engine loads (an error of type 'config' naming the
// field and what is allowed). The entry reads its own fields (identity,
// sessions, consent, debug) synchronously by PAGE_RULES' tests alone
// (pageSettings); the messages, and the engine's fields with the core's own
// rules (core-names.js), are the engine's (configSettings), off the critical
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

// What each page field must be, for the engine's messages.
const PAGE_RULE_TEXTS = {
  sessionTimeoutMs: 'an integer between 60000 and 86400000',
  cookieDomain: 'a domain name such as "example.com"',
  anonymousIdCookie: "a cookie name of 1 to 64 letters, digits or !#$%&'*+-.^_`|~",
  optOutByDefault: 'a boolean',
  respectPrivacySignals: 'a boolean',
  debug: 'a boolean',
};

// The engine's fields that are not numbers: 'string', or the values allowed (the first the default).
const ENGINE_KINDS = {
  endpoint: 'string',
  writeKey: 'string',
  compression: ['none', 'gzip'],
  storage: ['auto', 'indexeddb', 'localstorage', 'memory'],
};

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
 * The config the engine takes, from what createAnalytics was given: the
 * engine's fields and debug, each bad one reported through
 * `problem(message)` and left at its default, an unknown one reported and
 * dropped; a bad page field is reported too (pageSettings left it at its
 * default). Throws an Error of type 'config' when the endpoint or writeKey
 * is bad: nothing could be sent with it.
 */
export function configSettings(config, problem) {
  if (!isObject(config)) {
    problem(`config must be an object, got ${show(config)}`);
    config = {};
  }
  const settings = { debug: pageSettings(config).debug };
  const fallBack = (field, value, rule, fallback) => {
    problem(`${field} must be ${rule}, got ${show(value)}; ${fallback === null ? 'it is ignored' : `the default ${show(fallback)} is used`}`);
    return fallback;
  };
  for (const [field, value] of Object.entries(config)) {
    if (value === undefined) continue;
    const kind = ENGINE_KINDS[field];
    const numeric = NUMERIC_FIELDS[field];
    const page = PAGE_RULES[field];
    if (page) {
      if (!page[0](value)) fallBack(field, value, PAGE_RULE_TEXTS[field], page[1]);
    } else if (Array.isArray(kind)) {
      settings[field] = kind.includes(value) ? value : fallBack(field, value, `one of ${kind.map((v) => `"${v}"`).join(', ')}`, kind[0]);
    } else if (kind) {
      settings[field] = value;
    } else if (!numeric) {
      problem(`unknown config field "${field}"; it is ignored`);
    } else {
      const [min, max, fallback] = numeric;
      const good = Number.isSafeInteger(value) && value >= min && value <= max;
      settings[field] = good ? value : fallBack(field, value, `an integer between ${min} and ${max}`, fallback);
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
