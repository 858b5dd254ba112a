// A chunked event log over a key-value store (IndexedDB). Each write of
// events becomes one chunk record holding all of them, and each forget one
// small tombstone record per chunk touched, so storage costs a few puts per
// batch instead of one per event. A chunk and its tombstone are deleted once
// every event in it is forgotten.
//
// Keys: `c<n>` holds event records (one per line), `d<n>` the ids of chunk
// n's forgotten events (one per line). Events of one page view all end with
// the same `context`, most of each record's bytes, which the writer gives
// apart; a chunk stores that ending once, on a first line marked "\u0001".

/** Most events in one chunk: short tombstones, while one put still carries a batch. */
export const CHUNK_EVENTS = 250;
const SHARED = '\u0001';
const MIN_SHARED = 64;

/** The id field of a record line (`<ordinal>\t<id>\t…`). */
const lineId = (line) => line.split('\t', 2)[1] || null;

/**
 * A chunk's stored body: the ending its records all give (the same string,
 * so one comparison each), stored once if it is long enough; else whole lines.
 */
function chunkBody(records) {
  const ending = records[0][2] ?? '';
  if (ending.length >= MIN_SHARED && records.every((record) => record[2] === ending)) {
    // One join, so the body is one flat string: `+` would make it a rope,
    // which writing or posting it copies flat again (4 MB in a burst).
    return [SHARED + ending, ...records.map((record) => record[1])].join('\n');
  }
  return records.map(([, start, end = '']) => start + end).join('\n');
}

/** A chunk's lines as [id or null, line]: the id read before the shared ending is put back, which would cost a copy of each line. */
function bodyLines(body) {
  if (!body.startsWith(SHARED)) return body.split('\n').map((line) => [lineId(line), line]);
  const lines = body.slice(1).split('\n');
  const ending = lines.shift();
  return lines.map((line) => {
    const whole = line + ending;
    // Lines alike from their id on (one event written twice) share all of it.
    return [lineId(line) ?? lineId(whole), whole];
  });
}

export class ChunkLog {
  #next = 0;
  /** Chunk number → { live: Set of ids, forgotten: ids }. */
  #chunks = new Map();
  /** Live id → chunk number. */
  #chunkOf = new Map();

  /**
   * Rebuilds the log from every stored [key, value]; returns it with the
   * [id, record line] of each event not forgotten, in write order. Lines
   * without an id get one of their own (`c<n>#<line>`), so the caller can
   * refuse them and remove them like any event.
   */
  static load(pairs) {
    const log = new ChunkLog();
    const bodies = [];
    const tombstones = new Map();
    for (const [key, value] of pairs) {
      const n = Number(key.slice(1));
      if (!Number.isSafeInteger(n) || key.length < 2) continue;
      if (key[0] === 'c') bodies.push([n, value]);
      else if (key[0] === 'd') tombstones.set(n, value);
    }
    bodies.sort((a, b) => a[0] - b[0]);
    const records = [];
    for (const [n, body] of bodies) {
      const forgotten = (tombstones.get(n) ?? '').split('\n').filter(Boolean);
      const gone = new Set(forgotten);
      const chunk = { live: new Set(), forgotten };
      bodyLines(body).forEach(([lineIdOrNull, line], index) => {
        const id = lineIdOrNull ?? `c${n}#${index}`;
        if (gone.has(id)) return;
        records.push([id, line]);
        chunk.live.add(id);
        log.#chunkOf.set(id, n);
      });
      log.#chunks.set(n, chunk);
      log.#next = Math.max(log.#next, n + 1);
    }
    return { log, records };
  }

  /** Events live in the log. */
  get size() {
    return this.#chunkOf.size;
  }

  /**
   * Writes records as new chunks; returns { puts: [[key, value]], deletes:
   * [key] }. A record is [id, line], or [id, start, ending] for the line
   * start + ending: records of one page view give its context as the
   * ending (one string), which their chunk stores once. Lines are never
   * compared: a chunk whose records end differently (a page() among them,
   * or options.context) stores them whole.
   */
  append(records) {
    const write = { puts: [], deletes: [] };
    for (let start = 0; start < records.length; start += CHUNK_EVENTS) {
      const part = records.slice(start, start + CHUNK_EVENTS);
      const n = this.#next++;
      const touched = new Set();
      // An id written again now lives here; its old copy is forgotten.
      for (const [id] of part) this.#take(id, touched);
      write.puts.push([`c${n}`, chunkBody(part)]);
      this.#settle(touched, write);
      const chunk = { live: new Set(), forgotten: [] };
      for (const [id] of part) {
        chunk.live.add(id);
        this.#chunkOf.set(id, n);
      }
      this.#chunks.set(n, chunk);
    }
    return write;
  }

  /** Forgets events (unknown ids are ignored); returns the write. */
  remove(ids) {
    const write = { puts: [], deletes: [] };
    const touched = new Set();
    for (const id of ids) this.#take(id, touched);
    this.#settle(touched, write);
    return write;
  }

  #take(id, touched) {
    const n = this.#chunkOf.get(id);
    if (n === undefined) return;
    this.#chunkOf.delete(id);
    const chunk = this.#chunks.get(n);
    chunk.live.delete(id);
    chunk.forgotten.push(id);
    touched.add(n);
  }

  /** Deletes the touched chunks with no live event left, and writes the others' tombstones. */
  #settle(touched, write) {
    for (const n of touched) {
      const chunk = this.#chunks.get(n);
      if (chunk.live.size === 0) {
        write.deletes.push(`c${n}`, `d${n}`);
        this.#chunks.delete(n);
      } else {
        write.puts.push([`d${n}`, chunk.forgotten.join('\n')]);
      }
    }
  }
}
