//! `render --check`: reads Kubernetes manifests from any source (YAML documents, JSON objects,
//! `List`s) and reports every network policy that opens Kafka's plaintext port 9092 or a port the
//! port table does not name, and every namespace without a default-deny, naming the file and the
//! object. Objects that are not policies are only used to learn which namespaces exist.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::policy::{Protocol, KAFKA_PLAINTEXT, PORT_TABLE};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub file: String,
    /// `Kind/namespace/name`, or `Kind/name` for cluster-wide objects.
    pub object: String,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.object, self.message)
    }
}

/// The objects of one file; a file that does not parse is a finding, not an error, so that one
/// broken file does not hide the others' problems.
fn objects(path: &str, text: &str) -> Result<Vec<Value>, String> {
    let mut docs = Vec::new();
    if path.ends_with(".json") {
        docs.push(serde_json::from_str::<Value>(text).map_err(|e| e.to_string())?);
    } else {
        for doc in serde_yaml_ng::Deserializer::from_str(text) {
            docs.push(Value::deserialize(doc).map_err(|e| e.to_string())?);
        }
    }
    let mut out = Vec::new();
    for doc in docs {
        match doc.get("kind").and_then(Value::as_str) {
            Some(k) if k.ends_with("List") => {
                out.extend(doc["items"].as_array().cloned().unwrap_or_default())
            }
            _ if doc.is_object() => out.push(doc),
            _ => {}
        }
    }
    Ok(out)
}

/// Which policy types a namespace denies by default.
#[derive(Default)]
struct Defaults {
    first_seen: (String, String),
    ingress: bool,
    egress: bool,
}

/// The check of `files` (path, contents); findings sorted by file and object.
pub fn check(files: &[(String, String)]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut namespaces: BTreeMap<String, Defaults> = BTreeMap::new();
    let mut deny_everywhere = (false, false);
    for (path, text) in files {
        let objects = match objects(path, text) {
            Ok(o) => o,
            Err(e) => {
                findings.push(Finding {
                    file: path.clone(),
                    object: "-".to_string(),
                    message: format!("cannot be read as YAML or JSON: {e}"),
                });
                continue;
            }
        };
        for o in objects {
            let (Some(api), Some(kind)) = (
                o.get("apiVersion").and_then(Value::as_str),
                o.get("kind").and_then(Value::as_str),
            ) else {
                continue;
            };
            let name = o["metadata"]["name"].as_str().unwrap_or("?").to_string();
            let calico =
                api.starts_with("projectcalico.org/") || api.starts_with("crd.projectcalico.org/");
            let k8s_policy = api == "networking.k8s.io/v1" && kind == "NetworkPolicy";
            let calico_policy =
                calico && (kind == "NetworkPolicy" || kind == "GlobalNetworkPolicy");
            let cluster_wide = kind == "GlobalNetworkPolicy" || kind == "Namespace";
            let namespace = if kind == "Namespace" {
                name.clone()
            } else {
                o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("default")
                    .to_string()
            };
            let object = if cluster_wide {
                format!("{kind}/{name}")
            } else {
                format!("{kind}/{namespace}/{name}")
            };
            if !(k8s_policy || calico_policy || kind == "Namespace") {
                continue;
            }
            if kind != "GlobalNetworkPolicy" {
                namespaces
                    .entry(namespace.clone())
                    .or_insert_with(|| Defaults {
                        first_seen: (path.clone(), object.clone()),
                        ..Defaults::default()
                    });
            }
            let spec = &o["spec"];
            let mut report = |message: String| {
                findings.push(Finding {
                    file: path.clone(),
                    object: object.clone(),
                    message,
                })
            };
            if k8s_policy {
                let (deny_in, deny_out) = kubernetes_policy(spec, &mut report);
                let d = namespaces.entry(namespace).or_default();
                d.ingress |= deny_in;
                d.egress |= deny_out;
            } else if calico_policy {
                let (deny_in, deny_out) = calico_policy_rules(spec, &mut report);
                if kind == "GlobalNetworkPolicy" {
                    // Only a global policy over every namespace is a default-deny for each.
                    let everywhere = spec
                        .get("namespaceSelector")
                        .and_then(Value::as_str)
                        .is_none_or(|s| s.trim() == "all()" || s.trim().is_empty());
                    if everywhere {
                        deny_everywhere.0 |= deny_in;
                        deny_everywhere.1 |= deny_out;
                    }
                } else {
                    let d = namespaces.entry(namespace).or_default();
                    d.ingress |= deny_in;
                    d.egress |= deny_out;
                }
            }
        }
    }
    for (ns, d) in namespaces {
        let missing: Vec<&str> = [
            ("Ingress", d.ingress || deny_everywhere.0),
            ("Egress", d.egress || deny_everywhere.1),
        ]
        .into_iter()
        .filter(|(_, denied)| !denied)
        .map(|(t, _)| t)
        .collect();
        if !missing.is_empty() {
            findings.push(Finding {
                file: d.first_seen.0,
                object: d.first_seen.1,
                message: format!(
                    "namespace `{ns}` has no default-deny for {}: add a NetworkPolicy with `podSelector: {{}}`, policyTypes {} and no rules",
                    missing.join(" and "),
                    missing.join(", ")
                ),
            });
        }
    }
    findings.sort();
    findings
}

/// Whether a selector selects every pod: absent, `{}`, or with empty lists.
fn selects_all(selector: &Value) -> bool {
    match selector {
        Value::Null => true,
        Value::Object(m) => m.values().all(|v| match v {
            Value::Object(o) => o.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Null => true,
            _ => false,
        }),
        _ => false,
    }
}

fn rules(spec: &Value, key: &str) -> Vec<Value> {
    spec.get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Which types are in `types`; absent means Ingress, plus Egress when egress rules are written
/// (as both Kubernetes and Calico default them).
fn policy_types(spec: &Value, key: &str) -> (bool, bool) {
    match spec.get(key).and_then(Value::as_array) {
        Some(types) => {
            let has = |t: &str| types.iter().any(|v| v.as_str() == Some(t));
            (has("Ingress"), has("Egress"))
        }
        None => (true, spec.get("egress").is_some()),
    }
}

/// Checks a Kubernetes policy's rules; returns whether it is a default-deny for (ingress, egress).
fn kubernetes_policy(spec: &Value, report: &mut dyn FnMut(String)) -> (bool, bool) {
    for (key, direction) in [("ingress", "ingress"), ("egress", "egress")] {
        for (i, rule) in rules(spec, key).iter().enumerate() {
            let at = format!("{direction} rule {}", i + 1);
            let ports = rule.get("ports").and_then(Value::as_array);
            match ports {
                None => report(every_port(&at)),
                Some(p) if p.is_empty() => report(every_port(&at)),
                Some(ports) => {
                    for port in ports {
                        let protocol = port
                            .get("protocol")
                            .and_then(Value::as_str)
                            .unwrap_or("TCP");
                        let end = port.get("endPort").and_then(Value::as_u64);
                        check_port(&at, protocol, port.get("port"), end, report);
                    }
                }
            }
        }
    }
    let all = selects_all(&spec["podSelector"]);
    let (ingress, egress) = policy_types(spec, "policyTypes");
    (
        all && ingress && rules(spec, "ingress").is_empty(),
        all && egress && rules(spec, "egress").is_empty(),
    )
}

/// Checks a Calico policy's Allow rules; returns whether it is a default-deny.
fn calico_policy_rules(spec: &Value, report: &mut dyn FnMut(String)) -> (bool, bool) {
    let mut allows = (false, false);
    for (key, direction) in [("ingress", "ingress"), ("egress", "egress")] {
        for (i, rule) in rules(spec, key).iter().enumerate() {
            if rule.get("action").and_then(Value::as_str) != Some("Allow") {
                continue;
            }
            if key == "ingress" {
                allows.0 = true;
            } else {
                allows.1 = true;
            }
            let at = format!("{direction} rule {}", i + 1);
            let destination = &rule["destination"];
            if let Some(service) = destination.get("services") {
                let is_api = service["name"].as_str() == Some("kubernetes")
                    && service["namespace"].as_str() == Some("default");
                if !is_api {
                    report(format!(
                        "{at} allows the ports of service {}/{}, which the port table does not name",
                        service["namespace"].as_str().unwrap_or("?"),
                        service["name"].as_str().unwrap_or("?")
                    ));
                }
                continue;
            }
            let protocols: Vec<String> = match rule.get("protocol") {
                Some(Value::String(p)) => vec![p.clone()],
                Some(Value::Number(n)) => vec![n.to_string()],
                _ => vec!["TCP".to_string(), "UDP".to_string()],
            };
            match destination.get("ports").and_then(Value::as_array) {
                Some(ports) if !ports.is_empty() => {
                    for protocol in &protocols {
                        for port in ports {
                            check_calico_port(&at, protocol, port, report);
                        }
                    }
                }
                _ => report(every_port(&at)),
            }
        }
    }
    let all = spec
        .get("selector")
        .and_then(Value::as_str)
        .is_none_or(|s| s.trim() == "all()" || s.trim().is_empty());
    let (ingress, egress) = policy_types(spec, "types");
    (all && ingress && !allows.0, all && egress && !allows.1)
}

fn every_port(at: &str) -> String {
    format!("{at} allows every port, Kafka's plaintext {KAFKA_PLAINTEXT} among them: list the ports it needs")
}

fn check_port(
    at: &str,
    protocol: &str,
    port: Option<&Value>,
    end: Option<u64>,
    report: &mut dyn FnMut(String),
) {
    match port {
        None | Some(Value::Null) => report(format!(
            "{at} allows every {protocol} port, Kafka's plaintext {KAFKA_PLAINTEXT} among them"
        )),
        Some(Value::Number(n)) => {
            let first = n.as_u64().unwrap_or(0);
            check_range(at, protocol, first, end.unwrap_or(first), report);
        }
        Some(Value::String(s)) => match s.parse::<u64>() {
            Ok(n) => check_range(at, protocol, n, end.unwrap_or(n), report),
            Err(_) => report(format!(
                "{at} allows the named port `{s}`, which cannot be checked against the port table: write the number"
            )),
        },
        Some(other) => report(format!("{at} has a port that is not a number: {other}")),
    }
}

fn check_calico_port(at: &str, protocol: &str, port: &Value, report: &mut dyn FnMut(String)) {
    match port {
        Value::Number(n) => {
            let p = n.as_u64().unwrap_or(0);
            check_range(at, protocol, p, p, report);
        }
        Value::String(s) => {
            let range = s
                .split_once(':')
                .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
            match (s.parse::<u64>(), range) {
                (Ok(p), _) => check_range(at, protocol, p, p, report),
                (_, Some((a, b))) => check_range(at, protocol, a, b, report),
                _ => report(format!(
                    "{at} allows the named port `{s}`, which cannot be checked against the port table: write the number"
                )),
            }
        }
        other => report(format!("{at} has a port that is not a number: {other}")),
    }
}

fn check_range(at: &str, protocol: &str, first: u64, last: u64, report: &mut dyn FnMut(String)) {
    let shown = if first == last {
        format!("{protocol} {first}")
    } else {
        format!("{protocol} {first}-{last}")
    };
    let tcp = Protocol::parse(protocol) == Some(Protocol::Tcp);
    if tcp && (first..=last).contains(&u64::from(KAFKA_PLAINTEXT)) {
        report(format!(
            "{at} opens Kafka's plaintext port {KAFKA_PLAINTEXT} ({shown}): clients must use TLS on 9093"
        ));
        return;
    }
    let named = match (
        Protocol::parse(protocol),
        u16::try_from(first),
        u16::try_from(last),
    ) {
        (Some(p), Ok(a), Ok(b)) => PORT_TABLE.iter().find(|e| e.covers(p, a, b)),
        _ => None,
    };
    if named.is_none() {
        report(format!(
            "{at} allows {shown}, which the port table does not name"
        ));
    }
}
