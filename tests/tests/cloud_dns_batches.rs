//! Cloud DNS record writes for one managed zone that arrive together go out as one `changes`
//! request (issue 15), written without a read first; a change Cloud DNS refuses is split so
//! that each record gets its own answer; and a record already there (left by an interrupted
//! run) is read and written again from what is there. Against the local GCP, which validates
//! changes as Cloud DNS does.

use std::sync::Arc;

use matihnet_core::{Address, Attrs, ErrorKind, OperationContext, Provider, Value};
use matihnet_e2e::localcloud::LocalCloud;

fn ctx(kind: &str, name: &str) -> OperationContext {
    OperationContext {
        addr: Address::new(kind, name),
        environment: "prod".into(),
        lineage: "cloud-dns-batches".into(),
    }
}

fn record(zone: &Attrs, zone_name: &str, name: &str, value: &str) -> Attrs {
    let mut a = Attrs::new();
    a.insert("zone_id".into(), zone["id"].clone());
    a.insert("zone_name".into(), Value::from(zone_name));
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
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("runtime: {e}"));
    let provider = Arc::new(
        rt.block_on(matihnet_provider_gcp::GcpProvider::connect(
            matihnet_provider_gcp::GcpSettings {
                environment: "prod".into(),
                project: "matih-prod".into(),
                region: "europe-west1".into(),
                endpoint: Some(cloud.endpoint()),
                rate_limits: Default::default(),
            },
        ))
        .unwrap_or_else(|e| panic!("connect: {e}")),
    );
    let mut zone = Attrs::new();
    zone.insert("name".into(), Value::from("batch.example"));
    zone.insert("zone_resource".into(), Value::from("matih-prod-batch"));
    let zone = rt
        .block_on(provider.create(&ctx("dns_zone", "batch"), &zone))
        .unwrap_or_else(|e| panic!("creating the zone: {}", e.error));
    let zone_name = "batch.example";

    let before = calls(provider.as_ref(), "create change");
    let reads = calls(provider.as_ref(), "get record set");
    let names = ["a", "b", "c", "bad"];
    let results = rt.block_on(futures::future::join_all(names.iter().map(|n| {
        let p = Arc::clone(&provider);
        // A name outside the zone: Cloud DNS refuses the whole change it is in.
        let within = if *n == "bad" {
            "elsewhere.example"
        } else {
            zone_name
        };
        let attrs = record(&zone, within, n, "192.0.2.10");
        async move { p.create(&ctx("dns_record", n), &attrs).await }
    })));
    for (n, r) in names.iter().zip(&results) {
        match (*n, r) {
            ("bad", Err(f)) => assert_eq!(f.error.kind, ErrorKind::Rejected, "{}", f.error),
            ("bad", Ok(_)) => panic!("a record outside its zone was accepted"),
            (_, Err(f)) => panic!("{n} failed with its bad neighbour: {}", f.error),
            (_, Ok(_)) => {}
        }
    }
    // One refused change of four, then each of the four alone; no reads.
    assert_eq!(calls(provider.as_ref(), "create change") - before, 5);
    assert_eq!(calls(provider.as_ref(), "get record set"), reads);

    // Three updates at once: one change, no reads.
    let before = calls(provider.as_ref(), "create change");
    let results = rt.block_on(futures::future::join_all(["a", "b", "c"].iter().map(|n| {
        let p = Arc::clone(&provider);
        let prior = record(&zone, zone_name, n, "192.0.2.10");
        let desired = record(&zone, zone_name, n, "192.0.2.20");
        async move { p.update(&ctx("dns_record", n), &prior, &desired).await }
    })));
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(calls(provider.as_ref(), "create change") - before, 1);
    assert_eq!(calls(provider.as_ref(), "get record set"), reads);

    // A create of a record that is already there with other values: record sets carry no
    // marks, so it is someone else's (an existing zone's own record) and is never overwritten
    // (issue 16); with the file's values it is adopted (a run cut short after writing it).
    let again = record(&zone, zone_name, "a", "192.0.2.30");
    let refused = rt
        .block_on(provider.create(&ctx("dns_record", "a"), &again))
        .expect_err("a create over other values is refused");
    assert_eq!(refused.error.kind, ErrorKind::Rejected, "{}", refused.error);
    assert!(
        refused.error.message.contains("refusing to overwrite it"),
        "{}",
        refused.error
    );
    let same = record(&zone, zone_name, "a", "192.0.2.20");
    rt.block_on(provider.create(&ctx("dns_record", "a"), &same))
        .unwrap_or_else(|e| panic!("adopting a: {}", e.error));
    for (n, want) in [
        ("a", "192.0.2.20"),
        ("b", "192.0.2.20"),
        ("c", "192.0.2.20"),
    ] {
        let got = rt
            .block_on(provider.read(&ctx("dns_record", n), &record(&zone, zone_name, n, want)))
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("{n} is gone"));
        assert_eq!(
            got["values"],
            Value::string_list(vec![want.to_string()]),
            "{n}"
        );
    }
}
