//! Network policies: the port table of the networking model, the flows between the platform's
//! namespaces that use it, and the objects that enforce them. Every namespace gets a default-deny
//! and exactly the allows its flows need (Kubernetes `NetworkPolicy`); Calico says what
//! Kubernetes' own policies cannot: egress to the API server by service (`default/kubernetes`),
//! and a deny of Kafka's plaintext port 9092 that no later allow can open.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use matihnet_net::Environment;
use serde_json::{json, Value};

use crate::document::{to_value, File, Format};
use crate::namespaces::{
    labels, Namespace, CONTROL_PLANE, DATA_PLANE, FRONTEND, INGRESS, NAME_LABEL,
};
use crate::RenderError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }

    /// Kubernetes and Calico spell protocols in upper case; Calico also accepts lower case.
    pub fn parse(s: &str) -> Option<Protocol> {
        match s.to_ascii_uppercase().as_str() {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            _ => None,
        }
    }
}

/// One row of the port table: a port (or range) a policy may open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortEntry {
    pub purpose: &'static str,
    pub protocol: Protocol,
    pub first: u16,
    pub last: u16,
}

impl PortEntry {
    const fn tcp(purpose: &'static str, port: u16) -> PortEntry {
        PortEntry {
            purpose,
            protocol: Protocol::Tcp,
            first: port,
            last: port,
        }
    }

    /// Whether every port of `first..=last` over `protocol` is in this entry.
    pub fn covers(&self, protocol: Protocol, first: u16, last: u16) -> bool {
        self.protocol == protocol && self.first <= first && last <= self.last
    }
}

pub const CONTROL_PLANE_APIS: PortEntry = PortEntry {
    purpose: "Control plane APIs (REST/gRPC)",
    protocol: Protocol::Tcp,
    first: 8080,
    last: 8089,
};
pub const AI_SERVICE: PortEntry = PortEntry::tcp("AI service (FastAPI with WebSocket)", 8000);
pub const TRINO: PortEntry = PortEntry::tcp("Trino (SQL queries)", 8080);
pub const KAFKA_TLS: PortEntry = PortEntry::tcp("Kafka (TLS)", 9093);
pub const POSTGRESQL: PortEntry = PortEntry::tcp("PostgreSQL", 5432);
pub const REDIS: PortEntry = PortEntry::tcp("Redis (cache, pub-sub)", 6379);
pub const SPARK_CONNECT: PortEntry = PortEntry::tcp("Spark Connect (gRPC)", 15002);
pub const QDRANT: PortEntry = PortEntry::tcp("Qdrant (vector search)", 6333);
pub const NEO4J: PortEntry = PortEntry::tcp("Neo4j (Bolt)", 7687);
pub const DNS_UDP: PortEntry = PortEntry {
    purpose: "DNS to CoreDNS",
    protocol: Protocol::Udp,
    first: 53,
    last: 53,
};
pub const DNS_TCP: PortEntry = PortEntry::tcp("DNS to CoreDNS", 53);
pub const INGRESS_HTTP: PortEntry = PortEntry::tcp("NGINX ingress (HTTP)", 80);
pub const INGRESS_HTTPS: PortEntry = PortEntry::tcp("NGINX ingress (HTTPS)", 443);
/// The API server calls ingress-nginx's validating webhook; without it no Ingress can be saved.
pub const ADMISSION_WEBHOOK: PortEntry = PortEntry::tcp(
    "ingress-nginx admission webhook (from the API server)",
    8443,
);

/// Every port a policy may open: the networking model's table of internal ports, plus the
/// ingress controllers' own (HTTP, HTTPS, admission webhook). Kafka's plaintext 9092 is not in
/// it and never will be.
pub const PORT_TABLE: [PortEntry; 14] = [
    CONTROL_PLANE_APIS,
    AI_SERVICE,
    TRINO,
    KAFKA_TLS,
    POSTGRESQL,
    REDIS,
    SPARK_CONNECT,
    QDRANT,
    NEO4J,
    DNS_UDP,
    DNS_TCP,
    INGRESS_HTTP,
    INGRESS_HTTPS,
    ADMISSION_WEBHOOK,
];

pub const KAFKA_PLAINTEXT: u16 = 9092;

/// The data-plane services (query-engine on 8080, catalog-service on 8086, the AI service on 8000)
/// answer in the API range too.
const DATA_PLANE_APIS: &[PortEntry] = &[AI_SERVICE, CONTROL_PLANE_APIS];
const PLATFORM_APIS: &[PortEntry] = &[CONTROL_PLANE_APIS];
/// Kafka, PostgreSQL and Redis run in the data plane.
const DATA_STORES: &[PortEntry] = &[KAFKA_TLS, POSTGRESQL, REDIS];
const ANALYTICS: &[PortEntry] = &[TRINO, SPARK_CONNECT, QDRANT, NEO4J];
const PUBLIC: &[PortEntry] = &[INGRESS_HTTP, INGRESS_HTTPS, ADMISSION_WEBHOOK];
const DNS: &[PortEntry] = &[DNS_UDP, DNS_TCP];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Peer {
    Namespace(String),
    /// Any source, inside the cluster or not (the load balancer keeps client addresses).
    Anywhere,
    CoreDns,
}

struct Flow {
    from: Peer,
    to: Peer,
    ports: Vec<PortEntry>,
}

fn flow(from: &str, to: &str, groups: &[&[PortEntry]]) -> Flow {
    Flow {
        from: Peer::Namespace(from.to_string()),
        to: Peer::Namespace(to.to_string()),
        ports: groups.iter().flat_map(|g| g.iter().copied()).collect(),
    }
}

/// Who talks to whom on which ports.
fn flows(namespaces: &[Namespace]) -> Vec<Flow> {
    let mut out = Vec::new();
    for ns in namespaces {
        out.push(Flow {
            from: Peer::Namespace(ns.name.clone()),
            to: Peer::CoreDns,
            ports: DNS.to_vec(),
        });
        if ns.runs_ingress {
            out.push(Flow {
                from: Peer::Anywhere,
                to: Peer::Namespace(ns.name.clone()),
                ports: PUBLIC.to_vec(),
            });
            out.push(flow(&ns.name, CONTROL_PLANE, &[PLATFORM_APIS]));
            out.push(flow(&ns.name, DATA_PLANE, &[DATA_PLANE_APIS]));
        }
    }
    out.push(flow(INGRESS, FRONTEND, &[PLATFORM_APIS]));
    out.push(flow(CONTROL_PLANE, CONTROL_PLANE, &[PLATFORM_APIS]));
    out.push(flow(
        CONTROL_PLANE,
        DATA_PLANE,
        &[DATA_PLANE_APIS, DATA_STORES],
    ));
    out.push(flow(DATA_PLANE, CONTROL_PLANE, &[PLATFORM_APIS]));
    out.push(flow(
        DATA_PLANE,
        DATA_PLANE,
        &[DATA_PLANE_APIS, DATA_STORES, ANALYTICS],
    ));
    out.push(flow(FRONTEND, CONTROL_PLANE, &[PLATFORM_APIS]));
    out.push(flow(FRONTEND, DATA_PLANE, &[DATA_PLANE_APIS]));
    for ns in namespaces.iter().filter(|n| n.tenant.is_some()) {
        // The shared controller serves every tenant's hostnames.
        out.push(flow(INGRESS, &ns.name, &[DATA_PLANE_APIS]));
        out.push(flow(&ns.name, &ns.name, &[DATA_PLANE_APIS]));
        if !ns.runs_ingress {
            out.push(flow(&ns.name, CONTROL_PLANE, &[PLATFORM_APIS]));
            out.push(flow(&ns.name, DATA_PLANE, &[DATA_PLANE_APIS]));
        }
        out.push(flow(&ns.name, DATA_PLANE, &[DATA_STORES]));
    }
    out
}

fn meta(env: &Environment, name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        labels: Some(labels(env)),
        ..ObjectMeta::default()
    }
}

fn select_namespace(name: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some(BTreeMap::from([(NAME_LABEL.to_string(), name.to_string())])),
        ..LabelSelector::default()
    }
}

/// The peers of a rule; `None` means any source or destination.
fn peers(peer: &Peer) -> Option<Vec<NetworkPolicyPeer>> {
    match peer {
        Peer::Anywhere => None,
        Peer::Namespace(n) => Some(vec![NetworkPolicyPeer {
            namespace_selector: Some(select_namespace(n)),
            ..NetworkPolicyPeer::default()
        }]),
        Peer::CoreDns => Some(vec![NetworkPolicyPeer {
            namespace_selector: Some(select_namespace("kube-system")),
            pod_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    "k8s-app".to_string(),
                    "kube-dns".to_string(),
                )])),
                ..LabelSelector::default()
            }),
            ..NetworkPolicyPeer::default()
        }]),
    }
}

/// The ports of `entries`, each once, in table order.
fn ports(entries: &[PortEntry]) -> Vec<NetworkPolicyPort> {
    let mut seen: Vec<PortEntry> = Vec::new();
    for e in entries {
        if !seen.iter().any(|s| s.covers(e.protocol, e.first, e.last)) {
            seen.retain(|s| !e.covers(s.protocol, s.first, s.last));
            seen.push(*e);
        }
    }
    seen.iter()
        .map(|e| NetworkPolicyPort {
            protocol: Some(e.protocol.as_str().to_string()),
            port: Some(IntOrString::Int(i32::from(e.first))),
            end_port: (e.last > e.first).then_some(i32::from(e.last)),
        })
        .collect()
}

fn policy(env: &Environment, ns: &str, name: &str, spec: NetworkPolicySpec) -> NetworkPolicy {
    NetworkPolicy {
        metadata: meta(env, name, Some(ns)),
        spec: Some(spec),
    }
}

fn all_pods() -> Option<LabelSelector> {
    Some(LabelSelector::default())
}

/// The policies of one namespace: default-deny, DNS, its ingress and its egress allows.
fn namespace_policies(
    env: &Environment,
    ns: &Namespace,
    flows: &[Flow],
) -> Result<Vec<Value>, RenderError> {
    let here = Peer::Namespace(ns.name.clone());
    let mut objects = vec![policy(
        env,
        &ns.name,
        "default-deny",
        NetworkPolicySpec {
            pod_selector: all_pods(),
            policy_types: Some(vec!["Ingress".to_string(), "Egress".to_string()]),
            ..NetworkPolicySpec::default()
        },
    )];
    let ingress: Vec<NetworkPolicyIngressRule> = flows
        .iter()
        .filter(|f| f.to == here)
        .map(|f| NetworkPolicyIngressRule {
            from: peers(&f.from),
            ports: Some(ports(&f.ports)),
        })
        .collect();
    if !ingress.is_empty() {
        objects.push(policy(
            env,
            &ns.name,
            "allow-ingress",
            NetworkPolicySpec {
                pod_selector: all_pods(),
                policy_types: Some(vec!["Ingress".to_string()]),
                ingress: Some(ingress),
                ..NetworkPolicySpec::default()
            },
        ));
    }
    let egress: Vec<NetworkPolicyEgressRule> = flows
        .iter()
        .filter(|f| f.from == here)
        .map(|f| NetworkPolicyEgressRule {
            to: peers(&f.to),
            ports: Some(ports(&f.ports)),
        })
        .collect();
    if !egress.is_empty() {
        objects.push(policy(
            env,
            &ns.name,
            "allow-egress",
            NetworkPolicySpec {
                pod_selector: all_pods(),
                policy_types: Some(vec!["Egress".to_string()]),
                egress: Some(egress),
                ..NetworkPolicySpec::default()
            },
        ));
    }
    let mut values = objects
        .iter()
        .map(|o| to_value("network-policies", o))
        .collect::<Result<Vec<_>, _>>()?;
    // Controllers (NGINX, the platform's operators) watch the API server, which is no pod:
    // Kubernetes policies can only name it by address, Calico by its service.
    if ns.runs_ingress || ns.name == CONTROL_PLANE {
        values.push(to_value(
            "network-policies",
            &json!({
                "apiVersion": "projectcalico.org/v3",
                "kind": "NetworkPolicy",
                "metadata": meta(env, "allow-kubernetes-api", Some(&ns.name)),
                "spec": {
                    "selector": "all()",
                    "types": ["Egress"],
                    "egress": [{
                        "action": "Allow",
                        "protocol": "TCP",
                        "destination": {"services": {"name": "kubernetes", "namespace": "default"}},
                    }],
                },
            }),
        )?);
    }
    Ok(values)
}

/// Kafka's plaintext listener stays closed in every platform namespace even if someone adds a
/// broader allow later: Calico evaluates this (order 10) before Kubernetes policies (1000).
fn deny_kafka_plaintext(env: &Environment, namespaces: &[Namespace]) -> Value {
    let names: Vec<String> = namespaces.iter().map(|n| format!("'{}'", n.name)).collect();
    let deny = json!([{
        "action": "Deny",
        "protocol": "TCP",
        "destination": {"ports": [KAFKA_PLAINTEXT]},
    }]);
    json!({
        "apiVersion": "projectcalico.org/v3",
        "kind": "GlobalNetworkPolicy",
        "metadata": meta(env, &format!("matihnet-{}-deny-kafka-plaintext", env.name), None),
        "spec": {
            "order": 10,
            "namespaceSelector": format!("{NAME_LABEL} in {{ {} }}", names.join(", ")),
            "selector": "all()",
            "types": ["Ingress", "Egress"],
            "ingress": deny,
            "egress": deny,
        },
    })
}

pub(crate) fn files(
    env: &Environment,
    namespaces: &[Namespace],
    format: Format,
) -> Result<Vec<File>, RenderError> {
    let flows = flows(namespaces);
    let mut files = Vec::new();
    for ns in namespaces {
        files.push(File::objects(
            &format!("network-policies/{}", ns.name),
            format,
            namespace_policies(env, ns, &flows)?,
        )?);
    }
    files.push(File::objects(
        "network-policies/calico-global",
        format,
        vec![to_value(
            "calico-global",
            &deny_kafka_plaintext(env, namespaces),
        )?],
    )?);
    Ok(files)
}
