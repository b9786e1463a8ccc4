//! The local Google Cloud: Compute Engine networking (networks, subnetworks, addresses and their
//! long-running operations) and Cloud DNS (managed zones, record sets, changes), behaving as the
//! recordings in `tests/reference/gcp` show.
//!
//! Compute writes return a `compute#operation` that stays `RUNNING` for the operation delay; the
//! write takes effect when the operation is `DONE`. Nothing runs in the background: every request
//! first settles the operations whose time has come, in the order they finish, so the outcome
//! depends only on timestamps (and survives snapshot/restore). Cloud DNS is synchronous.
//!
//! Fault injection (`POST /_localcloud/gcp/faults`, or the methods on [`Cloud`]) makes the next
//! requests fail with 429 or 503, changes the operation delay, or makes the next operations finish
//! with an `error`. The `rate_limit` mode enforces Compute Engine's documented per-minute rate
//! quotas per project (see `QuotaGroup`), refusing with Compute's documented 403
//! `rateLimitExceeded`.

mod admin;
mod api_fields;
mod compute;
mod dns;
mod echo;
mod fields;
mod filter;
mod wire;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State as AxumState};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde::{Deserialize, Serialize};

use crate::core::faults::RequestFault;
use crate::core::rate_limit::Limit;
use crate::core::snapshot::SnapshotFormat;
use crate::core::store::{self, Store};
use crate::Options;
use wire::ApiError;

/// Snapshots are versioned since the Azure and GCP formats were made one; a snapshot saved
/// before that is the bare [`World`] and still loads.
const SNAPSHOT: SnapshotFormat = SnapshotFormat {
    cloud: "GCP",
    version: 1,
    reads_unversioned: true,
};

/// Everything the emulator holds, as saved by [`Cloud::snapshot`].
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct World {
    #[serde(default)]
    next_id: u64,
    #[serde(default)]
    networks: BTreeMap<String, compute::Network>,
    #[serde(default)]
    subnetworks: BTreeMap<String, compute::Subnetwork>,
    #[serde(default)]
    addresses: BTreeMap<String, compute::Address>,
    #[serde(default)]
    global_addresses: BTreeMap<String, compute::GlobalAddress>,
    #[serde(default)]
    operations: BTreeMap<String, compute::Operation>,
    /// `project/requestId` -> operation key, so a retried insert returns the first operation.
    #[serde(default)]
    request_ids: BTreeMap<String, String>,
    #[serde(default)]
    zones: BTreeMap<String, dns::Zone>,
    /// How many zones were ever created: picks each new zone's name-server set.
    #[serde(default)]
    zones_created: u64,
    /// Projects a request has named: each got its `default` network then.
    #[serde(default)]
    projects: compute::Projects,
}

impl World {
    fn new_id(&mut self) -> u64 {
        // Ids look like GCP's 19-digit numbers and never repeat, even across restore.
        self.next_id = self.next_id.max(1_000_000_000_000_000_000) + 1;
        self.next_id
    }
}

impl store::World for World {
    fn settle(&mut self, now: u64) {
        compute::settle(self, now);
    }
}

/// What a handler holds while it works: the world, the faults and the operation clock.
type Held = store::Held<World>;

/// The emulated Google Cloud.
pub struct Cloud {
    store: Store<World>,
}

impl Cloud {
    pub fn new(options: Options) -> Cloud {
        Cloud {
            store: Store::new(options.operation_delay, SNAPSHOT),
        }
    }

    /// The emulated objects and running operations as JSON (faults are not part of it).
    pub fn snapshot(&self) -> serde_json::Value {
        self.store.snapshot()
    }

    /// Replaces the objects with a snapshot's (versioned, or as saved before versioning);
    /// `null` means an empty cloud.
    pub fn restore(&self, snapshot: serde_json::Value) -> Result<(), String> {
        self.store.restore(snapshot)
    }

    /// Forgets every object and every pending fault.
    pub fn reset(&self) {
        self.store.reset();
    }

    /// Enforces (or stops enforcing) Compute Engine's documented rate quotas, per project and
    /// quota group (see `QuotaGroup`); Cloud DNS publishes no number and stays unlimited.
    pub fn set_rate_limit(&self, on: bool) {
        self.store.lock().faults.rate_limits =
            on.then(crate::core::rate_limit::RateLimits::default);
    }

    /// The next `count` Compute or DNS requests fail with 429 `rateLimitExceeded`.
    pub fn throttle(&self, count: u32) {
        self.store.lock().faults.set_throttle(count, None);
    }

    /// The next `count` Compute or DNS requests fail with 503 `backendError`.
    pub fn unavailable(&self, count: u32) {
        self.store.lock().faults.server_errors = count;
    }

    /// Operations started from now on stay `RUNNING` for `delay`.
    pub fn set_operation_delay(&self, delay: Duration) {
        self.store.lock().clock.set_delay(delay);
    }

    /// The next `count` operations finish `DONE` with an `error` and change nothing.
    pub fn fail_operations(&self, count: u32) {
        self.store.lock().faults.fail_operations = count;
    }
}

pub use echo::ApiFields;

/// The field tables generated from the discovery documents, one per resource served: what the
/// emulator echoes, and what tests hold its renderings to.
pub fn documented_fields() -> [&'static ApiFields; 5] {
    [
        &api_fields::NETWORK,
        &api_fields::SUBNETWORK,
        &api_fields::ADDRESS,
        &api_fields::MANAGED_ZONE,
        &api_fields::RESOURCE_RECORD_SET,
    ]
}

/// The routes of both services plus the admin API under `/_localcloud/gcp/`.
pub fn router(cloud: Arc<Cloud>) -> Router {
    let services = Router::new()
        .merge(compute::routes())
        .merge(dns::routes("v1"))
        .merge(dns::routes("v1beta2"))
        // Anything else under the services' prefixes gets a GCP 404 body rather than an empty
        // one, so a client sees an API error instead of a decoding failure.
        .route("/compute/v1/{*rest}", any(unknown_path))
        .route("/dns/v1/{*rest}", any(unknown_path))
        .route("/dns/v1beta2/{*rest}", any(unknown_path))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&cloud),
            new_projects,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&cloud),
            inject_faults,
        ));
    services.merge(admin::routes()).with_state(cloud)
}

async fn inject_faults(
    AxumState(cloud): AxumState<Arc<Cloud>>,
    req: Request,
    next: Next,
) -> Response {
    if let Some((project, group)) = compute_quota_group(req.method(), req.uri().path()) {
        let key = format!("{project}/{}", group.metric);
        let admitted = cloud
            .store
            .lock()
            .faults
            .rate_limits
            .as_mut()
            .is_none_or(|r| r.admit(&key, group.limit, crate::core::clock::now_ms()));
        if !admitted {
            return quota_exceeded(project, group).into_response();
        }
    }
    let fault = cloud.store.lock().faults.take_request_fault();
    let injected = fault.map(|fault| match fault {
        RequestFault::Throttled { .. } => ApiError {
            domain: "usageLimits",
            ..ApiError::new(429, "rateLimitExceeded", "Rate Limit Exceeded")
        },
        RequestFault::ServerError => {
            ApiError::new(503, "backendError", "The service is currently unavailable.")
        }
    });
    match injected {
        Some(err) if req.uri().path().starts_with("/dns/") => err.dns().into_response(),
        Some(err) => err.into_response(),
        None => next.run(req).await,
    }
}

/// One of Compute Engine's rate quota groups, as "Compute Engine rate quotas"
/// (https://cloud.google.com/compute/api-quota, also served as
/// https://cloud.google.com/compute/docs/api-rate-limits) lists them: every group allows
/// 1,500 requests a minute per project by default.
///
/// | group                   | methods                        | metric                                      | limit                                      |
/// |-------------------------|--------------------------------|---------------------------------------------|--------------------------------------------|
/// | Queries                 | mutations (insert, patch, ...) | `compute.googleapis.com/default`            | `defaultPerMinutePerProject`: 1,500/min    |
/// | Read requests           | `*.get`                        | `compute.googleapis.com/read_requests`      | `ReadRequestsPerMinutePerProject`: 1,500/min |
/// | List requests           | `*.list`, `*.aggregatedList`   | `compute.googleapis.com/list_requests`      | `ListRequestsPerMinutePerProject`: 1,500/min |
/// | Operation read requests | `*Operations.get` (and `wait`) | `compute.googleapis.com/operation_read_requests` | `OperationReadRequestsPerMinutePerProject`: 1,500/min |
///
/// Google enforces them per minute; here a per-minute quota is a token bucket holding the
/// minute's worth and refilled at a sixtieth of it a second (`Limit::per_minute`: 1,500, 25 a
/// second), so a burst of 1,500 passes and the sustained rate is the documented one. Regional
/// methods are metered per region in Google's newer ("simplified") metrics; the local cloud keeps
/// one bucket per project and group, the stricter reading. An operation's `wait` is a read of
/// the operation, as its `get` is.
///
/// A refusal is what the page documents: 403 with reason `rateLimitExceeded` (not the 429
/// `RESOURCE_EXHAUSTED` most other Google APIs answer a spent quota with), worded as Google's
/// quota system words it and with the `google.rpc.ErrorInfo` detail (`RATE_LIMIT_EXCEEDED`)
/// that names the metric and limit (see `quota_exceeded`).
///
/// Cloud DNS is not limited: its quota page (https://cloud.google.com/dns/quotas) names a
/// "Read limit for a minute for a region" for API requests but gives its value only in the
/// console, and no number here would be a documented one.
#[derive(Debug)]
struct QuotaGroup {
    /// The metric's display name, as the error message quotes it.
    name: &'static str,
    metric: &'static str,
    limit_name: &'static str,
    limit: Limit,
}

/// Each Compute quota group's default, per project.
const COMPUTE_PER_MINUTE: f64 = 1500.0;

const QUERIES: QuotaGroup = QuotaGroup {
    name: "Queries",
    metric: "compute.googleapis.com/default",
    limit_name: "defaultPerMinutePerProject",
    limit: Limit::per_minute(COMPUTE_PER_MINUTE),
};
const READ_REQUESTS: QuotaGroup = QuotaGroup {
    name: "Read requests",
    metric: "compute.googleapis.com/read_requests",
    limit_name: "ReadRequestsPerMinutePerProject",
    limit: Limit::per_minute(COMPUTE_PER_MINUTE),
};
const LIST_REQUESTS: QuotaGroup = QuotaGroup {
    name: "List requests",
    metric: "compute.googleapis.com/list_requests",
    limit_name: "ListRequestsPerMinutePerProject",
    limit: Limit::per_minute(COMPUTE_PER_MINUTE),
};
const OPERATION_READ_REQUESTS: QuotaGroup = QuotaGroup {
    name: "Operation read requests",
    metric: "compute.googleapis.com/operation_read_requests",
    limit_name: "OperationReadRequestsPerMinutePerProject",
    limit: Limit::per_minute(COMPUTE_PER_MINUTE),
};

/// The project a Compute request names and the quota group it draws from; `None` for anything
/// that is not a Compute project path (Cloud DNS, the admin API).
fn compute_quota_group<'p>(
    method: &axum::http::Method,
    path: &'p str,
) -> Option<(&'p str, &'static QuotaGroup)> {
    let rest = path.strip_prefix("/compute/v1/projects/")?;
    let mut segments = rest.split('/');
    let project = segments.next().filter(|p| !p.is_empty())?;
    let segments: Vec<&str> = segments.collect();
    let is_get = *method == axum::http::Method::GET;
    // `.../operations/{name}` and `.../operations/{name}/wait`.
    let operation = segments
        .iter()
        .position(|s| *s == "operations")
        .is_some_and(|i| segments.len() > i + 1);
    let group = if operation && (is_get || segments.last() == Some(&"wait")) {
        &OPERATION_READ_REQUESTS
    } else if !is_get {
        &QUERIES
    } else if segments.first() == Some(&"aggregated")
        || segments.last().is_some_and(|last| {
            ["networks", "subnetworks", "addresses", "operations"].contains(last)
        })
    {
        &LIST_REQUESTS
    } else {
        &READ_REQUESTS
    };
    Some((project, group))
}

/// GCP names the consumer of a quota by project number; the local cloud knows projects by id
/// only, so each id gets a stable 12-digit number of its own.
fn project_number(project: &str) -> u64 {
    let hash = project.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    100_000_000_000 + hash % 900_000_000_000
}

/// Compute's refusal of a request over a rate quota.
fn quota_exceeded(project: &str, group: &QuotaGroup) -> ApiError {
    let number = project_number(project);
    let message = format!(
        "Quota exceeded for quota metric '{}' and limit '{} per minute' of service 'compute.googleapis.com' for consumer 'project_number:{number}'.",
        group.name, group.name
    );
    let details = serde_json::json!([
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "RATE_LIMIT_EXCEEDED",
            "domain": "googleapis.com",
            "metadata": {
                "service": "compute.googleapis.com",
                "consumer": format!("projects/{number}"),
                "quota_metric": group.metric,
                "quota_limit": group.limit_name,
                "quota_limit_value": format!("{}", group.limit.capacity),
                "quota_location": "global",
                "quota_unit": "1/min/{project}",
            }
        },
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [{
                "description": "Request a higher quota limit.",
                "url": "https://cloud.google.com/docs/quotas/help/request_increase"
            }]
        }
    ]);
    ApiError {
        domain: "usageLimits",
        details: Some(Box::new(details)),
        ..ApiError::new(403, "rateLimitExceeded", message)
    }
}

/// A project's first Compute request finds the `default` network a new GCP project has.
async fn new_projects(
    AxumState(cloud): AxumState<Arc<Cloud>>,
    req: Request,
    next: Next,
) -> Response {
    let project = req
        .uri()
        .path()
        .strip_prefix("/compute/v1/projects/")
        .and_then(|rest| rest.split('/').next())
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    if let Some(project) = project {
        compute::ensure_project(&mut cloud.store.settled().world, &project);
    }
    next.run(req).await
}

async fn unknown_path(uri: axum::http::Uri) -> Response {
    let err = ApiError::new(
        404,
        "notFound",
        format!(
            "The requested URL {} was not found on this server (the local cloud does not emulate it).",
            uri.path()
        ),
    );
    if uri.path().starts_with("/dns/") {
        err.dns().into_response()
    } else {
        err.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_snapshot_saved_before_versioning_still_loads() {
        let cloud = Cloud::new(Options::default());
        let bare = json!({
            "nextId": 1_000_000_000_000_000_007u64,
            "networks": {"p/vpc": {
                "project": "p", "name": "vpc", "id": 1_000_000_000_000_000_007u64,
                "createdMs": 0, "description": null, "autoCreateSubnetworks": false,
                "routingMode": "REGIONAL", "mtu": null,
                "firewallPolicyEnforcementOrder": "AFTER_CLASSIC_FIREWALL"
            }},
            "zonesCreated": 2
        });
        cloud.restore(bare).unwrap();
        let snap = cloud.snapshot();
        assert_eq!(snap["version"], 1);
        assert_eq!(snap["state"]["networks"]["p/vpc"]["name"], "vpc");
        assert_eq!(snap["state"]["zonesCreated"], 2);
        // The versioned form reads back to the same objects.
        let again = Cloud::new(Options::default());
        again.restore(snap.clone()).unwrap();
        assert_eq!(again.snapshot(), snap);
        assert!(again.restore(json!({"version": 2, "state": {}})).is_err());
        assert!(again.restore(json!({"networks": 5})).is_err());
    }
}
