//! The embedded default store: one SQLite file (WAL, `synchronous=FULL`, so
//! a commit is on disk when it returns), one row per event with the fields
//! people query and the whole message as JSON. `UNIQUE(write_key,
//! message_id)` is the dedupe index: `INSERT … ON CONFLICT DO NOTHING` drops
//! a copy in the same transaction that would have stored it, and the copy is
//! counted per write key and day in `duplicates`, in that transaction too.
//! Receipts are answered from the same index by read-only connections, which
//! see only committed (hence synced) rows.
//!
//! Checkpoints (copying the WAL into the database file, and syncing it) run
//! on a thread of their own every 100 ms, so a commit does not wait for the
//! bulk of one. Under steady writes the WAL would then never start over (it
//! restarts only once every frame in it is copied), so once it passes
//! 64 MiB, after a checkpointer pass that found few new frames (it passes
//! again at once while it finds many), the writer copies the frames
//! committed during that pass and the WAL restarts at its next transaction.
//! Should it still pass 256 MiB, the writer checkpoints it all itself.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, TransactionBehavior};

use super::{Batch, Receipts, Store, StoreError, Written};

/// The schema, also shown in docs/collector.md.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
  id           INTEGER PRIMARY KEY,
  write_key    TEXT NOT NULL,
  message_id   TEXT NOT NULL,
  type         TEXT NOT NULL,   -- track, identify, page, screen, group, alias
  event        TEXT,            -- a track's event name
  user_id      TEXT,
  anonymous_id TEXT,
  timestamp    TEXT,            -- the message's timestamp, UTC: 2026-12-06T10:00:00.000Z
  received_at  TEXT NOT NULL,   -- when the collector received it, UTC
  sent_at      TEXT,            -- the message's or the batch's sentAt, UTC
  message      TEXT NOT NULL,   -- the whole message as JSON, as sent
  UNIQUE (write_key, message_id)
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (timestamp);
CREATE TABLE IF NOT EXISTS duplicates (
  write_key TEXT NOT NULL,
  day       TEXT NOT NULL,      -- the day the copies were received, UTC: 2026-12-06
  dropped   INTEGER NOT NULL,   -- copies of stored events dropped that day
  PRIMARY KEY (write_key, day)
);
";

const INSERT: &str = "INSERT INTO events
  (write_key, message_id, type, event, user_id, anonymous_id, timestamp, received_at, sent_at, message)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
  ON CONFLICT (write_key, message_id) DO NOTHING";

const COUNT_DUPLICATE: &str = "INSERT INTO duplicates (write_key, day, dropped) VALUES (?1, ?2, 1)
  ON CONFLICT (write_key, day) DO UPDATE SET dropped = dropped + 1";

const HELD: &str = "SELECT 1 FROM events WHERE write_key = ?1 AND message_id = ?2";

/// How often the checkpointer copies the WAL into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
/// A pass that found at most this many new frames leaves the writer little
/// to copy (about 1 MiB).
const SMALL_PASS_FRAMES: i64 = 256;
/// Past this, the writer finishes the checkpointer's pass so the WAL can
/// restart; below it, the WAL just grows (restarting costs the writer a copy
/// of the frames written during the pass, and a sync).
const WAL_RESTART_BYTES: u64 = 64 << 20;
/// A WAL this large is checkpointed by the writer itself.
const WAL_BACKSTOP_BYTES: u64 = 256 << 20;

/// The SQLite store. Its connection belongs to the commit writer's thread.
pub struct SqliteStore {
    conn: Connection,
    wal: PathBuf,
    receipts: Arc<SqliteReceipts>,
    checkpointer: Option<Checkpointer>,
    /// Set by the checkpointer when it has copied every frame it found.
    caught_up: Arc<AtomicBool>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)
            .map_err(|e| StoreError::new(format!("cannot open {}: {e}", path.display())))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::new(format!(
                "{}: journal_mode is {mode}, not wal (a file system without shared memory?)",
                path.display()
            )));
        }
        conn.execute_batch(
            "PRAGMA synchronous = FULL;
             PRAGMA busy_timeout = 5000;
             PRAGMA cache_size = -16384;
             PRAGMA journal_size_limit = 67108864;
             PRAGMA wal_autocheckpoint = 0;",
        )?;
        conn.execute_batch(SCHEMA)?;
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let caught_up = Arc::new(AtomicBool::new(false));
        Ok(SqliteStore {
            conn,
            wal: PathBuf::from(wal),
            receipts: Arc::new(SqliteReceipts {
                path: path.to_owned(),
                idle: Mutex::new(Vec::new()),
            }),
            checkpointer: Some(Checkpointer::start(path, caught_up.clone())?),
            caught_up,
        })
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if let Some(checkpointer) = self.checkpointer.take() {
            checkpointer.stop();
        }
        // The last checkpoint, so the file is whole without its WAL.
        if let Err(e) = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
            tracing::warn!(error = %e, "the closing checkpoint failed; the WAL keeps the events");
        }
    }
}

/// The thread copying the WAL into the database file.
struct Checkpointer {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    fn start(path: &Path, caught_up: Arc<AtomicBool>) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stopping = stop.clone();
        let failing = AtomicBool::new(false);
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                let (stopped, wake) = &*stopping;
                let Ok(mut guard) = stopped.lock() else {
                    return;
                };
                // Frames in the WAL at the last pass.
                let mut seen = 0;
                let mut again = false;
                while !*guard {
                    if !again {
                        guard = match wake.wait_timeout(guard, CHECKPOINT_EVERY) {
                            Ok((guard, _)) => guard,
                            Err(_) => return,
                        };
                    }
                    // PASSIVE: copies what it can without blocking the writer.
                    // The row: busy, frames in the WAL, frames copied.
                    let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                        Ok((
                            row.get::<_, i64>(0)?,
                            row.get::<_, i64>(1)?,
                            row.get::<_, i64>(2)?,
                        ))
                    });
                    again = false;
                    if let Ok((0, frames, copied)) = result {
                        // Frames written since the last pass (all, if the WAL restarted).
                        let new = if frames >= seen {
                            frames - seen
                        } else {
                            frames
                        };
                        seen = frames;
                        if frames > 0 && copied == frames {
                            if new > SMALL_PASS_FRAMES {
                                // The writer added much during this pass: pass
                                // again at once, so what it is left to copy is small.
                                again = true;
                            } else {
                                caught_up.store(true, Ordering::Release);
                            }
                        }
                    }
                    if let Err(e) = result {
                        if !failing.swap(true, Ordering::Relaxed) {
                            tracing::warn!(error = %e, "checkpoint failed; retrying");
                        }
                    } else {
                        failing.store(false, Ordering::Relaxed);
                    }
                }
            })
            .map_err(|e| StoreError::new(format!("cannot start the checkpointer: {e}")))?;
        Ok(Checkpointer { stop, thread })
    }

    fn stop(self) {
        if let Ok(mut stopped) = self.stop.0.lock() {
            *stopped = true;
        }
        self.stop.1.notify_all();
        let _ = self.thread.join();
    }
}

impl Store for SqliteStore {
    fn write(&mut self, group: &[&Batch]) -> Result<Vec<Written>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut written = Vec::with_capacity(group.len());
        {
            let mut insert = tx.prepare_cached(INSERT)?;
            let mut count_duplicate = tx.prepare_cached(COUNT_DUPLICATE)?;
            for batch in group {
                let mut counts = Written::default();
                let day = batch.received_at.get(..10).unwrap_or("");
                for m in &batch.messages {
                    let inserted = insert.execute(params![
                        &*batch.write_key,
                        m.message_id,
                        m.kind.as_str(),
                        m.event,
                        m.user_id,
                        m.anonymous_id,
                        m.timestamp,
                        batch.received_at,
                        m.sent_at,
                        m.json,
                    ])?;
                    if inserted == 1 {
                        counts.stored += 1;
                    } else {
                        counts.duplicates += 1;
                        count_duplicate.execute(params![&*batch.write_key, day])?;
                    }
                }
                written.push(counts);
            }
        }
        // With WAL and synchronous=FULL the commit returns after the WAL is synced.
        tx.commit()?;
        let wal_bytes = std::fs::metadata(&self.wal).map_or(0, |m| m.len());
        if wal_bytes > WAL_RESTART_BYTES && self.caught_up.swap(false, Ordering::AcqRel) {
            // The frames committed since the checkpointer's pass: few, quick.
            self.conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        }
        if wal_bytes > WAL_BACKSTOP_BYTES {
            tracing::warn!(
                wal_bytes,
                "the WAL outgrew the checkpointer; checkpointing in the writer"
            );
            self.conn.execute_batch("PRAGMA wal_checkpoint(RESTART);")?;
        }
        Ok(written)
    }

    fn receipts(&self) -> Option<Arc<dyn Receipts>> {
        Some(self.receipts.clone())
    }
}

/// Read-only connections for receipt lookups, opened as needed and reused.
pub struct SqliteReceipts {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Receipts for SqliteReceipts {
    fn held(&self, write_key: &str, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let idle = self.idle.lock().map(|mut idle| idle.pop()).ok().flatten();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let conn = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                conn.busy_timeout(std::time::Duration::from_secs(5))?;
                conn
            }
        };
        let mut held = Vec::new();
        {
            let mut query = conn.prepare_cached(HELD)?;
            for id in ids {
                if query.exists(params![write_key, id])? {
                    held.push(id.clone());
                }
            }
        }
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < 8 {
                idle.push(conn);
            }
        }
        Ok(held)
    }
}
