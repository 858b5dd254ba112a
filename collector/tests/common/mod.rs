//! What the collector's tests share: a collector on 127.0.0.1 and an
//! ephemeral port (in process, on a store the test can inspect, or the real
//! binary), Segment messages and bodies, and waiting on conditions (never
//! on fixed sleeps).
#![allow(dead_code)]

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use analytics_collector::client::{self, Response};
use analytics_collector::config::Config;
use analytics_collector::server::Server;
use analytics_collector::store::memory::MemoryStore;
use analytics_collector::store::Store;
use serde_json::{json, Value};

pub const WRITE_KEY: &str = "wk";
/// Long enough for a loaded machine; conditions usually hold in milliseconds.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Test settings: the defaults, write keys `wk` and `other`, port 0.
pub fn config() -> Config {
    let mut config = Config::with_write_keys(&[WRITE_KEY, "other"]);
    config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.cors_origins = vec!["https://app.example".into()];
    config
}

/// A collector on a memory store, with `config` as changed by `tweak`.
pub async fn start(tweak: impl FnOnce(&mut Config)) -> (Server, MemoryStore) {
    let store = MemoryStore::new();
    let server = start_on(tweak, store.clone()).await;
    (server, store)
}

pub async fn start_on<S: Store>(tweak: impl FnOnce(&mut Config), store: S) -> Server {
    let mut config = config();
    tweak(&mut config);
    Server::start(config, store)
        .await
        .expect("the collector starts")
}

/// A valid track message.
pub fn track(id: &str) -> Value {
    json!({
        "type": "track",
        "event": "Signed Up",
        "messageId": id,
        "anonymousId": "anon-1",
        "timestamp": "2026-12-06T10:00:00.000Z",
        "properties": {"plan": "pro"},
        "context": {"library": {"name": "analytics-wasm"}}
    })
}

/// `{"batch": messages, "writeKey": "wk", "sentAt": …}`.
pub fn batch(messages: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "batch": messages,
        "writeKey": WRITE_KEY,
        "sentAt": "2026-12-06T10:00:01.000Z"
    }))
    .expect("serializable")
}

pub async fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    client::request(addr, "POST", path, headers, body)
        .await
        .expect("the collector answers")
}

/// POSTs a batch body as the SDK does (text/plain).
pub async fn post_batch(addr: SocketAddr, body: &[u8]) -> Response {
    post(
        addr,
        "/v1/batch",
        &[("Content-Type", "text/plain;charset=UTF-8")],
        body,
    )
    .await
}

pub async fn get(addr: SocketAddr, path: &str) -> Response {
    client::request(addr, "GET", path, &[], b"")
        .await
        .expect("the collector answers")
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("in memory");
    encoder.finish().expect("in memory")
}

/// The ids a memory store holds, in the order stored.
pub fn stored_ids(store: &MemoryStore) -> Vec<String> {
    store
        .events()
        .into_iter()
        .map(|e| e.message.message_id)
        .collect()
}

/// Polls `condition` until it holds, failing the test after `PATIENCE`.
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !condition().await {
        assert!(Instant::now() < deadline, "waited {PATIENCE:?} for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A metric's value from `/metrics` (a line `name value`).
pub async fn metric(addr: SocketAddr, name: &str) -> f64 {
    let text = get(addr, "/metrics").await.text();
    text.lines()
        .find_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            (key == name).then(|| value.parse().ok()).flatten()
        })
        .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
}

/// The real `analytics-collector` binary, serving a SQLite file.
pub struct Binary {
    pub child: std::process::Child,
    pub addr: SocketAddr,
}

impl Binary {
    /// Starts `analytics-collector serve` on `db`, port 0, and waits for the
    /// line saying where it listens.
    pub fn start(db: &std::path::Path, log: &std::path::Path) -> Binary {
        use std::io::BufRead;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("a log file");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_analytics-collector"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--write-key",
                WRITE_KEY,
                "--log-level",
                "warn",
            ])
            .arg("--db")
            .arg(db)
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(PATIENCE)
            .expect("the collector says where it listens");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Binary { child, addr }
    }

    /// SIGKILL, by its PID.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// SIGTERM, by its PID; returns the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("waitable") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the collector did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The message ids in a SQLite events file, and whether each is unique.
pub fn sqlite_ids(db: &std::path::Path) -> (Vec<String>, usize) {
    let conn = rusqlite::Connection::open(db).expect("the database opens");
    let mut query = conn
        .prepare("SELECT message_id FROM events WHERE write_key = ?1")
        .expect("the schema has events");
    let ids: Vec<String> = query
        .query_map([WRITE_KEY], |row| row.get(0))
        .expect("queried")
        .collect::<Result<_, _>>()
        .expect("read");
    let distinct = ids.iter().collect::<std::collections::HashSet<_>>().len();
    (ids, distinct)
}
