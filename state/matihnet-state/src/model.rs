//! The state model: what exists, as last recorded, with the serial and lineage that make saved
//! plans and concurrent writers detectable.

use std::collections::BTreeMap;

use matihnet_core::{Address, Attrs, Value};

/// The newest state format this build reads and writes.
pub const STATE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// Bumped on every write, so a saved plan can tell that the state moved on.
    pub serial: u64,
    /// Fixed when the state is created: a plan or a backup from another state is refused.
    pub lineage: String,
    pub resources: BTreeMap<Address, ResourceState>,
    pub outputs: BTreeMap<String, OutputValue>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceState {
    pub attributes: Attrs,
    /// Recorded so that deletes run in reverse order even after the config forgot the resource.
    pub dependencies: Vec<Address>,
    /// Created only part way: the next plan replaces it.
    pub tainted: bool,
    pub protect: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputValue {
    pub value: Value,
    pub sensitive: bool,
}

impl State {
    /// A new, empty state with a fresh lineage.
    pub fn new() -> State {
        State {
            serial: 0,
            lineage: uuid::Uuid::new_v4().to_string(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
        }
    }
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}
