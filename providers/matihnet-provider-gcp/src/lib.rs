//! GKE networking on Google Cloud with the official crates (`google-cloud-compute-v1`,
//! `google-cloud-dns-v1`, `google-cloud-auth`): a custom-mode VPC network, a regional subnetwork
//! with the `pods` and `services` secondary ranges (private Google access on), a regional static
//! external address per ingress front end, and Cloud DNS managed zones with NS delegation and A
//! records written through changes.
//!
//! Names are deterministic; labels (`matihnet-environment`, `matihnet-address`,
//! `matihnet-lineage`) or, where GCP takes no labels, the description say who owns an object, so a
//! create cut short by a crash is adopted on the re-run and another environment's object is
//! refused. Knows nothing of the engine, the state file or the environment-file syntax.

mod client;
mod compute;
mod dns;
mod factory;
mod ids;
mod map;
mod ownership;
mod provider;
mod types;

/// What the provider manages, without connecting: `validate` and `graph` stay offline.
pub use factory::GcpFactory;
pub use map::{map_resources, schemas};
pub use provider::{GcpProvider, GcpSettings};
