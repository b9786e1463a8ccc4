//! EKS networking on AWS with the official SDK crates: the VPC (with the pod CIDR as a secondary
//! block), subnets per availability zone with the load-balancer role tags, internet and NAT
//! gateways with their route tables, network load balancers with an Elastic IP per AZ as ingress
//! front ends, and Route53 hosted zones with NS delegation and alias records.
//!
//! Every object carries `matihnet:environment`, `matihnet:address` and `matihnet:lineage` tags;
//! before creating, the provider looks for an object carrying its address and lineage and adopts
//! it, so an apply killed between a create and the state write leaves no duplicate behind.
//! Knows nothing of the engine, the state file or the environment-file syntax.

mod calls;
mod dns;
mod errors;
mod factory;
mod map;
mod nlb;
mod pacing;
mod provider;
mod tags;
mod types;
mod vpc;

pub use factory::AwsFactory;
pub use map::NatMode;
/// What the provider manages, without connecting: `validate` and `graph` stay offline.
pub use map::{map_resources, schemas};
pub use pacing::ec2_bucket;
pub use provider::{AwsProvider, AwsSettings};
