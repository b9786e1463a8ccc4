//! Regional subnetworks: their record and rendering, the range rules (allowed address space,
//! prefix lengths, no overlap within the network in any region, including writes not yet
//! applied), secondary ranges, and the operation-backed `PATCH` (widen the primary range, add
//! secondary ranges, with the current fingerprint) and `setPrivateIpGoogleAccess`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::{post, MethodRouter};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::collection::{
    self, kept_in, pending, record_key, record_path, Collection, Head, Place, Scope, WriteRequest,
};
use super::operations::{Kind, OperationError};
use super::{
    bool_field, check_name, fingerprint, region_url, required, string_field, Network, API,
};
use crate::core::cidr::Cidr;
use crate::core::clock;
use crate::gcp::wire::{ApiError, ApiResult};
use crate::gcp::{api_fields, echo};
use crate::gcp::{Cloud, World};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SecondaryRange {
    range_name: String,
    ip_cidr_range: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Subnetwork {
    #[serde(flatten)]
    head: Head,
    network_project: String,
    network: String,
    pub(super) ip_cidr_range: String,
    secondary_ip_ranges: Vec<SecondaryRange>,
    private_ip_google_access: bool,
    fingerprint: String,
    description: Option<String>,
    log_config: Option<Value>,
    stack_type: String,
    purpose: String,
    private_ipv6_google_access: String,
    /// Echoed, not resolved: internalRanges are not emulated.
    #[serde(default)]
    reserved_internal_range: Option<String>,
    /// Created by GCP with an auto-mode network; goes with it and cannot be deleted alone.
    #[serde(default)]
    pub(super) auto_created: bool,
    /// Documented fields the record does not model, as sent.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    echoed: Map<String, Value>,
}

/// The request fields [`Subnetwork`] reads itself; every other documented one is echoed.
const MODELLED: [&str; 13] = [
    "name",
    "network",
    "region",
    "ipCidrRange",
    "secondaryIpRanges",
    "privateIpGoogleAccess",
    "fingerprint",
    "description",
    "logConfig",
    "stackType",
    "purpose",
    "privateIpv6GoogleAccess",
    "reservedInternalRange",
];

impl Subnetwork {
    /// The key of the network it belongs to.
    pub(super) fn network_key(&self) -> String {
        record_key(&self.network_project, None, &self.network)
    }

    /// `projects/p/regions/r/subnetworks/s`.
    pub(super) fn path(&self) -> String {
        self.head.path::<Subnetwork>()
    }

    pub(super) fn network_name(&self) -> &str {
        &self.network
    }

    /// The primary and every secondary range.
    pub(super) fn ranges(&self) -> Vec<String> {
        let mut out = vec![self.ip_cidr_range.clone()];
        out.extend(
            self.secondary_ip_ranges
                .iter()
                .map(|r| r.ip_cidr_range.clone()),
        );
        out
    }

    pub(super) fn head_key(&self) -> String {
        self.head.key()
    }

    /// The subnetwork GCP creates in one region for an auto-mode network, with the defaults a
    /// recorded one shows.
    pub(super) fn auto_created(head: Head, network: &Head, range: &str) -> Subnetwork {
        Subnetwork {
            head,
            network_project: network.project.clone(),
            network: network.name.clone(),
            ip_cidr_range: range.to_string(),
            secondary_ip_ranges: Vec::new(),
            private_ip_google_access: false,
            fingerprint: fingerprint(),
            description: None,
            log_config: None,
            stack_type: "IPV4_ONLY".into(),
            purpose: "PRIVATE".into(),
            private_ipv6_google_access: "DISABLE_GOOGLE_ACCESS".into(),
            reserved_internal_range: None,
            auto_created: true,
            echoed: Map::new(),
        }
    }
}

/// What an insert's body decides before the world is consulted.
pub(super) struct Draft {
    network_project: String,
    network: String,
    ip_cidr_range: String,
}

/// The ranges GCP documents as valid for IPv4 subnet ranges without privately used public IPs:
/// RFC 1918, shared address space, IETF protocol assignments, the documentation ranges,
/// benchmarking, and the former class E. The emulator does not model privately used public
/// ranges, so a public range is refused: in matihnet's model it is always a mistake.
const ALLOWED: [&str; 10] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "240.0.0.0/4",
];

fn in_allowed_space(range: Cidr) -> bool {
    ALLOWED
        .iter()
        .filter_map(|a| Cidr::parse(a).ok())
        .any(|a| a.contains(range))
}

/// `network` may be a full URL, `projects/p/global/networks/n` or `global/networks/n`.
fn parse_network_ref(reference: &str, default_project: &str) -> Option<(String, String)> {
    let name = reference.split("/networks/").nth(1)?.trim_end_matches('/');
    if name.is_empty() || name.contains('/') {
        return None;
    }
    let project = reference
        .split("projects/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or(default_project);
    Some((project.to_string(), name.to_string()))
}

fn parse_range(field: &str, text: &str) -> Result<Cidr, ApiError> {
    let range = Cidr::parse(text).map_err(|_| {
        ApiError::invalid(format!(
            "Invalid value for field '{field}': '{text}'. Invalid IPCidrRange: {text}."
        ))
    })?;
    if !in_allowed_space(range) {
        return Err(ApiError::invalid(format!(
            "Invalid value for field '{field}': '{text}'. The IP range must be within the private (RFC 1918) or other reserved IPv4 space; privately used public ranges are not emulated."
        )));
    }
    if !(8..=29).contains(&range.prefix_len()) {
        return Err(ApiError::invalid(format!(
            "Invalid value for field '{field}': '{text}'. The prefix length of an IPv4 subnetwork range must be between 8 and 29."
        )));
    }
    Ok(range)
}

fn parse_secondary(body: &Map<String, Value>) -> Result<Option<Vec<SecondaryRange>>, ApiError> {
    let Some(value) = body.get("secondaryIpRanges").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let ranges: Vec<SecondaryRange> = serde_json::from_value(value.clone()).map_err(|e| {
        ApiError::invalid(format!(
            "Invalid value for field 'resource.secondaryIpRanges': {e}"
        ))
    })?;
    Ok(Some(ranges))
}

/// Checks a subnetwork's ranges against each other and against every other subnetwork of the
/// network (in any region: a VPC's address space is global), including writes not yet applied.
fn validate_ranges(world: &World, subnet: &Subnetwork) -> Result<(), ApiError> {
    let primary = parse_range("resource.ipCidrRange", &subnet.ip_cidr_range)?;
    let mut own: Vec<(String, Cidr)> = vec![(String::new(), primary)];
    for (i, r) in subnet.secondary_ip_ranges.iter().enumerate() {
        let valid_name = (1..=63).contains(&r.range_name.len())
            && r.range_name.starts_with(|c: char| c.is_ascii_lowercase())
            && r.range_name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid_name {
            return Err(ApiError::invalid(format!(
                "Invalid value for field 'resource.secondaryIpRanges[{i}].rangeName': '{}'. Must be a match of regex '[a-z]([-a-z0-9]*[a-z0-9])?'",
                r.range_name
            )));
        }
        let range = parse_range(
            &format!("resource.secondaryIpRanges[{i}].ipCidrRange"),
            &r.ip_cidr_range,
        )?;
        for (other_name, other) in &own {
            if *other_name == r.range_name {
                return Err(ApiError::invalid(format!(
                    "Invalid value for field 'resource.secondaryIpRanges[{i}].rangeName': '{}'. Duplicate secondary range name.",
                    r.range_name
                )));
            }
            if other.overlaps(range) {
                let what = if other_name.is_empty() {
                    "the primary range".to_string()
                } else {
                    format!("secondary range '{other_name}'")
                };
                return Err(ApiError::invalid(format!(
                    "Invalid IPCidrRange: {range} conflicts with {what} ({other}) of subnetwork '{}'.",
                    subnet.head.name
                )));
            }
        }
        own.push((r.range_name.clone(), range));
    }
    let mut others: BTreeMap<String, &Subnetwork> = world
        .subnetworks
        .iter()
        .map(|(k, s)| (k.clone(), s))
        .collect();
    for (s, _) in pending::<Subnetwork>(world) {
        others.insert(s.head.key(), s);
    }
    for other in others.values() {
        if other.head.key() == subnet.head.key()
            || other.network_project != subnet.network_project
            || other.network != subnet.network
        {
            continue;
        }
        let mut theirs = vec![other.ip_cidr_range.as_str()];
        theirs.extend(
            other
                .secondary_ip_ranges
                .iter()
                .map(|r| r.ip_cidr_range.as_str()),
        );
        for t in theirs.into_iter().filter_map(|t| Cidr::parse(t).ok()) {
            if let Some((_, mine)) = own.iter().find(|(_, m)| m.overlaps(t)) {
                return Err(ApiError::invalid(format!(
                    "Invalid IPCidrRange: {mine} conflicts with existing subnetwork '{}' in region '{}'.",
                    other.head.name,
                    other.head.region()
                )));
            }
        }
    }
    Ok(())
}

impl Collection for Subnetwork {
    const PLURAL: &'static str = "subnetworks";
    const LIST_KIND: &'static str = "compute#subnetworkList";
    const SCOPE: Scope = Scope::Regional;
    const KIND: Kind = Kind::Subnetwork;
    type Draft = Draft;

    kept_in!(subnetworks, Subnetwork);

    fn render(&self, _world: &World) -> Value {
        let gateway = Cidr::parse(&self.ip_cidr_range)
            .map(|c| c.host(1).to_string())
            .unwrap_or_default();
        let head = &self.head;
        let mut v = json!({
            "creationTimestamp": clock::rfc3339(head.created_ms),
            "fingerprint": self.fingerprint,
            "gatewayAddress": gateway,
            "id": head.id.to_string(),
            "ipCidrRange": self.ip_cidr_range,
            "kind": "compute#subnetwork",
            "name": head.name,
            "network": format!("{API}/projects/{}/global/networks/{}", self.network_project, self.network),
            "privateIpGoogleAccess": self.private_ip_google_access,
            "privateIpv6GoogleAccess": self.private_ipv6_google_access,
            "purpose": self.purpose,
            "region": region_url(&head.project, head.region()),
            "selfLink": format!("{API}/{}", self.path()),
            "stackType": self.stack_type,
            "state": "READY",
        });
        if let Some(obj) = v.as_object_mut() {
            if let Some(d) = &self.description {
                obj.insert("description".into(), json!(d));
            }
            if let Some(l) = &self.log_config {
                obj.insert("logConfig".into(), l.clone());
            }
            if !self.secondary_ip_ranges.is_empty() {
                obj.insert("secondaryIpRanges".into(), json!(self.secondary_ip_ranges));
            }
            if let Some(r) = &self.reserved_internal_range {
                obj.insert("reservedInternalRange".into(), json!(r));
            }
        }
        echo::render_into(&mut v, &self.echoed);
        v
    }

    fn prepare(body: &Map<String, Value>, place: &Place) -> Result<(String, Draft), ApiError> {
        let name = check_name(string_field(body, "name")?)?;
        let network_ref = required(string_field(body, "network")?, "resource.network")?;
        let (network_project, network) = parse_network_ref(&network_ref, &place.project)
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "Invalid value for field 'resource.network': '{network_ref}'. The URL is malformed."
                ))
            })?;
        let ip_cidr_range = required(string_field(body, "ipCidrRange")?, "resource.ipCidrRange")?;
        Ok((
            name,
            Draft {
                network_project,
                network,
                ip_cidr_range,
            },
        ))
    }

    fn check_references(world: &World, draft: &Draft) -> Result<(), ApiError> {
        let key = record_key(&draft.network_project, None, &draft.network);
        if world.networks.contains_key(&key) {
            Ok(())
        } else {
            Err(ApiError::not_found(&record_path(
                &draft.network_project,
                None,
                Network::PLURAL,
                &draft.network,
            )))
        }
    }

    fn build(
        world: &mut World,
        place: &Place,
        name: String,
        draft: Draft,
        body: &Map<String, Value>,
    ) -> Result<Subnetwork, ApiError> {
        let subnet = Subnetwork {
            head: Head::new(world, place, name),
            network_project: draft.network_project,
            network: draft.network,
            ip_cidr_range: draft.ip_cidr_range,
            secondary_ip_ranges: parse_secondary(body)?.unwrap_or_default(),
            private_ip_google_access: bool_field(body, "privateIpGoogleAccess")?.unwrap_or(false),
            fingerprint: fingerprint(),
            description: string_field(body, "description")?,
            log_config: body.get("logConfig").filter(|v| !v.is_null()).cloned(),
            stack_type: string_field(body, "stackType")?.unwrap_or_else(|| "IPV4_ONLY".into()),
            purpose: string_field(body, "purpose")?.unwrap_or_else(|| "PRIVATE".into()),
            private_ipv6_google_access: string_field(body, "privateIpv6GoogleAccess")?
                .unwrap_or_else(|| "DISABLE_GOOGLE_ACCESS".into()),
            reserved_internal_range: string_field(body, "reservedInternalRange")?,
            auto_created: false,
            echoed: echo::unmodelled(&api_fields::SUBNETWORK, body, &MODELLED),
        };
        validate_ranges(world, &subnet)?;
        Ok(subnet)
    }

    fn check_insert_finished(world: &World, record: &Self) -> Result<(), OperationError> {
        if world.subnetworks.contains_key(&record.head.key()) {
            return Err(OperationError::exists(&record.path()));
        }
        if !world.networks.contains_key(&record.network_key()) {
            return Err(OperationError::missing(&record_path(
                &record.network_project,
                None,
                Network::PLURAL,
                &record.network,
            )));
        }
        Ok(())
    }

    /// An auto-mode network's subnetworks go only with the network (or after
    /// `switchToCustomMode`).
    fn check_delete(world: &World, place: &Place, name: &str) -> Result<(), ApiError> {
        match world.subnetworks.get(&place.key(name)) {
            Some(s) if s.auto_created => Err(ApiError::invalid(format!(
                "Invalid resource usage: 'Cannot delete auto subnetwork '{}' from an auto subnet mode network. Switch the network to custom mode first.'.",
                place.path::<Subnetwork>(name)
            ))),
            _ => Ok(()),
        }
    }

    fn check_update_finished(world: &World, record: &Self) -> Result<(), OperationError> {
        if world.subnetworks.contains_key(&record.head.key()) {
            Ok(())
        } else {
            Err(OperationError::missing(&record.path()))
        }
    }

    fn item_methods(item: MethodRouter<Arc<Cloud>>) -> MethodRouter<Arc<Cloud>> {
        item.patch(patch)
    }

    fn custom_verbs(item_path: &str) -> Router<Arc<Cloud>> {
        Router::new().route(
            &format!("{item_path}/setPrivateIpGoogleAccess"),
            post(set_private_ip_google_access),
        )
    }
}

fn check_fingerprint(body: &Map<String, Value>, current: &str) -> Result<(), ApiError> {
    match string_field(body, "fingerprint")? {
        None => Err(ApiError::invalid(
            "Invalid value for field 'resource.fingerprint': ''. Supplied fingerprint does not match current metadata fingerprint.",
        )),
        Some(f) if f != current => Err(ApiError::new(
            412,
            "conditionNotMet",
            "Supplied fingerprint does not match current metadata fingerprint.",
        )),
        Some(_) => Ok(()),
    }
}

async fn patch(State(cloud): State<Arc<Cloud>>, write: WriteRequest) -> ApiResult {
    let WriteRequest { place, query, body } = write;
    collection::update::<Subnetwork>(&cloud, &place, &query, "patch", |world, current| {
        check_fingerprint(&body, &current.fingerprint)?;
        let mut next = current.clone();
        if let Some(range) = string_field(&body, "ipCidrRange")? {
            if range != current.ip_cidr_range {
                // GCP can only widen a primary range in place.
                let old = Cidr::parse(&current.ip_cidr_range).ok();
                let new = parse_range("resource.ipCidrRange", &range)?;
                if !old.is_some_and(|o| new.contains(o) && new.prefix_len() < o.prefix_len()) {
                    return Err(ApiError::invalid(format!(
                        "Invalid value for field 'resource.ipCidrRange': '{range}'. The new range must contain the existing range {} (a primary range can only be expanded).",
                        current.ip_cidr_range
                    )));
                }
                next.ip_cidr_range = range;
            }
        }
        if let Some(ranges) = parse_secondary(&body)? {
            for r in &ranges {
                let changed = current
                    .secondary_ip_ranges
                    .iter()
                    .find(|c| c.range_name == r.range_name)
                    .filter(|c| c.ip_cidr_range != r.ip_cidr_range);
                if let Some(c) = changed {
                    return Err(ApiError::invalid(format!(
                        "Invalid value for field 'resource.secondaryIpRanges': secondary range '{}' cannot be changed from {} to {}; remove it and add a new range instead.",
                        r.range_name, c.ip_cidr_range, r.ip_cidr_range
                    )));
                }
            }
            next.secondary_ip_ranges = ranges;
        }
        if let Some(b) = bool_field(&body, "privateIpGoogleAccess")? {
            next.private_ip_google_access = b;
        }
        if let Some(d) = string_field(&body, "description")? {
            next.description = Some(d);
        }
        if let Some(l) = body.get("logConfig").filter(|v| !v.is_null()) {
            next.log_config = Some(l.clone());
        }
        echo::patch(&mut next.echoed, &api_fields::SUBNETWORK, &body, &MODELLED);
        validate_ranges(world, &next)?;
        next.fingerprint = fingerprint();
        Ok(next)
    })
}

async fn set_private_ip_google_access(
    State(cloud): State<Arc<Cloud>>,
    write: WriteRequest,
) -> ApiResult {
    let WriteRequest { place, query, body } = write;
    let access = bool_field(&body, "privateIpGoogleAccess")?.ok_or_else(|| {
        ApiError::new(
            400,
            "required",
            "Required field 'privateIpGoogleAccess' not specified",
        )
    })?;
    collection::update::<Subnetwork>(
        &cloud,
        &place,
        &query,
        "setPrivateIpGoogleAccess",
        |_, mut next| {
            next.private_ip_google_access = access;
            next.fingerprint = fingerprint();
            Ok(next)
        },
    )
}
