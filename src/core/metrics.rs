//! The queue's counters (cumulative) and gauges (current), under the names
//! the JavaScript API exposes in camelCase. Keep these names stable.

use super::time::Millis;

/// Cumulative counts since the queue was created.
///
/// Every event accepted by `track` or `restore` ends exactly one way, so
/// `events_tracked + events_restored == events_sent + dropped_* + pending + in_flight`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Events given to `track` (refused-as-too-large ones included).
    pub events_tracked: u64,
    /// Events taken back from storage by `restore`.
    pub events_restored: u64,
    /// Events the collector accepted.
    pub events_sent: u64,
    /// Oldest events dropped because the queue was full.
    pub dropped_overflow: u64,
    /// Events the collector refused (4xx, or named in a rejection list).
    pub dropped_rejected: u64,
    /// Events too large for any batch, or refused alone with 413.
    pub dropped_too_large: u64,
    /// Events older than `maxEventAgeMs`.
    pub dropped_expired: u64,
    /// Stored entries refused at restore as corrupt (not events).
    pub restore_corrupt: u64,
    /// Batches accepted (2xx or beacon queued).
    pub batches_sent: u64,
    /// Batches that did not deliver (any other outcome).
    pub batches_failed: u64,
    /// Batches sent that held an event sent before.
    pub retries: u64,
    /// Body bytes of batches accepted.
    pub bytes_sent: u64,
}

/// A snapshot of the queue: counters and gauges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metrics {
    pub counters: Counters,
    /// Events waiting to be batched.
    pub pending: u64,
    /// Encoded bytes of the pending events.
    pub pending_bytes: u64,
    /// Events in batches awaiting an outcome.
    pub in_flight: u64,
    /// Batches awaiting an outcome.
    pub in_flight_batches: u64,
    /// `closed`, `open` or `half-open`.
    pub circuit_state: &'static str,
    /// No send before this instant, by the wall clock (backoff,
    /// `Retry-After` or open circuit).
    pub next_retry_at: Option<Millis>,
    /// Sending stopped by a 401/403 until `flush()` or a new config.
    pub auth_paused: bool,
    /// Whether the caller reported the browser online.
    pub online: bool,
    /// The most recent delivery problem, for humans.
    pub last_error: Option<String>,
}
