//! Cloud DNS: managed zones, resource record sets and changes. Synchronous, as in GCP: a change
//! is `done` in the response that creates it.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::clock::{self, now_ms};
use super::error::{ok, parse_body, ApiError, ApiResult};
use super::{Cloud, Query, World};

const USER: &str = "user@example.com";
const SOA_TTL: u64 = 21_600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSet {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    ttl: u64,
    rrdatas: Vec<String>,
}

impl RecordSet {
    fn render(&self) -> Value {
        json!({
            "kind": "dns#resourceRecordSet",
            "name": self.name,
            "rrdatas": self.rrdatas,
            "ttl": self.ttl,
            "type": self.kind,
        })
    }

    fn label(&self) -> String {
        format!("{} ({})", self.name, self.kind)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    id: u64,
    start_ms: u64,
    additions: Vec<RecordSet>,
    deletions: Vec<RecordSet>,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Zone {
    project: String,
    name: String,
    id: u64,
    dns_name: String,
    description: String,
    visibility: String,
    labels: BTreeMap<String, String>,
    created_ms: u64,
    name_servers: Vec<String>,
    private_visibility_config: Option<Value>,
    rrsets: Vec<RecordSet>,
    changes: Vec<Change>,
}

impl Zone {
    fn render(&self) -> Value {
        let mut v = json!({
            "cloudLoggingConfig": {"kind": "dns#managedZoneCloudLoggingConfig"},
            "creationTime": clock::rfc3339(self.created_ms),
            "description": self.description,
            "dnsName": self.dns_name,
            "id": self.id.to_string(),
            "kind": "dns#managedZone",
            "name": self.name,
            "nameServers": self.name_servers,
            "visibility": self.visibility,
        });
        if let Some(obj) = v.as_object_mut() {
            if !self.labels.is_empty() {
                obj.insert("labels".into(), json!(self.labels));
            }
            if let Some(p) = &self.private_visibility_config {
                obj.insert("privateVisibilityConfig".into(), p.clone());
            }
        }
        v
    }

    fn find(&self, name: &str, kind: &str) -> Option<usize> {
        self.rrsets
            .iter()
            .position(|r| r.name == name && r.kind == kind)
    }

    fn is_apex_record(&self, r: &RecordSet) -> bool {
        r.name == self.dns_name && (r.kind == "SOA" || r.kind == "NS")
    }

    fn sort(&mut self) {
        self.rrsets
            .sort_by(|a, b| (&a.name, &a.kind).cmp(&(&b.name, &b.kind)));
    }
}

fn zone_key(project: &str, name: &str) -> String {
    format!("{project}/{name}")
}

fn zone_not_found(project: &str, zone: &str) -> ApiError {
    ApiError::new(
        404,
        "notFound",
        format!("managedZone \"projects/{project}/managedZones/{zone}\" not found"),
    )
    .dns()
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::invalid(message).dns()
}

pub fn routes(version: &str) -> Router<Arc<Cloud>> {
    let z = format!("/dns/{version}/projects/{{project}}/managedZones");
    Router::new()
        .route(&z, get(list_zones).post(create_zone))
        .route(
            &format!("{z}/{{zone}}"),
            get(get_zone)
                .patch(patch_zone)
                .put(patch_zone)
                .delete(delete_zone),
        )
        .route(
            &format!("{z}/{{zone}}/rrsets"),
            get(list_rrsets).post(create_rrset),
        )
        .route(
            &format!("{z}/{{zone}}/rrsets/{{name}}/{{kind}}"),
            get(get_rrset).patch(patch_rrset).delete(delete_rrset),
        )
        .route(
            &format!("{z}/{{zone}}/changes"),
            get(list_changes).post(create_change),
        )
        .route(&format!("{z}/{{zone}}/changes/{{id}}"), get(get_change))
}

fn labels(body: &Map<String, Value>) -> Result<BTreeMap<String, String>, ApiError> {
    let Some(value) = body.get("labels").filter(|v| !v.is_null()) else {
        return Ok(BTreeMap::new());
    };
    let labels: BTreeMap<String, String> = serde_json::from_value(value.clone()).map_err(|e| {
        invalid(format!(
            "Invalid value for 'entity.managedZone.labels': {e}"
        ))
    })?;
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    for (k, v) in &labels {
        let key_ok = (1..=63).contains(&k.len())
            && k.starts_with(|c: char| c.is_ascii_lowercase())
            && k.chars().all(ok_char);
        if !key_ok || v.len() > 63 || !v.chars().all(ok_char) {
            return Err(invalid(format!(
                "Invalid value for 'entity.managedZone.labels': '{k}={v}'"
            )));
        }
    }
    Ok(labels)
}

fn string(
    body: &Map<String, Value>,
    field: &str,
    entity: &str,
) -> Result<Option<String>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(invalid(format!(
            "Invalid value for '{entity}.{field}': '{other}'"
        ))),
    }
}

/// Each zone gets its own name-server set, as Cloud DNS spreads zones over `ns-cloud-a..`
/// shards; beyond 26 zones a numeric suffix keeps the sets distinct.
fn name_servers(index: u64) -> Vec<String> {
    let letter = char::from(b'a' + u8::try_from(index % 26).unwrap_or(0));
    let round = index / 26;
    (1..=4)
        .map(|i| {
            if round == 0 {
                format!("ns-cloud-{letter}{i}.googledomains.com.")
            } else {
                format!("ns-cloud-{letter}{i}-{round}.googledomains.com.")
            }
        })
        .collect()
}

fn settled_world(cloud: &Cloud) -> std::sync::MutexGuard<'_, super::Inner> {
    let mut inner = cloud.lock();
    super::compute::settle(&mut inner.world, now_ms());
    inner
}

fn zone_mut<'w>(world: &'w mut World, project: &str, zone: &str) -> Result<&'w mut Zone, ApiError> {
    world
        .zones
        .get_mut(&zone_key(project, zone))
        .ok_or_else(|| zone_not_found(project, zone))
}

// ---------------------------------------------------------------- managed zones

async fn create_zone(
    State(cloud): State<Arc<Cloud>>,
    Path(project): Path<String>,
    body: Bytes,
) -> ApiResult {
    let body = parse_body(&body).map_err(ApiError::dns)?;
    let entity = "entity.managedZone";
    let name = string(&body, "name", entity)?.ok_or_else(|| {
        ApiError::new(
            400,
            "required",
            "Required field 'entity.managedZone.name' not specified",
        )
        .dns()
    })?;
    let name_ok = (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !name_ok {
        return Err(invalid(format!(
            "Invalid value for 'entity.managedZone.name': '{name}'"
        )));
    }
    let dns_name = string(&body, "dnsName", entity)?.ok_or_else(|| {
        ApiError::new(
            400,
            "required",
            "Required field 'entity.managedZone.dnsName' not specified",
        )
        .dns()
    })?;
    if !dns_name.ends_with('.') || dns_name.len() < 2 || dns_name.contains("..") {
        return Err(invalid(format!(
            "Invalid value for 'entity.managedZone.dnsName': '{dns_name}'"
        )));
    }
    let visibility = string(&body, "visibility", entity)?.unwrap_or_else(|| "public".into());
    if visibility != "public" && visibility != "private" {
        return Err(invalid(format!(
            "Invalid value for 'entity.managedZone.visibility': '{visibility}'"
        )));
    }
    let labels = labels(&body)?;
    // GCP echoes the private visibility config without its empty lists (see the recordings).
    let private_visibility_config = body
        .get("privateVisibilityConfig")
        .and_then(Value::as_object)
        .map(|o| {
            let kept: Map<String, Value> = o
                .iter()
                .filter(|(_, v)| !matches!(v, Value::Array(a) if a.is_empty()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Value::Object(kept)
        });
    let mut inner = settled_world(&cloud);
    let key = zone_key(&project, &name);
    if inner.world.zones.contains_key(&key) {
        return Err(ApiError::new(
            409,
            "alreadyExists",
            format!("The resource 'entity.managedZone' named '{name}' already exists"),
        )
        .dns());
    }
    let servers = name_servers(inner.world.zones_created);
    inner.world.zones_created += 1;
    let now = now_ms();
    let soa = RecordSet {
        name: dns_name.clone(),
        kind: "SOA".into(),
        ttl: SOA_TTL,
        rrdatas: vec![format!(
            "{} cloud-dns-hostmaster.google.com. 1 21600 3600 259200 300",
            servers[0]
        )],
    };
    let ns = RecordSet {
        name: dns_name.clone(),
        kind: "NS".into(),
        ttl: SOA_TTL,
        rrdatas: servers.clone(),
    };
    let id = inner.world.new_id();
    let zone = Zone {
        project: project.clone(),
        name,
        id,
        dns_name,
        description: string(&body, "description", entity)?.unwrap_or_default(),
        visibility,
        labels,
        created_ms: now,
        name_servers: servers,
        private_visibility_config,
        rrsets: vec![ns.clone(), soa.clone()],
        // Cloud DNS records the zone's creation as change 0.
        changes: vec![Change {
            id: 0,
            start_ms: now,
            additions: vec![ns, soa],
            deletions: vec![],
        }],
    };
    let body = zone.render();
    inner.world.zones.insert(key, zone);
    Ok(ok(body))
}

async fn get_zone(
    State(cloud): State<Arc<Cloud>>,
    Path((project, zone)): Path<(String, String)>,
) -> ApiResult {
    let mut inner = settled_world(&cloud);
    Ok(ok(zone_mut(&mut inner.world, &project, &zone)?.render()))
}

async fn list_zones(
    State(cloud): State<Arc<Cloud>>,
    Path(project): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let query = Query::parse(raw.as_deref());
    let inner = settled_world(&cloud);
    let zones: Vec<Value> = inner
        .world
        .zones
        .values()
        .filter(|z| z.project == project)
        .filter(|z| query.get("dnsName").is_none_or(|d| d == z.dns_name))
        .map(Zone::render)
        .collect();
    let mut body = json!({"kind": "dns#managedZonesListResponse"});
    if let (false, Some(obj)) = (zones.is_empty(), body.as_object_mut()) {
        obj.insert("managedZones".into(), json!(zones));
    }
    Ok(ok(body))
}

async fn patch_zone(
    State(cloud): State<Arc<Cloud>>,
    Path((project, zone)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let body = parse_body(&body).map_err(ApiError::dns)?;
    let entity = "entity.managedZone";
    let mut inner = settled_world(&cloud);
    let op_id = inner.world.new_id();
    let z = zone_mut(&mut inner.world, &project, &zone)?;
    let old = z.render();
    if let Some(n) = string(&body, "name", entity)?.filter(|n| *n != z.name) {
        return Err(invalid(format!(
            "Invalid value for 'entity.managedZone.name': '{n}'"
        )));
    }
    if let Some(d) = string(&body, "dnsName", entity)?.filter(|d| *d != z.dns_name) {
        return Err(invalid(format!(
            "Invalid value for 'entity.managedZone.dnsName': '{d}'. The DNS name of a zone cannot be changed."
        )));
    }
    if let Some(v) = string(&body, "visibility", entity)?.filter(|v| *v != z.visibility) {
        return Err(invalid(format!(
            "Invalid value for 'entity.managedZone.visibility': '{v}'. The visibility of a zone cannot be changed."
        )));
    }
    let new_labels = if body.contains_key("labels") {
        Some(labels(&body)?)
    } else {
        None
    };
    if let Some(d) = string(&body, "description", entity)? {
        z.description = d;
    }
    if let Some(l) = new_labels {
        z.labels = l;
    }
    let new = z.render();
    Ok(ok(json!({
        "id": op_id.to_string(),
        "kind": "dns#operation",
        "startTime": clock::rfc3339(now_ms()),
        "status": "done",
        "type": "UPDATE",
        "user": USER,
        "zoneContext": {"newValue": new, "oldValue": old},
    })))
}

async fn delete_zone(
    State(cloud): State<Arc<Cloud>>,
    Path((project, zone)): Path<(String, String)>,
) -> ApiResult {
    let mut inner = settled_world(&cloud);
    let z = zone_mut(&mut inner.world, &project, &zone)?;
    if z.rrsets.iter().any(|r| !z.is_apex_record(r)) {
        return Err(ApiError::new(
            400,
            "containerNotEmpty",
            format!("The resource named '{zone}' cannot be deleted because it is not empty"),
        )
        .dns());
    }
    inner.world.zones.remove(&zone_key(&project, &zone));
    Ok(ok(json!({})))
}

// ---------------------------------------------------------------- record sets

/// Parses and validates one record set of a request, `entity` naming it in error messages
/// (`entity.change.additions[0]`, `entity.rrset`).
fn parse_rrset(value: &Value, entity: &str, zone: &Zone) -> Result<RecordSet, ApiError> {
    let obj = value
        .as_object()
        .ok_or_else(|| invalid(format!("Invalid value for '{entity}'")))?;
    let name = string(obj, "name", entity)?.ok_or_else(|| {
        ApiError::new(
            400,
            "required",
            format!("Required field '{entity}.name' not specified"),
        )
        .dns()
    })?;
    let kind = string(obj, "type", entity)?.ok_or_else(|| {
        ApiError::new(
            400,
            "required",
            format!("Required field '{entity}.type' not specified"),
        )
        .dns()
    })?;
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
    if rrdatas.is_empty() {
        return Err(ApiError::new(
            400,
            "required",
            format!("Required field '{entity}.rrdata' not specified"),
        )
        .dns());
    }
    for (i, data) in rrdatas.iter().enumerate() {
        let valid = match kind.as_str() {
            "A" => data.parse::<std::net::Ipv4Addr>().is_ok(),
            "AAAA" => data.parse::<std::net::Ipv6Addr>().is_ok(),
            "NS" | "CNAME" | "PTR" => data.ends_with('.'),
            _ => !data.is_empty(),
        };
        if !valid {
            return Err(invalid(format!(
                "Invalid value for '{entity}.rrdata[{i}]': '{data}'"
            )));
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
    })
}

fn same_records(a: &RecordSet, b: &RecordSet) -> bool {
    let mut x = a.rrdatas.clone();
    let mut y = b.rrdatas.clone();
    x.sort();
    y.sort();
    a.ttl == b.ttl && x == y
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
    next.sort();
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

async fn list_rrsets(
    State(cloud): State<Arc<Cloud>>,
    Path((project, zone)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let query = Query::parse(raw.as_deref());
    let mut inner = settled_world(&cloud);
    let z = zone_mut(&mut inner.world, &project, &zone)?;
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
    let mut body = json!({"kind": "dns#resourceRecordSetsListResponse"});
    // An empty answer has no `rrsets` at all (recorded).
    if let (false, Some(obj)) = (items.is_empty(), body.as_object_mut()) {
        obj.insert("rrsets".into(), json!(items));
    }
    Ok(ok(body))
}

fn rrset_not_found(project: &str, zone: &str, name: &str, kind: &str) -> ApiError {
    ApiError::new(
        404,
        "notFound",
        format!("resourceRecordSet \"projects/{project}/managedZones/{zone}/rrsets/{name}/{kind}\" not found"),
    )
    .dns()
}

async fn get_rrset(
    State(cloud): State<Arc<Cloud>>,
    Path((project, zone, name, kind)): Path<(String, String, String, String)>,
) -> ApiResult {
    let mut inner = settled_world(&cloud);
    let z = zone_mut(&mut inner.world, &project, &zone)?;
    let at = z
        .find(&name, &kind)
        .ok_or_else(|| rrset_not_found(&project, &zone, &name, &kind))?;
    Ok(ok(z.rrsets[at].render()))
}

async fn create_rrset(
    State(cloud): State<Arc<Cloud>>,
    Path((project, zone)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let body = parse_body(&body).map_err(ApiError::dns)?;
    let mut inner = settled_world(&cloud);
    let z = zone_mut(&mut inner.world, &project, &zone)?;
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

async fn patch_rrset(
    State(cloud): State<Arc<Cloud>>,
    Path((project, zone, name, kind)): Path<(String, String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let mut body = parse_body(&body).map_err(ApiError::dns)?;
    let mut inner = settled_world(&cloud);
    let z = zone_mut(&mut inner.world, &project, &zone)?;
    let at = z
        .find(&name, &kind)
        .ok_or_else(|| rrset_not_found(&project, &zone, &name, &kind))?;
    let old = z.rrsets[at].clone();
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

async fn delete_rrset(
    State(cloud): State<Arc<Cloud>>,
    Path((project, zone, name, kind)): Path<(String, String, String, String)>,
) -> ApiResult {
    let mut inner = settled_world(&cloud);
    let z = zone_mut(&mut inner.world, &project, &zone)?;
    let at = z
        .find(&name, &kind)
        .ok_or_else(|| rrset_not_found(&project, &zone, &name, &kind))?;
    let old = z.rrsets[at].clone();
    apply_change(z, std::slice::from_ref(&old), &[], "entity.change")?;
    record_change(z, vec![], vec![old]);
    Ok(ok(json!({})))
}

// ---------------------------------------------------------------- changes

async fn create_change(
    State(cloud): State<Arc<Cloud>>,
    Path((project, zone)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let body = parse_body(&body).map_err(ApiError::dns)?;
    let mut inner = settled_world(&cloud);
    let z = zone_mut(&mut inner.world, &project, &zone)?;
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

async fn get_change(
    State(cloud): State<Arc<Cloud>>,
    Path((project, zone, id)): Path<(String, String, String)>,
) -> ApiResult {
    let mut inner = settled_world(&cloud);
    let z = zone_mut(&mut inner.world, &project, &zone)?;
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

async fn list_changes(
    State(cloud): State<Arc<Cloud>>,
    Path((project, zone)): Path<(String, String)>,
) -> ApiResult {
    let mut inner = settled_world(&cloud);
    let z = zone_mut(&mut inner.world, &project, &zone)?;
    let changes: Vec<Value> = z.changes.iter().map(Change::render).collect();
    Ok(ok(
        json!({"kind": "dns#changesListResponse", "changes": changes}),
    ))
}
