//! `PUT` of a public IP address: SKU and allocation defaults (Standard means Static), the
//! fields ARM fills in (version, idle timeout, DDoS settings, FQDN of a DNS label), and a static
//! address that survives updates (it is assigned when provisioning succeeds, see `state`).

use axum::response::Response;
use serde_json::{json, Map, Value};

use super::Put;
use crate::azure::arm::{ArmError, Kind};
use crate::azure::request::{Env, Req};

pub(super) fn put(env: &mut Env, req: &Req, put: Put) -> Result<Response, ArmError> {
    let sub = put.at.sub;
    let body = &put.body;
    let location = put.location.clone();
    let mut sku = body["sku"].as_object().cloned().unwrap_or_default();
    sku.entry("name").or_insert_with(|| json!("Basic"));
    sku.entry("tier").or_insert_with(|| json!("Regional"));
    let standard = sku["name"]
        .as_str()
        .is_some_and(|n| n.eq_ignore_ascii_case("Standard"));

    let mut props = body["properties"].as_object().cloned().unwrap_or_default();
    for read_only in [
        "provisioningState",
        "resourceGuid",
        "ipAddress",
        "ipConfiguration",
    ] {
        props.remove(read_only);
    }
    let method = props
        .get("publicIPAllocationMethod")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| if standard { "Static" } else { "Dynamic" }.to_string());
    let mut stored = Map::new();
    stored.insert("resourceGuid".into(), json!(put.guid()));
    // A static address survives updates; a dynamic one is released (nothing is attached).
    if method == "Static" {
        if let Some(ip) = put
            .existing
            .as_ref()
            .and_then(|r| r.body["properties"].get("ipAddress"))
        {
            stored.insert("ipAddress".into(), ip.clone());
        }
    }
    stored.insert(
        "publicIPAddressVersion".into(),
        props
            .remove("publicIPAddressVersion")
            .unwrap_or(json!("IPv4")),
    );
    stored.insert("publicIPAllocationMethod".into(), json!(method));
    props.remove("publicIPAllocationMethod");
    stored.insert(
        "idleTimeoutInMinutes".into(),
        props.remove("idleTimeoutInMinutes").unwrap_or(json!(4)),
    );
    if let Some(mut dns) = props
        .remove("dnsSettings")
        .and_then(|d| d.as_object().cloned())
    {
        if let Some(label) = dns.get("domainNameLabel").and_then(Value::as_str) {
            let fqdn = format!("{label}.{location}.cloudapp.azure.com");
            dns.insert("fqdn".into(), json!(fqdn));
        }
        stored.insert("dnsSettings".into(), Value::Object(dns));
    }
    stored.insert("ipTags".into(), props.remove("ipTags").unwrap_or(json!([])));
    stored.insert(
        "ddosSettings".into(),
        props
            .remove("ddosSettings")
            .unwrap_or(json!({"protectionMode": "VirtualNetworkInherited"})),
    );
    stored.extend(props);

    let mut out = json!({"name": put.name, "id": put.id, "location": location});
    if let Some(tags) = put.tags() {
        out["tags"] = tags.clone();
    }
    if let Some(zones) = body.get("zones").filter(|z| !z.is_null()) {
        out["zones"] = zones.clone();
    }
    out["properties"] = Value::Object(stored);
    out["type"] = json!(Kind::PublicIp.type_name());
    out["sku"] = Value::Object(sku);
    let op = env.start_operation(req, sub, &location);
    Ok(put.finish(env, req, out, &op))
}
