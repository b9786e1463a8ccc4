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
    /// An object that exists already and is used, not owned (`[dns] existing_zone`,
    /// `[network] existing`): the id the provider finds it by. It is read and checked against
    /// the attributes here, never created, changed or deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing: Option<String>,
}

impl DesiredResource {
    pub fn new(addr: Address) -> Self {
        DesiredResource {
            addr,
            attrs: BTreeMap::new(),
            depends_on: Vec::new(),
            protect: false,
            existing: None,
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

    /// Used, not owned: the object the provider knows by `id` (see [`DesiredResource::existing`]).
    pub fn existing(mut self, id: impl Into<String>) -> Self {
        self.existing = Some(id.into());
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
