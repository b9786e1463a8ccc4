//! Replays every recording in `tests/reference/gcp/*.http.log` (real GCP traffic, normalized by
//! Config Connector's harness) against the local Google Cloud and compares status codes and body
//! fields, ignoring what the normalization replaced (ids, timestamps, fingerprints, hosts and the
//! `${...}` placeholders). Requests to services matihnet does not use are skipped with a printed
//! reason; see `skip_reason`.
#![allow(clippy::unwrap_used)]

#[path = "gcp/harness.rs"]
mod harness;
#[path = "conformance/report.rs"]
mod report;

use std::collections::BTreeMap;
use std::path::PathBuf;

use harness::Gcp;
use report::{assert_clean, FileReport};
use serde_json::Value;

/// Values the placeholders of request URLs and bodies become; names must be valid GCP names.
const SUBSTITUTIONS: [(&str, &str); 7] = [
    ("${projectId}", "conformance-project"),
    ("${uniqueId}", "u1a2b3"),
    ("${networkID}", "test-nw-u1a2b3"),
    ("${subnetworkID}", "test-subnet-u1a2b3"),
    ("${addressID}", "test-addr-u1a2b3"),
    ("${forwardingRuleID}", "test-fr-u1a2b3"),
    ("${managedZoneId}", "0"),
];

/// Response fields whose recorded values are normalization placeholders or depend on time.
const IGNORED_FIELDS: [&str; 12] = [
    "id",
    "targetId",
    "creationTimestamp",
    "creationTime",
    "insertTime",
    "startTime",
    "endTime",
    "fingerprint",
    "labelFingerprint",
    "user",
    "selfLinkWithId",
    // The recordings normalize the gateway to 10.0.0.1 even for a 10.128.0.0/20 subnetwork; the
    // emulator's value (first host of the range) is checked in gcp_behaviour instead.
    "gatewayAddress",
];

/// Response fields of one recording that cannot agree with the emulator: (recording, field path
/// as the differences print it, why).
const RECORDING_EXCEPTIONS: [(&str, &str, &str); 3] = [
    (
        "compute-networks-custom-patch-ula.http.log",
        "$.internalIpv6Range",
        "GCP picks the ULA /48 within fd20::/20 for each network; the emulator derives one from the network's id (its shape is checked in gcp_behaviour)",
    ),
    (
        "compute-networks-auto-patch-routingmode.http.log",
        "$.subnetworks",
        "recorded after GCP opened asia-southeast3 (42 regions); no recording shows that region's auto-mode range, so the emulator creates the 41 of compute-networks-auto.http.log",
    ),
    (
        "compute-addresses-regional-internal.http.log",
        "$.address",
        "normalized to 8.8.8.8 even for an INTERNAL address; the emulator's is the first free host of the subnetwork, checked in gcp_behaviour",
    ),
];

/// Exchanges of one recording that are not replayed: (recording, exchange numbers, why).
const EXCHANGE_EXCEPTIONS: [(&str, &[usize], &str); 1] = [(
    "dns-recordset-changes-a.http.log",
    &[13, 14, 15, 16, 17, 18, 29, 30, 31],
    "a second global address whose real name the normalization folded into the first one's ${addressID}; replayed as one name it would collide with the first",
)];

#[derive(Debug)]
struct Exchange {
    method: String,
    url: String,
    request_body: Option<Value>,
    status: u16,
    response_body: Value,
}

fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference/gcp")
}

fn parse_log(text: &str) -> Vec<Exchange> {
    let mut out = Vec::new();
    for block in text.split("\n---\n") {
        let lines: Vec<&str> = block.trim_matches('\n').lines().collect();
        let Some(first) = lines.first() else { continue };
        let (method, url) = first.split_once(' ').unwrap();
        let mut i = 1;
        while i < lines.len() && !lines[i].is_empty() {
            i += 1; // request headers
        }
        let is_status = |l: &str| {
            l.len() > 4
                && l.as_bytes()[..3].iter().all(u8::is_ascii_digit)
                && l.as_bytes()[3] == b' '
        };
        let status_at = (i..lines.len())
            .find(|&j| is_status(lines[j]) && (j == 0 || lines[j - 1].is_empty()))
            .unwrap_or_else(|| panic!("no status line in block starting {first}"));
        let request_text = lines[i..status_at].join("\n");
        let request_body =
            (!request_text.trim().is_empty()).then(|| serde_json::from_str(&request_text).unwrap());
        let status: u16 = lines[status_at][..3].parse().unwrap();
        let mut j = status_at + 1;
        while j < lines.len() && !lines[j].is_empty() {
            j += 1; // response headers
        }
        let response_text = lines[j.min(lines.len())..].join("\n");
        let response_body = if response_text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&response_text).unwrap()
        };
        out.push(Exchange {
            method: method.to_string(),
            url: url.to_string(),
            request_body,
            status,
            response_body,
        });
    }
    out
}

/// Why an exchange is not replayed, or `None` to replay it. Every reason is printed.
fn skip_reason(ex: &Exchange, last_write_skipped: bool) -> Option<&'static str> {
    let url = ex.url.as_str();
    if url.contains("networkconnectivity.googleapis.com") {
        return Some("networkconnectivity internalRanges: not used by matihnet, not emulated");
    }
    if url.contains("/targetVpnGateways") {
        return Some("targetVpnGateways: not used by matihnet, not emulated");
    }
    if url.contains("/forwardingRules") {
        return Some("forwardingRules: created by GKE's ingress controller, not by matihnet");
    }
    if url.contains("/aggregated/") {
        return Some("aggregated lists: not used by matihnet, not emulated");
    }
    if url.contains("/global/routes") {
        return Some("routes: not used by matihnet, not emulated");
    }
    if url.contains("/operations/") && last_write_skipped {
        return Some("polls the operation of a skipped write");
    }
    None
}

fn substitute(text: &str, vars: &BTreeMap<String, String>) -> String {
    // The recording's own values first: a placeholder naming a pre-existing object wins.
    let mut out = text.to_string();
    for (k, v) in vars {
        out = out.replace(k.as_str(), v);
    }
    for (k, v) in SUBSTITUTIONS {
        out = out.replace(k, v);
    }
    out
}

fn strip_host(s: &str) -> &str {
    for prefix in [
        "https://www.googleapis.com",
        "https://compute.googleapis.com",
        "https://dns.googleapis.com",
    ] {
        if let Some(rest) = s.strip_prefix(prefix) {
            return rest;
        }
    }
    s
}

/// Name-server host names differ between the recorded zone (`ns-cloud-a1`) and its NS record
/// set (`ns-cloud-c1`) because of the normalization; compare them up to the shard letter.
fn normalize_ns(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("ns-cloud-") {
        out.push_str(&rest[..i + 9]);
        rest = &rest[i + 9..];
        if rest.starts_with(|c: char| c.is_ascii_lowercase()) {
            out.push('?');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

/// Does `actual` match `expected`, where each `${...}` in `expected` matches any text?
fn matches_pattern(expected: &str, actual: &str) -> bool {
    let mut parts: Vec<&str> = Vec::new();
    let mut rest = expected;
    while let Some(start) = rest.find("${") {
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        parts.push(&rest[..start]);
        rest = &rest[start + end + 1..];
    }
    parts.push(rest);
    if parts.len() == 1 {
        return expected == actual;
    }
    let mut pos = 0;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            if !actual.starts_with(part) {
                return false;
            }
            pos = part.len();
        } else if i == parts.len() - 1 {
            return actual.len() >= pos + part.len() && actual[pos..].ends_with(part);
        } else {
            match actual[pos..].find(part) {
                Some(k) => pos += k + part.len(),
                None => return false,
            }
        }
    }
    true
}

fn compare(
    path: &str,
    expected: &Value,
    actual: &Value,
    excepted: &[&str],
    problems: &mut Vec<String>,
) {
    if excepted.contains(&path) {
        return;
    }
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                if IGNORED_FIELDS.contains(&k.as_str()) {
                    if !a.contains_key(k) {
                        problems.push(format!("{path}.{k}: missing"));
                    }
                    continue;
                }
                match a.get(k) {
                    Some(av) => compare(&format!("{path}.{k}"), ev, av, excepted, problems),
                    None => problems.push(format!("{path}.{k}: missing (expected {ev})")),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                problems.push(format!("{path}: {} items, expected {}", a.len(), e.len()));
                return;
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                compare(&format!("{path}[{i}]"), ev, av, excepted, problems);
            }
        }
        (Value::String(e), Value::String(a)) => {
            let e = normalize_ns(strip_host(e));
            let a = normalize_ns(strip_host(a));
            // The recordings normalize every external address to 8.8.8.8.
            let normalized_ip = e == "8.8.8.8" && a.parse::<std::net::Ipv4Addr>().is_ok();
            if !normalized_ip && !matches_pattern(&e, &a) {
                problems.push(format!("{path}: {a:?}, expected {e:?}"));
            }
        }
        (e, a) if e == a => {}
        (e, a) => problems.push(format!("{path}: {a}, expected {e}")),
    }
}

/// The placeholders a recording reads (200) before it creates anything under them: they name
/// what the recorded project already had, which in a new project is its `default` network and
/// that network's auto-mode subnetworks.
fn preexisting(exchanges: &[Exchange]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut created: Vec<String> = Vec::new();
    for ex in exchanges {
        if let Some(name) = ex.request_body.as_ref().and_then(|b| b["name"].as_str()) {
            created.push(name.to_string());
        }
        if ex.method != "GET" || ex.status != 200 {
            continue;
        }
        for collection in ["/global/networks/", "/subnetworks/"] {
            let Some(rest) = ex.url.split(collection).nth(1) else {
                continue;
            };
            let placeholder = rest.split(['?', '/']).next().unwrap_or("");
            if placeholder.starts_with("${") && !created.iter().any(|c| c == placeholder) {
                out.insert(placeholder.to_string(), "default".to_string());
            }
        }
    }
    out
}

/// Replays one recording exchange by exchange.
async fn replay(name: &str, text: &str) -> FileReport {
    let mut report = FileReport::new(name);
    let exchanges = parse_log(text);
    let gcp = Gcp::new(30);
    let excepted: Vec<&str> = RECORDING_EXCEPTIONS
        .iter()
        .filter(|(file, _, _)| *file == name)
        .map(|(_, field, _)| *field)
        .collect();
    for (_, field, why) in RECORDING_EXCEPTIONS.iter().filter(|(f, _, _)| *f == name) {
        report.unchecked(*field, *why);
    }
    let mut vars: BTreeMap<String, String> = preexisting(&exchanges);
    for (placeholder, value) in &vars {
        report.unchecked(
            format!("{placeholder} = {value}"),
            "the recorded project already had it; a new project's is its default network",
        );
    }
    // internalRange name -> its range, for subnetworks whose primary range comes from one.
    let mut internal_ranges: BTreeMap<String, String> = BTreeMap::new();
    let mut fingerprints: BTreeMap<&str, String> = BTreeMap::new();
    let mut last_write_skipped = false;
    for (n, ex) in exchanges.iter().enumerate() {
        let label = format!("#{n} {} {}", ex.method, ex.url);
        let is_write = ex.method != "GET" && !ex.url.contains("/operations/");
        let excepted_exchange = EXCHANGE_EXCEPTIONS
            .iter()
            .find(|(file, numbers, _)| *file == name && numbers.contains(&n));
        if let Some((_, _, why)) = excepted_exchange {
            report.except(label, *why);
            continue;
        }
        if let Some(reason) = skip_reason(ex, last_write_skipped) {
            if ex.url.contains("/internalRanges?") {
                let id = ex.url.split("internalRangeId=").nth(1).unwrap_or("");
                let id = id.split('&').next().unwrap_or("");
                if let Some(range) = ex
                    .request_body
                    .as_ref()
                    .and_then(|b| b["ipCidrRange"].as_str())
                {
                    internal_ranges.insert(id.to_string(), range.to_string());
                }
            }
            if is_write {
                last_write_skipped = true;
            }
            report.except(label, reason);
            continue;
        }
        if is_write {
            last_write_skipped = false;
        }
        let url = substitute(&ex.url, &vars);
        let path = harness::local_path(&url);
        let mut body = ex.request_body.clone();
        if let Some(Value::Object(b)) = body.as_mut() {
            // The subnetwork takes its primary range from a (skipped) internalRange.
            if let Some(Value::String(r)) = b.get("reservedInternalRange").cloned() {
                let id = r.rsplit('/').next().unwrap_or("");
                if let Some(range) = internal_ranges.get(id) {
                    println!("ADJUST {label}: ipCidrRange {range} from skipped internalRange {id}");
                    b.insert("ipCidrRange".into(), Value::String(range.clone()));
                }
            }
            // Recorded fingerprints are placeholders: send the emulator's current ones.
            for field in ["fingerprint", "labelFingerprint"] {
                if let (Some(_), Some(current)) = (b.get(field), fingerprints.get(field)) {
                    b.insert(field.into(), Value::String(current.clone()));
                }
            }
        }
        let body = body
            .map(|b| serde_json::from_str::<Value>(&substitute(&b.to_string(), &vars)).unwrap());
        // A recorded poll that saw DONE may see RUNNING here first: poll like the client did.
        let mut result = gcp.call(&ex.method, &path, body.as_ref()).await;
        let polls_operation =
            ex.url.contains("/operations/") && ex.response_body["status"] == "DONE";
        for _ in 0..100 {
            if !(polls_operation && result.1["status"] == "RUNNING") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            result = gcp.call(&ex.method, &path, body.as_ref()).await;
        }
        let (status, actual) = result;
        let mut diffs = Vec::new();
        if status != ex.status {
            diffs.push(format!(
                "status {status}, expected {} ({actual})",
                ex.status
            ));
            report.exchange(&label, diffs);
            continue;
        }
        compare("$", &ex.response_body, &actual, &excepted, &mut diffs);
        report.exchange(&label, diffs);
        // Later requests refer to what this response named.
        if actual["kind"] == "compute#operation" {
            if let Some(op) = actual["name"].as_str() {
                vars.insert("${operationID}".into(), op.to_string());
            }
        }
        if actual["kind"] == "dns#change" {
            if let Some(id) = actual["id"].as_str() {
                vars.insert("${changeId}".into(), id.to_string());
            }
        }
        for field in ["fingerprint", "labelFingerprint"] {
            if let Some(f) = actual[field].as_str() {
                fingerprints.insert(field, f.to_string());
            }
        }
    }
    for field in IGNORED_FIELDS {
        report.unchecked(
            field,
            "a normalization placeholder or a time in every recording; presence is checked",
        );
    }
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_every_recording() {
    let dir = reference_dir();
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "the GCP reference recordings are missing: cannot read {} ({e}); they are vendored at tests/reference/gcp in the crate",
            dir.display()
        )
    });
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".http.log"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.http.log in {}", dir.display());
    let mut reports = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(file).unwrap();
        let report = replay(&name, &text).await;
        assert!(report.replayed > 0, "{name}: nothing replayed");
        reports.push(report);
    }
    assert_clean(
        "Config Connector recordings against the local Google Cloud",
        &reports,
    );
}

#[test]
fn pattern_matching_treats_placeholders_as_wildcards() {
    assert!(matches_pattern(
        "projects/${projectId}/x/${a}",
        "projects/p/x/b"
    ));
    assert!(matches_pattern("${operationID}", "operation-1"));
    assert!(!matches_pattern("projects/${projectId}/x", "projects/p/y"));
    assert!(matches_pattern("a", "a"));
    assert_eq!(
        normalize_ns("ns-cloud-c1.googledomains.com."),
        "ns-cloud-?1.googledomains.com."
    );
}
