//! Compute's long-running operations: the `compute#operation` record and how it renders, the
//! effect an accepted write stores in it, the settling that applies effects in the order the
//! operations finish, `requestId` replay, and the get / delete / wait routes of global and
//! regional operations.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::collection::{finish_delete, finish_write, record_key, Finished};
use super::{region_url, Address, GlobalAddress, Network, Subnetwork, API};
use crate::core::clock::{self, now_ms};
use crate::core::http::Query;
use crate::core::operations::{due, Timed};
use crate::gcp::wire::{ok, ApiError, ApiResult};
use crate::gcp::{Cloud, Held, World};

const USER: &str = "user@example.com";
/// `/wait` returns after at most this long even if the operation is still running, as GCP does.
const MAX_WAIT: Duration = Duration::from_secs(120);

/// A record an operation inserts or updates. The variants name the collections; their
/// spelling is part of the snapshot format.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Resource {
    Network(Network),
    Subnetwork(Subnetwork),
    Address(Address),
    GlobalAddress(GlobalAddress),
}

/// The collection a delete removes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Kind {
    Network,
    Subnetwork,
    Address,
    GlobalAddress,
}

/// What an operation does when it finishes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Effect {
    Insert(Resource),
    Update(Resource),
    /// The collection and the record's key.
    Delete(Kind, String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OperationError {
    code: String,
    message: String,
    http_status: u16,
    http_message: String,
}

impl OperationError {
    pub(super) fn new(
        code: &str,
        message: String,
        http_status: u16,
        http_message: &str,
    ) -> OperationError {
        OperationError {
            code: code.into(),
            message,
            http_status,
            http_message: http_message.into(),
        }
    }

    /// Another operation created the resource first.
    pub(super) fn exists(path: &str) -> OperationError {
        OperationError::new(
            "RESOURCE_ALREADY_EXISTS",
            format!("The resource '{path}' already exists"),
            409,
            "CONFLICT",
        )
    }

    /// The resource (or one it needs) went while the operation ran.
    pub(super) fn missing(path: &str) -> OperationError {
        OperationError::new(
            "RESOURCE_NOT_FOUND",
            format!("The resource '{path}' was not found"),
            404,
            "NOT FOUND",
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Operation {
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

impl Timed for Operation {
    fn ends_at_ms(&self) -> u64 {
        self.done_ms
    }

    fn settled(&self) -> bool {
        self.settled
    }

    fn sequence(&self) -> u64 {
        self.id
    }

    fn end_at(&mut self, ms: u64) {
        self.done_ms = ms;
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

/// Operations are keyed by project and name, whatever their scope.
fn operation_key(project: &str, name: &str) -> String {
    record_key(project, None, name)
}

fn new_operation_name(now: u64) -> String {
    format!("operation-{now}-{}", uuid::Uuid::new_v4().simple())
}

/// Applies, in finishing order, every operation whose delay has passed.
pub(crate) fn settle(world: &mut World, now: u64) {
    for key in due(&world.operations, now) {
        let Some(op) = world.operations.get(&key).cloned() else {
            continue;
        };
        let outcome = if op.inject_failure {
            Err(OperationError::new(
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
    match effect {
        Effect::Insert(record) => record.finish(world, Finished::Insert),
        Effect::Update(record) => record.finish(world, Finished::Update),
        Effect::Delete(kind, key) => kind.finish_delete(world, &key),
    }
}

// The two matches below are the one place that lists the collections an operation can carry.

impl Resource {
    fn finish(self, world: &mut World, write: Finished) -> Result<(), OperationError> {
        match self {
            Resource::Network(n) => finish_write(world, n, write),
            Resource::Subnetwork(s) => finish_write(world, s, write),
            Resource::Address(a) => finish_write(world, a, write),
            Resource::GlobalAddress(a) => finish_write(world, a, write),
        }
    }
}

impl Kind {
    fn finish_delete(self, world: &mut World, key: &str) -> Result<(), OperationError> {
        match self {
            Kind::Network => finish_delete::<Network>(world, key),
            Kind::Subnetwork => finish_delete::<Subnetwork>(world, key),
            Kind::Address => finish_delete::<Address>(world, key),
            Kind::GlobalAddress => finish_delete::<GlobalAddress>(world, key),
        }
    }
}

/// The effects of the operations still running.
pub(super) fn pending_effects(world: &World) -> impl Iterator<Item = &Effect> {
    world
        .operations
        .values()
        .filter(|op| !op.settled)
        .filter_map(|op| op.effect.as_ref())
}

/// An operation to start, carrying `effect`.
pub(super) struct NewOperation<'a> {
    pub project: &'a str,
    pub region: Option<&'a str>,
    pub operation_type: &'a str,
    pub target_link: String,
    pub target_id: u64,
    pub effect: Effect,
}

/// The operation a request with the same `requestId` already started: GCP answers a retried
/// write with it instead of failing (409) or acting twice. Checked before any validation.
pub(super) fn replay_request(held: &Held, project: &str, query: &Query) -> Option<Response> {
    let rid = query.get("requestId").filter(|r| !r.is_empty())?;
    let op = held
        .world
        .request_ids
        .get(&format!("{project}/{rid}"))
        .and_then(|k| held.world.operations.get(k))?;
    Some(ok(op.render(false)))
}

/// Starts an operation, honouring `requestId` (remembered for a retry) and a waiting
/// failed-operation fault, and answers with it `RUNNING`.
pub(super) fn start(held: &mut Held, query: &Query, new: NewOperation<'_>) -> Response {
    let now = now_ms();
    let done_ms = held.clock.ends_at(now);
    let failure = held.faults.take_operation_failure();
    let id = held.world.new_id();
    let name = new_operation_name(now);
    let op = Operation {
        name: name.clone(),
        id,
        project: new.project.into(),
        region: new.region.map(Into::into),
        operation_type: Some(new.operation_type.into()),
        target_link: Some(new.target_link),
        target_id: Some(new.target_id),
        insert_ms: now,
        done_ms,
        effect: Some(new.effect),
        settled: false,
        inject_failure: failure.is_some(),
        failure_code: failure.and_then(|f| f.code),
        bare: false,
        error: None,
    };
    let body = op.render(true);
    let key = operation_key(new.project, &name);
    if let Some(rid) = query.get("requestId").filter(|r| !r.is_empty()) {
        held.world
            .request_ids
            .insert(format!("{}/{rid}", new.project), key.clone());
    }
    held.world.operations.insert(key, op);
    ok(body)
}

/// Records an operation that was done when it was answered, as GCP's `setLabels` is: global,
/// without a target, progress 0.
pub(super) fn record_done(
    held: &mut Held,
    project: &str,
    region: &str,
    operation_type: &str,
) -> Value {
    let now = now_ms();
    let id = held.world.new_id();
    let op = Operation {
        name: new_operation_name(now),
        id,
        project: project.to_string(),
        region: Some(region.to_string()),
        operation_type: Some(operation_type.into()),
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
    held.world
        .operations
        .insert(operation_key(project, &op.name), op);
    body
}

/// The path parameters of an operation's routes; the region, where there is one, is ignored.
#[derive(Debug, Deserialize)]
struct OperationPlace {
    project: String,
    op: String,
}

pub(super) fn routes() -> Router<Arc<Cloud>> {
    let mut router = Router::new();
    for scope in ["global", "regions/{region}"] {
        let path = format!("/compute/v1/projects/{{project}}/{scope}/operations/{{op}}");
        router = router
            .route(&path, get(get_operation).delete(delete_operation))
            .route(&format!("{path}/wait"), post(wait_operation));
    }
    router
}

fn operation_not_found(project: &str, name: &str) -> ApiError {
    ApiError::not_found(&format!("projects/{project}/global/operations/{name}"))
}

/// Operations are looked up by name within the project whatever the scope in the path, so a
/// client that polls a regional operation through the global path (or the reverse) still finds it.
async fn get_operation(
    State(cloud): State<Arc<Cloud>>,
    Path(at): Path<OperationPlace>,
) -> ApiResult {
    let held = cloud.store.settled();
    held.world
        .operations
        .get(&operation_key(&at.project, &at.op))
        .map(|op| ok(op.render(false)))
        .ok_or_else(|| operation_not_found(&at.project, &at.op))
}

/// Deleting an operation only forgets the record; a running one still takes effect.
async fn delete_operation(
    State(cloud): State<Arc<Cloud>>,
    Path(at): Path<OperationPlace>,
) -> ApiResult {
    let mut held = cloud.store.settled();
    let key = operation_key(&at.project, &at.op);
    match held.world.operations.get(&key) {
        Some(o) if o.settled => {
            held.world.operations.remove(&key);
            Ok(ok(json!({})))
        }
        Some(_) => Ok(ok(json!({}))),
        None => Err(operation_not_found(&at.project, &at.op)),
    }
}

/// Blocks until the operation is done or two minutes have passed, then returns it.
async fn wait_operation(
    State(cloud): State<Arc<Cloud>>,
    Path(at): Path<OperationPlace>,
) -> ApiResult {
    let deadline = tokio::time::Instant::now() + MAX_WAIT;
    let key = operation_key(&at.project, &at.op);
    loop {
        let remaining = {
            let held = cloud.store.settled();
            let operation = held
                .world
                .operations
                .get(&key)
                .ok_or_else(|| operation_not_found(&at.project, &at.op))?;
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
