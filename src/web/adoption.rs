//! Adoption of orphaned partitions: events persisted by tabs that are gone
//! (closed, reloaded, crashed) move into this tab's queue, keeping their
//! `messageId`, and the orphan is deleted only after this tab's own copy is
//! persisted. Runs at start and whenever the page becomes visible.

use wasm_bindgen_futures::JsFuture;

use super::runtime::{self, now_ms, Shared};
use super::tabs::{self, Ownership};
use crate::core::RestoreSource;

/// One adoption pass over every partition no live tab owns.
pub async fn adopt_orphans(shared: &Shared) {
    let Some((partitions, ownership, namespace, me)) = runtime::adoption_context(shared) else {
        return;
    };
    for orphan in partitions.others().await {
        let lease = match ownership {
            Ownership::Lease => tabs::Lease::open(&namespace),
            Ownership::WebLocks => None,
        };
        let lock = match ownership {
            Ownership::WebLocks => {
                match tabs::hold(&tabs::lock_name(&namespace, &orphan), true).await {
                    Some(lock) => Some(lock),
                    None => continue,
                }
            }
            Ownership::Lease => {
                let claimed = match &lease {
                    Some(lease) => lease.claim(&orphan, &me, now_ms()).await,
                    None => false,
                };
                if !claimed {
                    continue;
                }
                None
            }
        };
        adopt_one(shared, &partitions, &orphan).await;
        if let Some(lease) = &lease {
            lease.release(&orphan);
        }
        if let Some(lock) = lock {
            lock.release();
        }
    }
    runtime::adoption_finished(shared);
}

async fn adopt_one(shared: &Shared, partitions: &super::storage::Partitions, orphan: &str) {
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
    let count = events.len();
    let failures_before = {
        let mut runtime = shared.borrow_mut();
        let now = now_ms();
        runtime
            .queue_mut()
            .restore(events, RestoreSource::Adopted, now);
        runtime.queue_mut().persist_now(now);
        runtime.note_adopted(count);
        runtime.storage_failures()
    };
    // Write this tab's copy now, and wait until it has committed.
    let last_write = runtime::persist_at_once(shared);
    if let Some(write) = last_write {
        let _ = JsFuture::from(write).await;
    }
    if shared.borrow().storage_failures() > failures_before {
        // Our copy may be incomplete: leave the orphan for a later pass.
        return;
    }
    if let Err(message) = partitions.delete(orphan).await {
        runtime::report(
            shared,
            "storage",
            ["could not delete adopted events: ", &message].concat(),
        );
    }
}
