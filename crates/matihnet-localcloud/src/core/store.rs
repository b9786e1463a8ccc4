//! One emulated cloud's mutable parts behind one lock: its objects (a [`World`]), the faults
//! waiting to be served and its operation clock, with the snapshot, restore and reset every cloud
//! offers.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::clock::now_ms;
use super::faults::Faults;
use super::operations::OperationClock;
use super::snapshot::SnapshotFormat;

/// The objects of one emulated cloud: plain data that a snapshot saves whole.
pub(crate) trait World: Default + Serialize + DeserializeOwned + Send {
    /// Applies every operation that has ended by `now`, in the order they ended.
    fn settle(&mut self, now: u64);
}

/// What a request handler works on, under the lock.
pub(crate) struct Held<W> {
    pub world: W,
    pub faults: Faults,
    pub clock: OperationClock,
}

pub(crate) struct Store<W> {
    inner: Mutex<Held<W>>,
    format: SnapshotFormat,
}

impl<W: World> Store<W> {
    pub(crate) fn new(operation_delay: Duration, format: SnapshotFormat) -> Store<W> {
        Store {
            inner: Mutex::new(Held {
                world: W::default(),
                faults: Faults::default(),
                clock: OperationClock::new(operation_delay),
            }),
            format,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Held<W>> {
        // A handler that panicked left whole objects behind (every change is one assignment),
        // so the state is still usable.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Locks and settles the operations that have ended by `now`: the first thing every
    /// request does.
    pub(crate) fn settled_at(&self, now: u64) -> MutexGuard<'_, Held<W>> {
        let mut held = self.lock();
        held.world.settle(now);
        held
    }

    pub(crate) fn settled(&self) -> MutexGuard<'_, Held<W>> {
        self.settled_at(now_ms())
    }

    /// The objects and running operations in the versioned envelope (faults are not part of
    /// it). Settled first, so what is saved is what the next request would see.
    pub(crate) fn snapshot(&self) -> Value {
        let held = self.settled();
        self.format.write(&held.world)
    }

    /// Replaces the objects with a snapshot's; `null` means an empty cloud.
    pub(crate) fn restore(&self, snapshot: Value) -> Result<(), String> {
        let world = self.format.read(snapshot)?;
        self.lock().world = world;
        Ok(())
    }

    /// An empty cloud with no faults and the operation delay it was created with.
    pub(crate) fn reset(&self) {
        let mut held = self.lock();
        held.world = W::default();
        held.faults = Faults::default();
        held.clock.reset();
    }
}
