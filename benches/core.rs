//! Native throughput of the core's hot path: `track` (encode + enqueue) and
//! batch encoding through `poll_action`, with events of 10 properties.
//! Run with `cargo bench --bench core`; prints ns per event and events/s.

use analytics_wasm::core::{Action, ClientEventQueue, Config, EventInput, EventKind, SendOutcome};

fn main() {
    divan::main();
}

const PROPERTIES: &str = r#"{"plan":"pro","price":49.99,"currency":"EUR","seats":12,"trial":false,"source":"pricing-page","tags":["a","b","c"],"nested":{"x":1,"y":"two"},"experiment":"checkout-v2","step":3}"#;
const CONTEXT: &str = r#"{"library":{"name":"analytics-wasm","version":"0.1.0"},"locale":"en-US"}"#;

fn input() -> EventInput<'static> {
    EventInput {
        kind: EventKind::Track,
        name: Some("Checkout Step Viewed"),
        user_id: Some("user-42"),
        anonymous_id: "5f1c2a9e-7b7d-4c1e-9a57-0d2e3f4a5b6c",
        properties_json: Some(PROPERTIES),
        context_json: Some(CONTEXT),
        timestamp: None,
    }
}

fn queue(events: u32) -> ClientEventQueue {
    let config = Config {
        endpoint: "https://collector.example/v1/batch".into(),
        max_queue_events: events,
        max_queue_bytes: 50_000_000,
        flush_at: 1_000,
        flush_concurrency: 16,
        ..Config::default()
    };
    ClientEventQueue::new(config, 1).expect("valid config")
}

fn track_all(queue: &mut ClientEventQueue, events: u32) {
    for i in 0..events {
        let random = (i as u128).to_le_bytes();
        queue.track(&input(), random, 1_000).expect("tracked");
    }
}

/// `track` alone: encode the event and enqueue it.
#[divan::bench(args = [10_000])]
fn track(bencher: divan::Bencher, events: u32) {
    bencher
        .counter(divan::counter::ItemsCount::new(events))
        .with_inputs(|| queue(events))
        .bench_local_values(|mut queue| {
            track_all(&mut queue, events);
            queue
        });
}

/// `track` plus batch encoding and delivery of every event.
#[divan::bench(args = [10_000])]
fn track_and_batch(bencher: divan::Bencher, events: u32) {
    bencher
        .counter(divan::counter::ItemsCount::new(events))
        .with_inputs(|| queue(events))
        .bench_local_values(|mut queue| {
            track_all(&mut queue, events);
            queue.flush(1_000);
            let mut delivered = 0;
            while let Some(action) = queue.poll_action(1_000) {
                if let Action::Send(request) = action {
                    delivered += request.events;
                    let ok = SendOutcome::Response {
                        status: 200,
                        retry_after: None,
                        body: "",
                    };
                    queue.on_send_result(request.batch_id, ok, 1_000);
                }
            }
            assert_eq!(delivered, events as usize);
            queue
        });
}
