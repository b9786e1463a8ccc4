//! Plan-time capacity checks: will every pod and node at max scale get an address?
//!
//! The formulas come from the clouds' IP planning docs and the VPC CNI
//! max-pods calculator. Each check fills `needed` on the planned range and, when the range is too
//! small or nearly full, reports the arithmetic and the fix.

use crate::carve::{AddressPlan, PlannedRange, Purpose, SizedBy};
use crate::fix::Remedy;
use crate::instances::{self, InstanceType};
use crate::model::{CloudProvider, Cni, Environment, Ingress, NodePool};
use crate::table::group;
use crate::Finding;

/// A range fuller than this share at max scale gets a warning.
pub const NEAR_FULL_PERCENT: u64 = 80;

/// Free addresses an AWS load balancer needs in every subnet it uses.
pub const AWS_LB_FREE_ADDRESSES: u64 = 8;

/// EKS, standard VPC CNI: ENIs x (IPs per ENI - 1) + 2.
pub fn eks_standard_max_pods(enis: u64, ips_per_eni: u64) -> u64 {
    enis * ips_per_eni.saturating_sub(1) + 2
}

/// EKS custom networking: the primary ENI serves no pods, so (ENIs - 1) x (IPs per ENI - 1) + 2.
pub fn eks_custom_max_pods(enis: u64, ips_per_eni: u64) -> u64 {
    enis.saturating_sub(1) * ips_per_eni.saturating_sub(1) + 2
}

/// EKS prefix delegation: every secondary slot holds a /28, capped at 110 (<= 30 vCPUs) or 250.
pub fn eks_prefix_max_pods(enis: u64, ips_per_eni: u64, vcpus: u64) -> u64 {
    let cap = if vcpus <= 30 { 110 } else { 250 };
    (enis * (ips_per_eni.saturating_sub(1) * 16) + 2).min(cap)
}

/// Worst-case node subnet addresses a standard VPC CNI node holds: every ENI full, a warm one included.
pub fn eks_addresses_per_node(enis: u64, ips_per_eni: u64) -> u64 {
    enis * ips_per_eni
}

pub fn eks_max_pods(it: &InstanceType, cni: Cni) -> u64 {
    match cni {
        Cni::VpcCniCustom => eks_custom_max_pods(it.enis, it.ipv4_per_eni),
        Cni::VpcCniPrefix => eks_prefix_max_pods(it.enis, it.ipv4_per_eni, it.vcpus),
        _ => eks_standard_max_pods(it.enis, it.ipv4_per_eni),
    }
}

/// AKS flat Azure CNI: (nodes + surge) x (1 + max pods) addresses in the node subnet.
pub fn aks_flat_required(nodes: u64, surge: u64, max_pods: u64) -> u64 {
    (nodes + surge) * (1 + max_pods)
}

/// AKS dynamic pod subnet: addresses are handed to nodes in batches of 16.
pub fn aks_pod_subnet_per_node(max_pods: u64) -> u64 {
    max_pods.div_ceil(16) * 16
}

/// AKS overlay: nodes a pod CIDR of prefix `prefix` can hold, at a /24 per node.
pub fn aks_overlay_max_nodes(prefix: u8) -> u64 {
    if prefix > 24 {
        0
    } else {
        1u64 << (24 - u32::from(prefix))
    }
}

/// Default max pods per node when the pool does not say.
pub fn default_max_pods(cni: Cni) -> u64 {
    match cni {
        Cni::Azure => 30,
        Cni::AzurePodSubnet => 110,
        Cni::AzureOverlay => 250,
        _ => 110,
    }
}

/// GKE: the per-node pod block is the smallest power of two >= 2 x max pods; its prefix length.
pub fn gke_pod_block_prefix(max_pods: u64) -> u8 {
    // Clamped so that absurd inputs give a /1 instead of overflowing.
    let block = (2 * max_pods.clamp(1, 1 << 30)).next_power_of_two();
    (32 - block.trailing_zeros()) as u8
}

/// GKE: nodes a cluster can have: min(pod range / pod block, node subnet - 4).
pub fn gke_max_nodes(pod_range_prefix: u8, max_pods: u64, node_subnet_prefix: u8) -> u64 {
    let block = gke_pod_block_prefix(max_pods);
    let by_pods = if block < pod_range_prefix {
        0
    } else {
        1u64 << (block - pod_range_prefix)
    };
    let by_nodes = (1u64 << (32 - u32::from(node_subnet_prefix))).saturating_sub(4);
    by_pods.min(by_nodes)
}

/// One pool's share of a range, with the arithmetic spelled out.
struct Term {
    amount: u64,
    text: String,
}

fn pool_nodes(pool: &NodePool, zones: u64) -> (u64, String) {
    let total = pool.max_nodes + pool.max_surge;
    let text = format!("{} nodes + {} surge", pool.max_nodes, pool.max_surge);
    if zones > 1 {
        (
            total.div_ceil(zones),
            format!("ceil(({text}) / {zones} zones)"),
        )
    } else {
        (total, format!("({text})"))
    }
}

fn pool_max_pods(env: &Environment, pool: &NodePool) -> u64 {
    if let Some(m) = pool.max_pods {
        return m;
    }
    match (env.provider, instances::lookup(&pool.instance_type)) {
        (CloudProvider::Eks, Some(it)) => eks_max_pods(it, env.network.cni),
        _ => default_max_pods(env.network.cni),
    }
}

fn label(env: &Environment, pool: &NodePool, text: String) -> String {
    if env.node_pools.len() > 1 {
        format!("{}: {text}", pool.name)
    } else {
        text
    }
}

/// Addresses each pool needs in one node subnet (per zone on EKS).
fn node_terms(env: &Environment, zones: u64) -> Vec<Term> {
    let cni = env.network.cni;
    env.node_pools
        .iter()
        .map(|pool| {
            let (nodes, nodes_text) = pool_nodes(pool, zones);
            let pods = pool_max_pods(env, pool);
            let it = instances::lookup(&pool.instance_type)
                .filter(|_| env.provider == CloudProvider::Eks);
            let (per_node, per_text) = match (cni, it) {
                (Cni::Azure | Cni::Fake, _) => (1 + pods, format!("(1 + {pods} pods)")),
                (Cni::VpcCni, Some(it)) => (
                    eks_addresses_per_node(it.enis, it.ipv4_per_eni),
                    format!(
                        "({} ENIs x {} IPs, a warm ENI included)",
                        it.enis, it.ipv4_per_eni
                    ),
                ),
                (Cni::VpcCni, None) => (1 + pods, format!("(1 + {pods} pods)")),
                (Cni::VpcCniPrefix, _) => {
                    let prefixes = pods.div_ceil(16) + 1;
                    (
                        1 + prefixes * 16,
                        format!("(1 + {prefixes} /28 prefixes x 16, a warm one included)"),
                    )
                }
                _ => (1, "1".to_string()),
            };
            Term {
                amount: nodes * per_node,
                text: label(
                    env,
                    pool,
                    if per_node == 1 {
                        nodes_text
                    } else {
                        format!("{nodes_text} x {per_text}")
                    },
                ),
            }
        })
        .collect()
}

/// Addresses each pool needs in a pod subnet (AKS pod subnet, EKS custom networking per zone).
fn pod_terms(env: &Environment, zones: u64) -> Vec<Term> {
    env.node_pools
        .iter()
        .map(|pool| {
            let (nodes, nodes_text) = pool_nodes(pool, zones);
            let pods = pool_max_pods(env, pool);
            let (per_node, per_text) =
                match (env.network.cni, instances::lookup(&pool.instance_type)) {
                    (Cni::VpcCniCustom, Some(it)) => (
                        it.enis.saturating_sub(1) * it.ipv4_per_eni,
                        format!("({} - 1) ENIs x {} IPs", it.enis, it.ipv4_per_eni),
                    ),
                    (Cni::VpcCniCustom, None) => (pods, format!("{pods} pods")),
                    _ => (
                        aks_pod_subnet_per_node(pods),
                        format!("ceil({pods} pods / 16) x 16"),
                    ),
                };
            Term {
                amount: nodes * per_node,
                text: label(env, pool, format!("{nodes_text} x {per_text}")),
            }
        })
        .collect()
}

fn sum(terms: &[Term]) -> (u64, String) {
    let total = terms.iter().map(|t| t.amount).sum();
    let text = terms
        .iter()
        .map(|t| t.text.as_str())
        .collect::<Vec<_>>()
        .join(" + ");
    (total, text)
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Addresses a range needs at max scale, with the arithmetic spelled out for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Demand {
    pub amount: u64,
    pub text: String,
}

/// One node subnet's demand (per zone on EKS): every pool's nodes and pods, and the internal
/// load-balancer front ends, which take their addresses from the node subnet.
pub(crate) fn node_subnet_demand(env: &Environment) -> Demand {
    let zones = env.zones().len().max(1) as u64;
    let (mut amount, mut text) = sum(&node_terms(env, zones));
    let ilbs = env.network.internal_load_balancers;
    if ilbs > 0 {
        amount += ilbs;
        text = format!(
            "{text} + {}",
            plural(ilbs, "internal load balancer", "internal load balancers")
        );
    }
    Demand { amount, text }
}

/// One pod subnet's demand (AKS pod subnet; EKS custom networking, per zone).
pub(crate) fn pod_subnet_demand(env: &Environment) -> Demand {
    let zones = env.zones().len().max(1) as u64;
    let (amount, text) = sum(&pod_terms(env, zones));
    Demand { amount, text }
}

/// One public subnet's demand: the free addresses AWS load balancers need, and the front ends.
pub(crate) fn public_subnet_demand(env: &Environment) -> Demand {
    let frontends = 1 + env
        .tenants
        .iter()
        .filter(|t| t.ingress == Ingress::Dedicated)
        .count() as u64;
    Demand {
        amount: AWS_LB_FREE_ADDRESSES + frontends,
        text: format!(
            "{AWS_LB_FREE_ADDRESSES} free for load balancers + {}",
            plural(frontends, "front end", "front ends")
        ),
    }
}

/// The remedies for a range that is too small or nearly full, by what decided its size: the
/// setting that sized it first, then a larger parent, then fewer nodes.
fn remedies(env: &Environment, range: &PlannedRange) -> Vec<Remedy> {
    let parent = match range.parent_field {
        "network.pod_cidr" => env.network.pod_cidr,
        _ => Some(env.network.cidr),
    };
    let widen_parent = |v: &mut Vec<Remedy>| {
        if let Some(p) = parent {
            v.push(Remedy::Widen {
                field: range.parent_field.to_string(),
                current: p,
                within: None,
                reserved: 0,
            });
        }
    };
    let mut v = Vec::new();
    match range.sized_by {
        SizedBy::Pinned(i) => v.push(Remedy::Widen {
            field: format!("network.subnet[{i}].cidr"),
            current: range.cidr,
            within: parent,
            reserved: range.reserved,
        }),
        SizedBy::NodePrefix | SizedBy::PodPrefix => {
            let field = if range.sized_by == SizedBy::NodePrefix {
                "network.node_prefix"
            } else {
                "network.pod_prefix"
            };
            v.push(Remedy::Prefix {
                field,
                current: range.cidr.prefix_len(),
                larger: true,
                reserved: range.reserved,
            });
            widen_parent(&mut v);
            if let (Some(p), Some(needed)) = (parent, range.needed) {
                v.push(Remedy::PrefixAndParent {
                    field,
                    needed,
                    reserved: range.reserved,
                    parent_field: range.parent_field,
                    parent: p,
                });
            }
        }
        SizedBy::Demand => widen_parent(&mut v),
        SizedBy::WholePodCidr | SizedBy::Given => v.push(Remedy::Widen {
            field: "network.pod_cidr".to_string(),
            current: range.cidr,
            within: None,
            reserved: range.reserved,
        }),
    }
    // Fewer nodes is the last resort, also for a warning where no block can grow (a /16 VPC).
    v.push(Remedy::ShrinkNodes);
    v
}

/// Fills `needed` on every range of `plan` and reports ranges that are too small or nearly full.
pub(crate) fn check(env: &Environment, plan: &mut AddressPlan) -> Vec<Finding> {
    let mut findings = Vec::new();
    let cni = env.network.cni;
    let fixed_hint_pods = match cni {
        Cni::VpcCni => {
            "or use a smaller instance type, cni = \"vpc-cni-prefix\" or \"vpc-cni-custom\""
        }
        _ => "or lower max_pods or max_nodes",
    };

    for range in plan.ranges.iter_mut() {
        let (demand, hint_tail, what) = match range.purpose {
            Purpose::Nodes => (node_subnet_demand(env), fixed_hint_pods, "node subnet"),
            Purpose::Pods if range.subnet.is_some() => (
                pod_subnet_demand(env),
                "or lower max_pods or max_nodes",
                "pod subnet",
            ),
            Purpose::Pods if cni == Cni::AzureOverlay => {
                let nodes: u64 = env
                    .node_pools
                    .iter()
                    .map(|p| p.max_nodes + p.max_surge)
                    .sum();
                let text = format!("{} x a /24 (256) per node", plural(nodes, "node", "nodes"));
                (
                    Demand {
                        amount: nodes * 256,
                        text,
                    },
                    "or lower max_nodes",
                    "overlay pod range",
                )
            }
            Purpose::Pods if cni == Cni::VpcNative => {
                let terms: Vec<Term> = env
                    .node_pools
                    .iter()
                    .map(|pool| {
                        let pods = pool_max_pods(env, pool);
                        let block = gke_pod_block_prefix(pods);
                        let nodes = pool.max_nodes + pool.max_surge;
                        Term {
                            amount: nodes * (1u64 << (32 - u32::from(block))),
                            text: label(
                                env,
                                pool,
                                format!(
                                    "({} nodes + {} surge) x a /{block} ({pods} pods)",
                                    pool.max_nodes, pool.max_surge
                                ),
                            ),
                        }
                    })
                    .collect();
                let (amount, text) = sum(&terms);
                (
                    Demand { amount, text },
                    "or lower max_pods (64 pods take a /25 per node, 32 a /26)",
                    "pods secondary range",
                )
            }
            Purpose::Public => (
                public_subnet_demand(env),
                "or use a larger network.cidr",
                "public subnet",
            ),
            _ => continue,
        };
        let needed = demand.amount;
        let arithmetic = demand.text;
        range.needed = Some(needed);
        let usable = range.usable();
        let c = range.cidr;
        // The field the user would edit: the one that decided the size.
        let field = match range.sized_by {
            SizedBy::Pinned(i) => format!("network.subnet[{i}].cidr"),
            SizedBy::NodePrefix => "network.node_prefix".to_string(),
            SizedBy::PodPrefix => "network.pod_prefix".to_string(),
            SizedBy::WholePodCidr | SizedBy::Given => "network.pod_cidr".to_string(),
            SizedBy::Demand => range.parent_field.to_string(),
        };
        let subject = range
            .subnet
            .clone()
            .unwrap_or_else(|| range.purpose.as_str().to_string());
        let name = range
            .subnet
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        if needed > usable {
            findings.push(
                Finding::error(
                    &field,
                    format!(
                        "{what}{name} {c} holds {} usable addresses; {arithmetic} need {}",
                        group(usable),
                        group(needed)
                    ),
                    format!("use a larger block than {c}, {hint_tail}"),
                )
                .key(format!("capacity:{subject}"))
                .remedies(remedies(env, range)),
            );
        } else if needed * 100 > usable * NEAR_FULL_PERCENT {
            let pct = needed * 100 / usable.max(1);
            findings.push(
                Finding::warning(
                    &field,
                    format!("{what}{name} {c} is {pct}% full at max scale: {arithmetic} need {} of {} usable addresses", group(needed), group(usable)),
                    format!("leave room to grow: use a larger block than {c}"),
                )
                .key(format!("capacity:{subject}"))
                .remedies(remedies(env, range)),
            );
        }
    }

    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cidr;

    #[test]
    fn eks_formulas_match_domain_figures() {
        // (type, standard, custom, prefix delegation, worst-case addresses per node)
        let table = [
            ("m5.large", 29, 20, 110, 30),
            ("t3.medium", 17, 12, 110, 18),
            ("m5.xlarge", 58, 44, 110, 60),
            ("m5.4xlarge", 234, 205, 110, 240),
            ("t3.large", 35, 24, 110, 36),
        ];
        for (name, std, custom, prefix, addrs) in table {
            let it = instances::lookup(name).unwrap();
            assert_eq!(
                eks_standard_max_pods(it.enis, it.ipv4_per_eni),
                std,
                "{name} standard"
            );
            assert_eq!(
                eks_custom_max_pods(it.enis, it.ipv4_per_eni),
                custom,
                "{name} custom"
            );
            assert_eq!(
                eks_prefix_max_pods(it.enis, it.ipv4_per_eni, it.vcpus),
                prefix,
                "{name} prefix"
            );
            assert_eq!(
                eks_addresses_per_node(it.enis, it.ipv4_per_eni),
                addrs,
                "{name} addresses"
            );
            assert_eq!(eks_max_pods(it, Cni::VpcCni), std);
            assert_eq!(eks_max_pods(it, Cni::VpcCniCustom), custom);
            assert_eq!(eks_max_pods(it, Cni::VpcCniPrefix), prefix);
        }
        // Above 30 vCPUs prefix delegation caps at 250.
        assert_eq!(eks_prefix_max_pods(15, 50, 96), 250);
    }

    #[test]
    fn every_table_entry_is_consistent() {
        for it in instances::EC2_INSTANCE_TYPES {
            assert!(
                it.enis >= 2 && it.ipv4_per_eni >= 2 && it.vcpus >= 2,
                "{}",
                it.name
            );
            assert!(
                eks_custom_max_pods(it.enis, it.ipv4_per_eni)
                    < eks_standard_max_pods(it.enis, it.ipv4_per_eni)
            );
        }
    }

    #[test]
    fn aks_formulas_match_domain_figures() {
        let need = aks_flat_required(50, 1, 30);
        assert_eq!(need, 1_581);
        assert_eq!(cidr::smallest_prefix_for(need, 5, 8), Some(21));
        assert_eq!(aks_flat_required(10, 1, 30), 341);
        assert_eq!(cidr::smallest_prefix_for(341, 5, 8), Some(23));
        assert_eq!(default_max_pods(Cni::Azure), 30);
        assert_eq!(default_max_pods(Cni::AzurePodSubnet), 110);
        assert_eq!(default_max_pods(Cni::AzureOverlay), 250);
        assert_eq!(aks_pod_subnet_per_node(110), 112);
        assert_eq!(aks_pod_subnet_per_node(30), 32);
        assert_eq!(aks_pod_subnet_per_node(16), 16);
        assert_eq!(aks_overlay_max_nodes(16), 256);
        assert_eq!(aks_overlay_max_nodes(24), 1);
    }

    #[test]
    fn gke_formulas_match_domain_figures() {
        for (pods, prefix) in [(110, 24), (64, 25), (32, 26), (16, 27), (8, 28), (256, 23)] {
            assert_eq!(gke_pod_block_prefix(pods), prefix, "{pods} pods");
        }
        assert_eq!(default_max_pods(Cni::VpcNative), 110);
        assert_eq!(gke_max_nodes(16, 110, 20), 256);
        // The primary range binds when it is the smaller one: a /24 holds 252 nodes.
        assert_eq!(gke_max_nodes(14, 110, 24), 252);
    }
}
