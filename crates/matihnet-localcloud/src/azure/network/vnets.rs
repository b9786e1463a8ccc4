//! `PUT` of a virtual network: the address space, and the subnets it states inline, which
//! replace the current ones: left-out subnets are deleted, and a PUT that leaves out a subnet in
//! use, or changes its prefix, is refused. The RP fills in DHCP options' DNS servers and the
//! region's BGP community.

use axum::response::Response;
use serde_json::{json, Map, Value};

use super::prefixes::{
    check_layout, invalid_subnet, prefixes, strings, subnet_body, subnet_prefix_strings,
};
use super::{in_use, in_use_update, Put};
use crate::azure::arm::{ArmError, Kind};
use crate::azure::request::{Env, Req};
use crate::azure::state::{group_key, new_guid, Provisioning, Resource};
use crate::core::cidr::Cidr;

pub(super) fn put(env: &mut Env, req: &Req, put: Put) -> Result<Response, ArmError> {
    let (sub, rg, k) = (put.at.sub, put.at.rg, put.at.k.as_str());
    let id = put.id.clone();
    let vnet_name = put.name.clone();
    let props_in = &put.body["properties"];
    let space_strings = strings(&props_in["addressSpace"]["addressPrefixes"]);
    if space_strings.is_empty() {
        return Err(ArmError::bad_request(
            "InvalidRequestFormat",
            format!("Cannot parse the request. The virtual network {id} must have an address space: properties.addressSpace.addressPrefixes is missing or empty."),
        ));
    }
    let space = prefixes(&space_strings, &id)?;

    // A VNet PUT states the whole VNet: subnets it leaves out are deleted, as in real ARM.
    let mut desired: Vec<(String, String, Value, Vec<Cidr>)> = Vec::new();
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
            return Err(invalid_subnet(sname, &vnet_name));
        }
        desired.push((sk, sname.to_string(), s["properties"].clone(), ps));
    }
    let layout: Vec<(String, Vec<Cidr>)> = desired
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

    let op = env.start_operation(req, sub, &put.location);
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
    let mut stored = Map::new();
    stored.insert("resourceGuid".into(), json!(put.guid()));
    stored.extend(props);
    stored
        .entry("virtualNetworkPeerings")
        .or_insert_with(|| json!([]));
    // DHCP options sent without DNS servers mean Azure's own resolver: `dnsServers: []`.
    if let Some(dhcp) = stored.get_mut("dhcpOptions").and_then(Value::as_object_mut) {
        dhcp.entry("dnsServers").or_insert_with(|| json!([]));
    }
    if let Some(bgp) = stored
        .get_mut("bgpCommunities")
        .and_then(Value::as_object_mut)
    {
        bgp.remove("regionalCommunity");
        if let Some(regional) = regional_community(&put.location) {
            bgp.insert("regionalCommunity".into(), json!(regional));
        }
    }
    stored
        .entry("enableDdosProtection")
        .or_insert_with(|| json!(false));
    let mut out = json!({
        "name": vnet_name,
        "id": id,
        "type": Kind::VirtualNetwork.type_name(),
        "location": put.location,
    });
    if let Some(tags) = put.tags() {
        out["tags"] = tags.clone();
    }
    out["properties"] = Value::Object(stored);
    Ok(put.finish(env, req, out, &op))
}

/// The BGP community Azure tags a region's routes with (read-only `regionalCommunity`). The
/// recording shows `12076:50006` for westus; the other values follow the same numbering as the
/// regional communities Microsoft publishes for ExpressRoute (`12076:51xxx`), in `50xxx`.
fn regional_community(location: &str) -> Option<String> {
    let n = match location {
        "westeurope" => 2,
        "northeurope" => 3,
        "eastus" => 4,
        "eastus2" => 5,
        "westus" => 6,
        "northcentralus" => 7,
        "southcentralus" => 8,
        "centralus" => 9,
        "eastasia" => 10,
        "southeastasia" => 11,
        "westus2" => 26,
        "westcentralus" => 27,
        _ => return None,
    };
    Some(format!("12076:{}", 50000 + n))
}
