//! The browser shell (wasm32 only): it drives the sans-IO core with the
//! browser's clock, storage, network and page lifecycle. Only this layer
//! touches wasm-bindgen, web-sys and js-sys.
//!
//! - `api`: the `#[wasm_bindgen]` surface, in one place
//! - `runtime`: carries out the core's actions; the glue of the shell
//! - `config`: the JS config object → `Config`
//! - `storage` (`indexed_db`, `local_storage`): persistence with fallback
//! - `transport`: `fetch` and `sendBeacon`
//! - `lifecycle`: visibility, pagehide, online/offline
//! - `tabs`, `adoption`: which tab owns which partition; taking over orphans
//! - `announce`: tabs telling each other their partitions
//! - `timer`: the one wake-up timer; `random`: random bytes for ids
//! - `clock`: the monotonic clock for timers, the wall clock for stamps

pub mod adoption;
pub mod announce;
pub mod api;
pub mod clock;
pub mod config;
pub mod indexed_db;
pub mod lifecycle;
pub mod local_storage;
pub mod random;
pub mod runtime;
pub mod storage;
pub mod tabs;
pub mod timer;
pub mod transport;
