//! Persistence of the queue: IndexedDB by default, localStorage as the
//! fallback, memory as the last resort, chosen at start. Write failures
//! (quota, blocked storage) are reported, never thrown; the in-memory queue
//! is untouched by them.
//!
//! Each page load writes under its own partition (see `tabs`): IndexedDB
//! keys `<partition>/<chunk key>`, localStorage keys
//! `<namespace>:<partition>:e:<messageId>`. Other partitions are read and
//! deleted only by the tab that adopts them.
//!
//! An IndexedDB transaction started while the page is being hidden may not
//! commit before the document is torn down, so writes made then also go,
//! synchronously, to a localStorage spill (`<namespace>:<partition>:s:<id>`)
//! that adoption reads with the partition. Entries leave the spill when
//! their event is forgotten, so it never resurrects a delivered event.

use std::cell::{Cell, RefCell};

use js_sys::Promise;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use super::indexed_db::IndexedDbStore;
use super::local_storage::{self, LocalStore};
use super::timer::within;
use crate::core::chunks::{ChunkLog, KvWrite};
use crate::core::{record, StoredEvent};

/// How long storage may take to answer before the shell goes on without it
/// (opening IndexedDB, or the first adoption pass before `ready`).
pub const STORAGE_ANSWER_MS: u32 = 3_000;

/// Which backend the caller asked for (`storage` in the JS config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoragePreference {
    Auto,
    LocalStorage,
    Memory,
}

enum Backend {
    /// Events live in a chunked log: one put per `Persist`, not per event.
    IndexedDb(IndexedDbStore, RefCell<ChunkLog>),
    LocalStorage(LocalStore),
    Memory,
}

/// Calls take `&self`: the shell makes them with nothing of its own
/// borrowed, since a browser may run other page work inside a storage call
/// (Firefox runs events in `localStorage` calls made while a tab closes).
pub struct Storage {
    backend: Backend,
    namespace: String,
    partition: String,
    next_ordinal: Cell<u64>,
    /// The unload spill, with IndexedDB only.
    spill: Option<LocalStore>,
    /// Ids written to the spill by this page (few: only while hiding).
    spilled: RefCell<Vec<String>>,
}

/// A storage write in progress, or the error that stopped it.
pub enum Write {
    Done,
    Pending(Promise),
    Failed(String),
}

/// Reads and deletes other partitions; a cheap handle that can be held
/// across awaits without borrowing the runtime.
#[derive(Clone)]
pub struct Partitions {
    idb: Option<IndexedDbStore>,
    local: Option<web_sys::Storage>,
    namespace: String,
    own: String,
}

pub fn describe(error: &JsValue) -> String {
    if let Some(text) = error.as_string() {
        return text;
    }
    let name = js_sys::Reflect::get(error, &"name".into())
        .ok()
        .and_then(|n| n.as_string());
    let message = js_sys::Reflect::get(error, &"message".into())
        .ok()
        .and_then(|m| m.as_string());
    match (name, message) {
        (Some(name), Some(message)) => [name.as_str(), ": ", message.as_str()].concat(),
        (Some(name), None) => name,
        (None, Some(message)) => message,
        (None, None) => "unknown error".into(),
    }
}

/// The error text for storage that gave no answer within `STORAGE_ANSWER_MS`.
pub fn did_not_answer(what: &str) -> String {
    let mut text = [what, " did not answer within "].concat();
    crate::core::json::push_u64(&mut text, u64::from(STORAGE_ANSWER_MS));
    text.push_str(" ms");
    text
}

fn idb_prefix(partition: &str) -> String {
    [partition, "/"].concat()
}

fn local_prefix(namespace: &str, partition: &str, kind: &str) -> String {
    [namespace, ":", partition, ":", kind, ":"].concat()
}

/// Decodes `(id, record)`s into events in write order; undecodable records
/// come back with an empty `json`, so the core counts and refuses them.
pub fn decode_all(pairs: Vec<(String, String)>) -> Vec<StoredEvent> {
    let mut good = Vec::with_capacity(pairs.len());
    let mut corrupt = Vec::new();
    for (key, text) in pairs {
        match record::decode(&text) {
            Some((ordinal, event)) if event.message_id == key => good.push((ordinal, event)),
            _ => corrupt.push(StoredEvent {
                message_id: key,
                created_at_ms: 0,
                json: String::new(),
            }),
        }
    }
    let mut events = record::into_write_order(good);
    events.extend(corrupt);
    events
}

fn apply(store: &IndexedDbStore, prefix: &str, write: &KvWrite) -> Write {
    if write.is_empty() {
        return Write::Done;
    }
    match store.apply(prefix, write) {
        Ok(done) => Write::Pending(done),
        Err(error) => Write::Failed(describe(&error)),
    }
}

impl Storage {
    /// Opens the first backend that works for a new, empty `partition`;
    /// returns it with why preferred backends were skipped.
    pub async fn open(
        preference: StoragePreference,
        namespace: &str,
        partition: &str,
    ) -> (Storage, Vec<String>) {
        let mut problems = Vec::new();
        let spill = LocalStore::open(&local_prefix(namespace, partition, "s")).ok();
        let backend = 'chosen: {
            if preference == StoragePreference::Auto {
                match within(STORAGE_ANSWER_MS, IndexedDbStore::open(namespace)).await {
                    Some(Ok(store)) => break 'chosen Backend::IndexedDb(store, RefCell::default()),
                    Some(Err(error)) => {
                        problems.push(["IndexedDB unavailable: ", &describe(&error)].concat())
                    }
                    None => problems.push(did_not_answer("IndexedDB")),
                }
            }
            if preference != StoragePreference::Memory {
                match LocalStore::open(&local_prefix(namespace, partition, "e")) {
                    Ok(store) => break 'chosen Backend::LocalStorage(store),
                    Err(error) => {
                        problems.push(["localStorage unavailable: ", &describe(&error)].concat())
                    }
                }
            }
            Backend::Memory
        };
        let is_idb = matches!(backend, Backend::IndexedDb(..));
        let storage = Storage {
            backend,
            namespace: namespace.to_string(),
            partition: partition.to_string(),
            next_ordinal: Cell::new(0),
            spill: if is_idb { spill } else { None },
            spilled: RefCell::default(),
        };
        (storage, problems)
    }

    /// `indexeddb`, `localstorage` or `memory`, as shown in metrics.
    pub fn kind(&self) -> &'static str {
        match self.backend {
            Backend::IndexedDb(..) => "indexeddb",
            Backend::LocalStorage(_) => "localstorage",
            Backend::Memory => "memory",
        }
    }

    /// A handle for reading and deleting other partitions.
    pub fn partitions(&self) -> Partitions {
        Partitions {
            idb: match &self.backend {
                Backend::IndexedDb(store, _) => Some(store.clone()),
                _ => None,
            },
            // The localStorage this page already probed: no probe write (and
            // no `storage` event in other tabs) per adoption pass.
            local: match (&self.backend, &self.spill) {
                (Backend::LocalStorage(store), _) | (_, Some(store)) => {
                    Some(store.storage().clone())
                }
                _ => None,
            },
            namespace: self.namespace.clone(),
            own: self.partition.clone(),
        }
    }

    /// Writes events. `page_hiding` also spills them synchronously to
    /// localStorage when the backend is IndexedDB (see the module docs).
    pub fn write(&self, events: &[StoredEvent], page_hiding: bool) -> Write {
        let records: Vec<(String, String)> = events
            .iter()
            .map(|event| {
                let ordinal = self.next_ordinal.get() + 1;
                self.next_ordinal.set(ordinal);
                (event.message_id.clone(), record::encode(ordinal, event))
            })
            .collect();
        if let (true, Some(spill)) = (page_hiding, &self.spill) {
            for (id, text) in &records {
                // Best effort: IndexedDB remains the store of record.
                if spill.put(id, text).is_ok() && !self.spilled.borrow().contains(id) {
                    self.spilled.borrow_mut().push(id.clone());
                }
            }
        }
        let prefix = idb_prefix(&self.partition);
        match &self.backend {
            Backend::IndexedDb(store, log) => {
                let write = log.borrow_mut().append(&records);
                apply(store, &prefix, &write)
            }
            Backend::LocalStorage(store) => {
                for (id, text) in &records {
                    if let Err(error) = store.put(id, text) {
                        return Write::Failed(describe(&error));
                    }
                }
                Write::Done
            }
            Backend::Memory => Write::Done,
        }
    }

    pub fn delete(&self, ids: &[String]) -> Write {
        if let Some(spill) = &self.spill {
            for id in ids {
                let at = self.spilled.borrow().iter().position(|s| s == id);
                if let Some(at) = at {
                    self.spilled.borrow_mut().swap_remove(at);
                    spill.delete(id);
                }
            }
        }
        let prefix = idb_prefix(&self.partition);
        match &self.backend {
            Backend::IndexedDb(store, log) => {
                let write = log.borrow_mut().remove(ids);
                apply(store, &prefix, &write)
            }
            Backend::LocalStorage(store) => {
                ids.iter().for_each(|id| store.delete(id));
                Write::Done
            }
            Backend::Memory => Write::Done,
        }
    }

    pub fn close(&self) {
        if let Backend::IndexedDb(store, _) = &self.backend {
            store.close();
        }
    }
}

impl Partitions {
    /// Partitions with data in storage, other than this page's own.
    pub async fn others(&self) -> Vec<String> {
        let mut found: Vec<String> = Vec::new();
        let mut note = |partition: &str| {
            if partition != self.own
                && !partition.is_empty()
                && !found.iter().any(|p| p == partition)
            {
                found.push(partition.to_string());
            }
        };
        if let Some(store) = &self.idb {
            for key in store.all_keys().await.unwrap_or_default() {
                if let Some((partition, _)) = key.split_once('/') {
                    note(partition);
                }
            }
        }
        if let Some(local) = &self.local {
            for key in local_storage::all_keys(local) {
                let mut parts = key.splitn(4, ':');
                let (namespace, partition, kind) = (parts.next(), parts.next(), parts.next());
                if namespace == Some(self.namespace.as_str())
                    && matches!(kind, Some("e" | "s"))
                    && parts.next().is_some()
                {
                    note(partition.unwrap_or_default());
                }
            }
        }
        found
    }

    fn local(&self, partition: &str, kind: &str) -> Option<LocalStore> {
        let storage = self.local.clone()?;
        Some(LocalStore::under(
            storage,
            &local_prefix(&self.namespace, partition, kind),
        ))
    }

    /// Everything `partition` holds, in write order.
    pub async fn read(&self, partition: &str) -> Result<Vec<StoredEvent>, String> {
        let mut pairs = Vec::new();
        if let Some(store) = &self.idb {
            let stored = store
                .read_prefix(&idb_prefix(partition))
                .await
                .map_err(|e| describe(&e))?;
            pairs.extend(ChunkLog::load(stored).1);
        }
        for kind in ["e", "s"] {
            if let Some(local) = self.local(partition, kind) {
                pairs.extend(local.read_all());
            }
        }
        Ok(decode_all(pairs))
    }

    /// Deletes everything `partition` holds.
    pub async fn delete(&self, partition: &str) -> Result<(), String> {
        if let Some(store) = &self.idb {
            let done = store
                .delete_prefix(&idb_prefix(partition))
                .map_err(|e| describe(&e))?;
            JsFuture::from(done).await.map_err(|e| describe(&e))?;
        }
        for kind in ["e", "s"] {
            if let Some(local) = self.local(partition, kind) {
                local.clear();
            }
        }
        Ok(())
    }
}
