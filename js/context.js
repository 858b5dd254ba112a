// The `context` object sent with every event, computed once per page view
// (and again by page() or a new session), never per event. A view is the
// page as a call saw it: { href, title, referrer } (client.js takes it).
export const LIBRARY = { name: 'analytics-wasm', version: '__VERSION__' };

const TIMEZONE = 'aw:timezone';
const CAMPAIGN = 'aw:campaign';
// The utm_* parameters, and the fields of context.campaign they fill (analytics.js's names).
const UTM = { utm_campaign: 'name', utm_source: 'source', utm_medium: 'medium', utm_term: 'term', utm_content: 'content' };

function currentTimezone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/**
 * The visitor's IANA timezone. Temporal reads it in microseconds (Chromium,
 * Firefox), each page afresh. Without it (WebKit) the first
 * Intl.DateTimeFormat of a page costs 20 to 50 ms of main thread (ICU's date
 * formats, measured in Chromium), so that answer is remembered in
 * localStorage and reused; `onChange` hears of a new one when `recheck` asks
 * for it to be computed again when idle.
 */
export function rememberedTimezone(store, recheck, onChange) {
  const current = globalThis.Temporal?.Now?.timeZoneId();
  if (current) return current;
  const remembered = store.get(TIMEZONE);
  if (!remembered) {
    const timezone = currentTimezone();
    if (timezone) store.set(TIMEZONE, timezone);
    return timezone;
  }
  if (recheck) {
    const idle = globalThis.requestIdleCallback ?? ((run) => setTimeout(run, 1));
    idle(() => {
      const timezone = currentTimezone();
      if (timezone && timezone !== remembered) {
        store.set(TIMEZONE, timezone);
        onChange(timezone);
      }
    }, { timeout: 5000 });
  }
  return remembered;
}

/**
 * context.campaign: the view's utm_* parameters, or else those of the page
 * that brought the visitor in this session (remembered), or undefined.
 */
export function sessionCampaign(store, view, sessionId) {
  const params = new URL(view.href).searchParams;
  let campaign;
  for (const [param, field] of Object.entries(UTM)) {
    const value = params.get(param);
    if (value) (campaign ??= {})[field] = value;
  }
  if (campaign) {
    store.set(CAMPAIGN, JSON.stringify({ sessionId, campaign }));
    return campaign;
  }
  try {
    const landing = JSON.parse(store.get(CAMPAIGN) ?? 'null');
    return landing?.sessionId === sessionId ? landing.campaign : undefined;
  } catch {
    return undefined;
  }
}

export function pageContext(view, sessionId, timezone, campaign) {
  const { href, title, referrer } = view;
  const { pathname, search } = new URL(href);
  // A worker has no screen.
  const screenInfo = typeof screen === 'undefined' ? null : { width: screen.width, height: screen.height, density: window.devicePixelRatio };
  return {
    library: LIBRARY,
    page: { path: pathname, referrer, search, title, url: href },
    userAgent: navigator.userAgent,
    // The low-entropy client hints (brands, mobile, platform), where the browser has them.
    userAgentData: navigator.userAgentData?.toJSON?.(),
    locale: navigator.language,
    timezone,
    screen: screenInfo,
    campaign,
    sessionId,
  };
}
