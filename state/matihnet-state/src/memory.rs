//! An in-memory backend for tests and benchmarks: the same contract as the file, without IO.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::backend::{check_successor, Backend, LastSeen, LockInfo, LockRequest, Seen, StateError};
use crate::model::State;

/// Clones share one store, as two processes share one file; each clone remembers what it last
/// read or wrote, as each process does.
#[derive(Default)]
pub struct MemoryBackend {
    inner: Arc<Mutex<Inner>>,
    seen: LastSeen,
}

impl Clone for MemoryBackend {
    fn clone(&self) -> Self {
        MemoryBackend {
            inner: Arc::clone(&self.inner),
            seen: LastSeen::default(),
        }
    }
}

#[derive(Default)]
struct Inner {
    state: Option<State>,
    lock: Option<LockInfo>,
    writes: u64,
}

impl MemoryBackend {
    pub fn new() -> Self {
        MemoryBackend::default()
    }

    /// How many writes the store has seen.
    pub fn writes(&self) -> u64 {
        self.inner.lock().map(|i| i.writes).unwrap_or(0)
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut guard = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    fn describe(&self) -> String {
        "memory".to_string()
    }

    async fn read(&self) -> Result<Option<State>, StateError> {
        let (state, writes) = self.with(|i| (i.state.clone(), i.writes));
        self.seen
            .set(state.as_ref().map(|s| Seen::of(s, writes.to_string())));
        Ok(state)
    }

    async fn write(&self, state: &State) -> Result<(), StateError> {
        let seen = self.seen.get();
        check_successor("memory", seen.as_ref(), state)?;
        let written = self.with(|i| {
            let stored = i.state.as_ref().map(|s| Seen::of(s, i.writes.to_string()));
            if stored != seen {
                return Err(StateError::Conflict {
                    location: "memory".into(),
                    expected: Seen::describe(seen.as_ref()),
                    found: Seen::describe(stored.as_ref()),
                });
            }
            i.state = Some(state.clone());
            i.writes += 1;
            Ok(Seen::of(state, i.writes.to_string()))
        })?;
        self.seen.set(Some(written));
        Ok(())
    }

    async fn lock(&self, request: LockRequest) -> Result<String, StateError> {
        let LockRequest { info, timeout, .. } = request;
        let started = Instant::now();
        loop {
            let taken = self.with(|i| {
                if i.lock.is_none() {
                    i.lock = Some(info.clone());
                    Ok(info.id.clone())
                } else {
                    Err(i.lock.clone().map(Box::new))
                }
            });
            match taken {
                Ok(id) => return Ok(id),
                Err(holder) if started.elapsed() >= timeout => {
                    return Err(StateError::Locked {
                        location: "memory".into(),
                        holder,
                        waited: timeout,
                    })
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    async fn unlock(&self, id: &str) -> Result<(), StateError> {
        self.with(|i| match &i.lock {
            Some(l) if l.id == id => {
                i.lock = None;
                Ok(())
            }
            current => Err(StateError::NoSuchLock {
                location: "memory".into(),
                id: id.to_string(),
                current: current.clone().map(Box::new),
            }),
        })
    }

    async fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        self.unlock(id).await
    }

    async fn lock_holder(&self) -> Result<Option<LockInfo>, StateError> {
        Ok(self.with(|i| i.lock.clone()))
    }
}

#[cfg(test)]
mod tests {
    use crate::conformance::Harness;

    struct Memory(super::MemoryBackend);

    #[async_trait::async_trait]
    impl Harness for Memory {
        type Backend = super::MemoryBackend;
        async fn open(&self) -> super::MemoryBackend {
            self.0.clone()
        }
        async fn plant(&self, bytes: &[u8]) {
            // The memory store holds decoded states only: a stored state that does not decode
            // cannot exist here, so what is planted must decode.
            let state = crate::format::decode(bytes).ok();
            self.0.with(|i| {
                i.state = state;
                i.writes += 1;
            });
        }
        async fn stored(&self) -> Option<Vec<u8>> {
            self.0.with(|i| i.state.as_ref().map(crate::format::encode))
        }
        fn holds_raw_bytes(&self) -> bool {
            false
        }
        fn holder_gone(&self) -> crate::conformance::HolderGone {
            crate::conformance::HolderGone::Kept
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn passes_the_backend_conformance_suite() {
        crate::conformance::run(&Memory(super::MemoryBackend::new())).await;
    }
}
