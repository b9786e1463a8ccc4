//! The cost of the plugin boundary: the round trip of one `read` through the fake provider
//! in-process and as the `matihnet-provider-fake` plugin (one after another, and 10 at a time,
//! the default `--parallelism`); then `apply` of 100 tenants on AKS and GKE against
//! `matihnet local-cloud` (50 ms per long-running operation) with the providers in-process and
//! as their plugins, at the defaults a user gets. Prints figures; asserts nothing about time.
//!
//! `cargo bench -p matihnet-e2e --bench plugin_overhead` after building `matihnet` and
//! `matihnet-plugins` in the same profile (`--profile dev` measures the debug build).

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

fn apply(s: &Sandbox, env: &[(&str, &str)]) -> Duration {
    let t = Instant::now();
    s.run_with(&["apply", "--auto-approve"], env).expect_code(0);
    t.elapsed()
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
        "{:>5} {:>10} {:>12} {:>12} {:>8}",
        "cloud", "resources", "in-process", "plugin", "slower"
    );
    for (example, var, cloud_name) in [
        ("aks.toml", "MATIHNET_AZURE_ENDPOINT", "azure"),
        ("gke.toml", "MATIHNET_GCP_ENDPOINT", "gcp"),
    ] {
        let text = direct::with_tenants(example, 100);
        // Median of RUNS applies per mode, the modes taking turns so that a slow moment of the
        // machine does not land on one side only.
        let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
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
                times[i].push(apply(&s, &env));
                resources = s.state_addresses().len();
                s.run_with(&["destroy", "--auto-approve"], &env)
                    .expect_code(0);
            }
        }
        let times = times.map(|mut t| {
            t.sort();
            t[t.len() / 2]
        });
        println!(
            "{:>5} {resources:>10} {:>10.0}ms {:>10.0}ms {:>7.1}%",
            &example[..3],
            times[0].as_secs_f64() * 1e3,
            times[1].as_secs_f64() * 1e3,
            (times[1].as_secs_f64() / times[0].as_secs_f64() - 1.0) * 100.0
        );
    }
}
