// Page lifecycle: `visibilitychange`, `pagehide`, `online` and `offline`.
// Never `unload` or `beforeunload`, which break the back/forward cache.
// `pagehide` is told apart from a tab switch: the page is being unloaded
// (or frozen in the back/forward cache), and the browser aborts its fetches.

export const isHidden = () => typeof document !== 'undefined' && document.visibilityState === 'hidden';
export const isOnline = () => typeof navigator === 'undefined' || navigator.onLine !== false;

/**
 * Calls `onEvent` with 'hidden', 'unload', 'visible', 'online' or 'offline';
 * returns the detach function. A worker has no document and no pagehide:
 * there only 'online' and 'offline' come.
 */
export function attachLifecycle(onEvent) {
  const scope = globalThis;
  if (typeof scope.addEventListener !== 'function') return () => {};
  const page = scope.document;
  const visibility = () => onEvent(isHidden() ? 'hidden' : 'visible');
  const pagehide = () => onEvent('unload');
  const online = () => onEvent('online');
  const offline = () => onEvent('offline');
  page?.addEventListener('visibilitychange', visibility);
  if (page) scope.addEventListener('pagehide', pagehide);
  scope.addEventListener('online', online);
  scope.addEventListener('offline', offline);
  return () => {
    page?.removeEventListener('visibilitychange', visibility);
    scope.removeEventListener('pagehide', pagehide);
    scope.removeEventListener('online', online);
    scope.removeEventListener('offline', offline);
  };
}
