// The argument forms analytics.js accepts, resolved to one shape: a
// callback may come in any position after the required arguments. The
// options are checked by the recorder (options.js). Nothing here throws.
import { isObject } from './options.js';

const isFunction = (value) => typeof value === 'function';

/** The arguments after the leading ones, as [body, options, callback]: a function ends them. */
function trailing(rest) {
  const callback = rest.find(isFunction);
  const end = callback ? rest.indexOf(callback) : rest.length;
  return [end > 0 ? rest[0] : undefined, end > 1 ? rest[1] : undefined, callback];
}

/**
 * page(category?, name?, properties?, options?, callback?): two strings are
 * a category and a name, one is a name; the first object is the
 * properties, the second the options (as analytics.js resolves them).
 */
export function pageCall(args) {
  const strings = args.filter((arg) => typeof arg === 'string');
  const objects = args.filter((arg) => isObject(arg));
  const invalid = args.find((arg) => arg != null && !isFunction(arg) && typeof arg !== 'string' && !isObject(arg));
  return {
    category: strings.length >= 2 ? strings[0] : null,
    // A name that is neither a string nor nothing is refused by the name check.
    name: strings.length >= 2 ? strings[1] : strings.length === 1 ? strings[0] : invalid,
    body: objects[0],
    options: objects[1],
    callback: args.find(isFunction),
  };
}

/**
 * identify(userId?, traits?, options?, callback?) and group(groupId,
 * traits?, options?, callback?): an object first is the traits (no id).
 */
export function userCall(args) {
  if (isObject(args[0]) || isFunction(args[0])) args = [undefined, ...args];
  const [traits, options, callback] = trailing(args.slice(1));
  return { id: args[0], body: traits, options, callback };
}

/** alias(userId, previousId?, options?, callback?): an object second is the options. */
export function aliasCall(args) {
  if (isObject(args[1]) || isFunction(args[1])) args = [args[0], undefined, ...args.slice(1)];
  const [, options, callback] = trailing(args.slice(1));
  return { id: args[0], previousId: args[1], options, callback };
}
