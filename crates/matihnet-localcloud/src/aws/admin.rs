//! The local AWS's admin API under `/_localcloud/aws/`: `POST faults` (throttle, unavailable,
//! operation delay: how long NAT gateways stay `pending` and Route53 changes `PENDING`; and
//! `rate_limit`, the documented request rates of Route53 and EC2),
//! `GET faults`, and `POST reset`. The faults are the shared model in `core::faults`; they are
//! served in each service's own error shape.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use super::Cloud;
use crate::core::http::json_response;

pub(super) fn routes() -> Router<Arc<Cloud>> {
    Router::new()
        .route("/_localcloud/aws/faults", post(set_faults).get(get_faults))
        .route("/_localcloud/aws/reset", post(reset))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
struct FaultRequest {
    throttle: Option<Count>,
    unavailable: Option<Count>,
    operation_delay_ms: Option<u64>,
    /// Enforce Route53's and EC2's documented request rates.
    rate_limit: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Count {
    count: u32,
}

fn answer(status: StatusCode, body: &Value) -> Response {
    json_response(status, body, "application/json")
}

async fn set_faults(State(cloud): State<Arc<Cloud>>, body: axum::body::Bytes) -> Response {
    let request: FaultRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return answer(
                StatusCode::BAD_REQUEST,
                &json!({"error": format!("bad fault request: {e}; write {{\"throttle\": {{\"count\": 2}}, \"unavailable\": {{\"count\": 1}}, \"operation_delay_ms\": 2000}}")}),
            )
        }
    };
    if let Some(c) = request.throttle {
        cloud.throttle(c.count);
    }
    if let Some(c) = request.unavailable {
        cloud.unavailable(c.count);
    }
    if let Some(ms) = request.operation_delay_ms {
        cloud.set_operation_delay(Duration::from_millis(ms));
    }
    if let Some(on) = request.rate_limit {
        cloud.set_rate_limit(on);
    }
    get_faults(State(cloud)).await
}

async fn get_faults(State(cloud): State<Arc<Cloud>>) -> Response {
    let held = cloud.store.lock();
    answer(
        StatusCode::OK,
        &json!({
            "throttle": {"count": held.faults.throttle},
            "unavailable": {"count": held.faults.server_errors},
            "operation_delay_ms": held.clock.delay_ms(),
            "rate_limit": held.faults.rate_limits.is_some(),
            "rate_limited": held.faults.rate_limits.as_ref().map_or(0, |r| r.throttled),
        }),
    )
}

async fn reset(State(cloud): State<Arc<Cloud>>) -> Response {
    cloud.reset();
    answer(StatusCode::OK, &json!({}))
}
