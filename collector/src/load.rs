//! The `load` role's loop: take a batch from the stream's durable pull
//! consumer (up to `batch_events` events, or what arrived within
//! `batch_age` of asking: the size-or-age rule), write it to the store in
//! one transaction, and ack each event to the stream only after the store
//! committed. A store that fails is retried with full-jitter backoff
//! (100 ms doubling to 5 s) behind a circuit breaker (closed; open after 3
//! failed writes in a row, for 2 s, trying nothing; half-open: one trial
//! write, which closes it or opens it again), while the batch's events are
//! kept from redelivery with in-progress acks and the stream holds the
//! backlog. The lag (events in the stream the consumer has not had acked)
//! is a metric. SIGTERM lets the batch in hand finish (written and acked)
//! and stops; a SIGKILL at any point loses nothing: what was not acked is
//! delivered again after `ack_wait`, and the store drops what it already
//! holds.
//!
//! An event that is not an envelope (never written by an ingest node) is
//! terminated in the stream (`AckKind::Term`), logged and counted, rather
//! than retried forever.

use std::collections::hash_map::RandomState;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::message::AckKind;
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
use crate::metrics::Histogram;
use crate::store::{Batch, Store, StoreError, Written};
use crate::stream;

/// Backoff of a failing store's retries: full jitter over this, doubling.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Failed writes in a row that open the circuit, and how long it stays open.
pub const BREAKER_THRESHOLD: u32 = 3;
pub const BREAKER_OPEN_FOR: Duration = Duration::from_secs(2);

/// A full-jitter delay for the `attempt`-th retry (1-based): uniformly
/// random between 0 and min(`MAX_BACKOFF`, `FIRST_BACKOFF` × 2^(attempt-1)).
pub fn full_jitter(attempt: u32) -> Duration {
    let ceiling = FIRST_BACKOFF
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(attempt);
    let fraction = (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64;
    ceiling.mul_f64(fraction)
}

/// The circuit breaker's states (seed 004's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open { until: Instant },
    HalfOpen,
}

/// Stops writing to a store that keeps failing, then tries one write.
#[derive(Debug)]
pub struct Breaker {
    pub state: BreakerState,
    failures: u32,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            state: BreakerState::Closed,
            failures: 0,
        }
    }
}

impl Breaker {
    /// How long to wait before a write may be tried, `None` if it may now
    /// (an open circuit whose time is up turns half-open).
    pub fn wait(&mut self, now: Instant) -> Option<Duration> {
        match self.state {
            BreakerState::Open { until } if until > now => Some(until - now),
            BreakerState::Open { .. } => {
                self.state = BreakerState::HalfOpen;
                None
            }
            _ => None,
        }
    }

    pub fn succeeded(&mut self) {
        self.state = BreakerState::Closed;
        self.failures = 0;
    }

    pub fn failed(&mut self, now: Instant) {
        self.failures += 1;
        if self.state == BreakerState::HalfOpen || self.failures >= BREAKER_THRESHOLD {
            self.state = BreakerState::Open {
                until: now + BREAKER_OPEN_FOR,
            };
        }
    }

    /// 0 closed, 1 open, 2 half-open (the metric's value).
    pub fn code(&self) -> u8 {
        match self.state {
            BreakerState::Closed => 0,
            BreakerState::Open { .. } => 1,
            BreakerState::HalfOpen => 2,
        }
    }
}

/// The loader's counters, served as Prometheus text.
#[derive(Debug, Default)]
pub struct LoadMetrics {
    pub fetched: AtomicU64,
    pub batches: AtomicU64,
    pub stored: AtomicU64,
    pub duplicates: AtomicU64,
    pub acked: AtomicU64,
    pub ack_failures: AtomicU64,
    pub write_failures: AtomicU64,
    pub poison: AtomicU64,
    /// Events of the batch in hand (fetched, not yet acked).
    pub in_flight: AtomicI64,
    /// Events the consumer has not had acked: not yet delivered, or
    /// delivered and waiting for their ack.
    pub lag: AtomicI64,
    /// Milliseconds from the oldest event of the last acked batch reaching
    /// the stream to its ack.
    pub last_delay_ms: AtomicU64,
    pub circuit: AtomicU8,
    /// Tests: the loader has committed a batch and stopped before its acks.
    pub paused_before_ack: AtomicBool,
    pub write_latency: Histogram,
}

impl LoadMetrics {
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let mut line = |name: &str, kind: &str, help: &str, value: i64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        let c = |a: &AtomicU64| a.load(Relaxed) as i64;
        line(
            "loader_events_fetched_total",
            "counter",
            "Events taken from the stream (redeliveries included).",
            c(&self.fetched),
        );
        line(
            "loader_batches_total",
            "counter",
            "Batches written to the store and acked.",
            c(&self.batches),
        );
        line(
            "loader_events_stored_total",
            "counter",
            "Events the store wrote for the first time.",
            c(&self.stored),
        );
        line(
            "loader_events_duplicate_total",
            "counter",
            "Events the store already held (copies dropped).",
            c(&self.duplicates),
        );
        line(
            "loader_events_acked_total",
            "counter",
            "Events acked to the stream after the store's commit.",
            c(&self.acked),
        );
        line(
            "loader_ack_failures_total",
            "counter",
            "Acks that failed (the event is delivered again; the store drops the copy).",
            c(&self.ack_failures),
        );
        line(
            "loader_write_failures_total",
            "counter",
            "Store writes that failed and were retried.",
            c(&self.write_failures),
        );
        line(
            "loader_events_poison_total",
            "counter",
            "Stream messages that were not event envelopes (terminated).",
            c(&self.poison),
        );
        line(
            "loader_events_in_flight",
            "gauge",
            "Events of the batch in hand: fetched, not yet acked.",
            self.in_flight.load(Relaxed),
        );
        line(
            "loader_lag_events",
            "gauge",
            "Events in the stream the consumer has not had acked (pending + unacked).",
            self.lag.load(Relaxed),
        );
        line(
            "loader_last_batch_delay_ms",
            "gauge",
            "From the oldest event of the last batch reaching the stream to its ack, ms.",
            c(&self.last_delay_ms),
        );
        line(
            "loader_circuit_state",
            "gauge",
            "The store's circuit: 0 closed, 1 open, 2 half-open.",
            i64::from(self.circuit.load(Relaxed)),
        );
        line(
            "loader_paused_before_ack",
            "gauge",
            "Tests only: 1 once the loader stopped between commit and ack.",
            i64::from(self.paused_before_ack.load(Relaxed)),
        );
        self.write_latency.render(
            &mut out,
            "loader_write_seconds",
            "One batch's store write (transaction and commit).",
        );
        out
    }
}

type StoreJob = (
    Arc<Vec<Batch>>,
    oneshot::Sender<Result<Vec<Written>, StoreError>>,
);

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

    async fn write(&self, batches: Arc<Vec<Batch>>) -> Result<Vec<Written>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send((batches, reply))
            .map_err(|_| StoreError::new("the store thread has stopped"))?;
        answer
            .await
            .map_err(|_| StoreError::new("the store thread has stopped"))?
    }
}

/// A running loader.
pub struct Loader {
    pub metrics: Arc<LoadMetrics>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Loader {
    /// Starts loading from `consumer` into `store`.
    pub fn start<S: Store>(
        config: &Config,
        consumer: PullConsumer,
        store: S,
    ) -> std::io::Result<Loader> {
        let metrics = Arc::new(LoadMetrics::default());
        let (stop, stopped) = watch::channel(false);
        let store = StoreThread::start(store)?;
        let settings = Settings {
            batch_events: config.batch_events,
            batch_age: config.batch_age,
            ack_wait: config.ack_wait,
            pause_before_ack: config.test_pause_before_ack,
        };
        tokio::spawn(watch_lag(
            consumer.clone(),
            metrics.clone(),
            stopped.clone(),
        ));
        let task = tokio::spawn(run(consumer, store, settings, metrics.clone(), stopped));
        Ok(Loader {
            metrics,
            stop,
            task,
        })
    }

    /// Finishes the batch in hand (written and acked), then stops.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the loader ended abnormally");
        }
    }
}

#[derive(Clone, Copy)]
struct Settings {
    batch_events: usize,
    batch_age: Duration,
    ack_wait: Duration,
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
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stopped.changed() => return,
        }
    }
}

/// Sleeps `delay`, sending in-progress acks for `messages` so the stream
/// does not hand them to another loader meanwhile; ends early on stop.
async fn hold(
    delay: Duration,
    messages: &[async_nats::jetstream::Message],
    ack_wait: Duration,
    stopped: &mut watch::Receiver<bool>,
) {
    let end = tokio::time::Instant::now() + delay;
    loop {
        let now = tokio::time::Instant::now();
        if now >= end || *stopped.borrow() {
            return;
        }
        let step = (end - now).min(ack_wait / 3);
        tokio::select! {
            _ = tokio::time::sleep(step) => {}
            _ = stopped.changed() => return,
        }
        if tokio::time::Instant::now() < end {
            join_all(messages.iter().map(|m| m.ack_with(AckKind::Progress))).await;
        }
    }
}

async fn run(
    consumer: PullConsumer,
    store: StoreThread,
    settings: Settings,
    metrics: Arc<LoadMetrics>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut breaker = Breaker::default();
    let mut fetch_failures = 0u32;
    while !*stopped.borrow() {
        // A batch: up to `batch_events`, or what came within `batch_age`.
        let messages = match consumer
            .batch()
            .max_messages(settings.batch_events)
            .expires(settings.batch_age)
            .messages()
            .await
        {
            Ok(messages) => messages,
            Err(e) => {
                fetch_failures += 1;
                tracing::warn!(error = %e, "cannot pull from the stream; retrying");
                tokio::time::sleep(full_jitter(fetch_failures)).await;
                continue;
            }
        };
        let mut messages = std::pin::pin!(messages);
        let mut got = Vec::new();
        // On stop, what arrived is written and acked; what the stream was
        // still sending for this pull is delivered again after `ack_wait`.
        loop {
            tokio::select! {
                next = messages.next() => match next {
                    Some(Ok(message)) => got.push(message),
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "the pull ended");
                        break;
                    }
                    None => break,
                },
                _ = stopped.changed() => break,
            }
        }
        fetch_failures = 0;
        if got.is_empty() {
            continue;
        }
        metrics.fetched.fetch_add(got.len() as u64, Relaxed);
        metrics.in_flight.store(got.len() as i64, Relaxed);
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
                    kept.push(message);
                }
                Err(why) => {
                    metrics.poison.fetch_add(1, Relaxed);
                    tracing::error!(subject = %message.subject, why, "not an event envelope: terminated in the stream");
                    if let Err(e) = message.ack_with(AckKind::Term).await {
                        tracing::warn!(error = %e, "terminating a message failed");
                    }
                }
            }
        }
        if kept.is_empty() {
            metrics.in_flight.store(0, Relaxed);
            continue;
        }
        let batches = Arc::new(batches);

        // Write until the store commits (or the loader is stopped).
        let mut attempt = 0u32;
        let written = loop {
            if let Some(wait) = breaker.wait(Instant::now()) {
                metrics.circuit.store(breaker.code(), Relaxed);
                hold(wait, &kept, settings.ack_wait, &mut stopped).await;
                if *stopped.borrow() {
                    break None;
                }
                continue;
            }
            metrics.circuit.store(breaker.code(), Relaxed);
            let started = Instant::now();
            let result = store.write(batches.clone()).await;
            metrics.write_latency.observe(started.elapsed());
            match result {
                Ok(written) => {
                    breaker.succeeded();
                    metrics.circuit.store(breaker.code(), Relaxed);
                    break Some(written);
                }
                Err(e) => {
                    attempt += 1;
                    breaker.failed(Instant::now());
                    metrics.circuit.store(breaker.code(), Relaxed);
                    metrics.write_failures.fetch_add(1, Relaxed);
                    tracing::warn!(error = %e, attempt, events = kept.len(), "the store write failed; retrying");
                    if *stopped.borrow() {
                        break None;
                    }
                    hold(full_jitter(attempt), &kept, settings.ack_wait, &mut stopped).await;
                }
            }
        };
        let Some(written) = written else {
            // Stopped while the store failed: not acked, so delivered again.
            tracing::warn!(
                events = kept.len(),
                "stopping with a batch the store did not take; the stream keeps it"
            );
            break;
        };
        for w in &written {
            metrics.stored.fetch_add(w.stored as u64, Relaxed);
            metrics.duplicates.fetch_add(w.duplicates as u64, Relaxed);
        }
        if settings.pause_before_ack {
            metrics.paused_before_ack.store(true, Relaxed);
            tracing::warn!(
                events = kept.len(),
                "test: committed; pausing before the acks"
            );
            std::future::pending::<()>().await;
        }
        // Acks, only now: the store has committed.
        let acks = join_all(kept.iter().map(|m| m.ack())).await;
        let failed = acks.iter().filter(|a| a.is_err()).count();
        metrics.ack_failures.fetch_add(failed as u64, Relaxed);
        metrics
            .acked
            .fetch_add((acks.len() - failed) as u64, Relaxed);
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
        if failed > 0 {
            tracing::warn!(
                failed,
                "acks failed; those events come again and the store drops them"
            );
        }
    }
    drop(store.jobs);
    let _ = tokio::task::spawn_blocking(move || store.thread.join()).await;
    tracing::info!("loader stopped");
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

/// Binds the loader's operations address.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_stays_under_a_doubling_ceiling_capped_at_the_maximum() {
        for attempt in 1..40 {
            let ceiling = FIRST_BACKOFF
                .saturating_mul(1 << (attempt - 1).min(16))
                .min(MAX_BACKOFF);
            for _ in 0..50 {
                assert!(full_jitter(attempt) <= ceiling);
            }
        }
        // Spread, not a constant: 200 draws under 5 s are not all equal.
        let draws: std::collections::HashSet<_> = (0..200).map(|_| full_jitter(30)).collect();
        assert!(draws.len() > 100);
    }

    #[test]
    fn the_breaker_opens_after_failures_in_a_row_then_tries_once() {
        let mut breaker = Breaker::default();
        let t0 = Instant::now();
        breaker.failed(t0);
        breaker.failed(t0);
        assert_eq!(breaker.wait(t0), None, "closed below the threshold");
        breaker.failed(t0);
        assert_eq!(breaker.wait(t0), Some(BREAKER_OPEN_FOR));
        assert_eq!(breaker.code(), 1);
        let later = t0 + BREAKER_OPEN_FOR;
        assert_eq!(breaker.wait(later), None);
        assert_eq!(breaker.state, BreakerState::HalfOpen);
        // The trial fails: open again at once, without three more failures.
        breaker.failed(later);
        assert_eq!(breaker.wait(later), Some(BREAKER_OPEN_FOR));
        assert_eq!(breaker.wait(later + BREAKER_OPEN_FOR), None);
        breaker.succeeded();
        assert_eq!(breaker.state, BreakerState::Closed);
        breaker.failed(later);
        assert_eq!(breaker.wait(later), None, "the count started over");
    }
}
