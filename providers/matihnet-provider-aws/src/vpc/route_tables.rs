//! Route tables: their routes to the gateways and their subnet associations.

use super::*;

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

#[derive(Clone)]
struct TableNow {
    vpc_id: String,
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
    Ok(out.route_tables().first().map(table_now))
}

fn table_now(t: &aws_sdk_ec2::types::RouteTable) -> TableNow {
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
    TableNow {
        vpc_id: t.vpc_id().unwrap_or_default().to_string(),
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
    }
}

/// Every route table of a VPC by id.
async fn vpc_tables(
    p: &AwsProvider,
    vpc_id: &str,
) -> Result<Option<BTreeMap<String, TableNow>>, ProviderError> {
    let mut found = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let page = p
            .ec2
            .describe_route_tables()
            .filters(in_vpc(vpc_id))
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| to_provider_error("DescribeRouteTables", &e))?;
        for t in page.route_tables() {
            if let Some(id) = t.route_table_id() {
                found.insert(id.to_string(), table_now(t));
            }
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(Some(found));
        }
    }
}

/// Reads many route tables with one filtered `DescribeRouteTables` per VPC instead of one each.
pub async fn read_route_tables(
    p: &AwsProvider,
    priors: &[&Attrs],
) -> Vec<Result<Option<Attrs>, ProviderError>> {
    matihnet_core::listing::read_by_listing(
        priors,
        |prior| text(prior, "vpc_id").to_string(),
        |prior| read_route_table(p, prior),
        |vpc| async move { vpc_tables(p, &vpc).await },
        |prior, tables| {
            tables
                .get(text(prior, "id"))
                .map(|now| table_attrs(prior, now.clone()))
        },
    )
    .await
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
    Ok(describe_table(p, text(prior, "id"))
        .await?
        .map(|now| table_attrs(prior, now)))
}

fn table_attrs(prior: &Attrs, now: TableNow) -> Attrs {
    let mut attrs = prior.clone();
    let subnets = in_prior_order(
        &texts(prior, "subnet_ids"),
        now.associations.keys().cloned().collect(),
    );
    attrs.insert("subnet_ids".into(), Value::string_list(subnets));
    if !now.vpc_id.is_empty() {
        attrs.insert("vpc_id".into(), Value::from(now.vpc_id));
    }
    // A table routes to one of the two: the other one stays unset unless recorded.
    if prior.contains_key("gateway_id") || !now.gateway_id.is_empty() {
        attrs.insert("gateway_id".into(), Value::from(now.gateway_id));
    }
    if prior.contains_key("nat_gateway_id") || !now.nat_gateway_id.is_empty() {
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
    attrs
}

/// Takes over the route table `id` (`rtb-…`): its VPC, default route and subnet
/// associations, read from EC2.
pub async fn import_route_table(
    p: &AwsProvider,
    ctx: &OperationContext,
    id: &str,
    mark: bool,
) -> Result<Attrs, ProviderError> {
    let kind = ctx.addr.kind.as_str();
    tags::expect_id(kind, id, |i| i.starts_with("rtb-"), "`rtb-…`")?;
    let out = found_or(
        kind,
        id,
        "DescribeRouteTables",
        p.ec2
            .describe_route_tables()
            .route_table_ids(id)
            .send()
            .await,
    )?;
    let t = out
        .route_tables()
        .first()
        .ok_or_else(|| matihnet_core::ownership::not_found(kind, id))?;
    take_over(p, ctx, &format!("route table {id}"), id, t.tags(), mark).await?;
    let prior = Attrs::from([("id".to_string(), Value::from(id))]);
    Ok(table_attrs(&prior, table_now(t)))
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
