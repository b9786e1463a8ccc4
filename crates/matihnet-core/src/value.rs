//! Attribute values: the JSON-like data a resource's attributes hold, in config, plans and state.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// A resource's recorded attributes, sorted by name so that files and plans are stable.
pub type Attrs = BTreeMap<String, Value>;

/// Written as plain JSON (untagged); read by [`ValueVisitor`], not by a derived untagged
/// `Deserialize`, which buffers every value and tries each variant in turn, formatting an error
/// for each miss: that was most of the time of reading a large state and of every message of
/// the plugin protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    String(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

/// Accepts null, booleans, integers that fit an `i64`, strings, and lists and maps of values;
/// refuses fractions and larger integers, which no attribute holds.
struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "an attribute value (null, true or false, a whole number, a string, a list or a map)",
        )
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        i64::try_from(u)
            .map(Value::Int)
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(u), &self))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(v) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::List(items))
    }

    /// A repeated key keeps its last value, as a `BTreeMap`'s own deserialisation does.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            out.insert(k, v);
        }
        Ok(Value::Map(out))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_from_json_are_the_values_written() {
        let mut map = BTreeMap::new();
        map.insert("a".to_string(), Value::Map(BTreeMap::new()));
        map.insert("b".to_string(), Value::Int(1));
        let cases = [
            ("null", Value::Null),
            ("true", Value::Bool(true)),
            ("-7", Value::Int(-7)),
            ("9223372036854775807", Value::Int(i64::MAX)),
            ("-9223372036854775808", Value::Int(i64::MIN)),
            (r#""a\"b\u00e9""#, Value::String("a\"bé".into())),
            (
                r#"[null, 1, "x", [true, []]]"#,
                Value::List(vec![
                    Value::Null,
                    Value::Int(1),
                    Value::String("x".into()),
                    Value::List(vec![Value::Bool(true), Value::List(vec![])]),
                ]),
            ),
            (r#"{"b": 1, "a": {}}"#, Value::Map(map)),
        ];
        for (text, expected) in cases {
            let read: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(read, expected, "{text}");
            let again: Value =
                serde_json::from_str(&serde_json::to_string(&read).unwrap_or_default())
                    .unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(again, expected, "{text} written and read again");
        }
        let repeated: Value = serde_json::from_str(r#"{"k": 1, "k": 2}"#).unwrap_or(Value::Null);
        assert_eq!(
            repeated.as_map().and_then(|m| m.get("k")),
            Some(&Value::Int(2))
        );
    }

    #[test]
    fn fractions_and_integers_beyond_i64_are_refused_with_what_was_expected() {
        for text in [
            "1.5",
            "-0.0",
            "1e3",
            "[1, 2.5]",
            r#"{"k": {"deep": 0.1}}"#,
            "9223372036854775808",
        ] {
            let err = serde_json::from_str::<Value>(text)
                .err()
                .unwrap_or_else(|| panic!("{text} was accepted"))
                .to_string();
            assert!(err.contains("expected an attribute value"), "{text}: {err}");
        }
    }
}
