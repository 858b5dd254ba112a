//! Persistence of the queue: IndexedDB by default, localStorage as the
//! fallback, memory as the last resort, chosen at start. Write failures
//! (quota, blocked storage) are reported, never thrown; the in-memory queue
//! is untouched by them.
//!
//! An IndexedDB transaction started while the page is being hidden may not
//! commit before the document is torn down, so writes made then also go,
//! synchronously, to a localStorage spill. The spill is folded into
//! IndexedDB at the next start, and entries leave it when their event is
//! forgotten, so it never resurrects a delivered event.

use js_sys::Promise;
use wasm_bindgen::JsValue;

use super::indexed_db::IndexedDbStore;
use super::local_storage::LocalStore;
use crate::core::chunks::{ChunkLog, KvWrite};
use crate::core::{record, StoredEvent};

/// Which backend the caller asked for (`storage` in the JS config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoragePreference {
    Auto,
    LocalStorage,
    Memory,
}

enum Backend {
    /// Events live in a chunked log: one put per `Persist`, not per event.
    IndexedDb(IndexedDbStore, ChunkLog),
    LocalStorage(LocalStore),
    Memory,
}

pub struct Storage {
    backend: Backend,
    next_ordinal: u64,
    /// The unload spill, with IndexedDB only.
    spill: Option<LocalStore>,
    /// Ids written to the spill by this page (few: only while hiding).
    spilled: Vec<String>,
}

/// A storage write in progress, or the error that stopped it.
pub enum Write {
    Done,
    Pending(Promise),
    Failed(String),
}

/// What `open` found.
pub struct Opened {
    pub storage: Storage,
    /// Stored events in write order; undecodable records come with an
    /// empty `json`, so the core counts and refuses them.
    pub events: Vec<StoredEvent>,
    /// Why a preferred backend was skipped.
    pub problems: Vec<String>,
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

fn apply(store: &IndexedDbStore, write: &KvWrite) -> Write {
    if write.is_empty() {
        return Write::Done;
    }
    match store.apply(write) {
        Ok(done) => Write::Pending(done),
        Err(error) => Write::Failed(describe(&error)),
    }
}

fn decode_all(pairs: Vec<(String, String)>) -> (Vec<StoredEvent>, u64) {
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
    let next_ordinal = good
        .iter()
        .map(|(ordinal, _)| ordinal + 1)
        .max()
        .unwrap_or(0);
    let mut events = record::into_write_order(good);
    events.extend(corrupt);
    (events, next_ordinal)
}

/// Loads the IndexedDB event log after folding in what the last page
/// spilled on unload; returns the log, its live `(id, record)`s and the spill.
async fn load_with_spill(
    store: &IndexedDbStore,
    namespace: &str,
) -> Result<(ChunkLog, Vec<(String, String)>, Option<LocalStore>), JsValue> {
    let (mut log, mut live) = ChunkLog::load(store.read_all().await?);
    let spill = LocalStore::open(&[namespace, ":spill"].concat()).ok();
    if let Some(spill) = &spill {
        let spilled = spill.read_all();
        if !spilled.is_empty() {
            let write = log.append(&spilled);
            wasm_bindgen_futures::JsFuture::from(store.apply(&write)?).await?;
            for (id, _) in &spilled {
                spill.delete(id);
            }
            live.extend(spilled);
        }
    }
    Ok((log, live, spill))
}

impl Storage {
    /// Opens the first backend that works, under `namespace` (the IndexedDB
    /// database name and the localStorage key prefix).
    pub async fn open(preference: StoragePreference, namespace: &str) -> Opened {
        let mut problems = Vec::new();
        if preference == StoragePreference::Auto {
            match IndexedDbStore::open(namespace).await {
                Ok(store) => match load_with_spill(&store, namespace).await {
                    Ok((log, pairs, spill)) => {
                        let (events, next_ordinal) = decode_all(pairs);
                        return Opened {
                            storage: Storage {
                                backend: Backend::IndexedDb(store, log),
                                next_ordinal,
                                spill,
                                spilled: Vec::new(),
                            },
                            events,
                            problems,
                        };
                    }
                    Err(error) => {
                        problems.push(["IndexedDB read failed: ", &describe(&error)].concat())
                    }
                },
                Err(error) => {
                    problems.push(["IndexedDB unavailable: ", &describe(&error)].concat())
                }
            }
        }
        if preference != StoragePreference::Memory {
            match LocalStore::open(namespace) {
                Ok(store) => {
                    let (events, next_ordinal) = decode_all(store.read_all());
                    return Opened {
                        storage: Storage {
                            backend: Backend::LocalStorage(store),
                            next_ordinal,
                            spill: None,
                            spilled: Vec::new(),
                        },
                        events,
                        problems,
                    };
                }
                Err(error) => {
                    problems.push(["localStorage unavailable: ", &describe(&error)].concat())
                }
            }
        }
        Opened {
            storage: Storage {
                backend: Backend::Memory,
                next_ordinal: 0,
                spill: None,
                spilled: Vec::new(),
            },
            events: Vec::new(),
            problems,
        }
    }

    /// `indexeddb`, `localstorage` or `memory`, as shown in metrics.
    pub fn kind(&self) -> &'static str {
        match self.backend {
            Backend::IndexedDb(..) => "indexeddb",
            Backend::LocalStorage(_) => "localstorage",
            Backend::Memory => "memory",
        }
    }

    /// Writes events. `page_hiding` also spills them synchronously to
    /// localStorage when the backend is IndexedDB (see the module docs).
    pub fn write(&mut self, events: &[StoredEvent], page_hiding: bool) -> Write {
        let records: Vec<(String, String)> = events
            .iter()
            .map(|event| {
                self.next_ordinal += 1;
                (
                    event.message_id.clone(),
                    record::encode(self.next_ordinal, event),
                )
            })
            .collect();
        if let (true, Some(spill)) = (page_hiding, &self.spill) {
            for (id, text) in &records {
                // Best effort: IndexedDB remains the store of record.
                if spill.put(id, text).is_ok() && !self.spilled.contains(id) {
                    self.spilled.push(id.clone());
                }
            }
        }
        match &mut self.backend {
            Backend::IndexedDb(store, log) => apply(store, &log.append(&records)),
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

    pub fn delete(&mut self, ids: &[String]) -> Write {
        if let Some(spill) = &self.spill {
            for id in ids {
                if let Some(at) = self.spilled.iter().position(|s| s == id) {
                    self.spilled.swap_remove(at);
                    spill.delete(id);
                }
            }
        }
        match &mut self.backend {
            Backend::IndexedDb(store, log) => apply(store, &log.remove(ids)),
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
