//! API-call counting end to end (issue 15): every provider reports the calls it made per
//! operation in `--json` and on the `-v` line, and the local cloud counts what it served. Every
//! provider's count is every request it sent (the GCP provider polls its operations itself for
//! that), so it equals what the local cloud served.

use matihnet_e2e::localcloud::LocalCloud;
use matihnet_e2e::Sandbox;
use serde_json::Value;

/// `API calls (who): N for R resources ...` on stderr: N.
fn total_on_line(stderr: &str, who: &str) -> u64 {
    let prefix = format!("API calls ({who}): ");
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{stderr}"));
    line[prefix.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line}"))
}

fn total(calls: &Value) -> u64 {
    calls
        .as_object()
        .unwrap_or_else(|| panic!("api_calls is not an object: {calls}"))
        .values()
        .map(|v| v.as_u64().unwrap_or(0))
        .sum()
}

fn check(example: &str, provider: &str) {
    let s = Sandbox::with_example(example).with_env(
        "AZURE_SUBSCRIPTION_ID",
        "00000000-0000-0000-0000-0000000000aa",
    );
    let applied = s
        .run(&["apply", "--local-cloud", "--auto-approve", "--json", "-v"])
        .expect_code(0);
    let outcome: Value = serde_json::from_str(&applied.stdout()).unwrap_or_else(|e| {
        panic!(
            "{example}: apply --json is not JSON ({e}):\n{}",
            applied.stdout()
        )
    });
    assert_eq!(outcome["result"], "applied", "{outcome}");
    assert!(outcome["added"].as_u64().unwrap_or(0) > 0, "{outcome}");
    let counted = total(&outcome["api_calls"]);
    let stderr = applied.stderr();
    assert_eq!(total_on_line(&stderr, provider), counted, "{stderr}");
    let served = total_on_line(&stderr, "local cloud served");
    assert_eq!(
        counted, served,
        "{example}: the provider saw every request:\n{stderr}"
    );
    // A no-change plan says what its refresh cost, in the plan JSON and on the -v line.
    let planned = s
        .run(&[
            "plan",
            "--local-cloud",
            "--json",
            "-v",
            "--detailed-exitcode",
        ])
        .expect_code(0);
    let plan: Value = serde_json::from_str(&planned.stdout()).expect("plan JSON");
    let plan_calls = total(&plan["api_calls"]);
    assert!(plan_calls > 0, "a refresh reads: {plan}");
    // Record sets are read with one listing per zone, zones (on AWS) with one listing of the
    // account's: a no-change plan costs fewer calls than there are resources.
    let resources = outcome["added"].as_u64().unwrap_or(0);
    assert!(
        plan_calls < resources,
        "{example}: a no-change plan made {plan_calls} calls for {resources} resources: {}",
        plan["api_calls"]
    );
    assert_eq!(total_on_line(&planned.stderr(), provider), plan_calls);
    // Nothing the plan called is a write.
    for op in plan["api_calls"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
    {
        let lower = op.to_ascii_lowercase();
        assert!(
            !["put ", "create", "insert", "delete", "change", "allocate", "attach", "modify"]
                .iter()
                .any(|w| lower.contains(w)),
            "{example}: a plan made a write call {op}"
        );
    }
}

#[test]
fn eks_counts_every_aws_request() {
    check("eks.toml", "aws");
}

#[test]
fn aks_counts_every_arm_request() {
    check("aks.toml", "azure");
}

#[test]
fn gke_counts_every_google_request() {
    check("gke.toml", "gcp");
}

#[test]
fn apply_json_refuses_to_prompt() {
    let s = Sandbox::with_example("fake.toml");
    let r = s.run(&["apply", "--json"]).expect_code(1);
    assert!(
        r.stderr()
            .contains("apply --json cannot ask for confirmation")
            && r.stderr().contains("--auto-approve"),
        "{}",
        r.stderr()
    );
    let r = s.run(&["destroy", "--json"]).expect_code(1);
    assert!(r.stderr().contains("--auto-approve"), "{}", r.stderr());
}

#[test]
fn the_served_local_cloud_counts_requests_per_operation() {
    let cloud = LocalCloud::start("0ms");
    let (status, _) = cloud.request("GET", "/compute/v1/projects/p/global/networks", None);
    assert_eq!(status, 200);
    cloud.request(
        "GET",
        "/compute/v1/projects/p/global/networks/default",
        None,
    );
    let counts = cloud.get("/_localcloud/requests");
    assert_eq!(
        counts["requests"]["gcp compute GET networks"], 2,
        "{counts}"
    );
    let (status, _) = cloud.request("DELETE", "/_localcloud/requests", None);
    assert_eq!(status, 204);
    let counts = cloud.get("/_localcloud/requests");
    assert_eq!(
        counts["requests"].as_object().map(|o| o.len()),
        Some(0),
        "{counts}"
    );
}
