//! `plan`, `apply` and `destroy`: open the environment, lock the state, plan, confirm, execute.

use std::io::{BufRead, IsTerminal};
use std::sync::Arc;

use anyhow::{bail, Context};
use matihnet_core::{Address, CallCounts, Provider};
use matihnet_engine::{
    check_fresh, plan, ApplyOptions, ApplyOutcome, Executor, Plan, PlanInput, PlanOptions,
};
use matihnet_state::{Backend, LockRequest, State, StateError};

use crate::cli::{ApplyArgs, DestroyArgs, ImportArgs, LockArgs, PlanArgs, RunArgs};
use crate::environment::EnvironmentFile;
use crate::progress::Progress;
use crate::signals::Interrupts;
use crate::terminal::{self, Terminal};
use crate::Exit;

/// The state backend, locked for one operation, unlocked by [`Locked::release`] (or, on an
/// interrupt, by the signal handler before it exits).
pub struct Locked {
    pub backend: Arc<dyn Backend>,
    id: String,
    interrupts: Interrupts,
}

impl Prepared {
    /// Saves the in-process emulators' objects one last time before the command returns.
    fn finish(&self) -> anyhow::Result<()> {
        if let Some(cloud) = &self.local_cloud {
            cloud.save()?;
        }
        Ok(())
    }

    /// The provider's API calls so far, and with `-v` (or `MATIHNET_LOG=calls`) a line saying
    /// them on stderr.
    fn report_calls(&self, run: &RunArgs, term: Terminal) -> CallCounts {
        let counts = self.provider.api_calls();
        if wants_calls(run) {
            term.err(&calls_line(
                self.provider.name(),
                &counts,
                self.desired.len(),
            ));
            let paced: Vec<String> = self
                .provider
                .pacing()
                .iter()
                .filter(|(_, r)| !r.waited.is_zero() || r.throttled > 0)
                .map(|(api, r)| {
                    format!(
                        "{api} waited {:.1} s in all, {} throttled",
                        r.waited.as_secs_f64(),
                        r.throttled
                    )
                })
                .collect();
            if !paced.is_empty() {
                term.err(&format!(
                    "Paced to rate limits ({}): {}",
                    self.provider.name(),
                    paced.join("; ")
                ));
            }
            if let Some(cloud) = &self.local_cloud {
                let served = cloud.requests_served();
                term.err(&calls_line(
                    "local cloud served",
                    &served,
                    self.desired.len(),
                ));
            }
        }
        counts
    }
}

fn wants_calls(run: &RunArgs) -> bool {
    run.verbose
        || std::env::var("MATIHNET_LOG")
            .is_ok_and(|v| v.split(',').any(|w| matches!(w.trim(), "calls" | "debug")))
}

/// `API calls (aws): 57 for 41 resources (1.39 per resource): ec2.CreateVpc 1, ...`
pub fn calls_line(who: &str, counts: &CallCounts, resources: usize) -> String {
    let total = matihnet_core::calls::total(counts);
    let per = if resources == 0 {
        0.0
    } else {
        total as f64 / resources as f64
    };
    let list: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!(
        "API calls ({who}): {total} for {resources} resources ({per:.2} per resource): {}",
        if list.is_empty() {
            "none".to_string()
        } else {
            list.join(", ")
        }
    )
}

impl Locked {
    /// Opens the backend and takes its lock. Nothing else is contacted before this succeeds
    /// and the state has been read, so a command that cannot keep its state safe touches no
    /// cloud.
    pub async fn take(
        env: &EnvironmentFile,
        operation: &str,
        lock: &LockArgs,
        local_cloud: bool,
        interrupts: &Interrupts,
    ) -> anyhow::Result<Locked> {
        let backend = env.backend(local_cloud).await?;
        let request = LockRequest {
            break_stale: lock.break_stale_lock,
            ..LockRequest::new(operation, lock.lock_timeout)
        };
        let id = backend.lock(request).await.map_err(|e| match e {
            StateError::Locked { .. } => anyhow::anyhow!(
                "{e}\n  hint: wait for it to finish, pass --lock-timeout 5m to wait longer, or, if that process is gone, run `matihnet force-unlock ID`"
            ),
            other => anyhow::Error::new(other),
        })?;
        interrupts.holding(Some((Arc::clone(&backend), id.clone())));
        Ok(Locked {
            backend,
            id,
            interrupts: interrupts.clone(),
        })
    }

    pub async fn release(self) -> anyhow::Result<()> {
        self.interrupts.holding(None);
        self.backend.unlock(&self.id).await?;
        Ok(())
    }

    pub async fn read_state(&self) -> anyhow::Result<Option<State>> {
        Ok(self.backend.read().await?)
    }
}

fn addresses(raw: &[String], flag: &str) -> anyhow::Result<Vec<Address>> {
    raw.iter()
        .map(|r| r.parse::<Address>().with_context(|| format!("{flag} {r}")))
        .collect()
}

struct Prepared {
    /// Kept alive for the whole command: the providers talk to it.
    local_cloud: Option<Arc<matihnet_localcloud::LocalCloud>>,
    environment: String,
    provider: Arc<dyn Provider>,
    desired: Vec<matihnet_core::DesiredResource>,
    outputs: Vec<matihnet_engine::OutputSpec>,
}

/// Starts the in-process emulators for `--local-cloud`, loading what earlier runs left.
pub async fn start_local_cloud(
    env: &EnvironmentFile,
) -> anyhow::Result<(Arc<matihnet_localcloud::LocalCloud>, String)> {
    let cloud = Arc::new(matihnet_localcloud::LocalCloud::persistent(
        matihnet_localcloud::Options::default(),
        env.local_cloud_path(),
    )?);
    let addr = Arc::clone(&cloud).serve("127.0.0.1:0").await?;
    Ok((cloud, format!("http://{addr}")))
}

async fn prepare(env: &EnvironmentFile, run: &RunArgs) -> anyhow::Result<Prepared> {
    let (local_cloud, endpoint) = if run.local_cloud {
        let (cloud, endpoint) = start_local_cloud(env).await?;
        (Some(cloud), Some(endpoint))
    } else {
        (None, None)
    };
    let (provider, desired) = env.provider(endpoint.as_deref()).await?;
    let outputs = matihnet_net::outputs(&desired);
    Ok(Prepared {
        local_cloud,
        environment: env.name().to_string(),
        provider,
        desired,
        outputs,
    })
}

async fn make_plan(
    env: &EnvironmentFile,
    prepared: &Prepared,
    state: &State,
    run: &RunArgs,
    replace: &[String],
    destroy: bool,
) -> anyhow::Result<Plan> {
    let options = PlanOptions {
        refresh: run.refresh,
        targets: addresses(&run.targets, "--target")?,
        replace: addresses(replace, "--replace")?,
        parallelism: run.parallelism as usize,
        destroy,
        imports: env
            .loaded
            .env
            .imports
            .iter()
            .map(|i| (i.to.clone(), i.id.clone()))
            .collect(),
        moves: env
            .loaded
            .env
            .moves
            .iter()
            .map(|m| (m.from.clone(), m.to.clone()))
            .collect(),
    };
    let p = plan(
        PlanInput {
            desired: &prepared.desired,
            outputs: &prepared.outputs,
            state,
            provider: prepared.provider.as_ref(),
            environment: env.name(),
        },
        &options,
    )
    .await?;
    Ok(p)
}

/// Warns about each existing zone whose delegation does not point at its name servers (see
/// `delegation`). A resolver that cannot be asked is a note, never a failure of the plan.
async fn check_delegations(env: &EnvironmentFile, run: &RunArgs, p: &Plan, term: Terminal) {
    let zones: Vec<(String, Vec<String>)> = p
        .changes
        .iter()
        .filter(|c| c.existing.is_some() && c.address.kind == "dns_zone")
        .filter_map(|c| {
            let name = c.after.get("name")?.as_str()?.to_string();
            let servers = match c.after.get("name_servers")? {
                matihnet_core::Value::List(items) => items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            };
            Some((name, servers))
        })
        .collect();
    if zones.is_empty() {
        return;
    }
    let emulated = run.local_cloud || env.emulated();
    let resolver = match crate::delegation::resolver(|k| std::env::var(k).ok(), emulated) {
        Ok(Some(r)) => r,
        Ok(None) => return,
        Err(e) => {
            term.err(&format!(
                "note: the delegation of existing zones was not checked: {e}"
            ));
            return;
        }
    };
    for (zone, own) in zones {
        let asked = {
            let zone = zone.clone();
            tokio::task::spawn_blocking(move || crate::delegation::name_servers(resolver, &zone))
                .await
        };
        match asked {
            Ok(Ok(delegated)) => {
                if let Some(w) = crate::delegation::check(&zone, &own, &delegated) {
                    term.err(&format!(
                        "{}: {w}",
                        terminal::paint(term.colour, "1;33", "warning")
                    ));
                }
            }
            Ok(Err(e)) => term.err(&format!(
                "note: the delegation of {zone} was not checked: {e}"
            )),
            Err(e) => term.err(&format!(
                "note: the delegation of {zone} was not checked: {e}"
            )),
        }
    }
}

pub async fn plan_command(
    env: &EnvironmentFile,
    args: &PlanArgs,
    interrupts: &Interrupts,
    term: Terminal,
) -> anyhow::Result<Exit> {
    let run = &args.run;
    let locked = Locked::take(env, "plan", &run.lock, run.local_cloud, interrupts).await?;
    let result = async {
        let state = locked.read_state().await?.unwrap_or_default();
        let prepared = prepare(env, run).await?;
        let p = make_plan(env, &prepared, &state, run, &args.replace, args.destroy).await;
        prepared.finish()?;
        let calls = prepared.report_calls(run, term);
        p.map(|p| (p, calls))
    }
    .await;
    locked.release().await?;
    let (p, calls) = result?;
    check_delegations(env, run, &p, term).await;
    if args.json {
        // The calls the plan cost ride beside the plan's own fields (docs/plan-json.md).
        let mut v = serde_json::to_value(&p)?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("api_calls".into(), serde_json::to_value(&calls)?);
        }
        term.line(&serde_json::to_string_pretty(&v)?);
    } else {
        term.out(&terminal::render_plan(&p, term.colour));
    }
    if let Some(out) = &args.out {
        matihnet_engine::plan_file::write(out, &p)?;
        if !args.json {
            term.line(&format!(
                "\nSaved the plan to {}. To make exactly these changes, run:\n    matihnet apply {}",
                out.display(),
                out.display()
            ));
        }
    }
    Ok(if args.detailed_exitcode && p.has_changes() {
        Exit::Changes
    } else {
        Exit::Success
    })
}

/// Asks for `yes` on a terminal; refuses without one.
fn confirm(question: &str, term: Terminal) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "refusing to {question} without confirmation: standard input is not a terminal.\n  hint: pass --auto-approve, or save a plan with `matihnet plan -o FILE` and run `matihnet apply FILE`"
        );
    }
    term.out(&format!(
        "\nDo you want to {question}?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    ));
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

async fn execute(
    prepared: &Prepared,
    locked: &Locked,
    p: &Plan,
    state: State,
    run: &RunArgs,
    interrupts: &Interrupts,
    term: Terminal,
) -> anyhow::Result<ApplyOutcome> {
    let executor = Executor {
        provider: Arc::clone(&prepared.provider),
        backend: locked.backend.clone(),
        observer: Arc::new(Progress { term }),
        environment: prepared.environment.clone(),
        options: ApplyOptions {
            parallelism: run.parallelism as usize,
            still_running_every: run.progress_interval,
        },
    };
    interrupts.set_applying(true);
    let outcome = executor.apply(p, state, interrupts.cancel.clone()).await;
    interrupts.set_applying(false);
    Ok(outcome?)
}

fn report(outcome: &ApplyOutcome, destroy: bool, term: Terminal) -> Exit {
    let c = term.colour;
    if !outcome.failures.is_empty() {
        term.err("");
        for f in &outcome.failures {
            term.err(&format!(
                "{}: {}: {} failed: {}",
                terminal::paint(c, "1;31", "error"),
                f.address,
                f.kind.progressive(),
                f.error
            ));
        }
    }
    if !outcome.skipped.is_empty() {
        term.err(&format!(
            "{} operation(s) were not started: {}",
            outcome.skipped.len(),
            outcome
                .skipped
                .iter()
                .map(|(a, _)| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let imported = if outcome.imported > 0 {
        format!("{} imported, ", outcome.imported)
    } else {
        String::new()
    };
    let counts = format!(
        "{imported}{} added, {} changed, {} destroyed",
        outcome.added, outcome.changed, outcome.destroyed
    );
    if outcome.succeeded() {
        let what = if destroy {
            "Destroy complete!"
        } else {
            "Apply complete!"
        };
        term.line(&format!(
            "\n{} Resources: {counts}.",
            terminal::paint(c, "1;32", what)
        ));
        if !destroy && !outcome.state.outputs.is_empty() {
            term.line("\nOutputs:\n");
            for (k, o) in &outcome.state.outputs {
                let v = if o.sensitive {
                    "(sensitive value)".to_string()
                } else {
                    o.value.to_string()
                };
                term.line(&format!("{k} = {v}"));
            }
        }
        Exit::Success
    } else {
        let why = if outcome.cancelled {
            "interrupted"
        } else {
            "failed"
        };
        term.err(&format!(
            "\nApply {why}. Resources: {counts}. The state records everything that finished; run apply again to continue."
        ));
        Exit::Error
    }
}

/// `matihnet import ADDRESS ID`: takes the object over into the state now, then shows what a
/// plan would change to make it match the file.
pub async fn import_command(
    env: &EnvironmentFile,
    args: &ImportArgs,
    interrupts: &Interrupts,
    term: Terminal,
) -> anyhow::Result<Exit> {
    let run = &args.run;
    let addr: Address = args.address.parse().map_err(|e| {
        anyhow::anyhow!("{e}\n  hint: write the address as kind.name, such as dns_zone.platform (`matihnet plan` lists the file's addresses)")
    })?;
    let locked = Locked::take(env, "import", &run.lock, run.local_cloud, interrupts).await?;
    let result = async {
        let prepared = prepare(env, run).await?;
        let imported = async {
            let mut state = match locked.read_state().await? {
                Some(s) => s,
                None => {
                    // The lineage the object is marked with must be on disk first.
                    let s = State::new();
                    locked.backend.write(&s).await?;
                    s
                }
            };
            let input = PlanInput {
                desired: &prepared.desired,
                outputs: &prepared.outputs,
                state: &state,
                provider: prepared.provider.as_ref(),
                environment: env.name(),
            };
            let entry = matihnet_engine::import_now(&input, &addr, &args.id).await?;
            state.resources.insert(addr.clone(), entry);
            state.serial += 1;
            locked.backend.write(&state).await?;
            term.line(&format!(
                "{} {addr} imported from {} and marked as this environment's.\n",
                terminal::paint(term.colour, "1;32", "Import successful!"),
                args.id
            ));
            let p = make_plan(env, &prepared, &state, run, &[], false).await?;
            term.out(&terminal::render_plan(&p, term.colour));
            anyhow::Ok(())
        }
        .await;
        prepared.finish()?;
        prepared.report_calls(run, term);
        imported
    }
    .await;
    locked.release().await?;
    result.map(|()| Exit::Success)
}

pub async fn apply_command(
    env: &EnvironmentFile,
    args: &ApplyArgs,
    interrupts: &Interrupts,
    term: Terminal,
) -> anyhow::Result<Exit> {
    let run = &args.run;
    let locked = Locked::take(env, "apply", &run.lock, run.local_cloud, interrupts).await?;
    if args.json && !args.auto_approve && args.plan_file.is_none() {
        bail!("apply --json cannot ask for confirmation.\n  hint: add --auto-approve, or apply a plan saved with `matihnet plan -o FILE`");
    }
    let result = async {
        let existing = locked.read_state().await?;
        let prepared = prepare(env, run).await?;
        let applied = apply_locked(env, &prepared, &locked, existing, args, interrupts, term).await;
        prepared.finish()?;
        applied
    }
    .await;
    locked.release().await?;
    result
}

async fn apply_locked(
    env: &EnvironmentFile,
    prepared: &Prepared,
    locked: &Locked,
    existing: Option<State>,
    args: &ApplyArgs,
    interrupts: &Interrupts,
    out: Terminal,
) -> anyhow::Result<Exit> {
    let term = if args.json { out.diverted() } else { out };
    let had_state = existing.is_some();
    let (p, state) = match &args.plan_file {
        Some(file) => {
            let p = matihnet_engine::plan_file::read(file)?;
            let state = existing.unwrap_or_else(|| State {
                lineage: p.lineage.clone(),
                ..State::new()
            });
            check_fresh(&p, &state)?;
            (p, state)
        }
        None => {
            let state = existing.unwrap_or_default();
            let p = make_plan(env, prepared, &state, &args.run, &args.replace, false).await?;
            term.out(&terminal::render_plan(&p, term.colour));
            check_delegations(env, &args.run, &p, term).await;
            if p.has_changes() && !args.auto_approve && !confirm("perform these actions", term)? {
                term.err("Apply cancelled.");
                return Ok(Exit::Error);
            }
            (p, state)
        }
    };
    if !p.has_changes() && !had_state {
        let calls = prepared.report_calls(&args.run, term);
        if args.json {
            out.line(&outcome_json(None, &calls)?);
        }
        return Ok(Exit::Success);
    }
    let outcome = execute(prepared, locked, &p, state, &args.run, interrupts, term).await?;
    let exit = report(&outcome, p.destroy, term);
    let calls = prepared.report_calls(&args.run, term);
    if args.json {
        out.line(&outcome_json(Some(&outcome), &calls)?);
    }
    Ok(exit)
}

/// The `--json` outcome of apply and destroy: counts, failures, what was not started, the
/// outputs and the API calls.
fn outcome_json(outcome: Option<&ApplyOutcome>, calls: &CallCounts) -> anyhow::Result<String> {
    let v = match outcome {
        None => serde_json::json!({
            "format_version": "1",
            "result": "no_changes",
            "imported": 0, "added": 0, "changed": 0, "destroyed": 0,
            "failures": [], "not_started": [],
            "api_calls": calls,
        }),
        Some(o) => {
            let result = if o.succeeded() {
                "applied"
            } else if o.cancelled {
                "interrupted"
            } else {
                "failed"
            };
            let failures: Vec<serde_json::Value> = o
                .failures
                .iter()
                .map(|f| {
                    serde_json::json!({
                        "address": f.address.to_string(),
                        "operation": f.kind.progressive(),
                        "error": f.error.to_string(),
                    })
                })
                .collect();
            let not_started: Vec<String> = o.skipped.iter().map(|(a, _)| a.to_string()).collect();
            let outputs: serde_json::Map<String, serde_json::Value> = o
                .state
                .outputs
                .iter()
                .map(|(k, out)| {
                    let value = if out.sensitive {
                        serde_json::Value::Null
                    } else {
                        serde_json::to_value(&out.value).unwrap_or(serde_json::Value::Null)
                    };
                    (
                        k.clone(),
                        serde_json::json!({"sensitive": out.sensitive, "value": value}),
                    )
                })
                .collect();
            serde_json::json!({
                "format_version": "1",
                "result": result,
                "imported": o.imported,
                "added": o.added, "changed": o.changed, "destroyed": o.destroyed,
                "failures": failures, "not_started": not_started,
                "outputs": outputs,
                "api_calls": calls,
            })
        }
    };
    Ok(serde_json::to_string_pretty(&v)?)
}

pub async fn destroy_command(
    env: &EnvironmentFile,
    args: &DestroyArgs,
    interrupts: &Interrupts,
    term: Terminal,
) -> anyhow::Result<Exit> {
    let run = &args.run;
    if args.json && !args.auto_approve {
        bail!("destroy --json cannot ask for confirmation.\n  hint: add --auto-approve");
    }
    let locked = Locked::take(env, "destroy", &run.lock, run.local_cloud, interrupts).await?;
    let result = async {
        let Some(state) = locked.read_state().await? else {
            if args.json {
                term.line(&outcome_json(None, &CallCounts::new())?);
            } else {
                term.line("Nothing to destroy: there is no state yet.");
            }
            return Ok(Exit::Success);
        };
        let prepared = prepare(env, run).await?;
        let destroyed =
            destroy_locked(env, &prepared, &locked, state, args, interrupts, term).await;
        prepared.finish()?;
        destroyed
    }
    .await;
    locked.release().await?;
    result
}

async fn destroy_locked(
    env: &EnvironmentFile,
    prepared: &Prepared,
    locked: &Locked,
    state: State,
    args: &DestroyArgs,
    interrupts: &Interrupts,
    out: Terminal,
) -> anyhow::Result<Exit> {
    let term = if args.json { out.diverted() } else { out };
    let p = make_plan(env, prepared, &state, &args.run, &[], true).await?;
    term.out(&terminal::render_plan(&p, term.colour));
    if !p.has_changes() {
        let calls = prepared.report_calls(&args.run, term);
        if args.json {
            out.line(&outcome_json(None, &calls)?);
        }
        return Ok(Exit::Success);
    }
    if !args.auto_approve && !confirm("destroy all these resources", term)? {
        term.err("Destroy cancelled.");
        return Ok(Exit::Error);
    }
    let outcome = execute(prepared, locked, &p, state, &args.run, interrupts, term).await?;
    let exit = report(&outcome, true, term);
    let calls = prepared.report_calls(&args.run, term);
    if args.json {
        out.line(&outcome_json(Some(&outcome), &calls)?);
    }
    Ok(exit)
}
