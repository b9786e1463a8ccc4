//! Machine-applicable fixes. A hint that can be applied reads `set FIELD = VALUE ...` (or, when
//! no single setting can pass, `set FIELD = VALUE and FIELD = VALUE ...`), where FIELD is a
//! dotted path (`network.node_prefix`, `network.subnet[0].cidr`, `node_pool[1].max_nodes`) and
//! VALUE a TOML integer or a quoted CIDR block. [`Fix::from_hint`] reads one back and
//! [`Fix::apply_to_text`] writes it into an environment file.
//!
//! Such hints are not guesses: the fix search tries candidate values on the model and keeps the
//! first that removes the problem without adding another error, preferring one that adds no
//! warning either. So a hint, applied, passes validation, or leaves only problems that were
//! there before (each with its own hint).

use std::collections::BTreeSet;
use std::fmt;

use ipnet::Ipv4Net;
use toml::de::{DeTable, DeValue};

use crate::cidr;
use crate::model::{CloudProvider, Environment};
use crate::table::group;
use crate::Finding;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FixValue {
    Integer(u64),
    Cidr(Ipv4Net),
}

/// The TOML spelling: `23`, `"10.0.0.0/20"`.
impl fmt::Display for FixValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FixValue::Integer(n) => write!(f, "{n}"),
            FixValue::Cidr(c) => write!(f, "\"{c}\""),
        }
    }
}

/// One setting to change: `field` = `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub field: String,
    pub value: FixValue,
}

/// The settings to change together (usually one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    pub changes: Vec<Change>,
}

impl fmt::Display for Fix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("set ")?;
        for (i, c) in self.changes.iter().enumerate() {
            if i > 0 {
                f.write_str(" and ")?;
            }
            write!(f, "{} = {}", c.field, c.value)?;
        }
        Ok(())
    }
}

/// `FIELD = VALUE` at the start of `s`, and what follows it.
fn read_change(s: &str) -> Option<(Change, &str)> {
    let path_len = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || "_.[]".contains(c)))
        .unwrap_or(s.len());
    let (field, tail) = s.split_at(path_len);
    let tail = tail.strip_prefix(" = ")?;
    let (value, rest) = if let Some(quoted) = tail.strip_prefix('"') {
        let (v, rest) = quoted.split_once('"')?;
        (FixValue::Cidr(cidr::parse_cidr(v).ok()?), rest)
    } else {
        let digits = tail
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(tail.len());
        (
            FixValue::Integer(tail[..digits].parse().ok()?),
            &tail[digits..],
        )
    };
    (!field.is_empty()).then(|| {
        (
            Change {
                field: field.to_string(),
                value,
            },
            rest,
        )
    })
}

/// Why a fix could not be written into a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FixError {
    /// The file is not valid TOML, so its fields cannot be found.
    Syntax,
    /// Neither the field nor the table that should hold it is in the file.
    NoSuchField(String),
}

impl fmt::Display for FixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FixError::Syntax => f.write_str("the file is not valid TOML"),
            FixError::NoSuchField(p) => write!(f, "the file has no `{p}` to change"),
        }
    }
}

impl std::error::Error for FixError {}

/// `subnet[2]` as (`subnet`, Some(2)).
fn segment(s: &str) -> (&str, Option<usize>) {
    match s.split_once('[') {
        Some((name, rest)) => (name, rest.strip_suffix(']').and_then(|i| i.parse().ok())),
        None => (s, None),
    }
}

impl Fix {
    pub fn set(field: impl Into<String>, value: FixValue) -> Fix {
        Fix {
            changes: vec![Change {
                field: field.into(),
                value,
            }],
        }
    }

    /// The first `set FIELD = VALUE [and FIELD = VALUE ...]` in a hint, if it has one.
    pub fn from_hint(hint: &str) -> Option<Fix> {
        let mut rest = hint;
        while let Some(i) = rest.find("set ") {
            rest = &rest[i + 4..];
            let Some((first, mut tail)) = read_change(rest) else {
                continue;
            };
            let mut changes = vec![first];
            while let Some((next, after)) = tail.strip_prefix(" and ").and_then(read_change) {
                changes.push(next);
                tail = after;
            }
            return Some(Fix { changes });
        }
        None
    }

    /// `text` with the fix written in: each value replaced where it is written, or a new
    /// `key = value` line under its table's header. Comments and layout are kept.
    pub fn apply_to_text(&self, text: &str) -> Result<String, FixError> {
        self.changes
            .iter()
            .try_fold(text.to_string(), |t, c| c.apply_to_text(&t))
    }

    /// The environment with the fix applied, if every field is one the fix search changes and
    /// every value one the parser would accept there.
    pub(crate) fn apply_to_env(&self, env: &Environment) -> Option<Environment> {
        self.changes
            .iter()
            .try_fold(env.clone(), |e, c| c.apply_to_env(&e))
    }
}

impl Change {
    fn apply_to_text(&self, text: &str) -> Result<String, FixError> {
        let root = DeTable::parse(text).map_err(|_| FixError::Syntax)?;
        let missing = || FixError::NoSuchField(self.field.clone());
        let segments: Vec<(&str, Option<usize>)> = self.field.split('.').map(segment).collect();
        let mut table: &DeTable<'_> = root.get_ref();
        let mut header: Option<std::ops::Range<usize>> = None;
        for (k, (name, index)) in segments.iter().enumerate() {
            let last = k + 1 == segments.len();
            let Some(v) = table.get(*name) else {
                let header = header.clone().filter(|_| last && index.is_none());
                // Only a `[table]` header can take a new line; anything else would change meaning.
                let at = match header {
                    Some(h)
                        if text
                            .get(h.clone())
                            .is_some_and(|s| s.starts_with('[') && !s.starts_with("[[")) =>
                    {
                        h.end
                    }
                    _ => return Err(missing()),
                };
                let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
                return Ok(format!(
                    "{}\n{name} = {}{}",
                    &text[..line_end],
                    self.value,
                    &text[line_end..]
                ));
            };
            let v = match index {
                Some(i) => match v.get_ref() {
                    DeValue::Array(items) => items.get(*i).ok_or_else(missing)?,
                    _ => return Err(missing()),
                },
                None => v,
            };
            if last {
                let span = v.span();
                return Ok(format!(
                    "{}{}{}",
                    &text[..span.start],
                    self.value,
                    &text[span.end..]
                ));
            }
            match v.get_ref() {
                DeValue::Table(t) => {
                    header = Some(v.span());
                    table = t;
                }
                _ => return Err(missing()),
            }
        }
        Err(missing())
    }

    fn apply_to_env(&self, env: &Environment) -> Option<Environment> {
        let mut env = env.clone();
        let n = &mut env.network;
        let segments: Vec<(&str, Option<usize>)> = self.field.split('.').map(segment).collect();
        match (segments.as_slice(), &self.value) {
            ([("network", None), ("cidr", None)], FixValue::Cidr(c)) => n.cidr = *c,
            ([("network", None), ("pod_cidr", None)], FixValue::Cidr(c)) => n.pod_cidr = Some(*c),
            ([("network", None), ("service_cidr", None)], FixValue::Cidr(c)) => n.service_cidr = *c,
            ([("network", None), ("secondary_cidrs", Some(i))], FixValue::Cidr(c)) => {
                *n.secondary_cidrs.get_mut(*i)? = *c
            }
            ([("network", None), ("subnet", Some(i)), ("cidr", None)], FixValue::Cidr(c)) => {
                n.subnets.get_mut(*i)?.cidr = *c
            }
            ([("network", None), ("node_prefix", None)], FixValue::Integer(p))
                if (8..=28).contains(p) =>
            {
                n.node_prefix = Some(u8::try_from(*p).ok()?)
            }
            ([("network", None), ("pod_prefix", None)], FixValue::Integer(p))
                if (8..=28).contains(p) =>
            {
                n.pod_prefix = Some(u8::try_from(*p).ok()?)
            }
            ([("node_pool", Some(i)), ("max_nodes", None)], FixValue::Integer(m))
                if (1..=5000).contains(m) =>
            {
                env.node_pools.get_mut(*i)?.max_nodes = *m
            }
            _ => return None,
        }
        Some(env)
    }
}

/// A way to fix a capacity or carving finding, expanded into candidate [`Fix`]es.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Remedy {
    /// Another value of a prefix-length setting: larger blocks (shorter prefixes) than `current`
    /// when `larger`, else smaller ones.
    Prefix {
        field: &'static str,
        current: u8,
        larger: bool,
        /// Addresses the cloud keeps in such a subnet, for the hint's arithmetic.
        reserved: u64,
    },
    /// A prefix setting large enough for `needed`, with a parent block large enough for it:
    /// for when neither alone can pass.
    PrefixAndParent {
        field: &'static str,
        needed: u64,
        reserved: u64,
        parent_field: &'static str,
        parent: Ipv4Net,
    },
    /// A larger block for a range field: its supernet first, then free blocks of that size
    /// elsewhere (inside `within` for a pinned subnet, in the private spaces otherwise).
    Widen {
        field: String,
        current: Ipv4Net,
        within: Option<Ipv4Net>,
        reserved: u64,
    },
    /// The last resort: fewer nodes in the pool that has the most.
    ShrinkNodes,
}

/// Private spaces a moved block may go to, in order.
const SPACES: [&str; 4] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
];

/// The largest block (shortest prefix) `field` may be on `provider`.
fn largest_block(env: &Environment, field: &str) -> u8 {
    let aws = matches!(
        env.provider,
        CloudProvider::Eks | CloudProvider::Fake | CloudProvider::Plugin
    );
    match field {
        // A VPC block, or (fake) the AWS-like network, is at most a /16.
        "network.cidr" if aws => 16,
        "network.pod_cidr" if env.provider == CloudProvider::Eks => 16,
        f if f.starts_with("network.subnet[") && aws => 16,
        _ => 8,
    }
}

/// Candidate fixes for `remedy`, most conservative first; `ShrinkNodes` is searched separately.
fn candidates(env: &Environment, remedy: &Remedy) -> Vec<Fix> {
    match remedy {
        Remedy::Prefix {
            field,
            current,
            larger,
            ..
        } => {
            let lowest = if matches!(
                env.provider,
                CloudProvider::Eks | CloudProvider::Fake | CloudProvider::Plugin
            ) {
                16
            } else {
                8
            };
            let values: Vec<u8> = if *larger {
                (lowest..*current).rev().collect()
            } else {
                (current.saturating_add(1)..=28).collect()
            };
            values
                .into_iter()
                .map(|p| Fix::set(*field, FixValue::Integer(u64::from(p))))
                .collect()
        }
        Remedy::PrefixAndParent {
            field,
            needed,
            reserved,
            parent_field,
            parent,
        } => {
            // The block with headroom first, then the one that just holds the demand; each
            // with the parents that can take it, smallest first.
            let sizes = [
                cidr::smallest_prefix_with_headroom(
                    *needed,
                    *reserved,
                    crate::carve::HEADROOM_PERCENT,
                    8,
                ),
                cidr::smallest_prefix_for(*needed, *reserved, 8),
            ];
            let mut out = Vec::new();
            for p in sizes.into_iter().flatten().filter(|p| (8..=28).contains(p)) {
                let parents = candidates(
                    env,
                    &Remedy::Widen {
                        field: parent_field.to_string(),
                        current: *parent,
                        within: None,
                        reserved: 0,
                    },
                );
                for wider in parents {
                    let fits = wider.changes.iter().all(|c| match c.value {
                        FixValue::Cidr(n) => n.prefix_len() <= p,
                        FixValue::Integer(_) => false,
                    });
                    if fits {
                        let mut changes = Fix::set(*field, FixValue::Integer(u64::from(p))).changes;
                        changes.extend(wider.changes);
                        let fix = Fix { changes };
                        if !out.contains(&fix) {
                            out.push(fix);
                        }
                    }
                }
            }
            out
        }
        Remedy::Widen {
            field,
            current,
            within,
            ..
        } => {
            let lowest = largest_block(env, field).max(within.map_or(0, |w| w.prefix_len()));
            let others: Vec<Ipv4Net> = match within {
                // A pinned subnet must avoid the other subnets of the plan.
                Some(_) => crate::carve::carve(env)
                    .0
                    .subnets()
                    .map(|r| r.cidr)
                    .filter(|c| c != current)
                    .collect(),
                None => crate::ranges::of_env(env)
                    .into_iter()
                    .filter(|r| r.field != *field)
                    .map(|r| r.net)
                    .collect(),
            };
            let spaces: Vec<Ipv4Net> = match within {
                Some(w) => vec![*w],
                None => SPACES.iter().filter_map(|s| s.parse().ok()).collect(),
            };
            let mut out = Vec::new();
            for p in (lowest..current.prefix_len()).rev() {
                let moved = spaces.iter().filter_map(|s| cidr::first_fit(s, p, &others));
                for c in cidr::widen(current, p).into_iter().chain(moved) {
                    let fix = Fix::set(field.clone(), FixValue::Cidr(c));
                    if !out.contains(&fix) {
                        out.push(fix);
                    }
                }
            }
            out
        }
        Remedy::ShrinkNodes => Vec::new(),
    }
}

/// The keys of the findings a fix must not add to.
struct Baseline {
    errors: BTreeSet<String>,
    warnings: BTreeSet<String>,
}

/// Whether applying `fix` removes `finding` and adds no error (nor, when `strict`, a warning).
fn accepts(env: &Environment, fix: &Fix, finding: &Finding, base: &Baseline, strict: bool) -> bool {
    let Some(after) = fix.apply_to_env(env) else {
        return false;
    };
    let (_, findings) = crate::plan_findings(&after);
    findings.iter().all(|g| {
        let same = g.key == finding.key && (g.is_error() || !finding.is_error());
        let new = if g.is_error() {
            !base.errors.contains(&g.key)
        } else {
            strict && !base.warnings.contains(&g.key)
        };
        !same && !new
    })
}

/// The pool with the most nodes, lowered to the largest count that the checks accept.
fn shrink_nodes(
    env: &Environment,
    finding: &Finding,
    base: &Baseline,
    strict: bool,
) -> Option<Fix> {
    let (i, pool) = env
        .node_pools
        .iter()
        .enumerate()
        .max_by_key(|(i, p)| (p.max_nodes, std::cmp::Reverse(*i)))?;
    let fix = |m: u64| Fix::set(format!("node_pool[{i}].max_nodes"), FixValue::Integer(m));
    let ok = |m: u64| accepts(env, &fix(m), finding, base, strict);
    if pool.max_nodes <= 1 || !ok(1) {
        return None;
    }
    // Fewer nodes never need more addresses, so the accepted counts are 1..=best.
    let (mut lo, mut hi) = (1, pool.max_nodes - 1);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if ok(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Some(fix(lo))
}

/// What the fix amounts to, for the hint: the block size, or that it is a limit.
fn detail(fix: &Fix, remedy: &Remedy) -> String {
    let Some(first) = fix.changes.first() else {
        return String::new();
    };
    match (&first.value, remedy) {
        (
            FixValue::Integer(p),
            Remedy::Prefix { reserved, .. } | Remedy::PrefixAndParent { reserved, .. },
        ) => {
            let size = 1u64 << (32 - (*p).min(32));
            format!(
                " (a /{p}: {})",
                usable_addresses(size.saturating_sub(*reserved))
            )
        }
        (FixValue::Cidr(c), Remedy::Widen { reserved, .. }) if *reserved > 0 => {
            format!(" ({})", usable_addresses(cidr::usable(c, *reserved)))
        }
        (FixValue::Cidr(c), _) => format!(" ({})", addresses(cidr::size(c))),
        (FixValue::Integer(_), _) => " (the most that fits)".to_string(),
    }
}

/// `1 address`, `2,048 addresses`.
pub(crate) fn addresses(n: u64) -> String {
    format!("{} address{}", group(n), if n == 1 { "" } else { "es" })
}

/// `1 usable address`, `507 usable addresses`.
fn usable_addresses(n: u64) -> String {
    format!(
        "{} usable address{}",
        group(n),
        if n == 1 { "" } else { "es" }
    )
}

/// Puts a verified `set FIELD = VALUE` in front of the hint of every finding that has remedies.
pub(crate) fn resolve(env: &Environment, findings: &mut [Finding]) {
    if findings.iter().all(|f| f.remedies.is_empty()) {
        return;
    }
    let (_, now) = crate::plan_findings(env);
    let base = Baseline {
        errors: now
            .iter()
            .filter(|f| f.is_error())
            .map(|f| f.key.clone())
            .collect(),
        warnings: now
            .iter()
            .filter(|f| !f.is_error())
            .map(|f| f.key.clone())
            .collect(),
    };
    // Findings of one cause (a node subnet per zone) usually share a fix: try earlier ones first.
    let mut found: Vec<(Fix, Remedy)> = Vec::new();
    for f in findings.iter_mut() {
        if f.remedies.is_empty() {
            continue;
        }
        let mut chosen = None;
        'search: for strict in [true, false] {
            for (fix, remedy) in &found {
                if f.remedies.contains(remedy) && accepts(env, fix, f, &base, strict) {
                    chosen = Some((fix.clone(), remedy.clone()));
                    break 'search;
                }
            }
            for remedy in &f.remedies {
                let hit = match remedy {
                    Remedy::ShrinkNodes => shrink_nodes(env, f, &base, strict),
                    _ => candidates(env, remedy)
                        .into_iter()
                        .find(|fix| accepts(env, fix, f, &base, strict)),
                };
                if let Some(fix) = hit {
                    chosen = Some((fix, remedy.clone()));
                    break 'search;
                }
            }
        }
        if let Some((fix, remedy)) = chosen {
            let rest = f.hint.clone();
            f.hint = if f.is_error() {
                let tail = rest
                    .split_once(", or ")
                    .map(|(_, t)| format!(", or {t}"))
                    .unwrap_or_default();
                format!("{fix}{}{tail}", detail(&fix, &remedy))
            } else if remedy == Remedy::ShrinkNodes {
                format!("{fix} (the most that leaves room to grow), or use more zones or clusters")
            } else {
                format!("{fix} to leave room to grow{}", detail(&fix, &remedy))
            };
            if !found.iter().any(|(g, _)| *g == fix) {
                found.push((fix, remedy));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_read_back() {
        assert_eq!(
            Fix::from_hint(
                "set network.node_prefix = 23 (a /23: 507 usable addresses), or lower max_pods"
            ),
            Some(Fix::set("network.node_prefix", FixValue::Integer(23)))
        );
        let cidr = |s: &str| FixValue::Cidr(s.parse().unwrap());
        assert_eq!(
            Fix::from_hint("choose one: set network.subnet[1].cidr = \"10.0.0.0/20\" (4,091)"),
            Some(Fix::set("network.subnet[1].cidr", cidr("10.0.0.0/20")))
        );
        let two = Fix::from_hint(
            "set network.node_prefix = 21 and network.cidr = \"10.0.0.0/21\" (a /21)",
        )
        .unwrap();
        assert_eq!(
            two.to_string(),
            "set network.node_prefix = 21 and network.cidr = \"10.0.0.0/21\""
        );
        assert_eq!(two.changes.len(), 2);
        assert_eq!(Fix::from_hint("use a larger network"), None);
        assert_eq!(Fix::from_hint("set it = later"), None);
    }

    #[test]
    fn fixes_write_into_the_file() {
        let text = "[network]  # the VPC\ncidr = \"10.0.0.0/16\"\nsecondary_cidrs = [\"10.1.0.0/16\", \"10.2.0.0/16\"]\n\n[[network.subnet]]\nname = \"nodes\"\ncidr = \"10.0.0.0/24\"\n\n[[node_pool]]\nname = \"a\"\nmax_nodes = 3\n";
        let set = |field: &str, value: FixValue| Fix::set(field, value).apply_to_text(text);
        let cidr = |s: &str| FixValue::Cidr(s.parse().unwrap());
        assert_eq!(
            set("network.cidr", cidr("10.0.0.0/15")).unwrap(),
            text.replace("cidr = \"10.0.0.0/16\"", "cidr = \"10.0.0.0/15\"")
        );
        assert_eq!(
            set("network.node_prefix", FixValue::Integer(20)).unwrap(),
            text.replace("# the VPC\n", "# the VPC\nnode_prefix = 20\n")
        );
        assert!(set("network.secondary_cidrs[1]", cidr("10.3.0.0/16"))
            .unwrap()
            .contains("[\"10.1.0.0/16\", \"10.3.0.0/16\"]"));
        assert!(set("network.subnet[0].cidr", cidr("10.0.0.0/22"))
            .unwrap()
            .contains("name = \"nodes\"\ncidr = \"10.0.0.0/22\""));
        assert!(set("node_pool[0].max_nodes", FixValue::Integer(2))
            .unwrap()
            .contains("max_nodes = 2\n"));
        assert_eq!(
            set("dns.ttl", FixValue::Integer(2)),
            Err(FixError::NoSuchField("dns.ttl".into()))
        );
        assert_eq!(
            set("network.subnet[0].zone", FixValue::Integer(2)),
            Err(FixError::NoSuchField("network.subnet[0].zone".into()))
        );
    }
}
