//! `GET .../virtualNetworks/{vnet}/CheckIPAddressAvailability?ipAddress=...`: whether a private
//! address of a subnet is free. Azure keeps the first four addresses and the last of every
//! subnet; the answer for a reserved one proposes the first free addresses instead, as recorded.

use std::net::Ipv4Addr;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::prefixes::{prefixes, subnet_prefix_strings};
use crate::azure::arm::{json_response, ArmError, Kind};
use crate::azure::request::{method_not_allowed, query_param, Env, Req};
use crate::azure::resources;
use crate::core::cidr::Cidr;

/// How many free addresses the answer for a taken one proposes (five in the recording).
const PROPOSED: usize = 5;

pub(super) fn check(
    env: &Env,
    req: &Req,
    sub: &str,
    rg: &str,
    vnet: &str,
) -> Result<Response, ArmError> {
    if req.method != Method::GET {
        return Err(method_not_allowed(&req.method));
    }
    let vk = resources::existing(env, sub, rg, Kind::VirtualNetwork, vnet)?;
    let raw = query_param(&req.query, "ipAddress").unwrap_or_default();
    let Ok(ip) = raw.parse::<Ipv4Addr>() else {
        return Err(ArmError::bad_request(
            "InvalidRequestFormat",
            format!("Cannot parse the request. '{raw}' is not a valid IPv4 address."),
        ));
    };
    let Ok(single) = Cidr::parse(&format!("{ip}/32")) else {
        return Err(ArmError::bad_request(
            "InvalidRequestFormat",
            "Cannot parse the request.",
        ));
    };
    let mut containing = None;
    for (_, subnet) in env.state.children(&vk) {
        let ranges = prefixes(
            &subnet_prefix_strings(&subnet.body["properties"]),
            &subnet.id,
        )?;
        if let Some(range) = ranges.into_iter().find(|r| r.contains(single)) {
            containing = Some(range);
            break;
        }
    }
    let Some(range) = containing else {
        // Not recorded; the network RP refuses an address outside every subnet.
        return Err(ArmError::bad_request(
            "PrivateIPAddressNotInAnySubnet",
            format!("Private static IP address {ip} does not belong to the range of any subnet in the virtual network."),
        ));
    };
    let size = range.size();
    let reserved = |n: u64| n < 4 || n + 1 == size;
    let offset = u64::from(u32::from(ip)) - u64::from(u32::from(range.host(0)));
    if !reserved(offset) {
        return Ok(json_response(
            StatusCode::OK,
            &json!({"available": true, "isPlatformReserved": false}),
        ));
    }
    let free: Vec<String> = (4..size.saturating_sub(1))
        .take(PROPOSED)
        .filter_map(|n| u32::try_from(n).ok())
        .map(|n| range.host(n).to_string())
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"available": false, "availableIPAddresses": free, "isPlatformReserved": true}),
    ))
}
