// Who the visitor is: an anonymousId made once (a UUID v4), the userId and
// traits from identify(), the group from group(). All persisted, so they
// survive reloads; reset() forgets them and makes a new anonymousId.
const ANONYMOUS_ID = 'aw:anonymousId';
const USER_ID = 'aw:userId';
const TRAITS = 'aw:traits';
const GROUP_ID = 'aw:groupId';
const GROUP_TRAITS = 'aw:groupTraits';

const HEX = Array.from({ length: 256 }, (_, i) => (i + 0x100).toString(16).slice(1));
let pool = new Uint8Array(0);
let offset = 0;

/**
 * A random UUID v4 (anonymousIds, and the recorder's UUID v7 messageIds are made of it). Random
 * bytes are drawn 4 KB at a time: crypto.randomUUID costs about 1 µs a
 * call, a third of track() in a burst, and needs a secure context.
 */
export function uuid() {
  if (offset === pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(4096));
    offset = 0;
  }
  const o = offset;
  offset += 16;
  pool[o + 6] = (pool[o + 6] & 0x0f) | 0x40;
  pool[o + 8] = (pool[o + 8] & 0x3f) | 0x80;
  let id = '';
  for (let i = 0; i < 16; i++) id += (i === 4 || i === 6 || i === 8 || i === 10 ? '-' : '') + HEX[pool[o + i]];
  return id;
}

function readObject(store, key) {
  try {
    const value = JSON.parse(store.get(key) ?? 'null');
    return value && typeof value === 'object' && !Array.isArray(value) ? value : {};
  } catch {
    return {};
  }
}

const validId = (id) => typeof id === 'string' && id.length > 0 && id.length <= 256;

export class Identity {
  #store;

  constructor(store) {
    this.#store = store;
    this.anonymousId = store.get(ANONYMOUS_ID);
    if (!validId(this.anonymousId)) this.#newAnonymousId();
    const userId = store.get(USER_ID);
    this.userId = validId(userId) ? userId : null;
    this.traits = readObject(store, TRAITS);
    const groupId = store.get(GROUP_ID);
    this.groupId = validId(groupId) ? groupId : null;
    this.groupTraits = readObject(store, GROUP_TRAITS);
  }

  #newAnonymousId() {
    this.anonymousId = uuid();
    this.#store.set(ANONYMOUS_ID, this.anonymousId);
  }

  /** A new userId forgets the previous user's traits; traits merge otherwise. */
  identify(userId, traits) {
    if (userId != null && userId !== this.userId) {
      if (this.userId !== null) this.traits = {};
      this.userId = userId;
      this.#store.set(USER_ID, userId);
    }
    if (traits) {
      this.traits = { ...this.traits, ...traits };
      this.#store.set(TRAITS, JSON.stringify(this.traits));
    }
  }

  /** The same person under a new id: traits stay. */
  alias(userId) {
    this.userId = userId;
    this.#store.set(USER_ID, userId);
  }

  group(groupId, traits) {
    if (groupId !== this.groupId) {
      this.groupTraits = {};
      this.groupId = groupId;
      this.#store.set(GROUP_ID, groupId);
    }
    if (traits) {
      this.groupTraits = { ...this.groupTraits, ...traits };
      this.#store.set(GROUP_TRAITS, JSON.stringify(this.groupTraits));
    }
  }

  /** Logout: no user, no traits, no group, and a new anonymous visitor. */
  reset() {
    this.userId = null;
    this.traits = {};
    this.groupId = null;
    this.groupTraits = {};
    for (const key of [USER_ID, TRAITS, GROUP_ID, GROUP_TRAITS]) this.#store.remove(key);
    this.#newAnonymousId();
  }
}
