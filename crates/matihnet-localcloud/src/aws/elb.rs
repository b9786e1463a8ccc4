//! Elastic Load Balancing v2 (API 2015-12-01, awsQuery): network load balancers, target groups,
//! forwarding listeners and their tags, with the error codes AWS answers
//! (`LoadBalancerNotFound`, `DuplicateTargetGroupName`, `ResourceInUse`, ...).
//!
//! ARNs, DNS names and canonical hosted zone ids take the form AWS documents for network load
//! balancers (`loadbalancer/net/NAME/ID`, `NAME-ID.elb.REGION.amazonaws.com`, the per-region
//! NLB zone), where moto writes an application load balancer's. Create calls are idempotent as
//! AWS documents them: the same name with the same settings answers the existing object, the
//! same name with other settings is a `Duplicate*` error. The ELB world cannot see EC2's
//! subnets, so any subnet id is accepted, availability zones are named REGION + `a`, `b`, ...
//! in the order of the subnets, and a load balancer's `VpcId` (which AWS derives from its
//! subnets) is left out. Objects live in the region their request was signed for.

use std::collections::{BTreeMap, BTreeSet};

use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::wire::{el, esc, query_ok, AwsError, Params};
use super::{Held, World};
use crate::core::clock::{now_ms, rfc3339};

pub(super) const VERSION: &str = "2015-12-01";
const NAMESPACE: &str = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";
const ACCOUNT: &str = "123456789012";
/// AWS's largest page for the `Describe*` calls.
const MAX_PAGE: usize = 400;
/// AWS's quota of tags per resource.
const MAX_TAGS: usize = 50;

type Tags = BTreeMap<String, String>;

/// The `CanonicalHostedZoneId` of network load balancers per region, as AWS's "Elastic Load
/// Balancing endpoints and quotas" page lists them (application load balancers use others).
const NLB_ZONES: &[(&str, &str)] = &[
    ("af-south-1", "Z203XCE67M25HM"),
    ("ap-east-1", "Z12Y7K3UBGUAD1"),
    ("ap-northeast-1", "Z31USIVHYNEOWT"),
    ("ap-northeast-2", "ZIBE1TIR4HY56"),
    ("ap-northeast-3", "Z1GWIQ4HH19I5X"),
    ("ap-south-1", "ZVDDRBQ08TROA"),
    ("ap-southeast-1", "ZKVM4W9LS7TM"),
    ("ap-southeast-2", "ZCT6FZBF4DROD"),
    ("ca-central-1", "Z2EPGBW3API2WT"),
    ("cn-north-1", "Z3QFB96KMJ7ED6"),
    ("cn-northwest-1", "ZQEIKTCZ8352D"),
    ("eu-central-1", "Z3F0SRJ5LGBH90"),
    ("eu-north-1", "Z1UDT6IFJ4EJM"),
    ("eu-south-1", "Z23146JA1KNAFP"),
    ("eu-west-1", "Z2IFOLAFXWLO4F"),
    ("eu-west-2", "ZD4D7Y8KGAS4G"),
    ("eu-west-3", "Z1CMS0P5QUZ6D5"),
    ("me-south-1", "Z3QSRYVP46NYYV"),
    ("sa-east-1", "ZTK26PT1VY4CU"),
    ("us-east-1", "Z26RNL4JYFTOTI"),
    ("us-east-2", "ZLMOA37VPKANP"),
    ("us-gov-east-1", "Z1ZSMQQ6Q24QQ8"),
    ("us-gov-west-1", "ZMG1MZ2THAWF1"),
    ("us-west-1", "Z24FKFUX50B4VW"),
    ("us-west-2", "Z18D5FSROUN65G"),
];

/// Listener protocols a network load balancer takes.
const NLB_PROTOCOLS: &[&str] = &["TCP", "TLS", "UDP", "TCP_UDP"];
/// Target group protocols.
const TG_PROTOCOLS: &[&str] = &["HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP", "GENEVE"];
const TARGET_TYPES: &[&str] = &["instance", "ip", "lambda", "alb"];

#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Elb {
    #[serde(default)]
    load_balancers: BTreeMap<String, LoadBalancer>,
    #[serde(default)]
    target_groups: BTreeMap<String, TargetGroup>,
    #[serde(default)]
    listeners: BTreeMap<String, Listener>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct LoadBalancer {
    region: String,
    name: String,
    scheme: String,
    ip_address_type: String,
    dns_name: String,
    hosted_zone_id: String,
    mappings: Vec<Mapping>,
    security_groups: Vec<String>,
    created_ms: u64,
    tags: Tags,
}

/// One subnet of a load balancer, with the zone we name for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Mapping {
    subnet_id: String,
    zone: String,
    allocation_id: Option<String>,
    private_ipv4: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct TargetGroup {
    region: String,
    name: String,
    /// None for `lambda` targets.
    protocol: Option<String>,
    port: Option<u16>,
    vpc_id: Option<String>,
    target_type: String,
    protocol_version: Option<String>,
    ip_address_type: Option<String>,
    health: HealthCheck,
    tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct HealthCheck {
    enabled: bool,
    protocol: Option<String>,
    port: Option<String>,
    path: Option<String>,
    interval: u32,
    timeout: u32,
    healthy: u32,
    unhealthy: u32,
    matcher: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Listener {
    region: String,
    load_balancer_arn: String,
    protocol: String,
    port: u16,
    /// The default action's target groups (network load balancers only forward).
    forward: Vec<String>,
    ssl_policy: Option<String>,
    certificates: Vec<String>,
    alpn_policy: Vec<String>,
    tags: Tags,
}

impl Elb {
    /// The load balancer behind `arn`, if it lives in `region` (an ARN names its region, but
    /// one world serves every region).
    fn lb(&self, arn: &str, region: &str) -> Option<&LoadBalancer> {
        self.load_balancers
            .get(arn)
            .filter(|lb| lb.region == region)
    }

    fn tg(&self, arn: &str, region: &str) -> Option<&TargetGroup> {
        self.target_groups.get(arn).filter(|g| g.region == region)
    }

    fn listener(&self, arn: &str, region: &str) -> Option<&Listener> {
        self.listeners.get(arn).filter(|l| l.region == region)
    }
}

impl Listener {
    /// What makes a second `CreateListener` on the same port the same listener.
    fn settings(&self) -> (&str, &[String], &Option<String>, &[String], &[String]) {
        (
            &self.protocol,
            &self.forward,
            &self.ssl_policy,
            &self.certificates,
            &self.alpn_policy,
        )
    }
}

pub(super) fn handle(
    held: &mut Held,
    action: &str,
    p: &Params,
    region: &str,
) -> Result<Response, AwsError> {
    let world = &mut held.world;
    let inner = match action {
        "CreateLoadBalancer" => create_load_balancer(world, p, region)?,
        "DescribeLoadBalancers" => describe_load_balancers(&world.elb, p, region)?,
        "DeleteLoadBalancer" => delete_load_balancer(&mut world.elb, p)?,
        "CreateTargetGroup" => create_target_group(world, p, region)?,
        "DescribeTargetGroups" => describe_target_groups(&world.elb, p, region)?,
        "DeleteTargetGroup" => delete_target_group(&mut world.elb, p)?,
        "CreateListener" => create_listener(world, p, region)?,
        "DescribeListeners" => describe_listeners(&world.elb, p, region)?,
        "DeleteListener" => delete_listener(&mut world.elb, p, region)?,
        "DescribeTags" => describe_tags(&world.elb, p, region)?,
        _ => {
            return Err(AwsError::client(
                "InvalidAction",
                format!("The action {action} is not valid for this web service."),
            ))
        }
    };
    Ok(query_ok(action, NAMESPACE, &inner))
}

// ---------------------------------------------------------------------------------------------
// Load balancers

fn create_load_balancer(world: &mut World, p: &Params, region: &str) -> Result<String, AwsError> {
    let name = required(p, "Name")?;
    check_lb_name(name)?;
    // AWS's default type is `application`; only network load balancers are emulated, and a
    // clear refusal beats an application load balancer that behaves like a network one.
    let kind = p.get("Type").unwrap_or("application");
    if kind != "network" {
        return Err(validation(format!(
            "The local AWS emulates network load balancers only (Type=network), not '{kind}'"
        )));
    }
    let scheme = p.get("Scheme").unwrap_or("internet-facing");
    one_of("scheme", scheme, &["internet-facing", "internal"])?;
    let ip_address_type = p.get("IpAddressType").unwrap_or("ipv4");
    one_of("ipAddressType", ip_address_type, &["ipv4", "dualstack"])?;
    let mappings = subnet_mappings(p, region)?;
    let security_groups = p.list("SecurityGroups.member");
    let tags = parse_tags(p)?;

    let existing = world
        .elb
        .load_balancers
        .iter()
        .find(|(_, lb)| lb.region == region && lb.name == name);
    if let Some((arn, lb)) = existing {
        let same = lb.scheme == scheme
            && lb.ip_address_type == ip_address_type
            && lb.mappings == mappings
            && lb.security_groups == security_groups;
        if same {
            return Ok(members("LoadBalancers", [lb_xml(arn, lb, "active")]));
        }
        return Err(AwsError::client(
            "DuplicateLoadBalancerName",
            "A load balancer with the same name already exists",
        ));
    }

    let id = hex_id(world);
    // AWS's DNS label is not the ARN's id, so a second one.
    let dns_id = hex_id(world);
    let arn = arn(region, &format!("loadbalancer/net/{name}/{id}"));
    let lb = LoadBalancer {
        region: region.to_string(),
        name: name.to_string(),
        scheme: scheme.to_string(),
        ip_address_type: ip_address_type.to_string(),
        dns_name: format!("{name}-{dns_id}.elb.{region}.{}", dns_suffix(region)),
        hosted_zone_id: nlb_zone(region).to_string(),
        mappings,
        security_groups,
        created_ms: now_ms(),
        tags,
    };
    // AWS answers `provisioning` and is `active` minutes later; nothing here waits for the
    // load balancer, so every later call sees it `active`.
    let xml = members("LoadBalancers", [lb_xml(&arn, &lb, "provisioning")]);
    world.elb.load_balancers.insert(arn, lb);
    Ok(xml)
}

/// `Subnets.member.N` or `SubnetMappings.member.N.*`, with the zone names we give them.
fn subnet_mappings(p: &Params, region: &str) -> Result<Vec<Mapping>, AwsError> {
    let plain = p.list("Subnets.member");
    let structs = p.structs("SubnetMappings.member");
    if !plain.is_empty() && !structs.is_empty() {
        return Err(validation(
            "Subnets and subnet mappings cannot be specified at the same time",
        ));
    }
    let mut out: Vec<Mapping> = plain
        .into_iter()
        .map(|subnet_id| Mapping {
            subnet_id,
            zone: String::new(),
            allocation_id: None,
            private_ipv4: None,
        })
        .collect();
    for m in structs {
        let subnet_id = m
            .get("SubnetId")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| validation("A subnet ID must be specified in each subnet mapping"))?;
        out.push(Mapping {
            subnet_id: subnet_id.to_string(),
            zone: String::new(),
            allocation_id: m.get("AllocationId").map(str::to_string),
            private_ipv4: m.get("PrivateIPv4Address").map(str::to_string),
        });
    }
    if out.is_empty() {
        return Err(validation("At least one subnet must be specified"));
    }
    let mut seen = BTreeSet::new();
    for (i, m) in out.iter_mut().enumerate() {
        // The same subnet twice is two subnets in one zone, which AWS refuses.
        if !seen.insert(m.subnet_id.clone()) {
            return Err(AwsError::client(
                "InvalidConfigurationRequest",
                "A load balancer cannot be attached to multiple subnets in the same Availability Zone",
            ));
        }
        m.zone = zone_name(region, i);
    }
    Ok(out)
}

/// REGION + `a`, `b`, ...: the ELB world cannot see the subnets' real zones.
fn zone_name(region: &str, index: usize) -> String {
    let letter = u8::try_from(index % 26).unwrap_or(0);
    format!("{region}{}", char::from(b'a' + letter))
}

fn describe_load_balancers(elb: &Elb, p: &Params, region: &str) -> Result<String, AwsError> {
    let arns = p.list("LoadBalancerArns.member");
    let names = p.list("Names.member");
    for a in &arns {
        check_arn(a, "loadbalancer", "load balancer")?;
    }
    let mut found: Vec<&str> = Vec::new();
    if arns.is_empty() && names.is_empty() {
        found.extend(
            elb.load_balancers
                .iter()
                .filter(|(_, lb)| lb.region == region)
                .map(|(arn, _)| arn.as_str()),
        );
    } else {
        let missing: Vec<&str> = arns
            .iter()
            .filter(|a| elb.lb(a, region).is_none())
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(lb_not_found(&missing));
        }
        found.extend(arns.iter().map(String::as_str));
        let mut missing = Vec::new();
        for n in &names {
            match elb
                .load_balancers
                .iter()
                .find(|(_, lb)| lb.region == region && lb.name == *n)
            {
                Some((arn, _)) => found.push(arn),
                None => missing.push(n.as_str()),
            }
        }
        if !missing.is_empty() {
            return Err(lb_not_found(&missing));
        }
    }
    let mut seen = BTreeSet::new();
    found.retain(|a| seen.insert(*a));
    let items = found
        .into_iter()
        .filter_map(|arn| {
            let lb = elb.load_balancers.get(arn)?;
            Some((arn.to_string(), lb_xml(arn, lb, "active")))
        })
        .collect();
    paged("LoadBalancers", items, p)
}

fn delete_load_balancer(elb: &mut Elb, p: &Params) -> Result<String, AwsError> {
    let arn = required(p, "LoadBalancerArn")?;
    check_arn(arn, "loadbalancer", "load balancer")?;
    // AWS documents this call as succeeding for a load balancer that is already gone; its
    // listeners go with it.
    if elb.load_balancers.remove(arn).is_some() {
        elb.listeners.retain(|_, l| l.load_balancer_arn != arn);
    }
    Ok(String::new())
}

fn lb_xml(arn: &str, lb: &LoadBalancer, state: &str) -> String {
    let zones = lb.mappings.iter().map(|m| {
        let mut addresses = String::new();
        if m.allocation_id.is_some() || m.private_ipv4.is_some() {
            let mut address = String::new();
            if let Some(a) = &m.allocation_id {
                address.push_str(&el("AllocationId", a));
            }
            if let Some(ip) = &m.private_ipv4 {
                address.push_str(&el("PrivateIPv4Address", ip));
            }
            addresses = format!(
                "<LoadBalancerAddresses><member>{address}</member></LoadBalancerAddresses>"
            );
        }
        format!(
            "<member>{}{}{addresses}</member>",
            el("ZoneName", &m.zone),
            el("SubnetId", &m.subnet_id)
        )
    });
    let mut out = String::from("<member>");
    out.push_str(&el("LoadBalancerArn", arn));
    out.push_str(&el("DNSName", &lb.dns_name));
    out.push_str(&el("CanonicalHostedZoneId", &lb.hosted_zone_id));
    out.push_str(&el("CreatedTime", &rfc3339(lb.created_ms)));
    out.push_str(&el("LoadBalancerName", &lb.name));
    out.push_str(&el("Scheme", &lb.scheme));
    out.push_str(&format!("<State>{}</State>", el("Code", state)));
    out.push_str(&el("Type", "network"));
    out.push_str(&members("AvailabilityZones", zones));
    if !lb.security_groups.is_empty() {
        out.push_str(&members(
            "SecurityGroups",
            lb.security_groups
                .iter()
                .map(|g| format!("<member>{}</member>", esc(g))),
        ));
    }
    out.push_str(&el("IpAddressType", &lb.ip_address_type));
    out.push_str("</member>");
    out
}

// ---------------------------------------------------------------------------------------------
// Target groups

fn create_target_group(world: &mut World, p: &Params, region: &str) -> Result<String, AwsError> {
    let name = required(p, "Name")?;
    check_tg_name(name)?;
    let target_type = p.get("TargetType").unwrap_or("instance");
    one_of("targetType", target_type, TARGET_TYPES)?;
    let protocol = p.get("Protocol");
    let port = match p.get("Port") {
        Some(text) => Some(port_number(text)?),
        None => None,
    };
    let vpc_id = p.get("VpcId").filter(|v| !v.is_empty());
    if target_type == "lambda" {
        if protocol.is_some() || port.is_some() || vpc_id.is_some() {
            return Err(validation(
                "Protocol, port and VPC ID cannot be specified for target groups with target type 'lambda'",
            ));
        }
    } else {
        let protocol = protocol.ok_or_else(|| validation("A protocol must be specified"))?;
        one_of("protocol", protocol, TG_PROTOCOLS)?;
        if port.is_none() {
            return Err(validation("A port must be specified"));
        }
        if vpc_id.is_none() {
            return Err(validation("A VPC ID must be specified"));
        }
    }
    let health = health_check(p, protocol, target_type)?;
    let tg = TargetGroup {
        region: region.to_string(),
        name: name.to_string(),
        protocol: protocol.map(str::to_string),
        port,
        vpc_id: vpc_id.map(str::to_string),
        target_type: target_type.to_string(),
        protocol_version: match protocol {
            Some("HTTP" | "HTTPS") => Some(p.get("ProtocolVersion").unwrap_or("HTTP1").to_string()),
            _ => None,
        },
        ip_address_type: match target_type {
            "lambda" => None,
            _ => Some(p.get("IpAddressType").unwrap_or("ipv4").to_string()),
        },
        health,
        tags: parse_tags(p)?,
    };

    let existing = world
        .elb
        .target_groups
        .iter()
        .find(|(_, g)| g.region == region && g.name == name);
    if let Some((arn, g)) = existing {
        let untagged = |g: &TargetGroup| TargetGroup {
            tags: Tags::new(),
            ..g.clone()
        };
        if untagged(g) == untagged(&tg) {
            return Ok(members("TargetGroups", [tg_xml(&world.elb, arn, g)]));
        }
        return Err(AwsError::client(
            "DuplicateTargetGroupName",
            "A target group with the same name exists, but with different settings",
        ));
    }
    let id = hex_id(world);
    let arn = arn(region, &format!("targetgroup/{name}/{id}"));
    let xml = members("TargetGroups", [tg_xml(&world.elb, &arn, &tg)]);
    world.elb.target_groups.insert(arn, tg);
    Ok(xml)
}

/// The health check a new target group gets: AWS's defaults for its protocol and target type,
/// overridden by the `HealthCheck*` parameters.
fn health_check(
    p: &Params,
    protocol: Option<&str>,
    target_type: &str,
) -> Result<HealthCheck, AwsError> {
    let hc_protocol = match p.get("HealthCheckProtocol") {
        Some(given) => {
            one_of("healthCheckProtocol", given, &["HTTP", "HTTPS", "TCP"])?;
            Some(given.to_string())
        }
        None if target_type == "lambda" => None,
        None => match protocol {
            Some("HTTP" | "HTTPS") => protocol.map(str::to_string),
            _ => Some("TCP".to_string()),
        },
    };
    let http = matches!(hc_protocol.as_deref(), Some("HTTP" | "HTTPS"));
    let layer7_group = matches!(protocol, Some("HTTP" | "HTTPS"));
    // Network load balancers' HTTP health checks default to 6 s and 200-399; application
    // load balancers' to 5 s and 200; TCP checks to 10 s.
    let (default_timeout, default_matcher) = match (http, layer7_group) {
        (true, true) => (5, "200"),
        (true, false) => (6, "200-399"),
        (false, _) => (10, ""),
    };
    let lambda = target_type == "lambda";
    let interval =
        int_param(p, "HealthCheckIntervalSeconds", 5, 300)?.unwrap_or(if lambda { 35 } else { 30 });
    let timeout = int_param(p, "HealthCheckTimeoutSeconds", 2, 120)?.unwrap_or(if lambda {
        30
    } else {
        default_timeout
    });
    if timeout > interval {
        return Err(validation(format!(
            "Health check timeout '{timeout}' must be smaller than or equal to the interval '{interval}'"
        )));
    }
    let enabled = match p.get("HealthCheckEnabled") {
        Some("true") => true,
        Some("false") => false,
        Some(other) => {
            return Err(validation(format!(
                "Value '{other}' at 'healthCheckEnabled' must be true or false"
            )))
        }
        None => !lambda,
    };
    let path = match (p.get("HealthCheckPath"), http || lambda) {
        (Some(given), _) => Some(given.to_string()),
        (None, true) => Some("/".to_string()),
        (None, false) => None,
    };
    let matcher = match p.get("Matcher.HttpCode") {
        Some(given) => Some(given.to_string()),
        None if http => Some(default_matcher.to_string()),
        None => None,
    };
    Ok(HealthCheck {
        enabled,
        protocol: hc_protocol,
        port: match (p.get("HealthCheckPort"), lambda) {
            (Some(given), _) => Some(given.to_string()),
            (None, false) => Some("traffic-port".to_string()),
            (None, true) => None,
        },
        path,
        interval,
        timeout,
        healthy: int_param(p, "HealthyThresholdCount", 2, 10)?.unwrap_or(5),
        unhealthy: int_param(p, "UnhealthyThresholdCount", 2, 10)?.unwrap_or(2),
        matcher,
    })
}

fn describe_target_groups(elb: &Elb, p: &Params, region: &str) -> Result<String, AwsError> {
    let lb_arn = p.get("LoadBalancerArn").filter(|a| !a.is_empty());
    let arns = p.list("TargetGroupArns.member");
    let names = p.list("Names.member");
    let given = usize::from(lb_arn.is_some())
        + usize::from(!arns.is_empty())
        + usize::from(!names.is_empty());
    if given > 1 {
        return Err(validation(
            "Target group names, target group ARNs, and a load balancer ARN cannot be specified at the same time",
        ));
    }
    let in_region = |arn: &String| elb.tg(arn, region).is_some();
    let mut found: Vec<&str> = if let Some(lb_arn) = lb_arn {
        check_arn(lb_arn, "loadbalancer", "load balancer")?;
        if elb.lb(lb_arn, region).is_none() {
            return Err(lb_not_found(&[lb_arn]));
        }
        elb.target_groups
            .keys()
            .filter(|tg| load_balancers_of(elb, tg).contains(&lb_arn))
            .map(String::as_str)
            .collect()
    } else if !arns.is_empty() {
        for a in &arns {
            check_arn(a, "targetgroup", "target group")?;
        }
        let missing: Vec<&str> = arns
            .iter()
            .filter(|a| !in_region(a))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(tg_not_found(&missing));
        }
        arns.iter().map(String::as_str).collect()
    } else if !names.is_empty() {
        let mut out = Vec::new();
        for n in &names {
            match elb
                .target_groups
                .iter()
                .find(|(_, g)| g.region == region && g.name == *n)
            {
                Some((arn, _)) => out.push(arn.as_str()),
                None => {
                    return Err(AwsError::client(
                        "TargetGroupNotFound",
                        "One or more target groups not found",
                    ))
                }
            }
        }
        out
    } else {
        elb.target_groups
            .iter()
            .filter(|(_, g)| g.region == region)
            .map(|(arn, _)| arn.as_str())
            .collect()
    };
    let mut seen = BTreeSet::new();
    found.retain(|a| seen.insert(*a));
    // Ordered by name, as AWS (and moto) list them.
    found.sort_by_key(|a| elb.target_groups.get(*a).map(|g| g.name.clone()));
    let items = found
        .into_iter()
        .filter_map(|arn| {
            let g = elb.target_groups.get(arn)?;
            Some((arn.to_string(), tg_xml(elb, arn, g)))
        })
        .collect();
    paged("TargetGroups", items, p)
}

fn delete_target_group(elb: &mut Elb, p: &Params) -> Result<String, AwsError> {
    let arn = required(p, "TargetGroupArn")?;
    check_arn(arn, "targetgroup", "target group")?;
    if elb
        .listeners
        .values()
        .any(|l| l.forward.iter().any(|t| t == arn))
    {
        return Err(AwsError::client(
            "ResourceInUse",
            format!("Target group '{arn}' is currently in use by a listener or a rule"),
        ));
    }
    // AWS's API gives this call no not-found error: a target group already gone is deleted.
    elb.target_groups.remove(arn);
    Ok(String::new())
}

/// The load balancers whose listeners forward to a target group.
fn load_balancers_of<'a>(elb: &'a Elb, tg_arn: &str) -> Vec<&'a str> {
    let set: BTreeSet<&str> = elb
        .listeners
        .values()
        .filter(|l| l.forward.iter().any(|t| t == tg_arn))
        .map(|l| l.load_balancer_arn.as_str())
        .collect();
    set.into_iter().collect()
}

fn tg_xml(elb: &Elb, arn: &str, g: &TargetGroup) -> String {
    let h = &g.health;
    let mut out = String::from("<member>");
    out.push_str(&el("TargetGroupArn", arn));
    out.push_str(&el("TargetGroupName", &g.name));
    out.push_str(&opt("Protocol", g.protocol.as_deref()));
    out.push_str(&opt("Port", g.port.map(|p| p.to_string()).as_deref()));
    out.push_str(&opt("VpcId", g.vpc_id.as_deref()));
    out.push_str(&opt("HealthCheckProtocol", h.protocol.as_deref()));
    out.push_str(&opt("HealthCheckPort", h.port.as_deref()));
    out.push_str(&el(
        "HealthCheckEnabled",
        if h.enabled { "true" } else { "false" },
    ));
    out.push_str(&el("HealthCheckIntervalSeconds", &h.interval.to_string()));
    out.push_str(&el("HealthCheckTimeoutSeconds", &h.timeout.to_string()));
    out.push_str(&el("HealthyThresholdCount", &h.healthy.to_string()));
    out.push_str(&el("UnhealthyThresholdCount", &h.unhealthy.to_string()));
    out.push_str(&opt("HealthCheckPath", h.path.as_deref()));
    if let Some(m) = &h.matcher {
        out.push_str(&format!("<Matcher>{}</Matcher>", el("HttpCode", m)));
    }
    out.push_str(&members(
        "LoadBalancerArns",
        load_balancers_of(elb, arn)
            .into_iter()
            .map(|a| format!("<member>{}</member>", esc(a))),
    ));
    out.push_str(&el("TargetType", &g.target_type));
    out.push_str(&opt("ProtocolVersion", g.protocol_version.as_deref()));
    out.push_str(&opt("IpAddressType", g.ip_address_type.as_deref()));
    out.push_str("</member>");
    out
}

// ---------------------------------------------------------------------------------------------
// Listeners

fn create_listener(world: &mut World, p: &Params, region: &str) -> Result<String, AwsError> {
    let lb_arn = required(p, "LoadBalancerArn")?;
    check_arn(lb_arn, "loadbalancer", "load balancer")?;
    let Some(lb) = world.elb.lb(lb_arn, region) else {
        return Err(lb_not_found(&[lb_arn]));
    };
    let protocol = p
        .get("Protocol")
        .ok_or_else(|| validation("A listener protocol must be specified"))?;
    if !NLB_PROTOCOLS.contains(&protocol) {
        return Err(validation(format!(
            "Listener protocol '{protocol}' must be one of '{}'",
            NLB_PROTOCOLS.join(", ")
        )));
    }
    let port = port_number(
        p.get("Port")
            .ok_or_else(|| validation("A listener port must be specified"))?,
    )?;
    let certificates: Vec<String> = p
        .structs("Certificates.member")
        .iter()
        .filter_map(|c| c.get("CertificateArn").map(str::to_string))
        .collect();
    let ssl_policy = match protocol {
        "TLS" => {
            if certificates.is_empty() {
                return Err(validation(
                    "A certificate must be specified for TLS listeners",
                ));
            }
            Some(
                p.get("SslPolicy")
                    .unwrap_or("ELBSecurityPolicy-2016-08")
                    .to_string(),
            )
        }
        _ => None,
    };
    let forward = forward_targets(&world.elb, p, region, lb_arn, protocol)?;
    let listener = Listener {
        region: region.to_string(),
        load_balancer_arn: lb_arn.to_string(),
        protocol: protocol.to_string(),
        port,
        forward,
        ssl_policy,
        certificates,
        alpn_policy: p.list("AlpnPolicy.member"),
        tags: parse_tags(p)?,
    };
    let lb_id = lb_arn.rsplit('/').next().unwrap_or_default().to_string();
    let lb_name = lb.name.clone();

    let existing = world
        .elb
        .listeners
        .iter()
        .find(|(_, l)| l.load_balancer_arn == lb_arn && l.port == port);
    if let Some((arn, l)) = existing {
        if l.settings() == listener.settings() {
            return Ok(members("Listeners", [listener_xml(arn, l)]));
        }
        return Err(AwsError::client(
            "DuplicateListener",
            format!("A listener already exists on this port for this load balancer '{lb_arn}'"),
        ));
    }
    let id = hex_id(world);
    let arn = arn(region, &format!("listener/net/{lb_name}/{lb_id}/{id}"));
    let xml = members("Listeners", [listener_xml(&arn, &listener)]);
    world.elb.listeners.insert(arn, listener);
    Ok(xml)
}

/// The target groups of `DefaultActions.member.N` (each `forward`, by `TargetGroupArn` or
/// `ForwardConfig`), checked the way AWS checks them for a network load balancer.
fn forward_targets(
    elb: &Elb,
    p: &Params,
    region: &str,
    lb_arn: &str,
    protocol: &str,
) -> Result<Vec<String>, AwsError> {
    let actions = p.structs("DefaultActions.member");
    if actions.is_empty() {
        return Err(validation("A default action must be specified"));
    }
    let mut targets = Vec::new();
    for (i, a) in actions.iter().enumerate() {
        let kind = a.get("Type").unwrap_or_default();
        if kind != "forward" {
            return Err(AwsError::client(
                "InvalidLoadBalancerAction",
                format!(
                    "Action {} of type '{kind}' is not supported by network load balancers, which only forward",
                    i + 1
                ),
            ));
        }
        let mut arns: Vec<String> = a
            .get("TargetGroupArn")
            .map(str::to_string)
            .into_iter()
            .collect();
        for t in a.structs("ForwardConfig.TargetGroups.member") {
            if let Some(t) = t.get("TargetGroupArn") {
                if !arns.iter().any(|a| a == t) {
                    arns.push(t.to_string());
                }
            }
        }
        if arns.is_empty() {
            return Err(validation("A target group ARN must be specified"));
        }
        targets.extend(arns);
    }
    if targets.len() > 1 {
        return Err(validation(
            "A network load balancer listener forwards to one target group",
        ));
    }
    for tg_arn in &targets {
        check_arn(tg_arn, "targetgroup", "target group")?;
        let Some(tg) = elb.tg(tg_arn, region) else {
            return Err(tg_not_found(&[tg_arn.as_str()]));
        };
        let tg_protocol = tg.protocol.as_deref().unwrap_or_default();
        let compatible = match protocol {
            "TCP" => ["TCP", "TCP_UDP"].contains(&tg_protocol),
            "TLS" => ["TCP", "TLS"].contains(&tg_protocol),
            "UDP" => ["UDP", "TCP_UDP"].contains(&tg_protocol),
            _ => tg_protocol == "TCP_UDP",
        };
        if !compatible {
            return Err(AwsError::client(
                "IncompatibleProtocols",
                format!(
                    "The listener protocol '{protocol}' is not compatible with the protocol '{tg_protocol}' of target group '{tg_arn}'"
                ),
            ));
        }
        // A network load balancer's target group serves that one load balancer.
        if load_balancers_of(elb, tg_arn)
            .iter()
            .any(|other| *other != lb_arn)
        {
            return Err(AwsError::client(
                "TargetGroupAssociationLimit",
                format!(
                    "The following target groups cannot be associated with more than one load balancer: {tg_arn}"
                ),
            ));
        }
    }
    Ok(targets)
}

fn describe_listeners(elb: &Elb, p: &Params, region: &str) -> Result<String, AwsError> {
    let lb_arn = p.get("LoadBalancerArn").filter(|a| !a.is_empty());
    let arns = p.list("ListenerArns.member");
    let mut found: Vec<&str> = match (lb_arn, arns.is_empty()) {
        (None, true) => {
            return Err(validation(
                "You must specify either listener ARNs or a load balancer ARN",
            ))
        }
        (Some(_), false) => {
            return Err(validation(
                "Listener ARNs and a load balancer ARN cannot be specified at the same time",
            ))
        }
        (Some(lb_arn), true) => {
            check_arn(lb_arn, "loadbalancer", "load balancer")?;
            if elb.lb(lb_arn, region).is_none() {
                return Err(lb_not_found(&[lb_arn]));
            }
            let mut of_lb: Vec<(&String, &Listener)> = elb
                .listeners
                .iter()
                .filter(|(_, l)| l.load_balancer_arn == lb_arn)
                .collect();
            of_lb.sort_by_key(|(_, l)| l.port);
            of_lb.into_iter().map(|(a, _)| a.as_str()).collect()
        }
        (None, false) => {
            for a in &arns {
                check_arn(a, "listener", "listener")?;
            }
            if arns.iter().any(|a| elb.listener(a, region).is_none()) {
                return Err(AwsError::client(
                    "ListenerNotFound",
                    "One or more listeners not found",
                ));
            }
            arns.iter().map(String::as_str).collect()
        }
    };
    let mut seen = BTreeSet::new();
    found.retain(|a| seen.insert(*a));
    let items = found
        .into_iter()
        .filter_map(|arn| {
            let l = elb.listeners.get(arn)?;
            Some((arn.to_string(), listener_xml(arn, l)))
        })
        .collect();
    paged("Listeners", items, p)
}

fn delete_listener(elb: &mut Elb, p: &Params, region: &str) -> Result<String, AwsError> {
    let arn = required(p, "ListenerArn")?;
    check_arn(arn, "listener", "listener")?;
    if elb.listener(arn, region).is_none() {
        return Err(AwsError::client(
            "ListenerNotFound",
            format!("Listener '{arn}' not found"),
        ));
    }
    elb.listeners.remove(arn);
    Ok(String::new())
}

fn listener_xml(arn: &str, l: &Listener) -> String {
    let groups: String = l
        .forward
        .iter()
        .map(|t| {
            format!(
                "<member>{}{}</member>",
                el("TargetGroupArn", t),
                el("Weight", "1")
            )
        })
        .collect();
    let single = match l.forward.as_slice() {
        [one] => el("TargetGroupArn", one),
        _ => String::new(),
    };
    let action = format!(
        "<member>{}{single}<ForwardConfig><TargetGroups>{groups}</TargetGroups><TargetGroupStickinessConfig>{}</TargetGroupStickinessConfig></ForwardConfig></member>",
        el("Type", "forward"),
        el("Enabled", "false")
    );
    let mut out = String::from("<member>");
    out.push_str(&el("ListenerArn", arn));
    out.push_str(&el("LoadBalancerArn", &l.load_balancer_arn));
    out.push_str(&el("Port", &l.port.to_string()));
    out.push_str(&el("Protocol", &l.protocol));
    if !l.certificates.is_empty() {
        out.push_str(&members(
            "Certificates",
            l.certificates
                .iter()
                .map(|c| format!("<member>{}</member>", el("CertificateArn", c))),
        ));
    }
    out.push_str(&opt("SslPolicy", l.ssl_policy.as_deref()));
    out.push_str(&format!("<DefaultActions>{action}</DefaultActions>"));
    if !l.alpn_policy.is_empty() {
        out.push_str(&members(
            "AlpnPolicy",
            l.alpn_policy
                .iter()
                .map(|a| format!("<member>{}</member>", esc(a))),
        ));
    }
    out.push_str("</member>");
    out
}

// ---------------------------------------------------------------------------------------------
// Tags

fn describe_tags(elb: &Elb, p: &Params, region: &str) -> Result<String, AwsError> {
    let arns = p.list("ResourceArns.member");
    if arns.is_empty() {
        return Err(validation(
            "1 validation error detected: Value null at 'resourceArns' failed to satisfy constraint: Member must not be null",
        ));
    }
    if arns.len() > 20 {
        return Err(validation(
            "1 validation error detected: Value at 'resourceArns' failed to satisfy constraint: Member must have length less than or equal to 20",
        ));
    }
    let mut descriptions = Vec::new();
    for arn in &arns {
        let tags = if arn.contains(":loadbalancer/") {
            elb.lb(arn, region)
                .map(|lb| &lb.tags)
                .ok_or_else(|| lb_not_found(&[arn.as_str()]))?
        } else if arn.contains(":targetgroup/") {
            elb.tg(arn, region)
                .map(|g| &g.tags)
                .ok_or_else(|| tg_not_found(&[arn.as_str()]))?
        } else if arn.contains(":listener-rule/") {
            // Rules are not emulated, so none exists.
            return Err(AwsError::client(
                "RuleNotFound",
                format!("Rule '{arn}' not found"),
            ));
        } else if arn.contains(":listener/") {
            elb.listener(arn, region).map(|l| &l.tags).ok_or_else(|| {
                AwsError::client("ListenerNotFound", format!("Listener '{arn}' not found"))
            })?
        } else {
            return Err(validation(format!("'{arn}' is not a valid resource ARN")));
        };
        let tag_xml = tags
            .iter()
            .map(|(k, v)| format!("<member>{}{}</member>", el("Key", k), el("Value", v)));
        descriptions.push(format!(
            "<member>{}{}</member>",
            el("ResourceArn", arn),
            members("Tags", tag_xml)
        ));
    }
    Ok(members("TagDescriptions", descriptions))
}

/// `Tags.member.N.Key` / `.Value`, refusing what AWS refuses.
fn parse_tags(p: &Params) -> Result<Tags, AwsError> {
    let mut tags = Tags::new();
    for t in p.structs("Tags.member") {
        let key = t
            .get("Key")
            .filter(|k| !k.is_empty())
            .ok_or_else(|| validation("A tag key must be specified"))?;
        let value = t.get("Value").unwrap_or_default().to_string();
        if tags.insert(key.to_string(), value).is_some() {
            return Err(AwsError::client(
                "DuplicateTagKeys",
                format!("Tag key was specified more than once: {key}"),
            ));
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(AwsError::client(
            "TooManyTags",
            format!("A resource can have at most {MAX_TAGS} tags"),
        ));
    }
    Ok(tags)
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

fn validation(message: impl Into<String>) -> AwsError {
    AwsError::client("ValidationError", message)
}

/// A required parameter, missing as AWS says it (a `ValidationError` naming the member).
fn required<'a>(p: &'a Params, key: &str) -> Result<&'a str, AwsError> {
    p.get(key).filter(|v| !v.is_empty()).ok_or_else(|| {
        let mut member = key.to_string();
        if let Some(first) = member.get_mut(0..1) {
            first.make_ascii_lowercase();
        }
        validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

fn one_of(member: &str, value: &str, allowed: &[&str]) -> Result<(), AwsError> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
        allowed.join(", ")
    )))
}

fn port_number(text: &str) -> Result<u16, AwsError> {
    match text.parse::<u16>() {
        Ok(port) if port >= 1 => Ok(port),
        _ => Err(validation(format!(
            "1 validation error detected: Value '{text}' at 'port' failed to satisfy constraint: Member must have value between 1 and 65535"
        ))),
    }
}

fn int_param(p: &Params, key: &str, min: u32, max: u32) -> Result<Option<u32>, AwsError> {
    let Some(text) = p.get(key) else {
        return Ok(None);
    };
    match text.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
        _ => Err(validation(format!(
            "Value '{text}' for {key} must be between {min} and {max}"
        ))),
    }
}

/// Load balancer names: at most 32 alphanumerics and hyphens, no hyphen at either end, and not
/// starting with `internal-` (AWS's rules).
fn check_lb_name(name: &str) -> Result<(), AwsError> {
    if name.len() > 32 {
        return Err(validation(format!(
            "The load balancer name '{name}' cannot be longer than '32' characters"
        )));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(validation(format!(
            "The load balancer name '{name}' can only contain characters that are alphanumeric characters or hyphens(-)"
        )));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(validation(format!(
            "The load balancer name '{name}' cannot begin or end with '-'"
        )));
    }
    if name.starts_with("internal-") {
        return Err(validation(format!(
            "The load balancer name '{name}' cannot begin with 'internal-'"
        )));
    }
    Ok(())
}

fn check_tg_name(name: &str) -> Result<(), AwsError> {
    if name.len() > 32 {
        return Err(validation(format!(
            "Target group name '{name}' cannot be longer than '32' characters"
        )));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(validation(format!(
            "Target group name '{name}' can only contain characters that are alphanumeric characters or hyphens(-)"
        )));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err(validation(format!(
            "Target group name '{name}' cannot begin or end with '-'"
        )));
    }
    Ok(())
}

/// An ARN of the wanted resource type (`loadbalancer`, `targetgroup`, `listener`); anything
/// else is the `ValidationError` AWS gives before looking anything up.
fn check_arn(arn: &str, resource: &str, what: &str) -> Result<(), AwsError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = matches!(parts.as_slice(), ["arn", _, "elasticloadbalancing", _, _, tail] if tail.starts_with(&format!("{resource}/")));
    if ok {
        Ok(())
    } else {
        Err(validation(format!("'{arn}' is not a valid {what} ARN")))
    }
}

fn lb_not_found(which: &[&str]) -> AwsError {
    AwsError::client(
        "LoadBalancerNotFound",
        format!("Load balancers '[{}]' not found", which.join(", ")),
    )
}

fn tg_not_found(which: &[&str]) -> AwsError {
    AwsError::client(
        "TargetGroupNotFound",
        format!("Target groups '[{}]' not found", which.join(", ")),
    )
}

/// 16 hex digits, unique in this world: the tail AWS gives ARNs and DNS names.
fn hex_id(world: &mut World) -> String {
    let id = world.id("elb");
    // `World::id` answers `elb-0` and 16 hex digits.
    id.strip_prefix("elb-0").map(str::to_string).unwrap_or(id)
}

fn arn(region: &str, resource: &str) -> String {
    let partition = if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    format!("arn:{partition}:elasticloadbalancing:{region}:{ACCOUNT}:{resource}")
}

fn dns_suffix(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

/// The NLB zone of `region`; us-east-1's for regions missing from the table, so an alias
/// record still gets a well-formed zone id.
fn nlb_zone(region: &str) -> &'static str {
    NLB_ZONES
        .iter()
        .find(|(r, _)| *r == region)
        .map_or("Z26RNL4JYFTOTI", |(_, z)| *z)
}

/// `<name>` with an optional value; nothing when absent (the SDK reads a missing element as
/// None, and AWS leaves unset members out).
fn opt(name: &str, value: Option<&str>) -> String {
    value.map(|v| el(name, v)).unwrap_or_default()
}

/// `<name>` around already-rendered `<member>` items.
fn members(name: &str, items: impl IntoIterator<Item = String>) -> String {
    let inner: String = items.into_iter().collect();
    format!("<{name}>{inner}</{name}>")
}

/// A `Describe*` list honouring `PageSize` and `Marker` (the key of the last item of the
/// previous page), with `NextMarker` when more remain.
fn paged(name: &str, items: Vec<(String, String)>, p: &Params) -> Result<String, AwsError> {
    let size = match p.get("PageSize") {
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                return Err(validation(format!(
                    "1 validation error detected: Value '{text}' at 'pageSize' failed to satisfy constraint: Member must have value between 1 and {MAX_PAGE}"
                )))
            }
        },
        None => MAX_PAGE,
    };
    let start = match p.get("Marker") {
        Some(marker) => items
            .iter()
            .position(|(key, _)| key == marker)
            .map(|i| i + 1)
            .ok_or_else(|| validation(format!("The marker '{marker}' is not valid")))?,
        None => 0,
    };
    let page: Vec<&(String, String)> = items.iter().skip(start).take(size).collect();
    let next = match page.last() {
        Some((key, _)) if start + page.len() < items.len() => el("NextMarker", key),
        _ => String::new(),
    };
    let body = members(name, page.iter().map(|(_, xml)| xml.clone()));
    Ok(format!("{body}{next}"))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;
    use crate::aws::Cloud;
    use crate::Options;

    /// One call through the real router, signed for eu-west-1: the status and the body.
    async fn call(cloud: &Arc<Cloud>, query: &str) -> (u16, String) {
        let req = Request::post("/")
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/eu-west-1/elasticloadbalancing/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(Body::from(format!("Version=2015-12-01&{query}")))
            .expect("request");
        let resp = crate::aws::router(Arc::clone(cloud))
            .oneshot(req)
            .await
            .expect("response");
        let status = resp.status().as_u16();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, String::from_utf8(bytes.to_vec()).expect("utf-8"))
    }

    /// The text of every element named `name`, in document order.
    fn texts(xml: &str, name: &str) -> Vec<String> {
        let doc = roxmltree::Document::parse(xml).expect("xml");
        doc.descendants()
            .filter(|n| n.has_tag_name(name))
            .map(|n| n.text().unwrap_or_default().to_string())
            .collect()
    }

    fn first(xml: &str, name: &str) -> String {
        texts(xml, name)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no <{name}> in {xml}"))
    }

    fn code(xml: &str) -> String {
        first(xml, "Code")
    }

    fn cloud() -> Arc<Cloud> {
        Arc::new(Cloud::new(Options::default()))
    }

    const CREATE_NLB: &str = "Action=CreateLoadBalancer&Name=web&Type=network&Scheme=internet-facing&SubnetMappings.member.1.SubnetId=subnet-1&SubnetMappings.member.1.AllocationId=eipalloc-1&SubnetMappings.member.2.SubnetId=subnet-2&SubnetMappings.member.2.AllocationId=eipalloc-2&Tags.member.1.Key=Name&Tags.member.1.Value=web&Tags.member.2.Key=matihnet%3Aaddress&Tags.member.2.Value=nlb.web";

    async fn nlb(cloud: &Arc<Cloud>) -> String {
        let (status, body) = call(cloud, CREATE_NLB).await;
        assert_eq!(status, 200, "{body}");
        first(&body, "LoadBalancerArn")
    }

    async fn target_group(cloud: &Arc<Cloud>, name: &str, port: u16) -> String {
        let (status, body) = call(
            cloud,
            &format!("Action=CreateTargetGroup&Name={name}&Protocol=TCP&Port={port}&VpcId=vpc-1&TargetType=ip&Tags.member.1.Key=Name&Tags.member.1.Value={name}"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        first(&body, "TargetGroupArn")
    }

    async fn listener(cloud: &Arc<Cloud>, lb: &str, port: u16, tg: &str) -> (u16, String) {
        call(
            cloud,
            &format!("Action=CreateListener&LoadBalancerArn={lb}&Protocol=TCP&Port={port}&DefaultActions.member.1.Type=forward&DefaultActions.member.1.TargetGroupArn={tg}"),
        )
        .await
    }

    #[tokio::test]
    async fn a_network_load_balancer_looks_as_aws_documents_it() {
        let cloud = cloud();
        let (status, body) = call(&cloud, CREATE_NLB).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("<CreateLoadBalancerResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\"><CreateLoadBalancerResult><LoadBalancers><member>"), "{body}");
        let arn = first(&body, "LoadBalancerArn");
        let tail = arn
            .strip_prefix(
                "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/web/",
            )
            .unwrap_or_else(|| panic!("{arn}"));
        assert_eq!(tail.len(), 16);
        assert!(tail.chars().all(|c| c.is_ascii_hexdigit()), "{tail}");
        let dns = first(&body, "DNSName");
        let label = dns
            .strip_prefix("web-")
            .and_then(|d| d.strip_suffix(".elb.eu-west-1.amazonaws.com"))
            .unwrap_or_else(|| panic!("{dns}"));
        assert_eq!(label.len(), 16);
        assert_ne!(label, tail, "the DNS label is not the ARN's id");
        assert_eq!(first(&body, "CanonicalHostedZoneId"), "Z2IFOLAFXWLO4F");
        assert_eq!(first(&body, "Code"), "provisioning");
        assert_eq!(first(&body, "Type"), "network");
        assert_eq!(first(&body, "Scheme"), "internet-facing");
        assert_eq!(first(&body, "IpAddressType"), "ipv4");
        assert_eq!(texts(&body, "ZoneName"), ["eu-west-1a", "eu-west-1b"]);
        assert_eq!(texts(&body, "SubnetId"), ["subnet-1", "subnet-2"]);
        assert_eq!(texts(&body, "AllocationId"), ["eipalloc-1", "eipalloc-2"]);
        assert!(!body.contains("<VpcId>"), "no VPC is invented: {body}");

        let (status, body) = call(&cloud, "Action=DescribeLoadBalancers&Names.member.1=web").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(texts(&body, "LoadBalancerArn"), std::slice::from_ref(&arn));
        assert_eq!(first(&body, "Code"), "active");
        assert_eq!(first(&body, "DNSName"), dns);

        let (_, body) = call(
            &cloud,
            &format!(
                "Action=DescribeLoadBalancers&LoadBalancerArns.member.1={arn}&Names.member.1=web"
            ),
        )
        .await;
        assert_eq!(
            texts(&body, "LoadBalancerArn"),
            std::slice::from_ref(&arn),
            "one answer per load balancer"
        );
        let (_, body) = call(&cloud, "Action=DescribeLoadBalancers").await;
        assert_eq!(texts(&body, "LoadBalancerArn"), [arn]);
    }

    /// `handle` called directly, for a region of our choice.
    fn direct(
        cloud: &Cloud,
        action: &str,
        query: &str,
        region: &str,
    ) -> Result<Response, AwsError> {
        let mut held = cloud.store.lock();
        handle(&mut held, action, &Params::parse(query), region)
    }

    #[tokio::test]
    async fn plain_subnets_zone_names_and_the_zone_of_other_regions() {
        let cloud = Cloud::new(Options::default());
        let created = direct(&cloud, "CreateLoadBalancer", "Name=inner&Type=network&Scheme=internal&Subnets.member.1=subnet-a&Subnets.member.2=subnet-b&Subnets.member.3=subnet-c", "us-east-1");
        let body = body_of(created.expect("create")).await;
        assert_eq!(
            texts(&body, "ZoneName"),
            ["us-east-1a", "us-east-1b", "us-east-1c"]
        );
        assert_eq!(first(&body, "CanonicalHostedZoneId"), "Z26RNL4JYFTOTI");
        assert_eq!(first(&body, "Scheme"), "internal");
        assert!(!body.contains("LoadBalancerAddresses"), "{body}");
        // A load balancer lives in its region.
        let err = direct(
            &cloud,
            "DescribeLoadBalancers",
            "Names.member.1=inner",
            "eu-west-1",
        )
        .expect_err("other region");
        assert_eq!(err.code, "LoadBalancerNotFound");
    }

    async fn body_of(resp: Response) -> String {
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[tokio::test]
    async fn create_is_idempotent_and_other_settings_are_a_duplicate() {
        let cloud = cloud();
        let arn = nlb(&cloud).await;
        let (status, body) = call(&cloud, CREATE_NLB).await;
        assert_eq!(
            status, 200,
            "the same settings answer the same load balancer: {body}"
        );
        assert_eq!(first(&body, "LoadBalancerArn"), arn);
        let (status, body) = call(
            &cloud,
            "Action=CreateLoadBalancer&Name=web&Type=network&Scheme=internal&Subnets.member.1=subnet-1",
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (400, "DuplicateLoadBalancerName".into())
        );
        assert!(body.contains("<Type>Sender</Type>"), "{body}");

        let tg = target_group(&cloud, "web-80", 80).await;
        assert_eq!(target_group(&cloud, "web-80", 80).await, tg);
        let (status, body) = call(
            &cloud,
            "Action=CreateTargetGroup&Name=web-80&Protocol=TCP&Port=81&VpcId=vpc-1&TargetType=ip",
        )
        .await;
        assert_eq!(
            (status, code(&body)),
            (400, "DuplicateTargetGroupName".into())
        );

        let (status, body) = listener(&cloud, &arn, 80, &tg).await;
        assert_eq!(status, 200, "{body}");
        let l = first(&body, "ListenerArn");
        let (status, body) = listener(&cloud, &arn, 80, &tg).await;
        assert_eq!((status, first(&body, "ListenerArn")), (200, l));
        let (status, body) = call(
            &cloud,
            &format!("Action=CreateListener&LoadBalancerArn={arn}&Protocol=UDP&Port=80&DefaultActions.member.1.Type=forward&DefaultActions.member.1.TargetGroupArn={tg}"),
        )
        .await;
        // The protocol differs first; a compatible other setting on the same port is the
        // duplicate.
        assert_eq!((status, code(&body)), (400, "IncompatibleProtocols".into()));
        let tcp_udp = {
            let (status, body) = call(
                &cloud,
                "Action=CreateTargetGroup&Name=web-both&Protocol=TCP_UDP&Port=80&VpcId=vpc-1&TargetType=ip",
            )
            .await;
            assert_eq!(status, 200, "{body}");
            first(&body, "TargetGroupArn")
        };
        let (status, body) = listener(&cloud, &arn, 80, &tcp_udp).await;
        assert_eq!((status, code(&body)), (400, "DuplicateListener".into()));
    }

    #[tokio::test]
    async fn target_groups_listeners_and_tags() {
        let cloud = cloud();
        let lb = nlb(&cloud).await;
        let tg80 = target_group(&cloud, "web-80", 80).await;
        let tg443 = target_group(&cloud, "web-443", 443).await;
        assert!(
            tg80.starts_with(
                "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web-80/"
            ),
            "{tg80}"
        );
        let (_, body) = call(&cloud, "Action=DescribeTargetGroups&Names.member.1=web-80").await;
        assert_eq!(texts(&body, "TargetGroupArn"), std::slice::from_ref(&tg80));
        assert_eq!(first(&body, "Protocol"), "TCP");
        assert_eq!(first(&body, "Port"), "80");
        assert_eq!(first(&body, "VpcId"), "vpc-1");
        assert_eq!(first(&body, "TargetType"), "ip");
        assert_eq!(first(&body, "HealthCheckProtocol"), "TCP");
        assert_eq!(first(&body, "HealthCheckPort"), "traffic-port");
        assert_eq!(first(&body, "HealthCheckTimeoutSeconds"), "10");
        assert!(texts(&body, "LoadBalancerArns")
            .iter()
            .all(String::is_empty));

        let (status, body) = listener(&cloud, &lb, 80, &tg80).await;
        assert_eq!(status, 200, "{body}");
        let l80 = first(&body, "ListenerArn");
        let lb_id = lb.rsplit('/').next().unwrap_or_default();
        let prefix = format!(
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/net/web/{lb_id}/"
        );
        assert!(l80.starts_with(&prefix), "{l80}");
        assert_eq!(l80.len(), prefix.len() + 16);
        assert_eq!(
            texts(&body, "TargetGroupArn"),
            [tg80.clone(), tg80.clone()],
            "action and forward config"
        );
        let (_, _) = listener(&cloud, &lb, 443, &tg443).await;

        let (_, body) = call(
            &cloud,
            &format!("Action=DescribeListeners&LoadBalancerArn={lb}"),
        )
        .await;
        assert_eq!(texts(&body, "Port"), ["80", "443"]);
        let (_, body) = call(
            &cloud,
            &format!("Action=DescribeTargetGroups&TargetGroupArns.member.1={tg80}"),
        )
        .await;
        assert_eq!(
            texts(&body, "member").len(),
            2,
            "the group and its one load balancer: {body}"
        );
        assert!(
            body.contains(&format!(
                "<LoadBalancerArns><member>{lb}</member></LoadBalancerArns>"
            )),
            "{body}"
        );
        let (_, body) = call(
            &cloud,
            &format!("Action=DescribeTargetGroups&LoadBalancerArn={lb}"),
        )
        .await;
        assert_eq!(texts(&body, "TargetGroupName"), ["web-443", "web-80"]);

        let (status, body) = call(
            &cloud,
            &format!("Action=DescribeTags&ResourceArns.member.1={lb}&ResourceArns.member.2={tg80}"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(texts(&body, "ResourceArn"), [lb.clone(), tg80.clone()]);
        assert_eq!(texts(&body, "Key"), ["Name", "matihnet:address", "Name"]);
        assert_eq!(texts(&body, "Value"), ["web", "nlb.web", "web-80"]);

        let (status, body) = call(
            &cloud,
            &format!("Action=DeleteTargetGroup&TargetGroupArn={tg80}"),
        )
        .await;
        assert_eq!((status, code(&body)), (400, "ResourceInUse".into()));
        let (status, _) = call(&cloud, &format!("Action=DeleteListener&ListenerArn={l80}")).await;
        assert_eq!(status, 200);
        let (status, body) =
            call(&cloud, &format!("Action=DeleteListener&ListenerArn={l80}")).await;
        assert_eq!((status, code(&body)), (400, "ListenerNotFound".into()));
        let (status, body) = call(
            &cloud,
            &format!("Action=DeleteTargetGroup&TargetGroupArn={tg80}"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = call(
            &cloud,
            &format!("Action=DescribeTargetGroups&TargetGroupArns.member.1={tg80}"),
        )
        .await;
        assert_eq!((status, code(&body)), (400, "TargetGroupNotFound".into()));

        // Deleting the load balancer takes its listeners; its target groups stay, free.
        let (status, _) = call(
            &cloud,
            &format!("Action=DeleteLoadBalancer&LoadBalancerArn={lb}"),
        )
        .await;
        assert_eq!(status, 200);
        let (status, _) = call(
            &cloud,
            &format!("Action=DeleteLoadBalancer&LoadBalancerArn={lb}"),
        )
        .await;
        assert_eq!(status, 200, "a load balancer already gone is deleted");
        let (status, body) = call(
            &cloud,
            &format!("Action=DescribeListeners&LoadBalancerArn={lb}"),
        )
        .await;
        assert_eq!((status, code(&body)), (400, "LoadBalancerNotFound".into()));
        let (status, _) = call(
            &cloud,
            &format!("Action=DeleteTargetGroup&TargetGroupArn={tg443}"),
        )
        .await;
        assert_eq!(status, 200);
        let (status, body) = call(
            &cloud,
            &format!("Action=DescribeTags&ResourceArns.member.1={lb}"),
        )
        .await;
        assert_eq!((status, code(&body)), (400, "LoadBalancerNotFound".into()));
    }

    #[tokio::test]
    async fn the_errors_aws_answers() {
        let cloud = cloud();
        let lb = nlb(&cloud).await;
        let cases: Vec<(String, &str)> = vec![
            ("Action=DescribeLoadBalancers&Names.member.1=nope".into(), "LoadBalancerNotFound"),
            ("Action=DescribeLoadBalancers&LoadBalancerArns.member.1=nope".into(), "ValidationError"),
            ("Action=DescribeTargetGroups&Names.member.1=nope".into(), "TargetGroupNotFound"),
            ("Action=DescribeTargetGroups&Names.member.1=a&TargetGroupArns.member.1=b".into(), "ValidationError"),
            ("Action=DescribeListeners".into(), "ValidationError"),
            (format!("Action=DescribeListeners&ListenerArns.member.1={}", lb.replace(":loadbalancer/", ":listener/") + "/0123456789abcdef"), "ListenerNotFound"),
            ("Action=CreateLoadBalancer&Name=x&Type=application&Subnets.member.1=subnet-1".into(), "ValidationError"),
            ("Action=CreateLoadBalancer&Name=x&Type=network".into(), "ValidationError"),
            ("Action=CreateLoadBalancer&Name=-x&Type=network&Subnets.member.1=s".into(), "ValidationError"),
            ("Action=CreateLoadBalancer&Name=internal-x&Type=network&Subnets.member.1=s".into(), "ValidationError"),
            ("Action=CreateLoadBalancer&Name=x&Type=network&Subnets.member.1=s&Subnets.member.2=s".into(), "InvalidConfigurationRequest"),
            ("Action=CreateLoadBalancer&Name=x&Type=network&Subnets.member.1=s&Tags.member.1.Key=a&Tags.member.2.Key=a".into(), "DuplicateTagKeys"),
            ("Action=CreateLoadBalancer&Type=network&Subnets.member.1=s".into(), "ValidationError"),
            ("Action=CreateTargetGroup&Name=t&Protocol=TCP&Port=80&TargetType=ip".into(), "ValidationError"),
            ("Action=CreateTargetGroup&Name=t&Protocol=TCP&Port=0&VpcId=v".into(), "ValidationError"),
            ("Action=CreateTargetGroup&Name=t&Protocol=SCTP&Port=80&VpcId=v".into(), "ValidationError"),
            ("Action=CreateTargetGroup&Name=t&Protocol=TCP&Port=80&VpcId=v&HealthCheckTimeoutSeconds=60&HealthCheckIntervalSeconds=30".into(), "ValidationError"),
            (format!("Action=CreateListener&LoadBalancerArn={lb}&Protocol=HTTP&Port=80&DefaultActions.member.1.Type=forward&DefaultActions.member.1.TargetGroupArn=x"), "ValidationError"),
            (format!("Action=CreateListener&LoadBalancerArn={lb}&Protocol=TCP&Port=80&DefaultActions.member.1.Type=forward&DefaultActions.member.1.TargetGroupArn=arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/nope/0123456789abcdef"), "TargetGroupNotFound"),
            (format!("Action=CreateListener&LoadBalancerArn={lb}&Protocol=TCP&Port=80&DefaultActions.member.1.Type=redirect"), "InvalidLoadBalancerAction"),
            ("Action=CreateListener&LoadBalancerArn=arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/nope/0123456789abcdef&Protocol=TCP&Port=80".into(), "LoadBalancerNotFound"),
            ("Action=DeleteListener&ListenerArn=arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/net/nope/0123456789abcdef/0123456789abcdef".into(), "ListenerNotFound"),
            ("Action=DescribeTags".into(), "ValidationError"),
            ("Action=DescribeTags&ResourceArns.member.1=arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/nope/0123456789abcdef".into(), "TargetGroupNotFound"),
            ("Action=ModifyLoadBalancerAttributes".into(), "InvalidAction"),
        ];
        for (query, want) in cases {
            let (status, body) = call(&cloud, &query).await;
            assert_eq!(
                (status, code(&body)),
                (400, want.to_string()),
                "{query}: {body}"
            );
        }
    }

    #[tokio::test]
    async fn one_target_group_per_network_load_balancer() {
        let cloud = cloud();
        let a = nlb(&cloud).await;
        let (_, body) = call(
            &cloud,
            "Action=CreateLoadBalancer&Name=other&Type=network&Subnets.member.1=subnet-9",
        )
        .await;
        let b = first(&body, "LoadBalancerArn");
        let tg = target_group(&cloud, "shared", 80).await;
        assert_eq!(listener(&cloud, &a, 80, &tg).await.0, 200);
        let (status, body) = listener(&cloud, &b, 80, &tg).await;
        assert_eq!(
            (status, code(&body)),
            (400, "TargetGroupAssociationLimit".into())
        );
    }

    #[tokio::test]
    async fn pages_follow_next_marker() {
        let cloud = cloud();
        for name in ["a", "b", "c"] {
            target_group(&cloud, name, 80).await;
        }
        let (_, body) = call(&cloud, "Action=DescribeTargetGroups&PageSize=2").await;
        assert_eq!(texts(&body, "TargetGroupName"), ["a", "b"]);
        let marker = first(&body, "NextMarker");
        let (_, body) = call(
            &cloud,
            &format!("Action=DescribeTargetGroups&PageSize=2&Marker={marker}"),
        )
        .await;
        assert_eq!(texts(&body, "TargetGroupName"), ["c"]);
        assert!(texts(&body, "NextMarker").is_empty());
    }

    #[test]
    fn state_survives_a_snapshot() {
        let cloud = Cloud::new(Options::default());
        let query = CREATE_NLB.replace("Action=CreateLoadBalancer&", "");
        direct(&cloud, "CreateLoadBalancer", &query, "eu-west-1").expect("create");
        let snapshot = cloud.snapshot();
        let restored = Cloud::new(Options::default());
        restored.restore(snapshot).expect("restore");
        let (a, b) = (cloud.store.lock(), restored.store.lock());
        assert_eq!(a.world.elb.load_balancers, b.world.elb.load_balancers);
        assert_eq!(a.world.elb.load_balancers.len(), 1);
    }
}
