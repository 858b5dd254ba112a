//! Browser tests of persistence (headless Chromium via wasm-bindgen-test):
//! partitioned IndexedDB and localStorage round trips, write order, the
//! chunked log, the unload spill, corrupt records, and write errors as
//! values. Tests that break browser globals live in
//! `browser_storage_failures.rs`: async tests here run interleaved.
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
async fn indexed_db_round_trips_key_values_under_a_prefix() {
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
    JsFuture::from(store.apply("a/", &put).unwrap())
        .await
        .unwrap();
    JsFuture::from(store.apply("b/", &put).unwrap())
        .await
        .unwrap();
    let mut read = store.read_prefix("a/").await.unwrap();
    read.sort();
    assert_eq!(read, pairs);
    JsFuture::from(store.delete_prefix("a/").unwrap())
        .await
        .unwrap();
    assert!(store.read_prefix("a/").await.unwrap().is_empty());
    assert_eq!(
        store.read_prefix("b/").await.unwrap().len(),
        2,
        "other prefixes untouched"
    );
    JsFuture::from(store.delete_prefix("b/").unwrap())
        .await
        .unwrap();
}

#[wasm_bindgen_test]
async fn another_tab_reads_a_partition_in_write_order_and_deletes_it() {
    let (first, problems) = Storage::open(StoragePreference::Auto, "test-order", "tab1").await;
    assert_eq!(first.kind(), "indexeddb");
    assert!(problems.is_empty());
    settle(first.write(&[event(3), event(1)], false)).await;
    settle(first.write(&[event(2)], false)).await;
    let (second, _) = Storage::open(StoragePreference::Auto, "test-order", "tab2").await;
    let partitions = second.partitions();
    assert_eq!(partitions.others().await, ["tab1"]);
    let events = partitions.read("tab1").await.unwrap();
    assert_eq!(events, vec![event(3), event(1), event(2)]);
    partitions.delete("tab1").await.unwrap();
    assert!(partitions.others().await.is_empty());
}

#[wasm_bindgen_test]
async fn a_persist_of_many_events_is_one_indexed_db_record() {
    let (storage, _) = Storage::open(StoragePreference::Auto, "test-chunked", "tab").await;
    let events: Vec<StoredEvent> = (10..60).map(event).collect();
    settle(storage.write(&events, false)).await;
    let store = IndexedDbStore::open("test-chunked").await.unwrap();
    assert_eq!(
        store.read_prefix("tab/").await.unwrap().len(),
        1,
        "50 events, one record"
    );
    let ids: Vec<String> = events.iter().map(|e| e.message_id.clone()).collect();
    settle(storage.delete(&ids[..10])).await;
    assert_eq!(
        store.read_prefix("tab/").await.unwrap().len(),
        2,
        "the chunk and its tombstones"
    );
    let (other, _) = Storage::open(StoragePreference::Auto, "test-chunked", "other").await;
    assert_eq!(
        other.partitions().read("tab").await.unwrap(),
        events[10..].to_vec()
    );
    settle(storage.delete(&ids[10..])).await;
    assert!(
        store.read_prefix("tab/").await.unwrap().is_empty(),
        "a fully forgotten chunk is deleted"
    );
}

#[wasm_bindgen_test]
async fn local_storage_partitions_round_trip_events() {
    let (storage, _) = Storage::open(StoragePreference::LocalStorage, "test-ls", "tab1").await;
    assert_eq!(storage.kind(), "localstorage");
    settle(storage.write(&[event(1), event(2)], false)).await;
    settle(storage.delete(&[event(1).message_id])).await;
    let (other, _) = Storage::open(StoragePreference::LocalStorage, "test-ls", "tab2").await;
    let partitions = other.partitions();
    assert_eq!(partitions.others().await, ["tab1"]);
    assert_eq!(partitions.read("tab1").await.unwrap(), vec![event(2)]);
    partitions.delete("tab1").await.unwrap();
    assert!(partitions.others().await.is_empty());
}

#[wasm_bindgen_test]
async fn corrupt_records_come_back_as_refusable_entries() {
    let store = LocalStore::open("test-corrupt:tab:e:").unwrap();
    store.put("not-a-record", "garbage").unwrap();
    let (other, _) = Storage::open(StoragePreference::LocalStorage, "test-corrupt", "other").await;
    let events = other.partitions().read("tab").await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].message_id, "not-a-record");
    assert!(
        events[0].json.is_empty(),
        "the core will count and refuse it"
    );
    store.delete("not-a-record");
}

#[wasm_bindgen_test]
async fn an_indexed_db_write_on_a_closed_database_is_reported() {
    let (storage, _) = Storage::open(StoragePreference::Auto, "test-closed", "tab").await;
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
async fn writes_while_hiding_are_spilled_and_read_with_the_partition() {
    let (storage, _) = Storage::open(StoragePreference::Auto, "test-spill", "tab").await;
    // As if the page died before IndexedDB committed: only the spill holds it.
    let write = storage.write(&[event(7)], true);
    let spill = LocalStore::open("test-spill:tab:s:").unwrap();
    assert_eq!(
        spill.read_all().len(),
        1,
        "written synchronously to the spill"
    );
    settle(write).await;
    let (other, _) = Storage::open(StoragePreference::Auto, "test-spill", "other").await;
    let partitions = other.partitions();
    assert_eq!(partitions.others().await, ["tab"]);
    assert_eq!(partitions.read("tab").await.unwrap()[0], event(7));
    partitions.delete("tab").await.unwrap();
    assert!(spill.read_all().is_empty(), "adoption clears the spill too");
}

#[wasm_bindgen_test]
async fn a_forgotten_event_leaves_the_spill_too() {
    let (storage, _) = Storage::open(StoragePreference::Auto, "test-spill-forget", "tab").await;
    settle(storage.write(&[event(8)], true)).await;
    let spill = LocalStore::open("test-spill-forget:tab:s:").unwrap();
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
