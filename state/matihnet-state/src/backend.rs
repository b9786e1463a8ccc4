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
    /// Refreshed while the holder runs, where the lock does not die with its holder (S3): a
    /// heartbeat older than the backend's TTL makes the lock stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<String>,
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
            heartbeat: None,
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

/// How to take the writers' lock.
#[derive(Debug, Clone)]
pub struct LockRequest {
    pub info: LockInfo,
    /// How long to wait for a live holder to finish.
    pub timeout: Duration,
    /// Take over a lock whose holder stopped refreshing it (`--break-stale-lock`). Only S3's
    /// locks can go stale; the others die with their holder.
    pub break_stale: bool,
}

impl LockRequest {
    pub fn new(operation: &str, timeout: Duration) -> LockRequest {
        LockRequest {
            info: LockInfo::for_this_process(operation),
            timeout,
            break_stale: false,
        }
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
    #[error("state {location} is locked by {holder}, whose last heartbeat was {} ago (a live holder refreshes it every {}): the holder is gone\n  hint: pass --break-stale-lock to take the lock over, or run `matihnet force-unlock {}`", humantime::format_duration(*age), humantime::format_duration(*refresh), holder.id)]
    StaleLock {
        location: String,
        holder: Box<LockInfo>,
        age: Duration,
        refresh: Duration,
    },
    /// The stored state is not the one this process last read or wrote: another writer got
    /// there first, or this process lost its lock. Nothing was written.
    #[error("state {location} changed since this process read it ({found}; this process expected {expected}), so it was not overwritten\n  hint: another run wrote it, or this run lost its lock; run the command again to start from the newer state")]
    Conflict {
        location: String,
        expected: String,
        found: String,
    },
    /// A state whose serial does not move forward, or of another lineage, would replace a newer
    /// or an unrelated state. Nothing was written.
    #[error("refusing to write state {location}: {reason}")]
    Refused { location: String, reason: String },
    /// The storage itself cannot be used: unreachable, missing, denied or misconfigured. The
    /// message names the setting and the fix.
    #[error("state {location}: {message}\n  hint: {hint}")]
    Unavailable {
        location: String,
        message: String,
        hint: String,
    },
}

#[async_trait]
pub trait Backend: Send + Sync {
    /// Where the state lives, for messages.
    fn describe(&self) -> String;

    /// The stored state, or `None` when there is none yet. A state that does not parse or is
    /// from a newer version is an error: the caller must never overwrite it.
    async fn read(&self) -> Result<Option<State>, StateError>;

    /// Replaces the stored state atomically; a crash leaves the old or the new state, whole.
    ///
    /// Only when what is stored is still what this instance last read or wrote (nothing, if it
    /// has done neither): otherwise [`StateError::Conflict`] and the stored state is untouched,
    /// so a writer that lost its lock never overwrites newer state. A state of another lineage,
    /// or whose serial is not greater than the stored one, is [`StateError::Refused`].
    async fn write(&self, state: &State) -> Result<(), StateError>;

    /// Takes the writers' lock, waiting up to `request.timeout`; returns the lock id. A holder
    /// that refreshes its lock keeps it for as long as this instance lives or until
    /// [`Backend::unlock`].
    async fn lock(&self, request: LockRequest) -> Result<String, StateError>;

    /// Releases a lock this process holds.
    async fn unlock(&self, id: &str) -> Result<(), StateError>;

    /// Removes a lock left by another process, named by its id.
    async fn force_unlock(&self, id: &str) -> Result<(), StateError>;

    /// The current holder, if any.
    async fn lock_holder(&self) -> Result<Option<LockInfo>, StateError>;
}

/// What a write checks the stored state against: its lineage and serial as this instance last
/// saw them, plus whatever the storage offers to tell two writes of one serial apart (a file's
/// identity, an ETag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub lineage: String,
    pub serial: u64,
    pub version: String,
}

impl Seen {
    pub fn of(state: &State, version: impl Into<String>) -> Seen {
        Seen {
            lineage: state.lineage.clone(),
            serial: state.serial,
            version: version.into(),
        }
    }

    /// How a stored state is named in a [`StateError::Conflict`].
    pub fn describe(seen: Option<&Seen>) -> String {
        match seen {
            None => "no state".to_string(),
            Some(s) => format!("serial {} of lineage {}", s.serial, s.lineage),
        }
    }
}

/// What one backend instance last read or wrote, kept between its calls (every backend keeps
/// one, so that its writes can be checked against it).
#[derive(Debug, Default)]
pub struct LastSeen(std::sync::Mutex<Option<Seen>>);

impl LastSeen {
    pub fn get(&self) -> Option<Seen> {
        match self.0.lock() {
            Ok(g) => g.clone(),
            // A panic elsewhere left a whole value behind: an assignment is not torn.
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn set(&self, seen: Option<Seen>) {
        match self.0.lock() {
            Ok(mut g) => *g = seen,
            Err(p) => *p.into_inner() = seen,
        }
    }
}

/// The rule every backend applies before a write, given what this instance last saw: refuses a
/// state of another lineage or one that does not move the serial forward.
pub fn check_successor(
    location: &str,
    seen: Option<&Seen>,
    next: &State,
) -> Result<(), StateError> {
    let Some(seen) = seen else { return Ok(()) };
    if seen.lineage != next.lineage {
        return Err(StateError::Refused {
            location: location.to_string(),
            reason: format!(
                "it holds lineage {}, and the state to write is of lineage {}: they are different states",
                seen.lineage, next.lineage
            ),
        });
    }
    if next.serial <= seen.serial {
        return Err(StateError::Refused {
            location: location.to_string(),
            reason: format!(
                "its serial is {}, and the state to write has serial {}: a write must move the serial forward",
                seen.serial, next.serial
            ),
        });
    }
    Ok(())
}
