//! The codes the wasm module's exports speak in (`src/wasm/mod.rs`), each
//! with its name. The shell (`js/core.js`) reads the names from
//! `js/core-names.js`, which is generated from these tables (`cargo run
//! --bin generate`), so neither side writes a code down by hand. Built
//! natively too, where the tests below hold each code to what it does.

use crate::core::{Action, ClientEventQueue, Handle, Health, Millis, RetryAfter, SendOutcome};

/// What `aw_poll` returns, by code (0: nothing to do).
pub const ACTION_NAMES: [&str; 6] = ["", "persist", "release", "send", "notice", "receipts"];

/// The page and control events `aw_event` takes, by code.
pub const PAGE_EVENT_NAMES: [&str; 8] = [
    "hidden",
    "unload",
    "visible",
    "online",
    "offline",
    "flush",
    "persistNow",
    "noPersistence",
];

/// The send outcomes `aw_settle` and `aw_receipts` take, by code.
pub const OUTCOME_NAMES: [&str; 5] = [
    "response",
    "network",
    "timeout",
    "beaconQueued",
    "beaconRefused",
];

/// What a report says of the collector's health, by code.
pub const HEALTH_NAMES: [&str; 3] = ["unchanged", "failing", "recovered"];

/// What another tab's request found, as `aw_peer` takes it, by code.
pub const PEER_NAMES: [&str; 2] = ["failed", "recovered"];

/// The code of `action` in `ACTION_NAMES`.
pub fn action_code(action: &Action) -> u32 {
    match action {
        Action::Persist(_) => 1,
        Action::Release(_) => 2,
        Action::Send(_) => 3,
        Action::Notify(_) => 4,
        Action::RequestReceipts(_) => 5,
    }
}

/// Feeds `queue` the page or control event of `code` in `PAGE_EVENT_NAMES`.
pub fn page_event(queue: &mut ClientEventQueue, code: u32, now: Millis) {
    match code {
        0 => queue.on_page_hidden(now),
        1 => queue.on_page_unload(now),
        2 => queue.on_page_visible(now),
        3 => queue.set_online(true, now),
        4 => queue.set_online(false, now),
        5 => queue.flush(now),
        6 => queue.persist_now(now),
        _ => queue.set_persistence(false),
    }
}

/// The outcome of `code` in `OUTCOME_NAMES`: a response has `status`,
/// `retry` 1 for `retry_value` seconds or 2 for an HTTP date at it, and the
/// batch's events it rejected.
pub fn outcome(
    code: u32,
    status: u32,
    retry: u32,
    retry_value: f64,
    rejected: &[Handle],
) -> SendOutcome<'_> {
    let retry_after = match retry {
        1 => Some(RetryAfter::Seconds(retry_value.max(0.0) as u64)),
        2 => Some(RetryAfter::At(retry_value.max(0.0) as Millis)),
        _ => None,
    };
    match code {
        0 => SendOutcome::Response {
            status: status as u16,
            retry_after,
            rejected,
        },
        1 => SendOutcome::NetworkError,
        2 => SendOutcome::Timeout,
        3 => SendOutcome::BeaconQueued,
        _ => SendOutcome::BeaconRefused,
    }
}

/// The code of `health` in `HEALTH_NAMES`.
pub fn health_code(health: Health) -> u32 {
    match health {
        Health::Unchanged => 0,
        Health::Failing => 1,
        Health::Recovered => 2,
    }
}

/// Feeds `queue` what another tab's request found: `code` in `PEER_NAMES`.
pub fn peer(queue: &mut ClientEventQueue, code: u32, now: Millis) {
    match code {
        0 => queue.on_peer_failure(now),
        _ => queue.on_peer_recovery(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Config, Envelope, Notice, ReceiptRequest, SendRequest, Transport};

    fn code_of(names: &[&str], name: &str) -> u32 {
        names
            .iter()
            .position(|n| *n == name)
            .expect("a name of the table") as u32
    }

    fn queue() -> ClientEventQueue {
        ClientEventQueue::new(
            Config::default(),
            1,
            Envelope {
                empty_body_bytes: 40,
            },
        )
        .expect("valid")
    }

    #[test]
    fn each_action_has_the_code_of_its_name() {
        let send = SendRequest {
            batch_id: 1,
            transport: Transport::Fetch,
            events: vec![],
            body_bytes: 0,
        };
        let receipts = ReceiptRequest {
            request_id: 1,
            events: vec![],
        };
        for (action, name) in [
            (Action::Persist(vec![]), "persist"),
            (Action::Release(vec![]), "release"),
            (Action::Send(send), "send"),
            (Action::Notify(Notice::AuthFailed { status: 401 }), "notice"),
            (Action::RequestReceipts(receipts), "receipts"),
        ] {
            assert_eq!(action_code(&action), code_of(&ACTION_NAMES, name), "{name}");
        }
    }

    #[test]
    fn each_outcome_code_is_the_outcome_of_its_name() {
        let of = |name| outcome(code_of(&OUTCOME_NAMES, name), 503, 1, 7.0, &[]);
        assert_eq!(
            of("response"),
            SendOutcome::Response {
                status: 503,
                retry_after: Some(RetryAfter::Seconds(7)),
                rejected: &[]
            }
        );
        assert_eq!(of("network"), SendOutcome::NetworkError);
        assert_eq!(of("timeout"), SendOutcome::Timeout);
        assert_eq!(of("beaconQueued"), SendOutcome::BeaconQueued);
        assert_eq!(of("beaconRefused"), SendOutcome::BeaconRefused);
    }

    #[test]
    fn each_page_event_code_does_what_its_name_says() {
        let mut q = queue();
        page_event(&mut q, code_of(&PAGE_EVENT_NAMES, "offline"), 1);
        assert!(!q.metrics().online);
        page_event(&mut q, code_of(&PAGE_EVENT_NAMES, "online"), 2);
        assert!(q.metrics().online);
        q.track(1, 100, None, 3).expect("tracked");
        page_event(&mut q, code_of(&PAGE_EVENT_NAMES, "flush"), 3);
        assert!(
            matches!(q.poll_action(3), Some(Action::Send(_))),
            "flush sends at once"
        );
        let mut q = queue();
        q.track(1, 100, None, 3).expect("tracked");
        page_event(&mut q, code_of(&PAGE_EVENT_NAMES, "hidden"), 3);
        assert!(
            matches!(
                q.poll_action(3),
                Some(Action::Send(SendRequest {
                    transport: Transport::Beacon,
                    ..
                }))
            ),
            "hidden sends what is pending as the page may go"
        );
        let mut q = queue();
        page_event(&mut q, code_of(&PAGE_EVENT_NAMES, "noPersistence"), 0);
        q.track(1, 100, None, 0).expect("tracked");
        let actions: Vec<Action> = std::iter::from_fn(|| q.poll_action(10_000)).collect();
        assert!(
            !actions.iter().any(|a| matches!(a, Action::Persist(_))),
            "nowhere to persist: {actions:?}"
        );
        assert!(!actions.is_empty(), "it still sends");
    }

    #[test]
    fn health_and_peer_codes_are_their_names() {
        assert_eq!(
            health_code(Health::Unchanged),
            code_of(&HEALTH_NAMES, "unchanged")
        );
        assert_eq!(
            health_code(Health::Failing),
            code_of(&HEALTH_NAMES, "failing")
        );
        assert_eq!(
            health_code(Health::Recovered),
            code_of(&HEALTH_NAMES, "recovered")
        );
        let mut q = queue();
        q.track(1, 100, None, 0).expect("tracked");
        peer(&mut q, code_of(&PEER_NAMES, "failed"), 0);
        assert!(
            q.metrics().next_retry_at.is_some(),
            "another tab's failure makes this one wait"
        );
        peer(&mut q, code_of(&PEER_NAMES, "recovered"), 0);
        assert!(
            q.metrics().next_retry_at.is_none_or(|at| at <= 1_000),
            "and its recovery ends the wait"
        );
    }
}
