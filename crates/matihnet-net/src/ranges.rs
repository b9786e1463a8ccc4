//! Which address ranges each cloud accepts for a network, its extra blocks, pods and services, and
//! how the ranges of one environment must relate: disjoint, and clear of well-known defaults.
//!
//! The parser runs these rules on whatever ranges parsed (so one bad field does not hide the
//! others' problems); the fix search runs them again on candidate values.

use ipnet::Ipv4Net;

use crate::cidr;
use crate::model::{CloudProvider, Cni, Environment};
use crate::Finding;

/// What a range is for, which decides the cloud rule it must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// `network.cidr`: the VNet / VPC / GKE subnetwork primary range.
    Network,
    /// Extra VNet / VPC blocks: `secondary_cidrs`, and `pod_cidr` when it is added to the network.
    NetworkSecondary,
    /// A pod range that is not part of the network (GKE `pods` secondary range, AKS overlay).
    Pods,
    Services,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Range {
    pub field: String,
    pub net: Ipv4Net,
    pub role: Role,
}

/// The pod CIDR AKS overlay uses when none is given.
pub(crate) const AKS_OVERLAY_DEFAULT_POD_CIDR: &str = "10.244.0.0/16";

/// Blocks no cluster can use on any cloud, and why.
const UNUSABLE: &[(&str, &str)] = &[
    ("0.0.0.0/8", "\"this network\" (RFC 1122)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("224.0.0.0/4", "multicast"),
    (
        "240.0.0.0/4",
        "reserved (class E, with the 255.255.255.255 broadcast address)",
    ),
];
const UNUSABLE_RULE: &str = "no cluster can use 0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/4 or 240.0.0.0/4 (255.255.255.255 included)";

const AZURE_VNET: &[(&str, &str)] = &[(
    "168.63.129.16/32",
    "Azure's platform address (DNS, health probes)",
)];
const AZURE_VNET_RULE: &str = "Azure VNet address space cannot be in 224.0.0.0/4, 255.255.255.255/32, 127.0.0.0/8, 169.254.0.0/16 or 168.63.129.16/32, and no cluster can use 0.0.0.0/8 or 240.0.0.0/4";

const AKS_SERVICES: &[(&str, &str)] = &[
    ("172.30.0.0/16", "reserved by AKS"),
    ("172.31.0.0/16", "reserved by AKS"),
    ("192.0.2.0/24", "reserved by AKS (TEST-NET-1)"),
];
const AKS_SERVICES_RULE: &str = "the AKS service address range cannot be in 169.254.0.0/16, 172.30.0.0/16, 172.31.0.0/16 or 192.0.2.0/24, and no cluster can use 0.0.0.0/8, 127.0.0.0/8, 224.0.0.0/4 or 240.0.0.0/4";

const AWS_VPC_RULE: &str = "an AWS VPC CIDR must be RFC 1918 (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16), 100.64.0.0/10 or a publicly routable range, not 0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/4 or 240.0.0.0/4";
const EKS_SERVICES_RULE: &str = "the EKS service CIDR must be inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 and between /12 and /24";
const GKE_RULE: &str = "GKE subnet ranges (primary and secondary) must be RFC 1918, RFC 6598 (100.64.0.0/10) or other privately used public ranges, not 0.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16, 224.0.0.0/4 or 240.0.0.0/4 (255.255.255.255 included)";

const RFC1918: &[&str] = &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];
/// Where replacement blocks are looked for, in order: the private spaces, then RFC 6598.
const PRIVATE: &[&str] = &[
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
];

/// Ranges that clusters and nodes commonly use already.
const DOCKER_BRIDGE: &str = "172.17.0.0/16";
const GKE_DEFAULT_SERVICES: &str = "34.118.224.0/20";

fn nets(list: &[&str]) -> Vec<Ipv4Net> {
    list.iter().filter_map(|c| c.parse().ok()).collect()
}

fn blocks(list: &[(&str, &'static str)]) -> Vec<(Ipv4Net, &'static str)> {
    list.iter()
        .filter_map(|(c, why)| c.parse().ok().map(|n| (n, *why)))
        .collect()
}

/// The refused blocks for a range of `role` on `provider`, and the rule to quote.
fn refused(
    provider: Option<CloudProvider>,
    role: Role,
) -> (Vec<(Ipv4Net, &'static str)>, &'static str) {
    let mut list = blocks(UNUSABLE);
    let rule = match (provider, role) {
        (Some(CloudProvider::Aks), Role::Network | Role::NetworkSecondary) => {
            list.extend(blocks(AZURE_VNET));
            AZURE_VNET_RULE
        }
        (Some(CloudProvider::Aks), Role::Services) => {
            list.extend(blocks(AKS_SERVICES));
            AKS_SERVICES_RULE
        }
        (Some(CloudProvider::Eks), Role::Network | Role::NetworkSecondary) => AWS_VPC_RULE,
        (Some(CloudProvider::Gke), _) => GKE_RULE,
        _ => UNUSABLE_RULE,
    };
    (list, rule)
}

/// The ranges of a parsed network, with the field each came from. `secondary` keeps list
/// positions so that a malformed sibling does not shift the field names.
pub(crate) fn collect(
    cni: Option<Cni>,
    cidr: Option<Ipv4Net>,
    secondary: &[(usize, Ipv4Net)],
    pod_cidr: Option<Ipv4Net>,
    service_cidr: Option<Ipv4Net>,
) -> Vec<Range> {
    let mut out = Vec::new();
    let mut push = |field: String, net: Ipv4Net, role: Role| out.push(Range { field, net, role });
    if let Some(c) = cidr {
        push("network.cidr".into(), c, Role::Network);
    }
    for (i, s) in secondary {
        push(
            format!("network.secondary_cidrs[{i}]"),
            *s,
            Role::NetworkSecondary,
        );
    }
    let pod_cidr = match (pod_cidr, cni) {
        (None, Some(Cni::AzureOverlay)) => AKS_OVERLAY_DEFAULT_POD_CIDR.parse().ok(),
        (p, _) => p,
    };
    let pod_role = match cni {
        Some(Cni::VpcCniCustom | Cni::AzurePodSubnet) => Some(Role::NetworkSecondary),
        Some(Cni::AzureOverlay | Cni::VpcNative) | None => Some(Role::Pods),
        // The other CNIs ignore pod_cidr (the parser warns), so it takes no addresses.
        _ => None,
    };
    if let (Some(pc), Some(role)) = (pod_cidr, pod_role) {
        push("network.pod_cidr".into(), pc, role);
    }
    if let Some(sc) = service_cidr {
        push("network.service_cidr".into(), sc, Role::Services);
    }
    out
}

pub(crate) fn of_env(env: &Environment) -> Vec<Range> {
    let n = &env.network;
    let secondary: Vec<(usize, Ipv4Net)> = n.secondary_cidrs.iter().copied().enumerate().collect();
    collect(
        Some(n.cni),
        Some(n.cidr),
        &secondary,
        n.pod_cidr,
        Some(n.service_cidr),
    )
}

fn in_rfc1918(net: &Ipv4Net) -> bool {
    nets(RFC1918).iter().any(|s| s.contains(net))
}

/// The problems of each range in `ranges`, in list order. With `hints`, each gets a verified
/// `set FIELD = "..."` replacement when one exists.
pub(crate) fn check(
    provider: Option<CloudProvider>,
    ranges: &[Range],
    hints: bool,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for (j, r) in ranges.iter().enumerate() {
        let (refused, rule) = refused(provider, r.role);
        let net = r.net;
        let f = r.field.as_str();
        if let Some((block, what)) = refused.iter().find(|(b, _)| cidr::overlaps(b, &net)) {
            out.push(
                Finding::error(
                    f,
                    format!("{net} overlaps {block}, {what}: {rule}"),
                    "choose a private block such as 10.0.0.0/16, 172.16.0.0/16 or 192.168.0.0/16"
                        .to_string(),
                )
                .key(format!("range-reserved:{f}")),
            );
        }
        let aws_block = provider == Some(CloudProvider::Eks)
            && matches!(r.role, Role::Network | Role::NetworkSecondary);
        if aws_block && !(16..=28).contains(&net.prefix_len()) {
            out.push(
                Finding::error(
                    f,
                    format!("{net} cannot be a VPC block: AWS allows /16 to /28"),
                    "use a block between /16 and /28".to_string(),
                )
                .key(format!("range-size:{f}")),
            );
        }
        if provider == Some(CloudProvider::Eks) && r.role == Role::Services {
            let sized = (12..=24).contains(&net.prefix_len());
            if !sized || !in_rfc1918(&net) {
                out.push(
                    Finding::error(
                        f,
                        format!("{net} cannot be the service range: {EKS_SERVICES_RULE}"),
                        "choose a block such as 172.20.0.0/16".to_string(),
                    )
                    .key(format!("range-eks-services:{f}")),
                );
            }
        }
        for prior in &ranges[..j] {
            if cidr::overlaps(&prior.net, &net) {
                out.push(
                    Finding::error(
                        f,
                        format!("{net} overlaps {} {}", prior.field, prior.net),
                        format!("choose a block outside {}; network, pod, service and secondary ranges must not share addresses", prior.net),
                    )
                    .key(format!("range-overlap:{f}:{}", prior.field)),
                );
            }
        }
        if let Ok(known) = DOCKER_BRIDGE.parse::<Ipv4Net>() {
            if cidr::overlaps(&known, &net) {
                // Only a clash on hosts that run Docker or the AWS services that use this block,
                // so it is worth knowing but not a reason to refuse the file.
                let who = if provider == Some(CloudProvider::Eks) {
                    "Docker's default bridge network, also used by some AWS services (Cloud9, SageMaker)"
                } else {
                    "Docker's default bridge network"
                };
                out.push(
                    Finding::warning(
                        f,
                        format!("{net} overlaps {known}, {who}: hosts on that network may be unreachable from the cluster"),
                        format!("choose a block outside {known}"),
                    )
                    .key(format!("range-known:{f}:{known}")),
                );
            }
        }
        if let Ok(known) = GKE_DEFAULT_SERVICES.parse::<Ipv4Net>() {
            let is_gke_services = provider == Some(CloudProvider::Gke) && r.role == Role::Services;
            if !is_gke_services && cidr::overlaps(&known, &net) {
                out.push(
                    Finding::error(
                        f,
                        format!("{net} overlaps {known}, GKE's default services range"),
                        format!("choose a block outside {known}, which clusters and nodes commonly use already"),
                    )
                    .key(format!("range-known:{f}:{known}")),
                );
            }
        }
    }
    if hints {
        let before = out.clone();
        for finding in &mut out {
            let Some(i) = ranges.iter().position(|r| r.field == finding.field) else {
                continue;
            };
            if let Some(to) = replacement(provider, ranges, i, finding, &before) {
                finding.hint = format!(
                    "set {} = \"{to}\" ({}, clear of the other ranges), or {}",
                    finding.field,
                    crate::fix::addresses(cidr::size(&to)),
                    finding.hint
                );
            }
        }
    }
    out
}

/// A block for `ranges[i]` that removes `finding` and adds no other error, if there is one:
/// the same size (brought into /16../28 for an AWS VPC block) in the first private space
/// with room, the range's own space first.
fn replacement(
    provider: Option<CloudProvider>,
    ranges: &[Range],
    i: usize,
    finding: &Finding,
    before: &[Finding],
) -> Option<Ipv4Net> {
    let r = &ranges[i];
    let mut prefix = r.net.prefix_len();
    if provider == Some(CloudProvider::Eks) {
        prefix = match r.role {
            Role::Network | Role::NetworkSecondary => prefix.clamp(16, 28),
            Role::Services => prefix.clamp(12, 24),
            Role::Pods => prefix,
        };
    }
    let spaces = if provider == Some(CloudProvider::Eks) && r.role == Role::Services {
        nets(RFC1918)
    } else {
        nets(PRIVATE)
    };
    let (refused, _) = refused(provider, r.role);
    let mut taken: Vec<Ipv4Net> = ranges
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .map(|(_, o)| o.net)
        .collect();
    taken.extend(refused.iter().map(|(b, _)| *b));
    taken.extend(nets(&[DOCKER_BRIDGE, GKE_DEFAULT_SERVICES]));
    let own = spaces.iter().position(|s| s.contains(&r.net.network()));
    let ordered = own.into_iter().map(|k| spaces[k]).chain(
        spaces
            .iter()
            .copied()
            .enumerate()
            .filter(|(k, _)| Some(*k) != own)
            .map(|(_, s)| s),
    );
    let resized = ipnet::Ipv4Net::new(r.net.network(), prefix)
        .ok()
        .map(|n| n.trunc());
    let candidates = resized
        .into_iter()
        .chain(ordered.filter_map(|s| cidr::first_fit(&s, prefix, &taken)));
    let errors_before: Vec<&str> = before
        .iter()
        .filter(|f| f.is_error())
        .map(|f| f.key.as_str())
        .collect();
    let candidates: Vec<Ipv4Net> = candidates.filter(|c| *c != r.net).collect();
    // First a block that leaves no error on this field at all, so that the hints for one field
    // do not disagree; then one that at least removes this finding and adds nothing.
    for whole_field in [true, false] {
        for candidate in &candidates {
            let mut trial = ranges.to_vec();
            trial[i].net = *candidate;
            let after = check(provider, &trial, false);
            let ok = after.iter().filter(|f| f.is_error()).all(|f| {
                let this = f.key == finding.key || (whole_field && f.field == r.field);
                !this && errors_before.contains(&f.key.as_str())
            });
            if ok && !after.iter().any(|f| f.key == finding.key) {
                return Some(*candidate);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    fn one(provider: CloudProvider, role: Role, c: &str) -> Vec<Finding> {
        let r = Range {
            field: "network.cidr".into(),
            net: net(c),
            role,
        };
        check(Some(provider), &[r], true)
            .into_iter()
            .filter(Finding::is_error)
            .collect()
    }

    #[test]
    fn issue9_item7_reserved_blocks_are_refused_on_every_cloud_and_role() {
        let bad = [
            "224.0.0.0/16",
            "239.1.0.0/16",
            "127.0.0.0/16",
            "169.254.0.0/16",
            "0.0.0.0/16",
            "240.0.0.0/16",
            "255.255.255.255/32",
            "0.0.0.0/0",
        ];
        for provider in CloudProvider::ALL {
            for role in [
                Role::Network,
                Role::NetworkSecondary,
                Role::Pods,
                Role::Services,
            ] {
                for c in bad {
                    let f = one(provider, role, c);
                    assert!(
                        f.iter().any(|f| f.key.starts_with("range-reserved")
                            || f.key.starts_with("range-eks-services")),
                        "{provider} {role:?} {c}: {f:?}"
                    );
                }
            }
        }
        let azure = one(CloudProvider::Aks, Role::Network, "168.63.129.0/24");
        assert!(
            azure[0]
                .message
                .contains("Azure VNet address space cannot be in"),
            "{azure:?}"
        );
        assert!(one(CloudProvider::Aks, Role::Pods, "168.63.129.0/24").is_empty());
        let aks_services = one(CloudProvider::Aks, Role::Services, "172.30.0.0/16");
        assert!(aks_services[0]
            .message
            .contains("AKS service address range"));
    }

    #[test]
    fn issue9_item7_private_and_public_ranges_pass() {
        for provider in CloudProvider::ALL {
            for c in [
                "10.0.0.0/16",
                "172.16.0.0/16",
                "192.168.0.0/16",
                "100.64.0.0/16",
            ] {
                let role = if c.starts_with("100.") {
                    Role::Pods
                } else {
                    Role::Network
                };
                assert!(one(provider, role, c).is_empty(), "{provider} {c}");
            }
        }
        // Publicly routable blocks are allowed as a VPC (AWS) and as privately used public ranges (GCP).
        assert!(one(CloudProvider::Eks, Role::Network, "52.0.0.0/16").is_empty());
        assert!(one(CloudProvider::Gke, Role::Pods, "52.0.0.0/14").is_empty());
    }

    #[test]
    fn eks_service_range_rule() {
        assert!(one(CloudProvider::Eks, Role::Services, "172.20.0.0/16").is_empty());
        let f = one(CloudProvider::Eks, Role::Services, "100.64.0.0/16");
        assert!(f[0]
            .message
            .contains("inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"));
        assert!(
            f[0].hint.starts_with("set network.cidr = \"10."),
            "{}",
            f[0].hint
        );
        assert_eq!(
            one(CloudProvider::Eks, Role::Services, "10.0.0.0/25").len(),
            1
        );
    }

    #[test]
    fn docker_bridge_is_a_warning_only() {
        let r = [Range {
            field: "network.pod_cidr".into(),
            net: net("172.17.0.0/16"),
            role: Role::NetworkSecondary,
        }];
        let f = check(Some(CloudProvider::Eks), &r, true);
        assert_eq!(f.len(), 1);
        assert!(!f[0].is_error());
        assert!(
            f[0].message.contains("some AWS services"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn replacement_avoids_the_other_ranges() {
        let ranges = vec![
            Range {
                field: "network.cidr".into(),
                net: net("10.0.0.0/16"),
                role: Role::Network,
            },
            Range {
                field: "network.service_cidr".into(),
                net: net("224.0.0.0/16"),
                role: Role::Services,
            },
        ];
        let f = check(Some(CloudProvider::Aks), &ranges, true);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].hint
                .starts_with("set network.service_cidr = \"10.1.0.0/16\""),
            "{}",
            f[0].hint
        );
    }
}
