//! Snapshots of what users read: a malformed file's errors and plan rendering (`--help` is
//! snapshotted in the binary's own tests).

use matihnet_e2e::Sandbox;

/// Times, ids and generated values differ between runs; the shape must not.
fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(r"fake-[a-z_]+-\d+", "[id]");
    s.add_filter(r"ns\d-\d+\.fake-dns\.test\.", "[ns]");
    s.add_filter(r"198\.18\.\d+\.\d+", "[ip]");
    s.add_filter(r"after \d+m?\d*s", "after [t]");
    s
}

#[test]
fn malformed_config_errors() {
    let s = Sandbox::with_config(
        r#"[environment]
name = "prod"
provider = "eks"
region = "eu-west-1"
colour = "blue"

[aws]
availability_zones = ["eu-west-1a", "eu-west-1b"]

[network]
cidr = "10.0.0.0/33"
service_cidr = "172.17.0.0/16"

[[node_pool]]
name = "system"
instance_type = "m5.large"
max_nodes = 10

[dns]
zone = "matih.ai"

[[tenant]]
slug = "Acme_Corp"

[[tenant]]
slug = "api"
"#,
    );
    let r = s.run(&["validate"]).expect_code(1);
    insta::assert_snapshot!("malformed_config", r.stderr());
}

#[test]
fn first_plan_of_the_fake_example() {
    let s = Sandbox::with_example("fake.toml");
    let r = s.run(&["plan"]).expect_code(0);
    settings().bind(|| insta::assert_snapshot!("plan_create", r.stdout()));
}

#[test]
fn plan_with_update_replace_and_delete() {
    let s = Sandbox::with_example("fake.toml");
    s.run(&["apply", "--auto-approve"]).expect_code(0);
    let text = std::fs::read_to_string(s.path("matihnet.toml")).expect("config");
    // staging -> qa: a zone and its delegation created, the old ones destroyed; initech gets a
    // dedicated front end: its apex and wildcard records change in place to point at it; a
    // different network block replaces the network and, through it, its subnets.
    let edited = text
        .replace("subdomains = [\"staging\"]", "subdomains = [\"qa\"]")
        .replace(
            "slug = \"initech\"",
            "slug = \"initech\"\ningress = \"dedicated\"",
        )
        .replace("cidr = \"10.0.0.0/16\"", "cidr = \"10.1.0.0/16\"");
    for needle in ["subdomains = [\"qa\"]", "10.1.0.0/16", "initech\"\ningress"] {
        assert!(
            edited.contains(needle),
            "the example changed shape: {needle} not applied"
        );
    }
    std::fs::write(s.path("matihnet.toml"), edited).expect("write");
    let r = s.run(&["plan"]).expect_code(0);
    settings().bind(|| insta::assert_snapshot!("plan_mixed", r.stdout()));
}
