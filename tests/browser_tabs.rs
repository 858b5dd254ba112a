//! Browser tests of tab ownership: Web Locks taken with and without
//! `ifAvailable`, and the localStorage lease used where Web Locks are missing.
#![cfg(target_arch = "wasm32")]

use analytics_wasm::web::tabs::{self, Lease, Ownership, LEASE_EXPIRY_MS};
use analytics_wasm::web::timer;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn chromium_has_web_locks() {
    assert_eq!(tabs::ownership(), Ownership::WebLocks);
}

#[wasm_bindgen_test]
async fn a_held_lock_cannot_be_taken_if_available_until_released() {
    let held = tabs::hold("test-lock-a", false).await.expect("granted");
    assert!(
        tabs::hold("test-lock-a", true).await.is_none(),
        "held by another owner"
    );
    held.release();
    timer::sleep(10).await;
    let again = tabs::hold("test-lock-a", true).await;
    assert!(again.is_some(), "free once released");
    again.unwrap().release();
}

#[wasm_bindgen_test]
async fn a_waiting_request_is_granted_when_the_holder_lets_go() {
    let held = tabs::hold("test-lock-b", false).await.expect("granted");
    wasm_bindgen_futures::spawn_local(async move {
        timer::sleep(50).await;
        held.release();
    });
    let granted = tabs::hold("test-lock-b", false).await;
    assert!(granted.is_some(), "granted once the holder went away");
    granted.unwrap().release();
}

#[wasm_bindgen_test]
async fn a_lease_expires_without_renewal_and_only_one_claim_holds() {
    let lease = Lease::open("test-lease").expect("localStorage");
    let now = 1_000_000;
    lease.renew("p1", now);
    assert!(
        !lease.expired("p1", now + LEASE_EXPIRY_MS),
        "renewed lately"
    );
    assert!(lease.expired("p1", now + LEASE_EXPIRY_MS + 1));
    let later = now + LEASE_EXPIRY_MS + 1;
    assert!(
        lease.claim("p1", "me", later).await,
        "an expired lease can be claimed"
    );
    assert!(
        !lease.claim("p1", "other", later + 1).await,
        "a fresh claim keeps others off"
    );
    lease.release("p1");
    assert!(lease.expired("p1", later + 2), "released: free to adopt");
}
