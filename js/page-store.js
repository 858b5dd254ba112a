// Small page-level state (identity, session, consent) kept in localStorage,
// falling back to memory where localStorage throws (blocked, private modes).
// With `cookieDomain`, the visitor's ids are also kept in cookies on that
// domain, read first, so every subdomain sees the same visitor. With
// `anonymousIdCookie`, the anonymousId is read first from that cookie, which
// the site's server sets: WebKit deletes script-written storage after 7 days
// without a visit and caps script-set cookies, but not a server's cookie.
const COOKIE_KEYS = { 'aw:anonymousId': 'aw_anonymous_id', 'aw:userId': 'aw_user_id' };
const COOKIE_MAX_AGE_S = 365 * 24 * 3600;

function readCookie(name) {
  for (const part of document.cookie.split('; ')) {
    const eq = part.indexOf('=');
    if (part.slice(0, eq) === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1));
      } catch {
        return null;
      }
    }
  }
  return null;
}

function writeCookie(name, value, domain) {
  const secure = location.protocol === 'https:' ? '; Secure' : '';
  const age = value === null ? 0 : COOKIE_MAX_AGE_S;
  document.cookie = `${name}=${encodeURIComponent(value ?? '')}; Domain=${domain}; Path=/; Max-Age=${age}; SameSite=Lax${secure}`;
}

export function createPageStore({ cookieDomain, anonymousIdCookie } = {}) {
  const memory = new Map();
  // A worker has neither cookies nor localStorage: its identity lives in memory.
  if (typeof document === 'undefined') cookieDomain = anonymousIdCookie = null;
  let local = null;
  try {
    local = globalThis.localStorage;
  } catch {
    // Blocked storage: memory only.
  }
  return {
    get(key) {
      const fromServer = key === 'aw:anonymousId' && anonymousIdCookie && readCookie(anonymousIdCookie);
      if (fromServer) return fromServer;
      const cookie = cookieDomain && COOKIE_KEYS[key];
      if (cookie) {
        const value = readCookie(cookie);
        if (value) return value;
      }
      try {
        const value = local?.getItem(key);
        if (value != null) {
          // Kept before cookieDomain was set: give the other subdomains the same visitor.
          if (cookie) writeCookie(cookie, value, cookieDomain);
          return value;
        }
      } catch {
        // Fall through to memory.
      }
      return memory.get(key) ?? null;
    },
    set(key, value) {
      memory.set(key, value);
      const cookie = cookieDomain && COOKIE_KEYS[key];
      if (cookie) writeCookie(cookie, value, cookieDomain);
      try {
        local?.setItem(key, value);
      } catch {
        // Quota or blocked: memory keeps it for this page.
      }
    },
    remove(key) {
      memory.delete(key);
      const cookie = cookieDomain && COOKIE_KEYS[key];
      if (cookie) writeCookie(cookie, null, cookieDomain);
      try {
        local?.removeItem(key);
      } catch {
        // Nothing to remove.
      }
    },
  };
}
