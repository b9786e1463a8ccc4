//! The ARM wire conventions shared by every resource type: error bodies, JSON responses and the
//! case-insensitive parsing of request paths into the resources they name.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use crate::core::http::{self, decode_path_segment};
pub(crate) use crate::core::http::{empty_response, insert_header};

/// An error as ARM returns it. Most resource providers wrap it in `{"error": {...}}`; Azure DNS
/// returns record-set errors unwrapped (`{"code": "NotFound", "message": ...}`), as real traffic
/// shows, so the shape is part of the error.
#[derive(Debug, Clone)]
pub(crate) struct ArmError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub unwrapped: bool,
    /// The network resource provider adds `"details": []` to some of its errors.
    pub empty_details: bool,
    pub headers: Vec<(&'static str, String)>,
}

impl ArmError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ArmError {
        ArmError {
            status,
            code: code.to_string(),
            message: message.into(),
            unwrapped: false,
            empty_details: false,
            headers: Vec::new(),
        }
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> ArmError {
        ArmError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// The DNS resource provider's own shape for record-set errors.
    pub fn dns(status: StatusCode, code: &str, message: impl Into<String>) -> ArmError {
        ArmError {
            unwrapped: true,
            ..ArmError::new(status, code, message)
        }
    }

    pub fn with_empty_details(mut self) -> ArmError {
        self.empty_details = true;
        self
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> ArmError {
        self.headers.push((name, value));
        self
    }

    pub fn group_not_found(group: &str) -> ArmError {
        ArmError::new(
            StatusCode::NOT_FOUND,
            "ResourceGroupNotFound",
            format!("Resource group '{group}' could not be found."),
        )
    }

    /// ARM's message for a tracked resource it does not know.
    pub fn resource_not_found(type_name: &str, name: &str, group: &str) -> ArmError {
        ArmError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!(
                "The Resource '{type_name}/{name}' under resource group '{group}' was not found. \
                 For more details please go to https://aka.ms/ARMResourceNotFoundFix"
            ),
        )
    }

    pub fn parent_not_found(child_type: &str, parent_id: &str) -> ArmError {
        ArmError::new(
            StatusCode::NOT_FOUND,
            "ParentResourceNotFound",
            format!(
                "Failed to perform 'write' on resource(s) of type '{child_type}', because the \
                 parent resource '{parent_id}' could not be found."
            ),
        )
    }

    pub fn body(&self) -> Value {
        let mut inner = json!({"code": self.code, "message": self.message});
        if self.empty_details {
            inner["details"] = json!([]);
        }
        if self.unwrapped {
            inner
        } else {
            json!({ "error": inner })
        }
    }

    pub fn into_response(self) -> Response {
        let body = self.body();
        let mut response = json_response(self.status, &body);
        for (name, value) in self.headers {
            insert_header(&mut response, name, &value);
        }
        response
    }
}

/// ARM's JSON answers, with the `content-type` spelling ARM sends.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    http::json_response(status, body, "application/json; charset=utf-8")
}

/// The resource types matihnet's AKS provider uses, with their canonical spellings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Kind {
    VirtualNetwork,
    Subnet,
    PublicIp,
    DnsZone,
    RecordSet,
}

impl Kind {
    /// The path segment after `providers/Microsoft.Network/` of a top-level type.
    pub fn segment(self) -> &'static str {
        match self {
            Kind::VirtualNetwork => "virtualNetworks",
            Kind::PublicIp => "publicIPAddresses",
            Kind::DnsZone => "dnsZones",
            Kind::Subnet => "subnets",
            Kind::RecordSet => "recordsets",
        }
    }

    pub fn type_name(self) -> &'static str {
        match self {
            Kind::VirtualNetwork => "Microsoft.Network/virtualNetworks",
            Kind::PublicIp => "Microsoft.Network/publicIPAddresses",
            Kind::DnsZone => "Microsoft.Network/dnsZones",
            Kind::Subnet => "Microsoft.Network/virtualNetworks/subnets",
            Kind::RecordSet => "Microsoft.Network/dnsZones/recordsets",
        }
    }

    /// The type as ARM's "not found" message names it: Azure DNS spells its zones in lower case
    /// there, as the recordings show.
    pub fn missing_type_name(self) -> &'static str {
        match self {
            Kind::DnsZone => "Microsoft.Network/dnszones",
            other => other.type_name(),
        }
    }

    fn top_level(segment: &str) -> Option<Kind> {
        [Kind::VirtualNetwork, Kind::PublicIp, Kind::DnsZone]
            .into_iter()
            .find(|k| k.segment().eq_ignore_ascii_case(segment))
    }
}

/// The record types a zone accepts, in the spelling ARM echoes; `DS`, `NAPTR` and `TLSA` only
/// from the api-versions that introduced them (see `record_type_in_api`).
pub(crate) const RECORD_TYPES: [&str; 13] = [
    "A", "AAAA", "CAA", "CNAME", "DS", "MX", "NAPTR", "NS", "PTR", "SOA", "SRV", "TLSA", "TXT",
];

/// The first DNS api-version that knows DS, NAPTR and TLSA record sets (2018-05-01 does not).
const DNSSEC_RECORD_TYPES_SINCE: &str = "2023-07-01-preview";

/// Whether the api-version of a request knows the record type.
pub(crate) fn record_type_in_api(record_type: &str, api_version: &str) -> bool {
    !matches!(record_type, "DS" | "NAPTR" | "TLSA") || api_version >= DNSSEC_RECORD_TYPES_SINCE
}

/// What a location-scoped catalogue lists (`.../locations/{loc}/...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Catalog {
    AvailableDelegations,
    EndpointServices,
}

/// What a request path names. Names keep the request's casing; keyword segments are matched
/// case-insensitively, as ARM does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Groups {
        sub: String,
    },
    Group {
        sub: String,
        rg: String,
    },
    GroupResources {
        sub: String,
        rg: String,
    },
    /// `Location` of a resource-group delete.
    GroupOperation {
        sub: String,
        id: String,
    },
    /// `.../providers/Microsoft.Network/locations/{loc}/operations|operationResults/{id}`.
    Operation {
        sub: String,
        id: String,
        results: bool,
    },
    Collection {
        sub: String,
        rg: String,
        kind: Kind,
    },
    /// `/subscriptions/{s}/providers/Microsoft.Network/{type}`: every group's.
    SubscriptionCollection {
        sub: String,
        kind: Kind,
    },
    /// `.../locations/{loc}/availableDelegations` (subscription or group scope) and
    /// `.../locations/{loc}/virtualNetworkAvailableEndpointServices`.
    Catalog {
        sub: String,
        rg: Option<String>,
        location: String,
        what: Catalog,
    },
    /// Azure DNS's own operation URLs: `.../dnsOperationStatuses/{id}` (results false) and
    /// `.../dnsOperationResults/{id}` (results true), under the zone's group.
    DnsOperation {
        sub: String,
        rg: String,
        id: String,
        results: bool,
    },
    /// `GET .../virtualNetworks/{vnet}/CheckIPAddressAvailability?ipAddress=...`.
    IpAvailability {
        sub: String,
        rg: String,
        vnet: String,
    },
    Resource {
        sub: String,
        rg: String,
        kind: Kind,
        name: String,
    },
    Subnets {
        sub: String,
        rg: String,
        vnet: String,
    },
    Subnet {
        sub: String,
        rg: String,
        vnet: String,
        name: String,
    },
    /// `record_type` None: `/recordsets` (every type), Some: `/{type}` (one type).
    RecordSets {
        sub: String,
        rg: String,
        zone: String,
        record_type: Option<&'static str>,
    },
    RecordSet {
        sub: String,
        rg: String,
        zone: String,
        record_type: &'static str,
        name: String,
    },
}

/// Why a path is not one of ours: an unknown type in a namespace we serve, or nothing at all.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PathError {
    UnknownType(String),
    NotFound,
}

pub(crate) fn parse_path(path: &str) -> Result<Target, PathError> {
    let segments: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(decode_path_segment)
        .collect();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let is = |i: usize, word: &str| s.get(i).is_some_and(|x| x.eq_ignore_ascii_case(word));
    if !is(0, "subscriptions") || s.len() < 2 || s[1].is_empty() {
        return Err(PathError::NotFound);
    }
    let sub = s[1].to_string();
    if s.len() == 3 && is(2, "resourcegroups") {
        return Ok(Target::Groups { sub });
    }
    if s.len() == 4 && is(2, "operationresults") {
        return Ok(Target::GroupOperation {
            sub,
            id: s[3].to_string(),
        });
    }
    if s.len() == 8
        && is(2, "providers")
        && is(3, "microsoft.network")
        && is(4, "locations")
        && (is(6, "operations") || is(6, "operationresults"))
    {
        return Ok(Target::Operation {
            sub,
            id: s[7].to_string(),
            results: is(6, "operationresults"),
        });
    }
    if s.len() == 5 && is(2, "providers") && is(3, "microsoft.network") {
        if let Some(kind) = Kind::top_level(s[4]) {
            return Ok(Target::SubscriptionCollection { sub, kind });
        }
    }
    if let Some(what) = catalog(&s, 2) {
        return Ok(Target::Catalog {
            sub,
            rg: None,
            location: s[5].to_string(),
            what,
        });
    }
    if !is(2, "resourcegroups") || s.len() < 4 {
        return Err(PathError::NotFound);
    }
    let rg = s[3].to_string();
    if let Some(what) = catalog(&s, 4) {
        return Ok(Target::Catalog {
            sub,
            rg: Some(rg),
            location: s[7].to_string(),
            what,
        });
    }
    if s.len() == 8
        && is(4, "providers")
        && is(5, "microsoft.network")
        && (is(6, "dnsoperationstatuses") || is(6, "dnsoperationresults"))
    {
        return Ok(Target::DnsOperation {
            sub,
            rg,
            id: s[7].to_string(),
            results: is(6, "dnsoperationresults"),
        });
    }
    if s.len() == 4 {
        return Ok(Target::Group { sub, rg });
    }
    if s.len() == 5 && is(4, "resources") {
        return Ok(Target::GroupResources { sub, rg });
    }
    if s.len() < 7 || !is(4, "providers") {
        return Err(PathError::NotFound);
    }
    if !is(5, "microsoft.network") {
        return Err(PathError::UnknownType(format!("{}/{}", s[5], s[6])));
    }
    let kind = Kind::top_level(s[6]).ok_or_else(|| PathError::UnknownType(s[6].to_string()))?;
    if s.len() == 7 {
        return Ok(Target::Collection { sub, rg, kind });
    }
    let name = s[7].to_string();
    match (kind, s.len()) {
        (_, 8) => Ok(Target::Resource {
            sub,
            rg,
            kind,
            name,
        }),
        (Kind::VirtualNetwork, 9) if is(8, "checkipaddressavailability") => {
            Ok(Target::IpAvailability {
                sub,
                rg,
                vnet: name,
            })
        }
        (Kind::VirtualNetwork, 9) if is(8, "subnets") => Ok(Target::Subnets {
            sub,
            rg,
            vnet: name,
        }),
        (Kind::VirtualNetwork, 10) if is(8, "subnets") => Ok(Target::Subnet {
            sub,
            rg,
            vnet: name,
            name: s[9].to_string(),
        }),
        (Kind::DnsZone, 9) if is(8, "recordsets") || is(8, "all") => Ok(Target::RecordSets {
            sub,
            rg,
            zone: name,
            record_type: None,
        }),
        (Kind::DnsZone, 9 | 10) => {
            let record_type = RECORD_TYPES
                .iter()
                .find(|t| t.eq_ignore_ascii_case(s[8]))
                .ok_or_else(|| PathError::UnknownType(format!("dnsZones/{}", s[8])))?;
            if s.len() == 9 {
                Ok(Target::RecordSets {
                    sub,
                    rg,
                    zone: name,
                    record_type: Some(record_type),
                })
            } else {
                Ok(Target::RecordSet {
                    sub,
                    rg,
                    zone: name,
                    record_type,
                    name: s[9].to_string(),
                })
            }
        }
        _ => Err(PathError::UnknownType(format!("{}/{}", s[6], s[8]))),
    }
}

/// `providers/Microsoft.Network/locations/{loc}/{catalogue}` starting at segment `at`.
fn catalog(s: &[&str], at: usize) -> Option<Catalog> {
    let is = |i: usize, word: &str| s.get(i).is_some_and(|x| x.eq_ignore_ascii_case(word));
    if s.len() != at + 5
        || !is(at, "providers")
        || !is(at + 1, "microsoft.network")
        || !is(at + 2, "locations")
    {
        return None;
    }
    if is(at + 4, "availabledelegations") {
        Some(Catalog::AvailableDelegations)
    } else if is(at + 4, "virtualnetworkavailableendpointservices") {
        Some(Catalog::EndpointServices)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_case_insensitively() {
        assert_eq!(
            parse_path("/SUBSCRIPTIONS/s/resourcegroups/RG/providers/microsoft.network/VIRTUALNETWORKS/v/Subnets/a"),
            Ok(Target::Subnet {
                sub: "s".into(),
                rg: "RG".into(),
                vnet: "v".into(),
                name: "a".into()
            })
        );
        assert_eq!(
            parse_path("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/dnszones/z.com/cname/%2A.x"),
            Ok(Target::RecordSet {
                sub: "s".into(),
                rg: "rg".into(),
                zone: "z.com".into(),
                record_type: "CNAME",
                name: "*.x".into()
            })
        );
        assert!(matches!(
            parse_path(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb"
            ),
            Err(PathError::UnknownType(_))
        ));
        assert_eq!(
            parse_path("/subscriptions/s/providers/Microsoft.Network/dnszones"),
            Ok(Target::SubscriptionCollection {
                sub: "s".into(),
                kind: Kind::DnsZone
            })
        );
        assert_eq!(
            parse_path("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/dnsOperationStatuses/a;1;z.com;Regular"),
            Ok(Target::DnsOperation {
                sub: "s".into(),
                rg: "rg".into(),
                id: "a;1;z.com;Regular".into(),
                results: false
            })
        );
        assert!(!record_type_in_api("TLSA", "2018-05-01"));
        assert!(record_type_in_api("TLSA", "2023-07-01-preview"));
    }
}
