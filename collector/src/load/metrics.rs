//! The loader's counters and gauges, and their Prometheus text.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering::Relaxed};

use crate::metrics::Histogram;

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
    /// Writes the store refused for their data (each splits its batch).
    pub write_refusals: AtomicU64,
    pub poison: AtomicU64,
    /// Events published to the dead-letter subject and terminated.
    pub dead_letters: AtomicU64,
    /// Envelopes of a later version handed back for a newer loader.
    pub deferred: AtomicU64,
    /// Pulls that failed with nothing fetched.
    pub pull_failures: AtomicU64,
    /// Events of the batch in hand (fetched, not yet acked).
    pub in_flight: AtomicI64,
    /// Events the consumer has not had acked: not yet delivered, or
    /// delivered and waiting for their ack.
    pub lag: AtomicI64,
    /// Milliseconds from the oldest event of the last acked batch reaching
    /// the stream to its ack.
    pub last_delay_ms: AtomicU64,
    pub circuit: AtomicU8,
    /// The consumer's `ack_wait` as the server has it, in milliseconds.
    pub ack_wait_ms: AtomicU64,
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
            "loader_write_refusals_total",
            "counter",
            "Store writes refused for their data (the batch is split to find the events at fault).",
            c(&self.write_refusals),
        );
        line(
            "loader_events_poison_total",
            "counter",
            "Stream messages that were not event envelopes (dead-lettered).",
            c(&self.poison),
        );
        line(
            "loader_events_dead_lettered_total",
            "counter",
            "Events published to the dead-letter subject and terminated in the stream.",
            c(&self.dead_letters),
        );
        line(
            "loader_events_deferred_total",
            "counter",
            "Envelopes of a later version handed back (delayed nak) for a newer loader.",
            c(&self.deferred),
        );
        line(
            "loader_pull_failures_total",
            "counter",
            "Pulls from the consumer that failed with nothing fetched (retried with backoff).",
            c(&self.pull_failures),
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
        if cfg!(feature = "test-hooks") {
            line(
                "loader_paused_before_ack",
                "gauge",
                "Tests only: 1 once the loader stopped between commit and ack.",
                i64::from(self.paused_before_ack.load(Relaxed)),
            );
        }
        self.write_latency.render(
            &mut out,
            "loader_write_seconds",
            "One batch's store write (transaction and commit).",
        );
        out
    }
}
