//! The collector's counters and their Prometheus text form (`/metrics`).
//! Plain atomics, written from the request handlers and the commit writer,
//! read when scraped.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use crate::limits::Budget;
use crate::wire::Code;

/// The statuses counted one by one in `collector_responses_total`; any
/// other is counted as `other`.
const STATUSES: [u16; 12] = [200, 400, 401, 404, 405, 408, 413, 415, 429, 500, 503, 204];

/// Upper bounds, in seconds, of the latency histograms' buckets.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A latency histogram with the `BUCKETS` bounds.
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len() + 1],
    micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|&bound| secs <= bound)
            .unwrap_or(BUCKETS.len());
        self.counts[i].fetch_add(1, Relaxed);
        self.micros.fetch_add(
            elapsed.as_micros().min(u128::from(u64::MAX)) as u64,
            Relaxed,
        );
    }

    pub fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Relaxed);
            let le = BUCKETS.get(i).map_or("+Inf".to_string(), f64::to_string);
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let _ = writeln!(
            out,
            "{name}_sum {}\n{name}_count {cumulative}",
            self.micros.load(Relaxed) as f64 / 1e6
        );
    }
}

#[derive(Debug)]
pub struct Metrics {
    /// Messages read from request bodies, valid or not.
    pub received: AtomicU64,
    /// Messages stored for the first time.
    pub stored: AtomicU64,
    /// Messages dropped as copies of stored ones.
    pub duplicates: AtomicU64,
    /// Commits (groups) done, and those that failed.
    pub commits: AtomicU64,
    pub commit_failures: AtomicU64,
    /// Requests and messages committed in groups (their ratio to `commits`
    /// is the group size).
    pub committed_requests: AtomicU64,
    /// Ids asked about by receipt requests, and those held.
    pub receipts_asked: AtomicU64,
    pub receipts_held: AtomicU64,
    /// Open connections.
    pub connections: AtomicI64,
    /// Requests queued for the commit writer, not yet taken into a group.
    pub queued: AtomicI64,
    rejected: [AtomicU64; Code::ALL.len()],
    responses: [AtomicU64; STATUSES.len() + 1],
    /// One group commit (transaction and sync).
    pub commit_latency: Histogram,
    /// One ingest request, from its headers to its answer.
    pub request_latency: Histogram,
    budget: Arc<Budget>,
}

impl Metrics {
    pub fn new(budget: Arc<Budget>) -> Self {
        Metrics {
            received: AtomicU64::new(0),
            stored: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            commit_failures: AtomicU64::new(0),
            committed_requests: AtomicU64::new(0),
            receipts_asked: AtomicU64::new(0),
            receipts_held: AtomicU64::new(0),
            connections: AtomicI64::new(0),
            queued: AtomicI64::new(0),
            rejected: Default::default(),
            responses: Default::default(),
            commit_latency: Histogram::default(),
            request_latency: Histogram::default(),
            budget,
        }
    }

    pub fn rejected(&self, code: Code) {
        if let Some(i) = Code::ALL.iter().position(|&c| c == code) {
            self.rejected[i].fetch_add(1, Relaxed);
        }
    }

    pub fn rejected_count(&self, code: Code) -> u64 {
        Code::ALL
            .iter()
            .position(|&c| c == code)
            .map_or(0, |i| self.rejected[i].load(Relaxed))
    }

    pub fn answered(&self, status: u16) {
        let i = STATUSES
            .iter()
            .position(|&s| s == status)
            .unwrap_or(STATUSES.len());
        self.responses[i].fetch_add(1, Relaxed);
    }

    pub fn answered_count(&self, status: u16) -> u64 {
        STATUSES
            .iter()
            .position(|&s| s == status)
            .map_or(0, |i| self.responses[i].load(Relaxed))
    }

    /// Bytes held by requests now (`collector_bytes_in_flight`).
    pub fn bytes_in_flight(&self) -> u64 {
        self.budget.used()
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            "collector_events_received_total",
            "Messages read from request bodies, valid or not.",
            self.received.load(Relaxed),
        );
        counter(
            "collector_events_stored_total",
            "Messages stored durably for the first time.",
            self.stored.load(Relaxed),
        );
        counter(
            "collector_events_duplicate_total",
            "Messages dropped as copies of stored ones (same write key and messageId).",
            self.duplicates.load(Relaxed),
        );
        counter(
            "collector_commits_total",
            "Group commits done (one transaction and sync each).",
            self.commits.load(Relaxed),
        );
        counter(
            "collector_commit_failures_total",
            "Group commits the store failed; their requests were answered 503.",
            self.commit_failures.load(Relaxed),
        );
        counter(
            "collector_committed_requests_total",
            "Requests whose messages went through a group commit.",
            self.committed_requests.load(Relaxed),
        );
        counter(
            "collector_receipts_asked_total",
            "Ids asked about by receipt requests.",
            self.receipts_asked.load(Relaxed),
        );
        counter(
            "collector_receipts_held_total",
            "Ids asked about that the store held.",
            self.receipts_held.load(Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP collector_events_rejected_total Messages refused, by reason.\n# TYPE collector_events_rejected_total counter"
        );
        for (code, count) in Code::ALL.iter().zip(&self.rejected) {
            let _ = writeln!(
                out,
                "collector_events_rejected_total{{reason=\"{}\"}} {}",
                code.label(),
                count.load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP collector_responses_total Responses, by status.\n# TYPE collector_responses_total counter"
        );
        for (i, count) in self.responses.iter().enumerate() {
            let status = STATUSES.get(i).map_or("other".to_string(), u16::to_string);
            let _ = writeln!(
                out,
                "collector_responses_total{{status=\"{status}\"}} {}",
                count.load(Relaxed)
            );
        }
        self.commit_latency.render(
            &mut out,
            "collector_commit_seconds",
            "Time of one group commit (transaction and sync).",
        );
        self.request_latency.render(
            &mut out,
            "collector_request_seconds",
            "Time of one ingest request, from its headers to its answer.",
        );
        let mut gauge = |name: &str, help: &str, value: i64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        };
        gauge(
            "collector_bytes_in_flight",
            "Bytes held by requests between reading their body and the end of their commit.",
            self.budget.used() as i64,
        );
        gauge(
            "collector_bytes_in_flight_limit",
            "The most bytes in flight; beyond it requests are answered 503.",
            self.budget.limit() as i64,
        );
        gauge(
            "collector_commit_queue_requests",
            "Requests waiting for the commit writer.",
            self.queued.load(Relaxed),
        );
        gauge(
            "collector_connections",
            "Open client connections.",
            self.connections.load(Relaxed),
        );
        out
    }
}
