//! The executor: walks a plan's operations in dependency order with bounded parallelism,
//! records every finished resource in the state as it finishes, and stops cleanly on the first
//! error or on cancellation (in-flight calls finish; what has not started is skipped).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use matihnet_core::{Address, Attrs, OperationContext, Provider, ProviderError, Value};
use matihnet_state::{Backend, OutputValue, ResourceState, State, StateError};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::events::{Event, Observer, OpKind};
use crate::plan::{Action, Plan};

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub parallelism: usize,
    /// How often a long operation reports that it is still running.
    pub still_running_every: Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            parallelism: 10,
            still_running_every: Duration::from_secs(10),
        }
    }
}

#[derive(Debug)]
pub struct OpFailure {
    pub address: Address,
    pub kind: OpKind,
    pub error: ProviderError,
}

#[derive(Debug)]
pub struct ApplyOutcome {
    pub state: State,
    pub failures: Vec<OpFailure>,
    /// Operations never started because of an earlier error or a cancellation.
    pub skipped: Vec<(Address, OpKind)>,
    pub cancelled: bool,
    pub imported: usize,
    pub added: usize,
    pub changed: usize,
    pub destroyed: usize,
}

impl ApplyOutcome {
    pub fn succeeded(&self) -> bool {
        self.failures.is_empty() && !self.cancelled && self.skipped.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("saving the state failed: {0}. The objects created so far carry matihnet's tags and are adopted by the next apply")]
    StateWrite(#[source] StateError),
    #[error("the plan moves a state entry that cannot move ({0}); make a new plan")]
    Move(#[source] matihnet_state::MoveError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct OpId {
    addr_index: usize,
    kind: OpKind,
}

/// What one operation ends with: the attributes to record (`None`: deleted), or the error and
/// whatever the provider says exists despite it.
type OpResult = Result<Option<Attrs>, (ProviderError, Option<Attrs>)>;

struct Op {
    address: Address,
    kind: OpKind,
    /// Operations that must finish first.
    after: BTreeSet<OpId>,
}

/// Builds the operations: creates and updates after their dependencies, deletes before the
/// deletes of what they depend on, and each replacement as a delete followed by a create.
fn operations(plan: &Plan, state: &State) -> BTreeMap<OpId, Op> {
    let index: BTreeMap<&Address, usize> = plan
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| (&c.address, i))
        .collect();
    let mut ops: BTreeMap<OpId, Op> = BTreeMap::new();
    let mut add = |i: usize, kind: OpKind| {
        ops.insert(
            OpId {
                addr_index: i,
                kind,
            },
            Op {
                address: plan.changes[i].address.clone(),
                kind,
                after: BTreeSet::new(),
            },
        );
    };
    for (i, c) in plan.changes.iter().enumerate() {
        if c.importing.is_some() {
            add(i, OpKind::Import);
        }
        match c.action {
            // Forgetting touches only the state: done before the first cloud call.
            Action::NoOp | Action::Forget => {}
            Action::Read => add(i, OpKind::Read),
            Action::Create => add(i, OpKind::Create),
            Action::Update => add(i, OpKind::Update),
            Action::Delete => add(i, OpKind::Delete),
            Action::Replace => {
                add(i, OpKind::Delete);
                add(i, OpKind::Create);
            }
        }
    }
    let has = |ops: &BTreeMap<OpId, Op>, i: usize, kind: OpKind| {
        ops.contains_key(&OpId {
            addr_index: i,
            kind,
        })
    };
    let mut edges: Vec<(OpId, OpId)> = Vec::new();
    let op = |addr_index: usize, kind: OpKind| OpId { addr_index, kind };
    for (i, c) in plan.changes.iter().enumerate() {
        // An imported object is taken over before it is changed (or replaced).
        if has(&ops, i, OpKind::Import) {
            for kind in [OpKind::Update, OpKind::Delete] {
                if has(&ops, i, kind) {
                    edges.push((op(i, kind), op(i, OpKind::Import)));
                }
            }
        }
        for kind in [OpKind::Create, OpKind::Update] {
            if !has(&ops, i, kind) {
                continue;
            }
            for d in &c.dependencies {
                let Some(&j) = index.get(d) else { continue };
                for dk in [OpKind::Create, OpKind::Update, OpKind::Import, OpKind::Read] {
                    if has(&ops, j, dk) {
                        edges.push((
                            OpId {
                                addr_index: i,
                                kind,
                            },
                            OpId {
                                addr_index: j,
                                kind: dk,
                            },
                        ));
                    }
                }
            }
        }
        if has(&ops, i, OpKind::Delete) && has(&ops, i, OpKind::Create) {
            edges.push((
                OpId {
                    addr_index: i,
                    kind: OpKind::Create,
                },
                OpId {
                    addr_index: i,
                    kind: OpKind::Delete,
                },
            ));
        }
        // Deleting X waits for the deletion of everything that depended on X, by what the state
        // recorded (the configuration may have forgotten it) and by what the plan says.
        if has(&ops, i, OpKind::Delete) {
            let recorded = state
                .resources
                .get(&c.address)
                .map(|r| r.dependencies.clone())
                .unwrap_or_default();
            for d in recorded.iter().chain(&c.dependencies) {
                let Some(&j) = index.get(d) else { continue };
                if has(&ops, j, OpKind::Delete) {
                    edges.push((
                        OpId {
                            addr_index: j,
                            kind: OpKind::Delete,
                        },
                        OpId {
                            addr_index: i,
                            kind: OpKind::Delete,
                        },
                    ));
                }
            }
        }
    }
    for (from, to) in edges {
        if from != to {
            if let Some(op) = ops.get_mut(&from) {
                op.after.insert(to);
            }
        }
    }
    ops
}

/// The state, shared between the executor and the task that saves it.
struct Recorder {
    state: Mutex<Recorded>,
    dirty: watch::Sender<u64>,
    observer: Arc<dyn Observer>,
}

/// The state and the "complete" events waiting for a write that includes their change: a
/// resource is announced as complete only once the state on disk records it, so what the
/// terminal shows as finished is never more than what a crash would keep.
///
/// The state is never copied for a write: `base` is what the last write was handed, shared with
/// it while it serialises, and what finishes meanwhile waits in `changes` until the next write
/// folds it in (moved, not copied). A copy of the whole state per coalesced write was a large
/// part of a 50,000-resource apply's peak memory.
struct Recorded {
    /// The state as of the last write taken; changed only when no write holds it.
    base: Arc<State>,
    /// Resources recorded since `base` was taken (`None`: removed).
    changes: BTreeMap<Address, Option<ResourceState>>,
    /// Bumped on every change; a write of the state taken at generation `g` saves every change
    /// up to `g`.
    generation: u64,
    unsaved: Vec<(u64, Event)>,
}

impl Recorded {
    /// A resource as recorded now: what changed since the last write, else what it holds.
    fn resource(&self, addr: &Address) -> Option<&ResourceState> {
        match self.changes.get(addr) {
            Some(changed) => changed.as_ref(),
            None => self.base.resources.get(addr),
        }
    }
}

impl Recorder {
    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Records `resource` at `addr` (`None`: removes it), and emits `event` once a state write
    /// that includes it has finished.
    fn record(&self, addr: Address, resource: Option<ResourceState>, event: Option<Event>) {
        let mut r = self.lock();
        r.changes.insert(addr, resource);
        r.generation += 1;
        if let Some(event) = event {
            let generation = r.generation;
            r.unsaved.push((generation, event));
        }
        drop(r);
        self.dirty.send_modify(|v| *v += 1);
    }

    /// The state to write next (the changes folded in, then `finish`, its serial bumped) and the
    /// generation it includes. The write shares it; only one write is taken at a time.
    fn next_write(&self, finish: impl FnOnce(&mut State)) -> (Arc<State>, u64) {
        let mut guard = self.lock();
        let r = &mut *guard;
        // The previous write has dropped its reference, so this copies nothing (if one were
        // still held it would copy rather than change what is being written).
        let state = Arc::make_mut(&mut r.base);
        for (addr, changed) in std::mem::take(&mut r.changes) {
            match changed {
                Some(resource) => {
                    state.resources.insert(addr, resource);
                }
                None => {
                    state.resources.remove(&addr);
                }
            }
        }
        finish(state);
        state.serial += 1;
        (Arc::clone(&r.base), r.generation)
    }

    /// A write of the state at `generation` finished: announce what it made durable.
    fn saved(&self, generation: u64) {
        let ready: Vec<Event> = {
            let mut r = self.lock();
            let (ready, later): (Vec<_>, Vec<_>) =
                r.unsaved.drain(..).partition(|(g, _)| *g <= generation);
            r.unsaved = later;
            ready.into_iter().map(|(_, e)| e).collect()
        };
        for e in &ready {
            self.observer.on_event(e);
        }
    }
}

/// Saves the state whenever it changed, coalescing changes that arrive during a write, so that
/// a large apply does not write the whole file once per resource.
async fn save_loop(
    recorder: Arc<Recorder>,
    backend: Arc<dyn Backend>,
    mut dirty: watch::Receiver<u64>,
    stop: CancellationToken,
) -> Result<(), StateError> {
    loop {
        tokio::select! {
            changed = dirty.changed() => {
                if changed.is_err() { return Ok(()); }
            }
            _ = stop.cancelled() => return Ok(()),
        }
        dirty.borrow_and_update();
        let started = Instant::now();
        let (shared, generation) = recorder.next_write(|_| {});
        backend.write(&shared).await?;
        // Released before the next write is taken, so that one folds in place.
        drop(shared);
        recorder.saved(generation);
        // Large states take long to write: rest as long as the write took, so that saving uses
        // at most half the time and the executor keeps the CPU. The final save is not delayed.
        tokio::select! {
            _ = tokio::time::sleep(started.elapsed()) => {}
            _ = stop.cancelled() => return Ok(()),
        }
    }
}

pub struct Executor {
    pub provider: Arc<dyn Provider>,
    pub backend: Arc<dyn Backend>,
    pub observer: Arc<dyn Observer>,
    pub environment: String,
    pub options: ApplyOptions,
}

impl Executor {
    /// Applies `plan` to `state` (the one the plan was made against) and saves as it goes.
    pub async fn apply(
        &self,
        plan: &Plan,
        mut state: State,
        cancel: CancellationToken,
    ) -> Result<ApplyOutcome, ApplyError> {
        // The plan was made against the state with its moves made and its forgotten objects
        // dropped: both touch only the state, and are saved before any cloud call.
        for c in &plan.changes {
            if let Some(from) = &c.moved_from {
                state
                    .move_resource(from, &c.address)
                    .map_err(ApplyError::Move)?;
            }
            if c.action == Action::Forget {
                state.resources.remove(&c.address);
            }
        }
        let ops = operations(plan, &state);

        // What the refresh found becomes the recorded truth, before anything changes.
        for c in &plan.changes {
            if let Some(r) = state.resources.get_mut(&c.address) {
                // The file is the truth for flags and ordering, even where nothing else changes.
                r.protect = c.protect;
                if c.action == Action::NoOp && !c.desired.is_empty() {
                    r.dependencies = c.dependencies.clone();
                }
                match &c.before {
                    // Usually the very values recorded (no refresh, or nothing drifted): compare
                    // rather than copy every resource.
                    Some(before) => {
                        if r.attributes != **before {
                            r.attributes = Attrs::clone(before);
                        }
                    }
                    None => {
                        state.resources.remove(&c.address);
                    }
                }
            }
        }

        // Saved before the first cloud call: a brand-new state's lineage must be on disk before
        // any object is tagged with it, or a crash would leave objects nobody can adopt.
        state.serial += 1;
        self.backend
            .write(&state)
            .await
            .map_err(ApplyError::StateWrite)?;

        // Objects are tagged with the lineage of the state they are recorded in.
        let lineage = state.lineage.clone();
        let (tx, rx) = watch::channel(0u64);
        let recorder = Arc::new(Recorder {
            state: Mutex::new(Recorded {
                base: Arc::new(state),
                changes: BTreeMap::new(),
                generation: 0,
                unsaved: Vec::new(),
            }),
            dirty: tx,
            observer: Arc::clone(&self.observer),
        });
        let stop_saving = CancellationToken::new();
        let saver = tokio::spawn(save_loop(
            Arc::clone(&recorder),
            Arc::clone(&self.backend),
            rx,
            stop_saving.clone(),
        ));

        let mut outcome = self.run(plan, ops, &recorder, &cancel, &lineage).await;

        // The final save, with the outputs: always, whatever happened above. The saver finishes
        // a write it has started, and stops.
        stop_saving.cancel();
        let save_result = match saver.await {
            Ok(r) => r,
            Err(join) => Err(StateError::Io {
                location: self.backend.describe(),
                source: std::io::Error::other(join.to_string()),
            }),
        };
        let (final_state, generation) =
            recorder.next_write(|s| s.outputs = compute_outputs(plan, s));
        self.backend
            .write(&final_state)
            .await
            .map_err(ApplyError::StateWrite)?;
        recorder.saved(generation);
        save_result.map_err(ApplyError::StateWrite)?;
        // With the recorder gone `final_state` is the only reference: taking it copies nothing.
        drop(recorder);
        outcome.state = Arc::unwrap_or_clone(final_state);
        Ok(outcome)
    }

    async fn run(
        &self,
        plan: &Plan,
        ops: BTreeMap<OpId, Op>,
        recorder: &Arc<Recorder>,
        cancel: &CancellationToken,
        lineage: &str,
    ) -> ApplyOutcome {
        let mut waiting_on: BTreeMap<OpId, usize> =
            ops.iter().map(|(id, op)| (*id, op.after.len())).collect();
        let mut dependents: BTreeMap<OpId, Vec<OpId>> = BTreeMap::new();
        for (id, op) in &ops {
            for before in &op.after {
                dependents.entry(*before).or_default().push(*id);
            }
        }
        let mut ready: BTreeSet<OpId> = waiting_on
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(id, _)| *id)
            .collect();
        let mut done: BTreeSet<OpId> = BTreeSet::new();
        let mut running: JoinSet<(OpId, OpResult, Duration)> = JoinSet::new();
        let mut outcome = ApplyOutcome {
            state: State::new(),
            failures: Vec::new(),
            skipped: Vec::new(),
            cancelled: false,
            imported: 0,
            added: 0,
            changed: 0,
            destroyed: 0,
        };
        let mut stopping = false;
        let parallelism = self.options.parallelism.max(1);

        loop {
            while !stopping && running.len() < parallelism {
                let Some(id) = ready.pop_first() else { break };
                let op = &ops[&id];
                let change = &plan.changes[id.addr_index];
                let snapshot_attrs = |s: &Recorded| -> Result<Attrs, ProviderError> {
                    let lookup = |a: &Address| s.resource(a).map(|r| &r.attributes);
                    let mut out = Attrs::new();
                    for (name, e) in &change.desired {
                        match e.resolve(&lookup) {
                            Some(v) => {
                                out.insert(name.clone(), v);
                            }
                            None => {
                                return Err(ProviderError::new(
                                    matihnet_core::ErrorKind::Other,
                                    format!("`{name}` refers to a value that is not known: a resource it depends on has no such attribute"),
                                ))
                            }
                        }
                    }
                    Ok(out)
                };
                let (desired, prior) = {
                    let r = recorder.lock();
                    let prior = r.resource(&op.address).map(|r| r.attributes.clone());
                    (snapshot_attrs(&r), prior)
                };
                // The file's values of what the cloud does not hold, for what is taken over.
                let unheld = if matches!(op.kind, OpKind::Import | OpKind::Read) {
                    let r = recorder.lock();
                    let lookup = |a: &Address| r.resource(a).map(|r| &r.attributes);
                    change
                        .desired
                        .iter()
                        .filter_map(|(k, e)| e.resolve(&lookup).map(|v| (k.clone(), v)))
                        .collect()
                } else {
                    Attrs::new()
                };
                let take_over_id = change
                    .importing
                    .clone()
                    .or_else(|| change.existing.clone())
                    .unwrap_or_default();
                let ctx = OperationContext {
                    addr: op.address.clone(),
                    environment: self.environment.clone(),
                    lineage: lineage.to_string(),
                };
                let provider = Arc::clone(&self.provider);
                let observer = Arc::clone(&self.observer);
                let every = self.options.still_running_every;
                let kind = op.kind;
                running.spawn(async move {
                    let started = Instant::now();
                    observer.on_event(&Event::Started {
                        address: ctx.addr.clone(),
                        kind,
                    });
                    let call = async {
                        match kind {
                            OpKind::Create => {
                                let desired = desired.map_err(|e| (e, None))?;
                                provider
                                    .create(&ctx, &desired)
                                    .await
                                    .map(Some)
                                    .map_err(|f| (f.error, f.partial))
                            }
                            OpKind::Update => {
                                let desired = desired.map_err(|e| (e, None))?;
                                let prior = prior.unwrap_or_default();
                                provider
                                    .update(&ctx, &prior, &desired)
                                    .await
                                    .map(Some)
                                    .map_err(|f| (f.error, f.partial))
                            }
                            OpKind::Delete => {
                                let prior = prior.unwrap_or_default();
                                provider
                                    .delete(&ctx, &prior)
                                    .await
                                    .map(|()| None)
                                    .map_err(|e| (e, None))
                            }
                            // Only an import marks the object as matihnet's; an existing object
                            // used, not owned, is left as its owner made it.
                            OpKind::Import | OpKind::Read => provider
                                .import(&ctx, &take_over_id, kind == OpKind::Import)
                                .await
                                .map(|held| Some(crate::plan::reconcile_held(held, unheld)))
                                .map_err(|e| (e, None)),
                        }
                    };
                    let reporter: matihnet_core::retry::RetryReporter = {
                        let observer = Arc::clone(&observer);
                        let address = ctx.addr.clone();
                        Arc::new(move |n: &matihnet_core::retry::RetryNotice| {
                            observer.on_event(&Event::Retrying {
                                address: address.clone(),
                                kind,
                                attempt: n.attempt,
                                max_attempts: n.max_attempts,
                                wait: n.wait,
                                reason: n.reason.clone(),
                            })
                        })
                    };
                    let call = matihnet_core::retry::reporting_retries(reporter, call);
                    tokio::pin!(call);
                    let mut ticker =
                        tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                    let result = loop {
                        tokio::select! {
                            r = &mut call => break r,
                            _ = ticker.tick() => observer.on_event(&Event::StillRunning {
                                address: ctx.addr.clone(),
                                kind,
                                elapsed: started.elapsed(),
                            }),
                        }
                    };
                    // Success is announced when the state records it (see `Recorder`).
                    if let Err((e, _)) = &result {
                        observer.on_event(&Event::Failed {
                            address: ctx.addr.clone(),
                            kind,
                            elapsed: started.elapsed(),
                            error: e.clone(),
                        });
                    }
                    (id, result, started.elapsed())
                });
            }
            if running.is_empty() {
                break;
            }
            let joined = tokio::select! {
                j = running.join_next() => j,
                _ = cancel.cancelled(), if !stopping => {
                    stopping = true;
                    outcome.cancelled = true;
                    self.observer.on_event(&Event::Cancelling { in_flight: running.len() });
                    continue;
                }
            };
            let Some(joined) = joined else { break };
            let (id, result, elapsed) = match joined {
                Ok(r) => r,
                Err(join) => {
                    // A panicking provider is a bug; stop scheduling and report it.
                    stopping = true;
                    outcome.failures.push(OpFailure {
                        address: Address::new("internal", "panic"),
                        kind: OpKind::Update,
                        error: ProviderError::new(
                            matihnet_core::ErrorKind::Other,
                            format!("internal error: a provider call panicked: {join}"),
                        ),
                    });
                    continue;
                }
            };
            let op = &ops[&id];
            let change = &plan.changes[id.addr_index];
            match result {
                Ok(attrs) => {
                    let addr = op.address.clone();
                    match op.kind {
                        OpKind::Create => outcome.added += 1,
                        OpKind::Update => outcome.changed += 1,
                        OpKind::Delete => outcome.destroyed += 1,
                        OpKind::Import => outcome.imported += 1,
                        OpKind::Read => {}
                    }
                    let finished = Event::Finished {
                        address: addr.clone(),
                        kind: op.kind,
                        elapsed,
                        id: attrs
                            .as_ref()
                            .and_then(|a| a.get("id"))
                            .and_then(Value::as_str)
                            .map(str::to_string),
                    };
                    let recorded = attrs.map(|attributes| ResourceState {
                        attributes,
                        dependencies: change.dependencies.clone(),
                        tainted: false,
                        protect: change.protect,
                        existing: change.existing.is_some(),
                    });
                    recorder.record(addr, recorded, Some(finished));
                    done.insert(id);
                    for d in dependents.get(&id).into_iter().flatten() {
                        if let Some(n) = waiting_on.get_mut(d) {
                            *n -= 1;
                            if *n == 0 {
                                ready.insert(*d);
                            }
                        }
                    }
                }
                Err((error, partial)) => {
                    stopping = true;
                    if let Some(attributes) = partial {
                        let recorded = ResourceState {
                            attributes,
                            dependencies: change.dependencies.clone(),
                            tainted: op.kind == OpKind::Create,
                            protect: change.protect,
                            existing: change.existing.is_some(),
                        };
                        recorder.record(op.address.clone(), Some(recorded), None);
                    }
                    outcome.failures.push(OpFailure {
                        address: op.address.clone(),
                        kind: op.kind,
                        error,
                    });
                    done.insert(id);
                }
            }
        }
        outcome.skipped = ops
            .iter()
            .filter(|(id, _)| !done.contains(id))
            .map(|(_, op)| (op.address.clone(), op.kind))
            .collect();
        outcome
    }
}

/// The outputs whose values are all known from the state.
pub fn compute_outputs(plan: &Plan, state: &State) -> BTreeMap<String, OutputValue> {
    let lookup = |a: &Address| state.resources.get(a).map(|r| &r.attributes);
    plan.outputs
        .iter()
        .filter_map(|o| {
            o.value.resolve(&lookup).map(|value| {
                (
                    o.name.clone(),
                    OutputValue {
                        value,
                        sensitive: o.sensitive,
                    },
                )
            })
        })
        .collect()
}
