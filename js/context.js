// The `context` object sent with every event, computed once per page view
// (and again by page()), never per event.
export const LIBRARY = { name: 'analytics-wasm', version: '__VERSION__' };

export function pageContext(sessionId) {
  const { href, pathname, search } = location;
  const screenInfo = typeof screen === 'undefined' ? null : { width: screen.width, height: screen.height, density: window.devicePixelRatio };
  let timezone;
  try {
    timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch {
    timezone = undefined;
  }
  return {
    library: LIBRARY,
    page: { path: pathname, referrer: document.referrer, search, title: document.title, url: href },
    userAgent: navigator.userAgent,
    locale: navigator.language,
    timezone,
    screen: screenInfo,
    sessionId,
  };
}
