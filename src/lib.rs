//! analytics-wasm: a client-side analytics SDK. The crate has two halves:
//!
//! - [`core`]: the deterministic, sans-IO event queue (`ClientEventQueue`).
//!   It builds and is tested natively; time, randomness and I/O are the
//!   caller's.
//! - `web` (wasm32 only): the browser shell that drives the core with real
//!   clocks, storage, transport and page-lifecycle events, and the
//!   `#[wasm_bindgen]` surface the npm package exposes.

pub mod core;

/// Public so the browser tests in `tests/browser_*.rs` can reach each
/// capability; the supported interface is the npm package.
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod web;
