//! The sans-IO core: every decision about queueing, batching, retrying and
//! dropping events, with no browser API, clock or ambient randomness in it.
//! Time and random bytes come in as arguments; work goes out as `Action`s.
//!
//! - `engine`: `ClientEventQueue`, the state machine the browser shell drives
//! - `config`: `Config`, its defaults and validation
//! - `event`: event input, `messageId`, encoding, stored form
//! - `pending`: the ordered queue of events waiting to be batched
//! - `wire`: the Segment-compatible batch envelope
//! - `outcome`: send outcomes and their classification (the rejection contract)
//! - `retry`: backoff with full jitter; `circuit`: the circuit breaker
//! - `record`: the text form of a stored event, for every storage backend
//! - `chunks`: the chunked event log that keeps IndexedDB writes per batch
//! - `metrics`: counters and gauges; `json`, `time`: small text helpers

pub mod chunks;
pub mod circuit;
pub mod config;
pub mod engine;
pub mod event;
pub mod json;
pub mod metrics;
pub mod outcome;
pub mod pending;
pub mod record;
pub mod retry;
pub mod time;
pub mod wire;

pub use circuit::CircuitState;
pub use config::{Config, ConfigError};
pub use engine::{
    Action, BatchId, ClientEventQueue, Notice, RestoreReport, RestoreSource, SendRequest, Transport,
};
pub use event::{EventInput, EventKind, MessageId, StoredEvent, TrackError};
pub use metrics::{Counters, Metrics};
pub use outcome::{Rejection, SendOutcome};
pub use time::Millis;

/// Sorts `(key, index)` pairs. Every sort in the core goes through this one
/// monomorphization: each distinct sort instantiation costs kilobytes of wasm.
pub(crate) fn sort_keys(keys: &mut [(u128, usize)]) {
    keys.sort_unstable();
}
