//! Browser tests of the transport against the dev collector, whose URL the
//! test script passes at compile time (`ANALYTICS_TEST_COLLECTOR`): each
//! response the collector can give is reported as it is, and the core
//! classifies it as the README's outcome table says.
#![cfg(target_arch = "wasm32")]

use analytics_wasm::core::outcome::{classify, Verdict};
use analytics_wasm::web::transport::{beacon, fetch, Delivery};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const COLLECTOR: &str = match option_env!("ANALYTICS_TEST_COLLECTOR") {
    Some(url) => url,
    None => "http://127.0.0.1:8787",
};

const BODY: &str = r#"{"batch":[{"type":"track","event":"ok","messageId":"11111111-1111-4111-8111-111111111111","anonymousId":"a","timestamp":"2026-01-01T00:00:00.000Z"},{"type":"track","event":"refused","messageId":"22222222-2222-4222-8222-222222222222","anonymousId":"a","timestamp":"2026-01-01T00:00:00.000Z"}],"sentAt":"2026-01-01T00:00:00.000Z"}"#;

/// The batch endpoint with a fault for this request alone (see
/// www/collector.mjs), so tests running side by side cannot disturb each other.
fn endpoint(fault: &str) -> String {
    let fault = String::from(js_sys::encode_uri_component(fault));
    [COLLECTOR, "/v1/batch?fault=", &fault].concat()
}

async fn send(fault: &str, timeout_ms: u64) -> Delivery {
    fetch(&endpoint(fault), BODY.to_string(), timeout_ms, false, false).await
}

#[wasm_bindgen_test]
async fn a_2xx_is_delivered() {
    let delivery = send("{}", 5_000).await;
    assert!(
        matches!(delivery, Delivery::Response { status: 200, .. }),
        "{delivery:?}"
    );
    assert_eq!(
        classify(&delivery.as_outcome(), 0),
        Verdict::Delivered { rejected: vec![] }
    );
}

#[wasm_bindgen_test]
async fn a_per_event_rejection_body_reaches_the_core() {
    let delivery = send(r#"{"rejectEvents":["refused"]}"#, 5_000).await;
    let Verdict::Delivered { rejected } = classify(&delivery.as_outcome(), 0) else {
        panic!("{delivery:?}")
    };
    assert_eq!(rejected.len(), 1);
    assert_eq!(
        rejected[0].id.to_string(),
        "22222222-2222-4222-8222-222222222222"
    );
}

#[wasm_bindgen_test]
async fn retry_after_is_readable_cross_origin() {
    let delivery = send(r#"{"status":429,"retryAfter":3}"#, 5_000).await;
    assert_eq!(
        classify(&delivery.as_outcome(), 0),
        Verdict::RateLimited {
            delay_ms: Some(3_000)
        }
    );
}

#[wasm_bindgen_test]
async fn server_errors_are_retryable() {
    let delivery = send(r#"{"status":503}"#, 5_000).await;
    assert_eq!(
        classify(&delivery.as_outcome(), 0),
        Verdict::Retryable { status: Some(503) }
    );
}

#[wasm_bindgen_test]
async fn auth_failures_are_reported_as_such() {
    let delivery = send(r#"{"status":401}"#, 5_000).await;
    assert_eq!(
        classify(&delivery.as_outcome(), 0),
        Verdict::Unauthorized { status: 401 }
    );
}

#[wasm_bindgen_test]
async fn an_oversized_body_gets_413() {
    let delivery = send(r#"{"maxBodyBytes":100}"#, 5_000).await;
    assert_eq!(classify(&delivery.as_outcome(), 0), Verdict::TooLarge);
}

#[wasm_bindgen_test]
async fn a_dropped_connection_is_a_network_error() {
    let delivery = send(r#"{"drop":true}"#, 5_000).await;
    assert_eq!(delivery, Delivery::NetworkError);
}

#[wasm_bindgen_test]
async fn a_slow_collector_times_out() {
    let delivery = send(r#"{"delayMs":2000}"#, 300).await;
    assert_eq!(delivery, Delivery::Timeout);
}

#[wasm_bindgen_test]
async fn a_malformed_body_is_refused_with_a_400_naming_no_event() {
    let delivery = fetch(&endpoint("{}"), "not json".to_string(), 5_000, false, false).await;
    assert_eq!(
        classify(&delivery.as_outcome(), 0),
        Verdict::Refused { status: 400 }
    );
}

#[wasm_bindgen_test]
async fn a_beacon_is_queued() {
    assert_eq!(beacon(&endpoint("{}"), BODY), Some(true));
}

#[wasm_bindgen_test]
async fn a_gzipped_body_is_accepted_by_the_collector() {
    let big = BODY.replace("\"ok\"", &format!("\"{}\"", "k".repeat(2_000)));
    let compressed = analytics_wasm::web::transport::gzip(&big.as_bytes().into())
        .await
        .expect("CompressionStream");
    assert!(
        (compressed.length() as usize) < big.len() / 4,
        "2 KB of repetition compresses well"
    );
    let delivery = fetch(&endpoint("{}"), big, 5_000, false, true).await;
    assert_eq!(
        classify(&delivery.as_outcome(), 0),
        Verdict::Delivered { rejected: vec![] }
    );
}
