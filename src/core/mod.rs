//! The sans-IO core: every decision about queueing, batching, retrying and
//! dropping events, with no browser API, clock or ambient randomness in it.
//! Time and random bytes come in as arguments; work goes out as `Action`s,
//! outcomes as values. It holds no event's bytes: the shell encodes each
//! event once and keeps it; the core knows its handle, size and age.
//!
//! - `queue`: `ClientEventQueue`, the state machine the driver drives
//! - `config`: `Config`, its defaults and validation
//! - `event`: the queue's view of an event; `pending`: the ordered queue
//! - `wire`: the size of the Segment-compatible batch body
//! - `outcome`: send outcomes and their classification (the rejection contract)
//! - `retry`: backoff with equal jitter that follows an outage; `circuit`:
//!   the circuit breaker
//! - `unconfirmed`: events whose delivery no answer confirmed, and the
//!   receipt requests that settle them
//! - `metrics`: counters, gauges and failures, and the names the JS API uses
//! - `time`: milliseconds

pub mod circuit;
pub mod config;
pub mod event;
pub mod metrics;
pub mod outcome;
pub mod pending;
pub mod queue;
pub mod retry;
pub mod time;
pub mod unconfirmed;
pub mod wire;

pub use circuit::{CircuitState, CIRCUIT_STATE_NAMES};
pub use config::{Config, ConfigError, NumericField, NUMERIC_FIELDS};
pub use event::{Handle, RestoredEvent, TrackError};
pub use metrics::{Counters, Failure, Metrics, FAILURE_NAMES, METRIC_DOCS, METRIC_NAMES};
pub use outcome::{RetryAfter, SendOutcome};
pub use queue::{
    Action, BatchId, BatchReport, ClientEventQueue, Health, Notice, Priority, ReceiptRequest,
    RestoreReport, RestoreSource, SendRequest, Transport, MAX_RECEIPT_EVENTS, NOTICE_NAMES,
    RECOVERY_SPREAD_MS,
};
pub use time::Millis;
pub use wire::Envelope;
