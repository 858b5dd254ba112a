//! IndexedDB as a key-value store of strings (the chunked event log of
//! `core::chunks` lives in it). Each write is one transaction; the page
//! never waits for it.
//!
//! Every transaction is committed explicitly once its requests are made.
//! Left to commit on its own, a transaction started in `pagehide` waits for
//! the page to run again: WebKit then keeps it open for as long as the page
//! sits in the back/forward cache, and every later reader of the store, the
//! next page of the origin included, waits behind it.

use js_sys::{Array, Function, Promise};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbKeyRange, IdbRequest, IdbTransaction, IdbTransactionMode};

use crate::core::chunks::KvWrite;

const STORE: &str = "events";

#[derive(Clone)]
pub struct IndexedDbStore {
    db: IdbDatabase,
}

/// The keys starting with `prefix` (keys are strings).
fn prefix_range(prefix: &str) -> Result<IdbKeyRange, JsValue> {
    let upper = [prefix, "\u{ffff}"].concat();
    IdbKeyRange::bound(&JsValue::from_str(prefix), &JsValue::from_str(&upper))
}

/// A promise settled by the request's `success` or `error` event.
fn request_done(request: &IdbRequest) -> JsFuture {
    JsFuture::from(Promise::new(&mut |resolve: Function, reject: Function| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    }))
}

/// Commits once the requests made so far finish (see the module docs).
/// Browsers without `commit()` commit on their own; nothing to do there.
fn commit(transaction: &IdbTransaction) {
    // web-sys marks it deprecated; it is IndexedDB 3, in Chromium 76+,
    // Firefox 74+ and Safari 15+.
    #[allow(deprecated)]
    let _ = transaction.commit();
}

/// A promise settled when the transaction commits or fails.
pub fn transaction_done(transaction: &IdbTransaction) -> Promise {
    Promise::new(&mut |resolve: Function, reject: Function| {
        transaction.set_oncomplete(Some(&resolve));
        transaction.set_onerror(Some(&reject));
        transaction.set_onabort(Some(&reject));
    })
}

impl IndexedDbStore {
    pub async fn open(name: &str) -> Result<Self, JsValue> {
        let factory = web_sys::window()
            .ok_or("no window")?
            .indexed_db()?
            .ok_or("IndexedDB unavailable")?;
        let request = factory.open_with_u32(name, 1)?;
        let upgrading = request.clone();
        let on_upgrade = Closure::<dyn FnMut()>::new(move || {
            if let Ok(db) = upgrading.result() {
                let _ = db
                    .unchecked_into::<IdbDatabase>()
                    .create_object_store(STORE);
            }
        });
        request.set_onupgradeneeded(Some(on_upgrade.as_ref().unchecked_ref()));
        request_done(&request).await?;
        request.set_onupgradeneeded(None);
        let db: IdbDatabase = request.result()?.dyn_into()?;
        Ok(IndexedDbStore { db })
    }

    fn store(
        &self,
        mode: IdbTransactionMode,
    ) -> Result<(IdbTransaction, web_sys::IdbObjectStore), JsValue> {
        let transaction = self.db.transaction_with_str_and_mode(STORE, mode)?;
        let store = transaction.object_store(STORE)?;
        Ok((transaction, store))
    }

    /// Every `(key, value)` whose key starts with `prefix`, the prefix cut.
    pub async fn read_prefix(&self, prefix: &str) -> Result<Vec<(String, String)>, JsValue> {
        let (transaction, store) = self.store(IdbTransactionMode::Readonly)?;
        let range = prefix_range(prefix)?;
        let keys_request = store.get_all_keys_with_key(&range)?;
        let values_request = store.get_all_with_key(&range)?;
        commit(&transaction);
        request_done(&keys_request).await?;
        request_done(&values_request).await?;
        let keys: Array = keys_request.result()?.dyn_into()?;
        let values: Array = values_request.result()?.dyn_into()?;
        Ok(keys
            .iter()
            .zip(values.iter())
            .filter_map(|(key, value)| {
                let key = key.as_string()?;
                Some((
                    key.strip_prefix(prefix)?.to_string(),
                    value.as_string().unwrap_or_default(),
                ))
            })
            .collect())
    }

    /// Every key stored.
    pub async fn all_keys(&self) -> Result<Vec<String>, JsValue> {
        let (transaction, store) = self.store(IdbTransactionMode::Readonly)?;
        let request = store.get_all_keys()?;
        commit(&transaction);
        request_done(&request).await?;
        let keys: Array = request.result()?.dyn_into()?;
        Ok(keys.iter().filter_map(|k| k.as_string()).collect())
    }

    /// Deletes every key starting with `prefix`, in one transaction.
    pub fn delete_prefix(&self, prefix: &str) -> Result<Promise, JsValue> {
        let (transaction, store) = self.store(IdbTransactionMode::Readwrite)?;
        let range = prefix_range(prefix)?;
        store.delete(&range)?;
        commit(&transaction);
        Ok(transaction_done(&transaction))
    }

    /// Applies puts and deletes in one transaction, each key under `prefix`.
    pub fn apply(&self, prefix: &str, write: &KvWrite) -> Result<Promise, JsValue> {
        let (transaction, store) = self.store(IdbTransactionMode::Readwrite)?;
        for (key, value) in &write.puts {
            store.put_with_key(
                &JsValue::from_str(value),
                &JsValue::from_str(&[prefix, key].concat()),
            )?;
        }
        for key in &write.deletes {
            store.delete(&JsValue::from_str(&[prefix, key].concat()))?;
        }
        commit(&transaction);
        Ok(transaction_done(&transaction))
    }

    pub fn close(&self) {
        self.db.close();
    }
}
