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
];
const SUBNET_KEYS: &[&str] = &["name", "cidr"];
const NODE_POOL_KEYS: &[&str] = &[
    "name",
    "instance_type",
    "max_nodes",
    "max_pods",
    "max_surge",
];
const DNS_KEYS: &[&str] = &["zone", "api", "subdomains", "ttl", "protect"];
const TENANT_KEYS: &[&str] = &["slug", "ingress"];
const STATE_KEYS: &[&str] = &["path"];

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

struct Reader<'a> {
    text: &'a str,
    lines: LineIndex,
    vars: &'a dyn Fn(&str) -> Option<String>,
    diags: Vec<Diagnostic>,
    spans: BTreeMap<String, Range<usize>>,
}

type Val<'i> = Spanned<DeValue<'i>>;

impl<'a> Reader<'a> {
    fn loc(&self, offset: usize) -> Location {
        self.lines.location(offset)
    }

    /// Reports a finding of the shared checks at the field it names (or its nearest written
    /// parent, or `fallback`).
    fn finding(&mut self, f: Finding, fallback: usize) {
        let mut field = f.field.as_str();
        let offset = loop {
            if let Some(span) = self.spans.get(field) {
                break span.start;
            }
            match field.rfind(['.', '[']) {
                Some(cut) => field = &field[..cut],
                None => break fallback,
            }
        };
        let d = f.into_diagnostic().at(self.loc(offset));
        self.diags.push(d);
    }

    fn error(&mut self, offset: usize, field: &str, message: String, hint: String) {
        let d = Diagnostic::error(message)
            .at(self.loc(offset))
            .field(field)
            .hint(hint);
        self.diags.push(d);
    }

    fn warn(&mut self, offset: usize, field: &str, message: String, hint: String) {
        let d = Diagnostic::warning(message)
            .at(self.loc(offset))
            .field(field)
            .hint(hint);
        self.diags.push(d);
    }

    fn check_keys(&mut self, table: &DeTable<'_>, path: &str, known: &[&str]) {
        for (k, _) in table.iter() {
            let key: &str = k.get_ref();
            if known.contains(&key) {
                continue;
            }
            let place = if path.is_empty() {
                "at the top level".to_string()
            } else {
                format!("in [{}]", path.split('[').next().unwrap_or(path))
            };
            let hint = match spelling::closest(key, known) {
                Some(c) => format!("did you mean `{c}`?"),
                None => format!("known keys here: {}", known.join(", ")),
            };
            let shown = shown(key);
            self.error(
                k.span().start,
                &join(path, &shown),
                format!("unknown key `{shown}` {place}"),
                hint,
            );
        }
    }

    /// The value at `key`, remembering where it was written.
    fn value<'t, 'i>(
        &mut self,
        table: &'t DeTable<'i>,
        path: &str,
        key: &str,
    ) -> Option<&'t Val<'i>> {
        let v = table.get(key)?;
        self.spans.insert(join(path, key), v.span());
        Some(v)
    }

    fn missing(&mut self, at: usize, path: &str, key: &str, hint: &str) {
        let where_ = if path.is_empty() {
            "the file".to_string()
        } else {
            format!("[{}]", path)
        };
        self.error(
            at,
            &join(path, key),
            format!("missing required key `{key}` in {where_}"),
            hint.to_string(),
        );
    }

    fn wrong_type(&mut self, v: &Val<'_>, field: &str, expected: &str, hint: &str) {
        let found = v.get_ref().type_str();
        self.error(
            v.span().start,
            field,
            format!(
                "expected {} {expected}, found {} {found}",
                article(expected),
                article(found)
            ),
            hint.to_string(),
        );
    }

    fn too_long(&mut self, at: usize, field: &str, len: usize, expanded: bool) {
        let max = max_bytes(field);
        let (what, kind) = if max == MAX_NAME_BYTES {
            ("1 KiB", "names, identifiers and CIDR blocks")
        } else {
            ("64 KiB", "URLs and paths")
        };
        let after = if expanded {
            " after ${...} expansion"
        } else {
            ""
        };
        self.error(
            at,
            field,
            format!(
                "the value is {} bytes long{after}; {kind} are at most {what} ({} bytes)",
                group(len as u64),
                group(max as u64)
            ),
            "shorten the value; a file this large is usually a paste or generation mistake"
                .to_string(),
        );
    }

    /// A string value with `${NAME}` expanded, within its size cap.
    fn string(&mut self, v: &Val<'_>, field: &str, hint: &str) -> Option<String> {
        let DeValue::String(s) = v.get_ref() else {
            self.wrong_type(v, field, "string", hint);
            return None;
        };
        // Checked before anything else reads the value, so an oversized one costs nothing more.
        if s.len() > max_bytes(field) {
            self.too_long(v.span().start, field, s.len(), false);
            return None;
        }
        match interpolate(s, self.vars) {
            Ok(out) if out.len() > max_bytes(field) => {
                self.too_long(v.span().start, field, out.len(), true);
                None
            }
            Ok(s) => Some(s),
            Err(errors) => {
                let span = v.span();
                let raw = self.text.get(span.clone()).unwrap_or("");
                // Errors come in order, so each reference is searched after the previous one:
                // repeated references point at themselves, and the text is read once overall.
                let mut cursor = 0;
                for e in errors {
                    // Escapes can shift offsets, so find the reference in the raw text instead.
                    let (needle, message, hint) = match &e {
                        InterpolationError::Unset { name, .. } => (
                            format!("${{{name}}}"),
                            format!("variable `{name}` is not set"),
                            format!("export {name}=... or pass --var {name}=value"),
                        ),
                        InterpolationError::BadName { name, .. } => (
                            format!("${{{name}}}"),
                            format!("`${{{name}}}` is not a variable name"),
                            "variable names are letters, digits and `_`, not starting with a digit; write `$${` for a literal `${`".to_string(),
                        ),
                        InterpolationError::Unterminated { .. } => (
                            "${".to_string(),
                            "`${` is not closed by `}`".to_string(),
                            "close the variable reference with `}`, or write `$${` for a literal `${`".to_string(),
                        ),
                    };
                    // An unclosed reference runs to the end of the string, so it is the last `${`.
                    let found = match e {
                        InterpolationError::Unterminated { .. } => raw.rfind(&needle),
                        _ => raw
                            .get(cursor..)
                            .and_then(|r| r.find(&needle))
                            .map(|i| cursor + i),
                    };
                    if let Some(i) = found {
                        cursor = i + needle.len();
                    }
                    let offset = found.map_or(span.start, |i| span.start + i);
                    self.error(offset, field, message, hint);
                }
                None
            }
        }
    }

    fn opt_str(&mut self, t: &DeTable<'_>, path: &str, key: &str) -> Option<String> {
        let v = self.value(t, path, key)?;
        self.string(v, &join(path, key), "put the value in double quotes")
    }

    /// A required string; `Err` when it is missing (already reported), `Ok(None)` when malformed.
    fn req_str(
        &mut self,
        t: &DeTable<'_>,
        at: usize,
        path: &str,
        key: &str,
        hint: &str,
    ) -> Option<String> {
        match self.value(t, path, key) {
            Some(v) => self.string(v, &join(path, key), "put the value in double quotes"),
            None => {
                self.missing(at, path, key, hint);
                None
            }
        }
    }

    fn opt_bool(&mut self, t: &DeTable<'_>, path: &str, key: &str) -> Option<bool> {
        let v = self.value(t, path, key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(v, &join(path, key), "boolean", "write true or false");
                None
            }
        }
    }

    /// An integer in `min..=max`; `Some(Err(()))` when present but wrong.
    fn opt_int(
        &mut self,
        t: &DeTable<'_>,
        path: &str,
        key: &str,
        min: u64,
        max: u64,
        why: &str,
    ) -> Option<Result<u64, ()>> {
        let v = self.value(t, path, key)?;
        let field = join(path, key);
        let DeValue::Integer(i) = v.get_ref() else {
            self.wrong_type(v, &field, "integer", "write a whole number without quotes");
            return Some(Err(()));
        };
        let n = i64::from_str_radix(i.as_str(), i.radix()).ok();
        match n.and_then(|n| u64::try_from(n).ok()) {
            Some(n) if (min..=max).contains(&n) => Some(Ok(n)),
            _ => {
                self.error(
                    v.span().start,
                    &field,
                    format!("{i} is out of range: `{key}` must be between {min} and {max}"),
                    why.to_string(),
                );
                Some(Err(()))
            }
        }
    }

    fn str_list(&mut self, v: &Val<'_>, field: &str) -> Option<Vec<(String, usize)>> {
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(v, field, "array", "write a list such as [\"a\", \"b\"]");
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let f = format!("{field}[{i}]");
            self.spans.insert(f.clone(), item.span());
            match self.string(item, &f, "put each item in double quotes") {
                Some(s) => out.push((s, item.span().start)),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn cidr(&mut self, v: &Val<'_>, field: &str) -> Option<Ipv4Net> {
        let s = self.string(
            v,
            field,
            "write the block in quotes, such as \"10.0.0.0/16\"",
        )?;
        self.parsed_cidr(
            &s,
            v.span().start,
            field,
            "write an IPv4 block as address/prefix, such as \"10.0.0.0/16\"",
        )
    }

    /// `s` as a CIDR block, or an error at `at` whose hint spells the block the way it must be.
    fn parsed_cidr(
        &mut self,
        s: &str,
        at: usize,
        field: &str,
        malformed_hint: &str,
    ) -> Option<Ipv4Net> {
        match cidr::parse_cidr(s) {
            Ok(n) => Some(n),
            Err(e) => {
                let hint = match &e {
                    CidrError::LeadingZeros { canonical, .. } => format!(
                        "set {field} = \"{}\" (the same block in plain decimal)",
                        canonical.trunc()
                    ),
                    CidrError::HostBits { block, .. } => {
                        format!("set {field} = \"{block}\" (the block that address is in)")
                    }
                    CidrError::Malformed { .. } => malformed_hint.to_string(),
                };
                let message = match &e {
                    CidrError::Malformed { text } => {
                        format!("`{}` is not an IPv4 CIDR block", shown(text))
                    }
                    _ => e.to_string(),
                };
                self.error(at, field, message, hint);
                None
            }
        }
    }

    fn opt_cidr(&mut self, t: &DeTable<'_>, path: &str, key: &str) -> Option<Option<Ipv4Net>> {
        match self.value(t, path, key) {
            None => Some(None),
            Some(v) => self.cidr(v, &join(path, key)).map(Some),
        }
    }

    /// A `[section]` table, if present and a table.
    fn section<'t, 'i>(
        &mut self,
        root: &'t DeTable<'i>,
        name: &str,
    ) -> Option<(&'t DeTable<'i>, usize)> {
        let v = self.value(root, "", name)?;
        match v.get_ref() {
            DeValue::Table(t) => Some((t, v.span().start)),
            _ => {
                self.wrong_type(v, name, "table", &format!("write it as a [{name}] section"));
                None
            }
        }
    }

    /// A `[[name]]` array of tables.
    fn tables<'t, 'i>(
        &mut self,
        table: &'t DeTable<'i>,
        path: &str,
        name: &str,
    ) -> Vec<(&'t DeTable<'i>, usize)> {
        let field = join(path, name);
        let Some(v) = self.value(table, path, name) else {
            return Vec::new();
        };
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(
                v,
                &field,
                "array",
                &format!("write each entry as a [[{field}]] section"),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let f = format!("{field}[{i}]");
            self.spans.insert(f.clone(), item.span());
            match item.get_ref() {
                DeValue::Table(t) => out.push((t, item.span().start)),
                _ => self.wrong_type(
                    item,
                    &f,
                    "table",
                    &format!("write each entry as a [[{field}]] section"),
                ),
            }
        }
        out
    }
}

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
                    None => {
                        let at = r.spans.get("environment.provider").map_or(0, |s| s.start);
                        let names: Vec<&str> =
                            CloudProvider::ALL.iter().map(|p| p.as_str()).collect();
                        let hint = match spelling::closest(&p, &names) {
                            Some(c) => {
                                format!("did you mean \"{c}\"? providers are {}", names.join(", "))
                            }
                            None => format!("providers are {}", names.join(", ")),
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

    let state = match r.section(root, "state") {
        Some((t, _)) => {
            r.check_keys(t, "state", STATE_KEYS);
            StateSection {
                path: r.opt_str(t, "state", "path"),
            }
        }
        None => StateSection::default(),
    };

    let provider = provider?;
    check_pools_for_cni(r, &node_pools, provider, network.as_ref().map(|n| n.cni));
    let network = network?;
    Some(Environment {
        name: name?,
        provider,
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
    })
}

fn read_aws(r: &mut Reader<'_>, root: &DeTable<'_>, region: Option<&str>) -> Option<AwsSection> {
    let (t, at) = r.section(root, "aws")?;
    r.check_keys(t, "aws", AWS_KEYS);
    let zones = match r.value(t, "aws", "availability_zones") {
        Some(v) => {
            let at = v.span().start;
            let zones = r.str_list(v, "aws.availability_zones")?;
            let mut ok = true;
            if zones.len() < 2 {
                r.error(at, "aws.availability_zones", format!("EKS needs subnets in at least 2 availability zones, found {}", zones.len()),
                    "list two or more zones of the region, such as [\"eu-west-1a\", \"eu-west-1b\"]".to_string());
                ok = false;
            }
            if zones.len() > crate::carve::MAX_ZONES {
                r.error(
                    at,
                    "aws.availability_zones",
                    format!(
                        "at most {} availability zones are supported, found {}",
                        crate::carve::MAX_ZONES,
                        zones.len()
                    ),
                    format!("keep the first {} zones", crate::carve::MAX_ZONES),
                );
                ok = false;
            }
            let mut seen = std::collections::BTreeSet::new();
            for (i, (z, zat)) in zones.iter().enumerate() {
                let f = format!("aws.availability_zones[{i}]");
                if seen.contains(z.as_str()) {
                    r.error(
                        *zat,
                        &f,
                        format!("availability zone `{z}` is listed twice"),
                        "remove the duplicate".to_string(),
                    );
                    ok = false;
                } else if let Some(region) =
                    region.filter(|reg| !z.starts_with(reg) || z.len() == reg.len())
                {
                    r.error(
                        *zat,
                        &f,
                        format!("`{z}` is not an availability zone of region `{region}`"),
                        format!("zones of {region} are named {region}a, {region}b, ..."),
                    );
                    ok = false;
                } else if !z.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    r.error(
                        *zat,
                        &f,
                        format!("`{z}` is not an availability zone name"),
                        "use names such as \"eu-west-1a\"".to_string(),
                    );
                    ok = false;
                }
                seen.insert(z.as_str());
            }
            ok.then(|| zones.into_iter().map(|(z, _)| z).collect())
        }
        None => {
            r.missing(
                at,
                "aws",
                "availability_zones",
                "add availability_zones = [\"<region>a\", \"<region>b\"]",
            );
            None
        }
    };
    let endpoint_url = r.opt_str(t, "aws", "endpoint_url");
    let nat = match r.opt_str(t, "aws", "nat").as_deref() {
        None => Some(NatMode::PerAz),
        Some("per-az") => Some(NatMode::PerAz),
        Some("single") => Some(NatMode::Single),
        Some("none") => Some(NatMode::None),
        Some(other) => {
            let at = r.spans.get("aws.nat").map_or(at, |s| s.start);
            r.error(
                at,
                "aws.nat",
                format!("unknown NAT mode `{other}`"),
                "use \"per-az\", \"single\" or \"none\"".to_string(),
            );
            None
        }
    };
    Some(AwsSection {
        availability_zones: zones?,
        endpoint_url,
        nat: nat?,
    })
}

fn read_azure(r: &mut Reader<'_>, root: &DeTable<'_>) -> Option<AzureSection> {
    let (t, at) = r.section(root, "azure")?;
    r.check_keys(t, "azure", AZURE_KEYS);
    let subscription_id = r.req_str(
        t,
        at,
        "azure",
        "subscription_id",
        "add subscription_id = \"${AZURE_SUBSCRIPTION_ID}\"",
    );
    let resource_group = r.req_str(
        t,
        at,
        "azure",
        "resource_group",
        "add resource_group = \"matih-<env>\"",
    );
    let endpoint = r.opt_str(t, "azure", "endpoint");
    let ingress_resource_group = r.opt_str(t, "azure", "ingress_resource_group");
    let resource_group = resource_group?;
    Some(AzureSection {
        subscription_id: subscription_id?,
        ingress_resource_group: ingress_resource_group.unwrap_or_else(|| resource_group.clone()),
        resource_group,
        endpoint,
    })
}

fn read_gcp(r: &mut Reader<'_>, root: &DeTable<'_>) -> Option<GcpSection> {
    let (t, at) = r.section(root, "gcp")?;
    r.check_keys(t, "gcp", GCP_KEYS);
    let project = r.req_str(
        t,
        at,
        "gcp",
        "project",
        "add project = \"<GCP project id>\"",
    );
    let endpoint = r.opt_str(t, "gcp", "endpoint");
    Some(GcpSection {
        project: project?,
        endpoint,
    })
}

fn read_network(
    r: &mut Reader<'_>,
    root: &DeTable<'_>,
    provider: Option<CloudProvider>,
) -> Option<Network> {
    let Some((t, at)) = r.section(root, "network") else {
        if !root.contains_key("network") {
            r.missing(
                0,
                "",
                "network",
                "add a [network] section with cidr and service_cidr",
            );
        }
        return None;
    };
    let p = "network";
    r.check_keys(t, p, NETWORK_KEYS);
    let cidr = match r.value(t, p, "cidr") {
        Some(v) => r.cidr(v, "network.cidr"),
        None => {
            r.missing(at, p, "cidr", "add cidr = \"10.0.0.0/16\"");
            None
        }
    };
    let service_cidr = match r.value(t, p, "service_cidr") {
        Some(v) => r.cidr(v, "network.service_cidr"),
        None if provider == Some(CloudProvider::Gke) => "34.118.224.0/20".parse().ok(),
        None => {
            r.missing(at, p, "service_cidr", "add service_cidr = \"172.20.0.0/16\" (Kubernetes services; outside every other range)");
            None
        }
    };
    let pod_cidr = r.opt_cidr(t, p, "pod_cidr");
    // Valid blocks with their list positions, kept even when a sibling is malformed so that
    // overlap checks still see them.
    let mut secondary_ok = true;
    let mut secondary: Vec<(usize, Ipv4Net)> = Vec::new();
    if let Some(v) = r.value(t, p, "secondary_cidrs") {
        match r.str_list(v, "network.secondary_cidrs") {
            Some(items) => {
                for (i, (s, off)) in items.iter().enumerate() {
                    let f = format!("network.secondary_cidrs[{i}]");
                    match r.parsed_cidr(s, *off, &f, "write an IPv4 block such as \"10.1.0.0/16\"")
                    {
                        Some(n) => secondary.push((i, n)),
                        None => secondary_ok = false,
                    }
                }
            }
            None => secondary_ok = false,
        }
    }
    let cni = match (r.opt_str(t, p, "cni"), provider) {
        (None, Some(pr)) => Some(pr.default_cni()),
        (None, None) => None,
        (Some(c), pr) => {
            let off = r.spans.get("network.cni").map_or(at, |s| s.start);
            let allowed: Vec<&str> = match pr {
                Some(pr) => Cni::for_provider(pr).iter().map(|c| c.as_str()).collect(),
                None => Cni::ALL.iter().map(|c| c.as_str()).collect(),
            };
            match Cni::parse(&c) {
                Some(cni) if pr.is_none_or(|pr| cni.provider() == pr) => Some(cni),
                Some(cni) => {
                    r.error(
                        off,
                        "network.cni",
                        format!(
                            "cni `{c}` is for provider \"{}\", not \"{}\"",
                            cni.provider(),
                            pr.map_or("", |p| p.as_str())
                        ),
                        format!("use one of: {}", allowed.join(", ")),
                    );
                    None
                }
                None => {
                    let hint = match spelling::closest(&c, &allowed) {
                        Some(s) => format!("did you mean \"{s}\"? choices: {}", allowed.join(", ")),
                        None => format!("use one of: {}", allowed.join(", ")),
                    };
                    r.error(off, "network.cni", format!("unknown cni `{c}`"), hint);
                    None
                }
            }
        }
    };
    let protect = r.opt_bool(t, p, "protect").unwrap_or(false);
    let node_prefix = r.opt_int(
        t,
        p,
        "node_prefix",
        8,
        28,
        "a prefix length between /8 and /28",
    );
    let pod_prefix = r.opt_int(
        t,
        p,
        "pod_prefix",
        8,
        28,
        "a prefix length between /8 and /28",
    );
    let mut subnets_ok = true;
    let mut subnets = Vec::new();
    for (i, (st, sat)) in r.tables(t, p, "subnet").into_iter().enumerate() {
        let sp = format!("network.subnet[{i}]");
        r.check_keys(st, &sp, SUBNET_KEYS);
        let name = r.req_str(st, sat, &sp, "name", "add name = \"nodes\" (the name of the carved subnet to replace, as `matihnet addresses` shows it)");
        let c = match r.value(st, &sp, "cidr") {
            Some(v) => r.cidr(v, &format!("{sp}.cidr")),
            None => {
                r.missing(sat, &sp, "cidr", "add cidr = \"10.0.0.0/20\"");
                None
            }
        };
        match (name, c) {
            (Some(name), Some(cidr)) => subnets.push(ExplicitSubnet { name, cidr }),
            _ => subnets_ok = false,
        }
    }
    let ilbs = r.opt_int(
        t,
        p,
        "internal_load_balancers",
        0,
        1000,
        "the number of internal load-balancer front ends in the node subnet",
    );

    // The cloud's rules for each range, and every range disjoint from the others and from the
    // well-known defaults; checked on whatever parsed, so that one bad field does not hide the
    // others' problems.
    let ranges = crate::ranges::collect(cni, cidr, &secondary, pod_cidr.flatten(), service_cidr);
    let mut overlap = false;
    for f in crate::ranges::check(provider, &ranges, true) {
        overlap |= f.is_error();
        r.finding(f, at);
    }

    let secondary_cidrs: Vec<Ipv4Net> = secondary.into_iter().map(|(_, n)| n).collect();
    let (cidr, service_cidr, cni) = (cidr?, service_cidr?, cni?);
    secondary_ok.then_some(())?;
    let pod_cidr = pod_cidr?;
    if overlap {
        return None;
    }
    let uses_pod_cidr = matches!(
        cni,
        Cni::VpcCniCustom | Cni::AzureOverlay | Cni::AzurePodSubnet | Cni::VpcNative
    );
    let pod_off = r.spans.get("network.pod_cidr").map(|s| s.start);
    if let (Some(off), false) = (pod_off, uses_pod_cidr) {
        r.warn(off, "network.pod_cidr", format!("pod_cidr is not used with cni = \"{cni}\": pods take addresses from the node subnets"),
            "remove pod_cidr, or choose a cni that uses it (vpc-cni-custom, azure-overlay, azure-pod-subnet, vpc-native)".to_string());
    }
    let pod_cidr = match (pod_cidr, cni) {
        (None, Cni::VpcCniCustom) => {
            r.error(at, "network.pod_cidr", "cni = \"vpc-cni-custom\" puts pods in a secondary VPC CIDR, but pod_cidr is not set".to_string(),
                "add pod_cidr = \"100.64.0.0/16\" (the carrier-grade NAT space is the usual choice)".to_string());
            return None;
        }
        (None, Cni::VpcNative) => {
            r.error(
                at,
                "network.pod_cidr",
                "GKE needs a pods secondary range, but pod_cidr is not set".to_string(),
                "add pod_cidr = \"10.4.0.0/14\" (a /14 holds 1,024 nodes at 110 pods)".to_string(),
            );
            return None;
        }
        (None, Cni::AzureOverlay) => crate::ranges::AKS_OVERLAY_DEFAULT_POD_CIDR.parse().ok(),
        (p, _) if uses_pod_cidr => p,
        _ => None,
    };

    if provider == Some(CloudProvider::Eks) {
        let blocks = 1 + secondary_cidrs.len() + usize::from(cni == Cni::VpcCniCustom);
        if blocks > AWS_MAX_VPC_BLOCKS {
            let off = r
                .spans
                .get("network.secondary_cidrs")
                .map_or(at, |s| s.start);
            r.error(off, "network.secondary_cidrs", format!("the VPC would have {blocks} CIDR blocks (network.cidr, {} secondary_cidrs{}), AWS allows {AWS_MAX_VPC_BLOCKS}",
                secondary_cidrs.len(), if cni == Cni::VpcCniCustom { ", pod_cidr" } else { "" }),
                "remove secondary blocks, or use a larger network.cidr (up to /16)".to_string());
        }
    }

    Some(Network {
        cidr,
        service_cidr,
        pod_cidr,
        secondary_cidrs,
        cni,
        protect,
        node_prefix: node_prefix.transpose().ok()?.map(|n| n as u8),
        pod_prefix: pod_prefix.transpose().ok()?.map(|n| n as u8),
        internal_load_balancers: ilbs.transpose().ok()?.unwrap_or(0),
        subnets: subnets_ok.then_some(subnets)?,
    })
}

fn read_node_pools(
    r: &mut Reader<'_>,
    root: &DeTable<'_>,
    provider: Option<CloudProvider>,
) -> Vec<NodePool> {
    let tables = r.tables(root, "", "node_pool");
    if tables.is_empty() && !root.contains_key("node_pool") {
        r.missing(
            0,
            "",
            "node_pool",
            "add at least one [[node_pool]] with name, instance_type and max_nodes",
        );
    }
    let mut pools = Vec::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (t, at)) in tables.into_iter().enumerate() {
        let p = format!("node_pool[{i}]");
        r.check_keys(t, &p, NODE_POOL_KEYS);
        let name = r.req_str(t, at, &p, "name", "add name = \"system\"");
        if let Some(n) = &name {
            let off = r.spans.get(&format!("{p}.name")).map_or(at, |s| s.start);
            // AKS pool names are the strictest: lowercase alphanumerics, at most 12.
            let aks = provider == Some(CloudProvider::Aks);
            let valid = if aks {
                !n.is_empty()
                    && n.len() <= 12
                    && n.bytes()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                    && n.as_bytes()[0].is_ascii_lowercase()
            } else {
                is_dns_label(n) && n.len() <= 40
            };
            if !valid {
                let rule = if aks {
                    "AKS pool names are 1-12 lowercase letters and digits, starting with a letter"
                } else {
                    "use lowercase letters, digits and `-` (at most 40)"
                };
                r.error(
                    off,
                    &format!("{p}.name"),
                    format!("`{n}` is not a valid node pool name"),
                    rule.to_string(),
                );
            } else if let Some(first) = names.get(n) {
                r.error(
                    off,
                    &format!("{p}.name"),
                    format!("node pool `{n}` is defined twice (first as node_pool[{first}])"),
                    "give each node pool its own name".to_string(),
                );
            } else {
                names.insert(n.clone(), i);
            }
        }
        let instance_type = r.req_str(
            t,
            at,
            &p,
            "instance_type",
            "add instance_type = \"m5.large\" (EC2 type, Azure VM size or GCE machine type)",
        );
        let max_nodes = match r.opt_int(
            t,
            &p,
            "max_nodes",
            1,
            5000,
            "the autoscaler maximum for this pool, 1 to 5000",
        ) {
            Some(v) => v.ok(),
            None => {
                r.missing(
                    at,
                    &p,
                    "max_nodes",
                    "add max_nodes = 10 (the autoscaler maximum)",
                );
                None
            }
        };
        let max_pods = r.opt_int(
            t,
            &p,
            "max_pods",
            1,
            737,
            "pods per node; each CNI narrows the range further",
        );
        let max_surge = r.opt_int(
            t,
            &p,
            "max_surge",
            0,
            100,
            "extra nodes during upgrades, usually 1",
        );
        let max_pods = max_pods.transpose();
        let max_surge = max_surge.transpose();
        if let (Some(CloudProvider::Eks), Some(it), Ok(None)) =
            (provider, &instance_type, &max_pods)
        {
            if crate::instances::lookup(it).is_none() {
                let f = format!("{p}.instance_type");
                let off = r.spans.get(&f).map_or(at, |s| s.start);
                let near = crate::instances::nearby(it);
                r.error(off, &f, format!("unknown EC2 instance type `{it}`: its ENI limits are not in matihnet's table, so max pods cannot be computed"),
                    format!("use a known type ({}) or set max_pods for this pool", near.join(", ")));
            }
        }
        if let (Some(name), Some(instance_type), Some(max_nodes), Ok(max_pods), Ok(max_surge)) =
            (name, instance_type, max_nodes, max_pods, max_surge)
        {
            pools.push(NodePool {
                name,
                instance_type,
                max_nodes,
                max_pods,
                max_surge: max_surge.unwrap_or(1),
            });
        }
    }
    pools
}

/// The per-CNI limits on max_pods and the EKS instance-type lookup.
fn check_pools_for_cni(
    r: &mut Reader<'_>,
    pools: &[NodePool],
    provider: CloudProvider,
    cni: Option<Cni>,
) {
    for (i, pool) in pools.iter().enumerate() {
        let p = format!("node_pool[{i}]");
        let pods_f = format!("{p}.max_pods");
        let pods_at = r
            .spans
            .get(&pods_f)
            .or_else(|| r.spans.get(&p))
            .map_or(0, |s| s.start);
        let range = match provider {
            CloudProvider::Aks => Some((10, 250)),
            CloudProvider::Gke => Some((8, 256)),
            _ => None,
        };
        if let (Some((lo, hi)), Some(m)) = (range, pool.max_pods) {
            if !(lo..=hi).contains(&m) {
                r.error(
                    pods_at,
                    &pods_f,
                    format!("max_pods = {m} is outside {provider}'s range {lo}-{hi}"),
                    format!("set max_pods between {lo} and {hi}"),
                );
            }
        }
        if provider == CloudProvider::Eks {
            if let (Some(it), Some(cni)) = (crate::instances::lookup(&pool.instance_type), cni) {
                let limit = crate::capacity::eks_max_pods(it, cni);
                if let Some(m) = pool.max_pods.filter(|m| *m > limit) {
                    r.error(pods_at, &pods_f, format!("{} supports at most {limit} pods with cni = \"{cni}\", max_pods is {m}", it.name),
                        format!("lower max_pods to {limit} or less, or use a larger instance type"));
                }
            }
        }
    }
}

fn read_dns(r: &mut Reader<'_>, root: &DeTable<'_>) -> Option<Dns> {
    let Some((t, at)) = r.section(root, "dns") else {
        if !root.contains_key("dns") {
            r.missing(0, "", "dns", "add a [dns] section with zone = \"matih.ai\"");
        }
        return None;
    };
    r.check_keys(t, "dns", DNS_KEYS);
    let zone = r
        .req_str(t, at, "dns", "zone", "add zone = \"matih.ai\"")
        .and_then(|z| {
            if is_domain(&z) {
                Some(z.trim_end_matches('.').to_string())
            } else {
                let off = r.spans.get("dns.zone").map_or(at, |s| s.start);
                r.error(
                    off,
                    "dns.zone",
                    format!("`{z}` is not a DNS zone name"),
                    "use a lowercase domain such as \"matih.ai\"".to_string(),
                );
                None
            }
        });
    let api = r
        .opt_str(t, "dns", "api")
        .unwrap_or_else(|| "api".to_string());
    let api_ok = is_dns_label(&api);
    if !api_ok {
        let off = r.spans.get("dns.api").map_or(at, |s| s.start);
        r.error(
            off,
            "dns.api",
            format!("`{api}` is not a DNS label"),
            "use lowercase letters, digits and `-`, such as \"api\"".to_string(),
        );
    }
    let mut subdomains = Vec::new();
    let mut listed = std::collections::BTreeSet::new();
    let mut ok = true;
    if let Some(v) = r.value(t, "dns", "subdomains") {
        match r.str_list(v, "dns.subdomains") {
            Some(items) => {
                for (i, (s, off)) in items.into_iter().enumerate() {
                    let f = format!("dns.subdomains[{i}]");
                    if !is_dns_label(&s) {
                        r.error(off, &f, format!("`{s}` is not a DNS label"), "use 1-63 lowercase letters, digits and `-`, not starting or ending with `-`".to_string());
                        ok = false;
                    } else if RESERVED_LABELS.contains(&s.as_str()) || s == api {
                        r.error(off, &f, format!("`{s}` is a reserved name"), format!("the names {} and the api label are taken by the platform; choose another", RESERVED_LABELS.join(", ")));
                        ok = false;
                    } else if listed.contains(&s) {
                        r.error(
                            off,
                            &f,
                            format!("subdomain `{s}` is listed twice"),
                            "remove the duplicate".to_string(),
                        );
                        ok = false;
                    } else {
                        listed.insert(s.clone());
                        subdomains.push(s);
                    }
                }
            }
            None => ok = false,
        }
    }
    let ttl = r
        .opt_int(t, "dns", "ttl", 1, 604_800, "seconds, between 1 and 604800")
        .unwrap_or(Ok(300));
    let protect = r.opt_bool(t, "dns", "protect").unwrap_or(false);
    let ttl = ttl.ok()?;
    (ok && api_ok).then_some(())?;
    Some(Dns {
        zone: zone?,
        api,
        subdomains,
        ttl,
        protect,
    })
}

fn read_tenants(r: &mut Reader<'_>, root: &DeTable<'_>, dns: Option<&Dns>) -> Option<Vec<Tenant>> {
    let tables = r.tables(root, "", "tenant");
    let mut tenants = Vec::new();
    let mut ok = true;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let subdomains: std::collections::BTreeSet<&str> = dns
        .map(|d| d.subdomains.iter().map(String::as_str).collect())
        .unwrap_or_default();
    for (i, (t, at)) in tables.into_iter().enumerate() {
        let p = format!("tenant[{i}]");
        r.check_keys(t, &p, TENANT_KEYS);
        let f = format!("{p}.slug");
        let slug = r.req_str(
            t,
            at,
            &p,
            "slug",
            "add slug = \"acme\" (becomes acme.<zone>)",
        );
        let off = r.spans.get(&f).map_or(at, |s| s.start);
        let slug = slug.filter(|s| {
            let bad = if !is_dns_label(s) {
                Some((format!("tenant slug `{s}` is not a DNS label"), "use 1-63 lowercase letters, digits and `-`, not starting or ending with `-`".to_string()))
            } else if RESERVED_LABELS.contains(&s.as_str()) || dns.is_some_and(|d| d.api == *s) {
                Some((format!("tenant slug `{s}` is a reserved name"), format!("the names {} and the api label are taken by the platform; choose another slug", RESERVED_LABELS.join(", "))))
            } else if subdomains.contains(s.as_str()) {
                Some((format!("tenant slug `{s}` is also listed in dns.subdomains"), "a child zone can belong to a tenant or be a subdomain, not both: rename one".to_string()))
            } else { seen.get(s.as_str()).map(|first| (format!("tenant `{s}` is defined twice (first as tenant[{first}])"), "remove the duplicate [[tenant]] or give it another slug".to_string())) };
            match bad {
                Some((m, h)) => {
                    r.error(off, &f, m, h);
                    false
                }
                None => {
                    seen.insert(s.clone(), i);
                    true
                }
            }
        });
        let ingress = match r.opt_str(t, &p, "ingress").as_deref() {
            None | Some("shared") => Some(Ingress::Shared),
            Some("dedicated") => Some(Ingress::Dedicated),
            Some(other) => {
                let off = r.spans.get(&format!("{p}.ingress")).map_or(at, |s| s.start);
                r.error(
                    off,
                    &format!("{p}.ingress"),
                    format!("unknown ingress mode `{other}`"),
                    "use \"dedicated\" (own load balancer) or \"shared\" (the platform's)"
                        .to_string(),
                );
                None
            }
        };
        match (slug, ingress) {
            (Some(slug), Some(ingress)) => tenants.push(Tenant { slug, ingress }),
            _ => ok = false,
        }
    }
    ok.then_some(tenants)
}
