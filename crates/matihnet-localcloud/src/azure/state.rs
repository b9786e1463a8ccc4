//! The emulated objects and the long-running operations that change them. An operation stores
//! only when it ends; every request first settles the operations whose end has passed, so a
//! snapshot is plain data and a restored cloud finishes what was running.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::arm::Kind;
use crate::core::operations::{self, Timed};
use crate::core::public_ip;
use crate::core::store;

/// Where a resource is in its life; only `Succeeded` and `Failed` are terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Provisioning {
    Updating,
    Deleting,
    Succeeded,
    Failed,
}

impl Provisioning {
    pub fn as_str(self) -> &'static str {
        match self {
            Provisioning::Updating => "Updating",
            Provisioning::Deleting => "Deleting",
            Provisioning::Succeeded => "Succeeded",
            Provisioning::Failed => "Failed",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Group {
    pub sub: String,
    pub name: String,
    pub location: String,
    pub tags: Option<Value>,
    pub state: Provisioning,
    pub pending_op: Option<String>,
}

impl Group {
    pub fn id(&self) -> String {
        format!("/subscriptions/{}/resourceGroups/{}", self.sub, self.name)
    }

    pub fn body(&self) -> Value {
        let mut body = json!({
            "id": self.id(),
            "name": self.name,
            "type": "Microsoft.Resources/resourceGroups",
            "location": self.location,
        });
        if let Some(tags) = &self.tags {
            body["tags"] = tags.clone();
        }
        body["properties"] = json!({"provisioningState": self.state.as_str()});
        body
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Resource {
    pub id: String,
    pub kind: Kind,
    /// Key of the resource group.
    pub group: String,
    /// Key of the parent (VNet of a subnet, zone of a record set).
    pub parent: Option<String>,
    /// The body as stored: everything except `etag`, `provisioningState` and the parts computed
    /// from other resources (a VNet's subnets, a zone's record-set count).
    pub body: Value,
    pub etag: String,
    pub state: Provisioning,
    pub pending_op: Option<String>,
    /// Ids of whatever uses a subnet (an explicit marker: matihnet creates no NICs).
    #[serde(default)]
    pub used_by: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Failure {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Operation {
    pub sub: String,
    pub location: String,
    pub api_version: String,
    pub ends_at_ms: u64,
    pub failure: Option<Failure>,
    pub settled: bool,
}

impl Timed for Operation {
    fn ends_at_ms(&self) -> u64 {
        self.ends_at_ms
    }

    fn settled(&self) -> bool {
        self.settled
    }

    fn end_at(&mut self, ms: u64) {
        self.ends_at_ms = ms;
    }
}

pub(crate) enum OpStatus {
    InProgress { remaining_ms: u64 },
    Succeeded,
    Failed(Failure),
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct State {
    pub groups: BTreeMap<String, Group>,
    pub resources: BTreeMap<String, Resource>,
    pub operations: BTreeMap<String, Operation>,
    /// Name-server sets handed out so far: each zone gets its own.
    pub name_server_sets: u32,
}

/// The first DNS api-version whose zones answer `maxNumberOfRecordsPerRecordSet: null`.
const DNS_UNLIMITED_RECORDS_SINCE: &str = "2023-07-01-preview";

/// How long a finished operation stays answerable; the SDK polls it within seconds.
const KEEP_FINISHED_MS: u64 = 3_600_000;

pub(crate) fn key(id: &str) -> String {
    id.to_ascii_lowercase()
}

pub(crate) fn group_key(sub: &str, rg: &str) -> String {
    key(&format!("/subscriptions/{sub}/resourceGroups/{rg}"))
}

pub(crate) fn new_guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl State {
    pub fn status(&self, op_id: &str, now: u64) -> Option<OpStatus> {
        let op = self.operations.get(op_id)?;
        Some(if now < op.ends_at_ms {
            OpStatus::InProgress {
                remaining_ms: op.ends_at_ms - now,
            }
        } else if let Some(failure) = &op.failure {
            OpStatus::Failed(failure.clone())
        } else {
            OpStatus::Succeeded
        })
    }

    /// Ends every running operation now (tests that do not want to wait).
    pub fn finish_all(&mut self, now: u64) {
        operations::end_all_at(&mut self.operations, now);
        store::World::settle(self, now);
    }

    fn apply(&mut self, op_id: &str) {
        let Some(op) = self.operations.get_mut(op_id) else {
            return;
        };
        op.settled = true;
        let failed = op.failure.is_some();
        for k in pending_on(&self.resources, op_id, |r| r.pending_op.as_deref()) {
            let deleting = self.resources.get(&k).map(|r| r.state) == Some(Provisioning::Deleting);
            // A VNet and its subnets share one etag: a change to a subnet changes the VNet's.
            let parent = self
                .resources
                .get(&k)
                .filter(|r| r.kind == Kind::Subnet)
                .and_then(|r| r.parent.clone());
            if let Some(p) = parent.and_then(|p| self.resources.get_mut(&p)) {
                p.etag = new_guid();
            }
            if deleting && !failed {
                self.resources.remove(&k);
                continue;
            }
            let address = self.next_address_if_needed(&k, failed);
            if let Some(r) = self.resources.get_mut(&k) {
                r.pending_op = None;
                r.state = if failed {
                    Provisioning::Failed
                } else {
                    Provisioning::Succeeded
                };
                r.etag = new_guid();
                if let Some(address) = address {
                    r.body["properties"]["ipAddress"] = json!(address);
                }
            }
        }
        for k in pending_on(&self.groups, op_id, |g| g.pending_op.as_deref()) {
            if failed {
                if let Some(g) = self.groups.get_mut(&k) {
                    g.pending_op = None;
                    g.state = Provisioning::Succeeded;
                }
            } else {
                self.groups.remove(&k);
                self.resources.retain(|_, r| r.group != k);
            }
        }
    }

    /// A static public IP gets its address when its provisioning succeeds, and keeps it.
    fn next_address_if_needed(&mut self, k: &str, failed: bool) -> Option<String> {
        let r = self.resources.get(k)?;
        let props = &r.body["properties"];
        let wants = r.kind == Kind::PublicIp
            && !failed
            && props["publicIPAllocationMethod"].as_str() == Some("Static")
            && props.get("ipAddress").is_none();
        if !wants {
            return None;
        }
        // 20.40.0.0 onwards looks like Azure's public addresses.
        let pool = public_ip::Pool {
            first: std::net::Ipv4Addr::new(20, 40, 0, 0),
            size: 200 << 16,
        };
        Some(public_ip::pick(&pool, k, |ip| {
            self.resources
                .values()
                .any(|r| r.body["properties"]["ipAddress"].as_str() == Some(ip))
        }))
    }

    /// True while the resource or anything it shares a lock with (a VNet and its subnets) runs
    /// an operation; ARM answers `AnotherOperationInProgress`.
    pub fn busy_op(&self, k: &str) -> Option<String> {
        let r = self.resources.get(k)?;
        let family = match r.kind {
            Kind::Subnet => r.parent.clone().unwrap_or_else(|| k.to_string()),
            _ => k.to_string(),
        };
        if let Some(op) = self
            .resources
            .get(&family)
            .and_then(|r| r.pending_op.clone())
        {
            return Some(op);
        }
        self.resources
            .values()
            .filter(|c| c.parent.as_deref() == Some(family.as_str()) && c.kind == Kind::Subnet)
            .find_map(|c| c.pending_op.clone())
    }

    pub fn children(&self, parent: &str) -> impl Iterator<Item = (&String, &Resource)> {
        let parent = parent.to_string();
        self.resources
            .iter()
            .filter(move |(_, r)| r.parent.as_deref() == Some(parent.as_str()))
    }

    /// The key and the keys of its children (a VNet's subnets, a zone's record sets): what a
    /// delete takes with it.
    pub fn with_children(&self, k: &str) -> Vec<String> {
        std::iter::once(k.to_string())
            .chain(self.children(k).map(|(ck, _)| ck.clone()))
            .collect()
    }

    /// The etag a resource shows: a subnet shows its VNet's, as real traffic shows.
    fn shown_etag(&self, r: &Resource) -> String {
        r.parent
            .as_ref()
            .filter(|_| r.kind == Kind::Subnet)
            .and_then(|p| self.resources.get(p))
            .map_or_else(|| r.etag.clone(), |p| p.etag.clone())
    }

    /// The resource as GET shows it to a request of `api_version`.
    pub fn render_for(&self, k: &str, api_version: &str) -> Value {
        let Some(r) = self.resources.get(k) else {
            return Value::Null;
        };
        let mut body = r.body.clone();
        let obj = match body.as_object_mut() {
            Some(obj) => obj,
            None => return body,
        };
        let etag = self.shown_etag(r);
        match r.kind {
            Kind::DnsZone | Kind::RecordSet => {
                // DNS etags are plain GUIDs, not weak validators.
                insert_after(obj, "name", "etag", json!(etag));
            }
            _ => {
                insert_after(obj, "id", "etag", json!(format!("W/\"{etag}\"")));
            }
        }
        let props = obj
            .entry("properties")
            .or_insert_with(|| json!({}))
            .as_object_mut();
        let Some(props) = props else {
            return body;
        };
        match r.kind {
            Kind::DnsZone => {
                let count = self.children(k).count();
                props.insert("numberOfRecordSets".into(), json!(count));
                // The per-record-set limit is a zone field of 2018-05-01; newer api-versions
                // answer null there, as the recordings show.
                let per_set = if api_version >= DNS_UNLIMITED_RECORDS_SINCE {
                    Value::Null
                } else {
                    json!(20)
                };
                props.insert("maxNumberOfRecordsPerRecordSet".into(), per_set);
            }
            Kind::RecordSet => {
                props.entry("targetResource").or_insert_with(|| json!({}));
                props.insert("provisioningState".into(), json!("Succeeded"));
            }
            Kind::VirtualNetwork => {
                props.insert("provisioningState".into(), json!(r.state.as_str()));
                let subnets: Vec<Value> = self
                    .children(k)
                    .map(|(ck, _)| self.render_for(ck, api_version))
                    .collect();
                props.insert("subnets".into(), Value::Array(subnets));
            }
            Kind::Subnet => {
                props.insert("provisioningState".into(), json!(r.state.as_str()));
                render_subnet_children(props, &r.id, &etag, r.state);
                if !r.used_by.is_empty() {
                    let users: Vec<Value> = r.used_by.iter().map(|u| json!({"id": u})).collect();
                    props.insert("ipConfigurations".into(), Value::Array(users));
                }
            }
            Kind::PublicIp => {
                props.insert("provisioningState".into(), json!(r.state.as_str()));
            }
        }
        body
    }
}

impl store::World for State {
    /// Applies every operation that has ended by `now`, oldest end first, and forgets finished
    /// operations nobody will poll any more.
    fn settle(&mut self, now: u64) {
        for op_id in operations::due(&self.operations, now) {
            self.apply(&op_id);
        }
        self.operations
            .retain(|_, op| !op.settled || op.ends_at_ms + KEEP_FINISHED_MS > now);
    }
}

/// The keys of the objects (resources or groups) that operation `op_id` changes.
fn pending_on<T>(
    objects: &BTreeMap<String, T>,
    op_id: &str,
    pending_op: impl Fn(&T) -> Option<&str>,
) -> Vec<String> {
    objects
        .iter()
        .filter(|(_, o)| pending_op(o) == Some(op_id))
        .map(|(k, _)| k.clone())
        .collect()
}

/// What the network RP shows of a subnet's delegations and service endpoints besides what was
/// written: a delegation's id, etag and type, and the provisioning state of both.
fn render_subnet_children(
    props: &mut serde_json::Map<String, Value>,
    subnet_id: &str,
    etag: &str,
    state: Provisioning,
) {
    if let Some(delegations) = props.get_mut("delegations").and_then(Value::as_array_mut) {
        // A delegation is in place as soon as it is accepted, even while the subnet updates.
        let shown = if state == Provisioning::Failed {
            "Failed"
        } else {
            "Succeeded"
        };
        for d in delegations.iter_mut() {
            let name = d["name"].as_str().unwrap_or_default().to_string();
            if let Some(obj) = d.as_object_mut() {
                obj.insert(
                    "id".into(),
                    json!(format!("{subnet_id}/delegations/{name}")),
                );
                obj.insert("etag".into(), json!(format!("W/\"{etag}\"")));
                obj.insert(
                    "type".into(),
                    json!("Microsoft.Network/virtualNetworks/subnets/delegations"),
                );
                if let Some(p) = obj.get_mut("properties").and_then(Value::as_object_mut) {
                    p.insert("provisioningState".into(), json!(shown));
                }
            }
        }
    }
    if let Some(endpoints) = props
        .get_mut("serviceEndpoints")
        .and_then(Value::as_array_mut)
    {
        for e in endpoints.iter_mut().filter_map(Value::as_object_mut) {
            e.insert("provisioningState".into(), json!(state.as_str()));
        }
    }
}

/// Keeps ARM's field order (name, id, etag, ...) so bodies read like real ones.
fn insert_after(obj: &mut serde_json::Map<String, Value>, after: &str, key: &str, value: Value) {
    let mut out = serde_json::Map::new();
    let mut placed = false;
    for (k, v) in std::mem::take(obj) {
        let here = k == after;
        out.insert(k, v);
        if here {
            out.insert(key.to_string(), value.clone());
            placed = true;
        }
    }
    if !placed {
        out.insert(key.to_string(), value);
    }
    *obj = out;
}
