//! Property tests on the whole `ClientEventQueue`: random interleavings of
//! track, time, send outcomes, page visibility, connectivity and crashes with
//! restore, against a model collector and a model storage.
//!
//! The model collector may give receipts or not; a beacon it refuses is
//! "queued" all the same, and one the page left in flight at a crash may
//! have arrived or not.
//!
//! Invariants checked after every step and at the end:
//! - every accepted event ends exactly one way: delivered, dropped with a
//!   counted reason, or lost in a crash before `persistDebounceMs` elapsed;
//!   it reaches the collector once, or again only after its delivery was
//!   unknown (an aborted fetch, a beacon, a crash) and no receipt said so;
//! - no event is in two in-flight batches; no empty batch is sent;
//! - the queue's bounds hold; storage never holds a delivered or dropped event,
//!   and holds every held event once the page is hidden;
//! - batches leave in order: a new batch holds the oldest pending events of
//!   each priority, and a normal one only when no high one waits;
//! - overflow drops a high-priority event only when no normal one waits;
//! - the counters add up; `next_wakeup` never asks for a wake with nothing to do.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::{HashMap, HashSet};

use analytics_wasm::core::{Config, Priority, RestoreSource, RetryAfter, SendOutcome, Transport};
use common::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Track {
        property_bytes: usize,
        high: bool,
    },
    Advance {
        ms: u64,
    },
    /// The wall clock moves by `ms` (either way); the monotonic one does not.
    WallClockJump {
        ms: i64,
    },
    Settle {
        pick: usize,
        outcome: Outcome,
    },
    Flush,
    PageHidden,
    /// `pagehide`: the browser aborts fetches in flight; the collector may
    /// or may not have received them (`arrived`).
    PageUnload {
        arrived: bool,
    },
    PageVisible,
    Online(bool),
    /// The renderer dies; beacons in flight arrived or not.
    Crash {
        beacons_arrived: bool,
    },
    /// The collector answers the receipt request in flight.
    Receipts {
        outcome: Outcome,
    },
}

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Ok,
    OkRejectingFirst,
    BadRequestRejectingLast,
    BadRequestNamingNone,
    TooLarge,
    RateLimited { seconds: u8 },
    ServerError,
    NetworkError,
    Timeout,
    Unauthorized,
    NotFound,
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        6 => Just(Outcome::Ok),
        1 => Just(Outcome::OkRejectingFirst),
        1 => Just(Outcome::BadRequestRejectingLast),
        1 => Just(Outcome::BadRequestNamingNone),
        1 => Just(Outcome::TooLarge),
        1 => (0u8..6).prop_map(|seconds| Outcome::RateLimited { seconds }),
        2 => Just(Outcome::ServerError),
        2 => Just(Outcome::NetworkError),
        1 => Just(Outcome::Timeout),
        1 => Just(Outcome::Unauthorized),
        1 => Just(Outcome::NotFound),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (prop_oneof![9 => 0usize..400, 1 => 400usize..9_000], prop_oneof![3 => Just(false), 1 => Just(true)]).prop_map(|(property_bytes, high)| Op::Track { property_bytes, high }),
        4 => prop_oneof![0u64..200, 200u64..10_000, 10_000u64..120_000].prop_map(|ms| Op::Advance { ms }),
        1 => prop_oneof![-3_600_000i64..3_600_000, -864_000_000i64..864_000_000].prop_map(|ms| Op::WallClockJump { ms }),
        6 => (any::<usize>(), outcome()).prop_map(|(pick, outcome)| Op::Settle { pick, outcome }),
        1 => Just(Op::Flush),
        1 => Just(Op::PageHidden),
        1 => any::<bool>().prop_map(|arrived| Op::PageUnload { arrived }),
        1 => Just(Op::PageVisible),
        1 => any::<bool>().prop_map(Op::Online),
        1 => any::<bool>().prop_map(|beacons_arrived| Op::Crash { beacons_arrived }),
        3 => outcome().prop_map(|outcome| Op::Receipts { outcome }),
    ]
}

fn small_config() -> impl Strategy<Value = Config> {
    (
        (1u32..30, 1u32..40, 1_024u32..8_000, 1_024u32..20_000),
        (5u32..80, 3_000u32..40_000, 1u32..4, 1u32..6),
        (
            0u64..300,
            1_000u64..60_000,
            100_000u64..1_000_000,
            0u64..5_000,
        ),
    )
        .prop_map(
            |(
                (flush_at, max_batch_events, max_batch_bytes, max_beacon_bytes),
                (max_queue_events, max_queue_bytes, flush_concurrency, circuit_failure_threshold),
                (persist_debounce_ms, flush_interval_ms, max_event_age_ms, receipt_grace_ms),
            )| Config {
                flush_at,
                max_batch_events,
                max_batch_bytes,
                max_beacon_bytes: max_beacon_bytes.min(65_536),
                max_queue_events,
                max_queue_bytes,
                flush_concurrency,
                circuit_failure_threshold,
                persist_debounce_ms,
                flush_interval_ms,
                max_event_age_ms,
                receipt_grace_ms,
                retry_base_ms: 500,
                retry_max_ms: 20_000,
                circuit_open_ms: 15_000,
                ..config()
            },
        )
}

/// Everything the test knows across queue restarts.
struct World {
    h: Harness,
    config: Config,
    /// Global order of accepted events: id → track index.
    index_of: HashMap<String, usize>,
    tracked_at: HashMap<String, u64>,
    refused: u64,
    received: HashSet<String>,
    /// Events that reached the collector while the queue could not know it
    /// (a fetch aborted at unload, a beacon, a crash): the queue may send
    /// them again (same messageId) unless a receipt tells it the collector
    /// holds them, so they may arrive twice.
    received_before_abort: HashSet<String>,
    /// Whether the model collector answers receipt requests with receipts.
    gives_receipts: bool,
    lost_in_crash: HashSet<String>,
    /// Drops counted by queues that crashed, plus evictions a crash settled.
    earlier_drops: u64,
    restarts: u64,
    /// The wall clock, which jumps apart from the monotonic `h.now`.
    wall: i64,
    /// Events released by queues that crashed.
    released: Vec<u32>,
    /// Events tracked with high priority (storage keeps none: a crash forgets).
    high: HashSet<String>,
}

fn drops(h: &Harness) -> u64 {
    let c = h.queue.metrics().counters;
    c.dropped_overflow + c.dropped_rejected + c.dropped_too_large + c.dropped_expired
}

impl World {
    fn new(config: Config, gives_receipts: bool) -> Self {
        World {
            gives_receipts,
            h: Harness::new(config.clone()),
            config,
            index_of: HashMap::new(),
            tracked_at: HashMap::new(),
            refused: 0,
            received: HashSet::new(),
            received_before_abort: HashSet::new(),
            lost_in_crash: HashSet::new(),
            earlier_drops: 0,
            restarts: 0,
            wall: common::START as i64,
            released: Vec::new(),
            high: HashSet::new(),
        }
    }

    fn apply(&mut self, op: Op) {
        let hides = matches!(op, Op::PageHidden | Op::PageUnload { .. });
        match op {
            Op::Track {
                property_bytes,
                high,
            } => {
                let properties = format!(r#"{{"p":"{}"}}"#, "x".repeat(property_bytes));
                let name = format!("e{}", self.index_of.len());
                let priority = if high {
                    Priority::High
                } else {
                    Priority::Normal
                };
                let held_before: HashSet<String> = self.held_ids();
                match self.h.try_track_prioritized(&name, &properties, priority) {
                    Ok(id) => {
                        let index = self.index_of.len();
                        self.index_of.insert(id.clone(), index);
                        self.tracked_at.insert(id.clone(), self.h.now);
                        if high {
                            self.high.insert(id);
                        }
                    }
                    Err(_) => self.refused += 1,
                }
                self.check_overflow_spared_high(&held_before);
            }
            Op::Advance { ms } => {
                self.h.now += ms;
                self.wall = self.wall.saturating_add(ms as i64);
                self.h.queue.set_wall_clock(self.wall as u64, self.h.now);
            }
            Op::WallClockJump { ms } => {
                self.wall = self.wall.saturating_add(ms).max(0);
                self.h.queue.set_wall_clock(self.wall as u64, self.h.now);
            }
            Op::Settle { pick, outcome } => self.settle(pick, outcome),
            Op::Flush => self.h.queue.flush(self.h.now),
            Op::PageHidden => self.h.queue.on_page_hidden(self.h.now),
            Op::PageUnload { arrived } => self.unload(arrived),
            Op::PageVisible => self.h.queue.on_page_visible(self.h.now),
            Op::Online(online) => self.h.queue.set_online(online, self.h.now),
            Op::Crash { beacons_arrived } => self.crash(beacons_arrived),
            Op::Receipts { outcome } => self.answer_receipts(outcome),
        }
        let before: HashSet<String> = self.open_ids();
        let sends = self.h.pump();
        self.check_new_batches(&sends, &before);
        self.check_invariants();
        if hides {
            for handle in self.h.queue.held_events() {
                assert!(
                    self.h.storage.contains(&handle.to_string()),
                    "hidden page left {handle} unpersisted"
                );
            }
        }
    }

    fn open_ids(&self) -> HashSet<String> {
        self.h.open.iter().flat_map(ids_in).collect()
    }

    fn held_ids(&self) -> HashSet<String> {
        self.h
            .queue
            .held_events()
            .iter()
            .map(|h| h.to_string())
            .collect()
    }

    /// What a track dropped for overflow: a high event only if no normal one is left waiting.
    fn check_overflow_spared_high(&self, held_before: &HashSet<String>) {
        let held_now = self.held_ids();
        let open = self.open_ids();
        let dropped_high = held_before
            .iter()
            .any(|id| !held_now.contains(id) && self.high.contains(id));
        if dropped_high {
            let normal_waiting = held_now
                .iter()
                .any(|id| !open.contains(id) && !self.high.contains(id));
            assert!(
                !normal_waiting,
                "overflow dropped a high event while a normal one waited"
            );
        }
    }

    fn settle(&mut self, pick: usize, outcome: Outcome) {
        if self.h.open.is_empty() {
            return;
        }
        let request = self.h.open[pick % self.h.open.len()].clone();
        let ids = ids_in(&request);
        if request.transport == Transport::Beacon {
            // sendBeacon takes the body (and the collector stores it, or
            // answers 503 to nobody), or refuses it.
            let result = match outcome {
                Outcome::Ok | Outcome::OkRejectingFirst => {
                    self.receive_unknowingly(&ids);
                    SendOutcome::BeaconQueued
                }
                Outcome::ServerError => SendOutcome::BeaconQueued,
                _ => SendOutcome::BeaconRefused,
            };
            self.h.settle(request.batch_id, result);
            return;
        }
        let first = [request.events[0]];
        let last = [request.events[request.events.len() - 1]];
        let (status, retry_after, rejected): (u16, _, &[u32]) = match outcome {
            Outcome::Ok => (200, None, &[]),
            Outcome::OkRejectingFirst => (200, None, &first),
            Outcome::BadRequestRejectingLast => (400, None, &last),
            Outcome::BadRequestNamingNone => (400, None, &[]),
            Outcome::TooLarge => (413, None, &[]),
            Outcome::RateLimited { seconds } => {
                (429, Some(RetryAfter::Seconds(seconds.into())), &[])
            }
            Outcome::ServerError => (503, None, &[]),
            Outcome::Unauthorized => (401, None, &[]),
            Outcome::NotFound => (404, None, &[]),
            Outcome::NetworkError | Outcome::Timeout => (0, None, &[]),
        };
        match outcome {
            Outcome::Ok => self.receive(&ids),
            Outcome::OkRejectingFirst => self.receive(&ids[1..]),
            _ => {}
        }
        let result = match outcome {
            Outcome::NetworkError => SendOutcome::NetworkError,
            Outcome::Timeout => SendOutcome::Timeout,
            _ => SendOutcome::Response {
                status,
                retry_after,
                rejected,
            },
        };
        self.h.settle(request.batch_id, result);
    }

    fn receive(&mut self, ids: &[String]) {
        for id in ids {
            let again = !self.received.insert(id.clone());
            assert!(
                !again || self.received_before_abort.remove(id),
                "collector received {id} twice"
            );
        }
    }

    /// The collector stores `ids` and the queue cannot know it.
    fn receive_unknowingly(&mut self, ids: &[String]) {
        self.receive(ids);
        self.received_before_abort.extend(ids.iter().cloned());
    }

    /// The collector answers the receipt request in flight: the events it
    /// holds, if it gives receipts.
    fn answer_receipts(&mut self, outcome: Outcome) {
        let Some(request) = self.h.asking.take() else {
            return;
        };
        let held: Vec<u32> = request
            .events
            .iter()
            .copied()
            .filter(|handle| self.received.contains(&handle.to_string()))
            .collect();
        // Those the queue still asks about: overflow or expiry may have dropped some meanwhile.
        let asked_still: HashSet<u32> = self.h.queue.unconfirmed_events().into_iter().collect();
        let (result, receipts) = match outcome {
            Outcome::ServerError => (
                SendOutcome::Response {
                    status: 503,
                    retry_after: None,
                    rejected: &[],
                },
                None,
            ),
            Outcome::NetworkError => (SendOutcome::NetworkError, None),
            Outcome::Timeout => (SendOutcome::Timeout, None),
            Outcome::Unauthorized => (
                SendOutcome::Response {
                    status: 401,
                    retry_after: None,
                    rejected: &[],
                },
                None,
            ),
            Outcome::NotFound => (
                SendOutcome::Response {
                    status: 404,
                    retry_after: None,
                    rejected: &[],
                },
                None,
            ),
            _ if self.gives_receipts => (
                SendOutcome::Response {
                    status: 200,
                    retry_after: None,
                    rejected: &[],
                },
                Some(&held[..]),
            ),
            _ => (
                SendOutcome::Response {
                    status: 200,
                    retry_after: None,
                    rejected: &[],
                },
                None,
            ),
        };
        let report = self
            .h
            .queue
            .on_receipts(request.request_id, result, receipts, self.h.now)
            .expect("the request was in flight");
        if let Some(held) = receipts {
            let confirmed: Vec<&u32> = held.iter().filter(|h| asked_still.contains(h)).collect();
            assert_eq!(report.sent, confirmed.len(), "each event held is confirmed");
            // Delivered, the queue says, and rightly: the collector has it.
            for handle in confirmed {
                self.received_before_abort.remove(&handle.to_string());
            }
        }
    }

    /// The page hides for unload: its fetches are aborted, never settled.
    fn unload(&mut self, arrived: bool) {
        self.h.queue.on_page_unload(self.h.now);
        if let Some(request) = self.h.asking.take() {
            assert!(
                self.h
                    .queue
                    .on_receipts(
                        request.request_id,
                        SendOutcome::NetworkError,
                        None,
                        self.h.now
                    )
                    .is_none(),
                "an aborted receipt request's late answer is ignored"
            );
        }
        let (aborted, kept) = std::mem::take(&mut self.h.open)
            .into_iter()
            .partition(|r| r.transport == Transport::Fetch);
        self.h.open = kept;
        for request in aborted {
            let ids = ids_in(&request);
            if arrived {
                self.receive_unknowingly(&ids);
            }
            assert!(
                self.h
                    .queue
                    .on_send_result(request.batch_id, SendOutcome::NetworkError, self.h.now)
                    .is_none(),
                "an aborted fetch's late outcome is ignored"
            );
        }
    }

    /// The renderer dies: whatever storage holds is all the next page gets.
    fn crash(&mut self, beacons_arrived: bool) {
        if beacons_arrived {
            let beaconed: Vec<String> = self
                .h
                .open
                .iter()
                .filter(|r| r.transport == Transport::Beacon)
                .flat_map(ids_in)
                .collect();
            self.receive_unknowingly(&beaconed);
        }
        let held: Vec<String> = self
            .h
            .queue
            .held_events()
            .into_iter()
            .map(|handle| handle.to_string())
            .collect();
        let m = self.h.queue.metrics();
        let evicted_in_flight = m.pending + m.in_flight + m.unconfirmed - held.len() as u64;
        for id in &held {
            if !self.h.storage.contains(id) {
                let age = self.h.now - self.tracked_at[id];
                assert!(
                    age < self.config.persist_debounce_ms,
                    "event {id} held {age} ms (debounce {}) was never persisted",
                    self.config.persist_debounce_ms
                );
                self.lost_in_crash.insert(id.clone());
            }
        }
        self.earlier_drops += drops(&self.h) + evicted_in_flight;
        self.restarts += 1;
        let storage = std::mem::take(&mut self.h.storage);
        self.released.extend(std::mem::take(&mut self.h.released));
        let mut next = Harness::new(self.config.clone());
        next.now = self.h.now + 1;
        next.next_handle = self.h.next_handle;
        // A new page load: the same wall clock, a fresh monotonic one.
        self.wall += 1;
        next.set_wall_clock(self.wall as u64);
        next.restore(&storage.read_all(), RestoreSource::OwnStorage);
        next.storage = storage;
        self.h = next;
        // Restored events are normal.
        self.high.clear();
    }

    fn check_new_batches(
        &self,
        sends: &[analytics_wasm::core::SendRequest],
        open_before: &HashSet<String>,
    ) {
        let mut in_flight: HashSet<String> = open_before.clone();
        let held = self.h.queue.held_events();
        let open_now = self.open_ids();
        let unconfirmed: HashSet<u32> = self.h.queue.unconfirmed_events().into_iter().collect();
        let waiting: Vec<String> = held
            .iter()
            .filter(|handle| !unconfirmed.contains(handle))
            .map(|handle| handle.to_string())
            .filter(|id| !open_now.contains(id))
            .collect();
        // The oldest waiting event of each priority.
        let waiting_min = |high: bool| {
            waiting
                .iter()
                .filter(|id| self.high.contains(*id) == high)
                .filter_map(|id| self.index_of.get(id))
                .min()
                .copied()
        };
        let (high_min, normal_min) = (waiting_min(true), waiting_min(false));
        for request in sends {
            let ids = ids_in(request);
            let indices: Vec<usize> = ids.iter().map(|id| self.index_of[id]).collect();
            assert!(
                indices.windows(2).all(|w| w[0] < w[1]),
                "batch out of order: {indices:?}"
            );
            for (high, waiting_min) in [(true, high_min), (false, normal_min)] {
                let last = ids
                    .iter()
                    .filter(|id| self.high.contains(*id) == high)
                    .map(|id| self.index_of[id])
                    .max();
                if let (Some(last), Some(waiting_min)) = (last, waiting_min) {
                    assert!(last < waiting_min, "batch skipped older pending events");
                }
            }
            if ids.iter().any(|id| !self.high.contains(id)) {
                assert!(
                    high_min.is_none(),
                    "a normal event left before a high one waiting"
                );
            }
            for id in ids {
                assert!(
                    in_flight.insert(id.clone()),
                    "event {id} in two in-flight batches"
                );
            }
            let limit = match request.transport {
                Transport::Fetch => self.config.max_batch_bytes,
                Transport::Beacon => self.config.max_beacon_bytes,
            };
            assert!(request.body_bytes <= limit as usize);
            assert!(request.events.len() <= self.config.max_batch_events as usize);
        }
    }

    fn check_invariants(&self) {
        let m = self.h.queue.metrics();
        let c = &m.counters;
        assert_eq!(
            c.events_tracked + c.events_restored,
            c.events_sent
                + c.events_confirmed
                + drops(&self.h)
                + m.pending
                + m.in_flight
                + m.unconfirmed,
            "counters do not add up: {m:?}"
        );
        let held = self.h.queue.held_events();
        assert!(held.len() <= self.config.max_queue_events as usize);
        let held_bytes: usize = held.iter().map(|h| self.h.held[h].bytes).sum();
        assert!(held_bytes <= self.config.max_queue_bytes as usize);
        let held_ids: HashSet<String> = held.iter().map(|h| h.to_string()).collect();
        for stored in self.h.storage.read_all() {
            assert!(
                held_ids.contains(&stored.message_id),
                "storage holds settled event {}",
                stored.message_id
            );
        }
        let in_open: usize = self.h.open.iter().map(|r| r.events.len()).sum();
        assert_eq!(m.in_flight as usize, in_open);
    }

    /// Brings the collector back and drains everything, then balances the books.
    fn finish(mut self) {
        self.h.queue.set_online(true, self.h.now);
        self.h.queue.on_page_visible(self.h.now);
        for _ in 0..10_000 {
            self.h.queue.flush(self.h.now);
            let before = self.open_ids();
            let sends = self.h.pump();
            self.check_new_batches(&sends, &before);
            self.check_invariants();
            if self.h.asking.is_some() {
                self.answer_receipts(Outcome::Ok);
                continue;
            }
            if self.h.open.is_empty() {
                let m = self.h.queue.metrics();
                if m.pending == 0 && m.unconfirmed == 0 {
                    break;
                }
                self.h.wake();
                continue;
            }
            self.settle(0, Outcome::Ok);
        }
        let m = self.h.queue.metrics();
        assert_eq!(
            (m.pending, m.in_flight, m.unconfirmed),
            (0, 0, 0),
            "queue did not drain"
        );
        // The shell lets go of an event only when the core releases it:
        // each accepted event is released once (or was lost in a crash).
        self.released.extend(std::mem::take(&mut self.h.released));
        let mut released = HashSet::new();
        for handle in &self.released {
            assert!(
                released.insert(handle.to_string()),
                "{handle} released twice"
            );
        }
        for id in self.index_of.keys() {
            assert!(
                released.contains(id) || self.lost_in_crash.contains(id),
                "{id} was never released"
            );
        }
        assert!(self.h.storage.is_empty(), "storage keeps settled events");
        let accepted = self.index_of.len() as u64;
        let total_drops = self.earlier_drops + drops(&self.h);
        let refused_and_counted = self.refused;
        // An aborted fetch the collector did receive, whose copy the queue
        // then dropped or lost in a crash, ended two ways, both true: the
        // queue's way is the one counted.
        let delivered_by_queue: HashSet<&String> = self
            .received
            .iter()
            .filter(|id| !self.received_before_abort.contains(*id))
            .collect();
        assert!(delivered_by_queue
            .iter()
            .all(|id| !self.lost_in_crash.contains(*id)));
        assert_eq!(
            accepted + refused_and_counted,
            delivered_by_queue.len() as u64 + self.lost_in_crash.len() as u64 + total_drops,
            "an event ended in no way or in two ways"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(10_000),
        max_shrink_iters: 2_000,
        rng_seed: common::fixed_seed(20261122),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_event_ends_exactly_one_way(config in small_config(), gives_receipts in any::<bool>(), ops in proptest::collection::vec(op(), 1..80)) {
        let mut world = World::new(config, gives_receipts);
        for op in ops {
            world.apply(op);
        }
        world.finish();
    }
}

#[test]
fn the_same_inputs_give_the_same_outputs() {
    let run = || {
        let mut h = Harness::new(config());
        h.track_many(30);
        h.pump();
        h.settle_all(SendOutcome::NetworkError);
        h.wake_until_send();
        h.sent
            .iter()
            .map(|r| (r.batch_id, r.events.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}
