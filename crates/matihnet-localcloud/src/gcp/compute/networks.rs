//! Global VPC networks in custom and auto mode: their record and rendering, insert validation,
//! the "in use by a subnetwork" refusal of a delete, the subnetworks an auto-mode network comes
//! and goes with, `PATCH` (routing mode, description, MTU) and `switchToCustomMode`.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::{post, MethodRouter};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::auto_mode;
use super::collection::{self, kept_in, pending, Collection, Head, Place, Scope, WriteRequest};
use super::operations::{Kind, OperationError};
use super::{bool_field, check_name, string_field, Subnetwork, API};
use crate::core::clock;
use crate::gcp::wire::{ApiError, ApiResult};
use crate::gcp::{api_fields, echo};
use crate::gcp::{Cloud, World};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Network {
    #[serde(flatten)]
    head: Head,
    description: Option<String>,
    auto_create_subnetworks: bool,
    routing_mode: String,
    mtu: Option<Value>,
    firewall_policy_enforcement_order: String,
    #[serde(default)]
    network_profile: Option<String>,
    #[serde(default)]
    enable_ula_internal_ipv6: Option<bool>,
    #[serde(default)]
    internal_ipv6_range: Option<String>,
    /// Documented fields the record does not model, as sent.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    echoed: Map<String, Value>,
}

/// The request fields [`Network`] reads itself; every other documented one is echoed.
const MODELLED: [&str; 10] = [
    "name",
    "description",
    "autoCreateSubnetworks",
    "routingConfig",
    "mtu",
    "networkFirewallPolicyEnforcementOrder",
    "enableUlaInternalIpv6",
    "internalIpv6Range",
    "IPv4Range",
    "networkProfile",
];

/// The ULA range GCP picks for a network that turns internal IPv6 on: a /48 of fd20::/20,
/// derived from the network's id so that it is stable; written out in full as GCP writes it.
fn ula_range(id: u64) -> String {
    let bytes = id.to_be_bytes();
    let second = 0x0eb5 ^ (u16::from(bytes[6]) << 8 | u16::from(bytes[7])) & 0x0fff;
    let third = u16::from(bytes[4]) << 8 | u16::from(bytes[5]);
    format!("fd20:{second:x}:{third:x}:0:0:0:0:0/48")
}

impl Network {
    /// An auto-mode network as GCP creates one by itself (the `default` network).
    pub(super) fn auto_mode(head: Head, description: &str) -> Network {
        Network {
            head,
            description: Some(description.to_string()),
            auto_create_subnetworks: true,
            routing_mode: "REGIONAL".into(),
            mtu: None,
            firewall_policy_enforcement_order: "AFTER_CLASSIC_FIREWALL".into(),
            network_profile: None,
            enable_ula_internal_ipv6: None,
            internal_ipv6_range: None,
            echoed: Map::new(),
        }
    }
}

/// What an insert's body decides before the world is consulted.
pub(super) struct Draft {
    routing_mode: String,
    auto_create_subnetworks: bool,
}

const ROUTING_MODES: [&str; 2] = ["REGIONAL", "GLOBAL"];

/// `shown` is the value as the message quotes it: an insert shows the JSON value (a string in
/// quotes), a patch the bare string.
fn invalid_routing_mode(shown: &str) -> ApiError {
    ApiError::invalid(format!(
        "Invalid value for field 'resource.routingConfig.routingMode': '{shown}'. Value must be one of [GLOBAL, REGIONAL]"
    ))
}

/// References come back as full URLs, as recorded GCP answers `networkProfile`.
fn full_url(reference: &str) -> String {
    if reference.starts_with("https://") {
        reference.to_string()
    } else {
        format!("{API}/{}", reference.trim_start_matches('/'))
    }
}

impl Collection for Network {
    const PLURAL: &'static str = "networks";
    const LIST_KIND: &'static str = "compute#networkList";
    const SCOPE: Scope = Scope::Global;
    const KIND: Kind = Kind::Network;
    type Draft = Draft;

    kept_in!(networks, Network);

    fn render(&self, world: &World) -> Value {
        let head = &self.head;
        let self_link = format!("{API}/{}", head.path::<Network>());
        let mut v = json!({
            "autoCreateSubnetworks": self.auto_create_subnetworks,
            "creationTimestamp": clock::rfc3339(head.created_ms),
            "id": head.id.to_string(),
            "kind": "compute#network",
            "name": head.name,
            "networkFirewallPolicyEnforcementOrder": self.firewall_policy_enforcement_order,
            "routingConfig": {
                "bgpBestPathSelectionMode": "LEGACY",
                "routingMode": self.routing_mode,
            },
            "selfLink": self_link,
            "selfLinkWithId": format!("{API}/projects/{}/global/networks/{}", head.project, head.id),
        });
        if let Some(obj) = v.as_object_mut() {
            if let Some(d) = &self.description {
                obj.insert("description".into(), json!(d));
            }
            if let Some(mtu) = &self.mtu {
                obj.insert("mtu".into(), mtu.clone());
            }
            if let Some(profile) = &self.network_profile {
                obj.insert("networkProfile".into(), json!(profile));
            }
            // Recorded GCP shows the flag only once it is on.
            if self.enable_ula_internal_ipv6 == Some(true) {
                obj.insert("enableUlaInternalIpv6".into(), json!(true));
            }
            if let Some(range) = &self.internal_ipv6_range {
                obj.insert("internalIpv6Range".into(), json!(range));
            }
        }
        echo::render_into(&mut v, &self.echoed);
        if let Some(obj) = v.as_object_mut() {
            let key = head.key();
            let subnets: Vec<String> = world
                .subnetworks
                .values()
                .filter(|s| s.network_key() == key)
                .map(|s| format!("{API}/{}", s.path()))
                .collect();
            // GCP omits the list while the network has no subnetworks.
            if !subnets.is_empty() {
                obj.insert("subnetworks".into(), json!(subnets));
            }
        }
        v
    }

    fn prepare(body: &Map<String, Value>, _place: &Place) -> Result<(String, Draft), ApiError> {
        let name = check_name(string_field(body, "name")?)?;
        // The API's default is auto mode; every recorded client says which it wants.
        let auto_create_subnetworks = bool_field(body, "autoCreateSubnetworks")?.unwrap_or(true);
        if body.contains_key("IPv4Range") {
            return Err(ApiError::invalid(
                "Invalid value for field 'resource.IPv4Range'. Legacy networks are not supported.",
            ));
        }
        let routing_mode = match body.get("routingConfig").and_then(|r| r.get("routingMode")) {
            None | Some(Value::Null) => "REGIONAL".to_string(),
            Some(Value::String(m)) if ROUTING_MODES.contains(&m.as_str()) => m.clone(),
            Some(other) => return Err(invalid_routing_mode(&other.to_string())),
        };
        Ok((
            name,
            Draft {
                routing_mode,
                auto_create_subnetworks,
            },
        ))
    }

    fn build(
        world: &mut World,
        place: &Place,
        name: String,
        draft: Draft,
        body: &Map<String, Value>,
    ) -> Result<Network, ApiError> {
        let head = Head::new(world, place, name);
        let enable_ula_internal_ipv6 = bool_field(body, "enableUlaInternalIpv6")?;
        let internal_ipv6_range = match enable_ula_internal_ipv6 {
            Some(true) => {
                Some(string_field(body, "internalIpv6Range")?.unwrap_or_else(|| ula_range(head.id)))
            }
            _ => None,
        };
        Ok(Network {
            echoed: echo::unmodelled(&api_fields::NETWORK, body, &MODELLED),
            network_profile: string_field(body, "networkProfile")?.map(|p| full_url(&p)),
            enable_ula_internal_ipv6,
            internal_ipv6_range,
            head,
            description: string_field(body, "description")?,
            auto_create_subnetworks: draft.auto_create_subnetworks,
            routing_mode: draft.routing_mode,
            mtu: body.get("mtu").cloned(),
            firewall_policy_enforcement_order: string_field(
                body,
                "networkFirewallPolicyEnforcementOrder",
            )?
            .unwrap_or_else(|| "AFTER_CLASSIC_FIREWALL".into()),
        })
    }

    /// Subnetworks being created count as users too: their insert would fail otherwise.
    fn check_delete(world: &World, place: &Place, name: &str) -> Result<(), ApiError> {
        let key = place.key(name);
        let user = world
            .subnetworks
            .values()
            .find(|s| s.network_key() == key && !s.auto_created)
            .map(Subnetwork::path)
            .or_else(|| {
                pending::<Subnetwork>(world)
                    .find(|(s, insert)| *insert && s.network_key() == key)
                    .map(|(s, _)| s.path())
            });
        match user {
            Some(user) => Err(ApiError::new(
                400,
                "resourceInUseByAnotherResource",
                format!(
                    "The network resource '{}' is already being used by '{user}'",
                    place.path::<Network>(name)
                ),
            )),
            None => Ok(()),
        }
    }

    fn check_delete_finished(world: &World, key: &str) -> Result<(), OperationError> {
        match world
            .subnetworks
            .values()
            .find(|s| s.network_key() == key && !s.auto_created)
        {
            Some(s) => Err(OperationError::new(
                "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE",
                format!(
                    "The network resource 'projects/{}' is already being used by '{}'",
                    key.replacen('/', "/global/networks/", 1),
                    s.path()
                ),
                400,
                "BAD REQUEST",
            )),
            None => Ok(()),
        }
    }

    fn after_insert(world: &mut World, record: &Network) {
        if record.auto_create_subnetworks {
            for subnet in auto_mode::subnetworks_of(world, &record.head) {
                world.subnetworks.insert(subnet.head_key(), subnet);
            }
        }
    }

    fn after_delete(world: &mut World, key: &str) {
        world
            .subnetworks
            .retain(|_, s| !(s.auto_created && s.network_key() == key));
    }

    fn item_methods(item: MethodRouter<Arc<Cloud>>) -> MethodRouter<Arc<Cloud>> {
        item.patch(patch)
    }

    fn custom_verbs(item_path: &str) -> Router<Arc<Cloud>> {
        Router::new().route(
            &format!("{item_path}/switchToCustomMode"),
            post(switch_to_custom_mode),
        )
    }
}

/// Turns an auto-mode network into a custom-mode one; its subnetworks stay, now deletable.
async fn switch_to_custom_mode(State(cloud): State<Arc<Cloud>>, write: WriteRequest) -> ApiResult {
    let WriteRequest { place, query, .. } = write;
    let name = place.name()?;
    {
        let mut held = cloud.store.settled();
        let network = collection::find::<Network>(&held.world, &place, name)?;
        if !network.auto_create_subnetworks {
            return Err(ApiError::invalid(format!(
                "Invalid value for field 'resource.autoCreateSubnetworks': 'false'. Network '{}' is already a custom mode network.",
                place.path::<Network>(name)
            )));
        }
        let key = place.key(name);
        for s in held.world.subnetworks.values_mut() {
            if s.network_key() == key {
                s.auto_created = false;
            }
        }
    }
    collection::update::<Network>(&cloud, &place, &query, "switchToCustomMode", |_, mut n| {
        n.auto_create_subnetworks = false;
        Ok(n)
    })
}

async fn patch(State(cloud): State<Arc<Cloud>>, write: WriteRequest) -> ApiResult {
    let WriteRequest { place, query, body } = write;
    // Recorded GCP names a patch that turns internal IPv6 on `updateNetwork`, any other one
    // `compute.networks.patch`.
    let turns_on_ula = bool_field(&body, "enableUlaInternalIpv6")? == Some(true);
    let operation_type = if turns_on_ula {
        "updateNetwork"
    } else {
        "compute.networks.patch"
    };
    collection::update::<Network>(&cloud, &place, &query, operation_type, |_, mut network| {
        if let Some(other) = string_field(&body, "name")?.filter(|n| *n != network.head.name) {
            return Err(ApiError::invalid(format!(
                "Invalid value for field 'resource.name': '{other}'. The name of a network cannot be changed."
            )));
        }
        if let Some(auto) = bool_field(&body, "autoCreateSubnetworks")? {
            if auto != network.auto_create_subnetworks {
                // GCP changes mode only through switchToCustomMode, and never back.
                return Err(ApiError::invalid(format!(
                    "Invalid value for field 'resource.autoCreateSubnetworks': '{auto}'. The subnet mode of a network cannot be changed by patch; use switchToCustomMode."
                )));
            }
        }
        if let Some(Value::String(mode)) =
            body.get("routingConfig").and_then(|r| r.get("routingMode"))
        {
            if !ROUTING_MODES.contains(&mode.as_str()) {
                return Err(invalid_routing_mode(mode));
            }
            network.routing_mode = mode.clone();
        }
        if let Some(d) = string_field(&body, "description")? {
            network.description = Some(d);
        }
        if let Some(mtu) = body.get("mtu").filter(|m| !m.is_null()) {
            network.mtu = Some(mtu.clone());
        }
        echo::patch(&mut network.echoed, &api_fields::NETWORK, &body, &MODELLED);
        if let Some(ula) = bool_field(&body, "enableUlaInternalIpv6")? {
            network.enable_ula_internal_ipv6 = Some(ula);
            if ula && network.internal_ipv6_range.is_none() {
                network.internal_ipv6_range = Some(ula_range(network.head.id));
            }
        }
        Ok(network)
    })
}
