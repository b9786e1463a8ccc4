//! Subnets, tagged with their role for the load balancer controller and the VPC CNI.

use std::collections::HashMap;

use super::*;

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
    Ok(out.subnets().first().map(|s| subnet_attrs(prior, s)))
}

fn subnet_attrs(prior: &Attrs, s: &aws_sdk_ec2::types::Subnet) -> Attrs {
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
    attrs
}

/// Takes over the subnet `id` (`subnet-…`): every attribute a create records, read from EC2,
/// but its `purpose`, which only the file knows (its role tag cannot tell nodes from pods).
pub async fn import_subnet(
    p: &AwsProvider,
    ctx: &OperationContext,
    id: &str,
    mark: bool,
) -> Result<Attrs, ProviderError> {
    let kind = ctx.addr.kind.as_str();
    tags::expect_id(kind, id, |i| i.starts_with("subnet-"), "`subnet-…`")?;
    let out = found_or(
        kind,
        id,
        "DescribeSubnets",
        p.ec2.describe_subnets().subnet_ids(id).send().await,
    )?;
    let s = out
        .subnets()
        .first()
        .ok_or_else(|| matihnet_core::ownership::not_found(kind, id))?;
    take_over(p, ctx, &format!("subnet {id}"), id, s.tags(), mark).await?;
    let prior = Attrs::from([("id".to_string(), Value::from(id))]);
    let mut attrs = subnet_attrs(&prior, s);
    attrs.insert(
        "zone".into(),
        Value::from(s.availability_zone().unwrap_or_default()),
    );
    // The cluster is in the tag the create writes for the load balancer controller.
    if let Some(cluster) = s
        .tags()
        .iter()
        .filter_map(|t| t.key()?.strip_prefix("kubernetes.io/cluster/"))
        .next()
    {
        attrs.insert("cluster".into(), Value::from(cluster));
    }
    Ok(attrs)
}

/// Every subnet of a VPC by id.
async fn vpc_subnets(
    p: &AwsProvider,
    vpc_id: &str,
) -> Result<Option<HashMap<String, aws_sdk_ec2::types::Subnet>>, ProviderError> {
    let mut found = HashMap::new();
    let mut token: Option<String> = None;
    loop {
        let page = p
            .ec2
            .describe_subnets()
            .filters(in_vpc(vpc_id))
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| to_provider_error("DescribeSubnets", &e))?;
        for s in page.subnets() {
            if let Some(id) = s.subnet_id() {
                found.insert(id.to_string(), s.clone());
            }
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(Some(found));
        }
    }
}

/// Reads many subnets with one filtered `DescribeSubnets` per VPC instead of one each.
pub async fn read_subnets(
    p: &AwsProvider,
    priors: &[&Attrs],
) -> Vec<Result<Option<Attrs>, ProviderError>> {
    matihnet_core::listing::read_by_listing(
        priors,
        |prior| text(prior, "network_id").to_string(),
        |prior| read_subnet(p, prior),
        |vpc| async move { vpc_subnets(p, &vpc).await },
        |prior, subnets| {
            subnets
                .get(text(prior, "id"))
                .map(|s| subnet_attrs(prior, s))
        },
    )
    .await
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
