// Persistence of the queue's events: IndexedDB by default, localStorage as
// the fallback, memory as the last resort, chosen at open. Write failures
// (quota, blocked storage) are reported as values, never thrown; events in
// memory are untouched by them.
//
// Each page load writes under its own partition: IndexedDB keys
// `<partition>/<chunk key>` (see chunk-log.js), localStorage keys
// `<namespace>:<partition>:e:<id>`. Other partitions are read and deleted
// only by the tab that adopts them. A record is
// `<ordinal>\t<messageId>\t<tracked at, wall clock>\t<event JSON>`.
//
// Writes made while the page is hidden also go, synchronously, to a
// localStorage spill (`<namespace>:<partition>:s:<id>`), since the page may
// be gone before an IndexedDB transaction commits; adoption reads the spill
// with the partition. Every IndexedDB transaction is committed explicitly:
// left to commit on its own, one started in `pagehide` stays open while
// WebKit keeps the page in its back/forward cache, and every later reader
// of the store waits behind it.
import { ChunkLog } from './chunk-log.js';

const STORE = 'events';

/** How long storage may take to answer before the caller goes on without it. */
export const STORAGE_ANSWER_MS = 3000;

export const describe = (error) => (error?.name && error?.message ? `${error.name}: ${error.message}` : String(error?.message ?? error?.name ?? error));

/** `promise`'s value, or `fallback` when `ms` pass first. */
export const within = (ms, promise, fallback) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });

export const encodeRecord = (ordinal, id, at, json) => `${ordinal}\t${id}\t${at}\t${json}`;

const DIGITS = /^\d{1,19}$/;

/** The event of a record, or null when it is not one (or not a whole JSON object of that id). */
export function decodeRecord(text) {
  // Found by index, not by one regular expression over the whole record:
  // a thousand records read at start-up cost half as much (JSON holds no raw tab).
  const idStart = text.indexOf('\t') + 1;
  const atStart = text.indexOf('\t', idStart) + 1;
  const jsonStart = atStart && text.indexOf('\t', atStart) + 1;
  if (!jsonStart || atStart === idStart + 1) return null;
  const ordinal = text.slice(0, idStart - 1);
  const id = text.slice(idStart, atStart - 1);
  const at = text.slice(atStart, jsonStart - 1);
  const json = text.slice(jsonStart);
  if (!DIGITS.test(ordinal) || !DIGITS.test(at)) return null;
  try {
    const event = JSON.parse(json);
    if (event === null || typeof event !== 'object' || Array.isArray(event) || event.messageId !== id) return null;
  } catch {
    return null;
  }
  return { ordinal: Number(ordinal), id, at: Number(at), json };
}

/** Decodes [key, record]s into events in write order, and counts the records that are not events. */
export function decodeAll(pairs) {
  const events = [];
  const corrupt = [];
  const seen = new Set();
  for (const [key, text] of pairs) {
    const event = decodeRecord(text);
    if (!event || event.id !== key) corrupt.push(key);
    else if (!seen.has(key)) {
      seen.add(key);
      events.push(event);
    }
  }
  events.sort((a, b) => a.ordinal - b.ordinal);
  return { events, corrupt };
}

// --- IndexedDB ---------------------------------------------------------

const done = (request) =>
  new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });

const committed = (tx) =>
  new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = tx.onabort = () => reject(tx.error ?? new DOMException('transaction aborted', 'AbortError'));
  });

const range = (prefix) => IDBKeyRange.bound(prefix, `${prefix}\uffff`);

/** Commits once the requests made so far finish (where `commit()` exists). */
const commit = (tx) => tx.commit?.();

async function openIndexedDb(name) {
  const request = indexedDB.open(name, 1);
  request.onupgradeneeded = () => request.result.createObjectStore(STORE);
  return done(request);
}

/** Applies a chunk-log write under `prefix`, deleting everything under `dropPrefix` in the same transaction. */
function idbApply(db, prefix, write, dropPrefix) {
  const tx = db.transaction(STORE, 'readwrite');
  const store = tx.objectStore(STORE);
  try {
    for (const [key, value] of write.puts) store.put(value, prefix + key);
    for (const key of write.deletes) store.delete(prefix + key);
    if (dropPrefix) store.delete(range(dropPrefix));
  } catch (error) {
    // Left alone, the requests made so far would commit without the rest.
    tx.abort();
    throw error;
  }
  commit(tx);
  return committed(tx);
}

const opened = new Map();

/**
 * In the recorder's worker (worker.js): applies a chunk-log write as
 * idbApply does, to the database `name`, opened once. Resolves to '' once
 * committed, or to the failure's description: it never rejects.
 */
export async function writeByName(name, prefix, write, dropPrefix) {
  try {
    if (!opened.has(name)) opened.set(name, openIndexedDb(name));
    await idbApply(await opened.get(name), prefix, write, dropPrefix);
    return '';
  } catch (error) {
    return describe(error);
  }
}

async function idbRead(db, prefix) {
  const tx = db.transaction(STORE);
  const store = tx.objectStore(STORE);
  const keys = store.getAllKeys(range(prefix));
  const values = store.getAll(range(prefix));
  commit(tx);
  const [k, v] = await Promise.all([done(keys), done(values)]);
  return k.map((key, i) => [key.slice(prefix.length), v[i]]);
}

async function idbKeys(db) {
  const tx = db.transaction(STORE);
  const keys = tx.objectStore(STORE).getAllKeys();
  commit(tx);
  return done(keys);
}

// --- localStorage --------------------------------------------------------

/** localStorage, if it exists and takes a write (it throws in some private modes). */
export function usableLocalStorage() {
  const storage = globalThis.localStorage;
  storage.setItem('aw:probe', '1');
  storage.removeItem('aw:probe');
  return storage;
}

function localKeys(storage, prefix) {
  const keys = [];
  for (let i = 0; i < storage.length; i++) {
    const key = storage.key(i);
    if (key?.startsWith(prefix)) keys.push(key);
  }
  return keys;
}

const localRead = (storage, prefix) => localKeys(storage, prefix).map((key) => [key.slice(prefix.length), storage.getItem(key)]);

// --- the storage of one page load ----------------------------------------

/**
 * Opens the first backend that works for a new, empty `partition`;
 * resolves to { storage, problems }, problems saying why preferred ones
 * were skipped.
 */
export async function openStorage(preference, namespace, partition) {
  const problems = [];
  let db = null;
  let local = null;
  if (preference === 'auto' || preference === 'indexeddb' || preference === undefined) {
    try {
      db = await within(STORAGE_ANSWER_MS, openIndexedDb(namespace), null);
      if (!db) problems.push(`IndexedDB did not answer within ${STORAGE_ANSWER_MS} ms`);
    } catch (error) {
      problems.push(`IndexedDB unavailable: ${describe(error)}`);
    }
  }
  try {
    local = usableLocalStorage();
  } catch (error) {
    if (!db && preference !== 'memory') problems.push(`localStorage unavailable: ${describe(error)}`);
  }
  if (preference === 'memory') local = null;
  return { storage: new Storage(namespace, partition, db, local), problems };
}

class Storage {
  #db;
  #local;
  #namespace;
  #partition;
  #log = new ChunkLog();
  #ordinal = 0;
  /** Ids this page wrote to the spill (few: only while hidden). */
  #spilled = new Set();
  /** The recorder's worker (worker.js), once given, and whether this partition's writes now go to it. */
  #jobs = null;
  #inWorker = false;

  constructor(namespace, partition, db, local) {
    this.#namespace = namespace;
    this.#partition = partition;
    this.#db = db;
    this.#local = local;
    this.kind = db ? 'indexeddb' : local ? 'localstorage' : 'memory';
  }

  /**
   * Lets `jobs` (worker.js's workerJobs) write to IndexedDB off the
   * page's thread from the first large write on. From then on every write
   * goes there, so they commit in the order they were made; one the worker
   * fails sends the writes back to the page.
   */
  offload(jobs) {
    this.#jobs = jobs;
  }

  /** Applies a chunk-log write (and deletes everything under `dropPrefix`), resolving once it has committed. */
  #apply(write, dropPrefix) {
    const prefix = `${this.#partition}/`;
    const here = () => idbApply(this.#db, prefix, write, dropPrefix);
    const jobs = this.#jobs;
    if (!jobs?.usable || !(this.#inWorker ||= write.puts.reduce((chars, [, value]) => chars + value.length, 0) >= jobs.fromSize)) return here();
    return jobs.run('write', [this.#namespace, prefix, write, dropPrefix], here).then((failure) => {
      if (typeof failure !== 'string' || !failure) return;
      this.#jobs = null;
      throw new Error(failure);
    });
  }

  #key(kind, id, partition = this.#partition) {
    return `${this.#namespace}:${partition}:${kind}:${id}`;
  }

  /**
   * Writes events ({ id, at, json, tail }: the JSON text is json + tail,
   * tail being optional; a page view's events share one, which a chunk
   * stores once); `hiding` also spills them to localStorage. Returns null
   * (done), a promise of the commit, or { error } for a write that failed
   * at once.
   */
  write(events, hiding) {
    const records = this.#records(events);
    if (hiding) this.#spill(records);
    try {
      if (this.#db) return this.#apply(this.#log.append(records));
      for (const [id, start, tail] of records) this.#local?.setItem(this.#key('e', id), start + tail);
      return null;
    } catch (error) {
      return { error };
    }
  }

  /**
   * Copies events (as for `write`) to the localStorage spill: a page going
   * away can lose an IndexedDB write not yet committed, not these.
   */
  spill(events) {
    this.#spill(this.#records(events));
  }

  #records(events) {
    return events.map((e) => [e.id, encodeRecord(++this.#ordinal, e.id, e.at, e.json), e.tail ?? '']);
  }

  #spill(records) {
    if (!this.#db || !this.#local) return;
    for (const [id, start, tail] of records) {
      try {
        this.#local.setItem(this.#key('s', id), start + tail);
        this.#spilled.add(id);
      } catch {
        // Best effort: IndexedDB remains the store of record.
      }
    }
  }

  /** Deletes events by id; returns as `write` does. */
  delete(ids) {
    for (const id of ids) {
      if (this.#spilled.delete(id)) this.#local.removeItem(this.#key('s', id));
    }
    try {
      if (this.#db) return this.#apply(this.#log.remove(ids));
      for (const id of ids) this.#local?.removeItem(this.#key('e', id));
      return null;
    } catch (error) {
      return { error };
    }
  }

  /** Partitions with data, other than this page's own. */
  async others() {
    const found = new Set();
    if (this.#db) for (const key of await idbKeys(this.#db)) found.add(key.split('/')[0]);
    if (this.#local) {
      for (const key of localKeys(this.#local, `${this.#namespace}:`)) {
        const [, partition, kind] = key.split(':');
        if (kind === 'e' || kind === 's') found.add(partition);
      }
    }
    found.delete(this.#partition);
    found.delete('');
    return [...found];
  }

  /** Everything `partition` holds: { events (in write order), corrupt (count) }. */
  async read(partition) {
    const pairs = [];
    if (this.#db) pairs.push(...ChunkLog.load(await idbRead(this.#db, `${partition}/`)).records);
    if (this.#local) {
      pairs.push(...localRead(this.#local, this.#key('e', '', partition)), ...localRead(this.#local, this.#key('s', '', partition)));
    }
    const { events, corrupt } = decodeAll(pairs);
    return { events, corrupt: corrupt.length };
  }

  /**
   * Moves `events` (read from `partition`; none to only delete it) under
   * this page's partition and deletes `partition`, in one IndexedDB
   * transaction: at no moment are they stored twice or not at all, so
   * nothing need wait for the move. Resolves once it has committed;
   * rejects as the transaction does.
   */
  async adopt(partition, events) {
    const records = events.map((e) => [e.id, encodeRecord(++this.#ordinal, e.id, e.at, e.json)]);
    if (this.#db) await this.#apply(this.#log.append(records), `${partition}/`);
    else for (const [id, record] of records) this.#local.setItem(this.#key('e', id), record);
    // The spill and localStorage records go once IndexedDB no longer holds the partition.
    if (this.#local) for (const kind of ['e', 's']) for (const key of localKeys(this.#local, this.#key(kind, '', partition))) this.#local.removeItem(key);
  }

  /** Deletes everything `partition` holds. */
  deletePartition(partition) {
    return this.adopt(partition, []);
  }

  close() {
    this.#db?.close();
  }
}
