//! The VPC and its secondary CIDR blocks, and retagging any EC2 object.

use super::*;

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

/// Takes over the VPC `id` (`vpc-…`): every attribute a create records, read from EC2.
pub async fn import_vpc(
    p: &AwsProvider,
    ctx: &OperationContext,
    id: &str,
    mark: bool,
) -> Result<Attrs, ProviderError> {
    let kind = ctx.addr.kind.as_str();
    tags::expect_id(kind, id, |i| i.starts_with("vpc-"), "`vpc-…`")?;
    let out = found_or(
        kind,
        id,
        "DescribeVpcs",
        p.ec2.describe_vpcs().vpc_ids(id).send().await,
    )?;
    let vpc = out
        .vpcs()
        .first()
        .ok_or_else(|| matihnet_core::ownership::not_found(kind, id))?;
    take_over(p, ctx, &format!("VPC {id}"), id, vpc.tags(), mark).await?;
    let prior = Attrs::from([("id".to_string(), Value::from(id))]);
    read_vpc(p, &prior)
        .await?
        .ok_or_else(|| matihnet_core::ownership::not_found(kind, id))
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
