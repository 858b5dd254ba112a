// Tabs: taking over what closed tabs left. Each page load stores under a
// partition of its own, which it owns while it lives (a Web Lock, else a
// lease renewed in localStorage: tabs.js). A partition nobody owns is an
// orphan: a tab that can claim it reads it, moves its events under its own
// partition (the orphan deleted in the same transaction) and hands them to
// its queue, same messageIds. A live tab's partition is watched, so its
// events are taken over the moment it goes; tabs that open later say hello
// (announce.js). Imports nothing of the driver: what it adopts goes to
// `restore`.
import { LEASE_EXPIRY_MS, LEASE_RENEW_MS, Lease, lockName, ownership, requestLock } from './tabs.js';
import { describe, usableLocalStorage } from './storage.js';

/**
 * Adopts into `partition` of `storage` (openStorage's), within `namespace`.
 * `restore(events, corrupt, moved)` hands adopted events ({ id, json, at })
 * to the queue and returns how many it took (`corrupt`: records found
 * corrupt; `moved`: the promise of their move under this partition);
 * `heldIds()` gives the messageIds the queue holds (adoption is rare: no
 * index of them is kept); `emit(type, message)` reports problems.
 */
export function createAdoption(namespace, partition, storage, { restore, heldIds, emit }) {
  /** 'web-locks' or 'lease'. */
  const owner = ownership();
  let lease = null;
  let leaseTimer = null;
  const watching = new Set();
  let adopting = false;
  let rescanning = false;
  let closed = false;
  /**
   * The messageIds this tab has adopted. A closed tab's last localStorage
   * writes can reach this tab's view after its partition was adopted
   * (Firefox): read again, they are not queued twice.
   */
  const adoptedIds = new Set();
  const counts = { ownership: owner, adoptedPartitions: 0, adoptedEvents: 0 };

  /** The right to read and delete a partition no live tab owns, or null. */
  const claim = async (orphan) => {
    if (owner === 'web-locks') {
      const lock = requestLock(lockName(namespace, orphan), true);
      return (await lock.granted) ? lock : null;
    }
    if (!lease) return null;
    return (await lease.claim(orphan, partition, Date.now())) ? { release: () => lease.release(orphan) } : null;
  };

  /**
   * Moves `orphan`'s events into this queue (same messageIds); resolves
   * once they are in it, to { done }: a promise of their move under this
   * tab's partition committed, the orphan deleted with it (never rejects).
   */
  const adoptOne = async (orphan) => {
    let read;
    try {
      read = await storage.read(orphan);
    } catch (error) {
      emit('storage', `could not read orphaned events: ${describe(error)}`);
      return { done: Promise.resolve() };
    }
    const held = heldIds();
    const fresh = read.events.filter((e) => !held.has(e.id) && !adoptedIds.has(e.id));
    for (const e of fresh) adoptedIds.add(e.id);
    // Moved under this partition (the orphan deleted with it) before the
    // queue hears of them, so that one it drops or sends at once is removed
    // from where it now is.
    const moved = storage.adopt(orphan, fresh).catch((error) => emit('storage', `could not move adopted events: ${describe(error)}`));
    const accepted = restore(fresh, read.corrupt, moved);
    if (fresh.length) {
      counts.adoptedPartitions++;
      counts.adoptedEvents += accepted;
    }
    return { done: moved };
  };

  /** Waits for a live tab's lock, once per partition, and adopts what it leaves behind. */
  const watch = (other) => {
    if (watching.has(other) || other === partition) return;
    watching.add(other);
    const lock = requestLock(lockName(namespace, other), false);
    lock?.granted.then(async (granted) => {
      if (granted && !closed) await (await adoptOne(other)).done.catch(() => {});
      lock.release();
      watching.delete(other);
    });
  };

  /**
   * One pass over what closed tabs left: adopts each partition this tab can
   * claim, and watches those a live tab owns. Resolves once their events
   * are back in the queue (sending them need not wait), to { done }: a
   * promise of each one's move under this partition committed. Null when a
   * pass is running.
   */
  const pass = async () => {
    if (adopting || closed) return null;
    adopting = true;
    const finishing = [];
    try {
      for (const orphan of await storage.others()) {
        const claimed = await claim(orphan);
        if (claimed) {
          const { done } = await adoptOne(orphan);
          finishing.push(done.finally(() => claimed.release()));
        } else if (owner === 'web-locks') watch(orphan);
      }
    } catch (error) {
      emit('storage', `could not read orphaned events: ${describe(error)}`);
    }
    const done = Promise.all(finishing).finally(() => {
      adopting = false;
    });
    return { done };
  };

  /** Without Web Locks no tab's going is signalled: look again each time a lease could have expired. */
  const rescanWhileTabsLive = async () => {
    if (rescanning) return;
    rescanning = true;
    while (!closed) {
      await new Promise((resolve) => setTimeout(resolve, LEASE_EXPIRY_MS + LEASE_RENEW_MS));
      await (await pass())?.done;
      if (closed || (await storage.others()).length === 0) break;
    }
    rescanning = false;
  };

  // Without Web Locks this partition is owned by a lease, renewed while the page lives.
  if (owner === 'lease') {
    try {
      lease = new Lease(usableLocalStorage(), namespace);
      lease.renew(partition, Date.now());
      leaseTimer = setInterval(() => lease.renew(partition, Date.now()), LEASE_RENEW_MS);
    } catch {
      // No localStorage: no lease, and no tab can adopt this one's events (there is nowhere they could be).
    }
  }

  return {
    /** { ownership: 'web-locks' or 'lease', adoptedPartitions, adoptedEvents }, kept current. */
    counts,
    pass,
    /** Another tab said partition `other` is its own: watch it (without Web Locks, look again while tabs live). */
    heardOf(other) {
      if (closed || other === partition) return;
      if (owner === 'web-locks') watch(other);
      else rescanWhileTabsLive();
    },
    /** Deletes every partition this tab can claim (opt-out). */
    async deleteOrphans() {
      for (const orphan of await storage.others()) {
        const claimed = await claim(orphan);
        if (!claimed) continue;
        await storage.deletePartition(orphan);
        claimed.release();
      }
    },
    /** Stops watching and renewing, and lets go of the lease. */
    close() {
      closed = true;
      clearInterval(leaseTimer);
      lease?.release(partition);
    },
  };
}
