//! A test driver for `ClientEventQueue`: a fake clock, a fake storage that
//! applies `Persist`/`Forget` in order, and a log of every send.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};

use analytics_wasm::core::json::{parse, Value};
use analytics_wasm::core::{
    Action, BatchId, ClientEventQueue, Config, EventInput, EventKind, Millis, Notice, SendOutcome,
    SendRequest, StoredEvent, TrackError,
};

pub const START: Millis = 1_700_000_000_000;

pub fn config() -> Config {
    Config {
        endpoint: "https://collector.example/v1/batch".into(),
        ..Config::default()
    }
}

pub fn ok() -> SendOutcome<'static> {
    SendOutcome::Response {
        status: 200,
        retry_after: None,
        body: "",
    }
}

pub fn status(status: u16) -> SendOutcome<'static> {
    SendOutcome::Response {
        status,
        retry_after: None,
        body: "",
    }
}

/// The events of a batch body, in order.
fn batch_events(body: &str) -> Vec<Value> {
    let value = parse(body).expect("batch body is valid JSON");
    match value.get("batch") {
        Some(Value::Array(events)) => events.clone(),
        _ => panic!("body has no batch array: {body}"),
    }
}

fn string_member(event: &Value, key: &str) -> String {
    event
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// The `messageId`s in a batch body, in order.
pub fn ids_in(body: &str) -> Vec<String> {
    batch_events(body)
        .iter()
        .map(|e| string_member(e, "messageId"))
        .collect()
}

/// The `event` names in a batch body, in order.
pub fn names_in(body: &str) -> Vec<String> {
    batch_events(body)
        .iter()
        .map(|e| string_member(e, "event"))
        .collect()
}

/// Fake browser storage: keyed by `messageId`, read back in write order (as
/// IndexedDB with an auto-increment key returns records).
#[derive(Debug, Default)]
pub struct Storage {
    by_order: BTreeMap<u64, StoredEvent>,
    order_of: HashMap<String, u64>,
    writes: u64,
}

impl Storage {
    pub fn insert(&mut self, event: StoredEvent) {
        self.remove(&event.message_id);
        self.writes += 1;
        self.order_of.insert(event.message_id.clone(), self.writes);
        self.by_order.insert(self.writes, event);
    }

    pub fn remove(&mut self, id: &str) {
        if let Some(order) = self.order_of.remove(id) {
            self.by_order.remove(&order);
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.order_of.contains_key(id)
    }

    pub fn len(&self) -> usize {
        self.order_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order_of.is_empty()
    }

    /// Everything stored, in write order.
    pub fn read_all(&self) -> Vec<StoredEvent> {
        self.by_order.values().cloned().collect()
    }
}

pub struct Harness {
    pub queue: ClientEventQueue,
    pub now: Millis,
    /// What storage holds after every `Persist`/`Forget` so far.
    pub storage: Storage,
    /// Every batch sent, in order.
    pub sent: Vec<SendRequest>,
    /// Batches sent and not yet settled.
    pub open: Vec<SendRequest>,
    pub notices: Vec<Notice>,
    pub counter: u128,
}

impl Harness {
    pub fn new(config: Config) -> Self {
        Harness {
            queue: ClientEventQueue::new(config, 7).expect("valid config"),
            now: START,
            storage: Storage::default(),
            sent: Vec::new(),
            open: Vec::new(),
            notices: Vec::new(),
            counter: 0,
        }
    }

    pub fn random(&mut self) -> [u8; 16] {
        self.counter += 1;
        self.counter.to_le_bytes()
    }

    pub fn try_track_with(&mut self, name: &str, properties: &str) -> Result<String, TrackError> {
        let input = EventInput {
            kind: EventKind::Track,
            name: Some(name),
            user_id: None,
            anonymous_id: "anon",
            properties_json: Some(properties),
            context_json: None,
            timestamp: None,
        };
        let random = self.random();
        self.queue
            .track(&input, random, self.now)
            .map(|id| id.to_string())
    }

    pub fn track(&mut self, name: &str) -> String {
        self.try_track_with(name, "{}").expect("tracked")
    }

    pub fn track_many(&mut self, count: usize) -> Vec<String> {
        (0..count).map(|i| self.track(&format!("e{i}"))).collect()
    }

    /// Drains `poll_action`, applying storage work; returns the new sends.
    pub fn pump(&mut self) -> Vec<SendRequest> {
        let mut sends = Vec::new();
        let mut guard = 0;
        while let Some(action) = self.queue.poll_action(self.now) {
            guard += 1;
            assert!(guard < 1_000_000, "poll_action never ran dry");
            if let Action::Send(request) = &action {
                assert!(request.events > 0, "empty batch");
            }
            match action {
                Action::Persist(events) => {
                    for event in events {
                        self.storage.insert(event);
                    }
                }
                Action::Forget(ids) => {
                    for id in ids {
                        self.storage.remove(&id.to_string());
                    }
                }
                Action::Send(request) => {
                    self.sent.push(request.clone());
                    self.open.push(request.clone());
                    sends.push(request);
                }
                Action::Notify(notice) => self.notices.push(notice),
            }
        }
        // A wakeup due now with nothing to do would spin the caller's timer.
        if let Some(at) = self.queue.next_wakeup() {
            assert!(
                at > self.now,
                "next_wakeup {at} is due at {} but poll_action is dry",
                self.now
            );
        }
        sends
    }

    pub fn advance(&mut self, ms: Millis) -> Vec<SendRequest> {
        self.now += ms;
        self.pump()
    }

    /// Advances to `next_wakeup()` (if later) and pumps.
    pub fn wake(&mut self) -> Vec<SendRequest> {
        if let Some(at) = self.queue.next_wakeup() {
            self.now = self.now.max(at);
        }
        self.pump()
    }

    /// Follows `next_wakeup()` until something is sent (or nothing is due).
    pub fn wake_until_send(&mut self) -> Vec<SendRequest> {
        for _ in 0..1_000 {
            let sends = self.wake();
            if !sends.is_empty() || self.queue.next_wakeup().is_none() {
                return sends;
            }
        }
        panic!("woke 1,000 times without a send");
    }

    pub fn settle(&mut self, batch_id: BatchId, outcome: SendOutcome<'_>) {
        self.open.retain(|r| r.batch_id != batch_id);
        assert!(
            self.queue.on_send_result(batch_id, outcome, self.now),
            "batch {batch_id} was in flight"
        );
    }

    /// Settles every open batch with `outcome`, then pumps.
    pub fn settle_all(&mut self, outcome: SendOutcome<'_>) -> Vec<SendRequest> {
        for request in std::mem::take(&mut self.open) {
            assert!(self
                .queue
                .on_send_result(request.batch_id, outcome, self.now));
        }
        self.pump()
    }

    /// Runs the queue to quiescence with a collector that accepts everything.
    pub fn deliver_everything(&mut self) -> Vec<String> {
        let mut delivered = Vec::new();
        self.queue.flush(self.now);
        for _ in 0..100_000 {
            self.pump();
            if self.open.is_empty() {
                if self.queue.metrics().pending == 0 {
                    return delivered;
                }
                self.wake();
                continue;
            }
            for request in std::mem::take(&mut self.open) {
                delivered.extend(ids_in(&request.body));
                self.queue.on_send_result(request.batch_id, ok(), self.now);
            }
        }
        panic!("queue did not drain");
    }

    pub fn sent_ids(&self) -> Vec<String> {
        self.sent.iter().flat_map(|r| ids_in(&r.body)).collect()
    }
}

/// A fixed proptest seed (`default` unless `PROPTEST_RNG_SEED` is set), so
/// CI runs the same cases every time.
pub fn fixed_seed(default: u64) -> proptest::test_runner::RngSeed {
    let chosen = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|s| s.parse().ok());
    proptest::test_runner::RngSeed::Fixed(chosen.unwrap_or(default))
}
