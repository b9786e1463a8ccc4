//! Planning: refresh what the state records, diff it against the desired resources, and decide
//! one action per resource. A plan is data: apply executes it and never decides anything itself.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::stream::{self, StreamExt};
use matihnet_core::{
    Address, AttributeKind, Attrs, DesiredResource, Expr, OperationContext, Provider,
    ProviderError, ResourceSchema, Value,
};
use matihnet_state::State;
use serde::{Deserialize, Serialize};

use crate::diff::{detect_drift, diff_one, no_op};
use crate::graph::{CycleError, Graph};

/// Bumped when the JSON form of a plan changes incompatibly (see docs/plan-json.md).
pub const PLAN_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    Replace,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceChange {
    pub address: Address,
    pub action: Action,
    /// The object as refreshed (or as recorded, without refresh); `None` when there is none.
    pub before: Option<Attrs>,
    /// The values known now that the object will have after apply.
    pub after: Attrs,
    /// Attributes whose value is known only after apply.
    pub after_unknown: Vec<String>,
    /// The attributes whose change forces the replacement.
    pub replace_because: Vec<String>,
    /// Why the object is replaced when no attribute forces it (`tainted`, `requested`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_reason: Option<String>,
    /// The configuration, resolved against the objects created before this one at apply time.
    pub desired: BTreeMap<String, Expr>,
    pub dependencies: Vec<Address>,
    pub protect: bool,
    pub sensitive: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeDrift {
    pub name: String,
    pub recorded: Option<Value>,
    pub actual: Option<Value>,
}

/// What changed outside matihnet since the state was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    pub address: Address,
    /// Deleted outside matihnet; otherwise `attributes` lists what changed.
    pub deleted: bool,
    pub attributes: Vec<AttributeDrift>,
}

pub use matihnet_core::OutputSpec;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    /// The state this plan was made against: applying it to any other state is refused.
    pub lineage: String,
    pub serial: u64,
    pub destroy: bool,
    pub refreshed: bool,
    /// Every resource in the configuration or the state, sorted by address, no-ops included.
    pub changes: Vec<ResourceChange>,
    pub drift: Vec<Drift>,
    pub outputs: Vec<OutputSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::NoOp => {}
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Replace => {
                    s.add += 1;
                    s.destroy += 1;
                }
                Action::Delete => s.destroy += 1,
            }
        }
        s
    }

    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::NoOp)
    }

    pub fn change(&self, addr: &Address) -> Option<&ResourceChange> {
        self.changes
            .binary_search_by(|c| c.address.cmp(addr))
            .ok()
            .map(|i| &self.changes[i])
    }
}

#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub refresh: bool,
    pub targets: Vec<Address>,
    pub replace: Vec<Address>,
    pub parallelism: usize,
    pub destroy: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            refresh: true,
            targets: Vec::new(),
            replace: Vec::new(),
            parallelism: 10,
            destroy: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{count} errors in the configuration:\n{}", errors.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Invalid { count: usize, errors: Vec<String> },
    #[error(transparent)]
    Cycle(#[from] CycleError),
    #[error("refreshing failed for {} resources:\n{}", .0.len(), group_refresh_errors(.0))]
    Refresh(Vec<(Address, ProviderError)>),
    #[error("{}", .0.iter().map(|(a, act)| format!("{a} is protected (protect = true) and this plan would {act} it; set protect = false for it, apply, then run this again")).collect::<Vec<_>>().join("\n"))]
    Protected(Vec<(Address, &'static str)>),
}

/// One line per distinct failure, naming every resource it hit: a missing credential is one cause,
/// not fifty lines of the same text.
fn group_refresh_errors(errors: &[(Address, ProviderError)]) -> String {
    let mut by_message: Vec<(String, Vec<&Address>)> = Vec::new();
    for (addr, e) in errors {
        // The operation name before the first colon differs per resource type; the cause does not.
        let text = e.to_string();
        let cause = text
            .split_once(": ")
            .map(|(_, c)| c.to_string())
            .unwrap_or(text);
        match by_message.iter_mut().find(|(m, _)| *m == cause) {
            Some((_, addrs)) => addrs.push(addr),
            None => by_message.push((cause, vec![addr])),
        }
    }
    by_message
        .iter()
        .map(|(m, addrs)| {
            let names: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
            format!("  - {}: {m}", names.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Everything a plan needs; the provider is only used to read.
pub struct PlanInput<'a> {
    pub desired: &'a [DesiredResource],
    pub outputs: &'a [OutputSpec],
    pub state: &'a State,
    pub provider: &'a dyn Provider,
    pub environment: &'a str,
}

/// Checks the desired resources against the provider's schemas and each other; every problem at
/// once.
pub fn validate(
    desired: &[DesiredResource],
    schemas: &HashMap<String, ResourceSchema>,
) -> Result<Graph, PlanError> {
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for r in desired {
        if !seen.insert(&r.addr) {
            errors.push(format!("{} is declared twice", r.addr));
        }
    }
    let mut graph = Graph::new();
    for r in desired {
        graph.add_node(r.addr.clone());
        let Some(schema) = schemas.get(&r.addr.kind) else {
            errors.push(format!(
                "{}: the provider has no resource type `{}`",
                r.addr, r.addr.kind
            ));
            continue;
        };
        for a in &schema.attributes {
            if a.kind == AttributeKind::Required && !r.attrs.contains_key(&a.name) {
                errors.push(format!("{}: attribute `{}` is required", r.addr, a.name));
            }
        }
        for name in r.attrs.keys() {
            match schema.attribute(name) {
                None => errors.push(format!(
                    "{}: `{}` has no attribute `{name}`",
                    r.addr, r.addr.kind
                )),
                Some(a) if a.kind == AttributeKind::Computed => errors.push(format!(
                    "{}: `{name}` is computed by the provider and cannot be set",
                    r.addr
                )),
                Some(_) => {}
            }
        }
        for dep in r.dependencies() {
            if seen.contains(&dep) {
                graph.add_edge(r.addr.clone(), dep);
            } else {
                errors.push(format!("{} refers to {dep}, which is not declared", r.addr));
            }
        }
    }
    if !errors.is_empty() {
        return Err(PlanError::Invalid {
            count: errors.len(),
            errors,
        });
    }
    graph.topo_order()?;
    Ok(graph)
}

pub fn schema_map(provider: &dyn Provider) -> HashMap<String, ResourceSchema> {
    provider
        .schemas()
        .into_iter()
        .map(|s| (s.type_name.clone(), s))
        .collect()
}

/// One read handed to [`Provider::read_many`]: whose it is, and what the call needs.
type BatchedRead = (Address, (OperationContext, Attrs));

/// Reads every resource of `state` (bounded by `parallelism`): `None` for objects that are gone.
/// Kinds the provider reads in batches go to it together, one task per kind, so a refresh of
/// many record sets can cost one list per zone instead of one read each.
pub async fn refresh(
    state: &State,
    provider: &dyn Provider,
    environment: &str,
    parallelism: usize,
    only: Option<&BTreeSet<Address>>,
) -> Result<BTreeMap<Address, Option<Attrs>>, PlanError> {
    let ctx_of = |addr: &Address| OperationContext {
        addr: addr.clone(),
        environment: environment.to_string(),
        lineage: state.lineage.clone(),
    };
    let mut single: Vec<(&Address, &Attrs)> = Vec::new();
    let mut batches: BTreeMap<&str, Vec<BatchedRead>> = BTreeMap::new();
    for (addr, r) in state
        .resources
        .iter()
        .filter(|(a, _)| only.is_none_or(|o| o.contains(*a)))
    {
        if provider.reads_in_batches(&addr.kind) {
            batches
                .entry(addr.kind.as_str())
                .or_default()
                .push((addr.clone(), (ctx_of(addr), r.attributes.clone())));
        } else {
            single.push((addr, &r.attributes));
        }
    }
    type Read = (Address, Result<Option<Attrs>, ProviderError>);
    let mut tasks: Vec<futures::future::BoxFuture<'_, Vec<Read>>> = Vec::new();
    for (kind, items) in batches {
        tasks.push(Box::pin(async move {
            let (addrs, reads): (Vec<Address>, Vec<(OperationContext, Attrs)>) =
                items.into_iter().unzip();
            let answers = provider.read_many(kind, &reads).await;
            let mut answers = answers.into_iter();
            addrs
                .into_iter()
                .map(|a| {
                    let answer = answers.next().unwrap_or_else(|| {
                        Err(ProviderError::new(
                            matihnet_core::ErrorKind::Other,
                            format!("the provider gave no answer for {a} in a batched read"),
                        ))
                    });
                    (a, answer)
                })
                .collect()
        }));
    }
    for (addr, attrs) in single {
        let ctx = ctx_of(addr);
        tasks.push(Box::pin(async move {
            vec![(addr.clone(), provider.read(&ctx, attrs).await)]
        }));
    }
    let results: Vec<Read> = stream::iter(tasks)
        .buffer_unordered(parallelism.max(1))
        .collect::<Vec<Vec<Read>>>()
        .await
        .into_iter()
        .flatten()
        .collect();
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    for (addr, r) in results {
        match r {
            Ok(v) => {
                out.insert(addr, v);
            }
            Err(e) => errors.push((addr, e)),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        errors.sort_by(|a, b| a.0.cmp(&b.0));
        Err(PlanError::Refresh(errors))
    }
}

pub async fn plan(input: PlanInput<'_>, options: &PlanOptions) -> Result<Plan, PlanError> {
    let schemas = schema_map(input.provider);
    let scoped = Scoped::new(input.desired, &schemas, input.state, options)?;
    let refreshed = if options.refresh {
        refresh(
            input.state,
            input.provider,
            input.environment,
            options.parallelism,
            scoped.scope.as_ref(),
        )
        .await?
    } else {
        recorded(input.state)
    };
    scoped.finish(
        input.desired,
        input.outputs,
        input.state,
        refreshed,
        &schemas,
        options,
    )
}

/// The plan of `desired` against what the state records, reading nothing from the cloud: the
/// check of commands that trust the state (`render`) that it still matches the file.
pub fn plan_recorded(
    desired: &[DesiredResource],
    outputs: &[OutputSpec],
    state: &State,
    schemas: &HashMap<String, ResourceSchema>,
) -> Result<Plan, PlanError> {
    let options = PlanOptions {
        refresh: false,
        ..PlanOptions::default()
    };
    let scoped = Scoped::new(desired, schemas, state, &options)?;
    scoped.finish(desired, outputs, state, recorded(state), schemas, &options)
}

fn recorded(state: &State) -> BTreeMap<Address, Option<Attrs>> {
    state
        .resources
        .iter()
        .map(|(a, r)| (a.clone(), Some(r.attributes.clone())))
        .collect()
}

/// The validated graph of the configuration and the addresses a plan may touch (`--target`).
struct Scoped {
    graph: Graph,
    scope: Option<BTreeSet<Address>>,
}

impl Scoped {
    fn new(
        desired: &[DesiredResource],
        schemas: &HashMap<String, ResourceSchema>,
        state: &State,
        options: &PlanOptions,
    ) -> Result<Scoped, PlanError> {
        let graph = if options.destroy {
            Graph::new()
        } else {
            validate(desired, schemas)?
        };

        let mut unknown_targets: Vec<String> = options
            .targets
            .iter()
            .chain(&options.replace)
            .filter(|t| !graph.contains(t) && !state.resources.contains_key(t))
            .map(|t| format!("{t} is neither in the configuration nor in the state"))
            .collect();
        unknown_targets.extend(
            options
                .replace
                .iter()
                .filter(|t| graph.contains(t) && !state.resources.contains_key(t))
                .map(|t| {
                    format!("--replace {t}: it does not exist yet, so there is nothing to replace")
                }),
        );
        if !unknown_targets.is_empty() {
            return Err(PlanError::Invalid {
                count: unknown_targets.len(),
                errors: unknown_targets,
            });
        }

        let state_graph = state_graph(state);
        let scope: Option<BTreeSet<Address>> = if options.targets.is_empty() {
            None
        } else if options.destroy {
            Some(state_graph.closure_of_dependents(&options.targets))
        } else {
            let mut s = graph.closure_of_dependencies(&options.targets);
            // A targeted resource that only the state knows is deleted, and its dependents with it.
            let state_only: Vec<Address> = options
                .targets
                .iter()
                .filter(|t| !graph.contains(t))
                .cloned()
                .collect();
            s.extend(state_graph.closure_of_dependents(&state_only));
            Some(s)
        };
        Ok(Scoped { graph, scope })
    }

    fn finish(
        self,
        desired: &[DesiredResource],
        outputs: &[OutputSpec],
        state: &State,
        refreshed: BTreeMap<Address, Option<Attrs>>,
        schemas: &HashMap<String, ResourceSchema>,
        options: &PlanOptions,
    ) -> Result<Plan, PlanError> {
        let Scoped { graph, scope } = self;
        let in_scope = |a: &Address| scope.as_ref().is_none_or(|s| s.contains(a));
        let desired_by_addr: BTreeMap<&Address, &DesiredResource> =
            desired.iter().map(|r| (&r.addr, r)).collect();

        let drift = detect_drift(state, &refreshed, &desired_by_addr, schemas);

        let mut changes: BTreeMap<Address, ResourceChange> = BTreeMap::new();
        let replace_requested: BTreeSet<&Address> = options.replace.iter().collect();

        if !options.destroy {
            // Values each resource will have after apply, as far as they are known now.
            let mut known: HashMap<Address, Attrs> = HashMap::new();
            for addr in graph.topo_order()? {
                let Some(r) = desired_by_addr.get(&addr) else {
                    continue;
                };
                let Some(schema) = schemas.get(&addr.kind) else {
                    continue;
                };
                let prior = refreshed.get(&addr).cloned().flatten();
                let tainted = state.resources.get(&addr).is_some_and(|s| s.tainted);
                let change = if in_scope(&addr) {
                    diff_one(
                        r,
                        schema,
                        prior,
                        tainted,
                        replace_requested.contains(&addr),
                        &known,
                    )
                } else {
                    // Outside --target: left as it is, but its recorded values still feed references.
                    let after = prior.clone().unwrap_or_default();
                    no_op(r, schema, prior, after)
                };
                known.insert(addr.clone(), change.after.clone());
                changes.insert(addr, change);
            }
        }
        for (addr, recorded) in &state.resources {
            if changes.contains_key(addr) || !in_scope(addr) {
                continue;
            }
            let before = refreshed.get(addr).cloned().flatten();
            // Gone already: nothing to delete, but the state entry is dropped at apply.
            let action = if before.is_some() {
                Action::Delete
            } else {
                Action::NoOp
            };
            changes.insert(
                addr.clone(),
                ResourceChange {
                    address: addr.clone(),
                    action,
                    before,
                    after: Attrs::new(),
                    after_unknown: Vec::new(),
                    replace_because: Vec::new(),
                    replace_reason: None,
                    desired: BTreeMap::new(),
                    dependencies: recorded.dependencies.clone(),
                    protect: recorded.protect,
                    sensitive: Vec::new(),
                },
            );
        }

        let protected: Vec<(Address, &'static str)> = changes
            .values()
            // The configuration's flag wins; the recorded one protects what the file no longer names.
            .filter(|c| match desired_by_addr.get(&c.address) {
                Some(d) => d.protect,
                None => state.resources.get(&c.address).is_some_and(|r| r.protect),
            })
            .filter_map(|c| match c.action {
                Action::Delete => Some((c.address.clone(), "destroy")),
                Action::Replace => Some((c.address.clone(), "replace")),
                _ => None,
            })
            .collect();
        if !protected.is_empty() {
            return Err(PlanError::Protected(protected));
        }

        Ok(Plan {
            format_version: PLAN_FORMAT_VERSION,
            lineage: state.lineage.clone(),
            serial: state.serial,
            destroy: options.destroy,
            refreshed: options.refresh,
            changes: changes.into_values().collect(),
            drift,
            outputs: if options.destroy {
                Vec::new()
            } else {
                outputs.to_vec()
            },
        })
    }
}

/// The graph of what the state records, for deletes and destroy targets.
pub fn state_graph(state: &State) -> Graph {
    let mut g = Graph::new();
    for (addr, r) in &state.resources {
        g.add_node(addr.clone());
        for d in &r.dependencies {
            if state.resources.contains_key(d) {
                g.add_edge(addr.clone(), d.clone());
            }
        }
    }
    g
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StalePlan {
    #[error("the saved plan was made for another state (lineage {plan}, the state's is {state}); make a new plan")]
    Lineage { plan: String, state: String },
    #[error("the saved plan is stale: it was made against state serial {plan}, and the state has moved on to serial {state}; run plan again")]
    Serial { plan: u64, state: u64 },
}

/// A saved plan may only be applied to exactly the state it was made against.
pub fn check_fresh(plan: &Plan, state: &State) -> Result<(), StalePlan> {
    // A plan made before any state existed has a lineage nobody kept: the state written since
    // is simply newer than the plan.
    if plan.serial == 0 && state.serial > 0 {
        return Err(StalePlan::Serial {
            plan: plan.serial,
            state: state.serial,
        });
    }
    if plan.lineage != state.lineage {
        return Err(StalePlan::Lineage {
            plan: plan.lineage.clone(),
            state: state.lineage.clone(),
        });
    }
    if plan.serial != state.serial {
        return Err(StalePlan::Serial {
            plan: plan.serial,
            state: state.serial,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use matihnet_core::ErrorKind;

    #[test]
    fn identical_refresh_failures_are_reported_once() {
        let e =
            |op: &str| ProviderError::new(ErrorKind::Unauthorized, format!("{op}: no credentials"));
        let err = PlanError::Refresh(vec![
            (Address::new("network", "main"), e("DescribeVpcs")),
            (Address::new("subnet", "a"), e("DescribeSubnets")),
            (
                Address::new("dns_zone", "p"),
                ProviderError::new(ErrorKind::Other, "GetHostedZone: boom"),
            ),
        ]);
        assert_eq!(
            err.to_string(),
            "refreshing failed for 3 resources:\n  - network.main, subnet.a: no credentials\n  - dns_zone.p: boom"
        );
    }
}
