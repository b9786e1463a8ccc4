//! A resource as the configuration wants it: what the engine plans towards.

use std::collections::BTreeMap;

use crate::{Address, Expr};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DesiredResource {
    pub addr: Address,
    pub attrs: BTreeMap<String, Expr>,
    /// Ordering the attributes do not express by references.
    pub depends_on: Vec<Address>,
    /// Destroy and replace refuse to touch a protected resource.
    pub protect: bool,
}

impl DesiredResource {
    pub fn new(addr: Address) -> Self {
        DesiredResource {
            addr,
            attrs: BTreeMap::new(),
            depends_on: Vec::new(),
            protect: false,
        }
    }

    pub fn attr(mut self, name: impl Into<String>, value: impl Into<Expr>) -> Self {
        self.attrs.insert(name.into(), value.into());
        self
    }

    pub fn depends_on(mut self, addr: Address) -> Self {
        self.depends_on.push(addr);
        self
    }

    pub fn protected(mut self, protect: bool) -> Self {
        self.protect = protect;
        self
    }

    /// Explicit and implicit (by reference) dependencies, sorted and without duplicates.
    pub fn dependencies(&self) -> Vec<Address> {
        let mut deps = self.depends_on.clone();
        for e in self.attrs.values() {
            e.references(&mut deps);
        }
        deps.sort();
        deps.dedup();
        deps.retain(|d| d != &self.addr);
        deps
    }
}

/// A value users read after an apply (`matihnet output`): an expression over the resources'
/// attributes, known once they exist.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutputSpec {
    pub name: String,
    pub value: Expr,
    pub sensitive: bool,
}
