// A chunked event log over a key-value store (IndexedDB). Each write of
// events becomes one chunk record holding all of them, and each forget one
// small tombstone record per chunk touched, so storage costs a few puts per
// batch instead of one per event. A chunk and its tombstone are deleted once
// every event in it is forgotten.
//
// Keys: `c<n>` holds event records (one per line), `d<n>` the ids of chunk
// n's forgotten events (one per line). Events of one page view all end with
// the same `context`, most of each record's bytes, so when a chunk's lines
// share a long ending it is stored once, on a first line marked "\u0001".

/** Most events in one chunk: short tombstones, while one put still carries a batch. */
export const CHUNK_EVENTS = 250;
const SHARED = '\u0001';
const MIN_SHARED = 64;

/** The id field of a record line (`<ordinal>\t<id>\t…`). */
const lineId = (line) => line.split('\t', 2)[1] || null;

function sharedEnding(lines) {
  const first = lines[0];
  let ending = first;
  for (let k = 1; k < lines.length && ending.length > 0; k++) {
    const line = lines[k];
    // The usual case, once the ending is the page's context: one native comparison.
    if (line.endsWith(ending)) continue;
    let common = 0;
    while (common < ending.length && first.charCodeAt(first.length - 1 - common) === line.charCodeAt(line.length - 1 - common)) common++;
    ending = first.slice(first.length - common);
  }
  // Never cut a surrogate pair in two.
  let start = first.length - ending.length;
  const code = first.charCodeAt(start);
  if (code >= 0xdc00 && code < 0xe000) start++;
  return first.slice(start);
}

function chunkBody(lines) {
  const ending = lines.length > 1 ? sharedEnding(lines) : '';
  if (ending.length < MIN_SHARED) return lines.join('\n');
  return SHARED + ending + '\n' + lines.map((line) => line.slice(0, line.length - ending.length)).join('\n');
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

  /** Writes [id, record line]s as new chunks; returns { puts: [[key, value]], deletes: [key] }. */
  append(records) {
    const write = { puts: [], deletes: [] };
    for (let start = 0; start < records.length; start += CHUNK_EVENTS) {
      const part = records.slice(start, start + CHUNK_EVENTS);
      const n = this.#next++;
      const touched = new Set();
      // An id written again now lives here; its old copy is forgotten.
      for (const [id] of part) this.#take(id, touched);
      write.puts.push([`c${n}`, chunkBody(part.map((record) => record[1]))]);
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
