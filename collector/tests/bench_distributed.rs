//! The distributed roles' bench (printed, never asserted; `#[ignore]`d so
//! `npm test` does not run it):
//!
//! ```sh
//! cargo test --profile collector -p analytics-collector --test bench_distributed -- --ignored --nocapture
//! ```
//!
//! For each store (Postgres, ClickHouse) and 1 then 2 ingest nodes behind
//! HAProxy, with a 3-node R3 JetStream cluster and 2 loaders: a closed loop
//! of 16 clients sending batches of 20 events of about 1.1 KB for 8 s
//! (events/s answered 2xx, p50/p99 of the requests, and events/s end to end:
//! the events sent divided by the time until the store held all of them),
//! then an open-loop burst at twice that end-to-end rate for 5 s (the
//! loader's lag, `loader_lag_events`, at its peak, and how long it took to
//! drain after the burst).

mod services;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use analytics_collector::client;
use analytics_collector::load::full_jitter;
use serde_json::json;
use services::*;

const BATCH: usize = 20;

fn body(client: usize, n: u64) -> Vec<u8> {
    let pad = "x".repeat(700);
    let batch: Vec<_> = (0..BATCH)
        .map(|i| {
            json!({
                "type": "track", "event": "Viewed Pricing", "messageId": format!("{client}-{n}-{i}"),
                "anonymousId": "anon-7", "timestamp": "2026-12-06T10:00:00.000Z",
                "properties": {"plan": "pro", "price": 49.5, "note": pad},
                "context": {"library": {"name": "analytics-wasm"}, "page": {"path": "/pricing"}}
            })
        })
        .collect();
    serde_json::to_vec(&json!({"batch": batch, "writeKey": "wk"})).expect("json")
}

#[derive(Default)]
struct Tally {
    acked: AtomicU64,
    latencies_us: Mutex<Vec<u64>>,
}

/// Sends until 2xx; the latency of the answered request, from `since`.
async fn deliver(addr: SocketAddr, body: &[u8], since: tokio::time::Instant, tally: &Tally) {
    let mut attempt = 0;
    loop {
        let answer = client::request(
            addr,
            "POST",
            "/v1/batch",
            &[("Content-Type", "text/plain")],
            body,
        )
        .await;
        if answer.is_ok_and(|a| a.status == 200) {
            tally.acked.fetch_add(BATCH as u64, Ordering::Relaxed);
            tally
                .latencies_us
                .lock()
                .expect("lock")
                .push(since.elapsed().as_micros() as u64);
            return;
        }
        attempt += 1;
        tokio::time::sleep(full_jitter(attempt).min(Duration::from_millis(500))).await;
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p) as usize] as f64 / 1000.0
}

trait Rows {
    fn rows(&self) -> u64;
    fn loader_args(&self) -> Vec<String>;
}

impl Rows for Postgres {
    fn rows(&self) -> u64 {
        self.query("SELECT count(*) FROM events")
            .parse()
            .unwrap_or(0)
    }
    fn loader_args(&self) -> Vec<String> {
        vec![
            "--store".into(),
            "postgres".into(),
            "--postgres-url".into(),
            self.url(),
        ]
    }
}

impl Rows for ClickHouse {
    fn rows(&self) -> u64 {
        match http(self.port, "POST", "/", "SELECT count() FROM events") {
            Some((200, b)) => b.trim().parse().unwrap_or(0),
            _ => 0,
        }
    }
    fn loader_args(&self) -> Vec<String> {
        vec![
            "--store".into(),
            "clickhouse".into(),
            "--clickhouse-url".into(),
            self.url(),
        ]
    }
}

async fn run(store: &dyn Rows, name: &str, ingest_nodes: usize) {
    let logs = temp_dir("bench");
    let nats = NatsCluster::start(3);
    let urls = nats.urls_arg();
    let ingest_args = [
        "--write-key",
        "wk",
        "--nats-url",
        &urls,
        "--stream-replicas",
        "3",
    ];
    let ingests: Vec<Role> = (0..ingest_nodes)
        .map(|i| {
            Role::start(
                "ingest",
                &ingest_args,
                &logs.path().join(format!("ingest{i}.log")),
            )
        })
        .collect();
    let haproxy = HaProxy::start(&ingests.iter().map(|r| r.addr).collect::<Vec<_>>());
    let mut args: Vec<String> = [
        "--nats-url",
        &urls,
        "--stream-replicas",
        "3",
        "--batch-events",
        "5000",
        "--batch-age-ms",
        "200",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(store.loader_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let loaders: Vec<Role> = (0..2)
        .map(|i| Role::start("load", &args, &logs.path().join(format!("load{i}.log"))))
        .collect();
    let addr = haproxy.addr();
    let base = store.rows();

    // Closed loop: 16 clients for 8 s.
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let window = Duration::from_secs(8);
    let clients: Vec<_> = (0..16)
        .map(|c| {
            let tally = tally.clone();
            tokio::spawn(async move {
                let mut n = 0;
                while started.elapsed() < window {
                    let body = body(c, n);
                    deliver(addr, &body, tokio::time::Instant::now(), &tally).await;
                    n += 1;
                }
            })
        })
        .collect();
    for c in clients {
        c.await.expect("client");
    }
    let sent_for = started.elapsed().as_secs_f64();
    let acked = tally.acked.load(Ordering::Relaxed);
    wait_until("the store holds the closed loop's events", || {
        store.rows() >= base + acked
    });
    let end_to_end = acked as f64 / started.elapsed().as_secs_f64();
    let mut lat = tally.latencies_us.lock().expect("lock").clone();
    lat.sort_unstable();

    // Burst: open loop at 2x the end-to-end rate for 5 s.
    let rate = 2.0 * end_to_end;
    let base = store.rows();
    let burst = Arc::new(Tally::default());
    let interval = Duration::from_secs_f64(BATCH as f64 / rate);
    let burst_start = tokio::time::Instant::now();
    let mut peak_lag = 0.0f64;
    let mut tasks = Vec::new();
    let mut n = 0u64;
    let mut next_sample = burst_start;
    while burst_start.elapsed() < Duration::from_secs(5) {
        let due = burst_start + interval * n as u32;
        tokio::time::sleep_until(due).await;
        let burst = burst.clone();
        let body = body(1000, n);
        tasks.push(tokio::spawn(async move {
            deliver(addr, &body, due, &burst).await
        }));
        n += 1;
        if tokio::time::Instant::now() >= next_sample {
            let lag = loaders[0].metric("loader_lag_events");
            peak_lag = peak_lag.max(lag);
            next_sample += Duration::from_millis(250);
        }
    }
    for t in tasks {
        t.await.expect("burst request");
    }
    let burst_end = Instant::now();
    let offered = n * BATCH as u64;
    loop {
        peak_lag = peak_lag.max(loaders[0].metric("loader_lag_events"));
        if store.rows() >= base + offered {
            break;
        }
        assert!(burst_end.elapsed() < PATIENCE, "the burst did not drain");
        std::thread::sleep(Duration::from_millis(100));
    }
    let drain = burst_end.elapsed().as_secs_f64();
    let mut blat = burst.latencies_us.lock().expect("lock").clone();
    blat.sort_unstable();
    println!(
        "| {name} | {ingest_nodes} | {:.0} | {:.1} | {:.1} | {:.0} | {:.0} | {:.0} | {:.1} | {drain:.1} |",
        acked as f64 / sent_for,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        end_to_end,
        rate,
        peak_lag,
        percentile(&blat, 0.99),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a bench: run it by hand, see the header"]
async fn bench_end_to_end() {
    println!("| store | ingest nodes | events/s answered 2xx (16 clients) | p50 ms | p99 ms | events/s end to end | burst offered events/s | peak loader lag (events) | burst p99 ms | drained s after the burst |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for nodes in [1, 2] {
        let pg = Postgres::start();
        run(&pg, "Postgres", nodes).await;
    }
    for nodes in [1, 2] {
        let ch = ClickHouse::start();
        run(&ch, "ClickHouse", nodes).await;
    }
}
