//! Resource groups, the virtual network, its subnets, and the ingress front ends' static public
//! IPs.

use std::future::IntoFuture;

use azure_core::Method;
use matihnet_core::{
    Attrs, ErrorKind, OperationContext, ProviderError, ProviderFailure, ProviderResult, Value,
};
use serde_json::json;

use matihnet_core::value::attrs::{in_prior_order, text, texts};

use crate::client::{as_json, call, delete_and_wait, model};
use crate::ownership::{check_owner, marked_by, tags, take_over};
use matihnet_core::ownership::not_found;

/// The network API version the SDK speaks, for the requests made without it (tag patches).
pub(crate) const NETWORK_API: &str = "2024-03-01";
const GROUPS_API: &str = "2021-04-01";
use crate::provider::AzureProvider;

pub(crate) use matihnet_core::value::attrs::merged as merge;

/// `/subscriptions/s/resourceGroups/rg/providers/.../virtualNetworks/name` -> (rg, name).
fn group_and_name(id: &str) -> (String, String) {
    let parts: Vec<&str> = id.split('/').collect();
    let rg = parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case("resourceGroups"))
        .and_then(|i| parts.get(i + 1))
        .unwrap_or(&"")
        .to_string();
    (rg, parts.last().unwrap_or(&"").to_string())
}

fn with_partial(error: ProviderError, attrs: &Attrs) -> ProviderFailure {
    ProviderFailure {
        error,
        partial: attrs.contains_key("id").then(|| attrs.clone()),
    }
}

// ---------------------------------------------------------------- resource groups

pub async fn create_group(
    p: &AzureProvider,
    ctx: &OperationContext,
    desired: &Attrs,
) -> ProviderResult<Attrs> {
    let s = &p.settings;
    let name = text(desired, "name");
    let url = p.arm.resource_group_url(&s.subscription_id, name)?;
    let existing = p
        .arm
        .send("GET resource group", Method::Get, url.clone(), None)
        .await?;
    let created = match existing {
        Some(found) => {
            let tagged = ["matihnet:address", "matihnet:lineage"]
                .iter()
                .any(|k| found.body.get("tags").and_then(|t| t.get(k)).is_some());
            if tagged {
                // Ours only with this address and this state's lineage: a group left by a lost
                // or other state is refused like every other object, never taken over.
                check_owner(ctx, &format!("resource group {name}"), &found.body)?;
                true
            } else {
                // A group someone made beforehand is used, never owned: destroy will leave it.
                false
            }
        }
        None => {
            let body = json!({"location": text(desired, "location"), "tags": tags(ctx)});
            p.arm
                .send("PUT resource group", Method::Put, url.clone(), Some(&body))
                .await?;
            true
        }
    };
    let mut attrs = desired.clone();
    attrs.insert(
        "id".into(),
        Value::from(format!(
            "/subscriptions/{}/resourceGroups/{name}",
            s.subscription_id
        )),
    );
    attrs.insert("created".into(), Value::Bool(created));
    Ok(attrs)
}

pub async fn read_group(p: &AzureProvider, prior: &Attrs) -> Result<Option<Attrs>, ProviderError> {
    let url = p
        .arm
        .resource_group_url(&p.settings.subscription_id, text(prior, "name"))?;
    Ok(p.arm
        .send("GET resource group", Method::Get, url, None)
        .await?
        .map(|found| group_attrs(prior, &found.body)))
}

/// Takes over the resource group `/subscriptions/<s>/resourceGroups/<name>`: its name and
/// location. It counts as `created` (destroy deletes it once empty) when its tags name this
/// state, as a create counts a tagged group; one made outside stays used, never owned, unless
/// `mark` tags it as this address's.
pub async fn import_group(
    p: &AzureProvider,
    ctx: &OperationContext,
    id: &str,
    mark: bool,
) -> Result<Attrs, ProviderError> {
    let kind = ctx.addr.kind.as_str();
    let s = &p.settings;
    let parsed = crate::ids::expect(kind, id, &s.subscription_id)?;
    let url = p.arm.resource_group_url(&s.subscription_id, parsed.group)?;
    let found = p
        .arm
        .send("GET resource group", Method::Get, url, None)
        .await?
        .ok_or_else(|| not_found(kind, id))?
        .body;
    let name = found["name"].as_str().unwrap_or(parsed.group);
    let group_id = format!("/subscriptions/{}/resourceGroups/{name}", s.subscription_id);
    take_over(
        &p.arm,
        ctx,
        ("resource group", name),
        &found,
        (&group_id, GROUPS_API),
        mark,
    )
    .await?;
    let prior = Attrs::from([
        ("name".to_string(), Value::from(name)),
        (
            "id".to_string(),
            Value::from(format!(
                "/subscriptions/{}/resourceGroups/{name}",
                s.subscription_id
            )),
        ),
        (
            "created".to_string(),
            Value::Bool(mark || marked_by(ctx, &found)),
        ),
    ]);
    Ok(group_attrs(&prior, &found))
}

fn group_attrs(prior: &Attrs, found: &serde_json::Value) -> Attrs {
    let mut attrs = prior.clone();
    if let Some(loc) = found.get("location").and_then(|l| l.as_str()) {
        attrs.insert("location".into(), Value::from(loc));
    }
    attrs
}

/// Deletes the group only if matihnet created it and nothing else lives in it.
pub async fn delete_group(p: &AzureProvider, prior: &Attrs) -> Result<(), ProviderError> {
    if prior.get("created").and_then(Value::as_bool) != Some(true) {
        return Ok(());
    }
    let s = &p.settings;
    let name = text(prior, "name");
    let list = p.arm.resources_in_group_url(&s.subscription_id, name)?;
    if let Some(found) = p
        .arm
        .send("list resources", Method::Get, list, None)
        .await?
    {
        if found
            .body
            .get("value")
            .and_then(|v| v.as_array())
            .is_some_and(|v| !v.is_empty())
        {
            // Someone else's resources live here now: keep the group for them.
            return Ok(());
        }
    }
    let url = p.arm.resource_group_url(&s.subscription_id, name)?;
    if let Some(answer) = p
        .arm
        .send("DELETE resource group", Method::Delete, url, None)
        .await?
    {
        p.arm.wait("DELETE resource group", &answer.headers).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------- virtual network

async fn get_vnet(
    p: &AzureProvider,
    rg: &str,
    name: &str,
) -> Result<Option<serde_json::Value>, ProviderError> {
    let s = &p.settings;
    let got = call("GET virtual network", || {
        p.network
            .virtual_networks_client()
            .get(rg, name, &s.subscription_id)
            .into_future()
    })
    .await?;
    Ok(got.map(|v| as_json(&v)))
}

fn vnet_attrs(prior: &Attrs, v: &serde_json::Value) -> Attrs {
    let mut attrs = prior.clone();
    let prefixes: Vec<String> = v
        .pointer("/properties/addressSpace/addressPrefixes")
        .and_then(|a| a.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    attrs.insert(
        "id".into(),
        Value::from(v.get("id").and_then(|i| i.as_str()).unwrap_or_default()),
    );
    if let Some((first, rest)) = prefixes.split_first() {
        attrs.insert("cidr".into(), Value::from(first.as_str()));
        let rest = in_prior_order(&texts(prior, "secondary_cidrs"), rest.to_vec());
        attrs.insert("secondary_cidrs".into(), Value::string_list(rest));
    }
    if let Some(loc) = v.get("location").and_then(|l| l.as_str()) {
        attrs.insert("region".into(), Value::from(loc));
    }
    attrs
}

pub async fn put_vnet(
    p: &AzureProvider,
    ctx: &OperationContext,
    desired: &Attrs,
    creating: bool,
) -> ProviderResult<Attrs> {
    let s = &p.settings;
    let rg = text(desired, "resource_group");
    let name = text(desired, "name");
    let existing = get_vnet(p, rg, name).await?;
    if creating {
        if let Some(found) = &existing {
            check_owner(ctx, &format!("virtual network {name}"), found)?;
        }
    }
    let mut prefixes = vec![text(desired, "cidr").to_string()];
    prefixes.extend(texts(desired, "secondary_cidrs"));
    // A PUT without the current subnets would delete them: carry them over.
    let subnets = existing
        .as_ref()
        .and_then(|v| v.pointer("/properties/subnets").cloned())
        .unwrap_or_else(|| json!([]));
    let body = json!({
        "location": text(desired, "region"),
        "tags": tags(ctx),
        "properties": {"addressSpace": {"addressPrefixes": prefixes}, "subnets": subnets},
    });
    let vnet: azure_mgmt_network::models::VirtualNetwork = model(body)?;
    let done = call("PUT virtual network", || {
        p.network
            .virtual_networks_client()
            .create_or_update(rg, name, vnet.clone(), &s.subscription_id)
            .into_future()
    })
    .await?
    .ok_or_else(|| {
        ProviderError::new(
            ErrorKind::Rejected,
            format!("virtual network {name}: resource group {rg} not found"),
        )
    })?;
    Ok(vnet_attrs(desired, &as_json(&done)))
}

pub async fn read_vnet(p: &AzureProvider, prior: &Attrs) -> Result<Option<Attrs>, ProviderError> {
    let (rg, name) = group_and_name(text(prior, "id"));
    Ok(get_vnet(p, &rg, &name)
        .await?
        .map(|v| vnet_attrs(prior, &v)))
}

/// Takes over the virtual network named by its ARM id: its name, group, ranges and region.
/// With `mark`, its tags get this address's ownership tags.
pub async fn import_vnet(
    p: &AzureProvider,
    ctx: &OperationContext,
    id: &str,
    mark: bool,
) -> Result<Attrs, ProviderError> {
    let kind = ctx.addr.kind.as_str();
    let parsed = crate::ids::expect(kind, id, &p.settings.subscription_id)?;
    let found = get_vnet(p, parsed.group, parsed.names[0])
        .await?
        .ok_or_else(|| not_found(kind, id))?;
    let name = found["name"].as_str().unwrap_or(parsed.names[0]);
    take_over(
        &p.arm,
        ctx,
        ("virtual network", name),
        &found,
        (found["id"].as_str().unwrap_or(id), NETWORK_API),
        mark,
    )
    .await?;
    let prior = Attrs::from([
        ("name".to_string(), Value::from(name)),
        ("resource_group".to_string(), Value::from(parsed.group)),
    ]);
    Ok(vnet_attrs(&prior, &found))
}

pub async fn delete_vnet(p: &AzureProvider, prior: &Attrs) -> Result<(), ProviderError> {
    let (rg, name) = group_and_name(text(prior, "id"));
    let s = &p.settings;
    delete_and_wait(p, "DELETE virtual network", || async {
        p.network
            .virtual_networks_client()
            .delete(&rg, &name, &s.subscription_id)
            .send()
            .await
            .map(|r| r.as_raw_response().headers().clone())
    })
    .await?;
    Ok(())
}

// ---------------------------------------------------------------- subnets

fn subnet_attrs(prior: &Attrs, v: &serde_json::Value) -> Attrs {
    let mut attrs = prior.clone();
    attrs.insert(
        "id".into(),
        Value::from(v.get("id").and_then(|i| i.as_str()).unwrap_or_default()),
    );
    if let Some(prefix) = v
        .pointer("/properties/addressPrefix")
        .and_then(|x| x.as_str())
    {
        attrs.insert("cidr".into(), Value::from(prefix));
    }
    attrs
}

/// Subnets take no tags; their name inside matihnet's own virtual network is what adopts them.
pub async fn put_subnet(p: &AzureProvider, desired: &Attrs) -> ProviderResult<Attrs> {
    let s = &p.settings;
    let (rg, vnet) = group_and_name(text(desired, "network_id"));
    let name = text(desired, "name");
    let subnet: azure_mgmt_network::models::Subnet =
        model(json!({"properties": {"addressPrefix": text(desired, "cidr")}}))?;
    let done = call("PUT subnet", || {
        p.network
            .subnets_client()
            .create_or_update(&rg, &vnet, name, subnet.clone(), &s.subscription_id)
            .into_future()
    })
    .await?
    .ok_or_else(|| {
        ProviderError::new(
            ErrorKind::Rejected,
            format!("subnet {name}: virtual network {vnet} not found"),
        )
    })?;
    Ok(subnet_attrs(desired, &as_json(&done)))
}

pub async fn read_subnet(p: &AzureProvider, prior: &Attrs) -> Result<Option<Attrs>, ProviderError> {
    let s = &p.settings;
    let (rg, vnet) = group_and_name(text(prior, "network_id"));
    let name = text(prior, "name");
    let got = call("GET subnet", || {
        p.network
            .subnets_client()
            .get(&rg, &vnet, name, &s.subscription_id)
            .into_future()
    })
    .await?;
    Ok(got.map(|v| subnet_attrs(prior, &as_json(&v))))
}

/// Takes over the subnet named by its ARM id: its name, range and virtual network. ARM
/// subnets take no tags: there are no marks to check or write (a subnet is ours by its name
/// inside a virtual network this state owns).
pub async fn import_subnet(
    p: &AzureProvider,
    ctx: &OperationContext,
    id: &str,
) -> Result<Attrs, ProviderError> {
    let kind = ctx.addr.kind.as_str();
    let parsed = crate::ids::expect(kind, id, &p.settings.subscription_id)?;
    let (vnet, name) = (parsed.names[0], parsed.names[1]);
    let network_id = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/virtualNetworks/{vnet}",
        p.settings.subscription_id, parsed.group
    );
    let prior = Attrs::from([
        ("network_id".to_string(), Value::from(network_id.as_str())),
        ("name".to_string(), Value::from(name)),
    ]);
    let mut attrs = read_subnet(p, &prior)
        .await?
        .ok_or_else(|| not_found(kind, id))?;
    // The network as ARM spells it: the subnet's own id, less its last two segments.
    if let Some((net, _)) = text(&attrs, "id").rsplit_once("/subnets/") {
        attrs.insert("network_id".into(), Value::from(net));
    }
    Ok(attrs)
}

pub async fn delete_subnet(p: &AzureProvider, prior: &Attrs) -> Result<(), ProviderError> {
    let s = &p.settings;
    let (rg, vnet) = group_and_name(text(prior, "network_id"));
    let name = text(prior, "name");
    delete_and_wait(p, "DELETE subnet", || async {
        p.network
            .subnets_client()
            .delete(&rg, &vnet, name, &s.subscription_id)
            .send()
            .await
            .map(|r| r.as_raw_response().headers().clone())
    })
    .await?;
    Ok(())
}

// ---------------------------------------------------------------- public IPs

async fn get_ip(
    p: &AzureProvider,
    rg: &str,
    name: &str,
) -> Result<Option<serde_json::Value>, ProviderError> {
    let s = &p.settings;
    let got = call("GET public IP", || {
        p.network
            .public_ip_addresses_client()
            .get(rg, name, &s.subscription_id)
            .into_future()
    })
    .await?;
    Ok(got.map(|v| as_json(&v)))
}

fn ip_attrs(prior: &Attrs, v: &serde_json::Value) -> Attrs {
    let mut attrs = prior.clone();
    attrs.insert(
        "id".into(),
        Value::from(v.get("id").and_then(|i| i.as_str()).unwrap_or_default()),
    );
    attrs.insert(
        "ip_address".into(),
        Value::from(
            v.pointer("/properties/ipAddress")
                .and_then(|i| i.as_str())
                .unwrap_or_default(),
        ),
    );
    attrs
}

pub async fn put_ip(
    p: &AzureProvider,
    ctx: &OperationContext,
    desired: &Attrs,
    creating: bool,
) -> ProviderResult<Attrs> {
    let s = &p.settings;
    let rg = text(desired, "resource_group");
    let name = text(desired, "name");
    if creating {
        if let Some(found) = get_ip(p, rg, name).await? {
            check_owner(ctx, &format!("public IP {name}"), &found)?;
        }
    }
    let ip: azure_mgmt_network::models::PublicIpAddress = model(json!({
        "location": text(desired, "location"),
        "tags": tags(ctx),
        "sku": {"name": "Standard", "tier": "Regional"},
        "properties": {"publicIPAllocationMethod": "Static", "publicIPAddressVersion": "IPv4"},
    }))?;
    let done = call("PUT public IP", || {
        p.network
            .public_ip_addresses_client()
            .create_or_update(rg, name, ip.clone(), &s.subscription_id)
            .into_future()
    })
    .await?
    .ok_or_else(|| {
        ProviderError::new(
            ErrorKind::Rejected,
            format!("public IP {name}: resource group {rg} not found"),
        )
    })?;
    let attrs = ip_attrs(desired, &as_json(&done));
    if text(&attrs, "ip_address").is_empty() {
        return Err(with_partial(
            ProviderError::new(
                ErrorKind::Other,
                format!("public IP {name} was provisioned without an address"),
            ),
            &attrs,
        ));
    }
    Ok(attrs)
}

pub async fn read_ip(p: &AzureProvider, prior: &Attrs) -> Result<Option<Attrs>, ProviderError> {
    let (rg, name) = group_and_name(text(prior, "id"));
    Ok(get_ip(p, &rg, &name).await?.map(|v| ip_attrs(prior, &v)))
}

/// Takes over the public IP named by its ARM id: its name, group, location and address. With
/// `mark`, its tags get this address's ownership tags.
pub async fn import_ip(
    p: &AzureProvider,
    ctx: &OperationContext,
    id: &str,
    mark: bool,
) -> Result<Attrs, ProviderError> {
    let kind = ctx.addr.kind.as_str();
    let parsed = crate::ids::expect(kind, id, &p.settings.subscription_id)?;
    let found = get_ip(p, parsed.group, parsed.names[0])
        .await?
        .ok_or_else(|| not_found(kind, id))?;
    let name = found["name"].as_str().unwrap_or(parsed.names[0]);
    take_over(
        &p.arm,
        ctx,
        ("public IP", name),
        &found,
        (found["id"].as_str().unwrap_or(id), NETWORK_API),
        mark,
    )
    .await?;
    let mut prior = Attrs::from([
        ("name".to_string(), Value::from(name)),
        ("resource_group".to_string(), Value::from(parsed.group)),
    ]);
    if let Some(loc) = found.get("location").and_then(|l| l.as_str()) {
        prior.insert("location".into(), Value::from(loc));
    }
    Ok(ip_attrs(&prior, &found))
}

/// Reads many public IPs with one listing per resource group instead of one GET each: a plan's
/// reads of the dedicated front ends then cost one call, however many tenants have one.
pub async fn read_ips(
    p: &AzureProvider,
    priors: &[&Attrs],
) -> Vec<Result<Option<Attrs>, ProviderError>> {
    matihnet_core::listing::read_by_listing(
        priors,
        |prior| group_and_name(text(prior, "id")).0,
        |prior| read_ip(p, prior),
        |rg| async move {
            let url = p.arm.public_ips_url(&p.settings.subscription_id, &rg);
            crate::arm::list_all(p, url, "list public IPs").await
        },
        |prior, ips| {
            let name = group_and_name(text(prior, "id")).1;
            ips.iter()
                .find(|ip| {
                    ip["name"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case(&name))
                })
                .map(|ip| ip_attrs(prior, ip))
        },
    )
    .await
}

pub async fn delete_ip(p: &AzureProvider, prior: &Attrs) -> Result<(), ProviderError> {
    let s = &p.settings;
    let (rg, name) = group_and_name(text(prior, "id"));
    delete_and_wait(p, "DELETE public IP", || async {
        p.network
            .public_ip_addresses_client()
            .delete(&rg, &name, &s.subscription_id)
            .send()
            .await
            .map(|r| r.as_raw_response().headers().clone())
    })
    .await?;
    Ok(())
}
