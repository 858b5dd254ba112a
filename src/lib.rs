//! analytics-wasm: a client-side analytics SDK. The crate has two halves:
//!
//! - [`core`]: the deterministic, sans-IO event queue (`ClientEventQueue`).
//!   It builds and is tested natively; time, randomness and I/O are the
//!   caller's.
//! - `wasm` (wasm32 only): the exported functions the npm package's
//!   JavaScript shell (`js/`) drives the core through, and [`abi`], the
//!   codes they speak in, with their names.
//! - [`generate`] (native only): writes what JavaScript and the docs take
//!   from the core's tables (`cargo run --bin generate`).

pub mod abi;
pub mod core;
#[cfg(not(target_arch = "wasm32"))]
pub mod generate;

#[cfg(target_arch = "wasm32")]
mod wasm;
