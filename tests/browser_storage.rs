//! Browser tests of persistence (headless Chromium via wasm-bindgen-test):
//! IndexedDB and localStorage round trips, write order, corrupt records,
//! and write errors reported instead of thrown. Tests that break browser
//! globals live in `browser_storage_failures.rs`: async tests here run
//! interleaved and must not see them.
#![cfg(target_arch = "wasm32")]

use analytics_wasm::core::chunks::KvWrite;
use analytics_wasm::core::StoredEvent;
use analytics_wasm::web::indexed_db::IndexedDbStore;
use analytics_wasm::web::local_storage::LocalStore;
use analytics_wasm::web::storage::{Storage, StoragePreference, Write};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn event(n: u8) -> StoredEvent {
    let id = format!("{n:02x}000000-0000-4000-8000-000000000000");
    StoredEvent {
        json: format!(r#"{{"type":"track","event":"e{n}","messageId":"{id}"}}"#),
        message_id: id,
        created_at_ms: 1_700_000_000_000 + u64::from(n),
    }
}

async fn settle(write: Write) {
    match write {
        Write::Done => {}
        Write::Pending(promise) => {
            JsFuture::from(promise).await.expect("write committed");
        }
        Write::Failed(message) => panic!("write failed: {message}"),
    }
}

#[wasm_bindgen_test]
async fn indexed_db_round_trips_key_values() {
    let store = IndexedDbStore::open("test-idb-round-trip")
        .await
        .expect("opens");
    let pairs = vec![
        ("k1".to_string(), "v1".to_string()),
        ("k2".to_string(), "v2".to_string()),
    ];
    let put = KvWrite {
        puts: pairs.clone(),
        deletes: vec![],
    };
    JsFuture::from(store.apply(&put).unwrap()).await.unwrap();
    let mut read = store.read_all().await.unwrap();
    read.sort();
    assert_eq!(read, pairs);
    let delete = KvWrite {
        puts: vec![],
        deletes: vec!["k1".to_string()],
    };
    JsFuture::from(store.apply(&delete).unwrap()).await.unwrap();
    assert_eq!(
        store.read_all().await.unwrap(),
        vec![("k2".to_string(), "v2".to_string())]
    );
}

#[wasm_bindgen_test]
async fn a_persist_of_many_events_is_one_indexed_db_record() {
    let opened = Storage::open(StoragePreference::Auto, "test-chunked").await;
    let mut storage = opened.storage;
    let events: Vec<StoredEvent> = (10..60).map(event).collect();
    settle(storage.write(&events, false)).await;
    storage.close();
    let store = IndexedDbStore::open("test-chunked").await.unwrap();
    assert_eq!(
        store.read_all().await.unwrap().len(),
        1,
        "50 events, one record"
    );
    let reopened = Storage::open(StoragePreference::Auto, "test-chunked").await;
    assert_eq!(reopened.events, events);
    let mut cleanup = reopened.storage;
    let ids: Vec<String> = events.iter().map(|e| e.message_id.clone()).collect();
    settle(cleanup.delete(&ids)).await;
    assert!(
        store.read_all().await.unwrap().is_empty(),
        "a fully forgotten chunk is deleted"
    );
}

#[wasm_bindgen_test]
async fn storage_prefers_indexed_db_and_restores_in_write_order() {
    let opened = Storage::open(StoragePreference::Auto, "test-order").await;
    let mut storage = opened.storage;
    assert_eq!(storage.kind(), "indexeddb");
    assert!(opened.problems.is_empty());
    // Written newest first, in two transactions: read back in write order.
    settle(storage.write(&[event(3), event(1)], false)).await;
    settle(storage.write(&[event(2)], false)).await;
    storage.close();
    let reopened = Storage::open(StoragePreference::Auto, "test-order").await;
    let ids: Vec<String> = reopened
        .events
        .iter()
        .map(|e| e.message_id.clone())
        .collect();
    assert_eq!(ids, [event(3), event(1), event(2)].map(|e| e.message_id));
    assert_eq!(reopened.events[0], event(3));
}

#[wasm_bindgen_test]
async fn local_storage_round_trips_events() {
    let opened = Storage::open(StoragePreference::LocalStorage, "test-ls").await;
    let mut storage = opened.storage;
    assert_eq!(storage.kind(), "localstorage");
    settle(storage.write(&[event(1), event(2)], false)).await;
    settle(storage.delete(&[event(1).message_id])).await;
    let reopened = Storage::open(StoragePreference::LocalStorage, "test-ls").await;
    assert_eq!(reopened.events, vec![event(2)]);
    let mut cleanup = reopened.storage;
    settle(cleanup.delete(&[event(2).message_id])).await;
}

#[wasm_bindgen_test]
async fn corrupt_records_come_back_as_refusable_entries() {
    let store = LocalStore::open("test-corrupt").unwrap();
    store.put("not-a-record", "garbage").unwrap();
    let opened = Storage::open(StoragePreference::LocalStorage, "test-corrupt").await;
    assert_eq!(opened.events.len(), 1);
    assert_eq!(opened.events[0].message_id, "not-a-record");
    assert!(
        opened.events[0].json.is_empty(),
        "the core will count and refuse it"
    );
    store.delete("not-a-record");
}

#[wasm_bindgen_test]
async fn an_indexed_db_write_on_a_closed_database_is_reported() {
    let opened = Storage::open(StoragePreference::Auto, "test-closed").await;
    let mut storage = opened.storage;
    assert_eq!(storage.kind(), "indexeddb");
    storage.close();
    // Refused at once or by the transaction: either way a value, not a throw.
    match storage.write(&[event(1)], false) {
        Write::Failed(message) => assert!(message.contains("InvalidStateError"), "{message}"),
        Write::Pending(promise) => assert!(
            JsFuture::from(promise).await.is_err(),
            "write to a closed database succeeded"
        ),
        Write::Done => panic!("write to a closed database reported done"),
    }
}

#[wasm_bindgen_test]
async fn events_spilled_on_unload_are_folded_into_indexed_db_at_the_next_start() {
    // As if the last page spilled event 7 and died before IndexedDB committed.
    let spill = LocalStore::open("test-spill:spill").unwrap();
    let record = analytics_wasm::core::record::encode(1, &event(7));
    spill.put(&event(7).message_id, &record).unwrap();
    let opened = Storage::open(StoragePreference::Auto, "test-spill").await;
    assert_eq!(opened.events, vec![event(7)]);
    assert!(
        spill.read_all().is_empty(),
        "the spill is emptied once IndexedDB holds it"
    );
    let storage = opened.storage;
    storage.close();
    let again = Storage::open(StoragePreference::Auto, "test-spill").await;
    assert_eq!(again.events, vec![event(7)], "now in IndexedDB");
    let mut cleanup = again.storage;
    settle(cleanup.delete(&[event(7).message_id])).await;
}

#[wasm_bindgen_test]
async fn a_forgotten_event_leaves_the_spill_too() {
    let opened = Storage::open(StoragePreference::Auto, "test-spill-forget").await;
    let mut storage = opened.storage;
    settle(storage.write(&[event(8)], true)).await;
    let spill = LocalStore::open("test-spill-forget:spill").unwrap();
    assert_eq!(
        spill.read_all().len(),
        1,
        "written to the spill while hiding"
    );
    settle(storage.delete(&[event(8).message_id])).await;
    assert!(
        spill.read_all().is_empty(),
        "a delivered event must not come back from the spill"
    );
}
