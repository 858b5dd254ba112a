//! The `load` role against a real JetStream node: batches by size, acked
//! events leaving the stream, a failing store retried behind the circuit
//! with nothing acked (or redelivered) until it commits, a slow write kept
//! from redelivery, events the store refuses dead-lettered while the
//! others are written, messages that are not envelopes (or of a later
//! version), a consumer made by an earlier configuration, a loader that
//! cannot go on ending with an error, and the order commit-then-ack proven
//! by killing the loader between the two.

// Each test holds `services::serial()` for its whole run (its own runtime):
// the lock serializes tests across threads, not tasks within one.
#![allow(clippy::await_holding_lock)]

mod services;

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use analytics_collector::config::Config;
use analytics_collector::load::Loader;
use analytics_collector::store::fault::{Fault, FaultStore};
use analytics_collector::store::memory::MemoryStore;
use analytics_collector::store::postgres::PostgresStore;
use analytics_collector::stream;
use analytics_collector::wire::{Kind, Message};
use async_nats::jetstream::{self, consumer::PullConsumer};
use futures_util::StreamExt;
use services::*;

fn config(nats: &NatsCluster) -> Config {
    let mut config = Config::with_write_keys(&["wk"]);
    config.nats_urls = nats.urls();
    config.stream_replicas = 1;
    config.batch_age = Duration::from_millis(200);
    config.ack_wait = Duration::from_secs(1);
    config
}

fn message(id: &str, event: &str) -> Message {
    let json =
        format!(r#"{{"type":"track","event":"{event}","messageId":"{id}","anonymousId":"a1"}}"#);
    Message {
        message_id: id.into(),
        kind: Kind::Track,
        event: Some(event.into()),
        user_id: None,
        anonymous_id: Some("a1".into()),
        timestamp: None,
        sent_at: None,
        json,
    }
}

async fn send(js: &jetstream::Context, config: &Config, id: &str, payload: Vec<u8>) {
    js.send_publish(
        stream::subject(config),
        jetstream::context::Publish::build()
            .payload(payload.into())
            .message_id(stream::msg_id("wk", id)),
    )
    .await
    .expect("published")
    .await
    .expect("acked");
}

/// Publishes events `m{from}`..`m{to}` as an ingest node would.
async fn publish_range(js: &jetstream::Context, config: &Config, ids: std::ops::Range<usize>) {
    for i in ids {
        let id = format!("m{i}");
        let event = if i == 13 { "Poison" } else { "Signed Up" };
        let payload = stream::encode("wk", "2026-12-06T10:00:01.000Z", &message(&id, event))
            .expect("encodes");
        send(js, config, &id, payload).await;
    }
}

/// Creates the stream as an ingest node does and publishes `n` events.
async fn publish_only(config: &Config, n: usize) -> jetstream::Context {
    let js = stream::connect(config, "test").await.expect("connects");
    stream::ensure_stream(&js, config, PATIENCE)
        .await
        .expect("the stream");
    publish_range(&js, config, 0..n).await;
    js
}

/// `publish_only`, and the loaders' consumer.
async fn publish(config: &Config, n: usize) -> (jetstream::Context, PullConsumer) {
    let js = publish_only(config, n).await;
    let consumer = stream::loader_consumer(&js, config, PATIENCE)
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

async fn messages_in(js: &jetstream::Context, stream: &str) -> u64 {
    let mut stream = js.get_stream(stream).await.expect("the stream");
    stream.info().await.expect("info").state.messages
}

/// What a second puller on the loaders' consumer gets within `window`:
/// nothing, while the loader holds its batch with in-progress acks.
async fn second_puller_gets(consumer: &PullConsumer, window: Duration) -> usize {
    let mut got = consumer
        .batch()
        .max_messages(1000)
        .expires(window)
        .messages()
        .await
        .expect("a pull");
    let mut n = 0;
    while let Some(message) = got.next().await {
        if message.is_ok() {
            n += 1;
        }
    }
    n
}

async fn eventually(what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition().await {
        assert!(Instant::now() < deadline, "waited {PATIENCE:?} for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_written_when_it_reaches_batch_events_and_acked_events_leave_the_stream() {
    let _serial = serial();
    let nats = NatsCluster::start(1);
    let mut config = config(&nats);
    config.batch_events = 50;
    config.batch_age = Duration::from_secs(60);
    let (js, consumer) = publish(&config, 100).await;
    assert_eq!(messages_in(&js, &config.stream).await, 100);
    let memory = MemoryStore::new();
    let started = Instant::now();
    let loader = Loader::start(&config, js.clone(), consumer, memory.clone()).expect("starts");
    eventually("100 events stored", async || memory.events().len() == 100).await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "two full batches do not wait for the 60 s age"
    );
    eventually("two batches acked", async || {
        loader.metrics.batches.load(Relaxed) == 2
    })
    .await;
    // A work queue: what the loader acked is gone from the stream's disk.
    eventually(
        "the stream holds nothing once everything is acked",
        async || messages_in(&js, &config.stream).await == 0,
    )
    .await;
    loader.shutdown().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_is_retried_behind_the_circuit_and_nothing_is_acked_until_it_commits() {
    let _serial = serial();
    let nats = NatsCluster::start(1);
    let config = config(&nats);
    let (js, mut consumer) = publish(&config, 50).await;
    let memory = MemoryStore::new();
    let (store, control) = FaultStore::new(memory.clone());
    control.set(Fault::Fail);
    let loader = Loader::start(&config, js, consumer.clone(), store).expect("starts");
    let metrics = loader.metrics.clone();
    eventually("three failed writes open the circuit", async || {
        metrics.write_failures.load(Relaxed) >= 3 && metrics.circuit.load(Relaxed) == 1
    })
    .await;
    // Held past several ack waits by in-progress acks: another puller on
    // the same consumer is given nothing meanwhile.
    assert_eq!(
        second_puller_gets(&consumer, config.ack_wait * 3).await,
        0,
        "not redelivered while the store fails"
    );
    let (pending, unacked, floor) = backlog(&mut consumer).await;
    assert_eq!(
        (pending, unacked, floor),
        (0, 50, 0),
        "delivered once, none acked"
    );
    assert_eq!(metrics.fetched.load(Relaxed), 50);
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
    loader.shutdown().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_slower_than_ack_wait_is_kept_from_redelivery_by_in_progress_acks() {
    let _serial = serial();
    let nats = NatsCluster::start(1);
    let config = config(&nats);
    let (js, mut consumer) = publish(&config, 30).await;
    let memory = MemoryStore::new();
    let (store, control) = FaultStore::new(memory.clone());
    control.set(Fault::Stall);
    let loader = Loader::start(&config, js, consumer.clone(), store).expect("starts");
    eventually("the write is under way and stalled", async || {
        control.stalled() == 1
    })
    .await;
    assert_eq!(
        second_puller_gets(&consumer, config.ack_wait * 3).await,
        0,
        "not redelivered to another loader mid-write"
    );
    control.set(Fault::None);
    eventually("stored and acked once", async || {
        memory.events().len() == 30 && backlog(&mut consumer).await == (0, 0, 30)
    })
    .await;
    assert_eq!(loader.metrics.fetched.load(Relaxed), 30, "delivered once");
    assert_eq!(memory.duplicates(), 0);
    loader.shutdown().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_postgres_refuses_is_dead_lettered_and_every_other_is_stored_once() {
    let _serial = serial();
    let nats = NatsCluster::start(1);
    let pg = Postgres::start();
    let mut config = config(&nats);
    config.ack_wait = Duration::from_secs(5);
    // The database's default would let commits return before the WAL is
    // flushed; the store's own connection must say otherwise. And a rule
    // of the operator's: an event named "Poison" is refused (SQLSTATE
    // 23514), as Postgres refuses any value it cannot hold.
    pg.query("ALTER DATABASE postgres SET synchronous_commit = off");
    let store = PostgresStore::connect(&pg.url()).await.expect("postgres");
    pg.query(
        "ALTER TABLE events ADD CONSTRAINT durable CHECK (current_setting('synchronous_commit') = 'on'),
         ADD CONSTRAINT no_poison CHECK (event IS DISTINCT FROM 'Poison')",
    );
    let (js, mut consumer) = publish(&config, 40).await;
    let loader = Loader::start(&config, js.clone(), consumer.clone(), store).expect("starts");
    eventually("the other 39 are stored", async || {
        pg.query("SELECT count(*) FROM events") == "39"
    })
    .await;
    eventually("the refused one is dead-lettered", async || {
        loader.metrics.dead_letters.load(Relaxed) == 1
    })
    .await;
    assert_eq!(
        pg.query("SELECT count(DISTINCT message_id) FROM events WHERE message_id <> 'm13'"),
        "39"
    );
    // On the dead-letter subject, kept by a stream, with the reason.
    let dead = stream::dead_letter_stream(&config);
    let kept = js
        .get_stream(&dead)
        .await
        .expect("the dead-letter stream")
        .get_raw_message(1)
        .await
        .expect("the dead letter");
    assert_eq!(kept.subject.as_str(), config.dead_letter_subject);
    let batch = stream::decode(&kept.payload).expect("the envelope as published");
    assert_eq!(batch.messages[0].message_id, "m13");
    let reason = kept
        .headers
        .get("Collector-Dead-Reason")
        .expect("a reason")
        .to_string();
    assert!(
        reason.contains("23514") && reason.contains("no_poison"),
        "{reason}"
    );
    // Nothing left in the stream; and the loader goes on loading.
    eventually("the stream is empty", async || {
        messages_in(&js, &config.stream).await == 0 && backlog(&mut consumer).await.1 == 0
    })
    .await;
    publish_range(&js, &config, 40..50).await;
    eventually("later events are loaded too", async || {
        pg.query("SELECT count(*) FROM events") == "49"
    })
    .await;
    assert_eq!(loader.metrics.dead_letters.load(Relaxed), 1);
    assert!(
        loader.metrics.write_refusals.load(Relaxed) >= 2,
        "split down to the one"
    );
    assert_eq!(
        loader.metrics.write_failures.load(Relaxed),
        0,
        "nothing retried"
    );
    loader.shutdown().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_is_no_envelope_is_dead_lettered_and_a_later_version_is_handed_back() {
    let _serial = serial();
    let nats = NatsCluster::start(1);
    let config = config(&nats);
    let js = publish_only(&config, 5).await;
    send(&js, &config, "junk", b"not an envelope".to_vec()).await;
    let later = String::from_utf8(
        stream::encode(
            "wk",
            "2026-12-06T10:00:01.000Z",
            &message("v2", "Signed Up"),
        )
        .expect("encodes"),
    )
    .expect("utf-8")
    .replacen('{', "{\"v\":2,", 1);
    send(&js, &config, "v2", later.into_bytes()).await;
    let consumer = stream::loader_consumer(&js, &config, PATIENCE)
        .await
        .expect("the consumer");
    let memory = MemoryStore::new();
    let loader = Loader::start(&config, js.clone(), consumer, memory.clone()).expect("starts");
    eventually(
        "the 5 events stored, the junk dead-lettered, v2 handed back",
        async || {
            memory.events().len() == 5
                && loader.metrics.dead_letters.load(Relaxed) == 1
                && loader.metrics.deferred.load(Relaxed) == 1
        },
    )
    .await;
    assert_eq!(loader.metrics.poison.load(Relaxed), 1);
    let dead = stream::dead_letter_stream(&config);
    eventually("the junk kept on the dead-letter subject", async || {
        messages_in(&js, &dead).await == 1
    })
    .await;
    let kept = js
        .get_stream(&dead)
        .await
        .expect("the dead-letter stream")
        .get_raw_message(1)
        .await
        .expect("the dead letter");
    assert_eq!(&kept.payload[..], b"not an envelope");
    // The later version stays in the stream for a loader that reads it.
    eventually("only the later version is left in the stream", async || {
        messages_in(&js, &config.stream).await == 1
    })
    .await;
    loader.shutdown().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loader_with_more_batch_events_than_an_existing_consumer_allows_still_loads() {
    let _serial = serial();
    let nats = NatsCluster::start(1);
    let mut config = config(&nats);
    let js = publish_only(&config, 120).await;
    // The consumer as an earlier configuration left it: pulls of at most
    // 10 events, another ack_wait.
    let stream = js.get_stream(&config.stream).await.expect("the stream");
    stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some(config.consumer.clone()),
            ack_policy: async_nats::jetstream::consumer::AckPolicy::Explicit,
            ack_wait: Duration::from_secs(7),
            max_batch: 10,
            ..Default::default()
        })
        .await
        .expect("the old consumer");
    config.batch_events = 60;
    let consumer = stream::loader_consumer(&js, &config, PATIENCE)
        .await
        .expect("the consumer, updated");
    let info = consumer.cached_info().config.clone();
    assert!(info.max_batch as usize >= config.batch_events, "{info:?}");
    assert_eq!(info.ack_wait, config.ack_wait);
    let memory = MemoryStore::new();
    let loader = Loader::start(&config, js.clone(), consumer, memory.clone()).expect("starts");
    eventually("all 120 stored", async || memory.events().len() == 120).await;
    assert_eq!(loader.metrics.pull_failures.load(Relaxed), 0);
    assert_eq!(
        loader.metrics.ack_wait_ms.load(Relaxed),
        1000,
        "the server's ack_wait"
    );
    loader.shutdown().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loader_whose_store_thread_dies_ends_with_an_error() {
    let _serial = serial();
    let nats = NatsCluster::start(1);
    let config = config(&nats);
    let (js, mut consumer) = publish(&config, 10).await;
    let (store, control) = FaultStore::new(MemoryStore::new());
    control.set(Fault::Panic);
    let mut loader = Loader::start(&config, js, consumer.clone(), store).expect("starts");
    let error = tokio::time::timeout(PATIENCE, loader.ended())
        .await
        .expect("the loader ends by itself");
    assert!(error.contains("store thread"), "{error}");
    assert_eq!(backlog(&mut consumer).await.2, 0, "nothing acked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loader_process_whose_consumer_is_deleted_exits_non_zero() {
    let _serial = serial();
    let nats = NatsCluster::start(1);
    let config = config(&nats);
    let js = publish_only(&config, 1).await;
    let dir = temp_dir("loader");
    let url = nats.urls_arg();
    let db = dir.path().join("events.db");
    let mut loader = Role::start(
        "load",
        &[
            "--nats-url",
            &url,
            "--store",
            "sqlite",
            "--db",
            db.to_str().expect("utf-8"),
            "--batch-age-ms",
            "200",
        ],
        &dir.path().join("load.log"),
    );
    wait_until("the loader acked the event", || {
        loader.metric("loader_events_acked_total") == 1.0
    });
    js.get_stream(&config.stream)
        .await
        .expect("the stream")
        .delete_consumer(&config.consumer)
        .await
        .expect("deleted");
    let status = tokio::task::block_in_place(|| loader.proc.wait_exit());
    assert!(!status.success(), "{status}");
    let log = std::fs::read_to_string(dir.path().join("load.log")).expect("the log");
    assert!(log.contains("was deleted"), "{log}");
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
        "--store",
        "sqlite",
        "--db",
        db.to_str().expect("utf-8"),
        "--batch-age-ms",
        "200",
        "--ack-wait-ms",
        "1000",
        "--write-timeout-ms",
        "500",
    ];
    let mut first = Role::start(
        "load",
        &[&args[..], &["--test-pause-before-ack"]].concat(),
        &dir.path().join("load1.log"),
    );
    tokio::task::block_in_place(|| {
        wait_until(
            "the first loader committed and paused before acking",
            || first.metric("loader_paused_before_ack") == 1.0,
        )
    });
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
