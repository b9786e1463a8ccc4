//! AKS and GKE apply against `matihnet local-cloud` with a fixed 50 ms operation delay, for
//! N = 1, 10, 30, 100 tenants, against the ideal from the dependency graph's depth: the longest
//! chain of resources whose writes are long-running operations (networks, subnets, front ends),
//! times the delay. Prints figures; asserts nothing about time.
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

fn timed(s: &Sandbox, env: &[(&str, &str)], args: &[&str]) -> Duration {
    let t = Instant::now();
    s.run_with(args, env).expect_code(0);
    t.elapsed()
}

fn main() {
    let cloud = LocalCloud::start(&format!("{DELAY_MS}ms"));
    let endpoint = cloud.endpoint();
    println!(
        "{:>5} {:>8} {:>10} {:>10} {:>10} {:>7} {:>10}",
        "cloud", "tenants", "resources", "apply", "ideal", "ratio", "plan"
    );
    for (example, var) in [
        ("aks.toml", "MATIHNET_AZURE_ENDPOINT"),
        ("gke.toml", "MATIHNET_GCP_ENDPOINT"),
    ] {
        for n in [1usize, 10, 30, 100] {
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
            let apply = timed(
                &s,
                &env,
                &["apply", "--auto-approve", "--parallelism", "64"],
            );
            let no_change = timed(&s, &env, &["plan", "--parallelism", "64"]);
            println!(
                "{:>5} {n:>8} {resources:>10} {:>8.0}ms {:>8.0}ms {:>6.2}x {:>8.0}ms",
                &example[..3],
                apply.as_secs_f64() * 1e3,
                ideal.as_secs_f64() * 1e3,
                apply.as_secs_f64() / ideal.as_secs_f64(),
                no_change.as_secs_f64() * 1e3,
            );
            s.run_with(&["destroy", "--auto-approve", "--parallelism", "64"], &env)
                .expect_code(0);
        }
    }
}
