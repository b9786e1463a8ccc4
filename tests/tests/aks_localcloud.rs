//! The AKS provider end to end: the built binary on `examples/aks.toml` against
//! `matihnet local-cloud`, every object checked through the emulator's ARM API; drift, faults,
//! crash safety, destroy, and `--local-cloud`.

use matihnet_e2e::localcloud::LocalCloud;
use matihnet_e2e::{Run, Sandbox};
use serde_json::{json, Value};

const SUB: &str = "00000000-0000-0000-0000-0000000000aa";

fn sandbox() -> Sandbox {
    Sandbox::with_example("aks.toml").with_env("AZURE_SUBSCRIPTION_ID", SUB)
}

/// Runs against `cloud`; the subscription comes from the sandbox.
fn run(s: &Sandbox, cloud: &LocalCloud, args: &[&str]) -> Run {
    s.run_with(
        args,
        &[("MATIHNET_AZURE_ENDPOINT", cloud.endpoint().as_str())],
    )
}

fn net(path: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{path}?api-version=2024-03-01")
}

fn dns(path: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/matih-prod/providers/Microsoft.Network/dnsZones{path}?api-version=2018-05-01")
}

fn values(v: &Value) -> Vec<Value> {
    v["value"].as_array().cloned().unwrap_or_default()
}

fn trimmed(v: &Value) -> String {
    v.as_str()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_string()
}

/// What examples/aks.toml makes, read back through ARM.
fn assert_environment(cloud: &LocalCloud, tenants: &[&str]) {
    for rg in ["matih-prod", "matih-prod-ingress"] {
        assert_eq!(
            cloud.status(&format!(
                "/subscriptions/{SUB}/resourcegroups/{rg}?api-version=2021-04-01"
            )),
            200,
            "{rg}"
        );
    }
    let vnet = cloud.get(&net(
        "matih-prod/providers/Microsoft.Network/virtualNetworks/matih-prod",
    ));
    assert_eq!(
        vnet["properties"]["addressSpace"]["addressPrefixes"][0],
        "10.0.0.0/16"
    );
    assert_eq!(vnet["properties"]["provisioningState"], "Succeeded");
    assert_eq!(vnet["tags"]["matihnet:address"], "network.main");
    let subnets = values(&cloud.get(&net(
        "matih-prod/providers/Microsoft.Network/virtualNetworks/matih-prod/subnets",
    )));
    assert_eq!(subnets.len(), 1, "{subnets:?}");
    let ips = values(&cloud.get(&net(
        "matih-prod-ingress/providers/Microsoft.Network/publicIPAddresses",
    )));
    assert_eq!(ips.len(), 2, "platform + the dedicated tenant: {ips:?}");
    for ip in &ips {
        assert_eq!(ip["sku"]["name"], "Standard");
        assert_eq!(ip["properties"]["publicIPAllocationMethod"], "Static");
        assert!(ip["properties"]["ipAddress"].is_string(), "{ip}");
    }
    let ip_of = |name: &str| {
        ips.iter()
            .find(|i| i["name"] == name)
            .map(|i| i["properties"]["ipAddress"].clone())
            .unwrap_or_else(|| panic!("public IP {name}"))
    };
    let zones = values(&cloud.get(&dns("")));
    assert_eq!(zones.len(), 1 + tenants.len() + 1, "{zones:?}");
    for child in tenants.iter().chain(&["staging"]) {
        let zone = cloud.get(&dns(&format!("/{child}.matih.ai")));
        let ns = cloud.get(&dns(&format!("/matih.ai/NS/{child}")));
        let mut want: Vec<String> = zone["properties"]["nameServers"]
            .as_array()
            .expect("ns")
            .iter()
            .map(trimmed)
            .collect();
        let mut got: Vec<String> = ns["properties"]["NSRecords"]
            .as_array()
            .expect("NS")
            .iter()
            .map(|r| trimmed(&r["nsdname"]))
            .collect();
        want.sort();
        got.sort();
        assert_eq!(
            got, want,
            "{child}'s delegation lists its own zone's name servers"
        );
    }
    let api = cloud.get(&dns("/matih.ai/A/api"));
    assert_eq!(
        api["properties"]["ARecords"][0]["ipv4Address"],
        ip_of("matih-prod-platform")
    );
    for t in tenants {
        let target = if *t == "acme" {
            "matih-prod-acme"
        } else {
            "matih-prod-platform"
        };
        for name in ["@", "*"] {
            let r = cloud.get(&dns(&format!("/{t}.matih.ai/A/{name}")));
            assert_eq!(
                r["properties"]["ARecords"][0]["ipv4Address"],
                ip_of(target),
                "{t} {name}"
            );
        }
    }
}

fn assert_nothing_left(cloud: &LocalCloud) {
    for rg in ["matih-prod", "matih-prod-ingress"] {
        assert_eq!(
            cloud.status(&format!(
                "/subscriptions/{SUB}/resourcegroups/{rg}?api-version=2021-04-01"
            )),
            404,
            "{rg} left behind"
        );
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
fn aks_lifecycle_against_the_local_azure() {
    let cloud = LocalCloud::start("50ms");
    let s = sandbox();
    run(&s, &cloud, &["plan", "--detailed-exitcode"]).expect_code(2);
    run(&s, &cloud, &["apply", "--auto-approve"]).expect_code(0);
    assert_environment(&cloud, &["acme", "bigcorp", "initech"]);
    run(&s, &cloud, &["plan", "--detailed-exitcode"]).expect_code(0);

    // A delegation deleted behind matihnet's back is drift, and apply repairs it.
    let (status, _) = cloud.request("DELETE", &dns("/matih.ai/NS/bigcorp"), None);
    assert_eq!(status, 200);
    let plan = run(&s, &cloud, &["plan", "--detailed-exitcode"]).expect_code(2);
    assert!(
        plan.stdout()
            .contains("dns_record.bigcorp_ns has been deleted"),
        "{}",
        plan.stdout()
    );
    run(&s, &cloud, &["apply", "--auto-approve"]).expect_code(0);
    run(&s, &cloud, &["plan", "--detailed-exitcode"]).expect_code(0);
    assert_environment(&cloud, &["acme", "bigcorp", "initech"]);

    // Throttling and a 500 are retried; the apply still succeeds.
    let (status, _) = cloud.request("POST", "/_localcloud/azure/faults", Some(&json!({"throttle": {"count": 2, "retry_after_seconds": 1}, "server_error": {"count": 1}})));
    assert_eq!(status, 200);
    let text = std::fs::read_to_string(s.path("matihnet.toml")).expect("config");
    std::fs::write(
        s.path("matihnet.toml"),
        format!("{text}\n[[tenant]]\nslug = \"newco\"\n"),
    )
    .expect("write");
    run(&s, &cloud, &["apply", "--auto-approve"]).expect_code(0);
    assert_environment(&cloud, &["acme", "bigcorp", "initech", "newco"]);

    unprotect(&s);
    run(&s, &cloud, &["apply", "--auto-approve"]).expect_code(0);
    run(&s, &cloud, &["destroy", "--auto-approve"]).expect_code(0);
    assert_nothing_left(&cloud);
}

#[test]
fn issue9_item10_transient_failed_operations_are_retried_inside_one_apply() {
    let cloud = LocalCloud::start("20ms");
    let s = sandbox();
    // Three failed operations used to need four applies.
    let (status, _) = cloud.request(
        "POST",
        "/_localcloud/azure/faults",
        Some(&json!({"fail_operations": {"count": 2}})),
    );
    assert_eq!(status, 200);
    let r = run(&s, &cloud, &["apply", "--auto-approve"]).expect_code(0);
    assert!(
        r.stdout().contains("retrying in") && r.stdout().contains("operation failed"),
        "the progress line says it is retrying and why:\n{}",
        r.stdout()
    );
    run(&s, &cloud, &["plan", "--detailed-exitcode"]).expect_code(0);
    assert_environment(&cloud, &["acme", "bigcorp", "initech"]);
}

#[test]
fn an_operation_that_keeps_failing_is_reported_and_the_rerun_completes() {
    let cloud = LocalCloud::start("20ms");
    let s = sandbox();
    // The generated clients' poller hides an operation's error code, so every failed PUT
    // operation is re-sent: as many failures as the budget (3) fail the resource.
    let (status, _) = cloud.request(
        "POST",
        "/_localcloud/azure/faults",
        Some(&json!({"fail_operations": {"count": 3, "code": "InvalidRequestFormat", "message": "definite"}})),
    );
    assert_eq!(status, 200);
    let r = run(&s, &cloud, &["apply", "--auto-approve"]).expect_code(1);
    assert!(r.stderr().contains("failed"), "{}", r.stderr());
    run(&s, &cloud, &["apply", "--auto-approve"]).expect_code(0);
    run(&s, &cloud, &["plan", "--detailed-exitcode"]).expect_code(0);
    assert_environment(&cloud, &["acme", "bigcorp", "initech"]);
}

#[test]
fn aks_apply_killed_at_several_points_leaves_no_duplicate() {
    for k in [1, 4, 9, 16] {
        let cloud = LocalCloud::start("30ms");
        let s = sandbox().with_env("MATIHNET_AZURE_ENDPOINT", cloud.endpoint());
        s.kill_after_completions(&["apply", "--auto-approve", "--parallelism", "2"], k);
        run(&s, &cloud, &["apply", "--auto-approve"]).expect_code(0);
        assert_environment(&cloud, &["acme", "bigcorp", "initech"]);
        run(&s, &cloud, &["plan", "--detailed-exitcode"]).expect_code(0);
    }
}

/// The README's first command: a whole AKS bootstrap with no Azure account.
#[test]
fn local_cloud_flag_keeps_the_emulated_objects_between_runs() {
    let s = sandbox();
    let env = [("AZURE_SUBSCRIPTION_ID", SUB)];
    s.run_with(&["apply", "--auto-approve", "--local-cloud"], &env)
        .expect_code(0);
    assert!(s.path("matihnet.state.json.local-cloud.json").exists());
    s.run_with(&["plan", "--local-cloud", "--detailed-exitcode"], &env)
        .expect_code(0);
    unprotect(&s);
    s.run_with(&["apply", "--auto-approve", "--local-cloud"], &env)
        .expect_code(0);
    s.run_with(&["destroy", "--auto-approve", "--local-cloud"], &env)
        .expect_code(0);
    s.run_with(&["plan", "--local-cloud", "--detailed-exitcode"], &env)
        .expect_code(2);
}

/// Record sets are written with `If-Match: <etag>`: a change made between plan and apply is
/// refused, never silently overwritten.
#[test]
fn a_record_changed_between_plan_and_apply_is_not_overwritten() {
    let cloud = LocalCloud::start("20ms");
    let s = sandbox();
    run(&s, &cloud, &["apply", "--auto-approve"]).expect_code(0);
    let text = std::fs::read_to_string(s.path("matihnet.toml")).expect("config");
    let edited = text.replace("[dns]\n", "[dns]\nttl = 120\n");
    assert_ne!(edited, text);
    std::fs::write(s.path("matihnet.toml"), edited).expect("write");
    run(&s, &cloud, &["plan", "-o", "ttl.plan"]).expect_code(0);

    // Someone edits the api record meanwhile.
    let path = dns("/matih.ai/A/api");
    let mut record = cloud.get(&path);
    record["properties"]["TTL"] = json!(30);
    let (status, body) = cloud.request(
        "PUT",
        &path,
        Some(&json!({"properties": record["properties"]})),
    );
    assert!(status == 200 || status == 201, "{status} {body}");

    let r = run(&s, &cloud, &["apply", "ttl.plan"]).expect_code(1);
    assert!(r.stderr().contains("dns_record.api"), "{}", r.stderr());
    assert!(
        r.stderr().contains("changed by someone else"),
        "{}",
        r.stderr()
    );
    assert_eq!(
        cloud.get(&path)["properties"]["TTL"],
        30,
        "the outside change was kept"
    );
}

#[test]
fn issue9_item4_a_lost_state_does_not_take_over_the_resource_groups_of_its_lineage() {
    let cloud = LocalCloud::start("20ms");
    let s = sandbox();
    run(&s, &cloud, &["apply", "--auto-approve"]).expect_code(0);
    let old_lineage = s.state()["lineage"].as_str().expect("lineage").to_string();
    // The state is lost, as on a thrown-away CI runner.
    std::fs::remove_file(s.state_path()).expect("remove state");
    let _ = std::fs::remove_file(s.path("matihnet.state.json.backup"));
    let r = run(&s, &cloud, &["apply", "--auto-approve"]).expect_code(1);
    assert!(
        r.stderr()
            .contains("resource group matih-prod already exists and belongs to"),
        "{}",
        r.stderr()
    );
    let state = s.state();
    assert_ne!(state["lineage"], old_lineage.as_str());
    let taken: Vec<&serde_json::Value> = state["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter(|r| {
            r["address"]
                .as_str()
                .is_some_and(|a| a.starts_with("resource_group."))
        })
        .collect();
    assert!(
        taken.is_empty(),
        "the new state took over the old lineage's resource groups: {taken:?}"
    );
    // The old lineage's objects are all still there, untouched.
    assert_environment(&cloud, &["acme", "bigcorp", "initech"]);
}
