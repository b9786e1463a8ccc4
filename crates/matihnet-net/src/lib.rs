//! The MATIH networking model: the environment file, its address plan, plan-time capacity checks
//! and the expansion into provider-neutral resources. Pure and synchronous: no IO, no clouds.
//!
//! [`load`] reads and validates an environment file and carves its [`AddressPlan`]; [`expand`]
//! turns the result into [`DesiredResource`](matihnet_core::DesiredResource)s that every provider maps onto its cloud.
//!
//! # The environment file
//!
//! One TOML file per environment; `examples/` at the repository root has one per provider.
//! Sections: `[environment]` (`name`, `provider` = `aks`|`eks`|`gke`|`fake`, `region`), one cloud
//! section matching the provider (`[aws]` `availability_zones`, `endpoint_url`, `nat`;
//! `[azure]` `subscription_id`, `resource_group`, `endpoint`, `ingress_resource_group`;
//! `[gcp]` `project`, `endpoint`; none for `fake`), `[network]` (`cidr`, `service_cidr`,
//! `pod_cidr`, `secondary_cidrs`, `cni`, `protect`, `node_prefix`, `pod_prefix`,
//! `internal_load_balancers`, and `[[network.subnet]]` `name` + `cidr` to pin a carved subnet),
//! `[[node_pool]]` (`name`, `instance_type`, `max_nodes`, `max_pods`, `max_surge`), `[dns]`
//! (`zone`, `api`, `subdomains`, `ttl`, `protect`), `[[tenant]]` (`slug`, `ingress` =
//! `dedicated`|`shared`) and `[state]` (`path`). Every string may use `${NAME}` (`$${` is a
//! literal `${`). Names, identifiers and CIDR strings are at most [`MAX_NAME_BYTES`] (1 KiB),
//! endpoint URLs and the state path at most [`MAX_TEXT_BYTES`] (64 KiB), before and after
//! `${NAME}` expansion. How subnets are carved (from demand, with headroom) is described in
//! [`plan`]; the capacity formulas in [`capacity`]; which ranges each cloud refuses in the
//! errors themselves (`0.0.0.0/8`, `127.0.0.0/8`, `169.254.0.0/16`, `224.0.0.0/4` and
//! `240.0.0.0/4` everywhere, plus each cloud's own list). CIDR blocks are written in plain
//! decimal: a leading zero (`010.0.0.0/16`) is an error, since some tools read it as octal.
//!
//! # Hints
//!
//! A hint that a program can apply reads `set FIELD = VALUE` (or `set A = 1 and B = "..."`);
//! [`Fix::from_hint`] reads it and [`Fix::apply_to_text`] writes it into the file. Capacity,
//! carving and range hints are verified before they are shown: applied, the file passes, or
//! only problems it already had remain, each with its own hint.
//!
//! # Neutral resource types
//!
//! Addresses are `kind.name`. Attributes marked *force new* replace the object when they change.
//!
//! | type | addresses | attributes | computed |
//! |---|---|---|---|
//! | `network` | `network.main` | `name` (`matih-<env>`), `cidr` (force new), `secondary_cidrs` (list: EKS custom-networking pod CIDR, AKS pod-subnet CIDR, extra blocks), `region` (force new) | `id` |
//! | `subnet` | `subnet.nodes_<az>`, `subnet.pods_<az>`, `subnet.public_<az>` (EKS); `subnet.nodes`, `subnet.pods` (AKS); `subnet.nodes` (GKE); `subnet.nodes`, `subnet.public` (fake) | `network_id` = `network.main.id`, `name`, `cidr`, `purpose` (`nodes`/`pods`/`public`), `zone` (AZ or `""`) all force new but `name`; `secondary_ranges` (map: GKE `pods`, `services`) | `id` |
//! | `frontend` | `frontend.platform`, `frontend.<slug>` per dedicated tenant | `name`, `purpose` (`platform`/`tenant`); depends on the network and the public subnets | `id`, `ip_address` |
//! | `dns_zone` | `dns_zone.platform`, `dns_zone.<label>` per tenant and subdomain | `name` (force new) | `id`, `name_servers` |
//! | `dns_record` | `dns_record.api`, `dns_record.<label>_ns`, `dns_record.<slug>_apex`, `dns_record.<slug>_wildcard` | `zone_id` = zone `id`, `zone_name`, `name` (`@` apex, `*` wildcard), `type` (`A`/`NS`), all force new; `ttl`, `values` (list) | |
//!
//! `dns_record.api` is an A record in the platform zone to `frontend.platform.ip_address`; each
//! child zone gets an NS record in the platform zone whose values are the child's `name_servers`;
//! each tenant's apex and wildcard A records point at its dedicated front end, or the platform's.
//! The network and subnets carry `[network] protect`, the zones `[dns] protect`.

pub mod capacity;
pub mod carve;
pub mod cidr;
mod expand;
pub mod fix;
pub mod instances;
mod interpolate;
mod lines;
pub mod model;
mod parse;
mod ranges;
mod spelling;
mod table;

use matihnet_core::{Diagnostic, Severity};

pub use carve::{AddressPlan, PlannedRange, Purpose};
pub use expand::{expand, neutral_schemas, outputs};
pub use fix::{Change, Fix, FixError, FixValue};
pub use interpolate::{interpolate, InterpolationError};
pub use model::*;
pub use parse::{MAX_NAME_BYTES, MAX_TEXT_BYTES};
pub use table::render_address_table;

#[cfg(test)]
mod tests;

/// A validated environment and its address plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub env: Environment,
    pub plan: AddressPlan,
    pub warnings: Vec<Diagnostic>,
}

/// A problem found after parsing, named by field; located once the file's spans are at hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    severity: Severity,
    field: String,
    message: String,
    /// The prose hint; [`fix::resolve`] puts a verified `set FIELD = VALUE` in front of it.
    hint: String,
    /// What the finding is about, stable across edits that change its numbers (such as
    /// `capacity:nodes`), so that a fix can be checked to remove it and add nothing new.
    key: String,
    /// Ways to fix it, tried in order; the first candidate the checks accept becomes the hint.
    remedies: Vec<fix::Remedy>,
}

impl Finding {
    pub(crate) fn error(field: &str, message: String, hint: String) -> Self {
        Finding {
            severity: Severity::Error,
            key: format!("{field}: {message}"),
            field: field.to_string(),
            message,
            hint,
            remedies: Vec::new(),
        }
    }

    pub(crate) fn warning(field: &str, message: String, hint: String) -> Self {
        Finding {
            severity: Severity::Warning,
            ..Finding::error(field, message, hint)
        }
    }

    pub(crate) fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    pub(crate) fn remedies(mut self, remedies: Vec<fix::Remedy>) -> Self {
        self.remedies = remedies;
        self
    }

    pub(crate) fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    pub(crate) fn into_diagnostic(self) -> Diagnostic {
        let d = match self.severity {
            Severity::Error => Diagnostic::error(self.message),
            Severity::Warning => Diagnostic::warning(self.message),
        };
        d.field(self.field).hint(self.hint)
    }

    fn located(self, sites: &parse::Sites) -> Diagnostic {
        let d = match self.severity {
            Severity::Error => sites.error(&self.field, self.message),
            Severity::Warning => sites.warning(&self.field, self.message),
        };
        d.hint(self.hint)
    }
}

/// Every finding about the address plan of `env`: its ranges, the carving and the capacity.
/// Hints are prose only; [`fix::resolve`] turns them into verified fixes.
pub(crate) fn plan_findings(env: &Environment) -> (AddressPlan, Vec<Finding>) {
    let mut findings = ranges::check(Some(env.provider), &ranges::of_env(env), false);
    let (mut plan, carve_findings) = carve::carve(env);
    findings.extend(carve_findings);
    findings.extend(capacity::check(env, &mut plan));
    (plan, findings)
}

/// Reads only the `[state]` section of a file: where another state lives, for `state migrate`.
/// `environment` names the PostgreSQL row when the section does not.
pub fn load_state_section(
    file_name: &str,
    text: &str,
    vars: &dyn Fn(&str) -> Option<String>,
    environment: &str,
) -> Result<StateSection, Vec<Diagnostic>> {
    parse::parse_state_only(file_name, text, vars, environment)
}

/// Parse + validate an environment file. `vars` resolves `${NAME}` (the CLI passes --var values
/// first, then the process environment). Returns every error at once, sorted by position.
pub fn load(
    file_name: &str,
    text: &str,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, Vec<Diagnostic>> {
    let parsed = parse::parse(file_name, text, vars);
    let mut diags = parsed.diags;
    let sites = parsed.sites;
    let mut plan = None;
    if let Some(env) = &parsed.env {
        // The parser has already reported the range rules (with their own fixes), so only the
        // carving and the capacity findings are new here.
        let (mut p, mut findings) = carve::carve(env);
        findings.extend(capacity::check(env, &mut p));
        fix::resolve(env, &mut findings);
        diags.extend(findings.into_iter().map(|f| f.located(&sites)));
        plan = Some(p);
    }
    parse::sort(&mut diags);
    match (parsed.env, plan) {
        (Some(env), Some(plan)) if !diags.iter().any(Diagnostic::is_error) => Ok(Loaded {
            env,
            plan,
            warnings: diags,
        }),
        _ => Err(diags.into_iter().filter(Diagnostic::is_error).collect()),
    }
}
