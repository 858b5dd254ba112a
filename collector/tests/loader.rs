//! The `load` role against a real JetStream node: batches by size, a
//! failing store retried behind the circuit with nothing acked until it
//! commits, and the order commit-then-ack proven by killing the loader
//! between the two.

// Each test holds `services::serial()` for its whole run (its own runtime):
// the lock serializes tests across threads, not tasks within one.
#![allow(clippy::await_holding_lock)]

mod services;

use std::time::{Duration, Instant};

use analytics_collector::config::Config;
use analytics_collector::load::Loader;
use analytics_collector::store::fault::{Fault, FaultStore};
use analytics_collector::store::memory::MemoryStore;
use analytics_collector::stream;
use analytics_collector::wire::{Kind, Message};
use async_nats::jetstream::{self, consumer::PullConsumer};
use services::*;

fn config(nats: &NatsCluster) -> Config {
    let mut config = Config::with_write_keys(&["wk"]);
    config.nats_urls = nats.urls();
    config.stream_replicas = 1;
    config.batch_age = Duration::from_millis(200);
    config.ack_wait = Duration::from_secs(1);
    config
}

fn message(id: &str) -> Message {
    let json =
        format!(r#"{{"type":"track","event":"Signed Up","messageId":"{id}","anonymousId":"a1"}}"#);
    Message {
        message_id: id.into(),
        kind: Kind::Track,
        event: Some("Signed Up".into()),
        user_id: None,
        anonymous_id: Some("a1".into()),
        timestamp: None,
        sent_at: None,
        json,
    }
}

/// Publishes `n` events as an ingest node would; the stream and the consumer.
async fn publish(config: &Config, n: usize) -> (jetstream::Context, PullConsumer) {
    let js = stream::connect(config, "test").await.expect("connects");
    let stream = stream::ensure_stream(&js, config, PATIENCE)
        .await
        .expect("the stream");
    for i in 0..n {
        let id = format!("m{i}");
        let payload = stream::encode("wk", "2026-12-06T10:00:01.000Z", &message(&id));
        js.send_publish(
            stream::subject(config),
            jetstream::context::Publish::build()
                .payload(payload.into())
                .message_id(stream::msg_id("wk", &id)),
        )
        .await
        .expect("published")
        .await
        .expect("acked");
    }
    let consumer = stream::ensure_consumer(&stream, config, PATIENCE)
        .await
        .expect("the consumer");
    (js, consumer)
}

/// (not yet delivered, delivered and not acked, acked up to).
async fn backlog(consumer: &mut PullConsumer) -> (u64, usize, u64) {
    let info = consumer.info().await.expect("consumer info");
    (
        info.num_pending,
        info.num_ack_pending,
        info.ack_floor.stream_sequence,
    )
}

async fn eventually(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition().await {
        assert!(Instant::now() < deadline, "waited {PATIENCE:?} for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_written_when_it_reaches_batch_events_without_waiting_for_its_age() {
    let _serial = serial();
    let nats = NatsCluster::start(1);
    let mut config = config(&nats);
    config.batch_events = 50;
    config.batch_age = Duration::from_secs(60);
    let (_js, consumer) = publish(&config, 100).await;
    let memory = MemoryStore::new();
    let started = Instant::now();
    let loader = Loader::start(&config, consumer, memory.clone()).expect("starts");
    eventually("100 events stored", async || memory.events().len() == 100).await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "two full batches do not wait for the 60 s age"
    );
    eventually("two batches acked", async || {
        loader
            .metrics
            .batches
            .load(std::sync::atomic::Ordering::Relaxed)
            == 2
    })
    .await;
    loader.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_is_retried_behind_the_circuit_and_nothing_is_acked_until_it_commits() {
    use std::sync::atomic::Ordering::Relaxed;
    let _serial = serial();
    let nats = NatsCluster::start(1);
    let config = config(&nats);
    let (_js, mut consumer) = publish(&config, 50).await;
    let memory = MemoryStore::new();
    let (store, control) = FaultStore::new(memory.clone());
    control.set(Fault::Fail);
    let loader = Loader::start(&config, consumer.clone(), store).expect("starts");
    let metrics = loader.metrics.clone();
    eventually("three failed writes open the circuit", async || {
        metrics.write_failures.load(Relaxed) >= 3 && metrics.circuit.load(Relaxed) == 1
    })
    .await;
    // Held past several ack waits by in-progress acks, and not acked.
    tokio::time::sleep(config.ack_wait * 2).await;
    let (pending, unacked, floor) = backlog(&mut consumer).await;
    assert_eq!(
        (pending, unacked, floor),
        (0, 50, 0),
        "delivered once, none acked"
    );
    assert_eq!(
        metrics.fetched.load(Relaxed),
        50,
        "not redelivered meanwhile"
    );
    eventually("the lag metric counts the backlog", async || {
        metrics.lag.load(Relaxed) == 50
    })
    .await;
    assert!(memory.events().is_empty());
    control.set(Fault::None);
    eventually("stored and acked once the store works", async || {
        memory.events().len() == 50 && backlog(&mut consumer).await == (0, 0, 50)
    })
    .await;
    assert_eq!(metrics.circuit.load(Relaxed), 0, "closed again");
    assert_eq!(metrics.acked.load(Relaxed), 50);
    assert_eq!(memory.duplicates(), 0);
    loader.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loader_killed_between_its_commit_and_its_acks_leaves_every_event_stored_once() {
    let _serial = serial();
    let nats = NatsCluster::start(1);
    let config = config(&nats);
    let (_js, mut consumer) = publish(&config, 100).await;
    let dir = temp_dir("loader");
    let db = dir.path().join("events.db");
    let url = nats.urls_arg();
    let args = [
        "--nats-url",
        &url,
        "--stream-replicas",
        "1",
        "--store",
        "sqlite",
        "--db",
        db.to_str().expect("utf-8"),
        "--batch-age-ms",
        "200",
        "--ack-wait-ms",
        "1000",
    ];
    let mut first = Role::start(
        "load",
        &[&args[..], &["--test-pause-before-ack"]].concat(),
        &dir.path().join("load1.log"),
    );
    wait_until(
        "the first loader committed and paused before acking",
        || first.metric("loader_paused_before_ack") == 1.0,
    );
    // Committed: the rows are there. Not acked: the stream holds all 100.
    let rows = |db: &std::path::Path| -> (i64, i64) {
        let conn = rusqlite::Connection::open(db).expect("opens");
        conn.query_row(
            "SELECT count(*), count(DISTINCT message_id) FROM events",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("counted")
    };
    assert_eq!(rows(&db), (100, 100));
    assert_eq!(backlog(&mut consumer).await, (0, 100, 0));
    first.proc.kill();

    let second = Role::start("load", &args, &dir.path().join("load2.log"));
    eventually(
        "the stream redelivered and the second loader acked",
        async || backlog(&mut consumer).await == (0, 0, 100),
    )
    .await;
    assert_eq!(rows(&db), (100, 100), "0 lost, 0 duplicates");
    assert_eq!(second.metric("loader_events_stored_total"), 0.0);
    assert_eq!(second.metric("loader_events_duplicate_total"), 100.0);
    let dropped: i64 = rusqlite::Connection::open(&db)
        .expect("opens")
        .query_row("SELECT sum(dropped) FROM duplicates", [], |r| r.get(0))
        .expect("counted");
    assert_eq!(dropped, 100, "each redelivered copy dropped and counted");
}
