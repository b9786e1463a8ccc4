//! Route53: hosted zones with their delegation sets, record-set changes and tags, over the
//! REST-XML API under `/2013-04-01/`, as AWS documents it and moto answers it.
//!
//! What the EKS provider calls is emulated: CreateHostedZone, GetHostedZone,
//! ListHostedZonesByName, DeleteHostedZone, ChangeResourceRecordSets, GetChange,
//! ListResourceRecordSets, ChangeTagsForResource and ListTagsForResource. Names are kept as AWS
//! keeps them: lowercase, with a trailing dot, and returned with characters other than `a-z`,
//! `0-9`, `-` and `_` as `\ooo` escape codes (`*` is `\052`). A change batch is applied whole or
//! not at all, and every change (zone creation and deletion included) stays `PENDING` for the
//! operation delay before `GetChange` reports it `INSYNC`. Caller references are never accepted
//! twice, even after their zone is deleted, as on AWS.
//!
//! Routing policies (SetIdentifier, Weight, Region, ...), private zones and reusable delegation
//! sets are refused with `InvalidInput` rather than silently ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{any, get, post};
use axum::Router;
use roxmltree::{Document, Node};
use serde::{Deserialize, Serialize};

use super::wire::{el, request_id, xml_response, AwsError, Protocol};
use super::{Cloud, Held};
use crate::core::clock::{now_ms, rfc3339};
use crate::core::http::{insert_header, Query};
use crate::core::operations::{due, Timed};

const NAMESPACE: &str = "https://route53.amazonaws.com/doc/2013-04-01/";
const ENDPOINT: &str = "https://route53.amazonaws.com/2013-04-01";
/// AWS's default SOA for a new zone: its first name server, then the fixed tail.
const SOA_TAIL: &str = "awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400";
const SOA_TTL: i64 = 900;
const NS_TTL: i64 = 172_800;
/// ListHostedZonesByName pages hold at most 100 zones, ListResourceRecordSets 300 sets.
const ZONES_PAGE: usize = 100;
const RECORDS_PAGE: usize = 300;
/// Route53's limit on tags per resource.
const MAX_TAGS: usize = 50;
const RECORD_TYPES: [&str; 17] = [
    "A", "AAAA", "CAA", "CNAME", "DS", "HTTPS", "MX", "NAPTR", "NS", "PTR", "SOA", "SPF", "SRV",
    "SSHFP", "SVCB", "TLSA", "TXT",
];
/// ResourceRecordSet elements of routing policies and traffic policies, which are not emulated.
const ROUTING_ELEMENTS: [&str; 10] = [
    "SetIdentifier",
    "Weight",
    "Region",
    "GeoLocation",
    "Failover",
    "MultiValueAnswer",
    "HealthCheckId",
    "TrafficPolicyInstanceId",
    "CidrRoutingConfig",
    "GeoProximityLocation",
];

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Route53 {
    /// By bare id (`Z...`).
    #[serde(default)]
    zones: BTreeMap<String, Zone>,
    /// By bare id (`C...`); kept after they are INSYNC, so GetChange keeps answering.
    #[serde(default)]
    changes: BTreeMap<String, ChangeRecord>,
    /// Every caller reference ever accepted: AWS refuses one again even after its zone is gone.
    #[serde(default)]
    caller_references: BTreeSet<String>,
    /// How many zones were ever created; numbers the name-server sets so each zone gets its own.
    #[serde(default)]
    zones_created: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Zone {
    id: String,
    /// Canonical: lowercase, escape codes decoded, trailing dot.
    name: String,
    caller_reference: String,
    comment: Option<String>,
    /// Without trailing dots, as DelegationSet lists them.
    name_servers: Vec<String>,
    records: Vec<RecordSet>,
    tags: BTreeMap<String, String>,
}

impl Zone {
    fn is_apex_default(&self, r: &RecordSet) -> bool {
        r.name == self.name && (r.kind == "SOA" || r.kind == "NS")
    }

    fn contains(&self, name: &str) -> bool {
        name == self.name || self.name == "." || name.ends_with(&format!(".{}", self.name))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordSet {
    /// Canonical, like zone names.
    name: String,
    #[serde(rename = "type")]
    kind: String,
    ttl: Option<i64>,
    values: Vec<String>,
    alias: Option<Alias>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Alias {
    hosted_zone_id: String,
    /// Canonical: AWS answers alias targets lowercase and with a trailing dot.
    dns_name: String,
    evaluate_target_health: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangeRecord {
    submitted_ms: u64,
    ends_ms: u64,
    insync: bool,
    comment: Option<String>,
}

impl ChangeRecord {
    fn status(&self, now: u64) -> &'static str {
        if self.insync || self.ends_ms <= now {
            "INSYNC"
        } else {
            "PENDING"
        }
    }
}

impl Timed for ChangeRecord {
    fn ends_at_ms(&self) -> u64 {
        self.ends_ms
    }
    fn settled(&self) -> bool {
        self.insync
    }
    fn end_at(&mut self, ms: u64) {
        self.ends_ms = ms;
    }
}

/// Changes whose propagation time has passed are INSYNC from now on.
pub(super) fn settle(route53: &mut Route53, now: u64) {
    for id in due(&route53.changes, now) {
        if let Some(change) = route53.changes.get_mut(&id) {
            change.insync = true;
        }
    }
}

pub(super) fn routes() -> Router<Arc<Cloud>> {
    Router::new()
        .route(
            "/2013-04-01/hostedzone",
            post(create_zone).get(list_zones).fallback(not_emulated),
        )
        .route(
            "/2013-04-01/hostedzone/{id}",
            get(get_zone).delete(delete_zone).fallback(not_emulated),
        )
        .route(
            "/2013-04-01/hostedzone/{id}/rrset",
            get(list_records)
                .post(change_records)
                .fallback(not_emulated),
        )
        // boto3 writes this path with a trailing slash.
        .route(
            "/2013-04-01/hostedzone/{id}/rrset/",
            get(list_records)
                .post(change_records)
                .fallback(not_emulated),
        )
        .route(
            "/2013-04-01/hostedzonesbyname",
            get(list_zones_by_name).fallback(not_emulated),
        )
        .route(
            "/2013-04-01/change/{id}",
            get(get_change).fallback(not_emulated),
        )
        .route(
            "/2013-04-01/tags/{kind}/{id}",
            get(list_tags).post(change_tags).fallback(not_emulated),
        )
        // Anything else under the API's prefix gets a Route53 error body rather than an empty
        // 404, so a client sees an API error instead of a decoding failure.
        .route("/2013-04-01/{*rest}", any(not_emulated))
}

// ---------------------------------------------------------------- plumbing

/// Runs a handler's work under the lock, settled at one instant it also gets, and writes a
/// failure in Route53's error shape.
fn run(cloud: &Cloud, work: impl FnOnce(&mut Held, u64) -> Result<Response, AwsError>) -> Response {
    let now = now_ms();
    let mut held = cloud.store.settled_at(now);
    work(&mut held, now).unwrap_or_else(|e| e.into_response(Protocol::Query))
}

/// `<{action}Response xmlns=...>{inner}</...>` with a request id header.
fn ok(status: StatusCode, action: &str, inner: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"{NAMESPACE}\">{inner}</{action}Response>"
    );
    let mut r = xml_response(status, body);
    insert_header(&mut r, "x-amzn-requestid", &request_id());
    r
}

async fn not_emulated(method: Method, uri: Uri) -> Response {
    AwsError::client(
        "InvalidAction",
        format!(
            "The local AWS does not emulate Route53 {method} {}",
            uri.path()
        ),
    )
    .into_response(Protocol::Query)
}

fn invalid_input(message: impl Into<String>) -> AwsError {
    AwsError::client("InvalidInput", message)
}

fn path<T>(p: Result<Path<T>, PathRejection>) -> Result<T, AwsError> {
    p.map(|Path(v)| v)
        .map_err(|e| invalid_input(format!("The request path is not valid: {e}")))
}

/// A zone id as a path or parameter may carry it: `Z123`, `/hostedzone/Z123` (percent-decoded
/// already) or `hostedzone/Z123`.
fn bare_zone_id(raw: &str) -> &str {
    raw.trim()
        .trim_start_matches('/')
        .trim_start_matches("hostedzone/")
}

fn bare_change_id(raw: &str) -> &str {
    raw.trim()
        .trim_start_matches('/')
        .trim_start_matches("change/")
}

fn no_such_zone(id: &str) -> AwsError {
    AwsError::new(
        404,
        "NoSuchHostedZone",
        format!("No hosted zone found with ID: {id}"),
    )
}

fn zone<'a>(held: &'a Held, raw_id: &str) -> Result<&'a Zone, AwsError> {
    let id = bare_zone_id(raw_id);
    held.world
        .route53
        .zones
        .get(id)
        .ok_or_else(|| no_such_zone(id))
}

fn body_text(body: &Bytes) -> Result<&str, AwsError> {
    std::str::from_utf8(body).map_err(|_| invalid_input("Invalid XML ; the body is not UTF-8"))
}

/// The request document, checked to have the root element the operation takes.
fn parse_request<'i>(text: &'i str, root: &str) -> Result<Document<'i>, AwsError> {
    let doc = Document::parse(text).map_err(|e| invalid_input(format!("Invalid XML ; {e}")))?;
    let found = doc.root_element().tag_name().name();
    if found != root {
        return Err(invalid_input(format!(
            "Invalid XML ; expected the root element {root}, found {found}"
        )));
    }
    Ok(doc)
}

fn children<'a, 'i>(node: Node<'a, 'i>, name: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children()
        .filter(move |n| n.is_element() && n.tag_name().name() == name)
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &'static str) -> Option<Node<'a, 'i>> {
    children(node, name).next()
}

/// The text of a child element; an empty element is `Some("")`.
fn child_text(node: Node<'_, '_>, name: &'static str) -> Option<String> {
    child(node, name).map(|n| n.text().unwrap_or_default().trim().to_string())
}

fn required(node: Node<'_, '_>, name: &'static str, field: &str) -> Result<String, AwsError> {
    child_text(node, name).ok_or_else(|| {
        invalid_input(format!(
            "1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

// ---------------------------------------------------------------- names

/// A domain name as Route53 keeps it: escape codes (`\052`, `\.`) decoded, letters lowercase,
/// exactly one trailing dot. A dot escaped inside a label becomes a label separator, which AWS
/// would not do; no name matihnet writes has one.
fn canonical(name: &str) -> String {
    let decoded = decode_escapes(name.trim()).to_ascii_lowercase();
    let bare = decoded.strip_suffix('.').unwrap_or(&decoded);
    format!("{bare}.")
}

fn decode_escapes(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && i + 1 < chars.len() {
            let octal: String = chars[i + 1..chars.len().min(i + 4)].iter().collect();
            match u8::from_str_radix(&octal, 8) {
                Ok(byte) if octal.len() == 3 => {
                    out.push(char::from(byte));
                    i += 4;
                }
                _ => {
                    out.push(chars[i + 1]);
                    i += 2;
                }
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// A canonical name as Route53's API returns it: anything but `a-z`, `0-9`, `-`, `_` and the
/// label dots as a `\ooo` escape code.
fn wire_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            'a'..='z' | '0'..='9' | '-' | '_' | '.' => out.push(c),
            c if u32::from(c) < 256 => out.push_str(&format!("\\{:03o}", u32::from(c))),
            c => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\{b:03o}"));
                }
            }
        }
    }
    out
}

/// The order Route53 lists names in: labels reversed, trailing dot kept
/// (`www.example.com.` sorts as `com.example.www.`), on the escaped form.
fn sort_key(name: &str) -> String {
    let wire = wire_name(name);
    let bare = wire.strip_suffix('.').unwrap_or(&wire);
    if bare.is_empty() {
        return ".".to_string();
    }
    let mut labels: Vec<&str> = bare.split('.').collect();
    labels.reverse();
    format!("{}.", labels.join("."))
}

/// Why a canonical name is not a valid domain name, if it is not.
fn name_problem(name: &str) -> Option<String> {
    let bare = name.strip_suffix('.').unwrap_or(name);
    if bare.is_empty() {
        return Some("DomainLabelEmpty (Domain label is empty)".to_string());
    }
    if name.len() > 255 {
        return Some("DomainNameTooLong (Domain name is too long)".to_string());
    }
    for label in bare.split('.') {
        if label.is_empty() {
            return Some("DomainLabelEmpty (Domain label is empty)".to_string());
        }
        if label.len() > 63 {
            return Some("DomainLabelTooLong (Domain label is too long)".to_string());
        }
    }
    None
}

// ---------------------------------------------------------------- rendering

fn zone_xml(z: &Zone) -> String {
    let comment = z
        .comment
        .as_deref()
        .map(|c| el("Comment", c))
        .unwrap_or_default();
    format!(
        "<HostedZone>{}{}{}<Config>{comment}<PrivateZone>false</PrivateZone></Config>{}</HostedZone>",
        el("Id", &format!("/hostedzone/{}", z.id)),
        el("Name", &wire_name(&z.name)),
        el("CallerReference", &z.caller_reference),
        el("ResourceRecordSetCount", &z.records.len().to_string()),
    )
}

fn delegation_xml(z: &Zone) -> String {
    let servers: String = z.name_servers.iter().map(|s| el("NameServer", s)).collect();
    format!("<DelegationSet><NameServers>{servers}</NameServers></DelegationSet>")
}

fn change_xml(id: &str, c: &ChangeRecord, now: u64) -> String {
    let comment = c
        .comment
        .as_deref()
        .map(|t| el("Comment", t))
        .unwrap_or_default();
    format!(
        "<ChangeInfo>{}{}{}{comment}</ChangeInfo>",
        el("Id", &format!("/change/{id}")),
        el("Status", c.status(now)),
        el("SubmittedAt", &rfc3339(c.submitted_ms)),
    )
}

fn record_xml(r: &RecordSet) -> String {
    let mut out = format!(
        "<ResourceRecordSet>{}{}",
        el("Name", &wire_name(&r.name)),
        el("Type", &r.kind)
    );
    if let Some(ttl) = r.ttl {
        out.push_str(&el("TTL", &ttl.to_string()));
    }
    if !r.values.is_empty() {
        out.push_str("<ResourceRecords>");
        for v in &r.values {
            out.push_str(&format!(
                "<ResourceRecord>{}</ResourceRecord>",
                el("Value", v)
            ));
        }
        out.push_str("</ResourceRecords>");
    }
    if let Some(a) = &r.alias {
        out.push_str(&format!(
            "<AliasTarget>{}{}{}</AliasTarget>",
            el("HostedZoneId", &a.hosted_zone_id),
            el("DNSName", &wire_name(&a.dns_name)),
            el(
                "EvaluateTargetHealth",
                if a.evaluate_target_health {
                    "true"
                } else {
                    "false"
                }
            ),
        ));
    }
    out.push_str("</ResourceRecordSet>");
    out
}

/// Records a new change, PENDING for the operation delay, and returns its bare id.
fn new_change(held: &mut Held, now: u64, comment: Option<String>) -> String {
    let id = aws_id(held, "C");
    let change = ChangeRecord {
        submitted_ms: now,
        ends_ms: held.clock.ends_at(now),
        insync: false,
        comment,
    };
    held.world.route53.changes.insert(id.clone(), change);
    id
}

fn change_info(held: &Held, id: &str, now: u64) -> String {
    held.world
        .route53
        .changes
        .get(id)
        .map(|c| change_xml(id, c, now))
        .unwrap_or_default()
}

/// A Route53-looking id: the prefix and 17 uppercase hex digits (`Z0A1B2...`), never repeated.
fn aws_id(held: &mut Held, prefix: &str) -> String {
    held.world.id(prefix).replace('-', "").to_ascii_uppercase()
}

/// The `k`th zone's four name servers, one per top-level domain as AWS hands them out
/// (`ns-N.awsdns-NN.com`, `.net`, `.org`, `.co.uk`). The multipliers are odd, so 512 zones in a
/// row never share a server.
fn name_servers(k: u64) -> Vec<String> {
    let pick = |mul: u64, add: u64| (k.wrapping_mul(mul).wrapping_add(add)) % 512;
    [
        (0, pick(211, 37), "com"),
        (512, pick(307, 101), "net"),
        (1024, pick(173, 233), "org"),
        (1536, pick(389, 59), "co.uk"),
    ]
    .iter()
    .map(|(base, n, tld)| format!("ns-{}.awsdns-{:02}.{tld}", base + n, n / 8))
    .collect()
}

// ---------------------------------------------------------------- zones

async fn create_zone(State(cloud): State<Arc<Cloud>>, body: Bytes) -> Response {
    run(&cloud, |held, now| {
        let doc = parse_request(body_text(&body)?, "CreateHostedZoneRequest")?;
        let root = doc.root_element();
        let raw_name = required(root, "Name", "name")?;
        let reference = required(root, "CallerReference", "callerReference")?;
        if reference.is_empty() || reference.chars().count() > 128 {
            return Err(invalid_input(format!(
                "1 validation error detected: Value '{reference}' at 'callerReference' failed to satisfy constraint: Member must have length between 1 and 128"
            )));
        }
        let config = child(root, "HostedZoneConfig");
        let comment = config.and_then(|c| child_text(c, "Comment"));
        if comment.as_deref().is_some_and(|c| c.chars().count() > 256) {
            return Err(invalid_input(
                "1 validation error detected: Value at 'hostedZoneConfig.comment' failed to satisfy constraint: Member must have length less than or equal to 256",
            ));
        }
        let private = config
            .and_then(|c| child_text(c, "PrivateZone"))
            .is_some_and(|p| p == "true");
        if private || child(root, "VPC").is_some() {
            return Err(invalid_input(
                "The local AWS does not emulate private hosted zones",
            ));
        }
        if let Some(set) = child_text(root, "DelegationSetId") {
            return Err(AwsError::client(
                "NoSuchDelegationSet",
                format!("Delegation set {set} does not exist (the local AWS emulates no reusable delegation sets)"),
            ));
        }
        let name = canonical(&raw_name);
        if let Some(problem) = name_problem(&name) {
            return Err(AwsError::client(
                "InvalidDomainName",
                format!("{raw_name} is not a valid domain name: {problem}"),
            ));
        }
        if held.world.route53.caller_references.contains(&reference) {
            return Err(AwsError::new(
                409,
                "HostedZoneAlreadyExists",
                "A hosted zone has already been created with the specified caller reference.",
            ));
        }
        let id = aws_id(held, "Z");
        let r53 = &mut held.world.route53;
        let servers = name_servers(r53.zones_created);
        r53.zones_created += 1;
        r53.caller_references.insert(reference.clone());
        let soa = RecordSet {
            name: name.clone(),
            kind: "SOA".into(),
            ttl: Some(SOA_TTL),
            values: vec![format!("{}. {SOA_TAIL}", servers[0])],
            alias: None,
        };
        let ns = RecordSet {
            name: name.clone(),
            kind: "NS".into(),
            ttl: Some(NS_TTL),
            values: servers.iter().map(|s| format!("{s}.")).collect(),
            alias: None,
        };
        let zone = Zone {
            id: id.clone(),
            name,
            caller_reference: reference,
            comment,
            name_servers: servers,
            records: vec![ns, soa],
            tags: BTreeMap::new(),
        };
        let inner_zone = format!("{}{}", zone_xml(&zone), delegation_xml(&zone));
        r53.zones.insert(id.clone(), zone);
        let change = new_change(held, now, None);
        let mut r = ok(
            StatusCode::CREATED,
            "CreateHostedZone",
            &format!("{inner_zone}{}", change_info(held, &change, now)),
        );
        insert_header(&mut r, "location", &format!("{ENDPOINT}/hostedzone/{id}"));
        Ok(r)
    })
}

async fn get_zone(
    State(cloud): State<Arc<Cloud>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    run(&cloud, |held, _| {
        let z = zone(held, &path(id)?)?;
        Ok(ok(
            StatusCode::OK,
            "GetHostedZone",
            &format!("{}{}", zone_xml(z), delegation_xml(z)),
        ))
    })
}

async fn delete_zone(
    State(cloud): State<Arc<Cloud>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    run(&cloud, |held, now| {
        let z = zone(held, &path(id)?)?;
        if z.records.iter().any(|r| !z.is_apex_default(r)) {
            return Err(AwsError::client(
                "HostedZoneNotEmpty",
                "The specified hosted zone contains non-required resource record sets and so cannot be deleted.",
            ));
        }
        let id = z.id.clone();
        // The zone's tags go with it; its caller reference stays used.
        held.world.route53.zones.remove(&id);
        let change = new_change(held, now, None);
        Ok(ok(
            StatusCode::OK,
            "DeleteHostedZone",
            &change_info(held, &change, now),
        ))
    })
}

fn max_items(q: &Query, limit: usize) -> Result<usize, AwsError> {
    match q.get("maxitems") {
        None => Ok(limit),
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n.min(limit)),
            _ => Err(invalid_input(format!(
                "Invalid value for maxitems: {raw} (a positive integer is expected)"
            ))),
        },
    }
}

/// `ListHostedZones`: every zone, in id order, paged by `marker` (a zone id) and `maxitems`.
async fn list_zones(State(cloud): State<Arc<Cloud>>, RawQuery(raw): RawQuery) -> Response {
    run(&cloud, |held, _| {
        let q = Query::parse(raw.as_deref());
        let limit = max_items(&q, ZONES_PAGE)?;
        let marker = q
            .get("marker")
            .filter(|m| !m.is_empty())
            .map(|m| bare_zone_id(m).to_string());
        let mut zones: Vec<&Zone> = held.world.route53.zones.values().collect();
        zones.sort_by(|a, b| a.id.cmp(&b.id));
        let listed: Vec<&Zone> = zones
            .into_iter()
            .filter(|z| marker.as_ref().is_none_or(|m| z.id >= *m))
            .collect();
        let mut inner = String::from("<HostedZones>");
        for z in &listed[..listed.len().min(limit)] {
            inner.push_str(&zone_xml(z));
        }
        inner.push_str("</HostedZones>");
        if let Some(m) = &marker {
            inner.push_str(&el("Marker", m));
        }
        let next = listed.get(limit);
        inner.push_str(&el(
            "IsTruncated",
            if next.is_some() { "true" } else { "false" },
        ));
        if let Some(n) = next {
            inner.push_str(&el("NextMarker", &n.id));
        }
        inner.push_str(&el("MaxItems", &limit.to_string()));
        Ok(ok(StatusCode::OK, "ListHostedZones", &inner))
    })
}

async fn list_zones_by_name(State(cloud): State<Arc<Cloud>>, RawQuery(raw): RawQuery) -> Response {
    run(&cloud, |held, _| {
        let q = Query::parse(raw.as_deref());
        let limit = max_items(&q, ZONES_PAGE)?;
        let dns_name = q.get("dnsname").filter(|n| !n.is_empty()).map(canonical);
        let start_id = q
            .get("hostedzoneid")
            .filter(|i| !i.is_empty())
            .map(|i| bare_zone_id(i).to_string());
        if start_id.is_some() && dns_name.is_none() {
            return Err(invalid_input(
                "The DNS name must be specified when a hosted zone ID is specified",
            ));
        }
        let mut zones: Vec<(String, &Zone)> = held
            .world
            .route53
            .zones
            .values()
            .map(|z| (sort_key(&z.name), z))
            .collect();
        zones.sort_by(|a, b| (&a.0, &a.1.id).cmp(&(&b.0, &b.1.id)));
        let start = dns_name.as_deref().map(sort_key);
        let listed: Vec<&Zone> = zones
            .iter()
            .filter(|(key, z)| match (&start, &start_id) {
                (None, _) => true,
                (Some(s), None) => key >= s,
                (Some(s), Some(i)) => (key, &z.id) >= (s, i),
            })
            .map(|(_, z)| *z)
            .collect();
        let page = &listed[..listed.len().min(limit)];
        let mut inner = String::from("<HostedZones>");
        for z in page {
            inner.push_str(&zone_xml(z));
        }
        inner.push_str("</HostedZones>");
        if let Some(n) = &dns_name {
            inner.push_str(&el("DNSName", &wire_name(n)));
        }
        if let Some(i) = &start_id {
            inner.push_str(&el("HostedZoneId", i));
        }
        let next = listed.get(limit);
        inner.push_str(&el(
            "IsTruncated",
            if next.is_some() { "true" } else { "false" },
        ));
        if let Some(n) = next {
            inner.push_str(&el("NextDNSName", &wire_name(&n.name)));
            inner.push_str(&el("NextHostedZoneId", &n.id));
        }
        inner.push_str(&el("MaxItems", &limit.to_string()));
        Ok(ok(StatusCode::OK, "ListHostedZonesByName", &inner))
    })
}

// ---------------------------------------------------------------- changes

async fn get_change(
    State(cloud): State<Arc<Cloud>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    run(&cloud, |held, now| {
        let raw = path(id)?;
        let id = bare_change_id(&raw);
        let c = held.world.route53.changes.get(id).ok_or_else(|| {
            AwsError::new(
                404,
                "NoSuchChange",
                format!("A change with the specified change ID does not exist: {id}"),
            )
        })?;
        Ok(ok(StatusCode::OK, "GetChange", &change_xml(id, c, now)))
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Create,
    Delete,
    Upsert,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Create => "CREATE",
            Action::Delete => "DELETE",
            Action::Upsert => "UPSERT",
        }
    }
}

struct Requested {
    action: Action,
    set: RecordSet,
}

async fn change_records(
    State(cloud): State<Arc<Cloud>>,
    id: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Response {
    run(&cloud, |held, now| {
        let zone_id = zone(held, &path(id)?)?.id.clone();
        let doc = parse_request(body_text(&body)?, "ChangeResourceRecordSetsRequest")?;
        let batch = child(doc.root_element(), "ChangeBatch").ok_or_else(|| {
            invalid_input("1 validation error detected: Value null at 'changeBatch' failed to satisfy constraint: Member must not be null")
        })?;
        let comment = child_text(batch, "Comment");
        let changes = parse_changes(batch)?;
        let records =
            apply_changes(&held.world.route53.zones, &zone_id, &changes).map_err(|messages| {
                AwsError::client("InvalidChangeBatch", format!("[{}]", messages.join(", ")))
            })?;
        if let Some(z) = held.world.route53.zones.get_mut(&zone_id) {
            z.records = records;
        }
        let change = new_change(held, now, comment);
        Ok(ok(
            StatusCode::OK,
            "ChangeResourceRecordSets",
            &change_info(held, &change, now),
        ))
    })
}

/// The batch's changes, checked for what AWS refuses as `InvalidInput` before it looks at the
/// zone: the action, the type, and exactly one of an alias or a TTL with values.
fn parse_changes(batch: Node<'_, '_>) -> Result<Vec<Requested>, AwsError> {
    let list = child(batch, "Changes")
        .map(|c| children(c, "Change").collect::<Vec<_>>())
        .unwrap_or_default();
    if list.is_empty() {
        return Err(invalid_input(
            "1 validation error detected: Value '[]' at 'changeBatch.changes' failed to satisfy constraint: Member must have length greater than or equal to 1",
        ));
    }
    let mut out = Vec::with_capacity(list.len());
    for (i, change) in list.into_iter().enumerate() {
        let field = format!("changeBatch.changes.{}.member", i + 1);
        let raw_action = required(change, "Action", &format!("{field}.action"))?;
        let action = match raw_action.as_str() {
            "CREATE" => Action::Create,
            "DELETE" => Action::Delete,
            "UPSERT" => Action::Upsert,
            other => {
                return Err(invalid_input(format!(
                    "Invalid XML ; cvc-enumeration-valid: Value '{other}' is not facet-valid with respect to enumeration '[CREATE, DELETE, UPSERT]'. It must be a value from the enumeration."
                )))
            }
        };
        let node = child(change, "ResourceRecordSet").ok_or_else(|| {
            invalid_input(format!(
                "1 validation error detected: Value null at '{field}.resourceRecordSet' failed to satisfy constraint: Member must not be null"
            ))
        })?;
        out.push(Requested {
            action,
            set: parse_record_set(node, action, &field)?,
        });
    }
    Ok(out)
}

fn parse_record_set(
    node: Node<'_, '_>,
    action: Action,
    field: &str,
) -> Result<RecordSet, AwsError> {
    let name = canonical(&required(
        node,
        "Name",
        &format!("{field}.resourceRecordSet.name"),
    )?);
    let kind = required(node, "Type", &format!("{field}.resourceRecordSet.type"))?;
    if !RECORD_TYPES.contains(&kind.as_str()) {
        return Err(invalid_input(format!(
            "Invalid XML ; cvc-enumeration-valid: Value '{kind}' is not facet-valid with respect to enumeration '[{}]'. It must be a value from the enumeration.",
            RECORD_TYPES.join(", ")
        )));
    }
    if let Some(e) = ROUTING_ELEMENTS.iter().find(|e| child(node, e).is_some()) {
        return Err(invalid_input(format!(
            "The local AWS does not emulate {e} in a ResourceRecordSet (routing and traffic policies)"
        )));
    }
    let ttl = match child_text(node, "TTL") {
        None => None,
        Some(raw) => match raw.parse::<i64>() {
            Ok(t) if (0..=2_147_483_647).contains(&t) => Some(t),
            _ => {
                return Err(invalid_input(format!(
                    "1 validation error detected: Value '{raw}' at '{field}.resourceRecordSet.tTL' failed to satisfy constraint: Member must have value between 0 and 2147483647"
                )))
            }
        },
    };
    let records = child(node, "ResourceRecords");
    let values: Vec<String> = records
        .map(|r| {
            children(r, "ResourceRecord")
                .map(|v| child_text(v, "Value").unwrap_or_default())
                .collect()
        })
        .unwrap_or_default();
    let alias = match child(node, "AliasTarget") {
        None => None,
        Some(a) => {
            let at = format!("{field}.resourceRecordSet.aliasTarget");
            let evaluate = required(
                a,
                "EvaluateTargetHealth",
                &format!("{at}.evaluateTargetHealth"),
            )?;
            Some(Alias {
                hosted_zone_id: bare_zone_id(&required(
                    a,
                    "HostedZoneId",
                    &format!("{at}.hostedZoneId"),
                )?)
                .to_string(),
                dns_name: canonical(&required(a, "DNSName", &format!("{at}.dNSName"))?),
                evaluate_target_health: evaluate == "true",
            })
        }
    };
    let plain = ttl.is_some() && records.is_some();
    let found = match (alias.is_some(), plain) {
        (true, false) => None,
        (false, true) => None,
        (true, true) => Some("more than one"),
        (false, false) => Some("none"),
    };
    if let Some(found) = found {
        return Err(invalid_input(format!(
            "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found {found} in Change with [Action={}, Name={}, Type={kind}, SetIdentifier=null]",
            action.as_str(),
            wire_name(&name)
        )));
    }
    if plain && values.is_empty() {
        return Err(invalid_input(format!(
            "1 validation error detected: Value '[]' at '{field}.resourceRecordSet.resourceRecords' failed to satisfy constraint: Member must have length greater than or equal to 1"
        )));
    }
    Ok(RecordSet {
        name,
        kind,
        ttl,
        values,
        alias,
    })
}

/// Applies the changes in order to a copy of the zone's record sets: the copy when every change
/// is valid, or every reason AWS would give for refusing the batch.
fn apply_changes(
    zones: &BTreeMap<String, Zone>,
    zone_id: &str,
    changes: &[Requested],
) -> Result<Vec<RecordSet>, Vec<String>> {
    let Some(zone) = zones.get(zone_id) else {
        return Err(vec![format!("No hosted zone found with ID: {zone_id}")]);
    };
    let mut records = zone.records.clone();
    let mut problems = Vec::new();
    for Requested { action, set } in changes {
        let name = wire_name(&set.name);
        let zone_name = wire_name(&zone.name);
        let kind = &set.kind;
        let at = records
            .iter()
            .position(|r| r.name == set.name && r.kind == set.kind);
        if let Some(problem) = name_problem(&set.name) {
            problems.push(format!(
                "FATAL problem: {problem} encountered with '{name}'"
            ));
            continue;
        }
        if !zone.contains(&set.name) {
            problems.push(format!(
                "RRSet with DNS name {name} is not permitted in zone {zone_name}"
            ));
            continue;
        }
        let apex = set.name == zone.name;
        if *action == Action::Delete {
            match at {
                None => problems.push(format!(
                    "Tried to delete resource record set [name='{name}', type='{kind}'] but it was not found"
                )),
                Some(_) if apex && kind == "SOA" => {
                    problems.push("A HostedZone must contain exactly one SOA record.".to_string())
                }
                Some(_) if apex && kind == "NS" => problems.push(
                    "A HostedZone must contain at least one NS record for the zone itself."
                        .to_string(),
                ),
                Some(i) if !same_contents(&records[i], set) => problems.push(format!(
                    "Tried to delete resource record set [name='{name}', type='{kind}'] but the values provided do not match the current values"
                )),
                Some(i) => {
                    records.remove(i);
                }
            }
            continue;
        }
        if *action == Action::Create && at.is_some() {
            problems.push(format!(
                "Tried to create resource record set [name='{name}', type='{kind}'] but it already exists"
            ));
            continue;
        }
        if let Some(problem) = contents_problem(zone, zones, &records, set) {
            problems.push(problem);
            continue;
        }
        match at {
            Some(i) => records[i] = set.clone(),
            None => records.push(set.clone()),
        }
    }
    if problems.is_empty() {
        Ok(records)
    } else {
        Err(problems)
    }
}

/// DELETE must name the set as it is: same TTL, same values in any order, same alias.
fn same_contents(current: &RecordSet, given: &RecordSet) -> bool {
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    current.ttl == given.ttl
        && sorted(&current.values) == sorted(&given.values)
        && current.alias == given.alias
}

/// What AWS refuses in a set being created or replaced, against the zone as the batch has
/// changed it so far.
fn contents_problem(
    zone: &Zone,
    zones: &BTreeMap<String, Zone>,
    records: &[RecordSet],
    set: &RecordSet,
) -> Option<String> {
    let name = wire_name(&set.name);
    let zone_name = wire_name(&zone.name);
    let kind = &set.kind;
    if kind == "CNAME" && set.name == zone.name {
        return Some(format!(
            "RRSet of type CNAME with DNS name {name} is not permitted at apex in zone {zone_name}"
        ));
    }
    let others = records
        .iter()
        .filter(|r| r.name == set.name && r.kind != *kind);
    for other in others {
        if kind == "CNAME" {
            return Some(format!(
                "RRSet of type CNAME with DNS name {name} is not permitted as it conflicts with other records with the same DNS name in zone {zone_name}"
            ));
        }
        if other.kind == "CNAME" {
            return Some(format!(
                "RRSet of type {kind} with DNS name {name} is not permitted because a conflicting RRSet of type CNAME with the same DNS name already exists in zone {zone_name}"
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for v in &set.values {
        if !seen.insert(v) {
            return Some(format!("Duplicate Resource Record: '{v}'"));
        }
        let bad = match kind.as_str() {
            "A" => v
                .parse::<Ipv4Addr>()
                .is_err()
                .then_some("ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address)"),
            "AAAA" => v
                .parse::<Ipv6Addr>()
                .is_err()
                .then_some("AAAARRDATAIllegalIPv6Address (Value is not a valid IPv6 address)"),
            "TXT" | "SPF" => (!(v.len() >= 2 && v.starts_with('"') && v.ends_with('"')))
                .then_some("InvalidCharacterString (Value should be enclosed in quotation marks)"),
            _ => None,
        };
        if let Some(bad) = bad {
            return Some(format!(
                "Invalid Resource Record: FATAL problem: {bad} encountered with '{v}'"
            ));
        }
    }
    let alias = set.alias.as_ref()?;
    // Targets in this account's zones must exist; other zone ids (load balancers, CloudFront)
    // belong to AWS and are taken on trust.
    let target_zone = zones.get(&alias.hosted_zone_id)?;
    let target_records = if target_zone.id == zone.id {
        records
    } else {
        &target_zone.records[..]
    };
    let target = wire_name(&alias.dns_name);
    if !target_zone.contains(&alias.dns_name) {
        return Some(format!(
            "Tried to create an alias that targets {target}, type {kind} in zone {}, but the alias target name does not lie within the target zone",
            target_zone.id
        ));
    }
    if !target_records
        .iter()
        .any(|r| r.name == alias.dns_name && r.kind == *kind)
    {
        return Some(format!(
            "Tried to create an alias that targets {target}, type {kind} in zone {}, but that target was not found",
            target_zone.id
        ));
    }
    None
}

async fn list_records(
    State(cloud): State<Arc<Cloud>>,
    id: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Response {
    run(&cloud, |held, _| {
        let z = zone(held, &path(id)?)?;
        let q = Query::parse(raw.as_deref());
        let limit = max_items(&q, RECORDS_PAGE)?;
        let start_name = q.get("name").filter(|n| !n.is_empty()).map(canonical);
        let start_type = q.get("type").filter(|t| !t.is_empty());
        if start_type.is_some() && start_name.is_none() {
            return Err(invalid_input(
                "The input is not valid: a record type needs a record name to start from",
            ));
        }
        if let Some(t) = start_type {
            if !RECORD_TYPES.contains(&t) {
                return Err(invalid_input(format!("Invalid type: {t}")));
            }
        }
        if q.get("identifier").is_some_and(|i| !i.is_empty()) {
            return Err(invalid_input(
                "The local AWS does not emulate record identifiers (routing policies)",
            ));
        }
        let mut sets: Vec<(String, &RecordSet)> =
            z.records.iter().map(|r| (sort_key(&r.name), r)).collect();
        sets.sort_by(|a, b| (&a.0, &a.1.kind).cmp(&(&b.0, &b.1.kind)));
        let start = start_name
            .as_deref()
            .map(|n| (sort_key(n), start_type.unwrap_or("")));
        let listed: Vec<&RecordSet> = sets
            .iter()
            .filter(|(key, r)| match &start {
                None => true,
                Some((name, kind)) => (key.as_str(), r.kind.as_str()) >= (name.as_str(), *kind),
            })
            .map(|(_, r)| *r)
            .collect();
        let mut inner = String::from("<ResourceRecordSets>");
        for r in &listed[..listed.len().min(limit)] {
            inner.push_str(&record_xml(r));
        }
        inner.push_str("</ResourceRecordSets>");
        let next = listed.get(limit);
        inner.push_str(&el(
            "IsTruncated",
            if next.is_some() { "true" } else { "false" },
        ));
        if let Some(n) = next {
            inner.push_str(&el("NextRecordName", &wire_name(&n.name)));
            inner.push_str(&el("NextRecordType", &n.kind));
        }
        inner.push_str(&el("MaxItems", &limit.to_string()));
        Ok(ok(StatusCode::OK, "ListResourceRecordSets", &inner))
    })
}

// ---------------------------------------------------------------- tags

/// The tagged zone's bare id, for a `hostedzone` resource; health checks are not emulated, so
/// none exists.
fn tagged_zone_id(held: &Held, kind: &str, raw_id: &str) -> Result<String, AwsError> {
    match kind {
        "hostedzone" => Ok(zone(held, raw_id)?.id.clone()),
        "healthcheck" => Err(AwsError::new(
            404,
            "NoSuchHealthCheck",
            format!("A health check with id {raw_id} does not exist."),
        )),
        other => Err(invalid_input(format!(
            "Invalid XML ; cvc-enumeration-valid: Value '{other}' is not facet-valid with respect to enumeration '[healthcheck, hostedzone]'. It must be a value from the enumeration."
        ))),
    }
}

async fn change_tags(
    State(cloud): State<Arc<Cloud>>,
    p: Result<Path<(String, String)>, PathRejection>,
    body: Bytes,
) -> Response {
    run(&cloud, |held, _| {
        let (kind, raw_id) = path(p)?;
        let id = tagged_zone_id(held, &kind, &raw_id)?;
        let doc = parse_request(body_text(&body)?, "ChangeTagsForResourceRequest")?;
        let root = doc.root_element();
        let mut add = Vec::new();
        if let Some(list) = child(root, "AddTags") {
            for tag in children(list, "Tag") {
                let key = child_text(tag, "Key").unwrap_or_default();
                let value = child_text(tag, "Value").unwrap_or_default();
                if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
                    return Err(invalid_input(format!(
                        "Invalid tag: a key has 1 to 128 characters and a value up to 256 (key '{key}')"
                    )));
                }
                add.push((key, value));
            }
        }
        let remove: Vec<String> = child(root, "RemoveTagKeys")
            .map(|list| {
                children(list, "Key")
                    .map(|k| k.text().unwrap_or_default().trim().to_string())
                    .collect()
            })
            .unwrap_or_default();
        if add.len() > 10 || remove.len() > 10 {
            return Err(invalid_input(
                "1 validation error detected: AddTags and RemoveTagKeys have at most 10 members each",
            ));
        }
        let mut tags = held
            .world
            .route53
            .zones
            .get(&id)
            .map(|z| z.tags.clone())
            .unwrap_or_default();
        // Adds first, then removals, as moto applies them.
        tags.extend(add);
        for key in &remove {
            tags.remove(key);
        }
        if tags.len() > MAX_TAGS {
            return Err(invalid_input(format!(
                "The resource would have {} tags; Route53 allows {MAX_TAGS}",
                tags.len()
            )));
        }
        if let Some(z) = held.world.route53.zones.get_mut(&id) {
            z.tags = tags;
        }
        Ok(ok(StatusCode::OK, "ChangeTagsForResource", ""))
    })
}

async fn list_tags(
    State(cloud): State<Arc<Cloud>>,
    p: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    run(&cloud, |held, _| {
        let (kind, raw_id) = path(p)?;
        let id = tagged_zone_id(held, &kind, &raw_id)?;
        let tags: String = held
            .world
            .route53
            .zones
            .get(&id)
            .map(|z| {
                z.tags
                    .iter()
                    .map(|(k, v)| format!("<Tag>{}{}</Tag>", el("Key", k), el("Value", v)))
                    .collect()
            })
            .unwrap_or_default();
        Ok(ok(
            StatusCode::OK,
            "ListTagsForResource",
            &format!(
                "<ResourceTagSet>{}{}<Tags>{tags}</Tags></ResourceTagSet>",
                el("ResourceType", &kind),
                el("ResourceId", &id)
            ),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Options;
    use axum::body::Body;
    use axum::http::Request;
    use std::time::Duration;
    use tower::ServiceExt;

    struct Answer {
        status: u16,
        location: Option<String>,
        body: String,
    }

    impl Answer {
        /// Every element's text with that local name, in document order.
        fn all(&self, name: &str) -> Vec<String> {
            let doc = Document::parse(&self.body).expect("xml");
            doc.descendants()
                .filter(|n| n.is_element() && n.tag_name().name() == name)
                .map(|n| n.text().unwrap_or_default().to_string())
                .collect()
        }

        fn one(&self, name: &str) -> String {
            self.all(name).into_iter().next().unwrap_or_else(|| {
                panic!("no <{name}> in {}", self.body);
            })
        }

        fn error(&self) -> (u16, String) {
            (self.status, self.one("Code"))
        }
    }

    struct Local {
        cloud: Arc<Cloud>,
        app: Router,
    }

    impl Local {
        fn new(delay: Duration) -> Local {
            let cloud = Arc::new(Cloud::new(Options {
                operation_delay: delay,
            }));
            let app = crate::aws::router(Arc::clone(&cloud));
            Local { cloud, app }
        }

        async fn call(&self, method: &str, uri: &str, body: &str) -> Answer {
            let req = Request::builder()
                .method(method)
                .uri(uri)
                .header(
                    "authorization",
                    "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/route53/aws4_request, SignedHeaders=host, Signature=0",
                )
                .body(Body::from(body.to_string()))
                .expect("request");
            let resp = self.app.clone().oneshot(req).await.expect("response");
            let status = resp.status().as_u16();
            let location = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .expect("body");
            Answer {
                status,
                location,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            }
        }

        async fn create_zone(&self, name: &str, reference: &str) -> Answer {
            self.call(
                "POST",
                "/2013-04-01/hostedzone",
                &format!(
                    "<CreateHostedZoneRequest xmlns=\"{NAMESPACE}\"><Name>{name}</Name><CallerReference>{reference}</CallerReference><HostedZoneConfig><Comment>made by a test</Comment></HostedZoneConfig></CreateHostedZoneRequest>"
                ),
            )
            .await
        }

        /// Creates a zone and returns its bare id.
        async fn zone(&self, name: &str) -> String {
            let a = self.create_zone(name, &format!("ref-{name}")).await;
            assert_eq!(a.status, 201, "{}", a.body);
            a.one("Id").trim_start_matches("/hostedzone/").to_string()
        }

        async fn change(&self, zone: &str, changes: &[(&str, &str)]) -> Answer {
            let list: String = changes
                .iter()
                .map(|(action, set)| {
                    format!("<Change><Action>{action}</Action><ResourceRecordSet>{set}</ResourceRecordSet></Change>")
                })
                .collect();
            self.call(
                "POST",
                &format!("/2013-04-01/hostedzone/{zone}/rrset"),
                &format!(
                    "<ChangeResourceRecordSetsRequest xmlns=\"{NAMESPACE}\"><ChangeBatch><Comment>test</Comment><Changes>{list}</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>"
                ),
            )
            .await
        }

        async fn records(&self, zone: &str, query: &str) -> Answer {
            self.call(
                "GET",
                &format!("/2013-04-01/hostedzone/{zone}/rrset{query}"),
                "",
            )
            .await
        }

        /// `name type` of every listed set.
        async fn record_keys(&self, zone: &str) -> Vec<String> {
            let a = self.records(zone, "").await;
            assert_eq!(a.status, 200, "{}", a.body);
            let doc = Document::parse(&a.body).expect("xml");
            doc.descendants()
                .filter(|n| n.tag_name().name() == "ResourceRecordSet")
                .map(|n| {
                    format!(
                        "{} {}",
                        child_text(n, "Name").unwrap_or_default(),
                        child_text(n, "Type").unwrap_or_default()
                    )
                })
                .collect()
        }
    }

    fn a_record(name: &str, ip: &str) -> String {
        format!("<Name>{name}</Name><Type>A</Type><TTL>300</TTL><ResourceRecords><ResourceRecord><Value>{ip}</Value></ResourceRecord></ResourceRecords>")
    }

    fn local() -> Local {
        Local::new(Duration::from_millis(200))
    }

    #[tokio::test]
    async fn a_new_zone_has_an_aws_id_its_own_name_servers_and_apex_records() {
        let l = local();
        let a = l.create_zone("Example.COM", "r1").await;
        assert_eq!(a.status, 201, "{}", a.body);
        let id = a.one("Id");
        let bare = id.strip_prefix("/hostedzone/").expect("prefixed id");
        assert!(
            bare.starts_with('Z') && (13..=21).contains(&bare.len()),
            "{bare}"
        );
        assert!(bare
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        assert_eq!(
            a.location.as_deref(),
            Some(&*format!("{ENDPOINT}/hostedzone/{bare}"))
        );
        assert_eq!(a.one("Name"), "example.com.");
        assert_eq!(a.one("CallerReference"), "r1");
        assert_eq!(a.one("Comment"), "made by a test");
        assert_eq!(a.one("ResourceRecordSetCount"), "2");
        assert!(a.one("SubmittedAt").ends_with('Z'));
        assert!(a.all("Id")[1].starts_with("/change/C"));
        assert_eq!(a.one("Status"), "PENDING");
        let servers = a.all("NameServer");
        assert_eq!(servers.len(), 4);
        let tlds: Vec<&str> = servers
            .iter()
            .map(|s| s.split_once(".awsdns-").map(|p| p.1).unwrap_or(""))
            .collect();
        assert_eq!(
            tlds.iter()
                .map(|t| t.split_once('.').map(|p| p.1).unwrap_or(""))
                .collect::<Vec<_>>(),
            ["com", "net", "org", "co.uk"]
        );
        let other = l.create_zone("other.com", "r2").await;
        let others = other.all("NameServer");
        assert!(
            servers.iter().all(|s| !others.contains(s)),
            "{servers:?} / {others:?}"
        );

        assert_eq!(
            l.record_keys(bare).await,
            ["example.com. NS", "example.com. SOA"]
        );
        let soa = l
            .records(bare, "?name=example.com.&type=SOA&maxitems=1")
            .await;
        assert_eq!(
            soa.one("Value"),
            format!(
                "{}. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400",
                servers[0]
            )
        );
        assert_eq!(soa.one("TTL"), "900");
        let ns = l
            .records(bare, "?name=example.com.&type=NS&maxitems=1")
            .await;
        assert_eq!(
            ns.all("Value"),
            servers.iter().map(|s| format!("{s}.")).collect::<Vec<_>>()
        );
        assert_eq!(ns.one("TTL"), "172800");
    }

    #[tokio::test]
    async fn a_caller_reference_is_never_accepted_twice() {
        let l = local();
        let id = l.zone("example.com").await;
        let again = l.create_zone("another.com", "ref-example.com").await;
        assert_eq!(again.error(), (409, "HostedZoneAlreadyExists".to_string()));
        assert_eq!(
            l.call("DELETE", &format!("/2013-04-01/hostedzone/{id}"), "")
                .await
                .status,
            200
        );
        let after = l.create_zone("example.com", "ref-example.com").await;
        assert_eq!(after.error(), (409, "HostedZoneAlreadyExists".to_string()));
    }

    #[tokio::test]
    async fn zones_are_found_by_bare_or_prefixed_id() {
        let l = local();
        let id = l.zone("example.com").await;
        for path in [
            format!("/2013-04-01/hostedzone/{id}"),
            format!("/2013-04-01/hostedzone/%2Fhostedzone%2F{id}"),
        ] {
            let a = l.call("GET", &path, "").await;
            assert_eq!(a.status, 200, "{path}: {}", a.body);
            assert_eq!(a.one("Name"), "example.com.");
            assert_eq!(a.all("NameServer").len(), 4);
        }
        let missing = l.call("GET", "/2013-04-01/hostedzone/ZNOPE", "").await;
        assert_eq!(missing.error(), (404, "NoSuchHostedZone".to_string()));
        assert!(missing
            .body
            .contains("<ErrorResponse><Error><Type>Sender</Type>"));
        assert!(missing.one("Message").contains("ZNOPE"));
    }

    #[tokio::test]
    async fn zones_list_by_reversed_labels_and_page() {
        let l = local();
        for name in [
            "b.example.com",
            "example.org",
            "example.com",
            "a.example.com",
            "z.net",
        ] {
            l.zone(name).await;
        }
        let all = l.call("GET", "/2013-04-01/hostedzonesbyname", "").await;
        // `com.example.` is a prefix of `com.example.a.`, so the parent comes first.
        assert_eq!(
            all.all("Name"),
            [
                "example.com.",
                "a.example.com.",
                "b.example.com.",
                "z.net.",
                "example.org."
            ]
            .map(String::from)
        );
        assert_eq!(all.one("IsTruncated"), "false");
        assert_eq!(all.one("MaxItems"), "100");
        let page = l
            .call(
                "GET",
                "/2013-04-01/hostedzonesbyname?dnsname=Example.com&maxitems=2",
                "",
            )
            .await;
        assert_eq!(
            page.all("Name"),
            ["example.com.", "a.example.com."].map(String::from)
        );
        assert_eq!(page.one("DNSName"), "example.com.");
        assert_eq!(page.one("IsTruncated"), "true");
        assert_eq!(page.one("NextDNSName"), "b.example.com.");
        assert_eq!(page.one("MaxItems"), "2");
        let next_id = page.one("NextHostedZoneId");
        assert!(next_id.starts_with('Z'));
        let rest = l
            .call(
                "GET",
                &format!("/2013-04-01/hostedzonesbyname?dnsname=b.example.com.&hostedzoneid={next_id}&maxitems=3"),
                "",
            )
            .await;
        assert_eq!(
            rest.all("Name"),
            ["b.example.com.", "z.net.", "example.org."].map(String::from)
        );
        assert_eq!(rest.one("IsTruncated"), "false");
        assert!(rest.all("NextDNSName").is_empty());
        let from_middle = l
            .call("GET", "/2013-04-01/hostedzonesbyname?dnsname=m.net", "")
            .await;
        assert_eq!(
            from_middle.all("Name"),
            ["z.net.", "example.org."].map(String::from)
        );
        let bad = l
            .call("GET", "/2013-04-01/hostedzonesbyname?hostedzoneid=Z1", "")
            .await;
        assert_eq!(bad.error(), (400, "InvalidInput".to_string()));
    }

    #[test]
    fn names_sort_with_labels_reversed_and_the_trailing_dot() {
        assert_eq!(sort_key("www.example.com."), "com.example.www.");
        assert_eq!(sort_key("."), ".");
        assert_eq!(canonical("WWW.Example.com"), "www.example.com.");
        assert_eq!(canonical("\\052.apps.example.com."), "*.apps.example.com.");
        assert_eq!(wire_name("*.apps.example.com."), "\\052.apps.example.com.");
    }

    #[tokio::test]
    async fn a_change_batch_is_applied_whole_or_not_at_all() {
        let l = local();
        let z = l.zone("example.com").await;
        let first = l
            .change(
                &z,
                &[
                    ("UPSERT", &a_record("api.example.com", "10.0.0.1")),
                    ("CREATE", &a_record("WWW.example.com.", "10.0.0.2")),
                ],
            )
            .await;
        assert_eq!(first.status, 200, "{}", first.body);
        assert_eq!(first.one("Status"), "PENDING");
        assert!(first.one("Id").starts_with("/change/C"));
        let refused = l
            .change(
                &z,
                &[
                    ("CREATE", &a_record("new.example.com", "10.0.0.3")),
                    ("CREATE", &a_record("www.example.com", "10.0.0.2")),
                    ("DELETE", &a_record("gone.example.com", "10.0.0.4")),
                ],
            )
            .await;
        assert_eq!(refused.error(), (400, "InvalidChangeBatch".to_string()));
        assert_eq!(
            refused.one("Message"),
            "[Tried to create resource record set [name='www.example.com.', type='A'] but it already exists, Tried to delete resource record set [name='gone.example.com.', type='A'] but it was not found]"
        );
        assert_eq!(
            l.record_keys(&z).await,
            [
                "example.com. NS",
                "example.com. SOA",
                "api.example.com. A",
                "www.example.com. A"
            ]
        );
        // A DELETE then a CREATE of the same set in one batch is how a set is replaced.
        let replaced = l
            .change(
                &z,
                &[
                    ("DELETE", &a_record("www.example.com", "10.0.0.2")),
                    ("CREATE", &a_record("www.example.com", "10.0.0.9")),
                ],
            )
            .await;
        assert_eq!(replaced.status, 200, "{}", replaced.body);
        let www = l
            .records(&z, "?name=www.example.com&type=A&maxitems=1")
            .await;
        assert_eq!(www.one("Value"), "10.0.0.9");
        let mismatch = l
            .change(&z, &[("DELETE", &a_record("www.example.com", "10.0.0.2"))])
            .await;
        assert_eq!(mismatch.error(), (400, "InvalidChangeBatch".to_string()));
        assert!(mismatch
            .one("Message")
            .contains("do not match the current values"));
    }

    #[tokio::test]
    async fn changes_aws_refuses() {
        let l = local();
        let z = l.zone("example.com").await;
        let refusals = [
            (a_record("www.example.org", "10.0.0.1"), "UPSERT", "InvalidChangeBatch", "is not permitted in zone example.com."),
            (a_record("www.example.com", "300.0.0.1"), "UPSERT", "InvalidChangeBatch", "ARRDATAIllegalIPv4Address"),
            ("<Name>x.example.com</Name><Type>A</Type><TTL>60</TTL>".to_string(), "UPSERT", "InvalidInput", "but found none"),
            ("<Name>x.example.com</Name><Type>BOGUS</Type><TTL>60</TTL>".to_string(), "UPSERT", "InvalidInput", "enumeration"),
            (a_record("x.example.com", "10.0.0.1"), "REPLACE", "InvalidInput", "enumeration"),
            ("<Name>x.example.com</Name><Type>A</Type><SetIdentifier>a</SetIdentifier><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>10.0.0.1</Value></ResourceRecord></ResourceRecords>".to_string(), "UPSERT", "InvalidInput", "SetIdentifier"),
            ("<Name>example.com</Name><Type>CNAME</Type><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>x.example.org</Value></ResourceRecord></ResourceRecords>".to_string(), "UPSERT", "InvalidChangeBatch", "at apex"),
            ("<Name>t.example.com</Name><Type>TXT</Type><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>unquoted</Value></ResourceRecord></ResourceRecords>".to_string(), "UPSERT", "InvalidChangeBatch", "quotation marks"),
            ("<Name>a.example.com</Name><Type>A</Type><AliasTarget><HostedZoneId>{Z}</HostedZoneId><DNSName>missing.example.com</DNSName><EvaluateTargetHealth>false</EvaluateTargetHealth></AliasTarget>".to_string(), "UPSERT", "InvalidChangeBatch", "that target was not found"),
        ];
        for (set, action, code, text) in refusals {
            let set = set.replace("{Z}", &z);
            let a = l.change(&z, &[(action, &set)]).await;
            assert_eq!(a.error(), (400, code.to_string()), "{set}: {}", a.body);
            assert!(a.one("Message").contains(text), "{set}: {}", a.body);
        }
        let soa = l.records(&z, "?name=example.com&type=SOA&maxitems=1").await;
        let soa_set = format!(
            "<Name>example.com.</Name><Type>SOA</Type><TTL>900</TTL><ResourceRecords><ResourceRecord><Value>{}</Value></ResourceRecord></ResourceRecords>",
            soa.one("Value")
        );
        let a = l.change(&z, &[("DELETE", &soa_set)]).await;
        assert!(
            a.one("Message").contains("exactly one SOA record"),
            "{}",
            a.body
        );
        let cname = "<Name>c.example.com</Name><Type>CNAME</Type><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>x.example.org</Value></ResourceRecord></ResourceRecords>";
        let a = l
            .change(
                &z,
                &[
                    ("CREATE", cname),
                    ("CREATE", &a_record("c.example.com", "10.0.0.1")),
                ],
            )
            .await;
        assert!(
            a.one("Message").contains("conflicting RRSet of type CNAME"),
            "{}",
            a.body
        );
        let missing = l
            .change(
                "ZNOPE",
                &[("UPSERT", &a_record("x.example.com", "10.0.0.1"))],
            )
            .await;
        assert_eq!(missing.error(), (404, "NoSuchHostedZone".to_string()));
    }

    #[tokio::test]
    async fn record_sets_list_in_aws_order_with_escapes_and_pages() {
        let l = local();
        let z = l.zone("example.com").await;
        let alias = "<Name>lb.example.com</Name><Type>A</Type><AliasTarget><HostedZoneId>Z2IFOLAFXWLO4F</HostedZoneId><DNSName>My-NLB-1.elb.eu-west-1.amazonaws.com</DNSName><EvaluateTargetHealth>false</EvaluateTargetHealth></AliasTarget>";
        let ns = "<Name>eks.example.com</Name><Type>NS</Type><TTL>172800</TTL><ResourceRecords><ResourceRecord><Value>ns-1.awsdns-00.com.</Value></ResourceRecord><ResourceRecord><Value>ns-600.awsdns-11.net.</Value></ResourceRecord></ResourceRecords>";
        let a = l
            .change(
                &z,
                &[
                    ("UPSERT", &a_record("*.apps.example.com", "10.0.0.5")),
                    ("UPSERT", alias),
                    ("UPSERT", ns),
                    ("UPSERT", &a_record("api.example.com", "10.0.0.1")),
                    ("UPSERT", "<Name>api.example.com</Name><Type>AAAA</Type><TTL>300</TTL><ResourceRecords><ResourceRecord><Value>fd00::1</Value></ResourceRecord></ResourceRecords>"),
                ],
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(
            l.record_keys(&z).await,
            [
                "example.com. NS",
                "example.com. SOA",
                "api.example.com. A",
                "api.example.com. AAAA",
                "\\052.apps.example.com. A",
                "eks.example.com. NS",
                "lb.example.com. A",
            ]
        );
        let lb = l
            .records(&z, "?name=lb.example.com&type=A&maxitems=1")
            .await;
        assert_eq!(lb.one("DNSName"), "my-nlb-1.elb.eu-west-1.amazonaws.com.");
        assert_eq!(lb.one("HostedZoneId"), "Z2IFOLAFXWLO4F");
        assert!(lb.all("TTL").is_empty());
        // The provider's read: start at the set, one item; the next one is named for paging.
        let page = l
            .records(&z, "?name=api.example.com.&type=AAAA&maxitems=1")
            .await;
        assert_eq!(page.all("Name"), ["api.example.com."].map(String::from));
        assert_eq!(page.one("IsTruncated"), "true");
        assert_eq!(page.one("NextRecordName"), "\\052.apps.example.com.");
        assert_eq!(page.one("NextRecordType"), "A");
        let wildcard = l
            .records(&z, "?name=%5C052.apps.example.com&type=A&maxitems=1")
            .await;
        assert_eq!(wildcard.one("Value"), "10.0.0.5");
        // A missing set: the listing starts at the next one, which the provider filters out.
        let gone = l.records(&z, "?name=b.example.com&type=A&maxitems=1").await;
        assert_eq!(gone.one("Name"), "eks.example.com.");
        let bad = l.records(&z, "?type=A").await;
        assert_eq!(bad.error(), (400, "InvalidInput".to_string()));
        // The alias is deleted as it was read back.
        let read = "<Name>lb.example.com.</Name><Type>A</Type><AliasTarget><HostedZoneId>Z2IFOLAFXWLO4F</HostedZoneId><DNSName>my-nlb-1.elb.eu-west-1.amazonaws.com.</DNSName><EvaluateTargetHealth>false</EvaluateTargetHealth></AliasTarget>";
        let del = l.change(&z, &[("DELETE", read)]).await;
        assert_eq!(del.status, 200, "{}", del.body);
    }

    #[tokio::test]
    async fn changes_are_pending_for_the_operation_delay_then_insync() {
        let l = Local::new(Duration::from_secs(3600));
        let z = l.zone("example.com").await;
        let a = l
            .change(&z, &[("UPSERT", &a_record("api.example.com", "10.0.0.1"))])
            .await;
        let change = a.one("Id");
        let bare = change.trim_start_matches("/change/");
        for path in [
            format!("/2013-04-01/change/{bare}"),
            format!("/2013-04-01/change/%2Fchange%2F{bare}"),
        ] {
            let got = l.call("GET", &path, "").await;
            assert_eq!(got.status, 200, "{}", got.body);
            assert_eq!(got.one("Status"), "PENDING");
            assert_eq!(got.one("Comment"), "test");
        }
        // Settling past the delay is what a request an hour later would do.
        drop(l.cloud.store.settled_at(now_ms() + 3_600_001));
        let got = l
            .call("GET", &format!("/2013-04-01/change/{bare}"), "")
            .await;
        assert_eq!(got.one("Status"), "INSYNC");
        let missing = l.call("GET", "/2013-04-01/change/CNOPE", "").await;
        assert_eq!(missing.error(), (404, "NoSuchChange".to_string()));

        let quick = Local::new(Duration::ZERO);
        let created = quick.create_zone("example.com", "r").await;
        assert_eq!(created.one("Status"), "INSYNC");
    }

    #[tokio::test]
    async fn tags_are_added_removed_and_listed() {
        let l = local();
        let z = l.zone("example.com").await;
        let body = |inner: &str| {
            format!("<ChangeTagsForResourceRequest xmlns=\"{NAMESPACE}\">{inner}</ChangeTagsForResourceRequest>")
        };
        let add = l
            .call(
                "POST",
                &format!("/2013-04-01/tags/hostedzone/{z}"),
                &body("<AddTags><Tag><Key>Name</Key><Value>example</Value></Tag><Tag><Key>matihnet:lineage</Key><Value>abc</Value></Tag></AddTags>"),
            )
            .await;
        assert_eq!(add.status, 200, "{}", add.body);
        let remove = l
            .call(
                "POST",
                &format!("/2013-04-01/tags/hostedzone/%2Fhostedzone%2F{z}"),
                &body("<RemoveTagKeys><Key>Name</Key></RemoveTagKeys>"),
            )
            .await;
        assert_eq!(remove.status, 200, "{}", remove.body);
        let list = l
            .call("GET", &format!("/2013-04-01/tags/hostedzone/{z}"), "")
            .await;
        assert_eq!(list.all("Key"), ["matihnet:lineage"].map(String::from));
        assert_eq!(list.one("ResourceId"), z);
        assert_eq!(list.one("ResourceType"), "hostedzone");
        let missing = l.call("GET", "/2013-04-01/tags/hostedzone/ZNOPE", "").await;
        assert_eq!(missing.error(), (404, "NoSuchHostedZone".to_string()));
        let check = l
            .call("POST", "/2013-04-01/tags/healthcheck/abc", &body(""))
            .await;
        assert_eq!(check.error(), (404, "NoSuchHealthCheck".to_string()));
    }

    #[tokio::test]
    async fn a_zone_with_records_of_its_own_is_not_deleted() {
        let l = local();
        let z = l.zone("example.com").await;
        let ns = "<Name>eks.example.com</Name><Type>NS</Type><TTL>172800</TTL><ResourceRecords><ResourceRecord><Value>ns-1.awsdns-00.com.</Value></ResourceRecord></ResourceRecords>";
        assert_eq!(l.change(&z, &[("UPSERT", ns)]).await.status, 200);
        let path = format!("/2013-04-01/hostedzone/{z}");
        let refused = l.call("DELETE", &path, "").await;
        assert_eq!(refused.error(), (400, "HostedZoneNotEmpty".to_string()));
        assert_eq!(l.change(&z, &[("DELETE", ns)]).await.status, 200);
        let deleted = l.call("DELETE", &path, "").await;
        assert_eq!(deleted.status, 200, "{}", deleted.body);
        assert!(deleted.one("Id").starts_with("/change/C"));
        assert_eq!(
            l.call("GET", &path, "").await.error(),
            (404, "NoSuchHostedZone".to_string())
        );
        assert_eq!(
            l.call("DELETE", &path, "").await.error(),
            (404, "NoSuchHostedZone".to_string())
        );
    }

    #[tokio::test]
    async fn zones_survive_a_snapshot_and_faults_answer_in_route53_shape() {
        let l = local();
        let z = l.zone("example.com").await;
        let saved = l.cloud.snapshot();
        let other = Local::new(Duration::from_millis(200));
        other.cloud.restore(saved).expect("restore");
        let got = other
            .call("GET", &format!("/2013-04-01/hostedzone/{z}"), "")
            .await;
        assert_eq!(got.one("Name"), "example.com.");
        assert_eq!(
            other.create_zone("x.com", "ref-example.com").await.status,
            409
        );

        other.cloud.throttle(1);
        let throttled = other
            .call("GET", &format!("/2013-04-01/hostedzone/{z}"), "")
            .await;
        assert_eq!(throttled.error(), (400, "Throttling".to_string()));
        let unknown = other.call("GET", "/2013-04-01/healthcheck", "").await;
        assert_eq!(unknown.error(), (400, "InvalidAction".to_string()));
        let malformed = other
            .call(
                "POST",
                "/2013-04-01/hostedzone",
                "<CreateHostedZoneRequest>",
            )
            .await;
        assert_eq!(malformed.error(), (400, "InvalidInput".to_string()));
    }
}
