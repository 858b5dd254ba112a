// Page lifecycle: `visibilitychange`, `pagehide`, `online` and `offline`.
// Never `unload` or `beforeunload`, which break the back/forward cache.
// `pagehide` is told apart from a tab switch: the page is being unloaded
// (or frozen in the back/forward cache), and the browser aborts its fetches.

export const isHidden = () => typeof document !== 'undefined' && document.visibilityState === 'hidden';
export const isOnline = () => typeof navigator === 'undefined' || navigator.onLine !== false;

/** Calls `onEvent` with 'hidden', 'unload', 'visible', 'online' or 'offline'; returns the detach function. */
export function attachLifecycle(onEvent) {
  if (typeof window === 'undefined' || typeof document === 'undefined') return () => {};
  const visibility = () => onEvent(isHidden() ? 'hidden' : 'visible');
  const pagehide = () => onEvent('unload');
  const online = () => onEvent('online');
  const offline = () => onEvent('offline');
  document.addEventListener('visibilitychange', visibility);
  window.addEventListener('pagehide', pagehide);
  window.addEventListener('online', online);
  window.addEventListener('offline', offline);
  return () => {
    document.removeEventListener('visibilitychange', visibility);
    window.removeEventListener('pagehide', pagehide);
    window.removeEventListener('online', online);
    window.removeEventListener('offline', offline);
  };
}
