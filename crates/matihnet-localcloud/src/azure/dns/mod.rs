//! Azure DNS (`Microsoft.Network/dnsZones`, api-version 2018-05-01): synchronous zones and
//! record sets with plain-GUID etags and `If-Match` / `If-None-Match: *`, distinct name servers
//! per zone, the apex SOA and NS created with the zone, and an asynchronous zone delete.
//! Record-set errors use the DNS provider's unwrapped `{"code", "message"}` shape.
//!
//! `zones` and `record_sets` hold each half; this module dispatches and keeps the
//! preconditions and errors both use.

mod record_sets;
mod zones;

use axum::http::{Method, StatusCode};
use axum::response::Response;

use super::arm::{ArmError, Kind, Target};
use super::request::{method_not_allowed, Env, Req};
use super::resources::{self, ResourceAt};
use super::state::Resource;

pub(crate) fn handle(env: &mut Env, req: &Req) -> Result<Response, ArmError> {
    match &req.target {
        Target::Resource { sub, rg, name, .. } => {
            let at = ResourceAt::new(sub, rg, Kind::DnsZone, name);
            match req.method {
                Method::GET => resources::get(env, req, &at),
                Method::PUT => zones::put(env, req, &at),
                Method::PATCH => zones::patch(env, req, &at),
                Method::DELETE => zones::delete(env, req, &at),
                _ => Err(method_not_allowed(&req.method)),
            }
        }
        Target::RecordSets {
            sub,
            rg,
            zone,
            record_type,
        } => {
            if req.method != Method::GET {
                return Err(method_not_allowed(&req.method));
            }
            record_sets::list(env, req, sub, rg, zone, *record_type)
        }
        Target::RecordSet {
            sub,
            rg,
            zone,
            record_type,
            name,
        } => record_sets::handle(env, req, sub, rg, zone, record_type, name),
        _ => Err(ArmError::bad_request("BadRequest", "not a DNS path")),
    }
}

fn record_not_found(sub: &str, rg: &str, name: &str) -> ArmError {
    ArmError::dns(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("The resource record '{name}' does not exist in resource group '{rg}' of subscription '{sub}'."),
    )
}

fn zone_busy(name: &str) -> ArmError {
    ArmError::new(
        StatusCode::CONFLICT,
        "AnotherOperationInProgress",
        format!("The zone {name} is being deleted; another operation on it cannot start."),
    )
}

/// `If-Match: <etag>` (or `*`: must exist) and `If-None-Match: *` (must not exist), answered
/// with 412 `PreconditionFailed` as Azure DNS does.
fn preconditions(
    req: &Req,
    what: &str,
    name: &str,
    current: Option<&Resource>,
) -> Result<(), ArmError> {
    if let Some(want) = req.header("if-match") {
        let want = want.trim().trim_start_matches("W/").trim_matches('"');
        let ok = match current {
            Some(r) => want == "*" || want == r.etag,
            None => false,
        };
        if !ok {
            let message = match current {
                Some(_) => format!("The {what} {name} has been modified (etag mismatch)."),
                None => format!(
                    "The {what} {name} does not exist, so the If-Match condition cannot be met."
                ),
            };
            return Err(ArmError::dns(
                StatusCode::PRECONDITION_FAILED,
                "PreconditionFailed",
                message,
            ));
        }
    }
    if let Some(none) = req.header("if-none-match") {
        if none.trim() == "*" && current.is_some() {
            return Err(ArmError::dns(
                StatusCode::PRECONDITION_FAILED,
                "PreconditionFailed",
                format!("The {what} {name} already exists."),
            ));
        }
    }
    Ok(())
}
