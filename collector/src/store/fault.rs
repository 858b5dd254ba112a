//! A store that fails or stalls on command, wrapping another: the fault
//! tests' way to prove that nothing is answered 2xx that is not stored.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::{Batch, Receipts, Store, StoreError, Written};

/// What the next writes do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Write through to the inner store.
    None,
    /// Fail without writing anything.
    Fail,
    /// Write, then fail (as a sync error after the data reached the disk):
    /// the events are stored but the requests are answered 503.
    FailAfterWrite,
    /// Block until the fault changes.
    Stall,
    /// Panic in the store's thread (a store with a bug).
    Panic,
}

struct State {
    fault: Fault,
    /// Writes that have begun, whatever became of them.
    writes: u64,
    /// Writes blocked in `Stall` now.
    stalled: u64,
}

/// The test's handle on a `FaultStore`.
#[derive(Clone)]
pub struct FaultControl {
    shared: Arc<(Mutex<State>, Condvar)>,
}

impl FaultControl {
    pub fn set(&self, fault: Fault) {
        let (state, changed) = &*self.shared;
        if let Ok(mut state) = state.lock() {
            state.fault = fault;
        }
        changed.notify_all();
    }

    /// Writes begun so far.
    pub fn writes(&self) -> u64 {
        self.shared.0.lock().map(|s| s.writes).unwrap_or(0)
    }

    /// Writes blocked by `Fault::Stall` now.
    pub fn stalled(&self) -> u64 {
        self.shared.0.lock().map(|s| s.stalled).unwrap_or(0)
    }
}

pub struct FaultStore<S> {
    inner: S,
    control: FaultControl,
}

impl<S: Store> FaultStore<S> {
    pub fn new(inner: S) -> (Self, FaultControl) {
        let control = FaultControl {
            shared: Arc::new((
                Mutex::new(State {
                    fault: Fault::None,
                    writes: 0,
                    stalled: 0,
                }),
                Condvar::new(),
            )),
        };
        (
            FaultStore {
                inner,
                control: control.clone(),
            },
            control,
        )
    }
}

impl<S: Store> Store for FaultStore<S> {
    fn write(&mut self, group: &[&Batch]) -> Result<Vec<Written>, StoreError> {
        let (state, changed) = &*self.control.shared;
        let poisoned = |_| StoreError::new("fault store: poisoned");
        let mut guard = state.lock().map_err(poisoned)?;
        guard.writes += 1;
        while guard.fault == Fault::Stall {
            guard.stalled += 1;
            let (next, _) = changed
                .wait_timeout(guard, Duration::from_millis(100))
                .map_err(|_| StoreError::new("fault store: poisoned"))?;
            guard = next;
            guard.stalled -= 1;
        }
        let fault = guard.fault;
        drop(guard);
        match fault {
            Fault::Fail => Err(StoreError::new("injected failure: nothing written")),
            Fault::FailAfterWrite => {
                self.inner.write(group)?;
                Err(StoreError::new("injected failure after the write"))
            }
            Fault::Panic => panic!("injected panic in the store"),
            Fault::None | Fault::Stall => self.inner.write(group),
        }
    }

    fn receipts(&self) -> Option<Arc<dyn Receipts>> {
        self.inner.receipts()
    }
}
