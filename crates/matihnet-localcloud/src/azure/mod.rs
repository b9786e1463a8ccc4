//! The local Azure Resource Manager: resource groups, `Microsoft.Network` virtual networks with
//! subnets, public IP addresses and DNS zones with record sets, behaving as the recordings in
//! `tests/reference/azure` show (long-running PUT/DELETE with `Azure-AsyncOperation` and
//! `Location`, synchronous DNS with etags, ARM error bodies, bearer tokens, `api-version`).
//!
//! Admin endpoints under `/_localcloud/azure/` (no token needed, see `admin`) inject faults,
//! reset the cloud, finish running operations and mark subnets as in use; the same exist as
//! methods on [`Cloud`]. One of the faults is a mode: `rate_limit` enforces ARM's documented
//! token buckets per subscription (reads, writes, deletes; see `ARM_READS`) with ARM's own 429.
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
use crate::core::rate_limit::{Admission, Limit};
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

/// ARM's throttling, from "Understand how Azure Resource Manager throttles requests"
/// (https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling).
/// Since 2024 ARM meters subscription-level requests with token buckets per subscription, per
/// region, per security principal and per kind of request:
///
/// | kind    | bucket size | refill per second |
/// |---------|-------------|-------------------|
/// | reads   | 250         | 25                |
/// | writes  | 200         | 10                |
/// | deletes | 200         | 10                |
///
/// (tenant-level requests have the same numbers; the local ARM serves none). Before that the
/// limits were per hour and per ARM instance: 12,000 reads, 1,200 writes and 15,000 deletes per
/// subscription; those are not enforced here, the buckets replaced them.
///
/// The local ARM keeps one set of buckets per subscription: the region a request is metered in
/// is not always in its path (a resource group's is only in its body, an operation's only in its
/// URL), and every bearer token is accepted, so there is one principal. GET and HEAD are reads,
/// polls of long-running operations included, as ARM counts them; DELETE is a delete; PUT,
/// PATCH and POST are writes. A request that finds its bucket empty gets ARM's 429
/// `SubscriptionRequestsThrottled` with `Retry-After` (whole seconds until a token is back);
/// every other answer carries the bucket's remaining tokens in
/// `x-ms-ratelimit-remaining-subscription-reads` / `-writes` / `-deletes`, as ARM's do.
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

/// The kinds of request ARM meters separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RequestKind {
    Read,
    Write,
    Delete,
}

impl RequestKind {
    fn of(method: &Method) -> RequestKind {
        match *method {
            Method::GET | Method::HEAD => RequestKind::Read,
            Method::DELETE => RequestKind::Delete,
            _ => RequestKind::Write,
        }
    }

    fn limit(self) -> Limit {
        match self {
            RequestKind::Read => ARM_READS,
            RequestKind::Write => ARM_WRITES,
            RequestKind::Delete => ARM_DELETES,
        }
    }

    /// The word ARM's throttling message uses.
    fn word(self) -> &'static str {
        match self {
            RequestKind::Read => "read",
            RequestKind::Write => "write",
            RequestKind::Delete => "delete",
        }
    }

    fn remaining_header(self) -> &'static str {
        match self {
            RequestKind::Read => "x-ms-ratelimit-remaining-subscription-reads",
            RequestKind::Write => "x-ms-ratelimit-remaining-subscription-writes",
            RequestKind::Delete => "x-ms-ratelimit-remaining-subscription-deletes",
        }
    }
}

/// The subscription a path names (`/subscriptions/{id}/...` in any casing), lower-cased: ARM
/// treats subscription ids case-insensitively, so `ABC` and `abc` share their buckets.
fn subscription_of(path: &str) -> String {
    path.trim_start_matches('/')
        .split('/')
        .nth(1)
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// ARM names the principal whose bucket ran dry; any token is accepted here, so one actor stands
/// for every caller.
const ACTOR: &str = "00000000-0000-0000-0000-000000000000";

/// ARM's answer to an empty bucket, in the words it uses since the token buckets.
fn rate_limited(kind: RequestKind, subscription: &str, retry_after_seconds: u64) -> Response {
    let word = kind.word();
    ArmError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "SubscriptionRequestsThrottled",
        format!("Number of '{word}' requests for subscription '{subscription}' actor '{ACTOR}' exceeded. Please try again after '{retry_after_seconds}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information."),
    )
    .with_header("retry-after", retry_after_seconds.to_string())
    .into_response()
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
        let kind = RequestKind::of(&method);
        let admission = held.faults.rate_limits.as_mut().map(|r| {
            let subscription = subscription_of(path);
            let key = format!("{subscription}/{}", kind.word());
            (subscription, r.take(&key, kind.limit(), now))
        });
        let remaining = match admission {
            None => None,
            Some((_, Admission::Admitted { remaining })) => Some(remaining),
            Some((
                subscription,
                Admission::Throttled {
                    retry_after_seconds,
                },
            )) => {
                return rate_limited(kind, &subscription, retry_after_seconds);
            }
        };
        let mut response =
            Cloud::serve_admitted(&mut held, now, method, uri, api_version, headers, body);
        if let Some(left) = remaining {
            response
                .headers_mut()
                .insert(kind.remaining_header(), axum::http::HeaderValue::from(left));
        }
        response
    }

    /// A request the rate limits let through: the injected faults, then the resource handlers.
    fn serve_admitted(
        held: &mut crate::core::store::Held<state::State>,
        now: u64,
        method: Method,
        uri: &axum::http::Uri,
        api_version: String,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        let path = uri.path();
        match held.faults.take_request_fault() {
            Some(RequestFault::Throttled {
                retry_after_seconds: secs,
            }) => {
                let kind = RequestKind::of(&method).word();
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
