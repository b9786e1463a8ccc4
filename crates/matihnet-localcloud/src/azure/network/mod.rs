//! `Microsoft.Network` virtual networks (with subnets, inline or as child resources) and public
//! IP addresses: long-running PUT and DELETE, the network resource provider's address-prefix
//! validation (`prefixes`), and the "subnet in use" refusals.
//!
//! This module dispatches and keeps what the three types share: how a PUT starts and finishes,
//! tag updates, and deletes; `vnets`, `subnets` and `public_ips` hold what each PUT stores.

mod catalog;
mod ip_availability;
mod prefixes;
mod public_ips;
mod subnets;
mod vnets;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::arm::{empty_response, json_response, ArmError, Kind, Target};
use super::groups::{self, resource_id};
use super::request::{method_not_allowed, normalize_location, Env, Req};
use super::resources::{self, get_response, ResourceAt};
use super::state::{group_key, new_guid, Provisioning, Resource};

pub(crate) fn handle(env: &mut Env, req: &Req) -> Result<Response, ArmError> {
    match &req.target {
        Target::Resource {
            sub,
            rg,
            kind,
            name,
        } => {
            let at = ResourceAt::new(sub, rg, *kind, name);
            match req.method {
                Method::GET => resources::get(env, req, &at),
                Method::PUT => {
                    let put = Put::begin(env, req, &at)?;
                    match at.kind {
                        Kind::VirtualNetwork => vnets::put(env, req, put),
                        _ => public_ips::put(env, req, put),
                    }
                }
                Method::PATCH => patch_tags(env, req, &at),
                Method::DELETE => delete(env, req, sub, rg, &at.k),
                _ => Err(method_not_allowed(&req.method)),
            }
        }
        Target::Subnets { .. } | Target::Subnet { .. } => subnets::handle(env, req),
        Target::Catalog { sub, rg, what, .. } => catalog::list(req, sub, rg.as_deref(), *what),
        Target::IpAvailability { sub, rg, vnet } => ip_availability::check(env, req, sub, rg, vnet),
        _ => Err(ArmError::bad_request("BadRequest", "not a network path")),
    }
}

fn another_operation(req: &Req, env: &Env, op: &str) -> ArmError {
    let (sub, location) = env
        .state
        .operations
        .get(op)
        .map(|o| (o.sub.clone(), o.location.clone()))
        .unwrap_or_default();
    ArmError::new(
        StatusCode::CONFLICT,
        "AnotherOperationInProgress",
        format!(
            "Another operation on this or dependent resource is in progress. To retrieve status of the operation use uri: {}",
            req.operation_url(&sub, &location, op, false)
        ),
    )
}

/// A subnet that something uses cannot be deleted, nor have its prefix changed.
fn in_use(subnet: &Resource) -> ArmError {
    subnet_in_use(subnet, "InUseSubnetCannotBeDeleted", "cannot be deleted. In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet.")
}

fn in_use_update(subnet: &Resource) -> ArmError {
    subnet_in_use(
        subnet,
        "InUseSubnetCannotBeUpdated",
        "its address prefix cannot be updated.",
    )
}

fn subnet_in_use(subnet: &Resource, code: &str, consequence: &str) -> ArmError {
    ArmError::bad_request(
        code,
        format!(
            "Subnet {} is in use by {} and {consequence}",
            subnet.body["name"].as_str().unwrap_or_default(),
            subnet.used_by.join(", ")
        ),
    )
}

fn location_of(body: &Value, existing: Option<&Resource>) -> Result<String, ArmError> {
    let requested = body["location"].as_str().map(normalize_location);
    match (requested, existing) {
        (None, None) => Err(ArmError::bad_request(
            "LocationRequired",
            "The location property is required for this definition.",
        )),
        (None, Some(r)) => Ok(r.body["location"].as_str().unwrap_or_default().to_string()),
        (Some(loc), Some(r)) if Some(loc.as_str()) != r.body["location"].as_str() => {
            Err(ArmError::bad_request(
                "InvalidResourceLocation",
                format!(
                    "The resource '{}' already exists in location '{}'. A resource with the same name cannot be created in location '{loc}'. Please select a new resource name.",
                    r.body["name"].as_str().unwrap_or_default(),
                    r.body["location"].as_str().unwrap_or_default()
                ),
            ))
        }
        (Some(loc), _) => Ok(loc),
    }
}

/// A PUT of a top-level resource (a VNet or a public IP), as far as both go alike: the body
/// parsed, the group writable, the location settled (the new one must match the stored one),
/// no operation running on the resource, and its id and name in their stored casing.
struct Put<'a> {
    at: &'a ResourceAt<'a>,
    body: Value,
    existing: Option<Resource>,
    location: String,
    id: String,
    name: String,
}

impl<'a> Put<'a> {
    fn begin(env: &Env, req: &Req, at: &'a ResourceAt<'a>) -> Result<Put<'a>, ArmError> {
        let body = req.json()?;
        let group = groups::writable(env, at.sub, at.rg)?;
        let existing = env.state.resources.get(&at.k).cloned();
        let location = location_of(&body, existing.as_ref())?;
        if let Some(op) = existing.as_ref().and_then(|_| env.state.busy_op(&at.k)) {
            return Err(another_operation(req, env, &op));
        }
        let id = existing
            .as_ref()
            .map(|r| r.id.clone())
            .unwrap_or_else(|| resource_id(&group, at.kind, at.name));
        let name = existing
            .as_ref()
            .and_then(|r| r.body["name"].as_str().map(str::to_string))
            .unwrap_or_else(|| at.name.to_string());
        Ok(Put {
            at,
            body,
            existing,
            location,
            id,
            name,
        })
    }

    /// The resource GUID ARM assigned when the resource was created; it survives updates.
    fn guid(&self) -> String {
        self.existing
            .as_ref()
            .and_then(|r| {
                r.body["properties"]["resourceGuid"]
                    .as_str()
                    .map(str::to_string)
            })
            .unwrap_or_else(new_guid)
    }

    /// The tags the request sets (`null`: none).
    fn tags(&self) -> Option<&Value> {
        self.body.get("tags").filter(|t| !t.is_null())
    }

    /// Stores `stored` as the resource, `Updating` until operation `op` ends, and answers 201
    /// (new) or 200 with the body and the operation's headers.
    fn finish(self, env: &mut Env, req: &Req, stored: Value, op: &str) -> Response {
        let at = self.at;
        let previous = env.state.resources.get(&at.k).cloned();
        let id = stored["id"].as_str().unwrap_or_default().to_string();
        env.state.resources.insert(
            at.k.clone(),
            Resource {
                id,
                kind: at.kind,
                group: group_key(at.sub, at.rg),
                parent: previous.as_ref().and_then(|p| p.parent.clone()),
                body: stored,
                etag: new_guid(),
                state: Provisioning::Updating,
                pending_op: Some(op.to_string()),
                used_by: previous.map(|p| p.used_by).unwrap_or_default(),
            },
        );
        let status = if self.existing.is_some() {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        let mut response = json_response(status, &env.state.render_for(&at.k, &req.api_version));
        env.lro_headers(&mut response, req, at.sub, &self.location, op, false);
        response
    }
}

/// `PATCH` with `{"tags": {...}}` (VirtualNetworks_UpdateTags, PublicIPAddresses_UpdateTags):
/// synchronous, replaces the tags.
fn patch_tags(env: &mut Env, req: &Req, at: &ResourceAt) -> Result<Response, ArmError> {
    let body = req.json()?;
    groups::writable(env, at.sub, at.rg)?;
    let Some(r) = env.state.resources.get_mut(&at.k) else {
        return Err(ArmError::resource_not_found(
            at.kind.type_name(),
            at.name,
            at.rg,
        ));
    };
    if let Some(tags) = body.get("tags") {
        if let Some(obj) = r.body.as_object_mut() {
            obj.insert("tags".into(), tags.clone());
        }
        r.etag = new_guid();
    }
    Ok(get_response(env, req, &at.k, StatusCode::OK))
}

/// DELETE of a VNet, subnet or public IP: 204 when absent, else 202 and an operation.
fn delete(env: &mut Env, req: &Req, sub: &str, rg: &str, k: &str) -> Result<Response, ArmError> {
    groups::get(env, sub, rg)?;
    let Some(r) = env.state.resources.get(k).cloned() else {
        return Ok(empty_response(StatusCode::NO_CONTENT));
    };
    if let Some(op) = env.state.busy_op(k) {
        // Deleting what is already being deleted answers like the first DELETE did.
        if r.state != Provisioning::Deleting {
            return Err(another_operation(req, env, &op));
        }
    }
    let doomed = env.state.with_children(k);
    for d in &doomed {
        if let Some(used) = env.state.resources.get(d).filter(|x| !x.used_by.is_empty()) {
            return Err(in_use(used));
        }
    }
    let location = match r.kind {
        Kind::Subnet => r
            .parent
            .as_ref()
            .and_then(|p| env.state.resources.get(p))
            .and_then(|p| p.body["location"].as_str())
            .unwrap_or_default()
            .to_string(),
        _ => r.body["location"].as_str().unwrap_or_default().to_string(),
    };
    let op = env.start_deleting(req, sub, &location, &r, &doomed);
    let mut response = empty_response(StatusCode::ACCEPTED);
    env.lro_headers(&mut response, req, sub, &location, &op, true);
    Ok(response)
}
