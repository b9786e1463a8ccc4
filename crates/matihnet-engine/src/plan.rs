//! Planning: refresh what the state records, diff it against the desired resources, and decide
//! one action per resource. A plan is data: apply executes it and never decides anything itself.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use matihnet_core::{
    Address, AttributeKind, Attrs, DesiredResource, Expr, OperationContext, Provider,
    ProviderError, ResourceSchema, Value,
};
use matihnet_state::State;
use serde::{Deserialize, Serialize};

use crate::diff::{detect_drift, diff_one, no_op};
use crate::graph::{CycleError, Graph};
use crate::moves::{self, Move};

/// Bumped when the JSON form of a plan changes incompatibly (see docs/plan-json.md): the newest
/// this build reads. Version 2 added imports, moves and existing objects (`read`, `forget`),
/// which a version-1 reader would silently get wrong; a plan without them is still written as 1.
pub const PLAN_FORMAT_VERSION: u32 = 2;

/// The oldest format that can carry `changes`.
fn format_version(changes: &[ResourceChange]) -> u32 {
    let needs_2 = changes.iter().any(|c| {
        c.importing.is_some()
            || c.moved_from.is_some()
            || c.existing.is_some()
            || matches!(c.action, Action::Read | Action::Forget)
    });
    if needs_2 {
        2
    } else {
        1
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    Replace,
    Delete,
    /// Use an object that exists and is not matihnet's (`existing` in the file): record it,
    /// never change it.
    Read,
    /// Drop a used-not-owned object from the state, leaving it in the cloud.
    Forget,
}

/// One resource's change. `before` and `after` are shared, not copied: a no-op's `after` is its
/// `before`, and the same values feed the references of the resources planned after it, so a
/// large plan holds each resource's values once (serialised as plain maps all the same).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceChange {
    pub address: Address,
    pub action: Action,
    /// The object as refreshed (or as recorded, without refresh); `None` when there is none.
    #[serde(with = "shared::optional")]
    pub before: Option<Arc<Attrs>>,
    /// The values known now that the object will have after apply.
    #[serde(with = "shared")]
    pub after: Arc<Attrs>,
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
    /// Taken over at apply from the object the cloud knows by this id (`matihnet import`,
    /// `[[import]]`), before the action (a no-op, or an update towards the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importing: Option<String>,
    /// Recorded until now under this address: the state entry moves, the object stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_from: Option<Address>,
    /// Used, not owned: the id of the existing object, checked against the file, never changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing: Option<String>,
}

mod shared {
    //! `Arc<Attrs>` in a plan's JSON: the map itself, as before it was shared (serde's `rc`
    //! feature would do the same, but for the whole workspace's build).

    use std::sync::Arc;

    use matihnet_core::Attrs;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Arc<Attrs>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<Attrs>, D::Error> {
        Attrs::deserialize(d).map(Arc::new)
    }

    pub mod optional {
        //! `Option<Arc<Attrs>>`: `null` or the map.

        use super::*;

        pub fn serialize<S: Serializer>(v: &Option<Arc<Attrs>>, s: S) -> Result<S::Ok, S::Error> {
            v.as_deref().serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Arc<Attrs>>, D::Error> {
            Option::<Attrs>::deserialize(d).map(|v| v.map(Arc::new))
        }
    }
}

/// What a plan compares the configuration with, per address in the state: the object as
/// refreshed or as recorded (`None`: gone), shared with the changes made from it.
type Found = BTreeMap<Address, Option<Arc<Attrs>>>;

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
    pub import: usize,
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    /// State entries that move to another address (the objects stay).
    pub moved: usize,
    /// Existing objects recorded (`Read`) or dropped from the state (`Forget`).
    pub read: usize,
    pub forget: usize,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            s.import += usize::from(c.importing.is_some());
            s.moved += usize::from(c.moved_from.is_some());
            match c.action {
                Action::NoOp => {}
                Action::Read => s.read += 1,
                Action::Forget => s.forget += 1,
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
        self.changes
            .iter()
            .any(|c| c.action != Action::NoOp || c.importing.is_some() || c.moved_from.is_some())
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
    /// Objects to take over, by address and cloud id (`[[import]]`, `matihnet import`).
    pub imports: BTreeMap<Address, String>,
    /// Declared moves, `from` to `to` (`[[moved]]`).
    pub moves: Vec<(Address, Address)>,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            refresh: true,
            targets: Vec::new(),
            replace: Vec::new(),
            parallelism: 10,
            destroy: false,
            imports: BTreeMap::new(),
            moves: Vec::new(),
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
    #[error("{} resources cannot be imported or used:\n{}", .0.len(), .0.iter().map(|(a, id, e)| format!("  - {a} (id {id}): {e}")).collect::<Vec<_>>().join("\n"))]
    Import(Vec<(Address, String, ProviderError)>),
    #[error("{} existing objects do not match the file (matihnet uses them and never changes them):\n{}", .0.len(), .0.iter().map(|m| format!("  - {m}")).collect::<Vec<_>>().join("\n"))]
    ExistingMismatch(Vec<String>),
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
    validate_ordered(desired, schemas).map(|(graph, _)| graph)
}

/// [`validate`], and the order in which to plan: the topological sort that proves the graph has
/// no cycle, kept so that a plan does not sort it again.
fn validate_ordered(
    desired: &[DesiredResource],
    schemas: &HashMap<String, ResourceSchema>,
) -> Result<(Graph, Vec<Address>), PlanError> {
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
            // An existing object's attributes are checks, not settings: any may be left out.
            if a.kind == AttributeKind::Required
                && r.existing.is_none()
                && !r.attrs.contains_key(&a.name)
            {
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
    let order = graph.topo_order()?;
    Ok((graph, order))
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
    let moves = scoped.moves(input.desired, input.state, options)?;
    // The plan is made against the state as it will be once the moves are made.
    let state = moves::moved(input.state, &moves);
    let refreshed = if options.refresh {
        // Moved into the plan's shared values, not copied.
        refresh(
            &state,
            input.provider,
            input.environment,
            options.parallelism,
            scoped.scope.as_ref(),
        )
        .await?
        .into_iter()
        .map(|(a, v)| (a, v.map(Arc::new)))
        .collect()
    } else {
        recorded(&state)
    };
    let taken = take_over(&input, &state, options).await?;
    scoped.finish(
        input.desired,
        input.outputs,
        &state,
        Compared {
            refreshed,
            taken,
            moves,
        },
        &schemas,
        options,
    )
}

/// Objects to be taken over, read at plan time (without marking them): by address, the id and
/// what the cloud holds.
type TakenOver = BTreeMap<Address, (String, Attrs)>;

/// Reads what `[[import]]` entries and existing objects name, so that the plan compares the file
/// with the real objects and a wrong id fails now, before anything changes.
async fn take_over(
    input: &PlanInput<'_>,
    state: &State,
    options: &PlanOptions,
) -> Result<TakenOver, PlanError> {
    if options.destroy {
        return Ok(TakenOver::new());
    }
    let mut errors = Vec::new();
    let mut wanted: Vec<(Address, String)> = Vec::new();
    for (addr, id) in &options.imports {
        match state.resources.get(addr) {
            None => wanted.push((addr.clone(), id.clone())),
            // Imported by an earlier apply: nothing left to do.
            Some(r) if r.attributes.get("id").and_then(Value::as_str) == Some(id.as_str()) => {}
            Some(r) => errors.push((
                addr.clone(),
                id.clone(),
                ProviderError::new(
                    matihnet_core::ErrorKind::Rejected,
                    format!(
                        "{addr} is already in the state as {}; remove it from the state (`matihnet state rm {addr}`) before importing another object there",
                        r.attributes.get("id").and_then(Value::as_str).unwrap_or("an object without an id")
                    ),
                ),
            )),
        }
    }
    for r in input.desired {
        if let Some(id) = &r.existing {
            if !state.resources.contains_key(&r.addr) {
                wanted.push((r.addr.clone(), id.clone()));
            }
        }
    }
    let provider = input.provider;
    let reads = wanted.into_iter().map(|(addr, id)| {
        let ctx = OperationContext {
            addr: addr.clone(),
            environment: input.environment.to_string(),
            lineage: state.lineage.clone(),
        };
        async move {
            let r = provider.import(&ctx, &id, false).await;
            (addr, id, r)
        }
    });
    let results: Vec<_> = stream::iter(reads)
        .buffer_unordered(options.parallelism.max(1))
        .collect()
        .await;
    let mut taken = TakenOver::new();
    for (addr, id, r) in results {
        match r {
            Ok(attrs) => {
                taken.insert(addr, (id, attrs));
            }
            Err(e) => errors.push((addr, id, e)),
        }
    }
    if errors.is_empty() {
        Ok(taken)
    } else {
        errors.sort_by(|a, b| a.0.cmp(&b.0));
        Err(PlanError::Import(errors))
    }
}

/// `matihnet import ADDRESS ID`: takes the object over now (marking it as this state's) and
/// returns the entry to record for `addr`, which the file must declare and the state must not
/// hold yet. Attributes the cloud does not hold are the file's (see [`with_unheld`]).
pub async fn import_now(
    input: &PlanInput<'_>,
    addr: &Address,
    id: &str,
) -> Result<matihnet_state::ResourceState, PlanError> {
    let invalid = |m: String| PlanError::Invalid {
        count: 1,
        errors: vec![m],
    };
    let Some(r) = input.desired.iter().find(|r| &r.addr == addr) else {
        return Err(invalid(format!(
            "{addr} is not declared in the file; an import fills a resource the file declares (`matihnet plan` lists them)"
        )));
    };
    if r.existing.is_some() {
        return Err(invalid(format!(
            "{addr} is an existing object the file uses, not owns (`existing`): it is read by every plan and needs no import"
        )));
    }
    if let Some(held) = input.state.resources.get(addr) {
        return Err(invalid(format!(
            "{addr} is already in the state as {}; remove it from the state first (`matihnet state rm {addr}`) to import another object there",
            held.attributes.get("id").and_then(Value::as_str).unwrap_or("an object without an id")
        )));
    }
    let ctx = OperationContext {
        addr: addr.clone(),
        environment: input.environment.to_string(),
        lineage: input.state.lineage.clone(),
    };
    let held = input
        .provider
        .import(&ctx, id, true)
        .await
        .map_err(|e| PlanError::Import(vec![(addr.clone(), id.to_string(), e)]))?;
    let known: HashMap<&Address, Arc<Attrs>> = input
        .state
        .resources
        .iter()
        .map(|(a, r)| (a, Arc::new(r.attributes.clone())))
        .collect();
    Ok(matihnet_state::ResourceState {
        attributes: with_unheld(&held, r, &known),
        dependencies: r.dependencies(),
        tainted: false,
        protect: r.protect,
        existing: false,
    })
}

/// What the configuration is compared with: the state's objects as refreshed (after the
/// moves), the objects to take over, and the moves themselves.
struct Compared {
    refreshed: Found,
    taken: TakenOver,
    moves: Vec<Move>,
}

/// What an imported or existing object's attributes are taken to be: what the cloud holds, and
/// for attributes the cloud does not hold (a subnet's `purpose` in a cloud that has no such
/// property) the file's values, since nothing in the cloud can differ from them.
fn with_unheld(held: &Attrs, r: &DesiredResource, known: &HashMap<&Address, Arc<Attrs>>) -> Attrs {
    let lookup = |a: &Address| known.get(a).map(|v| v.as_ref());
    let wanted: Attrs = r
        .attrs
        .iter()
        .filter_map(|(k, e)| e.resolve(&lookup).map(|v| (k.clone(), v)))
        .collect();
    reconcile_held(held.clone(), wanted)
}

/// [`with_unheld`] against already resolved values: also at apply, where the state resolves
/// them. A list the cloud holds in another order than the file (subnet ids, name servers: the
/// clouds hold sets) takes the file's order, since an import has no recorded order to keep.
pub(crate) fn reconcile_held(mut held: Attrs, wanted: Attrs) -> Attrs {
    for (k, v) in wanted {
        match held.get(&k) {
            None => {
                held.insert(k, v);
            }
            Some(Value::List(h)) if matches!(&v, Value::List(w) if same_items(h, w)) => {
                held.insert(k, v);
            }
            Some(_) => {}
        }
    }
    held
}

fn same_items(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x)) && b.iter().all(|x| a.contains(x))
}

/// Turns the change of a used-not-owned object into a read (or a no-op once recorded), or says
/// what of it does not match the file. Every attribute the file sets is a check (the file may
/// leave out required ones, such as a name that is the owner's business), because matihnet
/// never changes the object.
fn as_existing(
    change: &mut ResourceChange,
    id: &str,
    recorded: bool,
    resolved: &dyn Fn(&str) -> Option<Value>,
    mismatches: &mut Vec<String>,
) {
    change.existing = Some(id.to_string());
    let Some(before) = change.before.clone() else {
        mismatches.push(format!(
            "{}: the existing object {id} is gone; create it again outside matihnet, or remove `existing` from the file so that matihnet creates and owns it",
            change.address
        ));
        return;
    };
    for name in change.desired.keys() {
        let want = resolved(name);
        if want.is_some() && before.get(name) != want.as_ref() {
            mismatches.push(format!(
                "{}: `{name}` is {} in the existing object {id}, the file says {}",
                change.address,
                before
                    .get(name)
                    .map(Value::to_string)
                    .unwrap_or_else(|| "not set".into()),
                want.map(|v| v.to_string()).unwrap_or_default()
            ));
        }
    }
    change.action = if recorded { Action::NoOp } else { Action::Read };
    change.after = before;
    change.after_unknown.clear();
    change.replace_because.clear();
    change.replace_reason = None;
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
    let moves = scoped.moves(desired, state, &options)?;
    let state = moves::moved(state, &moves);
    let compared = Compared {
        refreshed: recorded(&state),
        taken: TakenOver::new(),
        moves,
    };
    scoped.finish(desired, outputs, &state, compared, schemas, &options)
}

/// What the state records, as a plan without refresh compares against: the one copy of the
/// state's values the plan keeps (the plan owns its data; the state is only borrowed).
fn recorded(state: &State) -> Found {
    state
        .resources
        .iter()
        .map(|(a, r)| (a.clone(), Some(Arc::new(r.attributes.clone()))))
        .collect()
}

/// The validated configuration in the order to plan it (dependencies first), and the addresses
/// a plan may touch (`--target`). The graph itself is not kept: planning needs only the order.
struct Scoped {
    order: Vec<Address>,
    scope: Option<BTreeSet<Address>>,
}

impl Scoped {
    fn new(
        desired: &[DesiredResource],
        schemas: &HashMap<String, ResourceSchema>,
        state: &State,
        options: &PlanOptions,
    ) -> Result<Scoped, PlanError> {
        let (graph, order) = if options.destroy {
            (Graph::new(), Vec::new())
        } else {
            validate_ordered(desired, schemas)?
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
        if !options.destroy {
            unknown_targets.extend(options.imports.keys().filter(|a| !graph.contains(a)).map(|a| {
                format!("import: {a} is not declared in the file; declare it first (an import fills a resource of the file, it does not add one)")
            }));
            unknown_targets.extend(
                desired
                    .iter()
                    .filter(|r| r.existing.is_some() && options.imports.contains_key(&r.addr))
                    .map(|r| format!("import: {} is an existing object the file uses, not owns; it cannot also be imported", r.addr)),
            );
        }
        if !unknown_targets.is_empty() {
            return Err(PlanError::Invalid {
                count: unknown_targets.len(),
                errors: unknown_targets,
            });
        }

        // Only `--target` needs the graph of the state: it is not built for every plan.
        let scope: Option<BTreeSet<Address>> = if options.targets.is_empty() {
            None
        } else if options.destroy {
            Some(state_graph(state).closure_of_dependents(&options.targets))
        } else {
            let mut s = graph.closure_of_dependencies(&options.targets);
            // A targeted resource that only the state knows is deleted, and its dependents with it.
            let state_only: Vec<Address> = options
                .targets
                .iter()
                .filter(|t| !graph.contains(t))
                .cloned()
                .collect();
            s.extend(state_graph(state).closure_of_dependents(&state_only));
            Some(s)
        };
        Ok(Scoped { order, scope })
    }

    /// The moves this plan makes (none for a destroy: what is destroyed need not move first).
    fn moves(
        &self,
        desired: &[DesiredResource],
        state: &State,
        options: &PlanOptions,
    ) -> Result<Vec<Move>, PlanError> {
        if options.destroy {
            return Ok(Vec::new());
        }
        let claimed: BTreeSet<Address> = options
            .imports
            .keys()
            .cloned()
            .chain(
                desired
                    .iter()
                    .filter(|r| r.existing.is_some())
                    .map(|r| r.addr.clone()),
            )
            .collect();
        moves::plan_moves(desired, &self.order, state, &options.moves, &claimed).map_err(|errors| {
            PlanError::Invalid {
                count: errors.len(),
                errors,
            }
        })
    }

    fn finish(
        self,
        desired: &[DesiredResource],
        outputs: &[OutputSpec],
        state: &State,
        compared: Compared,
        schemas: &HashMap<String, ResourceSchema>,
        options: &PlanOptions,
    ) -> Result<Plan, PlanError> {
        let Scoped { order, scope } = self;
        let Compared {
            refreshed,
            taken,
            moves,
        } = compared;
        let mut mismatches: Vec<String> = Vec::new();
        let in_scope = |a: &Address| scope.as_ref().is_none_or(|s| s.contains(a));
        let desired_by_addr: BTreeMap<&Address, &DesiredResource> =
            desired.iter().map(|r| (&r.addr, r)).collect();

        // Without refresh the state is compared with itself: nothing can have drifted.
        let drift = if options.refresh {
            detect_drift(state, &refreshed, &desired_by_addr, schemas)
        } else {
            Vec::new()
        };

        // Collected in the order they are planned and sorted by address once at the end (a map
        // of them, then a vector made from it, held every change twice).
        let mut changes: Vec<ResourceChange> = Vec::with_capacity(desired.len());
        let mut planned: BTreeSet<&Address> = BTreeSet::new();
        let replace_requested: BTreeSet<&Address> = options.replace.iter().collect();

        if !options.destroy {
            // Values each resource will have after apply, as far as they are known now (shared
            // with the changes).
            let mut known: HashMap<&Address, Arc<Attrs>> = HashMap::new();
            for addr in order {
                let Some(r) = desired_by_addr.get(&addr) else {
                    continue;
                };
                let Some(schema) = schemas.get(&addr.kind) else {
                    continue;
                };
                let taken_here = taken.get(&addr);
                let prior = match taken_here {
                    Some((_, held)) => Some(Arc::new(with_unheld(held, r, &known))),
                    None => refreshed.get(&addr).cloned().flatten(),
                };
                let tainted = state.resources.get(&addr).is_some_and(|s| s.tainted);
                let mut change = if in_scope(&addr) {
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
                change.moved_from = moves.iter().find(|m| m.to == addr).map(|m| m.from.clone());
                if let Some(id) = &r.existing {
                    let lookup = |a: &Address| known.get(a).map(|v| v.as_ref());
                    let resolved = |name: &str| r.attrs.get(name).and_then(|e| e.resolve(&lookup));
                    as_existing(
                        &mut change,
                        id,
                        state.resources.contains_key(&addr),
                        &resolved,
                        &mut mismatches,
                    );
                } else if let Some((id, _)) = taken_here {
                    change.importing = Some(id.clone());
                }
                known.insert(&r.addr, Arc::clone(&change.after));
                planned.insert(&r.addr);
                changes.push(change);
            }
        }
        for (addr, recorded) in &state.resources {
            if planned.contains(addr) || !in_scope(addr) {
                continue;
            }
            let before = refreshed.get(addr).cloned().flatten();
            // Gone already: nothing to delete, but the state entry is dropped at apply. An
            // existing object that is used, not owned, is only ever forgotten.
            let action = if recorded.existing {
                Action::Forget
            } else if before.is_some() {
                Action::Delete
            } else {
                Action::NoOp
            };
            changes.push(ResourceChange {
                address: addr.clone(),
                action,
                before,
                after: Arc::default(),
                after_unknown: Vec::new(),
                replace_because: Vec::new(),
                replace_reason: None,
                desired: BTreeMap::new(),
                dependencies: recorded.dependencies.clone(),
                protect: recorded.protect,
                sensitive: Vec::new(),
                importing: None,
                moved_from: None,
                existing: None,
            });
        }
        if !mismatches.is_empty() {
            return Err(PlanError::ExistingMismatch(mismatches));
        }
        // Addresses are unique (`planned`), so an unstable sort is just as deterministic.
        changes.sort_unstable_by(|a, b| a.address.cmp(&b.address));

        let protected: Vec<(Address, &'static str)> = changes
            .iter()
            .filter_map(|c| match c.action {
                Action::Delete => Some((c, "destroy")),
                Action::Replace => Some((c, "replace")),
                _ => None,
            })
            // The configuration's flag wins; the recorded one protects what the file no longer names.
            .filter(|(c, _)| match desired_by_addr.get(&c.address) {
                Some(d) => d.protect,
                None => state.resources.get(&c.address).is_some_and(|r| r.protect),
            })
            .map(|(c, act)| (c.address.clone(), act))
            .collect();
        if !protected.is_empty() {
            return Err(PlanError::Protected(protected));
        }

        Ok(Plan {
            format_version: format_version(&changes),
            lineage: state.lineage.clone(),
            serial: state.serial,
            destroy: options.destroy,
            refreshed: options.refresh,
            changes,
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
    use matihnet_core::{ErrorKind, ResourceSchema};
    use matihnet_state::ResourceState;

    #[test]
    fn a_no_op_holds_one_copy_of_its_values() {
        // A large no-change plan must not hold the values twice: `after` is `before`, shared.
        let schemas: HashMap<String, ResourceSchema> = [ResourceSchema::new("dns_zone")
            .required_force_new("name")
            .computed("id")]
        .into_iter()
        .map(|s| (s.type_name.clone(), s))
        .collect();
        let addr = Address::new("dns_zone", "a");
        let mut state = State::new();
        state.resources.insert(
            addr.clone(),
            ResourceState {
                attributes: Attrs::from([
                    ("name".to_string(), Value::from("a.test")),
                    ("id".to_string(), Value::from("z-1")),
                ]),
                dependencies: Vec::new(),
                tainted: false,
                protect: false,
                existing: false,
            },
        );
        let desired = [DesiredResource::new(addr.clone()).attr("name", "a.test")];
        let p = plan_recorded(&desired, &[], &state, &schemas).unwrap();
        let c = p.change(&addr).unwrap();
        assert_eq!(c.action, Action::NoOp);
        let before = c.before.as_ref().unwrap();
        assert!(Arc::ptr_eq(before, &c.after));
        assert_eq!(**before, state.resources[&addr].attributes);
        // The JSON is the plain maps, as it was before they were shared.
        let json = serde_json::to_value(c).unwrap();
        assert_eq!(json["before"], json["after"]);
        assert_eq!(json["after"]["id"], "z-1");
    }

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
