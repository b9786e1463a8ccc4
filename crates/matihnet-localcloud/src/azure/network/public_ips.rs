//! `PUT` of a public IP address: SKU and allocation defaults (Standard means Static), the
//! fields ARM fills in (version, idle timeout, DDoS settings, FQDN of a DNS label, scoped or
//! not), the refusal of a Global tier outside the Standard SKU, and a static
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
    let global = sku["tier"]
        .as_str()
        .is_some_and(|t| t.eq_ignore_ascii_case("Global"));
    if global && !standard {
        return Err(ArmError::bad_request(
            "GlobalPublicIPAddressNotSupportedForBasicPublicIpAddress",
            format!("Global publicIP addresses are only supported for standard SKU public IP addresses. Public IP address {} is not standard SKU.", put.id),
        )
        .with_empty_details());
    }

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
            let fqdn = match dns.get("domainNameLabelScope").and_then(Value::as_str) {
                Some(scope) => {
                    let hash = scope_hash(&[scope, sub, put.at.rg, &put.name]);
                    format!("{label}.{hash}.{location}.sysgen.cloudapp.azure.com")
                }
                None => format!("{label}.{location}.cloudapp.azure.com"),
            };
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

/// The 16-character label Azure puts between a scoped DNS label and the region
/// (`label.<hash>.region.sysgen.cloudapp.azure.com`). Azure derives it from the reuse scope's
/// owner (tenant, subscription, group); any stable value of the same shape serves here.
fn scope_hash(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts
        .iter()
        .flat_map(|p| p.to_ascii_lowercase().into_bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..16)
        .map(|i| {
            let mixed = h.rotate_left(i * 4) ^ u64::from(i);
            let n = usize::try_from(mixed % 36).unwrap_or_default();
            char::from(ALPHABET.get(n).copied().unwrap_or(b'a'))
        })
        .collect()
}
