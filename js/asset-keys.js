// Where the two scripts loaded lazily by URL put what they define: the
// recorder's script (analytics-recorder.js) and the core compiled to JavaScript
// (analytics-core.js) each set a function on the global object under its
// symbol, rather than export it, because a bundler may ship a script named
// by `new URL()` as a bundle of its own that drops the module's exports
// (Parcel does). The version keeps two copies of the package on a page apart.
export const RECORDER_KEY = Symbol.for('analytics-wasm@__VERSION__ recorder');
export const CORE_KEY = Symbol.for('analytics-wasm@__VERSION__ core');

/** Imports the script at `url` and returns the function it set under `key`. */
export async function loadScript(url, key) {
  await import(/* webpackIgnore: true */ /* @vite-ignore */ String(url));
  const defined = globalThis[key];
  if (typeof defined !== 'function') throw new Error(`${url} loaded but did not define ${key.description}`);
  return defined;
}
