//! Route53 record changes for one zone that arrive together go out as one
//! `ChangeResourceRecordSets` (issue 15), and a batch Route53 refuses is split so that each
//! record gets its own answer: against the local AWS, which validates changes as Route53 does.

use std::sync::Arc;

use matihnet_core::{Address, Attrs, ErrorKind, OperationContext, Provider, Value};
use matihnet_e2e::localcloud::LocalCloud;

fn ctx(kind: &str, name: &str) -> OperationContext {
    OperationContext {
        addr: Address::new(kind, name),
        environment: "prod".into(),
        lineage: "route53-batches".into(),
    }
}

fn record(zone: &Attrs, name: &str, value: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("zone_id".into(), zone["id"].clone());
    a.insert("zone_name".into(), zone["name"].clone());
    a.insert("name".into(), Value::from(name));
    a.insert("type".into(), Value::from("A"));
    a.insert("ttl".into(), Value::Int(300));
    a.insert("values".into(), Value::string_list(vec![value.to_string()]));
    a
}

fn calls(p: &dyn Provider, op: &str) -> u64 {
    p.api_calls().get(op).copied().unwrap_or(0)
}

#[test]
fn concurrent_records_of_a_zone_share_one_change_and_a_bad_one_fails_alone() {
    let cloud = LocalCloud::start("20ms");
    // The SDK's credential chain reads the process environment; this binary's only AWS client.
    for (k, v) in cloud.aws_env() {
        std::env::set_var(k, v);
    }
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("runtime: {e}"));
    let provider = Arc::new(rt.block_on(matihnet_provider_aws::AwsProvider::connect(
        matihnet_provider_aws::AwsSettings {
            environment: "prod".into(),
            region: "eu-west-1".into(),
            availability_zones: vec!["eu-west-1a".into()],
            endpoint_url: Some(cloud.endpoint()),
            nat: matihnet_provider_aws::NatMode::PerAz,
            rate_limits: Default::default(),
        },
    )));
    let mut zone = Attrs::new();
    zone.insert("name".into(), Value::from("batch.example"));
    let zone = rt
        .block_on(provider.create(&ctx("dns_zone", "batch"), &zone))
        .unwrap_or_else(|e| panic!("creating the zone: {}", e.error));

    let before = calls(provider.as_ref(), "route53.ChangeResourceRecordSets");
    let names = ["a", "b", "c", "bad"];
    let results = rt.block_on(futures::future::join_all(names.iter().map(|n| {
        let p = Arc::clone(&provider);
        let value = if *n == "bad" {
            "300.0.0.1"
        } else {
            "192.0.2.10"
        };
        let attrs = record(&zone, n, value);
        async move { p.create(&ctx("dns_record", n), &attrs).await }
    })));
    for (n, r) in names.iter().zip(&results) {
        match (*n, r) {
            ("bad", Err(f)) => assert_eq!(f.error.kind, ErrorKind::Rejected, "{}", f.error),
            ("bad", Ok(_)) => panic!("an A record of 300.0.0.1 was accepted"),
            (_, Err(f)) => panic!("{n} failed with its bad neighbour: {}", f.error),
            (_, Ok(_)) => {}
        }
    }
    // One refused batch of four, then each of the four alone, and the bad one's refused CREATE
    // once more as an UPSERT: no record of its name is there, so the refusal was not about a
    // record someone else owns (moto refuses a CREATE it journalled before, issue 16).
    assert_eq!(
        calls(provider.as_ref(), "route53.ChangeResourceRecordSets") - before,
        6
    );

    // Three good changes at once: one request.
    let before = calls(provider.as_ref(), "route53.ChangeResourceRecordSets");
    let results = rt.block_on(futures::future::join_all(["a", "b", "c"].iter().map(|n| {
        let p = Arc::clone(&provider);
        let prior = record(&zone, n, "192.0.2.10");
        let desired = record(&zone, n, "192.0.2.20");
        async move { p.update(&ctx("dns_record", n), &prior, &desired).await }
    })));
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(
        calls(provider.as_ref(), "route53.ChangeResourceRecordSets") - before,
        1
    );
    // Each record reads back with its own value.
    for n in ["a", "b", "c"] {
        let got = rt
            .block_on(provider.read(&ctx("dns_record", n), &record(&zone, n, "192.0.2.20")))
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("{n} is gone"));
        assert_eq!(
            got["values"],
            Value::string_list(vec!["192.0.2.20".to_string()])
        );
    }
}
