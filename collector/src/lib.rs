//! analytics-collector: the analytics-wasm project's event collector.
//! Segment's HTTP tracking API in front, a durable store behind, an answer
//! per message, an ack only after the commit, each event stored once.
//! docs/collector.md is the user's guide; docs/wire-contract.md the wire.
//!
//! Modules by concern: `wire` (Segment bodies, pure), `time` (ISO-8601),
//! `body` (limits, draining, gzip), `http` (routes, CORS, write keys, the
//! ingest flow), `commit` (the group-commit writer), `store` (the `Store`
//! trait; SQLite, memory, fault injection), `limits` (byte budget,
//! Retry-After, rate limit), `metrics`, `config`, `server` (listener,
//! connections, shutdown), `client` (a small HTTP/1.1 client for the tests
//! and the bench), `stream` (NATS JetStream: the log between the `ingest`
//! and `load` roles, and the publisher an ingest node commits to), `load`
//! (the loader's loop: batch, write, ack after commit, retry, circuit).

pub mod body;
pub mod client;
pub mod commit;
pub mod config;
pub mod http;
pub mod limits;
pub mod load;
pub mod metrics;
pub mod server;
pub mod store;
pub mod stream;
pub mod time;
pub mod wire;
