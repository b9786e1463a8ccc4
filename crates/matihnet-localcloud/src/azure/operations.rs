//! Polling ARM's long-running operations: `GET .../locations/{loc}/operations/{id}` (the
//! `Azure-AsyncOperation` status body) and `.../operationResults/{id}` (the `Location` answer:
//! 202 while running, 204 when done, the error when failed), and Azure DNS's own pair under the
//! zone's group, `.../dnsOperationStatuses/{id}` and `.../dnsOperationResults/{id}`, which answer
//! alike.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::arm::{empty_response, insert_header, json_response, ArmError, Target};
use super::request::{method_not_allowed, Env, Req};
use super::state::OpStatus;

pub(super) fn handle(env: &mut Env, req: &Req) -> Result<Response, ArmError> {
    let (sub, id, results, dns_group) = match &req.target {
        Target::Operation { sub, id, results } => (sub, id, results, None),
        Target::DnsOperation {
            sub,
            rg,
            id,
            results,
        } => (sub, id, results, Some(rg.as_str())),
        _ => return Err(ArmError::bad_request("BadRequest", "not an operation")),
    };
    let headers = |env: &Env, r: &mut Response, location: &str| match dns_group {
        Some(rg) => dns_lro_headers(env, r, req, sub, rg, id),
        None => env.lro_headers(r, req, sub, location, id, true),
    };
    if req.method != Method::GET {
        return Err(method_not_allowed(&req.method));
    }
    let found = env
        .state
        .operations
        .get(id)
        .filter(|op| op.sub.eq_ignore_ascii_case(sub))
        .map(|op| op.location.clone());
    let (Some(location), Some(status)) = (found, env.state.status(id, req.now)) else {
        return Err(not_found(id));
    };
    if *results {
        return Ok(match status {
            OpStatus::InProgress { .. } => {
                let mut r = empty_response(StatusCode::ACCEPTED);
                headers(env, &mut r, &location);
                r
            }
            OpStatus::Succeeded => {
                let mut r = empty_response(StatusCode::NO_CONTENT);
                headers(env, &mut r, &location);
                r
            }
            OpStatus::Failed(f) => {
                ArmError::new(StatusCode::INTERNAL_SERVER_ERROR, &f.code, f.message).into_response()
            }
        });
    }
    Ok(match status {
        OpStatus::InProgress { remaining_ms } => {
            let mut r = json_response(StatusCode::OK, &json!({"status": "InProgress"}));
            insert_header(
                &mut r,
                "retry-after-ms",
                &remaining_ms.clamp(10, 1000).to_string(),
            );
            r
        }
        OpStatus::Succeeded => json_response(StatusCode::OK, &json!({"status": "Succeeded"})),
        OpStatus::Failed(f) => json_response(
            StatusCode::OK,
            &json!({"status": "Failed", "error": {"code": f.code, "message": f.message}}),
        ),
    })
}

/// `Azure-AsyncOperation` and `Location` of an Azure DNS operation (a zone delete).
pub(super) fn dns_lro_headers(
    env: &Env,
    response: &mut Response,
    req: &Req,
    sub: &str,
    rg: &str,
    op: &str,
) {
    for (name, results) in [("azure-asyncoperation", false), ("location", true)] {
        insert_header(response, name, &req.dns_operation_url(sub, rg, op, results));
    }
    insert_header(response, "retry-after-ms", &env.retry_after_ms());
}

/// An operation id ARM does not know (or that belongs to another subscription).
pub(super) fn not_found(id: &str) -> ArmError {
    ArmError::new(
        StatusCode::NOT_FOUND,
        "OperationNotFound",
        format!("Operation {id} was not found."),
    )
}
