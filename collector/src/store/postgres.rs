//! The PostgreSQL store: the `load` role's exact store (and a `serve`
//! store too). The same columns as the SQLite store, in one table with a
//! unique key on (write_key, message_id). A group is one transaction: one
//! `INSERT … SELECT FROM unnest(…) ON CONFLICT (write_key, message_id) DO
//! NOTHING RETURNING …` for its events (sorted by key, so that two loaders
//! writing overlapping groups take their row locks in the same order and
//! cannot deadlock), one upsert of the per-day copy counts, and the commit
//! (each connection sets `synchronous_commit = on`: the commit returns once
//! the WAL is flushed). Dedupe is decided by the
//! unique key inside that transaction, for as long as rows are kept,
//! whatever the stream's dedupe window.
//!
//! The connection is made again after it breaks (a restarted server); a
//! write that takes longer than its timeout is abandoned (its transaction
//! rolls back when the connection is dropped) and reported as failed. A
//! failure says whether the server refused the data itself (SQLSTATE
//! classes 22, 23, 54: the same write fails every time) or anything else
//! (retried). Text columns cannot hold NUL: in the column copies of
//! `message_id`, `event`, `user_id` and `anonymous_id` a NUL is written
//! U+FFFD; `message` keeps the JSON as sent (where a NUL is `\u0000`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio_postgres::{Client, NoTls};

use super::{Batch, Receipts, Store, StoreError, Written};

/// The schema, also shown in docs/collector.md.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
  id           BIGSERIAL PRIMARY KEY,
  write_key    TEXT NOT NULL,
  message_id   TEXT NOT NULL,
  type         TEXT NOT NULL,   -- track, identify, page, screen, group, alias
  event        TEXT,            -- a track's event name
  user_id      TEXT,
  anonymous_id TEXT,
  timestamp    TEXT,            -- the message's timestamp, UTC: 2026-12-06T10:00:00.000Z
  received_at  TEXT NOT NULL,   -- when an ingest node received it, UTC
  sent_at      TEXT,            -- the message's or the batch's sentAt, UTC
  message      TEXT NOT NULL,   -- the whole message as JSON, as sent (message::jsonb to query it)
  UNIQUE (write_key, message_id)
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (timestamp);
CREATE TABLE IF NOT EXISTS duplicates (
  write_key TEXT NOT NULL,
  day       TEXT NOT NULL,      -- the day the copies were received, UTC: 2026-12-06
  dropped   BIGINT NOT NULL,    -- copies of stored events dropped that day
  PRIMARY KEY (write_key, day)
);
";

const INSERT: &str = "INSERT INTO events
  (write_key, message_id, type, event, user_id, anonymous_id, timestamp, received_at, sent_at, message)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                       $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
  ON CONFLICT (write_key, message_id) DO NOTHING
  RETURNING write_key, message_id";

const COUNT_DUPLICATES: &str = "INSERT INTO duplicates (write_key, day, dropped)
  SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
  ON CONFLICT (write_key, day) DO UPDATE SET dropped = duplicates.dropped + EXCLUDED.dropped";

const HELD: &str = "SELECT message_id FROM events WHERE write_key = $1 AND message_id = ANY($2)";

/// The longest a group's transaction may take before it is abandoned, by
/// default (`with_write_timeout` sets another; a loader uses its
/// `write_timeout_ms`).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(20);

async fn open(url: &str) -> Result<Client, StoreError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| StoreError::new(format!("postgres: cannot connect: {e}")))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "postgres: the connection ended");
        }
    });
    // A commit returns once its WAL is flushed, whatever the server's,
    // the database's or the role's default says.
    client
        .batch_execute("SET synchronous_commit = on")
        .await
        .map_err(|e| StoreError::new(format!("postgres: SET synchronous_commit = on: {e}")))?;
    Ok(client)
}

/// A Postgres error as a store failure: `Data` when the server refused the
/// data itself (SQLSTATE classes 22, data exception; 23, integrity
/// constraint violation, but for 23505 unique_violation, which the
/// `ON CONFLICT` clause handles and which can only come from a race; 54,
/// program limit exceeded, e.g. a batch over a size limit); `Transient`
/// for everything else: connection errors (08), serialization failures
/// and deadlocks (40), insufficient resources (53), operator intervention
/// such as a shutdown (57), and whatever has no SQLSTATE (I/O, timeouts).
fn pg(e: tokio_postgres::Error) -> StoreError {
    let code = e.code().map(|c| c.code().to_owned());
    let message = match e.as_db_error() {
        Some(db) => {
            let mut m = format!(
                "postgres: {} {}: {}",
                db.severity(),
                db.code().code(),
                db.message()
            );
            if let Some(detail) = db.detail() {
                m.push_str(&format!(" ({detail})"));
            }
            m
        }
        None => format!("postgres: {e}"),
    };
    match code.as_deref() {
        Some(code) if is_data_sqlstate(code) => StoreError::data(message),
        _ => StoreError::new(message),
    }
}

/// Whether a SQLSTATE says the data was refused (see `pg`).
pub fn is_data_sqlstate(code: &str) -> bool {
    code != "23505" && (code.starts_with("22") || code.starts_with("23") || code.starts_with("54"))
}

fn no_nul(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// The store; `write` runs on the commit writer's (or loader's store)
/// thread and drives the connection on `runtime`.
pub struct PostgresStore {
    url: String,
    client: Option<Client>,
    write_timeout: Duration,
    runtime: Handle,
    receipts: Arc<PostgresReceipts>,
}

impl PostgresStore {
    /// Connects and creates the schema if needed (under an advisory lock:
    /// several loaders may start at once).
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let mut client = open(url).await?;
        let tx = client.transaction().await.map_err(pg)?;
        tx.batch_execute("SELECT pg_advisory_xact_lock(7215901)")
            .await
            .map_err(pg)?;
        tx.batch_execute(SCHEMA).await.map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        Ok(PostgresStore {
            url: url.to_owned(),
            client: Some(client),
            write_timeout: WRITE_TIMEOUT,
            runtime: Handle::current(),
            receipts: PostgresReceipts::new(url),
        })
    }

    /// The longest one group's transaction may take before it is abandoned.
    pub fn with_write_timeout(mut self, timeout: Duration) -> PostgresStore {
        self.write_timeout = timeout;
        self
    }

    async fn write_group(&mut self, group: &[&Batch]) -> Result<Vec<Written>, StoreError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = None;
            self.client = Some(open(&self.url).await?);
        }
        let Some(client) = self.client.as_mut() else {
            return Err(StoreError::new("postgres: no connection"));
        };
        // The rows, sorted by key (lock order), NULs out of the columns.
        let mut rows: Vec<(&str, Cow<str>, &Batch, &crate::wire::Message)> = group
            .iter()
            .flat_map(|batch| {
                batch
                    .messages
                    .iter()
                    .map(move |m| (&*batch.write_key, no_nul(&m.message_id), *batch, m))
            })
            .collect();
        rows.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let keys: Vec<&str> = rows.iter().map(|r| r.0).collect();
        let ids: Vec<&str> = rows.iter().map(|r| &*r.1).collect();
        let types: Vec<&str> = rows.iter().map(|r| r.3.kind.as_str()).collect();
        let column = |f: fn(&crate::wire::Message) -> &Option<String>| -> Vec<Option<Cow<str>>> {
            rows.iter().map(|r| f(r.3).as_deref().map(no_nul)).collect()
        };
        let events = column(|m| &m.event);
        let users = column(|m| &m.user_id);
        let anonymous = column(|m| &m.anonymous_id);
        let as_str = |v: &Vec<Option<Cow<str>>>| -> Vec<Option<String>> {
            v.iter()
                .map(|o| o.as_ref().map(|c| c.to_string()))
                .collect()
        };
        let (events, users, anonymous) = (as_str(&events), as_str(&users), as_str(&anonymous));
        let timestamps: Vec<Option<&str>> = rows.iter().map(|r| r.3.timestamp.as_deref()).collect();
        let received: Vec<&str> = rows.iter().map(|r| r.2.received_at.as_str()).collect();
        let sent: Vec<Option<&str>> = rows.iter().map(|r| r.3.sent_at.as_deref()).collect();
        let messages: Vec<&str> = rows.iter().map(|r| r.3.json.as_str()).collect();

        let tx = client.transaction().await.map_err(pg)?;
        let inserted = tx
            .query(
                INSERT,
                &[
                    &keys,
                    &ids,
                    &types,
                    &events,
                    &users,
                    &anonymous,
                    &timestamps,
                    &received,
                    &sent,
                    &messages,
                ],
            )
            .await
            .map_err(pg)?;
        let mut new: HashMap<(String, String), usize> = HashMap::new();
        for row in &inserted {
            *new.entry((row.get(0), row.get(1))).or_default() += 1;
        }
        let mut written = Vec::with_capacity(group.len());
        let mut copies: HashMap<(&str, &str), i64> = HashMap::new();
        for batch in group {
            let mut counts = Written::default();
            for m in &batch.messages {
                let key = (
                    batch.write_key.to_string(),
                    no_nul(&m.message_id).into_owned(),
                );
                match new.get_mut(&key) {
                    Some(n) if *n > 0 => {
                        *n -= 1;
                        counts.stored += 1;
                    }
                    _ => {
                        counts.duplicates += 1;
                        let day = batch.received_at.get(..10).unwrap_or("");
                        *copies.entry((&batch.write_key, day)).or_default() += 1;
                    }
                }
            }
            written.push(counts);
        }
        if !copies.is_empty() {
            let (keys, days): (Vec<&str>, Vec<&str>) = copies.keys().copied().unzip();
            let counts: Vec<i64> = copies.values().copied().collect();
            tx.execute(COUNT_DUPLICATES, &[&keys, &days, &counts])
                .await
                .map_err(pg)?;
        }
        tx.commit().await.map_err(pg)?;
        Ok(written)
    }
}

impl Store for PostgresStore {
    fn write(&mut self, group: &[&Batch]) -> Result<Vec<Written>, StoreError> {
        let runtime = self.runtime.clone();
        let timeout = self.write_timeout;
        let result = runtime.block_on(async {
            match tokio::time::timeout(timeout, self.write_group(group)).await {
                Ok(result) => result,
                Err(_) => Err(StoreError::new(format!(
                    "postgres: the transaction did not finish within {} ms",
                    timeout.as_millis()
                ))),
            }
        });
        if result.is_err() {
            // A broken or hung connection is not used again.
            self.client = None;
        }
        result
    }

    fn receipts(&self) -> Option<Arc<dyn Receipts>> {
        Some(self.receipts.clone())
    }
}

/// Connections receipt lookups may use at once (opened as needed, kept
/// while they work).
pub const RECEIPT_CONNECTIONS: usize = 4;

/// Receipt lookups on connections of their own: a small pool, so that one
/// slow lookup does not queue the others behind it.
pub struct PostgresReceipts {
    url: String,
    idle: std::sync::Mutex<Vec<Client>>,
    permits: tokio::sync::Semaphore,
    runtime: Handle,
}

impl PostgresReceipts {
    /// A lookup handle without a store (an ingest node's `receipts_from`).
    pub fn new(url: &str) -> Arc<PostgresReceipts> {
        Arc::new(PostgresReceipts {
            url: url.to_owned(),
            idle: std::sync::Mutex::new(Vec::new()),
            permits: tokio::sync::Semaphore::new(RECEIPT_CONNECTIONS),
            runtime: Handle::current(),
        })
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Client>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn lookup(&self, write_key: &str, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::new("postgres: the receipt pool is closed"))?;
        let pooled = self.idle().pop().filter(|c| !c.is_closed());
        let client = match pooled {
            Some(client) => client,
            None => open(&self.url).await?,
        };
        let clean: Vec<Cow<str>> = ids.iter().map(|id| no_nul(id)).collect();
        let clean: Vec<&str> = clean.iter().map(|c| &**c).collect();
        // A failed query drops its connection; a working one goes back.
        let rows = client
            .query(HELD, &[&write_key, &clean])
            .await
            .map_err(pg)?;
        self.idle().push(client);
        let held: std::collections::HashSet<String> = rows.iter().map(|r| r.get(0)).collect();
        Ok(ids
            .iter()
            .filter(|id| held.contains(&*no_nul(id)))
            .cloned()
            .collect())
    }
}

impl Receipts for PostgresReceipts {
    fn held(&self, write_key: &str, ids: &[String]) -> Result<Vec<String>, StoreError> {
        self.runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), self.lookup(write_key, ids))
                .await
                .unwrap_or_else(|_| Err(StoreError::new("postgres: the receipt lookup timed out")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_sqlstates_are_told_from_transient_ones() {
        for data in ["22021", "22P02", "23514", "23502", "54000", "54001"] {
            assert!(is_data_sqlstate(data), "{data}");
        }
        for transient in [
            "23505", "40001", "40P01", "53100", "57P01", "08006", "42P01", "XX000",
        ] {
            assert!(!is_data_sqlstate(transient), "{transient}");
        }
    }
}
