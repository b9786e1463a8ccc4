//! The reference traffic the conformance tests replay lives in the repository, with a licence
//! and a provenance line for every file, so a fresh clone needs nothing beside it.

use std::path::{Path, PathBuf};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn data_files(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n != "README.md")
        .collect();
    out.sort();
    out
}

#[test]
fn issue9_item14_every_reference_file_is_vendored_with_provenance_and_licence() {
    let root = crate_dir().join("tests/reference");
    for licence in ["Apache-2.0.txt", "MIT-Microsoft.txt", "CC-BY-4.0.txt"] {
        let path = root.join("licenses").join(licence);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("licence {} missing: {e}", path.display()));
        assert!(
            text.len() > 200,
            "{} is too short to be a licence",
            path.display()
        );
    }
    for cloud in ["azure", "gcp"] {
        let dir = root.join(cloud);
        let readme = std::fs::read_to_string(dir.join("README.md"))
            .unwrap_or_else(|e| panic!("{cloud}/README.md missing: {e}"));
        let files = data_files(&dir);
        assert!(
            files.len() >= 8,
            "{cloud}: only {} reference files",
            files.len()
        );
        for f in &files {
            assert!(
                readme.contains(f.as_str()),
                "{cloud}/{f} has no provenance line in {cloud}/README.md: add its source, commit and licence"
            );
            // A folder's files are named in the cloud's README or in the folder's own.
            let sub = dir.join(f);
            if sub.is_dir() {
                let own = std::fs::read_to_string(sub.join("README.md")).unwrap_or_default();
                for inner in data_files(&sub) {
                    assert!(
                        readme.contains(&inner) || own.contains(&inner),
                        "{cloud}/{f}/{inner} has no provenance line in {cloud}/README.md or {cloud}/{f}/README.md"
                    );
                }
            }
        }
    }
}

#[test]
fn issue9_item14_no_test_or_script_reads_outside_the_repository() {
    // The workspace root is two levels up from this crate.
    let workspace = crate_dir().join("../..");
    let mut offenders = Vec::new();
    let mut stack = vec![workspace.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if path.is_dir() {
                if !matches!(name.as_str(), "target" | ".git" | "reference") {
                    stack.push(path);
                }
                continue;
            }
            let scanned = name.ends_with(".rs")
                || name.ends_with(".sh")
                || path
                    .parent()
                    .and_then(|p| p.file_name())
                    .is_some_and(|dir| dir == "scripts" || dir == ".ci");
            if !scanned {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            // Spelled in two pieces so this file does not match itself.
            let needle = format!("../{}", "shared/");
            if text.contains(&needle) {
                offenders.push(path.display().to_string());
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "these files read the shared folder beside the repository, which a fresh clone does not have: {offenders:?}"
    );
}
