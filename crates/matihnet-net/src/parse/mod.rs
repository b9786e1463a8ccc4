//! Reads an environment file into the typed model, collecting every located diagnostic on the way.

use std::collections::BTreeMap;
use std::ops::Range;

use ipnet::Ipv4Net;
use matihnet_core::{Diagnostic, Location};
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::cidr::{self, CidrError};
use crate::interpolate::{interpolate, InterpolationError};
use crate::lines::LineIndex;
use crate::model::*;
use crate::spelling;
use crate::table::group;
use crate::Finding;

/// Longest name, identifier or CIDR string accepted (1 KiB): the longest legitimate one (a
/// 253-character domain) is far shorter, and the checks and messages stay cheap.
pub const MAX_NAME_BYTES: usize = 1024;
/// Longest free-form string (endpoint URLs, the state path) accepted: 64 KiB.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Longest user text quoted back in a message.
const SHOWN_CHARS: usize = 60;

/// `s` as quoted in a message: cut short (with its length) when long.
fn shown(s: &str) -> String {
    match s.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}... ({} bytes)", &s[..cut], group(s.len() as u64)),
        None => s.to_string(),
    }
}

/// The size cap for the string at `field`.
fn max_bytes(field: &str) -> usize {
    let free_form = [
        "aws.endpoint_url",
        "azure.endpoint",
        "gcp.endpoint",
        "state.path",
        "state.key",
        "state.endpoint",
        "state.conn_str",
    ];
    if free_form.contains(&field) {
        MAX_TEXT_BYTES
    } else {
        MAX_NAME_BYTES
    }
}

/// Where each field of the file was written, so later checks can point at it.
#[derive(Debug, Clone)]
pub(crate) struct Sites {
    lines: LineIndex,
    spans: BTreeMap<String, Range<usize>>,
}

impl Sites {
    /// The location of `field`, or of the nearest enclosing field that was written.
    pub(crate) fn location(&self, field: &str) -> Option<Location> {
        let mut f = field;
        loop {
            if let Some(span) = self.spans.get(f) {
                return Some(self.lines.location(span.start));
            }
            let cut = f.rfind(['.', '['])?;
            f = &f[..cut];
        }
    }

    pub(crate) fn error(&self, field: &str, message: impl Into<String>) -> Diagnostic {
        self.locate(Diagnostic::error(message), field)
    }

    pub(crate) fn warning(&self, field: &str, message: impl Into<String>) -> Diagnostic {
        self.locate(Diagnostic::warning(message), field)
    }

    fn locate(&self, d: Diagnostic, field: &str) -> Diagnostic {
        let d = d.field(field);
        match self.location(field) {
            Some(l) => d.at(l),
            None => d,
        }
    }
}

pub(crate) struct Parsed {
    /// `None` when errors left the model incomplete.
    pub env: Option<Environment>,
    pub sites: Sites,
    pub diags: Vec<Diagnostic>,
}

const ROOT_KEYS: &[&str] = &[
    "environment",
    "aws",
    "azure",
    "gcp",
    "network",
    "node_pool",
    "dns",
    "tenant",
    "state",
    "cert_manager",
    "service",
    "rate_limits",
    "import",
    "moved",
    "providers",
];
const ENVIRONMENT_KEYS: &[&str] = &["name", "provider", "region"];
const AWS_KEYS: &[&str] = &["availability_zones", "endpoint_url", "nat"];
const AZURE_KEYS: &[&str] = &[
    "subscription_id",
    "resource_group",
    "endpoint",
    "ingress_resource_group",
];
const GCP_KEYS: &[&str] = &["project", "endpoint"];
const NETWORK_KEYS: &[&str] = &[
    "cidr",
    "service_cidr",
    "pod_cidr",
    "secondary_cidrs",
    "cni",
    "protect",
    "node_prefix",
    "pod_prefix",
    "internal_load_balancers",
    "subnet",
    "existing",
];
const SUBNET_KEYS: &[&str] = &["name", "cidr"];
const NODE_POOL_KEYS: &[&str] = &[
    "name",
    "instance_type",
    "max_nodes",
    "max_pods",
    "max_surge",
];
const DNS_KEYS: &[&str] = &[
    "zone",
    "api",
    "subdomains",
    "ttl",
    "protect",
    "existing_zone",
];
const TENANT_KEYS: &[&str] = &["slug", "ingress", "subdomain"];
const STATE_KEYS: &[&str] = &[
    "backend", "path", "bucket", "key", "region", "endpoint", "lock_ttl", "conn_str", "schema",
    "name",
];
const CERT_MANAGER_KEYS: &[&str] = &["email", "identity_client_id", "service_account"];
const SERVICE_KEYS: &[&str] = &["name", "namespace", "port", "env"];

/// Names a tenant or subdomain may not take: they are records or resource names of the platform.
const RESERVED_LABELS: &[&str] = &["api", "www", "platform"];

/// AWS allows this many IPv4 CIDR blocks per VPC (the primary and four secondaries).
const AWS_MAX_VPC_BLOCKS: usize = 5;

pub(crate) fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn is_domain(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    s.len() <= 253 && s.contains('.') && s.split('.').all(is_dns_label)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn article(kind: &str) -> &'static str {
    if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

mod clouds;
mod cluster;
mod dns;
mod network;
mod providers;
mod rate_limits;
mod reader;
mod state;
mod takeover;

use clouds::{read_aws, read_azure, read_gcp};
use cluster::{read_cert_manager, read_services};
use dns::{read_dns, read_tenants};
use network::{check_pools_for_cni, read_network, read_node_pools};
use providers::{is_plugin_name, read_providers};
use rate_limits::read_rate_limits;
use reader::Reader;
pub(crate) use state::parse_state_only;
use takeover::{read_imports, read_moves};

/// Sorts diagnostics the way an editor lists them: by position, unlocated last.
pub(crate) fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| match (&a.location, &b.location) {
        (Some(x), Some(y)) => (x.line, x.column).cmp(&(y.line, y.column)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
}

pub(crate) fn parse(file_name: &str, text: &str, vars: &dyn Fn(&str) -> Option<String>) -> Parsed {
    let mut r = Reader {
        text,
        lines: LineIndex::new(file_name, text),
        vars,
        diags: Vec::new(),
        spans: BTreeMap::new(),
    };
    // Recovery lets one run report every syntax error; the half-read tables are not checked
    // further, as they would only add noise.
    let (root, syntax) = DeTable::parse_recoverable(text);
    let env = if syntax.is_empty() {
        read_root(&mut r, root.get_ref())
    } else {
        for e in syntax {
            let offset = e.span().map_or(0, |s| s.start);
            let message = e.message().trim().to_string();
            r.diags.push(
                Diagnostic::error(format!("TOML syntax error: {message}"))
                    .at(r.loc(offset))
                    .hint("fix the TOML syntax at this position (strings need double quotes, sections are written [name] or [[name]])"),
            );
        }
        None
    };
    let complete = !r.diags.iter().any(Diagnostic::is_error);
    Parsed {
        env: env.filter(|_| complete),
        sites: Sites {
            lines: r.lines,
            spans: r.spans,
        },
        diags: r.diags,
    }
}

fn read_root(r: &mut Reader<'_>, root: &DeTable<'_>) -> Option<Environment> {
    r.check_keys(root, "", ROOT_KEYS);

    // [environment]
    let mut plugin: Option<String> = None;
    let (name, provider, region) = match r.section(root, "environment") {
        Some((t, at)) => {
            r.check_keys(t, "environment", ENVIRONMENT_KEYS);
            let name = r.req_str(
                t,
                at,
                "environment",
                "name",
                "add name = \"prod\" (used in resource names and tags)",
            );
            let name = name.filter(|n| {
                let ok = is_dns_label(n) && n.len() <= 24;
                if !ok {
                    let at = r.spans.get("environment.name").map_or(0, |s| s.start);
                    r.error(
                        at,
                        "environment.name",
                        format!("`{n}` is not a valid environment name"),
                        "use 1-24 lowercase letters, digits and `-`, such as \"prod\"".to_string(),
                    );
                }
                ok
            });
            let provider = match r.req_str(
                t,
                at,
                "environment",
                "provider",
                "add provider = \"aks\", \"eks\" or \"gke\"",
            ) {
                Some(p) => match CloudProvider::parse(&p) {
                    Some(p) => Some(p),
                    None if is_plugin_name(&p) && declared_plugin(root, &p) => {
                        plugin = Some(p);
                        Some(CloudProvider::Plugin)
                    }
                    None => {
                        let at = r.spans.get("environment.provider").map_or(0, |s| s.start);
                        let names: Vec<&str> =
                            CloudProvider::ALL.iter().map(|p| p.as_str()).collect();
                        let built_in = match spelling::closest(&p, &names) {
                            Some(c) => {
                                format!("did you mean \"{c}\"? providers are {}", names.join(", "))
                            }
                            None => format!("providers are {}", names.join(", ")),
                        };
                        let hint = if is_plugin_name(&p) {
                            format!("{built_in}; a provider plugin is declared with a [providers.{p}] section")
                        } else {
                            built_in
                        };
                        r.error(
                            at,
                            "environment.provider",
                            format!("unknown provider `{p}`"),
                            hint,
                        );
                        None
                    }
                },
                None => None,
            };
            let region = if provider == Some(CloudProvider::Fake) {
                Some(
                    r.opt_str(t, "environment", "region")
                        .unwrap_or_else(|| "fake-region-1".to_string()),
                )
            } else if provider == Some(CloudProvider::Plugin) {
                // A plugin's cloud may have no regions (an on-premises IPAM).
                Some(r.opt_str(t, "environment", "region").unwrap_or_default())
            } else {
                r.req_str(
                    t,
                    at,
                    "environment",
                    "region",
                    "add region = \"...\" (AWS region, Azure location or GCP region)",
                )
            };
            (name, provider, region)
        }
        None => {
            if !root.contains_key("environment") {
                r.missing(
                    0,
                    "",
                    "environment",
                    "add an [environment] section with name, provider and region",
                );
            }
            (None, None, None)
        }
    };

    // Cloud sections, checked against the provider.
    let provider_at = r.spans.get("environment.provider").map_or(0, |s| s.start);
    for (section, owner) in [
        ("aws", CloudProvider::Eks),
        ("azure", CloudProvider::Aks),
        ("gcp", CloudProvider::Gke),
    ] {
        let present = root.get(section).map(|v| v.span().start);
        match (provider, present) {
            (Some(p), Some(at)) if p != owner => r.error(
                at,
                section,
                format!("[{section}] applies to provider \"{owner}\", but environment.provider is \"{p}\""),
                format!("remove the [{section}] section, or set provider = \"{owner}\""),
            ),
            (Some(p), None) if p == owner => {
                let what = match owner {
                    CloudProvider::Eks => "availability_zones",
                    CloudProvider::Aks => "subscription_id and resource_group",
                    _ => "project",
                };
                r.error(
                    provider_at,
                    section,
                    format!("provider \"{p}\" needs an [{section}] section"),
                    format!("add [{section}] with {what}"),
                );
            }
            _ => {}
        }
    }
    let is = |p: CloudProvider| provider == Some(p);

    let aws = if is(CloudProvider::Eks) {
        read_aws(r, root, region.as_deref())
    } else {
        None
    };
    let azure = if is(CloudProvider::Aks) {
        read_azure(r, root)
    } else {
        None
    };
    let gcp = if is(CloudProvider::Gke) {
        read_gcp(r, root)
    } else {
        None
    };

    let network = read_network(r, root, provider);
    let node_pools = read_node_pools(r, root, provider);
    let dns = read_dns(r, root);
    let tenants = read_tenants(r, root, dns.as_ref());

    let state = state::read_state(r, root, name.as_deref());

    let cert_manager = read_cert_manager(r, root, provider);
    let services = read_services(r, root);
    let rate_limits = read_rate_limits(r, root, provider);
    let used = plugin
        .as_deref()
        .or(provider.and_then(CloudProvider::provider_name));
    let providers = read_providers(r, root, used, plugin.is_some());
    let imports = read_imports(r, root);
    let moves = read_moves(r, root);

    let state = state.ok()?;
    let provider = provider?;
    check_pools_for_cni(r, &node_pools, provider, network.as_ref().map(|n| n.cni));
    let network = network?;
    Some(Environment {
        name: name?,
        provider,
        plugin,
        providers: providers?,
        region: region?,
        aws: if provider == CloudProvider::Eks {
            Some(aws?)
        } else {
            None
        },
        azure: if provider == CloudProvider::Aks {
            Some(azure?)
        } else {
            None
        },
        gcp: if provider == CloudProvider::Gke {
            Some(gcp?)
        } else {
            None
        },
        network,
        node_pools,
        dns: dns?,
        tenants: tenants?,
        state,
        cert_manager: cert_manager.ok()?,
        services: services?,
        rate_limits: rate_limits?,
        imports: imports?,
        moves: moves?,
    })
}

/// Whether the file declares provider plugin `name` with a `[providers.NAME]` section.
fn declared_plugin(root: &DeTable<'_>, name: &str) -> bool {
    match root.get("providers").map(|v| v.get_ref()) {
        Some(DeValue::Table(t)) => t.contains_key(name),
        _ => false,
    }
}
