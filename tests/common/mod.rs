//! A test driver for `ClientEventQueue`: a fake clock, a fake storage that
//! applies `Persist`/`Forget` in order, the events' names and sizes as the
//! shell would hold them, and a log of every send.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};

use analytics_wasm::core::{
    Action, BatchId, ClientEventQueue, Config, Envelope, Handle, Millis, Notice, Priority,
    ReceiptRequest, RestoreReport, RestoreSource, RestoredEvent, SendOutcome, SendRequest,
    TrackError,
};

pub const START: Millis = 1_700_000_000_000;

/// The body of a batch of no events, as the shell builds it:
/// `{"batch":[],"sentAt":"2023-11-14T22:13:20.000Z"}`.
pub const ENVELOPE: Envelope = Envelope {
    empty_body_bytes: 48,
};

/// Bytes an event's JSON takes besides its name and properties (type,
/// messageId, anonymousId, timestamp and the member names).
pub const EVENT_FRAME_BYTES: usize = 150;

pub fn config() -> Config {
    Config::default()
}

pub fn ok() -> SendOutcome<'static> {
    status(200)
}

pub fn status(status: u16) -> SendOutcome<'static> {
    SendOutcome::Response {
        status,
        retry_after: None,
        rejected: &[],
    }
}

/// The ids of a batch's events (each event's id is its handle), in order.
pub fn ids_in(request: &SendRequest) -> Vec<String> {
    request.events.iter().map(|h| h.to_string()).collect()
}

pub fn handle_of(id: &str) -> Handle {
    id.parse().expect("an id the harness made")
}

/// What storage keeps of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub message_id: String,
    pub created_at_ms: Millis,
    pub bytes: usize,
}

impl StoredEvent {
    pub fn restored(&self) -> RestoredEvent {
        RestoredEvent {
            handle: handle_of(&self.message_id),
            bytes: self.bytes,
            created_wall: self.created_at_ms,
        }
    }
}

/// Fake browser storage: keyed by id, read back in write order.
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

    /// Everything stored, as `restore` takes it.
    pub fn restorable(&self) -> Vec<RestoredEvent> {
        self.by_order.values().map(StoredEvent::restored).collect()
    }
}

/// What the shell knows of an event it holds.
#[derive(Debug, Clone)]
pub struct Held {
    pub name: String,
    pub bytes: usize,
    pub tracked_at: Millis,
}

pub struct Harness {
    pub queue: ClientEventQueue,
    /// The monotonic clock.
    pub now: Millis,
    /// The wall clock minus the monotonic one (see `set_wall_clock`).
    pub wall_offset: i64,
    /// What storage holds after every `Persist`/`Forget` so far.
    pub storage: Storage,
    /// Every batch sent, in order.
    pub sent: Vec<SendRequest>,
    /// Batches sent and not yet settled.
    pub open: Vec<SendRequest>,
    pub notices: Vec<Notice>,
    /// The events tracked so far, by handle (their id is the handle).
    pub held: HashMap<Handle, Held>,
    pub next_handle: Handle,
    /// Every event released so far, in order.
    pub released: Vec<Handle>,
    /// Every receipt request made, in order.
    pub asked: Vec<ReceiptRequest>,
    /// The receipt request awaiting its answer, if any.
    pub asking: Option<ReceiptRequest>,
}

impl Harness {
    pub fn new(config: Config) -> Self {
        Harness {
            queue: ClientEventQueue::new(config, 7, ENVELOPE).expect("valid config"),
            now: START,
            wall_offset: 0,
            storage: Storage::default(),
            sent: Vec::new(),
            open: Vec::new(),
            notices: Vec::new(),
            held: HashMap::new(),
            next_handle: 1,
            released: Vec::new(),
            asked: Vec::new(),
            asking: None,
        }
    }

    pub fn wall(&self) -> Millis {
        (self.now as i64 + self.wall_offset) as Millis
    }

    /// Moves the wall clock to `wall` (the monotonic clock stays).
    pub fn set_wall_clock(&mut self, wall: Millis) {
        self.wall_offset = wall as i64 - self.now as i64;
        self.queue.set_wall_clock(wall, self.now);
    }

    /// A handle for an event the shell holds (as a restored one).
    pub fn hold(&mut self, name: &str, bytes: usize, tracked_at: Millis) -> Handle {
        let handle = self.next_handle;
        self.next_handle += 1;
        self.held.insert(
            handle,
            Held {
                name: name.to_string(),
                bytes,
                tracked_at,
            },
        );
        handle
    }

    /// Gives the queue stored events back, as a new page of the shell
    /// would: each keeps its id (its handle here), name and size.
    pub fn restore(&mut self, stored: &[StoredEvent], source: RestoreSource) -> RestoreReport {
        for event in stored {
            let handle = handle_of(&event.message_id);
            self.next_handle = self.next_handle.max(handle + 1);
            self.held.insert(
                handle,
                Held {
                    name: event.message_id.clone(),
                    bytes: event.bytes,
                    tracked_at: event.created_at_ms,
                },
            );
        }
        let restorable = stored.iter().map(StoredEvent::restored).collect();
        self.queue.restore(restorable, source, self.now)
    }

    pub fn try_track_with(&mut self, name: &str, properties: &str) -> Result<String, TrackError> {
        self.try_track_prioritized(name, properties, Priority::Normal)
    }

    pub fn try_track_prioritized(
        &mut self,
        name: &str,
        properties: &str,
        priority: Priority,
    ) -> Result<String, TrackError> {
        let bytes = EVENT_FRAME_BYTES + name.len() + properties.len();
        let wall = self.wall();
        let handle = self.hold(name, bytes, wall);
        self.queue
            .track_with_priority(handle, bytes, Some(wall), priority, self.now)
            .map(|()| handle.to_string())
    }

    pub fn track(&mut self, name: &str) -> String {
        self.try_track_with(name, "{}").expect("tracked")
    }

    pub fn track_many(&mut self, count: usize) -> Vec<String> {
        (0..count).map(|i| self.track(&format!("e{i}"))).collect()
    }

    /// The names of a batch's events, in order.
    pub fn names_in(&self, request: &SendRequest) -> Vec<String> {
        request
            .events
            .iter()
            .map(|h| self.held[h].name.clone())
            .collect()
    }

    /// Drains `poll_action`, applying storage work; returns the new sends.
    pub fn pump(&mut self) -> Vec<SendRequest> {
        let mut sends = Vec::new();
        let mut guard = 0;
        while let Some(action) = self.queue.poll_action(self.now) {
            guard += 1;
            assert!(guard < 1_000_000, "poll_action never ran dry");
            if let Action::Send(request) = &action {
                assert!(!request.events.is_empty(), "empty batch");
                let bytes: usize = request.events.iter().map(|h| self.held[h].bytes).sum();
                assert_eq!(
                    request.body_bytes,
                    ENVELOPE.overhead(request.events.len()) + bytes,
                    "body size"
                );
            }
            match action {
                Action::Persist(events) => {
                    for handle in events {
                        let held = &self.held[&handle];
                        self.storage.insert(StoredEvent {
                            message_id: handle.to_string(),
                            created_at_ms: held.tracked_at,
                            bytes: held.bytes,
                        });
                    }
                }
                Action::Release(handles) => {
                    for handle in handles {
                        self.storage.remove(&handle.to_string());
                        self.released.push(handle);
                    }
                }
                Action::Send(request) => {
                    self.sent.push(request.clone());
                    self.open.push(request.clone());
                    sends.push(request);
                }
                Action::RequestReceipts(request) => {
                    assert!(
                        !request.events.is_empty(),
                        "a receipt request about nothing"
                    );
                    assert!(self.asking.is_none(), "two receipt requests in flight");
                    self.asked.push(request.clone());
                    self.asking = Some(request);
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
            self.queue
                .on_send_result(batch_id, outcome, self.now)
                .is_some(),
            "batch {batch_id} was in flight"
        );
    }

    /// Settles every open batch with `outcome`, then pumps.
    pub fn settle_all(&mut self, outcome: SendOutcome<'_>) -> Vec<SendRequest> {
        for request in std::mem::take(&mut self.open) {
            assert!(self
                .queue
                .on_send_result(request.batch_id, outcome, self.now)
                .is_some());
        }
        self.pump()
    }

    /// Answers the receipt request in flight: the collector holds `held`
    /// of its events (`None`: it gives no receipts); then pumps.
    pub fn answer_receipts(&mut self, held: Option<&[Handle]>) -> Vec<SendRequest> {
        let request = self.asking.take().expect("a receipt request in flight");
        let report = self
            .queue
            .on_receipts(request.request_id, ok(), held, self.now);
        assert!(
            report.is_some(),
            "receipt request {} was in flight",
            request.request_id
        );
        self.pump()
    }

    /// Runs the queue to quiescence with a collector that accepts everything
    /// (and holds none of the events it is asked about).
    pub fn deliver_everything(&mut self) -> Vec<String> {
        let mut delivered = Vec::new();
        self.queue.flush(self.now);
        for _ in 0..100_000 {
            self.pump();
            if self.asking.is_some() {
                self.answer_receipts(Some(&[]));
                continue;
            }
            if self.open.is_empty() {
                let m = self.queue.metrics();
                if m.pending == 0 && m.unconfirmed == 0 {
                    return delivered;
                }
                self.wake();
                continue;
            }
            for request in std::mem::take(&mut self.open) {
                delivered.extend(ids_in(&request));
                self.queue.on_send_result(request.batch_id, ok(), self.now);
            }
        }
        panic!("queue did not drain");
    }

    pub fn sent_ids(&self) -> Vec<String> {
        self.sent.iter().flat_map(ids_in).collect()
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
