//! AKS networking on Azure with the generated ARM clients (`azure_mgmt_network`,
//! `azure_mgmt_dns`) and `azure_identity`'s standard credential chain: the resource group, the
//! virtual network and its subnets, a Standard static public IP per ingress front end, Azure DNS
//! zones with NS delegation and A records.
//!
//! Names are deterministic and every object that takes tags carries `matihnet:environment`,
//! `matihnet:address` and `matihnet:lineage`, so a create interrupted by a crash is found and
//! adopted on the re-run; an object with the same name but another environment's tags is refused.
//! The ARM endpoint is configurable, which is how the tests reach the local Azure emulator.
//! Knows nothing of the engine, the state file or the environment-file syntax.

mod arm;
mod calls;
mod client;
mod dns;
mod factory;
mod ids;
mod map;
mod network;
mod ownership;
mod provider;
mod types;

/// What the provider manages, without connecting: `validate` and `graph` stay offline.
pub use factory::AzureFactory;
pub use map::{map_resources, schemas};
pub use provider::{AzureProvider, AzureSettings};
