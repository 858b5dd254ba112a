//! A store in memory: the tests' store (inspectable from the test while the
//! server writes to it) and a try-out without a file. Not durable.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use super::{Batch, Receipts, Store, StoreError, Written};
use crate::wire::Message;

/// An event as the memory store holds it.
#[derive(Debug, Clone)]
pub struct Stored {
    pub write_key: Arc<str>,
    pub received_at: String,
    pub message: Message,
}

#[derive(Default)]
struct Inner {
    keys: HashSet<(Arc<str>, String)>,
    events: Vec<Stored>,
    duplicates: usize,
}

/// Cloning gives another handle on the same events.
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The stored events, in the order stored.
    pub fn events(&self) -> Vec<Stored> {
        self.lock()
            .map(|inner| inner.events.clone())
            .unwrap_or_default()
    }

    /// Copies dropped so far.
    pub fn duplicates(&self) -> usize {
        self.lock().map(|inner| inner.duplicates).unwrap_or(0)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::new("memory store: a writer panicked"))
    }
}

impl Store for MemoryStore {
    fn write(&mut self, group: &[&Batch]) -> Result<Vec<Written>, StoreError> {
        let mut inner = self.lock()?;
        let mut written = Vec::with_capacity(group.len());
        for batch in group {
            let mut counts = Written::default();
            for message in &batch.messages {
                let key = (batch.write_key.clone(), message.message_id.clone());
                if inner.keys.insert(key) {
                    counts.stored += 1;
                    inner.events.push(Stored {
                        write_key: batch.write_key.clone(),
                        received_at: batch.received_at.clone(),
                        message: message.clone(),
                    });
                } else {
                    counts.duplicates += 1;
                    inner.duplicates += 1;
                }
            }
            written.push(counts);
        }
        Ok(written)
    }

    fn receipts(&self) -> Option<Arc<dyn Receipts>> {
        Some(Arc::new(self.clone()))
    }
}

impl Receipts for MemoryStore {
    fn held(&self, write_key: &str, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let inner = self.lock()?;
        let key: Arc<str> = Arc::from(write_key);
        Ok(ids
            .iter()
            .filter(|id| inner.keys.contains(&(key.clone(), (*id).clone())))
            .cloned()
            .collect())
    }
}
