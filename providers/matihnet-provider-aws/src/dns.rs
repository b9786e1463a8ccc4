//! Route53: hosted zones (the platform zone and one per child), NS delegation records in the
//! parent, and A / alias records. Every change waits until Route53 reports it INSYNC.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ChangeInfo, ChangeStatus, HostedZone,
    ResourceRecord, ResourceRecordSet, RrType, Tag, TagResourceType,
};
use matihnet_core::ownership::{self, Marks};
use matihnet_core::{
    Attrs, ErrorKind, OperationContext, ProviderError, ProviderFailure, ProviderResult, Value,
};

use crate::errors::{aws, invalid, to_provider_error};
use matihnet_core::value::attrs::{text, texts};

use matihnet_core::listing::read_by_listing;

use crate::provider::AwsProvider;
use crate::tags;
use crate::vpc::in_prior_order;

fn bare_zone_id(id: &str) -> &str {
    id.trim_start_matches("/hostedzone/")
}

fn without_dot(name: &str) -> &str {
    name.trim_end_matches('.')
}

/// Route53 returns `*` as `\052` in record names.
fn unescape(name: &str) -> String {
    name.replace("\\052", "*")
}

fn fqdn(name: &str, zone_name: &str) -> String {
    if name == "@" || name.is_empty() {
        format!("{}.", without_dot(zone_name))
    } else {
        format!("{name}.{}.", without_dot(zone_name))
    }
}

/// Waits until a change Route53 answered is INSYNC; one already INSYNC costs no request.
async fn wait_change(p: &AwsProvider, change: &ChangeInfo) -> Result<(), ProviderError> {
    if change.status() == &ChangeStatus::Insync {
        return Ok(());
    }
    wait_insync(p, change.id()).await
}

/// How long a change has to become INSYNC before the apply calls it failed.
const INSYNC_DEADLINE: Duration = Duration::from_secs(600);

/// Polls a change until INSYNC: first soon (an emulator is done at once), then at doubling
/// intervals up to 10 s. Every poll costs one of Route53's five requests a second that the
/// account shares, and a real change takes tens of seconds: polling every second would spend
/// most of the budget on asking.
async fn wait_insync(p: &AwsProvider, change_id: &str) -> Result<(), ProviderError> {
    let started = tokio::time::Instant::now();
    let mut wait = Duration::from_millis(250);
    while started.elapsed() < INSYNC_DEADLINE {
        tokio::time::sleep(wait).await;
        let out = p
            .route53
            .get_change()
            .id(change_id)
            .send()
            .await
            .map_err(aws("GetChange"))?;
        if out.change_info().map(|c| c.status()) == Some(&ChangeStatus::Insync) {
            return Ok(());
        }
        wait = (wait * 2).min(Duration::from_secs(10));
    }
    Err(ProviderError::new(
        ErrorKind::Unavailable,
        format!("Route53 change {change_id} was not INSYNC after 10 minutes"),
    ))
}

// ---------------------------------------------------------------- zones

/// A caller reference for making this address's zone again: Route53 keeps every reference it
/// was given, and at most 128 characters.
fn again_reference(reference: &str) -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let suffix = format!("-r{millis}");
    let base: String = reference.chars().take(128 - suffix.len()).collect();
    format!("{base}{suffix}")
}

/// Whether a hosted zone is the one this address of this state created: the caller reference
/// says so (its own, or one made again after a destroy, `<reference>-r<millis>`).
fn is_own_zone(z: &HostedZone, name: &str, caller_reference: &str) -> bool {
    let again = format!("{caller_reference}-r");
    without_dot(z.name()) == without_dot(name)
        && (z.caller_reference() == caller_reference || z.caller_reference().starts_with(&again))
}

/// A zone this address created before (in an earlier, interrupted run or earlier in this
/// one), from one listing of the account's zones per command that this command's own creates
/// and deletes keep current: a first apply of many zones costs one listing, not a lookup per
/// zone.
async fn zone_made_before(
    p: &AwsProvider,
    name: &str,
    caller_reference: &str,
) -> Result<Option<String>, ProviderError> {
    let zones = p
        .known_zones
        .get_or_try_init(|| async { list_zones(p).await.map(std::sync::Mutex::new) })
        .await?;
    Ok(zones
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .find(|z| is_own_zone(z, name, caller_reference))
        .map(|z| bare_zone_id(z.id()).to_string()))
}

/// A zone of this name whose tags name this address and lineage though its caller reference
/// is another's: one an import marked as this address's (`matihnet import` with marking, or a
/// zone moved to this address). Costs a tag lookup per zone of the same name that is not this
/// address's by reference, so nothing when the name is new.
async fn zone_marked_for(
    p: &AwsProvider,
    ctx: &OperationContext,
    name: &str,
) -> Result<Option<String>, ProviderError> {
    let zones = p
        .known_zones
        .get_or_try_init(|| async { list_zones(p).await.map(std::sync::Mutex::new) })
        .await?;
    let candidates: Vec<String> = zones
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .filter(|z| without_dot(z.name()).eq_ignore_ascii_case(without_dot(name)))
        .map(|z| bare_zone_id(z.id()).to_string())
        .collect();
    let address = ctx.addr.to_string();
    for id in candidates {
        let out = match p
            .route53
            .list_tags_for_resource()
            .resource_type(TagResourceType::Hostedzone)
            .resource_id(&id)
            .send()
            .await
        {
            Ok(o) => o,
            // Listed, but deleted since by something else.
            Err(e) if crate::errors::code(&e) == Some("NoSuchHostedZone") => continue,
            Err(e) => return Err(to_provider_error("ListTagsForResource", &e)),
        };
        let found: Vec<(&str, &str)> = out
            .resource_tag_set()
            .map(|s| s.tags())
            .unwrap_or_default()
            .iter()
            .filter_map(|t| Some((t.key()?, t.value()?)))
            .collect();
        let marks = tags::marks(&found);
        if marks.address == Some(address.as_str()) && marks.lineage == Some(ctx.lineage.as_str()) {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Keeps the listing of `zone_made_before` current after this command creates or deletes.
fn note_zone(p: &AwsProvider, created: Option<&HostedZone>, deleted: Option<&str>) {
    if let Some(zones) = p.known_zones.get() {
        let mut zones = zones
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(id) = deleted {
            zones.retain(|z| bare_zone_id(z.id()) != id);
        }
        if let Some(z) = created {
            zones.push(z.clone());
        }
    }
}

/// A zone this address of this state created before, looked up now.
async fn find_own_zone(
    p: &AwsProvider,
    name: &str,
    caller_reference: &str,
) -> Result<Option<String>, ProviderError> {
    let out = p
        .route53
        .list_hosted_zones_by_name()
        .dns_name(name)
        .max_items(100)
        .send()
        .await
        .map_err(aws("ListHostedZonesByName"))?;
    Ok(out
        .hosted_zones()
        .iter()
        .find(|z| is_own_zone(z, name, caller_reference))
        .map(|z| bare_zone_id(z.id()).to_string()))
}

pub async fn create_zone(
    p: &AwsProvider,
    ctx: &OperationContext,
    desired: &Attrs,
) -> ProviderResult<Attrs> {
    let name = text(desired, "name");
    let reference = tags::caller_reference(ctx);
    let mut created: Option<Vec<String>> = None;
    let before = match zone_made_before(p, name, &reference).await? {
        // Listed, but perhaps deleted since by something else: look before adopting.
        Some(id) => {
            let mut probe = desired.clone();
            probe.insert("id".into(), Value::from(id.as_str()));
            read_zone(p, &probe).await?.map(|_| id)
        }
        None => None,
    };
    let before = match before {
        Some(id) => Some(id),
        None => zone_marked_for(p, ctx, name).await?,
    };
    let id = match before {
        Some(id) => id,
        None => {
            let out = p
                .route53
                .create_hosted_zone()
                .name(name)
                .caller_reference(&reference)
                .send()
                .await;
            let out = match out {
                Err(e) if crate::errors::code(&e) == Some("HostedZoneAlreadyExists") => {
                    match find_own_zone(p, name, &reference).await? {
                        Some(id) => Err(id),
                        // Route53 never takes a caller reference twice, even after its zone was
                        // deleted (an earlier destroy): this address makes its zone again under
                        // a reference that `find_own_zone` still recognises.
                        None => Ok(p
                            .route53
                            .create_hosted_zone()
                            .name(name)
                            .caller_reference(again_reference(&reference))
                            .send()
                            .await
                            .map_err(|e| to_provider_error("CreateHostedZone", &e))?),
                    }
                }
                Err(e) => return Err(to_provider_error("CreateHostedZone", &e).into()),
                Ok(o) => Ok(o),
            };
            match out {
                Ok(o) => {
                    note_zone(p, o.hosted_zone(), None);
                    let id = o
                        .hosted_zone()
                        .map(|z| bare_zone_id(z.id()).to_string())
                        .unwrap_or_default();
                    if let Some(c) = o.change_info() {
                        wait_change(p, c)
                            .await
                            .map_err(|e| partial_zone(e, desired, &id))?;
                    }
                    // The answer carries the name servers: no read is needed after it.
                    created = o.delegation_set().map(|d| {
                        d.name_servers()
                            .iter()
                            .map(|s| without_dot(s).to_string())
                            .collect::<Vec<_>>()
                    });
                    id
                }
                Err(found) => found,
            }
        }
    };
    let t: Vec<Tag> = tags::for_object(ctx, name, &[])
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    p.route53
        .change_tags_for_resource()
        .resource_type(TagResourceType::Hostedzone)
        .resource_id(&id)
        .set_add_tags(Some(t))
        .send()
        .await
        .map_err(|e| partial_zone(to_provider_error("ChangeTagsForResource", &e), desired, &id))?;
    let mut attrs = desired.clone();
    attrs.insert("id".into(), Value::from(id));
    if let Some(servers) = created.filter(|s| !s.is_empty()) {
        attrs.insert("name_servers".into(), Value::string_list(servers));
        return Ok(attrs);
    }
    match read_zone(p, &attrs).await? {
        Some(a) => Ok(a),
        None => Err(invalid(format!(
            "hosted zone {name} vanished right after it was created"
        ))
        .into()),
    }
}

fn partial_zone(error: ProviderError, desired: &Attrs, id: &str) -> ProviderFailure {
    let mut attrs = desired.clone();
    attrs.insert("id".into(), Value::from(id));
    ProviderFailure {
        error,
        partial: Some(attrs),
    }
}

pub async fn read_zone(p: &AwsProvider, prior: &Attrs) -> Result<Option<Attrs>, ProviderError> {
    let id = text(prior, "id");
    let out = match p.route53.get_hosted_zone().id(id).send().await {
        Ok(o) => o,
        Err(e) if crate::errors::code(&e) == Some("NoSuchHostedZone") => return Ok(None),
        Err(e) => return Err(to_provider_error("GetHostedZone", &e)),
    };
    let mut attrs = prior.clone();
    if let Some(z) = out.hosted_zone() {
        attrs.insert("name".into(), Value::from(without_dot(z.name())));
    }
    let servers: Vec<String> = out
        .delegation_set()
        .map(|d| {
            d.name_servers()
                .iter()
                .map(|s| without_dot(s).to_string())
                .collect()
        })
        .unwrap_or_default();
    let servers = in_prior_order(&texts(prior, "name_servers"), servers);
    attrs.insert("name_servers".into(), Value::string_list(servers));
    Ok(Some(attrs))
}

/// Takes over the hosted zone named by its id (`Z…`, or `/hostedzone/Z…`) or by its domain
/// (`matih.ai`, with or without the root's dot): its name and name servers, read from Route53.
/// With `mark`, the zone gets this address's ownership tags.
pub async fn import_zone(
    p: &AwsProvider,
    ctx: &OperationContext,
    id: &str,
    mark: bool,
) -> Result<Attrs, ProviderError> {
    let kind = ctx.addr.kind.as_str();
    let zone_id = if tags::is_zone_id(id) {
        bare_zone_id(id).to_string()
    } else if let Some(found) = tags::id_names(id) {
        return Err(ownership::wrong_kind(kind, id, found));
    } else {
        zone_named(p, kind, id).await?
    };
    let prior = Attrs::from([("id".to_string(), Value::from(zone_id.as_str()))]);
    let attrs = read_zone(p, &prior)
        .await?
        .ok_or_else(|| ownership::not_found(kind, id))?;
    let out = p
        .route53
        .list_tags_for_resource()
        .resource_type(TagResourceType::Hostedzone)
        .resource_id(&zone_id)
        .send()
        .await
        .map_err(aws("ListTagsForResource"))?;
    let found: Vec<(&str, &str)> = out
        .resource_tag_set()
        .map(|s| s.tags())
        .unwrap_or_default()
        .iter()
        .filter_map(|t| Some((t.key()?, t.value()?)))
        .collect();
    let address = ctx.addr.to_string();
    ownership::check_importable(
        &format!("hosted zone {} ({zone_id})", text(&attrs, "name")),
        tags::marks(&found),
        Marks::of(ctx, &address),
    )?;
    if mark {
        let t: Vec<Tag> = tags::ownership(ctx)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        p.route53
            .change_tags_for_resource()
            .resource_type(TagResourceType::Hostedzone)
            .resource_id(&zone_id)
            .set_add_tags(Some(t))
            .send()
            .await
            .map_err(aws("ChangeTagsForResource"))?;
    }
    Ok(attrs)
}

/// The id of the one hosted zone named `domain`; several of that name (Route53 allows it) must
/// be told apart by id.
async fn zone_named(p: &AwsProvider, kind: &str, domain: &str) -> Result<String, ProviderError> {
    let wanted = without_dot(domain);
    let out = p
        .route53
        .list_hosted_zones_by_name()
        .dns_name(wanted)
        .max_items(100)
        .send()
        .await
        .map_err(aws("ListHostedZonesByName"))?;
    let ids: Vec<String> = out
        .hosted_zones()
        .iter()
        .filter(|z| without_dot(z.name()).eq_ignore_ascii_case(wanted))
        .map(|z| bare_zone_id(z.id()).to_string())
        .collect();
    match ids.as_slice() {
        [] => Err(ownership::not_found(kind, domain)),
        [one] => Ok(one.clone()),
        many => Err(invalid(format!(
            "{} hosted zones are named {wanted} ({}): import one by its id",
            many.len(),
            many.join(", ")
        ))),
    }
}

pub async fn delete_zone(p: &AwsProvider, prior: &Attrs) -> Result<(), ProviderError> {
    match p.route53.delete_hosted_zone().id(text(prior, "id")).send().await {
        Ok(o) => {
            note_zone(p, None, Some(text(prior, "id")));
            if let Some(c) = o.change_info() {
                wait_change(p, c).await?;
            }
            Ok(())
        }
        Err(e) if crate::errors::code(&e) == Some("NoSuchHostedZone") => Ok(()),
        Err(e) if crate::errors::code(&e) == Some("HostedZoneNotEmpty") => Err(ProviderError::new(
            ErrorKind::Rejected,
            format!(
                "hosted zone {} still holds records matihnet did not create (cert-manager's _acme-challenge TXT records, for example); delete them, then run destroy again",
                text(prior, "name")
            ),
        )),
        Err(e) => Err(to_provider_error("DeleteHostedZone", &e)),
    }
}

// ---------------------------------------------------------------- records

fn record_type(t: &str) -> RrType {
    RrType::from(t)
}

fn record_set(desired: &Attrs) -> Result<ResourceRecordSet, ProviderError> {
    let name = fqdn(text(desired, "name"), text(desired, "zone_name"));
    let mut b = ResourceRecordSet::builder()
        .name(&name)
        .r#type(record_type(text(desired, "type")));
    let alias = text(desired, "alias_dns_name");
    if !alias.is_empty() {
        b = b.alias_target(
            AliasTarget::builder()
                .dns_name(alias)
                .hosted_zone_id(text(desired, "alias_zone_id"))
                .evaluate_target_health(false)
                .build()
                .map_err(|e| invalid(format!("alias for {name}: {e}")))?,
        );
    } else {
        let ttl = desired.get("ttl").and_then(Value::as_int).unwrap_or(300);
        b = b.ttl(ttl);
        for v in texts(desired, "values") {
            b = b.resource_records(
                ResourceRecord::builder()
                    .value(v)
                    .build()
                    .map_err(|e| invalid(format!("record {name}: {e}")))?,
            );
        }
    }
    b.build()
        .map_err(|e| invalid(format!("record {name}: {e}")))
}

/// One record change, sent with the others queued for its zone in the same moment
/// (`core::batches`); its own answer comes back whatever its neighbours' are.
async fn change(
    p: &AwsProvider,
    zone_id: &str,
    action: ChangeAction,
    set: ResourceRecordSet,
) -> Result<(), ProviderError> {
    let one = Change::builder()
        .action(action)
        .resource_record_set(set)
        .build()
        .map_err(|e| invalid(e.to_string()))?;
    p.record_batches
        .submit(zone_id, one, &p.pacer, "route53", |changes| {
            send_changes(p, zone_id, changes)
        })
        .await
}

async fn send_changes(
    p: &AwsProvider,
    zone_id: &str,
    changes: Vec<Change>,
) -> Result<(), ProviderError> {
    let batch = ChangeBatch::builder()
        .set_changes(Some(changes))
        .build()
        .map_err(|e| invalid(e.to_string()))?;
    let out = p
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(batch)
        .send()
        .await
        .map_err(aws("ChangeResourceRecordSets"))?;
    if let Some(c) = out.change_info() {
        wait_change(p, c).await?;
    }
    Ok(())
}

/// An update is an UPSERT. A create is a CREATE, which Route53 refuses for a name and type
/// that exist: a record with exactly these values (written just before a crash) is adopted,
/// and one with other values is someone else's (in an existing zone, say) and never
/// overwritten.
pub async fn upsert_record(
    p: &AwsProvider,
    desired: &Attrs,
    prior: Option<&Attrs>,
) -> Result<Attrs, ProviderError> {
    let zone_id = text(desired, "zone_id");
    let action = if prior.is_some() {
        ChangeAction::Upsert
    } else {
        ChangeAction::Create
    };
    match change(p, zone_id, action, record_set(desired)?).await {
        Ok(()) => {}
        Err(e) if prior.is_none() && e.kind == ErrorKind::Rejected => {
            match current(p, desired).await? {
                Some(set) if same_record(&record_attrs(desired, &set), desired) => {}
                Some(_) => {
                    return Err(ownership::foreign_record(
                        &format!(
                            "record set {} {}",
                            fqdn(text(desired, "name"), text(desired, "zone_name")),
                            text(desired, "type")
                        ),
                        &format!(
                            "{zone_id}/{}/{}",
                            fqdn(text(desired, "name"), text(desired, "zone_name")),
                            text(desired, "type")
                        ),
                    ))
                }
                // Refused, yet there is no such record (moto refuses a CREATE it has journalled
                // before, even once the record is deleted): nobody's record is overwritten.
                None => change(p, zone_id, ChangeAction::Upsert, record_set(desired)?).await?,
            }
        }
        Err(e) => return Err(e),
    }
    let mut attrs = desired.clone();
    attrs.insert(
        "id".into(),
        Value::from(format!(
            "{zone_id}/{}/{}",
            fqdn(text(desired, "name"), text(desired, "zone_name")),
            text(desired, "type")
        )),
    );
    Ok(attrs)
}

async fn current(
    p: &AwsProvider,
    prior: &Attrs,
) -> Result<Option<ResourceRecordSet>, ProviderError> {
    let name = fqdn(text(prior, "name"), text(prior, "zone_name"));
    let out = match p
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(text(prior, "zone_id"))
        .start_record_name(&name)
        .start_record_type(record_type(text(prior, "type")))
        .max_items(1)
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) if crate::errors::code(&e) == Some("NoSuchHostedZone") => return Ok(None),
        Err(e) => return Err(to_provider_error("ListResourceRecordSets", &e)),
    };
    Ok(out
        .resource_record_sets()
        .iter()
        .find(|r| {
            unescape(r.name()).eq_ignore_ascii_case(&name)
                && r.r#type().as_str() == text(prior, "type")
        })
        .cloned())
}

pub async fn read_record(p: &AwsProvider, prior: &Attrs) -> Result<Option<Attrs>, ProviderError> {
    Ok(current(p, prior)
        .await?
        .map(|set| record_attrs(prior, &set)))
}

/// Every record set of a zone by lower-case name and type; `None` when the zone is gone.
async fn all_records(
    p: &AwsProvider,
    zone_id: &str,
) -> Result<Option<HashMap<(String, String), ResourceRecordSet>>, ProviderError> {
    let mut found = HashMap::new();
    let mut next: Option<(String, Option<RrType>, Option<String>)> = None;
    loop {
        let mut req = p
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone_id);
        if let Some((name, kind, identifier)) = &next {
            req = req
                .start_record_name(name)
                .set_start_record_type(kind.clone())
                .set_start_record_identifier(identifier.clone());
        }
        let page = match req.send().await {
            Ok(o) => o,
            Err(e) if crate::errors::code(&e) == Some("NoSuchHostedZone") => return Ok(None),
            Err(e) => return Err(to_provider_error("ListResourceRecordSets", &e)),
        };
        for r in page.resource_record_sets() {
            let key = (
                unescape(r.name()).to_ascii_lowercase(),
                r.r#type().as_str().to_string(),
            );
            found.insert(key, r.clone());
        }
        if !page.is_truncated() {
            return Ok(Some(found));
        }
        next = Some((
            page.next_record_name().unwrap_or_default().to_string(),
            page.next_record_type().cloned(),
            page.next_record_identifier().map(str::to_string),
        ));
    }
}

/// Reads many records with one listing per zone (300 record sets a page) instead of one
/// request each; a zone with a single record to read is read alone.
pub async fn read_records(
    p: &AwsProvider,
    priors: &[&Attrs],
) -> Vec<Result<Option<Attrs>, ProviderError>> {
    read_by_listing(
        priors,
        |prior| text(prior, "zone_id").to_string(),
        |prior| read_record(p, prior),
        |zone_id| async move { all_records(p, &zone_id).await },
        |prior, sets| {
            let key = (
                fqdn(text(prior, "name"), text(prior, "zone_name")).to_ascii_lowercase(),
                text(prior, "type").to_string(),
            );
            sets.get(&key).map(|set| record_attrs(prior, set))
        },
    )
    .await
}

/// Reads many zones with one listing of the account's hosted zones (100 a page). A zone's
/// delegation set is fixed when Route53 creates it, so its name servers are the ones recorded;
/// a zone recorded without them is read alone.
pub async fn read_zones(
    p: &AwsProvider,
    priors: &[&Attrs],
) -> Vec<Result<Option<Attrs>, ProviderError>> {
    let listed_alone = |prior: &Attrs| texts(prior, "name_servers").is_empty();
    read_by_listing(
        priors,
        // Every zone with recorded name servers is in one group: the account's list.
        |prior| {
            if listed_alone(prior) {
                text(prior, "id").to_string()
            } else {
                String::new()
            }
        },
        |prior| read_zone(p, prior),
        |_| all_zones(p),
        |prior, zones| {
            zones.get(bare_zone_id(text(prior, "id"))).map(|name| {
                let mut attrs = prior.clone();
                attrs.insert("name".into(), Value::from(name.as_str()));
                attrs
            })
        },
    )
    .await
}

/// Every hosted zone of the account, as Route53 lists them.
async fn list_zones(p: &AwsProvider) -> Result<Vec<HostedZone>, ProviderError> {
    let mut listed = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = p
            .route53
            .list_hosted_zones()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| to_provider_error("ListHostedZones", &e))?;
        listed.extend(page.hosted_zones().iter().cloned());
        marker = page.next_marker().map(str::to_string);
        if !page.is_truncated() || marker.is_none() {
            return Ok(listed);
        }
    }
}

/// Every hosted zone of the account, id to name.
async fn all_zones(p: &AwsProvider) -> Result<Option<HashMap<String, String>>, ProviderError> {
    Ok(Some(
        list_zones(p)
            .await?
            .iter()
            .map(|z| {
                (
                    bare_zone_id(z.id()).to_string(),
                    without_dot(z.name()).to_string(),
                )
            })
            .collect(),
    ))
}

/// Whether a record read back holds what `desired` asks (values in any order).
fn same_record(found: &Attrs, desired: &Attrs) -> bool {
    let sorted = |a: &Attrs| {
        let mut v = texts(a, "values");
        v.sort();
        v
    };
    ["ttl", "alias_dns_name", "alias_zone_id"]
        .iter()
        .all(|k| desired.get(*k).is_none() || found.get(*k) == desired.get(*k))
        && sorted(found) == sorted(desired)
}

fn record_attrs(prior: &Attrs, set: &ResourceRecordSet) -> Attrs {
    let mut attrs = prior.clone();
    if let Some(alias) = set.alias_target() {
        // Route53 answers the target with a trailing dot (and may change its case); the file's
        // names have neither, and a difference of spelling is no drift.
        attrs.insert(
            "alias_dns_name".into(),
            Value::from(without_dot(alias.dns_name()).to_ascii_lowercase()),
        );
        attrs.insert("alias_zone_id".into(), Value::from(alias.hosted_zone_id()));
    } else {
        let values: Vec<String> = set
            .resource_records()
            .iter()
            .map(|r| without_dot(r.value()).to_string())
            .collect();
        let values = in_prior_order(&texts(prior, "values"), values);
        attrs.insert("values".into(), Value::string_list(values));
        if let Some(ttl) = set.ttl() {
            attrs.insert("ttl".into(), Value::Int(ttl));
        }
    }
    attrs
}

/// Takes over the record set `<zone id>/<name>./<type>` (the id a create records): its zone,
/// name, type and values or alias target, read from Route53. Record sets take no tags, so there
/// is nothing to check or mark: a record is ours by its name inside a zone this state owns.
pub async fn import_record(
    p: &AwsProvider,
    ctx: &OperationContext,
    id: &str,
) -> Result<Attrs, ProviderError> {
    let kind = ctx.addr.kind.as_str();
    tags::expect_id(
        kind,
        id,
        |i| tags::record_id_parts(i).is_some(),
        "`<zone id>/<name>./<type>`",
    )?;
    let Some((zone_id, name, rtype)) = tags::record_id_parts(id) else {
        return Err(ownership::not_found(kind, id));
    };
    let zone = match p.route53.get_hosted_zone().id(zone_id).send().await {
        Ok(o) => o,
        Err(e) if crate::errors::code(&e) == Some("NoSuchHostedZone") => {
            return Err(ownership::not_found(kind, id))
        }
        Err(e) => return Err(to_provider_error("GetHostedZone", &e)),
    };
    let zone_name = zone
        .hosted_zone()
        .map(|z| without_dot(z.name()).to_string())
        .unwrap_or_default();
    let name = without_dot(name);
    // The file names records relative to their zone, `@` for the apex.
    let relative = if name.eq_ignore_ascii_case(&zone_name) {
        "@".to_string()
    } else {
        let suffix = format!(".{zone_name}");
        match name
            .len()
            .checked_sub(suffix.len())
            .filter(|&at| name.is_char_boundary(at) && name[at..].eq_ignore_ascii_case(&suffix))
        {
            Some(at) => name[..at].to_string(),
            // A name outside the zone names no record of it.
            None => return Err(ownership::not_found(kind, id)),
        }
    };
    let prior = Attrs::from([
        ("zone_id".to_string(), Value::from(zone_id)),
        ("zone_name".to_string(), Value::from(zone_name.as_str())),
        ("name".to_string(), Value::from(relative.as_str())),
        ("type".to_string(), Value::from(rtype)),
    ]);
    let set = current(p, &prior)
        .await?
        .ok_or_else(|| ownership::not_found(kind, id))?;
    let mut attrs = record_attrs(&prior, &set);
    if set.alias_target().is_some() {
        // As the mapping records an alias: no values of its own.
        attrs.insert("values".into(), Value::List(Vec::new()));
    } else {
        // The cloud says it is no alias: said explicitly, so that a file that wants an alias
        // here sees the difference instead of its own values filled in for what is absent.
        attrs.insert("alias_dns_name".into(), Value::from(""));
        attrs.insert("alias_zone_id".into(), Value::from(""));
    }
    attrs.insert(
        "id".into(),
        Value::from(format!("{zone_id}/{}/{rtype}", fqdn(&relative, &zone_name))),
    );
    Ok(attrs)
}

pub async fn delete_record(p: &AwsProvider, prior: &Attrs) -> Result<(), ProviderError> {
    // DELETE must name the record exactly as it is now.
    let Some(set) = current(p, prior).await? else {
        return Ok(());
    };
    change(p, text(prior, "zone_id"), ChangeAction::Delete, set).await
}
