//! localStorage: one key per event (`<namespace>:e:<messageId>`), so a
//! write costs one `setItem`, not a rewrite of the whole queue.

use wasm_bindgen::JsValue;

pub struct LocalStore {
    storage: web_sys::Storage,
    prefix: String,
}

impl LocalStore {
    /// Opens localStorage if it exists and accepts a write (it throws in
    /// some private modes and when blocked by settings).
    pub fn open(namespace: &str) -> Result<Self, JsValue> {
        let storage = web_sys::window()
            .ok_or("no window")?
            .local_storage()?
            .ok_or("localStorage unavailable")?;
        storage.set_item("aw:probe", "1")?;
        storage.remove_item("aw:probe")?;
        Ok(LocalStore {
            storage,
            prefix: [namespace, ":e:"].concat(),
        })
    }

    /// Every `(messageId, record)` stored.
    pub fn read_all(&self) -> Vec<(String, String)> {
        let length = self.storage.length().unwrap_or(0);
        (0..length)
            .filter_map(|index| self.storage.key(index).ok().flatten())
            .filter_map(|key| {
                let id = key.strip_prefix(self.prefix.as_str())?.to_string();
                let record = self.storage.get_item(&key).ok().flatten()?;
                Some((id, record))
            })
            .collect()
    }

    pub fn put(&self, id: &str, record: &str) -> Result<(), JsValue> {
        self.storage
            .set_item(&[self.prefix.as_str(), id].concat(), record)
    }

    pub fn delete(&self, id: &str) {
        let _ = self
            .storage
            .remove_item(&[self.prefix.as_str(), id].concat());
    }
}

const ANONYMOUS_ID_KEY: &str = "aw:anonymousId";

/// The visitor's persisted `anonymousId`, created by `make` on first use.
/// Kept in memory only when localStorage is unavailable.
pub fn anonymous_id(make: impl FnOnce() -> String) -> String {
    let storage = web_sys::window().and_then(|window| window.local_storage().ok().flatten());
    let stored = storage
        .as_ref()
        .and_then(|storage| storage.get_item(ANONYMOUS_ID_KEY).ok().flatten())
        .filter(|id| !id.is_empty() && id.len() <= 128);
    if let Some(id) = stored {
        return id;
    }
    let id = make();
    if let Some(storage) = storage {
        let _ = storage.set_item(ANONYMOUS_ID_KEY, &id);
    }
    id
}
