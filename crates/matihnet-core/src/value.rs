//! Attribute values: the JSON-like data a resource's attributes hold, in config, plans and state.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A resource's recorded attributes, sorted by name so that files and plans are stable.
pub type Attrs = BTreeMap<String, Value>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    String(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn string_list<I, S>(items: I) -> Value
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Value::List(items.into_iter().map(|s| Value::String(s.into())).collect())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// Renders values the way plans show them: strings quoted, lists and maps inline.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => write!(f, "null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::List(items) => {
                write!(f, "[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{v}")?;
                }
                write!(f, "]")
            }
            Value::Map(m) => {
                write!(f, "{{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{k} = {v}")?;
                }
                write!(f, "}}")
            }
        }
    }
}

/// Reading and combining recorded attributes: what every provider needs and should not rewrite.
pub mod attrs {
    use super::{Attrs, Value};

    /// The string attribute `name`, or `""` when it is absent or not a string.
    pub fn text<'a>(attrs: &'a Attrs, name: &str) -> &'a str {
        attrs.get(name).and_then(Value::as_str).unwrap_or_default()
    }

    /// The list-of-strings attribute `name`; non-strings are skipped.
    pub fn texts(attrs: &Attrs, name: &str) -> Vec<String> {
        attrs
            .get(name)
            .and_then(Value::as_list)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `prior` with `desired` laid over it.
    pub fn merged(prior: &Attrs, desired: &Attrs) -> Attrs {
        let mut out = prior.clone();
        out.extend(desired.clone());
        out
    }

    /// `actual` in the order `prior` lists it when both hold the same items, so that a cloud
    /// returning a set in another order is not reported as drift; sorted otherwise.
    pub fn in_prior_order(prior: &[String], mut actual: Vec<String>) -> Vec<String> {
        let mut a = actual.clone();
        let mut p = prior.to_vec();
        a.sort();
        p.sort();
        if a == p {
            return prior.to_vec();
        }
        actual.sort();
        actual
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn same_set_keeps_the_recorded_order() {
            let prior = vec!["b".to_string(), "a".to_string()];
            assert_eq!(in_prior_order(&prior, vec!["a".into(), "b".into()]), prior);
            assert_eq!(
                in_prior_order(&prior, vec!["c".into(), "a".into()]),
                ["a", "c"]
            );
        }
    }
}
