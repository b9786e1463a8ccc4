//! Expansion of the model into provider-neutral desired resources, and their schemas.

use std::collections::BTreeMap;

use matihnet_core::neutral::attr;
use matihnet_core::{
    Address, DesiredResource, Expr, NeutralKind, OutputSpec, ResourceSchema, Value,
};

use crate::carve::{AddressPlan, Purpose};
use crate::model::{Environment, Ingress};

fn network_addr() -> Address {
    NeutralKind::Network.address("main")
}

fn zone_addr(label: &str) -> Address {
    NeutralKind::DnsZone.address(label)
}

fn frontend_addr(name: &str) -> Address {
    NeutralKind::Frontend.address(name)
}

fn record(
    name: String,
    zone: &Address,
    zone_name: &str,
    label: &str,
    kind: &str,
    ttl: u64,
    values: Expr,
) -> DesiredResource {
    DesiredResource::new(NeutralKind::DnsRecord.address(name))
        .attr(attr::ZONE_ID, Expr::reference(zone.clone(), attr::ID))
        .attr(attr::ZONE_NAME, zone_name)
        .attr(attr::NAME, label)
        .attr(attr::TYPE, kind)
        .attr(attr::TTL, i64::try_from(ttl).unwrap_or(i64::MAX))
        .attr(attr::VALUES, values)
}

/// The neutral resources for `env`, in a fixed order: network, subnets, front ends, zones, records.
pub fn expand(env: &Environment, plan: &AddressPlan) -> Vec<DesiredResource> {
    let mut out = Vec::new();
    let net = network_addr();

    let secondary: Vec<String> = plan
        .ranges
        .iter()
        .filter(|r| r.purpose == Purpose::NetworkSecondary)
        .map(|r| r.cidr.to_string())
        .collect();
    let network = DesiredResource::new(net.clone())
        .attr(attr::CIDR, env.network.cidr.to_string())
        .attr(attr::SECONDARY_CIDRS, Value::string_list(secondary))
        .attr(attr::REGION, env.region.as_str())
        .protected(env.network.protect);
    out.push(match &env.network.existing {
        // Used, not owned: its name is its owner's; its address space must be the model's.
        Some(id) => network.existing(id),
        None => network.attr(attr::NAME, format!("matih-{}", env.name)),
    });

    let mut public_subnets = Vec::new();
    for s in plan.subnets() {
        let Some(name) = &s.subnet else { continue };
        let secondary: BTreeMap<String, Expr> = plan
            .ranges
            .iter()
            .filter_map(|r| match &r.secondary_of {
                Some((parent, range)) if parent == name => {
                    Some((range.clone(), Expr::from(r.cidr.to_string())))
                }
                _ => None,
            })
            .collect();
        let addr = NeutralKind::Subnet.address(name.as_str());
        if s.purpose == Purpose::Public {
            public_subnets.push(addr.clone());
        }
        out.push(
            DesiredResource::new(addr)
                .attr(attr::NETWORK_ID, Expr::reference(net.clone(), attr::ID))
                .attr(attr::NAME, format!("matih-{}-{}", env.name, name))
                .attr(attr::CIDR, s.cidr.to_string())
                .attr(attr::PURPOSE, s.purpose.as_str())
                .attr(attr::ZONE, s.zone.clone().unwrap_or_default())
                .attr(attr::SECONDARY_RANGES, Expr::Map(secondary))
                .protected(env.network.protect),
        );
    }

    // `key` names the address, `stem` the cloud object (a tenant's subdomain, which a slug
    // rename keeps).
    let frontend = |key: &str, stem: &str, purpose: &str| {
        let mut r = DesiredResource::new(frontend_addr(key))
            .attr(attr::NAME, format!("matih-{}-{}", env.name, stem))
            .attr(attr::PURPOSE, purpose)
            .depends_on(net.clone());
        for p in &public_subnets {
            r = r.depends_on(p.clone());
        }
        r
    };
    out.push(frontend("platform", "platform", "platform"));
    for t in env
        .tenants
        .iter()
        .filter(|t| t.ingress == Ingress::Dedicated)
    {
        out.push(frontend(&t.slug, &t.subdomain, "tenant"));
    }

    let platform = zone_addr("platform");
    let apex = env.dns.zone.as_str();
    let platform_zone = DesiredResource::new(platform.clone())
        .attr(attr::NAME, apex)
        .protected(env.dns.protect);
    out.push(match &env.dns.existing_zone {
        Some(id) => platform_zone.existing(id),
        None => platform_zone,
    });
    for (key, label) in env.child_zones() {
        out.push(
            DesiredResource::new(zone_addr(key))
                .attr(attr::NAME, format!("{label}.{apex}"))
                .protected(env.dns.protect),
        );
    }

    let ttl = env.dns.ttl;
    out.push(record(
        "api".to_string(),
        &platform,
        apex,
        &env.dns.api,
        "A",
        ttl,
        Expr::List(vec![Expr::reference(
            frontend_addr("platform"),
            attr::IP_ADDRESS,
        )]),
    ));
    for (key, label) in env.child_zones() {
        out.push(record(
            format!("{key}_ns"),
            &platform,
            apex,
            label,
            "NS",
            ttl,
            Expr::reference(zone_addr(key), attr::NAME_SERVERS),
        ));
    }
    for t in &env.tenants {
        let zone = zone_addr(&t.slug);
        let zone_name = format!("{}.{apex}", t.subdomain);
        let target = match t.ingress {
            Ingress::Dedicated => frontend_addr(&t.slug),
            Ingress::Shared => frontend_addr("platform"),
        };
        let ip = || Expr::List(vec![Expr::reference(target.clone(), attr::IP_ADDRESS)]);
        out.push(record(
            format!("{}_apex", t.slug),
            &zone,
            &zone_name,
            "@",
            "A",
            ttl,
            ip(),
        ));
        out.push(record(
            format!("{}_wildcard", t.slug),
            &zone,
            &zone_name,
            "*",
            "A",
            ttl,
            ip(),
        ));
    }
    out
}

/// The schema of every neutral resource type [`expand`] produces: core's contract.
pub fn neutral_schemas() -> Vec<ResourceSchema> {
    matihnet_core::neutral::schemas()
}

/// The outputs users need after an apply: the platform zone's name servers (to delegate it at
/// the registrar), each ingress front end's address, and the network's id. Derived from the
/// resources a provider will manage (it may rename none of these addresses).
pub fn outputs(desired: &[DesiredResource]) -> Vec<OutputSpec> {
    let mut out = Vec::new();
    let zone = zone_addr("platform");
    if desired.iter().any(|r| r.addr == zone) {
        out.push(OutputSpec {
            name: "platform_name_servers".into(),
            value: Expr::reference(zone, attr::NAME_SERVERS),
            sensitive: false,
        });
    }
    for r in desired
        .iter()
        .filter(|r| r.addr.kind == NeutralKind::Frontend.as_str())
    {
        out.push(OutputSpec {
            name: format!("{}_ingress_ip", r.addr.name.replace('-', "_")),
            value: Expr::reference(r.addr.clone(), attr::IP_ADDRESS),
            sensitive: false,
        });
    }
    let network = network_addr();
    if desired.iter().any(|r| r.addr == network) {
        out.push(OutputSpec {
            name: "network_id".into(),
            value: Expr::reference(network, attr::ID),
            sensitive: false,
        });
    }
    out
}
