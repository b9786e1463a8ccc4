//! The EKS provider end to end against moto and against the local AWS (`matihnet local-cloud`
//! as a separate process): the built binary on `examples/eks.toml`, every object checked through
//! the AWS API (boto3, the same script for both), drift, growth, crash safety and destroy.

use matihnet_e2e::localcloud::LocalCloud;
use matihnet_e2e::moto::{aws_script, Moto};
use matihnet_e2e::{Run, Sandbox};
use serde_json::Value;

/// An AWS endpoint the suite runs against.
trait Aws {
    fn env(&self) -> Vec<(&'static str, String)>;

    fn script(&self, args: &[&str]) -> Value {
        aws_script(&self.env(), args)
    }

    fn inventory(&self) -> Value {
        self.script(&["inventory"])
    }
}

impl Aws for Moto {
    fn env(&self) -> Vec<(&'static str, String)> {
        Moto::env(self)
    }
}

impl Aws for LocalCloud {
    fn env(&self) -> Vec<(&'static str, String)> {
        self.aws_env()
    }
}

fn sandbox() -> Sandbox {
    Sandbox::with_example("eks.toml")
}

fn run(s: &Sandbox, aws: &dyn Aws, args: &[&str]) -> Run {
    let env = aws.env();
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    s.run_with(args, &pairs)
}

fn len(v: &Value, key: &str) -> usize {
    v[key].as_array().map(Vec::len).unwrap_or(0)
}

fn records<'a>(inv: &'a Value, zone: &str) -> &'a Vec<Value> {
    inv["records"][zone].as_array().expect("records of zone")
}

fn find<'a>(records: &'a [Value], name: &str, kind: &str) -> Option<&'a Value> {
    records
        .iter()
        .find(|r| r["name"] == name && r["type"] == kind)
}

/// What examples/eks.toml makes: 3 AZs, 3 tenants (2 dedicated) + staging.
fn assert_full_environment(inv: &Value, tenants: &[&str]) {
    assert_eq!(len(inv, "vpcs"), 1, "{inv}");
    let vpc = &inv["vpcs"][0];
    assert_eq!(vpc["cidr"], "10.0.0.0/16");
    assert_eq!(len(inv, "subnets"), 6);
    for s in inv["subnets"].as_array().expect("subnets") {
        let tags = &s["tags"];
        assert_eq!(tags["kubernetes.io/cluster/prod"], "shared", "{s}");
        assert!(tags["matihnet:address"]
            .as_str()
            .is_some_and(|a| a.starts_with("subnet.")));
        assert!(tags["matihnet:lineage"].is_string());
        let public = tags["Name"].as_str().unwrap_or_default().contains("public");
        let role = if public {
            "kubernetes.io/role/elb"
        } else {
            "kubernetes.io/role/internal-elb"
        };
        assert_eq!(tags[role], "1", "{s}");
    }
    assert_eq!(len(inv, "internet_gateways"), 1);
    assert_eq!(len(inv, "nat_gateways"), 3, "one NAT gateway per AZ");
    assert_eq!(len(inv, "route_tables"), 4, "public + one private per AZ");
    for t in inv["route_tables"].as_array().expect("tables") {
        assert_eq!(
            t["default"].as_array().map(Vec::len),
            Some(1),
            "a default route: {t}"
        );
        assert!(!t["subnets"].as_array().expect("subnets").is_empty());
    }
    let dedicated = 1 + tenants
        .iter()
        .filter(|t| ["acme", "bigcorp", "newco"].contains(t))
        .count();
    assert_eq!(len(inv, "load_balancers"), dedicated);
    for lb in inv["load_balancers"].as_array().expect("lbs") {
        assert_eq!(lb["type"], "network");
        assert_eq!(lb["scheme"], "internet-facing");
    }
    assert_eq!(len(inv, "target_groups"), 2 * dedicated);
    assert_eq!(len(inv, "listeners"), 2 * dedicated);
    assert_eq!(
        len(inv, "eips"),
        3 + 3 * dedicated,
        "NAT EIPs + one per AZ per NLB"
    );
    assert_eq!(len(inv, "zones"), 1 + tenants.len() + 1);
    let parent = records(inv, "matih.ai.");
    for child in tenants.iter().chain(&["staging"]) {
        let ns = find(parent, &format!("{child}.matih.ai."), "NS")
            .unwrap_or_else(|| panic!("NS delegation for {child}: {parent:?}"));
        let servers = &inv["zone_name_servers"][format!("{child}.matih.ai.")];
        let mut got: Vec<String> = ns["values"]
            .as_array()
            .expect("values")
            .iter()
            .map(|v| {
                v.as_str()
                    .unwrap_or_default()
                    .trim_end_matches('.')
                    .to_string()
            })
            .collect();
        let mut want: Vec<String> = servers
            .as_array()
            .expect("servers")
            .iter()
            .map(|v| {
                v.as_str()
                    .unwrap_or_default()
                    .trim_end_matches('.')
                    .to_string()
            })
            .collect();
        got.sort();
        want.sort();
        assert_eq!(
            got, want,
            "{child}'s delegation lists its zone's name servers"
        );
    }
    let api = find(parent, "api.matih.ai.", "A").expect("api record");
    assert!(
        api["alias"].is_string(),
        "api is an alias to the platform NLB: {api}"
    );
    for t in tenants {
        let zone = format!("{t}.matih.ai.");
        let rs = records(inv, &zone);
        assert!(
            find(rs, &zone, "A").is_some_and(|r| r["alias"].is_string()),
            "{t} apex"
        );
        assert!(
            find(rs, &format!("*.{zone}"), "A").is_some_and(|r| r["alias"].is_string()),
            "{t} wildcard"
        );
    }
}

#[test]
fn eks_lifecycle_against_moto() {
    let moto = Moto::start();
    moto.reset();
    lifecycle(&moto);
}

#[test]
fn eks_lifecycle_against_the_local_aws() {
    lifecycle(&LocalCloud::start("50ms"));
}

fn lifecycle(moto: &dyn Aws) {
    let s = sandbox();

    run(&s, moto, &["plan", "--detailed-exitcode"]).expect_code(2);
    run(&s, moto, &["apply", "--auto-approve"]).expect_code(0);
    assert_full_environment(&moto.inventory(), &["acme", "bigcorp", "initech"]);
    run(&s, moto, &["plan", "--detailed-exitcode"]).expect_code(0);

    // A tenant's delegation deleted behind matihnet's back: drift, then repaired.
    moto.script(&["delete-record", "matih.ai.", "acme.matih.ai.", "NS"]);
    let plan = run(&s, moto, &["plan", "--detailed-exitcode"]).expect_code(2);
    assert!(
        plan.stdout()
            .contains("dns_record.acme_ns has been deleted"),
        "{}",
        plan.stdout()
    );
    assert!(
        plan.stdout()
            .contains("Plan: 1 to add, 0 to change, 0 to destroy."),
        "{}",
        plan.stdout()
    );
    run(&s, moto, &["apply", "--auto-approve"]).expect_code(0);
    run(&s, moto, &["plan", "--detailed-exitcode"]).expect_code(0);
    assert_full_environment(&moto.inventory(), &["acme", "bigcorp", "initech"]);

    // A new dedicated tenant: only its objects are added.
    let text = std::fs::read_to_string(s.path("matihnet.toml")).expect("config");
    let grown = format!("{text}\n[[tenant]]\nslug = \"newco\"\ningress = \"dedicated\"\n");
    std::fs::write(s.path("matihnet.toml"), grown).expect("write");
    let plan = run(&s, moto, &["plan", "--json"]).expect_code(0);
    let v: Value = serde_json::from_str(&plan.stdout()).expect("plan JSON");
    let mut changed: Vec<String> = v["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] != "no_op")
        .map(|c| {
            format!(
                "{} {}",
                c["action"].as_str().unwrap_or_default(),
                c["address"].as_str().unwrap_or_default()
            )
        })
        .collect();
    changed.sort();
    assert_eq!(
        changed,
        [
            "create dns_record.newco_apex",
            "create dns_record.newco_ns",
            "create dns_record.newco_wildcard",
            "create dns_zone.newco",
            "create frontend.newco",
        ]
    );
    run(&s, moto, &["apply", "--auto-approve"]).expect_code(0);
    assert_full_environment(&moto.inventory(), &["acme", "bigcorp", "initech", "newco"]);

    // The example protects the network and the zones: destroy refuses until that is lifted.
    let refused = run(&s, moto, &["destroy", "--auto-approve"]).expect_code(1);
    assert!(
        refused.stderr().contains("is protected"),
        "{}",
        refused.stderr()
    );
    let text = std::fs::read_to_string(s.path("matihnet.toml")).expect("config");
    std::fs::write(
        s.path("matihnet.toml"),
        text.replace("protect = true", "protect = false"),
    )
    .expect("write");
    run(&s, moto, &["apply", "--auto-approve"]).expect_code(0);
    run(&s, moto, &["destroy", "--auto-approve"]).expect_code(0);
    let inv = moto.inventory();
    for key in [
        "vpcs",
        "subnets",
        "internet_gateways",
        "nat_gateways",
        "load_balancers",
        "target_groups",
        "eips",
        "zones",
    ] {
        assert_eq!(len(&inv, key), 0, "{key} left behind: {}", inv[key]);
    }
}

/// Kills the apply (SIGKILL) after it reported `k` finished resources, then applies again.
fn crash_after(moto: &dyn Aws, k: usize) {
    let mut s = sandbox();
    for (key, v) in moto.env() {
        s = s.with_env(key, v);
    }
    s.kill_after_completions(&["apply", "--auto-approve", "--parallelism", "2"], k);
    run(&s, moto, &["apply", "--auto-approve"]).expect_code(0);
    let inv = moto.inventory();
    assert_full_environment(&inv, &["acme", "bigcorp", "initech"]);
    run(&s, moto, &["plan", "--detailed-exitcode"]).expect_code(0);
}

#[test]
fn eks_apply_killed_at_several_points_leaves_no_duplicate_or_orphan() {
    let moto = Moto::start();
    for k in [1, 3, 8, 15, 25, 33] {
        moto.reset();
        crash_after(&moto, k);
    }
}

#[test]
fn eks_apply_killed_at_several_points_on_the_local_aws_leaves_no_duplicate_or_orphan() {
    for k in [1, 3, 8, 15, 25, 33] {
        crash_after(&LocalCloud::start("50ms"), k);
    }
}

/// moto accepts two load balancers with one name; AWS does not, and a name clash with someone
/// else's load balancer must never be "adopted". This does not rely on the gap.
#[test]
fn a_foreign_load_balancer_with_our_name_is_refused_not_adopted() {
    let moto = Moto::start();
    moto.reset();
    moto.script(&["create-foreign-lb", "matih-prod-platform"]);
    let s = sandbox();
    let r = run(&s, &moto, &["apply", "--auto-approve"]).expect_code(1);
    assert!(
        r.stderr().contains(
            "load balancer matih-prod-platform already exists and was not made by matihnet"
        ),
        "{}",
        r.stderr()
    );
    assert_eq!(
        len(&moto.inventory(), "load_balancers"),
        3,
        "the foreign one and the two tenants'"
    );
}

/// Throttled and failing requests (each service's own error shape) and slow NAT gateways on the
/// local AWS: the provider rides them out within one apply, and every fault is used up.
#[test]
fn the_eks_provider_rides_out_throttling_errors_and_slow_nat_gateways_on_the_local_aws() {
    let aws = LocalCloud::start("50ms");
    let (status, body) = aws.request(
        "POST",
        "/_localcloud/aws/faults",
        Some(&serde_json::json!({
            "throttle": {"count": 6},
            "unavailable": {"count": 3},
            "operation_delay_ms": 1500
        })),
    );
    assert_eq!(status, 200, "{body}");
    let s = sandbox();
    let out = run(&s, &aws, &["apply", "--auto-approve"]).expect_code(0);
    assert!(out.stdout().contains("Apply complete"), "{}", out.stdout());
    assert_full_environment(&aws.inventory(), &["acme", "bigcorp", "initech"]);
    let faults = aws.get("/_localcloud/aws/faults");
    assert_eq!(faults["throttle"]["count"], 0, "{faults}");
    assert_eq!(faults["unavailable"]["count"], 0, "{faults}");
    run(&s, &aws, &["plan", "--detailed-exitcode"]).expect_code(0);
}

/// `--local-cloud` on an EKS file: apply, a plan that finds nothing to change, and destroy to
/// nothing, all in-process, with the emulated objects kept beside the state in between.
#[test]
fn eks_apply_plan_and_destroy_on_the_in_process_local_aws() {
    let s = Sandbox::with_config(
        &std::fs::read_to_string(matihnet_e2e::repo_root().join("examples/eks.toml"))
            .expect("example")
            .replace("protect = true", "protect = false"),
    );
    let offline = [
        ("AWS_ACCESS_KEY_ID", ""),
        ("AWS_SECRET_ACCESS_KEY", ""),
        ("AWS_PROFILE", "no-such-profile"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    s.run_with(&["apply", "--auto-approve", "--local-cloud"], &offline)
        .expect_code(0);
    s.run_with(&["plan", "--local-cloud", "--detailed-exitcode"], &offline)
        .expect_code(0);
    let objects = || -> Value {
        let bytes = std::fs::read(s.path("matihnet.state.json.local-cloud.json")).expect("objects");
        serde_json::from_slice::<Value>(&bytes).expect("JSON")["aws"]["state"].clone()
    };
    let before = objects();
    assert_eq!(before["ec2"]["vpcs"].as_object().map(|m| m.len()), Some(1));
    assert_eq!(
        before["route53"]["zones"].as_object().map(|m| m.len()),
        Some(5)
    );
    s.run_with(&["destroy", "--auto-approve", "--local-cloud"], &offline)
        .expect_code(0);
    let after = objects();
    for (service, kind) in [
        ("ec2", "vpcs"),
        ("ec2", "subnets"),
        ("ec2", "igws"),
        ("ec2", "eips"),
        ("elb", "load_balancers"),
        ("elb", "target_groups"),
        ("route53", "zones"),
    ] {
        assert_eq!(
            after[service][kind]
                .as_object()
                .map(|m| m.len())
                .unwrap_or(0),
            0,
            "{service} {kind} left behind: {}",
            after[service][kind]
        );
    }
}
