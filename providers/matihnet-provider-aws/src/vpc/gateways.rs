//! The internet gateway, the Elastic IPs matihnet owns, and the NAT gateways with their state waits.

use super::*;

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
    Ok(out.internet_gateways().first().map(|g| igw_attrs(prior, g)))
}

fn igw_attrs(prior: &Attrs, g: &aws_sdk_ec2::types::InternetGateway) -> Attrs {
    let mut attrs = prior.clone();
    let vpc = g
        .attachments()
        .first()
        .and_then(|a| a.vpc_id())
        .unwrap_or_default();
    attrs.insert("vpc_id".into(), Value::from(vpc));
    attrs.insert("name".into(), Value::from(name_tag(g.tags())));
    attrs
}

/// Takes over the internet gateway `id` (`igw-…`): its VPC and name, read from EC2.
pub async fn import_igw(
    p: &AwsProvider,
    ctx: &OperationContext,
    id: &str,
    mark: bool,
) -> Result<Attrs, ProviderError> {
    let kind = ctx.addr.kind.as_str();
    let out = if let Some(vpc) = id.strip_prefix(super::ATTACHED_TO) {
        // The gateway of an existing VPC, found by its attachment.
        let out = p
            .ec2
            .describe_internet_gateways()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("attachment.vpc-id")
                    .values(vpc)
                    .build(),
            )
            .send()
            .await
            .map_err(aws("DescribeInternetGateways"))?;
        if out.internet_gateways().is_empty() {
            return Err(ProviderError::new(
                ErrorKind::NotFound,
                format!("the existing VPC {vpc} has no internet gateway attached, and its public subnets and load balancers need one: attach one to it (its owner's), then plan again"),
            ));
        }
        out
    } else {
        tags::expect_id(kind, id, |i| i.starts_with("igw-"), "`igw-…`")?;
        found_or(
            kind,
            id,
            "DescribeInternetGateways",
            p.ec2
                .describe_internet_gateways()
                .internet_gateway_ids(id)
                .send()
                .await,
        )?
    };
    let id = out
        .internet_gateways()
        .first()
        .and_then(|g| g.internet_gateway_id())
        .unwrap_or(id)
        .to_string();
    let id = id.as_str();
    let g = out
        .internet_gateways()
        .first()
        .ok_or_else(|| matihnet_core::ownership::not_found(kind, id))?;
    take_over(
        p,
        ctx,
        &format!("internet gateway {id}"),
        id,
        g.tags(),
        mark,
    )
    .await?;
    let prior = Attrs::from([("id".to_string(), Value::from(id))]);
    Ok(igw_attrs(&prior, g))
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

async fn describe_nat(
    p: &AwsProvider,
    id: &str,
) -> Result<Option<aws_sdk_ec2::types::NatGateway>, ProviderError> {
    match p
        .ec2
        .describe_nat_gateways()
        .nat_gateway_ids(id)
        .send()
        .await
    {
        Ok(o) => Ok(o.nat_gateways().first().cloned()),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(to_provider_error("DescribeNatGateways", &e)),
    }
}

async fn nat_state(p: &AwsProvider, id: &str) -> Result<Option<String>, ProviderError> {
    Ok(describe_nat(p, id)
        .await?
        .and_then(|n| n.state().map(|s| s.as_str().to_string())))
}

/// Whether a NAT gateway in this state is gone, or going, for good.
fn nat_is_gone(n: &aws_sdk_ec2::types::NatGateway) -> bool {
    matches!(
        n.state().map(|s| s.as_str()),
        None | Some("deleted") | Some("deleting") | Some("failed")
    )
}

/// The NAT gateway's attributes as EC2 holds them: its subnet, name, and the Elastic IP it
/// sends from.
fn nat_attrs(prior: &Attrs, n: &aws_sdk_ec2::types::NatGateway) -> Attrs {
    let mut attrs = prior.clone();
    if let Some(subnet) = n.subnet_id() {
        attrs.insert("subnet_id".into(), Value::from(subnet));
    }
    attrs.insert("name".into(), Value::from(name_tag(n.tags())));
    if let Some(address) = n.nat_gateway_addresses().first() {
        if let Some(a) = address.allocation_id() {
            attrs.insert("allocation_id".into(), Value::from(a));
        }
        if let Some(ip) = address.public_ip() {
            attrs.insert("public_ip".into(), Value::from(ip));
        }
    }
    attrs
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
    Ok(describe_nat(p, text(prior, "id"))
        .await?
        .filter(|n| !nat_is_gone(n))
        .map(|n| nat_attrs(prior, &n)))
}

/// Takes over the NAT gateway `id` (`nat-…`): its attributes read from EC2. With `mark`, its
/// Elastic IP is marked too, as the part a create of this address looks for, so that a create
/// adopts both instead of allocating another address.
pub async fn import_nat(
    p: &AwsProvider,
    ctx: &OperationContext,
    id: &str,
    mark: bool,
) -> Result<Attrs, ProviderError> {
    let kind = ctx.addr.kind.as_str();
    tags::expect_id(kind, id, |i| i.starts_with("nat-"), "`nat-…`")?;
    let n = describe_nat(p, id)
        .await?
        .filter(|n| !nat_is_gone(n))
        .ok_or_else(|| matihnet_core::ownership::not_found(kind, id))?;
    take_over(p, ctx, &format!("NAT gateway {id}"), id, n.tags(), mark).await?;
    let prior = Attrs::from([("id".to_string(), Value::from(id))]);
    let attrs = nat_attrs(&prior, &n);
    let allocation = text(&attrs, "allocation_id");
    if mark && !allocation.is_empty() {
        let t = tags::for_object(
            ctx,
            &name_tag(n.tags()),
            &[("matihnet:part".to_string(), "nat-eip".to_string())],
        );
        mark_ec2(p, allocation, &t).await?;
    }
    Ok(attrs)
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
