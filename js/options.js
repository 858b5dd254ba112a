// A call's options, as the page serialized them when it was made (a Date
// is its ISO text then), checked as the recorder records the event: the
// options analytics.js takes, each named in the message when it is bad.

const ISO_8601 = /^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?$/;
// Storage keeps a messageId in keys and tab-separated records.
const MESSAGE_ID = /^[^\x00-\x1f]{1,256}$/;

export const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);

/** What a parsed JSON value is, for messages. */
const describe = (value) =>
  value === null ? 'null (or an invalid Date)' : Array.isArray(value) ? 'an array' : typeof value === 'string' ? `a string of ${value.length} characters` : typeof value === 'object' ? 'an object' : `a ${typeof value}`;

/**
 * `options` (the page's copy, parsed from the JSON it made of the call's) as
 * the recorder uses them: { timestamp (epoch ms), messageId, userId,
 * anonymousId, context (an object), integrations (JSON text), priority },
 * only those given; or a message naming the bad option.
 */
export function readOptions(options, call) {
  const bad = (option, rule, value) => `${call}(): options.${option} must be ${rule}, got ${describe(value)}; event dropped`;
  const read = {};
  const { timestamp, messageId, userId, anonymousId, context, integrations, priority } = options;
  if (priority !== undefined) {
    if (priority !== 'high' && priority !== 'normal') return bad('priority', '"high" or "normal"', priority);
    read.priority = priority;
  }
  if (timestamp !== undefined) {
    const ms = typeof timestamp === 'string' && ISO_8601.test(timestamp) ? Date.parse(timestamp) : NaN;
    if (Number.isNaN(ms)) return bad('timestamp', 'a Date or an ISO 8601 string', timestamp);
    read.timestamp = ms;
  }
  if (messageId !== undefined) {
    if (typeof messageId !== 'string' || !MESSAGE_ID.test(messageId)) return bad('messageId', 'a string of 1 to 256 characters, none of them control characters', messageId);
    read.messageId = messageId;
  }
  for (const [option, value] of [['userId', userId], ['anonymousId', anonymousId]]) {
    if (value === undefined) continue;
    const id = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
    if (typeof id !== 'string' || id === '' || id.length > 256) return bad(option, 'a non-empty string of at most 256 characters, or a number', value);
    read[option] = id;
  }
  if (context !== undefined) {
    if (!isObject(context)) return bad('context', 'an object', context);
    read.context = context;
  }
  if (integrations !== undefined) {
    if (!isObject(integrations)) return bad('integrations', 'an object', integrations);
    read.integrations = JSON.stringify(integrations);
  }
  return read;
}
