//! The cost of the plugin boundary: the round trip of one `read` through the fake provider
//! in-process and as the `matihnet-provider-fake` plugin (one after another, and 10 at a time,
//! the default `--parallelism`); then `apply` of 100 tenants on AKS and GKE against
//! `matihnet local-cloud` (50 ms per long-running operation) with the providers in-process and
//! as their plugins, at the defaults a user gets, with the CPU time matihnet and its plugin
//! used. Prints figures; asserts nothing about time.
//!
//! `cargo build --release --workspace --bins`, then
//! `cargo bench --workspace --bench plugin_overhead` (`--workspace` both times, so the features
//! unify alike and the SDKs build once; `--profile dev` on both measures the debug build).

#![allow(clippy::unwrap_used)] // a benchmark that cannot set itself up should stop loudly

use std::sync::Arc;
use std::time::{Duration, Instant};

use matihnet_core::{Address, Attrs, OperationContext, Provider, ProviderConfig, ProviderFactory};
use matihnet_e2e::localcloud::LocalCloud;
use matihnet_e2e::Sandbox;

// Only its environment generator is used here.
#[allow(dead_code)]
#[path = "direct/mod.rs"]
mod direct;

const SUB: &str = "00000000-0000-0000-0000-0000000000bb";
const READS: usize = 20_000;
const RUNS: usize = 5;

fn fake_config() -> ProviderConfig {
    ProviderConfig {
        environment: "bench".into(),
        region: "fake-region-1".into(),
        endpoint: None,
        rate_limits: Default::default(),
        settings: Default::default(),
    }
}

/// Microseconds per read, sequential and 10 at a time.
async fn reads(provider: Arc<dyn Provider>) -> (f64, f64) {
    let ctx = OperationContext {
        addr: Address::new("network", "main"),
        environment: "bench".into(),
        lineage: "L".into(),
    };
    let mut desired = Attrs::new();
    desired.insert("name".into(), "main".into());
    desired.insert("cidr".into(), "10.0.0.0/16".into());
    desired.insert("region".into(), "fake-region-1".into());
    let created = provider.create(&ctx, &desired).await.unwrap();
    for _ in 0..500 {
        provider.read(&ctx, &created).await.unwrap();
    }
    let t = Instant::now();
    for _ in 0..READS {
        assert!(provider.read(&ctx, &created).await.unwrap().is_some());
    }
    let sequential = t.elapsed().as_secs_f64() * 1e6 / READS as f64;
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (provider, ctx, created) = (provider.clone(), ctx.clone(), created.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..READS / 10 {
                assert!(provider.read(&ctx, &created).await.unwrap().is_some());
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let concurrent = t.elapsed().as_secs_f64() * 1e6 / READS as f64;
    (sequential, concurrent)
}

/// The CPU time (user and system) of the children this process has waited for: matihnet, and
/// through it the plugin it waited for. The local cloud, still running, is not in it. Read from
/// `/proc/self/stat` (`cutime`, `cstime`), in Linux's fixed 100 ticks a second.
fn children_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The command name, in parentheses, may hold spaces: count the fields after it.
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // Fields 16 and 17 of the line; the name was field 2, so they are 13 and 14 after it.
    let ticks: u64 = fields[13].parse::<u64>().unwrap() + fields[14].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// The wall-clock time of one apply, and the CPU time it used.
fn apply(s: &Sandbox, env: &[(&str, &str)]) -> (Duration, Duration) {
    let cpu = children_cpu();
    let t = Instant::now();
    s.run_with(&["apply", "--auto-approve"], env).expect_code(0);
    (t.elapsed(), children_cpu() - cpu)
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!("build profile: {profile}");
    println!("read round trip, fake provider ({READS} reads):");
    println!("{:>12} {:>14} {:>14}", "", "sequential", "10 at a time");
    let in_process = rt.block_on(async {
        reads(
            matihnet_provider_fake::FakeFactory
                .connect(&fake_config())
                .await
                .unwrap(),
        )
        .await
    });
    let plugin = rt.block_on(async {
        let spec = matihnet_plugin::PluginSpec::new("fake", matihnet_e2e::plugin_binary("fake"));
        let factory = matihnet_plugin::PluginFactory::new(spec);
        reads(factory.connect(&fake_config()).await.unwrap()).await
    });
    println!(
        "{:>12} {:>12.1}us {:>12.1}us",
        "in-process", in_process.0, in_process.1
    );
    println!("{:>12} {:>12.1}us {:>12.1}us", "plugin", plugin.0, plugin.1);
    println!(
        "{:>12} {:>12.1}us {:>12.1}us",
        "boundary",
        plugin.0 - in_process.0,
        plugin.1 - in_process.1
    );

    let cloud = LocalCloud::start("50ms");
    let endpoint = cloud.endpoint();
    println!(
        "\napply of 100 tenants on the local cloud (50 ms operations), default --parallelism, median of {RUNS}:"
    );
    println!(
        "{:>5} {:>10} {:>12} {:>12} {:>8} {:>14} {:>14}",
        "cloud", "resources", "in-process", "plugin", "slower", "cpu in-process", "cpu plugin"
    );
    for (example, var, cloud_name) in [
        ("aks.toml", "MATIHNET_AZURE_ENDPOINT", "azure"),
        ("gke.toml", "MATIHNET_GCP_ENDPOINT", "gcp"),
    ] {
        let text = direct::with_tenants(example, 100);
        // Median of RUNS applies per mode, the modes taking turns so that a slow moment of the
        // machine does not land on one side only.
        let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
        let mut cpu: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
        let mut resources = 0;
        for _ in 0..RUNS {
            for (i, mode) in ["in-process", "plugin"].into_iter().enumerate() {
                cloud.request("POST", &format!("/_localcloud/{cloud_name}/reset"), None);
                let s = Sandbox::with_config(&text);
                let env = [
                    (var, endpoint.as_str()),
                    ("AZURE_SUBSCRIPTION_ID", SUB),
                    ("MATIHNET_BUILTIN_PROVIDERS", mode),
                ];
                // A first command hashes a plugin for the lock file (once per build of it) and
                // loads the executables from disk: the figures are for the commands after it.
                s.run_with(&["plan"], &env).expect_code(0);
                let (wall, used) = apply(&s, &env);
                times[i].push(wall);
                cpu[i].push(used);
                resources = s.state_addresses().len();
                s.run_with(&["destroy", "--auto-approve"], &env)
                    .expect_code(0);
            }
        }
        let median = |mut t: Vec<Duration>| {
            t.sort();
            t[t.len() / 2]
        };
        let times = times.map(median);
        let cpu = cpu.map(median);
        println!(
            "{:>5} {resources:>10} {:>10.0}ms {:>10.0}ms {:>7.1}% {:>12.0}ms {:>12.0}ms",
            &example[..3],
            times[0].as_secs_f64() * 1e3,
            times[1].as_secs_f64() * 1e3,
            (times[1].as_secs_f64() / times[0].as_secs_f64() - 1.0) * 100.0,
            cpu[0].as_secs_f64() * 1e3,
            cpu[1].as_secs_f64() * 1e3,
        );
    }
}
