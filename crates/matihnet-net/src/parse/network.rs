//! `[network]`, its pinned subnets, and the node pools with their per-CNI checks.

use super::*;

pub(super) fn read_network(
    r: &mut Reader<'_>,
    root: &DeTable<'_>,
    provider: Option<CloudProvider>,
) -> Option<Network> {
    let Some((t, at)) = r.section(root, "network") else {
        if !root.contains_key("network") {
            r.missing(
                0,
                "",
                "network",
                "add a [network] section with cidr and service_cidr",
            );
        }
        return None;
    };
    let p = "network";
    r.check_keys(t, p, NETWORK_KEYS);
    let cidr = match r.value(t, p, "cidr") {
        Some(v) => r.cidr(v, "network.cidr"),
        None => {
            r.missing(at, p, "cidr", "add cidr = \"10.0.0.0/16\"");
            None
        }
    };
    let service_cidr = match r.value(t, p, "service_cidr") {
        Some(v) => r.cidr(v, "network.service_cidr"),
        None if provider == Some(CloudProvider::Gke) => "34.118.224.0/20".parse().ok(),
        None => {
            r.missing(at, p, "service_cidr", "add service_cidr = \"172.20.0.0/16\" (Kubernetes services; outside every other range)");
            None
        }
    };
    let pod_cidr = r.opt_cidr(t, p, "pod_cidr");
    // Valid blocks with their list positions, kept even when a sibling is malformed so that
    // overlap checks still see them.
    let mut secondary_ok = true;
    let mut secondary: Vec<(usize, Ipv4Net)> = Vec::new();
    if let Some(v) = r.value(t, p, "secondary_cidrs") {
        match r.str_list(v, "network.secondary_cidrs") {
            Some(items) => {
                for (i, (s, off)) in items.iter().enumerate() {
                    let f = format!("network.secondary_cidrs[{i}]");
                    match r.parsed_cidr(s, *off, &f, "write an IPv4 block such as \"10.1.0.0/16\"")
                    {
                        Some(n) => secondary.push((i, n)),
                        None => secondary_ok = false,
                    }
                }
            }
            None => secondary_ok = false,
        }
    }
    let cni = match (r.opt_str(t, p, "cni"), provider) {
        (None, Some(pr)) => Some(pr.default_cni()),
        (None, None) => None,
        (Some(c), pr) => {
            let off = r.spans.get("network.cni").map_or(at, |s| s.start);
            let allowed: Vec<&str> = match pr {
                Some(pr) => Cni::for_provider(pr).iter().map(|c| c.as_str()).collect(),
                None => Cni::ALL.iter().map(|c| c.as_str()).collect(),
            };
            match Cni::parse(&c) {
                Some(cni) if pr.is_none_or(|pr| cni.provider() == pr) => Some(cni),
                Some(cni) => {
                    r.error(
                        off,
                        "network.cni",
                        format!(
                            "cni `{c}` is for provider \"{}\", not \"{}\"",
                            cni.provider(),
                            pr.map_or("", |p| p.as_str())
                        ),
                        format!("use one of: {}", allowed.join(", ")),
                    );
                    None
                }
                None => {
                    let hint = match spelling::closest(&c, &allowed) {
                        Some(s) => format!("did you mean \"{s}\"? choices: {}", allowed.join(", ")),
                        None => format!("use one of: {}", allowed.join(", ")),
                    };
                    r.error(off, "network.cni", format!("unknown cni `{c}`"), hint);
                    None
                }
            }
        }
    };
    let protect = r.opt_bool(t, p, "protect").unwrap_or(false);
    let existing = r.opt_str(t, p, "existing");
    let existing_ok = match &existing {
        Some(id) if id.trim().is_empty() => {
            let off = r.spans.get("network.existing").map_or(0, |s| s.start);
            r.error(off, "network.existing", "network.existing is empty".into(), "give the id of the existing VPC, VNet or VPC network (`vpc-...`, an ARM resource id, a GCP self link), or remove the key to let matihnet create the network".into());
            false
        }
        _ => true,
    };
    let node_prefix = r.opt_int(
        t,
        p,
        "node_prefix",
        8,
        28,
        "a prefix length between /8 and /28",
    );
    let pod_prefix = r.opt_int(
        t,
        p,
        "pod_prefix",
        8,
        28,
        "a prefix length between /8 and /28",
    );
    let mut subnets_ok = true;
    let mut subnets = Vec::new();
    for (i, (st, sat)) in r.tables(t, p, "subnet").into_iter().enumerate() {
        let sp = format!("network.subnet[{i}]");
        r.check_keys(st, &sp, SUBNET_KEYS);
        let name = r.req_str(st, sat, &sp, "name", "add name = \"nodes\" (the name of the carved subnet to replace, as `matihnet addresses` shows it)");
        let c = match r.value(st, &sp, "cidr") {
            Some(v) => r.cidr(v, &format!("{sp}.cidr")),
            None => {
                r.missing(sat, &sp, "cidr", "add cidr = \"10.0.0.0/20\"");
                None
            }
        };
        match (name, c) {
            (Some(name), Some(cidr)) => subnets.push(ExplicitSubnet { name, cidr }),
            _ => subnets_ok = false,
        }
    }
    let ilbs = r.opt_int(
        t,
        p,
        "internal_load_balancers",
        0,
        1000,
        "the number of internal load-balancer front ends in the node subnet",
    );

    // The cloud's rules for each range, and every range disjoint from the others and from the
    // well-known defaults; checked on whatever parsed, so that one bad field does not hide the
    // others' problems.
    let ranges = crate::ranges::collect(cni, cidr, &secondary, pod_cidr.flatten(), service_cidr);
    let mut overlap = false;
    for f in crate::ranges::check(provider, &ranges, true) {
        overlap |= f.is_error();
        r.finding(f, at);
    }

    let secondary_cidrs: Vec<Ipv4Net> = secondary.into_iter().map(|(_, n)| n).collect();
    let (cidr, service_cidr, cni) = (cidr?, service_cidr?, cni?);
    secondary_ok.then_some(())?;
    let pod_cidr = pod_cidr?;
    if overlap {
        return None;
    }
    let uses_pod_cidr = matches!(
        cni,
        Cni::VpcCniCustom | Cni::AzureOverlay | Cni::AzurePodSubnet | Cni::VpcNative
    );
    let pod_off = r.spans.get("network.pod_cidr").map(|s| s.start);
    if let (Some(off), false) = (pod_off, uses_pod_cidr) {
        r.warn(off, "network.pod_cidr", format!("pod_cidr is not used with cni = \"{cni}\": pods take addresses from the node subnets"),
            "remove pod_cidr, or choose a cni that uses it (vpc-cni-custom, azure-overlay, azure-pod-subnet, vpc-native)".to_string());
    }
    let pod_cidr = match (pod_cidr, cni) {
        (None, Cni::VpcCniCustom) => {
            r.error(at, "network.pod_cidr", "cni = \"vpc-cni-custom\" puts pods in a secondary VPC CIDR, but pod_cidr is not set".to_string(),
                "add pod_cidr = \"100.64.0.0/16\" (the carrier-grade NAT space is the usual choice)".to_string());
            return None;
        }
        (None, Cni::VpcNative) => {
            r.error(
                at,
                "network.pod_cidr",
                "GKE needs a pods secondary range, but pod_cidr is not set".to_string(),
                "add pod_cidr = \"10.4.0.0/14\" (a /14 holds 1,024 nodes at 110 pods)".to_string(),
            );
            return None;
        }
        (None, Cni::AzureOverlay) => crate::ranges::AKS_OVERLAY_DEFAULT_POD_CIDR.parse().ok(),
        (p, _) if uses_pod_cidr => p,
        _ => None,
    };

    if provider == Some(CloudProvider::Eks) {
        let blocks = 1 + secondary_cidrs.len() + usize::from(cni == Cni::VpcCniCustom);
        if blocks > AWS_MAX_VPC_BLOCKS {
            let off = r
                .spans
                .get("network.secondary_cidrs")
                .map_or(at, |s| s.start);
            r.error(off, "network.secondary_cidrs", format!("the VPC would have {blocks} CIDR blocks (network.cidr, {} secondary_cidrs{}), AWS allows {AWS_MAX_VPC_BLOCKS}",
                secondary_cidrs.len(), if cni == Cni::VpcCniCustom { ", pod_cidr" } else { "" }),
                "remove secondary blocks, or use a larger network.cidr (up to /16)".to_string());
        }
    }

    Some(Network {
        cidr,
        service_cidr,
        pod_cidr,
        secondary_cidrs,
        cni,
        protect,
        node_prefix: node_prefix.transpose().ok()?.map(|n| n as u8),
        pod_prefix: pod_prefix.transpose().ok()?.map(|n| n as u8),
        internal_load_balancers: ilbs.transpose().ok()?.unwrap_or(0),
        subnets: subnets_ok.then_some(subnets)?,
        existing: existing_ok.then_some(existing)?,
    })
}

pub(super) fn read_node_pools(
    r: &mut Reader<'_>,
    root: &DeTable<'_>,
    provider: Option<CloudProvider>,
) -> Vec<NodePool> {
    let tables = r.tables(root, "", "node_pool");
    if tables.is_empty() && !root.contains_key("node_pool") {
        r.missing(
            0,
            "",
            "node_pool",
            "add at least one [[node_pool]] with name, instance_type and max_nodes",
        );
    }
    let mut pools = Vec::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (t, at)) in tables.into_iter().enumerate() {
        let p = format!("node_pool[{i}]");
        r.check_keys(t, &p, NODE_POOL_KEYS);
        let name = r.req_str(t, at, &p, "name", "add name = \"system\"");
        if let Some(n) = &name {
            let off = r.spans.get(&format!("{p}.name")).map_or(at, |s| s.start);
            // AKS pool names are the strictest: lowercase alphanumerics, at most 12.
            let aks = provider == Some(CloudProvider::Aks);
            let valid = if aks {
                !n.is_empty()
                    && n.len() <= 12
                    && n.bytes()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                    && n.as_bytes()[0].is_ascii_lowercase()
            } else {
                is_dns_label(n) && n.len() <= 40
            };
            if !valid {
                let rule = if aks {
                    "AKS pool names are 1-12 lowercase letters and digits, starting with a letter"
                } else {
                    "use lowercase letters, digits and `-` (at most 40)"
                };
                r.error(
                    off,
                    &format!("{p}.name"),
                    format!("`{n}` is not a valid node pool name"),
                    rule.to_string(),
                );
            } else if let Some(first) = names.get(n) {
                r.error(
                    off,
                    &format!("{p}.name"),
                    format!("node pool `{n}` is defined twice (first as node_pool[{first}])"),
                    "give each node pool its own name".to_string(),
                );
            } else {
                names.insert(n.clone(), i);
            }
        }
        let instance_type = r.req_str(
            t,
            at,
            &p,
            "instance_type",
            "add instance_type = \"m5.large\" (EC2 type, Azure VM size or GCE machine type)",
        );
        let max_nodes = match r.opt_int(
            t,
            &p,
            "max_nodes",
            1,
            5000,
            "the autoscaler maximum for this pool, 1 to 5000",
        ) {
            Some(v) => v.ok(),
            None => {
                r.missing(
                    at,
                    &p,
                    "max_nodes",
                    "add max_nodes = 10 (the autoscaler maximum)",
                );
                None
            }
        };
        let max_pods = r.opt_int(
            t,
            &p,
            "max_pods",
            1,
            737,
            "pods per node; each CNI narrows the range further",
        );
        let max_surge = r.opt_int(
            t,
            &p,
            "max_surge",
            0,
            100,
            "extra nodes during upgrades, usually 1",
        );
        let max_pods = max_pods.transpose();
        let max_surge = max_surge.transpose();
        if let (Some(CloudProvider::Eks), Some(it), Ok(None)) =
            (provider, &instance_type, &max_pods)
        {
            if crate::instances::lookup(it).is_none() {
                let f = format!("{p}.instance_type");
                let off = r.spans.get(&f).map_or(at, |s| s.start);
                let near = crate::instances::nearby(it);
                r.error(off, &f, format!("unknown EC2 instance type `{it}`: its ENI limits are not in matihnet's table, so max pods cannot be computed"),
                    format!("use a known type ({}) or set max_pods for this pool", near.join(", ")));
            }
        }
        if let (Some(name), Some(instance_type), Some(max_nodes), Ok(max_pods), Ok(max_surge)) =
            (name, instance_type, max_nodes, max_pods, max_surge)
        {
            pools.push(NodePool {
                name,
                instance_type,
                max_nodes,
                max_pods,
                max_surge: max_surge.unwrap_or(1),
            });
        }
    }
    pools
}

/// The per-CNI limits on max_pods and the EKS instance-type lookup.
pub(super) fn check_pools_for_cni(
    r: &mut Reader<'_>,
    pools: &[NodePool],
    provider: CloudProvider,
    cni: Option<Cni>,
) {
    for (i, pool) in pools.iter().enumerate() {
        let p = format!("node_pool[{i}]");
        let pods_f = format!("{p}.max_pods");
        let pods_at = r
            .spans
            .get(&pods_f)
            .or_else(|| r.spans.get(&p))
            .map_or(0, |s| s.start);
        let range = match provider {
            CloudProvider::Aks => Some((10, 250)),
            CloudProvider::Gke => Some((8, 256)),
            _ => None,
        };
        if let (Some((lo, hi)), Some(m)) = (range, pool.max_pods) {
            if !(lo..=hi).contains(&m) {
                r.error(
                    pods_at,
                    &pods_f,
                    format!("max_pods = {m} is outside {provider}'s range {lo}-{hi}"),
                    format!("set max_pods between {lo} and {hi}"),
                );
            }
        }
        if provider == CloudProvider::Eks {
            if let (Some(it), Some(cni)) = (crate::instances::lookup(&pool.instance_type), cni) {
                let limit = crate::capacity::eks_max_pods(it, cni);
                if let Some(m) = pool.max_pods.filter(|m| *m > limit) {
                    r.error(pods_at, &pods_f, format!("{} supports at most {limit} pods with cni = \"{cni}\", max_pods is {m}", it.name),
                        format!("lower max_pods to {limit} or less, or use a larger instance type"));
                }
            }
        }
    }
}
