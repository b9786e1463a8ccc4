//! Resource addresses such as `dns_zone.acme`: the stable name of a resource in plans and state.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `kind.name`: the resource type and a name unique within that type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub kind: String,
    pub name: String,
}

impl Address {
    pub fn new(kind: impl Into<String>, name: impl Into<String>) -> Self {
        Address {
            kind: kind.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind, self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a resource address: expected TYPE.NAME, for example `dns_zone.acme`")]
pub struct AddressParseError {
    pub input: String,
}

fn is_part(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl FromStr for Address {
    type Err = AddressParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || AddressParseError {
            input: s.to_string(),
        };
        let (kind, name) = s.split_once('.').ok_or_else(err)?;
        if !is_part(kind) || !is_part(name) {
            return Err(err());
        }
        Ok(Address::new(kind, name))
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        let a: Address = "dns_zone.acme".parse().unwrap();
        assert_eq!(a, Address::new("dns_zone", "acme"));
        assert_eq!(a.to_string(), "dns_zone.acme");
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "zone", ".acme", "zone.", "a.b.c", "a b.c"] {
            assert!(bad.parse::<Address>().is_err(), "{bad} parsed");
        }
    }
}
