//! The Backend trait: where state lives and how writers exclude each other.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::format::FormatError;
use crate::model::State;

/// Who holds a lock, written beside it so that a waiting user learns whom to ask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub who: String,
    pub host: String,
    pub pid: u32,
    pub operation: String,
    pub created: String,
    pub path: String,
}

impl LockInfo {
    /// Describes this process taking a lock for `operation` (`apply`, `destroy`, ...).
    pub fn for_this_process(operation: &str) -> LockInfo {
        let who = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown".to_string());
        let host = this_host();
        LockInfo {
            id: uuid::Uuid::new_v4().to_string(),
            who,
            host,
            pid: std::process::id(),
            operation: operation.to_string(),
            created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            path: String::new(),
        }
    }
}

/// The name lock holders record as their host.
pub(crate) fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown".to_string())
}

impl fmt::Display for LockInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "lock {} held by {}@{} (pid {}) for `{}` since {}",
            self.id, self.who, self.host, self.pid, self.operation, self.created
        )
    }
}

/// Why a backend could not do what was asked. `location` is where the state lives, as the
/// backend describes it (a path, later a bucket and key or a database row).
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot access state {location}: {source}")]
    Io {
        location: String,
        #[source]
        source: std::io::Error,
    },
    // The reason is part of the message and not a `source`: printed as a chain it would appear twice.
    #[error("cannot use state {location}: {reason}")]
    Corrupt {
        location: String,
        reason: FormatError,
    },
    #[error("state {location} is locked: {}; waited {}", holder.as_ref().map(|h| h.to_string()).unwrap_or_else(|| "holder unknown".into()), humantime::format_duration(*waited))]
    Locked {
        location: String,
        holder: Option<Box<LockInfo>>,
        waited: Duration,
    },
    #[error("state {location} has no lock with id {id}{}", current.as_ref().map(|h| format!("; the current one is {h}")).unwrap_or_default())]
    NoSuchLock {
        location: String,
        id: String,
        current: Option<Box<LockInfo>>,
    },
    #[error("{holder} is a live process: force-unlock cannot take a lock from it; stop that process (its lock goes with it)")]
    HolderAlive { holder: Box<LockInfo> },
}

#[async_trait]
pub trait Backend: Send + Sync {
    /// Where the state lives, for messages.
    fn describe(&self) -> String;

    /// The stored state, or `None` when there is none yet. A state that does not parse or is
    /// from a newer version is an error: the caller must never overwrite it.
    async fn read(&self) -> Result<Option<State>, StateError>;

    /// Replaces the stored state atomically; a crash leaves the old or the new state, whole.
    async fn write(&self, state: &State) -> Result<(), StateError>;

    /// Takes the writers' lock, waiting up to `timeout`; returns the lock id.
    async fn lock(&self, info: LockInfo, timeout: Duration) -> Result<String, StateError>;

    /// Releases a lock this process holds.
    async fn unlock(&self, id: &str) -> Result<(), StateError>;

    /// Removes a lock left by another process, named by its id.
    async fn force_unlock(&self, id: &str) -> Result<(), StateError>;

    /// The current holder, if any.
    async fn lock_holder(&self) -> Result<Option<LockInfo>, StateError>;
}
