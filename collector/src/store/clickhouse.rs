//! The ClickHouse store, over its HTTP interface (`INSERT … FORMAT
//! JSONEachRow`), with the crate's own HTTP client. One table, a
//! `ReplacingMergeTree` ordered by (write_key, message_id): the key is
//! exactly an event's identity, so only copies of one event are ever
//! collapsed (Jitsu #1120 came from a key that merged distinct events),
//! and the table is not partitioned, because ReplacingMergeTree replaces
//! only within a partition (a copy received on another day, say, would
//! never meet its original).
//!
//! Dedupe here is eventual: a copy is a second row until a background
//! merge collapses them, so a store write cannot say how many were copies
//! (it reports every event stored). Read exactly with `FINAL` (`SELECT
//! count() FROM events FINAL`) or `uniqExact(write_key, message_id)`.
//! A write is one INSERT of the group; ClickHouse answers 200 once the
//! part is written (18.16 does not fsync it; current versions can, with
//! `fsync_after_insert`). Only SQL that current ClickHouse also accepts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::runtime::Handle;

use super::{Batch, Receipts, Store, StoreError, Written};
use crate::client;
use crate::time::parse_iso8601;

/// The table, also shown in docs/collector.md.
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS events (
  write_key    String,
  message_id   String,
  type         String,
  event        Nullable(String),
  user_id      Nullable(String),
  anonymous_id Nullable(String),
  timestamp    Nullable(DateTime('UTC')),
  received_at  DateTime('UTC'),
  sent_at      Nullable(DateTime('UTC')),
  message      String
) ENGINE = ReplacingMergeTree() ORDER BY (write_key, message_id)";

/// The longest one request to ClickHouse may take, by default (a loader
/// uses its `write_timeout_ms` for its INSERTs).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Serialize)]
struct Row<'a> {
    write_key: &'a str,
    message_id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    event: Option<&'a str>,
    user_id: Option<&'a str>,
    anonymous_id: Option<&'a str>,
    timestamp: Option<String>,
    received_at: String,
    sent_at: Option<String>,
    message: &'a str,
}

/// `2026-12-06T10:00:00.000Z` as DateTime text (`2026-12-06 10:00:00`),
/// or `None` outside DateTime's range (1970 to 2105).
fn date_time(iso: Option<&str>) -> Option<String> {
    let ms = parse_iso8601(iso?)?;
    if !(0..4_294_967_295_000).contains(&ms) {
        return None;
    }
    let text = crate::time::format_utc(ms);
    Some(format!("{} {}", &text[..10], &text[11..19]))
}

/// A string literal of ClickHouse's SQL.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The HTTP endpoint, `http://host:port`. The name is resolved again after
/// a request that could not reach the server (a moved or restarted host).
#[derive(Clone)]
pub struct ClickHouse {
    host: Arc<str>,
    addr: Arc<std::sync::Mutex<SocketAddr>>,
    timeout: Duration,
}

async fn lookup(host: &str) -> Result<SocketAddr, StoreError> {
    tokio::net::lookup_host(host)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| StoreError::new(format!("clickhouse: cannot resolve {host}")))
}

impl ClickHouse {
    pub async fn resolve(url: &str) -> Result<ClickHouse, StoreError> {
        let host = url
            .strip_prefix("http://")
            .map(|rest| rest.trim_end_matches('/'))
            .filter(|h| !h.contains('/'))
            .ok_or_else(|| {
                StoreError::new(format!("clickhouse: {url:?} is not http://host:port"))
            })?;
        let addr = lookup(host).await?;
        Ok(ClickHouse {
            host: host.into(),
            addr: Arc::new(std::sync::Mutex::new(addr)),
            timeout: REQUEST_TIMEOUT,
        })
    }

    fn addr(&self) -> SocketAddr {
        *self.addr.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `sql` (with `data` after it, for an INSERT) and returns the
    /// answer's body, or the server's error. The statement travels in the
    /// POST body, never in the URL (a long `IN (…)` list would pass a URL
    /// length limit).
    pub async fn query(&self, sql: &str, data: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut body = Vec::with_capacity(sql.len() + 1 + data.len());
        body.extend_from_slice(sql.as_bytes());
        body.push(b'\n');
        body.extend_from_slice(data);
        let request = client::request(
            self.addr(),
            "POST",
            "/?date_time_input_format=best_effort",
            &[],
            &body,
        );
        let answer = match tokio::time::timeout(self.timeout, request).await {
            Err(_) => {
                return Err(StoreError::new(format!(
                    "clickhouse: no answer within {} ms",
                    self.timeout.as_millis()
                )))
            }
            Ok(Err(e)) => {
                if let Ok(addr) = lookup(&self.host).await {
                    *self.addr.lock().unwrap_or_else(|p| p.into_inner()) = addr;
                }
                return Err(StoreError::new(format!("clickhouse: {e}")));
            }
            Ok(Ok(answer)) => answer,
        };
        if answer.status != 200 {
            let text = answer.text();
            let message = format!(
                "clickhouse: {} {}",
                answer.status,
                text.trim().chars().take(500).collect::<String>()
            );
            return Err(match exception_code(&text) {
                Some(code) if DATA_CODES.contains(&code) => StoreError::data(message),
                _ => StoreError::new(message),
            });
        }
        Ok(answer.body)
    }
}

/// ClickHouse's exception codes that say the data of an INSERT was
/// refused (the same rows fail every time): CANNOT_PARSE_TEXT (6),
/// CANNOT_PARSE_QUOTED_STRING (26), CANNOT_PARSE_INPUT_ASSERTION_FAILED
/// (27), ATTEMPT_TO_READ_AFTER_EOF (32), CANNOT_PARSE_DATE (38),
/// CANNOT_PARSE_DATETIME (41), TYPE_MISMATCH (53), ARGUMENT_OUT_OF_BOUND
/// (69), CANNOT_CONVERT_TYPE (70), CANNOT_PARSE_NUMBER (72),
/// INCORRECT_DATA (117), TOO_LARGE_STRING_SIZE (131),
/// VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE (321),
/// CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN (349). 18.16 answers some of them
/// 400 and some 500 (INCORRECT_DATA), so the code decides, not the status.
/// Everything else (no answer, a restart, a missing table, too many parts,
/// memory) is retried.
pub const DATA_CODES: [u32; 14] = [6, 26, 27, 32, 38, 41, 53, 69, 70, 72, 117, 131, 321, 349];

/// The `Code: N` an error answer starts with.
fn exception_code(text: &str) -> Option<u32> {
    let rest = &text[text.find("Code: ")? + 6..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The store; `write` runs on the writer's thread and drives its request
/// on `runtime`.
pub struct ClickHouseStore {
    server: ClickHouse,
    runtime: Handle,
}

impl ClickHouseStore {
    /// Finds the server and creates the table if needed.
    pub async fn connect(url: &str) -> Result<ClickHouseStore, StoreError> {
        let server = ClickHouse::resolve(url).await?;
        server.query(SCHEMA, b"").await?;
        Ok(ClickHouseStore {
            server,
            runtime: Handle::current(),
        })
    }

    /// The longest one INSERT may take before it is abandoned.
    pub fn with_write_timeout(mut self, timeout: Duration) -> ClickHouseStore {
        self.server.timeout = timeout;
        self
    }
}

impl Store for ClickHouseStore {
    fn write(&mut self, group: &[&Batch]) -> Result<Vec<Written>, StoreError> {
        let mut body = Vec::with_capacity(group.iter().map(|b| b.messages.len() * 1400).sum());
        for batch in group {
            let received_at = date_time(Some(&batch.received_at)).unwrap_or_default();
            for m in &batch.messages {
                let row = Row {
                    write_key: &batch.write_key,
                    message_id: &m.message_id,
                    kind: m.kind.as_str(),
                    event: m.event.as_deref(),
                    user_id: m.user_id.as_deref(),
                    anonymous_id: m.anonymous_id.as_deref(),
                    timestamp: date_time(m.timestamp.as_deref()),
                    received_at: received_at.clone(),
                    sent_at: date_time(m.sent_at.as_deref()),
                    message: &m.json,
                };
                serde_json::to_writer(&mut body, &row)
                    .map_err(|e| StoreError::new(format!("clickhouse: {e}")))?;
                body.push(b'\n');
            }
        }
        let server = self.server.clone();
        self.runtime.block_on(async move {
            server
                .query("INSERT INTO events FORMAT JSONEachRow", &body)
                .await
        })?;
        // Copies are collapsed later, by merges: every event counts as stored.
        Ok(group
            .iter()
            .map(|b| Written {
                stored: b.messages.len(),
                duplicates: 0,
            })
            .collect())
    }

    fn receipts(&self) -> Option<Arc<dyn Receipts>> {
        Some(Arc::new(ClickHouseReceipts {
            server: self.server.clone(),
            runtime: self.runtime.clone(),
        }))
    }
}

/// Receipt lookups: which of these ids has a row (copies or not).
pub struct ClickHouseReceipts {
    server: ClickHouse,
    runtime: Handle,
}

impl ClickHouseReceipts {
    pub async fn connect(url: &str) -> Result<Arc<ClickHouseReceipts>, StoreError> {
        Ok(Arc::new(ClickHouseReceipts {
            server: ClickHouse::resolve(url).await?,
            runtime: Handle::current(),
        }))
    }
}

#[derive(Deserialize)]
struct IdRow {
    message_id: String,
}

impl Receipts for ClickHouseReceipts {
    fn held(&self, write_key: &str, ids: &[String]) -> Result<Vec<String>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = ids.iter().map(|id| quote(id)).collect();
        let sql = format!(
            "SELECT DISTINCT message_id FROM events WHERE write_key = {} AND message_id IN ({}) FORMAT JSONEachRow",
            quote(write_key),
            list.join(",")
        );
        let server = self.server.clone();
        let body = self
            .runtime
            .block_on(async move { server.query(&sql, b"").await })?;
        let mut held = std::collections::HashSet::new();
        for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let row: IdRow = serde_json::from_slice(line)
                .map_err(|e| StoreError::new(format!("clickhouse: an answer row: {e}")))?;
            held.insert(row.message_id);
        }
        Ok(ids
            .iter()
            .filter(|id| held.contains(*id))
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_data_is_told_from_an_unavailable_server_by_the_exception_code() {
        let code = |t: &str| exception_code(t);
        assert_eq!(
            code(
                "Code: 41, e.displayText() = DB::Exception: Cannot read DateTime: unexpected word"
            ),
            Some(41)
        );
        assert_eq!(
            code("Code: 117, e.displayText() = DB::Exception: Unknown field"),
            Some(117)
        );
        assert_eq!(code("Service Unavailable"), None);
        assert!(DATA_CODES.contains(&41) && DATA_CODES.contains(&117));
        assert!(!DATA_CODES.contains(&60), "a missing table is retried");
        assert!(!DATA_CODES.contains(&252), "too many parts is retried");
    }

    #[test]
    fn string_literals_escape_quotes_backslashes_and_nul() {
        assert_eq!(quote("a'b\\c\0"), "'a\\'b\\\\c\\0'");
    }

    #[test]
    fn date_times_are_utc_seconds_within_datetime_range() {
        assert_eq!(
            date_time(Some("2026-12-06T10:00:00.123Z")).as_deref(),
            Some("2026-12-06 10:00:00")
        );
        assert_eq!(date_time(Some("1969-12-31T23:59:59.000Z")), None);
        assert_eq!(date_time(None), None);
    }
}
