// What the page passes in, checked: names and ids as strings, properties and
// traits as the JSON text of an object. Each check returns the value or
// null with a message naming the argument and what it got; nothing throws.

// Longest event and page name, and longest userId, groupId or previousId.
export const MAX_NAME_LENGTH = 255;
export const MAX_ID_LENGTH = 256;

/** What a value is, for error messages: "an array", "a string of 300 characters", … */
export function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value === '' ? 'an empty string' : `a string of ${value.length} characters`;
  return typeof value === 'object' ? 'an object' : value === undefined ? 'undefined' : `a ${typeof value}`;
}

/**
 * A name or id as a string (a finite number is converted), or null after
 * `report` says why it cannot be one. `optional`: null or undefined is ''.
 */
export function checkName(report, call, argument, value, max, optional = false) {
  if (optional && value == null) return '';
  if (typeof value === 'number' && Number.isFinite(value)) value = String(value);
  if (typeof value === 'string' && value !== '' && value.length <= max) return value;
  report(`${call}(): ${argument} must be a non-empty string of at most ${max} characters, or a number; got ${describe(value)}; call dropped`);
  return null;
}

// Values JSON cannot hold: BigInt becomes its decimal string; an object met
// again (a cycle or a shared reference) becomes "[Circular]". Functions,
// symbols and undefined are dropped, as JSON.stringify does.
function tolerantReplacer() {
  const seen = new WeakSet();
  return (key, value) => {
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'object' && value !== null) {
      if (seen.has(value)) return '[Circular]';
      seen.add(value);
    }
    return value;
  };
}

/**
 * The JSON text of a properties or traits object, or null after `report`
 * says why there is none. Getters, proxies and toJSON run here, once;
 * whatever they throw or return that is not an object is reported.
 */
export function serialize(report, value, what = 'properties') {
  if (value == null) return '{}';
  let json;
  if (typeof value === 'object' && !Array.isArray(value)) {
    try {
      json = JSON.stringify(value);
    } catch {
      try {
        json = JSON.stringify(value, tolerantReplacer());
      } catch (error) {
        report(`${what} could not be serialized (${error?.message ?? error}); event dropped`);
        return null;
      }
    }
    if (typeof json === 'string' && json[0] === '{') return json;
    report(`${what} must serialize to a JSON object (toJSON gave ${json === undefined ? 'undefined' : json.slice(0, 40)}); event dropped`);
    return null;
  }
  report(`${what} must be a plain object, got ${describe(value)}; event dropped`);
  return null;
}
