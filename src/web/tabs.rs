//! Tab coordination: which tab owns which persisted partition.
//!
//! Each page load persists under its own partition and holds the Web Lock
//! `analytics-wasm:<partition>` for its lifetime; the browser frees it when
//! the page goes away, even by a crash. A partition whose lock is free
//! belongs to no live tab: any tab may adopt it, taking its lock with
//! `ifAvailable`, so two tabs can never adopt the same partition.
//!
//! Without Web Locks a lease in localStorage stands in: each tab renews
//! `<namespace>:lease:<partition>` with the time every `LEASE_RENEW_MS`; a
//! partition whose lease is older than `LEASE_EXPIRY_MS` is orphaned, and a
//! tab adopting it first writes its own claim there and adopts only if the
//! claim is still its own a moment later. Two tabs can race inside that
//! moment: the lease is weaker than a lock, and duplicates it lets through
//! carry the same `messageId`, so a collector can drop them.

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

pub const LEASE_RENEW_MS: u64 = 2_000;
pub const LEASE_EXPIRY_MS: u64 = 10_000;

/// How ownership is decided in this browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    WebLocks,
    Lease,
}

impl Ownership {
    pub fn name(self) -> &'static str {
        match self {
            Ownership::WebLocks => "web-locks",
            Ownership::Lease => "lease",
        }
    }
}

fn lock_manager() -> Option<JsValue> {
    let navigator = web_sys::window()?.navigator();
    let locks = Reflect::get(&navigator, &"locks".into()).ok()?;
    let request = Reflect::get(&locks, &"request".into()).ok()?;
    request.is_function().then_some(locks)
}

pub fn ownership() -> Ownership {
    if lock_manager().is_some() {
        Ownership::WebLocks
    } else {
        Ownership::Lease
    }
}

/// A held Web Lock; `release` lets it go (else it lasts the page's life).
pub struct HeldLock {
    release: Function,
}

impl HeldLock {
    pub fn release(&self) {
        let _ = self.release.call0(&JsValue::NULL);
    }
}

/// A promise and the function that resolves it.
fn deferred() -> (Promise, Function) {
    let mut resolve_out = None;
    let promise =
        Promise::new(&mut |resolve: Function, _reject: Function| resolve_out = Some(resolve));
    (
        promise,
        resolve_out.unwrap_or_else(|| Function::new_no_args("")),
    )
}

/// Takes the lock `name`: waits for it, or with `if_available` gives up at
/// once (`None`) when another tab holds it.
pub async fn hold(name: &str, if_available: bool) -> Option<HeldLock> {
    request(name, if_available)?.granted().await
}

/// A lock request made and not yet answered: the request leaves at once, so
/// the caller can do other work while the browser grants it.
pub struct LockRequest {
    granted: Promise,
    release: Function,
}

impl LockRequest {
    /// The lock, once granted; `None` if it was not available.
    pub async fn granted(self) -> Option<HeldLock> {
        let got = JsFuture::from(self.granted)
            .await
            .ok()?
            .as_bool()
            .unwrap_or(false);
        got.then_some(HeldLock {
            release: self.release,
        })
    }
}

/// Requests the lock `name` (see `hold`); `None` without Web Locks.
pub fn request(name: &str, if_available: bool) -> Option<LockRequest> {
    let locks = lock_manager()?;
    let (held_for, release) = deferred();
    let (granted, grant) = deferred();
    let callback = Closure::once_into_js(move |lock: JsValue| -> JsValue {
        let got = !lock.is_null() && !lock.is_undefined();
        let _ = grant.call1(&JsValue::NULL, &JsValue::from_bool(got));
        if got {
            // The lock is held until this promise settles.
            held_for.into()
        } else {
            JsValue::UNDEFINED
        }
    });
    let options = Object::new();
    let _ = Reflect::set(
        &options,
        &"ifAvailable".into(),
        &JsValue::from_bool(if_available),
    );
    let request: Function = Reflect::get(&locks, &"request".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let _ = request.call3(&locks, &JsValue::from_str(name), &options, &callback);
    Some(LockRequest { granted, release })
}

/// The lease scheme for browsers without Web Locks (see the module docs).
pub struct Lease {
    storage: web_sys::Storage,
    namespace: String,
}

impl Lease {
    pub fn open(namespace: &str) -> Option<Lease> {
        Some(Lease {
            storage: super::local_storage::usable().ok()?,
            namespace: namespace.to_string(),
        })
    }

    fn key(&self, kind: &str, partition: &str) -> String {
        [self.namespace.as_str(), ":", kind, ":", partition].concat()
    }

    fn read_time(&self, kind: &str, partition: &str) -> Option<u64> {
        let text = self
            .storage
            .get_item(&self.key(kind, partition))
            .ok()
            .flatten()?;
        text.split(' ').next()?.parse().ok()
    }

    /// Marks `partition` as alive at `now`.
    pub fn renew(&self, partition: &str, now: u64) {
        let mut value = String::new();
        crate::core::json::push_u64(&mut value, now);
        let _ = self.storage.set_item(&self.key("lease", partition), &value);
    }

    /// Whether no live tab has renewed `partition` lately.
    pub fn expired(&self, partition: &str, now: u64) -> bool {
        let renewed = self.read_time("lease", partition).unwrap_or(0);
        let claimed = self.read_time("claim", partition).unwrap_or(0);
        now.saturating_sub(renewed.max(claimed)) > LEASE_EXPIRY_MS
    }

    /// Claims an expired `orphan` for `me`; true if the claim held.
    pub async fn claim(&self, orphan: &str, me: &str, now: u64) -> bool {
        if !self.expired(orphan, now) {
            return false;
        }
        let mut value = String::new();
        crate::core::json::push_u64(&mut value, now);
        value.push(' ');
        value.push_str(me);
        let key = self.key("claim", orphan);
        if self.storage.set_item(&key, &value).is_err() {
            return false;
        }
        // Another tab claiming in this window overwrites ours: then it wins.
        super::timer::sleep(50).await;
        self.storage.get_item(&key).ok().flatten().as_deref() == Some(value.as_str())
    }

    /// Forgets `partition`'s lease and claim.
    pub fn release(&self, partition: &str) {
        let _ = self.storage.remove_item(&self.key("lease", partition));
        let _ = self.storage.remove_item(&self.key("claim", partition));
    }
}

/// The Web Lock name of a partition.
pub fn lock_name(namespace: &str, partition: &str) -> String {
    [namespace, ":", partition].concat()
}
