//! The embedded default store: one SQLite file (WAL, `synchronous=FULL`, so
//! a commit is on disk when it returns), one row per event with the fields
//! people query and the whole message as JSON. `UNIQUE(write_key,
//! message_id)` is the dedupe index: `INSERT … ON CONFLICT DO NOTHING` drops
//! a copy in the same transaction that would have stored it, and the copy is
//! counted per write key and day in `duplicates`, in that transaction too.
//! Receipts are answered from the same index by read-only connections, which
//! see only committed (hence synced) rows.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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

/// The SQLite store. Its connection belongs to the commit writer's thread.
pub struct SqliteStore {
    conn: Connection,
    receipts: Arc<SqliteReceipts>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)
            .map_err(|e| StoreError(format!("cannot open {}: {e}", path.display())))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError(format!(
                "{}: journal_mode is {mode}, not wal (a file system without shared memory?)",
                path.display()
            )));
        }
        conn.execute_batch(
            "PRAGMA synchronous = FULL;
             PRAGMA busy_timeout = 5000;
             PRAGMA cache_size = -65536;
             PRAGMA journal_size_limit = 67108864;",
        )?;
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteStore {
            conn,
            receipts: Arc::new(SqliteReceipts {
                path: path.to_owned(),
                idle: Mutex::new(Vec::new()),
            }),
        })
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
        Ok(written)
    }

    fn receipts(&self) -> Arc<dyn Receipts> {
        self.receipts.clone()
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
