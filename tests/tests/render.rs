//! `matihnet render` end to end: after a real apply (AKS and GKE on the local cloud, EKS on
//! moto), every rendered file is snapshotted, validated against schemas nobody here wrote
//! (Kubernetes' own, cert-manager's, Calico's and the AWS Load Balancer Controller's CRDs,
//! ingress-nginx's chart values), re-rendered byte for byte, and passes `render --check`; and the
//! inputs render must refuse are refused without writing anything.

use std::path::{Path, PathBuf};

use matihnet_e2e::manifests;
use matihnet_e2e::moto::Moto;
use matihnet_e2e::{repo_root, Sandbox};

const SUB: &str = "00000000-0000-0000-0000-0000000000aa";

fn aks() -> Sandbox {
    Sandbox::with_example("aks.toml").with_env("AZURE_SUBSCRIPTION_ID", SUB)
}

/// Every file under `dir`, relative path and contents, sorted.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).expect("read rendered dir") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .expect("under root")
                    .to_string_lossy()
                    .to_string();
                out.push((rel, std::fs::read(&p).expect("read file")));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Renders twice (byte-identical), validates, checks with `render --check`, and snapshots every
/// file under `<provider>__<path>`.
fn render_and_verify(s: &Sandbox, provider: &str, env: &[(&str, &str)]) -> PathBuf {
    let run = s.run_with(&["render", "--out", "out"], env).expect_code(0);
    assert!(run.stdout().contains("Rendered"), "{}", run.stdout());
    let out = s.path("out");
    let first = files(&out);
    assert!(
        first.iter().any(|(p, _)| p == ".matihnet-render"),
        "the marker is written"
    );
    s.run_with(&["render", "--out", "out"], env).expect_code(0);
    assert_eq!(
        first,
        files(&out),
        "a re-render of the same state is byte-identical"
    );

    manifests::validate(&out);
    let check = s.run(&["render", "--check", "out"]).expect_code(0);
    assert!(check
        .stdout()
        .contains("every namespace has a default-deny"));

    let mut settings = insta::Settings::clone_current();
    // moto's ids are random; everything else is a value the provider recorded.
    settings.add_filter(
        r"targetgroup/([a-z0-9-]+)/[0-9a-f]{16}",
        "targetgroup/$1/[ID]",
    );
    settings.add_filter(r"hostedzone/[A-Z0-9]{8,32}", "hostedzone/[ZONE]");
    settings.add_filter(r"hostedZoneID: [A-Z0-9]{8,32}", "hostedZoneID: [ZONE]");
    settings.add_filter(r":\d{12}:", ":[ACCOUNT]:");
    settings.set_snapshot_suffix(provider);
    settings.bind(|| {
        for (path, bytes) in &first {
            let text = String::from_utf8(bytes.clone()).expect("rendered files are UTF-8");
            insta::assert_snapshot!(path.replace(['/', '.'], "_"), text);
        }
    });
    out
}

#[test]
fn aks_render_after_a_local_cloud_apply() {
    let s = aks();
    s.run(&["apply", "--local-cloud", "--auto-approve"])
        .expect_code(0);
    let out = render_and_verify(&s, "aks", &[]);
    let values = std::fs::read_to_string(out.join("ingress-nginx/tenant-acme.values.yaml"))
        .expect("tenant values");
    assert!(values.contains("service.beta.kubernetes.io/azure-pip-name: matih-prod-acme"));
    assert!(values.contains("name: nginx-tenant-acme"));

    // JSON for scripts: every manifest and values file parses, and the same schemas hold.
    s.run(&["render", "--out", "json", "--format", "json"])
        .expect_code(0);
    let json = files(&s.path("json"));
    for (path, bytes) in &json {
        if path.ends_with(".json") {
            serde_json::from_slice::<serde_json::Value>(bytes)
                .unwrap_or_else(|e| panic!("{path} is not JSON: {e}"));
        }
    }
    assert!(json
        .iter()
        .any(|(p, _)| p == "network-policies/matih-ingress.json"));
    manifests::validate(&s.path("json"));
}

#[test]
fn gke_render_after_a_local_cloud_apply() {
    let s = Sandbox::with_example("gke.toml");
    s.run(&["apply", "--local-cloud", "--auto-approve"])
        .expect_code(0);
    let out = render_and_verify(&s, "gke", &[]);
    let state = s.state();
    let ip = state["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["address"] == "frontend.platform")
        .and_then(|r| r["attributes"]["ip_address"].as_str())
        .expect("platform address")
        .to_string();
    let values = std::fs::read_to_string(out.join("ingress-nginx/platform.values.yaml"))
        .expect("platform values");
    assert!(
        values.contains(&format!("loadBalancerIP: {ip}")),
        "the reserved address binds the Service: {values}"
    );
}

#[test]
fn eks_render_after_an_apply_on_moto() {
    let moto = Moto::start();
    let vars = moto.env();
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = Sandbox::with_example("eks.toml");
    s.run_with(&["apply", "--auto-approve"], &env)
        .expect_code(0);
    let out = render_and_verify(&s, "eks", &env);
    let state = s.state();
    let arns: Vec<String> = state["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["address"] == "frontend.platform")
        .and_then(|r| r["attributes"]["target_group_arns"].as_array())
        .expect("target groups")
        .iter()
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    let bindings = std::fs::read_to_string(out.join("ingress-nginx/target-group-bindings.yaml"))
        .expect("bindings");
    for arn in &arns {
        assert!(bindings.contains(arn.as_str()), "{arn} is bound");
    }
}

#[test]
fn an_empty_state_is_refused_and_nothing_is_written() {
    let s = aks();
    let run = s.run(&["render", "--out", "out"]).expect_code(1);
    assert!(
        run.stderr().contains("records nothing") && run.stderr().contains("apply"),
        "{}",
        run.stderr()
    );
    assert!(!s.path("out").exists());
}

#[test]
fn a_state_that_does_not_match_the_file_is_refused_with_the_plan() {
    let s = aks();
    s.run(&["apply", "--local-cloud", "--auto-approve"])
        .expect_code(0);
    s.run(&["render", "--out", "out"]).expect_code(0);
    let before = files(&s.path("out"));

    // Another environment file (staging) pointed at prod's state.
    let text = std::fs::read_to_string(s.path("matihnet.toml"))
        .expect("config")
        .replace("name = \"prod\"", "name = \"staging\"")
        + "\n[state]\npath = \"matihnet.state.json\"\n";
    std::fs::write(s.path("staging.toml"), text).expect("write staging.toml");
    let run = s
        .run(&["-c", "staging.toml", "render", "--out", "out"])
        .expect_code(1);
    let err = run.stderr();
    assert!(err.contains("does not match staging.toml"), "{err}");
    assert!(err.contains("another environment file"), "{err}");
    assert!(
        err.contains("network.main"),
        "the resources that differ are named: {err}"
    );
    // The file grew a tenant that was never applied.
    let grown = std::fs::read_to_string(s.path("matihnet.toml")).expect("config")
        + "\n[[tenant]]\nslug = \"hooli\"\n";
    std::fs::write(s.path("matihnet.toml"), grown).expect("write");
    let run = s.run(&["render", "--out", "out"]).expect_code(1);
    let err = run.stderr();
    assert!(err.contains("to add"), "{err}");
    assert!(err.contains("dns_zone.hooli"), "the plan is shown: {err}");
    assert_eq!(
        before,
        files(&s.path("out")),
        "the previous render is left as it was"
    );
}

#[test]
fn an_unwritable_out_is_refused_and_nothing_is_half_written() {
    let s = aks();
    s.run(&["apply", "--local-cloud", "--auto-approve"])
        .expect_code(0);
    std::fs::write(s.path("a-file"), "not a directory").expect("write");
    let run = s
        .run(&["render", "--out", "a-file/rendered"])
        .expect_code(1);
    assert!(run.stderr().contains("a-file"), "{}", run.stderr());

    // A directory render did not write is never replaced.
    std::fs::create_dir(s.path("mine")).expect("mkdir");
    std::fs::write(s.path("mine/notes.txt"), "keep me").expect("write");
    let run = s.run(&["render", "--out", "mine"]).expect_code(1);
    assert!(
        run.stderr()
            .contains("was not written by `matihnet render`"),
        "{}",
        run.stderr()
    );
    assert_eq!(
        std::fs::read_to_string(s.path("mine/notes.txt")).expect("kept"),
        "keep me"
    );
    let leftovers: Vec<String> = std::fs::read_dir(s.dir.path())
        .expect("sandbox")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("rendering") || n.contains("previous"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no staging directory is left: {leftovers:?}"
    );
}

#[test]
fn a_file_without_cert_manager_is_told_what_to_add() {
    let text = std::fs::read_to_string(repo_root().join("examples/gke.toml")).expect("example");
    let cut = text
        .find("\n# What `matihnet render` needs")
        .expect("cert_manager block");
    let s = Sandbox::with_config(&text[..cut]);
    s.run(&["apply", "--local-cloud", "--auto-approve"])
        .expect_code(0);
    let run = s.run(&["render", "--out", "out"]).expect_code(1);
    let err = run.stderr();
    assert!(
        err.contains("matihnet.toml: render needs a [cert_manager] section"),
        "{err}"
    );
    assert!(err.contains("email = "), "{err}");
    assert!(!s.path("out").exists());
}

#[test]
fn check_flags_9092_missing_default_deny_and_unlisted_ports() {
    let s = Sandbox::with_config("");
    std::fs::create_dir(s.path("m")).expect("mkdir");
    std::fs::write(
        s.path("m/kafka.yaml"),
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: default-deny, namespace: apps}\nspec: {podSelector: {}, policyTypes: [Ingress, Egress]}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: kafka-plain, namespace: apps}\nspec:\n  podSelector: {}\n  egress:\n  - ports: [{port: 9092, protocol: TCP}]\n",
    )
    .expect("write");
    std::fs::write(
        s.path("m/open.json"),
        r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"projectcalico.org/v3","kind":"NetworkPolicy","metadata":{"name":"web","namespace":"shop"},"spec":{"selector":"all()","types":["Ingress"],"ingress":[{"action":"Allow","protocol":"TCP","destination":{"ports":["3000:3100"]}}]}}]}"#,
    )
    .expect("write");
    let run = s.run(&["render", "--check", "m"]).expect_code(1);
    let out = run.stdout();
    assert!(
        out.contains("m/kafka.yaml: NetworkPolicy/apps/kafka-plain: egress rule 1 opens Kafka's plaintext port 9092"),
        "{out}"
    );
    assert!(
        out.contains("m/open.json: NetworkPolicy/shop/web: ingress rule 1 allows TCP 3000-3100, which the port table does not name"),
        "{out}"
    );
    assert!(
        out.contains("namespace `shop` has no default-deny for Ingress and Egress"),
        "{out}"
    );
    assert!(
        !out.contains("namespace `apps` has no default-deny"),
        "{out}"
    );
}
