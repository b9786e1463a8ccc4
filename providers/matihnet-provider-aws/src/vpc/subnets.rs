//! Subnets, tagged with their role for the load balancer controller and the VPC CNI.

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
