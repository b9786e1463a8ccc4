//! An in-memory backend for tests and benchmarks: the same contract as the file, without IO.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::backend::{Backend, LockInfo, StateError};
use crate::model::State;

/// Clones share one store, as two processes share one file.
#[derive(Clone, Default)]
pub struct MemoryBackend {
    inner: Arc<Mutex<Inner>>,
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
        Ok(self.with(|i| i.state.clone()))
    }

    async fn write(&self, state: &State) -> Result<(), StateError> {
        self.with(|i| {
            i.state = Some(state.clone());
            i.writes += 1;
        });
        Ok(())
    }

    async fn lock(&self, info: LockInfo, timeout: Duration) -> Result<String, StateError> {
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
    #[tokio::test]
    async fn passes_the_backend_conformance_suite() {
        let shared = super::MemoryBackend::new();
        crate::conformance::run(|| shared.clone()).await;
    }
}
