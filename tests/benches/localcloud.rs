//! AKS and GKE apply against `matihnet local-cloud` with a fixed 50 ms operation delay, for
//! N = 1, 10, 30, 100, 300 tenants at the default `--parallelism`, against the ideal from the
//! dependency graph's depth: the longest chain of resources whose writes are long-running
//! operations (networks, subnets, front ends), times the delay; with the requests per resource
//! the local cloud served for the apply and for a no-change plan. Prints figures; asserts
//! nothing about time.
//!
//! `cargo bench -p matihnet-e2e --bench localcloud` (after `cargo build -p matihnet`).

#![allow(clippy::unwrap_used)] // a benchmark that cannot set itself up should stop loudly

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use matihnet_e2e::localcloud::LocalCloud;
use matihnet_e2e::Sandbox;
use serde_json::Value;

const DELAY_MS: u64 = 50;
const SUB: &str = "00000000-0000-0000-0000-0000000000bb";

fn config(example: &str, tenants: usize) -> String {
    let base =
        std::fs::read_to_string(matihnet_e2e::repo_root().join("examples").join(example)).unwrap();
    let mut text = base
        .split("[[tenant]]")
        .next()
        .unwrap()
        .replace("protect = true", "protect = false");
    for i in 0..tenants {
        let ingress = if i % 10 == 0 { "dedicated" } else { "shared" };
        text.push_str(&format!(
            "[[tenant]]\nslug = \"t{i:03}\"\ningress = \"{ingress}\"\n\n"
        ));
    }
    text
}

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
    println!(
        "{:>5} {:>8} {:>10} {:>10} {:>10} {:>7} {:>9} {:>10} {:>9}",
        "cloud", "tenants", "resources", "apply", "ideal", "ratio", "req/res", "plan", "req/res"
    );
    for (example, var) in [
        ("aks.toml", "MATIHNET_AZURE_ENDPOINT"),
        ("gke.toml", "MATIHNET_GCP_ENDPOINT"),
    ] {
        for n in [1usize, 10, 30, 100, 300] {
            let s = Sandbox::with_config(&config(example, n));
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
                "{:>5} {n:>8} {resources:>10} {:>8.0}ms {:>8.0}ms {:>6.2}x {:>9.2} {:>8.0}ms {:>9.2}",
                &example[..3],
                apply.as_secs_f64() * 1e3,
                ideal.as_secs_f64() * 1e3,
                apply.as_secs_f64() / ideal.as_secs_f64(),
                apply_requests as f64 / resources as f64,
                no_change.as_secs_f64() * 1e3,
                plan_requests as f64 / resources as f64,
            );
            s.run_with(&["destroy", "--auto-approve"], &env)
                .expect_code(0);
        }
    }
}
