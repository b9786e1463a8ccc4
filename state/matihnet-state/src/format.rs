//! The state file format: versioned JSON with resources and outputs sorted, so diffs are stable.
//!
//! ```json
//! { "version": 1, "serial": 7, "lineage": "…uuid…", "matihnet_version": "0.1.0",
//!   "resources": [ { "address": "dns_zone.acme", "attributes": {…}, "dependencies": [],
//!                    "tainted": false, "protect": true } ],
//!   "outputs": { "name_servers": { "value": [...], "sensitive": false } } }
//! ```

use std::collections::BTreeMap;

use matihnet_core::{Address, Attrs, Value};
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
    #[error(
        "it was written by matihnet {found}, newer than this build ({this}), which may not understand what it recorded; upgrade matihnet to {found} or later. The file was left untouched"
    )]
    NewerMatihnet { found: String, this: String },
}

/// The file as read. (Written from [`FileStateRef`], which borrows the state instead.)
#[derive(Deserialize)]
struct FileState {
    /// Checked by [`VersionOnly`] first; kept so that the file's shape is checked as before.
    #[allow(dead_code)]
    version: u32,
    serial: u64,
    lineage: String,
    /// Absent only in files written before it was recorded.
    #[serde(default)]
    matihnet_version: Option<String>,
    resources: Vec<FileResource>,
    #[serde(default)]
    outputs: BTreeMap<String, FileOutput>,
}

#[derive(Deserialize)]
struct FileResource {
    address: Address,
    attributes: Attrs,
    #[serde(default)]
    dependencies: Vec<Address>,
    #[serde(default)]
    tainted: bool,
    #[serde(default)]
    protect: bool,
    #[serde(default)]
    existing: bool,
}

#[derive(Deserialize)]
struct FileOutput {
    value: Value,
    #[serde(default)]
    sensitive: bool,
}

/// The file as written: the same fields in the same order as [`FileState`], borrowed from the
/// state, so that encoding a large state costs its bytes and not a copy of every value first.
#[derive(Serialize)]
struct FileStateRef<'a> {
    version: u32,
    serial: u64,
    lineage: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    matihnet_version: Option<&'a str>,
    resources: Vec<FileResourceRef<'a>>,
    outputs: BTreeMap<&'a str, FileOutputRef<'a>>,
}

#[derive(Serialize)]
struct FileResourceRef<'a> {
    address: &'a Address,
    attributes: &'a Attrs,
    dependencies: Vec<&'a Address>,
    tainted: bool,
    protect: bool,
    /// Written only when set, so that states without existing objects read as before.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    existing: bool,
}

#[derive(Serialize)]
struct FileOutputRef<'a> {
    value: &'a Value,
    sensitive: bool,
}

#[derive(Deserialize)]
struct VersionOnly {
    version: u32,
}

pub fn encode(state: &State) -> Vec<u8> {
    let file = FileStateRef {
        version: STATE_VERSION,
        serial: state.serial,
        lineage: &state.lineage,
        matihnet_version: Some(env!("CARGO_PKG_VERSION")),
        resources: state
            .resources
            .iter()
            .map(|(address, r)| FileResourceRef {
                address,
                attributes: &r.attributes,
                // A dependency orders this resource against another that exists; while that
                // one is absent (deleted outside matihnet, or mid-replace) it orders nothing, and
                // the file never names what it does not record. The in-memory state keeps it, so
                // it is written again once the other resource is recorded.
                dependencies: r
                    .dependencies
                    .iter()
                    .filter(|d| state.resources.contains_key(*d))
                    .collect(),
                tainted: r.tainted,
                protect: r.protect,
                existing: r.existing,
            })
            .collect(),
        outputs: state
            .outputs
            .iter()
            .map(|(k, o)| {
                (
                    k.as_str(),
                    FileOutputRef {
                        value: &o.value,
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
    if let Some(found) = &file.matihnet_version {
        check_writer_version(found)?;
    }
    if file.lineage.trim().is_empty() {
        return Err(FormatError::Malformed(
            "its lineage is empty; every state has the lineage it was created with, so this file was edited or truncated (restore it from the .backup beside it)".into(),
        ));
    }
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
                existing: r.existing,
            },
        );
        if previous.is_some() {
            return Err(FormatError::Malformed(format!(
                "resource {address} appears twice"
            )));
        }
    }
    check_dependencies(&resources)?;
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

/// `MAJOR.MINOR.PATCH`, optionally followed by `-pre` or `+build` (ignored when comparing).
fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let core = v.split(['-', '+']).next()?;
    let mut parts = core.split('.');
    let mut next = || -> Option<u64> {
        let p = parts.next()?;
        if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) || p.len() > 9 {
            return None;
        }
        p.parse().ok()
    };
    let version = (next()?, next()?, next()?);
    parts.next().is_none().then_some(version)
}

fn check_writer_version(found: &str) -> Result<(), FormatError> {
    let this = env!("CARGO_PKG_VERSION");
    let Some(theirs) = parse_version(found) else {
        return Err(FormatError::Malformed(format!(
            "its matihnet_version {found:?} is not a version (expected MAJOR.MINOR.PATCH, as matihnet writes)"
        )));
    };
    match parse_version(this) {
        Some(ours) if theirs > ours => Err(FormatError::NewerMatihnet {
            found: found.to_string(),
            this: this.to_string(),
        }),
        _ => Ok(()),
    }
}

/// Every recorded dependency names a recorded resource other than itself, and they form no
/// cycle: deletes are ordered by them, and a cycle or a dangling name would order nothing.
fn check_dependencies(resources: &BTreeMap<Address, ResourceState>) -> Result<(), FormatError> {
    // Resources are numbered in address order, each dependency looked up once: the search below
    // then works on numbers instead of looking addresses up again and again in a large state.
    let addrs: Vec<&Address> = resources.keys().collect();
    let mut deps: Vec<Vec<usize>> = Vec::with_capacity(addrs.len());
    for (addr, r) in resources {
        let mut mine = Vec::with_capacity(r.dependencies.len());
        for d in &r.dependencies {
            if d == addr {
                return Err(FormatError::Malformed(format!(
                    "resource {addr} depends on itself"
                )));
            }
            match addrs.binary_search(&d) {
                Ok(i) => mine.push(i),
                Err(_) => {
                    return Err(FormatError::Malformed(format!(
                        "resource {addr} depends on {d}, which the state does not record"
                    )))
                }
            }
        }
        deps.push(mine);
    }
    // Depth-first search with three colours; iterative, so a long chain cannot overflow the stack.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; addrs.len()];
    for start in 0..addrs.len() {
        if mark[start] != Mark::New {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        mark[start] = Mark::Open;
        while let Some((node, next)) = stack.last_mut() {
            if let Some(&d) = deps[*node].get(*next) {
                *next += 1;
                match mark[d] {
                    Mark::New => {
                        mark[d] = Mark::Open;
                        stack.push((d, 0));
                    }
                    Mark::Open => {
                        let from = stack.iter().position(|(a, _)| *a == d).unwrap_or(0);
                        let mut cycle: Vec<String> = stack[from..]
                            .iter()
                            .map(|(a, _)| addrs[*a].to_string())
                            .collect();
                        cycle.push(addrs[d].to_string());
                        return Err(FormatError::Malformed(format!(
                            "its dependencies form a cycle: {}",
                            cycle.join(" -> ")
                        )));
                    }
                    Mark::Done => {}
                }
            } else {
                mark[*node] = Mark::Done;
                stack.pop();
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use matihnet_core::Value;

    fn sample() -> State {
        let mut s = State::new();
        s.serial = 3;
        s.resources.insert(
            Address::new("network", "main"),
            ResourceState {
                attributes: Attrs::new(),
                dependencies: vec![],
                tainted: false,
                protect: false,
                existing: false,
            },
        );
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
                    existing: false,
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

    fn with(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let mut v: serde_json::Value = serde_json::from_slice(&encode(&sample())).unwrap();
        edit(&mut v);
        serde_json::to_vec(&v).unwrap()
    }

    fn malformed(bytes: &[u8]) -> String {
        match decode(bytes) {
            Err(FormatError::Malformed(m)) => m,
            other => panic!("expected a malformed state, got {other:?}"),
        }
    }

    #[test]
    fn issue9_item9_a_newer_or_unparseable_matihnet_version_is_refused() {
        let newer = with(|v| v["matihnet_version"] = "999.0.0".into());
        match decode(&newer) {
            Err(e @ FormatError::NewerMatihnet { .. }) => {
                let text = e.to_string();
                assert!(
                    text.contains("999.0.0") && text.contains("upgrade matihnet"),
                    "{text}"
                );
            }
            other => panic!("expected NewerMatihnet, got {other:?}"),
        }
        for bad in ["", "latest", "1.2", "1.2.3.4", "1.x.0", "-1.0.0"] {
            let bytes = with(|v| v["matihnet_version"] = bad.into());
            assert!(malformed(&bytes).contains("is not a version"), "{bad:?}");
        }
        let bytes = with(|v| v["matihnet_version"] = 7.into());
        malformed(&bytes);
        // The same or an older writer is fine, as is a file from before the field existed.
        for ok in [env!("CARGO_PKG_VERSION"), "0.0.1", "0.1.0-rc.1"] {
            decode(&with(|v| v["matihnet_version"] = ok.into())).unwrap();
        }
        decode(&with(|v| {
            v.as_object_mut().unwrap().remove("matihnet_version");
        }))
        .unwrap();
    }

    #[test]
    fn issue9_item9_an_empty_lineage_is_refused() {
        for empty in ["", "  "] {
            let bytes = with(|v| v["lineage"] = empty.into());
            assert!(malformed(&bytes).contains("lineage is empty"));
        }
    }

    #[test]
    fn issue9_item9_unknown_self_and_cyclic_dependencies_are_refused() {
        let unknown = with(|v| v["resources"][0]["dependencies"] = serde_json::json!(["subnet.x"]));
        assert!(
            malformed(&unknown).contains("depends on subnet.x, which the state does not record")
        );
        let own = with(|v| v["resources"][0]["dependencies"] = serde_json::json!(["dns_zone.a"]));
        assert!(malformed(&own).contains("dns_zone.a depends on itself"));
        let cycle = with(|v| {
            v["resources"][0]["dependencies"] = serde_json::json!(["dns_zone.b"]);
            v["resources"][1]["dependencies"] = serde_json::json!(["dns_zone.c"]);
            v["resources"][2]["dependencies"] = serde_json::json!(["dns_zone.a"]);
        });
        let m = malformed(&cycle);
        assert!(
            m.contains("cycle: dns_zone.a -> dns_zone.b -> dns_zone.c -> dns_zone.a"),
            "{m}"
        );
    }

    #[test]
    fn a_dependency_on_an_absent_resource_is_not_written() {
        // Mid-replace, or after a refresh found it deleted outside matihnet.
        let mut s = sample();
        let kept = decode(&encode(&s)).unwrap();
        assert_eq!(
            kept.resources[&Address::new("dns_zone", "a")].dependencies,
            vec![Address::new("network", "main")]
        );
        s.resources.remove(&Address::new("network", "main"));
        let dropped = decode(&encode(&s)).unwrap();
        assert!(dropped.resources[&Address::new("dns_zone", "a")]
            .dependencies
            .is_empty());
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
