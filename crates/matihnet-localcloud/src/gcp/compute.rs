//! Compute Engine networking: global networks, regional subnetworks and addresses, and the
//! global/regional operations their writes return.
//!
//! Requests are validated synchronously (400/404/409/412 like GCP); the accepted write is kept
//! in its operation as an [`Effect`] and applied when the operation's delay has passed, so a
//! resource appears, changes or disappears exactly when its operation reads `DONE`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::cidr::{self, Cidr};
use super::clock::{self, now_ms};
use super::error::{ok, parse_body, ApiError, ApiResult};
use super::filter::Filter;
use super::{Cloud, Inner, Query, World};

/// The host GCP puts in every URL it returns; the emulator returns the same so that URLs stored
/// by a client compare equal whether they came from GCP or from here.
const API: &str = "https://www.googleapis.com/compute/v1";
const USER: &str = "user@example.com";
/// `/wait` returns after at most this long even if the operation is still running, as GCP does.
const MAX_WAIT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Network {
    project: String,
    name: String,
    id: u64,
    created_ms: u64,
    description: Option<String>,
    auto_create_subnetworks: bool,
    routing_mode: String,
    mtu: Option<Value>,
    firewall_policy_enforcement_order: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecondaryRange {
    range_name: String,
    ip_cidr_range: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subnetwork {
    project: String,
    region: String,
    name: String,
    id: u64,
    created_ms: u64,
    network_project: String,
    network: String,
    ip_cidr_range: String,
    secondary_ip_ranges: Vec<SecondaryRange>,
    private_ip_google_access: bool,
    fingerprint: String,
    description: Option<String>,
    log_config: Option<Value>,
    stack_type: String,
    purpose: String,
    private_ipv6_google_access: String,
    /// Echoed, not resolved: internalRanges are not emulated.
    #[serde(default)]
    reserved_internal_range: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    project: String,
    region: String,
    name: String,
    id: u64,
    created_ms: u64,
    address: String,
    address_type: String,
    network_tier: String,
    description: String,
    labels: BTreeMap<String, String>,
    label_fingerprint: String,
    subnetwork: Option<String>,
    purpose: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Resource {
    Network(Network),
    Subnetwork(Subnetwork),
    Address(Address),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    Network,
    Subnetwork,
    Address,
}

/// What an operation does when it finishes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Effect {
    Insert(Resource),
    Update(Resource),
    Delete(Kind, String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationError {
    code: String,
    message: String,
    http_status: u16,
    http_message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    name: String,
    id: u64,
    project: String,
    region: Option<String>,
    operation_type: Option<String>,
    target_link: Option<String>,
    target_id: Option<u64>,
    insert_ms: u64,
    done_ms: u64,
    effect: Option<Effect>,
    settled: bool,
    inject_failure: bool,
    #[serde(default)]
    failure_code: Option<String>,
    /// Recorded GCP returns `setLabels` operations as global ones without a target.
    #[serde(default)]
    bare: bool,
    error: Option<OperationError>,
}

fn network_key(project: &str, name: &str) -> String {
    format!("{project}/{name}")
}

fn regional_key(project: &str, region: &str, name: &str) -> String {
    format!("{project}/{region}/{name}")
}

fn network_path(project: &str, name: &str) -> String {
    format!("projects/{project}/global/networks/{name}")
}

fn subnetwork_path(project: &str, region: &str, name: &str) -> String {
    format!("projects/{project}/regions/{region}/subnetworks/{name}")
}

fn address_path(project: &str, region: &str, name: &str) -> String {
    format!("projects/{project}/regions/{region}/addresses/{name}")
}

fn region_url(project: &str, region: &str) -> String {
    format!("{API}/projects/{project}/regions/{region}")
}

impl Network {
    fn render(&self, world: &World) -> Value {
        let self_link = format!("{API}/{}", network_path(&self.project, &self.name));
        let mut v = json!({
            "autoCreateSubnetworks": self.auto_create_subnetworks,
            "creationTimestamp": clock::rfc3339(self.created_ms),
            "id": self.id.to_string(),
            "kind": "compute#network",
            "name": self.name,
            "networkFirewallPolicyEnforcementOrder": self.firewall_policy_enforcement_order,
            "routingConfig": {
                "bgpBestPathSelectionMode": "LEGACY",
                "routingMode": self.routing_mode,
            },
            "selfLink": self_link,
            "selfLinkWithId": format!("{API}/projects/{}/global/networks/{}", self.project, self.id),
        });
        let obj = v.as_object_mut();
        if let Some(obj) = obj {
            if let Some(d) = &self.description {
                obj.insert("description".into(), json!(d));
            }
            if let Some(mtu) = &self.mtu {
                obj.insert("mtu".into(), mtu.clone());
            }
            let subnets: Vec<String> = world
                .subnetworks
                .values()
                .filter(|s| s.network_project == self.project && s.network == self.name)
                .map(|s| format!("{API}/{}", subnetwork_path(&s.project, &s.region, &s.name)))
                .collect();
            // GCP omits the list while the network has no subnetworks.
            if !subnets.is_empty() {
                obj.insert("subnetworks".into(), json!(subnets));
            }
        }
        v
    }
}

impl Subnetwork {
    fn render(&self) -> Value {
        let gateway = Cidr::parse(&self.ip_cidr_range)
            .map(|c| c.host(1).to_string())
            .unwrap_or_default();
        let mut v = json!({
            "creationTimestamp": clock::rfc3339(self.created_ms),
            "fingerprint": self.fingerprint,
            "gatewayAddress": gateway,
            "id": self.id.to_string(),
            "ipCidrRange": self.ip_cidr_range,
            "kind": "compute#subnetwork",
            "name": self.name,
            "network": format!("{API}/{}", network_path(&self.network_project, &self.network)),
            "privateIpGoogleAccess": self.private_ip_google_access,
            "privateIpv6GoogleAccess": self.private_ipv6_google_access,
            "purpose": self.purpose,
            "region": region_url(&self.project, &self.region),
            "selfLink": format!("{API}/{}", subnetwork_path(&self.project, &self.region, &self.name)),
            "stackType": self.stack_type,
            "state": "READY",
        });
        if let Some(obj) = v.as_object_mut() {
            if let Some(d) = &self.description {
                obj.insert("description".into(), json!(d));
            }
            if let Some(l) = &self.log_config {
                obj.insert("logConfig".into(), l.clone());
            }
            if !self.secondary_ip_ranges.is_empty() {
                obj.insert("secondaryIpRanges".into(), json!(self.secondary_ip_ranges));
            }
            if let Some(r) = &self.reserved_internal_range {
                obj.insert("reservedInternalRange".into(), json!(r));
            }
        }
        v
    }

    fn key(&self) -> String {
        regional_key(&self.project, &self.region, &self.name)
    }
}

impl Address {
    fn render(&self) -> Value {
        let mut v = json!({
            "address": self.address,
            "addressType": self.address_type,
            "creationTimestamp": clock::rfc3339(self.created_ms),
            "description": self.description,
            "id": self.id.to_string(),
            "kind": "compute#address",
            "labelFingerprint": self.label_fingerprint,
            "name": self.name,
            "region": region_url(&self.project, &self.region),
            "selfLink": format!("{API}/{}", address_path(&self.project, &self.region, &self.name)),
            "status": "RESERVED",
        });
        if let Some(obj) = v.as_object_mut() {
            if self.address_type == "EXTERNAL" {
                obj.insert("networkTier".into(), json!(self.network_tier));
            }
            if !self.labels.is_empty() {
                obj.insert("labels".into(), json!(self.labels));
            }
            if let Some(s) = &self.subnetwork {
                obj.insert("subnetwork".into(), json!(s));
            }
            if let Some(p) = &self.purpose {
                obj.insert("purpose".into(), json!(p));
            }
        }
        v
    }
}

impl Operation {
    /// Status follows `settled`, not the clock: an operation reads `DONE` only once its effect
    /// has been applied, so a client never sees `DONE` before the resource changed.
    fn render(&self, force_running: bool) -> Value {
        let done = !force_running && self.settled;
        let scope = match &self.region {
            Some(r) if !self.bare => format!("regions/{r}"),
            _ => "global".into(),
        };
        let mut v = json!({
            "id": self.id.to_string(),
            "insertTime": clock::rfc3339(self.insert_ms),
            "kind": "compute#operation",
            "name": self.name,
            // The recorded `setLabels` answer is DONE with progress 0; others reach 100.
            "progress": if done && !self.bare { 100 } else { 0 },
            "selfLink": format!("{API}/projects/{}/{scope}/operations/{}", self.project, self.name),
            "startTime": clock::rfc3339(self.insert_ms),
            "status": if done { "DONE" } else { "RUNNING" },
        });
        let Some(obj) = v.as_object_mut() else {
            return v;
        };
        if !self.bare {
            obj.insert("user".into(), json!(USER));
            if let Some(t) = &self.operation_type {
                obj.insert("operationType".into(), json!(t));
            }
            if let Some(r) = &self.region {
                obj.insert("region".into(), json!(region_url(&self.project, r)));
            }
            if let Some(t) = &self.target_link {
                obj.insert("targetLink".into(), json!(t));
            }
            if let Some(t) = self.target_id {
                obj.insert("targetId".into(), json!(t.to_string()));
            }
        }
        if done {
            obj.insert(
                "endTime".into(),
                json!(clock::rfc3339(self.done_ms.max(self.insert_ms))),
            );
            if let Some(e) = &self.error {
                obj.insert(
                    "error".into(),
                    json!({"errors": [{"code": e.code, "message": e.message}]}),
                );
                obj.insert("httpErrorStatusCode".into(), json!(e.http_status));
                obj.insert("httpErrorMessage".into(), json!(e.http_message));
            }
        }
        v
    }
}

fn op_error(code: &str, message: String, http_status: u16, http_message: &str) -> OperationError {
    OperationError {
        code: code.into(),
        message,
        http_status,
        http_message: http_message.into(),
    }
}

/// Applies, in finishing order, every operation whose delay has passed.
pub(super) fn settle(world: &mut World, now: u64) {
    let mut due: Vec<(u64, u64, String)> = world
        .operations
        .iter()
        .filter(|(_, op)| !op.settled && op.done_ms <= now)
        .map(|(k, op)| (op.done_ms, op.id, k.clone()))
        .collect();
    due.sort();
    for (_, _, key) in due {
        let Some(op) = world.operations.get(&key).cloned() else {
            continue;
        };
        let outcome = if op.inject_failure {
            Err(op_error(
                op.failure_code.as_deref().unwrap_or("INTERNAL_ERROR"),
                "Internal error. Please try again or contact Google Support. (localcloud: injected failure)".into(),
                500,
                "INTERNAL SERVER ERROR",
            ))
        } else {
            match op.effect {
                Some(effect) => apply(world, effect),
                None => Ok(()),
            }
        };
        if let Some(stored) = world.operations.get_mut(&key) {
            stored.settled = true;
            stored.error = outcome.err();
        }
    }
}

/// Performs a finished operation's write. The request was validated when it was accepted;
/// what can still fail is a race with another operation that finished first.
fn apply(world: &mut World, effect: Effect) -> Result<(), OperationError> {
    let exists = |path: String| {
        op_error(
            "RESOURCE_ALREADY_EXISTS",
            format!("The resource '{path}' already exists"),
            409,
            "CONFLICT",
        )
    };
    let missing = |path: String| {
        op_error(
            "RESOURCE_NOT_FOUND",
            format!("The resource '{path}' was not found"),
            404,
            "NOT FOUND",
        )
    };
    match effect {
        Effect::Insert(Resource::Network(n)) | Effect::Update(Resource::Network(n)) => {
            world.networks.insert(network_key(&n.project, &n.name), n);
        }
        Effect::Insert(Resource::Subnetwork(s)) => {
            if world.subnetworks.contains_key(&s.key()) {
                return Err(exists(subnetwork_path(&s.project, &s.region, &s.name)));
            }
            if !world
                .networks
                .contains_key(&network_key(&s.network_project, &s.network))
            {
                return Err(missing(network_path(&s.network_project, &s.network)));
            }
            world.subnetworks.insert(s.key(), s);
        }
        Effect::Update(Resource::Subnetwork(s)) => {
            if !world.subnetworks.contains_key(&s.key()) {
                return Err(missing(subnetwork_path(&s.project, &s.region, &s.name)));
            }
            world.subnetworks.insert(s.key(), s);
        }
        Effect::Insert(Resource::Address(a)) | Effect::Update(Resource::Address(a)) => {
            world
                .addresses
                .insert(regional_key(&a.project, &a.region, &a.name), a);
        }
        Effect::Delete(kind, key) => {
            let removed = match kind {
                Kind::Network => {
                    if let Some(s) = world
                        .subnetworks
                        .values()
                        .find(|s| network_key(&s.network_project, &s.network) == key)
                    {
                        return Err(op_error(
                            "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE",
                            format!(
                                "The network resource 'projects/{}' is already being used by '{}'",
                                key.replacen('/', "/global/networks/", 1),
                                subnetwork_path(&s.project, &s.region, &s.name)
                            ),
                            400,
                            "BAD REQUEST",
                        ));
                    }
                    world.networks.remove(&key).is_some()
                }
                Kind::Subnetwork => world.subnetworks.remove(&key).is_some(),
                Kind::Address => world.addresses.remove(&key).is_some(),
            };
            if !removed {
                return Err(missing(key));
            }
        }
    }
    Ok(())
}

/// Starts an operation carrying `effect`, honouring `requestId` (a retried request gets the
/// operation of the first one) and the fault injector.
struct NewOperation<'a> {
    project: &'a str,
    region: Option<&'a str>,
    operation_type: &'a str,
    target_link: String,
    target_id: u64,
    effect: Effect,
}

/// The operation a request with the same `requestId` already started: GCP answers a retried
/// write with it instead of failing (409) or acting twice. Checked before any validation.
fn replay_request(inner: &Inner, project: &str, query: &Query) -> Option<Response> {
    let rid = query.get("requestId").filter(|r| !r.is_empty())?;
    let op = inner
        .world
        .request_ids
        .get(&format!("{project}/{rid}"))
        .and_then(|k| inner.world.operations.get(k))?;
    Some(ok(op.render(false)))
}

fn start(cloud: &Cloud, inner: &mut Inner, query: &Query, new: NewOperation<'_>) -> Response {
    let now = now_ms();
    let delay = cloud.operation_delay_ms(&inner.faults);
    let inject_failure = inner.faults.fail_operations > 0;
    if inject_failure {
        inner.faults.fail_operations -= 1;
    }
    let id = inner.world.new_id();
    let name = format!("operation-{now}-{}", uuid::Uuid::new_v4().simple());
    let op = Operation {
        name: name.clone(),
        id,
        project: new.project.into(),
        region: new.region.map(Into::into),
        operation_type: Some(new.operation_type.into()),
        target_link: Some(new.target_link),
        target_id: Some(new.target_id),
        insert_ms: now,
        done_ms: now.saturating_add(delay),
        effect: Some(new.effect),
        settled: false,
        inject_failure,
        failure_code: inject_failure
            .then(|| inner.faults.failure_code.clone())
            .flatten(),
        bare: false,
        error: None,
    };
    let body = op.render(true);
    let key = network_key(new.project, &name);
    if let Some(rid) = query.get("requestId").filter(|r| !r.is_empty()) {
        inner
            .world
            .request_ids
            .insert(format!("{}/{rid}", new.project), key.clone());
    }
    inner.world.operations.insert(key, op);
    ok(body)
}

pub fn routes() -> Router<Arc<Cloud>> {
    let p = "/compute/v1/projects/{project}";
    Router::new()
        .route(
            &format!("{p}/global/networks"),
            get(list_networks).post(insert_network),
        )
        .route(
            &format!("{p}/global/networks/{{name}}"),
            get(get_network).delete(delete_network).patch(patch_network),
        )
        .route(
            &format!("{p}/regions/{{region}}/subnetworks"),
            get(list_subnetworks).post(insert_subnetwork),
        )
        .route(
            &format!("{p}/regions/{{region}}/subnetworks/{{name}}"),
            get(get_subnetwork)
                .delete(delete_subnetwork)
                .patch(patch_subnetwork),
        )
        .route(
            &format!("{p}/regions/{{region}}/subnetworks/{{name}}/setPrivateIpGoogleAccess"),
            post(set_private_ip_google_access),
        )
        .route(
            &format!("{p}/regions/{{region}}/addresses"),
            get(list_addresses).post(insert_address),
        )
        .route(
            &format!("{p}/regions/{{region}}/addresses/{{name}}"),
            get(get_address).delete(delete_address),
        )
        .route(
            &format!("{p}/regions/{{region}}/addresses/{{name}}/setLabels"),
            post(set_address_labels),
        )
        .route(
            &format!("{p}/global/operations/{{op}}"),
            get(get_global_operation).delete(delete_global_operation),
        )
        .route(
            &format!("{p}/global/operations/{{op}}/wait"),
            post(wait_global_operation),
        )
        .route(
            &format!("{p}/regions/{{region}}/operations/{{op}}"),
            get(get_regional_operation).delete(delete_regional_operation),
        )
        .route(
            &format!("{p}/regions/{{region}}/operations/{{op}}/wait"),
            post(wait_regional_operation),
        )
}

/// Locks the world and settles due operations: the first thing every handler does.
fn settled(cloud: &Cloud) -> std::sync::MutexGuard<'_, Inner> {
    let mut inner = cloud.lock();
    settle(&mut inner.world, now_ms());
    inner
}

fn list_body(kind: &str, self_link: String, items: Vec<Value>, query: &Query) -> ApiResult {
    let items = match query.get("filter").filter(|f| !f.trim().is_empty()) {
        Some(f) => {
            let filter = Filter::parse(f).ok_or_else(|| {
                ApiError::invalid(format!(
                    "Invalid value for field 'filter': '{f}'. Invalid list filter expression."
                ))
            })?;
            items.into_iter().filter(|i| filter.matches(i)).collect()
        }
        None => items,
    };
    let id = self_link
        .trim_start_matches(API)
        .trim_start_matches('/')
        .to_string();
    let mut body = json!({ "id": id, "kind": kind, "selfLink": self_link });
    // GCP omits `items` from an empty list.
    if let (false, Some(obj)) = (items.is_empty(), body.as_object_mut()) {
        obj.insert("items".into(), Value::Array(items));
    }
    Ok(ok(body))
}

fn string_field(body: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ApiError::invalid(format!(
            "Invalid value for field 'resource.{field}': '{other}'. Expected a string."
        ))),
    }
}

fn bool_field(body: &Map<String, Value>, field: &str) -> Result<Option<bool>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(ApiError::invalid(format!(
            "Invalid value for field 'resource.{field}': '{other}'. Expected a boolean."
        ))),
    }
}

/// GCP resource names: RFC 1035 labels of at most 63 characters.
fn check_name(name: Option<String>) -> Result<String, ApiError> {
    let name = name.ok_or_else(|| {
        ApiError::new(
            400,
            "required",
            "Required field 'resource.name' not specified",
        )
    })?;
    let valid = (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(ApiError::invalid(format!(
            "Invalid value for field 'resource.name': '{name}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{{0,61}}[a-z0-9])?)'"
        )));
    }
    Ok(name)
}

fn pending_effects(world: &World) -> impl Iterator<Item = &Effect> {
    world
        .operations
        .values()
        .filter(|op| !op.settled)
        .filter_map(|op| op.effect.as_ref())
}

// ---------------------------------------------------------------- networks

async fn insert_network(
    State(cloud): State<Arc<Cloud>>,
    Path(project): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult {
    let query = Query::parse(raw.as_deref());
    let body = parse_body(&body)?;
    let name = check_name(string_field(&body, "name")?)?;
    let auto = bool_field(&body, "autoCreateSubnetworks")?;
    if auto == Some(true) {
        // matihnet only creates custom-mode networks; auto mode would need every region's subnet.
        return Err(ApiError::invalid(
            "Invalid value for field 'resource.autoCreateSubnetworks': 'true'. The local cloud emulates custom-mode networks only.",
        ));
    }
    if body.contains_key("IPv4Range") {
        return Err(ApiError::invalid(
            "Invalid value for field 'resource.IPv4Range'. Legacy networks are not supported.",
        ));
    }
    let routing_mode = match body.get("routingConfig").and_then(|r| r.get("routingMode")) {
        None | Some(Value::Null) => "REGIONAL".to_string(),
        Some(Value::String(m)) if m == "REGIONAL" || m == "GLOBAL" => m.clone(),
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "Invalid value for field 'resource.routingConfig.routingMode': '{other}'. Value must be one of [GLOBAL, REGIONAL]"
            )))
        }
    };
    let mut inner = settled(&cloud);
    if let Some(replay) = replay_request(&inner, &project, &query) {
        return Ok(replay);
    }
    let key = network_key(&project, &name);
    let pending = pending_effects(&inner.world).any(|e| {
        matches!(e, Effect::Insert(Resource::Network(n)) if network_key(&n.project, &n.name) == key)
    });
    if inner.world.networks.contains_key(&key) || pending {
        return Err(ApiError::already_exists(&network_path(&project, &name)));
    }
    let id = inner.world.new_id();
    let network = Network {
        project: project.clone(),
        name: name.clone(),
        id,
        created_ms: now_ms(),
        description: string_field(&body, "description")?,
        auto_create_subnetworks: false,
        routing_mode,
        mtu: body.get("mtu").cloned(),
        firewall_policy_enforcement_order: string_field(
            &body,
            "networkFirewallPolicyEnforcementOrder",
        )?
        .unwrap_or_else(|| "AFTER_CLASSIC_FIREWALL".into()),
    };
    Ok(start(
        &cloud,
        &mut inner,
        &query,
        NewOperation {
            project: &project,
            region: None,
            operation_type: "insert",
            target_link: format!("{API}/{}", network_path(&project, &name)),
            target_id: id,
            effect: Effect::Insert(Resource::Network(network)),
        },
    ))
}

fn find_network<'w>(world: &'w World, project: &str, name: &str) -> Result<&'w Network, ApiError> {
    world
        .networks
        .get(&network_key(project, name))
        .ok_or_else(|| ApiError::not_found(&network_path(project, name)))
}

async fn get_network(
    State(cloud): State<Arc<Cloud>>,
    Path((project, name)): Path<(String, String)>,
) -> ApiResult {
    let inner = settled(&cloud);
    let network = find_network(&inner.world, &project, &name)?;
    Ok(ok(network.render(&inner.world)))
}

async fn list_networks(
    State(cloud): State<Arc<Cloud>>,
    Path(project): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let inner = settled(&cloud);
    let items = inner
        .world
        .networks
        .values()
        .filter(|n| n.project == project)
        .map(|n| n.render(&inner.world))
        .collect();
    list_body(
        "compute#networkList",
        format!("{API}/projects/{project}/global/networks"),
        items,
        &Query::parse(raw.as_deref()),
    )
}

async fn delete_network(
    State(cloud): State<Arc<Cloud>>,
    Path((project, name)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let query = Query::parse(raw.as_deref());
    let mut inner = settled(&cloud);
    if let Some(replay) = replay_request(&inner, &project, &query) {
        return Ok(replay);
    }
    let id = find_network(&inner.world, &project, &name)?.id;
    let key = network_key(&project, &name);
    // Subnetworks being created count as users too: their insert would fail otherwise.
    let user = inner
        .world
        .subnetworks
        .values()
        .find(|s| network_key(&s.network_project, &s.network) == key)
        .map(|s| subnetwork_path(&s.project, &s.region, &s.name))
        .or_else(|| {
            pending_effects(&inner.world).find_map(|e| match e {
                Effect::Insert(Resource::Subnetwork(s))
                    if network_key(&s.network_project, &s.network) == key =>
                {
                    Some(subnetwork_path(&s.project, &s.region, &s.name))
                }
                _ => None,
            })
        });
    if let Some(user) = user {
        return Err(ApiError::new(
            400,
            "resourceInUseByAnotherResource",
            format!(
                "The network resource '{}' is already being used by '{user}'",
                network_path(&project, &name)
            ),
        ));
    }
    Ok(start(
        &cloud,
        &mut inner,
        &query,
        NewOperation {
            project: &project,
            region: None,
            operation_type: "delete",
            target_link: format!("{API}/{}", network_path(&project, &name)),
            target_id: id,
            effect: Effect::Delete(Kind::Network, key),
        },
    ))
}

async fn patch_network(
    State(cloud): State<Arc<Cloud>>,
    Path((project, name)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult {
    let query = Query::parse(raw.as_deref());
    let body = parse_body(&body)?;
    let mut inner = settled(&cloud);
    if let Some(replay) = replay_request(&inner, &project, &query) {
        return Ok(replay);
    }
    let mut network = find_network(&inner.world, &project, &name)?.clone();
    if let Some(other) = string_field(&body, "name")?.filter(|n| *n != name) {
        return Err(ApiError::invalid(format!(
            "Invalid value for field 'resource.name': '{other}'. The name of a network cannot be changed."
        )));
    }
    if bool_field(&body, "autoCreateSubnetworks")? == Some(true) {
        return Err(ApiError::invalid(
            "Invalid value for field 'resource.autoCreateSubnetworks': 'true'. Switching to auto mode is not supported by the local cloud.",
        ));
    }
    if let Some(Value::String(mode)) = body.get("routingConfig").and_then(|r| r.get("routingMode"))
    {
        if mode != "REGIONAL" && mode != "GLOBAL" {
            return Err(ApiError::invalid(format!(
                "Invalid value for field 'resource.routingConfig.routingMode': '{mode}'. Value must be one of [GLOBAL, REGIONAL]"
            )));
        }
        network.routing_mode = mode.clone();
    }
    if let Some(d) = string_field(&body, "description")? {
        network.description = Some(d);
    }
    if let Some(mtu) = body.get("mtu").filter(|m| !m.is_null()) {
        network.mtu = Some(mtu.clone());
    }
    let id = network.id;
    Ok(start(
        &cloud,
        &mut inner,
        &query,
        NewOperation {
            project: &project,
            region: None,
            operation_type: "patch",
            target_link: format!("{API}/{}", network_path(&project, &name)),
            target_id: id,
            effect: Effect::Update(Resource::Network(network)),
        },
    ))
}

// ---------------------------------------------------------------- subnetworks

/// `network` may be a full URL, `projects/p/global/networks/n` or `global/networks/n`.
fn parse_network_ref(reference: &str, default_project: &str) -> Option<(String, String)> {
    let name = reference.split("/networks/").nth(1)?.trim_end_matches('/');
    if name.is_empty() || name.contains('/') {
        return None;
    }
    let project = reference
        .split("projects/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or(default_project);
    Some((project.to_string(), name.to_string()))
}

fn parse_range(field: &str, text: &str) -> Result<Cidr, ApiError> {
    let range = Cidr::parse(text).ok_or_else(|| {
        ApiError::invalid(format!(
            "Invalid value for field '{field}': '{text}'. Invalid IPCidrRange: {text}."
        ))
    })?;
    if !cidr::in_allowed_space(range) {
        return Err(ApiError::invalid(format!(
            "Invalid value for field '{field}': '{text}'. The IP range must be within the private (RFC 1918) or other reserved IPv4 space; privately used public ranges are not emulated."
        )));
    }
    if !(8..=29).contains(&range.prefix) {
        return Err(ApiError::invalid(format!(
            "Invalid value for field '{field}': '{text}'. The prefix length of an IPv4 subnetwork range must be between 8 and 29."
        )));
    }
    Ok(range)
}

fn parse_secondary(body: &Map<String, Value>) -> Result<Option<Vec<SecondaryRange>>, ApiError> {
    let Some(value) = body.get("secondaryIpRanges").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let ranges: Vec<SecondaryRange> = serde_json::from_value(value.clone()).map_err(|e| {
        ApiError::invalid(format!(
            "Invalid value for field 'resource.secondaryIpRanges': {e}"
        ))
    })?;
    Ok(Some(ranges))
}

/// Checks a subnetwork's ranges against each other and against every other subnetwork of the
/// network (in any region: a VPC's address space is global), including writes not yet applied.
fn validate_ranges(world: &World, subnet: &Subnetwork) -> Result<(), ApiError> {
    let primary = parse_range("resource.ipCidrRange", &subnet.ip_cidr_range)?;
    let mut own: Vec<(String, Cidr)> = vec![(String::new(), primary)];
    for (i, r) in subnet.secondary_ip_ranges.iter().enumerate() {
        let valid_name = (1..=63).contains(&r.range_name.len())
            && r.range_name.starts_with(|c: char| c.is_ascii_lowercase())
            && r.range_name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid_name {
            return Err(ApiError::invalid(format!(
                "Invalid value for field 'resource.secondaryIpRanges[{i}].rangeName': '{}'. Must be a match of regex '[a-z]([-a-z0-9]*[a-z0-9])?'",
                r.range_name
            )));
        }
        let range = parse_range(
            &format!("resource.secondaryIpRanges[{i}].ipCidrRange"),
            &r.ip_cidr_range,
        )?;
        for (other_name, other) in &own {
            if *other_name == r.range_name {
                return Err(ApiError::invalid(format!(
                    "Invalid value for field 'resource.secondaryIpRanges[{i}].rangeName': '{}'. Duplicate secondary range name.",
                    r.range_name
                )));
            }
            if other.overlaps(range) {
                let what = if other_name.is_empty() {
                    "the primary range".to_string()
                } else {
                    format!("secondary range '{other_name}'")
                };
                return Err(ApiError::invalid(format!(
                    "Invalid IPCidrRange: {range} conflicts with {what} ({other}) of subnetwork '{}'.",
                    subnet.name
                )));
            }
        }
        own.push((r.range_name.clone(), range));
    }
    let mut others: BTreeMap<String, &Subnetwork> = world
        .subnetworks
        .iter()
        .map(|(k, s)| (k.clone(), s))
        .collect();
    for effect in pending_effects(world) {
        match effect {
            Effect::Insert(Resource::Subnetwork(s)) | Effect::Update(Resource::Subnetwork(s)) => {
                others.insert(s.key(), s);
            }
            _ => {}
        }
    }
    for other in others.values() {
        if other.key() == subnet.key()
            || other.network_project != subnet.network_project
            || other.network != subnet.network
        {
            continue;
        }
        let mut theirs = vec![other.ip_cidr_range.as_str()];
        theirs.extend(
            other
                .secondary_ip_ranges
                .iter()
                .map(|r| r.ip_cidr_range.as_str()),
        );
        for t in theirs.into_iter().filter_map(Cidr::parse) {
            if let Some((_, mine)) = own.iter().find(|(_, m)| m.overlaps(t)) {
                return Err(ApiError::invalid(format!(
                    "Invalid IPCidrRange: {mine} conflicts with existing subnetwork '{}' in region '{}'.",
                    other.name, other.region
                )));
            }
        }
    }
    Ok(())
}

async fn insert_subnetwork(
    State(cloud): State<Arc<Cloud>>,
    Path((project, region)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult {
    let query = Query::parse(raw.as_deref());
    let body = parse_body(&body)?;
    let name = check_name(string_field(&body, "name")?)?;
    let network_ref = string_field(&body, "network")?.ok_or_else(|| {
        ApiError::new(
            400,
            "required",
            "Required field 'resource.network' not specified",
        )
    })?;
    let (network_project, network) =
        parse_network_ref(&network_ref, &project).ok_or_else(|| {
            ApiError::invalid(format!(
            "Invalid value for field 'resource.network': '{network_ref}'. The URL is malformed."
        ))
        })?;
    let ip_cidr_range = string_field(&body, "ipCidrRange")?.ok_or_else(|| {
        ApiError::new(
            400,
            "required",
            "Required field 'resource.ipCidrRange' not specified",
        )
    })?;
    let mut inner = settled(&cloud);
    if let Some(replay) = replay_request(&inner, &project, &query) {
        return Ok(replay);
    }
    if !inner
        .world
        .networks
        .contains_key(&network_key(&network_project, &network))
    {
        return Err(ApiError::not_found(&network_path(
            &network_project,
            &network,
        )));
    }
    let key = regional_key(&project, &region, &name);
    let pending = pending_effects(&inner.world)
        .any(|e| matches!(e, Effect::Insert(Resource::Subnetwork(s)) if s.key() == key));
    if inner.world.subnetworks.contains_key(&key) || pending {
        return Err(ApiError::already_exists(&subnetwork_path(
            &project, &region, &name,
        )));
    }
    let id = inner.world.new_id();
    let subnet = Subnetwork {
        project: project.clone(),
        region: region.clone(),
        name: name.clone(),
        id,
        created_ms: now_ms(),
        network_project,
        network,
        ip_cidr_range,
        secondary_ip_ranges: parse_secondary(&body)?.unwrap_or_default(),
        private_ip_google_access: bool_field(&body, "privateIpGoogleAccess")?.unwrap_or(false),
        fingerprint: clock::fingerprint(),
        description: string_field(&body, "description")?,
        log_config: body.get("logConfig").filter(|v| !v.is_null()).cloned(),
        stack_type: string_field(&body, "stackType")?.unwrap_or_else(|| "IPV4_ONLY".into()),
        purpose: string_field(&body, "purpose")?.unwrap_or_else(|| "PRIVATE".into()),
        private_ipv6_google_access: string_field(&body, "privateIpv6GoogleAccess")?
            .unwrap_or_else(|| "DISABLE_GOOGLE_ACCESS".into()),
        reserved_internal_range: string_field(&body, "reservedInternalRange")?,
    };
    validate_ranges(&inner.world, &subnet)?;
    Ok(start(
        &cloud,
        &mut inner,
        &query,
        NewOperation {
            project: &project,
            region: Some(&region),
            operation_type: "insert",
            target_link: format!("{API}/{}", subnetwork_path(&project, &region, &name)),
            target_id: id,
            effect: Effect::Insert(Resource::Subnetwork(subnet)),
        },
    ))
}

fn find_subnetwork<'w>(
    world: &'w World,
    project: &str,
    region: &str,
    name: &str,
) -> Result<&'w Subnetwork, ApiError> {
    world
        .subnetworks
        .get(&regional_key(project, region, name))
        .ok_or_else(|| ApiError::not_found(&subnetwork_path(project, region, name)))
}

async fn get_subnetwork(
    State(cloud): State<Arc<Cloud>>,
    Path((project, region, name)): Path<(String, String, String)>,
) -> ApiResult {
    let inner = settled(&cloud);
    Ok(ok(
        find_subnetwork(&inner.world, &project, &region, &name)?.render()
    ))
}

async fn list_subnetworks(
    State(cloud): State<Arc<Cloud>>,
    Path((project, region)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let inner = settled(&cloud);
    let items = inner
        .world
        .subnetworks
        .values()
        .filter(|s| s.project == project && s.region == region)
        .map(Subnetwork::render)
        .collect();
    list_body(
        "compute#subnetworkList",
        format!("{API}/projects/{project}/regions/{region}/subnetworks"),
        items,
        &Query::parse(raw.as_deref()),
    )
}

async fn delete_subnetwork(
    State(cloud): State<Arc<Cloud>>,
    Path((project, region, name)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let query = Query::parse(raw.as_deref());
    let mut inner = settled(&cloud);
    if let Some(replay) = replay_request(&inner, &project, &query) {
        return Ok(replay);
    }
    let id = find_subnetwork(&inner.world, &project, &region, &name)?.id;
    Ok(start(
        &cloud,
        &mut inner,
        &query,
        NewOperation {
            project: &project,
            region: Some(&region),
            operation_type: "delete",
            target_link: format!("{API}/{}", subnetwork_path(&project, &region, &name)),
            target_id: id,
            effect: Effect::Delete(Kind::Subnetwork, regional_key(&project, &region, &name)),
        },
    ))
}

fn check_fingerprint(body: &Map<String, Value>, current: &str) -> Result<(), ApiError> {
    match string_field(body, "fingerprint")? {
        None => Err(ApiError::invalid(
            "Invalid value for field 'resource.fingerprint': ''. Supplied fingerprint does not match current metadata fingerprint.",
        )),
        Some(f) if f != current => Err(ApiError::new(
            412,
            "conditionNotMet",
            "Supplied fingerprint does not match current metadata fingerprint.",
        )),
        Some(_) => Ok(()),
    }
}

async fn patch_subnetwork(
    State(cloud): State<Arc<Cloud>>,
    Path((project, region, name)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult {
    let query = Query::parse(raw.as_deref());
    let body = parse_body(&body)?;
    let mut inner = settled(&cloud);
    if let Some(replay) = replay_request(&inner, &project, &query) {
        return Ok(replay);
    }
    let current = find_subnetwork(&inner.world, &project, &region, &name)?.clone();
    check_fingerprint(&body, &current.fingerprint)?;
    let mut next = current.clone();
    if let Some(range) = string_field(&body, "ipCidrRange")? {
        if range != current.ip_cidr_range {
            // GCP can only widen a primary range in place.
            let old = Cidr::parse(&current.ip_cidr_range);
            let new = parse_range("resource.ipCidrRange", &range)?;
            if !old.is_some_and(|o| new.contains(o) && new.prefix < o.prefix) {
                return Err(ApiError::invalid(format!(
                    "Invalid value for field 'resource.ipCidrRange': '{range}'. The new range must contain the existing range {} (a primary range can only be expanded).",
                    current.ip_cidr_range
                )));
            }
            next.ip_cidr_range = range;
        }
    }
    if let Some(ranges) = parse_secondary(&body)? {
        for r in &ranges {
            let changed = current
                .secondary_ip_ranges
                .iter()
                .find(|c| c.range_name == r.range_name)
                .filter(|c| c.ip_cidr_range != r.ip_cidr_range);
            if let Some(c) = changed {
                return Err(ApiError::invalid(format!(
                    "Invalid value for field 'resource.secondaryIpRanges': secondary range '{}' cannot be changed from {} to {}; remove it and add a new range instead.",
                    r.range_name, c.ip_cidr_range, r.ip_cidr_range
                )));
            }
        }
        next.secondary_ip_ranges = ranges;
    }
    if let Some(b) = bool_field(&body, "privateIpGoogleAccess")? {
        next.private_ip_google_access = b;
    }
    if let Some(d) = string_field(&body, "description")? {
        next.description = Some(d);
    }
    if let Some(l) = body.get("logConfig").filter(|v| !v.is_null()) {
        next.log_config = Some(l.clone());
    }
    validate_ranges(&inner.world, &next)?;
    next.fingerprint = clock::fingerprint();
    Ok(start(
        &cloud,
        &mut inner,
        &query,
        NewOperation {
            project: &project,
            region: Some(&region),
            operation_type: "patch",
            target_link: format!("{API}/{}", subnetwork_path(&project, &region, &name)),
            target_id: current.id,
            effect: Effect::Update(Resource::Subnetwork(next)),
        },
    ))
}

async fn set_private_ip_google_access(
    State(cloud): State<Arc<Cloud>>,
    Path((project, region, name)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult {
    let query = Query::parse(raw.as_deref());
    let body = parse_body(&body)?;
    let access = bool_field(&body, "privateIpGoogleAccess")?.ok_or_else(|| {
        ApiError::new(
            400,
            "required",
            "Required field 'privateIpGoogleAccess' not specified",
        )
    })?;
    let mut inner = settled(&cloud);
    if let Some(replay) = replay_request(&inner, &project, &query) {
        return Ok(replay);
    }
    let mut next = find_subnetwork(&inner.world, &project, &region, &name)?.clone();
    next.private_ip_google_access = access;
    next.fingerprint = clock::fingerprint();
    let id = next.id;
    Ok(start(
        &cloud,
        &mut inner,
        &query,
        NewOperation {
            project: &project,
            region: Some(&region),
            operation_type: "setPrivateIpGoogleAccess",
            target_link: format!("{API}/{}", subnetwork_path(&project, &region, &name)),
            target_id: id,
            effect: Effect::Update(Resource::Subnetwork(next)),
        },
    ))
}

// ---------------------------------------------------------------- addresses

fn labels_field(body: &Map<String, Value>) -> Result<BTreeMap<String, String>, ApiError> {
    let Some(value) = body.get("labels").filter(|v| !v.is_null()) else {
        return Ok(BTreeMap::new());
    };
    let labels: BTreeMap<String, String> = serde_json::from_value(value.clone()).map_err(|e| {
        ApiError::invalid(format!("Invalid value for field 'resource.labels': {e}"))
    })?;
    // GCP label rules: lowercase keys starting with a letter, values lowercase too, 63 chars.
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    for (k, v) in &labels {
        let key_ok = (1..=63).contains(&k.len())
            && k.starts_with(|c: char| c.is_ascii_lowercase())
            && k.chars().all(ok_char);
        let value_ok = v.len() <= 63 && v.chars().all(ok_char);
        if !key_ok || !value_ok {
            return Err(ApiError::invalid(format!(
                "Invalid value for field 'resource.labels': '{k}={v}'. Label keys and values may contain only lowercase letters, digits, '-' and '_'."
            )));
        }
    }
    Ok(labels)
}

async fn insert_address(
    State(cloud): State<Arc<Cloud>>,
    Path((project, region)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> ApiResult {
    let query = Query::parse(raw.as_deref());
    let body = parse_body(&body)?;
    let name = check_name(string_field(&body, "name")?)?;
    let address_type = string_field(&body, "addressType")?.unwrap_or_else(|| "EXTERNAL".into());
    if address_type != "EXTERNAL" && address_type != "INTERNAL" {
        return Err(ApiError::invalid(format!(
            "Invalid value for field 'resource.addressType': '{address_type}'. Value must be one of [EXTERNAL, INTERNAL]"
        )));
    }
    let labels = labels_field(&body)?;
    let requested = string_field(&body, "address")?;
    let subnetwork = string_field(&body, "subnetwork")?;
    let mut inner = settled(&cloud);
    if let Some(replay) = replay_request(&inner, &project, &query) {
        return Ok(replay);
    }
    let key = regional_key(&project, &region, &name);
    let pending = pending_effects(&inner.world).any(|e| {
        matches!(e, Effect::Insert(Resource::Address(a)) if regional_key(&a.project, &a.region, &a.name) == key)
    });
    if inner.world.addresses.contains_key(&key) || pending {
        return Err(ApiError::already_exists(&address_path(
            &project, &region, &name,
        )));
    }
    let address = match (address_type.as_str(), requested) {
        (_, Some(ip)) => ip,
        ("EXTERNAL", None) => {
            // 34.0.0.0/8 is where GCP hands out regional external addresses; sequential keeps
            // them unique and readable in tests.
            let n = inner.world.next_external_ip;
            inner.world.next_external_ip = n.wrapping_add(1);
            std::net::Ipv4Addr::from(0x2200_0000u32 | ((n % 0x00ff_fffe) + 2)).to_string()
        }
        _ => internal_address(&inner.world, &project, &region, subnetwork.as_deref())?,
    };
    let id = inner.world.new_id();
    let record = Address {
        project: project.clone(),
        region: region.clone(),
        name: name.clone(),
        id,
        created_ms: now_ms(),
        address,
        address_type: address_type.clone(),
        network_tier: string_field(&body, "networkTier")?.unwrap_or_else(|| "PREMIUM".into()),
        description: string_field(&body, "description")?.unwrap_or_default(),
        labels,
        label_fingerprint: clock::fingerprint(),
        subnetwork: subnetwork.map(|s| {
            if s.starts_with("https://") {
                s
            } else {
                format!("{API}/{}", s.trim_start_matches('/'))
            }
        }),
        purpose: string_field(&body, "purpose")?
            .or_else(|| (address_type == "INTERNAL").then(|| "GCE_ENDPOINT".into())),
    };
    Ok(start(
        &cloud,
        &mut inner,
        &query,
        NewOperation {
            project: &project,
            region: Some(&region),
            operation_type: "insert",
            target_link: format!("{API}/{}", address_path(&project, &region, &name)),
            target_id: id,
            effect: Effect::Insert(Resource::Address(record)),
        },
    ))
}

/// The first free host of the subnetwork after the gateway.
fn internal_address(
    world: &World,
    project: &str,
    region: &str,
    subnetwork: Option<&str>,
) -> Result<String, ApiError> {
    let reference = subnetwork.ok_or_else(|| {
        ApiError::invalid("Invalid value for field 'resource.subnetwork': ''. An INTERNAL address needs a subnetwork.")
    })?;
    let name = reference.rsplit('/').next().unwrap_or(reference);
    let subnet = find_subnetwork(world, project, region, name)?;
    let range = Cidr::parse(&subnet.ip_cidr_range)
        .ok_or_else(|| ApiError::invalid("The subnetwork's range is malformed."))?;
    let used: Vec<&str> = world
        .addresses
        .values()
        .map(|a| a.address.as_str())
        .collect();
    // Skip the network, gateway, and the two addresses GCP reserves at the end of the range.
    (2..range.size().saturating_sub(2))
        .filter_map(|n| u32::try_from(n).ok())
        .map(|n| range.host(n).to_string())
        .find(|ip| !used.contains(&ip.as_str()))
        .ok_or_else(|| {
            ApiError::new(
                400,
                "ipSpaceExhausted",
                format!("IP space of '{}' is exhausted.", subnet.name),
            )
        })
}

fn find_address<'w>(
    world: &'w World,
    project: &str,
    region: &str,
    name: &str,
) -> Result<&'w Address, ApiError> {
    world
        .addresses
        .get(&regional_key(project, region, name))
        .ok_or_else(|| ApiError::not_found(&address_path(project, region, name)))
}

async fn get_address(
    State(cloud): State<Arc<Cloud>>,
    Path((project, region, name)): Path<(String, String, String)>,
) -> ApiResult {
    let inner = settled(&cloud);
    Ok(ok(
        find_address(&inner.world, &project, &region, &name)?.render()
    ))
}

async fn list_addresses(
    State(cloud): State<Arc<Cloud>>,
    Path((project, region)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let inner = settled(&cloud);
    let items = inner
        .world
        .addresses
        .values()
        .filter(|a| a.project == project && a.region == region)
        .map(Address::render)
        .collect();
    list_body(
        "compute#addressList",
        format!("{API}/projects/{project}/regions/{region}/addresses"),
        items,
        &Query::parse(raw.as_deref()),
    )
}

async fn delete_address(
    State(cloud): State<Arc<Cloud>>,
    Path((project, region, name)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let query = Query::parse(raw.as_deref());
    let mut inner = settled(&cloud);
    if let Some(replay) = replay_request(&inner, &project, &query) {
        return Ok(replay);
    }
    let id = find_address(&inner.world, &project, &region, &name)?.id;
    Ok(start(
        &cloud,
        &mut inner,
        &query,
        NewOperation {
            project: &project,
            region: Some(&region),
            operation_type: "delete",
            target_link: format!("{API}/{}", address_path(&project, &region, &name)),
            target_id: id,
            effect: Effect::Delete(Kind::Address, regional_key(&project, &region, &name)),
        },
    ))
}

/// Labels change at once: the recorded `setLabels` answer is already `DONE`.
async fn set_address_labels(
    State(cloud): State<Arc<Cloud>>,
    Path((project, region, name)): Path<(String, String, String)>,
    body: Bytes,
) -> ApiResult {
    let body = parse_body(&body)?;
    let mut inner = settled(&cloud);
    let mut address = find_address(&inner.world, &project, &region, &name)?.clone();
    match string_field(&body, "labelFingerprint")? {
        Some(f) if f == address.label_fingerprint => {}
        _ => {
            return Err(ApiError::new(
                412,
                "conditionNotMet",
                "Labels fingerprint either invalid or resource labels have changed",
            ))
        }
    }
    address.labels = labels_field(&body)?;
    address.label_fingerprint = clock::fingerprint();
    inner
        .world
        .addresses
        .insert(regional_key(&project, &region, &name), address);
    let now = now_ms();
    let id = inner.world.new_id();
    let op = Operation {
        name: format!("operation-{now}-{}", uuid::Uuid::new_v4().simple()),
        id,
        project: project.clone(),
        region: Some(region),
        operation_type: Some("setLabels".into()),
        target_link: None,
        target_id: None,
        insert_ms: now,
        done_ms: now,
        effect: None,
        settled: true,
        inject_failure: false,
        failure_code: None,
        bare: true,
        error: None,
    };
    let body = op.render(false);
    inner
        .world
        .operations
        .insert(network_key(&project, &op.name), op);
    Ok(ok(body))
}

// ---------------------------------------------------------------- operations

/// Operations are looked up by name within the project whatever the scope in the path, so a
/// client that polls a regional operation through the global path (or the reverse) still finds it.
fn find_operation(world: &World, project: &str, name: &str) -> Result<Value, ApiError> {
    world
        .operations
        .get(&network_key(project, name))
        .map(|op| op.render(false))
        .ok_or_else(|| ApiError::not_found(&format!("projects/{project}/global/operations/{name}")))
}

async fn get_global_operation(
    State(cloud): State<Arc<Cloud>>,
    Path((project, op)): Path<(String, String)>,
) -> ApiResult {
    let inner = settled(&cloud);
    Ok(ok(find_operation(&inner.world, &project, &op)?))
}

async fn get_regional_operation(
    State(cloud): State<Arc<Cloud>>,
    Path((project, _region, op)): Path<(String, String, String)>,
) -> ApiResult {
    let inner = settled(&cloud);
    Ok(ok(find_operation(&inner.world, &project, &op)?))
}

async fn delete_global_operation(
    State(cloud): State<Arc<Cloud>>,
    Path((project, op)): Path<(String, String)>,
) -> ApiResult {
    delete_operation(&cloud, &project, &op)
}

async fn delete_regional_operation(
    State(cloud): State<Arc<Cloud>>,
    Path((project, _region, op)): Path<(String, String, String)>,
) -> ApiResult {
    delete_operation(&cloud, &project, &op)
}

/// Deleting an operation only forgets the record; a running one still takes effect.
fn delete_operation(cloud: &Cloud, project: &str, op: &str) -> ApiResult {
    let mut inner = settled(cloud);
    let key = network_key(project, op);
    match inner.world.operations.get(&key) {
        Some(o) if o.settled => {
            inner.world.operations.remove(&key);
            Ok(ok(json!({})))
        }
        Some(_) => Ok(ok(json!({}))),
        None => Err(ApiError::not_found(&format!(
            "projects/{project}/global/operations/{op}"
        ))),
    }
}

async fn wait_global_operation(
    State(cloud): State<Arc<Cloud>>,
    Path((project, op)): Path<(String, String)>,
) -> ApiResult {
    wait(&cloud, &project, &op).await
}

async fn wait_regional_operation(
    State(cloud): State<Arc<Cloud>>,
    Path((project, _region, op)): Path<(String, String, String)>,
) -> ApiResult {
    wait(&cloud, &project, &op).await
}

/// Blocks until the operation is done or two minutes have passed, then returns it.
async fn wait(cloud: &Cloud, project: &str, op: &str) -> ApiResult {
    let deadline = tokio::time::Instant::now() + MAX_WAIT;
    loop {
        let remaining = {
            let inner = settled(cloud);
            let operation = inner
                .world
                .operations
                .get(&network_key(project, op))
                .ok_or_else(|| {
                    ApiError::not_found(&format!("projects/{project}/global/operations/{op}"))
                })?;
            if operation.settled || tokio::time::Instant::now() >= deadline {
                return Ok(ok(operation.render(false)));
            }
            operation.done_ms.saturating_sub(now_ms()).max(1)
        };
        // The delay can be changed while waiting only for new operations, so one sleep usually
        // suffices; the loop absorbs clock rounding.
        tokio::time::sleep_until(
            (tokio::time::Instant::now() + Duration::from_millis(remaining)).min(deadline),
        )
        .await;
    }
}
