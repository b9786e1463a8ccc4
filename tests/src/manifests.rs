//! The independent validator for rendered Kubernetes manifests and Helm values files
//! (`tests/validate/validate_manifests.py`): run from a virtualenv under the target directory
//! (reused when present) holding pinned kubernetes-validate, jsonschema and PyYAML. When it cannot
//! be installed the test fails and says what is missing.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The pinned packages the validator was written against: the three it uses, and what they pull
/// in, so that a fresh install resolves to the same set.
const PACKAGES: [&str; 10] = [
    "kubernetes-validate==1.37.0",
    "jsonschema==4.26.0",
    "PyYAML==6.0.3",
    "referencing==0.37.0",
    "jsonschema-specifications==2025.9.1",
    "rpds-py==2026.9.1",
    "attrs==26.1.0",
    "importlib_resources==7.1.0",
    "packaging==26.4",
    "typing_extensions==4.16.0",
];

/// The target directory: tests run from `target/<profile>/deps/`.
fn venv_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let target = exe
        .parent()
        .and_then(|p| p.parent())
        .and_then(|p| p.parent())
        .map(|p| p.to_path_buf())
        .expect("target directory");
    target.join("manifests-venv")
}

/// The virtualenv's python, installing the packages first if needed (one installer at a time).
/// `pins.txt` in the virtualenv records what was installed; a different pin list reinstalls.
pub fn python() -> PathBuf {
    let dir = venv_dir();
    let py = dir.join("bin").join("python3");
    let stamp = dir.join("pins.txt");
    let pins = PACKAGES.join("\n");
    let installed = || std::fs::read_to_string(&stamp).is_ok_and(|s| s == pins);
    if installed() {
        return py;
    }
    std::fs::create_dir_all(dir.parent().expect("parent")).expect("target dir");
    let lock_path = dir.with_extension("lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .expect("manifests venv install lock");
    lock.lock().expect("lock manifests venv install");
    if !installed() {
        let venv = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&dir)
            .status()
            .expect("python3 is needed to run tests/validate/validate_manifests.py (the manifest validator)");
        assert!(
            venv.success(),
            "`python3 -m venv {}` failed: install python3-venv (apt-get install -y python3-venv)",
            dir.display()
        );
        let pip = Command::new(dir.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(PACKAGES)
            .output()
            .expect("pip in the manifests virtualenv");
        assert!(
            pip.status.success(),
            "pip install {} failed: the manifest validator needs these from PyPI\n{}{}",
            PACKAGES.join(" "),
            String::from_utf8_lossy(&pip.stdout),
            String::from_utf8_lossy(&pip.stderr)
        );
        std::fs::write(&stamp, &pins).expect("write the manifests venv's pins.txt");
    }
    py
}

/// Runs the validator on `dir`: whether it passed, and everything it printed.
pub fn validate_output(dir: &Path) -> (bool, String) {
    let script = crate::repo_root()
        .join("tests")
        .join("validate")
        .join("validate_manifests.py");
    let out = Command::new(python())
        .arg(&script)
        .arg(dir)
        .output()
        .expect("run validate_manifests.py");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Panics with the validator's full output unless every manifest and values file in `dir` is
/// valid.
#[track_caller]
pub fn validate(dir: &Path) {
    let (ok, text) = validate_output(dir);
    assert!(
        ok,
        "validate_manifests.py {} found problems:\n{text}",
        dir.display()
    );
}
