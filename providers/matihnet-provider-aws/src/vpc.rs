//! The VPC and what routes it: subnets, the internet gateway, NAT gateways and route tables.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ec2::types::{AttributeBooleanValue, DomainType, Filter, ResourceType};
use matihnet_core::retry::{with_backoff, RetryPolicy};
use matihnet_core::{
    Attrs, ErrorKind, OperationContext, ProviderError, ProviderFailure, ProviderResult, Value,
};

use crate::errors::{aws, gone_or, invalid, is_not_found, to_provider_error};
use crate::provider::{merge, text, texts, AwsProvider};
use crate::tags;

pub(crate) use matihnet_core::value::attrs::in_prior_order;

fn name_tag(tags: &[aws_sdk_ec2::types::Tag]) -> String {
    tags.iter()
        .find(|t| t.key() == Some("Name"))
        .and_then(|t| t.value())
        .unwrap_or_default()
        .to_string()
}

fn fail(error: ProviderError, partial: &Attrs) -> ProviderFailure {
    ProviderFailure {
        error,
        partial: if partial.contains_key("id") {
            Some(partial.clone())
        } else {
            None
        },
    }
}

/// Deletes refused because something still uses the object (an ENI an NLB leaves behind for a
/// minute, a subnet being deleted next door) are retried for a while before giving up.
async fn retry_in_use<F, Fut>(what: &'static str, mut op: F) -> Result<(), ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), ProviderError>>,
{
    let policy = RetryPolicy {
        max_attempts: 30,
        max_failed_operations: 1,
        base_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(10),
    };
    with_backoff(policy, |_| {
        let f = op();
        async move {
            match f.await {
                Ok(()) => Ok(()),
                Err(e) if e.kind == ErrorKind::InUse => Err((
                    ProviderError::new(ErrorKind::Unavailable, format!("{what}: {}", e.message)),
                    None,
                )),
                Err(e) => Err((e, None)),
            }
        }
    })
    .await
}

// ---------------------------------------------------------------- VPC

pub async fn create_vpc(
    p: &AwsProvider,
    ctx: &OperationContext,
    desired: &Attrs,
) -> ProviderResult<Attrs> {
    let found = p
        .ec2
        .describe_vpcs()
        .set_filters(Some(tags::ownership_filters(ctx)))
        .send()
        .await
        .map_err(aws("DescribeVpcs"))?;
    let id = match found
        .vpcs()
        .iter()
        .find(|v| tags::owns(ctx, v.tags()))
        .and_then(|v| v.vpc_id())
    {
        Some(id) => id.to_string(),
        None => {
            let t = tags::for_object(ctx, text(desired, "name"), &[]);
            let out = p
                .ec2
                .create_vpc()
                .cidr_block(text(desired, "cidr"))
                .tag_specifications(tags::ec2_spec(ResourceType::Vpc, &t))
                .send()
                .await
                .map_err(aws("CreateVpc"))?;
            out.vpc()
                .and_then(|v| v.vpc_id())
                .ok_or_else(|| invalid("CreateVpc returned no VPC id"))?
                .to_string()
        }
    };
    let mut partial = desired.clone();
    partial.insert("id".into(), Value::from(id.clone()));
    // EKS needs both for nodes to resolve and register.
    for (support, hostnames) in [(true, false), (false, true)] {
        let mut req = p.ec2.modify_vpc_attribute().vpc_id(&id);
        let on = AttributeBooleanValue::builder().value(true).build();
        if support {
            req = req.enable_dns_support(on);
        } else if hostnames {
            req = req.enable_dns_hostnames(on);
        }
        req.send()
            .await
            .map_err(|e| fail(to_provider_error("ModifyVpcAttribute", &e), &partial))?;
    }
    sync_secondary_cidrs(p, &id, &texts(desired, "secondary_cidrs"))
        .await
        .map_err(|e| fail(e, &partial))?;
    match read_vpc(p, &partial).await.map_err(|e| fail(e, &partial))? {
        Some(attrs) => Ok(attrs),
        None => Err(fail(
            invalid(format!("VPC {id} vanished right after it was created")),
            &partial,
        )),
    }
}

async fn sync_secondary_cidrs(
    p: &AwsProvider,
    vpc_id: &str,
    wanted: &[String],
) -> Result<(), ProviderError> {
    let current = current_associations(p, vpc_id).await?;
    for cidr in wanted {
        if !current.contains_key(cidr) {
            p.ec2
                .associate_vpc_cidr_block()
                .vpc_id(vpc_id)
                .cidr_block(cidr)
                .send()
                .await
                .map_err(aws("AssociateVpcCidrBlock"))?;
        }
    }
    for (cidr, assoc) in &current {
        if !wanted.contains(cidr) {
            p.ec2
                .disassociate_vpc_cidr_block()
                .association_id(assoc)
                .send()
                .await
                .map_err(aws("DisassociateVpcCidrBlock"))?;
        }
    }
    Ok(())
}

/// Secondary CIDR -> association id, for the blocks associated or being associated.
async fn current_associations(
    p: &AwsProvider,
    vpc_id: &str,
) -> Result<BTreeMap<String, String>, ProviderError> {
    let out = p
        .ec2
        .describe_vpcs()
        .vpc_ids(vpc_id)
        .send()
        .await
        .map_err(aws("DescribeVpcs"))?;
    let Some(vpc) = out.vpcs().first() else {
        return Ok(BTreeMap::new());
    };
    let primary = vpc.cidr_block().unwrap_or_default();
    Ok(vpc
        .cidr_block_association_set()
        .iter()
        .filter(|a| {
            let state = a
                .cidr_block_state()
                .and_then(|s| s.state())
                .map(|s| s.as_str().to_string());
            matches!(
                state.as_deref(),
                Some("associated") | Some("associating") | None
            )
        })
        .filter_map(|a| Some((a.cidr_block()?.to_string(), a.association_id()?.to_string())))
        .filter(|(c, _)| c != primary)
        .collect())
}

pub async fn read_vpc(p: &AwsProvider, prior: &Attrs) -> Result<Option<Attrs>, ProviderError> {
    let id = text(prior, "id");
    let out = match p.ec2.describe_vpcs().vpc_ids(id).send().await {
        Ok(o) => o,
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => return Err(to_provider_error("DescribeVpcs", &e)),
    };
    let Some(vpc) = out.vpcs().first() else {
        return Ok(None);
    };
    let assoc = current_associations(p, id).await?;
    let secondary = in_prior_order(
        &texts(prior, "secondary_cidrs"),
        assoc.keys().cloned().collect(),
    );
    let mut attrs = prior.clone();
    attrs.insert("id".into(), Value::from(id));
    attrs.insert(
        "cidr".into(),
        Value::from(vpc.cidr_block().unwrap_or_default()),
    );
    attrs.insert("secondary_cidrs".into(), Value::string_list(secondary));
    attrs.insert("name".into(), Value::from(name_tag(vpc.tags())));
    attrs.insert("region".into(), Value::from(p.settings.region.as_str()));
    attrs.insert(
        "cidr_associations".into(),
        Value::Map(
            assoc
                .into_iter()
                .map(|(k, v)| (k, Value::from(v)))
                .collect(),
        ),
    );
    Ok(Some(attrs))
}

pub async fn update_vpc(
    p: &AwsProvider,
    ctx: &OperationContext,
    prior: &Attrs,
    desired: &Attrs,
) -> ProviderResult<Attrs> {
    let id = text(prior, "id").to_string();
    sync_secondary_cidrs(p, &id, &texts(desired, "secondary_cidrs")).await?;
    update_tags(p, ctx, &id, desired).await?;
    let merged = merge(prior, desired);
    Ok(read_vpc(p, &merged).await?.unwrap_or(merged))
}

pub async fn update_tags(
    p: &AwsProvider,
    ctx: &OperationContext,
    id: &str,
    desired: &Attrs,
) -> Result<(), ProviderError> {
    let t = tags::for_object(ctx, text(desired, "name"), &[]);
    p.ec2
        .create_tags()
        .resources(id)
        .set_tags(Some(tags::ec2(&t)))
        .send()
        .await
        .map_err(aws("CreateTags"))?;
    Ok(())
}

pub async fn delete_vpc(p: &AwsProvider, prior: &Attrs) -> Result<(), ProviderError> {
    let id = text(prior, "id").to_string();
    retry_in_use("DeleteVpc", || {
        let id = id.clone();
        async move { gone_or("DeleteVpc", p.ec2.delete_vpc().vpc_id(&id).send().await) }
    })
    .await
}

// ---------------------------------------------------------------- subnets

fn subnet_tags(p: &AwsProvider, desired: &Attrs) -> Vec<(String, String)> {
    let role = if text(desired, "purpose") == "public" {
        "kubernetes.io/role/elb"
    } else {
        "kubernetes.io/role/internal-elb"
    };
    vec![
        (
            format!("kubernetes.io/cluster/{}", p.settings.environment),
            "shared".to_string(),
        ),
        (role.to_string(), "1".to_string()),
    ]
}

pub async fn create_subnet(
    p: &AwsProvider,
    ctx: &OperationContext,
    desired: &Attrs,
) -> ProviderResult<Attrs> {
    let found = p
        .ec2
        .describe_subnets()
        .set_filters(Some(tags::ownership_filters(ctx)))
        .send()
        .await
        .map_err(aws("DescribeSubnets"))?;
    let id = match found
        .subnets()
        .iter()
        .find(|s| tags::owns(ctx, s.tags()))
        .and_then(|s| s.subnet_id())
    {
        Some(id) => id.to_string(),
        None => {
            let t = tags::for_object(ctx, text(desired, "name"), &subnet_tags(p, desired));
            let mut req = p
                .ec2
                .create_subnet()
                .vpc_id(text(desired, "network_id"))
                .cidr_block(text(desired, "cidr"))
                .tag_specifications(tags::ec2_spec(ResourceType::Subnet, &t));
            let zone = text(desired, "zone");
            if !zone.is_empty() {
                req = req.availability_zone(zone);
            }
            let out = req.send().await.map_err(aws("CreateSubnet"))?;
            out.subnet()
                .and_then(|s| s.subnet_id())
                .ok_or_else(|| invalid("CreateSubnet returned no subnet id"))?
                .to_string()
        }
    };
    let mut attrs = desired.clone();
    attrs.insert("id".into(), Value::from(id));
    Ok(read_subnet(p, &attrs).await?.unwrap_or(attrs))
}

pub async fn read_subnet(p: &AwsProvider, prior: &Attrs) -> Result<Option<Attrs>, ProviderError> {
    let out = match p
        .ec2
        .describe_subnets()
        .subnet_ids(text(prior, "id"))
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => return Err(to_provider_error("DescribeSubnets", &e)),
    };
    let Some(s) = out.subnets().first() else {
        return Ok(None);
    };
    let mut attrs = prior.clone();
    attrs.insert(
        "cidr".into(),
        Value::from(s.cidr_block().unwrap_or_default()),
    );
    attrs.insert(
        "network_id".into(),
        Value::from(s.vpc_id().unwrap_or_default()),
    );
    if !text(prior, "zone").is_empty() {
        attrs.insert(
            "zone".into(),
            Value::from(s.availability_zone().unwrap_or_default()),
        );
    }
    attrs.insert("name".into(), Value::from(name_tag(s.tags())));
    Ok(Some(attrs))
}

pub async fn delete_subnet(p: &AwsProvider, prior: &Attrs) -> Result<(), ProviderError> {
    let id = text(prior, "id").to_string();
    retry_in_use("DeleteSubnet", || {
        let id = id.clone();
        async move {
            gone_or(
                "DeleteSubnet",
                p.ec2.delete_subnet().subnet_id(&id).send().await,
            )
        }
    })
    .await
}

// ---------------------------------------------------------------- internet gateway

pub async fn create_igw(
    p: &AwsProvider,
    ctx: &OperationContext,
    desired: &Attrs,
) -> ProviderResult<Attrs> {
    let found = p
        .ec2
        .describe_internet_gateways()
        .set_filters(Some(tags::ownership_filters(ctx)))
        .send()
        .await
        .map_err(aws("DescribeInternetGateways"))?;
    let existing = found
        .internet_gateways()
        .iter()
        .find(|g| tags::owns(ctx, g.tags()));
    let vpc_id = text(desired, "vpc_id");
    let (id, attached) = match existing.and_then(|g| g.internet_gateway_id()) {
        Some(id) => (
            id.to_string(),
            existing
                .map(|g| g.attachments().iter().any(|a| a.vpc_id() == Some(vpc_id)))
                .unwrap_or(false),
        ),
        None => {
            let t = tags::for_object(ctx, text(desired, "name"), &[]);
            let out = p
                .ec2
                .create_internet_gateway()
                .tag_specifications(tags::ec2_spec(ResourceType::InternetGateway, &t))
                .send()
                .await
                .map_err(aws("CreateInternetGateway"))?;
            let id = out
                .internet_gateway()
                .and_then(|g| g.internet_gateway_id())
                .ok_or_else(|| invalid("CreateInternetGateway returned no id"))?
                .to_string();
            (id, false)
        }
    };
    let mut attrs = desired.clone();
    attrs.insert("id".into(), Value::from(id.clone()));
    if !attached {
        p.ec2
            .attach_internet_gateway()
            .internet_gateway_id(&id)
            .vpc_id(vpc_id)
            .send()
            .await
            .map_err(|e| fail(to_provider_error("AttachInternetGateway", &e), &attrs))?;
    }
    Ok(attrs)
}

pub async fn read_igw(p: &AwsProvider, prior: &Attrs) -> Result<Option<Attrs>, ProviderError> {
    let out = match p
        .ec2
        .describe_internet_gateways()
        .internet_gateway_ids(text(prior, "id"))
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => return Err(to_provider_error("DescribeInternetGateways", &e)),
    };
    let Some(g) = out.internet_gateways().first() else {
        return Ok(None);
    };
    let mut attrs = prior.clone();
    let vpc = g
        .attachments()
        .first()
        .and_then(|a| a.vpc_id())
        .unwrap_or_default();
    attrs.insert("vpc_id".into(), Value::from(vpc));
    attrs.insert("name".into(), Value::from(name_tag(g.tags())));
    Ok(Some(attrs))
}

pub async fn delete_igw(p: &AwsProvider, prior: &Attrs) -> Result<(), ProviderError> {
    let id = text(prior, "id").to_string();
    let vpc = text(prior, "vpc_id").to_string();
    retry_in_use("DetachInternetGateway", || {
        let (id, vpc) = (id.clone(), vpc.clone());
        async move {
            match p
                .ec2
                .detach_internet_gateway()
                .internet_gateway_id(&id)
                .vpc_id(&vpc)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(e)
                    if is_not_found(&e)
                        || crate::errors::code(&e) == Some("Gateway.NotAttached") =>
                {
                    Ok(())
                }
                Err(e) => Err(to_provider_error("DetachInternetGateway", &e)),
            }
        }
    })
    .await?;
    gone_or(
        "DeleteInternetGateway",
        p.ec2
            .delete_internet_gateway()
            .internet_gateway_id(&id)
            .send()
            .await,
    )
}

// ---------------------------------------------------------------- elastic IPs

/// The Elastic IP tagged as `part` of this address, allocated if there is none yet.
pub(crate) async fn owned_eip(
    p: &AwsProvider,
    ctx: &OperationContext,
    name: &str,
    part: &str,
) -> Result<(String, String), ProviderError> {
    let mut filters = tags::ownership_filters(ctx);
    filters.push(
        Filter::builder()
            .name("tag:matihnet:part")
            .values(part)
            .build(),
    );
    let found = p
        .ec2
        .describe_addresses()
        .set_filters(Some(filters))
        .send()
        .await
        .map_err(aws("DescribeAddresses"))?;
    if let Some(a) = found.addresses().iter().find(|a| {
        tags::owns(ctx, a.tags())
            && a.tags()
                .iter()
                .any(|t| t.key() == Some("matihnet:part") && t.value() == Some(part))
    }) {
        return Ok((
            a.allocation_id().unwrap_or_default().to_string(),
            a.public_ip().unwrap_or_default().to_string(),
        ));
    }
    let t = tags::for_object(
        ctx,
        name,
        &[("matihnet:part".to_string(), part.to_string())],
    );
    let out = p
        .ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .tag_specifications(tags::ec2_spec(ResourceType::ElasticIp, &t))
        .send()
        .await
        .map_err(aws("AllocateAddress"))?;
    Ok((
        out.allocation_id().unwrap_or_default().to_string(),
        out.public_ip().unwrap_or_default().to_string(),
    ))
}

pub(crate) async fn release_eip(p: &AwsProvider, allocation_id: &str) -> Result<(), ProviderError> {
    if allocation_id.is_empty() {
        return Ok(());
    }
    retry_in_use("ReleaseAddress", || async move {
        gone_or(
            "ReleaseAddress",
            p.ec2
                .release_address()
                .allocation_id(allocation_id)
                .send()
                .await,
        )
    })
    .await
}

// ---------------------------------------------------------------- NAT gateways

pub async fn create_nat(
    p: &AwsProvider,
    ctx: &OperationContext,
    desired: &Attrs,
) -> ProviderResult<Attrs> {
    let (allocation_id, public_ip) = owned_eip(p, ctx, text(desired, "name"), "nat-eip").await?;
    let mut attrs = desired.clone();
    attrs.insert("allocation_id".into(), Value::from(allocation_id.clone()));
    attrs.insert("public_ip".into(), Value::from(public_ip));
    let mut filters = tags::ownership_filters(ctx);
    filters.push(
        Filter::builder()
            .name("state")
            .values("pending")
            .values("available")
            .build(),
    );
    let found = p
        .ec2
        .describe_nat_gateways()
        .set_filter(Some(filters))
        .send()
        .await
        .map_err(|e| fail(to_provider_error("DescribeNatGateways", &e), &attrs))?;
    let id = match found
        .nat_gateways()
        .iter()
        .find(|n| {
            tags::owns(ctx, n.tags())
                && matches!(
                    n.state().map(|s| s.as_str()),
                    Some("pending") | Some("available")
                )
        })
        .and_then(|n| n.nat_gateway_id())
    {
        Some(id) => id.to_string(),
        None => {
            let t = tags::for_object(ctx, text(desired, "name"), &[]);
            let out = p
                .ec2
                .create_nat_gateway()
                .subnet_id(text(desired, "subnet_id"))
                .allocation_id(&allocation_id)
                .tag_specifications(tags::ec2_spec(ResourceType::Natgateway, &t))
                .send()
                .await
                .map_err(|e| fail(to_provider_error("CreateNatGateway", &e), &attrs))?;
            out.nat_gateway()
                .and_then(|n| n.nat_gateway_id())
                .unwrap_or_default()
                .to_string()
        }
    };
    attrs.insert("id".into(), Value::from(id.clone()));
    wait_nat(p, &id, &["available"])
        .await
        .map_err(|e| fail(e, &attrs))?;
    Ok(attrs)
}

async fn nat_state(p: &AwsProvider, id: &str) -> Result<Option<String>, ProviderError> {
    match p
        .ec2
        .describe_nat_gateways()
        .nat_gateway_ids(id)
        .send()
        .await
    {
        Ok(o) => Ok(o
            .nat_gateways()
            .first()
            .and_then(|n| n.state())
            .map(|s| s.as_str().to_string())),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(to_provider_error("DescribeNatGateways", &e)),
    }
}

/// NAT gateways take minutes to become available or to go away.
async fn wait_nat(p: &AwsProvider, id: &str, done: &[&str]) -> Result<(), ProviderError> {
    for _ in 0..300 {
        match nat_state(p, id).await? {
            Some(s) if done.contains(&s.as_str()) => return Ok(()),
            None if done.contains(&"deleted") => return Ok(()),
            Some(s) if s == "failed" => {
                return Err(invalid(format!(
                    "NAT gateway {id} failed to become available"
                )))
            }
            _ => tokio::time::sleep(Duration::from_secs(2)).await,
        }
    }
    Err(ProviderError::new(
        ErrorKind::Unavailable,
        format!("NAT gateway {id} did not reach {done:?} in 10 minutes"),
    ))
}

pub async fn read_nat(p: &AwsProvider, prior: &Attrs) -> Result<Option<Attrs>, ProviderError> {
    match nat_state(p, text(prior, "id")).await? {
        None => Ok(None),
        Some(s) if s == "deleted" || s == "deleting" || s == "failed" => Ok(None),
        Some(_) => Ok(Some(prior.clone())),
    }
}

pub async fn delete_nat(p: &AwsProvider, prior: &Attrs) -> Result<(), ProviderError> {
    let id = text(prior, "id");
    if !id.is_empty() {
        match p.ec2.delete_nat_gateway().nat_gateway_id(id).send().await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(to_provider_error("DeleteNatGateway", &e)),
        }
        wait_nat(p, id, &["deleted"]).await?;
    }
    release_eip(p, text(prior, "allocation_id")).await
}

// ---------------------------------------------------------------- route tables

pub async fn create_route_table(
    p: &AwsProvider,
    ctx: &OperationContext,
    desired: &Attrs,
) -> ProviderResult<Attrs> {
    let found = p
        .ec2
        .describe_route_tables()
        .set_filters(Some(tags::ownership_filters(ctx)))
        .send()
        .await
        .map_err(aws("DescribeRouteTables"))?;
    let id = match found
        .route_tables()
        .iter()
        .find(|r| tags::owns(ctx, r.tags()))
        .and_then(|r| r.route_table_id())
    {
        Some(id) => id.to_string(),
        None => {
            let t = tags::for_object(ctx, text(desired, "name"), &[]);
            let out = p
                .ec2
                .create_route_table()
                .vpc_id(text(desired, "vpc_id"))
                .tag_specifications(tags::ec2_spec(ResourceType::RouteTable, &t))
                .send()
                .await
                .map_err(aws("CreateRouteTable"))?;
            out.route_table()
                .and_then(|r| r.route_table_id())
                .ok_or_else(|| invalid("CreateRouteTable returned no id"))?
                .to_string()
        }
    };
    let mut attrs = desired.clone();
    attrs.insert("id".into(), Value::from(id));
    sync_route_table(p, &attrs, desired)
        .await
        .map_err(|e| fail(e, &attrs))?;
    Ok(read_route_table(p, &attrs)
        .await
        .map_err(|e| fail(e, &attrs))?
        .unwrap_or(attrs))
}

struct TableNow {
    associations: BTreeMap<String, String>,
    gateway_id: String,
    nat_gateway_id: String,
    name: String,
}

async fn describe_table(p: &AwsProvider, id: &str) -> Result<Option<TableNow>, ProviderError> {
    let out = match p
        .ec2
        .describe_route_tables()
        .route_table_ids(id)
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) if is_not_found(&e) => return Ok(None),
        Err(e) => return Err(to_provider_error("DescribeRouteTables", &e)),
    };
    let Some(t) = out.route_tables().first() else {
        return Ok(None);
    };
    let associations = t
        .associations()
        .iter()
        .filter(|a| !a.main().unwrap_or(false))
        .filter_map(|a| {
            Some((
                a.subnet_id()?.to_string(),
                a.route_table_association_id()?.to_string(),
            ))
        })
        .collect();
    let default = t
        .routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"));
    Ok(Some(TableNow {
        associations,
        gateway_id: default
            .and_then(|r| r.gateway_id())
            .unwrap_or_default()
            .to_string(),
        nat_gateway_id: default
            .and_then(|r| r.nat_gateway_id())
            .unwrap_or_default()
            .to_string(),
        name: name_tag(t.tags()),
    }))
}

/// Makes the default route and the subnet associations what `desired` says.
async fn sync_route_table(
    p: &AwsProvider,
    prior: &Attrs,
    desired: &Attrs,
) -> Result<(), ProviderError> {
    let id = text(prior, "id");
    let Some(now) = describe_table(p, id).await? else {
        return Err(invalid(format!("route table {id} is gone")));
    };
    let want_igw = text(desired, "gateway_id");
    let want_nat = text(desired, "nat_gateway_id");
    let has_route = !now.gateway_id.is_empty() || !now.nat_gateway_id.is_empty();
    if (!want_igw.is_empty() || !want_nat.is_empty())
        && (now.gateway_id != want_igw || now.nat_gateway_id != want_nat)
    {
        if has_route {
            let mut r = p
                .ec2
                .replace_route()
                .route_table_id(id)
                .destination_cidr_block("0.0.0.0/0");
            r = if want_igw.is_empty() {
                r.nat_gateway_id(want_nat)
            } else {
                r.gateway_id(want_igw)
            };
            r.send().await.map_err(aws("ReplaceRoute"))?;
        } else {
            let mut r = p
                .ec2
                .create_route()
                .route_table_id(id)
                .destination_cidr_block("0.0.0.0/0");
            r = if want_igw.is_empty() {
                r.nat_gateway_id(want_nat)
            } else {
                r.gateway_id(want_igw)
            };
            r.send().await.map_err(aws("CreateRoute"))?;
        }
    }
    let wanted = texts(desired, "subnet_ids");
    for subnet in &wanted {
        if !now.associations.contains_key(subnet) {
            p.ec2
                .associate_route_table()
                .route_table_id(id)
                .subnet_id(subnet)
                .send()
                .await
                .map_err(aws("AssociateRouteTable"))?;
        }
    }
    for (subnet, assoc) in &now.associations {
        if !wanted.contains(subnet) {
            p.ec2
                .disassociate_route_table()
                .association_id(assoc)
                .send()
                .await
                .map_err(aws("DisassociateRouteTable"))?;
        }
    }
    Ok(())
}

pub async fn read_route_table(
    p: &AwsProvider,
    prior: &Attrs,
) -> Result<Option<Attrs>, ProviderError> {
    let Some(now) = describe_table(p, text(prior, "id")).await? else {
        return Ok(None);
    };
    let mut attrs = prior.clone();
    let subnets = in_prior_order(
        &texts(prior, "subnet_ids"),
        now.associations.keys().cloned().collect(),
    );
    attrs.insert("subnet_ids".into(), Value::string_list(subnets));
    if prior.contains_key("gateway_id") {
        attrs.insert("gateway_id".into(), Value::from(now.gateway_id));
    }
    if prior.contains_key("nat_gateway_id") {
        attrs.insert("nat_gateway_id".into(), Value::from(now.nat_gateway_id));
    }
    attrs.insert("name".into(), Value::from(now.name));
    attrs.insert(
        "associations".into(),
        Value::Map(
            now.associations
                .into_iter()
                .map(|(k, v)| (k, Value::from(v)))
                .collect(),
        ),
    );
    Ok(Some(attrs))
}

pub async fn update_route_table(
    p: &AwsProvider,
    prior: &Attrs,
    desired: &Attrs,
) -> ProviderResult<Attrs> {
    sync_route_table(p, prior, desired).await?;
    let merged = merge(prior, desired);
    Ok(read_route_table(p, &merged).await?.unwrap_or(merged))
}

pub async fn delete_route_table(p: &AwsProvider, prior: &Attrs) -> Result<(), ProviderError> {
    let id = text(prior, "id");
    let Some(now) = describe_table(p, id).await? else {
        return Ok(());
    };
    for assoc in now.associations.values() {
        match p
            .ec2
            .disassociate_route_table()
            .association_id(assoc)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(to_provider_error("DisassociateRouteTable", &e)),
        }
    }
    gone_or(
        "DeleteRouteTable",
        p.ec2.delete_route_table().route_table_id(id).send().await,
    )
}
