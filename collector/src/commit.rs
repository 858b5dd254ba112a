//! The group-commit writer. One thread owns the store and drains a bounded
//! queue of jobs (one per request): it takes every job waiting, up to
//! `max_group_events`, writes them in one transaction with one sync, then
//! answers each job. While a commit syncs, the next requests queue, so the
//! next group is as large as the load: throughput does not pay one sync per
//! request. A request is answered 2xx only after its group's commit
//! returned; a failed commit answers every job of its group with the error,
//! and opens the circuit: for a backoff that doubles with each failure in a
//! row (0.2 s up to 5 s), requests are refused 503 without reaching the store.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::limits::{Drain, Reservation};
use crate::metrics::Metrics;
use crate::store::{Batch, Store, StoreError, Written};

/// Jobs the queue holds at most (memory is bounded by the byte budget; this
/// bounds the count of tiny ones).
const QUEUE_JOBS: usize = 16_384;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// One request's messages, the bytes it holds, and where its answer goes.
pub struct Job {
    pub batch: Batch,
    pub bytes: Reservation,
    pub reply: oneshot::Sender<Result<Written, StoreError>>,
}

/// The writer's state that requests and `/readyz` read.
#[derive(Debug)]
pub struct Health {
    started: Instant,
    failures_in_a_row: AtomicU32,
    /// Milliseconds after `started` until which the circuit is open.
    open_until_ms: AtomicU64,
    writer_alive: AtomicBool,
}

impl Health {
    fn new() -> Self {
        Health {
            started: Instant::now(),
            failures_in_a_row: AtomicU32::new(0),
            open_until_ms: AtomicU64::new(0),
            writer_alive: AtomicBool::new(true),
        }
    }

    /// How long the circuit stays open, if it is.
    pub fn open_for(&self, now: Instant) -> Option<Duration> {
        let now_ms = now.saturating_duration_since(self.started).as_millis() as u64;
        let until = self.open_until_ms.load(Ordering::Acquire);
        (until > now_ms).then(|| Duration::from_millis(until - now_ms))
    }

    pub fn writer_alive(&self) -> bool {
        self.writer_alive.load(Ordering::Acquire)
    }

    pub fn failures_in_a_row(&self) -> u32 {
        self.failures_in_a_row.load(Ordering::Acquire)
    }

    fn succeeded(&self) {
        self.failures_in_a_row.store(0, Ordering::Release);
        self.open_until_ms.store(0, Ordering::Release);
    }

    fn failed(&self, now: Instant) {
        let failures = self.failures_in_a_row.fetch_add(1, Ordering::AcqRel) + 1;
        let backoff = FIRST_BACKOFF
            .saturating_mul(1 << (failures - 1).min(10))
            .min(MAX_BACKOFF);
        let until = now.saturating_duration_since(self.started) + backoff;
        self.open_until_ms
            .store(until.as_millis() as u64, Ordering::Release);
    }
}

/// Why a job was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The queue is full.
    Full,
    /// The writer has stopped.
    Stopped,
}

/// The handle requests submit jobs through. The writer stops once every
/// clone is dropped and the queue is drained.
#[derive(Clone)]
pub struct Committer {
    queue: mpsc::Sender<Job>,
    pub health: Arc<Health>,
    metrics: Arc<Metrics>,
}

impl Committer {
    /// Starts the writer thread for `store`.
    pub fn start<S: Store>(
        store: S,
        max_group_events: usize,
        metrics: Arc<Metrics>,
        drain: Arc<Drain>,
    ) -> std::io::Result<(Committer, JoinHandle<()>)> {
        let (queue, jobs) = mpsc::channel(QUEUE_JOBS);
        let health = Arc::new(Health::new());
        let writer = Writer {
            store,
            jobs,
            max_group_events,
            metrics: metrics.clone(),
            drain,
            health: health.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("commit-writer".into())
            .spawn(move || writer.run())?;
        Ok((
            Committer {
                queue,
                health,
                metrics,
            },
            thread,
        ))
    }

    pub fn submit(&self, job: Job) -> Result<(), Refused> {
        self.metrics.queued.fetch_add(1, Ordering::Relaxed);
        self.queue.try_send(job).map_err(|e| {
            self.metrics.queued.fetch_sub(1, Ordering::Relaxed);
            match e {
                mpsc::error::TrySendError::Full(_) => Refused::Full,
                mpsc::error::TrySendError::Closed(_) => Refused::Stopped,
            }
        })
    }
}

struct Writer<S> {
    store: S,
    jobs: mpsc::Receiver<Job>,
    max_group_events: usize,
    metrics: Arc<Metrics>,
    drain: Arc<Drain>,
    health: Arc<Health>,
}

impl<S: Store> Writer<S> {
    fn run(mut self) {
        // Marks the writer dead however it ends, a panicking store included.
        struct Alive(Arc<Health>);
        impl Drop for Alive {
            fn drop(&mut self) {
                self.0.writer_alive.store(false, Ordering::Release);
            }
        }
        let _alive = Alive(self.health.clone());
        let mut carried: Option<Job> = None;
        loop {
            let first = match carried.take() {
                Some(job) => job,
                None => match self.jobs.blocking_recv() {
                    Some(job) => {
                        self.metrics.queued.fetch_sub(1, Ordering::Relaxed);
                        job
                    }
                    None => break,
                },
            };
            let mut events = first.batch.messages.len();
            let mut group = vec![first];
            while events < self.max_group_events {
                let next = self.jobs.try_recv();
                if next.is_ok() {
                    self.metrics.queued.fetch_sub(1, Ordering::Relaxed);
                }
                match next {
                    Ok(job) if events + job.batch.messages.len() > self.max_group_events => {
                        carried = Some(job);
                        break;
                    }
                    Ok(job) => {
                        events += job.batch.messages.len();
                        group.push(job);
                    }
                    Err(_) => break,
                }
            }
            self.commit(group);
        }
        tracing::info!("commit writer stopped: queue drained");
    }

    fn commit(&mut self, group: Vec<Job>) {
        let batches: Vec<&Batch> = group.iter().map(|job| &job.batch).collect();
        let bytes: u64 = group.iter().map(|job| job.bytes.bytes()).sum();
        let start = Instant::now();
        self.drain.commit_started(start);
        let result = self.store.write(&batches).and_then(|written| {
            if written.len() == group.len() {
                Ok(written)
            } else {
                Err(StoreError::new(format!(
                    "the store reported {} results for {} requests",
                    written.len(),
                    group.len()
                )))
            }
        });
        let end = Instant::now();
        self.drain.commit_ended(bytes, end);
        self.metrics.commit_latency.observe(end - start);
        self.metrics.commits.fetch_add(1, Ordering::Relaxed);
        self.metrics
            .committed_requests
            .fetch_add(group.len() as u64, Ordering::Relaxed);
        match result {
            Ok(written) => {
                self.health.succeeded();
                for (job, counts) in group.into_iter().zip(written) {
                    self.metrics
                        .stored
                        .fetch_add(counts.stored as u64, Ordering::Relaxed);
                    self.metrics
                        .duplicates
                        .fetch_add(counts.duplicates as u64, Ordering::Relaxed);
                    // A requester that gave up (commit timeout) is not there to hear.
                    let _ = job.reply.send(Ok(counts));
                }
            }
            Err(error) => {
                self.health.failed(end);
                self.metrics.commit_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, requests = group.len(), "group commit failed; its requests are answered 503");
                for job in group {
                    let _ = job.reply.send(Err(error.clone()));
                }
            }
        }
    }
}
