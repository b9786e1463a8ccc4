//! `Microsoft.Network` virtual networks (with subnets, inline or as child resources) and public
//! IP addresses: long-running PUT and DELETE, the network resource provider's address-prefix
//! validation, and the "subnet in use" refusals.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::arm::{empty_response, insert_header, json_response, ArmError, Kind, Target};
use super::cidr::{Prefix, PrefixError};
use super::groups::{self, resource_id};
use super::state::{group_key, key, new_guid, Provisioning, Resource};
use super::{method_not_allowed, normalize_location, Env, Req};

pub(crate) fn handle(env: &mut Env, req: &Req) -> Result<Response, ArmError> {
    match req.target.clone() {
        Target::Collection { sub, rg, kind } => {
            if req.method != Method::GET {
                return Err(method_not_allowed(&req.method));
            }
            groups::get(env, &sub, &rg)?;
            let gk = group_key(&sub, &rg);
            let keys: Vec<String> = env
                .state
                .resources
                .iter()
                .filter(|(_, r)| r.kind == kind && r.group == gk)
                .map(|(k, _)| k.clone())
                .collect();
            Ok(list(env, &keys))
        }
        Target::Resource {
            sub,
            rg,
            kind,
            name,
        } => {
            let k = key(&format!(
                "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/{}/{name}",
                kind.segment()
            ));
            match req.method {
                Method::GET => {
                    groups::get(env, &sub, &rg)?;
                    if !env.state.resources.contains_key(&k) {
                        return Err(ArmError::resource_not_found(kind.type_name(), &name, &rg));
                    }
                    Ok(get_response(env, &k))
                }
                Method::PUT => match kind {
                    Kind::VirtualNetwork => put_vnet(env, req, &sub, &rg, &name, &k),
                    _ => put_public_ip(env, req, &sub, &rg, &name, &k),
                },
                Method::PATCH => patch_tags(env, req, &sub, &rg, kind, &name, &k),
                Method::DELETE => delete(env, req, &sub, &rg, &k),
                _ => Err(method_not_allowed(&req.method)),
            }
        }
        Target::Subnets { sub, rg, vnet } => {
            if req.method != Method::GET {
                return Err(method_not_allowed(&req.method));
            }
            let vk = existing_vnet(env, &sub, &rg, &vnet)?;
            let keys: Vec<String> = env.state.children(&vk).map(|(k, _)| k.clone()).collect();
            Ok(list(env, &keys))
        }
        Target::Subnet {
            sub,
            rg,
            vnet,
            name,
        } => {
            let vk = key(&format!(
                "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/{vnet}"
            ));
            let k = format!("{vk}/subnets/{}", name.to_ascii_lowercase());
            match req.method {
                Method::GET => {
                    existing_vnet(env, &sub, &rg, &vnet)?;
                    if !env.state.resources.contains_key(&k) {
                        return Err(ArmError::new(
                            StatusCode::NOT_FOUND,
                            "NotFound",
                            format!(
                                "Resource /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{name} not found."
                            ),
                        ));
                    }
                    Ok(get_response(env, &k))
                }
                Method::PUT => put_subnet(env, req, &sub, &rg, &vnet, &name, &vk, &k),
                Method::DELETE => delete(env, req, &sub, &rg, &k),
                _ => Err(method_not_allowed(&req.method)),
            }
        }
        _ => Err(ArmError::bad_request("BadRequest", "not a network path")),
    }
}

fn existing_vnet(env: &Env, sub: &str, rg: &str, vnet: &str) -> Result<String, ArmError> {
    groups::get(env, sub, rg)?;
    let vk = key(&format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/{vnet}"
    ));
    if env.state.resources.contains_key(&vk) {
        Ok(vk)
    } else {
        Err(ArmError::resource_not_found(
            Kind::VirtualNetwork.type_name(),
            vnet,
            rg,
        ))
    }
}

fn list(env: &Env, keys: &[String]) -> Response {
    let value: Vec<Value> = keys.iter().map(|k| env.state.render(k)).collect();
    json_response(StatusCode::OK, &json!({ "value": value }))
}

/// GET answers carry the etag header equal to the body's, as real traffic shows.
fn get_response(env: &Env, k: &str) -> Response {
    let body = env.state.render(k);
    let mut response = json_response(StatusCode::OK, &body);
    if let Some(etag) = body["etag"].as_str() {
        insert_header(&mut response, "etag", etag);
    }
    response
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

fn in_use(subnet: &Resource) -> ArmError {
    ArmError::bad_request(
        "InUseSubnetCannotBeDeleted",
        format!(
            "Subnet {} is in use by {} and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet.",
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

/// Parses prefixes the way the network RP reports them.
fn prefixes(values: &[String], owner_id: &str) -> Result<Vec<Prefix>, ArmError> {
    values
        .iter()
        .map(|p| {
            Prefix::parse(p).map_err(|e| match e {
                PrefixError::Format => ArmError::bad_request(
                    "InvalidAddressPrefixFormat",
                    format!("Address prefix {p} of resource {owner_id} is not formatted correctly. It should follow CIDR notation, for example 10.0.0.0/24."),
                ),
                PrefixError::HostBits { expected } => ArmError::bad_request(
                    "InvalidCIDRNotation",
                    format!("The address prefix {p} in resource {owner_id} has an invalid CIDR notation. For the given prefix length, the address prefix should be {expected}."),
                ),
            })
        })
        .collect()
}

/// `addressPrefix` or `addressPrefixes` of a subnet's properties.
fn subnet_prefix_strings(props: &Value) -> Vec<String> {
    if let Some(p) = props["addressPrefix"].as_str() {
        return vec![p.to_string()];
    }
    props["addressPrefixes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Every subnet inside the VNet's address space and none overlapping another.
fn check_layout(
    vnet_name: &str,
    space: &[Prefix],
    subnets: &[(String, Vec<Prefix>)],
) -> Result<(), ArmError> {
    for (name, ps) in subnets {
        if !ps.iter().all(|p| space.iter().any(|s| s.contains(*p))) {
            return Err(ArmError::bad_request(
                "NetcfgSubnetRangeOutsideVnet",
                format!("Subnet '{name}' is not valid because its IP address range is outside the IP address range of virtual network '{vnet_name}'."),
            ));
        }
    }
    for (i, (name, ps)) in subnets.iter().enumerate() {
        for (_, other) in &subnets[..i] {
            if ps.iter().any(|p| other.iter().any(|o| p.overlaps(*o))) {
                return Err(ArmError::bad_request(
                    "NetcfgSubnetRangesOverlap",
                    format!("Subnet '{name}' is not valid because its IP address range overlaps with that of an existing subnet in virtual network '{vnet_name}'."),
                ));
            }
        }
    }
    Ok(())
}

/// The subnet's stored body from a request's `properties`.
fn subnet_body(id: &str, name: &str, props: &Value) -> Value {
    let mut props = props.as_object().cloned().unwrap_or_default();
    for read_only in ["provisioningState", "ipConfigurations", "etag"] {
        props.remove(read_only);
    }
    json!({
        "name": name,
        "id": id,
        "properties": props,
        "type": Kind::Subnet.type_name(),
    })
}

fn vnet_space(env: &Env, vk: &str) -> Vec<String> {
    env.state.resources[vk].body["properties"]["addressSpace"]["addressPrefixes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn put_vnet(
    env: &mut Env,
    req: &Req,
    sub: &str,
    rg: &str,
    name: &str,
    k: &str,
) -> Result<Response, ArmError> {
    let body = req.json()?;
    let group = groups::writable(env, sub, rg)?;
    let existing = env.state.resources.get(k).cloned();
    let location = location_of(&body, existing.as_ref())?;
    if let Some(op) = existing.as_ref().and_then(|_| env.state.busy_op(k)) {
        return Err(another_operation(req, env, &op));
    }
    let id = existing
        .as_ref()
        .map(|r| r.id.clone())
        .unwrap_or_else(|| resource_id(&group, Kind::VirtualNetwork, name));
    let vnet_name = existing
        .as_ref()
        .and_then(|r| r.body["name"].as_str().map(str::to_string))
        .unwrap_or_else(|| name.to_string());
    let props_in = &body["properties"];
    let space_strings: Vec<String> = props_in["addressSpace"]["addressPrefixes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if space_strings.is_empty() {
        return Err(ArmError::bad_request(
            "InvalidRequestFormat",
            format!("Cannot parse the request. The virtual network {id} must have an address space: properties.addressSpace.addressPrefixes is missing or empty."),
        ));
    }
    let space = prefixes(&space_strings, &id)?;

    // A VNet PUT states the whole VNet: subnets it leaves out are deleted, as in real ARM.
    let mut desired: Vec<(String, String, Value, Vec<Prefix>)> = Vec::new();
    for s in props_in["subnets"].as_array().cloned().unwrap_or_default() {
        let Some(sname) = s["name"].as_str() else {
            return Err(ArmError::bad_request(
                "InvalidRequestFormat",
                "Cannot parse the request. Every subnet needs a name.",
            ));
        };
        let sk = format!("{k}/subnets/{}", sname.to_ascii_lowercase());
        let sid = env
            .state
            .resources
            .get(&sk)
            .map(|r| r.id.clone())
            .unwrap_or_else(|| format!("{id}/subnets/{sname}"));
        let ps = prefixes(&subnet_prefix_strings(&s["properties"]), &sid)?;
        if ps.is_empty() {
            return Err(ArmError::bad_request(
                "NetcfgInvalidSubnet",
                format!("Subnet '{sname}' is not valid in virtual network '{vnet_name}'."),
            ));
        }
        desired.push((sk, sname.to_string(), s["properties"].clone(), ps));
    }
    let layout: Vec<(String, Vec<Prefix>)> = desired
        .iter()
        .map(|(_, n, _, p)| (n.clone(), p.clone()))
        .collect();
    check_layout(&vnet_name, &space, &layout)?;
    let current: Vec<(String, Resource)> = env
        .state
        .children(k)
        .map(|(ck, r)| (ck.clone(), r.clone()))
        .collect();
    for (ck, r) in &current {
        if r.used_by.is_empty() {
            continue;
        }
        match desired.iter().find(|(sk, ..)| sk == ck) {
            None => return Err(in_use(r)),
            Some((_, _, props, _)) => {
                if subnet_prefix_strings(props) != subnet_prefix_strings(&r.body["properties"]) {
                    return Err(in_use_update(r));
                }
            }
        }
    }

    let op = env.start_operation(req, sub, &location);
    for (ck, _) in &current {
        if !desired.iter().any(|(sk, ..)| sk == ck) {
            env.state.resources.remove(ck);
        }
    }
    for (sk, sname, props, _) in &desired {
        let previous = env.state.resources.get(sk).cloned();
        let (sid, sname, used_by) = match &previous {
            Some(p) => (
                p.id.clone(),
                p.body["name"].as_str().unwrap_or(sname).to_string(),
                p.used_by.clone(),
            ),
            None => (format!("{id}/subnets/{sname}"), sname.clone(), Vec::new()),
        };
        env.state.resources.insert(
            sk.clone(),
            Resource {
                body: subnet_body(&sid, &sname, props),
                id: sid,
                kind: Kind::Subnet,
                group: group_key(sub, rg),
                parent: Some(k.to_string()),
                etag: new_guid(),
                state: Provisioning::Updating,
                pending_op: Some(op.clone()),
                used_by,
            },
        );
    }

    let mut props: Map<String, Value> = props_in.as_object().cloned().unwrap_or_default();
    for managed in ["provisioningState", "resourceGuid", "subnets"] {
        props.remove(managed);
    }
    let guid = existing
        .as_ref()
        .and_then(|r| {
            r.body["properties"]["resourceGuid"]
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_else(new_guid);
    let mut stored = Map::new();
    stored.insert("resourceGuid".into(), json!(guid));
    stored.extend(props);
    stored
        .entry("virtualNetworkPeerings")
        .or_insert_with(|| json!([]));
    stored
        .entry("enableDdosProtection")
        .or_insert_with(|| json!(false));
    let mut out = json!({
        "name": vnet_name,
        "id": id,
        "type": Kind::VirtualNetwork.type_name(),
        "location": location,
    });
    if let Some(tags) = body.get("tags").filter(|t| !t.is_null()) {
        out["tags"] = tags.clone();
    }
    out["properties"] = Value::Object(stored);
    finish_put(
        env,
        req,
        sub,
        &location,
        k,
        existing.is_some(),
        out,
        Kind::VirtualNetwork,
        group_key(sub, rg),
        &op,
    )
}

fn in_use_update(subnet: &Resource) -> ArmError {
    ArmError::bad_request(
        "InUseSubnetCannotBeUpdated",
        format!(
            "Subnet {} is in use by {} and its address prefix cannot be updated.",
            subnet.body["name"].as_str().unwrap_or_default(),
            subnet.used_by.join(", ")
        ),
    )
}

#[allow(clippy::too_many_arguments)]
fn finish_put(
    env: &mut Env,
    req: &Req,
    sub: &str,
    location: &str,
    k: &str,
    existed: bool,
    body: Value,
    kind: Kind,
    group: String,
    op: &str,
) -> Result<Response, ArmError> {
    let previous = env.state.resources.get(k).cloned();
    let id = body["id"].as_str().unwrap_or_default().to_string();
    env.state.resources.insert(
        k.to_string(),
        Resource {
            id,
            kind,
            group,
            parent: previous.as_ref().and_then(|p| p.parent.clone()),
            body,
            etag: new_guid(),
            state: Provisioning::Updating,
            pending_op: Some(op.to_string()),
            used_by: previous.map(|p| p.used_by).unwrap_or_default(),
        },
    );
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut response = json_response(status, &env.state.render(k));
    env.lro_headers(&mut response, req, sub, location, op, false);
    Ok(response)
}

#[allow(clippy::too_many_arguments)]
fn put_subnet(
    env: &mut Env,
    req: &Req,
    sub: &str,
    rg: &str,
    vnet: &str,
    name: &str,
    vk: &str,
    k: &str,
) -> Result<Response, ArmError> {
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
        return Err(ArmError::bad_request(
            "NetcfgInvalidSubnet",
            format!("Subnet '{sname}' is not valid in virtual network '{vnet_name}'."),
        ));
    }
    if let Some(r) = &existing {
        if !r.used_by.is_empty()
            && subnet_prefix_strings(&body["properties"])
                != subnet_prefix_strings(&r.body["properties"])
        {
            return Err(in_use_update(r));
        }
    }
    let space = prefixes(&vnet_space(env, vk), &parent.id)?;
    // The new subnet is checked against its siblings, which ARM names as the existing ones.
    let mut layout: Vec<(String, Vec<Prefix>)> = Vec::new();
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
    let mut response = json_response(status, &env.state.render(k));
    env.lro_headers(&mut response, req, sub, &location, &op, false);
    Ok(response)
}

fn put_public_ip(
    env: &mut Env,
    req: &Req,
    sub: &str,
    rg: &str,
    name: &str,
    k: &str,
) -> Result<Response, ArmError> {
    let body = req.json()?;
    let group = groups::writable(env, sub, rg)?;
    let existing = env.state.resources.get(k).cloned();
    let location = location_of(&body, existing.as_ref())?;
    if let Some(op) = existing.as_ref().and_then(|_| env.state.busy_op(k)) {
        return Err(another_operation(req, env, &op));
    }
    let id = existing
        .as_ref()
        .map(|r| r.id.clone())
        .unwrap_or_else(|| resource_id(&group, Kind::PublicIp, name));
    let pip_name = existing
        .as_ref()
        .and_then(|r| r.body["name"].as_str().map(str::to_string))
        .unwrap_or_else(|| name.to_string());
    let mut sku = body["sku"].as_object().cloned().unwrap_or_default();
    sku.entry("name").or_insert_with(|| json!("Basic"));
    sku.entry("tier").or_insert_with(|| json!("Regional"));
    let standard = sku["name"]
        .as_str()
        .is_some_and(|n| n.eq_ignore_ascii_case("Standard"));

    let mut props = body["properties"].as_object().cloned().unwrap_or_default();
    for read_only in [
        "provisioningState",
        "resourceGuid",
        "ipAddress",
        "ipConfiguration",
    ] {
        props.remove(read_only);
    }
    let method = props
        .get("publicIPAllocationMethod")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| if standard { "Static" } else { "Dynamic" }.to_string());
    let guid = existing
        .as_ref()
        .and_then(|r| {
            r.body["properties"]["resourceGuid"]
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_else(new_guid);
    let mut stored = Map::new();
    stored.insert("resourceGuid".into(), json!(guid));
    // A static address survives updates; a dynamic one is released (nothing is attached).
    if method == "Static" {
        if let Some(ip) = existing
            .as_ref()
            .and_then(|r| r.body["properties"].get("ipAddress"))
        {
            stored.insert("ipAddress".into(), ip.clone());
        }
    }
    stored.insert(
        "publicIPAddressVersion".into(),
        props
            .remove("publicIPAddressVersion")
            .unwrap_or(json!("IPv4")),
    );
    stored.insert("publicIPAllocationMethod".into(), json!(method));
    props.remove("publicIPAllocationMethod");
    stored.insert(
        "idleTimeoutInMinutes".into(),
        props.remove("idleTimeoutInMinutes").unwrap_or(json!(4)),
    );
    if let Some(mut dns) = props
        .remove("dnsSettings")
        .and_then(|d| d.as_object().cloned())
    {
        if let Some(label) = dns.get("domainNameLabel").and_then(Value::as_str) {
            let fqdn = format!("{label}.{location}.cloudapp.azure.com");
            dns.insert("fqdn".into(), json!(fqdn));
        }
        stored.insert("dnsSettings".into(), Value::Object(dns));
    }
    stored.insert("ipTags".into(), props.remove("ipTags").unwrap_or(json!([])));
    stored.insert(
        "ddosSettings".into(),
        props
            .remove("ddosSettings")
            .unwrap_or(json!({"protectionMode": "VirtualNetworkInherited"})),
    );
    stored.extend(props);

    let mut out = json!({"name": pip_name, "id": id, "location": location});
    if let Some(tags) = body.get("tags").filter(|t| !t.is_null()) {
        out["tags"] = tags.clone();
    }
    if let Some(zones) = body.get("zones").filter(|z| !z.is_null()) {
        out["zones"] = zones.clone();
    }
    out["properties"] = Value::Object(stored);
    out["type"] = json!(Kind::PublicIp.type_name());
    out["sku"] = Value::Object(sku);
    let op = env.start_operation(req, sub, &location);
    finish_put(
        env,
        req,
        sub,
        &location,
        k,
        existing.is_some(),
        out,
        Kind::PublicIp,
        group_key(sub, rg),
        &op,
    )
}

/// `PATCH` with `{"tags": {...}}` (VirtualNetworks_UpdateTags, PublicIPAddresses_UpdateTags):
/// synchronous, replaces the tags.
fn patch_tags(
    env: &mut Env,
    req: &Req,
    sub: &str,
    rg: &str,
    kind: Kind,
    name: &str,
    k: &str,
) -> Result<Response, ArmError> {
    let body = req.json()?;
    groups::writable(env, sub, rg)?;
    let Some(r) = env.state.resources.get_mut(k) else {
        return Err(ArmError::resource_not_found(kind.type_name(), name, rg));
    };
    if let Some(tags) = body.get("tags") {
        if let Some(obj) = r.body.as_object_mut() {
            obj.insert("tags".into(), tags.clone());
        }
        r.etag = new_guid();
    }
    Ok(get_response(env, k))
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
    let doomed: Vec<String> = std::iter::once(k.to_string())
        .chain(env.state.children(k).map(|(ck, _)| ck.clone()))
        .collect();
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
    let op = match (&r.pending_op, r.state) {
        (Some(op), Provisioning::Deleting) => op.clone(),
        _ => {
            let op = env.start_operation(req, sub, &location);
            for d in &doomed {
                if let Some(x) = env.state.resources.get_mut(d) {
                    x.state = Provisioning::Deleting;
                    x.pending_op = Some(op.clone());
                }
            }
            op
        }
    };
    let mut response = empty_response(StatusCode::ACCEPTED);
    env.lro_headers(&mut response, req, sub, &location, &op, true);
    Ok(response)
}
