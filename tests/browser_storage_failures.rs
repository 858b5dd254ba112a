//! Browser tests that break storage on purpose (IndexedDB refused, storage
//! denied, quota exceeded). They patch browser globals, so they run as one
//! sequential test in their own binary: no other test can see the patches.
#![cfg(target_arch = "wasm32")]

use analytics_wasm::core::StoredEvent;
use analytics_wasm::web::storage::{Storage, StoragePreference, Write};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn event() -> StoredEvent {
    StoredEvent {
        message_id: "01000000-0000-4000-8000-000000000000".into(),
        created_at_ms: 1_700_000_000_000,
        json: r#"{"type":"track","event":"e","messageId":"01000000-0000-4000-8000-000000000000"}"#
            .into(),
    }
}

fn eval(script: &str) {
    js_sys::eval(script).expect("script runs");
}

async fn falls_back_to_local_storage_when_indexed_db_open_fails() {
    eval(
        "Object.defineProperty(window, 'indexedDB', { configurable: true, get() { \
           return { open() { throw new DOMException('blocked by test', 'SecurityError'); } }; } });",
    );
    let (storage, problems) = Storage::open(StoragePreference::Auto, "test-fallback", "tab").await;
    eval("delete window.indexedDB;");
    assert_eq!(storage.kind(), "localstorage");
    assert_eq!(problems.len(), 1);
    assert!(problems[0].contains("SecurityError"), "{:?}", problems);
}

async fn falls_back_to_memory_when_no_storage_works() {
    eval(
        "Object.defineProperty(window, 'indexedDB', { configurable: true, get() { return undefined; } }); \
         window.__setItem = Storage.prototype.setItem; \
         Storage.prototype.setItem = function () { throw new DOMException('denied', 'SecurityError'); };",
    );
    let (storage, problems) = Storage::open(StoragePreference::Auto, "test-memory", "tab").await;
    eval("delete window.indexedDB; Storage.prototype.setItem = window.__setItem;");
    assert_eq!(storage.kind(), "memory");
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(matches!(storage.write(&[event()], false), Write::Done));
}

async fn a_quota_error_is_reported_not_thrown() {
    let (storage, _) = Storage::open(StoragePreference::LocalStorage, "test-quota", "tab").await;
    eval(
        "window.__setItem = Storage.prototype.setItem; \
         Storage.prototype.setItem = function () { throw new DOMException('quota full', 'QuotaExceededError'); };",
    );
    let write = storage.write(&[event()], false);
    eval("Storage.prototype.setItem = window.__setItem;");
    match write {
        Write::Failed(message) => assert!(message.contains("QuotaExceededError"), "{message}"),
        _ => panic!("the quota error was not reported"),
    }
}

#[wasm_bindgen_test]
async fn broken_storage_degrades_to_the_next_backend_and_reports_errors() {
    falls_back_to_local_storage_when_indexed_db_open_fails().await;
    falls_back_to_memory_when_no_storage_works().await;
    a_quota_error_is_reported_not_thrown().await;
}
