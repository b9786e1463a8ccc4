//! The manifest validator (`tests/validate/validate_manifests.py`, run through
//! `matihnet_e2e::manifests`) is itself held to fixtures: it accepts the correct objects under
//! `fixtures/manifests/good/` and rejects each file under `fixtures/manifests/bad/` with the
//! message that names its one mistake.

use std::path::{Path, PathBuf};

use matihnet_e2e::manifests;

fn fixtures(which: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join("manifests")
        .join(which)
}

/// Every file under `bad/`: `(file, "Kind/name", how the message starts, how many problems in
/// all)`.
const BAD: &[(&str, &str, &str, usize)] = &[
    (
        "networkpolicy-misspelled-field.yaml",
        "NetworkPolicy/misspelled",
        "spec.podSelectr: unknown field (did you mean \"podSelector\"?)",
        // and, the real field being absent, "spec.podSelector: required field is missing"
        2,
    ),
    (
        "clusterissuer-wrong-type.yaml",
        "ClusterIssuer/wrong-type",
        "spec.acme.skipTLSVerify: 'yes' is not of type 'boolean'",
        1,
    ),
    (
        "unknown-key.values.yaml",
        "HelmValues/ingress-nginx",
        "controller.service.loadBalancerIp: unknown key path (not in the ingress-nginx chart's values.yaml) (did you mean \"loadBalancerIP\"?)",
        1,
    ),
    (
        "unknown-kind.yaml",
        "NetworkPolcy/unknown-kind",
        "no schema for networking.k8s.io/v1 NetworkPolcy (not a Kubernetes 1.33 kind)",
        1,
    ),
    (
        "unknown-group.yaml",
        "Widget/unknown-group",
        "no schema for example.com/v1 Widget",
        1,
    ),
    (
        "targetgroupbinding-unknown-field.yaml",
        "TargetGroupBinding/unknown-field",
        "spec.serviceRef.prot: unknown field (did you mean \"port\"?)",
        // and "spec.serviceRef.port: required field is missing"
        2,
    ),
];

#[test]
fn accepts_every_good_fixture_and_lists_what_it_skipped() {
    let good = fixtures("good");
    manifests::validate(&good);
    let (ok, out) = manifests::validate_output(&good);
    assert!(ok, "{out}");
    // namespace-and-networkpolicy.yaml (2), configmap.json (a List of 1), clusterissuer.yaml,
    // calico-globalnetworkpolicy.yaml (2), targetgroupbinding.yaml, ingress-nginx.values.yaml
    assert!(
        out.lines()
            .any(|l| l == "validated 8 objects in 6 files, 0 problems"),
        "{out}"
    );
    let readme = good.join("README.md");
    assert!(
        out.lines()
            .any(|l| l == format!("skipped: {}", readme.display())),
        "README.md is not a manifest and must be listed as skipped:\n{out}"
    );
}

#[test]
fn rejects_each_bad_fixture_with_the_message_naming_its_mistake() {
    let mut failures = Vec::new();
    for (file, who, message, problems) in BAD {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(file);
        std::fs::copy(fixtures("bad").join(file), &path).expect("copy the fixture");
        let (ok, out) = manifests::validate_output(dir.path());
        let line = format!("{}: {who}: {message}", path.display());
        let summary = format!("validated 1 objects in 1 files, {problems} problems");
        if ok || !out.lines().any(|l| l.starts_with(&line)) || !out.lines().any(|l| l == summary) {
            failures.push(format!(
                "{file}: expected a failure with\n  {line}\n  {summary}\ngot (passed: {ok}):\n{out}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_bad_fixture_has_its_expected_message() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures("bad"))
        .expect("fixtures/manifests/bad")
        .map(|e| {
            e.expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = BAD.iter().map(|(f, ..)| f.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "BAD must list every file under bad/");
}

#[test]
fn a_directory_with_no_manifest_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("matihnet.env"), "AWS_REGION=eu-west-1\n").expect("write");
    let (ok, out) = manifests::validate_output(dir.path());
    assert!(!ok, "nothing was validated, yet it passed:\n{out}");
    assert!(
        out.contains("validated 0 objects in 0 files, 0 problems"),
        "{out}"
    );
    assert!(out.contains("no object was validated"), "{out}");
}
