//! EC2: VPCs and their CIDR associations, subnets, internet and NAT gateways, Elastic IPs, route
//! tables, routes and associations, tags and `Describe*` filters, with the error codes AWS
//! answers (`InvalidVpcID.NotFound`, `DependencyViolation`, `InvalidSubnet.Conflict`, ...).
//! NAT gateways are `pending` for the operation delay, then `available`; deleted ones stay
//! visible as `deleted`, as AWS shows them for a while.

use std::collections::BTreeMap;

use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::wire::{ec2_ok, ec2_tags, el, AwsError, Params};
use super::Held;
use crate::core::cidr::Cidr;
use crate::core::clock::{now_ms, rfc3339};
use crate::core::public_ip;

pub(super) const VERSION: &str = "2016-11-15";
const OWNER: &str = "123456789012";

type Tags = BTreeMap<String, String>;

#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Ec2 {
    #[serde(default)]
    vpcs: BTreeMap<String, Vpc>,
    #[serde(default)]
    subnets: BTreeMap<String, Subnet>,
    #[serde(default)]
    igws: BTreeMap<String, Igw>,
    #[serde(default)]
    nats: BTreeMap<String, Nat>,
    #[serde(default)]
    eips: BTreeMap<String, Eip>,
    #[serde(default)]
    route_tables: BTreeMap<String, RouteTable>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Vpc {
    cidr: String,
    /// The primary block first, then associated ones.
    associations: Vec<CidrAssociation>,
    tags: Tags,
    dns_support: bool,
    dns_hostnames: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CidrAssociation {
    id: String,
    cidr: String,
    /// `associated`, or `disassociated`: AWS keeps showing a removed block for a while.
    #[serde(default = "associated")]
    state: String,
}

fn associated() -> String {
    "associated".into()
}

impl CidrAssociation {
    fn active(&self) -> bool {
        self.state == "associated"
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Subnet {
    vpc_id: String,
    cidr: String,
    zone: String,
    tags: Tags,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Igw {
    vpc_id: Option<String>,
    tags: Tags,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Nat {
    subnet_id: String,
    vpc_id: String,
    allocation_id: String,
    public_ip: String,
    private_ip: String,
    state: String,
    /// When the current state ends (pending -> available, deleting -> deleted).
    until_ms: u64,
    created_ms: u64,
    tags: Tags,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Eip {
    public_ip: String,
    tags: Tags,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RouteTable {
    vpc_id: String,
    main: bool,
    routes: Vec<Route>,
    /// association id -> subnet id.
    associations: BTreeMap<String, String>,
    tags: Tags,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Route {
    destination: String,
    gateway_id: Option<String>,
    nat_gateway_id: Option<String>,
    origin: String,
}

/// NAT gateways whose state has run its time move on.
pub(super) fn settle(ec2: &mut Ec2, now: u64) {
    for nat in ec2.nats.values_mut() {
        if now >= nat.until_ms {
            match nat.state.as_str() {
                "pending" => nat.state = "available".into(),
                "deleting" => nat.state = "deleted".into(),
                _ => {}
            }
        }
    }
}

fn not_found(code: &str, what: &str, id: &str) -> AwsError {
    AwsError::client(code, format!("The {what} ID '{id}' does not exist"))
}

fn ok_return(action: &str) -> Response {
    ec2_ok(action, &el("return", "true"))
}

fn parse_cidr(text: &str) -> Result<Cidr, AwsError> {
    Cidr::parse(text).map_err(|_| {
        AwsError::client(
            "InvalidParameterValue",
            format!("Value ({text}) for parameter cidrBlock is invalid. This is not a valid CIDR block."),
        )
    })
}

/// The tags a create call asks for: `TagSpecification.N.Tag.M` for the resource type.
fn spec_tags(p: &Params) -> Tags {
    p.structs("TagSpecification")
        .into_iter()
        .flat_map(|s| s.tags("Tag"))
        .collect()
}

/// Whether an object with these `values` for each filter's name passes every filter.
fn passes(
    filters: &[(String, Vec<String>)],
    tags: &Tags,
    field: impl Fn(&str) -> Vec<String>,
) -> bool {
    filters.iter().all(|(name, wanted)| {
        let have: Vec<String> = if let Some(key) = name.strip_prefix("tag:") {
            tags.get(key).cloned().into_iter().collect()
        } else if name == "tag-key" {
            tags.keys().cloned().collect()
        } else {
            field(name)
        };
        have.iter()
            .any(|h| wanted.iter().any(|w| w == h || (w == "*")))
    })
}

pub(super) fn handle(
    held: &mut Held,
    action: &str,
    p: &Params,
    region: &str,
) -> Result<Response, AwsError> {
    let now = now_ms();
    let delay = held.clock.delay_ms();
    let world = &mut held.world;
    match action {
        "CreateVpc" => {
            let cidr_text = p.require("CidrBlock")?;
            let cidr = parse_cidr(cidr_text)?;
            if !(16..=28).contains(&cidr.prefix_len()) {
                return Err(AwsError::client(
                    "InvalidVpc.Range",
                    format!("The CIDR '{cidr_text}' is invalid."),
                ));
            }
            let id = world.id("vpc");
            let assoc = world.id("vpc-cidr-assoc");
            let vpc = Vpc {
                cidr: cidr.to_string(),
                associations: vec![CidrAssociation {
                    id: assoc,
                    cidr: cidr.to_string(),
                    state: associated(),
                }],
                tags: spec_tags(p),
                dns_support: true,
                dns_hostnames: false,
            };
            // Every VPC comes with its main route table, holding the local route.
            let main = world.id("rtb");
            world.ec2.route_tables.insert(
                main,
                RouteTable {
                    vpc_id: id.clone(),
                    main: true,
                    routes: vec![local_route(&cidr.to_string())],
                    associations: BTreeMap::new(),
                    tags: Tags::new(),
                },
            );
            let body = format!("<vpc>{}</vpc>", vpc_xml(&id, &vpc));
            world.ec2.vpcs.insert(id, vpc);
            Ok(ec2_ok(action, &body))
        }
        "DescribeVpcs" => {
            let ids = p.list("VpcId");
            let filters = p.filters();
            for id in &ids {
                if !world.ec2.vpcs.contains_key(id) {
                    return Err(not_found("InvalidVpcID.NotFound", "vpc", id));
                }
            }
            let items: String = world
                .ec2
                .vpcs
                .iter()
                .filter(|(id, _)| ids.is_empty() || ids.contains(id))
                .filter(|(id, v)| {
                    passes(&filters, &v.tags, |name| match name {
                        "vpc-id" => vec![id.to_string()],
                        "cidr" | "cidr-block-association.cidr-block" => v
                            .associations
                            .iter()
                            .filter(|a| a.active())
                            .map(|a| a.cidr.clone())
                            .collect(),
                        "state" => vec!["available".into()],
                        _ => vec![],
                    })
                })
                .map(|(id, v)| format!("<item>{}</item>", vpc_xml(id, v)))
                .collect();
            Ok(ec2_ok(action, &format!("<vpcSet>{items}</vpcSet>")))
        }
        "ModifyVpcAttribute" => {
            let id = p.require("VpcId")?;
            let vpc = world
                .ec2
                .vpcs
                .get_mut(id)
                .ok_or_else(|| not_found("InvalidVpcID.NotFound", "vpc", id))?;
            if let Some(v) = p.get("EnableDnsSupport.Value") {
                vpc.dns_support = v == "true";
            }
            if let Some(v) = p.get("EnableDnsHostnames.Value") {
                vpc.dns_hostnames = v == "true";
            }
            Ok(ok_return(action))
        }
        "AssociateVpcCidrBlock" => {
            let id = p.require("VpcId")?.to_string();
            let cidr_text = p.require("CidrBlock")?;
            let cidr = parse_cidr(cidr_text)?;
            let assoc = world.id("vpc-cidr-assoc");
            let vpc = world
                .ec2
                .vpcs
                .get_mut(&id)
                .ok_or_else(|| not_found("InvalidVpcID.NotFound", "vpc", &id))?;
            for a in vpc.associations.iter().filter(|a| a.active()) {
                if parse_cidr(&a.cidr).is_ok_and(|c| c.overlaps(cidr)) {
                    return Err(AwsError::client(
                        "InvalidVpc.Range",
                        format!("The CIDR '{cidr_text}' is invalid."),
                    ));
                }
            }
            vpc.associations.push(CidrAssociation {
                id: assoc.clone(),
                cidr: cidr.to_string(),
                state: associated(),
            });
            let body = format!(
                "{}<cidrBlockAssociation>{}{}<cidrBlockState>{}</cidrBlockState></cidrBlockAssociation>",
                el("vpcId", &id),
                el("associationId", &assoc),
                el("cidrBlock", &cidr.to_string()),
                el("state", "associating")
            );
            Ok(ec2_ok(action, &body))
        }
        "DisassociateVpcCidrBlock" => {
            let assoc = p.require("AssociationId")?;
            let found = world.ec2.vpcs.iter_mut().find_map(|(id, v)| {
                let i = v
                    .associations
                    .iter()
                    .position(|a| a.id == assoc && a.active())?;
                Some((id.clone(), v, i))
            });
            let Some((vpc_id, vpc, i)) = found else {
                return Err(AwsError::client(
                    "InvalidVpcCidrBlockAssociationID.NotFound",
                    format!("The vpc CIDR block association ID '{assoc}' does not exist"),
                ));
            };
            if i == 0 {
                return Err(AwsError::client(
                    "OperationNotPermitted",
                    format!("The vpc CIDR block with association ID {assoc} may not be disassociated. It is the primary IPv4 CIDR block of the VPC"),
                ));
            }
            vpc.associations[i].state = "disassociated".into();
            let removed = vpc.associations[i].clone();
            let body = format!(
                "{}<cidrBlockAssociation>{}{}<cidrBlockState>{}</cidrBlockState></cidrBlockAssociation>",
                el("vpcId", &vpc_id),
                el("associationId", &removed.id),
                el("cidrBlock", &removed.cidr),
                el("state", "disassociating")
            );
            Ok(ec2_ok(action, &body))
        }
        "DeleteVpc" => {
            let id = p.require("VpcId")?;
            if !world.ec2.vpcs.contains_key(id) {
                return Err(not_found("InvalidVpcID.NotFound", "vpc", id));
            }
            let in_use = world.ec2.subnets.values().any(|s| s.vpc_id == id)
                || world.ec2.igws.values().any(|g| g.vpc_id.as_deref() == Some(id))
                || world
                    .ec2
                    .route_tables
                    .values()
                    .any(|r| r.vpc_id == id && !r.main);
            if in_use {
                return Err(AwsError::client(
                    "DependencyViolation",
                    format!("The vpc '{id}' has dependencies and cannot be deleted."),
                ));
            }
            world.ec2.vpcs.remove(id);
            world.ec2.route_tables.retain(|_, r| r.vpc_id != id);
            Ok(ok_return(action))
        }
        "CreateSubnet" => {
            let vpc_id = p.require("VpcId")?.to_string();
            let cidr_text = p.require("CidrBlock")?;
            let cidr = parse_cidr(cidr_text)?;
            let vpc = world
                .ec2
                .vpcs
                .get(&vpc_id)
                .ok_or_else(|| not_found("InvalidVpcID.NotFound", "vpc", &vpc_id))?;
            let inside = vpc
                .associations
                .iter()
                .filter(|a| a.active())
                .any(|a| parse_cidr(&a.cidr).is_ok_and(|c| c.contains(cidr)));
            if !inside || !(16..=28).contains(&cidr.prefix_len()) {
                return Err(AwsError::client(
                    "InvalidSubnet.Range",
                    format!("The CIDR '{cidr_text}' is invalid."),
                ));
            }
            let conflict = world
                .ec2
                .subnets
                .values()
                .any(|s| s.vpc_id == vpc_id && parse_cidr(&s.cidr).is_ok_and(|c| c.overlaps(cidr)));
            if conflict {
                return Err(AwsError::client(
                    "InvalidSubnet.Conflict",
                    format!("The CIDR '{cidr_text}' conflicts with another subnet"),
                ));
            }
            let zone = p
                .get("AvailabilityZone")
                .map(str::to_string)
                .unwrap_or_else(|| format!("{region}a"));
            let id = world.id("subnet");
            let subnet = Subnet {
                vpc_id,
                cidr: cidr.to_string(),
                zone,
                tags: spec_tags(p),
            };
            let body = format!("<subnet>{}</subnet>", subnet_xml(&id, &subnet, region));
            world.ec2.subnets.insert(id, subnet);
            Ok(ec2_ok(action, &body))
        }
        "DescribeSubnets" => {
            let ids = p.list("SubnetId");
            for id in &ids {
                if !world.ec2.subnets.contains_key(id) {
                    return Err(not_found("InvalidSubnetID.NotFound", "subnet", id));
                }
            }
            let filters = p.filters();
            let items: String = world
                .ec2
                .subnets
                .iter()
                .filter(|(id, _)| ids.is_empty() || ids.contains(id))
                .filter(|(id, s)| {
                    passes(&filters, &s.tags, |name| match name {
                        "subnet-id" => vec![id.to_string()],
                        "vpc-id" => vec![s.vpc_id.clone()],
                        "cidr-block" | "cidr" | "cidrBlock" => vec![s.cidr.clone()],
                        "availability-zone" => vec![s.zone.clone()],
                        "state" => vec!["available".into()],
                        _ => vec![],
                    })
                })
                .map(|(id, s)| format!("<item>{}</item>", subnet_xml(id, s, region)))
                .collect();
            Ok(ec2_ok(action, &format!("<subnetSet>{items}</subnetSet>")))
        }
        "DeleteSubnet" => {
            let id = p.require("SubnetId")?;
            if !world.ec2.subnets.contains_key(id) {
                return Err(not_found("InvalidSubnetID.NotFound", "subnet", id));
            }
            let nat_inside = world
                .ec2
                .nats
                .values()
                .any(|n| n.subnet_id == id && n.state != "deleted");
            if nat_inside {
                return Err(AwsError::client(
                    "DependencyViolation",
                    format!("The subnet '{id}' has dependencies and cannot be deleted."),
                ));
            }
            world.ec2.subnets.remove(id);
            for rt in world.ec2.route_tables.values_mut() {
                rt.associations.retain(|_, s| s != id);
            }
            Ok(ok_return(action))
        }
        "CreateInternetGateway" => {
            let id = world.id("igw");
            let igw = Igw {
                vpc_id: None,
                tags: spec_tags(p),
            };
            let body = format!("<internetGateway>{}</internetGateway>", igw_xml(&id, &igw));
            world.ec2.igws.insert(id, igw);
            Ok(ec2_ok(action, &body))
        }
        "AttachInternetGateway" => {
            let id = p.require("InternetGatewayId")?;
            let vpc_id = p.require("VpcId")?;
            if !world.ec2.vpcs.contains_key(vpc_id) {
                return Err(not_found("InvalidVpcID.NotFound", "vpc", vpc_id));
            }
            let igw = world.ec2.igws.get_mut(id).ok_or_else(|| {
                not_found("InvalidInternetGatewayID.NotFound", "internetGateway", id)
            })?;
            if igw.vpc_id.is_some() {
                return Err(AwsError::client(
                    "Resource.AlreadyAssociated",
                    format!("resource {id} is already attached to network {}", igw.vpc_id.as_deref().unwrap_or_default()),
                ));
            }
            igw.vpc_id = Some(vpc_id.to_string());
            Ok(ok_return(action))
        }
        "DetachInternetGateway" => {
            let id = p.require("InternetGatewayId")?;
            let vpc_id = p.require("VpcId")?;
            let igw = world.ec2.igws.get_mut(id).ok_or_else(|| {
                not_found("InvalidInternetGatewayID.NotFound", "internetGateway", id)
            })?;
            if igw.vpc_id.as_deref() != Some(vpc_id) {
                return Err(AwsError::client(
                    "Gateway.NotAttached",
                    format!("resource {id} is not attached to network {vpc_id}"),
                ));
            }
            igw.vpc_id = None;
            Ok(ok_return(action))
        }
        "DeleteInternetGateway" => {
            let id = p.require("InternetGatewayId")?;
            let igw = world.ec2.igws.get(id).ok_or_else(|| {
                not_found("InvalidInternetGatewayID.NotFound", "internetGateway", id)
            })?;
            if igw.vpc_id.is_some() {
                return Err(AwsError::client(
                    "DependencyViolation",
                    format!("The internetGateway '{id}' has dependencies and cannot be deleted."),
                ));
            }
            world.ec2.igws.remove(id);
            Ok(ok_return(action))
        }
        "DescribeInternetGateways" => {
            let ids = p.list("InternetGatewayId");
            for id in &ids {
                if !world.ec2.igws.contains_key(id) {
                    return Err(not_found(
                        "InvalidInternetGatewayID.NotFound",
                        "internetGateway",
                        id,
                    ));
                }
            }
            let filters = p.filters();
            let items: String = world
                .ec2
                .igws
                .iter()
                .filter(|(id, _)| ids.is_empty() || ids.contains(id))
                .filter(|(id, g)| {
                    passes(&filters, &g.tags, |name| match name {
                        "internet-gateway-id" => vec![id.to_string()],
                        "attachment.vpc-id" => g.vpc_id.clone().into_iter().collect(),
                        _ => vec![],
                    })
                })
                .map(|(id, g)| format!("<item>{}</item>", igw_xml(id, g)))
                .collect();
            Ok(ec2_ok(
                action,
                &format!("<internetGatewaySet>{items}</internetGatewaySet>"),
            ))
        }
        "AllocateAddress" => {
            let id = world.id("eipalloc");
            let pool = public_ip::Pool {
                first: std::net::Ipv4Addr::new(3, 0, 0, 0),
                size: 1 << 24,
            };
            let ip = public_ip::pick(&pool, &id, |ip| {
                world.ec2.eips.values().any(|e| e.public_ip == ip)
            });
            let body = format!(
                "{}{}{}{}{}",
                el("publicIp", &ip),
                el("domain", "vpc"),
                el("allocationId", &id),
                el("publicIpv4Pool", "amazon"),
                el("networkBorderGroup", region)
            );
            world.ec2.eips.insert(
                id,
                Eip {
                    public_ip: ip,
                    tags: spec_tags(p),
                },
            );
            Ok(ec2_ok(action, &body))
        }
        "DescribeAddresses" => {
            let ids = p.list("AllocationId");
            for id in &ids {
                if !world.ec2.eips.contains_key(id) {
                    return Err(AwsError::client(
                        "InvalidAllocationID.NotFound",
                        format!("Allocation ID '{id}' not found."),
                    ));
                }
            }
            let filters = p.filters();
            let ec2 = &world.ec2;
            let items: String = ec2
                .eips
                .iter()
                .filter(|(id, _)| ids.is_empty() || ids.contains(id))
                .filter(|(id, e)| {
                    passes(&filters, &e.tags, |name| match name {
                        "allocation-id" => vec![id.to_string()],
                        "public-ip" => vec![e.public_ip.clone()],
                        "domain" => vec!["vpc".into()],
                        _ => vec![],
                    })
                })
                .map(|(id, e)| format!("<item>{}</item>", eip_xml(ec2, id, e)))
                .collect();
            Ok(ec2_ok(action, &format!("<addressesSet>{items}</addressesSet>")))
        }
        "ReleaseAddress" => {
            let id = p.require("AllocationId")?;
            if !world.ec2.eips.contains_key(id) {
                return Err(AwsError::client(
                    "InvalidAllocationID.NotFound",
                    format!("Allocation ID '{id}' not found."),
                ));
            }
            let in_use = world
                .ec2
                .nats
                .values()
                .any(|n| n.allocation_id == id && n.state != "deleted");
            if in_use {
                return Err(AwsError::client(
                    "InvalidIPAddress.InUse",
                    format!("Address {id} is in use."),
                ));
            }
            world.ec2.eips.remove(id);
            Ok(ok_return(action))
        }
        "CreateNatGateway" => {
            let subnet_id = p.require("SubnetId")?.to_string();
            let allocation_id = p.require("AllocationId")?.to_string();
            let subnet = world
                .ec2
                .subnets
                .get(&subnet_id)
                .ok_or_else(|| not_found("InvalidSubnetID.NotFound", "subnet", &subnet_id))?
                .clone();
            let eip = world.ec2.eips.get(&allocation_id).cloned().ok_or_else(|| {
                AwsError::client(
                    "InvalidAllocationID.NotFound",
                    format!("Allocation ID '{allocation_id}' not found."),
                )
            })?;
            let taken = world
                .ec2
                .nats
                .values()
                .any(|n| n.allocation_id == allocation_id && n.state != "deleted");
            if taken {
                return Err(AwsError::client(
                    "Resource.AlreadyAssociated",
                    format!("Elastic IP address [{allocation_id}] is already associated"),
                ));
            }
            let id = world.id("nat");
            let private_ip = parse_cidr(&subnet.cidr)
                .map(|c| c.host(4 + world.ec2.nats.len() as u32 % 200).to_string())
                .unwrap_or_default();
            let nat = Nat {
                subnet_id,
                vpc_id: subnet.vpc_id,
                allocation_id,
                public_ip: eip.public_ip,
                private_ip,
                state: "pending".into(),
                until_ms: now + delay,
                created_ms: now,
                tags: spec_tags(p),
            };
            let body = format!("<natGateway>{}</natGateway>", nat_xml(&id, &nat));
            world.ec2.nats.insert(id, nat);
            Ok(ec2_ok(action, &body))
        }
        "DescribeNatGateways" => {
            let ids = p.list("NatGatewayId");
            for id in &ids {
                if !world.ec2.nats.contains_key(id) {
                    return Err(AwsError::client(
                        "NatGatewayNotFound",
                        format!("NAT gateway {id} was not found"),
                    ));
                }
            }
            // DescribeNatGateways names its filter `Filter` like the others.
            let filters = p.filters();
            let items: String = world
                .ec2
                .nats
                .iter()
                .filter(|(id, _)| ids.is_empty() || ids.contains(id))
                .filter(|(id, n)| {
                    passes(&filters, &n.tags, |name| match name {
                        "nat-gateway-id" => vec![id.to_string()],
                        "state" => vec![n.state.clone()],
                        "subnet-id" => vec![n.subnet_id.clone()],
                        "vpc-id" => vec![n.vpc_id.clone()],
                        _ => vec![],
                    })
                })
                .map(|(id, n)| format!("<item>{}</item>", nat_xml(id, n)))
                .collect();
            Ok(ec2_ok(action, &format!("<natGatewaySet>{items}</natGatewaySet>")))
        }
        "DeleteNatGateway" => {
            let id = p.require("NatGatewayId")?;
            let nat = world.ec2.nats.get_mut(id).ok_or_else(|| {
                AwsError::client("NatGatewayNotFound", format!("NAT gateway {id} was not found"))
            })?;
            if nat.state != "deleted" && nat.state != "deleting" {
                nat.state = "deleting".into();
                nat.until_ms = now + delay;
            }
            Ok(ec2_ok(action, &el("natGatewayId", id)))
        }
        "CreateRouteTable" => {
            let vpc_id = p.require("VpcId")?.to_string();
            let vpc = world
                .ec2
                .vpcs
                .get(&vpc_id)
                .ok_or_else(|| not_found("InvalidVpcID.NotFound", "vpc", &vpc_id))?;
            let routes = vpc
                .associations
                .iter()
                .filter(|a| a.active())
                .map(|a| local_route(&a.cidr))
                .collect();
            let id = world.id("rtb");
            let rt = RouteTable {
                vpc_id,
                main: false,
                routes,
                associations: BTreeMap::new(),
                tags: spec_tags(p),
            };
            let body = format!("<routeTable>{}</routeTable>", route_table_xml(&id, &rt));
            world.ec2.route_tables.insert(id, rt);
            Ok(ec2_ok(action, &body))
        }
        "DescribeRouteTables" => {
            let ids = p.list("RouteTableId");
            for id in &ids {
                if !world.ec2.route_tables.contains_key(id) {
                    return Err(not_found("InvalidRouteTableID.NotFound", "routeTable", id));
                }
            }
            let filters = p.filters();
            let items: String = world
                .ec2
                .route_tables
                .iter()
                .filter(|(id, _)| ids.is_empty() || ids.contains(id))
                .filter(|(id, r)| {
                    passes(&filters, &r.tags, |name| match name {
                        "route-table-id" => vec![id.to_string()],
                        "vpc-id" => vec![r.vpc_id.clone()],
                        "association.subnet-id" => r.associations.values().cloned().collect(),
                        "association.main" => vec![r.main.to_string()],
                        _ => vec![],
                    })
                })
                .map(|(id, r)| format!("<item>{}</item>", route_table_xml(id, r)))
                .collect();
            Ok(ec2_ok(action, &format!("<routeTableSet>{items}</routeTableSet>")))
        }
        "CreateRoute" | "ReplaceRoute" => {
            let id = p.require("RouteTableId")?.to_string();
            let destination = p.require("DestinationCidrBlock")?.to_string();
            parse_cidr(&destination)?;
            let gateway_id = p.get("GatewayId").map(str::to_string);
            let nat_gateway_id = p.get("NatGatewayId").map(str::to_string);
            if let Some(g) = &gateway_id {
                if !world.ec2.igws.contains_key(g) {
                    return Err(not_found("InvalidGatewayID.NotFound", "gateway", g));
                }
            }
            if let Some(n) = &nat_gateway_id {
                if !world.ec2.nats.contains_key(n) {
                    return Err(AwsError::client(
                        "InvalidNatGatewayID.NotFound",
                        format!("The natGateway ID '{n}' does not exist"),
                    ));
                }
            }
            let rt = world
                .ec2
                .route_tables
                .get_mut(&id)
                .ok_or_else(|| not_found("InvalidRouteTableID.NotFound", "routeTable", &id))?;
            let existing = rt.routes.iter().position(|r| r.destination == destination);
            let route = Route {
                destination: destination.clone(),
                gateway_id,
                nat_gateway_id,
                origin: "CreateRoute".into(),
            };
            match (action, existing) {
                ("CreateRoute", Some(_)) => Err(AwsError::client(
                    "RouteAlreadyExists",
                    format!("The route identified by {destination} already exists."),
                )),
                ("CreateRoute", None) => {
                    rt.routes.push(route);
                    Ok(ok_return(action))
                }
                (_, Some(i)) => {
                    rt.routes[i] = route;
                    Ok(ok_return(action))
                }
                (_, None) => Err(AwsError::client(
                    "InvalidParameterValue",
                    format!("There is no route defined for '{destination}' in the route table. Use CreateRoute instead."),
                )),
            }
        }
        "AssociateRouteTable" => {
            let id = p.require("RouteTableId")?.to_string();
            let subnet_id = p.require("SubnetId")?.to_string();
            if !world.ec2.subnets.contains_key(&subnet_id) {
                return Err(not_found("InvalidSubnetID.NotFound", "subnet", &subnet_id));
            }
            if !world.ec2.route_tables.contains_key(&id) {
                return Err(not_found("InvalidRouteTableID.NotFound", "routeTable", &id));
            }
            let already = world
                .ec2
                .route_tables
                .values()
                .any(|r| r.associations.values().any(|s| *s == subnet_id));
            if already {
                return Err(AwsError::client(
                    "Resource.AlreadyAssociated",
                    format!("the specified association for route table {id} conflicts with an existing association"),
                ));
            }
            let assoc = world.id("rtbassoc");
            if let Some(rt) = world.ec2.route_tables.get_mut(&id) {
                rt.associations.insert(assoc.clone(), subnet_id);
            }
            let body = format!(
                "{}<associationState>{}</associationState>",
                el("associationId", &assoc),
                el("state", "associated")
            );
            Ok(ec2_ok(action, &body))
        }
        "DisassociateRouteTable" => {
            let assoc = p.require("AssociationId")?;
            let removed = world
                .ec2
                .route_tables
                .values_mut()
                .any(|r| r.associations.remove(assoc).is_some());
            if !removed {
                return Err(AwsError::client(
                    "InvalidAssociationID.NotFound",
                    format!("The association ID '{assoc}' does not exist"),
                ));
            }
            Ok(ok_return(action))
        }
        "DeleteRouteTable" => {
            let id = p.require("RouteTableId")?;
            let rt = world
                .ec2
                .route_tables
                .get(id)
                .ok_or_else(|| not_found("InvalidRouteTableID.NotFound", "routeTable", id))?;
            if !rt.associations.is_empty() || rt.main {
                return Err(AwsError::client(
                    "DependencyViolation",
                    format!("The routeTable '{id}' has dependencies and cannot be deleted."),
                ));
            }
            world.ec2.route_tables.remove(id);
            Ok(ok_return(action))
        }
        "CreateTags" | "DeleteTags" => {
            let ids = p.list("ResourceId");
            let tags = p.tags("Tag");
            let ec2 = &mut world.ec2;
            for id in &ids {
                let target: Option<&mut Tags> = if let Some(v) = ec2.vpcs.get_mut(id) {
                    Some(&mut v.tags)
                } else if let Some(s) = ec2.subnets.get_mut(id) {
                    Some(&mut s.tags)
                } else if let Some(g) = ec2.igws.get_mut(id) {
                    Some(&mut g.tags)
                } else if let Some(n) = ec2.nats.get_mut(id) {
                    Some(&mut n.tags)
                } else if let Some(e) = ec2.eips.get_mut(id) {
                    Some(&mut e.tags)
                } else if let Some(r) = ec2.route_tables.get_mut(id) {
                    Some(&mut r.tags)
                } else {
                    None
                };
                let Some(target) = target else {
                    let (code, what) = match id.split('-').next().unwrap_or_default() {
                        "vpc" => ("InvalidVpcID.NotFound", "vpc"),
                        "subnet" => ("InvalidSubnetID.NotFound", "subnet"),
                        "igw" => ("InvalidInternetGatewayID.NotFound", "internetGateway"),
                        "rtb" => ("InvalidRouteTableID.NotFound", "routeTable"),
                        _ => ("InvalidID", "resource"),
                    };
                    return Err(not_found(code, what, id));
                };
                if action == "CreateTags" {
                    target.extend(tags.clone());
                } else {
                    for k in tags.keys() {
                        target.remove(k);
                    }
                }
            }
            Ok(ok_return(action))
        }
        other => Err(AwsError::client(
            "InvalidAction",
            format!("The action {other} is not valid for this web service (the local AWS does not emulate it)."),
        )),
    }
}

fn local_route(cidr: &str) -> Route {
    Route {
        destination: cidr.to_string(),
        gateway_id: Some("local".into()),
        nat_gateway_id: None,
        origin: "CreateRouteTable".into(),
    }
}

fn vpc_xml(id: &str, v: &Vpc) -> String {
    let assocs: String = v
        .associations
        .iter()
        .map(|a| {
            format!(
                "<item>{}{}<cidrBlockState>{}</cidrBlockState></item>",
                el("associationId", &a.id),
                el("cidrBlock", &a.cidr),
                el("state", &a.state)
            )
        })
        .collect();
    format!(
        "{}{}{}{}<cidrBlockAssociationSet>{assocs}</cidrBlockAssociationSet>{}{}{}{}",
        el("vpcId", id),
        el("state", "available"),
        el("cidrBlock", &v.cidr),
        el("dhcpOptionsId", "dopt-0000000000000000a"),
        el("instanceTenancy", "default"),
        el("isDefault", "false"),
        el("ownerId", OWNER),
        ec2_tags(&v.tags)
    )
}

fn subnet_xml(id: &str, s: &Subnet, region: &str) -> String {
    let available = parse_cidr(&s.cidr)
        .map(|c| c.size().saturating_sub(5))
        .unwrap_or(0);
    format!(
        "{}{}{}{}{}{}{}{}{}{}{}{}",
        el("subnetId", id),
        el(
            "subnetArn",
            &format!("arn:aws:ec2:{region}:{OWNER}:subnet/{id}")
        ),
        el("state", "available"),
        el("vpcId", &s.vpc_id),
        el("cidrBlock", &s.cidr),
        el("availableIpAddressCount", &available.to_string()),
        el("availabilityZone", &s.zone),
        el("defaultForAz", "false"),
        el("mapPublicIpOnLaunch", "false"),
        el("assignIpv6AddressOnCreation", "false"),
        el("ownerId", OWNER),
        ec2_tags(&s.tags)
    )
}

fn igw_xml(id: &str, g: &Igw) -> String {
    let attachments = match &g.vpc_id {
        Some(vpc) => format!(
            "<item>{}{}</item>",
            el("vpcId", vpc),
            el("state", "available")
        ),
        None => String::new(),
    };
    format!(
        "{}<attachmentSet>{attachments}</attachmentSet>{}{}",
        el("internetGatewayId", id),
        el("ownerId", OWNER),
        ec2_tags(&g.tags)
    )
}

fn eip_xml(ec2: &Ec2, id: &str, e: &Eip) -> String {
    // An address a NAT gateway uses shows the association AWS makes for it.
    let nat = ec2
        .nats
        .iter()
        .find(|(_, n)| n.allocation_id == id && n.state != "deleted");
    let association = match nat {
        Some((nat_id, n)) => format!(
            "{}{}{}",
            el("associationId", &format!("eipassoc-{}", &nat_id[4..])),
            el("networkInterfaceId", &format!("eni-{}", &nat_id[4..])),
            el("privateIpAddress", &n.private_ip)
        ),
        None => String::new(),
    };
    format!(
        "{}{}{}{association}{}",
        el("publicIp", &e.public_ip),
        el("allocationId", id),
        el("domain", "vpc"),
        ec2_tags(&e.tags)
    )
}

fn nat_xml(id: &str, n: &Nat) -> String {
    let address = format!(
        "<item>{}{}{}{}{}{}</item>",
        el("allocationId", &n.allocation_id),
        el(
            "networkInterfaceId",
            &format!("eni-{}", id.get(4..).unwrap_or(id))
        ),
        el("privateIp", &n.private_ip),
        el("publicIp", &n.public_ip),
        el("isPrimary", "true"),
        el(
            "status",
            if n.state == "available" {
                "succeeded"
            } else {
                "associating"
            }
        )
    );
    format!(
        "{}<natGatewayAddressSet>{address}</natGatewayAddressSet>{}{}{}{}{}{}",
        el("createTime", &rfc3339(n.created_ms)),
        el("natGatewayId", id),
        el("state", &n.state),
        el("subnetId", &n.subnet_id),
        el("vpcId", &n.vpc_id),
        el("connectivityType", "public"),
        ec2_tags(&n.tags)
    )
}

fn route_table_xml(id: &str, r: &RouteTable) -> String {
    let routes: String = r
        .routes
        .iter()
        .map(|route| {
            let target = match (&route.gateway_id, &route.nat_gateway_id) {
                (_, Some(n)) => el("natGatewayId", n),
                (Some(g), None) => el("gatewayId", g),
                (None, None) => String::new(),
            };
            format!(
                "<item>{}{target}{}{}</item>",
                el("destinationCidrBlock", &route.destination),
                el("state", "active"),
                el("origin", &route.origin)
            )
        })
        .collect();
    let mut associations: String = r
        .associations
        .iter()
        .map(|(assoc, subnet)| {
            format!(
                "<item>{}{}{}{}<associationState>{}</associationState></item>",
                el("routeTableAssociationId", assoc),
                el("routeTableId", id),
                el("subnetId", subnet),
                el("main", "false"),
                el("state", "associated")
            )
        })
        .collect();
    if r.main {
        associations.push_str(&format!(
            "<item>{}{}{}<associationState>{}</associationState></item>",
            el(
                "routeTableAssociationId",
                &format!("rtbassoc-{}", id.get(4..).unwrap_or(id))
            ),
            el("routeTableId", id),
            el("main", "true"),
            el("state", "associated")
        ));
    }
    format!(
        "{}{}<routeSet>{routes}</routeSet><associationSet>{associations}</associationSet><propagatingVgwSet/>{}{}",
        el("routeTableId", id),
        el("vpcId", &r.vpc_id),
        el("ownerId", OWNER),
        ec2_tags(&r.tags)
    )
}
