//! The emulated AWS: the EC2 Query API calls the EKS provider makes (`ec2`), Elastic Load
//! Balancing v2 (`elb`) and Route53 (`route53`), behaving as moto and AWS's documentation show
//! (XML bodies, error codes, request ids). SigV4 is accepted with any credentials: the service
//! and region are read from the `Authorization` header's credential scope.
//!
//! EC2 and ELBv2 share one path (`POST /`, form-encoded `Action` and `Version`); Route53 is REST
//! under `/2013-04-01/`. Fault injection, through the methods on [`Cloud`] or
//! `POST /_localcloud/aws/faults` (`admin`), makes the next
//! requests throttled (EC2 `RequestLimitExceeded` 503, ELBv2 and Route53 `Throttling` 400) or
//! fail with a server error, and NAT gateways stay `pending` for the operation delay.

mod admin;
mod ec2;
mod elb;
mod route53;
pub(crate) mod wire;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State as AxumState};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde::{Deserialize, Serialize};

use crate::core::faults::RequestFault;
use crate::core::rate_limit::{Limit, RateLimits};
use crate::core::snapshot::SnapshotFormat;
use crate::core::store::{self, Store};
use crate::Options;
use wire::{AwsError, Params, Protocol};

const SNAPSHOT: SnapshotFormat = SnapshotFormat {
    cloud: "AWS",
    version: 1,
    reads_unversioned: false,
};

/// Everything the emulator holds, as saved by [`Cloud::snapshot`].
#[derive(Debug, Default, Serialize, Deserialize)]
struct World {
    #[serde(default)]
    next_id: u64,
    #[serde(default)]
    ec2: ec2::Ec2,
    #[serde(default)]
    elb: elb::Elb,
    #[serde(default)]
    route53: route53::Route53,
}

impl World {
    /// A new AWS-looking id, `prefix-0` and 16 hex digits, never repeated.
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        let mixed = fnv1a(self.next_id);
        format!("{prefix}-0{mixed:016x}")
    }
}

fn fnv1a(n: u64) -> u64 {
    n.to_le_bytes().iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

impl store::World for World {
    fn settle(&mut self, now: u64) {
        ec2::settle(&mut self.ec2, now);
        route53::settle(&mut self.route53, now);
    }
}

/// What a handler holds while it works: the world, the faults and the operation clock.
type Held = store::Held<World>;

/// The emulated AWS.
pub struct Cloud {
    store: Store<World>,
}

impl Cloud {
    pub fn new(options: Options) -> Cloud {
        Cloud {
            store: Store::new(options.operation_delay, SNAPSHOT),
        }
    }

    /// The emulated objects as JSON (faults are not part of it).
    pub fn snapshot(&self) -> serde_json::Value {
        self.store.snapshot()
    }

    /// Replaces the objects with a snapshot's; `null` means an empty cloud.
    pub fn restore(&self, snapshot: serde_json::Value) -> Result<(), String> {
        self.store.restore(snapshot)
    }

    /// Forgets every object and every pending fault.
    pub fn reset(&self) {
        self.store.reset();
    }

    /// The next `count` requests are throttled.
    pub fn throttle(&self, count: u32) {
        self.store.lock().faults.set_throttle(count, None);
    }

    /// The next `count` requests fail with a server error.
    pub fn unavailable(&self, count: u32) {
        self.store.lock().faults.server_errors = count;
    }

    /// Enforces (or stops enforcing) the documented request rate limits of Route53 and EC2.
    pub fn set_rate_limit(&self, on: bool) {
        self.store.lock().faults.rate_limits = on.then(RateLimits::default);
    }

    /// NAT gateways (and Route53 changes) created from now on stay pending for `delay`.
    pub fn set_operation_delay(&self, delay: Duration) {
        self.store.lock().clock.set_delay(delay);
    }
}

/// The AWS service a request is signed for, from its SigV4 credential scope
/// (`Credential=AKID/20260101/eu-west-1/ec2/aws4_request`), and the region.
fn scope(headers: &HeaderMap) -> (String, String) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let credential = auth
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split([',', ' ']).next())
        .unwrap_or_default();
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [_, _, region, service, ..] => (service.to_string(), region.to_string()),
        _ => (String::new(), "us-east-1".to_string()),
    }
}

fn protocol_of(service: &str) -> Protocol {
    if service == "ec2" {
        Protocol::Ec2
    } else {
        Protocol::Query
    }
}

/// AWS's throttling answer: EC2's `RequestLimitExceeded`, the Query and REST APIs' `Throttling`.
fn throttled(protocol: Protocol) -> Response {
    if protocol == Protocol::Ec2 {
        AwsError::new(503, "RequestLimitExceeded", "Request limit exceeded.")
            .into_response(protocol)
    } else {
        AwsError::new(400, "Throttling", "Rate exceeded").into_response(protocol)
    }
}

/// The services, behind the fault injection, plus the admin API under `/_localcloud/aws/`.
pub fn router(cloud: Arc<Cloud>) -> Router {
    let services = Router::new()
        .route("/", post(query))
        .merge(route53::routes())
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&cloud),
            inject_faults,
        ));
    services.merge(admin::routes()).with_state(cloud)
}

/// `aws ec2 CreateVpc`: how the count of requests served names a Query request.
pub(crate) fn query_operation(body: &[u8]) -> String {
    let params = Params::parse(&String::from_utf8_lossy(body));
    let service = match params.get("Version") {
        Some(ec2::VERSION) => "ec2",
        Some(elb::VERSION) => "elbv2",
        _ => "query",
    };
    format!("aws {service} {}", params.get("Action").unwrap_or("?"))
}

/// `POST /`: an EC2 or ELBv2 Query action, told apart by its `Version`.
async fn query(
    AxumState(cloud): AxumState<Arc<Cloud>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let params = Params::parse(&body);
    let (_, region) = scope(&headers);
    let action = params.get("Action").unwrap_or_default().to_string();
    let mut held = cloud.store.settled();
    let held = &mut *held;
    match params.get("Version") {
        Some(ec2::VERSION) => ec2::handle(held, &action, &params, &region)
            .unwrap_or_else(|e| e.into_response(Protocol::Ec2)),
        Some(elb::VERSION) => elb::handle(held, &action, &params, &region)
            .unwrap_or_else(|e| e.into_response(Protocol::Query)),
        other => AwsError::client(
            "InvalidAction",
            format!(
                "The local AWS does not emulate API version {:?} (action {action})",
                other.unwrap_or("none")
            ),
        )
        .into_response(Protocol::Query),
    }
}

/// The documented limits: Route53 allows five requests a second per account; EC2 meters
/// mutating actions with a bucket of 200 refilled at 5 a second and the others with 100 at 20
/// ("Request throttling for the Amazon EC2 API"). ELBv2 documents no bucket and is not limited.
const ROUTE53: Limit = Limit {
    capacity: 5.0,
    refill_per_second: 5.0,
};
const EC2_MUTATING: Limit = Limit {
    capacity: 200.0,
    refill_per_second: 5.0,
};
const EC2_NON_MUTATING: Limit = Limit {
    capacity: 100.0,
    refill_per_second: 20.0,
};

/// The bucket a request draws from, if its API is limited.
fn rate_limited_api(path: &str, service: &str, body: &[u8]) -> Option<(&'static str, Limit)> {
    if path.starts_with("/2013-04-01/") {
        return Some(("route53", ROUTE53));
    }
    if service != "ec2" {
        return None;
    }
    let params = Params::parse(&String::from_utf8_lossy(body));
    let action = params.get("Action").unwrap_or_default();
    const MUTATING: [&str; 14] = [
        "Create",
        "Delete",
        "Modify",
        "Allocate",
        "Release",
        "Associate",
        "Disassociate",
        "Attach",
        "Detach",
        "Replace",
        "Authorize",
        "Revoke",
        "Run",
        "Terminate",
    ];
    if MUTATING.iter().any(|m| action.starts_with(m)) {
        Some(("ec2-mutating", EC2_MUTATING))
    } else {
        Some(("ec2-non-mutating", EC2_NON_MUTATING))
    }
}

async fn inject_faults(
    AxumState(cloud): AxumState<Arc<Cloud>>,
    req: Request,
    next: Next,
) -> Response {
    let (service, _) = scope(req.headers());
    let protocol = protocol_of(&service);
    let limited = cloud.store.lock().faults.rate_limits.is_some();
    let req = if limited {
        let path = req.uri().path().to_string();
        let (parts, body) = req.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, 16 << 20).await else {
            return AwsError::new(413, "RequestEntityTooLarge", "Request too large.")
                .into_response(protocol);
        };
        if let Some((api, limit)) = rate_limited_api(&path, &service, &bytes) {
            let mut held = cloud.store.lock();
            let admitted = held
                .faults
                .rate_limits
                .as_mut()
                .is_none_or(|r| r.admit(api, limit, crate::core::clock::now_ms()));
            if !admitted {
                drop(held);
                return throttled(protocol);
            }
        }
        Request::from_parts(parts, axum::body::Body::from(bytes))
    } else {
        req
    };
    let fault = cloud.store.lock().faults.take_request_fault();
    match fault {
        Some(RequestFault::Throttled { .. }) => throttled(protocol),
        Some(RequestFault::ServerError) => AwsError::new(
            500,
            "InternalError",
            "We encountered an internal error. Please try again.",
        )
        .into_response(protocol),
        None => next.run(req).await,
    }
}
