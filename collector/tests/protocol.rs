//! The wire behaviour of the collector, one rule per test: Segment's HTTP
//! tracking API, the per-message answer of docs/wire-contract.md, limits,
//! write keys, CORS, dedupe, receipts, and bad input of every kind answered
//! precisely. Each test runs its own collector on a memory store.

mod common;

use std::time::Duration;

use analytics_collector::client::Connection;
use analytics_collector::store::fault::{Fault, FaultStore};
use analytics_collector::store::memory::MemoryStore;
use common::*;
use serde_json::{json, Value};

/// Posts one message and returns the single rejection's reason, asserting
/// the answer is 400 (nothing else was in the batch) naming the message.
async fn rejection_of(message: Value) -> String {
    let (server, store) = start(|_| {}).await;
    let answer = post_batch(server.addr(), &batch(std::slice::from_ref(&message))).await;
    assert_eq!(answer.status, 400, "{}", answer.text());
    let rejected = answer.json()["rejected"].clone();
    assert_eq!(rejected.as_array().map(Vec::len), Some(1), "{rejected}");
    assert_eq!(rejected[0]["messageId"], message["messageId"]);
    assert!(store.events().is_empty());
    rejected[0]["reason"].as_str().expect("a reason").to_owned()
}

#[tokio::test]
async fn a_batch_is_stored_and_answered_200_with_an_empty_body() {
    let (server, store) = start(|_| {}).await;
    let answer = post_batch(server.addr(), &batch(&[track("a"), track("b")])).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json(), json!({}));
    assert_eq!(stored_ids(&store), ["a", "b"]);
    let stored = &store.events()[0];
    assert_eq!(&*stored.write_key, WRITE_KEY);
    assert_eq!(
        stored.message.sent_at.as_deref(),
        Some("2026-12-06T10:00:01.000Z")
    );
    let json: Value = serde_json::from_str(&stored.message.json).expect("stored as JSON");
    assert_eq!(json, track("a"), "the whole message, as sent");
}

#[tokio::test]
async fn application_json_bodies_are_accepted_as_well_as_text_plain() {
    let (server, store) = start(|_| {}).await;
    let answer = post(
        server.addr(),
        "/v1/batch",
        &[("Content-Type", "application/json")],
        &batch(&[track("a")]),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(stored_ids(&store), ["a"]);
}

#[tokio::test]
async fn each_single_message_endpoint_stores_a_message_of_its_type() {
    let (server, store) = start(|_| {}).await;
    let base = json!({"anonymousId": "a", "userId": "u", "writeKey": WRITE_KEY});
    let extra = [
        ("track", json!({"event": "Clicked"})),
        ("identify", json!({"traits": {"plan": "pro"}})),
        ("page", json!({"name": "Home"})),
        ("screen", json!({"name": "Home"})),
        ("group", json!({"groupId": "g"})),
        ("alias", json!({"previousId": "p"})),
    ];
    for (kind, fields) in &extra {
        let mut message = base.clone();
        message["messageId"] = json!(format!("id-{kind}"));
        for (k, v) in fields.as_object().expect("object") {
            message[k] = v.clone();
        }
        let answer = post(
            server.addr(),
            &format!("/v1/{kind}"),
            &[],
            message.to_string().as_bytes(),
        )
        .await;
        assert_eq!(answer.status, 200, "/v1/{kind}: {}", answer.text());
    }
    let events = store.events();
    assert_eq!(events.len(), 6);
    for (event, (kind, _)) in events.iter().zip(&extra) {
        assert_eq!(event.message.kind.as_str(), *kind);
        let json: Value = serde_json::from_str(&event.message.json).expect("JSON");
        assert_eq!(json["type"], *kind, "the stored message says its type");
    }
}

#[tokio::test]
async fn analytics_js_paths_are_taken_by_their_initial_and_b_is_a_batch() {
    let (server, store) = start(|_| {}).await;
    let base = json!({"anonymousId": "a", "writeKey": WRITE_KEY});
    for (path, kind, fields) in [
        ("t", "track", json!({"event": "Clicked"})),
        ("i", "identify", json!({"userId": "u"})),
        ("p", "page", json!({"name": "Home"})),
        ("s", "screen", json!({"name": "Home"})),
        ("g", "group", json!({"groupId": "g"})),
        ("a", "alias", json!({"userId": "u", "previousId": "p"})),
    ] {
        let mut message = base.clone();
        message["messageId"] = json!(format!("id-{path}"));
        message["type"] = json!(kind);
        for (k, v) in fields.as_object().expect("object") {
            message[k] = v.clone();
        }
        let answer = post(
            server.addr(),
            &format!("/v1/{path}"),
            &[],
            message.to_string().as_bytes(),
        )
        .await;
        assert_eq!(answer.status, 200, "/v1/{path}: {}", answer.text());
    }
    let answer = post(server.addr(), "/v1/b", &[], &batch(&[track("in-a-batch")])).await;
    assert_eq!(answer.status, 200, "/v1/b: {}", answer.text());
    assert_eq!(store.events().len(), 7);
    let answer = post(server.addr(), "/v1/x", &[], b"{}").await;
    assert_eq!(answer.status, 404, "no kind begins with x");
}

#[tokio::test]
async fn a_single_message_whose_type_contradicts_its_endpoint_is_rejected() {
    let (server, store) = start(|_| {}).await;
    let mut message = track("m");
    message["writeKey"] = json!(WRITE_KEY);
    let answer = post(
        server.addr(),
        "/v1/identify",
        &[],
        message.to_string().as_bytes(),
    )
    .await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.json()["rejected"][0]["reason"],
        "type track does not match the endpoint /v1/identify"
    );
    assert!(store.events().is_empty());
}

#[tokio::test]
async fn the_write_key_may_come_by_http_basic() {
    let (server, store) = start(|_| {}).await;
    let body = serde_json::to_vec(&json!({"batch": [track("a")]})).expect("JSON");
    // base64("other:") — Segment's libraries send `writeKey:`.
    let answer = post(
        server.addr(),
        "/v1/batch",
        &[("Authorization", "Basic b3RoZXI6")],
        &body,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(&*store.events()[0].write_key, "other");
}

#[tokio::test]
async fn an_unknown_write_key_is_answered_401_in_the_header_or_the_body() {
    let (server, store) = start(|_| {}).await;
    let body = batch(&[track("a")]);
    // base64("nope:")
    let by_header = post(
        server.addr(),
        "/v1/batch",
        &[("Authorization", "Basic bm9wZTo=")],
        &body,
    )
    .await;
    assert_eq!(by_header.status, 401);
    assert_eq!(by_header.json()["error"], "unknown write key");
    let in_body =
        serde_json::to_vec(&json!({"batch": [track("a")], "writeKey": "nope"})).expect("JSON");
    let by_body = post_batch(server.addr(), &in_body).await;
    assert_eq!(by_body.status, 401);
    assert!(store.events().is_empty());
}

#[tokio::test]
async fn a_body_without_a_write_key_is_answered_401() {
    let (server, _) = start(|_| {}).await;
    let body = serde_json::to_vec(&json!({"batch": [track("a")]})).expect("JSON");
    let answer = post_batch(server.addr(), &body).await;
    assert_eq!(answer.status, 401);
    assert!(answer.json()["error"]
        .as_str()
        .unwrap_or("")
        .contains("write key is required"));
}

#[tokio::test]
async fn a_gzip_body_is_inflated_and_stored() {
    let (server, store) = start(|_| {}).await;
    let body = gzip(&batch(&[track("a"), track("b")]));
    let answer = post(
        server.addr(),
        "/v1/batch",
        &[("Content-Encoding", "gzip")],
        &body,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(stored_ids(&store), ["a", "b"]);
}

#[tokio::test]
async fn a_body_that_claims_gzip_but_is_not_is_answered_400() {
    let (server, _) = start(|_| {}).await;
    let answer = post(
        server.addr(),
        "/v1/batch",
        &[("Content-Encoding", "gzip")],
        &batch(&[track("a")]),
    )
    .await;
    assert_eq!(answer.status, 400);
    assert!(answer.json()["error"]
        .as_str()
        .unwrap_or("")
        .starts_with("the body is not valid gzip"));
}

#[tokio::test]
async fn an_encoding_other_than_gzip_is_answered_415() {
    let (server, _) = start(|_| {}).await;
    let answer = post(
        server.addr(),
        "/v1/batch",
        &[("Content-Encoding", "br")],
        b"....",
    )
    .await;
    assert_eq!(answer.status, 415);
    assert_eq!(
        answer.json()["error"],
        "Content-Encoding br is not supported: send gzip or no encoding"
    );
}

#[tokio::test]
async fn a_preflight_from_a_configured_origin_allows_the_sdks_request_and_is_cached() {
    let (server, _) = start(|c| c.cors_max_age = Duration::from_secs(900)).await;
    let answer = analytics_collector::client::request(
        server.addr(),
        "OPTIONS",
        "/v1/batch",
        &[
            ("Origin", "https://app.example"),
            ("Access-Control-Request-Method", "POST"),
            (
                "Access-Control-Request-Headers",
                "content-type, content-encoding",
            ),
        ],
        b"",
    )
    .await
    .expect("answered");
    assert_eq!(answer.status, 204);
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(answer.header("access-control-max-age"), Some("900"));
    assert!(answer
        .header("access-control-allow-methods")
        .unwrap_or("")
        .contains("POST"));
    let allowed = answer
        .header("access-control-allow-headers")
        .unwrap_or("")
        .to_lowercase();
    assert!(allowed.contains("content-type") && allowed.contains("content-encoding"));
}

#[tokio::test]
async fn a_preflight_from_another_origin_is_refused() {
    let (server, _) = start(|_| {}).await;
    let answer = analytics_collector::client::request(
        server.addr(),
        "OPTIONS",
        "/v1/batch",
        &[
            ("Origin", "https://evil.example"),
            ("Access-Control-Request-Method", "POST"),
        ],
        b"",
    )
    .await
    .expect("answered");
    assert_eq!(answer.status, 403);
    assert_eq!(answer.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn answers_to_a_configured_origin_expose_retry_after() {
    let (server, _) = start(|_| {}).await;
    let answer = post(
        server.addr(),
        "/v1/batch",
        &[("Origin", "https://app.example")],
        &batch(&[track("a")]),
    )
    .await;
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        answer.header("access-control-expose-headers"),
        Some("Retry-After")
    );
}

#[tokio::test]
async fn invalid_messages_are_named_while_the_valid_ones_are_stored() {
    let (server, store) = start(|_| {}).await;
    let mut bad = track("bad");
    bad["timestamp"] = json!("yesterday");
    let answer = post_batch(server.addr(), &batch(&[track("a"), bad, track("b")])).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.json(),
        json!({"rejected": [{"messageId": "bad", "reason": "timestamp must be an ISO 8601 date, not \"yesterday\""}]})
    );
    assert_eq!(stored_ids(&store), ["a", "b"]);
    assert_eq!(
        metric(
            server.addr(),
            "collector_events_rejected_total{reason=\"timestamp\"}"
        )
        .await,
        1.0
    );
}

#[tokio::test]
async fn a_batch_with_only_invalid_messages_is_answered_400_naming_them() {
    let (server, store) = start(|_| {}).await;
    let mut a = track("a");
    a["type"] = json!("purchase");
    let mut b = track("b");
    b.as_object_mut().map(|m| m.remove("anonymousId"));
    let answer = post_batch(server.addr(), &batch(&[a, b])).await;
    assert_eq!(answer.status, 400);
    let rejected = answer.json()["rejected"].clone();
    let ids: Vec<&str> = rejected
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|e| e["messageId"].as_str())
        .collect();
    assert_eq!(ids, ["a", "b"]);
    assert!(store.events().is_empty());
}

#[tokio::test]
async fn an_unknown_type_is_rejected() {
    let mut message = track("m");
    message["type"] = json!("purchase");
    assert_eq!(
        rejection_of(message).await,
        "type must be track, identify, page, screen, group or alias, not \"purchase\""
    );
}

#[tokio::test]
async fn a_message_without_a_type_is_rejected() {
    let mut message = track("m");
    message.as_object_mut().map(|m| m.remove("type"));
    assert_eq!(
        rejection_of(message).await,
        "type is required: track, identify, page, screen, group or alias"
    );
}

#[tokio::test]
async fn a_message_without_a_message_id_is_rejected_by_its_index() {
    let (server, store) = start(|_| {}).await;
    let mut message = track("x");
    message.as_object_mut().map(|m| m.remove("messageId"));
    let answer = post_batch(server.addr(), &batch(&[track("a"), message])).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.json()["rejected"],
        json!([{"messageId": null, "index": 1, "reason": "messageId is required"}])
    );
    assert_eq!(stored_ids(&store), ["a"]);
}

#[tokio::test]
async fn a_message_id_that_is_not_a_string_of_1_to_256_characters_is_rejected() {
    let (server, store) = start(|_| {}).await;
    let mut number = track("x");
    number["messageId"] = json!(42);
    let mut long = track("x");
    long["messageId"] = json!("x".repeat(257));
    let mut empty = track("x");
    empty["messageId"] = json!("");
    let answer = post_batch(server.addr(), &batch(&[number, long, empty])).await;
    assert_eq!(answer.status, 400);
    let rejected = answer.json()["rejected"].clone();
    for (i, entry) in rejected.as_array().expect("a list").iter().enumerate() {
        assert_eq!(entry["index"], i);
        assert_eq!(
            entry["reason"],
            "messageId must be a string of 1 to 256 characters"
        );
    }
    assert!(store.events().is_empty());
}

#[tokio::test]
async fn a_message_id_with_a_nul_is_rejected_by_that_id_and_never_rewritten() {
    let (server, store) = start(|_| {}).await;
    let mut nul = track("x");
    nul["messageId"] = json!("a\u{0}b");
    // What a store replacing NUL would have turned it into: a distinct id.
    let look_alike = track("a\u{FFFD}b");
    let answer = post_batch(server.addr(), &batch(&[nul, look_alike])).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.json()["rejected"],
        json!([{"messageId": "a\u{0}b", "reason": "messageId must not contain the NUL character (U+0000)"}])
    );
    assert_eq!(stored_ids(&store), ["a\u{FFFD}b"]);
}

#[tokio::test]
async fn a_message_without_user_id_or_anonymous_id_is_rejected() {
    let mut message = track("m");
    message.as_object_mut().map(|m| m.remove("anonymousId"));
    assert_eq!(
        rejection_of(message).await,
        "userId or anonymousId is required"
    );
}

#[tokio::test]
async fn a_user_id_of_the_wrong_type_is_rejected_and_a_number_accepted() {
    let mut message = track("m");
    message["userId"] = json!({"id": 1});
    assert_eq!(
        rejection_of(message).await,
        "userId must be a string or a number"
    );
    let (server, store) = start(|_| {}).await;
    let mut numeric = track("n");
    numeric["userId"] = json!(1234);
    assert_eq!(
        post_batch(server.addr(), &batch(&[numeric])).await.status,
        200
    );
    assert_eq!(store.events()[0].message.user_id.as_deref(), Some("1234"));
}

#[tokio::test]
async fn a_track_without_an_event_name_is_rejected() {
    let mut message = track("m");
    message["event"] = json!("");
    assert_eq!(
        rejection_of(message).await,
        "a track requires event, the event's name"
    );
}

#[tokio::test]
async fn a_group_without_group_id_is_rejected() {
    let message = json!({"type": "group", "messageId": "m", "userId": "u"});
    assert_eq!(rejection_of(message).await, "a group requires groupId");
}

#[tokio::test]
async fn an_alias_without_previous_id_is_rejected() {
    let message = json!({"type": "alias", "messageId": "m", "userId": "u"});
    assert_eq!(rejection_of(message).await, "an alias requires previousId");
}

#[tokio::test]
async fn a_timestamp_that_is_not_iso_8601_is_rejected() {
    let mut message = track("m");
    message["timestamp"] = json!(1796551200000i64);
    assert_eq!(
        rejection_of(message).await,
        "timestamp must be an ISO 8601 date, not 1796551200000"
    );
}

#[tokio::test]
async fn timestamps_are_stored_in_utc() {
    let (server, store) = start(|_| {}).await;
    let mut message = track("m");
    message["timestamp"] = json!("2026-12-06T11:30:00+01:00");
    assert_eq!(
        post_batch(server.addr(), &batch(&[message])).await.status,
        200
    );
    assert_eq!(
        store.events()[0].message.timestamp.as_deref(),
        Some("2026-12-06T10:30:00.000Z")
    );
}

#[tokio::test]
async fn properties_that_are_not_an_object_are_rejected() {
    let mut message = track("m");
    message["properties"] = json!([1, 2]);
    assert_eq!(rejection_of(message).await, "properties must be an object");
}

#[tokio::test]
async fn a_message_that_is_not_an_object_is_rejected_by_its_index() {
    let (server, _) = start(|_| {}).await;
    let answer = post_batch(server.addr(), &batch(&[json!("track"), json!(null)])).await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.json()["rejected"],
        json!([
            {"messageId": null, "index": 0, "reason": "a message must be a JSON object"},
            {"messageId": null, "index": 1, "reason": "a message must be a JSON object"}
        ])
    );
}

#[tokio::test]
async fn a_message_over_32_kb_is_rejected() {
    let mut message = track("m");
    message["properties"] = json!({"blob": "x".repeat(33_000)});
    let size = message.to_string().len();
    assert_eq!(
        rejection_of(message).await,
        format!(
            "the message is {} bytes; the limit is 32,768 bytes",
            analytics_collector::wire::group(size)
        )
    );
}

#[tokio::test]
async fn a_message_nested_deeper_than_64_levels_is_rejected() {
    let mut message = track("m");
    let mut deep = json!(1);
    for _ in 0..70 {
        deep = json!([deep]);
    }
    message["properties"] = json!({"deep": deep});
    assert_eq!(
        rejection_of(message).await,
        "the message nests more than 64 levels deep"
    );
}

#[tokio::test]
async fn a_message_with_a_field_twice_is_rejected() {
    let (server, store) = start(|_| {}).await;
    let body = br#"{"writeKey":"wk","batch":[{"type":"track","type":"page","messageId":"m","anonymousId":"a","event":"E"}]}"#;
    let answer = post_batch(server.addr(), body).await;
    assert_eq!(answer.status, 400);
    let reason = answer.json()["rejected"][0]["reason"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(reason.starts_with("duplicate field `type`"), "{reason}");
    assert!(store.events().is_empty());
}

#[tokio::test]
async fn a_body_over_500_kb_is_answered_413_and_drained_not_reset() {
    let (server, store) = start(|_| {}).await;
    // 10 MB, sent whole before the answer is read: had the collector not
    // read it, the write would fail or the answer be lost to a reset.
    let body = vec![b' '; 10 << 20];
    let mut connection = Connection::open(server.addr()).await.expect("connects");
    let answer = connection
        .send("POST", "/v1/batch", &[], &body)
        .await
        .expect("an answer, not a reset");
    assert_eq!(answer.status, 413);
    assert_eq!(
        answer.json()["error"],
        "the body is 10,485,760 bytes; the limit is 512,000 bytes"
    );
    // And the connection still serves the next request.
    let next = connection
        .send("POST", "/v1/batch", &[], &batch(&[track("a")]))
        .await
        .expect("answered");
    assert_eq!(next.status, 200);
    assert_eq!(stored_ids(&store), ["a"]);
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_answered_413() {
    let (server, _) = start(|_| {}).await;
    let mut connection = Connection::open(server.addr()).await.expect("connects");
    let chunk = vec![b' '; 64 * 1024];
    let mut request =
        b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..16 {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(&chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    connection.write_raw(&request).await.expect("sent");
    let answer = connection.read_response().await.expect("answered");
    assert_eq!(answer.status, 413);
    assert_eq!(
        answer.json()["error"],
        "the body is over the limit of 512,000 bytes"
    );
}

#[tokio::test]
async fn a_gzip_bomb_is_answered_413_having_inflated_only_the_limit() {
    let (server, _) = start(|_| {}).await;
    // 64 MiB of spaces in about 64 KB of gzip: well within the wire limit.
    let bomb = gzip(&vec![b' '; 64 << 20]);
    assert!(bomb.len() < 512_000);
    let answer = post(
        server.addr(),
        "/v1/batch",
        &[("Content-Encoding", "gzip")],
        &bomb,
    )
    .await;
    assert_eq!(answer.status, 413);
    assert_eq!(
        answer.json()["error"],
        "the body inflates to more than the limit of 512,000 bytes"
    );
    assert_eq!(
        metric(server.addr(), "collector_bytes_in_flight").await,
        0.0
    );
}

#[tokio::test]
async fn a_batch_of_2501_messages_is_answered_400_without_a_list_so_the_sdk_splits_it() {
    let (server, store) = start(|c| c.max_body_bytes = 4 << 20).await;
    let messages: Vec<Value> = (0..2501)
        .map(|i| json!({"type": "track", "event": "E", "messageId": i.to_string(), "anonymousId": "a"}))
        .collect();
    let answer = post_batch(server.addr(), &batch(&messages)).await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.json(),
        json!({"error": "a batch holds at most 2,500 messages; this one has 2,501"})
    );
    assert!(store.events().is_empty());
    let answer = post_batch(server.addr(), &batch(&messages[..2500])).await;
    assert_eq!(answer.status, 200, "2,500 is within the limit");
    assert_eq!(store.events().len(), 2500);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_answered_400() {
    let (server, _) = start(|_| {}).await;
    for body in [&b"{\"batch\": [ oops"[..], b"{}}", b""] {
        let answer = post_batch(server.addr(), body).await;
        assert_eq!(answer.status, 400, "{:?}", String::from_utf8_lossy(body));
        let error = answer.json()["error"].as_str().unwrap_or("").to_owned();
        assert!(error.starts_with("the body is not JSON: "), "{error}");
    }
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_answered_400_with_the_offset() {
    let (server, _) = start(|_| {}).await;
    let mut body = b"{\"batch\":[],\"writeKey\":\"w".to_vec();
    body.extend_from_slice(&[0xff, 0xfe]);
    body.extend_from_slice(b"\"}");
    let answer = post_batch(server.addr(), &body).await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.json()["error"],
        "the body is not UTF-8 (invalid byte at offset 25)"
    );
}

#[tokio::test]
async fn a_body_of_the_wrong_shape_is_answered_400_saying_which() {
    let (server, _) = start(|_| {}).await;
    let cases: [(&[u8], &str); 5] = [
        (b"[1,2]", "the body must be a JSON object"),
        (
            b"{\"writeKey\":\"wk\"}",
            "the body must have a \"batch\" array",
        ),
        (
            b"{\"batch\":{\"a\":1},\"writeKey\":\"wk\"}",
            "\"batch\" must be an array of messages",
        ),
        (
            b"{\"batch\":[],\"writeKey\":7}",
            "\"writeKey\" must be a string",
        ),
        (
            b"{\"batch\":[],\"receipts\":[1],\"writeKey\":\"wk\"}",
            "\"receipts\" must be an array of messageId strings",
        ),
    ];
    for (body, error) in cases {
        let answer = post_batch(server.addr(), body).await;
        assert_eq!(answer.status, 400, "{}", String::from_utf8_lossy(body));
        assert_eq!(answer.json()["error"], error);
    }
}

#[tokio::test]
async fn a_deeply_nested_body_is_answered_not_crashed_on() {
    let (server, store) = start(|_| {}).await;
    let deep_array = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
    let answer = post_batch(server.addr(), deep_array.as_bytes()).await;
    assert_eq!(answer.status, 400);
    // Deep nesting inside a message: refused by name; the rest stored.
    let body = format!(
        "{{\"writeKey\":\"wk\",\"batch\":[{},{{\"type\":\"track\",\"event\":\"E\",\"messageId\":\"deep\",\"anonymousId\":\"a\",\"properties\":{{\"p\":{}{}}}}}]}}",
        track("ok"),
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let answer = post_batch(server.addr(), body.as_bytes()).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["rejected"][0]["messageId"], "deep");
    assert_eq!(stored_ids(&store), ["ok"]);
    assert_eq!(get(server.addr(), "/healthz").await.status, 200);
}

#[tokio::test]
async fn a_copy_of_a_stored_message_is_dropped_and_counted() {
    let (server, store) = start(|_| {}).await;
    assert_eq!(
        post_batch(server.addr(), &batch(&[track("a"), track("a")]))
            .await
            .status,
        200
    );
    assert_eq!(
        post_batch(server.addr(), &batch(&[track("a"), track("b")]))
            .await
            .status,
        200
    );
    assert_eq!(stored_ids(&store), ["a", "b"]);
    assert_eq!(store.duplicates(), 2);
    assert_eq!(
        metric(server.addr(), "collector_events_duplicate_total").await,
        2.0
    );
    assert_eq!(
        metric(server.addr(), "collector_events_stored_total").await,
        2.0
    );
}

#[tokio::test]
async fn dedupe_is_per_write_key() {
    let (server, store) = start(|_| {}).await;
    assert_eq!(
        post_batch(server.addr(), &batch(&[track("a")]))
            .await
            .status,
        200
    );
    let other =
        serde_json::to_vec(&json!({"batch": [track("a")], "writeKey": "other"})).expect("JSON");
    assert_eq!(post_batch(server.addr(), &other).await.status, 200);
    assert_eq!(store.events().len(), 2);
}

#[tokio::test]
async fn a_receipt_request_names_the_ids_held_for_its_write_key() {
    let (server, _) = start(|_| {}).await;
    assert_eq!(
        post_batch(server.addr(), &batch(&[track("a"), track("b")]))
            .await
            .status,
        200
    );
    let other =
        serde_json::to_vec(&json!({"batch": [track("c")], "writeKey": "other"})).expect("JSON");
    assert_eq!(post_batch(server.addr(), &other).await.status, 200);
    let ask = serde_json::to_vec(&json!({
        "batch": [], "receipts": ["a", "c", "z", "b"], "writeKey": WRITE_KEY, "sentAt": "2026-12-06T10:00:01.000Z"
    }))
    .expect("JSON");
    let answer = post_batch(server.addr(), &ask).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json(), json!({"receipts": ["a", "b"]}));
}

#[tokio::test]
async fn a_receipt_request_with_a_batch_stores_the_batch_first() {
    let (server, _) = start(|_| {}).await;
    let body = serde_json::to_vec(
        &json!({"batch": [track("a")], "receipts": ["a"], "writeKey": WRITE_KEY}),
    )
    .expect("JSON");
    let answer = post_batch(server.addr(), &body).await;
    assert_eq!(answer.json(), json!({"receipts": ["a"]}));
}

#[tokio::test]
async fn more_than_500_receipts_are_answered_400() {
    let (server, _) = start(|_| {}).await;
    let ids: Vec<String> = (0..501).map(|i| i.to_string()).collect();
    let body = serde_json::to_vec(&json!({"batch": [], "receipts": ids, "writeKey": WRITE_KEY}))
        .expect("JSON");
    let answer = post_batch(server.addr(), &body).await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.json()["error"],
        "a receipt request asks about at most 500 ids; this one asks about 501"
    );
}

#[tokio::test]
async fn a_write_key_over_its_rate_limit_is_answered_429_with_retry_after() {
    let (server, store) = start(|c| {
        c.rate_limit = Some(10.0);
        c.rate_limit_burst = 20.0;
    })
    .await;
    let twenty: Vec<Value> = (0..20).map(|i| track(&format!("a{i}"))).collect();
    assert_eq!(post_batch(server.addr(), &batch(&twenty)).await.status, 200);
    let answer = post_batch(server.addr(), &batch(&[track("late")])).await;
    assert_eq!(answer.status, 429);
    let after: u64 = answer
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=2).contains(&after), "Retry-After {after}");
    assert_eq!(store.events().len(), 20);
    // Another write key has its own bucket.
    let other =
        serde_json::to_vec(&json!({"batch": [track("x")], "writeKey": "other"})).expect("JSON");
    assert_eq!(post_batch(server.addr(), &other).await.status, 200);
}

#[tokio::test]
async fn over_the_bytes_in_flight_budget_requests_are_answered_503_with_retry_after() {
    let (store, control) = FaultStore::new(MemoryStore::new());
    control.set(Fault::Stall);
    let server = start_on(
        |c| {
            c.max_body_bytes = 64 * 1024;
            c.max_bytes_in_flight = 256 * 1024;
        },
        store,
    )
    .await;
    let addr = server.addr();
    // Stalled commits hold their bytes; keep sending until the budget is spent.
    let mut waiting = Vec::new();
    let refused = loop {
        // Requests waiting on the stalled store: the one in the commit, the queued.
        let holding = || {
            control.stalled() as i64
                + server
                    .metrics()
                    .queued
                    .load(std::sync::atomic::Ordering::Relaxed)
        };
        let before = holding();
        let n = waiting.len();
        let body = batch(
            &(0..20)
                .map(|i| track(&format!("{n}-{i}")))
                .collect::<Vec<_>>(),
        );
        let answer = tokio::spawn(async move { post_batch(addr, &body).await });
        // Either it is refused, or it waits on the store, holding its bytes.
        eventually("the request is refused or waits on the store", || async {
            answer.is_finished() || holding() > before
        })
        .await;
        if answer.is_finished() {
            break answer.await.expect("the task ends");
        }
        waiting.push(answer);
        assert!(waiting.len() < 200, "the budget never ran out");
    };
    assert_eq!(refused.status, 503);
    assert_eq!(
        refused.json()["error"],
        "the collector is over its bytes-in-flight budget"
    );
    assert!(refused
        .header("retry-after")
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|s| s >= 1));
    assert!(metric(addr, "collector_bytes_in_flight").await <= (256 * 1024) as f64);
    assert_eq!(get(addr, "/readyz").await.status, 503);
    control.set(Fault::None);
    for answer in waiting {
        assert_eq!(answer.await.expect("the task ends").status, 200);
    }
}

#[tokio::test]
async fn a_client_slow_to_send_its_headers_is_disconnected() {
    let (server, _) = start(|c| c.header_read_timeout = Duration::from_millis(300)).await;
    let mut connection = Connection::open(server.addr()).await.expect("connects");
    connection
        .write_raw(b"POST /v1/batch HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("sent");
    let started = std::time::Instant::now();
    let closed = tokio::time::timeout(PATIENCE, connection.read_response())
        .await
        .expect("closed in time");
    assert!(
        closed.is_err() || closed.is_ok_and(|a| a.status == 408),
        "closed without an answer, or 408"
    );
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_read_timeout() {
    let (server, _) = start(|c| c.header_read_timeout = Duration::from_millis(300)).await;
    let mut connection = Connection::open(server.addr()).await.expect("connects");
    let answer = connection
        .send("GET", "/healthz", &[], b"")
        .await
        .expect("served");
    assert_eq!(answer.status, 200);
    eventually("the idle connection is closed", || async {
        server
            .metrics()
            .connections
            .load(std::sync::atomic::Ordering::Relaxed)
            == 0
    })
    .await;
    assert!(
        connection.read_response().await.is_err(),
        "closed, with nothing more sent"
    );
}

#[tokio::test]
async fn a_client_slow_to_send_its_body_is_answered_408() {
    let (server, store) = start(|c| c.body_read_timeout = Duration::from_millis(300)).await;
    let mut connection = Connection::open(server.addr()).await.expect("connects");
    connection
        .write_raw(
            b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"batch\":[",
        )
        .await
        .expect("sent");
    let answer = tokio::time::timeout(PATIENCE, connection.read_response())
        .await
        .expect("answered in time")
        .expect("answered");
    assert_eq!(answer.status, 408);
    assert_eq!(answer.header("connection"), Some("close"));
    assert!(store.events().is_empty());
}

#[tokio::test]
async fn connections_over_the_limit_wait_until_one_closes() {
    let (server, _) = start(|c| c.max_connections = 2).await;
    let addr = server.addr();
    let mut first = Connection::open(addr).await.expect("connects");
    let mut second = Connection::open(addr).await.expect("connects");
    assert_eq!(
        first
            .send("GET", "/healthz", &[], b"")
            .await
            .expect("served")
            .status,
        200
    );
    assert_eq!(
        second
            .send("GET", "/healthz", &[], b"")
            .await
            .expect("served")
            .status,
        200
    );
    eventually("two connections counted", || async {
        server
            .metrics()
            .connections
            .load(std::sync::atomic::Ordering::Relaxed)
            == 2
    })
    .await;
    let third = tokio::spawn(async move {
        let mut third = Connection::open(addr).await.expect("the kernel accepts it");
        third
            .send("GET", "/healthz", &[], b"")
            .await
            .expect("served")
            .status
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !third.is_finished(),
        "the third connection is held while two are open"
    );
    drop(first);
    let status = tokio::time::timeout(PATIENCE, third)
        .await
        .expect("served in time")
        .expect("ok");
    assert_eq!(status, 200);
}

#[tokio::test]
async fn health_readiness_and_metrics_are_served() {
    let (server, _) = start(|_| {}).await;
    assert_eq!(
        get(server.addr(), "/healthz").await.json(),
        json!({"status": "ok"})
    );
    assert_eq!(
        get(server.addr(), "/readyz").await.json(),
        json!({"status": "ready"})
    );
    post_batch(server.addr(), &batch(&[track("a")])).await;
    let metrics = get(server.addr(), "/metrics").await;
    assert!(metrics
        .header("content-type")
        .unwrap_or("")
        .starts_with("text/plain"));
    let text = metrics.text();
    for name in [
        "collector_events_received_total 1",
        "collector_events_stored_total 1",
        "collector_commit_seconds_count 1",
        "collector_responses_total{status=\"200\"} 3", // healthz, readyz, the batch
        "collector_bytes_in_flight 0",
    ] {
        assert!(text.contains(name), "{name} in\n{text}");
    }
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405() {
    let (server, _) = start(|_| {}).await;
    assert_eq!(get(server.addr(), "/v2/batch").await.status, 404);
    let answer = get(server.addr(), "/v1/batch").await;
    assert_eq!(answer.status, 405);
    assert_eq!(answer.header("allow"), Some("POST, OPTIONS"));
}
