//! Behaviour of the local Azure Resource Manager beyond the reference replays: long-running
//! operations, deletes, validation, DNS etags, faults, authentication, case-insensitive paths,
//! resource groups and snapshot/restore.
#![allow(clippy::unwrap_used)]

#[path = "azure/wire.rs"]
mod wire;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use matihnet_localcloud::{LocalCloud, Options};
use serde_json::{json, Value};
use wire::{Emulator, HOST};

const SUB: &str = "/subscriptions/00000000-0000-0000-0000-00000000abcd";
const NET: &str = "2024-03-01";
const DNS: &str = "2018-05-01";

fn group(rg: &str) -> String {
    format!("{SUB}/resourceGroups/{rg}?api-version=2021-04-01")
}

fn net(rg: &str, rest: &str) -> String {
    format!("{SUB}/resourceGroups/{rg}/providers/Microsoft.Network/{rest}?api-version={NET}")
}

fn dns(rg: &str, rest: &str) -> String {
    format!(
        "{SUB}/resourceGroups/{rg}/providers/Microsoft.Network/dnsZones/{rest}?api-version={DNS}"
    )
}

fn vnet_body(prefix: &str, subnets: Value) -> Value {
    json!({"location": "westus", "properties": {"addressSpace": {"addressPrefixes": [prefix]}, "subnets": subnets}})
}

async fn with_group(delay_ms: u64) -> Emulator {
    let emu = Emulator::new(Duration::from_millis(delay_ms));
    let a = emu
        .call("PUT", &group("rg"), Some(&json!({"location": "westus"})))
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    emu
}

fn code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| body["code"].as_str().unwrap_or(""))
}

#[tokio::test]
async fn put_runs_an_operation_that_ends_after_the_delay() {
    let emu = with_group(400).await;
    let url = net("rg", "virtualNetworks/vnet");
    let a = emu
        .call("PUT", &url, Some(&vnet_body("10.0.0.0/16", json!([]))))
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.body["properties"]["provisioningState"], "Updating");
    let op = a.header("azure-asyncoperation").unwrap();
    assert!(
        op.starts_with(&format!(
            "http://{HOST}{SUB}/providers/Microsoft.Network/locations/westus/operations/"
        )),
        "{op}"
    );
    assert!(op.ends_with(&format!("?api-version={NET}")), "{op}");
    assert!(
        a.header("retry-after-ms").is_some(),
        "azure_core reads retry-after-ms"
    );
    let first_etag = a.body["etag"].clone();
    let got = emu.call("GET", &url, None).await;
    assert_eq!(got.body["properties"]["provisioningState"], "Updating");
    assert_eq!(
        emu.call("GET", &op, None).await.body,
        json!({"status": "InProgress"})
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        emu.call("GET", &op, None).await.body,
        json!({"status": "Succeeded"})
    );
    let got = emu.call("GET", &url, None).await;
    assert_eq!(got.body["properties"]["provisioningState"], "Succeeded");
    assert_ne!(
        got.body["etag"], first_etag,
        "the etag changes when provisioning ends"
    );
    assert_eq!(got.header("etag").as_deref(), got.body["etag"].as_str());
    // An update answers 200 and runs again.
    let b = emu
        .call("PUT", &url, Some(&vnet_body("10.0.0.0/16", json!([]))))
        .await;
    assert_eq!(b.status, StatusCode::OK);
    assert_eq!(b.body["properties"]["provisioningState"], "Updating");
}

#[tokio::test]
async fn delete_answers_202_then_the_resource_goes() {
    let emu = with_group(400).await;
    let url = net("rg", "publicIPAddresses/pip");
    emu.call("PUT", &url, Some(&json!({"location": "westus"})))
        .await;
    emu.cloud.finish_operations();
    let d = emu.call("DELETE", &url, None).await;
    assert_eq!(d.status, StatusCode::ACCEPTED);
    assert_eq!(d.body, Value::Null, "empty body");
    let op = d.header("azure-asyncoperation").unwrap();
    let location = d.header("location").unwrap();
    assert!(location.contains("/operationResults/"));
    assert_eq!(
        emu.call("GET", &url, None).await.body["properties"]["provisioningState"],
        "Deleting"
    );
    assert_eq!(
        emu.call("GET", &location, None).await.status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        emu.call("GET", &op, None).await.body["status"],
        "InProgress"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        emu.call("GET", &location, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(emu.call("GET", &op, None).await.body["status"], "Succeeded");
    let gone = emu.call("GET", &url, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(code(&gone.body), "ResourceNotFound");
    assert!(gone.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Microsoft.Network/publicIPAddresses/pip"));
    assert_eq!(
        emu.call("DELETE", &url, None).await.status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn static_public_ips_get_distinct_addresses_once_provisioned() {
    let emu = with_group(50).await;
    let body = json!({"location": "westus", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}, "tags": {"matihnet:environment": "prod"}});
    let a = emu
        .call("PUT", &net("rg", "publicIPAddresses/a"), Some(&body))
        .await;
    let b = emu
        .call("PUT", &net("rg", "publicIPAddresses/b"), Some(&body))
        .await;
    assert!(
        a.body["properties"].get("ipAddress").is_none(),
        "no address while Updating"
    );
    assert_eq!(
        a.body["sku"],
        json!({"name": "Standard", "tier": "Regional"})
    );
    assert_eq!(a.body["tags"]["matihnet:environment"], "prod");
    emu.wait_operation(&a.header("azure-asyncoperation").unwrap())
        .await;
    emu.wait_operation(&b.header("azure-asyncoperation").unwrap())
        .await;
    let a = emu
        .call("GET", &net("rg", "publicIPAddresses/a"), None)
        .await;
    let b = emu
        .call("GET", &net("rg", "publicIPAddresses/b"), None)
        .await;
    let (ia, ib) = (
        a.body["properties"]["ipAddress"].as_str().unwrap(),
        b.body["properties"]["ipAddress"].as_str().unwrap(),
    );
    assert!(ia.parse::<std::net::Ipv4Addr>().is_ok());
    assert_ne!(ia, ib);
    // The address survives an update.
    let u = emu
        .call("PUT", &net("rg", "publicIPAddresses/a"), Some(&body))
        .await;
    assert_eq!(u.status, StatusCode::OK);
    emu.cloud.finish_operations();
    let a2 = emu
        .call("GET", &net("rg", "publicIPAddresses/a"), None)
        .await;
    assert_eq!(a2.body["properties"]["ipAddress"], ia);
    let list = emu.call("GET", &net("rg", "publicIPAddresses"), None).await;
    assert_eq!(list.body["value"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn subnet_validation_uses_the_network_providers_codes() {
    let emu = with_group(0).await;
    let vnet = net("rg", "virtualNetworks/v");
    let a = emu
        .call(
            "PUT",
            &vnet,
            Some(&vnet_body(
                "10.0.0.0/16",
                json!([{"name": "nodes", "properties": {"addressPrefix": "10.0.0.0/20"}}]),
            )),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    emu.cloud.finish_operations();
    let outside = emu
        .call(
            "PUT",
            &net("rg", "virtualNetworks/v/subnets/x"),
            Some(&json!({"properties": {"addressPrefix": "10.1.0.0/24"}})),
        )
        .await;
    assert_eq!(outside.status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&outside.body), "NetcfgSubnetRangeOutsideVnet");
    let overlap = emu
        .call(
            "PUT",
            &net("rg", "virtualNetworks/v/subnets/x"),
            Some(&json!({"properties": {"addressPrefix": "10.0.8.0/24"}})),
        )
        .await;
    assert_eq!(code(&overlap.body), "NetcfgSubnetRangesOverlap");
    let bits = emu
        .call(
            "PUT",
            &net("rg", "virtualNetworks/v/subnets/x"),
            Some(&json!({"properties": {"addressPrefix": "10.0.16.1/24"}})),
        )
        .await;
    assert_eq!(code(&bits.body), "InvalidCIDRNotation");
    assert!(bits.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("10.0.16.0/24"));
    let junk = emu
        .call(
            "PUT",
            &net("rg", "virtualNetworks/v/subnets/x"),
            Some(&json!({"properties": {"addressPrefix": "banana"}})),
        )
        .await;
    assert_eq!(code(&junk.body), "InvalidAddressPrefixFormat");
    let inline_overlap = emu
        .call(
            "PUT",
            &vnet,
            Some(&vnet_body(
                "10.0.0.0/16",
                json!([
                    {"name": "a", "properties": {"addressPrefix": "10.0.0.0/20"}},
                    {"name": "b", "properties": {"addressPrefix": "10.0.4.0/24"}}
                ]),
            )),
        )
        .await;
    assert_eq!(code(&inline_overlap.body), "NetcfgSubnetRangesOverlap");
    let no_location = emu
        .call(
            "PUT",
            &net("rg", "virtualNetworks/w"),
            Some(&json!({"properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}})),
        )
        .await;
    assert_eq!(code(&no_location.body), "LocationRequired");
    let missing_parent = emu
        .call(
            "PUT",
            &net("rg", "virtualNetworks/nope/subnets/x"),
            Some(&json!({"properties": {"addressPrefix": "10.0.0.0/24"}})),
        )
        .await;
    assert_eq!(missing_parent.status, StatusCode::NOT_FOUND);
    assert_eq!(code(&missing_parent.body), "ParentResourceNotFound");
    let no_subnet = emu
        .call("GET", &net("rg", "virtualNetworks/v/subnets/zzz"), None)
        .await;
    assert_eq!(
        (no_subnet.status, code(&no_subnet.body)),
        (StatusCode::NOT_FOUND, "NotFound")
    );
    let no_group = emu
        .call("GET", &net("other", "virtualNetworks/v"), None)
        .await;
    assert_eq!(
        (no_group.status, code(&no_group.body)),
        (StatusCode::NOT_FOUND, "ResourceGroupNotFound")
    );
}

#[tokio::test]
async fn subnets_in_use_cannot_be_deleted_nor_left_out() {
    let emu = with_group(0).await;
    let vnet = net("rg", "virtualNetworks/v");
    emu.call("PUT", &vnet, Some(&vnet_body("10.0.0.0/16", json!([]))))
        .await;
    emu.cloud.finish_operations();
    let s = emu
        .call(
            "PUT",
            &net("rg", "virtualNetworks/v/subnets/nodes"),
            Some(&json!({"properties": {"addressPrefix": "10.0.0.0/20"}})),
        )
        .await;
    assert_eq!(s.status, StatusCode::CREATED);
    emu.cloud.finish_operations();
    let subnet_id = s.body["id"].as_str().unwrap().to_string();
    let nic = format!("{SUB}/resourceGroups/mc_rg/providers/Microsoft.Network/networkInterfaces/aks-nic/ipConfigurations/ipconfig1");
    let admin = emu
        .call_with(
            "POST",
            "/_localcloud/azure/subnet-in-use",
            Some(&json!({"subnet": subnet_id, "by": nic})),
            &[],
        )
        .await;
    assert_eq!(admin.status, StatusCode::NO_CONTENT);
    let got = emu
        .call("GET", &net("rg", "virtualNetworks/v/subnets/nodes"), None)
        .await;
    assert_eq!(got.body["properties"]["ipConfigurations"][0]["id"], nic);
    for (method, url, body) in [
        ("DELETE", net("rg", "virtualNetworks/v/subnets/nodes"), None),
        ("DELETE", vnet.clone(), None),
        (
            "PUT",
            vnet.clone(),
            Some(vnet_body("10.0.0.0/16", json!([]))),
        ),
    ] {
        let a = emu.call(method, &url, body.as_ref()).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{method} {url}");
        assert_eq!(code(&a.body), "InUseSubnetCannotBeDeleted");
        assert!(a.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("aks-nic"));
    }
    let moved = emu
        .call(
            "PUT",
            &net("rg", "virtualNetworks/v/subnets/nodes"),
            Some(&json!({"properties": {"addressPrefix": "10.0.16.0/20"}})),
        )
        .await;
    assert_eq!(code(&moved.body), "InUseSubnetCannotBeUpdated");
    emu.cloud.release_subnet(&subnet_id).unwrap();
    assert_eq!(
        emu.call("DELETE", &vnet, None).await.status,
        StatusCode::ACCEPTED
    );
    emu.cloud.finish_operations();
    assert_eq!(
        emu.call("GET", &net("rg", "virtualNetworks/v/subnets/nodes"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_vnet_put_states_its_subnets_and_conflicts_while_running() {
    let emu = with_group(10_000).await;
    let vnet = net("rg", "virtualNetworks/v");
    emu.call(
        "PUT",
        &vnet,
        Some(&vnet_body(
            "10.0.0.0/16",
            json!([{"name": "a", "properties": {"addressPrefix": "10.0.0.0/24"}}]),
        )),
    )
    .await;
    let busy = emu
        .call(
            "PUT",
            &net("rg", "virtualNetworks/v/subnets/b"),
            Some(&json!({"properties": {"addressPrefix": "10.0.1.0/24"}})),
        )
        .await;
    assert_eq!(busy.status, StatusCode::CONFLICT);
    assert_eq!(code(&busy.body), "AnotherOperationInProgress");
    emu.cloud.finish_operations();
    let got = emu.call("GET", &vnet, None).await;
    assert_eq!(got.body["properties"]["subnets"][0]["name"], "a");
    assert_eq!(
        got.body["properties"]["subnets"][0]["properties"]["provisioningState"],
        "Succeeded"
    );
    let list = emu
        .call("GET", &net("rg", "virtualNetworks/v/subnets"), None)
        .await;
    assert_eq!(list.body["value"].as_array().unwrap().len(), 1);
    // Leaving a subnet out of a VNet PUT deletes it, as ARM does.
    emu.call("PUT", &vnet, Some(&json!({"location": "westus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}}))).await;
    emu.cloud.finish_operations();
    let got = emu.call("GET", &vnet, None).await;
    assert_eq!(got.body["properties"]["subnets"], json!([]));
}

#[tokio::test]
async fn dns_is_synchronous_with_etags_and_preconditions() {
    let emu = with_group(50).await;
    let z1 = emu
        .call(
            "PUT",
            &dns("rg", "example.com"),
            Some(&json!({"location": "global", "tags": {"matihnet:lineage": "x"}})),
        )
        .await;
    assert_eq!(z1.status, StatusCode::CREATED);
    assert!(z1.header("azure-asyncoperation").is_none());
    assert_eq!(z1.body["properties"]["numberOfRecordSets"], 2);
    assert!(
        uuid::Uuid::parse_str(z1.body["etag"].as_str().unwrap()).is_ok(),
        "plain GUID etag"
    );
    let z2 = emu
        .call(
            "PUT",
            &dns("rg", "dev.example.com"),
            Some(&json!({"location": "global"})),
        )
        .await;
    assert_ne!(
        z1.body["properties"]["nameServers"], z2.body["properties"]["nameServers"],
        "distinct name servers per zone"
    );
    let apex_ns = emu.call("GET", &dns("rg", "example.com/NS/@"), None).await;
    assert_eq!(
        apex_ns.body["properties"]["NSRecords"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(apex_ns.body["properties"]["fqdn"], "example.com.");
    emu.call("GET", &dns("rg", "example.com/SOA/@"), None).await;

    let url = dns("rg", "example.com/A/api");
    let body = json!({"properties": {"TTL": 300, "ARecords": [{"ipv4Address": "20.1.2.3"}]}});
    let created = emu
        .call_with(
            "PUT",
            &url,
            Some(&body),
            &[("authorization", "Bearer t"), ("if-none-match", "*")],
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["properties"]["fqdn"], "api.example.com.");
    let again = emu
        .call_with(
            "PUT",
            &url,
            Some(&body),
            &[("authorization", "Bearer t"), ("if-none-match", "*")],
        )
        .await;
    assert_eq!(again.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(
        again.body["code"], "PreconditionFailed",
        "DNS errors are unwrapped: {}",
        again.body
    );
    let stale = emu
        .call_with(
            "PUT",
            &url,
            Some(&body),
            &[
                ("authorization", "Bearer t"),
                ("if-match", "00000000-0000-0000-0000-000000000000"),
            ],
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let etag = created.body["etag"].as_str().unwrap().to_string();
    let updated = emu
        .call_with(
            "PUT",
            &url,
            Some(&body),
            &[("authorization", "Bearer t"), ("if-match", &etag)],
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK);
    assert_ne!(
        updated.body["etag"], created.body["etag"],
        "every write changes the etag"
    );
    for (t, b) in [
        (
            "TXT/_acme",
            json!({"properties": {"TTL": 60, "TXTRecords": [{"value": ["hello"]}]}}),
        ),
        (
            "CNAME/www",
            json!({"properties": {"TTL": 60, "CNAMERecord": {"cname": "api.example.com"}}}),
        ),
        (
            "NS/dev",
            json!({"properties": {"TTL": 60, "NSRecords": z2.body["properties"]["nameServers"].as_array().unwrap().iter().map(|n| json!({"nsdname": n})).collect::<Vec<_>>()}}),
        ),
        (
            "A/*.tenant",
            json!({"properties": {"TTL": 60, "ARecords": [{"ipv4Address": "20.1.2.4"}]}}),
        ),
    ] {
        let a = emu
            .call("PUT", &dns("rg", &format!("example.com/{t}")), Some(&b))
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{t}: {}", a.body);
    }
    let bad = emu
        .call(
            "PUT",
            &dns("rg", "example.com/A/bad"),
            Some(&json!({"properties": {"ARecords": [{"ipv4Address": "300.1.1.1"}]}})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let all = emu
        .call("GET", &dns("rg", "example.com/recordsets"), None)
        .await;
    assert_eq!(all.body["value"].as_array().unwrap().len(), 7);
    let only_a = emu.call("GET", &dns("rg", "example.com/A"), None).await;
    assert_eq!(only_a.body["value"].as_array().unwrap().len(), 2);
    let zone = emu.call("GET", &dns("rg", "example.com"), None).await;
    assert_eq!(zone.body["properties"]["numberOfRecordSets"], 7);
    assert_eq!(zone.body["tags"]["matihnet:lineage"], "x");

    let missing = emu
        .call("GET", &dns("rg", "example.com/A/nothing"), None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["code"], "NotFound");
    assert!(missing.body.get("error").is_none());
    assert_eq!(emu.call("DELETE", &url, None).await.status, StatusCode::OK);
    assert_eq!(
        emu.call("DELETE", &url, None).await.status,
        StatusCode::NO_CONTENT
    );
    let apex = emu
        .call("DELETE", &dns("rg", "example.com/NS/@"), None)
        .await;
    assert_eq!(apex.status, StatusCode::BAD_REQUEST);

    let d = emu.call("DELETE", &dns("rg", "example.com"), None).await;
    assert_eq!(d.status, StatusCode::ACCEPTED);
    let done = emu
        .wait_operation(&d.header("azure-asyncoperation").unwrap())
        .await;
    assert_eq!(done.body["status"], "Succeeded");
    let gone = emu.call("GET", &dns("rg", "example.com"), None).await;
    assert_eq!(code(&gone.body), "ResourceNotFound");
    assert_eq!(
        emu.call("GET", &dns("rg", "example.com/TXT/_acme"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn faults_throttle_fail_and_slow_down() {
    let emu = with_group(0).await;
    let faults =
        json!({"throttle": {"count": 2, "retry_after_seconds": 3}, "server_error": {"count": 1}});
    let set = emu
        .call_with("POST", "/_localcloud/azure/faults", Some(&faults), &[])
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    for _ in 0..2 {
        let a = emu.call("GET", &group("rg"), None).await;
        assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(a.header("retry-after").as_deref(), Some("3"));
        assert_eq!(code(&a.body), "SubscriptionRequestsThrottled");
    }
    let e = emu.call("GET", &group("rg"), None).await;
    assert_eq!(
        (e.status, code(&e.body)),
        (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError")
    );
    assert_eq!(
        emu.call("GET", &group("rg"), None).await.status,
        StatusCode::OK
    );

    emu.call_with(
        "POST",
        "/_localcloud/azure/faults",
        Some(&json!({"fail_operations": {"count": 1}, "operation_delay_ms": 30})),
        &[],
    )
    .await;
    let url = net("rg", "publicIPAddresses/p");
    let a = emu.call("PUT", &url, Some(&json!({"location": "westus", "properties": {"publicIPAllocationMethod": "Static"}}))).await;
    let done = emu
        .wait_operation(&a.header("azure-asyncoperation").unwrap())
        .await;
    assert_eq!(done.body["status"], "Failed");
    assert!(done.body["error"]["code"].is_string() && done.body["error"]["message"].is_string());
    let got = emu.call("GET", &url, None).await;
    assert_eq!(got.body["properties"]["provisioningState"], "Failed");
    assert!(got.body["properties"].get("ipAddress").is_none());
    // The next operation succeeds again.
    let b = emu.call("PUT", &url, Some(&json!({"location": "westus", "properties": {"publicIPAllocationMethod": "Static"}}))).await;
    assert_eq!(b.status, StatusCode::OK);
    assert_eq!(
        emu.wait_operation(&b.header("azure-asyncoperation").unwrap())
            .await
            .body["status"],
        "Succeeded"
    );

    // Rust API: a failed delete leaves the resource, and its Location answers the error.
    emu.cloud.fail_operations(1);
    let d = emu.call("DELETE", &url, None).await;
    let loc = emu.wait_location(&d.header("location").unwrap()).await;
    assert_eq!(loc.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(emu.call("GET", &url, None).await.status, StatusCode::OK);

    let unknown = emu
        .call_with(
            "POST",
            "/_localcloud/azure/faults",
            Some(&json!({"meteor": {}})),
            &[],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let reset = emu
        .call_with("POST", "/_localcloud/azure/reset", None, &[])
        .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT);
    assert_eq!(
        emu.call("GET", &group("rg"), None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn requests_need_a_bearer_token_and_an_api_version() {
    let emu = with_group(0).await;
    let none = emu.call_with("GET", &group("rg"), None, &[]).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(code(&none.body), "AuthenticationFailed");
    assert!(none.header("www-authenticate").is_some());
    let basic = emu
        .call_with(
            "GET",
            &group("rg"),
            None,
            &[("authorization", "Basic dTpw")],
        )
        .await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
    let no_version = emu
        .call("GET", &format!("{SUB}/resourceGroups/rg"), None)
        .await;
    assert_eq!(no_version.status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&no_version.body), "MissingApiVersionParameter");
    let lb = emu.call("GET", &net("rg", "loadBalancers/lb"), None).await;
    assert_eq!(code(&lb.body), "InvalidResourceType");
}

#[tokio::test]
async fn paths_are_case_insensitive_and_ids_keep_the_stored_casing() {
    let emu = Emulator::new(Duration::ZERO);
    emu.call(
        "PUT",
        &format!("{SUB}/resourcegroups/MyGroup?api-version=2021-04-01"),
        Some(&json!({"location": "West US"})),
    )
    .await;
    let url = format!("{SUB}/resourceGroups/mygroup/providers/Microsoft.Network/virtualNetworks/Hub?api-version={NET}");
    let a = emu
        .call("PUT", &url, Some(&vnet_body("10.0.0.0/16", json!([]))))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.body["location"], "westus");
    let shouted = format!("{}/RESOURCEGROUPS/MYGROUP/PROVIDERS/MICROSOFT.NETWORK/VIRTUALNETWORKS/HUB?api-version={NET}", SUB.to_uppercase().replace("SUBSCRIPTIONS", "subscriptions"));
    let got = emu.call("GET", &shouted, None).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    assert_eq!(
        got.body["id"],
        format!("{SUB}/resourceGroups/MyGroup/providers/Microsoft.Network/virtualNetworks/Hub")
    );
    assert_eq!(got.body["name"], "Hub");
    let upper = emu
        .call("PUT", &shouted, Some(&vnet_body("10.0.0.0/16", json!([]))))
        .await;
    assert_eq!(
        upper.status,
        StatusCode::OK,
        "same resource, another casing"
    );
}

#[tokio::test]
async fn resource_groups_list_their_resources_and_delete_them() {
    let emu = with_group(50).await;
    let again = emu
        .call(
            "PUT",
            &group("rg"),
            Some(&json!({"location": "westus", "tags": {"a": "b"}})),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["tags"]["a"], "b");
    assert_eq!(
        emu.call("HEAD", &group("rg"), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        emu.call("HEAD", &group("nope"), None).await.status,
        StatusCode::NOT_FOUND
    );
    let moved = emu
        .call("PUT", &group("rg"), Some(&json!({"location": "eastus"})))
        .await;
    assert_eq!(code(&moved.body), "InvalidResourceGroupLocation");
    emu.call(
        "PUT",
        &net("rg", "virtualNetworks/v"),
        Some(&vnet_body(
            "10.0.0.0/16",
            json!([{"name": "s", "properties": {"addressPrefix": "10.0.0.0/24"}}]),
        )),
    )
    .await;
    emu.call(
        "PUT",
        &dns("rg", "example.org"),
        Some(&json!({"location": "global"})),
    )
    .await;
    let list = emu
        .call(
            "GET",
            &format!("{SUB}/resourceGroups/rg/resources?api-version=2021-04-01"),
            None,
        )
        .await;
    let types: Vec<&str> = list.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(types.len(), 2, "tracked resources only: {types:?}");
    let d = emu.call("DELETE", &group("rg"), None).await;
    assert_eq!(d.status, StatusCode::ACCEPTED);
    let location = d.header("location").unwrap();
    assert_eq!(
        emu.call("GET", &group("rg"), None).await.body["properties"]["provisioningState"],
        "Deleting"
    );
    let blocked = emu
        .call(
            "PUT",
            &net("rg", "publicIPAddresses/p"),
            Some(&json!({"location": "westus"})),
        )
        .await;
    assert_eq!(code(&blocked.body), "ResourceGroupBeingDeleted");
    assert_eq!(
        emu.call("GET", &location, None).await.status,
        StatusCode::ACCEPTED
    );
    let done = emu.wait_location(&location).await;
    assert_eq!(done.status, StatusCode::OK);
    let gone = emu.call("GET", &group("rg"), None).await;
    assert_eq!(
        (gone.status, code(&gone.body)),
        (StatusCode::NOT_FOUND, "ResourceGroupNotFound")
    );
    emu.call("PUT", &group("rg"), Some(&json!({"location": "westus"})))
        .await;
    assert_eq!(
        emu.call("GET", &net("rg", "virtualNetworks/v"), None)
            .await
            .status,
        StatusCode::NOT_FOUND,
        "contents went with the group"
    );
}

#[tokio::test]
async fn snapshot_and_restore_round_trip_including_running_operations() {
    // Long enough that the PUT below is still running when the copy is checked, even on a busy machine.
    let emu = with_group(1500).await;
    emu.call(
        "PUT",
        &net("rg", "virtualNetworks/v"),
        Some(&vnet_body(
            "10.0.0.0/16",
            json!([{"name": "s", "properties": {"addressPrefix": "10.0.0.0/24"}}]),
        )),
    )
    .await;
    emu.call(
        "PUT",
        &dns("rg", "example.net"),
        Some(&json!({"location": "global"})),
    )
    .await;
    let pip = emu
        .call(
            "PUT",
            &net("rg", "publicIPAddresses/p"),
            Some(&json!({"location": "westus", "sku": {"name": "Standard"}})),
        )
        .await;
    let op = pip.header("azure-asyncoperation").unwrap();
    let snap = emu.cloud.snapshot();
    let text = serde_json::to_string(&snap).unwrap();

    let other = Emulator::new(Duration::from_millis(1500));
    other
        .cloud
        .restore(serde_json::from_str(&text).unwrap())
        .unwrap();
    assert_eq!(other.cloud.snapshot(), snap);
    for url in [
        net("rg", "virtualNetworks/v"),
        dns("rg", "example.net"),
        dns("rg", "example.net/NS/@"),
    ] {
        let (a, b) = (
            emu.call("GET", &url, None).await,
            other.call("GET", &url, None).await,
        );
        assert_eq!(a.body, b.body, "{url}");
    }
    assert_eq!(
        other.call("GET", &op, None).await.body["status"],
        "InProgress"
    );
    let done = other.wait_operation(&op).await;
    assert_eq!(done.body["status"], "Succeeded");
    assert!(other
        .call("GET", &net("rg", "publicIPAddresses/p"), None)
        .await
        .body["properties"]["ipAddress"]
        .is_string());
    other.cloud.restore(Value::Null).unwrap();
    assert_eq!(
        other.call("GET", &group("rg"), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(other
        .cloud
        .restore(json!({"version": 9, "state": {}}))
        .is_err());
    assert!(other.cloud.restore(json!([1, 2])).is_err());
}

#[tokio::test]
async fn serves_beside_the_gcp_emulator_on_a_socket() {
    let cloud = Arc::new(LocalCloud::new(Options {
        operation_delay: Duration::from_millis(10),
    }));
    let addr = Arc::clone(&cloud).serve("127.0.0.1:0").await.unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = r#"{"location":"westus"}"#;
    let request = format!(
        "PUT {SUB}/resourcegroups/sock?api-version=2021-04-01 HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(cloud.azure.snapshot().to_string().contains("\"sock\""));
}

#[tokio::test]
async fn rate_limit_enforces_arms_buckets_per_kind_of_request() {
    let emu = with_group(0).await;
    let get = emu
        .call_with("GET", "/_localcloud/azure/faults", None, &[])
        .await;
    assert_eq!(
        get.body["rate_limit"], false,
        "off unless asked: {}",
        get.body
    );
    let set = emu
        .call_with(
            "POST",
            "/_localcloud/azure/faults",
            Some(&json!({"rate_limit": true})),
            &[],
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    // Writes: 200 in the bucket, 10 a second back; a burst of 200 goes, then ARM refuses.
    let started = std::time::Instant::now();
    let mut refused = None;
    for i in 0..1000 {
        let a = emu
            .call(
                "PUT",
                &group(&format!("rg{i}")),
                Some(&json!({"location": "westus"})),
            )
            .await;
        if a.status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some((i, a));
            break;
        }
    }
    let (at, refusal) = refused.expect("1,000 writes at once were never throttled");
    // The bucket's 200 and what came back at 10 a second while they were sent.
    let refilled = (started.elapsed().as_secs_f64() * 10.0).ceil() as usize + 1;
    assert!(
        (200..=200 + refilled).contains(&at),
        "throttled at write {at}"
    );
    assert_eq!(code(&refusal.body), "SubscriptionRequestsThrottled");
    assert_eq!(refusal.header("retry-after").as_deref(), Some("1"));
    // Reads draw from their own bucket.
    assert_eq!(
        emu.call("GET", &group("rg"), None).await.status,
        StatusCode::OK
    );
    // A token comes back within a tenth of a second at 10 a second.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let again = emu
        .call(
            "PUT",
            &group("rg-later"),
            Some(&json!({"location": "westus"})),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    let faults = emu
        .call_with("GET", "/_localcloud/azure/faults", None, &[])
        .await;
    assert!(
        faults.body["rate_limited"].as_u64().unwrap_or(0) >= 1,
        "{}",
        faults.body
    );
}

#[tokio::test]
async fn rate_limit_is_off_by_default() {
    let emu = with_group(0).await;
    let faults = emu
        .call_with("GET", "/_localcloud/azure/faults", None, &[])
        .await;
    assert_eq!(faults.body["rate_limit"], false, "{}", faults.body);
    assert_eq!(faults.body["rate_limited"], 0, "{}", faults.body);
    // More reads than the 250 a bucket holds, and not one refused.
    for i in 0..300 {
        let a = emu.call("GET", &group("rg"), None).await;
        assert_eq!(a.status, StatusCode::OK, "read {i}: {}", a.body);
        assert_eq!(
            a.header("x-ms-ratelimit-remaining-subscription-reads"),
            None,
            "no bucket, no remaining count"
        );
    }
}

/// Writes until ARM refuses one; the answers and how many went through.
async fn writes_until_throttled(emu: &Emulator, sub: &str) -> (usize, wire::Answer) {
    for i in 0..1000 {
        let a = emu
            .call(
                "PUT",
                &format!("{sub}/resourceGroups/burst{i}?api-version=2021-04-01"),
                Some(&json!({"location": "westus"})),
            )
            .await;
        if a.status == StatusCode::TOO_MANY_REQUESTS {
            return (i, a);
        }
        assert_eq!(a.status, StatusCode::CREATED, "write {i}: {}", a.body);
    }
    panic!("1,000 writes at once were never throttled");
}

#[tokio::test]
async fn rate_limit_buckets_are_per_subscription_and_kind_with_arms_headers() {
    let emu = with_group(0).await;
    emu.cloud.set_rate_limit(true);

    // Every admitted answer says what is left in its bucket, as ARM's do.
    let first = emu
        .call("PUT", &group("first"), Some(&json!({"location": "westus"})))
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(
        first
            .header("x-ms-ratelimit-remaining-subscription-writes")
            .as_deref(),
        Some("199")
    );
    let read = emu.call("GET", &group("rg"), None).await;
    assert_eq!(
        read.header("x-ms-ratelimit-remaining-subscription-reads")
            .as_deref(),
        Some("249")
    );
    assert_eq!(
        read.header("x-ms-ratelimit-remaining-subscription-writes"),
        None,
        "a read reports the reads bucket only"
    );

    // The writes bucket runs dry after its 200 (plus what refilled at 10 a second meanwhile).
    let started = std::time::Instant::now();
    let (sent, refusal) = writes_until_throttled(&emu, SUB).await;
    let refilled = (started.elapsed().as_secs_f64() * 10.0).ceil() as usize + 1;
    assert!(
        (199..=199 + refilled).contains(&sent),
        "throttled after {sent} writes"
    );
    assert_eq!(refusal.header("retry-after").as_deref(), Some("1"));
    assert_eq!(code(&refusal.body), "SubscriptionRequestsThrottled");
    let message = refusal.body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "Number of 'write' requests for subscription '00000000-0000-0000-0000-00000000abcd' actor '"
        ) && message.contains("Please try again after '1' seconds after additional tokens are available."),
        "{message}"
    );
    assert_eq!(
        refusal.body.as_object().map(|o| o.len()),
        Some(1),
        "ARM's error envelope: {}",
        refusal.body
    );
    // Subscription ids are case-insensitive: the upper-case spelling shares the bucket.
    let upper = emu
        .call(
            "PUT",
            &group("upper").replace("abcd", "ABCD"),
            Some(&json!({"location": "westus"})),
        )
        .await;
    assert_eq!(upper.status, StatusCode::TOO_MANY_REQUESTS);

    // Reads and deletes have their own buckets, and so has every other subscription.
    assert_eq!(
        emu.call("GET", &group("rg"), None).await.status,
        StatusCode::OK
    );
    let other = "/subscriptions/00000000-0000-0000-0000-00000000beef";
    let elsewhere = emu
        .call(
            "PUT",
            &format!("{other}/resourceGroups/rg?api-version=2021-04-01"),
            Some(&json!({"location": "westus"})),
        )
        .await;
    assert_eq!(elsewhere.status, StatusCode::CREATED, "{}", elsewhere.body);
    let deleted = emu.call("DELETE", &group("burst0"), None).await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED, "{}", deleted.body);
    assert_eq!(
        deleted
            .header("x-ms-ratelimit-remaining-subscription-deletes")
            .as_deref(),
        Some("199")
    );

    // Polling the delete's operation is a read: it reports the reads bucket.
    let poll = emu
        .call("GET", &deleted.header("location").unwrap(), None)
        .await;
    assert!(poll.status.is_success(), "{}", poll.body);
    assert!(
        poll.header("x-ms-ratelimit-remaining-subscription-reads")
            .is_some_and(|v| v.parse::<u64>().is_ok_and(|n| n < 250)),
        "{:?}",
        poll.headers
    );
    assert_eq!(
        poll.header("x-ms-ratelimit-remaining-subscription-writes"),
        None
    );

    // A token is back after a tenth of a second at 10 a second.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let again = emu
        .call("PUT", &group("later"), Some(&json!({"location": "westus"})))
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);

    let faults = emu
        .call_with("GET", "/_localcloud/azure/faults", None, &[])
        .await;
    assert_eq!(faults.body["rate_limit"], true);
    assert_eq!(faults.body["rate_limited"], 2, "{}", faults.body);

    // Off again: no more buckets and no more headers.
    emu.call_with(
        "POST",
        "/_localcloud/azure/faults",
        Some(&json!({"rate_limit": false})),
        &[],
    )
    .await;
    let free = emu.call("GET", &group("rg"), None).await;
    assert_eq!(
        free.header("x-ms-ratelimit-remaining-subscription-reads"),
        None
    );
}
