//! The local AWS can enforce Route53's and EC2's documented request rates (`"rate_limit": true`
//! in its faults), and an EKS apply paced to the same documented limits (`core::pacing`, forced
//! on for this loopback endpoint with `MATIHNET_RATE_LIMITS=documented`) keeps under them:
//! nothing fails and next to nothing is throttled (issue 15).

use matihnet_e2e::localcloud::LocalCloud;
use matihnet_e2e::Sandbox;
use serde_json::{json, Value};

/// The local AWS, enforcing Route53's and EC2's documented rates.
fn rate_limited_aws() -> LocalCloud {
    let cloud = LocalCloud::start("50ms");
    let (status, faults) = cloud.request(
        "POST",
        "/_localcloud/aws/faults",
        Some(&json!({"rate_limit": true})),
    );
    assert_eq!(status, 200, "{faults}");
    assert_eq!(faults["rate_limit"], true);
    cloud
}

#[test]
fn an_eks_apply_rides_out_the_documented_rate_limits() {
    let cloud = rate_limited_aws();
    let env = cloud.aws_env();
    let mut pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.push(("MATIHNET_RATE_LIMITS", "documented"));
    let s = Sandbox::with_example("eks.toml");
    let applied = s
        .run_with(&["apply", "--auto-approve", "--json"], &pairs)
        .expect_code(0);
    let outcome: Value = serde_json::from_str(&applied.stdout()).expect("apply --json");
    assert_eq!(outcome["result"], "applied", "{outcome}");
    assert_eq!(outcome["failures"], json!([]));
    let faults = cloud.get("/_localcloud/aws/faults");
    let throttled = faults["rate_limited"].as_u64().unwrap_or(0);
    let route53: u64 = outcome["api_calls"]
        .as_object()
        .expect("api_calls")
        .iter()
        .filter(|(op, _)| op.starts_with("route53."))
        .map(|(_, n)| n.as_u64().unwrap_or(0))
        .sum();
    // Route53 allows five a second and the apply needs many more than five: without pacing it
    // is throttled again and again, and its retries wait out backoffs.
    assert!(route53 > 10, "{outcome}");
    // The client's and the cloud's buckets start a request's travel time apart; the client keeps
    // a token of headroom for that, so at most a stray refusal is left.
    assert!(
        throttled * 20 <= route53,
        "paced to the documented limits, yet {throttled} of {route53} Route53 requests were throttled: {faults}"
    );
    // The apply left what a plan expects.
    s.run_with(&["plan", "--detailed-exitcode"], &pairs)
        .expect_code(0);
}

/// A file that sets Route53's rate above what the cloud allows (a raised quota that is not
/// there, or another tool spending the same budget): the cloud throttles, the provider lowers
/// Route53's rate alone and the apply still finishes with nothing failed.
#[test]
fn a_rate_set_too_high_is_lowered_when_the_cloud_throttles() {
    let cloud = rate_limited_aws();
    let env = cloud.aws_env();
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let text = std::fs::read_to_string(matihnet_e2e::repo_root().join("examples/eks.toml"))
        .expect("examples/eks.toml");
    let s = Sandbox::with_config(&format!(
        "{text}\n[rate_limits]\nroute53 = {{ per_second = 50, burst = 50 }}\n"
    ));
    let applied = s
        .run_with(&["apply", "--auto-approve", "--json", "-v"], &pairs)
        .expect_code(0);
    let outcome: Value = serde_json::from_str(&applied.stdout()).expect("apply --json");
    assert_eq!(outcome["result"], "applied", "{outcome}");
    assert_eq!(outcome["failures"], json!([]));
    let faults = cloud.get("/_localcloud/aws/faults");
    assert!(
        faults["rate_limited"].as_u64().unwrap_or(0) > 0,
        "ten times Route53's rate was never throttled: {faults}"
    );
    let stderr = applied.stderr();
    let paced = stderr
        .lines()
        .find(|l| l.starts_with("Paced to rate limits (aws):"))
        .unwrap_or_else(|| panic!("no pacing line on stderr:\n{stderr}"));
    // The throttled answers reached Route53's bucket and no other.
    assert!(
        paced.contains("route53 waited") && !paced.contains("ec2-mutating"),
        "{paced}"
    );
    let throttled: u64 = paced
        .split("route53 waited")
        .nth(1)
        .and_then(|rest| rest.split(", ").nth(1))
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no throttled count in {paced}"));
    assert!(throttled > 0, "{paced}");
}
