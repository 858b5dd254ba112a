// Writing what the core hands out to storage (storage.js) without holding
// the page up, and deleting what it releases. A visible page's writes go
// PER_TASK events a task, in order; a hidden page's go at once, since it
// may not get another task. IndexedDB writes not committed when the page
// hides are copied to the synchronous localStorage spill, which an unload
// cannot abort. A failed write is reported, never thrown: the events stay
// queued in memory. Imports nothing of the driver.
import { describe } from './storage.js';

/** Most events written to storage in one task while the page is visible (a long task blocks the page). */
export const PER_TASK = 500;

/**
 * Writes to `storage` (openStorage's) the events `eventOf(handle)` gives
 * (one released meanwhile gives nothing, and is not written); reports
 * failures with `emit('storage', message)`.
 */
export function createPersistence(storage, eventOf, emit) {
  /** Handles to write, oldest first. */
  let unwritten = [];
  let timer = null;
  let closed = false;
  /** IndexedDB writes not committed yet → their handles (spilled when the page hides). */
  const uncommitted = new Map();
  /** The last write or delete made: shutdown waits for it. */
  let lastWrite = null;

  const failed = (error) => emit('storage', `storage write failed (events stay queued in memory): ${describe(error?.target?.error ?? error)}`);
  const wrote = (write) => {
    if (!write) return;
    if (write.error) return failed(write.error);
    lastWrite = write;
    write.catch(failed);
  };
  /** Writes up to `limit` waiting events, oldest first. */
  const writeWaiting = (limit, hidden) => {
    const handles = unwritten.splice(0, Math.min(limit, unwritten.length));
    const events = handles.map(eventOf).filter(Boolean);
    if (!events.length) return;
    const write = storage.write(events, hidden);
    wrote(write);
    // A hidden page's write is spilled with it; a visible one's waits here until it commits.
    if (write?.then && !hidden) {
      uncommitted.set(write, handles);
      write.then(() => uncommitted.delete(write), () => {});
    }
  };
  /** Writes the next slice now and the rest in later tasks, in order. */
  const writeSlice = () => {
    timer = null;
    writeWaiting(PER_TASK, false);
    if (unwritten.length && !closed) timer = setTimeout(writeSlice, 0);
  };

  return {
    /** Writes `handles`' events: at once when the page is `hidden`, else from this task on, PER_TASK a task. */
    persist(handles, hidden) {
      const idle = unwritten.length === 0;
      for (const handle of handles) unwritten.push(handle);
      if (hidden) writeWaiting(Infinity, true);
      else if (idle) writeSlice();
    },
    /**
     * The page hides, and may be gone before its next task: what was
     * written and is not committed goes to the spill (once: a spilled event
     * stays in it until it is released), and what still waits is written now.
     */
    pageHidden() {
      for (const handles of uncommitted.values()) storage.spill(handles.map(eventOf).filter(Boolean));
      uncommitted.clear();
      writeWaiting(Infinity, true);
    },
    /** Writes everything waiting now (shutdown). */
    writeAll: (hidden) => writeWaiting(Infinity, hidden),
    /** The last write or delete made, or null. */
    lastWrite: () => lastWrite,
    /** Deletes the stored copies of the events of `ids`, released by the core. */
    release: (ids) => storage.kind !== 'memory' && wrote(storage.delete(ids)),
    /** A write made elsewhere (adoption's move): reported as these are, and waited for at shutdown. */
    wrote,
    close() {
      closed = true;
      clearTimeout(timer);
      unwritten = [];
    },
  };
}
