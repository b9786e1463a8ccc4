//! Ingress front ends: an internet-facing network load balancer across the public subnets with an
//! Elastic IP per AZ, TCP target groups for 80 and 443 (target type ip) that the ingress
//! controller binds to, and their listeners. matihnet owns them, so a destroy is never blocked by
//! load balancers Kubernetes made on its own.

use std::collections::HashMap;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, LoadBalancer, LoadBalancerSchemeEnum, LoadBalancerTypeEnum,
    ProtocolEnum, SubnetMapping, Tag, TargetTypeEnum,
};
use matihnet_core::ownership::{self, Marks};
use matihnet_core::{
    Attrs, OperationContext, ProviderError, ProviderFailure, ProviderResult, Value,
};

use crate::errors::{aws, invalid, to_provider_error};
use matihnet_core::value::attrs::{text, texts};

use crate::provider::AwsProvider;
use crate::tags;
use crate::vpc::{owned_eip, release_eip};

const PORTS: [i32; 2] = [80, 443];

fn elb_tags(ctx: &OperationContext, name: &str) -> Vec<Tag> {
    tags::for_object(ctx, name, &[])
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn lb_name(p: &AwsProvider, ctx: &OperationContext) -> String {
    tags::short_name(&["matih", &p.settings.environment, &ctx.addr.name], 32)
}

fn is_missing<E: aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata>(e: &E) -> bool {
    matches!(
        e.code(),
        Some("LoadBalancerNotFound") | Some("TargetGroupNotFound") | Some("ListenerNotFound")
    )
}

async fn find_by_name(p: &AwsProvider, name: &str) -> Result<Option<LoadBalancer>, ProviderError> {
    match p.elb.describe_load_balancers().names(name).send().await {
        Ok(o) => Ok(o.load_balancers().first().cloned()),
        Err(e) if is_missing(&e) => Ok(None),
        Err(e) => Err(to_provider_error("DescribeLoadBalancers", &e)),
    }
}

/// The load balancer's tags, `(key, value)`.
async fn lb_tags(p: &AwsProvider, arn: &str) -> Result<Vec<(String, String)>, ProviderError> {
    let out = p
        .elb
        .describe_tags()
        .resource_arns(arn)
        .send()
        .await
        .map_err(aws("DescribeTags"))?;
    Ok(out
        .tag_descriptions()
        .iter()
        .flat_map(|d| d.tags())
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect())
}

fn pairs(tags: &[(String, String)]) -> Vec<(&str, &str)> {
    tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Whether the load balancer's tags say this address of this state made it (core's one
/// ownership rule and wording).
async fn check_owned(
    p: &AwsProvider,
    ctx: &OperationContext,
    name: &str,
    arn: &str,
) -> Result<(), ProviderError> {
    let found = lb_tags(p, arn).await?;
    let address = ctx.addr.to_string();
    ownership::check_owner(
        &format!("load balancer {name}"),
        tags::marks(&pairs(&found)),
        Marks::of(ctx, &address),
    )
}

fn fail(error: ProviderError, partial: &Attrs) -> ProviderFailure {
    ProviderFailure {
        error,
        partial: if partial.contains_key("allocation_ids") {
            Some(partial.clone())
        } else {
            None
        },
    }
}

pub async fn create(
    p: &AwsProvider,
    ctx: &OperationContext,
    desired: &Attrs,
) -> ProviderResult<Attrs> {
    let name = lb_name(p, ctx);
    let subnets = texts(desired, "subnet_ids");
    if subnets.is_empty() {
        return Err(invalid(format!(
            "{}: no public subnets to place the load balancer in",
            ctx.addr
        ))
        .into());
    }
    let mut attrs = desired.clone();
    let mut allocations = Vec::new();
    let mut ips = Vec::new();
    for (i, _) in subnets.iter().enumerate() {
        let (alloc, ip) = owned_eip(p, ctx, &name, &format!("eip-{i}"))
            .await
            .map_err(|e| fail(e, &attrs))?;
        allocations.push(alloc);
        ips.push(ip);
        attrs.insert(
            "allocation_ids".into(),
            Value::string_list(allocations.clone()),
        );
    }
    attrs.insert("ip_addresses".into(), Value::string_list(ips.clone()));
    attrs.insert(
        "ip_address".into(),
        Value::from(ips.first().cloned().unwrap_or_default()),
    );

    let lb = match find_by_name(p, &name).await.map_err(|e| fail(e, &attrs))? {
        Some(lb) => {
            let arn = lb.load_balancer_arn().unwrap_or_default();
            check_owned(p, ctx, &name, arn)
                .await
                .map_err(|e| fail(e, &attrs))?;
            lb
        }
        None => {
            let mappings: Vec<SubnetMapping> = subnets
                .iter()
                .zip(&allocations)
                .map(|(s, a)| {
                    SubnetMapping::builder()
                        .subnet_id(s)
                        .allocation_id(a)
                        .build()
                })
                .collect();
            let out = p
                .elb
                .create_load_balancer()
                .name(&name)
                .r#type(LoadBalancerTypeEnum::Network)
                .scheme(LoadBalancerSchemeEnum::InternetFacing)
                .set_subnet_mappings(Some(mappings))
                .set_tags(Some(elb_tags(ctx, &name)))
                .send()
                .await
                .map_err(|e| fail(to_provider_error("CreateLoadBalancer", &e), &attrs))?;
            out.load_balancers().first().cloned().ok_or_else(|| {
                fail(
                    invalid("CreateLoadBalancer returned no load balancer"),
                    &attrs,
                )
            })?
        }
    };
    let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    attrs.insert("id".into(), Value::from(arn.clone()));
    attrs.insert(
        "dns_name".into(),
        Value::from(lb.dns_name().unwrap_or_default()),
    );
    attrs.insert(
        "zone_id".into(),
        Value::from(lb.canonical_hosted_zone_id().unwrap_or_default()),
    );

    let mut groups = Vec::new();
    for port in PORTS {
        let tg_name = tags::short_name(
            &[
                "matih",
                &p.settings.environment,
                &ctx.addr.name,
                &port.to_string(),
            ],
            32,
        );
        let existing = match p.elb.describe_target_groups().names(&tg_name).send().await {
            Ok(o) => o
                .target_groups()
                .first()
                .and_then(|g| g.target_group_arn())
                .map(str::to_string),
            Err(e) if is_missing(&e) => None,
            Err(e) => return Err(fail(to_provider_error("DescribeTargetGroups", &e), &attrs)),
        };
        let tg = match existing {
            Some(arn) => arn,
            None => p
                .elb
                .create_target_group()
                .name(&tg_name)
                .protocol(ProtocolEnum::Tcp)
                .port(port)
                .vpc_id(text(desired, "vpc_id"))
                .target_type(TargetTypeEnum::Ip)
                .set_tags(Some(elb_tags(ctx, &tg_name)))
                .send()
                .await
                .map_err(|e| fail(to_provider_error("CreateTargetGroup", &e), &attrs))?
                .target_groups()
                .first()
                .and_then(|g| g.target_group_arn())
                .unwrap_or_default()
                .to_string(),
        };
        groups.push(tg);
        attrs.insert(
            "target_group_arns".into(),
            Value::string_list(groups.clone()),
        );
    }

    let listeners = p
        .elb
        .describe_listeners()
        .load_balancer_arn(&arn)
        .send()
        .await
        .map_err(|e| fail(to_provider_error("DescribeListeners", &e), &attrs))?;
    let mut listener_arns = Vec::new();
    for (port, tg) in PORTS.iter().zip(&groups) {
        let existing = listeners
            .listeners()
            .iter()
            .find(|l| l.port() == Some(*port))
            .and_then(|l| l.listener_arn())
            .map(str::to_string);
        let l = match existing {
            Some(a) => a,
            None => p
                .elb
                .create_listener()
                .load_balancer_arn(&arn)
                .protocol(ProtocolEnum::Tcp)
                .port(*port)
                .set_tags(Some(elb_tags(ctx, &name)))
                .default_actions(
                    Action::builder()
                        .r#type(ActionTypeEnum::Forward)
                        .target_group_arn(tg)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| fail(to_provider_error("CreateListener", &e), &attrs))?
                .listeners()
                .first()
                .and_then(|l| l.listener_arn())
                .unwrap_or_default()
                .to_string(),
        };
        listener_arns.push(l);
    }
    attrs.insert("listener_arns".into(), Value::string_list(listener_arns));
    Ok(attrs)
}

pub async fn read(p: &AwsProvider, prior: &Attrs) -> Result<Option<Attrs>, ProviderError> {
    let arn = text(prior, "id");
    if arn.is_empty() {
        return Ok(None);
    }
    let lb = match p
        .elb
        .describe_load_balancers()
        .load_balancer_arns(arn)
        .send()
        .await
    {
        Ok(o) => o.load_balancers().first().cloned(),
        Err(e) if is_missing(&e) => None,
        Err(e) => return Err(to_provider_error("DescribeLoadBalancers", &e)),
    };
    Ok(lb.map(|lb| read_attrs(prior, &lb)))
}

fn read_attrs(prior: &Attrs, lb: &LoadBalancer) -> Attrs {
    let mut attrs = prior.clone();
    attrs.insert(
        "dns_name".into(),
        Value::from(lb.dns_name().unwrap_or_default()),
    );
    attrs.insert(
        "zone_id".into(),
        Value::from(lb.canonical_hosted_zone_id().unwrap_or_default()),
    );
    attrs
}

/// Takes over the network load balancer `id` (its ARN): every attribute a create records, read
/// from ELBv2 (its subnets with their Elastic IPs in zone order, as the create places them; its
/// listeners and their target groups in port order), but its `purpose`, which only the file
/// knows. With `mark`, the load balancer, its target groups and its Elastic IPs are marked as
/// the create marks them.
pub async fn import(
    p: &AwsProvider,
    ctx: &OperationContext,
    id: &str,
    mark: bool,
) -> Result<Attrs, ProviderError> {
    let kind = ctx.addr.kind.as_str();
    tags::expect_id(
        kind,
        id,
        |i| i.starts_with("arn:") && i.contains(":loadbalancer/"),
        "load balancer ARNs (`arn:aws:elasticloadbalancing:…:loadbalancer/net/…`)",
    )?;
    let lb = match p
        .elb
        .describe_load_balancers()
        .load_balancer_arns(id)
        .send()
        .await
    {
        Ok(o) => o.load_balancers().first().cloned(),
        Err(e) if is_missing(&e) => None,
        Err(e) => return Err(to_provider_error("DescribeLoadBalancers", &e)),
    }
    .ok_or_else(|| ownership::not_found(kind, id))?;
    if lb.r#type() != Some(&LoadBalancerTypeEnum::Network) {
        return Err(ownership::wrong_kind(
            kind,
            id,
            "a load balancer that is not a network load balancer",
        ));
    }
    let name = lb.load_balancer_name().unwrap_or_default().to_string();
    let address = ctx.addr.to_string();
    let found = lb_tags(p, id).await?;
    let found = tags::marks(&pairs(&found));
    ownership::check_importable(
        &format!("load balancer {name}"),
        found,
        Marks::of(ctx, &address),
    )?;

    let prior = Attrs::from([("id".to_string(), Value::from(id))]);
    let mut attrs = read_attrs(&prior, &lb);
    attrs.insert("name".into(), Value::from(name.as_str()));
    attrs.insert(
        "vpc_id".into(),
        Value::from(lb.vpc_id().unwrap_or_default()),
    );
    let mut zones: Vec<_> = lb.availability_zones().iter().collect();
    zones.sort_by_key(|z| z.zone_name().unwrap_or_default().to_string());
    let subnets: Vec<String> = zones
        .iter()
        .filter_map(|z| z.subnet_id())
        .map(str::to_string)
        .collect();
    let address_of = |z: &&aws_sdk_elasticloadbalancingv2::types::AvailabilityZone| {
        z.load_balancer_addresses().first().cloned()
    };
    let mut allocations: Vec<String> = zones
        .iter()
        .filter_map(address_of)
        .filter_map(|a| a.allocation_id().map(str::to_string))
        .collect();
    let mut ips: Vec<String> = zones
        .iter()
        .filter_map(address_of)
        .filter_map(|a| a.ip_address().map(str::to_string))
        .collect();
    if allocations.is_empty() {
        // Where ELBv2 does not say them (moto), a load balancer matihnet made has its Elastic
        // IPs among those its create tagged as this address's parts.
        if let (Some(address), Some(lineage)) = (found.address, found.lineage) {
            (allocations, ips) = part_eips(p, address, lineage).await?;
        }
    }
    attrs.insert("subnet_ids".into(), Value::string_list(subnets));
    if !ips.is_empty() {
        attrs.insert("ip_address".into(), Value::from(ips[0].as_str()));
        attrs.insert("ip_addresses".into(), Value::string_list(ips));
    }
    if !allocations.is_empty() {
        attrs.insert(
            "allocation_ids".into(),
            Value::string_list(allocations.clone()),
        );
    }

    let listeners = p
        .elb
        .describe_listeners()
        .load_balancer_arn(id)
        .send()
        .await
        .map_err(aws("DescribeListeners"))?;
    let mut by_port: Vec<(i32, String, String)> = listeners
        .listeners()
        .iter()
        .filter_map(|l| {
            let group = l
                .default_actions()
                .iter()
                .find_map(|a| a.target_group_arn())
                .unwrap_or_default();
            Some((l.port()?, l.listener_arn()?.to_string(), group.to_string()))
        })
        .collect();
    by_port.sort();
    let groups: Vec<String> = by_port
        .iter()
        .map(|(_, _, g)| g.clone())
        .filter(|g| !g.is_empty())
        .collect();
    attrs.insert(
        "listener_arns".into(),
        Value::string_list(
            by_port
                .iter()
                .map(|(_, l, _)| l.clone())
                .collect::<Vec<_>>(),
        ),
    );
    attrs.insert(
        "target_group_arns".into(),
        Value::string_list(groups.clone()),
    );

    if mark {
        let t: Vec<Tag> = tags::ownership(ctx)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        // One resource a request: the API's limit on ARNs per request differs by resource.
        for arn in std::iter::once(id.to_string()).chain(groups) {
            p.elb
                .add_tags()
                .resource_arns(arn)
                .set_tags(Some(t.clone()))
                .send()
                .await
                .map_err(aws("AddTags"))?;
        }
        // The parts a create of this address looks for its Elastic IPs by.
        for (i, allocation) in allocations.iter().enumerate() {
            let t = tags::for_object(
                ctx,
                &name,
                &[("matihnet:part".to_string(), format!("eip-{i}"))],
            );
            crate::vpc::mark_ec2(p, allocation, &t).await?;
        }
    }
    Ok(attrs)
}

/// The Elastic IPs tagged as parts `eip-<i>` of `address` in `lineage`, in part order:
/// (allocation ids, addresses).
async fn part_eips(
    p: &AwsProvider,
    address: &str,
    lineage: &str,
) -> Result<(Vec<String>, Vec<String>), ProviderError> {
    let filter = |k: &str, v: &str| {
        aws_sdk_ec2::types::Filter::builder()
            .name(format!("tag:{k}"))
            .values(v)
            .build()
    };
    let out = p
        .ec2
        .describe_addresses()
        .filters(filter(tags::ADDRESS, address))
        .filters(filter(tags::LINEAGE, lineage))
        .send()
        .await
        .map_err(aws("DescribeAddresses"))?;
    let mut parts: Vec<(u32, String, String)> = out
        .addresses()
        .iter()
        .filter_map(|a| {
            let part = a
                .tags()
                .iter()
                .find(|t| t.key() == Some("matihnet:part"))?
                .value()?
                .strip_prefix("eip-")?
                .parse()
                .ok()?;
            Some((
                part,
                a.allocation_id()?.to_string(),
                a.public_ip().unwrap_or_default().to_string(),
            ))
        })
        .collect();
    parts.sort();
    Ok(parts.into_iter().map(|(_, a, ip)| (a, ip)).unzip())
}

/// Every load balancer of the account and region, by ARN (400 to a page).
async fn all_load_balancers(
    p: &AwsProvider,
) -> Result<Option<HashMap<String, LoadBalancer>>, ProviderError> {
    let mut found = HashMap::new();
    let mut marker: Option<String> = None;
    loop {
        let page = p
            .elb
            .describe_load_balancers()
            .set_marker(marker.clone())
            .page_size(400)
            .send()
            .await
            .map_err(|e| to_provider_error("DescribeLoadBalancers", &e))?;
        for lb in page.load_balancers() {
            if let Some(arn) = lb.load_balancer_arn() {
                found.insert(arn.to_string(), lb.clone());
            }
        }
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            return Ok(Some(found));
        }
    }
}

/// Reads many front ends with one listing of the region's load balancers instead of one
/// request each: a plan's reads of the dedicated front ends then cost one call, however many
/// tenants have one.
pub async fn read_many(
    p: &AwsProvider,
    priors: &[&Attrs],
) -> Vec<Result<Option<Attrs>, ProviderError>> {
    matihnet_core::listing::read_by_listing(
        priors,
        |_| (),
        |prior| read(p, prior),
        |()| all_load_balancers(p),
        |prior, all| all.get(text(prior, "id")).map(|lb| read_attrs(prior, lb)),
    )
    .await
}

pub async fn delete(p: &AwsProvider, prior: &Attrs) -> Result<(), ProviderError> {
    let arn = text(prior, "id");
    if !arn.is_empty() {
        match p
            .elb
            .describe_listeners()
            .load_balancer_arn(arn)
            .send()
            .await
        {
            Ok(o) => {
                for l in o.listeners() {
                    if let Some(la) = l.listener_arn() {
                        match p.elb.delete_listener().listener_arn(la).send().await {
                            Ok(_) => {}
                            Err(e) if is_missing(&e) => {}
                            Err(e) => return Err(to_provider_error("DeleteListener", &e)),
                        }
                    }
                }
            }
            Err(e) if is_missing(&e) => {}
            Err(e) => return Err(to_provider_error("DescribeListeners", &e)),
        }
        match p
            .elb
            .delete_load_balancer()
            .load_balancer_arn(arn)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if is_missing(&e) => {}
            Err(e) => return Err(to_provider_error("DeleteLoadBalancer", &e)),
        }
    }
    for tg in texts(prior, "target_group_arns") {
        match p
            .elb
            .delete_target_group()
            .target_group_arn(&tg)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if is_missing(&e) => {}
            Err(e) => return Err(to_provider_error("DeleteTargetGroup", &e)),
        }
    }
    for alloc in texts(prior, "allocation_ids") {
        release_eip(p, &alloc).await?;
    }
    Ok(())
}
