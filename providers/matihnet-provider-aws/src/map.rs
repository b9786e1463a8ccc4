//! From the networking model's neutral resources to AWS's: the neutral ones keep their
//! addresses (so outputs and users' muscle memory do not change), and the objects only AWS needs
//! are added: the internet gateway, NAT gateways, and route tables.

use std::collections::BTreeMap;

use matihnet_core::{Address, DesiredResource, Expr, ResourceSchema, Value};

use crate::provider::AwsSettings;

/// `[aws] nat`: one NAT gateway per AZ (no cross-AZ dependency), one for all (cheaper), or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatMode {
    PerAz,
    Single,
    None,
}

/// The resource types' schemas, without connecting (see `types.rs`).
pub fn schemas() -> Vec<ResourceSchema> {
    crate::types::table().schemas()
}

fn literal<'a>(r: &'a DesiredResource, name: &str) -> &'a str {
    match r.attrs.get(name) {
        Some(Expr::Literal(Value::String(s))) => s,
        _ => "",
    }
}

fn id_of(addr: &Address) -> Expr {
    Expr::reference(addr.clone(), "id")
}

/// The front end an A record points at, when its values are exactly `[frontend.X.ip_address]`.
fn aliased_frontend(r: &DesiredResource) -> Option<Address> {
    match r.attrs.get("values") {
        Some(Expr::List(items)) if items.len() == 1 => match &items[0] {
            Expr::Ref { addr, attr } if addr.kind == "frontend" && attr == "ip_address" => {
                Some(addr.clone())
            }
            _ => None,
        },
        _ => None,
    }
}

pub fn map_resources(
    settings: &AwsSettings,
    neutral: Vec<DesiredResource>,
) -> Vec<DesiredResource> {
    let network = Address::new("network", "main");
    let env = &settings.environment;
    // (zone, purpose) -> subnet addresses, from the neutral subnets.
    let mut subnets: BTreeMap<(String, String), Vec<Address>> = BTreeMap::new();
    for r in neutral.iter().filter(|r| r.addr.kind == "subnet") {
        subnets
            .entry((
                literal(r, "zone").to_string(),
                literal(r, "purpose").to_string(),
            ))
            .or_default()
            .push(r.addr.clone());
    }
    let public: Vec<(String, Address)> = subnets
        .iter()
        .filter(|((_, p), _)| p == "public")
        .flat_map(|((z, _), a)| a.iter().map(move |a| (z.clone(), a.clone())))
        .collect();
    let zones: Vec<String> = {
        let mut z: Vec<String> = subnets.keys().map(|(z, _)| z.clone()).collect();
        z.dedup();
        z
    };

    let mut out = Vec::new();
    let mut extra = Vec::new();
    let has_network = neutral.iter().any(|r| r.addr == network);
    let igw = Address::new("internet_gateway", "main");
    // A VPC that exists already (a landing zone's) has its own internet gateway, and a VPC
    // takes only one: it is used, not owned, like the VPC.
    let existing_vpc = neutral
        .iter()
        .find(|r| r.addr == network)
        .and_then(|r| r.existing.clone());
    if has_network && !public.is_empty() {
        extra.push(match &existing_vpc {
            Some(vpc) => DesiredResource::new(igw.clone())
                .attr("vpc_id", id_of(&network))
                .existing(format!("{}{vpc}", crate::vpc::ATTACHED_TO)),
            None => DesiredResource::new(igw.clone())
                .attr("vpc_id", id_of(&network))
                .attr("name", format!("matih-{env}")),
        });
        extra.push(
            DesiredResource::new(Address::new("route_table", "public"))
                .attr("vpc_id", id_of(&network))
                .attr("name", format!("matih-{env}-public"))
                .attr(
                    "subnet_ids",
                    Expr::List(public.iter().map(|(_, a)| id_of(a)).collect()),
                )
                .attr("gateway_id", id_of(&igw)),
        );
        let nat_zones: Vec<&(String, Address)> = match settings.nat {
            NatMode::PerAz => public.iter().collect(),
            NatMode::Single => public.iter().take(1).collect(),
            NatMode::None => Vec::new(),
        };
        let mut nat_for_zone: BTreeMap<String, Address> = BTreeMap::new();
        for (zone, subnet) in &nat_zones {
            let nat = Address::new("nat_gateway", zone_label(zone));
            extra.push(
                DesiredResource::new(nat.clone())
                    .attr("subnet_id", id_of(subnet))
                    .attr("name", format!("matih-{env}-{zone}"))
                    .depends_on(igw.clone()),
            );
            nat_for_zone.insert(zone.clone(), nat);
        }
        let fallback = nat_for_zone.values().next().cloned();
        for zone in &zones {
            let private: Vec<Expr> = ["nodes", "pods"]
                .iter()
                .flat_map(|p| {
                    subnets
                        .get(&(zone.clone(), p.to_string()))
                        .into_iter()
                        .flatten()
                })
                .map(id_of)
                .collect();
            if private.is_empty() {
                continue;
            }
            let mut rt = DesiredResource::new(Address::new(
                "route_table",
                format!("private_{}", zone_label(zone)),
            ))
            .attr("vpc_id", id_of(&network))
            .attr("name", format!("matih-{env}-private-{zone}"))
            .attr("subnet_ids", Expr::List(private));
            if let Some(nat) = nat_for_zone.get(zone).or(fallback.as_ref()) {
                rt = rt.attr("nat_gateway_id", id_of(nat));
            }
            extra.push(rt);
        }
    }

    for mut r in neutral {
        match r.addr.kind.as_str() {
            "subnet" => {
                r.attrs.remove("secondary_ranges");
                r = r.attr("cluster", env.as_str());
            }
            "frontend" => {
                r = r.attr("vpc_id", id_of(&network)).attr(
                    "subnet_ids",
                    Expr::List(public.iter().map(|(_, a)| id_of(a)).collect()),
                );
                if has_network && !public.is_empty() {
                    // An internet-facing NLB needs the VPC's internet gateway attached first.
                    r = r.depends_on(igw.clone());
                }
            }
            "dns_record" => {
                if let Some(fe) = aliased_frontend(&r) {
                    r.attrs.remove("ttl");
                    r = r
                        .attr("values", Value::List(Vec::new()))
                        .attr("alias_dns_name", Expr::reference(fe.clone(), "dns_name"))
                        .attr("alias_zone_id", Expr::reference(fe, "zone_id"));
                }
            }
            _ => {}
        }
        out.push(r);
    }
    out.extend(extra);
    out
}

/// `eu-west-1a` -> `eu-west-1a`; addresses allow letters, digits, `_` and `-`.
fn zone_label(zone: &str) -> String {
    zone.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
