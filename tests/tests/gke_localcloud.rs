//! The GKE provider end to end: the built binary on `examples/gke.toml` against
//! `matihnet local-cloud`, objects checked through the emulator's Compute and Cloud DNS API;
//! drift (a deleted NS record, an edited secondary range), faults, crash safety and destroy.

use matihnet_e2e::localcloud::LocalCloud;
use matihnet_e2e::{Run, Sandbox};
use serde_json::{json, Value};

const PROJECT: &str = "matih-prod";
const REGION: &str = "europe-west1";

fn sandbox() -> Sandbox {
    Sandbox::with_example("gke.toml")
}

fn run(s: &Sandbox, cloud: &LocalCloud, args: &[&str]) -> Run {
    let endpoint = cloud.endpoint();
    s.run_with(args, &[("MATIHNET_GCP_ENDPOINT", endpoint.as_str())])
}

fn compute(path: &str) -> String {
    format!("/compute/v1/projects/{PROJECT}/{path}")
}

fn dns(path: &str) -> String {
    format!("/dns/v1/projects/{PROJECT}/managedZones{path}")
}

fn items(v: &Value, key: &str) -> Vec<Value> {
    v[key].as_array().cloned().unwrap_or_default()
}

fn assert_environment(cloud: &LocalCloud, tenants: &[&str]) {
    let network = cloud.get(&compute("global/networks/matih-prod"));
    assert_eq!(network["autoCreateSubnetworks"], false);
    let subnet = cloud.get(&compute(&format!(
        "regions/{REGION}/subnetworks/matih-prod-nodes"
    )));
    assert_eq!(subnet["privateIpGoogleAccess"], true);
    let mut ranges: Vec<(String, String)> = items(&subnet, "secondaryIpRanges")
        .iter()
        .map(|r| {
            (
                r["rangeName"].as_str().unwrap_or_default().to_string(),
                r["ipCidrRange"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    ranges.sort();
    assert_eq!(
        ranges,
        [
            ("pods".to_string(), "10.4.0.0/14".to_string()),
            ("services".to_string(), "10.8.0.0/20".to_string())
        ]
    );
    let addresses = items(
        &cloud.get(&compute(&format!("regions/{REGION}/addresses"))),
        "items",
    );
    assert_eq!(
        addresses.len(),
        2,
        "platform + the dedicated tenant: {addresses:?}"
    );
    let ip_of = |name: &str| {
        addresses
            .iter()
            .find(|a| a["name"] == name)
            .map(|a| a["address"].clone())
            .unwrap_or_else(|| panic!("address {name}"))
    };
    for a in &addresses {
        assert_eq!(a["labels"]["matihnet-environment"], "prod");
    }
    let zones = items(&cloud.get(&dns("")), "managedZones");
    assert_eq!(zones.len(), 1 + tenants.len() + 1, "{zones:?}");
    let rrset = |zone: &str, name: &str, kind: &str| {
        cloud.get(&dns(&format!("/{zone}/rrsets/{name}/{kind}")))
    };
    for child in tenants.iter().chain(&["staging"]) {
        let zone = cloud.get(&dns(&format!("/matih-prod-{child}")));
        let ns = rrset("matih-prod-platform", &format!("{child}.matih.ai."), "NS");
        assert_eq!(
            ns["rrdatas"], zone["nameServers"],
            "{child}'s delegation lists its own zone's name servers"
        );
    }
    assert_eq!(
        rrset("matih-prod-platform", "api.matih.ai.", "A")["rrdatas"][0],
        ip_of("matih-prod-platform")
    );
    for t in tenants {
        let target = if *t == "acme" {
            "matih-prod-acme"
        } else {
            "matih-prod-platform"
        };
        for name in [format!("{t}.matih.ai."), format!("*.{t}.matih.ai.")] {
            assert_eq!(
                rrset(&format!("matih-prod-{t}"), &name, "A")["rrdatas"][0],
                ip_of(target),
                "{name}"
            );
        }
    }
}

fn unprotect(s: &Sandbox) {
    let text = std::fs::read_to_string(s.path("matihnet.toml")).expect("config");
    std::fs::write(
        s.path("matihnet.toml"),
        text.replace("protect = true", "protect = false"),
    )
    .expect("write");
}

#[test]
fn gke_lifecycle_against_the_local_google_cloud() {
    let cloud = LocalCloud::start("50ms");
    let s = sandbox();
    run(&s, &cloud, &["plan", "--detailed-exitcode"]).expect_code(2);
    run(&s, &cloud, &["apply", "--auto-approve"]).expect_code(0);
    assert_environment(&cloud, &["acme", "bigcorp", "initech"]);
    run(&s, &cloud, &["plan", "--detailed-exitcode"]).expect_code(0);

    // Drift 1: a tenant's delegation deleted behind matihnet's back.
    let ns = cloud.get(&dns("/matih-prod-platform/rrsets/initech.matih.ai./NS"));
    let (status, body) = cloud.request(
        "POST",
        &dns("/matih-prod-platform/changes"),
        Some(&json!({"deletions": [ns]})),
    );
    assert_eq!(status, 200, "{body}");
    let plan = run(&s, &cloud, &["plan", "--detailed-exitcode"]).expect_code(2);
    assert!(
        plan.stdout()
            .contains("dns_record.initech_ns has been deleted"),
        "{}",
        plan.stdout()
    );
    run(&s, &cloud, &["apply", "--auto-approve"]).expect_code(0);
    run(&s, &cloud, &["plan", "--detailed-exitcode"]).expect_code(0);

    // Drift 2: the services secondary range removed in the console: adding it back is in place.
    let path = compute(&format!("regions/{REGION}/subnetworks/matih-prod-nodes"));
    let patch_ranges = |ranges: Vec<Value>| {
        let subnet = cloud.get(&path);
        let (status, body) = cloud.request(
            "PATCH",
            &path,
            Some(&json!({"secondaryIpRanges": ranges, "fingerprint": subnet["fingerprint"]})),
        );
        assert_eq!(status, 200, "{body}");
        // The patch is an operation: let it finish.
        std::thread::sleep(std::time::Duration::from_millis(200));
        let _ = cloud.get(&path);
    };
    let pods = json!({"rangeName": "pods", "ipCidrRange": "10.4.0.0/14"});
    patch_ranges(vec![pods.clone()]);
    let plan = run(&s, &cloud, &["plan", "--detailed-exitcode"]).expect_code(2);
    let out = plan.stdout();
    assert!(out.contains("subnet.nodes has changed"), "{out}");
    assert!(
        out.contains("subnet.nodes will be updated in-place"),
        "{out}"
    );
    run(&s, &cloud, &["apply", "--auto-approve"]).expect_code(0);
    run(&s, &cloud, &["plan", "--detailed-exitcode"]).expect_code(0);

    // Drift 3: the services range edited (removed, then added with another block): GCP cannot
    // edit a secondary range in place, so the plan replaces the subnetwork and says why.
    patch_ranges(vec![pods.clone()]);
    patch_ranges(vec![
        pods,
        json!({"rangeName": "services", "ipCidrRange": "10.9.0.0/20"}),
    ]);
    let plan = run(&s, &cloud, &["plan", "--detailed-exitcode"]).expect_code(2);
    let out = plan.stdout();
    assert!(out.contains("subnet.nodes has changed"), "{out}");
    assert!(out.contains("subnet.nodes must be replaced"), "{out}");
    assert!(
        out.contains("secondary_ranges") && out.contains("# forces replacement"),
        "{out}"
    );
    run(&s, &cloud, &["apply", "--auto-approve"]).expect_code(0);
    run(&s, &cloud, &["plan", "--detailed-exitcode"]).expect_code(0);
    assert_environment(&cloud, &["acme", "bigcorp", "initech"]);

    // 429 and 503 are retried.
    let (status, _) = cloud.request(
        "POST",
        "/_localcloud/gcp/faults",
        Some(&json!({"throttle": {"count": 2}, "unavailable": {"count": 1}})),
    );
    assert_eq!(status, 200);
    unprotect(&s);
    run(&s, &cloud, &["apply", "--auto-approve"]).expect_code(0);

    // A record matihnet did not make (cert-manager's challenge) keeps its zone: the 400
    // containerNotEmpty is recognised by its reason, and destroy says what to do.
    let challenge = json!({"name": "_acme-challenge.acme.matih.ai.", "type": "TXT", "ttl": 60, "rrdatas": ["\"token\""]});
    let (status, body) = cloud.request("POST", &dns("/matih-prod-acme/rrsets"), Some(&challenge));
    assert_eq!(status, 200, "{body}");
    let r = run(&s, &cloud, &["destroy", "--auto-approve"]).expect_code(1);
    assert!(
        r.stderr()
            .contains("still holds records matihnet did not create"),
        "{}",
        r.stderr()
    );
    let (status, _) = cloud.request(
        "DELETE",
        &dns("/matih-prod-acme/rrsets/_acme-challenge.acme.matih.ai./TXT"),
        None,
    );
    assert_eq!(status, 200);
    run(&s, &cloud, &["destroy", "--auto-approve"]).expect_code(0);
    assert_eq!(cloud.status(&compute("global/networks/matih-prod")), 404);
    assert!(items(&cloud.get(&dns("")), "managedZones").is_empty());
    assert!(items(
        &cloud.get(&compute(&format!("regions/{REGION}/addresses"))),
        "items"
    )
    .is_empty());
}

#[test]
fn issue9_item10_transient_failed_operations_are_retried_inside_one_apply() {
    let cloud = LocalCloud::start("20ms");
    let s = sandbox();
    let (status, _) = cloud.request(
        "POST",
        "/_localcloud/gcp/faults",
        Some(&json!({"fail_operations": {"count": 2}})),
    );
    assert_eq!(status, 200);
    let r = run(&s, &cloud, &["apply", "--auto-approve"]).expect_code(0);
    assert!(
        r.stdout().contains("retrying in") && r.stdout().contains("INTERNAL_ERROR"),
        "the progress line says it is retrying and why:\n{}",
        r.stdout()
    );
    run(&s, &cloud, &["plan", "--detailed-exitcode"]).expect_code(0);
    assert_environment(&cloud, &["acme", "bigcorp", "initech"]);
}

#[test]
fn an_operation_that_finishes_with_a_definite_error_fails_that_resource() {
    let cloud = LocalCloud::start("20ms");
    let s = sandbox();
    let (status, _) = cloud.request(
        "POST",
        "/_localcloud/gcp/faults",
        Some(&json!({"fail_operations": {"count": 1, "code": "QUOTA_EXCEEDED"}})),
    );
    assert_eq!(status, 200);
    let r = run(&s, &cloud, &["apply", "--auto-approve"]).expect_code(1);
    assert!(
        r.stderr().contains("the operation failed") && r.stderr().contains("QUOTA_EXCEEDED"),
        "{}",
        r.stderr()
    );
    assert!(
        !r.stdout().contains("retrying in"),
        "a definite failure is not retried"
    );
    run(&s, &cloud, &["apply", "--auto-approve"]).expect_code(0);
    run(&s, &cloud, &["plan", "--detailed-exitcode"]).expect_code(0);
    assert_environment(&cloud, &["acme", "bigcorp", "initech"]);
}

#[test]
fn gke_apply_killed_at_several_points_leaves_no_duplicate() {
    for k in [1, 3, 8, 14] {
        let cloud = LocalCloud::start("30ms");
        let s = sandbox().with_env("MATIHNET_GCP_ENDPOINT", cloud.endpoint());
        s.kill_after_completions(&["apply", "--auto-approve", "--parallelism", "2"], k);
        run(&s, &cloud, &["apply", "--auto-approve"]).expect_code(0);
        assert_environment(&cloud, &["acme", "bigcorp", "initech"]);
        run(&s, &cloud, &["plan", "--detailed-exitcode"]).expect_code(0);
    }
}
