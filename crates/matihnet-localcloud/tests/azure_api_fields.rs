//! The local Azure's renderings held to the official API descriptions vendored in
//! `tests/reference/azure/openapi` (the ARM OpenAPI definitions of virtual networks, public IP
//! addresses and Azure DNS, trimmed): every field rendered is documented (or newer than the
//! vendored definition, with the recording that shows it), and every read-only field the
//! definition documents is rendered or listed with the reason. The field sets are read from the
//! definitions, not written here, so a newer definition that adds a server-set field fails this
//! test until the emulator renders it.
#![allow(clippy::unwrap_used)]

#[path = "azure/wire.rs"]
mod wire;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use wire::Emulator;

fn openapi(file: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference/azure/openapi")
        .join(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "the vendored OpenAPI definitions are missing: {} ({e})",
            path.display()
        )
    });
    serde_json::from_slice(&bytes).unwrap()
}

/// A definition's properties (with those of the definitions it extends through `allOf`) and
/// which of them are read-only.
fn fields(file: &str, definition: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let doc = openapi(file);
    let def = &doc["definitions"][definition];
    assert!(def.is_object(), "{file} has no definition {definition}");
    let (mut all, mut read_only) = (BTreeSet::new(), BTreeSet::new());
    for (name, prop) in def["properties"].as_object().into_iter().flatten() {
        all.insert(name.clone());
        if prop["readOnly"] == true {
            read_only.insert(name.clone());
        }
    }
    for parent in def["allOf"].as_array().into_iter().flatten() {
        let reference = parent["$ref"].as_str().unwrap_or("");
        let (target_file, target) = match reference.split_once("#/definitions/") {
            Some(("", name)) => (file.to_string(), name),
            Some((other, name)) => (
                other
                    .trim_start_matches("./")
                    .replace(".json", "-2021-02-01.trimmed.json"),
                name,
            ),
            None => continue,
        };
        let (a, r) = fields(&target_file, target);
        all.extend(a);
        read_only.extend(r);
    }
    (all, read_only)
}

/// (resource, level): rendered fields newer than the vendored definitions, with where real
/// traffic shows them.
const NEWER_THAN_DEFINITION: [(&str, &str, &str); 0] = [];

/// Read-only fields a rendering may lack, with the reason.
const NOT_RENDERED: [(&str, &str, &str); 7] = [
    (
        "Subnet",
        "properties.privateEndpoints",
        "set by private endpoints, which matihnet does not create and the emulator does not model",
    ),
    (
        "Subnet",
        "properties.ipConfigurationProfiles",
        "set by network profiles, not modelled",
    ),
    (
        "Subnet",
        "properties.resourceNavigationLinks",
        "set by services that link into a subnet, not modelled",
    ),
    (
        "Subnet",
        "properties.serviceAssociationLinks",
        "set by services that link into a subnet, not modelled",
    ),
    (
        "Subnet",
        "properties.purpose",
        "set only for subnets delegated to some services, as the recordings show",
    ),
    (
        "Subnet",
        "properties.ipConfigurations",
        "rendered only while something uses the subnet, as recorded ARM does",
    ),
    (
        "PublicIPAddress",
        "properties.ipConfiguration",
        "set by the NIC or load balancer frontend that uses the address, not modelled",
    ),
];

fn listed<'a>(table: &'a [(&'a str, &'a str, &'a str)], resource: &str, field: &str) -> bool {
    table.iter().any(|(r, f, _)| *r == resource && *f == field)
}

fn check(
    resource: &str,
    (file, top, format): (&str, &str, Option<&str>),
    rendered: &Value,
    problems: &mut Vec<String>,
) {
    let (top_all, top_read_only) = fields(file, top);
    let obj = rendered
        .as_object()
        .unwrap_or_else(|| panic!("{resource}: {rendered}"));
    for field in obj.keys() {
        if !top_all.contains(field) && !listed(&NEWER_THAN_DEFINITION, resource, field) {
            problems.push(format!(
                "{resource}.{field}: rendered but not in {file} {top}"
            ));
        }
    }
    for field in &top_read_only {
        if !obj.contains_key(field) && !listed(&NOT_RENDERED, resource, field) {
            problems.push(format!(
                "{resource}.{field}: read-only in {file} but not rendered"
            ));
        }
    }
    let Some(format) = format else { return };
    let (all, read_only) = fields(file, format);
    let props = rendered["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for field in props.keys() {
        let path = format!("properties.{field}");
        if !all.contains(field) && !listed(&NEWER_THAN_DEFINITION, resource, &path) {
            problems.push(format!(
                "{resource}.{path}: rendered but not in {file} {format}"
            ));
        }
    }
    for field in &read_only {
        let path = format!("properties.{field}");
        if !props.contains_key(field) && !listed(&NOT_RENDERED, resource, &path) {
            problems.push(format!(
                "{resource}.{path}: read-only in {file} {format} but not rendered"
            ));
        }
    }
}

#[tokio::test]
async fn renderings_hold_the_documented_fields() {
    let emu = Emulator::new(Duration::from_millis(0));
    let group = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg";
    let put = |path: &str, body: Value| {
        let url = format!("{group}/providers/Microsoft.Network/{path}");
        let emu = &emu;
        async move {
            let a = emu.call("PUT", &url, Some(&body)).await;
            assert!(a.status.is_success(), "PUT {url}: {} {}", a.status, a.body);
            if let Some(op) = a.header("azure-asyncoperation") {
                emu.wait_operation(&op).await;
            }
            emu.call("GET", &url, None).await.body
        }
    };
    let g = emu
        .call(
            "PUT",
            &format!("{group}?api-version=2021-04-01"),
            Some(&json!({"location": "westus"})),
        )
        .await;
    assert!(g.status.is_success(), "{}", g.body);
    let vnet = put(
        "virtualNetworks/vnet?api-version=2021-02-01",
        json!({"location": "westus", "properties": {
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [{"name": "nodes", "properties": {"addressPrefix": "10.0.0.0/20"}}]}}),
    )
    .await;
    let subnet = put(
        "virtualNetworks/vnet/subnets/nodes?api-version=2021-02-01",
        json!({"properties": {"addressPrefix": "10.0.0.0/20"}}),
    )
    .await;
    let ip = put(
        "publicIPAddresses/ingress?api-version=2021-02-01",
        json!({"location": "westus", "sku": {"name": "Standard"},
            "properties": {"publicIPAllocationMethod": "Static"}}),
    )
    .await;
    let zone = put(
        "dnsZones/matih.example?api-version=2018-05-01",
        json!({"location": "global"}),
    )
    .await;
    let record = put(
        "dnsZones/matih.example/A/api?api-version=2018-05-01",
        json!({"properties": {"TTL": 300, "ARecords": [{"ipv4Address": "192.0.2.1"}]}}),
    )
    .await;
    let net = "virtualNetwork-2021-02-01.trimmed.json";
    let mut problems = Vec::new();
    check(
        "VirtualNetwork",
        (
            net,
            "VirtualNetwork",
            Some("VirtualNetworkPropertiesFormat"),
        ),
        &vnet,
        &mut problems,
    );
    check(
        "Subnet",
        (net, "Subnet", Some("SubnetPropertiesFormat")),
        &subnet,
        &mut problems,
    );
    check(
        "PublicIPAddress",
        (
            "publicIpAddress-2021-02-01.trimmed.json",
            "PublicIPAddress",
            Some("PublicIPAddressPropertiesFormat"),
        ),
        &ip,
        &mut problems,
    );
    check(
        "Zone",
        (
            "dns-2018-05-01.trimmed.json",
            "Zone",
            Some("ZoneProperties"),
        ),
        &zone,
        &mut problems,
    );
    check(
        "RecordSet",
        (
            "dns-2018-05-01.trimmed.json",
            "RecordSet",
            Some("RecordSetProperties"),
        ),
        &record,
        &mut problems,
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
