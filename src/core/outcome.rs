//! What happened to a send, as the browser layer reports it, and the core's
//! classification of it. The browser layer passes status, `Retry-After` and
//! body through untouched; every decision about them is made here.
//!
//! Per-event rejection contract: a collector may answer 2xx or 400 with
//! `{"rejected":[{"messageId":"<uuid>","reason":"<text>"}, …]}`. The named
//! events are dropped and counted as `dropped_rejected`. After a 2xx the rest
//! of the batch is delivered; after a 400 the rest is re-sent at once, without
//! backoff. A 400 (or 422) whose list is missing or names no event of the
//! batch refuses something in it: the queue splits the batch to find what.

use super::event::MessageId;
use super::json::{parse, Value};
use super::time::{parse_http_date, Millis};

/// The result of one send, reported by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome<'a> {
    /// An HTTP response arrived (from `fetch`, or a keepalive `fetch`).
    Response {
        status: u16,
        retry_after: Option<&'a str>,
        body: &'a str,
    },
    /// The request failed before any response (DNS, connection, CORS).
    NetworkError,
    /// No response within `requestTimeoutMs`.
    Timeout,
    /// `sendBeacon` accepted the body; the browser delivers it unobserved.
    BeaconQueued,
    /// `sendBeacon` returned false (keepalive quota full or unsupported).
    BeaconRefused,
}

/// One event a collector refused, with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub id: MessageId,
    pub reason: String,
}

/// The core's reading of a `SendOutcome`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Accepted; `rejected` lists events the collector refused individually.
    Delivered { rejected: Vec<Rejection> },
    /// 400 or 422 naming the offending events: drop them, re-send the rest now.
    PartlyRejected { rejected: Vec<Rejection> },
    /// 413: the body is too large for the collector.
    TooLarge,
    /// 429, with the delay `Retry-After` asked for, when it parsed.
    RateLimited { delay_ms: Option<Millis> },
    /// 408, 5xx, other statuses, network error, timeout: back off and retry.
    Retryable { status: Option<u16> },
    /// 401 or 403: stop sending until `flush()` or a new config.
    Unauthorized { status: u16 },
    /// 400 or 422 with no list naming events: something in the batch is
    /// refused, not the batch as such. Split it to find what.
    Refused { status: u16 },
    /// Any other 4xx: the collector refuses the batch for good.
    Rejected { status: u16 },
    /// The beacon was not queued; the events stay.
    BeaconRefused,
}

/// Classifies an outcome. `now` resolves an HTTP-date `Retry-After`.
pub fn classify(outcome: &SendOutcome<'_>, now: Millis) -> Verdict {
    let (status, retry_after, body) = match *outcome {
        SendOutcome::Response {
            status,
            retry_after,
            body,
        } => (status, retry_after, body),
        SendOutcome::NetworkError | SendOutcome::Timeout => {
            return Verdict::Retryable { status: None }
        }
        SendOutcome::BeaconQueued => {
            return Verdict::Delivered {
                rejected: Vec::new(),
            }
        }
        SendOutcome::BeaconRefused => return Verdict::BeaconRefused,
    };
    match status {
        // An opaque or aborted response carries status 0.
        0 => Verdict::Retryable { status: None },
        200..=299 => Verdict::Delivered {
            rejected: rejections(body),
        },
        400 | 422 => {
            let rejected = rejections(body);
            if rejected.is_empty() {
                Verdict::Refused { status }
            } else {
                Verdict::PartlyRejected { rejected }
            }
        }
        401 | 403 => Verdict::Unauthorized { status },
        408 => Verdict::Retryable {
            status: Some(status),
        },
        413 => Verdict::TooLarge,
        429 => Verdict::RateLimited {
            delay_ms: retry_after.and_then(|value| parse_retry_after(value, now)),
        },
        402..=499 => Verdict::Rejected { status },
        _ => Verdict::Retryable {
            status: Some(status),
        },
    }
}

/// `Retry-After` as a delay from `now`: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: Millis) -> Option<Millis> {
    let value = value.trim();
    if !value.is_empty() && value.len() <= 12 && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(|s| s.saturating_mul(1000));
    }
    parse_http_date(value).map(|at| at.saturating_sub(now))
}

/// Most rejections read from one body; a batch holds at most 10,000 events.
const MAX_REJECTIONS: usize = 10_000;

/// Reads the per-event rejection list; empty when absent or malformed.
pub fn rejections(body: &str) -> Vec<Rejection> {
    // Skip the parse entirely for ordinary success bodies.
    if !body.contains("\"rejected\"") {
        return Vec::new();
    }
    let Some(Value::Array(items)) = parse(body)
        .as_ref()
        .and_then(|v| v.get("rejected"))
        .cloned()
    else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let id = MessageId::parse(item.get("messageId")?.as_str()?)?;
            let reason = item
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("rejected by collector");
            Some(Rejection {
                id,
                reason: reason.chars().take(200).collect(),
            })
        })
        .take(MAX_REJECTIONS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "abababab-abab-4bab-abab-abababababab";

    fn response(status: u16) -> SendOutcome<'static> {
        SendOutcome::Response {
            status,
            retry_after: None,
            body: "",
        }
    }

    #[test]
    fn two_hundreds_are_delivered() {
        for status in [200, 202, 204] {
            assert_eq!(
                classify(&response(status), 0),
                Verdict::Delivered { rejected: vec![] }
            );
        }
    }

    #[test]
    fn server_errors_timeouts_and_network_errors_are_retryable() {
        for status in [408, 500, 502, 503, 504] {
            assert_eq!(
                classify(&response(status), 0),
                Verdict::Retryable {
                    status: Some(status)
                }
            );
        }
        assert_eq!(
            classify(&SendOutcome::NetworkError, 0),
            Verdict::Retryable { status: None }
        );
        assert_eq!(
            classify(&SendOutcome::Timeout, 0),
            Verdict::Retryable { status: None }
        );
        assert_eq!(
            classify(&response(0), 0),
            Verdict::Retryable { status: None }
        );
    }

    #[test]
    fn auth_failures_pause_sending() {
        assert_eq!(
            classify(&response(401), 0),
            Verdict::Unauthorized { status: 401 }
        );
        assert_eq!(
            classify(&response(403), 0),
            Verdict::Unauthorized { status: 403 }
        );
    }

    #[test]
    fn other_client_errors_reject_the_batch() {
        for status in [404, 410, 418] {
            assert_eq!(classify(&response(status), 0), Verdict::Rejected { status });
        }
    }

    #[test]
    fn a_400_or_422_naming_no_event_refuses_something_in_the_batch() {
        for status in [400, 422] {
            assert_eq!(classify(&response(status), 0), Verdict::Refused { status });
        }
    }

    #[test]
    fn payload_too_large_is_its_own_verdict() {
        assert_eq!(classify(&response(413), 0), Verdict::TooLarge);
    }

    #[test]
    fn retry_after_in_seconds() {
        let outcome = SendOutcome::Response {
            status: 429,
            retry_after: Some("3"),
            body: "",
        };
        assert_eq!(
            classify(&outcome, 0),
            Verdict::RateLimited {
                delay_ms: Some(3_000)
            }
        );
    }

    #[test]
    fn retry_after_as_an_http_date_is_relative_to_now() {
        let now = 784_111_770_000; // 7 s before the date below
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(7_000)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now + 60_000),
            Some(0)
        );
    }

    #[test]
    fn unreadable_retry_after_leaves_the_delay_to_backoff() {
        for value in ["soon", "-1", "1.5", ""] {
            assert_eq!(parse_retry_after(value, 0), None, "{value:?}");
        }
    }

    #[test]
    fn success_with_a_rejection_list_names_the_rejected_events() {
        let body = format!(r#"{{"rejected":[{{"messageId":"{ID}","reason":"bad \"type\""}}]}}"#);
        let outcome = SendOutcome::Response {
            status: 200,
            retry_after: None,
            body: &body,
        };
        let Verdict::Delivered { rejected } = classify(&outcome, 0) else {
            panic!("not delivered")
        };
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].id, MessageId::parse(ID).unwrap());
        assert_eq!(rejected[0].reason, "bad \"type\"");
    }

    #[test]
    fn bad_request_with_a_rejection_list_is_partial() {
        let body = format!(r#"{{"rejected":[{{"messageId":"{ID}"}}]}}"#);
        let outcome = SendOutcome::Response {
            status: 400,
            retry_after: None,
            body: &body,
        };
        assert!(
            matches!(classify(&outcome, 0), Verdict::PartlyRejected { rejected } if rejected[0].reason == "rejected by collector")
        );
    }

    #[test]
    fn malformed_rejection_lists_are_ignored() {
        for body in [
            r#"{"rejected":"all"}"#,
            r#"{"rejected":[{"messageId":"not-a-uuid"}]}"#,
            r#"{"rejected":[{"messageId":7}]}"#,
            r#"{"rejected":["#,
            "<html>rejected</html>",
        ] {
            assert!(rejections(body).is_empty(), "{body}");
        }
    }
}
