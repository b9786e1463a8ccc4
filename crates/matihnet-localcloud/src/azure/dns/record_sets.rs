//! Azure DNS record sets: the property each record type keeps its records in, the checks the
//! DNS service makes of them, and list, GET, PUT (create or replace), PATCH (merge) and DELETE
//! (the apex SOA and NS stay), all synchronous and guarded by etag preconditions.

use std::net::{Ipv4Addr, Ipv6Addr};

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::{preconditions, record_not_found, zone_busy};
use crate::azure::arm::{empty_response, ArmError, Kind};
use crate::azure::groups;
use crate::azure::request::{method_not_allowed, Env, Req};
use crate::azure::resources::{self, get_response, resource_key};
use crate::azure::state::{group_key, new_guid, Provisioning, Resource};

/// The property that holds each record type's records.
fn records_field(record_type: &str) -> &'static str {
    match record_type {
        "A" => "ARecords",
        "AAAA" => "AAAARecords",
        "CAA" => "caaRecords",
        "CNAME" => "CNAMERecord",
        "DS" => "DSRecords",
        "MX" => "MXRecords",
        "NAPTR" => "NAPTRRecords",
        "NS" => "NSRecords",
        "PTR" => "PTRRecords",
        "SOA" => "SOARecord",
        "SRV" => "SRVRecords",
        "TLSA" => "TLSARecords",
        _ => "TXTRecords",
    }
}

/// Where a record-set request points: the zone's key and the record set's own.
struct RecordSetAt<'a> {
    sub: &'a str,
    rg: &'a str,
    zone: &'a str,
    record_type: &'static str,
    name: &'a str,
    zk: String,
    rk: String,
}

/// `GET .../dnsZones/{zone}/recordsets` (every type) or `.../{type}` (one type).
pub(super) fn list(
    env: &Env,
    req: &Req,
    sub: &str,
    rg: &str,
    zone: &str,
    record_type: Option<&str>,
) -> Result<Response, ArmError> {
    let zk = resources::existing(env, sub, rg, Kind::DnsZone, zone)?;
    let mut sets: Vec<(String, String, String)> = env
        .state
        .children(&zk)
        .filter(|(_, r)| {
            record_type.is_none_or(|t| {
                r.body["type"].as_str() == Some(&format!("Microsoft.Network/dnsZones/{t}"))
            })
        })
        .map(|(k, r)| {
            let name = r.body["name"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let t = r.body["type"].as_str().unwrap_or_default().to_string();
            (name, t, k.clone())
        })
        .collect();
    // Azure DNS lists by record-set name, then type ("@" first), as the recordings show.
    sets.sort();
    let keys: Vec<String> = sets.into_iter().map(|(_, _, k)| k).collect();
    Ok(resources::list(env, req, &keys))
}

pub(super) fn handle(
    env: &mut Env,
    req: &Req,
    sub: &str,
    rg: &str,
    zone: &str,
    record_type: &'static str,
    name: &str,
) -> Result<Response, ArmError> {
    let zk = resource_key(sub, rg, Kind::DnsZone, zone);
    let rk = format!(
        "{zk}/{}/{}",
        record_type.to_ascii_lowercase(),
        name.to_ascii_lowercase()
    );
    let at = RecordSetAt {
        sub,
        rg,
        zone,
        record_type,
        name,
        zk,
        rk,
    };
    match req.method {
        Method::GET => {
            resources::existing(env, sub, rg, Kind::DnsZone, zone)?;
            if !env.state.resources.contains_key(&at.rk) {
                return Err(record_not_found(sub, rg, name));
            }
            Ok(get_response(env, req, &at.rk, StatusCode::OK))
        }
        Method::PUT | Method::PATCH => put(env, req, &at),
        Method::DELETE => delete(env, req, &at),
        _ => Err(method_not_allowed(&req.method)),
    }
}

pub(super) fn record_resource(
    zone_id: &str,
    zone: &str,
    record_type: &str,
    name: &str,
    mut props: Value,
    group: &str,
    zk: &str,
) -> Resource {
    let fqdn = if name == "@" {
        format!("{zone}.")
    } else {
        format!("{name}.{zone}.")
    };
    props["fqdn"] = json!(fqdn);
    let id = format!("{zone_id}/{record_type}/{name}");
    Resource {
        id: id.clone(),
        kind: Kind::RecordSet,
        group: group.to_string(),
        parent: Some(zk.to_string()),
        body: json!({
            "id": id,
            "name": name,
            "type": format!("Microsoft.Network/dnsZones/{record_type}"),
            "properties": props,
        }),
        etag: new_guid(),
        state: Provisioning::Succeeded,
        pending_op: None,
        used_by: Vec::new(),
    }
}

fn bad_record(message: String) -> ArmError {
    ArmError::dns(StatusCode::BAD_REQUEST, "BadRequest", message)
}

/// Checks what the DNS service checks of the records we emulate, and returns the properties to
/// store (TTL default 3600, only the record field of this type kept).
fn record_properties(
    record_type: &str,
    name: &str,
    props: &Map<String, Value>,
) -> Result<Map<String, Value>, ArmError> {
    let field = records_field(record_type);
    for (k, _) in props.iter() {
        let is_record_field = k.ends_with("Records") || k.ends_with("Record");
        if is_record_field && !k.eq_ignore_ascii_case(field) {
            return Err(bad_record(format!(
                "The record set {name} of type {record_type} cannot contain {k}."
            )));
        }
    }
    if record_type == "CNAME" && name == "@" {
        return Err(bad_record(
            "A CNAME record set cannot be created at the zone apex.".into(),
        ));
    }
    let records = props
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(field))
        .map(|(_, v)| v.clone());
    let check_all = |key: &str, valid: &dyn Fn(&str) -> bool, what: &str| -> Result<(), ArmError> {
        for r in records
            .as_ref()
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let v = r[key].as_str().unwrap_or_default();
            if !valid(v) {
                return Err(bad_record(format!(
                    "The {what} '{v}' in record set {name} is not valid."
                )));
            }
        }
        Ok(())
    };
    match record_type {
        "A" => check_all(
            "ipv4Address",
            &|v| v.parse::<Ipv4Addr>().is_ok(),
            "IPv4 address",
        )?,
        "AAAA" => check_all(
            "ipv6Address",
            &|v| v.parse::<Ipv6Addr>().is_ok(),
            "IPv6 address",
        )?,
        "NS" => check_all("nsdname", &|v| !v.is_empty(), "name server")?,
        "CNAME" => {
            let cname = records
                .as_ref()
                .map(|r| r["cname"].as_str().unwrap_or_default());
            if cname == Some("") {
                return Err(bad_record(format!(
                    "The CNAME record in record set {name} needs a cname."
                )));
            }
        }
        "TXT" => {
            for r in records
                .as_ref()
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let ok = r["value"].as_array().is_some_and(|vs| {
                    vs.iter()
                        .all(|v| v.as_str().is_some_and(|s| s.len() <= 1024))
                });
                if !ok {
                    return Err(bad_record(format!(
                        "The TXT record in record set {name} needs a value: an array of strings of at most 1024 characters."
                    )));
                }
            }
        }
        _ => {}
    }
    let mut out = Map::new();
    if let Some(m) = props.get("metadata").filter(|m| !m.is_null()) {
        out.insert("metadata".into(), m.clone());
    }
    out.insert(
        "TTL".into(),
        props.get("TTL").cloned().unwrap_or(json!(3600)),
    );
    if let Some(t) = props.get("targetResource") {
        out.insert("targetResource".into(), t.clone());
    }
    if let Some(r) = records {
        out.insert(field.into(), r);
    } else if record_type != "CNAME" && record_type != "SOA" {
        out.insert(field.into(), json!([]));
    }
    Ok(out)
}

fn put(env: &mut Env, req: &Req, at: &RecordSetAt) -> Result<Response, ArmError> {
    let &RecordSetAt {
        sub,
        rg,
        zone,
        record_type,
        name,
        ref zk,
        ref rk,
    } = at;
    let body = req.json()?;
    groups::writable(env, sub, rg)?;
    let Some(zone_res) = env.state.resources.get(zk).cloned() else {
        return Err(ArmError::parent_not_found(
            &format!("dnsZones/{record_type}"),
            &format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/dnsZones/{zone}"),
        ));
    };
    if zone_res.state == Provisioning::Deleting {
        return Err(zone_busy(zone));
    }
    let existing = env.state.resources.get(rk).cloned();
    preconditions(req, "Record set", name, existing.as_ref())?;
    let patch = req.method == Method::PATCH;
    if patch && existing.is_none() {
        return Err(record_not_found(sub, rg, name));
    }
    if record_type == "SOA" && name != "@" {
        return Err(bad_record(
            "SOA record sets exist only at the zone apex '@'.".into(),
        ));
    }
    let mut incoming = body["properties"].as_object().cloned().unwrap_or_default();
    if patch {
        // RecordSets_Update: fields left out keep their values.
        if let Some(current) = existing
            .as_ref()
            .and_then(|r| r.body["properties"].as_object())
        {
            for (k, v) in current {
                if k != "fqdn" && k != "provisioningState" {
                    incoming.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
    }
    let props = record_properties(record_type, name, &incoming)?;
    let zone_name = zone_res.body["name"].as_str().unwrap_or(zone).to_string();
    let record_name = existing
        .as_ref()
        .and_then(|r| r.body["name"].as_str().map(str::to_string))
        .unwrap_or_else(|| name.to_string());
    let mut record = record_resource(
        &zone_res.id,
        &zone_name,
        record_type,
        &record_name,
        Value::Object(props),
        &group_key(sub, rg),
        zk,
    );
    if let Some(e) = &existing {
        record.id = e.id.clone();
        record.body["id"] = json!(e.id);
    }
    env.state.resources.insert(rk.to_string(), record);
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(get_response(env, req, rk, status))
}

fn delete(env: &mut Env, req: &Req, at: &RecordSetAt) -> Result<Response, ArmError> {
    resources::existing(env, at.sub, at.rg, Kind::DnsZone, at.zone)?;
    let Some(existing) = env.state.resources.get(&at.rk).cloned() else {
        return Ok(empty_response(StatusCode::NO_CONTENT));
    };
    preconditions(req, "Record set", at.name, Some(&existing))?;
    let apex_record = at.record_type == "SOA" || at.record_type == "NS";
    if at.name == "@" && apex_record {
        return Err(bad_record(format!(
            "The {} record set at the zone apex cannot be deleted.",
            at.record_type
        )));
    }
    env.state.resources.remove(&at.rk);
    Ok(empty_response(StatusCode::OK))
}
