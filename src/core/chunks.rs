//! A chunked event log over a key-value store (IndexedDB). Each `Persist`
//! becomes one chunk record holding all its events, and each `Forget` one
//! small tombstone record per chunk touched, so storage costs a few puts per
//! batch instead of one per event. A chunk and its tombstones are deleted
//! once every event in it is forgotten.
//!
//! Keys: `c<n>` holds event records (one per line, see `record`), `d<n>`
//! the ids of chunk `n`'s forgotten events (one per line).

/// Most events in one chunk: small chunks keep tombstones short and the
/// search for an event's chunk cheap, while one put still carries a batch.
pub const CHUNK_EVENTS: usize = 250;

/// Puts and deletes to apply, in one transaction.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KvWrite {
    pub puts: Vec<(String, String)>,
    pub deletes: Vec<String>,
}

impl KvWrite {
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.deletes.is_empty()
    }
}

#[derive(Debug)]
struct Chunk {
    n: u64,
    /// Ids whose record in this chunk is still wanted.
    live: Vec<String>,
    forgotten: Vec<String>,
}

/// The chunks in write order, and an index from each live id's hash to the
/// chunk holding it. The index is a sorted vector, not a map (plain vectors
/// keep the wasm far smaller), and is cleaned lazily: an entry may be stale,
/// so every hit is checked against the chunk's live list. Without it, each
/// appended id scanned every live id: quadratic, and at 10,000 events the
/// largest cost of the page's background work.
#[derive(Debug, Default)]
pub struct ChunkLog {
    next_chunk: u64,
    chunks: Vec<Chunk>,
    /// `(hash of id, chunk number)`, sorted.
    index: Vec<(u128, usize)>,
}

/// Two sorted runs as one: linear, where sorting the whole index again on
/// every append cost more than the scan the index replaced.
fn merge_sorted(old: Vec<(u128, usize)>, added: Vec<(u128, usize)>) -> Vec<(u128, usize)> {
    let mut merged = Vec::with_capacity(old.len() + added.len());
    let mut old = old.into_iter().peekable();
    for entry in added {
        while let Some(next) = old.next_if(|next| *next <= entry) {
            merged.push(next);
        }
        merged.push(entry);
    }
    merged.extend(old);
    merged
}

/// FNV-1a: cheap, and good enough for an index whose hits are verified.
fn id_hash(id: &str) -> u128 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    u128::from(hash)
}

fn numbered_key(prefix: char, n: u64) -> String {
    let mut key = String::from(prefix);
    super::json::push_u64(&mut key, n);
    key
}

/// The `messageId` field of a record line, if it has one.
fn line_id(line: &str) -> Option<&str> {
    line.split('\t').nth(1).filter(|id| !id.is_empty())
}

/// Marks a chunk body whose first line is the ending every record shares.
const SHARED_ENDING: char = '\u{1}';
/// Shorter shared endings are not worth a line of their own.
const MIN_SHARED_ENDING: usize = 64;

/// The bytes every line ends with, cut at a character boundary.
fn shared_ending(lines: &[String]) -> &str {
    let Some(first) = lines.first() else {
        return "";
    };
    let mut len = first.len();
    for line in &lines[1..] {
        let common = first
            .bytes()
            .rev()
            .zip(line.bytes().rev())
            .take_while(|(a, b)| a == b)
            .count();
        len = len.min(common);
    }
    let mut start = first.len() - len;
    while !first.is_char_boundary(start) {
        start += 1;
    }
    &first[start..]
}

/// A chunk body: the records, one per line. Events of one page view all end
/// with the same `context` (most of each record's bytes), so when the lines
/// share a long ending it is stored once, on a first line marked
/// `SHARED_ENDING`, and cut from every line.
fn chunk_body(lines: &[String]) -> String {
    let ending = shared_ending(lines);
    if ending.len() < MIN_SHARED_ENDING || lines.len() < 2 {
        return join_lines(lines);
    }
    let mut out = String::with_capacity(
        ending.len()
            + 2
            + lines
                .iter()
                .map(|l| l.len() - ending.len() + 1)
                .sum::<usize>(),
    );
    out.push(SHARED_ENDING);
    out.push_str(ending);
    for line in lines {
        out.push('\n');
        out.push_str(&line[..line.len() - ending.len()]);
    }
    out
}

/// The record lines of a chunk body written by `chunk_body`.
fn body_lines(body: &str) -> Vec<String> {
    match body.strip_prefix(SHARED_ENDING) {
        Some(rest) => {
            let mut lines = rest.split('\n');
            let ending = lines.next().unwrap_or_default();
            lines.map(|line| [line, ending].concat()).collect()
        }
        None => body.lines().map(str::to_string).collect(),
    }
}

fn join_lines(lines: &[String]) -> String {
    let mut out = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for line in lines {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
    }
    out
}

impl ChunkLog {
    /// Rebuilds the log from every stored `(key, value)`; returns it with
    /// the `(id, record line)` of each event not forgotten, in write order.
    /// Lines without an id get a synthetic one (`c<n>#<line>`), so the
    /// caller can refuse them and `remove` them like any event.
    pub fn load(pairs: Vec<(String, String)>) -> (ChunkLog, Vec<(String, String)>) {
        let mut bodies: Vec<(u64, String)> = Vec::new();
        let mut tombstones: Vec<(u64, String)> = Vec::new();
        for (key, value) in pairs {
            let number = key.get(1..).and_then(|n| n.parse::<u64>().ok());
            match (key.as_bytes().first(), number) {
                (Some(b'c'), Some(n)) => {
                    // Keys come back in string order ("c10" < "c2"): keep numeric order.
                    let at = bodies.partition_point(|(m, _)| *m < n);
                    bodies.insert(at, (n, value));
                }
                (Some(b'd'), Some(n)) => tombstones.push((n, value)),
                _ => {}
            }
        }
        let mut log = ChunkLog::default();
        let mut live_records = Vec::new();
        for (n, body) in bodies {
            let forgotten: Vec<String> = tombstones
                .iter()
                .filter(|(t, _)| *t == n)
                .flat_map(|(_, text)| text.lines().map(str::to_string))
                .collect();
            let mut chunk = Chunk {
                n,
                live: Vec::new(),
                forgotten,
            };
            for (index, line) in body_lines(&body).into_iter().enumerate() {
                let id = match line_id(&line) {
                    Some(id) => id.to_string(),
                    None => {
                        let mut id = numbered_key('c', n);
                        id.push('#');
                        super::json::push_u64(&mut id, index as u64);
                        id
                    }
                };
                // Each id is live in one chunk at most: `append` tombstones
                // an older copy in the same transaction that writes the new.
                if !chunk.forgotten.contains(&id) {
                    live_records.push((id.clone(), line));
                    chunk.live.push(id);
                }
            }
            log.next_chunk = log.next_chunk.max(n + 1);
            log.chunks.push(chunk);
        }
        log.rebuild_index();
        (log, live_records)
    }

    /// Whether the index, with `adding` more entries, holds so many stale
    /// ones (forgotten ids) that it is worth rebuilding.
    fn index_too_stale(&self, adding: usize) -> bool {
        self.index.len() + adding > 2 * self.len() + CHUNK_EVENTS
    }

    /// The index of exactly the live ids.
    fn rebuild_index(&mut self) {
        self.index.clear();
        for chunk in &self.chunks {
            for id in &chunk.live {
                self.index.push((id_hash(id), chunk.n as usize));
            }
        }
        super::sort_keys(&mut self.index);
    }

    /// Removes `id` from the live list of the chunk holding it; returns
    /// that chunk's index.
    fn take_live(&mut self, id: &str) -> Option<usize> {
        let hash = id_hash(id);
        let first = self.index.partition_point(|(h, _)| *h < hash);
        for &(h, n) in &self.index[first..] {
            if h != hash {
                break;
            }
            // Chunks are in write order, so in order of their numbers.
            let Ok(index) = self.chunks.binary_search_by_key(&(n as u64), |c| c.n) else {
                continue;
            };
            let chunk = &mut self.chunks[index];
            if let Some(at) = chunk.live.iter().position(|live| live == id) {
                chunk.live.swap_remove(at);
                chunk.forgotten.push(id.to_string());
                return Some(index);
            }
        }
        None
    }

    /// Writes `(id, record line)`s as new chunks of at most `CHUNK_EVENTS`.
    pub fn append(&mut self, records: &[(String, String)]) -> KvWrite {
        let mut write = KvWrite::default();
        for part in records.chunks(CHUNK_EVENTS) {
            let more = self.append_chunk(part);
            write.puts.extend(more.puts);
            write.deletes.extend(more.deletes);
        }
        write
    }

    fn append_chunk(&mut self, records: &[(String, String)]) -> KvWrite {
        let n = self.next_chunk;
        self.next_chunk += 1;
        let mut touched = Vec::new();
        let mut lines = Vec::with_capacity(records.len());
        let mut live = Vec::with_capacity(records.len());
        for (id, record) in records {
            // An id written again now lives here; its old copy is forgotten.
            if let Some(index) = self.take_live(id) {
                touched.push(index);
            }
            lines.push(record.clone());
            live.push(id.clone());
        }
        let mut write = KvWrite {
            puts: vec![(numbered_key('c', n), chunk_body(&lines))],
            deletes: Vec::new(),
        };
        self.settle(touched, &mut write);
        let mut added: Vec<(u128, usize)> =
            live.iter().map(|id| (id_hash(id), n as usize)).collect();
        self.chunks.push(Chunk {
            n,
            live,
            forgotten: Vec::new(),
        });
        if self.index_too_stale(added.len()) {
            self.rebuild_index();
        } else {
            super::sort_keys(&mut added);
            self.index = merge_sorted(std::mem::take(&mut self.index), added);
        }
        write
    }

    /// Forgets events; unknown ids are ignored.
    pub fn remove(&mut self, ids: &[String]) -> KvWrite {
        let touched = ids.iter().filter_map(|id| self.take_live(id)).collect();
        let mut write = KvWrite::default();
        self.settle(touched, &mut write);
        if self.index_too_stale(0) {
            self.rebuild_index();
        }
        write
    }

    /// Deletes the touched chunks with no live event left and writes the
    /// tombstones of the others.
    fn settle(&mut self, touched: Vec<usize>, write: &mut KvWrite) {
        let mut dead = Vec::new();
        for (index, chunk) in self.chunks.iter().enumerate() {
            if !touched.contains(&index) {
                continue;
            }
            if chunk.live.is_empty() {
                write.deletes.push(numbered_key('c', chunk.n));
                write.deletes.push(numbered_key('d', chunk.n));
                dead.push(index);
            } else {
                write
                    .puts
                    .push((numbered_key('d', chunk.n), join_lines(&chunk.forgotten)));
            }
        }
        for index in dead.into_iter().rev() {
            self.chunks.remove(index);
        }
    }

    /// Events currently live in the log.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.live.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn rec(id: &str) -> (String, String) {
        (id.to_string(), format!("1\t{id}\t5\t{{}}"))
    }

    /// Applies writes to a fake key-value store.
    fn apply(store: &mut BTreeMap<String, String>, write: KvWrite) {
        for (key, value) in write.puts {
            store.insert(key, value);
        }
        for key in write.deletes {
            store.remove(&key);
        }
    }

    fn reload(store: &BTreeMap<String, String>) -> (ChunkLog, Vec<String>) {
        let (log, live) = ChunkLog::load(store.clone().into_iter().collect());
        (log, live.into_iter().map(|(id, _)| id).collect())
    }

    #[test]
    fn a_persist_is_one_put() {
        let mut log = ChunkLog::default();
        let write = log.append(&[rec("a"), rec("b"), rec("c")]);
        assert_eq!(write.puts.len(), 1);
        assert_eq!(write.puts[0].1.lines().count(), 3);
    }

    #[test]
    fn a_large_persist_is_split_into_bounded_chunks() {
        let mut log = ChunkLog::default();
        let records: Vec<_> = (0..CHUNK_EVENTS * 2 + 1)
            .map(|n| rec(&format!("id{n}")))
            .collect();
        let write = log.append(&records);
        assert_eq!(write.puts.len(), 3);
        assert!(write
            .puts
            .iter()
            .all(|(_, body)| body.lines().count() <= CHUNK_EVENTS));
    }

    #[test]
    fn events_are_found_after_the_index_drops_its_stale_entries() {
        let mut store = BTreeMap::new();
        let mut log = ChunkLog::default();
        let ids: Vec<String> = (0..1000).map(|n| format!("id{n}")).collect();
        let records: Vec<_> = ids.iter().map(|id| rec(id)).collect();
        apply(&mut store, log.append(&records[..600]));
        // 550 forgotten: their index entries go stale, then are dropped.
        apply(&mut store, log.remove(&ids[..550]));
        apply(&mut store, log.append(&records[600..]));
        apply(&mut store, log.remove(&ids[550..990]));
        assert_eq!(log.len(), 10);
        assert_eq!(reload(&store).1, &ids[990..]);
        apply(&mut store, log.remove(&ids[990..]));
        assert!(
            store.is_empty(),
            "every chunk and tombstone deleted: {store:?}"
        );
    }

    #[test]
    fn an_id_written_again_lives_only_in_its_new_chunk() {
        let mut store = BTreeMap::new();
        let mut log = ChunkLog::default();
        apply(&mut store, log.append(&[rec("a"), rec("b")]));
        apply(&mut store, log.append(&[rec("a")]));
        assert_eq!(log.len(), 2);
        apply(&mut store, log.remove(&["a".to_string()]));
        assert_eq!(reload(&store).1, ["b"]);
    }

    #[test]
    fn a_context_shared_by_a_chunk_is_stored_once_and_restored_on_every_line() {
        let context = format!(",\"context\":{{\"page\":\"{}\"}}}}", "p".repeat(300));
        let line = |id: &str| format!("0\t{id}\t1\t{{\"event\":\"{id}\"{context}");
        let records: Vec<(String, String)> = ["a", "b", "c"]
            .iter()
            .map(|id| (id.to_string(), line(id)))
            .collect();
        let mut store = BTreeMap::new();
        let mut log = ChunkLog::default();
        let write = log.append(&records);
        let body = &write.puts[0].1;
        assert_eq!(body.matches(&context).count(), 1, "{body}");
        assert!(body.len() < records.iter().map(|(_, l)| l.len()).sum::<usize>() / 2);
        apply(&mut store, write);
        let (_, live) = ChunkLog::load(store.into_iter().collect());
        assert_eq!(live, records);
    }

    #[test]
    fn lines_without_a_long_shared_ending_are_stored_as_they_are() {
        let mut log = ChunkLog::default();
        let write = log.append(&[rec("a"), rec("b")]);
        assert!(!write.puts[0].1.starts_with(SHARED_ENDING));
    }

    #[test]
    fn forgetting_part_of_a_chunk_writes_a_tombstone_that_survives_reload() {
        let mut store = BTreeMap::new();
        let mut log = ChunkLog::default();
        apply(&mut store, log.append(&[rec("a"), rec("b"), rec("c")]));
        let write = log.remove(&["b".to_string()]);
        assert_eq!(write.puts, vec![("d0".to_string(), "b".to_string())]);
        apply(&mut store, write);
        assert_eq!(reload(&store).1, ["a", "c"]);
    }

    #[test]
    fn forgetting_a_whole_chunk_deletes_it_and_its_tombstones() {
        let mut store = BTreeMap::new();
        let mut log = ChunkLog::default();
        apply(&mut store, log.append(&[rec("a"), rec("b")]));
        apply(&mut store, log.remove(&["a".to_string()]));
        apply(&mut store, log.remove(&["b".to_string()]));
        assert!(store.is_empty(), "{store:?}");
        assert!(log.is_empty());
    }

    #[test]
    fn a_reloaded_log_keeps_counting_from_the_stored_chunks() {
        let mut store = BTreeMap::new();
        let mut log = ChunkLog::default();
        apply(&mut store, log.append(&[rec("a")]));
        apply(&mut store, log.append(&[rec("b")]));
        let (mut reloaded, live) = reload(&store);
        assert_eq!(live, ["a", "b"]);
        let write = reloaded.append(&[rec("c")]);
        assert_eq!(write.puts[0].0, "c2", "no chunk is overwritten");
        apply(&mut store, write);
        apply(
            &mut store,
            reloaded.remove(&["a".to_string(), "b".to_string(), "c".to_string()]),
        );
        assert!(store.is_empty());
    }

    #[test]
    fn an_event_written_again_lives_in_its_newest_chunk() {
        let mut store = BTreeMap::new();
        let mut log = ChunkLog::default();
        apply(&mut store, log.append(&[rec("a"), rec("b")]));
        apply(&mut store, log.append(&[rec("a")]));
        apply(&mut store, log.remove(&["b".to_string()]));
        assert!(!store.contains_key("c0"), "chunk 0 has no live event left");
        apply(&mut store, log.remove(&["a".to_string()]));
        assert!(store.is_empty());
    }

    #[test]
    fn lines_without_an_id_get_one_so_they_can_be_removed() {
        let mut store = BTreeMap::new();
        store.insert("c0".to_string(), "garbage".to_string());
        let (mut log, live) = reload(&store);
        assert_eq!(live, ["c0#0"]);
        apply(&mut store, log.remove(&live));
        assert!(store.is_empty());
    }

    #[test]
    fn unknown_keys_and_ids_are_ignored() {
        let (mut log, live) =
            ChunkLog::load(vec![("zzz".into(), "x".into()), ("cX".into(), "y".into())]);
        assert!(live.is_empty());
        assert!(log.remove(&["nope".to_string()]).is_empty());
    }
}
