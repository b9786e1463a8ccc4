//! Behaviour of the local Google Cloud beyond the recordings: operations and `/wait`, range
//! validation, GCP error bodies, Cloud DNS changes, fault injection, and snapshot/restore.
#![allow(clippy::unwrap_used)]

#[path = "gcp/harness.rs"]
mod harness;

use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::Gcp;
use matihnet_localcloud::gcp::Cloud;
use matihnet_localcloud::{LocalCloud, Options};
use serde_json::{json, Value};

const P: &str = "/compute/v1/projects/proj";
const R: &str = "/compute/v1/projects/proj/regions/us-central1";
const Z: &str = "/dns/v1/projects/proj/managedZones";

async fn network(gcp: &Gcp, name: &str) {
    let op = gcp
        .write_and_wait(
            "POST",
            &format!("{P}/global/networks"),
            Some(&json!({"name": name, "autoCreateSubnetworks": false})),
        )
        .await;
    assert!(op.get("error").is_none(), "{op}");
}

async fn subnet(gcp: &Gcp, name: &str, net: &str, range: &str, secondary: Value) -> (u16, Value) {
    gcp.post(
        &format!("{R}/subnetworks"),
        &json!({
            "name": name,
            "network": format!("projects/proj/global/networks/{net}"),
            "ipCidrRange": range,
            "secondaryIpRanges": secondary,
            "privateIpGoogleAccess": true,
        }),
    )
    .await
}

fn reason(body: &Value) -> &str {
    body["error"]["errors"][0]["reason"].as_str().unwrap_or("")
}

#[tokio::test]
async fn an_insert_is_running_then_done_and_the_network_appears_only_then() {
    let gcp = Gcp::new(300);
    let (status, op) = gcp
        .post(
            &format!("{P}/global/networks?$alt=json;enum-encoding=int"),
            &json!({"name": "vpc", "autoCreateSubnetworks": false, "routingConfig": {"routingMode": "REGIONAL"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(op["kind"], "compute#operation");
    assert_eq!(op["status"], "RUNNING");
    assert_eq!(op["progress"], 0);
    assert_eq!(op["operationType"], "insert");
    assert!(op["id"].is_string() && op["targetId"].is_string());
    assert_eq!(
        op["targetLink"],
        "https://www.googleapis.com/compute/v1/projects/proj/global/networks/vpc"
    );
    for field in ["insertTime", "startTime", "selfLink", "name", "user"] {
        assert!(op[field].is_string(), "{field} missing: {op}");
    }
    assert!(
        op.get("region").is_none(),
        "a global operation has no region"
    );

    let (status, missing) = gcp.get(&format!("{P}/global/networks/vpc")).await;
    assert_eq!(status, 404, "visible before DONE: {missing}");
    let op_path = harness::local_path(op["selfLink"].as_str().unwrap());
    let (_, polled) = gcp.get(&op_path).await;
    assert_eq!(polled["status"], "RUNNING");

    let started = Instant::now();
    let (status, done) = gcp.call("POST", &format!("{op_path}/wait"), None).await;
    assert_eq!(status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "wait returned early"
    );
    assert_eq!(done["status"], "DONE");
    assert_eq!(done["progress"], 100);
    assert!(done["endTime"].is_string());
    assert!(done.get("error").is_none());

    let (status, net) = gcp.get(&format!("{P}/global/networks/vpc")).await;
    assert_eq!(status, 200);
    assert_eq!(net["kind"], "compute#network");
    assert_eq!(net["autoCreateSubnetworks"], false);
    assert_eq!(net["routingConfig"]["routingMode"], "REGIONAL");
    assert_eq!(net["id"], op["targetId"]);
    assert!(net["creationTimestamp"].as_str().unwrap().ends_with('Z'));
    assert!(net.get("subnetworks").is_none());

    let (_, list) = gcp.get(&format!("{P}/global/networks")).await;
    assert_eq!(list["kind"], "compute#networkList");
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["default", "vpc"],
        "the project's default network and the new one"
    );
}

#[tokio::test]
async fn wait_on_a_done_operation_returns_at_once_and_unknown_operations_are_404() {
    let gcp = Gcp::new(0);
    let (_, op) = gcp
        .post(&format!("{P}/global/networks"), &json!({"name": "vpc"}))
        .await;
    let path = harness::local_path(op["selfLink"].as_str().unwrap());
    let started = Instant::now();
    let (_, done) = gcp.call("POST", &format!("{path}/wait"), None).await;
    assert_eq!(done["status"], "DONE");
    assert!(started.elapsed() < Duration::from_millis(100));
    let (status, body) = gcp
        .call("POST", &format!("{P}/global/operations/nope/wait"), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(reason(&body), "notFound");
}

#[tokio::test]
async fn a_retried_insert_with_the_same_request_id_gets_the_same_operation() {
    let gcp = Gcp::new(50);
    let body = json!({"name": "vpc"});
    let url = format!("{P}/global/networks?requestId=5f3b2c1e-0000-4000-8000-000000000001");
    let (_, first) = gcp.post(&url, &body).await;
    let (status, second) = gcp.post(&url, &body).await;
    assert_eq!(status, 200);
    assert_eq!(first["name"], second["name"]);
    let (status, third) = gcp.post(&format!("{P}/global/networks"), &body).await;
    assert_eq!(status, 409, "{third}");
}

#[tokio::test]
async fn subnetworks_with_secondary_ranges_and_their_validation() {
    let gcp = Gcp::new(0);
    network(&gcp, "vpc").await;
    let (status, op) = subnet(
        &gcp,
        "nodes",
        "vpc",
        "10.0.0.0/20",
        json!([{"rangeName": "pods", "ipCidrRange": "10.4.0.0/14"}, {"rangeName": "services", "ipCidrRange": "10.8.0.0/20"}]),
    )
    .await;
    assert_eq!(status, 200, "{op}");
    assert!(op["region"]
        .as_str()
        .unwrap()
        .ends_with("/regions/us-central1"));
    gcp.wait(&op).await;
    let (_, s) = gcp.get(&format!("{R}/subnetworks/nodes")).await;
    assert_eq!(s["kind"], "compute#subnetwork");
    assert_eq!(s["gatewayAddress"], "10.0.0.1");
    assert_eq!(s["state"], "READY");
    assert_eq!(s["purpose"], "PRIVATE");
    assert_eq!(s["stackType"], "IPV4_ONLY");
    assert_eq!(s["privateIpGoogleAccess"], true);
    assert_eq!(
        s["secondaryIpRanges"][1],
        json!({"rangeName": "services", "ipCidrRange": "10.8.0.0/20"})
    );
    assert_eq!(
        s["network"],
        "https://www.googleapis.com/compute/v1/projects/proj/global/networks/vpc"
    );
    assert!(s.get("labels").is_none(), "subnetworks take no labels");
    let (_, net) = gcp.get(&format!("{P}/global/networks/vpc")).await;
    assert_eq!(net["subnetworks"], json!([s["selfLink"]]));

    // Overlaps with the existing primary and secondary ranges, in any region of the network.
    for (range, secondary) in [
        ("10.0.8.0/24", json!([])),
        ("10.5.0.0/24", json!([])),
        (
            "10.20.0.0/24",
            json!([{"rangeName": "x", "ipCidrRange": "10.8.0.0/24"}]),
        ),
    ] {
        let (status, body) = subnet(&gcp, "other", "vpc", range, secondary).await;
        assert_eq!(status, 400, "{range}: {body}");
        assert_eq!(reason(&body), "invalid");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("conflicts with existing subnetwork 'nodes'"),
            "{body}"
        );
    }
    // Inside one request: secondary over the primary, secondaries over each other.
    let (status, body) = subnet(
        &gcp,
        "other",
        "vpc",
        "10.20.0.0/24",
        json!([{"rangeName": "a", "ipCidrRange": "10.20.0.0/25"}]),
    )
    .await;
    assert_eq!((status, reason(&body)), (400, "invalid"), "{body}");
    let (status, body) = subnet(
        &gcp,
        "other",
        "vpc",
        "10.20.0.0/24",
        json!([{"rangeName": "a", "ipCidrRange": "10.30.0.0/16"}, {"rangeName": "b", "ipCidrRange": "10.30.128.0/17"}]),
    )
    .await;
    assert_eq!((status, reason(&body)), (400, "invalid"), "{body}");
    // Outside the allowed space, host bits set, malformed.
    for bad in ["8.8.8.0/24", "10.20.0.1/24", "10.20.0.0/33", "banana"] {
        let (status, body) = subnet(&gcp, "other", "vpc", bad, json!([])).await;
        assert_eq!((status, reason(&body)), (400, "invalid"), "{bad}: {body}");
    }
    // The same ranges are fine in another network.
    network(&gcp, "vpc2").await;
    let (status, body) = subnet(&gcp, "other", "vpc2", "10.0.0.0/20", json!([])).await;
    assert_eq!(status, 200, "{body}");

    // Unknown network, duplicate name.
    let (status, body) = subnet(&gcp, "x", "ghost", "10.50.0.0/24", json!([])).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"error": {"code": 404,
            "message": "The resource 'projects/proj/global/networks/ghost' was not found",
            "errors": [{"message": "The resource 'projects/proj/global/networks/ghost' was not found", "domain": "global", "reason": "notFound"}]}})
    );
    let (status, body) = subnet(&gcp, "nodes", "vpc", "10.60.0.0/24", json!([])).await;
    assert_eq!((status, reason(&body)), (409, "alreadyExists"), "{body}");
    assert_eq!(body["error"]["code"], 409);

    // A network with subnetworks cannot go.
    let (status, body) = gcp
        .call("DELETE", &format!("{P}/global/networks/vpc"), None)
        .await;
    assert_eq!(
        (status, reason(&body)),
        (400, "resourceInUseByAnotherResource"),
        "{body}"
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("projects/proj/regions/us-central1/subnetworks/nodes"));
    gcp.write_and_wait("DELETE", &format!("{R}/subnetworks/nodes"), None)
        .await;
    let (status, _) = gcp.get(&format!("{R}/subnetworks/nodes")).await;
    assert_eq!(status, 404);
    let done = gcp
        .write_and_wait("DELETE", &format!("{P}/global/networks/vpc"), None)
        .await;
    assert!(done.get("error").is_none(), "{done}");
    let (status, _) = gcp.get(&format!("{P}/global/networks/vpc")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn secondary_ranges_are_added_in_place_with_the_current_fingerprint() {
    let gcp = Gcp::new(0);
    network(&gcp, "vpc").await;
    let (_, op) = subnet(
        &gcp,
        "nodes",
        "vpc",
        "10.0.0.0/20",
        json!([{"rangeName": "pods", "ipCidrRange": "10.4.0.0/14"}]),
    )
    .await;
    gcp.wait(&op).await;
    let (_, before) = gcp.get(&format!("{R}/subnetworks/nodes")).await;
    let fingerprint = before["fingerprint"].as_str().unwrap().to_string();

    let ranges = json!([{"rangeName": "pods", "ipCidrRange": "10.4.0.0/14"}, {"rangeName": "services", "ipCidrRange": "10.8.0.0/20"}]);
    let (status, body) = gcp
        .call(
            "PATCH",
            &format!("{R}/subnetworks/nodes"),
            Some(&json!({"secondaryIpRanges": ranges, "fingerprint": "c3RhbGU="})),
        )
        .await;
    assert_eq!((status, reason(&body)), (412, "conditionNotMet"), "{body}");

    let done = gcp
        .write_and_wait(
            "PATCH",
            &format!("{R}/subnetworks/nodes"),
            Some(&json!({"secondaryIpRanges": ranges, "fingerprint": fingerprint})),
        )
        .await;
    assert_eq!(done["operationType"], "patch");
    let (_, after) = gcp.get(&format!("{R}/subnetworks/nodes")).await;
    assert_eq!(after["secondaryIpRanges"], ranges);
    assert_ne!(after["fingerprint"], before["fingerprint"]);
    assert_eq!(after["id"], before["id"]);

    // An existing secondary range cannot be edited in place.
    let edited = json!([{"rangeName": "pods", "ipCidrRange": "10.16.0.0/14"}, {"rangeName": "services", "ipCidrRange": "10.8.0.0/20"}]);
    let (status, body) = gcp
        .call(
            "PATCH",
            &format!("{R}/subnetworks/nodes"),
            Some(&json!({"secondaryIpRanges": edited, "fingerprint": after["fingerprint"]})),
        )
        .await;
    assert_eq!((status, reason(&body)), (400, "invalid"), "{body}");

    let done = gcp
        .write_and_wait(
            "POST",
            &format!("{R}/subnetworks/nodes/setPrivateIpGoogleAccess"),
            Some(&json!({"privateIpGoogleAccess": false})),
        )
        .await;
    assert_eq!(done["operationType"], "setPrivateIpGoogleAccess");
    let (_, last) = gcp.get(&format!("{R}/subnetworks/nodes")).await;
    assert_eq!(last["privateIpGoogleAccess"], false);
    assert_ne!(last["fingerprint"], after["fingerprint"]);
}

#[tokio::test]
async fn external_addresses_get_an_ip_when_done_and_keep_their_labels() {
    let gcp = Gcp::new(100);
    let labels = json!({"matihnet-environment": "staging", "matihnet-address": "platform-ingress"});
    let (status, op) = gcp
        .post(
            &format!("{R}/addresses"),
            &json!({"name": "ingress", "addressType": "EXTERNAL", "labels": labels}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = gcp.get(&format!("{R}/addresses/ingress")).await;
    assert_eq!(status, 404);
    gcp.wait(&op).await;
    let (_, a) = gcp.get(&format!("{R}/addresses/ingress")).await;
    assert_eq!(a["kind"], "compute#address");
    assert_eq!(a["status"], "RESERVED");
    assert_eq!(a["addressType"], "EXTERNAL");
    assert_eq!(a["networkTier"], "PREMIUM");
    assert_eq!(a["labels"], labels);
    assert!(a["address"]
        .as_str()
        .unwrap()
        .parse::<std::net::Ipv4Addr>()
        .is_ok());

    let (_, op2) = gcp
        .post(&format!("{R}/addresses"), &json!({"name": "tenant-a"}))
        .await;
    gcp.wait(&op2).await;
    let (_, b) = gcp.get(&format!("{R}/addresses/tenant-a")).await;
    assert_ne!(a["address"], b["address"], "addresses must be distinct");

    let (_, list) = gcp
        .get(&format!(
            "{R}/addresses?filter=labels.matihnet-environment%20%3D%20%22staging%22"
        ))
        .await;
    assert_eq!(list["kind"], "compute#addressList");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["name"], "ingress");

    let (status, body) = gcp
        .post(&format!("{R}/addresses"), &json!({"name": "ingress"}))
        .await;
    assert_eq!((status, reason(&body)), (409, "alreadyExists"));
    let (status, body) = gcp
        .post(
            &format!("{R}/addresses"),
            &json!({"name": "bad", "labels": {"Upper.Case": "x"}}),
        )
        .await;
    assert_eq!((status, reason(&body)), (400, "invalid"));

    gcp.write_and_wait("DELETE", &format!("{R}/addresses/ingress"), None)
        .await;
    let (status, body) = gcp.get(&format!("{R}/addresses/ingress")).await;
    assert_eq!((status, reason(&body)), (404, "notFound"));
    assert_eq!(
        body["error"]["message"],
        "The resource 'projects/proj/regions/us-central1/addresses/ingress' was not found"
    );
}

#[tokio::test]
async fn dns_zones_records_and_changes() {
    let gcp = Gcp::new(0);
    let (status, parent) = gcp
        .post(Z, &json!({"name": "platform", "dnsName": "matih.example.com.", "description": "", "labels": {"matihnet-environment": "staging"}}))
        .await;
    assert_eq!(status, 200, "{parent}");
    assert_eq!(parent["kind"], "dns#managedZone");
    assert_eq!(parent["labels"]["matihnet-environment"], "staging");
    let (_, child) = gcp
        .post(Z, &json!({"name": "tenant-a", "dnsName": "a.matih.example.com.", "description": "tenant a"}))
        .await;
    assert_eq!(parent["nameServers"].as_array().unwrap().len(), 4);
    assert_ne!(
        parent["nameServers"], child["nameServers"],
        "zones share name servers"
    );
    let (status, body) = gcp
        .post(Z, &json!({"name": "platform", "dnsName": "x.example.com."}))
        .await;
    assert_eq!((status, reason(&body)), (409, "alreadyExists"));
    let (status, body) = gcp
        .post(Z, &json!({"name": "nodot", "dnsName": "example.com"}))
        .await;
    assert_eq!((status, reason(&body)), (400, "invalid"));

    // SOA and NS exist from the start.
    let (_, apex) = gcp
        .get(&format!("{Z}/platform/rrsets/matih.example.com./NS"))
        .await;
    assert_eq!(apex["rrdatas"], parent["nameServers"]);
    let (status, _) = gcp
        .get(&format!("{Z}/platform/rrsets/matih.example.com./SOA"))
        .await;
    assert_eq!(status, 200);

    // Delegation + records through the changes API.
    let ns = json!({"name": "a.matih.example.com.", "type": "NS", "ttl": 300, "rrdatas": child["nameServers"]});
    let api =
        json!({"name": "api.matih.example.com.", "type": "A", "ttl": 300, "rrdatas": ["34.0.0.2"]});
    let (status, change) = gcp
        .post(
            &format!("{Z}/platform/changes"),
            &json!({"additions": [ns, api]}),
        )
        .await;
    assert_eq!(status, 200, "{change}");
    assert_eq!(change["kind"], "dns#change");
    assert_eq!(change["status"], "done");
    let id = change["id"].as_str().unwrap();
    let (_, again) = gcp.get(&format!("{Z}/platform/changes/{id}")).await;
    assert_eq!(again["additions"], change["additions"]);

    let (status, body) = gcp
        .post(
            &format!("{Z}/platform/changes"),
            &json!({"additions": [api]}),
        )
        .await;
    assert_eq!((status, reason(&body)), (409, "alreadyExists"), "{body}");
    let stale =
        json!({"name": "api.matih.example.com.", "type": "A", "ttl": 300, "rrdatas": ["1.1.1.1"]});
    let (status, body) = gcp
        .post(
            &format!("{Z}/platform/changes"),
            &json!({"deletions": [stale]}),
        )
        .await;
    assert_eq!((status, reason(&body)), (412, "conditionNotMet"), "{body}");
    let ghost = json!({"name": "ghost.matih.example.com.", "type": "A", "ttl": 300, "rrdatas": ["1.1.1.1"]});
    let (status, body) = gcp
        .post(
            &format!("{Z}/platform/changes"),
            &json!({"deletions": [ghost]}),
        )
        .await;
    assert_eq!((status, reason(&body)), (404, "notFound"), "{body}");
    let outside =
        json!({"name": "api.other.com.", "type": "A", "ttl": 300, "rrdatas": ["1.1.1.1"]});
    let (status, _) = gcp
        .post(
            &format!("{Z}/platform/changes"),
            &json!({"additions": [outside]}),
        )
        .await;
    assert_eq!(status, 400);
    // A failed change changes nothing (atomic).
    let (status, _) = gcp
        .post(
            &format!("{Z}/platform/changes"),
            &json!({"deletions": [api], "additions": [api, api]}),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = gcp
        .get(&format!("{Z}/platform/rrsets/api.matih.example.com./A"))
        .await;
    assert_eq!(status, 200);

    // Replace in one change; filters on list.
    let api2 =
        json!({"name": "api.matih.example.com.", "type": "A", "ttl": 60, "rrdatas": ["34.0.0.3"]});
    let (status, _) = gcp
        .post(
            &format!("{Z}/platform/changes"),
            &json!({"deletions": [api], "additions": [api2]}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, list) = gcp
        .get(&format!(
            "{Z}/platform/rrsets?name=api.matih.example.com.&type=A"
        ))
        .await;
    assert_eq!(list["rrsets"].as_array().unwrap().len(), 1);
    assert_eq!(list["rrsets"][0]["ttl"], 60);
    let (_, empty) = gcp
        .get(&format!(
            "{Z}/platform/rrsets?name=none.matih.example.com.&type=A"
        ))
        .await;
    assert!(empty.get("rrsets").is_none());

    // A zone with records cannot be deleted; emptied down to SOA/NS it can.
    let (status, body) = gcp.call("DELETE", &format!("{Z}/platform"), None).await;
    assert_eq!(
        (status, reason(&body)),
        (400, "containerNotEmpty"),
        "{body}"
    );
    let (status, _) = gcp
        .post(
            &format!("{Z}/platform/changes"),
            &json!({"deletions": [ns, api2]}),
        )
        .await;
    assert_eq!(status, 200);
    // The apex NS cannot be removed without a replacement.
    let (status, _) = gcp
        .post(
            &format!("{Z}/platform/changes"),
            &json!({"deletions": [apex]}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, body) = gcp.call("DELETE", &format!("{Z}/platform"), None).await;
    assert_eq!((status, body), (200, json!({})));
    let (status, body) = gcp.get(&format!("{Z}/platform")).await;
    assert_eq!((status, reason(&body)), (404, "notFound"));
    assert_eq!(body["error"]["status"], "NOT_FOUND");

    // Patch answers with a dns#operation; v1beta2 serves the same zones.
    let (status, op) = gcp
        .call(
            "PATCH",
            &format!("{Z}/tenant-a"),
            Some(&json!({"labels": {"matihnet-lineage": "l1"}})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (op["kind"].as_str(), op["status"].as_str()),
        (Some("dns#operation"), Some("done"))
    );
    let (_, z) = gcp
        .get("/dns/v1beta2/projects/proj/managedZones/tenant-a")
        .await;
    assert_eq!(z["labels"]["matihnet-lineage"], "l1");
}

#[tokio::test]
async fn faults_throttle_unavailable_and_failed_operations() {
    let gcp = Gcp::new(0);
    let (status, _) = gcp
        .post(
            "/_localcloud/gcp/faults",
            &json!({"throttle": {"count": 2}, "unavailable": {"count": 1}}),
        )
        .await;
    assert_eq!(status, 200);
    for _ in 0..2 {
        let (status, body) = gcp.get(&format!("{P}/global/networks")).await;
        assert_eq!(
            (status, reason(&body)),
            (429, "rateLimitExceeded"),
            "{body}"
        );
        assert_eq!(body["error"]["code"], 429);
    }
    let (status, body) = gcp.get(Z).await;
    assert_eq!((status, reason(&body)), (503, "backendError"), "{body}");
    let (status, _) = gcp.get(&format!("{P}/global/networks")).await;
    assert_eq!(status, 200);

    gcp.cloud.fail_operations(1);
    let (status, op) = gcp
        .post(&format!("{P}/global/networks"), &json!({"name": "vpc"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(op["status"], "RUNNING");
    let done = gcp.wait(&op).await;
    assert_eq!(done["status"], "DONE");
    assert!(done["error"]["errors"][0]["code"].is_string(), "{done}");
    assert!(done["error"]["errors"][0]["message"].is_string(), "{done}");
    let (status, _) = gcp.get(&format!("{P}/global/networks/vpc")).await;
    assert_eq!(status, 404, "a failed insert must not create the network");
    network(&gcp, "vpc").await; // the next one succeeds

    let (_, faults) = gcp
        .post(
            "/_localcloud/gcp/faults",
            &json!({"operation_delay_ms": 250}),
        )
        .await;
    assert_eq!(faults["operation_delay_ms"], 250);
    let (_, op) = gcp
        .post(&format!("{P}/global/networks"), &json!({"name": "slow"}))
        .await;
    let path = harness::local_path(op["selfLink"].as_str().unwrap());
    let (_, polled) = gcp.get(&path).await;
    assert_eq!(polled["status"], "RUNNING");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, polled) = gcp.get(&path).await;
    assert_eq!(polled["status"], "DONE");

    let (status, _) = gcp
        .post("/_localcloud/gcp/faults", &json!({"bogus": 1}))
        .await;
    assert_eq!(status, 400);
    let (status, _) = gcp.post("/_localcloud/gcp/reset", &json!({})).await;
    assert_eq!(status, 200);
    let (_, list) = gcp.get(&format!("{P}/global/networks")).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        1,
        "reset leaves a fresh project with only its default network: {list}"
    );
    assert_eq!(items[0]["name"], "default");
}

#[tokio::test]
async fn snapshot_and_restore_keep_objects_and_pending_operations() {
    let gcp = Gcp::new(0);
    network(&gcp, "vpc").await;
    let (_, op) = subnet(
        &gcp,
        "nodes",
        "vpc",
        "10.0.0.0/20",
        json!([{"rangeName": "pods", "ipCidrRange": "10.4.0.0/14"}]),
    )
    .await;
    gcp.wait(&op).await;
    gcp.post(
        Z,
        &json!({"name": "platform", "dnsName": "matih.example.com."}),
    )
    .await;
    gcp.cloud.set_operation_delay(Duration::from_millis(200));
    let (_, pending) = gcp
        .post(&format!("{R}/addresses"), &json!({"name": "ingress"}))
        .await;

    let snap = gcp.cloud.snapshot();
    let text = serde_json::to_string(&snap).unwrap();
    let restored = Gcp::new(0);
    restored
        .cloud
        .restore(serde_json::from_str(&text).unwrap())
        .unwrap();
    let (_, a) = gcp.get(&format!("{R}/subnetworks/nodes")).await;
    let (_, b) = restored.get(&format!("{R}/subnetworks/nodes")).await;
    assert_eq!(a, b);
    let (status, _) = restored
        .get(&format!("{Z}/platform/rrsets/matih.example.com./SOA"))
        .await;
    assert_eq!(status, 200);
    // The operation started before the snapshot finishes in the restored cloud.
    let done = restored.wait(&pending).await;
    assert_eq!(done["status"], "DONE");
    let (status, _) = restored.get(&format!("{R}/addresses/ingress")).await;
    assert_eq!(status, 200);
    // New ids do not collide with restored ones.
    network(&restored, "vpc2").await;
    let (_, n1) = restored.get(&format!("{P}/global/networks/vpc")).await;
    let (_, n2) = restored.get(&format!("{P}/global/networks/vpc2")).await;
    assert_ne!(n1["id"], n2["id"]);

    assert!(restored.cloud.restore(json!({"networks": 5})).is_err());
    restored.cloud.restore(Value::Null).unwrap();
    let (status, _) = restored.get(&format!("{P}/global/networks/vpc")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_gcp_routes_merge_with_the_azure_ones() {
    use tower::ServiceExt;
    let local = Arc::new(LocalCloud::new(Options::default()));
    let router = local.router(); // panics on overlapping routes
    let request = axum::http::Request::builder()
        .uri("/dns/v1/projects/proj/managedZones")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let cloud = Cloud::new(Options::default());
    assert!(cloud.snapshot().is_object());
}

#[tokio::test]
async fn networks_are_patched_through_an_operation_found_in_either_scope() {
    let gcp = Gcp::new(0);
    network(&gcp, "vpc").await;
    let (status, op) = gcp
        .call(
            "PATCH",
            &format!("{P}/global/networks/vpc"),
            Some(&json!({"routingConfig": {"routingMode": "GLOBAL"}})),
        )
        .await;
    assert_eq!(status, 200, "{op}");
    assert_eq!(op["operationType"], "compute.networks.patch");
    let name = op["name"].as_str().unwrap();
    // Polled through a regional path, the global operation is still found.
    let (status, _) = gcp
        .call("POST", &format!("{R}/operations/{name}/wait"), None)
        .await;
    assert_eq!(status, 200);
    let (_, net) = gcp.get(&format!("{P}/global/networks/vpc")).await;
    assert_eq!(net["routingConfig"]["routingMode"], "GLOBAL");
    let (status, body) = gcp
        .call(
            "PATCH",
            &format!("{P}/global/networks/ghost"),
            Some(&json!({"description": "x"})),
        )
        .await;
    assert_eq!((status, reason(&body)), (404, "notFound"));
}

#[tokio::test]
async fn unknown_paths_get_a_gcp_404_and_wildcard_names_are_decoded() {
    let gcp = Gcp::new(0);
    let (status, body) = gcp.get(&format!("{P}/global/routes?filter=x")).await;
    assert_eq!((status, reason(&body)), (404, "notFound"), "{body}");
    let (status, body) = gcp.get("/dns/v1/projects/proj/policies").await;
    assert_eq!((status, reason(&body)), (404, "notFound"), "{body}");

    gcp.post(Z, &json!({"name": "t", "dnsName": "t.example.com."}))
        .await;
    let wildcard =
        json!({"name": "*.t.example.com.", "type": "A", "ttl": 300, "rrdatas": ["34.0.0.9"]});
    let (status, _) = gcp
        .post(&format!("{Z}/t/changes"), &json!({"additions": [wildcard]}))
        .await;
    assert_eq!(status, 200);
    let (status, got) = gcp.get(&format!("{Z}/t/rrsets/%2A.t.example.com./A")).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["name"], "*.t.example.com.");
    let (_, list) = gcp
        .get(&format!("{Z}/t/rrsets?name=%2A.t.example.com."))
        .await;
    assert_eq!(list["rrsets"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_new_project_has_an_auto_mode_default_network_and_auto_mode_networks_get_every_region() {
    let gcp = Gcp::new(20);
    let (status, default) = gcp.get(&format!("{P}/global/networks/default")).await;
    assert_eq!(status, 200, "{default}");
    assert_eq!(default["autoCreateSubnetworks"], true);
    assert_eq!(default["description"], "Default network for the project");
    let regions = default["subnetworks"].as_array().unwrap();
    assert_eq!(regions.len(), 41, "one subnetwork per region");
    let (status, central) = gcp
        .get(&format!("{P}/regions/us-central1/subnetworks/default"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(central["ipCidrRange"], "10.128.0.0/20");
    assert_eq!(central["gatewayAddress"], "10.128.0.1");
    assert_eq!(
        central["network"],
        "https://www.googleapis.com/compute/v1/projects/proj/global/networks/default"
    );

    // A new auto-mode network gets the same ranges, named like the network, when its insert is DONE.
    let (_, op) = gcp
        .post(
            &format!("{P}/global/networks"),
            &json!({"name": "auto", "autoCreateSubnetworks": true}),
        )
        .await;
    let (status, _) = gcp
        .get(&format!("{P}/regions/europe-west1/subnetworks/auto"))
        .await;
    assert_eq!(
        status, 404,
        "auto subnetworks come with the network, not before"
    );
    let op_path = harness::local_path(op["selfLink"].as_str().unwrap());
    let (_, done) = gcp.call("POST", &format!("{op_path}/wait"), None).await;
    assert_eq!(done["status"], "DONE");
    let (_, west) = gcp
        .get(&format!("{P}/regions/europe-west1/subnetworks/auto"))
        .await;
    assert_eq!(west["ipCidrRange"], "10.132.0.0/20");

    // A custom subnetwork may not overlap the auto ranges of its network.
    let (status, err) = gcp
        .post(
            &format!("{P}/regions/us-east1/subnetworks"),
            &json!({"name": "extra", "network": "projects/proj/global/networks/auto", "ipCidrRange": "10.142.0.0/24"}),
        )
        .await;
    assert_eq!(status, 400, "{err}");

    // Auto subnetworks cannot go alone, and do not keep the network from going.
    let (status, err) = gcp
        .call(
            "DELETE",
            &format!("{P}/regions/us-central1/subnetworks/auto"),
            None,
        )
        .await;
    assert_eq!(status, 400, "{err}");
    let (status, op) = gcp
        .call("DELETE", &format!("{P}/global/networks/auto"), None)
        .await;
    assert_eq!(status, 200, "{op}");
    let op_path = harness::local_path(op["selfLink"].as_str().unwrap());
    let (_, done) = gcp.call("POST", &format!("{op_path}/wait"), None).await;
    assert!(done.get("error").is_none(), "{done}");
    let (status, _) = gcp
        .get(&format!("{P}/regions/us-central1/subnetworks/auto"))
        .await;
    assert_eq!(status, 404, "the auto subnetworks went with the network");

    // An insert that names no mode gets auto mode, the API's default.
    let (_, op) = gcp
        .post(
            &format!("{P}/global/networks"),
            &json!({"name": "implicit"}),
        )
        .await;
    let op_path = harness::local_path(op["selfLink"].as_str().unwrap());
    gcp.call("POST", &format!("{op_path}/wait"), None).await;
    let (_, implicit) = gcp.get(&format!("{P}/global/networks/implicit")).await;
    assert_eq!(implicit["autoCreateSubnetworks"], true);

    // switchToCustomMode keeps the subnetworks and makes them the user's.
    let (status, op) = gcp
        .call(
            "POST",
            &format!("{P}/global/networks/implicit/switchToCustomMode"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{op}");
    let op_path = harness::local_path(op["selfLink"].as_str().unwrap());
    gcp.call("POST", &format!("{op_path}/wait"), None).await;
    let (_, custom) = gcp.get(&format!("{P}/global/networks/implicit")).await;
    assert_eq!(custom["autoCreateSubnetworks"], false);
    assert_eq!(custom["subnetworks"].as_array().unwrap().len(), 41);
    let (status, _) = gcp
        .call(
            "DELETE",
            &format!("{P}/regions/us-central1/subnetworks/implicit"),
            None,
        )
        .await;
    assert_eq!(
        status, 200,
        "a custom-mode network's subnetwork can be deleted"
    );
}

#[tokio::test]
async fn internal_ipv6_gets_a_ula_range_and_a_global_peering_range_avoids_the_subnetworks() {
    let gcp = Gcp::new(0);
    network(&gcp, "v6").await;
    let done = gcp
        .write_and_wait(
            "PATCH",
            &format!("{P}/global/networks/v6"),
            Some(&json!({"enableUlaInternalIpv6": true})),
        )
        .await;
    assert_eq!(done["operationType"], "updateNetwork");
    let (_, net) = gcp.get(&format!("{P}/global/networks/v6")).await;
    assert_eq!(net["enableUlaInternalIpv6"], true);
    let range = net["internalIpv6Range"].as_str().unwrap();
    let (prefix, len) = range.split_once('/').unwrap();
    assert_eq!(len, "48");
    let addr: std::net::Ipv6Addr = prefix.parse().unwrap();
    assert_eq!(addr.segments()[0], 0xfd20, "{range} is in fd20::/20");

    // The default network's 10.128.0.0/9 auto ranges are taken; a /16 peering range goes
    // below them.
    let done = gcp
        .write_and_wait(
            "POST",
            &format!("{P}/global/addresses"),
            Some(
                &json!({"name": "peering", "addressType": "INTERNAL", "purpose": "VPC_PEERING",
                "prefixLength": 16, "network": "projects/proj/global/networks/default"}),
            ),
        )
        .await;
    assert!(done.get("error").is_none(), "{done}");
    let (_, peering) = gcp.get(&format!("{P}/global/addresses/peering")).await;
    assert_eq!(peering["address"], "10.0.0.0");
    assert_eq!(peering["prefixLength"], 16);
    assert!(
        peering.get("region").is_none() && peering.get("status").is_none(),
        "{peering}"
    );
    let done = gcp
        .write_and_wait(
            "POST",
            &format!("{P}/global/addresses"),
            Some(
                &json!({"name": "peering2", "addressType": "INTERNAL", "purpose": "VPC_PEERING",
                "prefixLength": 16, "network": "projects/proj/global/networks/default"}),
            ),
        )
        .await;
    assert!(done.get("error").is_none(), "{done}");
    let (_, second) = gcp.get(&format!("{P}/global/addresses/peering2")).await;
    assert_eq!(second["address"], "10.1.0.0", "the next free block");
    let (status, _) = gcp
        .post(&format!("{P}/global/addresses"), &json!({"name": "lb"}))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn rate_limit_enforces_computes_per_minute_quotas() {
    let gcp = Gcp::new(0);
    let (status, faults) = gcp
        .post("/_localcloud/gcp/faults", &json!({"rate_limit": true}))
        .await;
    assert_eq!(status, 200, "{faults}");
    assert_eq!(faults["rate_limit"], true);
    // Gets: 1,500 a minute; the 1,501st in the same moment is refused as Compute documents.
    let started = std::time::Instant::now();
    let mut refused = None;
    for i in 0..4000 {
        let (status, body) = gcp.get(&format!("{P}/global/networks/default")).await;
        if status != 200 {
            refused = Some((i, status, body));
            break;
        }
    }
    let (at, status, body) = refused.expect("4,000 gets at once were never refused");
    // The bucket's 1,500 and what came back at 25 a second while they were sent.
    let refilled = (started.elapsed().as_secs_f64() * 25.0).ceil() as usize + 1;
    assert!(
        (1500..=1500 + refilled).contains(&at),
        "refused at get {at}"
    );
    assert_eq!(
        (status, reason(&body)),
        (403, "rateLimitExceeded"),
        "{body}"
    );
    // Lists and writes have their own quotas.
    let (status, _) = gcp.get(&format!("{P}/global/networks")).await;
    assert_eq!(status, 200);
    let (status, op) = gcp
        .post(&format!("{P}/global/networks"), &json!({"name": "vpc"}))
        .await;
    assert_eq!(status, 200, "{op}");
    let (_, faults) = gcp.get("/_localcloud/gcp/faults").await;
    assert!(
        faults["rate_limited"].as_u64().unwrap_or(0) >= 1,
        "{faults}"
    );
}

#[tokio::test]
async fn rate_limit_is_off_by_default() {
    let gcp = Gcp::new(0);
    let (_, faults) = gcp.get("/_localcloud/gcp/faults").await;
    assert_eq!(faults["rate_limit"], false, "{faults}");
    assert_eq!(faults["rate_limited"], 0, "{faults}");
    // More gets than the 1,500 a minute Compute allows, and not one refused.
    for i in 0..1600 {
        let (status, body) = gcp.get(&format!("{P}/global/networks/default")).await;
        assert_eq!(status, 200, "get {i}: {body}");
    }
}

#[tokio::test]
async fn rate_limit_refuses_as_compute_documents_per_project_and_quota_group() {
    let gcp = Gcp::new(0);
    gcp.cloud.set_rate_limit(true);
    network(&gcp, "vpc").await;
    let started = Instant::now();
    let mut refused = None;
    for i in 0..4000 {
        let (status, body) = gcp.get(&format!("{P}/global/networks/vpc")).await;
        if status != 200 {
            refused = Some((i, status, body));
            break;
        }
    }
    let (at, status, body) = refused.expect("4,000 gets at once were never refused");
    let refilled = (started.elapsed().as_secs_f64() * 25.0).ceil() as usize + 1;
    assert!(
        (1500..=1500 + refilled).contains(&at),
        "refused at get {at}"
    );
    // Compute's documented refusal, worded by Google's quota system, with its ErrorInfo.
    assert_eq!(
        (status, reason(&body)),
        (403, "rateLimitExceeded"),
        "{body}"
    );
    let error = &body["error"];
    assert_eq!(error["code"], 403);
    assert_eq!(error["errors"][0]["domain"], "usageLimits");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with("Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute' of service 'compute.googleapis.com' for consumer 'project_number:"),
        "{message}"
    );
    assert_eq!(error["errors"][0]["message"], message);
    let info = &error["details"][0];
    assert_eq!(info["@type"], "type.googleapis.com/google.rpc.ErrorInfo");
    assert_eq!(info["reason"], "RATE_LIMIT_EXCEEDED");
    assert_eq!(
        info["metadata"]["quota_metric"],
        "compute.googleapis.com/read_requests"
    );
    assert_eq!(
        info["metadata"]["quota_limit"],
        "ReadRequestsPerMinutePerProject"
    );
    assert_eq!(info["metadata"]["quota_limit_value"], "1500");
    assert_eq!(info["metadata"]["service"], "compute.googleapis.com");

    // Other groups, other projects and Cloud DNS are not spent by the gets.
    let (status, _) = gcp.get(&format!("{P}/global/networks")).await;
    assert_eq!(status, 200, "lists have their own quota");
    let (status, op) = gcp
        .post(&format!("{P}/global/networks"), &json!({"name": "vpc2"}))
        .await;
    assert_eq!(status, 200, "mutations have their own quota: {op}");
    let op_path = harness::local_path(op["selfLink"].as_str().unwrap());
    let (status, polled) = gcp.get(&op_path).await;
    assert_eq!(
        status, 200,
        "operation polls have their own quota: {polled}"
    );
    let (status, waited) = gcp.call("POST", &format!("{op_path}/wait"), None).await;
    assert_eq!(status, 200, "so has waiting on one: {waited}");
    let (status, body) = gcp
        .get("/compute/v1/projects/other/global/networks/default")
        .await;
    assert_eq!(status, 200, "every project has its own quotas: {body}");
    let (status, body) = gcp.get(Z).await;
    assert_eq!(status, 200, "Cloud DNS is not limited: {body}");

    // 25 tokens a second come back: one within 40 ms.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, body) = gcp.get(&format!("{P}/global/networks/vpc")).await;
    assert_eq!(status, 200, "{body}");

    let (_, faults) = gcp.get("/_localcloud/gcp/faults").await;
    assert_eq!(faults["rate_limit"], true);
    assert_eq!(faults["rate_limited"], 1, "{faults}");
    let (_, faults) = gcp
        .post("/_localcloud/gcp/faults", &json!({"rate_limit": false}))
        .await;
    assert_eq!(faults["rate_limit"], false, "{faults}");
}
