//! Auto-mode networks and the `default` network every new project has: the one subnetwork per
//! region that GCP creates with them, named like the network, from the documented auto-mode
//! ranges.
//!
//! The ranges are those real GCP answered in the aggregated subnetwork list of
//! `tests/reference/gcp/compute-networks-auto.http.log` (Config Connector's recording, 41
//! regions; `me-central2` has none). They are the same for every auto-mode network, which is
//! why two auto-mode networks can never be peered.

use std::collections::BTreeSet;

use super::collection::Head;
use super::{Network, Subnetwork};
use crate::core::clock::now_ms;
use crate::gcp::World;

/// The auto-mode subnetwork range of each region, sorted by region.
pub(super) const AUTO_MODE_RANGES: [(&str, &str); 41] = [
    ("africa-south1", "10.218.0.0/20"),
    ("asia-east1", "10.140.0.0/20"),
    ("asia-east2", "10.170.0.0/20"),
    ("asia-northeast1", "10.146.0.0/20"),
    ("asia-northeast2", "10.174.0.0/20"),
    ("asia-northeast3", "10.178.0.0/20"),
    ("asia-south1", "10.160.0.0/20"),
    ("asia-south2", "10.190.0.0/20"),
    ("asia-southeast1", "10.148.0.0/20"),
    ("asia-southeast2", "10.184.0.0/20"),
    ("australia-southeast1", "10.152.0.0/20"),
    ("australia-southeast2", "10.192.0.0/20"),
    ("europe-central2", "10.186.0.0/20"),
    ("europe-north1", "10.166.0.0/20"),
    ("europe-north2", "10.226.0.0/20"),
    ("europe-southwest1", "10.204.0.0/20"),
    ("europe-west1", "10.132.0.0/20"),
    ("europe-west10", "10.214.0.0/20"),
    ("europe-west12", "10.210.0.0/20"),
    ("europe-west2", "10.154.0.0/20"),
    ("europe-west3", "10.156.0.0/20"),
    ("europe-west4", "10.164.0.0/20"),
    ("europe-west6", "10.172.0.0/20"),
    ("europe-west8", "10.198.0.0/20"),
    ("europe-west9", "10.200.0.0/20"),
    ("me-central1", "10.212.0.0/20"),
    ("me-west1", "10.208.0.0/20"),
    ("northamerica-northeast1", "10.162.0.0/20"),
    ("northamerica-northeast2", "10.188.0.0/20"),
    ("northamerica-south1", "10.224.0.0/20"),
    ("southamerica-east1", "10.158.0.0/20"),
    ("southamerica-west1", "10.194.0.0/20"),
    ("us-central1", "10.128.0.0/20"),
    ("us-east1", "10.142.0.0/20"),
    ("us-east4", "10.150.0.0/20"),
    ("us-east5", "10.202.0.0/20"),
    ("us-south1", "10.206.0.0/20"),
    ("us-west1", "10.138.0.0/20"),
    ("us-west2", "10.168.0.0/20"),
    ("us-west3", "10.180.0.0/20"),
    ("us-west4", "10.182.0.0/20"),
];

/// The network every project starts with; its description is the one real GCP shows.
pub(super) const DEFAULT_NETWORK: &str = "default";
const DEFAULT_DESCRIPTION: &str = "Default network for the project";

/// The auto-mode subnetworks of `network`, one per region.
pub(super) fn subnetworks_of(world: &mut World, network: &Head) -> Vec<Subnetwork> {
    AUTO_MODE_RANGES
        .iter()
        .map(|(region, range)| {
            let head = Head {
                project: network.project.clone(),
                region: Some((*region).to_string()),
                name: network.name.clone(),
                id: world.new_id(),
                created_ms: network.created_ms,
            };
            Subnetwork::auto_created(head, network, range)
        })
        .collect()
}

/// Gives a project its `default` network the first time a request names the project, as a
/// new GCP project has one; a project that ever had it (and maybe deleted it) keeps its choice.
pub(crate) fn ensure_project(world: &mut World, project: &str) {
    if world.projects.contains(project) {
        return;
    }
    world.projects.insert(project.to_string());
    let key = format!("{project}/{DEFAULT_NETWORK}");
    if world.networks.contains_key(&key) {
        return;
    }
    let head = Head {
        project: project.to_string(),
        region: None,
        name: DEFAULT_NETWORK.to_string(),
        id: world.new_id(),
        created_ms: now_ms(),
    };
    let network = Network::auto_mode(head.clone(), DEFAULT_DESCRIPTION);
    world.networks.insert(key, network);
    for subnet in subnetworks_of(world, &head) {
        world.subnetworks.insert(subnet.head_key(), subnet);
    }
}

/// The projects a world has seen, for [`ensure_project`].
pub(crate) type Projects = BTreeSet<String>;
