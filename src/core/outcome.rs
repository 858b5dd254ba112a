//! What happened to a send, as the browser layer reports it, and the core's
//! classification of it. The shell passes the status through, reads
//! `Retry-After` (seconds or an HTTP date) and the collector's per-event
//! rejection list (the events of the batch it names); every decision about
//! them is made here.
//!
//! Per-event rejection contract: a collector may answer 2xx or 400 with
//! `{"rejected":[{"messageId":"<uuid>","reason":"<text>"}, …]}`. The named
//! events are dropped and counted as `dropped_rejected`. After a 2xx the rest
//! of the batch is delivered; after a 400 the rest is re-sent at once, without
//! backoff. A 400 (or 422) whose list is missing or names no event of the
//! batch refuses something in it: the queue splits the batch to find what.
//! `Retry-After` is honoured on 429 and on every retryable answer (503).
//! The whole contract: `docs/wire-contract.md`.

use super::event::Handle;
use super::time::Millis;

/// `Retry-After` as the collector sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// Delay-seconds.
    Seconds(u64),
    /// An HTTP date, as wall-clock milliseconds.
    At(Millis),
}

/// The result of one send, reported by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome<'a> {
    /// An HTTP response arrived (from `fetch`, or a keepalive `fetch`).
    Response {
        status: u16,
        retry_after: Option<RetryAfter>,
        /// The batch's events its body named as rejected.
        rejected: &'a [Handle],
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

/// The core's reading of a `SendOutcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// Accepted; `rejected` lists events the collector refused individually.
    Delivered { rejected: &'a [Handle] },
    /// 400 or 422 naming the offending events: drop them, re-send the rest now.
    PartlyRejected { rejected: &'a [Handle] },
    /// 413: the body is too large for the collector.
    TooLarge,
    /// `sendBeacon` took the body: whether it arrives is never told.
    Unobserved,
    /// 429, with the delay `Retry-After` asked for, when it had one.
    RateLimited { delay_ms: Option<Millis> },
    /// 408, 5xx, other statuses, network error, timeout: back off and retry
    /// (after the delay `Retry-After` asked for, when the answer had one).
    Retryable {
        status: Option<u16>,
        delay_ms: Option<Millis>,
    },
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

/// Classifies an outcome. `wall` (the wall clock now) resolves an HTTP-date
/// `Retry-After`.
pub fn classify<'a>(outcome: &SendOutcome<'a>, wall: Millis) -> Verdict<'a> {
    let (status, retry_after, rejected) = match *outcome {
        SendOutcome::Response {
            status,
            retry_after,
            rejected,
        } => (status, retry_after, rejected),
        SendOutcome::NetworkError | SendOutcome::Timeout => {
            return Verdict::Retryable {
                status: None,
                delay_ms: None,
            }
        }
        SendOutcome::BeaconQueued => return Verdict::Unobserved,
        SendOutcome::BeaconRefused => return Verdict::BeaconRefused,
    };
    let delay_ms = retry_after.map(|after| match after {
        // Capped rather than saturating_mul, which wasm32 does with a 128-bit multiply.
        RetryAfter::Seconds(seconds) => seconds.min(u64::MAX / 1000) * 1000,
        RetryAfter::At(at) => at.saturating_sub(wall),
    });
    match status {
        // An opaque or aborted response carries status 0.
        0 => Verdict::Retryable {
            status: None,
            delay_ms: None,
        },
        200..=299 => Verdict::Delivered { rejected },
        400 | 422 if rejected.is_empty() => Verdict::Refused { status },
        400 | 422 => Verdict::PartlyRejected { rejected },
        401 | 403 => Verdict::Unauthorized { status },
        408 => Verdict::Retryable {
            status: Some(status),
            delay_ms,
        },
        413 => Verdict::TooLarge,
        429 => Verdict::RateLimited { delay_ms },
        402..=499 => Verdict::Rejected { status },
        _ => Verdict::Retryable {
            status: Some(status),
            delay_ms,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16) -> SendOutcome<'static> {
        SendOutcome::Response {
            status,
            retry_after: None,
            rejected: &[],
        }
    }

    #[test]
    fn two_hundreds_are_delivered() {
        for status in [200, 202, 204, 299] {
            assert_eq!(
                classify(&response(status), 0),
                Verdict::Delivered { rejected: &[] }
            );
        }
    }

    #[test]
    fn server_errors_timeouts_and_network_errors_are_retryable() {
        for status in [500, 502, 503, 599, 408] {
            assert_eq!(
                classify(&response(status), 0),
                Verdict::Retryable {
                    status: Some(status),
                    delay_ms: None
                }
            );
        }
        for outcome in [SendOutcome::NetworkError, SendOutcome::Timeout, response(0)] {
            assert_eq!(
                classify(&outcome, 0),
                Verdict::Retryable {
                    status: None,
                    delay_ms: None
                }
            );
        }
    }

    #[test]
    fn a_503_with_retry_after_asks_for_that_wait() {
        let outcome = SendOutcome::Response {
            status: 503,
            retry_after: Some(RetryAfter::Seconds(2)),
            rejected: &[],
        };
        assert_eq!(
            classify(&outcome, 0),
            Verdict::Retryable {
                status: Some(503),
                delay_ms: Some(2_000)
            }
        );
    }

    #[test]
    fn a_queued_beacon_is_unobserved_not_delivered() {
        assert_eq!(classify(&SendOutcome::BeaconQueued, 0), Verdict::Unobserved);
    }

    #[test]
    fn auth_failures_pause_sending() {
        for status in [401, 403] {
            assert_eq!(
                classify(&response(status), 0),
                Verdict::Unauthorized { status }
            );
        }
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
    fn a_400_naming_events_rejects_those() {
        let outcome = SendOutcome::Response {
            status: 400,
            retry_after: None,
            rejected: &[3, 5],
        };
        assert_eq!(
            classify(&outcome, 0),
            Verdict::PartlyRejected { rejected: &[3, 5] }
        );
    }

    #[test]
    fn payload_too_large_is_its_own_verdict() {
        assert_eq!(classify(&response(413), 0), Verdict::TooLarge);
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let limited = |retry_after| SendOutcome::Response {
            status: 429,
            retry_after: Some(retry_after),
            rejected: &[],
        };
        assert_eq!(
            classify(&limited(RetryAfter::Seconds(3)), 0),
            Verdict::RateLimited {
                delay_ms: Some(3_000)
            }
        );
        assert_eq!(
            classify(&limited(RetryAfter::At(10_000)), 4_000),
            Verdict::RateLimited {
                delay_ms: Some(6_000)
            }
        );
        assert_eq!(
            classify(&limited(RetryAfter::At(1_000)), 4_000),
            Verdict::RateLimited { delay_ms: Some(0) },
            "a date already past asks for no wait"
        );
    }

    #[test]
    fn a_429_without_retry_after_backs_off() {
        assert_eq!(
            classify(&response(429), 0),
            Verdict::RateLimited { delay_ms: None }
        );
    }
}
