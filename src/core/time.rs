//! Time as the queue counts it: milliseconds, on the clock each call names
//! (monotonic for timers and ages, the wall clock for stamps; see `queue`).

/// Milliseconds.
pub type Millis = u64;
