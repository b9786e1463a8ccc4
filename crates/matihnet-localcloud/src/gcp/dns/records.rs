//! Cloud DNS resource record sets and changes: parsing and validating record sets, applying a
//! change atomically (deletions first, then additions, all or nothing, the apex SOA and NS
//! kept), the `rrsets` routes (each write recorded as a change), and the `changes` routes.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{invalid, required, string, zone_mut, Zone};
use crate::core::clock::{self, now_ms};
use crate::core::http::Query;
use crate::gcp::wire::{ok, parse_body, with_items, ApiError, ApiResult};
use crate::gcp::{Cloud, World};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RecordSet {
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) ttl: u64,
    pub(super) rrdatas: Vec<String>,
    /// A weighted (`wrr`), geolocation (`geo`) or failover (`primaryBackup`) policy, whose
    /// items carry the data instead of `rrdatas`; kept as sent, as GCP echoes it.
    #[serde(
        default,
        rename = "routingPolicy",
        skip_serializing_if = "Option::is_none"
    )]
    pub(super) routing_policy: Option<Value>,
}

impl RecordSet {
    fn render(&self) -> Value {
        let mut v = json!({
            "kind": "dns#resourceRecordSet",
            "name": self.name,
            "ttl": self.ttl,
            "type": self.kind,
        });
        if let Some(obj) = v.as_object_mut() {
            match &self.routing_policy {
                Some(policy) => {
                    obj.insert("routingPolicy".into(), policy.clone());
                }
                None => {
                    obj.insert("rrdatas".into(), json!(self.rrdatas));
                }
            }
        }
        v
    }

    fn label(&self) -> String {
        format!("{} ({})", self.name, self.kind)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Change {
    pub(super) id: u64,
    pub(super) start_ms: u64,
    pub(super) additions: Vec<RecordSet>,
    pub(super) deletions: Vec<RecordSet>,
}

impl Change {
    fn render(&self) -> Value {
        let mut v = json!({
            "id": self.id.to_string(),
            "kind": "dns#change",
            "startTime": clock::rfc3339(self.start_ms),
            "status": "done",
        });
        if let Some(obj) = v.as_object_mut() {
            if !self.additions.is_empty() {
                let a: Vec<Value> = self.additions.iter().map(RecordSet::render).collect();
                obj.insert("additions".into(), json!(a));
            }
            if !self.deletions.is_empty() {
                let d: Vec<Value> = self.deletions.iter().map(RecordSet::render).collect();
                obj.insert("deletions".into(), json!(d));
            }
        }
        v
    }
}

/// The path parameters of one record set's routes.
#[derive(Debug, Deserialize)]
pub(super) struct RrsetPath {
    project: String,
    zone: String,
    name: String,
    kind: String,
}

/// The zone a record-set path names and where in it the record set is, or Cloud DNS's 404s.
fn locate<'w>(world: &'w mut World, at: &RrsetPath) -> Result<(&'w mut Zone, usize), ApiError> {
    let zone = zone_mut(world, &at.project, &at.zone)?;
    let index = zone.find(&at.name, &at.kind).ok_or_else(|| {
        ApiError::new(
            404,
            "notFound",
            format!(
                "resourceRecordSet \"projects/{}/managedZones/{}/rrsets/{}/{}\" not found",
                at.project, at.zone, at.name, at.kind
            ),
        )
        .dns()
    })?;
    Ok((zone, index))
}

/// Parses and validates one record set of a request, `entity` naming it in error messages
/// (`entity.change.additions[0]`, `entity.rrset`).
fn parse_rrset(value: &Value, entity: &str, zone: &Zone) -> Result<RecordSet, ApiError> {
    let obj = value
        .as_object()
        .ok_or_else(|| invalid(format!("Invalid value for '{entity}'")))?;
    let name = string(obj, "name", entity)?.ok_or_else(|| required(&format!("{entity}.name")))?;
    let kind = string(obj, "type", entity)?.ok_or_else(|| required(&format!("{entity}.type")))?;
    let ttl = match obj.get("ttl") {
        None | Some(Value::Null) => 300,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| invalid(format!("Invalid value for '{entity}.ttl': '{v}'")))?,
    };
    let rrdatas: Vec<String> = match obj.get("rrdatas") {
        None | Some(Value::Null) => vec![],
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| invalid(format!("Invalid value for '{entity}.rrdatas': '{v}'")))?,
    };
    let in_zone = name == zone.dns_name || name.ends_with(&format!(".{}", zone.dns_name));
    if !name.ends_with('.') || !in_zone {
        return Err(invalid(format!(
            "Invalid value for '{entity}.name': '{name}'. The name must be fully qualified (end with a dot) and inside the zone's DNS name '{}'.",
            zone.dns_name
        )));
    }
    const TYPES: [&str; 14] = [
        "A", "AAAA", "CAA", "CNAME", "DNSKEY", "DS", "HTTPS", "MX", "NS", "PTR", "SOA", "SRV",
        "SVCB", "TXT",
    ];
    if !TYPES.contains(&kind.as_str()) {
        return Err(invalid(format!(
            "Invalid value for '{entity}.type': '{kind}'"
        )));
    }
    let routing_policy = obj.get("routingPolicy").filter(|v| !v.is_null()).cloned();
    match &routing_policy {
        Some(policy) => {
            if !rrdatas.is_empty() {
                return Err(invalid(format!(
                    "Invalid value for '{entity}.rrdatas': a record set with a routingPolicy carries its data in the policy's items."
                )));
            }
            for (field, data) in policy_data(policy, entity)? {
                check_rrdatas(&kind, &data, &field)?;
            }
        }
        None => {
            if rrdatas.is_empty() {
                return Err(required(&format!("{entity}.rrdata")));
            }
            check_rrdatas(&kind, &rrdatas, &format!("{entity}.rrdata"))?;
        }
    }
    if kind == "CNAME" && name == zone.dns_name {
        return Err(invalid(format!(
            "Invalid value for '{entity}.name': '{name}'. A CNAME cannot be placed at the zone apex."
        )));
    }
    Ok(RecordSet {
        name,
        kind,
        ttl,
        rrdatas,
        routing_policy,
    })
}

fn check_rrdatas(kind: &str, rrdatas: &[String], field: &str) -> Result<(), ApiError> {
    for (i, data) in rrdatas.iter().enumerate() {
        let valid = match kind {
            "A" => data.parse::<std::net::Ipv4Addr>().is_ok(),
            "AAAA" => data.parse::<std::net::Ipv6Addr>().is_ok(),
            "NS" | "CNAME" | "PTR" => data.ends_with('.'),
            _ => !data.is_empty(),
        };
        if !valid {
            return Err(invalid(format!(
                "Invalid value for '{field}[{i}]': '{data}'"
            )));
        }
    }
    Ok(())
}

/// The `rrdatas` of every item of a routing policy, each with the field that names it; a
/// policy must be exactly one of the kinds Cloud DNS documents and every item must carry data.
fn policy_data(policy: &Value, entity: &str) -> Result<Vec<(String, Vec<String>)>, ApiError> {
    const KINDS: [&str; 3] = ["wrr", "geo", "primaryBackup"];
    let field = format!("{entity}.routingPolicy");
    let obj = policy
        .as_object()
        .ok_or_else(|| invalid(format!("Invalid value for '{field}': '{policy}'")))?;
    let kinds: Vec<&String> = obj.keys().filter(|k| KINDS.contains(&k.as_str())).collect();
    if kinds.len() != 1 {
        return Err(invalid(format!(
            "Invalid value for '{field}': exactly one of wrr, geo or primaryBackup must be set."
        )));
    }
    let kind = kinds[0].as_str();
    let items: Vec<&Value> = match kind {
        "primaryBackup" => obj[kind]["backupGeoTargets"]["items"]
            .as_array()
            .into_iter()
            .flatten()
            .collect(),
        _ => obj[kind]["items"]
            .as_array()
            .into_iter()
            .flatten()
            .collect(),
    };
    if items.is_empty() && kind != "primaryBackup" {
        return Err(required(&format!("{field}.{kind}.items")));
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_field = format!("{field}.{kind}.items[{i}].rrdatas");
        let data: Vec<String> = match item.get("rrdatas") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|_| invalid(format!("Invalid value for '{item_field}': '{v}'")))?,
        };
        let has_targets = item
            .get("healthCheckedTargets")
            .is_some_and(|t| !t.is_null());
        if data.is_empty() && !has_targets {
            return Err(required(&item_field));
        }
        out.push((item_field, data));
    }
    Ok(out)
}

fn same_records(a: &RecordSet, b: &RecordSet) -> bool {
    let mut x = a.rrdatas.clone();
    let mut y = b.rrdatas.clone();
    x.sort();
    y.sort();
    a.ttl == b.ttl && x == y && a.routing_policy == b.routing_policy
}

/// Applies a change atomically: deletions first, then additions, all or nothing.
fn apply_change(
    zone: &mut Zone,
    deletions: &[RecordSet],
    additions: &[RecordSet],
    entity: &str,
) -> Result<(), ApiError> {
    let mut next = zone.clone();
    for (i, d) in deletions.iter().enumerate() {
        let at = next.find(&d.name, &d.kind).ok_or_else(|| {
            ApiError::new(
                404,
                "notFound",
                format!(
                    "The '{entity}.deletions[{i}]' resource named '{}' does not exist.",
                    d.label()
                ),
            )
            .dns()
        })?;
        if !same_records(&next.rrsets[at], d) {
            return Err(ApiError::new(
                412,
                "conditionNotMet",
                format!("Precondition not met for '{entity}.deletions[{i}]'"),
            )
            .dns());
        }
        next.rrsets.remove(at);
    }
    for (i, a) in additions.iter().enumerate() {
        if next.find(&a.name, &a.kind).is_some() {
            return Err(ApiError::new(
                409,
                "alreadyExists",
                format!(
                    "The resource '{entity}.additions[{i}]' named '{}' already exists",
                    a.label()
                ),
            )
            .dns());
        }
        let cname_clash = next
            .rrsets
            .iter()
            .any(|r| r.name == a.name && (r.kind == "CNAME") != (a.kind == "CNAME"));
        if cname_clash {
            return Err(invalid(format!(
                "The resource record set '{entity}.additions[{i}]' named '{}' is invalid because a CNAME cannot coexist with other records of the same name.",
                a.label()
            )));
        }
        next.rrsets.push(a.clone());
    }
    for kind in ["SOA", "NS"] {
        if next.find(&next.dns_name, kind).is_none() {
            return Err(invalid(format!(
                "The change is invalid because the zone '{}' must keep a {kind} record set at its apex '{}'.",
                zone.name, zone.dns_name
            )));
        }
    }
    next.rrsets
        .sort_by(|a, b| (&a.name, &a.kind).cmp(&(&b.name, &b.kind)));
    zone.rrsets = next.rrsets;
    Ok(())
}

fn record_change(zone: &mut Zone, additions: Vec<RecordSet>, deletions: Vec<RecordSet>) -> Value {
    let id = zone.changes.last().map_or(0, |c| c.id + 1);
    let change = Change {
        id,
        start_ms: now_ms(),
        additions,
        deletions,
    };
    let body = change.render();
    zone.changes.push(change);
    body
}

pub(super) async fn list_rrsets(
    State(cloud): State<Arc<Cloud>>,
    Path((project, zone)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let query = Query::parse(raw.as_deref());
    let mut held = cloud.store.settled();
    let z = zone_mut(&mut held.world, &project, &zone)?;
    if query.get("type").is_some() && query.get("name").is_none() {
        return Err(invalid(
            "Invalid value for 'parameters.type': a type filter needs a name filter",
        ));
    }
    let items: Vec<Value> = z
        .rrsets
        .iter()
        .filter(|r| query.get("name").is_none_or(|n| n == r.name))
        .filter(|r| query.get("type").is_none_or(|t| t == r.kind))
        .map(RecordSet::render)
        .collect();
    let body = json!({"kind": "dns#resourceRecordSetsListResponse"});
    Ok(ok(with_items(body, "rrsets", items)))
}

pub(super) async fn get_rrset(
    State(cloud): State<Arc<Cloud>>,
    Path(at): Path<RrsetPath>,
) -> ApiResult {
    let mut held = cloud.store.settled();
    let (z, index) = locate(&mut held.world, &at)?;
    Ok(ok(z.rrsets[index].render()))
}

pub(super) async fn create_rrset(
    State(cloud): State<Arc<Cloud>>,
    Path((project, zone)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let body = parse_body(&body).map_err(ApiError::dns)?;
    let mut held = cloud.store.settled();
    let z = zone_mut(&mut held.world, &project, &zone)?;
    let rrset = parse_rrset(&Value::Object(body), "entity.rrset", z)?;
    if z.find(&rrset.name, &rrset.kind).is_some() {
        return Err(ApiError::new(
            409,
            "alreadyExists",
            format!(
                "The resource 'entity.rrset' named '{}' already exists",
                rrset.label()
            ),
        )
        .dns());
    }
    apply_change(z, &[], std::slice::from_ref(&rrset), "entity.change")?;
    record_change(z, vec![rrset.clone()], vec![]);
    Ok(ok(rrset.render()))
}

pub(super) async fn patch_rrset(
    State(cloud): State<Arc<Cloud>>,
    Path(at): Path<RrsetPath>,
    body: Bytes,
) -> ApiResult {
    let mut body = parse_body(&body).map_err(ApiError::dns)?;
    let mut held = cloud.store.settled();
    let (z, index) = locate(&mut held.world, &at)?;
    let old = z.rrsets[index].clone();
    // The path names the record set; a body may leave out name, type, ttl or rrdatas.
    body.entry("name").or_insert_with(|| json!(old.name));
    body.entry("type").or_insert_with(|| json!(old.kind));
    body.entry("ttl").or_insert_with(|| json!(old.ttl));
    body.entry("rrdatas").or_insert_with(|| json!(old.rrdatas));
    let new = parse_rrset(&Value::Object(body), "entity.rrset", z)?;
    if new.name != old.name || new.kind != old.kind {
        return Err(invalid(
            "Invalid value for 'entity.rrset': the name and type of a record set cannot be changed",
        ));
    }
    apply_change(
        z,
        std::slice::from_ref(&old),
        std::slice::from_ref(&new),
        "entity.change",
    )?;
    record_change(z, vec![new.clone()], vec![old]);
    Ok(ok(new.render()))
}

pub(super) async fn delete_rrset(
    State(cloud): State<Arc<Cloud>>,
    Path(at): Path<RrsetPath>,
) -> ApiResult {
    let mut held = cloud.store.settled();
    let (z, index) = locate(&mut held.world, &at)?;
    let old = z.rrsets[index].clone();
    apply_change(z, std::slice::from_ref(&old), &[], "entity.change")?;
    record_change(z, vec![], vec![old]);
    Ok(ok(json!({})))
}

pub(super) async fn create_change(
    State(cloud): State<Arc<Cloud>>,
    Path((project, zone)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let body = parse_body(&body).map_err(ApiError::dns)?;
    let mut held = cloud.store.settled();
    let z = zone_mut(&mut held.world, &project, &zone)?;
    let list = |field: &str| -> Result<Vec<RecordSet>, ApiError> {
        match body.get(field) {
            None | Some(Value::Null) => Ok(vec![]),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| parse_rrset(v, &format!("entity.change.{field}[{i}]"), z))
                .collect(),
            Some(other) => Err(invalid(format!(
                "Invalid value for 'entity.change.{field}': '{other}'"
            ))),
        }
    };
    let additions = list("additions")?;
    let deletions = list("deletions")?;
    if additions.is_empty() && deletions.is_empty() {
        return Err(ApiError::new(
            400,
            "required",
            "The 'entity.change' resource must contain at least one addition or deletion.",
        )
        .dns());
    }
    apply_change(z, &deletions, &additions, "entity.change")?;
    Ok(ok(record_change(z, additions, deletions)))
}

pub(super) async fn get_change(
    State(cloud): State<Arc<Cloud>>,
    Path((project, zone, id)): Path<(String, String, String)>,
) -> ApiResult {
    let mut held = cloud.store.settled();
    let z = zone_mut(&mut held.world, &project, &zone)?;
    z.changes
        .iter()
        .find(|c| c.id.to_string() == id)
        .map(|c| ok(c.render()))
        .ok_or_else(|| {
            ApiError::new(
                404,
                "notFound",
                format!("change \"projects/{project}/managedZones/{zone}/changes/{id}\" not found"),
            )
            .dns()
        })
}

pub(super) async fn list_changes(
    State(cloud): State<Arc<Cloud>>,
    Path((project, zone)): Path<(String, String)>,
) -> ApiResult {
    let mut held = cloud.store.settled();
    let z = zone_mut(&mut held.world, &project, &zone)?;
    let changes: Vec<Value> = z.changes.iter().map(Change::render).collect();
    Ok(ok(
        json!({"kind": "dns#changesListResponse", "changes": changes}),
    ))
}
