//! `ClientEventQueue` behaviour, one rule per test: triggers, batching,
//! outcomes, many tabs, bounds, persistence and page lifecycle.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use analytics_wasm::core::{
    Action, ClientEventQueue, Config, Failure, Health, Notice, Priority, RestoreSource, RetryAfter,
    SendOutcome, TrackError, Transport, CIRCUIT_STATE_NAMES, RECOVERY_SPREAD_MS,
};
use common::*;

// ---------- flush triggers ----------

#[test]
fn fewer_than_flush_at_events_wait_for_the_flush_interval() {
    let mut h = Harness::new(config());
    h.track_many(19);
    assert!(h.pump().is_empty());
    assert_eq!(
        h.queue.next_wakeup(),
        Some(START + 100),
        "persistence is due first"
    );
    h.advance(100);
    assert_eq!(h.queue.next_wakeup(), Some(START + 5_000));
    assert!(h.advance(4_899).is_empty());
    let sends = h.advance(1);
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].events.len(), 19);
}

#[test]
fn reaching_flush_at_sends_at_once() {
    let mut h = Harness::new(config());
    h.track_many(19);
    assert!(h.pump().is_empty());
    h.track("twentieth");
    let sends = h.pump();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].events.len(), 20);
    assert_eq!(sends[0].transport, Transport::Fetch);
}

#[test]
fn flush_at_is_a_trigger_not_a_cap() {
    let mut h = Harness::new(Config {
        max_queue_events: 20_000,
        ..config()
    });
    h.track_many(10_000);
    let delivered = h.deliver_everything();
    assert_eq!(delivered.len(), 10_000);
    assert!(
        h.sent.len() <= 40,
        "10,000 events took {} requests",
        h.sent.len()
    );
    assert!(h.sent.iter().all(|r| r.events.len() <= 500));
}

#[test]
fn batches_never_exceed_max_batch_bytes_with_the_envelope() {
    let mut h = Harness::new(Config {
        max_batch_bytes: 4_096,
        ..config()
    });
    let payload = format!(r#"{{"text":"{}"}}"#, "x".repeat(300));
    for i in 0..100 {
        h.try_track_with(&format!("e{i}"), &payload).unwrap();
    }
    let delivered = h.deliver_everything();
    assert_eq!(delivered.len(), 100);
    assert!(h.sent.iter().all(|r| r.body_bytes <= 4_096));
    assert!(
        h.sent.iter().any(|r| r.body_bytes > 3_500),
        "batches are filled up to the limit"
    );
}

#[test]
fn pending_bytes_reaching_max_batch_bytes_trigger_a_flush() {
    let mut h = Harness::new(Config {
        max_batch_bytes: 2_048,
        ..config()
    });
    let payload = format!(r#"{{"text":"{}"}}"#, "x".repeat(600));
    h.try_track_with("a", &payload).unwrap();
    h.try_track_with("b", &payload).unwrap();
    assert!(h.pump().is_empty());
    h.try_track_with("c", &payload).unwrap();
    let sends = h.pump();
    assert_eq!(sends.len(), 1, "bytes trigger fired below flushAt");
}

#[test]
fn manual_flush_sends_below_flush_at() {
    let mut h = Harness::new(config());
    h.track_many(3);
    assert!(h.pump().is_empty());
    h.queue.flush(h.now);
    let sends = h.pump();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].events.len(), 3);
}

#[test]
fn flush_concurrency_caps_batches_in_flight() {
    let mut h = Harness::new(Config {
        max_batch_events: 10,
        ..config()
    });
    h.track_many(100);
    h.queue.flush(h.now);
    assert_eq!(h.pump().len(), 2);
    assert_eq!(h.queue.metrics().in_flight_batches, 2);
    let first = h.open[0].batch_id;
    h.settle(first, ok());
    assert_eq!(h.pump().len(), 1, "one slot freed, one batch sent");
}

// ---------- outcomes ----------

#[test]
fn a_delivered_batch_is_forgotten_and_counted() {
    let mut h = Harness::new(config());
    h.track_many(20);
    h.advance(100);
    let batch = h.open[0].clone();
    assert_eq!(h.storage.len(), 20);
    h.settle(batch.batch_id, ok());
    h.pump();
    assert!(h.storage.is_empty());
    let m = h.queue.metrics();
    assert_eq!(m.counters.events_sent, 20);
    assert_eq!(m.counters.batches_sent, 1);
    assert_eq!(m.counters.bytes_sent, batch.body_bytes as u64);
    assert_eq!((m.pending, m.in_flight), (0, 0));
}

#[test]
fn a_failed_batch_returns_to_the_front_in_its_original_order() {
    let mut h = Harness::new(Config {
        max_batch_events: 5,
        flush_concurrency: 1,
        ..config()
    });
    let ids = h.track_many(5);
    h.queue.flush(h.now);
    let batch = h.pump().remove(0);
    h.track_many(3);
    h.settle(batch.batch_id, status(503));
    let retried = h.wake_until_send().remove(0);
    assert_eq!(ids_in(&retried), ids, "requeued events go first, in order");
    assert_eq!(h.queue.metrics().counters.retries, 1);
}

#[test]
fn retries_wait_between_half_and_all_of_two_then_four_times_the_base() {
    let mut h = Harness::new(config());
    h.track("a");
    h.queue.flush(h.now);
    let mut batch = h.pump().remove(0);
    for (failures, ceiling) in [(1, 2_000), (2, 4_000), (3, 4_000), (4, 4_000)] {
        let failed_at = h.now;
        h.settle(batch.batch_id, SendOutcome::NetworkError);
        if h.pump().is_empty() {
            h.wake_until_send();
        }
        let waited = h.now - failed_at;
        assert!(
            (ceiling / 2..=ceiling).contains(&waited),
            "retry {failures} after {waited} ms, ceiling {ceiling}"
        );
        batch = h.open[0].clone();
    }
    assert_eq!(h.queue.metrics().counters.batches_failed, 4);
}

#[test]
fn a_503_with_retry_after_waits_as_long_as_it_asks() {
    let mut h = Harness::new(config());
    h.track_many(20);
    let batch = h.pump().remove(0);
    let busy = SendOutcome::Response {
        status: 503,
        retry_after: Some(RetryAfter::Seconds(7)),
        rejected: &[],
    };
    h.settle(batch.batch_id, busy);
    assert!(h.advance(6_999).is_empty(), "nothing before Retry-After");
    assert_eq!(h.advance(1).len(), 1);
}

#[test]
fn while_the_collector_fails_one_small_batch_at_a_time_probes_it() {
    let mut h = Harness::new(Config {
        flush_at: 10,
        flush_concurrency: 4,
        max_batch_events: 20,
        ..config()
    });
    h.track_many(60);
    let first = h.pump();
    assert_eq!(first.len(), 3, "healthy: batches go side by side");
    h.settle(first[0].batch_id, status(503));
    assert!(h.pump().is_empty(), "the others are still in flight");
    h.settle_all(status(503));
    for _ in 0..3 {
        let probe = h.wake_until_send();
        assert_eq!(probe.len(), 1, "one request at a time");
        assert_eq!(probe[0].events.len(), 10, "of at most flushAt events");
        h.settle_all(status(503));
    }
    h.wake_until_send();
    let rest = h.settle_all(ok());
    let sizes: Vec<usize> = rest.iter().map(|r| r.events.len()).collect();
    assert_eq!(
        sizes,
        [20, 20, 10],
        "the first success sends the rest at once"
    );
}

#[test]
fn a_collector_back_after_ten_seconds_is_seen_within_four() {
    for seed in 0..50 {
        let mut h = Harness::new(config());
        h.queue = ClientEventQueue::new(config(), seed, common::ENVELOPE).unwrap();
        h.track_many(500);
        let mut requests_during_outage = 0;
        loop {
            let sends = h.wake_until_send();
            assert!(!sends.is_empty());
            if h.now >= START + 10_000 {
                assert!(
                    h.now <= START + 14_000,
                    "seed {seed}: next try {} ms after recovery",
                    h.now - START - 10_000
                );
                break;
            }
            requests_during_outage += sends.len();
            h.settle_all(status(503));
        }
        assert!(
            requests_during_outage <= 6,
            "seed {seed}: {requests_during_outage} requests in a 10 s outage"
        );
    }
}

#[test]
fn a_long_outage_probes_less_often_up_to_circuit_open_ms() {
    let mut h = Harness::new(config());
    h.track_many(20);
    h.pump();
    h.settle_all(status(503));
    let mut gaps = Vec::new();
    while h.now < START + 3_600_000 {
        let before = h.now;
        h.wake_until_send();
        gaps.push(h.now - before);
        h.settle_all(status(503));
    }
    assert!(
        gaps[..10].iter().all(|&gap| gap <= 4_000),
        "{:?}",
        &gaps[..10]
    );
    let last = *gaps.last().unwrap();
    assert!(
        (15_000..=30_000).contains(&last),
        "an hour in, {last} ms apart"
    );
    assert!(gaps.len() < 250, "{} probes in an hour", gaps.len());
}

#[test]
fn rate_limited_sends_wait_for_retry_after() {
    let mut h = Harness::new(config());
    h.track("a");
    h.queue.flush(h.now);
    let batch = h.pump().remove(0);
    h.settle(
        batch.batch_id,
        SendOutcome::Response {
            status: 429,
            retry_after: Some(RetryAfter::Seconds(3)),
            rejected: &[],
        },
    );
    h.track_many(30);
    assert!(h.advance(2_999).is_empty(), "nothing before Retry-After");
    assert_eq!(h.queue.metrics().next_retry_at, Some(START + 3_000));
    assert_eq!(h.advance(1).len(), 1);
}

#[test]
fn retry_after_is_capped_by_max_retry_after_ms() {
    let mut h = Harness::new(Config {
        max_retry_after_ms: 10_000,
        ..config()
    });
    h.track("a");
    h.queue.flush(h.now);
    let batch = h.pump().remove(0);
    let outcome = SendOutcome::Response {
        status: 429,
        retry_after: Some(RetryAfter::Seconds(86400)),
        rejected: &[],
    };
    h.settle(batch.batch_id, outcome);
    assert_eq!(h.advance(10_000).len(), 1);
}

#[test]
fn payload_too_large_splits_the_batch_in_halves() {
    let mut h = Harness::new(config());
    let ids = h.track_many(20);
    let batch = h.pump().remove(0);
    h.settle(batch.batch_id, status(413));
    let halves = h.pump();
    assert_eq!(halves.len(), 2);
    assert_eq!(ids_in(&halves[0]), ids[..10]);
    assert_eq!(ids_in(&halves[1]), ids[10..]);
}

#[test]
fn a_single_event_answered_413_is_dropped_and_counted() {
    let mut h = Harness::new(config());
    let id = h.track("big");
    h.queue.flush(h.now);
    let batch = h.pump().remove(0);
    h.settle(batch.batch_id, status(413));
    h.pump();
    let m = h.queue.metrics();
    assert_eq!(m.counters.dropped_too_large, 1);
    assert_eq!(m.pending, 0);
    assert!(matches!(&h.notices[..], [Notice::EventTooLarge { event }] if event.to_string() == id));
}

#[test]
fn per_event_rejection_in_a_success_drops_only_those_events() {
    let mut h = Harness::new(config());
    let ids = h.track_many(20);
    let batch = h.pump().remove(0);
    h.settle(
        batch.batch_id,
        SendOutcome::Response {
            status: 200,
            retry_after: None,
            rejected: &[handle_of(&ids[3])],
        },
    );
    h.pump();
    let m = h.queue.metrics();
    assert_eq!(
        (m.counters.events_sent, m.counters.dropped_rejected),
        (19, 1)
    );
    assert_eq!(m.last_error, Some(Failure::EventsRejected(1)));
    assert!(
        matches!(&h.notices[..], [Notice::EventsRejected { events }] if events[0].to_string() == ids[3])
    );
}

#[test]
fn per_event_rejection_in_a_400_resends_the_rest_at_once() {
    let mut h = Harness::new(config());
    let ids = h.track_many(20);
    let batch = h.pump().remove(0);
    h.settle(
        batch.batch_id,
        SendOutcome::Response {
            status: 400,
            retry_after: None,
            rejected: &[handle_of(&ids[0])],
        },
    );
    let resent = h.pump();
    assert_eq!(resent.len(), 1, "no backoff after a per-event rejection");
    assert_eq!(ids_in(&resent[0]), ids[1..]);
    assert_eq!(h.queue.metrics().counters.dropped_rejected, 1);
}

#[test]
fn other_client_errors_drop_the_batch_with_the_status_in_last_error() {
    let mut h = Harness::new(config());
    h.track_many(20);
    let batch = h.pump().remove(0);
    h.settle(batch.batch_id, status(404));
    h.pump();
    let m = h.queue.metrics();
    assert_eq!(m.counters.dropped_rejected, 20);
    assert_eq!(m.last_error, Some(Failure::BatchDropped(404)));
    assert!(h.storage.is_empty());
}

/// Answers every open batch: 400 with no list when it holds an event named
/// in `bad`, else 200. Returns the requests made until the queue is empty.
fn answer_refusing(h: &mut Harness, bad: &[&str]) -> usize {
    let mut requests = 0;
    for _ in 0..1_000 {
        h.pump();
        if h.open.is_empty() {
            if h.queue.metrics().pending == 0 {
                return requests;
            }
            h.wake();
            continue;
        }
        for request in std::mem::take(&mut h.open) {
            requests += 1;
            let refused = h
                .names_in(&request)
                .iter()
                .any(|n| bad.contains(&n.as_str()));
            let outcome = if refused { status(400) } else { ok() };
            assert!(h
                .queue
                .on_send_result(request.batch_id, outcome, h.now)
                .is_some());
        }
    }
    panic!("did not drain");
}

#[test]
fn a_400_naming_no_event_splits_the_batch_until_the_bad_event_is_alone() {
    let mut h = Harness::new(config());
    h.track_many(7);
    h.track("bad");
    h.track_many(12);
    let requests = answer_refusing(&mut h, &["bad"]);
    let m = h.queue.metrics();
    assert_eq!(m.counters.events_sent, 19, "every good event arrives");
    assert_eq!(
        m.counters.dropped_rejected, 1,
        "only the bad one is dropped"
    );
    assert!(requests <= 11, "{requests} requests: about 2·log2(20)");
    assert!(h
        .notices
        .iter()
        .any(|n| matches!(n, Notice::EventRefused { status: 400, .. })));
    assert_eq!(m.last_error, Some(Failure::EventRefused(400)));
    assert!(h.storage.is_empty());
}

#[test]
fn two_bad_events_in_one_batch_are_both_found() {
    let mut h = Harness::new(config());
    h.track("bad one");
    h.track_many(30);
    h.track("bad two");
    answer_refusing(&mut h, &["bad one", "bad two"]);
    let m = h.queue.metrics();
    assert_eq!(m.counters.events_sent, 30);
    assert_eq!(m.counters.dropped_rejected, 2);
}

#[test]
fn a_batch_being_split_takes_no_newer_event() {
    let mut h = Harness::new(config());
    h.track_many(20);
    let batch = h.pump().remove(0);
    h.track_many(20);
    h.settle(batch.batch_id, status(400));
    let halves = h.pump();
    assert_eq!(halves[0].events.len(), 10, "the first half alone");
    assert!(h.names_in(&halves[0]).iter().all(|n| n.starts_with('e')));
    let sent: Vec<usize> = halves.iter().map(|r| r.events.len()).collect();
    assert_eq!(
        sent,
        vec![10, 10],
        "then the other half, not mixed with the 20 newer"
    );
}

#[test]
fn a_5xx_while_splitting_backs_off_and_keeps_the_half() {
    let mut h = Harness::new(config());
    h.track_many(20);
    let batch = h.pump().remove(0);
    h.settle(batch.batch_id, status(400));
    let halves = h.pump();
    for half in &halves {
        h.settle(half.batch_id, status(503));
    }
    assert!(h.pump().is_empty(), "backoff after the 5xx");
    let retry = h.wake_until_send();
    assert_eq!(retry[0].events.len(), 10, "still the half");
}

#[test]
fn auth_failure_pauses_sending_keeps_events_and_resumes_on_flush() {
    let mut h = Harness::new(config());
    h.track_many(20);
    let batch = h.pump().remove(0);
    h.settle(batch.batch_id, status(401));
    h.track_many(40);
    assert!(h.advance(600_000).is_empty(), "no sends while paused");
    let m = h.queue.metrics();
    assert!(m.auth_paused);
    assert_eq!(m.pending, 60);
    assert_eq!(m.last_error, Some(Failure::AuthPaused(401)));
    assert_eq!(h.notices, [Notice::AuthFailed { status: 401 }]);
    assert_eq!(
        h.queue.next_wakeup(),
        Some(START + 7 * 86_400_000),
        "only expiry can wake it"
    );
    h.queue.flush(h.now);
    assert_eq!(h.pump().len(), 1);
}

#[test]
fn auth_failure_resumes_on_a_config_change() {
    let mut h = Harness::new(config());
    h.track_many(20);
    let batch = h.pump().remove(0);
    h.settle(batch.batch_id, status(403));
    assert!(h.pump().is_empty());
    let new_config = Config {
        retry_base_ms: 2_000,
        ..config()
    };
    h.queue.update_config(new_config, h.now).unwrap();
    let sends = h.pump();
    assert_eq!(sends.len(), 1);
}

#[test]
fn the_circuit_opens_after_consecutive_failures_until_the_next_probe() {
    let mut h = Harness::new(Config {
        circuit_failure_threshold: 3,
        ..config()
    });
    h.track_many(50);
    h.queue.flush(h.now);
    for _ in 0..3 {
        if h.open.is_empty() {
            h.wake_until_send();
        }
        h.settle_all(SendOutcome::NetworkError);
    }
    let m = h.queue.metrics();
    assert_eq!(CIRCUIT_STATE_NAMES[m.circuit_state], "open");
    let until = h.queue.next_wakeup().expect("a probe is due");
    assert!((h.now + 2_000..=h.now + 4_000).contains(&until));
    assert_eq!(
        h.notices,
        [Notice::CircuitOpened { failures: 3, until }],
        "the application hears once that sending stopped, and until when"
    );
    assert!(h.advance(until - h.now - 1).is_empty());
    let probe = h.advance(1);
    assert_eq!(probe.len(), 1);
    assert_eq!(probe[0].events.len(), 20, "the probe is a small batch");
    assert_eq!(
        CIRCUIT_STATE_NAMES[h.queue.metrics().circuit_state],
        "half-open"
    );
    let resumed = h.settle_all(ok());
    assert_eq!(
        CIRCUIT_STATE_NAMES[h.queue.metrics().circuit_state],
        "closed"
    );
    assert_eq!(resumed.len(), 1);
    assert_eq!(
        resumed[0].events.len(),
        30,
        "sending resumes in full batches"
    );
}

#[test]
fn a_failed_probe_reopens_the_circuit() {
    let mut h = Harness::new(Config {
        circuit_failure_threshold: 1,
        circuit_open_ms: 10_000,
        ..config()
    });
    h.track_many(20);
    h.pump();
    h.settle_all(status(500));
    assert_eq!(h.wake_until_send().len(), 1, "the probe");
    h.settle_all(status(500));
    assert_eq!(CIRCUIT_STATE_NAMES[h.queue.metrics().circuit_state], "open");
    let next = h.queue.metrics().next_retry_at.expect("reopened");
    assert!(
        (h.now + 2_000..=h.now + 4_000).contains(&next),
        "{}",
        next - h.now
    );
}

// ---------- many tabs, one collector ----------

#[test]
fn a_report_tells_when_the_collector_fails_and_when_it_is_back() {
    let mut h = Harness::new(config());
    h.track_many(20);
    let batch = h.pump().remove(0);
    let failed = h.queue.on_send_result(batch.batch_id, status(503), h.now);
    assert_eq!(failed.map(|r| r.health), Some(Health::Failing));
    h.open.clear();
    let retry = h.wake_until_send().remove(0);
    let back = h.queue.on_send_result(retry.batch_id, ok(), h.now);
    assert_eq!(back.map(|r| r.health), Some(Health::Recovered));
    h.open.clear();
    h.track_many(20);
    let next = h.pump().remove(0);
    let again = h.queue.on_send_result(next.batch_id, ok(), h.now);
    assert_eq!(again.map(|r| r.health), Some(Health::Unchanged));
}

#[test]
fn a_peer_failure_defers_this_tabs_next_send_without_opening_its_circuit() {
    let mut h = Harness::new(Config {
        circuit_failure_threshold: 1,
        ..config()
    });
    h.queue.on_peer_failure(h.now);
    h.track_many(20);
    assert!(h.pump().is_empty(), "the collector is failing: wait");
    assert_eq!(
        CIRCUIT_STATE_NAMES[h.queue.metrics().circuit_state],
        "closed"
    );
    let told_at = h.now;
    let probe = h.wake_until_send();
    assert_eq!(probe.len(), 1, "then one probe");
    let waited = h.now - told_at;
    assert!((1_000..=2_000).contains(&waited), "after {waited} ms");
}

#[test]
fn a_peer_recovery_ends_this_tabs_wait_within_the_spread() {
    let mut h = Harness::new(config());
    h.track_many(60);
    h.pump();
    for _ in 0..6 {
        h.settle_all(status(503));
        h.wake_until_send();
    }
    h.settle_all(status(503));
    assert!(h.queue.next_wakeup().unwrap() > h.now + 1_000);
    h.queue.on_peer_recovery(h.now);
    let resumed_at = h.queue.next_wakeup().unwrap();
    assert!(resumed_at <= h.now + RECOVERY_SPREAD_MS);
    let sends = h.wake_until_send();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].events.len(), 60, "healthy again: a full batch");
}

/// Tabs of one origin against one collector, each telling the others what
/// its sends found, as the shell does over a BroadcastChannel.
fn run_tabs(tabs: usize, outage_ms: u64, tell_peers: bool) -> (usize, u64) {
    let mut queues: Vec<Harness> = (0..tabs)
        .map(|tab| {
            let mut h = Harness::new(config());
            h.queue = ClientEventQueue::new(config(), tab as u64 + 1, common::ENVELOPE).unwrap();
            h.track_many(30);
            h
        })
        .collect();
    let (mut requests, mut drained_at) = (0, 0);
    for now in (START..START + 120_000).step_by(10) {
        let mut told = Vec::new();
        for h in &mut queues {
            h.now = now;
            requests += if now < START + outage_ms {
                h.pump().len()
            } else {
                0
            };
            h.pump();
            let up = now >= START + outage_ms;
            for request in std::mem::take(&mut h.open) {
                let outcome = if up { ok() } else { status(503) };
                let report = h
                    .queue
                    .on_send_result(request.batch_id, outcome, now)
                    .unwrap();
                told.push(report.health);
            }
        }
        for health in told.into_iter().filter(|_| tell_peers) {
            for h in &mut queues {
                match health {
                    Health::Failing => h.queue.on_peer_failure(now),
                    Health::Recovered => h.queue.on_peer_recovery(now),
                    Health::Unchanged => {}
                }
            }
        }
        if drained_at == 0 && queues.iter().all(|h| h.queue.metrics().pending == 0) {
            drained_at = now - START;
        }
    }
    (requests, drained_at)
}

#[test]
fn ten_tabs_that_tell_each_other_probe_a_failing_collector_about_as_often_as_one() {
    let (alone, _) = run_tabs(1, 60_000, true);
    let (apart, _) = run_tabs(10, 60_000, false);
    let (together, drained_at) = run_tabs(10, 60_000, true);
    println!("60 s outage: 1 tab {alone} requests; 10 tabs {apart} untold, {together} told");
    assert!(
        apart >= 8 * alone,
        "untold, each tab probes: {apart} against {alone}"
    );
    assert!(
        together <= 3 * alone,
        "{together} requests from 10 tabs, {alone} from one"
    );
    assert!(
        drained_at <= 60_000 + 4_000 + RECOVERY_SPREAD_MS,
        "all 10 drained {} ms after the collector came back",
        drained_at - 60_000
    );
}

// ---------- bounds ----------

#[test]
fn a_full_queue_drops_the_oldest_event_and_counts_it() {
    let mut h = Harness::new(Config {
        max_queue_events: 10,
        flush_at: 1_000,
        ..config()
    });
    let ids = h.track_many(15);
    let m = h.queue.metrics();
    assert_eq!((m.pending, m.counters.dropped_overflow), (10, 5));
    assert_eq!(h.deliver_everything(), ids[5..]);
}

// ---------- priority ----------

fn track_high(h: &mut Harness, name: &str) -> String {
    h.try_track_prioritized(name, "{}", Priority::High)
        .expect("tracked")
}

#[test]
fn a_high_priority_event_goes_in_the_next_batch_ahead_of_older_normal_ones() {
    let mut h = Harness::new(Config {
        max_batch_events: 2,
        flush_at: 1_000,
        ..config()
    });
    h.track_many(3);
    track_high(&mut h, "purchase");
    h.queue.flush(h.now);
    let sends = h.pump();
    // The batch is held in the order the events were tracked.
    assert_eq!(h.names_in(&sends[0]), ["e0", "purchase"]);
    assert_eq!(h.names_in(&sends[1]), ["e1", "e2"]);
}

#[test]
fn high_priority_events_keep_their_order_among_themselves() {
    let mut h = Harness::new(Config {
        max_batch_events: 2,
        flush_at: 1_000,
        ..config()
    });
    h.track("normal");
    for name in ["first", "second", "third"] {
        track_high(&mut h, name);
    }
    h.queue.flush(h.now);
    let sends = h.pump();
    assert_eq!(h.names_in(&sends[0]), ["first", "second"]);
    assert_eq!(h.names_in(&sends[1]), ["normal", "third"]);
}

#[test]
fn overflow_drops_normal_events_oldest_first_before_any_high_one() {
    let mut h = Harness::new(Config {
        max_queue_events: 3,
        flush_at: 1_000,
        ..config()
    });
    let purchase = track_high(&mut h, "purchase");
    let normal = h.track_many(4);
    let m = h.queue.metrics();
    assert_eq!((m.pending, m.counters.dropped_overflow), (3, 2));
    assert_eq!(
        h.deliver_everything(),
        [purchase, normal[2].clone(), normal[3].clone()]
    );
}

#[test]
fn overflow_drops_the_oldest_high_event_when_only_high_ones_wait() {
    let mut h = Harness::new(Config {
        max_queue_events: 2,
        flush_at: 1_000,
        ..config()
    });
    let high: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|n| track_high(&mut h, n))
        .collect();
    assert_eq!(h.queue.metrics().counters.dropped_overflow, 1);
    assert_eq!(h.deliver_everything(), high[1..]);
}

#[test]
fn the_byte_bound_drops_the_oldest_events() {
    let mut h = Harness::new(Config {
        max_queue_bytes: 2_000,
        flush_at: 1_000,
        ..config()
    });
    let payload = format!(r#"{{"t":"{}"}}"#, "x".repeat(400));
    for i in 0..10 {
        h.try_track_with(&format!("e{i}"), &payload).unwrap();
    }
    let m = h.queue.metrics();
    assert!(m.pending_bytes <= 2_000);
    assert_eq!(m.counters.dropped_overflow, 10 - m.pending);
}

#[test]
fn overflow_during_an_outage_keeps_exactly_the_newest_events() {
    let mut h = Harness::new(Config {
        max_queue_events: 1_000,
        ..config()
    });
    let mut ids = Vec::new();
    for i in 0..2_000 {
        ids.push(h.track(&format!("e{i}")));
        h.pump();
    }
    // The batches sent early were evicted while in flight; they now fail.
    h.settle_all(SendOutcome::NetworkError);
    assert_eq!(h.queue.metrics().counters.dropped_overflow, 1_000);
    h.now += 120_000;
    assert_eq!(h.deliver_everything(), ids[1_000..]);
}

#[test]
fn an_event_evicted_in_flight_but_delivered_counts_as_sent() {
    let mut h = Harness::new(Config {
        max_queue_events: 20,
        ..config()
    });
    h.track_many(20);
    let batch = h.pump().remove(0);
    h.track_many(5);
    h.settle(batch.batch_id, ok());
    h.pump();
    let c = h.queue.metrics().counters;
    assert_eq!((c.events_sent, c.dropped_overflow), (20, 0));
}

#[test]
fn expired_events_are_dropped_and_counted() {
    let mut h = Harness::new(Config {
        max_event_age_ms: 60_000,
        ..config()
    });
    h.track("a");
    let batch = h.pump();
    assert!(batch.is_empty());
    h.queue.set_online(false, h.now);
    h.advance(60_000);
    let m = h.queue.metrics();
    assert_eq!((m.counters.dropped_expired, m.pending), (1, 0));
    assert!(h.storage.is_empty());
}

#[test]
fn an_event_larger_than_any_batch_is_refused_with_size_and_limit() {
    let mut h = Harness::new(Config {
        max_batch_bytes: 1_024,
        ..config()
    });
    h.track("before");
    let huge = format!(r#"{{"t":"{}"}}"#, "x".repeat(2_000));
    let error = h.try_track_with("huge", &huge).unwrap_err();
    let TrackError::TooLarge { size, limit } = error;
    assert!(size > 2_000);
    assert_eq!(limit, h.queue.max_event_bytes());
    h.track("after");
    assert_eq!(h.queue.metrics().pending, 2, "other events unaffected");
    assert_eq!(h.queue.metrics().counters.dropped_too_large, 1);
}

// ---------- page lifecycle ----------

#[test]
fn page_hidden_sends_everything_by_beacon_before_writing_storage() {
    let mut h = Harness::new(config());
    let ids = h.track_many(5);
    h.queue.on_page_hidden(h.now);
    let first = h.queue.poll_action(h.now);
    let Some(Action::Send(beacon)) = first else {
        panic!("the beacon comes first, got {first:?}");
    };
    assert_eq!(beacon.transport, Transport::Beacon);
    assert_eq!(ids_in(&beacon), ids);
    assert!(
        matches!(h.queue.poll_action(h.now), Some(Action::Persist(ref events)) if events.len() == 5),
        "then the events are written, in case the beacon is refused"
    );
}

#[test]
fn a_queued_beacons_events_stay_stored_unconfirmed() {
    let mut h = Harness::new(config());
    h.track_many(5);
    h.queue.on_page_hidden(h.now);
    let Some(Action::Send(beacon)) = h.queue.poll_action(h.now) else {
        panic!("a beacon first");
    };
    h.queue
        .on_send_result(beacon.batch_id, SendOutcome::BeaconQueued, h.now);
    let rest: Vec<Action> = std::iter::from_fn(|| h.queue.poll_action(h.now)).collect();
    assert_eq!(
        rest,
        vec![Action::Persist(vec![1, 2, 3, 4, 5])],
        "written, not released: whether the beacon arrives is never told"
    );
    let m = h.queue.metrics();
    assert_eq!((m.counters.events_sent, m.unconfirmed), (0, 5));
}

#[test]
fn a_page_that_stays_asks_about_its_beacons_events_after_the_grace() {
    let mut h = Harness::new(config());
    h.track_many(5);
    h.queue.on_page_hidden(h.now);
    let beacon = h.pump().remove(0);
    h.settle(beacon.batch_id, SendOutcome::BeaconQueued);
    h.pump();
    h.queue.on_page_visible(h.now);
    h.advance(2_999);
    assert!(h.asking.is_none(), "not before receiptGraceMs");
    h.advance(1);
    assert_eq!(h.asking.as_ref().map(|r| r.events.len()), Some(5));
    let sends = h.answer_receipts(Some(&[1, 2, 3, 4, 5]));
    assert!(sends.is_empty(), "the collector holds them all: no copy");
    let m = h.queue.metrics();
    assert_eq!((m.counters.events_confirmed, m.unconfirmed), (5, 0));
    assert!(h.storage.is_empty());
}

#[test]
fn page_hidden_after_a_failure_writes_storage_first() {
    let mut h = Harness::new(config());
    h.track_many(20);
    h.pump();
    h.settle_all(status(503));
    h.now += 120_000;
    h.track_many(3);
    h.queue.on_page_hidden(h.now);
    assert!(
        matches!(h.queue.poll_action(h.now), Some(Action::Persist(_))),
        "no beacon can go: the write comes first"
    );
}

#[test]
fn beacons_share_one_64_kb_budget_while_in_flight() {
    let mut h = Harness::new(Config {
        max_queue_events: 10_000,
        ..config()
    });
    let payload = format!(r#"{{"t":"{}"}}"#, "x".repeat(900));
    for i in 0..200 {
        h.try_track_with(&format!("e{i}"), &payload).unwrap();
        if i == 0 {
            h.queue.set_online(false, h.now);
        }
    }
    h.pump();
    h.queue.set_online(true, h.now);
    h.queue.on_page_hidden(h.now);
    let sends = h.pump();
    let beacons: Vec<_> = sends
        .iter()
        .filter(|r| r.transport == Transport::Beacon)
        .collect();
    let total: usize = beacons.iter().map(|r| r.body_bytes).sum();
    assert!(total <= 65_536, "{total} bytes of beacons in flight");
    assert!(total > 60_000);
    assert!(
        sends.iter().any(|r| r.transport == Transport::Fetch),
        "what does not fit the budget goes by fetch, still persisted"
    );
    let beacon_ids: Vec<u64> = beacons.iter().map(|r| r.batch_id).collect();
    for batch_id in beacon_ids {
        h.settle(batch_id, SendOutcome::BeaconQueued);
    }
    h.queue.on_page_unload(h.now);
    let at_unload = h.pump();
    assert_eq!(
        at_unload[0].transport,
        Transport::Beacon,
        "settled beacons free the budget"
    );
}

#[test]
fn events_tracked_while_the_page_stays_hidden_go_by_fetch() {
    let mut h = Harness::new(config());
    h.queue.on_page_hidden(h.now);
    h.track_many(19);
    assert!(
        h.pump().is_empty(),
        "a background tab's events wait for the usual triggers"
    );
    h.track("twentieth");
    let sends = h.pump();
    assert_eq!(sends.len(), 1);
    assert_eq!(
        sends[0].transport,
        Transport::Fetch,
        "a fetch's outcome is seen: an outage cannot drop them unnoticed"
    );
}

#[test]
fn a_hidden_page_persists_each_event_without_debounce() {
    let mut h = Harness::new(config());
    h.queue.on_page_hidden(h.now);
    h.pump();
    h.track("in a background tab");
    assert!(
        matches!(h.queue.poll_action(h.now), Some(Action::Persist(ref events)) if events.len() == 1),
        "written at once: a background tab's timers fire late, and it may be closed any time"
    );
}

#[test]
fn unload_beacons_what_a_background_tab_tracked() {
    let mut h = Harness::new(config());
    h.queue.on_page_hidden(h.now);
    let ids = h.track_many(3);
    h.queue.on_page_unload(h.now);
    let sends = h.pump();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].transport, Transport::Beacon);
    assert_eq!(ids_in(&sends[0]), ids);
}

#[test]
fn page_hidden_while_backing_off_persists_without_beacons() {
    let mut h = Harness::new(config());
    h.track_many(20);
    h.pump();
    h.settle_all(status(503));
    h.track_many(3);
    h.queue.on_page_hidden(h.now);
    let actions: Vec<Action> = std::iter::from_fn(|| h.queue.poll_action(h.now)).collect();
    assert!(
        actions.iter().all(|a| !matches!(a, Action::Send(_))),
        "no beacon to a failing collector"
    );
    assert!(actions.iter().any(|a| matches!(a, Action::Persist(_))));
}

#[test]
fn page_hidden_after_a_failure_sends_by_fetch_not_beacon() {
    let mut h = Harness::new(config());
    h.track_many(20);
    h.pump();
    h.settle_all(status(503));
    h.now += 120_000;
    h.queue.on_page_hidden(h.now);
    let sends = h.pump();
    assert_eq!(sends.len(), 1);
    assert_eq!(
        sends[0].transport,
        Transport::Fetch,
        "no 2xx since the failure: a beacon could be lost unseen"
    );
    assert_eq!(h.storage.len(), 20, "persisted for the next page meanwhile");
}

#[test]
fn a_refused_beacon_keeps_its_events_and_they_go_by_fetch_instead() {
    let mut h = Harness::new(config());
    h.track_many(3);
    h.queue.on_page_hidden(h.now);
    let beacon = h.pump().remove(0);
    assert_eq!(beacon.transport, Transport::Beacon);
    h.settle(beacon.batch_id, SendOutcome::BeaconRefused);
    assert_eq!(h.storage.len(), 3, "still persisted");
    let retry = h.pump();
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].transport, Transport::Fetch);
    assert_eq!(ids_in(&retry[0]), ids_in(&beacon));
}

#[test]
fn page_unload_sends_the_events_of_fetches_in_flight_again_by_beacon() {
    let mut h = Harness::new(config());
    let in_flight = h.track_many(20);
    let fetch = h.pump().remove(0);
    assert_eq!(fetch.transport, Transport::Fetch);
    let pending = h.track_many(10);
    h.queue.on_page_unload(h.now);
    let sends = h.pump();
    assert!(sends.iter().all(|r| r.transport == Transport::Beacon));
    let beaconed: Vec<String> = sends.iter().flat_map(ids_in).collect();
    let expected: Vec<String> = in_flight.into_iter().chain(pending).collect();
    assert_eq!(
        beaconed, expected,
        "the aborted batch first, same messageIds, in order"
    );
    let m = h.queue.metrics();
    assert_eq!((m.in_flight, m.counters.batches_failed), (30, 0));
}

#[test]
fn page_unload_keeps_beacons_in_flight_and_abandons_only_fetches() {
    let mut h = Harness::new(config());
    h.track_many(3);
    h.queue.on_page_hidden(h.now);
    let beacon = h.pump().remove(0);
    assert_eq!(beacon.transport, Transport::Beacon);
    h.queue.on_page_unload(h.now);
    assert!(
        h.pump().is_empty(),
        "a beacon outlives the page: nothing to resend"
    );
    h.settle(beacon.batch_id, ok());
    assert_eq!(
        h.queue.metrics().counters.events_sent,
        3,
        "its answer, if the page stays"
    );
}

#[test]
fn the_abort_of_a_batch_abandoned_at_unload_is_ignored() {
    let mut h = Harness::new(config());
    h.track_many(20);
    let fetch = h.pump().remove(0);
    h.queue.on_page_unload(h.now);
    let beacons = h.pump();
    assert!(
        h.queue
            .on_send_result(fetch.batch_id, SendOutcome::NetworkError, h.now)
            .is_none(),
        "the abandoned batch is no longer in flight"
    );
    let m = h.queue.metrics();
    assert_eq!(m.counters.batches_failed, 0);
    assert_eq!(m.last_error, None);
    for beacon in beacons {
        h.settle(beacon.batch_id, ok());
    }
    h.pump();
    assert_eq!(h.queue.metrics().counters.events_sent, 20);
    assert!(h.storage.is_empty(), "delivered once, by beacon");
}

#[test]
fn page_unload_after_a_failure_still_sends_no_beacon() {
    let mut h = Harness::new(config());
    h.track_many(20);
    h.pump();
    h.settle_all(status(503));
    h.now += 120_000;
    h.track_many(20);
    h.pump();
    h.queue.on_page_unload(h.now);
    let sends = h.pump();
    assert!(
        sends.iter().all(|r| r.transport == Transport::Fetch),
        "a collector that failed last gets no unobservable beacon"
    );
    assert_eq!(h.storage.len(), 40, "persisted for the next page");
}

#[test]
fn a_probe_abandoned_at_unload_lets_another_probe_go() {
    let mut h = Harness::new(Config {
        circuit_failure_threshold: 1,
        ..config()
    });
    h.track_many(50);
    h.pump();
    h.settle_all(status(503));
    h.now += 120_000;
    let probe = h.pump().remove(0);
    assert_eq!(
        probe.events.len(),
        20,
        "half-open: a probe of flushAt events"
    );
    h.queue.on_page_unload(h.now);
    let after = h.pump();
    assert!(
        !after.is_empty(),
        "the abandoned probe does not leave the circuit waiting for it"
    );
}

#[test]
fn offline_sends_nothing_until_online() {
    let mut h = Harness::new(config());
    h.queue.set_online(false, h.now);
    h.track_many(50);
    assert!(h.advance(10_000).is_empty());
    h.queue.set_online(true, h.now);
    assert_eq!(h.pump().len(), 1);
}

// ---------- persistence ----------

#[test]
fn persistence_is_debounced_by_persist_debounce_ms() {
    let mut h = Harness::new(config());
    h.track("a");
    h.pump();
    assert!(h.storage.is_empty());
    h.now += 50;
    h.track("b");
    h.advance(49);
    assert!(h.storage.is_empty());
    h.advance(1);
    assert_eq!(h.storage.len(), 2, "both written in one Persist");
}

#[test]
fn restore_brings_back_stored_events_with_their_ids() {
    let mut first = Harness::new(config());
    first.track_many(3);
    first.advance(100);
    let stored: Vec<StoredEvent> = first.storage.read_all();
    assert_eq!(stored.len(), 3);

    let mut second = Harness::new(config());
    second.now = START + 1_000;
    let report = second.restore(&stored, RestoreSource::OwnStorage);
    assert_eq!((report.accepted, report.dropped), (3, 0));
    let mut delivered = second.deliver_everything();
    let mut expected: Vec<String> = stored.iter().map(|e| e.message_id.clone()).collect();
    delivered.sort();
    expected.sort();
    assert_eq!(delivered, expected, "same messageIds survive a restart");
}

#[test]
fn corrupt_records_the_shell_found_are_counted() {
    let mut h = Harness::new(config());
    h.queue.count_corrupt(2);
    assert_eq!(h.queue.metrics().counters.restore_corrupt, 2);
}

#[test]
fn a_restored_event_too_large_for_the_config_now_is_dropped_and_forgotten() {
    let mut h = Harness::new(config());
    let big = StoredEvent {
        bytes: 40_000,
        ..stored("8", START)
    };
    let report = h.restore(&[stored("7", START), big], RestoreSource::OwnStorage);
    assert_eq!((report.accepted, report.dropped), (1, 1));
    assert_eq!(h.queue.metrics().counters.dropped_too_large, 1);
}

#[test]
fn restored_events_are_asked_about_after_the_grace_then_the_rest_go_at_once() {
    let mut h = Harness::new(config());
    h.restore(
        &[stored("11", START - 60_000), stored("12", START - 60_000)],
        RestoreSource::OwnStorage,
    );
    assert!(h.pump().is_empty() && h.asking.is_none());
    h.advance(3_000);
    assert_eq!(
        h.asked.len(),
        1,
        "one receipt request, after receiptGraceMs"
    );
    let sends = h.answer_receipts(Some(&[11]));
    assert_eq!(sends.len(), 1);
    assert_eq!(
        ids_in(&sends[0]),
        ["12"],
        "the one the collector lacks, at once"
    );
    let m = h.queue.metrics();
    assert_eq!(
        (m.counters.events_confirmed, m.counters.events_resent),
        (1, 1)
    );
    assert!(h.storage.is_empty(), "own events are not written again");
}

#[test]
fn a_collector_without_receipts_gets_every_restored_event_again_and_is_not_asked_twice() {
    let mut h = Harness::new(config());
    h.restore(
        &[stored("11", START), stored("12", START)],
        RestoreSource::OwnStorage,
    );
    h.advance(3_000);
    let sends = h.answer_receipts(None);
    assert_eq!(sends.iter().map(|r| r.events.len()).sum::<usize>(), 2);
    h.settle_all(ok());
    h.restore(&[stored("13", START)], RestoreSource::Adopted);
    let later = h.advance(3_000);
    assert_eq!(
        h.asked.len(),
        1,
        "the collector gives no receipts: not asked again"
    );
    assert_eq!(later.len(), 1);
    assert_eq!(h.queue.metrics().counters.events_resent, 3);
}

#[test]
fn a_failed_receipt_request_is_retried_with_backoff_and_its_events_kept() {
    let mut h = Harness::new(config());
    h.restore(&[stored("11", START)], RestoreSource::OwnStorage);
    h.advance(3_000);
    let request = h.asking.take().unwrap();
    let report = h
        .queue
        .on_receipts(request.request_id, status(503), None, h.now)
        .unwrap();
    assert_eq!(report.health, Health::Failing);
    assert!(h.pump().is_empty());
    assert_eq!(h.queue.metrics().unconfirmed, 1, "kept, still unconfirmed");
    h.advance(999);
    assert!(h.asking.is_none(), "not before the backoff");
    h.advance(1_001);
    assert!(h.asking.is_some(), "asked again");
    let sends = h.answer_receipts(Some(&[]));
    assert_eq!(sends.len(), 1);
}

#[test]
fn unconfirmed_events_count_toward_the_bounds_and_expire() {
    let mut h = Harness::new(Config {
        max_queue_events: 3,
        ..config()
    });
    h.restore(
        &[
            stored("11", START),
            stored("12", START),
            stored("13", START),
        ],
        RestoreSource::OwnStorage,
    );
    h.track("new");
    let m = h.queue.metrics();
    assert_eq!(
        (m.unconfirmed, m.pending, m.counters.dropped_overflow),
        (2, 1, 1)
    );
    h.pump();
    assert!(!h.storage.contains("11"), "the oldest, dropped");
    h.now += 7 * DAY;
    h.pump();
    let m = h.queue.metrics();
    assert_eq!((m.unconfirmed, m.counters.dropped_expired), (0, 3));
}

#[test]
fn unload_abandons_a_receipt_request_and_keeps_its_events_stored() {
    let mut h = Harness::new(config());
    h.restore(&[stored("11", START)], RestoreSource::OwnStorage);
    h.storage.insert(stored("11", START));
    h.advance(3_000);
    let request = h.asking.take().unwrap();
    h.queue.on_page_unload(h.now);
    assert!(h.pump().is_empty(), "not sent by beacon: it may be a copy");
    assert!(h.storage.contains("11"));
    assert!(
        h.queue
            .on_receipts(request.request_id, ok(), Some(&[11]), h.now)
            .is_none(),
        "the aborted request's answer is ignored"
    );
}

#[test]
fn adopted_events_are_persisted_under_this_queue() {
    let mut h = Harness::new(config());
    h.restore(&[stored("11", START)], RestoreSource::Adopted);
    h.advance(100);
    assert_eq!(h.storage.len(), 1);
}

#[test]
fn a_clock_running_backwards_does_not_stall_the_queue() {
    let mut h = Harness::new(config());
    h.track("a");
    h.now -= 3_600_000;
    h.pump();
    assert!(h.queue.next_wakeup().unwrap() <= START + 5_000);
    h.now = START + 5_000;
    assert_eq!(h.pump().len(), 1);
}

#[test]
fn an_unknown_batch_id_changes_nothing() {
    let mut queue = ClientEventQueue::new(config(), 1, ENVELOPE).unwrap();
    assert!(queue.on_send_result(42, ok(), START).is_none());
}

#[test]
fn an_event_dropped_before_it_was_persisted_is_released_never_written() {
    let mut queue = ClientEventQueue::new(
        Config {
            max_queue_events: 10,
            flush_at: 1_000,
            ..config()
        },
        1,
        ENVELOPE,
    )
    .unwrap();
    for handle in 0..15 {
        queue.track(handle, 200, None, START).unwrap();
    }
    let actions: Vec<Action> = std::iter::from_fn(|| queue.poll_action(START)).collect();
    assert_eq!(actions, vec![Action::Release(vec![0, 1, 2, 3, 4])]);
    assert_eq!(queue.metrics().counters.dropped_overflow, 5);
}

#[test]
fn without_persistence_no_event_is_copied_out_for_storage() {
    let mut h = Harness::new(config());
    h.queue.set_persistence(false);
    h.track_many(25);
    let actions: Vec<Action> = std::iter::from_fn(|| h.queue.poll_action(h.now + 1_000)).collect();
    assert!(
        actions.iter().all(|a| matches!(a, Action::Send(_))),
        "only sends: {actions:?}"
    );
    assert_eq!(actions.len(), 1);
}

// ---------- what a page sends as it goes away ----------

/// A page tracks 14 events (fewer than `flushAt`), is hidden, sends them in
/// a request that outlives it, and goes away (`unload`) before any answer:
/// what storage holds then is all the next page load gets.
fn page_that_left_with_14(unload: bool) -> (Harness, Vec<String>) {
    let mut h = Harness::new(config());
    let ids = h.track_many(14);
    h.pump();
    h.queue.on_page_hidden(h.now);
    let way_out = h.pump();
    assert_eq!(way_out.len(), 1);
    assert_eq!(way_out[0].transport, Transport::Beacon);
    if unload {
        h.queue.on_page_unload(h.now);
        assert!(
            h.pump().is_empty(),
            "the request outlives the page: nothing to resend"
        );
    }
    assert_eq!(
        h.storage.len(),
        14,
        "kept until an answer or a receipt confirms them"
    );
    (h, ids)
}

/// The next queue (a reload's, or the tab that adopts the partition) with
/// what `left` stored, run until the receipt request is due.
fn next_page(left: &Harness, source: RestoreSource) -> Harness {
    let mut next = Harness::new(config());
    next.now = left.now + 50;
    next.next_handle = left.next_handle;
    let stored = left.storage.read_all();
    next.restore(&stored, source);
    // The same records, now where the next queue finds them.
    for event in stored {
        next.storage.insert(event);
    }
    next.advance(3_000);
    assert!(next.asking.is_some(), "asked after receiptGraceMs");
    next
}

#[test]
fn reload_the_collector_refused_what_the_page_left_with_so_the_next_page_sends_all_14() {
    let (left, ids) = page_that_left_with_14(true);
    let mut next = next_page(&left, RestoreSource::OwnStorage);
    let sends = next.answer_receipts(Some(&[]));
    assert_eq!(sends.iter().flat_map(ids_in).collect::<Vec<_>>(), ids);
    next.settle_all(ok());
    assert!(next.storage.is_empty());
    assert_eq!(next.queue.metrics().counters.events_resent, 14);
}

#[test]
fn navigation_the_collector_stored_what_the_page_left_with_so_the_next_page_sends_none() {
    let (left, ids) = page_that_left_with_14(true);
    let mut next = next_page(&left, RestoreSource::OwnStorage);
    let held: Vec<u32> = ids.iter().map(|id| handle_of(id)).collect();
    assert!(next.answer_receipts(Some(&held)).is_empty(), "no copy");
    assert!(next.storage.is_empty(), "confirmed: deleted");
    assert_eq!(next.queue.metrics().counters.events_confirmed, 14);
}

#[test]
fn closed_tab_a_collector_without_receipts_gets_each_event_again_once() {
    let (left, ids) = page_that_left_with_14(true);
    let mut next = next_page(&left, RestoreSource::Adopted);
    let sends = next.answer_receipts(None);
    assert_eq!(sends.iter().flat_map(ids_in).collect::<Vec<_>>(), ids);
    next.settle_all(ok());
    next.advance(60_000);
    assert!(
        next.asked.len() == 1 && next.sent.len() == 1,
        "once: not asked, not sent again"
    );
}

#[test]
fn a_page_that_stays_settles_its_way_out_request_by_its_answer() {
    let (mut h, _) = page_that_left_with_14(false);
    h.settle_all(status(503));
    assert_eq!(
        h.queue.metrics().pending,
        14,
        "refused: queued again, still stored"
    );
    assert_eq!(h.storage.len(), 14);
    h.queue.on_page_visible(h.now);
    h.wake_until_send();
    h.settle_all(ok());
    assert!(h.storage.is_empty());
    assert_eq!(h.queue.metrics().counters.events_sent, 14);
}

// ---------- two clocks: monotonic for timers, wall for stamps ----------

const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;
/// Sun, 13 Sep 2020 12:26:40 GMT: a wall clock far from the monotonic one.
const WALL: u64 = 1_600_000_000_000;

fn stored(id: &str, created_at_ms: u64) -> StoredEvent {
    StoredEvent {
        message_id: id.into(),
        created_at_ms,
        bytes: 200,
    }
}

#[test]
fn a_wall_clock_set_back_delays_no_timer() {
    let mut h = Harness::new(config());
    h.track_many(5);
    h.set_wall_clock(h.now - 2 * HOUR);
    h.track_many(5);
    assert!(h.advance(4_999).is_empty());
    assert_eq!(
        h.advance(1).len(),
        1,
        "the 5 s interval, on the monotonic clock"
    );
}

#[test]
fn a_wall_clock_set_forward_expires_nothing_the_page_holds() {
    let mut h = Harness::new(config());
    h.track_many(5);
    h.set_wall_clock(h.now + 8 * DAY);
    let sends = h.advance(5_000);
    assert_eq!(sends[0].events.len(), 5);
    assert_eq!(h.queue.metrics().counters.dropped_expired, 0);
}

#[test]
fn an_event_tracked_earlier_is_as_old_as_its_call() {
    let mut h = Harness::new(config());
    h.set_wall_clock(WALL);
    let handle = h.hold("buffered", 200, WALL - 4_000);
    h.queue
        .track(handle, 200, Some(WALL - 4_000), h.now)
        .unwrap();
    assert!(h.advance(999).is_empty());
    assert_eq!(
        h.advance(1).len(),
        1,
        "the 5 s interval counts from the call"
    );
}

#[test]
fn a_restored_event_is_as_old_as_the_wall_clock_says() {
    let mut h = Harness::new(config());
    h.set_wall_clock(WALL);
    let report = h.restore(
        &[stored("11", WALL - 8 * DAY), stored("22", WALL - HOUR)],
        RestoreSource::OwnStorage,
    );
    assert_eq!((report.accepted, report.dropped), (1, 1));
    let m = h.queue.metrics();
    assert_eq!(
        m.counters.dropped_expired, 1,
        "8 days old by the wall clock"
    );
    assert_eq!(m.unconfirmed, 1);
    h.advance(3_000);
    assert_eq!(
        h.answer_receipts(Some(&[])).len(),
        1,
        "an hour old: past the flush interval, sent once not held"
    );
}

#[test]
fn a_stored_time_ahead_of_the_wall_clock_counts_as_now() {
    let mut h = Harness::new(config());
    h.set_wall_clock(WALL);
    h.restore(&[stored("33", WALL + 2 * HOUR)], RestoreSource::OwnStorage);
    h.queue.set_online(false, h.now);
    h.advance(7 * DAY - 1);
    assert_eq!(
        h.queue.metrics().unconfirmed,
        1,
        "age 0 at restore: not expired yet"
    );
    h.advance(1);
    assert_eq!(
        h.queue.metrics().counters.dropped_expired,
        1,
        "7 days after its restore, not 2 hours later"
    );
}

#[test]
fn a_retry_after_date_is_read_by_the_wall_clock() {
    let mut h = Harness::new(config());
    h.set_wall_clock(WALL);
    h.track_many(20);
    let batch = h.pump().remove(0);
    let limited = SendOutcome::Response {
        status: 429,
        retry_after: Some(RetryAfter::At(WALL + 10_000)),
        rejected: &[],
    };
    h.settle(batch.batch_id, limited);
    assert!(h.advance(9_999).is_empty());
    assert_eq!(
        h.advance(1).len(),
        1,
        "10 s after, by the wall clock's date"
    );
    assert_eq!(h.queue.metrics().next_retry_at, None);
}

#[test]
fn next_retry_at_is_reported_by_the_wall_clock() {
    let mut h = Harness::new(config());
    h.set_wall_clock(WALL);
    h.track_many(20);
    let batch = h.pump().remove(0);
    h.settle(batch.batch_id, status(503));
    let at = h
        .queue
        .metrics()
        .next_retry_at
        .expect("a retry is scheduled");
    assert!((WALL + 1_000..=WALL + 2_000).contains(&at), "{at}");
}
