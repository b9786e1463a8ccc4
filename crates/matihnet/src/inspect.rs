//! Commands that read and report: validate, addresses, show, state, output, graph,
//! force-unlock and completions.

use std::time::Duration;

use anyhow::{bail, Context};
use clap::CommandFactory;
use matihnet_core::Address;
use matihnet_state::LockRequest;

use crate::cli::{Cli, CompletionsArgs, ForceUnlockArgs, OutputArgs, ShowArgs, StateCommand};
use crate::environment::EnvironmentFile;
use crate::migrate;
use crate::run::Locked;
use crate::signals::Interrupts;
use crate::terminal::{self, Terminal};
use crate::Exit;

pub async fn validate_command(env: &EnvironmentFile, term: Terminal) -> anyhow::Result<Exit> {
    // No provider is connected: validate reads no credentials and reaches no cloud.
    let (schemas, desired) = env.offline_mapping().await?;
    let schemas = schemas
        .into_iter()
        .map(|s| (s.type_name.clone(), s))
        .collect();
    matihnet_engine::validate(&desired, &schemas)?;
    let warnings = env.loaded.warnings.len();
    term.line(&format!(
        "{} The configuration is valid{}.",
        terminal::paint(term.colour, "1;32", "Success!"),
        if warnings > 0 {
            format!(", with {warnings} warning(s) above")
        } else {
            String::new()
        }
    ));
    Ok(Exit::Success)
}

pub fn addresses_command(env: &EnvironmentFile, term: Terminal) -> anyhow::Result<Exit> {
    term.out(&matihnet_net::render_address_table(&env.loaded.plan));
    Ok(Exit::Success)
}

pub async fn show_command(
    env: &EnvironmentFile,
    args: &ShowArgs,
    term: Terminal,
) -> anyhow::Result<Exit> {
    if let Some(file) = &args.plan_file {
        let p = matihnet_engine::plan_file::read(file)?;
        if args.json {
            term.line(&serde_json::to_string_pretty(&p)?);
        } else {
            term.out(&terminal::render_plan(&p, term.colour));
        }
        return Ok(Exit::Success);
    }
    let backend = env.backend(false).await?;
    match backend.read().await? {
        None => term.line("No state: nothing has been applied yet."),
        Some(state) => {
            if args.json {
                term.out(&String::from_utf8_lossy(&matihnet_state::format::encode(
                    &state,
                )));
            } else {
                term.out(&terminal::render_state(&state));
            }
        }
    }
    Ok(Exit::Success)
}

pub async fn state_command(
    env: &EnvironmentFile,
    cmd: &StateCommand,
    interrupts: &Interrupts,
    term: Terminal,
) -> anyhow::Result<Exit> {
    match cmd {
        StateCommand::List => {
            if let Some(state) = env.backend(false).await?.read().await? {
                for addr in state.resources.keys() {
                    term.line(&addr.to_string());
                }
            }
            Ok(Exit::Success)
        }
        StateCommand::Show { address } => {
            let addr: Address = address.parse()?;
            let state = env.backend(false).await?.read().await?.unwrap_or_default();
            let Some(r) = state.resources.get(&addr) else {
                bail!("{addr} is not in the state; `matihnet state list` shows what is");
            };
            term.line(&format!("# {addr}:"));
            term.line(&format!("resource \"{}\" \"{}\" {{", addr.kind, addr.name));
            term.out(&terminal::render_attrs(&r.attributes, "    "));
            term.line("}");
            Ok(Exit::Success)
        }
        StateCommand::Migrate(args) => migrate::migrate_command(env, args, interrupts, term).await,
        StateCommand::Mv { from, to, lock } => {
            let from: Address = from.parse()?;
            let to: Address = to.parse()?;
            let locked = Locked::take(env, "state mv", lock, false, interrupts).await?;
            let result = async {
                let Some(mut state) = locked.read_state().await? else {
                    bail!("there is no state to move resources in");
                };
                let dependents = state.move_resource(&from, &to)?;
                state.serial += 1;
                locked.backend.write(&state).await?;
                term.line(&format!(
                    "Moved {from} to {to} ({dependents} dependent resource(s) updated; the cloud object was left as it is)."
                ));
                Ok(Exit::Success)
            }
            .await;
            locked.release().await?;
            result
        }
        StateCommand::Rm { addresses, lock } => {
            let addrs: Vec<Address> = addresses
                .iter()
                .map(|a| a.parse::<Address>())
                .collect::<Result<_, _>>()?;
            let locked = Locked::take(env, "state rm", lock, false, interrupts).await?;
            let result = async {
                let Some(mut state) = locked.read_state().await? else {
                    bail!("there is no state to remove resources from");
                };
                for a in &addrs {
                    if state.resources.remove(a).is_none() {
                        bail!("{a} is not in the state; nothing was removed");
                    }
                }
                state.serial += 1;
                locked.backend.write(&state).await?;
                for a in &addrs {
                    term.line(&format!(
                        "Removed {a} from the state (the cloud object was left as it is)."
                    ));
                }
                Ok(Exit::Success)
            }
            .await;
            locked.release().await?;
            result
        }
    }
}

pub async fn output_command(
    env: &EnvironmentFile,
    args: &OutputArgs,
    term: Terminal,
) -> anyhow::Result<Exit> {
    let state = env.backend(false).await?.read().await?.unwrap_or_default();
    match &args.name {
        Some(name) => {
            let Some(o) = state.outputs.get(name) else {
                bail!(
                    "no output named {name:?}; the outputs are: {}",
                    state.outputs.keys().cloned().collect::<Vec<_>>().join(", ")
                );
            };
            if args.json {
                term.line(&serde_json::to_string_pretty(&o.value)?);
            } else {
                match &o.value {
                    matihnet_core::Value::String(s) => term.line(s),
                    other => term.line(&other.to_string()),
                }
            }
        }
        None => {
            if args.json {
                let all: serde_json::Map<String, serde_json::Value> = state
                    .outputs
                    .iter()
                    .map(|(k, o)| {
                        (
                            k.clone(),
                            serde_json::json!({ "value": o.value, "sensitive": o.sensitive }),
                        )
                    })
                    .collect();
                term.line(&serde_json::to_string_pretty(&all)?);
            } else {
                for (k, o) in &state.outputs {
                    let v = if o.sensitive {
                        "(sensitive value)".to_string()
                    } else {
                        o.value.to_string()
                    };
                    term.line(&format!("{k} = {v}"));
                }
            }
        }
    }
    Ok(Exit::Success)
}

/// The graph of what the provider will manage (AWS's gateways and route tables included), built
/// offline: no credentials are needed.
pub async fn graph_command(env: &EnvironmentFile, term: Terminal) -> anyhow::Result<Exit> {
    let (_, resources) = env.offline_mapping().await?;
    let mut graph = matihnet_engine::Graph::new();
    for r in &resources {
        graph.add_node(r.addr.clone());
        for d in r.dependencies() {
            graph.add_edge(r.addr.clone(), d);
        }
    }
    term.out(&graph.to_dot());
    Ok(Exit::Success)
}

pub async fn force_unlock_command(
    env: &EnvironmentFile,
    args: &ForceUnlockArgs,
    term: Terminal,
) -> anyhow::Result<Exit> {
    let backend = env.backend(false).await?;
    backend
        .force_unlock(&args.lock_id)
        .await
        .context("force-unlock")?;
    term.line(&format!(
        "Lock {} removed from {}.",
        args.lock_id,
        backend.describe()
    ));
    // Show that the state can now be locked.
    let id = backend
        .lock(LockRequest::new("force-unlock check", Duration::ZERO))
        .await?;
    backend.unlock(&id).await?;
    Ok(Exit::Success)
}

pub fn completions_command(args: &CompletionsArgs) -> Exit {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "matihnet", &mut std::io::stdout());
    Exit::Success
}
