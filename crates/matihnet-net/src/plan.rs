//! The address plan: where every subnet and secondary range goes, carved by fixed rules.
//!
//! Carving depends only on the network's ranges, the zone list and the CNI, never on node pools or
//! tenants, so adding either never moves an existing range; the capacity checks then say when a
//! range is too small. With `N` the prefix length of `network.cidr`:
//!
//! - EKS (and fake): one node subnet of /(N+3) per zone, zone `i` in slot `i` of the network
//!   (at most [`MAX_ZONES`] zones: the first half of the network); one public (load balancer)
//!   subnet of /(N+6) per zone in the last four such blocks of the network. The middle stays free
//!   to grow into. With `vpc-cni-custom`, one pod subnet of /(P+2) per zone in slot `i` of
//!   `pod_cidr` (prefix P), which becomes a secondary VPC block. The fake provider has a single
//!   unnamed zone: subnets `nodes` and `public`.
//! - AKS: the node subnet is the first /(N+2) of the network. `azure-pod-subnet` puts pods in the
//!   whole `pod_cidr` (added to the VNet's address space) or, without one, in the network's second
//!   half. `azure-overlay` pods use `pod_cidr` (default 10.244.0.0/16), which is not a subnet.
//! - GKE: the subnetwork's primary range is the first /(N+2) of the network; its `pods` and
//!   `services` secondary ranges are `pod_cidr` and `service_cidr`.
//!
//! `network.node_prefix` and `network.pod_prefix` override the subnet sizes (same slots).
//! Reordering the zone list moves subnets (slots follow list positions): append new zones at the end.

use ipnet::Ipv4Net;

use crate::cidr;
use crate::model::{CloudProvider, Cni, Environment};
use crate::Finding;

/// EKS subnets are carved in this many slots, so adding a zone later never moves the others.
pub const MAX_ZONES: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Purpose {
    /// The VPC / VNet / network's primary block.
    Network,
    /// An extra VPC / VNet block (EKS pod CIDR with custom networking, user secondary blocks).
    NetworkSecondary,
    Nodes,
    Pods,
    /// Public subnets for internet-facing load balancers (EKS, fake).
    Public,
    Services,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Network => "network",
            Purpose::NetworkSecondary => "network (secondary)",
            Purpose::Nodes => "nodes",
            Purpose::Pods => "pods",
            Purpose::Public => "public",
            Purpose::Services => "services",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRange {
    pub cidr: Ipv4Net,
    pub purpose: Purpose,
    /// The name of the `subnet.<name>` resource this range is, if it is a subnet.
    pub subnet: Option<String>,
    /// The availability zone, for zonal subnets.
    pub zone: Option<String>,
    /// For a GKE secondary range: the subnet that carries it and the range's name.
    pub secondary_of: Option<(String, String)>,
    /// Addresses the cloud keeps in this range.
    pub reserved: u64,
    /// Addresses (or, for an overlay pod range, addresses of the /24 blocks) needed at max scale.
    pub needed: Option<u64>,
}

impl PlannedRange {
    fn new(cidr: Ipv4Net, purpose: Purpose) -> Self {
        PlannedRange {
            cidr,
            purpose,
            subnet: None,
            zone: None,
            secondary_of: None,
            reserved: 0,
            needed: None,
        }
    }

    pub fn size(&self) -> u64 {
        cidr::size(&self.cidr)
    }

    pub fn usable(&self) -> u64 {
        cidr::usable(&self.cidr, self.reserved)
    }

    /// Usable addresses left at max scale; negative when the range is too small.
    pub fn headroom(&self) -> Option<i64> {
        let needed = i64::try_from(self.needed?).ok()?;
        let usable = i64::try_from(self.usable()).ok()?;
        Some(usable - needed)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressPlan {
    /// Network blocks first, then subnets in carving order, then pod and service ranges.
    pub ranges: Vec<PlannedRange>,
}

impl AddressPlan {
    pub fn subnets(&self) -> impl Iterator<Item = &PlannedRange> {
        self.ranges.iter().filter(|r| r.subnet.is_some())
    }

    pub fn subnet(&self, name: &str) -> Option<&PlannedRange> {
        self.ranges
            .iter()
            .find(|r| r.subnet.as_deref() == Some(name))
    }

    /// Carves the plan without checking capacity.
    pub fn carve(env: &Environment) -> Result<AddressPlan, Vec<matihnet_core::Diagnostic>> {
        carve(env).map_err(|f| f.into_iter().map(Finding::into_diagnostic).collect())
    }
}

fn subnet(
    cidr: Ipv4Net,
    purpose: Purpose,
    name: String,
    zone: Option<&str>,
    reserved: u64,
) -> PlannedRange {
    PlannedRange {
        subnet: Some(name),
        zone: zone.map(str::to_string),
        reserved,
        ..PlannedRange::new(cidr, purpose)
    }
}

fn slot(
    parent: &Ipv4Net,
    prefix: u8,
    index: u64,
    field: &str,
    what: &str,
    findings: &mut Vec<Finding>,
) -> Option<Ipv4Net> {
    let got = cidr::nth_subnet(parent, prefix, index);
    if got.is_none() {
        findings.push(Finding::error(
            field,
            format!("{parent} has no room for {what} (a /{prefix} in slot {index})"),
            format!("use a larger block than {parent}, or a smaller subnet size (a longer prefix)"),
        ));
    }
    got
}

pub(crate) fn carve(env: &Environment) -> Result<AddressPlan, Vec<Finding>> {
    let net = env.network.cidr;
    let n = net.prefix_len();
    let reserved = env.provider.reserved_per_subnet();
    let mut findings = Vec::new();
    let mut ranges = vec![PlannedRange::new(net, Purpose::Network)];
    let node_field = if env.network.node_prefix.is_some() {
        "network.node_prefix"
    } else {
        "network.cidr"
    };
    let pod_field = if env.network.pod_prefix.is_some() {
        "network.pod_prefix"
    } else {
        "network.pod_cidr"
    };
    for s in &env.network.secondary_cidrs {
        ranges.push(PlannedRange::new(*s, Purpose::NetworkSecondary));
    }
    let cni = env.network.cni;
    if let (Some(pc), Cni::VpcCniCustom | Cni::AzurePodSubnet) = (env.network.pod_cidr, cni) {
        ranges.push(PlannedRange::new(pc, Purpose::NetworkSecondary));
    }

    match env.provider {
        CloudProvider::Eks | CloudProvider::Fake => {
            let public_prefix = n + 6;
            if public_prefix > 28 {
                findings.push(Finding::error(
                    "network.cidr",
                    format!("{net} is too small to carve node and load-balancer subnets"),
                    "use a /22 or larger network (a /16 is the usual choice)".to_string(),
                ));
                return Err(findings);
            }
            let node_prefix = env.network.node_prefix.unwrap_or(n + 3);
            let zones: Vec<Option<&str>> = if env.provider == CloudProvider::Fake {
                vec![None]
            } else {
                env.zones().iter().map(|z| Some(z.as_str())).collect()
            };
            let suffix = |base: &str, z: Option<&str>| match z {
                Some(z) => format!("{base}_{z}"),
                None => base.to_string(),
            };
            let public_blocks = 1u64 << (public_prefix - n);
            for (i, z) in zones.iter().enumerate() {
                let i = i as u64;
                if let Some(c) = slot(
                    &net,
                    node_prefix,
                    i,
                    node_field,
                    "a node subnet",
                    &mut findings,
                ) {
                    ranges.push(subnet(c, Purpose::Nodes, suffix("nodes", *z), *z, reserved));
                }
            }
            if let (Cni::VpcCniCustom, Some(pc)) = (cni, env.network.pod_cidr) {
                let pod_prefix = env.network.pod_prefix.unwrap_or(pc.prefix_len() + 2);
                for (i, z) in zones.iter().enumerate() {
                    if let Some(c) = slot(
                        &pc,
                        pod_prefix,
                        i as u64,
                        pod_field,
                        "a pod subnet",
                        &mut findings,
                    ) {
                        ranges.push(subnet(c, Purpose::Pods, suffix("pods", *z), *z, reserved));
                    }
                }
            }
            for (i, z) in zones.iter().enumerate() {
                let index = public_blocks - MAX_ZONES as u64 + i as u64;
                if let Some(c) = slot(
                    &net,
                    public_prefix,
                    index,
                    "network.cidr",
                    "a public subnet",
                    &mut findings,
                ) {
                    ranges.push(subnet(
                        c,
                        Purpose::Public,
                        suffix("public", *z),
                        *z,
                        reserved,
                    ));
                }
            }
        }
        CloudProvider::Aks => {
            let node_prefix = env.network.node_prefix.unwrap_or(n + 2);
            if let Some(c) = slot(
                &net,
                node_prefix,
                0,
                node_field,
                "the node subnet",
                &mut findings,
            ) {
                ranges.push(subnet(c, Purpose::Nodes, "nodes".into(), None, reserved));
            }
            match (cni, env.network.pod_cidr) {
                (Cni::AzurePodSubnet, Some(pc)) => {
                    let prefix = env.network.pod_prefix.unwrap_or(pc.prefix_len());
                    if let Some(c) =
                        slot(&pc, prefix, 0, pod_field, "the pod subnet", &mut findings)
                    {
                        ranges.push(subnet(c, Purpose::Pods, "pods".into(), None, reserved));
                    }
                }
                (Cni::AzurePodSubnet, None) => {
                    let prefix = env.network.pod_prefix.unwrap_or(n + 1);
                    let half = 1u64 << (prefix.saturating_sub(n + 1));
                    if let Some(c) = slot(
                        &net,
                        prefix,
                        half,
                        "network.pod_prefix",
                        "the pod subnet",
                        &mut findings,
                    ) {
                        ranges.push(subnet(c, Purpose::Pods, "pods".into(), None, reserved));
                    }
                }
                (Cni::AzureOverlay, Some(pc)) => ranges.push(PlannedRange::new(pc, Purpose::Pods)),
                _ => {}
            }
        }
        CloudProvider::Gke => {
            let node_prefix = env.network.node_prefix.unwrap_or(n + 2);
            if let Some(c) = slot(
                &net,
                node_prefix,
                0,
                node_field,
                "the subnetwork",
                &mut findings,
            ) {
                ranges.push(subnet(c, Purpose::Nodes, "nodes".into(), None, reserved));
            }
            if let Some(pc) = env.network.pod_cidr {
                ranges.push(PlannedRange {
                    secondary_of: Some(("nodes".into(), "pods".into())),
                    ..PlannedRange::new(pc, Purpose::Pods)
                });
            }
        }
    }
    ranges.push(PlannedRange {
        secondary_of: (env.provider == CloudProvider::Gke)
            .then(|| ("nodes".to_string(), "services".to_string())),
        ..PlannedRange::new(env.network.service_cidr, Purpose::Services)
    });

    // Explicit subnets replace carved ones by name, and must stay inside the same parent block.
    let parents: Vec<Ipv4Net> = std::iter::once(net)
        .chain(env.network.secondary_cidrs.iter().copied())
        .chain(env.network.pod_cidr)
        .collect();
    let mut explicit_field: Vec<(String, String)> = Vec::new();
    for (i, e) in env.network.subnets.iter().enumerate() {
        let field = format!("network.subnet[{i}]");
        let names: Vec<String> = ranges.iter().filter_map(|r| r.subnet.clone()).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let Some(range) = ranges
            .iter_mut()
            .find(|r| r.subnet.as_deref() == Some(&e.name))
        else {
            let hint = match crate::spelling::closest(&e.name, &names) {
                Some(c) => format!(
                    "did you mean `{c}`? subnets of this plan: {}",
                    names.join(", ")
                ),
                None => format!("subnets of this plan: {}", names.join(", ")),
            };
            findings.push(Finding::error(
                &format!("{field}.name"),
                format!("there is no subnet named `{}` to replace", e.name),
                hint,
            ));
            continue;
        };
        let parent = parents.iter().find(|p| p.contains(&range.cidr)).copied();
        match parent {
            Some(p) if !p.contains(&e.cidr) => findings.push(Finding::error(
                &format!("{field}.cidr"),
                format!(
                    "{} is outside {p}, the block subnet `{}` belongs in",
                    e.cidr, e.name
                ),
                format!("choose a block inside {p}"),
            )),
            _ => {}
        }
        let aws_like = matches!(env.provider, CloudProvider::Eks | CloudProvider::Fake);
        if aws_like && !(16..=28).contains(&e.cidr.prefix_len()) {
            findings.push(Finding::error(
                &format!("{field}.cidr"),
                format!("{} cannot be a subnet: AWS subnets are /16 to /28", e.cidr),
                "choose a prefix length between /16 and /28".to_string(),
            ));
        }
        if explicit_field.iter().any(|(n, _)| n == &e.name) {
            findings.push(Finding::error(
                &format!("{field}.name"),
                format!("subnet `{}` is given twice", e.name),
                "remove the duplicate [[network.subnet]]".to_string(),
            ));
        }
        range.cidr = e.cidr;
        explicit_field.push((e.name.clone(), format!("{field}.cidr")));
    }
    let field_of = |name: Option<&str>| {
        explicit_field
            .iter()
            .find(|(n, _)| Some(n.as_str()) == name)
            .map_or(node_field.to_string(), |(_, f)| f.clone())
    };

    // Overrides can push subnets into each other; carving by slots alone cannot.
    let subnets: Vec<&PlannedRange> = ranges.iter().filter(|r| r.subnet.is_some()).collect();
    for (j, b) in subnets.iter().enumerate() {
        for a in &subnets[..j] {
            if cidr::overlaps(&a.cidr, &b.cidr) {
                let field = match field_of(b.subnet.as_deref()) {
                    f if f == node_field => field_of(a.subnet.as_deref()),
                    f => f,
                };
                findings.push(Finding::error(
                    &field,
                    format!(
                        "subnet {} {} overlaps subnet {} {}",
                        b.subnet.as_deref().unwrap_or(""),
                        b.cidr,
                        a.subnet.as_deref().unwrap_or(""),
                        a.cidr
                    ),
                    "give the subnets disjoint blocks: another [[network.subnet]] cidr, a longer node_prefix / pod_prefix, or a larger network.cidr"
                        .to_string(),
                ));
            }
        }
    }
    // AWS refuses subnets outside /16../28; pinned subnets were checked above with their own field.
    if matches!(env.provider, CloudProvider::Eks | CloudProvider::Fake) {
        for r in &ranges {
            let Some(name) = r.subnet.as_deref() else {
                continue;
            };
            let pinned = explicit_field.iter().any(|(n, _)| n == name);
            if !pinned && !(16..=28).contains(&r.cidr.prefix_len()) {
                let field = if r.purpose == Purpose::Pods {
                    pod_field
                } else {
                    node_field
                };
                findings.push(Finding::error(
                    field,
                    format!("subnet {name} would be {}: AWS subnets are /16 to /28", r.cidr),
                    "set network.node_prefix / network.pod_prefix between 16 and 28, or use a larger pod_cidr".to_string(),
                ));
            }
        }
    }
    if findings.is_empty() {
        Ok(AddressPlan { ranges })
    } else {
        Err(findings)
    }
}
