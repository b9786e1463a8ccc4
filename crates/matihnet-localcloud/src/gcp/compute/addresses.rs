//! Regional addresses, external and internal: their record and rendering, the allocation of
//! the address itself (sequential external ones, the first free host of a subnetwork for
//! internal ones), labels, and the synchronous `setLabels` with its label fingerprint.

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
}

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

impl Collection for Address {
    const PLURAL: &'static str = "addresses";
    const LIST_KIND: &'static str = "compute#addressList";
    const SCOPE: Scope = Scope::Regional;
    const KIND: Kind = Kind::Address;
    type Draft = Draft;

    kept_in!(addresses, Address);

    fn render(&self, _world: &World) -> Value {
        let head = &self.head;
        let mut v = json!({
            "address": self.address,
            "addressType": self.address_type,
            "creationTimestamp": clock::rfc3339(head.created_ms),
            "description": self.description,
            "id": head.id.to_string(),
            "kind": "compute#address",
            "labelFingerprint": self.label_fingerprint,
            "name": head.name,
            "region": region_url(&head.project, head.region()),
            "selfLink": format!("{API}/{}", head.path::<Address>()),
            "status": "RESERVED",
        });
        if let Some(obj) = v.as_object_mut() {
            if self.address_type == "EXTERNAL" {
                obj.insert("networkTier".into(), json!(self.network_tier));
            }
            if !self.labels.is_empty() {
                obj.insert("labels".into(), json!(self.labels));
            }
            if let Some(s) = &self.subnetwork {
                obj.insert("subnetwork".into(), json!(s));
            }
            if let Some(p) = &self.purpose {
                obj.insert("purpose".into(), json!(p));
            }
        }
        v
    }

    fn prepare(body: &Map<String, Value>, _place: &Place) -> Result<(String, Draft), ApiError> {
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

    fn build(
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
        let address = match (address_type.as_str(), requested) {
            (_, Some(ip)) => ip,
            ("EXTERNAL", None) => {
                // 34.0.0.0/8 is where GCP hands out regional external addresses.
                let key = format!(
                    "projects/{}/regions/{}/addresses/{name}",
                    place.project,
                    place.region.as_deref().unwrap_or("global")
                );
                let pool = public_ip::Pool {
                    first: std::net::Ipv4Addr::new(34, 0, 0, 0),
                    size: 1 << 24,
                };
                public_ip::pick(&pool, &key, |ip| {
                    world.addresses.values().any(|a| a.address == ip)
                })
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
            subnetwork: subnetwork.map(|s| {
                if s.starts_with("https://") {
                    s
                } else {
                    format!("{API}/{}", s.trim_start_matches('/'))
                }
            }),
            purpose: string_field(body, "purpose")?
                .or_else(|| (address_type == "INTERNAL").then(|| "GCE_ENDPOINT".into())),
        })
    }

    fn custom_verbs(item_path: &str) -> Router<Arc<Cloud>> {
        Router::new().route(&format!("{item_path}/setLabels"), post(set_labels))
    }
}

/// Labels change at once: the recorded `setLabels` answer is already `DONE`.
async fn set_labels(State(cloud): State<Arc<Cloud>>, write: WriteRequest) -> ApiResult {
    let WriteRequest { place, body, .. } = write;
    let name = place.name()?;
    let mut held = cloud.store.settled();
    let mut address = find::<Address>(&held.world, &place, name)?.clone();
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
    held.world.addresses.insert(place.key(name), address);
    let region = place.region.as_deref().unwrap_or_default();
    Ok(ok(operations::record_done(
        &mut held,
        &place.project,
        region,
        "setLabels",
    )))
}
