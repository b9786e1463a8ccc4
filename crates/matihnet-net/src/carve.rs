//! The address plan: where every subnet and secondary range goes, carved from demand.
//!
//! Each subnet the file does not size gets the smallest block that holds its demand at max scale
//! (nodes + surge, pods per the CNI and internal load balancers, by the formulas of
//! [`crate::capacity`]; `8 + front ends` for a public subnet) with the documented headroom: demand at or
//! below [`HEADROOM_PERCENT`]% of the block's usable addresses, which is also the point where the
//! capacity check starts warning. When the network cannot hold every subnet with that headroom,
//! the smallest blocks that hold the demand at all are used instead (the capacity check then warns
//! that they are nearly full); when it cannot hold even those, carving fails and says by how many
//! addresses. Blocks never go below the cloud's smallest subnet (AWS /28, Azure and GCP /29) nor
//! above its largest (AWS /16).
//!
//! Subnets are placed largest first, each in the lowest aligned block of its parent that is free,
//! so alignment wastes nothing and the result depends only on the file. Which subnets exist:
//!
//! - EKS (and fake): `nodes_<az>` and `public_<az>` per zone in `network.cidr`; with
//!   `vpc-cni-custom`, `pods_<az>` per zone in `pod_cidr`, which becomes a secondary VPC block.
//!   The fake provider has a single unnamed zone: subnets `nodes` and `public`.
//! - AKS: `nodes` in the network. `azure-pod-subnet` adds `pods`: the whole `pod_cidr` (added to
//!   the VNet's address space) or, without one, a block of the network. `azure-overlay` pods use
//!   `pod_cidr` (default 10.244.0.0/16), which is not a subnet.
//! - GKE: `nodes`, the subnetwork, whose primary range is carved from the network; its `pods` and
//!   `services` secondary ranges are `pod_cidr` and `service_cidr`.
//!
//! `network.node_prefix` and `network.pod_prefix` fix the sizes of the node and pod subnets, and
//! `[[network.subnet]]` pins a subnet to a block by name; carved subnets are placed around pinned
//! ones. Because sizes follow demand, raising `max_nodes`, adding pools or dedicated tenants, or
//! changing the zone list can move subnets, and a subnet's CIDR cannot change in place: pin the
//! subnets of an applied environment (`node_prefix`, `[[network.subnet]]`) before growing it.

use ipnet::Ipv4Net;

use crate::capacity::{self, Demand};
use crate::cidr;
use crate::fix::Remedy;
use crate::model::{CloudProvider, Cni, Environment};
use crate::table::group;
use crate::Finding;

/// EKS environments may list at most this many availability zones.
pub const MAX_ZONES: usize = 4;

/// A carved subnet's demand stays at or below this share of its usable addresses.
pub const HEADROOM_PERCENT: u64 = capacity::NEAR_FULL_PERCENT;

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
    /// What decided the size, and so which setting grows it.
    pub(crate) sized_by: SizedBy,
    /// The field of the block a subnet is carved from (`network.cidr`, `network.pod_cidr`).
    pub(crate) parent_field: &'static str,
}

/// What decided the size of a planned range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SizedBy {
    /// A range of the file itself: a network block, the pods or services range.
    Given,
    /// Carved from demand.
    Demand,
    NodePrefix,
    PodPrefix,
    /// The AKS pod subnet that is the whole `pod_cidr`.
    WholePodCidr,
    /// `network.subnet[i]` pins it.
    Pinned(usize),
}

impl SizedBy {
    /// The setting that sizes the subnet, where the file has one.
    fn field(self) -> Option<&'static str> {
        match self {
            SizedBy::NodePrefix => Some("network.node_prefix"),
            SizedBy::PodPrefix => Some("network.pod_prefix"),
            _ => None,
        }
    }
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
            sized_by: SizedBy::Given,
            parent_field: "",
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
        let (plan, findings) = carve(env);
        if findings.iter().any(Finding::is_error) {
            Err(findings
                .into_iter()
                .filter(Finding::is_error)
                .map(Finding::into_diagnostic)
                .collect())
        } else {
            Ok(plan)
        }
    }
}

/// A subnet to carve: where, how big, and what decided it.
struct Want {
    name: String,
    purpose: Purpose,
    zone: Option<String>,
    /// Index into the parent blocks.
    parent: usize,
    sized_by: SizedBy,
    /// The prefix length the file fixes, if it does.
    fixed: Option<u8>,
    demand: Demand,
    /// The block it ends up in: pinned, or placed by the layout.
    cidr: Option<Ipv4Net>,
}

struct Parent {
    net: Ipv4Net,
    field: &'static str,
}

/// The largest and smallest subnet each cloud allows, as prefix lengths.
fn subnet_bounds(provider: CloudProvider) -> (u8, u8) {
    match provider {
        CloudProvider::Eks | CloudProvider::Fake | CloudProvider::Plugin => (16, 28),
        CloudProvider::Aks | CloudProvider::Gke => (8, 29),
    }
}

fn cloud_name(provider: CloudProvider) -> &'static str {
    match provider {
        CloudProvider::Eks | CloudProvider::Fake | CloudProvider::Plugin => "AWS",
        CloudProvider::Aks => "Azure",
        CloudProvider::Gke => "GCP",
    }
}

/// The prefix a demand-sized subnet gets: with headroom, or just holding its demand (`tight`).
fn demand_prefix(needed: u64, reserved: u64, bounds: (u8, u8), tight: bool) -> Option<u8> {
    let (largest, smallest) = bounds;
    let headroom = if tight {
        None
    } else {
        cidr::smallest_prefix_with_headroom(needed, reserved, HEADROOM_PERCENT, 0)
            .map(|p| p.min(smallest))
            .filter(|p| *p >= largest)
    };
    headroom.or_else(|| {
        cidr::smallest_prefix_for(needed, reserved, 0)
            .map(|p| p.min(smallest))
            .filter(|p| *p >= largest)
    })
}

/// Places `members` (indices into `wants`) in `parent` around `taken`, largest first.
fn place(
    parent: &Ipv4Net,
    members: &[(usize, u8)],
    taken: &[Ipv4Net],
) -> Option<Vec<(usize, Ipv4Net)>> {
    let mut order = members.to_vec();
    // Larger blocks first, then carving order: aligned blocks of falling size pack without gaps.
    order.sort_by_key(|(i, p)| (*p, *i));
    let mut taken = taken.to_vec();
    let mut out = Vec::new();
    for (i, p) in order {
        let c = cidr::first_fit(parent, p, &taken)?;
        taken.push(c);
        out.push((i, c));
    }
    Some(out)
}

pub(crate) fn carve(env: &Environment) -> (AddressPlan, Vec<Finding>) {
    let net = env.network.cidr;
    let provider = env.provider;
    let reserved = provider.reserved_per_subnet();
    let bounds = subnet_bounds(provider);
    let cni = env.network.cni;
    let mut findings = Vec::new();
    let mut ranges = vec![PlannedRange::new(net, Purpose::Network)];
    for s in &env.network.secondary_cidrs {
        ranges.push(PlannedRange::new(*s, Purpose::NetworkSecondary));
    }
    if let (Some(pc), Cni::VpcCniCustom | Cni::AzurePodSubnet) = (env.network.pod_cidr, cni) {
        ranges.push(PlannedRange::new(pc, Purpose::NetworkSecondary));
    }
    let mut parents = vec![Parent {
        net,
        field: "network.cidr",
    }];
    let pod_parent = match (env.network.pod_cidr, cni) {
        (Some(pc), Cni::VpcCniCustom | Cni::AzurePodSubnet) => {
            parents.push(Parent {
                net: pc,
                field: "network.pod_cidr",
            });
            Some(parents.len() - 1)
        }
        _ => None,
    };
    let node_sized = match env.network.node_prefix {
        Some(_) => SizedBy::NodePrefix,
        None => SizedBy::Demand,
    };
    let pod_sized = match env.network.pod_prefix {
        Some(_) => SizedBy::PodPrefix,
        None => SizedBy::Demand,
    };

    let mut wants: Vec<Want> = Vec::new();
    let mut want = |name: String,
                    purpose: Purpose,
                    zone: Option<&str>,
                    parent: usize,
                    sized_by: SizedBy,
                    fixed: Option<u8>,
                    demand: Demand| {
        wants.push(Want {
            name,
            purpose,
            zone: zone.map(str::to_string),
            parent,
            sized_by,
            fixed,
            demand,
            cidr: None,
        })
    };
    match provider {
        CloudProvider::Eks | CloudProvider::Fake | CloudProvider::Plugin => {
            let zones: Vec<Option<&str>> =
                if matches!(provider, CloudProvider::Fake | CloudProvider::Plugin) {
                    vec![None]
                } else {
                    env.zones().iter().map(|z| Some(z.as_str())).collect()
                };
            let suffix = |base: &str, z: Option<&str>| match z {
                Some(z) => format!("{base}_{z}"),
                None => base.to_string(),
            };
            for z in &zones {
                want(
                    suffix("nodes", *z),
                    Purpose::Nodes,
                    *z,
                    0,
                    node_sized,
                    env.network.node_prefix,
                    capacity::node_subnet_demand(env),
                );
            }
            if let (Cni::VpcCniCustom, Some(pp)) = (cni, pod_parent) {
                for z in &zones {
                    want(
                        suffix("pods", *z),
                        Purpose::Pods,
                        *z,
                        pp,
                        pod_sized,
                        env.network.pod_prefix,
                        capacity::pod_subnet_demand(env),
                    );
                }
            }
            for z in &zones {
                want(
                    suffix("public", *z),
                    Purpose::Public,
                    *z,
                    0,
                    SizedBy::Demand,
                    None,
                    capacity::public_subnet_demand(env),
                );
            }
        }
        CloudProvider::Aks => {
            want(
                "nodes".into(),
                Purpose::Nodes,
                None,
                0,
                node_sized,
                env.network.node_prefix,
                capacity::node_subnet_demand(env),
            );
            if cni == Cni::AzurePodSubnet {
                let (parent, sized_by, fixed) = match (pod_parent, env.network.pod_prefix) {
                    (Some(pp), Some(p)) => (pp, SizedBy::PodPrefix, Some(p)),
                    // The user set this block aside for pods, so the subnet is all of it.
                    (Some(pp), None) => (
                        pp,
                        SizedBy::WholePodCidr,
                        Some(parents[pp].net.prefix_len()),
                    ),
                    (None, p) => (0, pod_sized, p),
                };
                want(
                    "pods".into(),
                    Purpose::Pods,
                    None,
                    parent,
                    sized_by,
                    fixed,
                    capacity::pod_subnet_demand(env),
                );
            }
        }
        CloudProvider::Gke => want(
            "nodes".into(),
            Purpose::Nodes,
            None,
            0,
            node_sized,
            env.network.node_prefix,
            capacity::node_subnet_demand(env),
        ),
    }

    // Explicit subnets pin carved ones by name, and must stay inside the same parent block.
    let names: Vec<&str> = wants.iter().map(|w| w.name.as_str()).collect();
    let mut unknown = Vec::new();
    let mut pinned_by: Vec<(usize, usize)> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, e) in env.network.subnets.iter().enumerate() {
        let field = format!("network.subnet[{i}]");
        let Some(w) = names.iter().position(|n| *n == e.name) else {
            let hint = match crate::spelling::closest(&e.name, &names) {
                Some(c) => format!(
                    "did you mean `{c}`? subnets of this plan: {}",
                    names.join(", ")
                ),
                None => format!("subnets of this plan: {}", names.join(", ")),
            };
            unknown.push(Finding::error(
                &format!("{field}.name"),
                format!("there is no subnet named `{}` to replace", e.name),
                hint,
            ));
            continue;
        };
        let parent = &parents[wants[w].parent].net;
        if !parent.contains(&e.cidr) {
            findings.push(Finding::error(
                &format!("{field}.cidr"),
                format!(
                    "{} is outside {parent}, the block subnet `{}` belongs in",
                    e.cidr, e.name
                ),
                format!("choose a block inside {parent}"),
            ));
        }
        let aws_like = matches!(
            provider,
            CloudProvider::Eks | CloudProvider::Fake | CloudProvider::Plugin
        );
        if aws_like && !(16..=28).contains(&e.cidr.prefix_len()) {
            findings.push(Finding::error(
                &format!("{field}.cidr"),
                format!("{} cannot be a subnet: AWS subnets are /16 to /28", e.cidr),
                "choose a prefix length between /16 and /28".to_string(),
            ));
        }
        if !seen.insert(e.name.as_str()) {
            findings.push(Finding::error(
                &format!("{field}.name"),
                format!("subnet `{}` is given twice", e.name),
                "remove the duplicate [[network.subnet]]".to_string(),
            ));
        }
        pinned_by.push((w, i));
    }
    findings.splice(0..0, unknown);
    for (w, i) in &pinned_by {
        wants[*w].cidr = Some(env.network.subnets[*i].cidr);
        wants[*w].sized_by = SizedBy::Pinned(*i);
    }
    let knob_field = |s: SizedBy| match s {
        SizedBy::NodePrefix => Some("network.node_prefix"),
        SizedBy::PodPrefix => Some("network.pod_prefix"),
        _ => None,
    };

    // Sizes the cloud refuses are reported per subnet and left out of the layout.
    let mut sizeless = vec![false; wants.len()];
    for (i, w) in wants.iter().enumerate() {
        if w.cidr.is_some() {
            continue;
        }
        match (w.fixed, knob_field(w.sized_by)) {
            (Some(p), Some(knob)) if bounds.0 == 16 && !(16..=28).contains(&p) => {
                findings.push(
                    Finding::error(
                        knob,
                        format!(
                            "{knob} = {p} would make subnet {} a /{p}: AWS subnets are /16 to /28",
                            w.name
                        ),
                        format!("set {knob} between 16 and 28"),
                    )
                    .key(format!("aws-size:{}", w.name))
                    .remedies(vec![Remedy::Prefix {
                        field: knob,
                        current: p,
                        larger: p > 28,
                        reserved,
                    }]),
                );
                sizeless[i] = true;
            }
            (Some(_), _) => {}
            (None, _) => {
                if demand_prefix(w.demand.amount, reserved, bounds, true).is_none() {
                    let largest = bounds.0;
                    let most = cidr::usable(
                        &Ipv4Net::new(net.network(), largest).unwrap_or(net),
                        reserved,
                    );
                    findings.push(
                        Finding::error(
                            parents[w.parent].field,
                            format!(
                                "subnet {} needs {} addresses at max scale ({}), more than the largest {} subnet (a /{largest}, {} usable) holds",
                                w.name,
                                group(w.demand.amount),
                                w.demand.text,
                                cloud_name(provider),
                                group(most)
                            ),
                            "lower max_nodes or max_pods, or split the load over more zones or clusters".to_string(),
                        )
                        .key(format!("capacity:{}", w.name))
                        .remedies(vec![Remedy::ShrinkNodes]),
                    );
                    sizeless[i] = true;
                }
            }
        }
    }

    for (pi, parent) in parents.iter().enumerate() {
        let in_parent: Vec<usize> = (0..wants.len())
            .filter(|i| wants[*i].parent == pi && !sizeless[*i])
            .collect();
        let taken: Vec<Ipv4Net> = in_parent
            .iter()
            .filter_map(|i| wants[*i].cidr)
            .filter(|c| parent.net.contains(c))
            .collect();
        let free: Vec<usize> = in_parent
            .iter()
            .copied()
            .filter(|i| wants[*i].cidr.is_none())
            .collect();
        let sized = |tight: bool| -> Vec<(usize, u8)> {
            free.iter()
                .filter_map(|i| {
                    let w = &wants[*i];
                    w.fixed
                        .or_else(|| demand_prefix(w.demand.amount, reserved, bounds, tight))
                        .map(|p| (*i, p))
                })
                .collect()
        };
        let layout = place(&parent.net, &sized(false), &taken)
            .or_else(|| place(&parent.net, &sized(true), &taken));
        match layout {
            Some(placed) => {
                for (i, c) in placed {
                    wants[i].cidr = Some(c);
                }
            }
            None => findings.push(no_room(parent, &wants, &sized(true), &taken, reserved)),
        }
    }

    for w in &wants {
        let Some(c) = w.cidr else { continue };
        ranges.push(PlannedRange {
            subnet: Some(w.name.clone()),
            zone: w.zone.clone(),
            reserved,
            sized_by: w.sized_by,
            parent_field: parents[w.parent].field,
            ..PlannedRange::new(c, w.purpose)
        });
    }
    match (provider, cni, env.network.pod_cidr) {
        (CloudProvider::Gke, _, Some(pc)) => ranges.push(PlannedRange {
            secondary_of: Some(("nodes".into(), "pods".into())),
            ..PlannedRange::new(pc, Purpose::Pods)
        }),
        (CloudProvider::Aks, Cni::AzureOverlay, Some(pc)) => {
            ranges.push(PlannedRange::new(pc, Purpose::Pods))
        }
        _ => {}
    }
    ranges.push(PlannedRange {
        secondary_of: (provider == CloudProvider::Gke)
            .then(|| ("nodes".to_string(), "services".to_string())),
        ..PlannedRange::new(env.network.service_cidr, Purpose::Services)
    });

    // Pinned subnets can overlap each other (or a subnet of another parent); carving cannot.
    let field_of = |r: &PlannedRange| match r.sized_by {
        SizedBy::Pinned(i) => format!("network.subnet[{i}].cidr"),
        SizedBy::PodPrefix => "network.pod_prefix".to_string(),
        SizedBy::NodePrefix => "network.node_prefix".to_string(),
        _ => r.parent_field.to_string(),
    };
    let subnets: Vec<&PlannedRange> = ranges.iter().filter(|r| r.subnet.is_some()).collect();
    for (j, b) in subnets.iter().enumerate() {
        for a in &subnets[..j] {
            if cidr::overlaps(&a.cidr, &b.cidr) {
                let field = match (a.sized_by, b.sized_by) {
                    (_, SizedBy::Pinned(_)) => field_of(b),
                    _ => field_of(a),
                };
                findings.push(
                    Finding::error(
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
                    )
                    .key(format!("overlap:{}", b.subnet.as_deref().unwrap_or(""))),
                );
            }
        }
    }
    (AddressPlan { ranges }, findings)
}

/// The error for a parent block that cannot hold its subnets, with the arithmetic.
fn no_room(
    parent: &Parent,
    wants: &[Want],
    sized: &[(usize, u8)],
    taken: &[Ipv4Net],
    reserved: u64,
) -> Finding {
    let size = |p: u8| 1u64 << (32 - u32::from(p));
    let mut terms: Vec<String> = sized
        .iter()
        .map(|(i, p)| {
            let from = match wants[*i].sized_by {
                SizedBy::NodePrefix => ", network.node_prefix",
                SizedBy::PodPrefix => ", network.pod_prefix",
                _ => "",
            };
            format!("{} /{p} ({}{from})", wants[*i].name, group(size(*p)))
        })
        .collect();
    terms.extend(
        taken
            .iter()
            .map(|t| format!("pinned {t} ({})", group(cidr::size(t)))),
    );
    let total: u64 = sized.iter().map(|(_, p)| size(*p)).sum::<u64>()
        + taken.iter().map(cidr::size).sum::<u64>();
    let have = cidr::size(&parent.net);
    let shortfall = if total > have {
        format!("{} more than its {}", group(total - have), group(have))
    } else {
        format!(
            "which fit in its {} only if the pinned subnets are moved to leave aligned room",
            group(have)
        )
    };
    let message = format!(
        "{} cannot hold the subnets carved from it: {} = {} addresses, {shortfall}",
        parent.net,
        terms.join(" + "),
        group(total)
    );
    let mut remedies = Vec::new();
    for (i, p) in sized {
        if let Some(field) = wants[*i].sized_by.field() {
            let r = Remedy::Prefix {
                field,
                current: *p,
                larger: false,
                reserved,
            };
            if !remedies.contains(&r) {
                remedies.push(r);
            }
        }
    }
    remedies.push(Remedy::Widen {
        field: parent.field.to_string(),
        current: parent.net,
        within: None,
        reserved: 0,
    });
    for (i, _) in sized {
        if let Some(field) = wants[*i].sized_by.field() {
            let r = Remedy::PrefixAndParent {
                field,
                needed: wants[*i].demand.amount,
                reserved,
                parent_field: parent.field,
                parent: parent.net,
            };
            if !remedies.contains(&r) {
                remedies.push(r);
            }
        }
    }
    remedies.push(Remedy::ShrinkNodes);
    Finding::error(
        parent.field,
        message,
        format!(
            "use a larger {}, or lower max_nodes or max_pods",
            parent.field
        ),
    )
    .key(format!("carve:{}", parent.field))
    .remedies(remedies)
}
