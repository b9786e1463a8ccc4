//! Subnets as child resources of a VNet: list, GET (the network RP's plain `NotFound`), PUT
//! (checked against the VNet's address space and its sibling subnets, refused while the VNet
//! runs an operation or while the subnet is in use and its prefix would change), and DELETE.

use axum::http::{Method, StatusCode};
use axum::response::Response;

use super::prefixes::{
    check_layout, invalid_subnet, prefixes, strings, subnet_body, subnet_prefix_strings,
};
use super::{another_operation, delete, in_use_update};
use crate::azure::arm::{ArmError, Kind, Target};
use crate::azure::groups;
use crate::azure::request::{method_not_allowed, Env, Req};
use crate::azure::resources::{self, get_response, resource_key};
use crate::azure::state::{group_key, new_guid, Provisioning, Resource};
use crate::core::cidr::Cidr;

/// Where a subnet request points: its VNet's key and, for one subnet, its own.
struct SubnetAt<'a> {
    sub: &'a str,
    rg: &'a str,
    vnet: &'a str,
    name: &'a str,
    vk: String,
    k: String,
}

pub(super) fn handle(env: &mut Env, req: &Req) -> Result<Response, ArmError> {
    match &req.target {
        Target::Subnets { sub, rg, vnet } => {
            if req.method != Method::GET {
                return Err(method_not_allowed(&req.method));
            }
            let vk = resources::existing(env, sub, rg, Kind::VirtualNetwork, vnet)?;
            let keys: Vec<String> = env.state.children(&vk).map(|(k, _)| k.clone()).collect();
            Ok(resources::list(env, req, &keys))
        }
        Target::Subnet {
            sub,
            rg,
            vnet,
            name,
        } => {
            let vk = resource_key(sub, rg, Kind::VirtualNetwork, vnet);
            let k = format!("{vk}/subnets/{}", name.to_ascii_lowercase());
            let at = SubnetAt {
                sub,
                rg,
                vnet,
                name,
                vk,
                k,
            };
            match req.method {
                Method::GET => {
                    resources::existing(env, sub, rg, Kind::VirtualNetwork, vnet)?;
                    if !env.state.resources.contains_key(&at.k) {
                        return Err(not_found(&at));
                    }
                    Ok(get_response(env, req, &at.k, StatusCode::OK))
                }
                Method::PUT => put(env, req, &at),
                Method::DELETE => delete(env, req, sub, rg, &at.k),
                _ => Err(method_not_allowed(&req.method)),
            }
        }
        _ => Err(ArmError::bad_request("BadRequest", "not a subnet path")),
    }
}

fn not_found(at: &SubnetAt) -> ArmError {
    ArmError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!(
            "Resource /subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/virtualNetworks/{}/subnets/{} not found.",
            at.sub, at.rg, at.vnet, at.name
        ),
    )
}

fn put(env: &mut Env, req: &Req, at: &SubnetAt) -> Result<Response, ArmError> {
    let &SubnetAt {
        sub,
        rg,
        vnet,
        name,
        ref vk,
        ref k,
    } = at;
    let body = req.json()?;
    groups::writable(env, sub, rg)?;
    let Some(parent) = env.state.resources.get(vk).cloned() else {
        return Err(ArmError::parent_not_found(
            "virtualNetworks/subnets",
            &format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/{vnet}"),
        ));
    };
    if let Some(op) = env.state.busy_op(vk) {
        return Err(another_operation(req, env, &op));
    }
    let existing = env.state.resources.get(k).cloned();
    let id = existing
        .as_ref()
        .map(|r| r.id.clone())
        .unwrap_or_else(|| format!("{}/subnets/{name}", parent.id));
    let sname = existing
        .as_ref()
        .and_then(|r| r.body["name"].as_str().map(str::to_string))
        .unwrap_or_else(|| name.to_string());
    let ps = prefixes(&subnet_prefix_strings(&body["properties"]), &id)?;
    let vnet_name = parent.body["name"].as_str().unwrap_or(vnet).to_string();
    if ps.is_empty() {
        return Err(invalid_subnet(&sname, &vnet_name));
    }
    if let Some(r) = &existing {
        if !r.used_by.is_empty()
            && subnet_prefix_strings(&body["properties"])
                != subnet_prefix_strings(&r.body["properties"])
        {
            return Err(in_use_update(r));
        }
    }
    let space = prefixes(
        &strings(&parent.body["properties"]["addressSpace"]["addressPrefixes"]),
        &parent.id,
    )?;
    // The new subnet is checked against its siblings, which ARM names as the existing ones.
    let mut layout: Vec<(String, Vec<Cidr>)> = Vec::new();
    for (ck, r) in env.state.children(vk) {
        if ck != k {
            let sib = prefixes(&subnet_prefix_strings(&r.body["properties"]), &r.id)?;
            layout.push((r.body["name"].as_str().unwrap_or_default().to_string(), sib));
        }
    }
    layout.push((sname.clone(), ps));
    check_layout(&vnet_name, &space, &layout)?;
    let location = parent.body["location"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let op = env.start_operation(req, sub, &location);
    let stored = subnet_body(&id, &sname, &body["properties"]);
    // The VNet's etag is its subnets' too: writing a subnet changes it.
    if let Some(v) = env.state.resources.get_mut(vk) {
        v.etag = new_guid();
    }
    env.state.resources.insert(
        k.to_string(),
        Resource {
            id,
            kind: Kind::Subnet,
            group: group_key(sub, rg),
            parent: Some(vk.to_string()),
            body: stored,
            etag: new_guid(),
            state: Provisioning::Updating,
            pending_op: Some(op.clone()),
            used_by: existing
                .as_ref()
                .map(|r| r.used_by.clone())
                .unwrap_or_default(),
        },
    );
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut response =
        crate::azure::arm::json_response(status, &env.state.render_for(k, &req.api_version));
    env.lro_headers(&mut response, req, sub, &location, &op, false);
    Ok(response)
}
