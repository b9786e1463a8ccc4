//! Azure DNS: the platform zone and one child zone per tenant and subdomain, NS record sets in
//! the parent for each child, and A record sets. Record sets are written with `If-None-Match: *`
//! on create and `If-Match: <etag>` on update, so a concurrent change is never silently
//! overwritten.

use std::collections::HashMap;
use std::future::IntoFuture;

use matihnet_core::{Attrs, ErrorKind, OperationContext, ProviderError, ProviderResult, Value};
use serde_json::json;

use matihnet_core::value::attrs::in_prior_order;

use matihnet_core::value::attrs::{text, texts};

use matihnet_core::listing::read_by_listing;

use crate::client::{as_json, call, delete_and_wait, model};
use crate::ownership::{check_importable, check_owner, tags, tags_with_marks, take_over};
use matihnet_core::ownership::not_found;

const DNS_API: &str = "2018-05-01";
use crate::provider::AzureProvider;

fn zone_attrs(prior: &Attrs, v: &serde_json::Value) -> Attrs {
    let mut attrs = prior.clone();
    attrs.insert(
        "id".into(),
        Value::from(v.get("id").and_then(|i| i.as_str()).unwrap_or_default()),
    );
    let servers: Vec<String> = v
        .pointer("/properties/nameServers")
        .and_then(|a| a.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str())
                .map(|s| s.trim_end_matches('.').to_string())
                .collect()
        })
        .unwrap_or_default();
    attrs.insert("name_servers".into(), Value::string_list(servers));
    attrs
}

async fn get_zone(
    p: &AzureProvider,
    rg: &str,
    name: &str,
) -> Result<Option<serde_json::Value>, ProviderError> {
    let s = &p.settings;
    let got = call("GET DNS zone", || {
        p.dns
            .zones_client()
            .get(rg, name, &s.subscription_id)
            .into_future()
    })
    .await?;
    Ok(got.map(|z| as_json(&z)))
}

pub async fn put_zone(
    p: &AzureProvider,
    ctx: &OperationContext,
    desired: &Attrs,
    creating: bool,
) -> ProviderResult<Attrs> {
    let s = &p.settings;
    let rg = text(desired, "resource_group");
    let name = text(desired, "name");
    if creating {
        if let Some(found) = get_zone(p, rg, name).await? {
            check_owner(ctx, &format!("DNS zone {name}"), &found)?;
        }
    }
    let zone: azure_mgmt_dns::package_2018_05::models::Zone = model(
        json!({"location": "global", "tags": tags(ctx), "properties": {"zoneType": "Public"}}),
    )?;
    let done = call("PUT DNS zone", || {
        p.dns
            .zones_client()
            .create_or_update(rg, name, zone.clone(), &s.subscription_id)
            .into_future()
    })
    .await?
    .ok_or_else(|| {
        ProviderError::new(
            ErrorKind::Rejected,
            format!("DNS zone {name}: resource group {rg} not found"),
        )
    })?;
    Ok(zone_attrs(desired, &as_json(&done)))
}

pub async fn read_zone(p: &AzureProvider, prior: &Attrs) -> Result<Option<Attrs>, ProviderError> {
    let got = get_zone(p, text(prior, "resource_group"), text(prior, "name")).await?;
    Ok(got.map(|z| read_attrs(prior, &z)))
}

fn read_attrs(prior: &Attrs, z: &serde_json::Value) -> Attrs {
    let mut attrs = zone_attrs(prior, z);
    let servers = in_prior_order(&texts(prior, "name_servers"), texts(&attrs, "name_servers"));
    attrs.insert("name_servers".into(), Value::string_list(servers));
    attrs
}

/// Takes over the DNS zone named by its ARM id, or by its domain (`matih.ai`, with or without
/// the root's dot), looked up in the environment's resource group where the provider keeps its
/// zones: its name, group and name servers. With `mark`, its tags get this address's ownership
/// tags.
pub async fn import_zone(
    p: &AzureProvider,
    ctx: &OperationContext,
    id: &str,
    mark: bool,
) -> Result<Attrs, ProviderError> {
    let kind = ctx.addr.kind.as_str();
    let s = &p.settings;
    let (rg, name) = if id.starts_with('/') {
        let parsed = crate::ids::expect(kind, id, &s.subscription_id)?;
        (parsed.group.to_string(), parsed.names[0].to_string())
    } else {
        (
            s.resource_group.clone(),
            id.trim_end_matches('.').to_ascii_lowercase(),
        )
    };
    let found = get_zone(p, &rg, &name)
        .await?
        .ok_or_else(|| not_found(kind, id))?;
    let name = found["name"].as_str().unwrap_or(&name).to_string();
    take_over(
        &p.arm,
        ctx,
        ("DNS zone", &name),
        &found,
        (found["id"].as_str().unwrap_or(id), DNS_API),
        mark,
    )
    .await?;
    let prior = Attrs::from([
        ("name".to_string(), Value::from(name.as_str())),
        ("resource_group".to_string(), Value::from(rg.as_str())),
    ]);
    Ok(read_attrs(&prior, &found))
}

/// Reads many zones with one listing per resource group (following `nextLink`) instead of one
/// GET each; a group with a single zone to read is read alone.
pub async fn read_zones(
    p: &AzureProvider,
    priors: &[&Attrs],
) -> Vec<Result<Option<Attrs>, ProviderError>> {
    read_by_listing(
        priors,
        |prior| text(prior, "resource_group").to_string(),
        |prior| read_zone(p, prior),
        |rg| async move {
            let url = p.arm.zones_url(&p.settings.subscription_id, &rg);
            crate::arm::list_all(p, url, "list DNS zones").await
        },
        |prior, zones| {
            zones
                .iter()
                .find(|z| {
                    z["name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case(text(prior, "name")))
                })
                .map(|z| read_attrs(prior, z))
        },
    )
    .await
}

pub async fn delete_zone(p: &AzureProvider, prior: &Attrs) -> Result<(), ProviderError> {
    let s = &p.settings;
    let rg = text(prior, "resource_group");
    let name = text(prior, "name");
    delete_and_wait(p, "DELETE DNS zone", || async {
        p.dns
            .zones_client()
            .delete(rg, name, &s.subscription_id)
            .send()
            .await
            .map(|r| r.as_raw_response().headers().clone())
    })
    .await?;
    Ok(())
}

// ---------------------------------------------------------------- record sets

fn record_body(ctx: &OperationContext, desired: &Attrs) -> serde_json::Value {
    let ttl = desired.get("ttl").and_then(Value::as_int).unwrap_or(300);
    let values = texts(desired, "values");
    let mut props = json!({"TTL": ttl, "metadata": tags(ctx)});
    match text(desired, "type") {
        "NS" => {
            props["NSRecords"] = json!(values
                .iter()
                .map(|v| json!({"nsdname": v}))
                .collect::<Vec<_>>())
        }
        "CNAME" => {
            props["CNAMERecord"] = json!({"cname": values.first().cloned().unwrap_or_default()})
        }
        "TXT" => {
            props["TXTRecords"] = json!(values
                .iter()
                .map(|v| json!({"value": [v]}))
                .collect::<Vec<_>>())
        }
        _ => {
            props["ARecords"] = json!(values
                .iter()
                .map(|v| json!({"ipv4Address": v}))
                .collect::<Vec<_>>())
        }
    }
    json!({"properties": props})
}

fn record_attrs(prior: &Attrs, v: &serde_json::Value) -> Attrs {
    let mut attrs = prior.clone();
    attrs.insert(
        "id".into(),
        Value::from(v.get("id").and_then(|i| i.as_str()).unwrap_or_default()),
    );
    attrs.insert(
        "etag".into(),
        Value::from(v.get("etag").and_then(|i| i.as_str()).unwrap_or_default()),
    );
    let props = v.get("properties").cloned().unwrap_or_default();
    if let Some(ttl) = props.get("TTL").and_then(|t| t.as_i64()) {
        attrs.insert("ttl".into(), Value::Int(ttl));
    }
    let list = |key: &str, field: &str| -> Vec<String> {
        props
            .get(key)
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.get(field).and_then(|x| x.as_str()))
                    .map(|s| s.trim_end_matches('.').to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let values = match text(prior, "type") {
        "NS" => list("NSRecords", "nsdname"),
        _ => list("ARecords", "ipv4Address"),
    };
    let values = in_prior_order(&texts(prior, "values"), values);
    attrs.insert("values".into(), Value::string_list(values));
    attrs
}

fn precondition_failed(e: &ProviderError) -> bool {
    e.kind == ErrorKind::PreconditionFailed
}

pub async fn put_record(
    p: &AzureProvider,
    ctx: &OperationContext,
    desired: &Attrs,
    prior: Option<&Attrs>,
) -> ProviderResult<Attrs> {
    let s = &p.settings;
    let rg = text(desired, "resource_group");
    let zone = text(desired, "zone_name");
    let name = text(desired, "name");
    let kind = text(desired, "type");
    let set: azure_mgmt_dns::package_2018_05::models::RecordSet = model(record_body(ctx, desired))?;
    let put = |etag: Option<String>| {
        let set = set.clone();
        async move {
            call("PUT record set", || {
                let b = p.dns.record_sets_client().create_or_update(
                    rg,
                    zone,
                    name,
                    kind,
                    set.clone(),
                    &s.subscription_id,
                );
                match &etag {
                    Some(tag) => b.if_match(tag.clone()).into_future(),
                    None => b.if_none_match("*").into_future(),
                }
            })
            .await
        }
    };
    let etag = prior
        .map(|pr| text(pr, "etag").to_string())
        .filter(|e| !e.is_empty());
    let written = match put(etag.clone()).await {
        Ok(w) => w,
        Err(e) if precondition_failed(&e) && etag.is_none() => {
            // It exists already: adopt it if it is ours (a create cut short by a crash).
            let found = call("GET record set", || p.dns.record_sets_client().get(rg, zone, name, kind, &s.subscription_id).into_future())
                .await?
                .map(|r| as_json(&r))
                .ok_or_else(|| ProviderError::new(ErrorKind::Rejected, format!("record set {name} {kind} in {zone} vanished while being adopted")))?;
            check_owner(ctx, &format!("record set {name} {kind} in {zone}"), &found)?;
            let tag = found.get("etag").and_then(|t| t.as_str()).map(str::to_string);
            put(tag).await?
        }
        Err(e) if precondition_failed(&e) => {
            return Err(ProviderError::new(
                ErrorKind::Rejected,
                format!("record set {name} {kind} in {zone} was changed by someone else since it was read; run plan again to see the change"),
            )
            .into())
        }
        Err(e) => return Err(e.into()),
    };
    let written = written.ok_or_else(|| {
        ProviderError::new(ErrorKind::Rejected, format!("DNS zone {zone} not found"))
    })?;
    Ok(record_attrs(desired, &as_json(&written)))
}

pub async fn read_record(p: &AzureProvider, prior: &Attrs) -> Result<Option<Attrs>, ProviderError> {
    let s = &p.settings;
    let (rg, zone, name, kind) = (
        text(prior, "resource_group"),
        text(prior, "zone_name"),
        text(prior, "name"),
        text(prior, "type"),
    );
    let got = call("GET record set", || {
        p.dns
            .record_sets_client()
            .get(rg, zone, name, kind, &s.subscription_id)
            .into_future()
    })
    .await?;
    Ok(got.map(|r| record_attrs(prior, &as_json(&r))))
}

/// Takes over the record set named by its ARM id (`…/dnsZones/<zone>/<TYPE>/<name>`): its
/// zone, name, type, TTL, values and etag. With `mark`, its metadata gets this address's
/// ownership marks: the record set is written again as it is (`If-Match` its etag, so a change
/// in between is not overwritten), and the attributes are the written set's, new etag included.
pub async fn import_record(
    p: &AzureProvider,
    ctx: &OperationContext,
    id: &str,
    mark: bool,
) -> Result<Attrs, ProviderError> {
    let kind = ctx.addr.kind.as_str();
    let s = &p.settings;
    let parsed = crate::ids::expect(kind, id, &s.subscription_id)?;
    let (zone, name) = (parsed.names[0], parsed.names[1]);
    let rtype = parsed
        .type_path
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let rg = parsed.group;
    let got = call("GET record set", || {
        p.dns
            .record_sets_client()
            .get(rg, zone, name, &rtype, &s.subscription_id)
            .into_future()
    })
    .await?
    .map(|r| as_json(&r))
    .ok_or_else(|| not_found(kind, id))?;
    check_importable(ctx, &format!("record set {name} {rtype} in {zone}"), &got)?;
    let zone_id = format!(
        "/subscriptions/{}/resourceGroups/{rg}/providers/Microsoft.Network/dnsZones/{zone}",
        s.subscription_id
    );
    let prior = Attrs::from([
        ("resource_group".to_string(), Value::from(rg)),
        ("zone_id".to_string(), Value::from(zone_id)),
        ("zone_name".to_string(), Value::from(zone)),
        ("name".to_string(), Value::from(name)),
        ("type".to_string(), Value::from(rtype.as_str())),
    ]);
    if !mark {
        return Ok(record_attrs(&prior, &got));
    }
    let mut props = got.get("properties").cloned().unwrap_or_default();
    props["metadata"] = tags_with_marks(ctx, &got);
    if let Some(fields) = props.as_object_mut() {
        // Read-only: ARM computes them.
        fields.remove("fqdn");
        fields.remove("provisioningState");
    }
    let set: azure_mgmt_dns::package_2018_05::models::RecordSet =
        model(json!({ "properties": props }))?;
    let etag = got["etag"].as_str().unwrap_or_default().to_string();
    let written = call("PUT record set", || {
        p.dns
            .record_sets_client()
            .create_or_update(rg, zone, name, &rtype, set.clone(), &s.subscription_id)
            .if_match(etag.clone())
            .into_future()
    })
    .await
    .map_err(|e| {
        if e.kind == ErrorKind::PreconditionFailed {
            ProviderError::new(
                ErrorKind::Rejected,
                format!("record set {name} {rtype} in {zone} changed while being imported; import it again"),
            )
        } else {
            e
        }
    })?
    .ok_or_else(|| not_found(kind, id))?;
    Ok(record_attrs(&prior, &as_json(&written)))
}

/// Reads many records with one listing per zone (`.../dnsZones/{zone}/recordsets`, following
/// `nextLink`) instead of one GET each; a zone with a single record to read is read alone.
pub async fn read_records(
    p: &AzureProvider,
    priors: &[&Attrs],
) -> Vec<Result<Option<Attrs>, ProviderError>> {
    read_by_listing(
        priors,
        |prior| {
            (
                text(prior, "resource_group").to_string(),
                text(prior, "zone_name").to_string(),
            )
        },
        |prior| read_record(p, prior),
        |(rg, zone)| async move { all_record_sets(p, &rg, &zone).await },
        |prior, sets| {
            let key = (
                text(prior, "name").to_ascii_lowercase(),
                text(prior, "type").to_ascii_uppercase(),
            );
            sets.get(&key).map(|v| record_attrs(prior, v))
        },
    )
    .await
}

/// Every record set of a zone by lower-case relative name and upper-case type; `None` when the
/// zone is gone.
async fn all_record_sets(
    p: &AzureProvider,
    rg: &str,
    zone: &str,
) -> Result<Option<HashMap<(String, String), serde_json::Value>>, ProviderError> {
    let Some(items) = crate::arm::list_all(
        p,
        p.arm.record_sets_url(&p.settings.subscription_id, rg, zone),
        "list record sets",
    )
    .await?
    else {
        return Ok(None);
    };
    let mut found = HashMap::new();
    for v in items {
        let kind = v["type"]
            .as_str()
            .unwrap_or_default()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let name = v["name"].as_str().unwrap_or_default().to_ascii_lowercase();
        found.insert((name, kind), v);
    }
    Ok(Some(found))
}

pub async fn delete_record(p: &AzureProvider, prior: &Attrs) -> Result<(), ProviderError> {
    let s = &p.settings;
    let (rg, zone, name, kind) = (
        text(prior, "resource_group"),
        text(prior, "zone_name"),
        text(prior, "name"),
        text(prior, "type"),
    );
    call("DELETE record set", || {
        p.dns
            .record_sets_client()
            .delete(rg, zone, name, kind, &s.subscription_id)
            .send()
    })
    .await?;
    Ok(())
}
