//! What the executor reports while it works; the binary turns these into progress lines.

use std::time::Duration;

use matihnet_core::{Address, ProviderError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum OpKind {
    Delete,
    Create,
    Update,
    /// Taking over an object made outside this state, and marking it as matihnet's.
    Import,
    /// Reading an existing object that is used, not owned, to record it.
    Read,
}

impl OpKind {
    /// "Creating", "Modifying", "Destroying": the words Terraform users know.
    pub fn progressive(self) -> &'static str {
        match self {
            OpKind::Create => "Creating",
            OpKind::Update => "Modifying",
            OpKind::Delete => "Destroying",
            OpKind::Import => "Importing",
            OpKind::Read => "Reading",
        }
    }

    pub fn lower_progressive(self) -> &'static str {
        match self {
            OpKind::Create => "creating",
            OpKind::Update => "modifying",
            OpKind::Delete => "destroying",
            OpKind::Import => "importing",
            OpKind::Read => "reading",
        }
    }

    pub fn past(self) -> &'static str {
        match self {
            OpKind::Create => "Creation complete",
            OpKind::Update => "Modifications complete",
            OpKind::Delete => "Destruction complete",
            OpKind::Import => "Import complete",
            OpKind::Read => "Read complete",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Event {
    Started {
        address: Address,
        kind: OpKind,
    },
    StillRunning {
        address: Address,
        kind: OpKind,
        elapsed: Duration,
    },
    /// A call of this operation failed transiently and is tried again after `wait`.
    Retrying {
        address: Address,
        kind: OpKind,
        attempt: u32,
        max_attempts: u32,
        wait: Duration,
        reason: String,
    },
    Finished {
        address: Address,
        kind: OpKind,
        elapsed: Duration,
        id: Option<String>,
    },
    Failed {
        address: Address,
        kind: OpKind,
        elapsed: Duration,
        error: ProviderError,
    },
    /// A cancellation arrived: nothing new starts; `in_flight` calls are let finish.
    Cancelling {
        in_flight: usize,
    },
}

pub trait Observer: Send + Sync {
    fn on_event(&self, event: &Event);
}

/// Discards events: for tests and benchmarks.
pub struct Silent;

impl Observer for Silent {
    fn on_event(&self, _event: &Event) {}
}
