//! AKS and GKE apply against `matihnet local-cloud` with a fixed 50 ms operation delay, for
//! N = 1, 10, 30, 100, 300 tenants at the default `--parallelism`, against two references: the
//! floor, the same objects created directly through the provider a dependency level at a time
//! on 10 concurrent tasks (`direct`), and the ideal from the dependency graph's depth (the
//! longest chain of resources whose writes are long-running operations, times the delay); with
//! the requests per resource the local cloud served for the apply and for a no-change plan.
//! Prints figures; asserts nothing about time.
//!
//! `cargo bench -p matihnet-e2e --bench localcloud` (after `cargo build -p matihnet`).

#![allow(clippy::unwrap_used)] // a benchmark that cannot set itself up should stop loudly

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use matihnet_core::Provider;

use matihnet_e2e::localcloud::LocalCloud;
use matihnet_e2e::Sandbox;
use serde_json::Value;

#[path = "direct/mod.rs"]
mod direct;

const DELAY_MS: u64 = 50;
const SUB: &str = "00000000-0000-0000-0000-0000000000bb";

/// Longest chain of long-running writes in the plan's dependency graph.
fn lro_depth(plan: &Value) -> u64 {
    let changes = plan["changes"].as_array().unwrap();
    let deps: BTreeMap<String, Vec<String>> = changes
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap().to_string(),
                c["dependencies"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    fn depth(
        a: &str,
        deps: &BTreeMap<String, Vec<String>>,
        memo: &mut BTreeMap<String, u64>,
    ) -> u64 {
        if let Some(d) = memo.get(a) {
            return *d;
        }
        let own = u64::from(
            ["network.", "subnet.", "frontend."]
                .iter()
                .any(|k| a.starts_with(k)),
        );
        let below = deps
            .get(a)
            .into_iter()
            .flatten()
            .map(|d| depth(d, deps, memo))
            .max()
            .unwrap_or(0);
        memo.insert(a.to_string(), own + below);
        own + below
    }
    let mut memo = BTreeMap::new();
    deps.keys()
        .map(|a| depth(a, &deps, &mut memo))
        .max()
        .unwrap_or(0)
}

/// The floors: this environment's objects created directly through its provider, then each
/// read once.
fn floor(rt: &tokio::runtime::Runtime, text: &str, endpoint: &str) -> (Duration, Duration) {
    let vars = |name: &str| (name == "AZURE_SUBSCRIPTION_ID").then(|| SUB.to_string());
    let loaded = matihnet_net::load("bench.toml", text, &vars).unwrap();
    let env = &loaded.env;
    rt.block_on(async {
        let provider: Arc<dyn Provider> = if let Some(azure) = &env.azure {
            Arc::new(
                matihnet_provider_azure::AzureProvider::connect(
                    matihnet_provider_azure::AzureSettings {
                        environment: env.name.clone(),
                        location: env.region.clone(),
                        subscription_id: azure.subscription_id.clone(),
                        resource_group: azure.resource_group.clone(),
                        ingress_resource_group: azure.ingress_resource_group.clone(),
                        endpoint: Some(endpoint.to_string()),
                        rate_limits: Default::default(),
                    },
                )
                .unwrap(),
            )
        } else {
            let gcp = env.gcp.as_ref().unwrap();
            Arc::new(
                matihnet_provider_gcp::GcpProvider::connect(matihnet_provider_gcp::GcpSettings {
                    environment: env.name.clone(),
                    project: gcp.project.clone(),
                    region: env.region.clone(),
                    endpoint: Some(endpoint.to_string()),
                    rate_limits: Default::default(),
                })
                .await
                .unwrap(),
            )
        };
        let desired = provider.map_resources(matihnet_net::expand(env, &loaded.plan));
        let (create, created) =
            direct::create_by_levels(Arc::clone(&provider), desired, &env.name).await;
        let read = direct::read_each(provider, &created, &env.name).await;
        (create, read)
    })
}

/// Runs and returns the time and the requests the local cloud served for it.
fn timed(s: &Sandbox, cloud: &LocalCloud, env: &[(&str, &str)], args: &[&str]) -> (Duration, u64) {
    cloud.request("DELETE", "/_localcloud/requests", None);
    let t = Instant::now();
    s.run_with(args, env).expect_code(0);
    let elapsed = t.elapsed();
    let served = cloud.get("/_localcloud/requests")["requests"]
        .as_object()
        .map(|o| o.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    (elapsed, served)
}

fn main() {
    let cloud = LocalCloud::start(&format!("{DELAY_MS}ms"));
    let endpoint = cloud.endpoint();
    let rt = tokio::runtime::Runtime::new().unwrap();
    println!(
        "{:>5} {:>8} {:>10} {:>10} {:>10} {:>7} {:>10} {:>7} {:>9} {:>10} {:>10} {:>7} {:>9}",
        "cloud",
        "tenants",
        "resources",
        "apply",
        "floor",
        "ratio",
        "ideal",
        "ratio",
        "req/res",
        "plan",
        "read floor",
        "ratio",
        "req/res"
    );
    for (example, var) in [
        ("aks.toml", "MATIHNET_AZURE_ENDPOINT"),
        ("gke.toml", "MATIHNET_GCP_ENDPOINT"),
    ] {
        let cloud_name = if example.starts_with("aks") {
            "azure"
        } else {
            "gcp"
        };
        for n in [1usize, 10, 30, 100, 300] {
            let text = direct::with_tenants(example, n);
            let (floor, read_floor) = floor(&rt, &text, &endpoint);
            cloud.request("POST", &format!("/_localcloud/{cloud_name}/reset"), None);
            let s = Sandbox::with_config(&text);
            let env = [(var, endpoint.as_str()), ("AZURE_SUBSCRIPTION_ID", SUB)];
            let plan: Value = serde_json::from_str(
                &s.run_with(&["plan", "--json"], &env)
                    .expect_code(0)
                    .stdout(),
            )
            .unwrap();
            let resources = plan["changes"].as_array().unwrap().len();
            let ideal = Duration::from_millis(lro_depth(&plan) * DELAY_MS);
            let (apply, apply_requests) = timed(&s, &cloud, &env, &["apply", "--auto-approve"]);
            let (no_change, plan_requests) = timed(&s, &cloud, &env, &["plan"]);
            println!(
                "{:>5} {n:>8} {resources:>10} {:>8.0}ms {:>8.0}ms {:>6.2}x {:>8.0}ms {:>6.2}x {:>9.2} {:>8.0}ms {:>8.0}ms {:>6.2}x {:>9.2}",
                &example[..3],
                apply.as_secs_f64() * 1e3,
                floor.as_secs_f64() * 1e3,
                apply.as_secs_f64() / floor.as_secs_f64(),
                ideal.as_secs_f64() * 1e3,
                apply.as_secs_f64() / ideal.as_secs_f64(),
                apply_requests as f64 / resources as f64,
                no_change.as_secs_f64() * 1e3,
                read_floor.as_secs_f64() * 1e3,
                no_change.as_secs_f64() / read_floor.as_secs_f64(),
                plan_requests as f64 / resources as f64,
            );
            s.run_with(&["destroy", "--auto-approve"], &env)
                .expect_code(0);
        }
    }
}
