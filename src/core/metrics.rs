//! The queue's counters (cumulative) and gauges (current), under the names
//! the JavaScript API exposes in camelCase. Keep these names stable.

use super::time::Millis;

/// Cumulative counts since the queue was created.
///
/// Every event accepted by `track` or `restore` ends exactly one way, so
/// `events_tracked + events_restored == events_sent + events_confirmed +
/// dropped_* + pending + in_flight + unconfirmed`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Events given to `track` (refused-as-too-large ones included).
    pub events_tracked: u64,
    /// Events taken back from storage by `restore`.
    pub events_restored: u64,
    /// Events the collector accepted.
    pub events_sent: u64,
    /// Unconfirmed events (see `unconfirmed`) a receipt showed the
    /// collector holds already: delivered, and not sent again.
    pub events_confirmed: u64,
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
    /// Unconfirmed events sent again because no receipt said the collector
    /// holds them (it gives no receipts, or it does not hold them): each
    /// may be a copy, which the collector drops by `messageId`.
    pub events_resent: u64,
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
    /// Events restored from storage or handed to `sendBeacon`, waiting to
    /// learn whether the collector holds them.
    pub unconfirmed: u64,
    /// The circuit breaker's state (see `CIRCUIT_STATE_NAMES`).
    pub circuit_state: usize,
    /// No send before this instant, by the wall clock (backoff,
    /// `Retry-After` or open circuit).
    pub next_retry_at: Option<Millis>,
    /// Sending stopped by a 401/403 until `flush()` or a new config.
    pub auth_paused: bool,
    /// Whether the caller reported the browser online.
    pub online: bool,
    /// The most recent delivery problem (the shell words it).
    pub last_error: Option<Failure>,
}

/// A delivery problem, as a value: the shell has the one text for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// A send failed with this status (5xx, 408, …).
    Status(u16),
    NetworkError,
    Timeout,
    /// 429.
    RateLimited,
    /// 401 or 403: sending is paused.
    AuthPaused(u16),
    /// A whole batch was dropped with this status.
    BatchDropped(u16),
    /// An event refused alone (400 naming no event) was dropped.
    EventRefused(u16),
    /// An event answered 413 alone was dropped.
    EventTooLarge,
    /// The collector rejected this many events of a batch by name.
    EventsRejected(u32),
}

/// The kinds of `Failure`, by `Failure::code`, as the shell names them.
pub const FAILURE_NAMES: [&str; 9] = [
    "status",
    "network",
    "timeout",
    "rateLimited",
    "authPaused",
    "batchDropped",
    "eventRefused",
    "eventTooLarge",
    "eventsRejected",
];

impl Failure {
    /// Its kind (an index into `FAILURE_NAMES`) and its number.
    pub fn code(self) -> (usize, u32) {
        match self {
            Failure::Status(status) => (0, status.into()),
            Failure::NetworkError => (1, 0),
            Failure::Timeout => (2, 0),
            Failure::RateLimited => (3, 429),
            Failure::AuthPaused(status) => (4, status.into()),
            Failure::BatchDropped(status) => (5, status.into()),
            Failure::EventRefused(status) => (6, status.into()),
            Failure::EventTooLarge => (7, 413),
            Failure::EventsRejected(count) => (8, count),
        }
    }
}

/// The numeric metrics under the names the JavaScript API shows them by,
/// in the order of `Metrics::values`: the one table of these names.
pub const METRIC_NAMES: [&str; 19] = [
    "eventsTracked",
    "eventsRestored",
    "eventsSent",
    "eventsConfirmed",
    "droppedOverflow",
    "droppedRejected",
    "droppedTooLarge",
    "droppedExpired",
    "restoreCorrupt",
    "batchesSent",
    "batchesFailed",
    "retries",
    "eventsResent",
    "bytesSent",
    "pending",
    "pendingBytes",
    "inFlight",
    "inFlightBatches",
    "unconfirmed",
];

/// What each of `METRIC_NAMES` counts, for people (Markdown): the metrics
/// tables of `docs/API.md` and `js/index.d.ts` are generated from it.
pub const METRIC_DOCS: [&str; 19] = [
    "Events given to the queue (those refused as too large included).",
    "Events taken back from storage (left by an earlier page load or a closed tab).",
    "Events the collector accepted.",
    "Restored events, or events handed to `sendBeacon`, that the collector's receipts showed it holds: delivered, and not sent again.",
    "Oldest events dropped because the queue was full.",
    "Events the collector refused (4xx, or named in a rejection list).",
    "Events too large for any batch, or refused alone with 413.",
    "Events older than `maxEventAgeMs`.",
    "Stored records refused at restore as corrupt (not events).",
    "Batches accepted (2xx, or taken by `sendBeacon`).",
    "Batches that did not deliver.",
    "Batches sent that held an event sent before.",
    "Restored or beaconed events sent again because no receipt said the collector holds them (it gives none, or does not hold them): each may be a copy, which the collector drops by `messageId`.",
    "Body bytes of accepted batches.",
    "Events waiting to be sent.",
    "Their encoded bytes.",
    "Events in batches being sent.",
    "Batches being sent.",
    "Events restored from storage (or handed to `sendBeacon`) waiting to learn whether the collector holds them.",
];

impl Metrics {
    /// The numeric metrics in `METRIC_NAMES` order.
    pub fn values(&self) -> [u64; 19] {
        let c = &self.counters;
        [
            c.events_tracked,
            c.events_restored,
            c.events_sent,
            c.events_confirmed,
            c.dropped_overflow,
            c.dropped_rejected,
            c.dropped_too_large,
            c.dropped_expired,
            c.restore_corrupt,
            c.batches_sent,
            c.batches_failed,
            c.retries,
            c.events_resent,
            c.bytes_sent,
            self.pending,
            self.pending_bytes,
            self.in_flight,
            self.in_flight_batches,
            self.unconfirmed,
        ]
    }
}
