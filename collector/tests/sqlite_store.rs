//! The SQLite store on its own: what it keeps, how it drops copies (in the
//! write's own transaction, counted per day), what survives closing the
//! file, receipts, and the SQL that docs/collector.md shows people.

use std::sync::Arc;

use analytics_collector::store::sqlite::SqliteStore;
use analytics_collector::store::{Batch, Store, Written};
use analytics_collector::wire::{self, Endpoint};
use serde_json::json;

fn batch(write_key: &str, received_at: &str, messages: serde_json::Value) -> Batch {
    let body =
        serde_json::to_vec(&json!({"batch": messages, "writeKey": write_key})).expect("JSON");
    let parsed = wire::parse(&body, Endpoint::Batch).expect("valid");
    assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
    Batch {
        write_key: Arc::from(write_key),
        received_at: received_at.to_owned(),
        messages: parsed.messages,
    }
}

fn track(id: &str, user: &str, event: &str, at: &str) -> serde_json::Value {
    json!({"type": "track", "messageId": id, "anonymousId": user, "event": event, "timestamp": at})
}

#[test]
fn copies_are_dropped_in_the_writing_transaction_and_counted_per_day() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = SqliteStore::open(&dir.path().join("e.db")).expect("opens");
    let first = batch(
        "wk",
        "2026-12-06T10:00:00.000Z",
        json!([
            track("a", "u", "E", "2026-12-06T10:00:00Z"),
            track("a", "u", "E", "2026-12-06T10:00:00Z")
        ]),
    );
    let second = batch(
        "wk",
        "2026-12-07T10:00:00.000Z",
        json!([
            track("a", "u", "E", "2026-12-06T10:00:00Z"),
            track("b", "u", "E", "2026-12-06T10:00:00Z")
        ]),
    );
    let other_key = batch(
        "k2",
        "2026-12-07T10:00:00.000Z",
        json!([track("a", "u", "E", "2026-12-06T10:00:00Z")]),
    );
    let written = store
        .write(&[&first, &second, &other_key])
        .expect("written");
    assert_eq!(
        written,
        [
            Written {
                stored: 1,
                duplicates: 1
            },
            Written {
                stored: 1,
                duplicates: 1
            },
            Written {
                stored: 1,
                duplicates: 0
            },
        ]
    );
    let conn = rusqlite::Connection::open(dir.path().join("e.db")).expect("opens");
    let dropped: Vec<(String, String, i64)> = conn
        .prepare("SELECT write_key, day, dropped FROM duplicates ORDER BY day")
        .expect("table")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        dropped,
        [
            ("wk".into(), "2026-12-06".into(), 1),
            ("wk".into(), "2026-12-07".into(), 1)
        ]
    );
}

#[test]
fn committed_events_survive_closing_and_keep_their_queryable_fields() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("e.db");
    {
        let mut store = SqliteStore::open(&path).expect("opens");
        let message = json!({
            "type": "identify", "messageId": "m1", "userId": 42, "anonymousId": "anon",
            "timestamp": "2026-12-06T11:00:00+01:00", "sentAt": "2026-12-06T10:00:05Z", "traits": {"plan": "pro"}
        });
        store
            .write(&[&batch("wk", "2026-12-06T10:00:06.000Z", json!([message]))])
            .expect("written");
    }
    let store = SqliteStore::open(&path).expect("reopens");
    let conn = rusqlite::Connection::open(&path).expect("opens");
    let row: (String, Option<String>, String, String, String, String, String, String) = conn
        .query_row(
            "SELECT type, event, user_id, anonymous_id, timestamp, received_at, sent_at, json_extract(message, '$.traits.plan') FROM events",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)),
        )
        .expect("one row");
    assert_eq!(
        row,
        (
            "identify".into(),
            None,
            "42".into(),
            "anon".into(),
            "2026-12-06T10:00:00.000Z".into(),
            "2026-12-06T10:00:06.000Z".into(),
            "2026-12-06T10:00:05.000Z".into(),
            "pro".into()
        )
    );
    let held = store
        .receipts()
        .expect("sqlite answers receipts")
        .held("wk", &["m1".into(), "m2".into()])
        .expect("looked up");
    assert_eq!(held, ["m1"]);
    assert!(store
        .receipts()
        .expect("sqlite answers receipts")
        .held("other", &["m1".into()])
        .expect("looked up")
        .is_empty());
}

/// The queries docs/collector.md shows, run on a small known data set.
#[test]
fn the_documented_queries_answer_what_they_say() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("e.db");
    let mut store = SqliteStore::open(&path).expect("opens");
    let day1 = "2026-12-06T10:00:00Z";
    let day2 = "2026-12-07T10:00:00Z";
    let events = json!([
        track("1", "u1", "Viewed Pricing", day1),
        track("2", "u1", "Started Trial", "2026-12-06T10:05:00Z"),
        track("3", "u1", "Subscribed", "2026-12-06T10:09:00Z"),
        track("4", "u2", "Viewed Pricing", day1),
        track("5", "u2", "Started Trial", day2),
        track("6", "u3", "Viewed Pricing", day2),
        track("7", "u4", "Started Trial", day2), // never viewed pricing
    ]);
    let first = batch("wk", "2026-12-07T10:00:00.000Z", events.clone());
    store
        .write(&[&first, &first])
        .expect("written (the second copy is dropped)");
    let conn = rusqlite::Connection::open(&path).expect("opens");

    let per_day: Vec<(String, i64)> = conn
        .prepare(EVENTS_PER_DAY)
        .expect("valid SQL")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("runs")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        per_day,
        [("2026-12-06".into(), 4), ("2026-12-07".into(), 3)]
    );

    let funnel: (i64, i64, i64) = conn
        .query_row(FUNNEL, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("runs");
    assert_eq!(
        funnel,
        (3, 2, 1),
        "viewed pricing, then trial, then subscribed"
    );

    let dropped: (String, i64) = conn
        .query_row(DUPLICATES_DROPPED, [], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("runs");
    assert_eq!(dropped, ("2026-12-07".into(), 7));
}

// Copied verbatim into docs/collector.md.
const EVENTS_PER_DAY: &str = "SELECT substr(timestamp, 1, 10) AS day, count(*) AS events
FROM events
WHERE write_key = 'wk'
GROUP BY day
ORDER BY day";

const FUNNEL: &str = "WITH viewed AS (
  SELECT anonymous_id AS who, min(timestamp) AS at FROM events
  WHERE type = 'track' AND event = 'Viewed Pricing' GROUP BY who
), trial AS (
  SELECT v.who, min(e.timestamp) AS at FROM viewed v
  JOIN events e ON e.anonymous_id = v.who AND e.event = 'Started Trial' AND e.timestamp > v.at
  GROUP BY v.who
), paid AS (
  SELECT t.who FROM trial t
  JOIN events e ON e.anonymous_id = t.who AND e.event = 'Subscribed' AND e.timestamp > t.at
  GROUP BY t.who
)
SELECT (SELECT count(*) FROM viewed), (SELECT count(*) FROM trial), (SELECT count(*) FROM paid)";

const DUPLICATES_DROPPED: &str =
    "SELECT day, sum(dropped) FROM duplicates GROUP BY day ORDER BY day";
