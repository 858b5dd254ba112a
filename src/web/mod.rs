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
//! - `timer`: the one wake-up timer; `random`: random bytes for ids

mod api;
mod config;
mod indexed_db;
mod lifecycle;
mod local_storage;
mod random;
mod runtime;
mod storage;
mod timer;
mod transport;
