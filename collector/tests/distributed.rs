//! The distributed roles end to end, with real servers: two `ingest` nodes
//! behind HAProxy, a 3-node JetStream cluster (R3 stream), two `load`
//! nodes sharing one consumer, and the store (Postgres, then ClickHouse).
//! A generator sends batches of new events as the SDK does: every request
//! not answered 2xx is sent again, same body, after a full-jitter backoff,
//! and now and then a batch already answered 2xx is sent again (the SDK's
//! re-send of events it could not confirm), so copies reach the store both
//! within and beyond the stream's 1 s dedupe window. Under that steady
//! load one ingest node is SIGKILLed, then one JetStream node, then one
//! loader in the middle of a batch, then the store is restarted; after the
//! drain the store must hold every event once: 0 lost, 0 duplicates.

// Each test holds `services::serial()` for its whole run (its own runtime):
// the lock serializes tests across threads, not tasks within one.
#![allow(clippy::await_holding_lock)]

mod services;

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use analytics_collector::client;
use analytics_collector::load::full_jitter;
use serde_json::json;
use services::*;

const WRITE_KEY: &str = "wk";
const STREAM: &str = "ANALYTICS_EVENTS";
const BATCH: usize = 20;

/// What the generator sent, and what was answered.
#[derive(Default)]
struct Sent {
    /// Every id sent; each was eventually answered 2xx.
    ids: Mutex<Vec<String>>,
    /// Events answered 2xx (first sends and re-sent copies alike).
    acked: AtomicU64,
    requests: AtomicU64,
    /// Requests sent again after an answer other than 2xx, or none.
    resent: AtomicU64,
    /// Events sent again after a 2xx (copies the store must drop).
    copies: AtomicU64,
}

struct Generator {
    sent: Arc<Sent>,
    stop: Arc<AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<()>>,
}

fn body(ids: &[String]) -> Vec<u8> {
    let batch: Vec<_> = ids
        .iter()
        .map(|id| {
            json!({
                "type": "track", "event": "Viewed Pricing", "messageId": id,
                "anonymousId": "anon-7", "timestamp": "2026-12-06T10:00:00.000Z",
                "properties": {"plan": "pro", "price": 49.5},
                "context": {"library": {"name": "analytics-wasm"}, "page": {"path": "/pricing"}}
            })
        })
        .collect();
    serde_json::to_vec(
        &json!({"batch": batch, "writeKey": WRITE_KEY, "sentAt": "2026-12-06T10:00:01.000Z"}),
    )
    .expect("serializable")
}

/// Sends `body` until it is answered 2xx.
async fn deliver(addr: SocketAddr, body: &[u8], sent: &Sent) {
    let mut attempt = 0;
    loop {
        sent.requests.fetch_add(1, Ordering::Relaxed);
        let answer = tokio::time::timeout(
            Duration::from_secs(15),
            client::request(
                addr,
                "POST",
                "/v1/batch",
                &[("Content-Type", "text/plain;charset=UTF-8")],
                body,
            ),
        )
        .await;
        if let Ok(Ok(answer)) = answer {
            if (200..300).contains(&answer.status) {
                return;
            }
            assert_ne!(
                answer.status,
                400,
                "a valid batch refused: {}",
                answer.text()
            );
        }
        attempt += 1;
        sent.resent.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(full_jitter(attempt).min(Duration::from_secs(1))).await;
    }
}

impl Generator {
    /// `clients` clients, each sending a batch of `BATCH` new events every
    /// `pace` (or when the last is answered, if later).
    fn start(addr: SocketAddr, clients: usize, pace: Duration) -> Generator {
        let sent = Arc::new(Sent::default());
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..clients)
            .map(|c| {
                let (sent, stop) = (sent.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut earlier: VecDeque<Vec<u8>> = VecDeque::new();
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let started = tokio::time::Instant::now();
                        let ids: Vec<String> =
                            (0..BATCH).map(|i| format!("c{c}-{n}-{i}")).collect();
                        let body = body(&ids);
                        deliver(addr, &body, &sent).await;
                        sent.ids.lock().expect("lock").extend(ids);
                        sent.acked.fetch_add(BATCH as u64, Ordering::Relaxed);
                        earlier.push_back(body);
                        // Every 10th batch, one answered 2xx some 30 batches ago, again.
                        if n % 10 == 9 && earlier.len() > 30 {
                            if let Some(old) = earlier.pop_front() {
                                deliver(addr, &old, &sent).await;
                                sent.copies.fetch_add(BATCH as u64, Ordering::Relaxed);
                            }
                        }
                        if earlier.len() > 40 {
                            earlier.pop_front();
                        }
                        n += 1;
                        tokio::time::sleep_until(started + pace).await;
                    }
                })
            })
            .collect();
        Generator {
            sent,
            stop,
            clients,
        }
    }

    fn acked(&self) -> u64 {
        self.sent.acked.load(Ordering::Relaxed)
    }

    /// Waits until `more` events beyond now were answered 2xx.
    async fn wait_more(&self, more: u64, what: &str) {
        let target = self.acked() + more;
        probe_until(&format!("{more} more events answered 2xx ({what})"), || {
            self.acked() >= target
        })
        .await;
    }

    /// Stops after each client's batch in hand is answered 2xx; the ids sent.
    async fn stop(self) -> (HashSet<String>, Arc<Sent>) {
        self.stop.store(true, Ordering::Relaxed);
        for client in self.clients {
            client.await.expect("a generator client ends");
        }
        let ids: Vec<String> = self.sent.ids.lock().expect("lock").clone();
        let unique: HashSet<String> = ids.iter().cloned().collect();
        assert_eq!(unique.len(), ids.len(), "the generator's ids are unique");
        (unique, self.sent)
    }
}

/// Polls `condition` (which may block: a psql, an HTTP request) every
/// 20 ms until it holds, failing after `PATIENCE`. The blocking probe runs
/// in `block_in_place`, so the runtime's other tasks (the generator's
/// clients) move to another thread meanwhile.
async fn probe_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !tokio::task::block_in_place(&mut condition) {
        assert!(Instant::now() < deadline, "waited {PATIENCE:?} for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A blocking probe, off the runtime's scheduling (see `probe_until`).
fn probe<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// The stream's leader and its consumer's backlog, asked of the cluster.
struct StreamView {
    js: async_nats::jetstream::Context,
}

impl StreamView {
    async fn connect(urls: Vec<String>) -> StreamView {
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(urls.as_slice())
            .await
            .expect("the test connects to NATS");
        StreamView {
            js: async_nats::jetstream::new(client),
        }
    }

    async fn leader(&self) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(mut stream) = self.js.get_stream(STREAM).await {
                if let Ok(info) = stream.info().await {
                    if let Some(leader) = info.cluster.as_ref().and_then(|c| c.leader.clone()) {
                        return leader;
                    }
                }
            }
            assert!(Instant::now() < deadline, "the stream has no leader");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// (not yet delivered, delivered and not acked), or `None` if unknown now.
    async fn backlog(&self) -> Option<(u64, usize)> {
        let stream = self.js.get_stream(STREAM).await.ok()?;
        let mut consumer: async_nats::jetstream::consumer::PullConsumer =
            stream.get_consumer("loader").await.ok()?;
        let info = consumer.info().await.ok()?;
        Some((info.num_pending, info.num_ack_pending))
    }

    async fn wait_drained(&self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if self.backlog().await == Some((0, 0)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the consumer did not drain: {:?}",
                self.backlog().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Which store the loaders write, and how the test reads it.
trait Store {
    fn loader_args(&self) -> Vec<String>;
    /// Rows read exactly (ClickHouse: with FINAL).
    fn rows(&self) -> u64;
    fn unique(&self) -> u64;
    fn ids(&self) -> HashSet<String>;
    /// Stops the store's server at once and starts it again once `failing` holds.
    fn restart(&mut self, failing: &dyn Fn() -> bool);
    fn report(&self) -> String;
    /// Copies the store itself dropped (counted), where it can tell.
    fn dropped(&self) -> Option<u64>;
}

struct Pg(Postgres);

impl Store for Pg {
    fn loader_args(&self) -> Vec<String> {
        vec![
            "--store".into(),
            "postgres".into(),
            "--postgres-url".into(),
            self.0.url(),
        ]
    }
    fn rows(&self) -> u64 {
        self.0
            .query("SELECT count(*) FROM events")
            .parse()
            .unwrap_or(0)
    }
    fn unique(&self) -> u64 {
        self.0
            .query("SELECT count(DISTINCT (write_key, message_id)) FROM events")
            .parse()
            .expect("a count")
    }
    fn ids(&self) -> HashSet<String> {
        self.0
            .query("SELECT message_id FROM events")
            .lines()
            .map(str::to_owned)
            .collect()
    }
    fn restart(&mut self, failing: &dyn Fn() -> bool) {
        self.0.stop_immediately();
        wait_until("a loader's write fails while Postgres is down", failing);
        self.0.pg_start();
    }
    fn report(&self) -> String {
        format!(
            "copies dropped by the unique key (duplicates table): {}",
            self.dropped()
                .map_or_else(|| "unreadable".to_string(), |n| n.to_string())
        )
    }
    fn dropped(&self) -> Option<u64> {
        self.0
            .query("SELECT coalesce(sum(dropped), 0) FROM duplicates")
            .parse()
            .ok()
    }
}

struct Ch(ClickHouse);

impl Store for Ch {
    fn loader_args(&self) -> Vec<String> {
        vec![
            "--store".into(),
            "clickhouse".into(),
            "--clickhouse-url".into(),
            self.0.url(),
        ]
    }
    fn rows(&self) -> u64 {
        // Before the table exists (the first loader creates it), none.
        match http(self.0.port, "POST", "/", "SELECT count() FROM events FINAL") {
            Some((200, body)) => body.trim().parse().unwrap_or(0),
            _ => 0,
        }
    }
    fn unique(&self) -> u64 {
        self.0
            .query("SELECT uniqExact(write_key, message_id) FROM events")
            .parse()
            .expect("a count")
    }
    fn ids(&self) -> HashSet<String> {
        self.0
            .query("SELECT message_id FROM events FINAL")
            .lines()
            .map(str::to_owned)
            .collect()
    }
    fn restart(&mut self, failing: &dyn Fn() -> bool) {
        self.0.kill();
        wait_until("a loader's write fails while ClickHouse is down", failing);
        self.0.run();
    }
    fn report(&self) -> String {
        format!(
            "rows before merges (copies not yet collapsed): {}",
            self.0.query("SELECT count() FROM events")
        )
    }
    fn dropped(&self) -> Option<u64> {
        // Merges collapse copies whenever ClickHouse chooses: not countable.
        None
    }
}

/// Which JetStream node the scenario kills.
#[derive(Clone, Copy, PartialEq)]
enum Kill {
    StreamLeader,
    AFollower,
}

async fn scenario(mut store: Box<dyn Store>, kill: Kill) {
    let started = Instant::now();
    let logs = temp_dir("logs");
    let mut nats = NatsCluster::start(3);
    let urls = nats.urls_arg();
    let ingest_args = [
        "--write-key",
        WRITE_KEY,
        "--nats-url",
        &urls,
        "--stream-replicas",
        "3",
        "--duplicate-window-ms",
        "1000",
        "--commit-timeout-ms",
        "3000",
    ];
    let mut ingest1 = Role::start("ingest", &ingest_args, &logs.path().join("ingest1.log"));
    let ingest2 = Role::start("ingest", &ingest_args, &logs.path().join("ingest2.log"));
    let haproxy = HaProxy::start(&[ingest1.addr, ingest2.addr]);
    let mut loader_args: Vec<String> = [
        "--nats-url",
        &urls,
        "--stream-replicas",
        "3",
        "--duplicate-window-ms",
        "1000",
        "--batch-events",
        "500",
        "--batch-age-ms",
        "200",
        "--ack-wait-ms",
        "3000",
        "--write-timeout-ms",
        "2000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    loader_args.extend(store.loader_args());
    let loader_args: Vec<&str> = loader_args.iter().map(String::as_str).collect();
    let mut loader1 = Role::start("load", &loader_args, &logs.path().join("load1.log"));
    let loader2 = Role::start("load", &loader_args, &logs.path().join("load2.log"));
    let view = StreamView::connect(nats.urls()).await;
    println!("up in {:.1} s", started.elapsed().as_secs_f64());

    let generator = Generator::start(haproxy.addr(), 4, Duration::from_millis(40));
    generator.wait_more(2_000, "steady load").await;
    probe_until("the loaders write", || store.rows() > 0).await;

    // 1. An ingest node dies; HAProxy sends everything to the other.
    ingest1.proc.kill();
    generator
        .wait_more(2_000, "after an ingest node was killed")
        .await;

    // 2. A JetStream node dies.
    let leader = view.leader().await;
    let victim = match kill {
        Kill::StreamLeader => leader.clone(),
        Kill::AFollower => ["n1", "n2", "n3"]
            .into_iter()
            .find(|n| *n != leader)
            .expect("a follower")
            .to_owned(),
    };
    nats.kill_node(&victim);
    let rows = probe(|| store.rows());
    generator
        .wait_more(2_000, "after a JetStream node was killed")
        .await;
    probe_until("the store grows after the JetStream node died", || {
        store.rows() > rows
    })
    .await;
    let new_leader = view.leader().await;
    println!("killed JetStream node {victim} (the stream's leader was {leader}; now {new_leader})");

    // 3. A loader dies with a batch in hand.
    let deadline = Instant::now() + PATIENCE;
    let in_flight = loop {
        let in_flight = probe(|| loader1.metric("loader_events_in_flight"));
        if in_flight > 0.0 {
            loader1.proc.kill();
            break in_flight;
        }
        assert!(
            Instant::now() < deadline,
            "loader 1 never had a batch in hand"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!("killed loader 1 with {in_flight} events fetched and not acked");
    let rows = probe(|| store.rows());
    generator
        .wait_more(2_000, "after a loader was killed")
        .await;
    probe_until("the store grows after the loader died", || {
        store.rows() > rows
    })
    .await;

    // 4. The store restarts.
    let failures = probe(|| loader2.metric("loader_write_failures_total"));
    probe(|| store.restart(&|| loader2.metric("loader_write_failures_total") > failures));
    let rows = probe(|| store.rows());
    generator
        .wait_more(2_000, "after the store restarted")
        .await;
    probe_until("the store grows after its restart", || store.rows() > rows).await;

    // The drain.
    let (ids, sent) = generator.stop().await;
    let expected = ids.len() as u64;
    probe_until("the store holds every event answered 2xx", || {
        store.rows() >= expected
    })
    .await;
    view.wait_drained().await;
    let (rows, unique, held, dropped, report) = probe(|| {
        (
            store.rows(),
            store.unique(),
            store.ids(),
            store.dropped(),
            store.report(),
        )
    });
    let (stored2, duplicates2, dead) = probe(|| {
        (
            loader2.metric("loader_events_stored_total"),
            loader2.metric("loader_events_duplicate_total"),
            loader2.metric("loader_events_dead_lettered_total"),
        )
    });
    let lost = ids.difference(&held).count();
    let foreign = held.difference(&ids).count();
    println!(
        "sent {expected} events in {} requests ({} sent again after no 2xx, {} events re-sent after a 2xx); store: {rows} rows, {unique} unique, {lost} lost, {} duplicates; loader 2 stored {stored2} and dropped {duplicates2} copies; {report}; {:.1} s in all",
        sent.requests.load(Ordering::Relaxed),
        sent.resent.load(Ordering::Relaxed),
        sent.copies.load(Ordering::Relaxed),
        rows - unique,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(lost, 0, "events answered 2xx missing from the store");
    assert_eq!(foreign, 0, "rows the generator never sent");
    assert_eq!(rows, expected, "rows (read exactly) = events sent");
    assert_eq!(
        unique, expected,
        "unique (write key, messageId) = events sent"
    );
    assert!(sent.copies.load(Ordering::Relaxed) > 0, "copies were sent");
    assert_eq!(dead, 0.0, "nothing dead-lettered");
    // The copies re-sent after a 2xx come some 30 batches (over 1.2 s)
    // later, past the stream's 1 s window: the store's own dedupe must
    // have dropped some, where it can tell.
    if let Some(dropped) = dropped {
        assert!(
            dropped > 0 || duplicates2 > 0.0,
            "copies sent beyond the stream's window were dropped by the store"
        );
    }
    drop(ingest2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_holds_every_event_once_through_ingest_stream_leader_loader_and_store_failures() {
    let _serial = serial();
    let store = Pg(Postgres::start());
    scenario(Box::new(store), Kill::StreamLeader).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_read_with_final_holds_every_event_once_through_ingest_stream_follower_loader_and_store_failures(
) {
    let _serial = serial();
    let store = Ch(ClickHouse::start());
    scenario(Box::new(store), Kill::AFollower).await;
}
