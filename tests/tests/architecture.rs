//! The crate graph keeps to ARCHITECTURE.md: every dependency between the workspace's own crates
//! (from `cargo metadata`) must be named in its `allowed-edges` block, and every crate named
//! there must exist, so the list cannot silently go stale.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// `crate -> (normal edges, test-only edges)` from the fenced `allowed-edges` block.
fn allowed() -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
    let path = matihnet_e2e::repo_root().join("ARCHITECTURE.md");
    let text = std::fs::read_to_string(&path).expect("ARCHITECTURE.md at the repository root");
    let block = text
        .split("```allowed-edges\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("ARCHITECTURE.md has an ```allowed-edges block");
    let mut out = BTreeMap::new();
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        let (name, deps) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("allowed-edges line without `crate:`: {line}"));
        let mut normal = BTreeSet::new();
        let mut dev = BTreeSet::new();
        for d in deps.split_whitespace() {
            match d.strip_prefix("dev:") {
                Some(d) => dev.insert(d.to_string()),
                None => normal.insert(d.to_string()),
            };
        }
        out.insert(name.trim().to_string(), (normal, dev));
    }
    out
}

#[test]
fn every_internal_dependency_edge_is_allowed_by_architecture_md() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(matihnet_e2e::repo_root())
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&output.stdout).expect("metadata JSON");
    let packages = meta["packages"].as_array().expect("packages");
    let ours: BTreeSet<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect();
    let allowed = allowed();
    let mut problems = Vec::new();
    for name in allowed.keys() {
        if !ours.contains(name) {
            problems.push(format!(
                "ARCHITECTURE.md names {name}, which is not a workspace crate"
            ));
        }
    }
    for p in packages {
        let name = p["name"].as_str().expect("name");
        let Some((normal, dev)) = allowed.get(name) else {
            problems.push(format!(
                "{name} is missing from ARCHITECTURE.md's allowed-edges"
            ));
            continue;
        };
        for d in p["dependencies"].as_array().expect("dependencies") {
            let dep = d["name"].as_str().expect("dependency name");
            if !ours.contains(dep) {
                continue;
            }
            let test_only = d["kind"].as_str() == Some("dev");
            let ok = normal.contains(dep) || (test_only && dev.contains(dep));
            if !ok {
                problems.push(format!(
                    "{name} -> {dep}{} is not allowed by ARCHITECTURE.md",
                    if test_only { " (dev)" } else { "" }
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
