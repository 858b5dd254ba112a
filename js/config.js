// Synchronous config check for createAnalytics(): the same rules and the same
// messages as the Rust core (which checks again, authoritatively, once loaded).
import { NUMERIC_FIELDS } from './tables.js';

// The fields that are not numbers: 'string', 'boolean', or the values allowed.
const FIELD_KINDS = {
  endpoint: 'string',
  writeKey: 'string',
  debug: 'boolean',
  optOutByDefault: 'boolean',
  respectPrivacySignals: 'boolean',
  compression: ['gzip', 'none'],
  storage: ['auto', 'indexeddb', 'localstorage', 'memory'],
};

// Fields the JS entry owns (identity, sessions, consent); the wasm never sees them.
// name: [min, max, default]
const PAGE_NUMERIC_FIELDS = { sessionTimeoutMs: [60_000, 86_400_000, 1_800_000] };
export const PAGE_FIELDS = ['sessionTimeoutMs', 'cookieDomain', 'anonymousIdCookie', 'optOutByDefault', 'respectPrivacySignals'];

/** The page-level settings, with defaults. */
export function pageSettings(config) {
  return {
    sessionTimeoutMs: config.sessionTimeoutMs ?? PAGE_NUMERIC_FIELDS.sessionTimeoutMs[2],
    cookieDomain: config.cookieDomain ?? null,
    anonymousIdCookie: config.anonymousIdCookie ?? null,
    optOutByDefault: config.optOutByDefault === true,
    respectPrivacySignals: config.respectPrivacySignals === true,
    debug: config.debug === true,
  };
}

/** The config the wasm engine checks and uses: without the page-level fields. */
export function engineConfig(config) {
  const engine = { ...config };
  for (const field of PAGE_FIELDS) delete engine[field];
  return engine;
}

const show = (value) => {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
};

/** Throws an Error naming the first bad field; returns the config. */
export function checkConfig(config) {
  const fail = (message) => {
    throw new Error(`analytics-wasm config: ${message}`);
  };
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    fail(`config must be an object, got ${show(config)}`);
  }
  for (const [key, value] of Object.entries(config)) {
    if (value === undefined) continue;
    const kind = FIELD_KINDS[key];
    if (Array.isArray(kind)) {
      if (!kind.includes(value)) fail(`${key} must be one of ${kind.map((v) => `"${v}"`).join(', ')}, got ${show(value)}`);
      continue;
    }
    if (kind) {
      if (typeof value !== kind) fail(`${key} must be a ${kind}, got ${show(value)}`);
      continue;
    }
    if (key === 'anonymousIdCookie') {
      if (typeof value !== 'string' || !/^[\w!#$%&'*+.^`|~-]{1,64}$/.test(value)) fail(`anonymousIdCookie must be a cookie name of 1 to 64 letters, digits or !#$%&'*+-.^_\`|~, got ${show(value)}`);
      continue;
    }
    if (key === 'cookieDomain') {
      if (typeof value !== 'string' || !/^\.?[a-z0-9.-]{1,253}$/i.test(value)) {
        fail(`cookieDomain must be a domain name such as "example.com", got ${show(value)}`);
      }
      continue;
    }
    const rule = NUMERIC_FIELDS[key] ?? PAGE_NUMERIC_FIELDS[key];
    if (!rule) fail(`unknown config field "${key}"`);
    if (!Number.isSafeInteger(value) || value < 0) fail(`${key} must be a non-negative integer, got ${show(value)}`);
    const [min, max] = rule;
    if (value < min || value > max) fail(`${key} must be between ${min} and ${max}, got ${value}`);
  }
  const endpoint = config.endpoint ?? '';
  // The core's rule: an http(s) URL with a host, or a path on this site.
  if (!/^(https?:\/\/[^/\s]|\/(?!\/))\S*$/.test(endpoint)) {
    fail(`endpoint must start with https://, http:// or /, got "${endpoint}"`);
  }
  // The rule above is the core's; the URL must also parse (a bracket left
  // open, a port above 65535…), a path against the page it runs on.
  try {
    new URL(endpoint, typeof location === 'undefined' ? 'http://localhost/' : location.href);
  } catch {
    fail(`endpoint is not a valid URL: "${endpoint}"`);
  }
  if (config.writeKey !== undefined && !/^[\x21-\x7e]{1,256}$/.test(config.writeKey)) {
    fail('writeKey must be 1 to 256 printable ASCII characters');
  }
  const retryBase = config.retryBaseMs ?? NUMERIC_FIELDS.retryBaseMs[2];
  const retryMax = config.retryMaxMs ?? NUMERIC_FIELDS.retryMaxMs[2];
  if (retryMax < retryBase) {
    fail(`retryMaxMs must be between ${retryBase} and ${NUMERIC_FIELDS.retryMaxMs[1]}, got ${retryMax}`);
  }
  return config;
}
