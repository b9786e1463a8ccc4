//! The local AWS's Route53 held to moto: the EKS provider's whole use of Route53 (zones, an NS
//! delegation, A and alias records, changes waited on until INSYNC, tags, deletion) driven
//! through the SDK against both, compared step by step. Where moto departs from AWS's
//! documented behaviour the local AWS follows AWS, and the step names the field and the reason.

mod sdk_clients;

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_route53::error::ProvideErrorMetadata;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ChangeStatus, HostedZoneConfig, ResourceRecord,
    ResourceRecordSet, RrType, Tag, TagResourceType,
};
use aws_sdk_route53::Client;
use matihnet_e2e::localcloud::LocalCloud;
use matihnet_e2e::moto::Moto;
use sdk_clients::{assert_same, normalize, Clients, Step};

const PARENT: &str = "matihnet-diff.test";
const CHILD: &str = "eks.matihnet-diff.test";
const PARENT_REFERENCE: &str = "matihnet-diff-parent";
/// eu-west-1's Network Load Balancer zone, as the provider's alias records name it.
const NLB_ZONE: &str = "Z2IFOLAFXWLO4F";
const NLB_DNS: &str = "matihnet-nlb-0123456789.elb.eu-west-1.amazonaws.com";

/// The zone ids, change ids and text the two emulators generate differently.
const IDS: [&str; 2] = ["/hostedzone/", "/change/"];

fn without_dot(name: &str) -> &str {
    name.trim_end_matches('.')
}

/// The provider reads names with `\052` turned back into `*`.
fn unescape(name: &str) -> String {
    name.replace("\\052", "*")
}

/// A zone id as `/hostedzone/<id>` whichever form it came in, so `normalize` sees it.
fn zone_path(id: &str) -> String {
    format!("/hostedzone/{}", id.trim_start_matches("/hostedzone/"))
}

/// `/change/<id>` when the id has AWS's form; the id itself otherwise.
fn change_shape(id: &str) -> String {
    match id.strip_prefix("/change/") {
        Some(rest) if !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric()) => {
            "/change/<id>".into()
        }
        _ => id.into(),
    }
}

/// A step whose outcome itself differs between moto and AWS: the outcome becomes a field, so an
/// exception can name it.
fn outcome_as_field(step: Step) -> Step {
    Step {
        name: step.name,
        outcome: "compared as a field".into(),
        fields: [("outcome".to_string(), step.outcome)]
            .into_iter()
            .collect(),
    }
}

fn plain_set(name: &str, kind: &str, ttl: i64, values: &[&str]) -> ResourceRecordSet {
    let mut b = ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::from(kind))
        .ttl(ttl);
    for v in values {
        b = b.resource_records(ResourceRecord::builder().value(*v).build().expect("record"));
    }
    b.build().expect("record set")
}

fn alias_set(name: &str) -> ResourceRecordSet {
    ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::A)
        .alias_target(
            AliasTarget::builder()
                .dns_name(NLB_DNS)
                .hosted_zone_id(NLB_ZONE)
                .evaluate_target_health(false)
                .build()
                .expect("alias"),
        )
        .build()
        .expect("record set")
}

fn batch(changes: Vec<(ChangeAction, ResourceRecordSet)>) -> ChangeBatch {
    let mut b = ChangeBatch::builder();
    for (action, set) in changes {
        b = b.changes(
            Change::builder()
                .action(action)
                .resource_record_set(set)
                .build()
                .expect("change"),
        );
    }
    b.build().expect("batch")
}

struct Scenario<'a> {
    r53: &'a Client,
    steps: Vec<Step>,
    change_ids: Vec<String>,
}

impl Scenario<'_> {
    fn push(&mut self, step: Step) {
        self.steps.push(step);
    }

    async fn create_zone(
        &mut self,
        step: &str,
        name: &str,
        reference: &str,
    ) -> (String, Vec<String>) {
        match self
            .r53
            .create_hosted_zone()
            .name(name)
            .caller_reference(reference)
            .hosted_zone_config(HostedZoneConfig::builder().comment(step).build())
            .send()
            .await
        {
            Ok(out) => {
                let zone = out.hosted_zone().expect("hosted zone");
                let change = out.change_info().expect("change info");
                self.change_ids.push(change.id().to_string());
                let servers: Vec<String> = out
                    .delegation_set()
                    .map(|d| d.name_servers().to_vec())
                    .unwrap_or_default();
                let distinct: BTreeSet<&String> = servers.iter().collect();
                self.push(Step::ok(
                    step,
                    &[
                        ("id", zone_path(zone.id())),
                        ("name", zone.name().to_string()),
                        ("caller_reference", zone.caller_reference().to_string()),
                        (
                            "comment",
                            zone.config()
                                .and_then(|c| c.comment())
                                .unwrap_or_default()
                                .to_string(),
                        ),
                        (
                            "private",
                            zone.config()
                                .map(|c| c.private_zone())
                                .unwrap_or_default()
                                .to_string(),
                        ),
                        (
                            "rrset_count",
                            format!("{:?}", zone.resource_record_set_count()),
                        ),
                        ("location", out.location().to_string()),
                        ("change_id", change_shape(change.id())),
                        ("change_status", change.status().as_str().to_string()),
                        ("name_servers", servers.len().to_string()),
                        (
                            "name_servers_distinct",
                            (distinct.len() == servers.len()).to_string(),
                        ),
                    ],
                ));
                (
                    zone.id().trim_start_matches("/hostedzone/").to_string(),
                    servers,
                )
            }
            Err(e) => {
                self.push(Step::err(step, &e));
                (String::new(), Vec::new())
            }
        }
    }

    /// A CreateHostedZone AWS refuses and moto accepts: compared by outcome, and a zone moto
    /// made anyway is deleted so the later steps see the same zones.
    async fn create_refused(&mut self, step: &str, name: &str, reference: &str) {
        match self
            .r53
            .create_hosted_zone()
            .name(name)
            .caller_reference(reference)
            .send()
            .await
        {
            Ok(out) => {
                self.push(outcome_as_field(Step::ok(step, &[])));
                if let Some(z) = out.hosted_zone() {
                    let _ = self.r53.delete_hosted_zone().id(z.id()).send().await;
                }
            }
            Err(e) => self.push(outcome_as_field(Step::err(step, &e))),
        }
    }

    async fn list_zones(&mut self, step: &str, dns_name: Option<&str>, max: Option<i32>) {
        match self
            .r53
            .list_hosted_zones_by_name()
            .set_dns_name(dns_name.map(str::to_string))
            .set_max_items(max)
            .send()
            .await
        {
            Ok(out) => {
                let names: Vec<&str> = out.hosted_zones().iter().map(|z| z.name()).collect();
                let ids: Vec<String> = out
                    .hosted_zones()
                    .iter()
                    .map(|z| zone_path(z.id()))
                    .collect();
                self.push(Step::ok(
                    step,
                    &[
                        ("names", names.join(" ")),
                        ("ids", ids.join(" ")),
                        ("dns_name", out.dns_name().unwrap_or_default().to_string()),
                        ("is_truncated", out.is_truncated().to_string()),
                        (
                            "next_dns_name",
                            out.next_dns_name().unwrap_or_default().to_string(),
                        ),
                        (
                            "next_zone_id",
                            out.next_hosted_zone_id().map(zone_path).unwrap_or_default(),
                        ),
                    ],
                ));
            }
            Err(e) => self.push(Step::err(step, &e)),
        }
    }

    async fn change(
        &mut self,
        step: &str,
        zone: &str,
        changes: Vec<(ChangeAction, ResourceRecordSet)>,
    ) -> Option<String> {
        let out = self
            .r53
            .change_resource_record_sets()
            .hosted_zone_id(zone)
            .change_batch(batch(changes))
            .send()
            .await;
        match out {
            Ok(out) => {
                let change = out.change_info().expect("change info");
                self.change_ids.push(change.id().to_string());
                self.push(Step::ok(
                    step,
                    &[
                        ("change_id", change_shape(change.id())),
                        ("change_status", change.status().as_str().to_string()),
                    ],
                ));
                Some(change.id().to_string())
            }
            Err(e) => {
                let mut s = Step::err(step, &e);
                let message = e.message().unwrap_or_default();
                s.fields.insert(
                    "message_says_already_exists".into(),
                    message.contains("but it already exists").to_string(),
                );
                self.push(s);
                None
            }
        }
    }

    /// Every set of a zone as the provider reads them, plus what AWS writes differently.
    async fn list_records(
        &mut self,
        step: &str,
        zone: &str,
        delegated: &[String],
        apex: &[String],
    ) {
        let out = match self
            .r53
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => return self.push(Step::err(step, &e)),
        };
        let sets = out.resource_record_sets();
        let mut fields = vec![
            (
                "sets",
                sets.iter()
                    .map(|r| format!("{} {}", unescape(r.name()), r.r#type().as_str()))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            (
                "raw_names",
                sets.iter()
                    .map(|r| r.name().to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            ("is_truncated", out.is_truncated().to_string()),
        ];
        let mut details = Vec::new();
        for r in sets {
            let name = unescape(r.name());
            let kind = r.r#type().as_str();
            let values: Vec<&str> = r.resource_records().iter().map(|v| v.value()).collect();
            if kind == "SOA" {
                let value = values.first().copied().unwrap_or_default();
                let (first, tail) = value.split_once(' ').unwrap_or((value, ""));
                fields.push((
                    "soa_names_first_server",
                    apex.first()
                        .is_some_and(|s| without_dot(first) == s)
                        .to_string(),
                ));
                fields.push(("soa_tail", tail.to_string()));
                fields.push(("soa_ttl", format!("{:?}", r.ttl())));
                continue;
            }
            if kind == "NS" {
                let servers: BTreeSet<&str> = values.iter().map(|v| without_dot(v)).collect();
                let expected: BTreeSet<&str> = if name == format!("{PARENT}.") {
                    apex.iter().map(String::as_str).collect()
                } else {
                    delegated.iter().map(String::as_str).collect()
                };
                details.push(format!(
                    "{name} NS ttl={:?} servers_match={}",
                    r.ttl(),
                    servers == expected
                ));
                if name == format!("{PARENT}.") {
                    fields.push((
                        "apex_ns_trailing_dots",
                        values.iter().all(|v| v.ends_with('.')).to_string(),
                    ));
                }
                continue;
            }
            match r.alias_target() {
                Some(a) => {
                    details.push(format!(
                        "{name} {kind} alias zone={} evaluate={} ttl={:?}",
                        a.hosted_zone_id(),
                        a.evaluate_target_health(),
                        r.ttl()
                    ));
                    fields.push(("alias_dns_name", a.dns_name().to_string()));
                }
                None => {
                    let mut values = values.clone();
                    values.sort();
                    details.push(format!(
                        "{name} {kind} ttl={:?} values={}",
                        r.ttl(),
                        values.join(",")
                    ));
                }
            }
        }
        fields.push(("details", details.join("; ")));
        self.push(Step::ok(step, &fields));
    }

    /// The provider's `current`: list from the set's name and type, one item.
    async fn current(
        &self,
        zone: &str,
        name: &str,
        kind: &str,
    ) -> Result<(Option<ResourceRecordSet>, Step), Step> {
        let step = format!("current {name} {kind}");
        match self
            .r53
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .start_record_name(name)
            .start_record_type(RrType::from(kind))
            .max_items(1)
            .send()
            .await
        {
            Ok(out) => {
                let found = out
                    .resource_record_sets()
                    .iter()
                    .find(|r| {
                        unescape(r.name()).eq_ignore_ascii_case(name) && r.r#type().as_str() == kind
                    })
                    .cloned();
                let listed: Vec<String> = out
                    .resource_record_sets()
                    .iter()
                    .map(|r| format!("{} {}", unescape(r.name()), r.r#type().as_str()))
                    .collect();
                let s = Step::ok(
                    &step,
                    &[
                        ("found", found.is_some().to_string()),
                        ("listed", listed.join(", ")),
                        ("is_truncated", out.is_truncated().to_string()),
                        (
                            "next_record",
                            format!(
                                "{} {}",
                                out.next_record_name().map(unescape).unwrap_or_default(),
                                out.next_record_type()
                                    .map(|t| t.as_str())
                                    .unwrap_or_default()
                            ),
                        ),
                    ],
                );
                Ok((found, s))
            }
            Err(e) => Err(Step::err(&step, &e)),
        }
    }

    async fn delete_zone(&mut self, step: &str, zone: &str) {
        match self.r53.delete_hosted_zone().id(zone).send().await {
            Ok(out) => {
                let change = out.change_info().expect("change info");
                self.change_ids.push(change.id().to_string());
                self.push(Step::ok(
                    step,
                    &[
                        ("change_id", change_shape(change.id())),
                        ("change_status", change.status().as_str().to_string()),
                    ],
                ));
            }
            Err(e) => self.push(Step::err(step, &e)),
        }
    }

    async fn tags(&mut self, step: &str, zone: &str, add: &[(&str, &str)], remove: &[&str]) {
        let tags: Vec<Tag> = add
            .iter()
            .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
            .collect();
        let out = self
            .r53
            .change_tags_for_resource()
            .resource_type(TagResourceType::Hostedzone)
            .resource_id(zone)
            .set_add_tags((!tags.is_empty()).then_some(tags))
            .set_remove_tag_keys(
                (!remove.is_empty()).then(|| remove.iter().map(|k| k.to_string()).collect()),
            )
            .send()
            .await;
        match out {
            Ok(_) => self.push(Step::ok(step, &[])),
            Err(e) => self.push(Step::err(step, &e)),
        }
    }
}

async fn scenario(c: &Clients) -> Vec<Step> {
    let mut s = Scenario {
        r53: &c.route53,
        steps: Vec::new(),
        change_ids: Vec::new(),
    };

    // ---- zones
    let (parent, parent_servers) = s
        .create_zone("create_zone_parent", PARENT, PARENT_REFERENCE)
        .await;
    let (child, child_servers) = s
        .create_zone("create_zone_child", CHILD, "matihnet-diff-child")
        .await;
    let shared: BTreeSet<&String> = parent_servers
        .iter()
        .filter(|n| child_servers.contains(n))
        .collect();
    s.push(Step::ok(
        "zones_have_their_own_name_servers",
        &[("shared", shared.len().to_string())],
    ));
    s.create_refused(
        "create_zone_reused_reference",
        "other.matihnet-diff.test",
        PARENT_REFERENCE,
    )
    .await;
    match s.r53.get_hosted_zone().id(&parent).send().await {
        Ok(out) => {
            let zone = out.hosted_zone().expect("hosted zone");
            let servers: Vec<String> = out
                .delegation_set()
                .map(|d| d.name_servers().to_vec())
                .unwrap_or_default();
            s.push(Step::ok(
                "get_zone_parent",
                &[
                    ("id", zone_path(zone.id())),
                    ("name", zone.name().to_string()),
                    ("caller_reference", zone.caller_reference().to_string()),
                    (
                        "rrset_count",
                        format!("{:?}", zone.resource_record_set_count()),
                    ),
                    (
                        "name_servers_as_created",
                        (servers == parent_servers).to_string(),
                    ),
                ],
            ));
        }
        Err(e) => s.push(Step::err("get_zone_parent", &e)),
    }
    s.list_zones("list_zones_all", None, None).await;
    // The provider's lookup of its own zone: by name, up to 100, then filtered by name.
    s.list_zones("list_zones_by_child_name", Some(CHILD), Some(100))
        .await;
    s.list_zones("list_zones_first_page", Some(PARENT), Some(1))
        .await;

    // ---- records: the delegation, an A record, an alias and a wildcard in one batch
    let delegation: Vec<String> = child_servers.iter().map(|n| format!("{n}.")).collect();
    let delegation_refs: Vec<&str> = delegation.iter().map(String::as_str).collect();
    let batch_change = s
        .change(
            "upsert_delegation_and_records",
            &parent,
            vec![
                (
                    ChangeAction::Upsert,
                    plain_set(&format!("{CHILD}."), "NS", 172_800, &delegation_refs),
                ),
                (
                    ChangeAction::Upsert,
                    plain_set(&format!("api.{PARENT}."), "A", 300, &["10.0.0.10"]),
                ),
                (
                    ChangeAction::Upsert,
                    alias_set(&format!("ingress.{PARENT}.")),
                ),
                (
                    ChangeAction::Upsert,
                    plain_set(&format!("*.apps.{PARENT}."), "A", 60, &["10.0.0.11"]),
                ),
            ],
        )
        .await;
    s.change(
        "create_www",
        &parent,
        vec![(
            ChangeAction::Create,
            plain_set(&format!("www.{PARENT}."), "A", 300, &["10.0.0.12"]),
        )],
    )
    .await;
    // The first change is valid, the second is not: neither is applied.
    s.change(
        "create_existing",
        &parent,
        vec![
            (
                ChangeAction::Create,
                plain_set(&format!("new.{PARENT}."), "A", 300, &["10.0.0.13"]),
            ),
            (
                ChangeAction::Create,
                plain_set(&format!("www.{PARENT}."), "A", 300, &["10.0.0.12"]),
            ),
        ],
    )
    .await;
    s.list_records("list_records", &parent, &child_servers, &parent_servers)
        .await;
    for (name, kind) in [
        (format!("api.{PARENT}."), "A"),
        (format!("gone.{PARENT}."), "A"),
    ] {
        match s.current(&parent, &name, kind).await {
            Ok((_, step)) | Err(step) => s.push(step),
        }
    }

    // ---- waiting for the batch as the provider does
    // Polled as the provider's `wait_insync` does, with a short sleep and a bound.
    if let Some(id) = batch_change {
        let mut first: Option<ChangeStatus> = None;
        let mut last: Option<ChangeStatus> = None;
        let mut failed = None;
        for _ in 0..200 {
            match s.r53.get_change().id(&id).send().await {
                Ok(out) => {
                    last = out.change_info().map(|c| c.status().clone());
                    if first.is_none() {
                        first = last.clone();
                    }
                    if last == Some(ChangeStatus::Insync) {
                        break;
                    }
                }
                Err(e) => {
                    failed = Some(Step::err("get_change", &e));
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let text =
            |st: Option<ChangeStatus>| st.map(|x| x.as_str().to_string()).unwrap_or_default();
        s.push(failed.unwrap_or_else(|| {
            Step::ok(
                "get_change",
                &[("first_status", text(first)), ("final_status", text(last))],
            )
        }));
    }
    match s.r53.get_change().id("C0NOTACHANGE0000").send().await {
        Ok(_) => s.push(outcome_as_field(Step::ok("get_unknown_change", &[]))),
        Err(e) => s.push(outcome_as_field(Step::err("get_unknown_change", &e))),
    }

    // ---- tags, as the provider writes them
    s.tags(
        "tag_zone",
        &parent,
        &[
            ("Name", PARENT),
            ("matihnet:lineage", "diff"),
            ("matihnet:address", "dns.zone"),
        ],
        &[],
    )
    .await;
    s.tags("untag_zone", &parent, &[], &["Name"]).await;
    match s
        .r53
        .list_tags_for_resource()
        .resource_type(TagResourceType::Hostedzone)
        .resource_id(&parent)
        .send()
        .await
    {
        Ok(out) => {
            let set = out.resource_tag_set();
            let mut tags: Vec<String> = set
                .map(|t| {
                    t.tags()
                        .iter()
                        .map(|t| {
                            format!(
                                "{}={}",
                                t.key().unwrap_or_default(),
                                t.value().unwrap_or_default()
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            tags.sort();
            s.push(Step::ok(
                "list_tags",
                &[
                    ("tags", tags.join(" ")),
                    (
                        "resource_id",
                        set.and_then(|t| t.resource_id())
                            .map(zone_path)
                            .unwrap_or_default(),
                    ),
                    (
                        "resource_type",
                        set.and_then(|t| t.resource_type())
                            .map(|t| t.as_str().to_string())
                            .unwrap_or_default(),
                    ),
                ],
            ));
        }
        Err(e) => s.push(Step::err("list_tags", &e)),
    }
    s.tags("tag_missing_zone", "Z0NOTAZONE00000", &[("a", "b")], &[])
        .await;

    // ---- deletion, as the provider's destroy does it
    s.delete_zone("delete_zone_not_empty", &parent).await;
    for (name, kind) in [
        (format!("{CHILD}."), "NS"),
        (format!("api.{PARENT}."), "A"),
        (format!("ingress.{PARENT}."), "A"),
        (format!("*.apps.{PARENT}."), "A"),
        (format!("www.{PARENT}."), "A"),
    ] {
        match s.current(&parent, &name, kind).await {
            Ok((Some(set), _)) => {
                s.change(
                    &format!("delete {name} {kind}"),
                    &parent,
                    vec![(ChangeAction::Delete, set)],
                )
                .await;
                // Whether moto says INSYNC at once was compared on the changes before.
                if let Some(last) = s.steps.last_mut() {
                    last.fields.remove("change_status");
                }
            }
            Ok((None, step)) | Err(step) => s.push(step),
        }
    }
    let missing = s
        .r53
        .change_resource_record_sets()
        .hosted_zone_id(&parent)
        .change_batch(batch(vec![(
            ChangeAction::Delete,
            plain_set(&format!("gone.{PARENT}."), "A", 300, &["10.0.0.99"]),
        )]))
        .send()
        .await;
    match missing {
        Ok(_) => s.push(outcome_as_field(Step::ok("delete_missing_record", &[]))),
        Err(e) => s.push(outcome_as_field(Step::err("delete_missing_record", &e))),
    }
    s.list_records(
        "list_records_after_deletes",
        &parent,
        &child_servers,
        &parent_servers,
    )
    .await;
    s.delete_zone("delete_zone_parent", &parent).await;
    s.delete_zone("delete_zone_child", &child).await;
    match s.r53.get_hosted_zone().id(&parent).send().await {
        Ok(_) => s.push(Step::ok("get_deleted_zone", &[])),
        Err(e) => s.push(Step::err("get_deleted_zone", &e)),
    }
    s.delete_zone("delete_deleted_zone", &parent).await;
    // The provider's caller reference is the same on every apply of the same address.
    s.create_refused("recreate_with_used_reference", PARENT, PARENT_REFERENCE)
        .await;

    let distinct: BTreeSet<&String> = s.change_ids.iter().collect();
    s.push(Step::ok(
        "change_ids",
        &[(
            "distinct",
            format!("{} of {}", distinct.len(), s.change_ids.len()),
        )],
    ));
    s.steps
}

/// Where moto departs from AWS's documentation, which the local AWS follows.
const EXCEPTIONS: &[(&str, &str, &str)] = &[
    ("create_zone_parent", "change_status", "moto reports a new zone's change INSYNC at once; AWS reports PENDING until it has propagated"),
    ("create_zone_child", "change_status", "moto reports a new zone's change INSYNC at once; AWS reports PENDING"),
    ("zones_have_their_own_name_servers", "shared", "moto gives every zone the same four name servers; AWS gives each zone its own delegation set"),
    ("create_zone_reused_reference", "outcome", "moto does not check caller references; AWS answers 409 HostedZoneAlreadyExists"),
    ("list_zones_first_page", "is_truncated", "moto lists only zones named exactly DNSName and never pages; AWS lists from DNSName on in order, MaxItems at a time"),
    ("list_zones_first_page", "next_dns_name", "moto never pages ListHostedZonesByName; AWS names the next zone"),
    ("list_zones_first_page", "next_zone_id", "moto never pages ListHostedZonesByName; AWS names the next zone"),
    ("upsert_delegation_and_records", "change_status", "moto reports every change INSYNC at once; AWS reports PENDING"),
    ("create_www", "change_status", "moto reports every change INSYNC at once; AWS reports PENDING"),
    ("list_records", "raw_names", "AWS returns `*` in names as the escape code \\052 (DNS domain name format); moto returns it as is"),
    ("list_records", "alias_dns_name", "AWS returns an alias target's DNSName with a trailing dot; moto returns it as written"),
    ("list_records", "soa_tail", "moto's SOA value is a Python dict's text ({'Value': '... hostmaster.example.com. ...'}); AWS's is ns-N.awsdns-NN.tld. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"),
    ("list_records", "soa_names_first_server", "moto's SOA value is a Python dict's text, so its first word is not the zone's first name server as on AWS"),
    ("list_records", "apex_ns_trailing_dots", "AWS writes the apex NS values as absolute names (trailing dot); moto without"),
    ("list_records_after_deletes", "soa_tail", "as in list_records: moto's SOA value is a Python dict's text"),
    ("list_records_after_deletes", "soa_names_first_server", "as in list_records: moto's SOA value is a Python dict's text"),
    ("list_records_after_deletes", "apex_ns_trailing_dots", "as in list_records: moto writes the apex NS values without trailing dots"),
    ("get_change", "first_status", "moto reports INSYNC at once; AWS reports PENDING until the change has propagated"),
    ("get_unknown_change", "outcome", "moto answers INSYNC for any change id; AWS answers 404 NoSuchChange"),
    ("delete_missing_record", "outcome", "moto answers InvalidInput; AWS answers InvalidChangeBatch: Tried to delete resource record set ... but it was not found"),
    ("recreate_with_used_reference", "outcome", "AWS never accepts a caller reference twice, even after its zone is deleted (409 HostedZoneAlreadyExists); moto does not check"),
    ("delete_zone_parent", "change_status", "moto reports a deletion INSYNC at once; AWS reports PENDING"),
    ("delete_zone_child", "change_status", "moto reports a deletion INSYNC at once; AWS reports PENDING"),
    ("change_ids", "distinct", "moto answers the same fixed change id for every change of a kind; AWS gives each change its own"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route53_matches_moto() {
    let moto = Moto::start();
    let local = LocalCloud::start("50ms");
    let on_moto = scenario(&Clients::new(&moto.endpoint()).await).await;
    let on_local = scenario(&Clients::new(&local.endpoint()).await).await;
    let (moto_steps, local_steps) = (normalize(&on_moto, &IDS), normalize(&on_local, &IDS));
    // The local side's values where moto departs from AWS, stated outright so a regression
    // there fails too.
    let fields = |name: &str| {
        local_steps
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.fields.clone())
            .unwrap_or_default()
    };
    let on = |name: &str, field: &str| fields(name).get(field).cloned().unwrap_or_default();
    assert_eq!(on("create_zone_parent", "change_status"), "PENDING");
    assert_eq!(on("zones_have_their_own_name_servers", "shared"), "0");
    assert_eq!(
        on("create_zone_reused_reference", "outcome"),
        "HTTP 409 HostedZoneAlreadyExists"
    );
    assert_eq!(on("list_zones_first_page", "is_truncated"), "true");
    assert_eq!(
        on("list_zones_first_page", "next_dns_name"),
        format!("{CHILD}.")
    );
    assert_eq!(on("list_records", "alias_dns_name"), format!("{NLB_DNS}."));
    assert_eq!(on("get_change", "first_status"), "PENDING");
    assert_eq!(on("get_change", "final_status"), "INSYNC");
    assert_eq!(on("get_unknown_change", "outcome"), "HTTP 404 NoSuchChange");
    assert_eq!(
        on("delete_missing_record", "outcome"),
        "HTTP 400 InvalidChangeBatch"
    );
    assert_eq!(
        on("recreate_with_used_reference", "outcome"),
        "HTTP 409 HostedZoneAlreadyExists"
    );
    let ids = on("change_ids", "distinct");
    let (n, total) = ids.split_once(" of ").expect("counts");
    assert_eq!(n, total, "every change has its own id");
    // `ROUTE53_DIFF_SHOW=1` prints both sides, for reading what was compared.
    if std::env::var_os("ROUTE53_DIFF_SHOW").is_some() {
        for (m, l) in moto_steps.iter().zip(&local_steps) {
            eprintln!(
                "{}\n  moto  {} {:?}\n  local {} {:?}",
                m.name, m.outcome, m.fields, l.outcome, l.fields
            );
        }
    }
    assert_same(&moto_steps, &local_steps, EXCEPTIONS);
}
