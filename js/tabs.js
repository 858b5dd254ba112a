// Tab coordination: which tab owns which persisted partition.
//
// Each page load persists under its own partition and holds the Web Lock
// `<namespace>:<partition>` for its life; the browser frees it when the page
// goes away, even by a crash. A partition whose lock is free belongs to no
// live tab: any tab may adopt it, taking its lock with `ifAvailable`, so two
// tabs can never adopt the same partition.
//
// Without Web Locks a lease in localStorage stands in: each tab renews
// `<namespace>:lease:<partition>` with the time every LEASE_RENEW_MS; a
// partition whose lease is older than LEASE_EXPIRY_MS is orphaned, and a tab
// adopting it first writes its claim there and adopts only if the claim is
// still its own a moment later. Two tabs can race inside that moment: the
// lease is weaker than a lock, and the duplicates it lets through carry the
// same messageId, so a collector can drop them.

export const LEASE_RENEW_MS = 2000;
export const LEASE_EXPIRY_MS = 10_000;

const locks = () => (typeof navigator !== 'undefined' && typeof navigator.locks?.request === 'function' ? navigator.locks : null);

/** 'web-locks' or 'lease'. */
export const ownership = () => (locks() ? 'web-locks' : 'lease');

export const lockName = (namespace, partition) => `${namespace}:${partition}`;

/**
 * Requests lock `name`; `ifAvailable` gives up at once when another tab
 * holds it. Returns { granted: Promise<boolean>, release() } (the lock is
 * held from its grant until release), or null without Web Locks.
 */
export function requestLock(name, ifAvailable) {
  const manager = locks();
  if (!manager) return null;
  let release;
  const held = new Promise((resolve) => {
    release = resolve;
  });
  const granted = new Promise((resolve) => {
    manager
      .request(name, { ifAvailable }, (lock) => {
        resolve(lock !== null);
        return lock === null ? undefined : held;
      })
      .catch(() => resolve(false));
  });
  return { granted, release };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The lease scheme for browsers without Web Locks (see above). */
export class Lease {
  #storage;
  #namespace;

  constructor(storage, namespace) {
    this.#storage = storage;
    this.#namespace = namespace;
  }

  #key(kind, partition) {
    return `${this.#namespace}:${kind}:${partition}`;
  }

  #time(kind, partition) {
    return Number((this.#storage.getItem(this.#key(kind, partition)) ?? '0').split(' ')[0]) || 0;
  }

  /** Marks `partition` alive at wall-clock time `now`. */
  renew(partition, now) {
    try {
      this.#storage.setItem(this.#key('lease', partition), String(now));
    } catch {
      // A full localStorage: the lease lapses, and the events stay adoptable.
    }
  }

  /** Whether no live tab has renewed `partition` lately. */
  expired(partition, now) {
    return now - Math.max(this.#time('lease', partition), this.#time('claim', partition)) > LEASE_EXPIRY_MS;
  }

  /** Claims an expired `orphan` for `me`; resolves true if the claim held. */
  async claim(orphan, me, now) {
    if (!this.expired(orphan, now)) return false;
    const key = this.#key('claim', orphan);
    const value = `${now} ${me}`;
    try {
      this.#storage.setItem(key, value);
    } catch {
      return false;
    }
    // Another tab claiming in this window overwrites ours: then it wins.
    await sleep(50);
    return this.#storage.getItem(key) === value;
  }

  /** Forgets `partition`'s lease and claim. */
  release(partition) {
    this.#storage.removeItem(this.#key('lease', partition));
    this.#storage.removeItem(this.#key('claim', partition));
  }
}
