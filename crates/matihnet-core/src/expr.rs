//! Desired attribute values, which may refer to attributes other resources get only when created
//! (a child zone's name servers, a front end's IP address).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Address, Attrs, Value};

/// Saved plans store expressions, so they serialize as `{"literal": v}`, `{"ref": {..}}`, ...
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    Literal(Value),
    /// The attribute `attr` of the resource at `addr`, known once that resource exists.
    Ref {
        addr: Address,
        attr: String,
    },
    List(Vec<Expr>),
    Map(BTreeMap<String, Expr>),
}

impl Expr {
    pub fn reference(addr: Address, attr: impl Into<String>) -> Expr {
        Expr::Ref {
            addr,
            attr: attr.into(),
        }
    }

    /// Every address this expression refers to: these are implicit dependencies.
    pub fn references(&self, out: &mut Vec<Address>) {
        match self {
            Expr::Literal(_) => {}
            Expr::Ref { addr, .. } => out.push(addr.clone()),
            Expr::List(items) => items.iter().for_each(|e| e.references(out)),
            Expr::Map(m) => m.values().for_each(|e| e.references(out)),
        }
    }

    /// The value, if every reference can be looked up in `known`; `None` means "known after apply".
    pub fn resolve<'a, F>(&self, known: &F) -> Option<Value>
    where
        F: Fn(&Address) -> Option<&'a Attrs>,
    {
        match self {
            Expr::Literal(v) => Some(v.clone()),
            Expr::Ref { addr, attr } => known(addr).and_then(|a| a.get(attr)).cloned(),
            Expr::List(items) => items
                .iter()
                .map(|e| e.resolve(known))
                .collect::<Option<Vec<_>>>()
                .map(Value::List),
            Expr::Map(m) => m
                .iter()
                .map(|(k, e)| e.resolve(known).map(|v| (k.clone(), v)))
                .collect::<Option<BTreeMap<_, _>>>()
                .map(Value::Map),
        }
    }
}

impl From<Value> for Expr {
    fn from(v: Value) -> Self {
        Expr::Literal(v)
    }
}

impl From<&str> for Expr {
    fn from(s: &str) -> Self {
        Expr::Literal(Value::from(s))
    }
}

impl From<String> for Expr {
    fn from(s: String) -> Self {
        Expr::Literal(Value::from(s))
    }
}

impl From<i64> for Expr {
    fn from(i: i64) -> Self {
        Expr::Literal(Value::Int(i))
    }
}

impl From<bool> for Expr {
    fn from(b: bool) -> Self {
        Expr::Literal(Value::Bool(b))
    }
}
