//! The state file format: versioned JSON with resources and outputs sorted, so diffs are stable.
//!
//! ```json
//! { "version": 1, "serial": 7, "lineage": "…uuid…", "matihnet_version": "0.1.0",
//!   "resources": [ { "address": "dns_zone.acme", "attributes": {…}, "dependencies": [],
//!                    "tainted": false, "protect": true } ],
//!   "outputs": { "name_servers": { "value": [...], "sensitive": false } } }
//! ```

use std::collections::BTreeMap;

use matihnet_core::{Address, Attrs};
use serde::{Deserialize, Serialize};

use crate::model::{OutputValue, ResourceState, State, STATE_VERSION};

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("it is not a matihnet state file ({0}); it was left untouched")]
    Malformed(String),
    #[error(
        "it was written by a newer matihnet (state format version {found}, this build reads up to {supported}); upgrade matihnet. The file was left untouched"
    )]
    TooNew { found: u32, supported: u32 },
}

#[derive(Serialize, Deserialize)]
struct FileState {
    version: u32,
    serial: u64,
    lineage: String,
    #[serde(default)]
    matihnet_version: String,
    resources: Vec<FileResource>,
    #[serde(default)]
    outputs: BTreeMap<String, FileOutput>,
}

#[derive(Serialize, Deserialize)]
struct FileResource {
    address: Address,
    attributes: Attrs,
    #[serde(default)]
    dependencies: Vec<Address>,
    #[serde(default)]
    tainted: bool,
    #[serde(default)]
    protect: bool,
}

#[derive(Serialize, Deserialize)]
struct FileOutput {
    value: matihnet_core::Value,
    #[serde(default)]
    sensitive: bool,
}

#[derive(Deserialize)]
struct VersionOnly {
    version: u32,
}

pub fn encode(state: &State) -> Vec<u8> {
    let file = FileState {
        version: STATE_VERSION,
        serial: state.serial,
        lineage: state.lineage.clone(),
        matihnet_version: env!("CARGO_PKG_VERSION").to_string(),
        resources: state
            .resources
            .iter()
            .map(|(address, r)| FileResource {
                address: address.clone(),
                attributes: r.attributes.clone(),
                dependencies: r.dependencies.clone(),
                tainted: r.tainted,
                protect: r.protect,
            })
            .collect(),
        outputs: state
            .outputs
            .iter()
            .map(|(k, o)| {
                (
                    k.clone(),
                    FileOutput {
                        value: o.value.clone(),
                        sensitive: o.sensitive,
                    },
                )
            })
            .collect(),
    };
    // Serializing plain data into a Vec cannot fail; an empty file would be refused on read.
    let mut out = serde_json::to_vec_pretty(&file).unwrap_or_default();
    out.push(b'\n');
    out
}

pub fn decode(bytes: &[u8]) -> Result<State, FormatError> {
    let version: VersionOnly =
        serde_json::from_slice(bytes).map_err(|e| FormatError::Malformed(e.to_string()))?;
    if version.version > STATE_VERSION {
        return Err(FormatError::TooNew {
            found: version.version,
            supported: STATE_VERSION,
        });
    }
    let file: FileState =
        serde_json::from_slice(bytes).map_err(|e| FormatError::Malformed(e.to_string()))?;
    let mut resources = BTreeMap::new();
    for r in file.resources {
        let address = r.address.clone();
        let previous = resources.insert(
            r.address,
            ResourceState {
                attributes: r.attributes,
                dependencies: r.dependencies,
                tainted: r.tainted,
                protect: r.protect,
            },
        );
        if previous.is_some() {
            return Err(FormatError::Malformed(format!(
                "resource {address} appears twice"
            )));
        }
    }
    Ok(State {
        serial: file.serial,
        lineage: file.lineage,
        resources,
        outputs: file
            .outputs
            .into_iter()
            .map(|(k, o)| {
                (
                    k,
                    OutputValue {
                        value: o.value,
                        sensitive: o.sensitive,
                    },
                )
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use matihnet_core::Value;

    fn sample() -> State {
        let mut s = State::new();
        s.serial = 3;
        for name in ["b", "a", "c"] {
            let mut attrs = Attrs::new();
            attrs.insert("id".into(), Value::from(format!("id-{name}")));
            s.resources.insert(
                Address::new("dns_zone", name),
                ResourceState {
                    attributes: attrs,
                    dependencies: vec![Address::new("network", "main")],
                    tainted: name == "c",
                    protect: name == "a",
                },
            );
        }
        s.outputs.insert(
            "ns".into(),
            OutputValue {
                value: Value::string_list(["ns1"]),
                sensitive: false,
            },
        );
        s
    }

    #[test]
    fn round_trips() {
        let s = sample();
        assert_eq!(decode(&encode(&s)).unwrap(), s);
    }

    #[test]
    fn resources_are_written_sorted() {
        let text = String::from_utf8(encode(&sample())).unwrap();
        let a = text.find("dns_zone.a").unwrap();
        let b = text.find("dns_zone.b").unwrap();
        let c = text.find("dns_zone.c").unwrap();
        assert!(a < b && b < c);
    }

    #[test]
    fn newer_version_is_refused() {
        let text = br#"{"version": 99, "serial": 1, "lineage": "x", "resources": []}"#;
        assert!(matches!(
            decode(text),
            Err(FormatError::TooNew { found: 99, .. })
        ));
    }

    #[test]
    fn garbage_is_refused() {
        assert!(matches!(
            decode(b"{not json"),
            Err(FormatError::Malformed(_))
        ));
        assert!(matches!(decode(b""), Err(FormatError::Malformed(_))));
    }
}
