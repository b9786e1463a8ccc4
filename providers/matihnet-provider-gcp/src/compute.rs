//! Compute Engine: the custom-mode network, the subnetwork with its secondary ranges, and the
//! regional static external addresses of the ingress front ends. Every write is an operation,
//! waited on until DONE; an operation that ends with an `error` is the failure of the resource.

use google_cloud_lro::{Poller, PollingResult};
use matihnet_core::{
    Attrs, ErrorKind, OperationContext, ProviderError, ProviderFailure, ProviderResult, Value,
};
use serde_json::json;

use matihnet_core::retry::with_backoff;

use matihnet_core::ownership::not_found;
use matihnet_core::value::attrs::text;

use crate::client::{as_json, call, gcp_error, model, policy, quota_group, Meter};
use crate::ids::expect_compute;
use crate::ownership::{
    check_importable, check_owner, labels, labels_with_marks, ownership_description,
};
use crate::provider::GcpProvider;

pub(crate) use matihnet_core::value::attrs::merged as merge;

fn last_segment(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// Sends a write and waits on its operation, polling it here rather than in the library so
/// that every poll is counted and paced (Compute meters operation polls as their own quota
/// group), then turns the operation's `error` into ours.
async fn finish<P>(meter: &Meter, what: &str, mut poller: P) -> Result<(), ProviderError>
where
    P: Poller<google_cloud_compute_v1::model::Operation, google_cloud_compute_v1::model::Operation>,
{
    let mut polls: u32 = 0;
    let mut poll_errors: u32 = 0;
    // From 100 ms up to 10 s apart: an emulator's operation is done at once, a real one in
    // seconds.
    let mut wait = std::time::Duration::from_millis(100);
    let op = loop {
        // The first poll sends the write itself.
        let (group, counted) = if polls == 0 {
            (quota_group(what), what)
        } else {
            ("compute-operations", "get operation")
        };
        if !matihnet_core::pacing::take_prepaid(group) {
            meter.pacer.pace(group).await;
        }
        meter.calls.record(counted);
        polls += 1;
        match poller.poll().await {
            Some(PollingResult::Completed(result)) => {
                break result.map_err(|e| gcp_error(what, &e))?;
            }
            Some(PollingResult::InProgress(_)) => {}
            Some(PollingResult::PollingError(e)) => {
                if crate::client::is_rate_limited(&e) {
                    meter.pacer.throttled(group);
                }
                poll_errors += 1;
                if poll_errors >= policy().max_attempts {
                    return Err(gcp_error(what, &e));
                }
            }
            None => {
                return Err(ProviderError::new(
                    ErrorKind::Other,
                    format!("{what}: the operation's poller ended without a result"),
                ))
            }
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(std::time::Duration::from_secs(10));
    };
    let op = as_json(&op);
    if let Some(errors) = op
        .pointer("/error/errors")
        .and_then(|e| e.as_array())
        .filter(|e| !e.is_empty())
    {
        let detail: Vec<String> = errors
            .iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    e.get("code").and_then(|c| c.as_str()).unwrap_or(""),
                    e.get("message").and_then(|c| c.as_str()).unwrap_or("")
                )
            })
            .collect();
        let transient = errors.iter().all(|e| {
            is_transient_operation_error(e.get("code").and_then(|c| c.as_str()).unwrap_or(""))
        });
        return Err(ProviderError::new(
            if transient {
                ErrorKind::OperationFailed
            } else {
                ErrorKind::Rejected
            },
            format!("{what}: the operation failed: {}", detail.join("; ")),
        ));
    }
    Ok(())
}

/// Compute operation error codes that Google documents as worth retrying (internal errors,
/// rate limits on a resource's operations, a resource not ready yet); anything else, such as an
/// invalid range or a quota, is a definite failure.
fn is_transient_operation_error(code: &str) -> bool {
    matches!(
        code,
        "INTERNAL_ERROR"
            | "BACKEND_ERROR"
            | "UNAVAILABLE"
            | "SERVICE_UNAVAILABLE"
            | "RESOURCE_OPERATION_RATE_EXCEEDED"
            | "RATE_LIMIT_EXCEEDED"
            | "RESOURCE_NOT_READY"
            | "DEADLINE_EXCEEDED"
            | "TIMEOUT"
    )
}

/// Adopts the object `get` finds if it is ours, or inserts it; a 409 from the insert means a run
/// that died before recording it made the object: adopt it too, after checking it is ours.
async fn adopt_or_insert<G, GF, I, IF>(
    ctx: &OperationContext,
    what: &str,
    get: G,
    insert: I,
) -> Result<(), ProviderError>
where
    G: Fn() -> GF,
    GF: std::future::Future<Output = Result<Option<serde_json::Value>, ProviderError>>,
    I: Fn() -> IF,
    IF: std::future::Future<Output = Result<(), ProviderError>>,
{
    let (get, insert) = (&get, &insert);
    // An insert whose operation failed transiently is issued again (after looking once more for
    // the object, in case the failure left it behind), within the failed-operation budget.
    with_backoff(policy().failed_operations_only(), |_| async move {
        let attempt = async {
            if let Some(found) = get().await? {
                return check_owner(ctx, what, &found);
            }
            match insert().await {
                Ok(()) => Ok(()),
                Err(e) if e.kind == ErrorKind::Conflict => {
                    let found = get().await?.ok_or(e)?;
                    check_owner(ctx, what, &found)
                }
                Err(e) => Err(e),
            }
        };
        attempt.await.map_err(|e| (e, None))
    })
    .await
}

// ---------------------------------------------------------------- network

async fn get_network(
    p: &GcpProvider,
    name: &str,
) -> Result<Option<serde_json::Value>, ProviderError> {
    let project = &p.settings.project;
    Ok(call(&p.meter, "get network", || {
        p.networks
            .get()
            .set_project(project)
            .set_network(name)
            .send()
    })
    .await?
    .map(|n| as_json(&n)))
}

pub async fn create_network(
    p: &GcpProvider,
    ctx: &OperationContext,
    desired: &Attrs,
) -> ProviderResult<Attrs> {
    let project = &p.settings.project;
    let name = text(desired, "name");
    adopt_or_insert(
        ctx,
        &format!("network {name}"),
        || get_network(p, name),
        || async {
            let body: google_cloud_compute_v1::model::Network = model(json!({
                "name": name,
                "autoCreateSubnetworks": false,
                "routingConfig": {"routingMode": "REGIONAL"},
                "description": ownership_description(ctx),
            }))?;
            finish(
                &p.meter,
                "insert network",
                p.networks
                    .insert()
                    .set_project(project)
                    .set_body(body)
                    .poller(),
            )
            .await
        },
    )
    .await?;
    read_network(p, desired).await?.ok_or_else(|| {
        ProviderError::new(
            ErrorKind::Other,
            format!("network {name} vanished after it was created"),
        )
        .into()
    })
}

pub async fn read_network(p: &GcpProvider, prior: &Attrs) -> Result<Option<Attrs>, ProviderError> {
    Ok(get_network(p, text(prior, "name"))
        .await?
        .map(|found| network_attrs(prior, &found)))
}

fn network_attrs(prior: &Attrs, found: &serde_json::Value) -> Attrs {
    let mut attrs = prior.clone();
    attrs.insert("id".into(), Value::from(json_text(found, "selfLink")));
    attrs.insert("name".into(), Value::from(json_text(found, "name")));
    attrs
}

fn json_text<'a>(found: &'a serde_json::Value, field: &str) -> &'a str {
    found
        .get(field)
        .and_then(|s| s.as_str())
        .unwrap_or_default()
}

/// Takes over the network named by its self link: its name and id, read from Compute.
/// Networks take no labels and their description (where the create writes the marks) cannot
/// change, so `mark` leaves a network unmarked.
pub async fn import_network(
    p: &GcpProvider,
    ctx: &OperationContext,
    id: &str,
    _mark: bool,
) -> Result<Attrs, ProviderError> {
    let kind = ctx.addr.kind.as_str();
    let (_, name) = expect_compute(kind, id, &p.settings.project, "networks")?;
    let found = get_network(p, name)
        .await?
        .ok_or_else(|| not_found(kind, id))?;
    check_importable(ctx, &format!("network {name}"), &found)?;
    Ok(network_attrs(&Attrs::new(), &found))
}

pub async fn delete_network(p: &GcpProvider, prior: &Attrs) -> Result<(), ProviderError> {
    let project = &p.settings.project;
    match finish(
        &p.meter,
        "delete network",
        p.networks
            .delete()
            .set_project(project)
            .set_network(text(prior, "name"))
            .poller(),
    )
    .await
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------- subnetwork

fn ranges_json(desired: &Attrs) -> Vec<serde_json::Value> {
    desired
        .get("secondary_ranges")
        .and_then(Value::as_map)
        .map(|m| {
            m.iter()
                .map(
                    |(k, v)| json!({"rangeName": k, "ipCidrRange": v.as_str().unwrap_or_default()}),
                )
                .collect()
        })
        .unwrap_or_default()
}

async fn get_subnet(
    p: &GcpProvider,
    region: &str,
    name: &str,
) -> Result<Option<serde_json::Value>, ProviderError> {
    let project = &p.settings.project;
    Ok(call(&p.meter, "get subnetwork", || {
        p.subnetworks
            .get()
            .set_project(project)
            .set_region(region)
            .set_subnetwork(name)
            .send()
    })
    .await?
    .map(|s| as_json(&s)))
}

pub async fn create_subnet(
    p: &GcpProvider,
    ctx: &OperationContext,
    desired: &Attrs,
) -> ProviderResult<Attrs> {
    let project = &p.settings.project;
    let region = text(desired, "region");
    let name = text(desired, "name");
    adopt_or_insert(
        ctx,
        &format!("subnetwork {name}"),
        || get_subnet(p, region, name),
        || async {
            let body: google_cloud_compute_v1::model::Subnetwork = model(json!({
                "name": name,
                "network": text(desired, "network_id"),
                "ipCidrRange": text(desired, "cidr"),
                "secondaryIpRanges": ranges_json(desired),
                "privateIpGoogleAccess": true,
                "description": ownership_description(ctx),
            }))?;
            let started = p
                .subnetworks
                .insert()
                .set_project(project)
                .set_region(region)
                .set_body(body)
                .poller();
            finish(&p.meter, "insert subnetwork", started).await
        },
    )
    .await?;
    read_subnet(p, desired).await?.ok_or_else(|| {
        ProviderError::new(
            ErrorKind::Other,
            format!("subnetwork {name} vanished after it was created"),
        )
        .into()
    })
}

pub async fn read_subnet(p: &GcpProvider, prior: &Attrs) -> Result<Option<Attrs>, ProviderError> {
    Ok(get_subnet(p, text(prior, "region"), text(prior, "name"))
        .await?
        .map(|found| subnet_attrs(prior, &found)))
}

/// Takes over the subnetwork named by its self link: its name, region, network, ranges and
/// fingerprint, read from Compute. Subnetworks take no labels and their description cannot
/// change, so `mark` leaves a subnetwork unmarked.
pub async fn import_subnet(
    p: &GcpProvider,
    ctx: &OperationContext,
    id: &str,
    _mark: bool,
) -> Result<Attrs, ProviderError> {
    let kind = ctx.addr.kind.as_str();
    let (region, name) = expect_compute(kind, id, &p.settings.project, "subnetworks")?;
    let region = region.unwrap_or_default();
    let found = get_subnet(p, region, name)
        .await?
        .ok_or_else(|| not_found(kind, id))?;
    check_importable(ctx, &format!("subnetwork {name}"), &found)?;
    let mut attrs = subnet_attrs(&Attrs::new(), &found);
    attrs.insert("name".into(), Value::from(json_text(&found, "name")));
    attrs.insert(
        "region".into(),
        Value::from(last_segment(json_text(&found, "region"))),
    );
    Ok(attrs)
}

fn subnet_attrs(prior: &Attrs, found: &serde_json::Value) -> Attrs {
    let mut attrs = prior.clone();
    attrs.insert(
        "id".into(),
        Value::from(
            found
                .get("selfLink")
                .and_then(|s| s.as_str())
                .unwrap_or_default(),
        ),
    );
    attrs.insert(
        "cidr".into(),
        Value::from(
            found
                .get("ipCidrRange")
                .and_then(|s| s.as_str())
                .unwrap_or_default(),
        ),
    );
    attrs.insert(
        "fingerprint".into(),
        Value::from(
            found
                .get("fingerprint")
                .and_then(|s| s.as_str())
                .unwrap_or_default(),
        ),
    );
    if let Some(net) = found.get("network").and_then(|s| s.as_str()) {
        // Compare by name: the same network may be written with another host or API version.
        if last_segment(net) != last_segment(text(prior, "network_id")) {
            attrs.insert("network_id".into(), Value::from(net));
        }
    }
    let ranges: std::collections::BTreeMap<String, Value> = found
        .get("secondaryIpRanges")
        .and_then(|r| r.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|r| {
                    Some((
                        r.get("rangeName")?.as_str()?.to_string(),
                        Value::from(r.get("ipCidrRange")?.as_str()?),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    attrs.insert("secondary_ranges".into(), Value::Map(ranges));
    attrs
}

/// Adds secondary ranges in place (the plan replaced the subnetwork for anything else).
pub async fn update_subnet(
    p: &GcpProvider,
    prior: &Attrs,
    desired: &Attrs,
) -> ProviderResult<Attrs> {
    let project = &p.settings.project;
    let region = text(prior, "region");
    let name = text(prior, "name");
    let current = get_subnet(p, region, name).await?.ok_or_else(|| {
        ProviderError::new(ErrorKind::Rejected, format!("subnetwork {name} is gone"))
    })?;
    let body: google_cloud_compute_v1::model::Subnetwork = model(json!({
        "secondaryIpRanges": ranges_json(desired),
        "fingerprint": current.get("fingerprint").cloned().unwrap_or_default(),
    }))?;
    let started = p
        .subnetworks
        .patch()
        .set_project(project)
        .set_region(region)
        .set_subnetwork(name)
        .set_body(body)
        .poller();
    finish(&p.meter, "patch subnetwork", started)
        .await
        .map_err(|e| ProviderFailure {
            error: e,
            partial: Some(prior.clone()),
        })?;
    Ok(read_subnet(p, &merge(prior, desired))
        .await?
        .unwrap_or_else(|| merge(prior, desired)))
}

pub async fn delete_subnet(p: &GcpProvider, prior: &Attrs) -> Result<(), ProviderError> {
    let project = &p.settings.project;
    let started = p
        .subnetworks
        .delete()
        .set_project(project)
        .set_region(text(prior, "region"))
        .set_subnetwork(text(prior, "name"))
        .poller();
    match finish(&p.meter, "delete subnetwork", started).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------- addresses

async fn get_address(
    p: &GcpProvider,
    region: &str,
    name: &str,
) -> Result<Option<serde_json::Value>, ProviderError> {
    let project = &p.settings.project;
    Ok(call(&p.meter, "get address", || {
        p.addresses
            .get()
            .set_project(project)
            .set_region(region)
            .set_address(name)
            .send()
    })
    .await?
    .map(|a| as_json(&a)))
}

pub async fn create_address(
    p: &GcpProvider,
    ctx: &OperationContext,
    desired: &Attrs,
) -> ProviderResult<Attrs> {
    let project = &p.settings.project;
    let region = text(desired, "region");
    let name = text(desired, "name");
    adopt_or_insert(
        ctx,
        &format!("address {name}"),
        || get_address(p, region, name),
        || async {
            let body: google_cloud_compute_v1::model::Address = model(json!({
                "name": name,
                "addressType": "EXTERNAL",
                "networkTier": "PREMIUM",
                "labels": labels(ctx),
                "description": format!("ingress front end {} of MATIH environment {}", ctx.addr.name, ctx.environment),
            }))?;
            let started = p.addresses.insert().set_project(project).set_region(region).set_body(body).poller();
            finish(&p.meter, "insert address", started).await
        },
    )
    .await?;
    read_address(p, desired).await?.ok_or_else(|| {
        ProviderError::new(
            ErrorKind::Other,
            format!("address {name} vanished after it was created"),
        )
        .into()
    })
}

pub async fn read_address(p: &GcpProvider, prior: &Attrs) -> Result<Option<Attrs>, ProviderError> {
    Ok(get_address(p, text(prior, "region"), text(prior, "name"))
        .await?
        .map(|found| address_attrs(prior, &found)))
}

fn address_attrs(prior: &Attrs, found: &serde_json::Value) -> Attrs {
    let mut attrs = prior.clone();
    attrs.insert(
        "id".into(),
        Value::from(
            found
                .get("selfLink")
                .and_then(|s| s.as_str())
                .unwrap_or_default(),
        ),
    );
    attrs.insert(
        "ip_address".into(),
        Value::from(
            found
                .get("address")
                .and_then(|s| s.as_str())
                .unwrap_or_default(),
        ),
    );
    attrs
}

/// Takes over the regional address named by its self link: its name, region and IP, read from
/// Compute. With `mark`, its labels get this address's ownership labels (`setLabels`, with the
/// label fingerprint it was read with).
pub async fn import_address(
    p: &GcpProvider,
    ctx: &OperationContext,
    id: &str,
    mark: bool,
) -> Result<Attrs, ProviderError> {
    let kind = ctx.addr.kind.as_str();
    let project = &p.settings.project;
    let (region, name) = expect_compute(kind, id, project, "addresses")?;
    let region = region.unwrap_or_default();
    let found = get_address(p, region, name)
        .await?
        .ok_or_else(|| not_found(kind, id))?;
    check_importable(ctx, &format!("address {name}"), &found)?;
    if mark {
        let body: google_cloud_compute_v1::model::RegionSetLabelsRequest = model(json!({
            "labels": labels_with_marks(ctx, &found),
            "labelFingerprint": found.get("labelFingerprint").cloned().unwrap_or_default(),
        }))?;
        let started = p
            .addresses
            .set_labels()
            .set_project(project)
            .set_region(region)
            .set_resource(name)
            .set_body(body)
            .poller();
        finish(&p.meter, "set labels of address", started).await?;
    }
    let mut attrs = address_attrs(&Attrs::new(), &found);
    attrs.insert("name".into(), Value::from(json_text(&found, "name")));
    attrs.insert(
        "region".into(),
        Value::from(last_segment(json_text(&found, "region"))),
    );
    Ok(attrs)
}

/// Reads many addresses with one listing per region instead of one get each: a plan's reads of
/// the dedicated front ends then cost one call, however many tenants have one.
pub async fn read_addresses(
    p: &GcpProvider,
    priors: &[&Attrs],
) -> Vec<Result<Option<Attrs>, ProviderError>> {
    let project = &p.settings.project;
    matihnet_core::listing::read_by_listing(
        priors,
        |prior| text(prior, "region").to_string(),
        |prior| read_address(p, prior),
        |region| async move {
            crate::client::list_pages(&p.meter, "list addresses", "items", |token| {
                let mut req = p.addresses.list().set_project(project).set_region(&region);
                if !token.is_empty() {
                    req = req.set_page_token(token);
                }
                req.send()
            })
            .await
        },
        |prior, items| {
            items
                .iter()
                .find(|a| a["name"].as_str() == Some(text(prior, "name")))
                .map(|a| address_attrs(prior, a))
        },
    )
    .await
}

pub async fn update_address_labels(
    p: &GcpProvider,
    _ctx: &OperationContext,
    prior: &Attrs,
    desired: &Attrs,
) -> ProviderResult<Attrs> {
    // Only `purpose` changes in place, and GCP does not record it: nothing to send.
    let _ = p;
    Ok(merge(prior, desired))
}

pub async fn delete_address(p: &GcpProvider, prior: &Attrs) -> Result<(), ProviderError> {
    let project = &p.settings.project;
    let started = p
        .addresses
        .delete()
        .set_project(project)
        .set_region(text(prior, "region"))
        .set_address(text(prior, "name"))
        .poller();
    match finish(&p.meter, "delete address", started).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}
