//! The local Google Cloud's admin API under `/_localcloud/gcp/`: `POST faults` (throttle,
//! unavailable, failed operations with an optional code, operation delay, `rate_limit`: Compute
//! Engine's documented rate quotas), `GET faults`, and
//! `POST reset`. The request and response shapes are this cloud's own; the faults they set are
//! the shared model in `core::faults`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use super::wire::{self, ApiError};
use super::Cloud;

pub(super) fn routes() -> Router<Arc<Cloud>> {
    Router::new()
        .route("/_localcloud/gcp/faults", post(set_faults).get(get_faults))
        .route("/_localcloud/gcp/reset", post(reset))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
struct FaultRequest {
    throttle: Option<Count>,
    unavailable: Option<Count>,
    fail_operations: Option<FailOperations>,
    operation_delay_ms: Option<u64>,
    /// Enforce Compute Engine's documented rate quotas.
    rate_limit: Option<bool>,
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

async fn set_faults(State(cloud): State<Arc<Cloud>>, body: axum::body::Bytes) -> Response {
    let request: FaultRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return ApiError::invalid(format!("bad fault request: {e}")).into_response(),
    };
    if let Some(c) = request.throttle {
        cloud.throttle(c.count);
    }
    if let Some(on) = request.rate_limit {
        cloud.set_rate_limit(on);
    }
    if let Some(c) = request.unavailable {
        cloud.unavailable(c.count);
    }
    if let Some(c) = request.fail_operations {
        cloud.fail_operations(c.count);
        cloud.store.lock().faults.failure_code = c.code;
    }
    if let Some(ms) = request.operation_delay_ms {
        cloud.set_operation_delay(Duration::from_millis(ms));
    }
    get_faults(State(cloud)).await
}

async fn get_faults(State(cloud): State<Arc<Cloud>>) -> Response {
    let held = cloud.store.lock();
    wire::ok(json!({
        "throttle": {"count": held.faults.throttle},
        "unavailable": {"count": held.faults.server_errors},
        "fail_operations": {"count": held.faults.fail_operations},
        "operation_delay_ms": held.clock.delay_ms(),
        "rate_limit": held.faults.rate_limits.is_some(),
        "rate_limited": held.faults.rate_limits.as_ref().map_or(0, |r| r.throttled),
    }))
}

async fn reset(State(cloud): State<Arc<Cloud>>) -> Response {
    cloud.reset();
    wire::ok(json!({}))
}
