//! Adoption of orphaned partitions: events persisted by tabs that are gone
//! (closed, reloaded, crashed) move into this tab's queue, keeping their
//! `messageId`, and the orphan is deleted only after this tab's own copy is
//! persisted. A pass runs at start and whenever the page becomes visible;
//! tabs that open later announce themselves (`announce`) and are watched.
//!
//! With Web Locks, a partition whose lock another tab holds gets a waiting
//! lock request: the browser grants it the moment that tab goes away, so
//! its events are adopted at once rather than at the next pass. Whoever
//! gets a lock after the partition was adopted finds it empty.

use wasm_bindgen_futures::{spawn_local, JsFuture};

use super::announce::Announcement;
use super::clock::wall_ms;
use super::runtime::{self, Shared};
use super::storage::Partitions;
use super::tabs::{self, Ownership};
use super::timer::sleep;
use crate::core::RestoreSource;

/// One adoption pass over every partition no live tab owns.
pub async fn adopt_orphans(shared: &Shared) {
    let Some((partitions, ownership, namespace, me)) = runtime::adoption_context(shared) else {
        return;
    };
    for orphan in partitions.others().await {
        match claim(ownership, &namespace, &orphan, &me).await {
            Some(claimed) => {
                adopt_one(shared, &partitions, &orphan).await;
                claimed.release(&orphan);
            }
            None if ownership == Ownership::WebLocks => {
                let lock_name = tabs::lock_name(&namespace, &orphan);
                watch(shared, &partitions, orphan, lock_name)
            }
            None => {}
        }
    }
    runtime::adoption_finished(shared);
}

/// Another tab said which partition it has: watch that one, to adopt what
/// it leaves the moment it goes away (a hello is answered first, so the
/// new tab learns of this one too).
pub fn on_announcement(shared: &Shared, announcement: Announcement) {
    let partition = match announcement {
        Announcement::Hello(partition) => {
            runtime::answer_hello(shared);
            partition
        }
        Announcement::Here(partition) => partition,
    };
    let Some((partitions, ownership, namespace, me)) = runtime::watch_context(shared) else {
        return;
    };
    if partition == me {
        return;
    }
    match ownership {
        Ownership::WebLocks => {
            let lock_name = tabs::lock_name(&namespace, &partition);
            watch(shared, &partitions, partition, lock_name);
        }
        Ownership::Lease => rescan_while_tabs_live(shared),
    }
}

/// Without Web Locks a tab's going is never signalled: look again each
/// time a lease could have expired, while other tabs' partitions exist.
fn rescan_while_tabs_live(shared: &Shared) {
    if !runtime::start_rescanning(shared) {
        return;
    }
    let shared = shared.clone();
    spawn_local(async move {
        loop {
            sleep((tabs::LEASE_EXPIRY_MS + tabs::LEASE_RENEW_MS) as u32).await;
            if runtime::is_closed(&shared) {
                break;
            }
            adopt_orphans(&shared).await;
            let Some((partitions, ..)) = runtime::watch_context(&shared) else {
                break;
            };
            if partitions.others().await.is_empty() {
                break;
            }
        }
        runtime::stop_rescanning(&shared);
    });
}

/// Deletes every partition no live tab owns, unread: after an opt-out,
/// events a closed tab left behind must not be sent either. Live tabs
/// clear their own when they hear of the opt-out.
pub async fn delete_orphans(
    partitions: &Partitions,
    ownership: Ownership,
    namespace: &str,
    me: &str,
) {
    for orphan in partitions.others().await {
        if let Some(claimed) = claim(ownership, namespace, &orphan, me).await {
            let _ = partitions.delete(&orphan).await;
            claimed.release(&orphan);
        }
    }
}

/// The right to read and delete a partition no live tab owns.
enum Claimed {
    Lock(tabs::HeldLock),
    Lease(tabs::Lease),
}

impl Claimed {
    fn release(self, partition: &str) {
        match self {
            Claimed::Lock(lock) => lock.release(),
            Claimed::Lease(lease) => lease.release(partition),
        }
    }
}

async fn claim(ownership: Ownership, namespace: &str, orphan: &str, me: &str) -> Option<Claimed> {
    match ownership {
        Ownership::WebLocks => tabs::hold(&tabs::lock_name(namespace, orphan), true)
            .await
            .map(Claimed::Lock),
        Ownership::Lease => {
            let lease = tabs::Lease::open(namespace)?;
            lease
                .claim(orphan, me, wall_ms())
                .await
                .then_some(Claimed::Lease(lease))
        }
    }
}

/// Waits for the lock of a live tab's partition, once per partition, and
/// adopts what that tab leaves behind when it goes away.
fn watch(shared: &Shared, partitions: &Partitions, partition: String, lock_name: String) {
    if !runtime::start_watching(shared, &partition) {
        return;
    }
    let shared = shared.clone();
    let partitions = partitions.clone();
    spawn_local(async move {
        if let Some(lock) = tabs::hold(&lock_name, false).await {
            if !runtime::is_closed(&shared) {
                adopt_one(&shared, &partitions, &partition).await;
            }
            lock.release();
        }
        runtime::stop_watching(&shared, &partition);
    });
}

async fn adopt_one(shared: &Shared, partitions: &Partitions, orphan: &str) {
    let events = match partitions.read(orphan).await {
        Ok(events) => events,
        Err(message) => {
            runtime::report(
                shared,
                "storage",
                ["could not read orphaned events: ", &message].concat(),
            );
            return;
        }
    };
    if !events.is_empty() {
        let failures_before = {
            let mut runtime = shared.borrow_mut();
            let now = runtime.now();
            // The same event may be read twice (IndexedDB and the unload
            // spill): count what the queue took.
            let report = runtime
                .queue_mut()
                .restore(events, RestoreSource::Adopted, now);
            runtime.queue_mut().persist_now(now);
            runtime.note_adopted(report.accepted);
            runtime.storage_failures()
        };
        // Write this tab's copy now, and wait until it has committed.
        if let Some(write) = runtime::persist_at_once(shared) {
            let _ = JsFuture::from(write).await;
        }
        if shared.borrow().storage_failures() > failures_before {
            // Our copy may be incomplete: leave the orphan for a later pass.
            return;
        }
    }
    if let Err(message) = partitions.delete(orphan).await {
        runtime::report(
            shared,
            "storage",
            ["could not delete adopted events: ", &message].concat(),
        );
    }
}
