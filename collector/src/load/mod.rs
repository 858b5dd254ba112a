//! The `load` role's loop: take a batch from the stream's durable pull
//! consumer (up to `batch_events` events and `batch_max_bytes` bytes, or
//! what arrived within `batch_age` of asking: the size-or-age rule), write
//! it to the store in one transaction, and ack each event to the stream
//! only after the store committed. While a batch is in hand its events are
//! kept from redelivery with in-progress acks, sent every third of the
//! consumer's `ack_wait` (as the server has it), during the write too.
//!
//! A store write that fails for a transient reason (unreachable, timeout,
//! restart, deadlock) is retried with full-jitter backoff (100 ms doubling
//! to 5 s) behind a circuit breaker (closed; open after 3 failed writes in
//! a row, for 2 s, trying nothing; half-open: one trial write, which
//! closes it or opens it again), and the stream holds the backlog. A write
//! the store refuses for its data (a value it cannot hold, a constraint)
//! would fail every time: the batch is split in halves, and halves again,
//! until the events at fault are alone; the others are written and acked,
//! and each refused event is published to the dead-letter subject (a
//! JetStream publish, whose ack is awaited), then terminated in the stream,
//! counted and logged at warn with the store's reason. One bad event never
//! holds up the others.
//!
//! A stream message that is not an event envelope is dead-lettered and
//! terminated the same way. An envelope of a later version (or an event
//! type this loader does not know: a newer ingest node during a rolling
//! upgrade) is handed back with a delayed negative ack, for a loader that
//! reads it; after `NEWER_MAX_DELIVERIES` it is dead-lettered.
//!
//! The lag (events in the stream the consumer has not had acked) is a
//! metric. SIGTERM lets the batch in hand finish (written and acked) and
//! stops; a SIGKILL at any point loses nothing: what was not acked is
//! delivered again after `ack_wait`, and the store drops what it already
//! holds. A store thread that dies, or a consumer deleted under the loader,
//! ends the loader with an error (the process exits non-zero).

use std::convert::Infallible;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::context::{ConsumerInfoErrorKind, Publish};
use async_nats::jetstream::message::AckKind;
use async_nats::jetstream::{self, Message as StreamMessage};
use bytes::Bytes;
use futures_util::future::join_all;
use futures_util::StreamExt;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

use crate::config::Config;
use crate::store::{Batch, Store, StoreError, Written};
use crate::stream::{self, Undecodable};

mod metrics;
mod retry;

pub use metrics::LoadMetrics;
pub use retry::{
    full_jitter, Breaker, BreakerState, BREAKER_OPEN_FOR, BREAKER_THRESHOLD, FIRST_BACKOFF,
    MAX_BACKOFF,
};

/// An envelope this loader cannot read but a newer one can is handed back
/// with a negative ack delayed by this, for another loader...
pub const NEWER_RETRY_DELAY: Duration = Duration::from_secs(30);
/// ...this many times (about 10 minutes), then dead-lettered.
pub const NEWER_MAX_DELIVERIES: i64 = 20;

type StoreJob = (
    Arc<Vec<Batch>>,
    oneshot::Sender<Result<Vec<Written>, StoreError>>,
);

/// The store thread has died (a panicking store): the loader cannot go on.
#[derive(Debug)]
struct StoreGone;

/// The store on a thread of its own (stores block).
struct StoreThread {
    jobs: std::sync::mpsc::Sender<StoreJob>,
    thread: std::thread::JoinHandle<()>,
}

impl StoreThread {
    fn start<S: Store>(mut store: S) -> std::io::Result<StoreThread> {
        let (jobs, queue) = std::sync::mpsc::channel::<StoreJob>();
        let thread = std::thread::Builder::new()
            .name("loader-store".into())
            .spawn(move || {
                while let Ok((batches, reply)) = queue.recv() {
                    let group: Vec<&Batch> = batches.iter().collect();
                    let _ = reply.send(store.write(&group));
                }
            })?;
        Ok(StoreThread { jobs, thread })
    }

    async fn write(
        &self,
        batches: Arc<Vec<Batch>>,
    ) -> Result<Result<Vec<Written>, StoreError>, StoreGone> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send((batches, reply)).map_err(|_| StoreGone)?;
        answer.await.map_err(|_| StoreGone)
    }
}

/// A running loader.
pub struct Loader {
    pub metrics: Arc<LoadMetrics>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<(), String>>,
}

impl Loader {
    /// Starts loading from `consumer` into `store`; events refused go to
    /// `config.dead_letter_subject` through `js` (`stream::loader_consumer`
    /// makes sure a stream keeps them).
    pub fn start<S: Store>(
        config: &Config,
        js: jetstream::Context,
        consumer: PullConsumer,
        store: S,
    ) -> std::io::Result<Loader> {
        let metrics = Arc::new(LoadMetrics::default());
        metrics.ack_wait_ms.store(
            consumer.cached_info().config.ack_wait.as_millis() as u64,
            Relaxed,
        );
        let (stop, stopped) = watch::channel(false);
        let store = StoreThread::start(store)?;
        let settings = Settings {
            batch_events: config.batch_events,
            batch_age: config.batch_age,
            batch_max_bytes: config.batch_max_bytes,
            dead_letter_subject: config.dead_letter_subject.clone().into(),
            stream: config.stream.clone(),
            consumer: config.consumer.clone(),
            #[cfg(feature = "test-hooks")]
            pause_before_ack: config.test_pause_before_ack,
        };
        tokio::spawn(watch_lag(
            consumer.clone(),
            metrics.clone(),
            stopped.clone(),
        ));
        let task = tokio::spawn(run(js, consumer, store, settings, metrics.clone(), stopped));
        Ok(Loader {
            metrics,
            stop,
            task,
        })
    }

    /// Resolves when the loader ends by itself, which it does only on an
    /// error it cannot go on after (its store thread died, its consumer was
    /// deleted): the error.
    pub async fn ended(&mut self) -> String {
        match (&mut self.task).await {
            Ok(Ok(())) => "the loader stopped".into(),
            Ok(Err(e)) => e,
            Err(e) => format!("the loader ended abnormally: {e}"),
        }
    }

    /// Finishes the batch in hand (written and acked), then stops; the
    /// loader's error if it had ended with one.
    pub async fn shutdown(self) -> Result<(), String> {
        let _ = self.stop.send(true);
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(format!("the loader ended abnormally: {e}")),
        }
    }
}

#[derive(Clone)]
struct Settings {
    batch_events: usize,
    batch_age: Duration,
    batch_max_bytes: usize,
    dead_letter_subject: async_nats::Subject,
    stream: String,
    consumer: String,
    #[cfg(feature = "test-hooks")]
    pause_before_ack: bool,
}

async fn watch_lag(
    mut consumer: PullConsumer,
    metrics: Arc<LoadMetrics>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        if let Ok(info) = consumer.info().await {
            metrics.lag.store(
                (info.num_pending as i64) + info.num_ack_pending as i64,
                Relaxed,
            );
            metrics
                .ack_wait_ms
                .store(info.config.ack_wait.as_millis() as u64, Relaxed);
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stopped.changed() => return,
        }
    }
}

/// The batch in hand: its stream messages (`None` once acked or
/// terminated), kept from redelivery by in-progress acks every third of
/// the server's `ack_wait`, counted from when they were pulled.
struct InHand {
    messages: Vec<Option<StreamMessage>>,
    last_progress: tokio::time::Instant,
}

impl InHand {
    fn period(metrics: &LoadMetrics) -> Duration {
        Duration::from_millis(metrics.ack_wait_ms.load(Relaxed).max(300) / 3)
    }

    fn next_progress(&self, metrics: &LoadMetrics) -> tokio::time::Instant {
        self.last_progress + InHand::period(metrics)
    }

    async fn progress(&mut self) {
        join_all(
            self.messages
                .iter()
                .flatten()
                .map(|m| m.ack_with(AckKind::Progress)),
        )
        .await;
        self.last_progress = tokio::time::Instant::now();
    }

    /// Sleeps `delay`, sending in-progress acks when due; ends early on stop.
    async fn hold(
        &mut self,
        delay: Duration,
        metrics: &LoadMetrics,
        stopped: &mut watch::Receiver<bool>,
    ) {
        let end = tokio::time::Instant::now() + delay;
        loop {
            if tokio::time::Instant::now() >= end || *stopped.borrow() {
                return;
            }
            let next = self.next_progress(metrics);
            tokio::select! {
                _ = tokio::time::sleep_until(end.min(next)) => {}
                _ = stopped.changed() => return,
            }
            if tokio::time::Instant::now() >= next {
                self.progress().await;
            }
        }
    }

    /// Runs the store write, sending in-progress acks while it takes.
    async fn write(
        &mut self,
        store: &StoreThread,
        part: Arc<Vec<Batch>>,
        metrics: &LoadMetrics,
    ) -> Result<Result<Vec<Written>, StoreError>, StoreGone> {
        let write = store.write(part);
        let mut write = std::pin::pin!(write);
        loop {
            let next = self.next_progress(metrics);
            tokio::select! {
                result = &mut write => return result,
                _ = tokio::time::sleep_until(next) => self.progress().await,
            }
        }
    }

    /// Acks `range` (the store has committed it).
    async fn ack(&mut self, range: std::ops::Range<usize>, metrics: &LoadMetrics) {
        let done: Vec<StreamMessage> = self.messages[range]
            .iter_mut()
            .filter_map(Option::take)
            .collect();
        let acks = join_all(done.iter().map(|m| m.ack())).await;
        let failed = acks.iter().filter(|a| a.is_err()).count();
        metrics.ack_failures.fetch_add(failed as u64, Relaxed);
        metrics
            .acked
            .fetch_add((acks.len() - failed) as u64, Relaxed);
        metrics.in_flight.fetch_sub(done.len() as i64, Relaxed);
        if failed > 0 {
            tracing::warn!(
                failed,
                "acks failed; those events come again and the store drops them"
            );
        }
    }
}

/// A header value: no line breaks or other control characters, at most
/// 1,000 characters.
fn header_value(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(1000)
        .collect()
}

/// Publishes `message` to the dead-letter subject with `reason` and waits
/// for JetStream's ack; then terminates it in the stream. If the publish
/// fails the message is left as it is (delivered again after `ack_wait`):
/// an event leaves the stream only once another stream holds it.
async fn dead_letter(
    js: &jetstream::Context,
    settings: &Settings,
    message: StreamMessage,
    reason: &str,
    metrics: &LoadMetrics,
) -> bool {
    let (sequence, delivered) = message
        .info()
        .map(|i| (i.stream_sequence, i.delivered))
        .unwrap_or((0, 0));
    let publish = Publish::build()
        .payload(message.payload.clone())
        .message_id(format!("{}:{sequence}", settings.stream))
        .header("Collector-Dead-Reason", header_value(reason).as_str())
        .header("Collector-Stream", settings.stream.as_str())
        .header("Collector-Stream-Sequence", sequence.to_string().as_str())
        .header("Collector-Subject", message.subject.as_str());
    let published = match js
        .send_publish(settings.dead_letter_subject.clone(), publish)
        .await
    {
        Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = published {
        tracing::warn!(error = %e, sequence, reason, subject = %settings.dead_letter_subject, "cannot publish an event to the dead-letter subject; it stays in the stream and comes again");
        return false;
    }
    if let Err(e) = message.ack_with(AckKind::Term).await {
        tracing::warn!(error = %e, sequence, "terminating a dead-lettered event failed; it comes again and is dead-lettered again (the copy is dropped there)");
    }
    metrics.dead_letters.fetch_add(1, Relaxed);
    tracing::warn!(
        sequence,
        delivered,
        reason,
        subject = %settings.dead_letter_subject,
        "an event was dead-lettered and terminated in the stream"
    );
    true
}

/// What became of one part of a batch.
enum Outcome {
    Written(Vec<Written>),
    /// The store refused the part's data.
    Refused(StoreError),
    /// Stopped while the store was failing: not written, not acked.
    Stopped,
}

/// Writes `part`, retrying transient failures behind the breaker until it
/// is written, refused for its data, or the loader is stopped.
#[allow(clippy::too_many_arguments)]
async fn write_part(
    store: &StoreThread,
    part: Arc<Vec<Batch>>,
    events: usize,
    in_hand: &mut InHand,
    breaker: &mut Breaker,
    metrics: &LoadMetrics,
    stopped: &mut watch::Receiver<bool>,
) -> Result<Outcome, StoreGone> {
    let mut attempt = 0u32;
    loop {
        if let Some(wait) = breaker.wait(Instant::now()) {
            metrics.circuit.store(breaker.code(), Relaxed);
            in_hand.hold(wait, metrics, stopped).await;
            if *stopped.borrow() {
                return Ok(Outcome::Stopped);
            }
            continue;
        }
        metrics.circuit.store(breaker.code(), Relaxed);
        let started = Instant::now();
        let result = in_hand.write(store, part.clone(), metrics).await?;
        metrics.write_latency.observe(started.elapsed());
        match result {
            Ok(written) => {
                breaker.succeeded();
                metrics.circuit.store(breaker.code(), Relaxed);
                return Ok(Outcome::Written(written));
            }
            Err(e) if e.is_data() => {
                // The store answered: it is up, only this data is wrong.
                breaker.succeeded();
                metrics.circuit.store(breaker.code(), Relaxed);
                metrics.write_refusals.fetch_add(1, Relaxed);
                tracing::warn!(error = %e, events, "the store refused the data of a write");
                return Ok(Outcome::Refused(e));
            }
            Err(e) => {
                attempt += 1;
                breaker.failed(Instant::now());
                metrics.circuit.store(breaker.code(), Relaxed);
                metrics.write_failures.fetch_add(1, Relaxed);
                tracing::warn!(error = %e, attempt, events, "the store write failed; retrying");
                if *stopped.borrow() {
                    return Ok(Outcome::Stopped);
                }
                in_hand.hold(full_jitter(attempt), metrics, stopped).await;
            }
        }
    }
}

/// Whether the consumer is gone (deleted), asked twice a second apart so
/// that a cluster electing its leaders is not taken for it.
async fn consumer_deleted(consumer: &PullConsumer) -> bool {
    let mut consumer = consumer.clone();
    for check in 0..2 {
        if check > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        match consumer.info().await {
            Err(e) if e.kind() == ConsumerInfoErrorKind::NotFound => {}
            _ => return false,
        }
    }
    true
}

async fn run(
    js: jetstream::Context,
    consumer: PullConsumer,
    store: StoreThread,
    settings: Settings,
    metrics: Arc<LoadMetrics>,
    mut stopped: watch::Receiver<bool>,
) -> Result<(), String> {
    let result = drive(&js, &consumer, &store, &settings, &metrics, &mut stopped).await;
    drop(store.jobs);
    let joined = tokio::task::spawn_blocking(move || store.thread.join()).await;
    match result {
        Ok(()) => {
            tracing::info!("loader stopped");
            Ok(())
        }
        Err(e) => {
            let e = match joined {
                Ok(Err(_)) | Err(_) => format!("{e} (the store thread panicked)"),
                Ok(Ok(())) => e,
            };
            tracing::error!(error = %e, "the loader cannot go on");
            Err(e)
        }
    }
}

async fn drive(
    js: &jetstream::Context,
    consumer: &PullConsumer,
    store: &StoreThread,
    settings: &Settings,
    metrics: &LoadMetrics,
    stopped: &mut watch::Receiver<bool>,
) -> Result<(), String> {
    let mut breaker = Breaker::default();
    let mut pull_failures = 0u32;
    while !*stopped.borrow() {
        // A batch: up to `batch_events` and `batch_max_bytes`, or what came
        // within `batch_age`.
        let pulled_at = tokio::time::Instant::now();
        let pull = consumer
            .batch()
            .max_messages(settings.batch_events)
            .max_bytes(settings.batch_max_bytes)
            .expires(settings.batch_age)
            .messages()
            .await;
        let mut got = Vec::new();
        let mut failure = None;
        match pull {
            Ok(messages) => {
                let mut messages = std::pin::pin!(messages);
                // On stop, what arrived is written and acked; what the
                // stream was still sending for this pull is delivered again
                // after `ack_wait`.
                loop {
                    tokio::select! {
                        next = messages.next() => match next {
                            Some(Ok(message)) => got.push(message),
                            // A pull ends with a status when it reached its
                            // byte limit (normal), or when it was refused.
                            Some(Err(e)) => {
                                failure = Some(e.to_string());
                                break;
                            }
                            None => break,
                        },
                        _ = stopped.changed() => break,
                    }
                }
            }
            Err(e) => failure = Some(e.to_string()),
        }
        // The server ends an empty pull at its expiry (408); one that ends
        // by the client's own timer, seconds later, was never answered (no
        // consumer, no stream leader).
        if got.is_empty()
            && failure.is_none()
            && !*stopped.borrow()
            && pulled_at.elapsed() > settings.batch_age + Duration::from_secs(2)
        {
            failure = Some("the server did not answer the pull".into());
        }
        if got.is_empty() {
            if let Some(e) = failure {
                pull_failures += 1;
                metrics.pull_failures.fetch_add(1, Relaxed);
                tracing::warn!(error = %e, failures = pull_failures, consumer = settings.consumer, "a pull from the stream failed with nothing fetched; backing off");
                if consumer_deleted(consumer).await {
                    return Err(format!(
                        "the consumer {} was deleted from the stream {}; a loader started again creates it",
                        settings.consumer, settings.stream
                    ));
                }
                tokio::select! {
                    _ = tokio::time::sleep(full_jitter(pull_failures)) => {}
                    _ = stopped.changed() => {}
                }
            }
            continue;
        }
        pull_failures = 0;
        metrics.fetched.fetch_add(got.len() as u64, Relaxed);
        load_batch(
            js,
            store,
            settings,
            metrics,
            stopped,
            &mut breaker,
            got,
            pulled_at,
        )
        .await?;
    }
    Ok(())
}

/// Decodes, writes and acks one pulled batch. `Err` only when the store
/// thread is gone.
#[allow(clippy::too_many_arguments)]
async fn load_batch(
    js: &jetstream::Context,
    store: &StoreThread,
    settings: &Settings,
    metrics: &LoadMetrics,
    stopped: &mut watch::Receiver<bool>,
    breaker: &mut Breaker,
    got: Vec<StreamMessage>,
    pulled_at: tokio::time::Instant,
) -> Result<(), String> {
    let mut batches = Vec::with_capacity(got.len());
    let mut kept = Vec::with_capacity(got.len());
    let mut oldest: Option<i128> = None;
    for message in got {
        match stream::decode(&message.payload) {
            Ok(batch) => {
                if let Ok(info) = message.info() {
                    let at = info.published.unix_timestamp_nanos();
                    oldest = Some(oldest.map_or(at, |o| o.min(at)));
                }
                batches.push(batch);
                kept.push(Some(message));
            }
            Err(Undecodable::Newer(why)) => {
                let delivered = message.info().map_or(1, |i| i.delivered);
                if delivered >= NEWER_MAX_DELIVERIES {
                    let reason = format!("{why}; no loader took it in {delivered} deliveries");
                    dead_letter(js, settings, message, &reason, metrics).await;
                    continue;
                }
                metrics.deferred.fetch_add(1, Relaxed);
                tracing::warn!(
                    why,
                    delivered,
                    "an envelope this loader cannot read: handed back for a newer loader"
                );
                if let Err(e) = message
                    .ack_with(AckKind::Nak(Some(NEWER_RETRY_DELAY)))
                    .await
                {
                    tracing::warn!(error = %e, "a negative ack failed; the event comes again after ack_wait");
                }
            }
            Err(Undecodable::Malformed(why)) => {
                metrics.poison.fetch_add(1, Relaxed);
                dead_letter(js, settings, message, &why, metrics).await;
            }
        }
    }
    if kept.is_empty() {
        return Ok(());
    }
    metrics.in_flight.store(kept.len() as i64, Relaxed);
    let mut in_hand = InHand {
        messages: kept,
        last_progress: pulled_at,
    };
    let all = Arc::new(batches);
    // Parts still to write, the next at the end: the whole batch, then
    // halves of any part the store refuses for its data.
    let mut parts: Vec<std::ops::Range<usize>> = Vec::new();
    parts.push(0..all.len());
    while let Some(range) = parts.pop() {
        let part = if range.len() == all.len() {
            all.clone()
        } else {
            Arc::new(all[range.clone()].to_vec())
        };
        let outcome = write_part(
            store,
            part,
            range.len(),
            &mut in_hand,
            breaker,
            metrics,
            stopped,
        )
        .await
        .map_err(|StoreGone| "the store thread has stopped".to_string())?;
        match outcome {
            Outcome::Written(written) => {
                for w in &written {
                    metrics.stored.fetch_add(w.stored as u64, Relaxed);
                    metrics.duplicates.fetch_add(w.duplicates as u64, Relaxed);
                }
                #[cfg(feature = "test-hooks")]
                if settings.pause_before_ack {
                    metrics.paused_before_ack.store(true, Relaxed);
                    tracing::warn!(
                        events = range.len(),
                        "test: committed; pausing before the acks"
                    );
                    std::future::pending::<()>().await;
                }
                // Acks, only now: the store has committed.
                in_hand.ack(range, metrics).await;
            }
            Outcome::Refused(e) if range.len() == 1 => {
                if let Some(message) = in_hand.messages[range.start].take() {
                    let reason = format!("the store refused it: {e}");
                    if dead_letter(js, settings, message, &reason, metrics).await {
                        metrics.in_flight.fetch_sub(1, Relaxed);
                    }
                }
            }
            Outcome::Refused(_) => {
                let middle = range.start + range.len() / 2;
                parts.push(middle..range.end);
                parts.push(range.start..middle);
            }
            Outcome::Stopped => {
                // Stopped while the store failed: not acked, so delivered again.
                tracing::warn!(
                    events = in_hand.messages.iter().flatten().count(),
                    "stopping with events the store did not take; the stream keeps them"
                );
                metrics.in_flight.store(0, Relaxed);
                return Ok(());
            }
        }
    }
    metrics.batches.fetch_add(1, Relaxed);
    metrics.in_flight.store(0, Relaxed);
    if let Some(oldest) = oldest {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        metrics
            .last_delay_ms
            .store(((now - oldest).max(0) / 1_000_000) as u64, Relaxed);
    }
    Ok(())
}

/// Serves `/healthz`, `/readyz` (503 while the store's circuit is open)
/// and `/metrics` for a loader, until `stopped`.
pub async fn serve_ops(
    listener: TcpListener,
    metrics: Arc<LoadMetrics>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped.changed() => return,
        };
        let metrics = metrics.clone();
        let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let metrics = metrics.clone();
            async move {
                let (status, body) = match req.uri().path() {
                    "/healthz" => (StatusCode::OK, "{\"status\":\"ok\"}".to_string()),
                    "/readyz" if metrics.circuit.load(Relaxed) == 1 => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "{\"error\":\"the store is failing: the circuit is open\"}".to_string(),
                    ),
                    "/readyz" => (StatusCode::OK, "{\"status\":\"ready\"}".to_string()),
                    "/metrics" => (StatusCode::OK, metrics.render()),
                    _ => (
                        StatusCode::NOT_FOUND,
                        "{\"error\":\"no such endpoint\"}".to_string(),
                    ),
                };
                let mut answer = Response::new(Full::new(Bytes::from(body)));
                *answer.status_mut() = status;
                Ok::<_, Infallible>(answer)
            }
        });
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
