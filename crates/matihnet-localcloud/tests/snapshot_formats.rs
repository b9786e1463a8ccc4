//! A local-cloud file saved before both clouds used one versioned snapshot envelope (Azure's
//! part was versioned, GCP's was the bare world) still loads, operations that were running when
//! it was saved finish on load, and what is saved now is versioned for both clouds.
//!
//! `snapshots/before-versioned-gcp.local-cloud.json` was written by the emulator as it was
//! before the shared envelope (networks, a subnetwork with a secondary range, an address, a
//! running address insert, a DNS zone with a record; an Azure group, VNet with subnet and zone).
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use matihnet_localcloud::{LocalCloud, Options};
use serde_json::Value;
use tower::ServiceExt;

const SUB: &str = "/subscriptions/00000000-0000-0000-0000-00000000abcd/resourceGroups/rg/providers/Microsoft.Network";

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots/before-versioned-gcp.local-cloud.json")
}

async fn get(router: &Router, path: &str) -> (u16, Value) {
    let req = Request::builder()
        .uri(path)
        .header("host", "localcloud.test")
        .header("authorization", "Bearer t")
        .body(Body::empty())
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// What the fixture holds, read through both emulators' APIs.
async fn assert_objects(router: &Router, pending_op: &str) {
    let c = "/compute/v1/projects/proj";
    let (status, net) = get(router, &format!("{c}/global/networks/vpc")).await;
    assert_eq!(status, 200, "{net}");
    assert_eq!(net["subnetworks"].as_array().unwrap().len(), 1);
    let (status, s) = get(
        router,
        &format!("{c}/regions/us-central1/subnetworks/nodes"),
    )
    .await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["secondaryIpRanges"][0]["rangeName"], "pods");
    let (status, a) = get(
        router,
        &format!("{c}/regions/us-central1/addresses/ingress"),
    )
    .await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["labels"]["env"], "prod");
    // Saved while its operation ran; the operation has ended since, so the address exists.
    let (status, p) = get(
        router,
        &format!("{c}/regions/us-central1/addresses/pending"),
    )
    .await;
    assert_eq!(status, 200, "{p}");
    assert_ne!(p["address"], a["address"]);
    let (status, op) = get(
        router,
        &format!("{c}/regions/us-central1/operations/{pending_op}"),
    )
    .await;
    assert_eq!((status, op["status"].as_str()), (200, Some("DONE")), "{op}");
    let z = "/dns/v1/projects/proj/managedZones/platform";
    let (status, rr) = get(router, &format!("{z}/rrsets/api.matih.example.com./A")).await;
    assert_eq!(status, 200, "{rr}");
    assert_eq!(rr["rrdatas"][0], "34.0.0.2");

    let (status, vnet) = get(
        router,
        &format!("{SUB}/virtualNetworks/v?api-version=2024-03-01"),
    )
    .await;
    assert_eq!(status, 200, "{vnet}");
    assert_eq!(vnet["properties"]["provisioningState"], "Succeeded");
    assert_eq!(vnet["properties"]["subnets"][0]["name"], "s");
    let (status, zone) = get(
        router,
        &format!("{SUB}/dnsZones/example.net?api-version=2018-05-01"),
    )
    .await;
    assert_eq!(status, 200, "{zone}");
    assert_eq!(zone["properties"]["numberOfRecordSets"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_saved_before_the_shared_envelope_loads_and_is_saved_versioned() {
    let text = std::fs::read_to_string(fixture()).unwrap();
    let old: Value = serde_json::from_str(&text).unwrap();
    assert!(
        old["gcp"].get("version").is_none(),
        "the fixture must be the unversioned GCP form"
    );
    assert_eq!(old["azure"]["version"], 1);
    let pending_op = old["gcp"]["operations"]
        .as_object()
        .unwrap()
        .values()
        .find(|op| op["settled"] == false)
        .map(|op| op["name"].as_str().unwrap().to_string())
        .unwrap();

    let file = std::env::temp_dir().join(format!("matihnet-lc-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&file, &text).unwrap();
    let cloud = Arc::new(LocalCloud::persistent(Options::default(), file.clone()).unwrap());
    let router = cloud.router();
    assert_objects(&router, &pending_op).await;

    cloud.save().unwrap();
    let saved: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    for part in ["azure", "gcp"] {
        assert_eq!(saved[part]["version"], 1, "{part}");
        assert!(saved[part]["state"].is_object(), "{part}");
    }
    let again = Arc::new(LocalCloud::persistent(Options::default(), file.clone()).unwrap());
    assert_objects(&again.router(), &pending_op).await;
    let _ = std::fs::remove_file(&file);
}
