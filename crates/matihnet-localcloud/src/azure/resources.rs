//! What every tracked `Microsoft.Network` resource type shares, whatever its module: the key a
//! resource is stored under, the list of a type in a group, GET of one resource, and answers
//! that carry the body's etag as a header. Adding a resource type means a `Kind` in `arm` and
//! its PUT/DELETE rules in a module; listing and reading come from here.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::arm::{insert_header, json_response, ArmError, Kind};
use super::groups;
use super::request::{method_not_allowed, Env, Req};
use super::state::{group_key, key};

/// Where a request to one top-level resource points: subscription, group, type and name as the
/// request spelled them, and the key the resource is stored under.
pub(super) struct ResourceAt<'a> {
    pub sub: &'a str,
    pub rg: &'a str,
    pub kind: Kind,
    pub name: &'a str,
    pub k: String,
}

impl<'a> ResourceAt<'a> {
    pub fn new(sub: &'a str, rg: &'a str, kind: Kind, name: &'a str) -> ResourceAt<'a> {
        ResourceAt {
            sub,
            rg,
            kind,
            name,
            k: resource_key(sub, rg, kind, name),
        }
    }
}

/// The stored key of a top-level resource: its id in lower case (ARM ids are case-insensitive).
pub(super) fn resource_key(sub: &str, rg: &str, kind: Kind, name: &str) -> String {
    key(&format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/{}/{name}",
        kind.segment()
    ))
}

/// `GET .../providers/Microsoft.Network/{type}`: every resource of the type in the group.
pub(super) fn list_collection(
    env: &Env,
    req: &Req,
    sub: &str,
    rg: &str,
    kind: Kind,
) -> Result<Response, ArmError> {
    if req.method != Method::GET {
        return Err(method_not_allowed(&req.method));
    }
    groups::get(env, sub, rg)?;
    let gk = group_key(sub, rg);
    let keys: Vec<String> = env
        .state
        .resources
        .iter()
        .filter(|(_, r)| r.kind == kind && r.group == gk)
        .map(|(k, _)| k.clone())
        .collect();
    Ok(list(env, req, &keys))
}

/// `GET /subscriptions/{s}/providers/Microsoft.Network/{type}`: every resource of the type in
/// every group of the subscription.
pub(super) fn list_subscription(
    env: &Env,
    req: &Req,
    sub: &str,
    kind: Kind,
) -> Result<Response, ArmError> {
    if req.method != Method::GET {
        return Err(method_not_allowed(&req.method));
    }
    let prefix = key(&format!("/subscriptions/{sub}/"));
    let keys: Vec<String> = env
        .state
        .resources
        .iter()
        .filter(|(k, r)| r.kind == kind && r.parent.is_none() && k.starts_with(&prefix))
        .map(|(k, _)| k.clone())
        .collect();
    Ok(list(env, req, &keys))
}

/// The group, and the resource of that type and name in it, must exist.
pub(super) fn existing(
    env: &Env,
    sub: &str,
    rg: &str,
    kind: Kind,
    name: &str,
) -> Result<String, ArmError> {
    groups::get(env, sub, rg)?;
    let k = resource_key(sub, rg, kind, name);
    if env.state.resources.contains_key(&k) {
        Ok(k)
    } else {
        Err(ArmError::resource_not_found(
            kind.missing_type_name(),
            name,
            rg,
        ))
    }
}

/// `GET` of one top-level resource.
pub(super) fn get(env: &Env, req: &Req, at: &ResourceAt) -> Result<Response, ArmError> {
    let k = existing(env, at.sub, at.rg, at.kind, at.name)?;
    Ok(get_response(env, req, &k, StatusCode::OK))
}

/// `{"value": [...]}` of the resources under `keys`, rendered as GET shows them.
pub(super) fn list(env: &Env, req: &Req, keys: &[String]) -> Response {
    let value: Vec<Value> = keys
        .iter()
        .map(|k| env.state.render_for(k, &req.api_version))
        .collect();
    json_response(StatusCode::OK, &json!({ "value": value }))
}

/// The resource as GET shows it; the etag header equals the body's, as real traffic shows.
pub(super) fn get_response(env: &Env, req: &Req, k: &str, status: StatusCode) -> Response {
    let body = env.state.render_for(k, &req.api_version);
    let mut response = json_response(status, &body);
    if let Some(etag) = body["etag"].as_str() {
        insert_header(&mut response, "etag", etag);
    }
    response
}
