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
//! with an `error`.

mod cidr;
mod clock;
mod compute;
mod dns;
mod error;
mod filter;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Request, State as AxumState};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Options;
use error::ApiError;

/// Everything the emulator holds, as saved by [`Cloud::snapshot`].
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct World {
    #[serde(default)]
    next_id: u64,
    #[serde(default)]
    next_external_ip: u32,
    #[serde(default)]
    networks: BTreeMap<String, compute::Network>,
    #[serde(default)]
    subnetworks: BTreeMap<String, compute::Subnetwork>,
    #[serde(default)]
    addresses: BTreeMap<String, compute::Address>,
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
}

impl World {
    fn new_id(&mut self) -> u64 {
        // Ids look like GCP's 19-digit numbers and never repeat, even across restore.
        self.next_id = self.next_id.max(1_000_000_000_000_000_000) + 1;
        self.next_id
    }
}

/// Faults waiting to be injected; not part of the snapshot (they belong to a test run).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Faults {
    throttle: u32,
    unavailable: u32,
    fail_operations: u32,
    /// The error code failed operations end with (`INTERNAL_ERROR`, transient, by default).
    #[serde(default)]
    failure_code: Option<String>,
    /// Overrides `Options::operation_delay` when set.
    operation_delay_ms: Option<u64>,
}

struct Inner {
    world: World,
    faults: Faults,
}

/// The emulated Google Cloud.
pub struct Cloud {
    options: Options,
    inner: Mutex<Inner>,
}

impl Cloud {
    pub fn new(options: Options) -> Cloud {
        Cloud {
            options,
            inner: Mutex::new(Inner {
                world: World::default(),
                faults: Faults::default(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::to_value(&self.lock().world).unwrap_or(serde_json::Value::Null)
    }

    pub fn restore(&self, snapshot: serde_json::Value) -> Result<(), String> {
        let world = if snapshot.is_null() {
            World::default()
        } else {
            serde_json::from_value(snapshot).map_err(|e| format!("gcp: {e}"))?
        };
        self.lock().world = world;
        Ok(())
    }

    /// Forgets every object and every pending fault.
    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.world = World::default();
        inner.faults = Faults::default();
    }

    /// The next `count` Compute or DNS requests fail with 429 `rateLimitExceeded`.
    pub fn throttle(&self, count: u32) {
        self.lock().faults.throttle = count;
    }

    /// The next `count` Compute or DNS requests fail with 503 `backendError`.
    pub fn unavailable(&self, count: u32) {
        self.lock().faults.unavailable = count;
    }

    /// Operations started from now on stay `RUNNING` for `delay`.
    pub fn set_operation_delay(&self, delay: Duration) {
        self.lock().faults.operation_delay_ms =
            Some(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX));
    }

    /// The next `count` operations finish `DONE` with an `error` and change nothing.
    pub fn fail_operations(&self, count: u32) {
        self.lock().faults.fail_operations = count;
    }

    fn operation_delay_ms(&self, faults: &Faults) -> u64 {
        faults.operation_delay_ms.unwrap_or_else(|| {
            u64::try_from(self.options.operation_delay.as_millis()).unwrap_or(u64::MAX)
        })
    }
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
            inject_faults,
        ));
    let admin = Router::new()
        .route("/_localcloud/gcp/faults", post(set_faults).get(get_faults))
        .route("/_localcloud/gcp/reset", post(reset));
    services.merge(admin).with_state(cloud)
}

async fn inject_faults(
    AxumState(cloud): AxumState<Arc<Cloud>>,
    req: Request,
    next: Next,
) -> Response {
    let injected = {
        let mut inner = cloud.lock();
        if inner.faults.throttle > 0 {
            inner.faults.throttle -= 1;
            Some(ApiError {
                domain: "usageLimits",
                ..ApiError::new(429, "rateLimitExceeded", "Rate Limit Exceeded")
            })
        } else if inner.faults.unavailable > 0 {
            inner.faults.unavailable -= 1;
            Some(ApiError::new(
                503,
                "backendError",
                "The service is currently unavailable.",
            ))
        } else {
            None
        }
    };
    match injected {
        Some(err) if req.uri().path().starts_with("/dns/") => err.dns().into_response(),
        Some(err) => err.into_response(),
        None => next.run(req).await,
    }
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

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
struct FaultRequest {
    throttle: Option<Count>,
    unavailable: Option<Count>,
    fail_operations: Option<FailOperations>,
    operation_delay_ms: Option<u64>,
}

/// A count, and for `fail_operations` the error code to end with.
#[derive(Debug, Default, Deserialize)]
struct FailOperations {
    count: u32,
    code: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Count {
    count: u32,
}

async fn set_faults(AxumState(cloud): AxumState<Arc<Cloud>>, body: axum::body::Bytes) -> Response {
    let request: FaultRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return ApiError::invalid(format!("bad fault request: {e}")).into_response(),
    };
    if let Some(c) = request.throttle {
        cloud.throttle(c.count);
    }
    if let Some(c) = request.unavailable {
        cloud.unavailable(c.count);
    }
    if let Some(c) = request.fail_operations {
        cloud.fail_operations(c.count);
        cloud.lock().faults.failure_code = c.code;
    }
    if let Some(ms) = request.operation_delay_ms {
        cloud.set_operation_delay(Duration::from_millis(ms));
    }
    get_faults(AxumState(cloud)).await
}

async fn get_faults(AxumState(cloud): AxumState<Arc<Cloud>>) -> Response {
    let inner = cloud.lock();
    let delay = cloud.operation_delay_ms(&inner.faults);
    error::ok(json!({
        "throttle": {"count": inner.faults.throttle},
        "unavailable": {"count": inner.faults.unavailable},
        "fail_operations": {"count": inner.faults.fail_operations},
        "operation_delay_ms": delay,
    }))
}

async fn reset(AxumState(cloud): AxumState<Arc<Cloud>>) -> Response {
    cloud.reset();
    error::ok(json!({}))
}

/// The decoded query string; unknown parameters (`alt`, `prettyPrint`, `$alt=json;enum-encoding=int`)
/// are kept but ignored by the handlers.
#[derive(Debug, Default)]
struct Query(BTreeMap<String, String>);

impl Query {
    fn parse(raw: Option<&str>) -> Query {
        let mut map = BTreeMap::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            map.insert(percent_decode(k), percent_decode(v));
        }
        Query(map)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'+' {
            out.push(b' ');
        } else if b == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 2;
            } else {
                out.push(b);
            }
        } else {
            out.push(b);
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = Query::parse(Some(
            "alt=json&filter=name+eq+%22a%5Cb%22&%24alt=json%3Benum-encoding%3Dint&x",
        ));
        assert_eq!(q.get("filter"), Some("name eq \"a\\b\""));
        assert_eq!(q.get("$alt"), Some("json;enum-encoding=int"));
        assert_eq!(q.get("x"), Some(""));
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
    }
}
