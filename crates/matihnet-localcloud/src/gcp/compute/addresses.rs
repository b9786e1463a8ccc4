//! Regional and global addresses, external and internal: their record and rendering, the
//! allocation of the address itself (external ones from a public pool, the first free host of a
//! subnetwork for regional internal ones, a free block of the network for a global
//! `VPC_PEERING` range), labels, and the synchronous `setLabels` with its label fingerprint.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::collection::{find, kept_in, Collection, Head, Place, Scope, WriteRequest};
use super::operations::{self, Kind};
use super::{check_name, fingerprint, region_url, string_field, Subnetwork, API};
use crate::core::cidr::Cidr;
use crate::core::clock;
use crate::core::public_ip;
use crate::gcp::fields::{self, LabelError};
use crate::gcp::wire::{ok, ApiError, ApiResult};
use crate::gcp::{api_fields, echo};
use crate::gcp::{Cloud, World};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Address {
    #[serde(flatten)]
    head: Head,
    address: String,
    address_type: String,
    network_tier: String,
    description: String,
    labels: BTreeMap<String, String>,
    label_fingerprint: String,
    subnetwork: Option<String>,
    purpose: Option<String>,
    #[serde(default)]
    network: Option<String>,
    #[serde(default)]
    prefix_length: Option<u8>,
    #[serde(default)]
    ip_version: Option<String>,
    #[serde(default)]
    ip_collection: Option<String>,
    /// Documented fields the record does not model, as sent.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    echoed: Map<String, Value>,
}

/// The request fields [`Address`] reads itself; every other documented one is echoed.
const MODELLED: [&str; 13] = [
    "name",
    "address",
    "addressType",
    "description",
    "labels",
    "labelFingerprint",
    "networkTier",
    "subnetwork",
    "purpose",
    "network",
    "prefixLength",
    "ipVersion",
    "ipCollection",
];

/// A global address: the same record, kept in its own map and served under `global/`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct GlobalAddress(Address);

/// What an insert's body decides before the world is consulted.
pub(super) struct Draft {
    address_type: String,
    labels: BTreeMap<String, String>,
    requested: Option<String>,
    subnetwork: Option<String>,
}

fn labels_field(body: &Map<String, Value>) -> Result<BTreeMap<String, String>, ApiError> {
    fields::labels(body).map_err(|e| match e {
        LabelError::NotStrings(e) => {
            ApiError::invalid(format!("Invalid value for field 'resource.labels': {e}"))
        }
        LabelError::Invalid { key, value } => ApiError::invalid(format!(
            "Invalid value for field 'resource.labels': '{key}={value}'. Label keys and values may contain only lowercase letters, digits, '-' and '_'."
        )),
    })
}

/// The first free host of the subnetwork after the gateway.
fn internal_address(
    world: &World,
    place: &Place,
    subnetwork: Option<&str>,
) -> Result<String, ApiError> {
    let reference = subnetwork.ok_or_else(|| {
        ApiError::invalid("Invalid value for field 'resource.subnetwork': ''. An INTERNAL address needs a subnetwork.")
    })?;
    let name = reference.rsplit('/').next().unwrap_or(reference);
    let subnet = find::<Subnetwork>(world, place, name)?;
    let range = Cidr::parse(&subnet.ip_cidr_range)
        .map_err(|_| ApiError::invalid("The subnetwork's range is malformed."))?;
    let used: Vec<&str> = world
        .addresses
        .values()
        .map(|a| a.address.as_str())
        .collect();
    // Skip the network, gateway, and the two addresses GCP reserves at the end of the range.
    (2..range.size().saturating_sub(2))
        .filter_map(|n| u32::try_from(n).ok())
        .map(|n| range.host(n).to_string())
        .find(|ip| !used.contains(&ip.as_str()))
        .ok_or_else(|| {
            ApiError::new(
                400,
                "ipSpaceExhausted",
                format!("IP space of '{}' is exhausted.", subnet.head().name),
            )
        })
}

/// A free block of `prefix_length` bits in 10.0.0.0/8 for a `VPC_PEERING` range: clear of
/// every subnetwork range of the network and of the other ranges reserved in it.
fn peering_range(world: &World, network: &str, prefix_length: u8) -> Result<String, ApiError> {
    if !(8..=29).contains(&prefix_length) {
        return Err(ApiError::invalid(format!(
            "Invalid value for field 'resource.prefixLength': '{prefix_length}'. Must be between 8 and 29."
        )));
    }
    let network_name = network.rsplit('/').next().unwrap_or(network);
    let mut taken: Vec<Cidr> = world
        .subnetworks
        .values()
        .filter(|s| s.network_name() == network_name)
        .flat_map(|s| s.ranges())
        .filter_map(|r| Cidr::parse(&r).ok())
        .collect();
    taken.extend(world.global_addresses.values().filter_map(|a| {
        let a = &a.0;
        let len = a.prefix_length?;
        Cidr::parse(&format!("{}/{len}", a.address)).ok()
    }));
    let step = 1u64 << (32 - u32::from(prefix_length));
    let base = u64::from(u32::from(std::net::Ipv4Addr::new(10, 0, 0, 0)));
    (0..(1u64 << 24) / step)
        .filter_map(|i| u32::try_from(base + i * step).ok())
        .map(std::net::Ipv4Addr::from)
        .find(|start| {
            Cidr::parse(&format!("{start}/{prefix_length}"))
                .is_ok_and(|block| !taken.iter().any(|t| t.overlaps(block)))
        })
        .map(|start| start.to_string())
        .ok_or_else(|| {
            ApiError::new(
                400,
                "ipSpaceExhausted",
                format!("No free /{prefix_length} range is left in network '{network_name}'."),
            )
        })
}

impl Address {
    fn render_address(&self) -> Value {
        let head = &self.head;
        let global = head.region.is_none();
        let self_link = if global {
            format!(
                "{API}/projects/{}/global/addresses/{}",
                head.project, head.name
            )
        } else {
            format!("{API}/{}", head.path::<Address>())
        };
        let mut v = json!({
            "address": self.address,
            "addressType": self.address_type,
            "creationTimestamp": clock::rfc3339(head.created_ms),
            "description": self.description,
            "id": head.id.to_string(),
            "kind": "compute#address",
            "labelFingerprint": self.label_fingerprint,
            "name": head.name,
            "selfLink": self_link,
        });
        if let Some(obj) = v.as_object_mut() {
            if !global {
                obj.insert(
                    "region".into(),
                    json!(region_url(&head.project, head.region())),
                );
            }
            // A peering range is not an address in use: recorded GCP shows it without status.
            if self.purpose.as_deref() != Some("VPC_PEERING") {
                obj.insert("status".into(), json!("RESERVED"));
            }
            // Recorded regional addresses carry the tier even when internal; global internal
            // ones do not.
            if !global || self.address_type == "EXTERNAL" {
                obj.insert("networkTier".into(), json!(self.network_tier));
            }
            if !self.labels.is_empty() {
                obj.insert("labels".into(), json!(self.labels));
            }
            for (field, value) in [
                ("subnetwork", &self.subnetwork),
                ("purpose", &self.purpose),
                ("network", &self.network),
                ("ipVersion", &self.ip_version),
                ("ipCollection", &self.ip_collection),
            ] {
                if let Some(value) = value {
                    obj.insert(field.into(), json!(value));
                }
            }
            if let Some(len) = self.prefix_length {
                obj.insert("prefixLength".into(), json!(len));
            }
        }
        echo::render_into(&mut v, &self.echoed);
        v
    }

    fn prepare_address(body: &Map<String, Value>) -> Result<(String, Draft), ApiError> {
        let name = check_name(string_field(body, "name")?)?;
        let address_type = string_field(body, "addressType")?.unwrap_or_else(|| "EXTERNAL".into());
        if address_type != "EXTERNAL" && address_type != "INTERNAL" {
            return Err(ApiError::invalid(format!(
                "Invalid value for field 'resource.addressType': '{address_type}'. Value must be one of [EXTERNAL, INTERNAL]"
            )));
        }
        let labels = labels_field(body)?;
        let requested = string_field(body, "address")?;
        let subnetwork = string_field(body, "subnetwork")?;
        Ok((
            name,
            Draft {
                address_type,
                labels,
                requested,
                subnetwork,
            },
        ))
    }

    fn build_address(
        world: &mut World,
        place: &Place,
        name: String,
        draft: Draft,
        body: &Map<String, Value>,
    ) -> Result<Address, ApiError> {
        let Draft {
            address_type,
            labels,
            requested,
            subnetwork,
        } = draft;
        let purpose = string_field(body, "purpose")?;
        let network = string_field(body, "network")?;
        let prefix_length =
            match body.get("prefixLength") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_u64().and_then(|n| u8::try_from(n).ok()).ok_or_else(
                    || {
                        ApiError::invalid(format!(
                    "Invalid value for field 'resource.prefixLength': '{v}'. Expected an integer."
                ))
                    },
                )?),
            };
        let address = match (address_type.as_str(), requested) {
            (_, Some(ip)) => ip,
            ("EXTERNAL", None) => {
                // GCP hands out regional external addresses from 34.0.0.0/8 and global ones
                // (load-balancer front ends) from 35.0.0.0/8 among others.
                let key = format!(
                    "projects/{}/{}/addresses/{name}",
                    place.project,
                    place
                        .region
                        .as_deref()
                        .map_or("global".to_string(), |r| format!("regions/{r}"))
                );
                let first_octet = if place.region.is_some() { 34 } else { 35 };
                let pool = public_ip::Pool {
                    first: std::net::Ipv4Addr::new(first_octet, 0, 0, 0),
                    size: 1 << 24,
                };
                public_ip::pick(&pool, &key, |ip| {
                    world.addresses.values().any(|a| a.address == ip)
                        || world.global_addresses.values().any(|a| a.0.address == ip)
                })
            }
            _ if place.region.is_none() => {
                let network = network.as_deref().ok_or_else(|| {
                    ApiError::invalid("Invalid value for field 'resource.network': ''. A global INTERNAL address needs a network.")
                })?;
                if purpose.as_deref() != Some("VPC_PEERING") {
                    return Err(ApiError::invalid(format!(
                        "Invalid value for field 'resource.purpose': '{}'. A global INTERNAL address must have purpose VPC_PEERING.",
                        purpose.as_deref().unwrap_or_default()
                    )));
                }
                peering_range(world, network, prefix_length.unwrap_or(16))?
            }
            _ => internal_address(world, place, subnetwork.as_deref())?,
        };
        Ok(Address {
            head: Head::new(world, place, name),
            address,
            address_type: address_type.clone(),
            network_tier: string_field(body, "networkTier")?.unwrap_or_else(|| "PREMIUM".into()),
            description: string_field(body, "description")?.unwrap_or_default(),
            labels,
            label_fingerprint: fingerprint(),
            // Echoed as sent: recorded GCP answers a relative reference with a relative one.
            subnetwork,
            purpose: purpose.or_else(|| {
                (address_type == "INTERNAL" && place.region.is_some())
                    .then(|| "GCE_ENDPOINT".into())
            }),
            network,
            prefix_length,
            ip_version: string_field(body, "ipVersion")?,
            ip_collection: string_field(body, "ipCollection")?,
            echoed: echo::unmodelled(&api_fields::ADDRESS, body, &MODELLED),
        })
    }
}

/// What `setLabels` needs of either kind of address.
trait Labelled: Collection {
    fn address_mut(&mut self) -> &mut Address;
}

impl Labelled for Address {
    fn address_mut(&mut self) -> &mut Address {
        self
    }
}

impl Labelled for GlobalAddress {
    fn address_mut(&mut self) -> &mut Address {
        &mut self.0
    }
}

impl Collection for GlobalAddress {
    const PLURAL: &'static str = "addresses";
    const LIST_KIND: &'static str = "compute#addressList";
    const SCOPE: Scope = Scope::Global;
    const KIND: Kind = Kind::GlobalAddress;
    type Draft = Draft;

    fn records(world: &World) -> &BTreeMap<String, Self> {
        &world.global_addresses
    }

    fn records_mut(world: &mut World) -> &mut BTreeMap<String, Self> {
        &mut world.global_addresses
    }

    fn into_resource(self) -> operations::Resource {
        operations::Resource::GlobalAddress(self)
    }

    fn from_resource(resource: &operations::Resource) -> Option<&Self> {
        match resource {
            operations::Resource::GlobalAddress(a) => Some(a),
            _ => None,
        }
    }

    fn head(&self) -> &Head {
        &self.0.head
    }

    fn render(&self, _world: &World) -> Value {
        self.0.render_address()
    }

    fn prepare(body: &Map<String, Value>, _place: &Place) -> Result<(String, Draft), ApiError> {
        Address::prepare_address(body)
    }

    fn build(
        world: &mut World,
        place: &Place,
        name: String,
        draft: Draft,
        body: &Map<String, Value>,
    ) -> Result<GlobalAddress, ApiError> {
        Address::build_address(world, place, name, draft, body).map(GlobalAddress)
    }

    fn custom_verbs(item_path: &str) -> Router<Arc<Cloud>> {
        Router::new().route(
            &format!("{item_path}/setLabels"),
            post(set_labels::<GlobalAddress>),
        )
    }
}

impl Collection for Address {
    const PLURAL: &'static str = "addresses";
    const LIST_KIND: &'static str = "compute#addressList";
    const SCOPE: Scope = Scope::Regional;
    const KIND: Kind = Kind::Address;
    type Draft = Draft;

    kept_in!(addresses, Address);

    fn render(&self, _world: &World) -> Value {
        self.render_address()
    }

    fn prepare(body: &Map<String, Value>, _place: &Place) -> Result<(String, Draft), ApiError> {
        Address::prepare_address(body)
    }

    fn build(
        world: &mut World,
        place: &Place,
        name: String,
        draft: Draft,
        body: &Map<String, Value>,
    ) -> Result<Address, ApiError> {
        Address::build_address(world, place, name, draft, body)
    }

    fn custom_verbs(item_path: &str) -> Router<Arc<Cloud>> {
        Router::new().route(
            &format!("{item_path}/setLabels"),
            post(set_labels::<Address>),
        )
    }
}

/// Labels change at once: the recorded `setLabels` answer is already `DONE`.
async fn set_labels<C: Labelled>(
    State(cloud): State<Arc<Cloud>>,
    write: WriteRequest,
) -> ApiResult {
    let WriteRequest { place, body, .. } = write;
    let name = place.name()?;
    let mut held = cloud.store.settled();
    let mut record = find::<C>(&held.world, &place, name)?.clone();
    let address = record.address_mut();
    match string_field(&body, "labelFingerprint")? {
        Some(f) if f == address.label_fingerprint => {}
        _ => {
            return Err(ApiError::new(
                412,
                "conditionNotMet",
                "Labels fingerprint either invalid or resource labels have changed",
            ))
        }
    }
    address.labels = labels_field(&body)?;
    address.label_fingerprint = fingerprint();
    C::records_mut(&mut held.world).insert(place.key(name), record);
    let region = place.region.as_deref().unwrap_or_default();
    Ok(ok(operations::record_done(
        &mut held,
        &place.project,
        region,
        "setLabels",
    )))
}
