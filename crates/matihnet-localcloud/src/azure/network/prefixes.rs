//! The network resource provider's address-prefix rules: prefixes parsed and reported with its
//! error codes (`InvalidAddressPrefixFormat`, `InvalidCIDRNotation`), every subnet inside its
//! VNet's address space and none overlapping another, and the stored body of a subnet with the
//! fields the RP fills in.

use serde_json::{json, Value};

use super::catalog::delegation_actions;
use crate::azure::arm::{ArmError, Kind};
use crate::core::cidr::{Cidr, CidrError};

/// The strings of a JSON array of strings (anything else: none).
pub(super) fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Parses prefixes the way the network RP reports them.
pub(super) fn prefixes(values: &[String], owner_id: &str) -> Result<Vec<Cidr>, ArmError> {
    values
        .iter()
        .map(|p| {
            Cidr::parse_padded(p).map_err(|e| match e {
                CidrError::Format => ArmError::bad_request(
                    "InvalidAddressPrefixFormat",
                    format!("Address prefix {p} of resource {owner_id} is not formatted correctly. It should follow CIDR notation, for example 10.0.0.0/24."),
                ),
                CidrError::HostBits { expected } => ArmError::bad_request(
                    "InvalidCIDRNotation",
                    format!("The address prefix {p} in resource {owner_id} has an invalid CIDR notation. For the given prefix length, the address prefix should be {expected}."),
                ),
            })
        })
        .collect()
}

/// `addressPrefix` or `addressPrefixes` of a subnet's properties.
pub(super) fn subnet_prefix_strings(props: &Value) -> Vec<String> {
    if let Some(p) = props["addressPrefix"].as_str() {
        return vec![p.to_string()];
    }
    strings(&props["addressPrefixes"])
}

/// Every subnet inside the VNet's address space and none overlapping another.
pub(super) fn check_layout(
    vnet_name: &str,
    space: &[Cidr],
    subnets: &[(String, Vec<Cidr>)],
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

/// A subnet that names no prefix at all.
pub(super) fn invalid_subnet(subnet: &str, vnet_name: &str) -> ArmError {
    ArmError::bad_request(
        "NetcfgInvalidSubnet",
        format!("Subnet '{subnet}' is not valid in virtual network '{vnet_name}'."),
    )
}

/// The subnet's stored body from a request's `properties`, with what the network RP fills in:
/// no delegations, private endpoint policies `Disabled` and private link service policies
/// `Enabled` (the defaults real traffic shows), the actions of each delegation, and service
/// endpoints valid in every location (`["*"]`).
pub(super) fn subnet_body(id: &str, name: &str, props: &Value) -> Value {
    let mut props = props.as_object().cloned().unwrap_or_default();
    for read_only in ["provisioningState", "ipConfigurations", "etag"] {
        props.remove(read_only);
    }
    let mut delegations = props
        .remove("delegations")
        .and_then(|d| d.as_array().cloned())
        .unwrap_or_default();
    for d in delegations.iter_mut() {
        let service = d["properties"]["serviceName"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if let Some(obj) = d.as_object_mut() {
            for read_only in ["id", "etag", "type"] {
                obj.remove(read_only);
            }
            let p = obj.entry("properties").or_insert_with(|| json!({}));
            if let Some(p) = p.as_object_mut() {
                p.remove("provisioningState");
                p.insert("actions".into(), json!(delegation_actions(&service)));
            }
        }
    }
    props.insert("delegations".into(), Value::Array(delegations));
    if let Some(endpoints) = props
        .get_mut("serviceEndpoints")
        .and_then(Value::as_array_mut)
    {
        for e in endpoints.iter_mut().filter_map(Value::as_object_mut) {
            e.remove("provisioningState");
            e.entry("locations").or_insert_with(|| json!(["*"]));
        }
    }
    props
        .entry("privateEndpointNetworkPolicies")
        .or_insert_with(|| json!("Disabled"));
    props
        .entry("privateLinkServiceNetworkPolicies")
        .or_insert_with(|| json!("Enabled"));
    json!({
        "name": name,
        "id": id,
        "properties": props,
        "type": Kind::Subnet.type_name(),
    })
}
