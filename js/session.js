// Sessions: a session ends after `timeoutMs` without an event. Its id is the
// epoch ms it started (as Amplitude's sessionId), so no randomness is needed
// and ids sort by time. Kept in localStorage so tabs of one origin share it.
const KEY = 'aw:session';

/** The session an event at `now` belongs to, given the last one known. Pure. */
export function continueSession(last, now, timeoutMs) {
  if (last && now - last.lastActivity < timeoutMs && now >= last.id) {
    return { id: last.id, lastActivity: Math.max(now, last.lastActivity) };
  }
  return { id: now, lastActivity: now };
}

function parse(text) {
  try {
    const value = JSON.parse(text);
    return Number.isSafeInteger(value?.id) && Number.isSafeInteger(value?.lastActivity) ? value : null;
  } catch {
    return null;
  }
}

// Writing on every event would cost a localStorage write per track(); the
// activity time is written at most once a second, and always for a new session.
const WRITE_EVERY_MS = 1000;

export class SessionClock {
  #store;
  #timeoutMs;
  #session;
  #writtenAt = -Infinity;

  constructor(store, timeoutMs) {
    this.#store = store;
    this.#timeoutMs = timeoutMs;
    this.#session = parse(store.get(KEY));
  }

  /** The session id for an event at `now`, starting a new session if the last one timed out. */
  touch(now) {
    let next = continueSession(this.#session, now, this.#timeoutMs);
    if (next.id !== this.#session?.id) {
      // Another tab may have kept the session alive or started the next one.
      const shared = parse(this.#store.get(KEY));
      if (shared) next = continueSession(shared, now, this.#timeoutMs);
    }
    const isNew = next.id !== this.#session?.id;
    this.#session = next;
    if (isNew || now - this.#writtenAt >= WRITE_EVERY_MS) {
      this.#writtenAt = now;
      this.#store.set(KEY, JSON.stringify(next));
    }
    return next.id;
  }

  /** Ends the session: the next event starts a new one. */
  end() {
    this.#session = null;
    this.#store.remove(KEY);
  }

  get id() {
    return this.#session?.id ?? null;
  }
}
