//! Cloud DNS: managed zones (the platform's and one per child), NS delegation in the parent and
//! A records, all written through changes so that a replacement of values is one atomic change.

use std::collections::HashMap;

use matihnet_core::{Attrs, ErrorKind, OperationContext, ProviderError, ProviderResult, Value};
use serde_json::json;

use matihnet_core::value::attrs::{text, texts};

use matihnet_core::listing::read_by_listing;

use crate::client::{as_json, call, list_pages, model};
use crate::ownership::{check_importable, check_owner, labels, labels_with_marks};
use crate::provider::GcpProvider;
use matihnet_core::ownership::{self, not_found, wrong_kind};

fn dotted(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

fn fqdn(name: &str, zone_name: &str) -> String {
    if name == "@" || name.is_empty() {
        dotted(zone_name)
    } else {
        dotted(&format!("{name}.{}", zone_name.trim_end_matches('.')))
    }
}

async fn get_zone(
    p: &GcpProvider,
    resource: &str,
) -> Result<Option<serde_json::Value>, ProviderError> {
    let project = &p.settings.project;
    Ok(call(&p.meter, "get managed zone", || {
        p.zones
            .get()
            .set_project(project)
            .set_managed_zone(resource)
            .send()
    })
    .await?
    .map(|z| as_json(&z)))
}

fn zone_attrs(prior: &Attrs, z: &serde_json::Value) -> Attrs {
    let mut attrs = prior.clone();
    attrs.insert(
        "id".into(),
        Value::from(z.get("name").and_then(|n| n.as_str()).unwrap_or_default()),
    );
    let servers: Vec<String> = z
        .get("nameServers")
        .and_then(|a| a.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    attrs.insert("name_servers".into(), Value::string_list(servers));
    attrs
}

pub async fn create_zone(
    p: &GcpProvider,
    ctx: &OperationContext,
    desired: &Attrs,
) -> ProviderResult<Attrs> {
    let project = &p.settings.project;
    let resource = text(desired, "zone_resource");
    let found = match get_zone(p, resource).await? {
        Some(found) => {
            check_owner(ctx, &format!("managed zone {resource}"), &found)?;
            found
        }
        None => {
            let body: google_cloud_dns_v1::model::ManagedZone = model(json!({
                "name": resource,
                "dnsName": dotted(text(desired, "name")),
                "description": format!("MATIH environment {}", ctx.environment),
                "visibility": "public",
                "labels": labels(ctx),
            }))?;
            let created = call(&p.meter, "create managed zone", || {
                p.zones
                    .create()
                    .set_project(project)
                    .set_body(body.clone())
                    .send()
            })
            .await;
            match created {
                Ok(Some(z)) => as_json(&z),
                Ok(None) => {
                    return Err(ProviderError::new(
                        ErrorKind::Rejected,
                        format!("project {project} not found"),
                    )
                    .into())
                }
                Err(e) if e.kind == ErrorKind::Conflict => {
                    let found = get_zone(p, resource).await?.ok_or(e)?;
                    check_owner(ctx, &format!("managed zone {resource}"), &found)?;
                    found
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    Ok(zone_attrs(desired, &found))
}

pub async fn read_zone(p: &GcpProvider, prior: &Attrs) -> Result<Option<Attrs>, ProviderError> {
    Ok(get_zone(p, text(prior, "zone_resource"))
        .await?
        .map(|z| read_attrs(prior, &z)))
}

fn read_attrs(prior: &Attrs, z: &serde_json::Value) -> Attrs {
    let mut attrs = zone_attrs(prior, z);
    if let Some(d) = z.get("dnsName").and_then(|d| d.as_str()) {
        attrs.insert("name".into(), Value::from(d.trim_end_matches('.')));
    }
    attrs
}

/// Takes over the managed zone named by its resource name (the id a create records) or by its
/// domain (`matih.ai`, with or without the root's dot): its name servers and names, read from
/// Cloud DNS. With `mark`, its labels get this address's ownership labels (a patch).
pub async fn import_zone(
    p: &GcpProvider,
    ctx: &OperationContext,
    id: &str,
    mark: bool,
) -> Result<Attrs, ProviderError> {
    let kind = ctx.addr.kind.as_str();
    let project = &p.settings.project;
    let found = if crate::ids::is_resource_name(id) {
        get_zone(p, id).await?
    } else if let Some(what) = crate::ids::id_names(id) {
        return Err(wrong_kind(kind, id, what));
    } else {
        zone_named(p, kind, id).await?
    };
    let found = found.ok_or_else(|| not_found(kind, id))?;
    let resource = found
        .get("name")
        .and_then(|n| n.as_str())
        .unwrap_or_default();
    check_importable(ctx, &format!("managed zone {resource}"), &found)?;
    if mark {
        let body: google_cloud_dns_v1::model::ManagedZone =
            model(json!({"labels": labels_with_marks(ctx, &found)}))?;
        call(&p.meter, "patch managed zone", || {
            p.zones
                .patch()
                .set_project(project)
                .set_managed_zone(resource)
                .set_body(body.clone())
                .send()
        })
        .await?
        .ok_or_else(|| not_found(kind, id))?;
    }
    let prior = Attrs::from([("zone_resource".to_string(), Value::from(resource))]);
    Ok(read_attrs(&prior, &found))
}

/// The one public zone of the project whose domain is `domain`.
async fn zone_named(
    p: &GcpProvider,
    kind: &str,
    domain: &str,
) -> Result<Option<serde_json::Value>, ProviderError> {
    let wanted = dotted(domain).to_ascii_lowercase();
    let zones = all_zones(p).await?.unwrap_or_default();
    let named: Vec<&serde_json::Value> = zones
        .values()
        .filter(|z| {
            z.get("dnsName")
                .and_then(|d| d.as_str())
                .is_some_and(|d| d.eq_ignore_ascii_case(&wanted))
        })
        .collect();
    match named.as_slice() {
        [] => Err(not_found(kind, domain)),
        [one] => Ok(Some((*one).clone())),
        many => Err(ProviderError::new(
            ErrorKind::Rejected,
            format!(
                "{} managed zones serve {wanted} ({}): import one by its name",
                many.len(),
                many.iter()
                    .filter_map(|z| z.get("name").and_then(|n| n.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// Reads many zones with one listing of the project's managed zones instead of one request
/// each; a single zone is read alone.
pub async fn read_zones(
    p: &GcpProvider,
    priors: &[&Attrs],
) -> Vec<Result<Option<Attrs>, ProviderError>> {
    read_by_listing(
        priors,
        |_| (),
        |prior| read_zone(p, prior),
        |()| all_zones(p),
        |prior, zones| {
            zones
                .get(text(prior, "zone_resource"))
                .map(|z| read_attrs(prior, z))
        },
    )
    .await
}

/// Every managed zone of the project, by resource name.
async fn all_zones(
    p: &GcpProvider,
) -> Result<Option<HashMap<String, serde_json::Value>>, ProviderError> {
    let project = &p.settings.project;
    let zones = list_pages(&p.meter, "list managed zones", "managedZones", |token| {
        let mut req = p.zones.list().set_project(project);
        if !token.is_empty() {
            req = req.set_page_token(token);
        }
        req.send()
    })
    .await?;
    Ok(zones.map(|zones| {
        zones
            .into_iter()
            .filter_map(|z| Some((z["name"].as_str()?.to_string(), z)))
            .collect()
    }))
}

pub async fn update_zone(
    p: &GcpProvider,
    _ctx: &OperationContext,
    prior: &Attrs,
    desired: &Attrs,
) -> ProviderResult<Attrs> {
    let mut out = prior.clone();
    out.extend(desired.clone());
    Ok(read_zone(p, &out).await?.unwrap_or(out))
}

pub async fn delete_zone(p: &GcpProvider, prior: &Attrs) -> Result<(), ProviderError> {
    let project = &p.settings.project;
    let resource = text(prior, "zone_resource");
    match call(&p.meter, "delete managed zone", || p.zones.delete().set_project(project).set_managed_zone(resource).send()).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind == ErrorKind::InUse => Err(ProviderError::new(
            ErrorKind::Rejected,
            format!("managed zone {resource} still holds records matihnet did not create (cert-manager's _acme-challenge TXT records, for example); delete them, then run destroy again"),
        )),
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------- records

fn rrdatas(desired: &Attrs) -> Vec<String> {
    let values = texts(desired, "values");
    if text(desired, "type") == "NS" || text(desired, "type") == "CNAME" {
        values.iter().map(|v| dotted(v)).collect()
    } else {
        values
    }
}

fn rrset(desired: &Attrs) -> serde_json::Value {
    json!({
        "name": fqdn(text(desired, "name"), text(desired, "zone_name")),
        "type": text(desired, "type"),
        "ttl": desired.get("ttl").and_then(Value::as_int).unwrap_or(300),
        "rrdatas": rrdatas(desired),
    })
}

async fn current(
    p: &GcpProvider,
    prior: &Attrs,
) -> Result<Option<serde_json::Value>, ProviderError> {
    let project = &p.settings.project;
    let name = fqdn(text(prior, "name"), text(prior, "zone_name"));
    Ok(call(&p.meter, "get record set", || {
        p.rrsets
            .get()
            .set_project(project)
            .set_managed_zone(text(prior, "zone_id"))
            .set_name(&name)
            .set_type(text(prior, "type"))
            .send()
    })
    .await?
    .map(|r| as_json(&r)))
}

/// One record's part of a Cloud DNS change.
#[derive(Debug, Clone, Default)]
pub(crate) struct Edit {
    additions: Vec<serde_json::Value>,
    deletions: Vec<serde_json::Value>,
}

/// Sends `edit` with the others queued for `zone` in the same moment (`core::batches`): Cloud
/// DNS takes up to 1,000 additions and deletions in one change. Its own answer comes back
/// whatever its neighbours' are.
async fn submit(p: &GcpProvider, zone: &str, edit: Edit) -> Result<(), ProviderError> {
    p.record_batches
        .submit(zone, edit, &p.meter.pacer, "dns", |edits| {
            let mut together = Edit::default();
            for e in edits {
                together.additions.extend(e.additions);
                together.deletions.extend(e.deletions);
            }
            send_change(p, zone, together)
        })
        .await
}

async fn send_change(p: &GcpProvider, zone: &str, edit: Edit) -> Result<(), ProviderError> {
    let project = &p.settings.project;
    let mut change = json!({"additions": edit.additions});
    if !edit.deletions.is_empty() {
        change["deletions"] = json!(edit.deletions);
    }
    let body: google_cloud_dns_v1::model::Change = model(change)?;
    call(&p.meter, "create change", || {
        p.changes
            .create()
            .set_project(project)
            .set_managed_zone(zone)
            .set_body(body.clone())
            .send()
    })
    .await?
    .map(|_| ())
    // Cloud DNS answers 404 both for a missing zone and for a deletion of a record set that
    // is not there.
    .ok_or_else(|| {
        ProviderError::new(
            ErrorKind::NotFound,
            format!("create change: managed zone {zone}, or a record set the change deletes, is not there"),
        )
    })
}

/// Writes the desired record set in one change, guessing that what is there is what the state
/// recorded (nothing, for a create) so that no read is needed. When the guess is wrong (a
/// record left by an interrupted run, or changed by hand) Cloud DNS refuses the change, and
/// the record is read and written again from what is really there.
pub async fn write_record(
    p: &GcpProvider,
    desired: &Attrs,
    prior: Option<&Attrs>,
) -> Result<Attrs, ProviderError> {
    let zone = text(desired, "zone_id");
    let wanted = rrset(desired);
    let guess = Edit {
        additions: vec![wanted.clone()],
        deletions: prior.map(rrset).into_iter().collect(),
    };
    match submit(p, zone, guess).await {
        Ok(()) => {}
        Err(e)
            if matches!(
                e.kind,
                ErrorKind::Conflict | ErrorKind::PreconditionFailed | ErrorKind::NotFound
            ) =>
        {
            let now = current(p, desired).await?;
            let same = now.as_ref().is_some_and(|n| {
                n.get("rrdatas") == wanted.get("rrdatas")
                    && n.get("ttl").and_then(|t| t.as_i64())
                        == wanted.get("ttl").and_then(|t| t.as_i64())
            });
            // A create that finds another record of this name and type never overwrites it:
            // matihnet did not make it (an existing zone's own record, say).
            if !same && prior.is_none() && now.is_some() {
                let name = fqdn(text(desired, "name"), text(desired, "zone_name"));
                return Err(ownership::foreign_record(
                    &format!("record set {name} {}", text(desired, "type")),
                    &format!("{zone}/{name}/{}", text(desired, "type")),
                ));
            }
            if !same {
                let edit = Edit {
                    additions: vec![wanted],
                    deletions: now.into_iter().collect(),
                };
                submit(p, zone, edit).await?;
            }
        }
        Err(e) => return Err(e),
    }
    let mut attrs = desired.clone();
    attrs.insert(
        "id".into(),
        Value::from(format!(
            "{zone}/{}/{}",
            fqdn(text(desired, "name"), text(desired, "zone_name")),
            text(desired, "type")
        )),
    );
    Ok(attrs)
}

pub async fn read_record(p: &GcpProvider, prior: &Attrs) -> Result<Option<Attrs>, ProviderError> {
    Ok(current(p, prior)
        .await?
        .map(|now| record_attrs(prior, &now)))
}

/// Every record set of a managed zone by lower-case name and type; `None` when the zone is gone.
async fn all_rrsets(
    p: &GcpProvider,
    zone: &str,
) -> Result<Option<HashMap<(String, String), serde_json::Value>>, ProviderError> {
    let project = &p.settings.project;
    let sets = list_pages(&p.meter, "list record sets", "rrsets", |token| {
        let mut req = p.rrsets.list().set_project(project).set_managed_zone(zone);
        if !token.is_empty() {
            req = req.set_page_token(token);
        }
        req.send()
    })
    .await?;
    Ok(sets.map(|sets| {
        sets.into_iter()
            .map(|r| {
                let key = (
                    r["name"].as_str().unwrap_or_default().to_ascii_lowercase(),
                    r["type"].as_str().unwrap_or_default().to_string(),
                );
                (key, r)
            })
            .collect()
    }))
}

/// Reads many records with one listing per managed zone instead of one request each; a zone
/// with a single record to read is read alone.
pub async fn read_records(
    p: &GcpProvider,
    priors: &[&Attrs],
) -> Vec<Result<Option<Attrs>, ProviderError>> {
    read_by_listing(
        priors,
        |prior| text(prior, "zone_id").to_string(),
        |prior| read_record(p, prior),
        |zone| async move { all_rrsets(p, &zone).await },
        |prior, sets| {
            let key = (
                fqdn(text(prior, "name"), text(prior, "zone_name")).to_ascii_lowercase(),
                text(prior, "type").to_string(),
            );
            sets.get(&key).map(|now| record_attrs(prior, now))
        },
    )
    .await
}

fn record_attrs(prior: &Attrs, now: &serde_json::Value) -> Attrs {
    let mut attrs = prior.clone();
    let kind = text(prior, "type");
    let values: Vec<String> = now
        .get("rrdatas")
        .and_then(|a| a.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    // Our NS and CNAME values carry the trailing dot as the zone's name servers do.
    let normalise = |v: &str| {
        if kind == "NS" || kind == "CNAME" {
            dotted(v)
        } else {
            v.to_string()
        }
    };
    let prior_values = texts(prior, "values");
    let mut a: Vec<String> = values.iter().map(|v| normalise(v)).collect();
    let mut b: Vec<String> = prior_values.iter().map(|v| normalise(v)).collect();
    a.sort();
    b.sort();
    let values = if a == b { prior_values } else { values };
    attrs.insert("values".into(), Value::string_list(values));
    if let Some(ttl) = now.get("ttl").and_then(|t| t.as_i64()) {
        attrs.insert("ttl".into(), Value::Int(ttl));
    }
    attrs
}

/// Takes over the record set `<zone>/<name>./<type>` (the id a create records): its zone, name,
/// type, TTL and values, read from Cloud DNS. Record sets take no labels: nothing to check or
/// mark, a record is ours by its name inside a zone this state owns.
pub async fn import_record(
    p: &GcpProvider,
    ctx: &OperationContext,
    id: &str,
) -> Result<Attrs, ProviderError> {
    let kind = ctx.addr.kind.as_str();
    let Some((zone, name, rtype)) = crate::ids::record_id(id) else {
        return Err(crate::ids::refusal(kind, id, "`<zone>/<name>./<type>`"));
    };
    let found = get_zone(p, zone)
        .await?
        .ok_or_else(|| not_found(kind, id))?;
    let zone_name = found
        .get("dnsName")
        .and_then(|d| d.as_str())
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_string();
    let name = name.trim_end_matches('.');
    // The file names records relative to their zone, `@` for the apex.
    let relative = if name.eq_ignore_ascii_case(&zone_name) {
        "@".to_string()
    } else {
        let suffix = format!(".{zone_name}");
        match name
            .len()
            .checked_sub(suffix.len())
            .filter(|&at| name.is_char_boundary(at) && name[at..].eq_ignore_ascii_case(&suffix))
        {
            Some(at) => name[..at].to_string(),
            // A name outside the zone names no record of it.
            None => return Err(not_found(kind, id)),
        }
    };
    let prior = Attrs::from([
        ("zone_id".to_string(), Value::from(zone)),
        ("zone_name".to_string(), Value::from(zone_name.as_str())),
        ("name".to_string(), Value::from(relative.as_str())),
        ("type".to_string(), Value::from(rtype)),
    ]);
    let now = current(p, &prior)
        .await?
        .ok_or_else(|| not_found(kind, id))?;
    let mut attrs = record_attrs(&prior, &now);
    attrs.insert(
        "id".into(),
        Value::from(format!("{zone}/{}/{rtype}", fqdn(&relative, &zone_name))),
    );
    Ok(attrs)
}

pub async fn delete_record(p: &GcpProvider, prior: &Attrs) -> Result<(), ProviderError> {
    let zone = text(prior, "zone_id");
    let Some(now) = current(p, prior).await? else {
        return Ok(());
    };
    let edit = Edit {
        additions: Vec::new(),
        deletions: vec![now],
    };
    match submit(p, zone, edit).await {
        // Gone between the read and the change: what a delete wants.
        Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
        other => other,
    }
}
