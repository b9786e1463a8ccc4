//! The `matihnet` binary: parses the command line, wires the concrete providers and the state
//! backend to the engine, prints, and chooses the exit code. The only crate that prints.

mod cli;
mod cluster;
mod delegation;
mod environment;
mod inspect;
mod migrate;
mod plugins;
mod progress;
mod run;
mod signals;
mod terminal;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::environment::OpenError;
use crate::terminal::Terminal;

/// 0 success, 1 error, 2 "changes present" under --detailed-exitcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    Error,
    Changes,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        match e {
            Exit::Success => ExitCode::SUCCESS,
            Exit::Error => ExitCode::from(1),
            Exit::Changes => ExitCode::from(2),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let term = Terminal::new(cli.no_color);
    if let Command::Completions(args) = &cli.command {
        return inspect::completions_command(args).into();
    }
    if cli.command.uses_local_cloud() {
        bypass_proxies_for_loopback();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            term.err(&format!("error: cannot start the async runtime: {e}"));
            return ExitCode::from(1);
        }
    };
    let exit = runtime.block_on(async {
        match dispatch(&cli, term).await {
            Ok(exit) => exit,
            Err(e) => {
                term.err(&format!(
                    "{}: {e:#}",
                    terminal::paint(term.colour, "1;31", "error")
                ));
                Exit::Error
            }
        }
    });
    exit.into()
}

/// The in-process emulators are on 127.0.0.1: a proxy from `HTTPS_PROXY` / `ALL_PROXY` must
/// never see their traffic (it would fail, or carry test requests off this machine). The HTTP
/// clients read these variables when they are built, so this runs before the runtime starts,
/// while the process has one thread.
fn bypass_proxies_for_loopback() {
    const LOOPBACK: &str = "127.0.0.1,localhost,::1";
    for var in ["NO_PROXY", "no_proxy"] {
        let value = match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => format!("{v},{LOOPBACK}"),
            _ => LOOPBACK.to_string(),
        };
        std::env::set_var(var, value);
    }
}

async fn dispatch(cli: &Cli, term: Terminal) -> anyhow::Result<Exit> {
    if let Command::LocalCloud(args) = &cli.command {
        return serve_local_cloud(args, term).await;
    }
    if let Command::Render(cli::RenderArgs {
        check: Some(path), ..
    }) = &cli.command
    {
        // Checking manifests needs no environment file: they may come from anywhere.
        return cluster::check_command(path, term);
    }
    let interrupts = signals::Interrupts::install();
    let vars = environment::parse_vars(&cli.vars)?;
    let env = match environment::open(&cli.config, &vars) {
        Ok(env) => env,
        Err(OpenError::Other(e)) => return Err(e),
        Err(OpenError::Diagnostics(diags)) => {
            let text = std::fs::read_to_string(&cli.config).ok();
            let errors = diags.iter().filter(|d| d.is_error()).count();
            for d in &diags {
                term.diagnostic(d, text.as_deref());
            }
            term.err(&format!(
                "\n{} error(s) in {}; nothing was planned or changed.",
                errors,
                cli.config.display()
            ));
            return Ok(Exit::Error);
        }
    };
    env.print_warnings(&term);
    match &cli.command {
        Command::Plan(args) => run::plan_command(&env, args, &interrupts, term).await,
        Command::Apply(args) => run::apply_command(&env, args, &interrupts, term).await,
        Command::Destroy(args) => run::destroy_command(&env, args, &interrupts, term).await,
        Command::Import(args) => run::import_command(&env, args, &interrupts, term).await,
        Command::Validate => inspect::validate_command(&env, term).await,
        Command::Addresses => inspect::addresses_command(&env, term),
        Command::Show(args) => inspect::show_command(&env, args, term).await,
        Command::State(cmd) => inspect::state_command(&env, cmd, &interrupts, term).await,
        Command::Output(args) => inspect::output_command(&env, args, term).await,
        Command::Graph => inspect::graph_command(&env, term).await,
        Command::Render(args) => cluster::render_command(&env, args, term).await,
        Command::Providers(cmd) => plugins::providers_command(&env, cmd, term).await,
        Command::ForceUnlock(args) => inspect::force_unlock_command(&env, args, term).await,
        Command::Completions(args) => Ok(inspect::completions_command(args)),
        Command::LocalCloud(args) => serve_local_cloud(args, term).await,
    }
}

/// `matihnet local-cloud`: the emulators on 127.0.0.1 until Ctrl-C.
async fn serve_local_cloud(args: &cli::LocalCloudArgs, term: Terminal) -> anyhow::Result<Exit> {
    let options = matihnet_localcloud::Options {
        operation_delay: args.operation_delay,
    };
    let cloud = std::sync::Arc::new(match &args.state {
        Some(path) => matihnet_localcloud::LocalCloud::persistent(options, path.clone())?,
        None => matihnet_localcloud::LocalCloud::new(options),
    });
    let addr = std::sync::Arc::clone(&cloud)
        .serve(&format!("127.0.0.1:{}", args.port))
        .await?;
    term.line(&format!(
        "Local cloud (Azure Resource Manager + Google Compute/Cloud DNS + AWS EC2/ELBv2/Route53) listening on http://{addr}\n\n    export MATIHNET_AZURE_ENDPOINT=http://{addr}\n    export MATIHNET_GCP_ENDPOINT=http://{addr}\n    export AWS_ENDPOINT_URL=http://{addr} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test\n\nAny bearer token and any AWS credentials are accepted. Press Ctrl-C to stop."
    ));
    tokio::signal::ctrl_c().await?;
    cloud.save()?;
    term.line("Stopped.");
    Ok(Exit::Success)
}
