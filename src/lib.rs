//! analytics-wasm: a client-side analytics SDK. The crate has two halves:
//!
//! - [`core`]: the deterministic, sans-IO event queue (`ClientEventQueue`).
//!   It builds and is tested natively; time, randomness and I/O are the
//!   caller's.
//! - `wasm` (wasm32 only): the exported functions the npm package's
//!   JavaScript shell (`js/`) drives the core through.

pub mod core;

#[cfg(target_arch = "wasm32")]
mod wasm;
