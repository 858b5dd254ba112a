//! The `ingest` role against a real JetStream node: 2xx only once the
//! stream holds every accepted event, 503 with `Retry-After` (never 2xx)
//! while the stream is down or refuses one event of a request, the same
//! answers as `serve`, the stream's `Nats-Msg-Id` dedupe, a stream with
//! settings the collector cannot use refused at start, and what an ingest
//! node answers to receipts.

// Each test holds `services::serial()` for its whole run (its own runtime):
// the lock serializes tests across threads, not tasks within one.
#![allow(clippy::await_holding_lock)]

mod common;
mod services;

use std::sync::Arc;
use std::time::Duration;

use analytics_collector::config::Config;
use analytics_collector::load::Loader;
use analytics_collector::server::Server;
use analytics_collector::store::postgres::{PostgresReceipts, PostgresStore};
use analytics_collector::store::Receipts;
use analytics_collector::stream::{self, publish::StreamStore};
use common::{batch, get, post, post_batch, track};
use serde_json::json;
use services::*;

struct Ingest {
    server: Server,
    js: async_nats::jetstream::Context,
    config: Config,
}

async fn ingest(nats: &NatsCluster, receipts: Option<Arc<dyn Receipts>>) -> Ingest {
    let mut config = common::config();
    config.nats_urls = nats.urls();
    config.stream_replicas = 1;
    config.commit_timeout = Duration::from_secs(2);
    let js = stream::connect(&config, "test ingest")
        .await
        .expect("connects");
    stream::ensure_stream(&js, &config, PATIENCE)
        .await
        .expect("the stream");
    let store = StreamStore::new(
        js.clone(),
        stream::subject(&config),
        config.commit_timeout,
        tokio::runtime::Handle::current(),
        receipts,
    );
    let server = Server::start(config.clone(), store).await.expect("listens");
    Ingest { server, js, config }
}

impl Ingest {
    async fn messages_in_stream(&self) -> u64 {
        let mut stream = self
            .js
            .get_stream(&self.config.stream)
            .await
            .expect("the stream");
        stream.info().await.expect("info").state.messages
    }
}

fn ids(prefix: &str, n: usize) -> Vec<serde_json::Value> {
    (0..n).map(|i| track(&format!("{prefix}{i}"))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_answers_2xx_only_once_the_stream_holds_every_accepted_event() {
    let _serial = serial();
    let nats = NatsCluster::start(1);
    let node = ingest(&nats, None).await;
    let answer = post_batch(node.server.addr(), &batch(&ids("a", 20))).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        node.messages_in_stream().await,
        20,
        "at the moment of the 2xx"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_answers_503_with_retry_after_while_the_stream_is_down_then_2xx() {
    let _serial = serial();
    let mut nats = NatsCluster::start(1);
    let node = ingest(&nats, None).await;
    let addr = node.server.addr();
    nats.kill_node("n1");
    for attempt in 0..3 {
        let answer = post_batch(addr, &batch(&ids(&format!("b{attempt}-"), 5))).await;
        assert_eq!(answer.status, 503, "{}", answer.text());
        let retry: u64 = answer
            .header("retry-after")
            .and_then(|v| v.parse().ok())
            .expect("a Retry-After in seconds");
        assert!(retry >= 1);
    }
    assert_eq!(get(addr, "/readyz").await.status, 503);
    nats.start_node(0);
    let body = batch(&ids("c", 5));
    common::eventually("the stream is back and the batch answered 2xx", || async {
        post_batch(addr, &body).await.status == 200
    })
    .await;
    // Of the refused batches, whatever a publish queued during the outage
    // may have reached the stream; the loaders' store drops such copies.
    assert!(node.messages_in_stream().await >= 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_answers_as_serve_does_rejections_401_and_413() {
    let _serial = serial();
    let nats = NatsCluster::start(1);
    let node = ingest(&nats, None).await;
    let addr = node.server.addr();
    let mut bad = track("bad");
    bad.as_object_mut().expect("object").remove("event");
    let answer = post_batch(addr, &batch(&[track("good"), bad])).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.json(),
        json!({"rejected": [{"messageId": "bad", "reason": "a track requires event, the event's name"}]})
    );
    assert_eq!(node.messages_in_stream().await, 1, "only the valid message");
    let unknown = post(
        addr,
        "/v1/batch",
        &[("Authorization", "Basic bm9wZTo=")],
        &batch(&[track("x")]),
    )
    .await;
    assert_eq!(unknown.status, 401);
    let huge = vec![b' '; 600_000];
    assert_eq!(post_batch(addr, &huge).await.status, 413);
    assert_eq!(node.messages_in_stream().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_drops_a_copy_published_within_its_dedupe_window() {
    let _serial = serial();
    let nats = NatsCluster::start(1);
    let node = ingest(&nats, None).await;
    let body = batch(&ids("d", 10));
    assert_eq!(post_batch(node.server.addr(), &body).await.status, 200);
    assert_eq!(post_batch(node.server.addr(), &body).await.status, 200);
    assert_eq!(node.messages_in_stream().await, 10);
    assert_eq!(
        common::metric(node.server.addr(), "collector_events_duplicate_total").await,
        10.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingest_node_with_no_store_to_ask_answers_receipts_without_a_list() {
    let _serial = serial();
    let nats = NatsCluster::start(1);
    let node = ingest(&nats, None).await;
    assert_eq!(
        post_batch(node.server.addr(), &batch(&ids("e", 2)))
            .await
            .status,
        200
    );
    let ask = serde_json::to_vec(&json!({"batch": [], "receipts": ["e0", "e1"], "writeKey": "wk"}))
        .expect("json");
    let answer = post_batch(node.server.addr(), &ask).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.json(),
        json!({}),
        "no receipts list: the SDK sends the events again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingest_node_answers_receipts_from_the_postgres_the_loaders_write() {
    let _serial = serial();
    let nats = NatsCluster::start(1);
    let pg = Postgres::start();
    let node = ingest(
        &nats,
        Some(PostgresReceipts::new(&pg.url()) as Arc<dyn Receipts>),
    )
    .await;
    let addr = node.server.addr();
    assert_eq!(post_batch(addr, &batch(&ids("f", 3))).await.status, 200);
    let ask = serde_json::to_vec(
        &json!({"batch": [], "receipts": ["f0", "f1", "f2", "nope"], "writeKey": "wk"}),
    )
    .expect("json");
    // Before a loader wrote them: in the stream, not yet in the store.
    let store = PostgresStore::connect(&pg.url()).await.expect("postgres");
    assert_eq!(post_batch(addr, &ask).await.json(), json!({"receipts": []}));
    let mut config = node.config.clone();
    config.batch_age = Duration::from_millis(100);
    let consumer = stream::loader_consumer(&node.js, &config, PATIENCE)
        .await
        .expect("consumer");
    let loader = Loader::start(&config, node.js.clone(), consumer, store).expect("loader");
    common::eventually("the loader wrote the three", || async {
        pg.query("SELECT count(*) FROM events") == "3"
    })
    .await;
    assert_eq!(
        post_batch(addr, &ask).await.json(),
        json!({"receipts": ["f0", "f1", "f2"]})
    );
    loader.shutdown().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_one_of_whose_events_the_stream_refuses_is_not_answered_2xx() {
    let _serial = serial();
    let nats = NatsCluster::start(1);
    let mut config = common::config();
    config.nats_urls = nats.urls();
    config.stream_replicas = 1;
    config.commit_timeout = Duration::from_secs(2);
    let js = stream::connect(&config, "test ingest")
        .await
        .expect("connects");
    // A stream an operator limited to 4 KB messages (smaller than an
    // event may be): the stream refuses such an event's publish.
    let mut limited = stream::stream_config(&config);
    limited.max_message_size = 4096;
    js.create_stream(limited).await.expect("the stream");
    let store = StreamStore::new(
        js.clone(),
        stream::subject(&config),
        config.commit_timeout,
        tokio::runtime::Handle::current(),
        None,
    );
    let server = Server::start(config.clone(), store).await.expect("listens");
    let addr = server.addr();
    let mut big = track("big");
    big["properties"] = json!({"blob": "x".repeat(8_000)});
    let answer = post_batch(addr, &batch(&[track("g1"), big, track("g2")])).await;
    assert!(
        !(200..300).contains(&answer.status),
        "a request with an event the stream refused was answered {}: {}",
        answer.status,
        answer.text()
    );
    // The next requests are not held up by it.
    let body = batch(&ids("h", 5));
    common::eventually("a later request is answered 2xx", || async {
        post_batch(addr, &body).await.status == 200
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_stream_the_collector_cannot_use_is_refused_naming_what_differs() {
    let _serial = serial();
    let nats = NatsCluster::start(1);
    let mut config = common::config();
    config.nats_urls = nats.urls();
    config.stream_replicas = 1;
    let js = stream::connect(&config, "test ingest")
        .await
        .expect("connects");
    let mut other = stream::stream_config(&config);
    other.retention = async_nats::jetstream::stream::RetentionPolicy::Limits;
    other.storage = async_nats::jetstream::stream::StorageType::Memory;
    js.create_stream(other).await.expect("the stream");
    let error = stream::ensure_stream(&js, &config, PATIENCE)
        .await
        .expect_err("refused");
    assert!(
        error.contains("retention is Limits") && error.contains("storage is Memory"),
        "{error}"
    );
    let error = stream::loader_consumer(&js, &config, PATIENCE)
        .await
        .expect_err("a loader refuses it too");
    assert!(error.contains("retention is Limits"), "{error}");
    // Another dedupe window is updated in place.
    js.delete_stream(&config.stream).await.expect("deleted");
    let mut window = stream::stream_config(&config);
    window.duplicate_window = Duration::from_secs(5);
    js.create_stream(window).await.expect("the stream");
    let mut stream = stream::ensure_stream(&js, &config, PATIENCE)
        .await
        .expect("taken, and updated");
    assert_eq!(
        stream.info().await.expect("info").config.duplicate_window,
        config.duplicate_window
    );
}
