//! Property test of the chunked event log: after any sequence of appends,
//! removals and reloads, what a reload finds is exactly the events not yet
//! removed, and the store is empty once every event is removed.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::BTreeMap;

use analytics_wasm::core::chunks::{ChunkLog, KvWrite};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<u8>),
    Remove(Vec<u8>),
    Reload,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => proptest::collection::vec(0u8..40, 1..8).prop_map(Op::Append),
        3 => proptest::collection::vec(0u8..40, 1..8).prop_map(Op::Remove),
        1 => Just(Op::Reload),
    ]
}

fn apply(store: &mut BTreeMap<String, String>, write: KvWrite) {
    for (key, value) in write.puts {
        store.insert(key, value);
    }
    for key in write.deletes {
        store.remove(&key);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, rng_seed: common::fixed_seed(20261123), ..ProptestConfig::default() })]

    #[test]
    fn a_reload_finds_exactly_the_events_not_removed_with_their_records(ops in proptest::collection::vec(op(), 1..60)) {
        let mut store = BTreeMap::new();
        let mut log = ChunkLog::default();
        // id → its record line, as the latest append wrote it.
        let mut model: BTreeMap<String, String> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Append(ids) => {
                    // Records of one append share a long ending (a page
                    // view's context), so chunks store it once; an id's
                    // number changes it, so endings also differ in part.
                    let context = format!("{:0>80}", ids.first().copied().unwrap_or(0) % 3);
                    let records: Vec<(String, String)> = ids
                        .iter()
                        .map(|n| (format!("id{n}"), format!("1\tid{n}\t0\t{{\"n\":{n},\"context\":\"{context}\"}}")))
                        .collect::<BTreeMap<_, _>>()
                        .into_iter()
                        .collect();
                    model.extend(records.iter().cloned());
                    apply(&mut store, log.append(&records));
                }
                Op::Remove(ids) => {
                    let ids: Vec<String> = ids.iter().map(|n| format!("id{n}")).collect();
                    for id in &ids {
                        model.remove(id);
                    }
                    apply(&mut store, log.remove(&ids));
                }
                Op::Reload => {
                    let (reloaded, _) = ChunkLog::load(store.clone().into_iter().collect());
                    log = reloaded;
                }
            }
            let (_, live) = ChunkLog::load(store.clone().into_iter().collect());
            let found: BTreeMap<String, String> = live.into_iter().collect();
            prop_assert_eq!(&found, &model);
        }
        let everything: Vec<String> = model.keys().cloned().collect();
        apply(&mut store, log.remove(&everything));
        prop_assert!(store.is_empty(), "left behind: {:?}", store);
    }
}
