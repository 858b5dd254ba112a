// An event's JSON, made once, the way a batch carries it: the members its
// call gave (name, properties or traits, options), its messageId, who it is
// by and its time, then the context it was recorded in. An event is held as
// two strings: a start of its own, and an ending (`,"context":…}`) that the
// events of one page view share, so a batch carries that ending once
// (worker.js's packEvents) and the context, most of an event's bytes, is
// measured only when it changes. Imports nothing of the driver.
import { packEvents } from './worker.js';
import { isObject, readOptions } from './options.js';

/** The field that holds each kind of event's name, and the one that holds its properties or traits. */
export const NAME_FIELD = { track: 'event', page: 'name', group: 'groupId', alias: 'previousId' };
export const BODY_FIELD = { track: 'properties', page: 'properties', identify: 'traits', group: 'traits' };

const NON_ASCII = /[^\x00-\x7f]/;

/** UTF-8 length of a string (lone surrogates cannot occur in JSON.stringify output). */
export function utf8Bytes(text) {
  // Most event JSON is ASCII, which one native scan tells.
  if (!NON_ASCII.test(text)) return text.length;
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else {
      bytes += 2;
      if (c >= 0xd800 && c < 0xdc00) i++;
    }
  }
  return bytes;
}

/** The identity members of an event's JSON (`userId` empty: none). */
const who = (userId, anonymousId) => `,"anonymousId":${JSON.stringify(anonymousId)}${userId ? `,"userId":${JSON.stringify(userId)}` : ''}`;

/** `over` merged into `base` (both parsed JSON): objects merge, anything else replaces. */
function deepMerge(base, over) {
  for (const [key, value] of Object.entries(over)) base[key] = isObject(value) && isObject(base[key]) ? deepMerge(base[key], value) : value;
  return base;
}

/**
 * Encodes one page load's events. It keeps the last context and identity it
 * was given, and the last timestamp's text, so that a burst measures and
 * formats each of them once; every call still says all of them. `writeKey`
 * is sent in every body, when there is one.
 */
export function createEncoder(writeKey) {
  const writeKeyMember = writeKey === undefined ? '' : `,"writeKey":${JSON.stringify(writeKey)}`;
  let lastContext = '{}';
  let contextBytes = 2;
  /** What ends each event with this context (`,"context":…}`). */
  let lastTail = ',"context":{}}';
  let lastUserId = '';
  let lastAnonymousId = '';
  let whoMembers = who('', '');
  let isoTime = NaN;
  let isoText = '';

  /** `time` as ISO 8601; a burst's calls share a millisecond, and the text with it. */
  const iso = (time) => {
    if (time !== isoTime) {
      isoTime = time;
      isoText = new Date(time).toISOString();
    }
    return isoText;
  };

  return {
    /**
     * One call as an event: `call` is { type ('track' … 'alias'), name,
     * json (its properties or traits), at (when it was made, epoch ms), id
     * (its messageId), options (the page's copy of its options, or null),
     * category (a page's, or ''), context (JSON text), userId ('' for
     * none), anonymousId }. Returns { id, json, tail, bytes, at, high }, or
     * a message naming the option that is bad.
     */
    encode({ type, name, json, at, id, options, category, context, userId, anonymousId }) {
      const extra = options ? readOptions(options, type) : null;
      if (typeof extra === 'string') return extra;
      // The context, most of an event's bytes, is measured when it changes.
      if (context !== lastContext) {
        lastContext = context;
        contextBytes = utf8Bytes(context);
        lastTail = `,"context":${context}}`;
      }
      if (userId !== lastUserId || anonymousId !== lastAnonymousId) {
        lastUserId = userId;
        lastAnonymousId = anonymousId;
        whoMembers = who(userId, anonymousId);
      }
      const nameField = NAME_FIELD[type];
      const bodyField = BODY_FIELD[type];
      let members = category ? `,"category":${JSON.stringify(category)}` : '';
      let eventWho = whoMembers;
      let tail = lastTail;
      let bytes = contextBytes;
      let stamp = iso(at);
      let idJson = `"${id}"`;
      if (extra) {
        if (extra.userId !== undefined || extra.anonymousId !== undefined) eventWho = who(extra.userId ?? userId, extra.anonymousId ?? anonymousId);
        if (extra.context) {
          const merged = JSON.stringify(deepMerge(JSON.parse(context), extra.context));
          bytes = utf8Bytes(merged);
          tail = `,"context":${merged}}`;
        }
        if (extra.timestamp !== undefined) stamp = new Date(extra.timestamp).toISOString();
        if (extra.integrations) members += `,"integrations":${extra.integrations}`;
        if (extra.messageId) idJson = JSON.stringify(id);
      }
      // Joined, not added: one flat string, where `+` makes a rope of a dozen
      // pieces that measuring it (utf8Bytes) then copies flat again.
      const head = [
        `{"type":"${type}"`,
        nameField && name ? `,"${nameField}":${JSON.stringify(name)}` : '',
        members,
        bodyField ? `,"${bodyField}":${json || '{}'}` : '',
        ',"messageId":',
        idJson,
        eventWho,
        `,"timestamp":"${stamp}"`,
      ].join('');
      return { id, json: head, tail, bytes: utf8Bytes(head) + bytes + 12, at, high: extra?.priority === 'high' };
    },

    /** A batch of `events` ({ json, tail }), packed as worker.js's batchBody takes it. */
    batch: (events, sentAt) => ['{"batch":[', packEvents(events), `],"sentAt":"${sentAt}"${writeKeyMember}}`],

    /** The receipt request for `ids` (docs/wire-contract.md, "Receipts"). */
    receiptRequest: (ids, sentAt) => `{"batch":[],"receipts":${JSON.stringify(ids)},"sentAt":"${sentAt}"${writeKeyMember}}`,
  };
}
