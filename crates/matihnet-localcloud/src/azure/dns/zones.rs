//! Azure DNS zones: a synchronous PUT (public zones only, location `global`, a name-server set
//! of their own, and the apex SOA and NS record sets), PATCH of tags, and an asynchronous DELETE
//! that takes the record sets with it.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::record_sets::record_resource;
use super::{preconditions, zone_busy};
use crate::azure::arm::{empty_response, ArmError, Kind};
use crate::azure::groups::{self, resource_id};
use crate::azure::operations::dns_lro_headers;
use crate::azure::request::{Env, Req};
use crate::azure::resources::{self, get_response, ResourceAt};
use crate::azure::state::{group_key, new_guid, Provisioning, Resource};

pub(super) fn put(env: &mut Env, req: &Req, at: &ResourceAt) -> Result<Response, ArmError> {
    let (sub, rg, name, zk) = (at.sub, at.rg, at.name, at.k.as_str());
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
        r.body["tags"] = tags.unwrap_or_else(|| json!({}));
        r.etag = new_guid();
        env.state.resources.insert(zk.to_string(), r);
        return Ok(get_response(env, req, zk, StatusCode::OK));
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
    // A zone without tags answers `"tags": {}`, as real traffic shows.
    stored["tags"] = tags.unwrap_or_else(|| json!({}));
    stored["properties"] = json!({
        "maxNumberOfRecordSets": 10000,
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
    Ok(get_response(env, req, zk, StatusCode::CREATED))
}

pub(super) fn patch(env: &mut Env, req: &Req, at: &ResourceAt) -> Result<Response, ArmError> {
    let body = req.json()?;
    let zk = resources::existing(env, at.sub, at.rg, Kind::DnsZone, at.name)?;
    preconditions(req, "zone", at.name, env.state.resources.get(&zk))?;
    if let Some(r) = env.state.resources.get_mut(&zk) {
        if let Some(tags) = body.get("tags") {
            r.body["tags"] = tags.clone();
        }
        r.etag = new_guid();
    }
    Ok(get_response(env, req, &zk, StatusCode::OK))
}

pub(super) fn delete(env: &mut Env, req: &Req, at: &ResourceAt) -> Result<Response, ArmError> {
    let (sub, zk) = (at.sub, at.k.as_str());
    groups::get(env, sub, at.rg)?;
    let Some(zone) = env.state.resources.get(zk).cloned() else {
        return Ok(empty_response(StatusCode::NO_CONTENT));
    };
    let name = zone.body["name"].as_str().unwrap_or_default().to_string();
    preconditions(req, "zone", &name, Some(&zone))?;
    let doomed = env.state.with_children(zk);
    let op = env.start_deleting(req, sub, "global", &zone, &doomed);
    let mut response = empty_response(StatusCode::ACCEPTED);
    dns_lro_headers(env, &mut response, req, sub, at.rg, &op);
    Ok(response)
}
