//! The local AWS can enforce Route53's and EC2's documented request rates (`"rate_limit": true`
//! in its faults), and an EKS apply rides them out: the throttled requests are retried (the AWS
//! provider's adaptive retry mode slows the throttled API alone) and nothing fails (issue 15).

use matihnet_e2e::localcloud::LocalCloud;
use matihnet_e2e::Sandbox;
use serde_json::{json, Value};

#[test]
fn an_eks_apply_rides_out_the_documented_rate_limits() {
    let cloud = LocalCloud::start("50ms");
    let (status, faults) = cloud.request(
        "POST",
        "/_localcloud/aws/faults",
        Some(&json!({"rate_limit": true})),
    );
    assert_eq!(status, 200, "{faults}");
    assert_eq!(faults["rate_limit"], true);
    let env = cloud.aws_env();
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = Sandbox::with_example("eks.toml");
    let applied = s
        .run_with(&["apply", "--auto-approve", "--json"], &pairs)
        .expect_code(0);
    let outcome: Value = serde_json::from_str(&applied.stdout()).expect("apply --json");
    assert_eq!(outcome["result"], "applied", "{outcome}");
    assert_eq!(outcome["failures"], json!([]));
    let faults = cloud.get("/_localcloud/aws/faults");
    let throttled = faults["rate_limited"].as_u64().unwrap_or(0);
    assert!(
        throttled > 0,
        "the apply never met Route53's five requests a second: {faults}"
    );
    // The apply left what a plan expects.
    s.run_with(&["plan", "--detailed-exitcode"], &pairs)
        .expect_code(0);
}
