//! Global VPC networks, custom mode only: their record and rendering, insert validation, the
//! "in use by a subnetwork" refusal of a delete, and `PATCH` (routing mode, description, MTU).

use std::sync::Arc;

use axum::extract::State;
use axum::routing::MethodRouter;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::collection::{self, kept_in, pending, Collection, Head, Place, Scope, WriteRequest};
use super::operations::{Kind, OperationError};
use super::{bool_field, check_name, string_field, Subnetwork, API};
use crate::core::clock;
use crate::gcp::wire::{ApiError, ApiResult};
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
}

/// What an insert's body decides before the world is consulted.
pub(super) struct Draft {
    routing_mode: String,
}

const ROUTING_MODES: [&str; 2] = ["REGIONAL", "GLOBAL"];

/// `shown` is the value as the message quotes it: an insert shows the JSON value (a string in
/// quotes), a patch the bare string.
fn invalid_routing_mode(shown: &str) -> ApiError {
    ApiError::invalid(format!(
        "Invalid value for field 'resource.routingConfig.routingMode': '{shown}'. Value must be one of [GLOBAL, REGIONAL]"
    ))
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
        if bool_field(body, "autoCreateSubnetworks")? == Some(true) {
            // matihnet only creates custom-mode networks; auto mode would need every region's subnet.
            return Err(ApiError::invalid(
                "Invalid value for field 'resource.autoCreateSubnetworks': 'true'. The local cloud emulates custom-mode networks only.",
            ));
        }
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
        Ok((name, Draft { routing_mode }))
    }

    fn build(
        world: &mut World,
        place: &Place,
        name: String,
        draft: Draft,
        body: &Map<String, Value>,
    ) -> Result<Network, ApiError> {
        Ok(Network {
            head: Head::new(world, place, name),
            description: string_field(body, "description")?,
            auto_create_subnetworks: false,
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
            .find(|s| s.network_key() == key)
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
        match world.subnetworks.values().find(|s| s.network_key() == key) {
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

    fn item_methods(item: MethodRouter<Arc<Cloud>>) -> MethodRouter<Arc<Cloud>> {
        item.patch(patch)
    }
}

async fn patch(State(cloud): State<Arc<Cloud>>, write: WriteRequest) -> ApiResult {
    let WriteRequest { place, query, body } = write;
    collection::update::<Network>(&cloud, &place, &query, "patch", |_, mut network| {
        if let Some(other) = string_field(&body, "name")?.filter(|n| *n != network.head.name) {
            return Err(ApiError::invalid(format!(
                "Invalid value for field 'resource.name': '{other}'. The name of a network cannot be changed."
            )));
        }
        if bool_field(&body, "autoCreateSubnetworks")? == Some(true) {
            return Err(ApiError::invalid(
                "Invalid value for field 'resource.autoCreateSubnetworks': 'true'. Switching to auto mode is not supported by the local cloud.",
            ));
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
        Ok(network)
    })
}
