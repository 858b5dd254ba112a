//! Where accepted events go: the `Store` trait the commit writer calls, and
//! its implementations: SQLite (the embedded default), memory (for tests
//! and a try-out), and a fault-injecting wrapper (for the fault tests).
//!
//! A store's `write` is one transaction for a whole group of requests: it
//! returns only once every event of the group is durable (or the group
//! failed and none is), and it says per request how many events were new and
//! how many it already held (dedupe by write key and `messageId`, decided in
//! the same transaction as the write, never before it). `receipts` gives a
//! handle that answers "which of these ids do you hold?" from the same index,
//! concurrently with writes.
//!
//! The same trait carries the distributed roles: `stream::publish` (the
//! JetStream publisher an `ingest` node commits to) and `postgres` and
//! `clickhouse` (the stores a `load` node writes, also usable by `serve`).

use std::fmt;
use std::sync::Arc;

use crate::wire::Message;

pub mod clickhouse;
pub mod fault;
pub mod memory;
pub mod postgres;
pub mod sqlite;

/// The accepted messages of one request, as handed to a store.
#[derive(Debug, Clone)]
pub struct Batch {
    pub write_key: Arc<str>,
    /// When the request arrived, `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    pub received_at: String,
    pub messages: Vec<Message>,
}

/// What a store did with one batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Messages stored for the first time.
    pub stored: usize,
    /// Messages the store already held (and dropped, counting them).
    pub duplicates: usize,
}

/// A store's failure: the group is not durable and no request is answered 2xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    pub message: String,
    pub kind: FailureKind,
}

/// Whether trying the same write again can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The store is unreachable, slow, busy or restarting, or the reason is
    /// not known: the same write may succeed later (retried with backoff).
    Transient,
    /// The store refused the data itself (a value it cannot hold, a
    /// constraint, a batch over one of its limits): the same write fails
    /// every time. A loader splits the batch to find the events at fault.
    Data,
}

impl StoreError {
    /// A failure worth retrying (the default when the cause is not known).
    pub fn new(message: impl Into<String>) -> StoreError {
        StoreError {
            message: message.into(),
            kind: FailureKind::Transient,
        }
    }

    /// The store refused the data: the same write would fail again.
    pub fn data(message: impl Into<String>) -> StoreError {
        StoreError {
            message: message.into(),
            kind: FailureKind::Data,
        }
    }

    pub fn is_data(&self) -> bool {
        self.kind == FailureKind::Data
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::new(format!("sqlite: {e}"))
    }
}

/// Durable storage of events. Called from one writer thread.
pub trait Store: Send + 'static {
    /// Writes the batches of a group in one transaction and makes it durable
    /// before returning. On error nothing of the group may be reported
    /// stored; the writer answers every request of the group 503.
    fn write(&mut self, group: &[&Batch]) -> Result<Vec<Written>, StoreError>;

    /// A handle answering receipt requests concurrently with `write`, or
    /// `None` when this store cannot tell (the JetStream publisher of an
    /// `ingest` node with no store to ask): receipt requests are then
    /// answered without a `receipts` list (docs/wire-contract.md).
    fn receipts(&self) -> Option<Arc<dyn Receipts>>;
}

/// Answers "which of these ids do you hold durably for this write key?".
pub trait Receipts: Send + Sync {
    fn held(&self, write_key: &str, ids: &[String]) -> Result<Vec<String>, StoreError>;
}
