//! The local Azure Resource Manager: resource groups, `Microsoft.Network` virtual networks with
//! subnets, public IP addresses and DNS zones with record sets, behaving as the recordings in
//! `tests/reference/azure` show (long-running PUT/DELETE with `Azure-AsyncOperation` and
//! `Location`, synchronous DNS with etags, ARM error bodies, bearer tokens, `api-version`).
//!
//! Admin endpoints under `/_localcloud/azure/` (no token needed, see `admin`) inject faults,
//! reset the cloud, finish running operations and mark subnets as in use; the same exist as
//! methods on [`Cloud`].
//!
//! A request is checked (token, `api-version`, injected faults), its path parsed into a
//! `Target` (`arm`), and handed to the module of its resource type: `groups`, `resources` (what
//! every tracked resource type shares), `network`, `dns`, or `operations` for polling.

mod admin;
mod arm;
mod dns;
mod groups;
mod network;
mod operations;
mod request;
mod resources;
mod state;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::any;
use axum::Router;

use crate::core::clock::now_ms;
use crate::core::faults::{Faults, RequestFault};
use crate::core::rate_limit::Limit;
use crate::core::snapshot::SnapshotFormat;
use crate::core::store::Store;
use crate::Options;
use arm::{parse_path, ArmError, PathError, Target};
use request::{Env, Req};
use state::{key, new_guid};

/// Requests larger than this are refused; ARM's own limit is 4 MB.
const MAX_BODY: usize = 4 * 1024 * 1024;

const SNAPSHOT: SnapshotFormat = SnapshotFormat {
    cloud: "Azure",
    version: 1,
    reads_unversioned: false,
};

/// The emulated Azure subscription(s): every subscription id is accepted.
pub struct Cloud {
    store: Store<state::State>,
}

/// ARM's token buckets per subscription and region, from "Understand how Azure Resource
/// Manager throttles requests"
/// (https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling):
/// reads 250 refilled at 25 a second, writes and deletes 200 at 10 a second. The local ARM has one
/// region and keeps one set of buckets for all its subscriptions.
const ARM_READS: Limit = Limit {
    capacity: 250.0,
    refill_per_second: 25.0,
};
const ARM_WRITES: Limit = Limit {
    capacity: 200.0,
    refill_per_second: 10.0,
};
const ARM_DELETES: Limit = Limit {
    capacity: 200.0,
    refill_per_second: 10.0,
};

/// The bucket a request draws from; polls of operations are reads, as ARM counts them.
fn arm_bucket(method: &Method) -> (&'static str, Limit) {
    match *method {
        Method::GET | Method::HEAD => ("arm-reads", ARM_READS),
        Method::DELETE => ("arm-deletes", ARM_DELETES),
        _ => ("arm-writes", ARM_WRITES),
    }
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

    /// Replaces the objects with a snapshot's; `null` means an empty cloud.
    pub fn restore(&self, snapshot: serde_json::Value) -> Result<(), String> {
        self.store.restore(snapshot)
    }

    /// The next `count` ARM requests answer 429 with `Retry-After`.
    pub fn throttle(&self, count: u32, retry_after: Duration) {
        self.store
            .lock()
            .faults
            .set_throttle(count, Some(retry_after));
    }

    /// Enforces (or stops enforcing) ARM's documented request rates per subscription.
    pub fn set_rate_limit(&self, on: bool) {
        self.store.lock().faults.rate_limits =
            on.then(crate::core::rate_limit::RateLimits::default);
    }

    /// The next `count` ARM requests answer 500 `InternalServerError`.
    pub fn server_errors(&self, count: u32) {
        self.store.lock().faults.server_errors = count;
    }

    /// The next `count` long-running operations end `Failed`.
    pub fn fail_operations(&self, count: u32) {
        let mut held = self.store.lock();
        held.faults.fail_operations = count;
        held.faults.failure_code = None;
        held.faults.failure_message = None;
    }

    /// How long operations started from now on stay `InProgress`.
    pub fn set_operation_delay(&self, delay: Duration) {
        self.store.lock().clock.set_delay(delay);
    }

    /// Forgets pending faults; the operation delay stays as set.
    pub fn clear_faults(&self) {
        self.store.lock().faults = Faults::default();
    }

    /// An empty cloud with no faults and the operation delay it was created with.
    pub fn reset(&self) {
        self.store.reset();
    }

    /// Ends every running operation now, as if its delay had passed.
    pub fn finish_operations(&self) {
        self.store.lock().world.finish_all(now_ms());
    }

    /// Records that `by` (for example a NIC's ip configuration id) uses the subnet, so that
    /// deleting it or its VNet fails with `InUseSubnetCannotBeDeleted`.
    pub fn mark_subnet_in_use(&self, subnet_id: &str, by: &str) -> Result<(), String> {
        let mut held = self.store.settled();
        let subnet = subnet_mut(&mut held.world, subnet_id)?;
        if !subnet.used_by.iter().any(|u| u.eq_ignore_ascii_case(by)) {
            subnet.used_by.push(by.to_string());
        }
        Ok(())
    }

    /// Forgets every user of the subnet.
    pub fn release_subnet(&self, subnet_id: &str) -> Result<(), String> {
        let mut held = self.store.settled();
        subnet_mut(&mut held.world, subnet_id)?.used_by.clear();
        Ok(())
    }

    fn handle_arm(
        &self,
        method: Method,
        uri: &axum::http::Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        let path = uri.path();
        if !request::authorized(&headers) {
            return ArmError::new(
                StatusCode::UNAUTHORIZED,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing or is not a bearer token.",
            )
            .with_header(
                "www-authenticate",
                "Bearer authorization_uri=\"https://login.microsoftonline.com/common\", error=\"invalid_token\", error_description=\"The authentication failed because of missing 'Authorization' header.\"".into(),
            )
            .into_response();
        }
        let Some(api_version) = request::query_param(uri.query().unwrap_or(""), "api-version")
        else {
            return ArmError::bad_request(
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
            .into_response();
        };
        if !request::valid_api_version(&api_version) {
            return ArmError::bad_request(
                "InvalidApiVersionParameter",
                format!("The api-version '{api_version}' is invalid. The supported versions are dates like '2024-03-01'."),
            )
            .into_response();
        }
        let now = now_ms();
        let mut held = self.store.settled_at(now);
        let (bucket, limit) = arm_bucket(&method);
        let admitted = held
            .faults
            .rate_limits
            .as_mut()
            .is_none_or(|r| r.admit(bucket, limit, now));
        if !admitted {
            // ARM's answer to an empty bucket: wait for one token to come back.
            let secs = (1.0 / limit.refill_per_second).ceil().max(1.0) as u64;
            let kind = bucket.trim_start_matches("arm-").trim_end_matches('s');
            return ArmError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "SubscriptionRequestsThrottled",
                format!("Number of '{kind}' requests for subscription exceeded. Please try again after '{secs}' seconds after additional tries."),
            )
            .with_header("retry-after", secs.to_string())
            .into_response();
        }
        match held.faults.take_request_fault() {
            Some(RequestFault::Throttled {
                retry_after_seconds: secs,
            }) => {
                let kind = if method == Method::GET || method == Method::HEAD {
                    "read"
                } else {
                    "write"
                };
                return ArmError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "SubscriptionRequestsThrottled",
                    format!("Number of '{kind}' requests for subscription exceeded. Please try again after '{secs}' seconds after additional tries."),
                )
                .with_header("retry-after", secs.to_string())
                .into_response();
            }
            Some(RequestFault::ServerError) => {
                return ArmError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerError",
                    format!("Encountered internal server error. Diagnostic information: timestamp '{now}', correlation '{}'.", new_guid()),
                )
                .into_response();
            }
            None => {}
        }
        let target = match parse_path(path) {
            Ok(t) => t,
            Err(PathError::UnknownType(t)) => {
                return ArmError::bad_request(
                    "InvalidResourceType",
                    format!("The resource type '{t}' could not be found in the namespace 'Microsoft.Network' for api version '{api_version}'."),
                )
                .into_response()
            }
            Err(PathError::NotFound) => {
                return ArmError::new(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    format!("No HTTP resource was found that matches the request URI '{path}'."),
                )
                .into_response()
            }
        };
        let record_type = match &target {
            Target::RecordSet { record_type, .. } => Some(*record_type),
            Target::RecordSets { record_type, .. } => *record_type,
            _ => None,
        };
        if let Some(t) = record_type.filter(|t| !arm::record_type_in_api(t, &api_version)) {
            return ArmError::bad_request(
                "InvalidResourceType",
                format!("The resource type 'dnsZones/{t}' could not be found in the namespace 'Microsoft.Network' for api version '{api_version}'."),
            )
            .into_response();
        }
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost")
            .to_string();
        let held = &mut *held;
        let mut env = Env {
            state: &mut held.world,
            faults: &mut held.faults,
            clock: &held.clock,
        };
        let req = Req {
            method,
            target,
            host,
            api_version,
            query: uri.query().unwrap_or("").to_string(),
            headers,
            body,
            now,
        };
        let result = match &req.target {
            Target::Groups { .. }
            | Target::Group { .. }
            | Target::GroupResources { .. }
            | Target::GroupOperation { .. } => groups::handle(&mut env, &req),
            Target::Operation { .. } => operations::handle(&mut env, &req),
            Target::Collection { sub, rg, kind } => {
                resources::list_collection(&env, &req, sub, rg, *kind)
            }
            Target::SubscriptionCollection { sub, kind } => {
                resources::list_subscription(&env, &req, sub, *kind)
            }
            Target::DnsOperation { .. } => operations::handle(&mut env, &req),
            Target::Catalog { .. } | Target::IpAvailability { .. } => {
                network::handle(&mut env, &req)
            }
            Target::RecordSets { .. } | Target::RecordSet { .. } => dns::handle(&mut env, &req),
            Target::Resource { kind, .. } if *kind == arm::Kind::DnsZone => {
                dns::handle(&mut env, &req)
            }
            _ => network::handle(&mut env, &req),
        };
        result.unwrap_or_else(ArmError::into_response)
    }
}

fn subnet_mut<'a>(
    state: &'a mut state::State,
    subnet_id: &str,
) -> Result<&'a mut state::Resource, String> {
    match state
        .resources
        .get_mut(&key(subnet_id.trim_end_matches('/')))
    {
        Some(r) if r.kind == arm::Kind::Subnet => Ok(r),
        _ => Err(format!("no subnet {subnet_id}")),
    }
}

async fn arm_entry(AxumState(cloud): AxumState<Arc<Cloud>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return ArmError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "The request content is larger than 4 MB.",
        )
        .into_response();
    };
    let mut headers = parts.headers;
    // HTTP/2 and some clients carry the authority in the URI instead of a Host header.
    if !headers.contains_key("host") {
        if let Some(authority) = parts.uri.authority() {
            if let Ok(v) = authority.as_str().parse() {
                headers.insert("host", v);
            }
        }
    }
    cloud.handle_arm(parts.method, &parts.uri, headers, bytes)
}

/// ARM paths (`/subscriptions/...` in the casings clients send) and `/_localcloud/azure/...`.
pub fn router(cloud: Arc<Cloud>) -> Router {
    Router::new()
        .route("/subscriptions/{*rest}", any(arm_entry))
        .route("/Subscriptions/{*rest}", any(arm_entry))
        .route("/SUBSCRIPTIONS/{*rest}", any(arm_entry))
        .route("/_localcloud/azure/{*action}", any(admin::entry))
        .with_state(cloud)
}
