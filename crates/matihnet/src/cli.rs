//! The command line: every command, flag and its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "matihnet",
    version,
    about = "Plan and apply the MATIH platform's cluster networking on AKS, EKS and GKE",
    long_about = "Plan and apply the MATIH platform's cluster networking on AKS, EKS and GKE.\n\nOne environment per file (matihnet.toml by default); the state lives beside it.\nExit codes: 0 success, 1 error, 2 changes present (plan --detailed-exitcode)."
)]
pub struct Cli {
    /// The environment file.
    #[arg(
        short = 'c',
        long = "config",
        global = true,
        default_value = "matihnet.toml"
    )]
    pub config: PathBuf,

    /// Sets ${NAME} in the environment file (wins over the process environment).
    #[arg(long = "var", global = true, value_name = "NAME=VALUE")]
    pub vars: Vec<String>,

    /// Never colour the output (the NO_COLOR variable does the same).
    #[arg(long, global = true)]
    pub no_color: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what apply would change, after reading the real objects.
    Plan(PlanArgs),
    /// Make the changes (asks for confirmation unless --auto-approve or a saved plan is given).
    Apply(ApplyArgs),
    /// Delete everything this environment's state records, in reverse dependency order.
    Destroy(DestroyArgs),
    /// Take over an object made outside matihnet (by hand, by Terraform) as the file's ADDRESS.
    ///
    /// The object is read through the provider, recorded in the state with its real attributes
    /// and tagged or labelled as this environment's where the cloud allows; then the plan shows
    /// what would change to make it match the file. `[[import]]` entries in the file do the
    /// same as part of a plan and apply.
    Import(ImportArgs),
    /// Check the environment file: syntax, ranges, capacity, DNS names. No cloud calls.
    Validate,
    /// Print the address plan: every range, its purpose, size and headroom at maximum scale.
    Addresses,
    /// Show the state, or a saved plan.
    Show(ShowArgs),
    /// Inspect or edit the state without touching the cloud.
    #[command(subcommand)]
    State(StateCommand),
    /// Print the outputs recorded by the last apply.
    Output(OutputArgs),
    /// Print the dependency graph in Graphviz DOT.
    Graph,
    /// Write the cluster's half from the state: ingress-nginx values, cert-manager issuers,
    /// network policies, service addresses. Reads no cloud
    Render(RenderArgs),
    /// Show where the environment's provider comes from (built in, or a plugin and its
    /// checksum), or accept a changed plugin into the lock file.
    #[command(subcommand)]
    Providers(ProvidersCommand),
    /// Remove a lock left by a process that is gone, given its lock id.
    ForceUnlock(ForceUnlockArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Serve the built-in Azure and GCP emulators on 127.0.0.1 for other tools.
    LocalCloud(LocalCloudArgs),
}

impl Command {
    /// Whether this command runs its providers against the in-process emulators.
    pub fn uses_local_cloud(&self) -> bool {
        match self {
            Command::Plan(a) => a.run.local_cloud,
            Command::Apply(a) => a.run.local_cloud,
            Command::Destroy(a) => a.run.local_cloud,
            Command::Import(a) => a.run.local_cloud,
            _ => false,
        }
    }
}

#[derive(Debug, Args)]
pub struct LocalCloudArgs {
    /// The port to listen on (0: any free port).
    #[arg(long, default_value_t = 8480)]
    pub port: u16,

    /// Keep the emulated objects in this file across restarts.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,

    /// How long long-running operations stay in progress.
    #[arg(long, default_value = "200ms", value_parser = parse_duration, value_name = "DURATION")]
    pub operation_delay: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The directory to write; it is replaced as a whole, and only if `render` wrote it before
    /// [default: rendered/<environment name> beside the environment file]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// The encoding of manifests and Helm values (cloud permission documents are always JSON).
    #[arg(long, value_enum, default_value_t = RenderFormat::Yaml)]
    pub format: RenderFormat,

    /// Instead of rendering, check the manifests under PATH (a file or a directory, from any
    /// source): report each policy that opens Kafka's plaintext 9092 or a port the port table
    /// does not name, and each namespace without a default-deny. Exit 1 when any is found.
    #[arg(long, value_name = "PATH", conflicts_with = "out")]
    pub check: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RenderFormat {
    Yaml,
    Json,
}

#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// Read the real objects first (--refresh=false trusts the state).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub refresh: bool,

    /// Only this resource and what it depends on (repeatable).
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,

    /// How many cloud calls may run at once.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub parallelism: u32,

    #[command(flatten)]
    pub lock: LockArgs,

    /// Print progress for long operations this often.
    #[arg(long, default_value = "10s", value_parser = parse_duration, hide = true)]
    pub progress_interval: std::time::Duration,

    /// Run the Azure and GCP providers against the built-in emulators; the emulated objects are
    /// kept in a file beside the state.
    #[arg(long)]
    pub local_cloud: bool,

    /// Print the API calls made, by operation, when done (also with MATIHNET_LOG=calls).
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

/// How a command takes the state lock.
#[derive(Debug, Args, Clone)]
pub struct LockArgs {
    /// How long to wait for the state lock (e.g. 30s, 5m).
    #[arg(long, default_value = "0s", value_parser = parse_duration, value_name = "DURATION")]
    pub lock_timeout: std::time::Duration,

    /// Take over a lock whose holder stopped refreshing it (S3 state only: its heartbeat is
    /// older than [state] lock_ttl, as after a killed CI job). A live holder's lock is never taken.
    #[arg(long)]
    pub break_stale_lock: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub run: RunArgs,

    /// Plan to replace this resource even though nothing forces it (repeatable).
    #[arg(long = "replace", value_name = "ADDR")]
    pub replace: Vec<String>,

    /// Plan to destroy everything.
    #[arg(long)]
    pub destroy: bool,

    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// Print the plan as versioned JSON (see docs/plan-json.md).
    #[arg(long)]
    pub json: bool,

    /// Save the plan, for `matihnet apply FILE`.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub run: RunArgs,

    /// Plan to replace this resource even though nothing forces it (repeatable).
    #[arg(long = "replace", value_name = "ADDR")]
    pub replace: Vec<String>,

    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,

    /// Print the outcome as JSON on stdout (progress goes to stderr); needs --auto-approve or
    /// a saved plan.
    #[arg(long)]
    pub json: bool,

    /// A plan saved by `plan -o FILE`: applied as it is, without a prompt.
    pub plan_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The resource the file declares, such as dns_zone.platform (`matihnet plan` lists them).
    pub address: String,

    /// The object's id in the cloud: a VPC, subnet or hosted zone id, a load balancer ARN, an
    /// ARM resource id, a GCP self link; a DNS zone may also be given by its domain.
    pub id: String,

    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub run: RunArgs,

    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,

    /// Print the outcome as JSON on stdout (progress goes to stderr); needs --auto-approve.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A saved plan to show instead of the state.
    pub plan_file: Option<PathBuf>,

    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ProvidersCommand {
    /// Where the provider comes from, its plugin's checksum and whether the lock file holds it;
    /// starts a plugin to ask its name, version and protocol.
    List,
    /// Record the plugin's current checksum in `<file>.providers.lock`, accepting a changed
    /// or upgraded plugin.
    Lock,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List the addresses of every resource in the state.
    List,
    /// Show one resource's recorded attributes.
    Show { address: String },
    /// Record a resource under a new address (a tenant slug or node pool renamed in the file)
    /// without touching the cloud; the resources that depend on it follow.
    Mv {
        /// The address in the state now.
        from: String,
        /// The address the file names it by now (the same kind).
        to: String,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Forget resources without deleting them in the cloud.
    Rm {
        #[arg(required = true)]
        addresses: Vec<String>,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Copy the state into the backend this file's [state] section names (S3, PostgreSQL or a
    /// file), with its lineage and serial, under both locks; the copy is read back and compared,
    /// and the source is left as it was.
    Migrate(MigrateArgs),
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Where the state is now: a state file (default: the local state beside this file,
    /// <file stem>.state.json).
    #[arg(long, value_name = "STATE_FILE", conflicts_with = "from_config")]
    pub from: Option<PathBuf>,

    /// Where the state is now, as the [state] section of another file (an older copy of this
    /// environment file, or a file holding only a [state] section).
    #[arg(long, value_name = "FILE")]
    pub from_config: Option<PathBuf>,

    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// One output's name; all outputs when absent.
    pub name: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ForceUnlockArgs {
    /// The lock id, as the "state is locked" message shows it.
    pub lock_id: String,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    pub shell: clap_complete::Shell,
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("{e}: write a duration such as 30s, 5m or 1h30m"))
}
