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
    /// Used, not owned: an object that existed before matihnet (an existing zone or network).
    /// Destroy forgets it and leaves it in the cloud.
    pub existing: bool,
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

/// Why a resource could not be moved to another address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoveError {
    #[error("{0} is not in the state; `matihnet state list` shows what is")]
    Missing(Address),
    #[error("{0} is already in the state; move or remove it first")]
    Taken(Address),
    #[error("{from} is a {} and {to} a {}: a move keeps the kind (a different kind is a different object)", from.kind, to.kind)]
    OtherKind { from: Address, to: Address },
    #[error("{0} would move onto itself")]
    Same(Address),
}

impl State {
    /// Records the object at `from` under `to` instead (a rename in the file: a tenant slug, a
    /// node pool), and points the resources that depend on it at the new address. The cloud is
    /// not touched. Returns how many dependents were updated.
    pub fn move_resource(&mut self, from: &Address, to: &Address) -> Result<usize, MoveError> {
        if from == to {
            return Err(MoveError::Same(from.clone()));
        }
        if from.kind != to.kind {
            return Err(MoveError::OtherKind {
                from: from.clone(),
                to: to.clone(),
            });
        }
        if self.resources.contains_key(to) {
            return Err(MoveError::Taken(to.clone()));
        }
        let moved = self
            .resources
            .remove(from)
            .ok_or_else(|| MoveError::Missing(from.clone()))?;
        self.resources.insert(to.clone(), moved);
        let mut dependents = 0;
        for r in self.resources.values_mut() {
            for d in r.dependencies.iter_mut().filter(|d| *d == from) {
                *d = to.clone();
                dependents += 1;
            }
        }
        Ok(dependents)
    }
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(deps: &[&Address]) -> ResourceState {
        ResourceState {
            attributes: Attrs::new(),
            dependencies: deps.iter().map(|a| (*a).clone()).collect(),
            tainted: false,
            protect: false,
            existing: false,
        }
    }

    #[test]
    fn a_move_renames_the_resource_and_its_dependents_follow() {
        let zone = Address::new("dns_zone", "acme");
        let record = Address::new("dns_record", "acme_apex");
        let mut state = State::new();
        state.resources.insert(zone.clone(), resource(&[]));
        state.resources.insert(record.clone(), resource(&[&zone]));
        let to = Address::new("dns_zone", "acme_corp");
        assert_eq!(state.move_resource(&zone, &to), Ok(1));
        assert!(!state.resources.contains_key(&zone));
        assert_eq!(state.resources[&record].dependencies, vec![to.clone()]);

        let before = state.clone();
        let other = Address::new("dns_record", "x");
        assert_eq!(
            state.move_resource(&zone, &Address::new("dns_zone", "y")),
            Err(MoveError::Missing(zone.clone()))
        );
        assert_eq!(
            state.move_resource(&to, &other),
            Err(MoveError::OtherKind {
                from: to.clone(),
                to: other
            })
        );
        state
            .resources
            .insert(Address::new("dns_zone", "b"), resource(&[]));
        let mut expected = before.clone();
        expected
            .resources
            .insert(Address::new("dns_zone", "b"), resource(&[]));
        assert_eq!(
            state.move_resource(&to, &Address::new("dns_zone", "b")),
            Err(MoveError::Taken(Address::new("dns_zone", "b")))
        );
        assert_eq!(
            state.move_resource(&to, &to),
            Err(MoveError::Same(to.clone()))
        );
        assert_eq!(state, expected, "a refused move changes nothing");
    }
}
