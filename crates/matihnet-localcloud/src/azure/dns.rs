//! Azure DNS (`Microsoft.Network/dnsZones`, api-version 2018-05-01): synchronous zones and
//! record sets with plain-GUID etags and `If-Match` / `If-None-Match: *`, distinct name servers
//! per zone, the apex SOA and NS created with the zone, and an asynchronous zone delete.
//! Record-set errors use the DNS provider's unwrapped `{"code", "message"}` shape.

use std::net::{Ipv4Addr, Ipv6Addr};

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::arm::{empty_response, insert_header, json_response, ArmError, Kind, Target};
use super::groups::{self, resource_id};
use super::state::{group_key, key, new_guid, Provisioning, Resource};
use super::{method_not_allowed, Env, Req};

/// The property that holds each record type's records.
fn records_field(record_type: &str) -> &'static str {
    match record_type {
        "A" => "ARecords",
        "AAAA" => "AAAARecords",
        "CAA" => "caaRecords",
        "CNAME" => "CNAMERecord",
        "MX" => "MXRecords",
        "NS" => "NSRecords",
        "PTR" => "PTRRecords",
        "SOA" => "SOARecord",
        "SRV" => "SRVRecords",
        _ => "TXTRecords",
    }
}

pub(crate) fn handle(env: &mut Env, req: &Req) -> Result<Response, ArmError> {
    match req.target.clone() {
        Target::Collection { sub, rg, .. } => {
            if req.method != Method::GET {
                return Err(method_not_allowed(&req.method));
            }
            groups::get(env, &sub, &rg)?;
            let gk = group_key(&sub, &rg);
            let keys: Vec<String> = env
                .state
                .resources
                .iter()
                .filter(|(_, r)| r.kind == Kind::DnsZone && r.group == gk)
                .map(|(k, _)| k.clone())
                .collect();
            Ok(list(env, &keys))
        }
        Target::Resource { sub, rg, name, .. } => {
            let zk = zone_key(&sub, &rg, &name);
            match req.method {
                Method::GET => {
                    existing_zone(env, &sub, &rg, &name, &zk)?;
                    Ok(get_response(env, &zk, StatusCode::OK))
                }
                Method::PUT => put_zone(env, req, &sub, &rg, &name, &zk),
                Method::PATCH => patch_zone(env, req, &sub, &rg, &name, &zk),
                Method::DELETE => delete_zone(env, req, &sub, &rg, &zk),
                _ => Err(method_not_allowed(&req.method)),
            }
        }
        Target::RecordSets {
            sub,
            rg,
            zone,
            record_type,
        } => {
            if req.method != Method::GET {
                return Err(method_not_allowed(&req.method));
            }
            let zk = zone_key(&sub, &rg, &zone);
            existing_zone(env, &sub, &rg, &zone, &zk)?;
            let keys: Vec<String> = env
                .state
                .children(&zk)
                .filter(|(_, r)| {
                    record_type.is_none_or(|t| {
                        r.body["type"].as_str() == Some(&format!("Microsoft.Network/dnsZones/{t}"))
                    })
                })
                .map(|(k, _)| k.clone())
                .collect();
            Ok(list(env, &keys))
        }
        Target::RecordSet {
            sub,
            rg,
            zone,
            record_type,
            name,
        } => {
            let zk = zone_key(&sub, &rg, &zone);
            let rk = format!(
                "{zk}/{}/{}",
                record_type.to_ascii_lowercase(),
                name.to_ascii_lowercase()
            );
            match req.method {
                Method::GET => {
                    existing_zone(env, &sub, &rg, &zone, &zk)?;
                    if !env.state.resources.contains_key(&rk) {
                        return Err(record_not_found(&sub, &rg, &name));
                    }
                    Ok(get_response(env, &rk, StatusCode::OK))
                }
                Method::PUT | Method::PATCH => {
                    put_record_set(env, req, &sub, &rg, &zone, record_type, &name, &zk, &rk)
                }
                Method::DELETE => {
                    delete_record_set(env, req, &sub, &rg, &zone, record_type, &name, &zk, &rk)
                }
                _ => Err(method_not_allowed(&req.method)),
            }
        }
        _ => Err(ArmError::bad_request("BadRequest", "not a DNS path")),
    }
}

fn zone_key(sub: &str, rg: &str, zone: &str) -> String {
    key(&format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/dnsZones/{zone}"
    ))
}

fn existing_zone(env: &Env, sub: &str, rg: &str, zone: &str, zk: &str) -> Result<(), ArmError> {
    groups::get(env, sub, rg)?;
    if env.state.resources.contains_key(zk) {
        Ok(())
    } else {
        Err(ArmError::resource_not_found(
            "Microsoft.Network/dnszones",
            zone,
            rg,
        ))
    }
}

fn record_not_found(sub: &str, rg: &str, name: &str) -> ArmError {
    ArmError::dns(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("The resource record '{name}' does not exist in resource group '{rg}' of subscription '{sub}'."),
    )
}

fn list(env: &Env, keys: &[String]) -> Response {
    let value: Vec<Value> = keys.iter().map(|k| env.state.render(k)).collect();
    json_response(StatusCode::OK, &json!({ "value": value }))
}

fn get_response(env: &Env, k: &str, status: StatusCode) -> Response {
    let body = env.state.render(k);
    let mut response = json_response(status, &body);
    if let Some(etag) = body["etag"].as_str() {
        insert_header(&mut response, "etag", etag);
    }
    response
}

/// `If-Match: <etag>` (or `*`: must exist) and `If-None-Match: *` (must not exist), answered
/// with 412 `PreconditionFailed` as Azure DNS does.
fn preconditions(
    req: &Req,
    what: &str,
    name: &str,
    current: Option<&Resource>,
) -> Result<(), ArmError> {
    if let Some(want) = req.header("if-match") {
        let want = want.trim().trim_start_matches("W/").trim_matches('"');
        let ok = match current {
            Some(r) => want == "*" || want == r.etag,
            None => false,
        };
        if !ok {
            let message = match current {
                Some(_) => format!("The {what} {name} has been modified (etag mismatch)."),
                None => format!(
                    "The {what} {name} does not exist, so the If-Match condition cannot be met."
                ),
            };
            return Err(ArmError::dns(
                StatusCode::PRECONDITION_FAILED,
                "PreconditionFailed",
                message,
            ));
        }
    }
    if let Some(none) = req.header("if-none-match") {
        if none.trim() == "*" && current.is_some() {
            return Err(ArmError::dns(
                StatusCode::PRECONDITION_FAILED,
                "PreconditionFailed",
                format!("The {what} {name} already exists."),
            ));
        }
    }
    Ok(())
}

fn put_zone(
    env: &mut Env,
    req: &Req,
    sub: &str,
    rg: &str,
    name: &str,
    zk: &str,
) -> Result<Response, ArmError> {
    let body = req.json()?;
    let group = groups::writable(env, sub, rg)?;
    let existing = env.state.resources.get(zk).cloned();
    preconditions(req, "zone", name, existing.as_ref())?;
    if let Some(r) = &existing {
        if r.state == Provisioning::Deleting {
            return Err(zone_busy(name));
        }
    }
    match body["location"].as_str() {
        None if existing.is_none() => {
            return Err(ArmError::bad_request(
                "LocationRequired",
                "The location property is required for this definition.",
            ))
        }
        Some(loc) if !loc.eq_ignore_ascii_case("global") => {
            return Err(ArmError::bad_request(
                "LocationNotAvailableForResourceType",
                format!("The provided location '{loc}' is not available for resource type 'Microsoft.Network/dnszones'. List of available regions for the resource type is 'global'."),
            ))
        }
        _ => {}
    }
    if body["properties"]["zoneType"]
        .as_str()
        .is_some_and(|t| !t.eq_ignore_ascii_case("Public"))
    {
        return Err(ArmError::bad_request(
            "BadRequest",
            "Only public zones are emulated (zoneType 'Public').",
        ));
    }
    let tags = body.get("tags").filter(|t| !t.is_null()).cloned();
    if let Some(mut r) = existing {
        match tags {
            Some(t) => r.body["tags"] = t,
            None => {
                if let Some(obj) = r.body.as_object_mut() {
                    obj.remove("tags");
                }
            }
        }
        r.etag = new_guid();
        env.state.resources.insert(zk.to_string(), r);
        return Ok(get_response(env, zk, StatusCode::OK));
    }
    env.state.name_server_sets += 1;
    let n = format!("{:02}", env.state.name_server_sets);
    let name_servers = vec![
        format!("ns1-{n}.azure-dns.com."),
        format!("ns2-{n}.azure-dns.net."),
        format!("ns3-{n}.azure-dns.org."),
        format!("ns4-{n}.azure-dns.info."),
    ];
    let id = resource_id(&group, Kind::DnsZone, name);
    let mut stored = json!({
        "id": id,
        "name": name,
        "type": Kind::DnsZone.type_name(),
        "location": "global",
    });
    if let Some(t) = tags {
        stored["tags"] = t;
    }
    stored["properties"] = json!({
        "maxNumberOfRecordSets": 10000,
        "maxNumberOfRecordsPerRecordSet": 20,
        "nameServers": name_servers,
        "zoneType": "Public",
    });
    let gk = group_key(sub, rg);
    env.state.resources.insert(
        zk.to_string(),
        Resource {
            id: id.clone(),
            kind: Kind::DnsZone,
            group: gk.clone(),
            parent: None,
            body: stored,
            etag: new_guid(),
            state: Provisioning::Succeeded,
            pending_op: None,
            used_by: Vec::new(),
        },
    );
    let soa = json!({
        "TTL": 3600,
        "SOARecord": {
            "host": name_servers[0],
            "email": "azuredns-hostmaster.microsoft.com",
            "serialNumber": 1,
            "refreshTime": 3600,
            "retryTime": 300,
            "expireTime": 2419200,
            "minimumTTL": 300
        }
    });
    let ns = json!({
        "TTL": 172800,
        "NSRecords": name_servers.iter().map(|n| json!({"nsdname": n})).collect::<Vec<_>>(),
    });
    for (record_type, props) in [("SOA", soa), ("NS", ns)] {
        let rk = format!("{zk}/{}/@", record_type.to_ascii_lowercase());
        let record = record_resource(&id, name, record_type, "@", props, &gk, zk);
        env.state.resources.insert(rk, record);
    }
    Ok(get_response(env, zk, StatusCode::CREATED))
}

fn zone_busy(name: &str) -> ArmError {
    ArmError::new(
        StatusCode::CONFLICT,
        "AnotherOperationInProgress",
        format!("The zone {name} is being deleted; another operation on it cannot start."),
    )
}

fn patch_zone(
    env: &mut Env,
    req: &Req,
    sub: &str,
    rg: &str,
    name: &str,
    zk: &str,
) -> Result<Response, ArmError> {
    let body = req.json()?;
    existing_zone(env, sub, rg, name, zk)?;
    preconditions(req, "zone", name, env.state.resources.get(zk))?;
    if let Some(r) = env.state.resources.get_mut(zk) {
        if let Some(tags) = body.get("tags") {
            r.body["tags"] = tags.clone();
        }
        r.etag = new_guid();
    }
    Ok(get_response(env, zk, StatusCode::OK))
}

fn delete_zone(
    env: &mut Env,
    req: &Req,
    sub: &str,
    rg: &str,
    zk: &str,
) -> Result<Response, ArmError> {
    groups::get(env, sub, rg)?;
    let Some(zone) = env.state.resources.get(zk).cloned() else {
        return Ok(empty_response(StatusCode::NO_CONTENT));
    };
    let name = zone.body["name"].as_str().unwrap_or_default().to_string();
    preconditions(req, "zone", &name, Some(&zone))?;
    let op = match (&zone.pending_op, zone.state) {
        (Some(op), Provisioning::Deleting) => op.clone(),
        _ => {
            let op = env.start_operation(req, sub, "global");
            let doomed: Vec<String> = std::iter::once(zk.to_string())
                .chain(env.state.children(zk).map(|(k, _)| k.clone()))
                .collect();
            for d in doomed {
                if let Some(r) = env.state.resources.get_mut(&d) {
                    r.state = Provisioning::Deleting;
                    r.pending_op = Some(op.clone());
                }
            }
            op
        }
    };
    let mut response = empty_response(StatusCode::ACCEPTED);
    insert_header(
        &mut response,
        "azure-asyncoperation",
        &req.operation_url(sub, "global", &op, false),
    );
    insert_header(&mut response, "retry-after-ms", &env.retry_after_ms());
    Ok(response)
}

fn record_resource(
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

#[allow(clippy::too_many_arguments)]
fn put_record_set(
    env: &mut Env,
    req: &Req,
    sub: &str,
    rg: &str,
    zone: &str,
    record_type: &str,
    name: &str,
    zk: &str,
    rk: &str,
) -> Result<Response, ArmError> {
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
    Ok(get_response(env, rk, status))
}

#[allow(clippy::too_many_arguments)]
fn delete_record_set(
    env: &mut Env,
    req: &Req,
    sub: &str,
    rg: &str,
    zone: &str,
    record_type: &str,
    name: &str,
    zk: &str,
    rk: &str,
) -> Result<Response, ArmError> {
    existing_zone(env, sub, rg, zone, zk)?;
    let Some(existing) = env.state.resources.get(rk).cloned() else {
        return Ok(empty_response(StatusCode::NO_CONTENT));
    };
    preconditions(req, "Record set", name, Some(&existing))?;
    if name == "@" && (record_type == "SOA" || record_type == "NS") {
        return Err(bad_record(format!(
            "The {record_type} record set at the zone apex cannot be deleted."
        )));
    }
    env.state.resources.remove(rk);
    Ok(empty_response(StatusCode::OK))
}
