//! The local ARM's admin API under `/_localcloud/azure/` (no token needed): `POST|GET|DELETE
//! faults` (throttle with `retry_after_seconds`, `server_error`, `fail_operations` with an
//! optional code and message, `operation_delay_ms`, `rate_limit`: ARM's documented token buckets
//! for reads, writes and deletes), `POST reset`, `POST finish-operations`,
//! `POST subnet-in-use` and `GET state`. The request and response shapes are this cloud's own;
//! the faults they set are the shared model in `core::faults`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::arm::{empty_response, json_response};
use super::{Cloud, MAX_BODY};

pub(super) async fn entry(State(cloud): State<Arc<Cloud>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return admin_error("body too large");
    };
    handle(&cloud, parts.method, parts.uri.path(), bytes)
}

fn handle(cloud: &Cloud, method: Method, path: &str, body: Bytes) -> Response {
    let action = path
        .trim_start_matches("/_localcloud/azure/")
        .trim_end_matches('/');
    let parsed: Result<Value, _> = if body.is_empty() {
        Ok(json!({}))
    } else {
        serde_json::from_slice(&body)
    };
    let Ok(args) = parsed else {
        return admin_error("the body is not JSON");
    };
    match (method, action) {
        (Method::POST, "faults") => match apply_faults(cloud, &args) {
            Ok(()) => json_response(StatusCode::OK, &faults_json(cloud)),
            Err(e) => admin_error(&e),
        },
        (Method::GET, "faults") => json_response(StatusCode::OK, &faults_json(cloud)),
        (Method::DELETE, "faults") => {
            cloud.clear_faults();
            json_response(StatusCode::OK, &faults_json(cloud))
        }
        (Method::POST, "reset") => {
            cloud.reset();
            empty_response(StatusCode::NO_CONTENT)
        }
        (Method::POST, "finish-operations") => {
            cloud.finish_operations();
            empty_response(StatusCode::NO_CONTENT)
        }
        (Method::GET, "state") => json_response(StatusCode::OK, &cloud.snapshot()),
        (Method::POST, "subnet-in-use") => {
            let Some(subnet) = args["subnet"].as_str() else {
                return admin_error(
                    "expected {\"subnet\": \"<subnet id>\", \"by\": \"<user id>\" | null}",
                );
            };
            let result = match args["by"].as_str() {
                Some(by) => cloud.mark_subnet_in_use(subnet, by),
                None => cloud.release_subnet(subnet),
            };
            match result {
                Ok(()) => empty_response(StatusCode::NO_CONTENT),
                Err(e) => admin_error(&e),
            }
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": format!("no admin endpoint {action}; try POST faults, DELETE faults, POST reset, POST finish-operations, POST subnet-in-use, GET state")}),
        ),
    }
}

fn apply_faults(cloud: &Cloud, args: &Value) -> Result<(), String> {
    let obj = args.as_object().ok_or("expected a JSON object")?;
    let count = |v: &Value, what: &str| -> Result<u32, String> {
        v["count"]
            .as_u64()
            .and_then(|c| u32::try_from(c).ok())
            .ok_or(format!("{what}.count must be a non-negative integer"))
    };
    for (k, v) in obj {
        match k.as_str() {
            "throttle" => {
                let n = count(v, "throttle")?;
                let secs = v["retry_after_seconds"].as_u64().unwrap_or(1);
                cloud.throttle(n, Duration::from_secs(secs));
            }
            "server_error" => cloud.server_errors(count(v, "server_error")?),
            "fail_operations" => {
                let n = count(v, "fail_operations")?;
                cloud.fail_operations(n);
                let mut held = cloud.store.lock();
                held.faults.failure_code = v["code"].as_str().map(str::to_string);
                held.faults.failure_message = v["message"].as_str().map(str::to_string);
            }
            "operation_delay_ms" => {
                let ms = v.as_u64().ok_or("operation_delay_ms must be a non-negative integer")?;
                cloud.set_operation_delay(Duration::from_millis(ms));
            }
            "rate_limit" => cloud.set_rate_limit(v.as_bool().ok_or("rate_limit must be true or false")?),
            other => {
                return Err(format!(
                    "unknown fault '{other}'; known: throttle, server_error, fail_operations, operation_delay_ms, rate_limit"
                ))
            }
        }
    }
    Ok(())
}

/// The faults waiting, in the shape this API has always answered with.
fn faults_json(cloud: &Cloud) -> Value {
    let held = cloud.store.lock();
    let f = &held.faults;
    json!({
        "throttle": f.throttle,
        "retry_after_seconds": f.retry_after_seconds,
        "server_errors": f.server_errors,
        "fail_operations": f.fail_operations,
        "failure_code": f.failure_code,
        "failure_message": f.failure_message,
        "operation_delay_ms": held.clock.delay_ms(),
        "rate_limit": f.rate_limits.is_some(),
        "rate_limited": f.rate_limits.as_ref().map_or(0, |r| r.throttled),
    })
}

fn admin_error(message: &str) -> Response {
    json_response(StatusCode::BAD_REQUEST, &json!({"error": message}))
}
