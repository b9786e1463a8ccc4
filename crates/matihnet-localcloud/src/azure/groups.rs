//! Resource groups (`Microsoft.Resources`, api-version 2021-04-01): synchronous create/update,
//! HEAD, an asynchronous delete that takes every contained resource with it, and the list of a
//! group's resources that tells whether a group holds anything besides matihnet's objects.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::arm::{empty_response, insert_header, json_response, ArmError, Kind, Target};
use super::operations;
use super::request::{method_not_allowed, normalize_location, Env, Req};
use super::state::{group_key, Group, OpStatus, Provisioning};

pub(crate) fn handle(env: &mut Env, req: &Req) -> Result<Response, ArmError> {
    match &req.target {
        Target::Groups { sub } => {
            if req.method != Method::GET {
                return Err(method_not_allowed(&req.method));
            }
            let value: Vec<Value> = env
                .state
                .groups
                .values()
                .filter(|g| g.sub.eq_ignore_ascii_case(sub))
                .map(Group::body)
                .collect();
            Ok(json_response(StatusCode::OK, &json!({ "value": value })))
        }
        Target::Group { sub, rg } => match req.method {
            Method::PUT => put(env, req, sub, rg),
            Method::GET => get(env, sub, rg).map(|g| json_response(StatusCode::OK, &g.body())),
            Method::HEAD => Ok(empty_response(if get(env, sub, rg).is_ok() {
                StatusCode::NO_CONTENT
            } else {
                StatusCode::NOT_FOUND
            })),
            Method::PATCH => patch(env, req, sub, rg),
            Method::DELETE => delete(env, req, sub, rg),
            _ => Err(method_not_allowed(&req.method)),
        },
        Target::GroupResources { sub, rg } => {
            if req.method != Method::GET {
                return Err(method_not_allowed(&req.method));
            }
            let gk = get(env, sub, rg).map(|_| group_key(sub, rg))?;
            let value: Vec<Value> = env
                .state
                .resources
                .values()
                .filter(|r| r.group == gk && r.parent.is_none())
                .map(|r| {
                    let mut v = json!({
                        "id": r.id,
                        "name": r.body["name"],
                        "type": r.kind.type_name(),
                        "location": r.body["location"],
                    });
                    if let Some(tags) = r.body.get("tags") {
                        v["tags"] = tags.clone();
                    }
                    v
                })
                .collect();
            Ok(json_response(StatusCode::OK, &json!({ "value": value })))
        }
        Target::GroupOperation { sub, id } => {
            if req.method != Method::GET {
                return Err(method_not_allowed(&req.method));
            }
            match env.state.status(id, req.now) {
                Some(OpStatus::InProgress { .. }) => {
                    let mut r = empty_response(StatusCode::ACCEPTED);
                    insert_header(&mut r, "location", &group_operation_url(req, sub, id));
                    insert_header(&mut r, "retry-after-ms", &env.retry_after_ms());
                    Ok(r)
                }
                Some(OpStatus::Succeeded) => Ok(empty_response(StatusCode::OK)),
                Some(OpStatus::Failed(f)) => Err(ArmError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &f.code,
                    f.message,
                )),
                None => Err(operations::not_found(id)),
            }
        }
        _ => Err(ArmError::bad_request(
            "BadRequest",
            "not a resource group path",
        )),
    }
}

/// The group, which must exist and not be on its way out.
pub(crate) fn get<'a>(env: &'a Env, sub: &str, rg: &str) -> Result<&'a Group, ArmError> {
    env.state
        .groups
        .get(&group_key(sub, rg))
        .ok_or_else(|| ArmError::group_not_found(rg))
}

/// A group that new resources may be written into.
pub(crate) fn writable(env: &Env, sub: &str, rg: &str) -> Result<Group, ArmError> {
    let group = get(env, sub, rg)?;
    if group.state == Provisioning::Deleting {
        return Err(being_deleted(&group.name));
    }
    Ok(group.clone())
}

fn being_deleted(name: &str) -> ArmError {
    ArmError::new(
        StatusCode::CONFLICT,
        "ResourceGroupBeingDeleted",
        format!("The resource group '{name}' is in deprovisioning state and cannot perform this operation."),
    )
}

fn put(env: &mut Env, req: &Req, sub: &str, rg: &str) -> Result<Response, ArmError> {
    let body = req.json()?;
    let Some(location) = body["location"].as_str().map(normalize_location) else {
        return Err(ArmError::bad_request(
            "LocationRequired",
            "The location property is required for this definition.",
        ));
    };
    let tags = body.get("tags").filter(|t| !t.is_null()).cloned();
    let k = group_key(sub, rg);
    if let Some(existing) = env.state.groups.get_mut(&k) {
        if existing.state == Provisioning::Deleting {
            return Err(being_deleted(&existing.name));
        }
        if existing.location != location {
            return Err(ArmError::new(
                StatusCode::CONFLICT,
                "InvalidResourceGroupLocation",
                format!(
                    "Invalid resource group location '{location}'. The Resource group already exists in location '{}'.",
                    existing.location
                ),
            ));
        }
        existing.tags = tags;
        return Ok(json_response(StatusCode::OK, &existing.body()));
    }
    let group = Group {
        sub: sub.to_string(),
        name: rg.to_string(),
        location,
        tags,
        state: Provisioning::Succeeded,
        pending_op: None,
    };
    let body = group.body();
    env.state.groups.insert(k, group);
    Ok(json_response(StatusCode::CREATED, &body))
}

fn patch(env: &mut Env, req: &Req, sub: &str, rg: &str) -> Result<Response, ArmError> {
    let body = req.json()?;
    writable(env, sub, rg)?;
    let Some(group) = env.state.groups.get_mut(&group_key(sub, rg)) else {
        return Err(ArmError::group_not_found(rg));
    };
    if let Some(tags) = body.get("tags") {
        group.tags = Some(tags.clone());
    }
    Ok(json_response(StatusCode::OK, &group.body()))
}

fn delete(env: &mut Env, req: &Req, sub: &str, rg: &str) -> Result<Response, ArmError> {
    let group = get(env, sub, rg)?.clone();
    let op = match &group.pending_op {
        // A second DELETE while the first runs is accepted and reports the same operation.
        Some(op) => op.clone(),
        None => {
            let op = env.start_operation(req, sub, &group.location);
            let k = group_key(sub, rg);
            if let Some(g) = env.state.groups.get_mut(&k) {
                g.state = Provisioning::Deleting;
                g.pending_op = Some(op.clone());
            }
            op
        }
    };
    let mut response = empty_response(StatusCode::ACCEPTED);
    insert_header(
        &mut response,
        "location",
        &group_operation_url(req, sub, &op),
    );
    insert_header(&mut response, "retry-after-ms", &env.retry_after_ms());
    Ok(response)
}

fn group_operation_url(req: &Req, sub: &str, op: &str) -> String {
    format!(
        "http://{}/subscriptions/{sub}/operationresults/{op}?api-version={}",
        req.host, req.api_version
    )
}

/// Used by the network and DNS handlers to build ids under the group's canonical casing.
pub(crate) fn resource_id(group: &Group, kind: Kind, name: &str) -> String {
    format!(
        "{}/providers/Microsoft.Network/{}/{}",
        group.id(),
        kind.segment(),
        name
    )
}
