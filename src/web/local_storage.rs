//! localStorage: one key per event (`<prefix><messageId>`), so a write costs
//! one `setItem`, not a rewrite of the whole queue.

use wasm_bindgen::JsValue;

#[derive(Clone)]
pub struct LocalStore {
    storage: web_sys::Storage,
    prefix: String,
}

/// localStorage, if it exists and accepts a write (it throws in some
/// private modes and when blocked by settings).
pub fn usable() -> Result<web_sys::Storage, JsValue> {
    let storage = web_sys::window()
        .ok_or("no window")?
        .local_storage()?
        .ok_or("localStorage unavailable")?;
    storage.set_item("aw:probe", "1")?;
    storage.remove_item("aw:probe")?;
    Ok(storage)
}

/// Every key in localStorage.
pub fn all_keys(storage: &web_sys::Storage) -> Vec<String> {
    let length = storage.length().unwrap_or(0);
    (0..length)
        .filter_map(|index| storage.key(index).ok().flatten())
        .collect()
}

impl LocalStore {
    /// Opens the keys starting with `prefix`.
    pub fn open(prefix: &str) -> Result<Self, JsValue> {
        Ok(LocalStore {
            storage: usable()?,
            prefix: prefix.to_string(),
        })
    }

    /// The keys starting with `prefix` in a localStorage already probed.
    pub fn under(storage: web_sys::Storage, prefix: &str) -> Self {
        LocalStore {
            storage,
            prefix: prefix.to_string(),
        }
    }

    /// The localStorage behind this store.
    pub fn storage(&self) -> &web_sys::Storage {
        &self.storage
    }

    /// Every `(messageId, record)` stored under the prefix.
    pub fn read_all(&self) -> Vec<(String, String)> {
        all_keys(&self.storage)
            .into_iter()
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

    /// Deletes every key under the prefix.
    pub fn clear(&self) {
        for (id, _) in self.read_all() {
            self.delete(&id);
        }
    }
}
