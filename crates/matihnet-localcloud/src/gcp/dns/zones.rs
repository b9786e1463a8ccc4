//! Cloud DNS managed zones: create (with the apex SOA and NS, and a name-server set of its
//! own), get, list (optionally by `dnsName`), patch (answered with a `dns#operation`), and
//! delete (refused while records other than the apex SOA and NS remain).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::records::{Change, RecordSet};
use super::{invalid, required, string, zone_key, zone_mut, USER};
use crate::core::clock::{self, now_ms};
use crate::core::http::Query;
use crate::gcp::fields::{self, LabelError};
use crate::gcp::wire::{ok, parse_body, with_items, ApiError, ApiResult};
use crate::gcp::{api_fields, echo, Cloud};

const SOA_TTL: u64 = 21_600;
const ENTITY: &str = "entity.managedZone";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Zone {
    project: String,
    pub(super) name: String,
    id: u64,
    pub(super) dns_name: String,
    description: String,
    visibility: String,
    labels: BTreeMap<String, String>,
    created_ms: u64,
    name_servers: Vec<String>,
    private_visibility_config: Option<Value>,
    pub(super) rrsets: Vec<RecordSet>,
    pub(super) changes: Vec<Change>,
    /// Documented fields the record does not model (DNSSEC, forwarding, peering, logging...),
    /// as sent.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    echoed: Map<String, Value>,
}

/// The request fields [`Zone`] reads itself; every other documented one is echoed.
const MODELLED: [&str; 6] = [
    "name",
    "dnsName",
    "description",
    "visibility",
    "labels",
    "privateVisibilityConfig",
];

impl Zone {
    fn render(&self) -> Value {
        // GCP answers the logging config with its kind added to what was sent.
        let mut logging = self
            .echoed
            .get("cloudLoggingConfig")
            .cloned()
            .unwrap_or_else(|| json!({}));
        if let Some(obj) = logging.as_object_mut() {
            obj.insert("kind".into(), json!("dns#managedZoneCloudLoggingConfig"));
        }
        let mut v = json!({
            "cloudLoggingConfig": logging,
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
        echo::render_into(&mut v, &self.echoed);
        v
    }

    /// Where the record set of that name and type is, if the zone has one.
    pub(super) fn find(&self, name: &str, kind: &str) -> Option<usize> {
        self.rrsets
            .iter()
            .position(|r| r.name == name && r.kind == kind)
    }

    fn is_apex_record(&self, r: &RecordSet) -> bool {
        r.name == self.dns_name && (r.kind == "SOA" || r.kind == "NS")
    }
}

fn labels(body: &Map<String, Value>) -> Result<BTreeMap<String, String>, ApiError> {
    fields::labels(body).map_err(|e| match e {
        LabelError::NotStrings(e) => invalid(format!("Invalid value for '{ENTITY}.labels': {e}")),
        LabelError::Invalid { key, value } => invalid(format!(
            "Invalid value for '{ENTITY}.labels': '{key}={value}'"
        )),
    })
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

pub(super) async fn create(
    State(cloud): State<Arc<Cloud>>,
    Path(project): Path<String>,
    body: Bytes,
) -> ApiResult {
    let body = parse_body(&body).map_err(ApiError::dns)?;
    let name = string(&body, "name", ENTITY)?.ok_or_else(|| required("entity.managedZone.name"))?;
    if !fields::is_resource_name(&name) {
        return Err(invalid(format!(
            "Invalid value for 'entity.managedZone.name': '{name}'"
        )));
    }
    let dns_name =
        string(&body, "dnsName", ENTITY)?.ok_or_else(|| required("entity.managedZone.dnsName"))?;
    if !dns_name.ends_with('.') || dns_name.len() < 2 || dns_name.contains("..") {
        return Err(invalid(format!(
            "Invalid value for 'entity.managedZone.dnsName': '{dns_name}'"
        )));
    }
    let visibility = string(&body, "visibility", ENTITY)?.unwrap_or_else(|| "public".into());
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
    let mut held = cloud.store.settled();
    let key = zone_key(&project, &name);
    if held.world.zones.contains_key(&key) {
        return Err(ApiError::new(
            409,
            "alreadyExists",
            format!("The resource 'entity.managedZone' named '{name}' already exists"),
        )
        .dns());
    }
    let servers = name_servers(held.world.zones_created);
    held.world.zones_created += 1;
    let now = now_ms();
    let primary = servers.first().cloned().unwrap_or_default();
    let soa = RecordSet {
        name: dns_name.clone(),
        kind: "SOA".into(),
        ttl: SOA_TTL,
        rrdatas: vec![format!(
            "{primary} cloud-dns-hostmaster.google.com. 1 21600 3600 259200 300"
        )],
        routing_policy: None,
    };
    let ns = RecordSet {
        name: dns_name.clone(),
        kind: "NS".into(),
        ttl: SOA_TTL,
        rrdatas: servers.clone(),
        routing_policy: None,
    };
    let id = held.world.new_id();
    let zone = Zone {
        project: project.clone(),
        name,
        id,
        dns_name,
        description: string(&body, "description", ENTITY)?.unwrap_or_default(),
        visibility,
        labels,
        created_ms: now,
        name_servers: servers,
        private_visibility_config,
        echoed: echo::unmodelled(&api_fields::MANAGED_ZONE, &body, &MODELLED),
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
    held.world.zones.insert(key, zone);
    Ok(ok(body))
}

pub(super) async fn get(
    State(cloud): State<Arc<Cloud>>,
    Path((project, zone)): Path<(String, String)>,
) -> ApiResult {
    let mut held = cloud.store.settled();
    Ok(ok(zone_mut(&mut held.world, &project, &zone)?.render()))
}

pub(super) async fn list(
    State(cloud): State<Arc<Cloud>>,
    Path(project): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let query = Query::parse(raw.as_deref());
    let held = cloud.store.settled();
    let zones: Vec<Value> = held
        .world
        .zones
        .values()
        .filter(|z| z.project == project)
        .filter(|z| query.get("dnsName").is_none_or(|d| d == z.dns_name))
        .map(Zone::render)
        .collect();
    let body = json!({"kind": "dns#managedZonesListResponse"});
    Ok(ok(with_items(body, "managedZones", zones)))
}

pub(super) async fn patch(
    State(cloud): State<Arc<Cloud>>,
    Path((project, zone)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let body = parse_body(&body).map_err(ApiError::dns)?;
    let mut held = cloud.store.settled();
    let op_id = held.world.new_id();
    let z = zone_mut(&mut held.world, &project, &zone)?;
    let old = z.render();
    if let Some(n) = string(&body, "name", ENTITY)?.filter(|n| *n != z.name) {
        return Err(invalid(format!(
            "Invalid value for 'entity.managedZone.name': '{n}'"
        )));
    }
    if let Some(d) = string(&body, "dnsName", ENTITY)?.filter(|d| *d != z.dns_name) {
        return Err(invalid(format!(
            "Invalid value for 'entity.managedZone.dnsName': '{d}'. The DNS name of a zone cannot be changed."
        )));
    }
    if let Some(v) = string(&body, "visibility", ENTITY)?.filter(|v| *v != z.visibility) {
        return Err(invalid(format!(
            "Invalid value for 'entity.managedZone.visibility': '{v}'. The visibility of a zone cannot be changed."
        )));
    }
    let new_labels = if body.contains_key("labels") {
        Some(labels(&body)?)
    } else {
        None
    };
    if let Some(d) = string(&body, "description", ENTITY)? {
        z.description = d;
    }
    if let Some(l) = new_labels {
        z.labels = l;
    }
    echo::patch(&mut z.echoed, &api_fields::MANAGED_ZONE, &body, &MODELLED);
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

pub(super) async fn delete(
    State(cloud): State<Arc<Cloud>>,
    Path((project, zone)): Path<(String, String)>,
) -> ApiResult {
    let mut held = cloud.store.settled();
    let z = zone_mut(&mut held.world, &project, &zone)?;
    if z.rrsets.iter().any(|r| !z.is_apex_record(r)) {
        return Err(ApiError::new(
            400,
            "containerNotEmpty",
            format!("The resource named '{zone}' cannot be deleted because it is not empty"),
        )
        .dns());
    }
    held.world.zones.remove(&zone_key(&project, &zone));
    Ok(ok(json!({})))
}
