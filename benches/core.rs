//! Native throughput of the core's hot path: `track` (enqueue an event the
//! shell encoded) and batching through `poll_action` and `on_send_result`.
//! Run with `cargo bench --bench core`; prints ns per event and events/s.

use analytics_wasm::core::{Action, ClientEventQueue, Config, Envelope, SendOutcome};

fn main() {
    divan::main();
}

/// The size of an event of 10 properties with a page's full context.
const EVENT_BYTES: usize = 1_100;

fn queue(events: u32) -> ClientEventQueue {
    let config = Config {
        max_queue_events: events,
        max_queue_bytes: 50_000_000,
        flush_at: 1_000,
        flush_concurrency: 16,
        ..Config::default()
    };
    let envelope = Envelope {
        empty_body_bytes: 48,
    };
    ClientEventQueue::new(config, 1, envelope).expect("valid config")
}

fn track_all(queue: &mut ClientEventQueue, events: u32) {
    for handle in 0..events {
        queue
            .track(handle, EVENT_BYTES, None, 1_000)
            .expect("tracked");
    }
}

/// `track` alone.
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

/// `track` plus batching and delivery of every event.
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
                    delivered += request.events.len();
                    let ok = SendOutcome::Response {
                        status: 200,
                        retry_after: None,
                        rejected: &[],
                    };
                    queue.on_send_result(request.batch_id, ok, 1_000);
                }
            }
            assert_eq!(delivered, events as usize);
            queue
        });
}
