//! EKS apply and no-change plan against moto for N = 1, 10, 30, 100, 300 tenants at the default
//! `--parallelism`, against the emulator's floor: the same provider calls issued directly, a
//! dependency level at a time on 10 concurrent tasks (no engine, no state, no process start);
//! with the API calls per resource each made (the provider's count, which for AWS is every
//! request). Prints figures; asserts nothing about time.
//!
//! `cargo bench -p matihnet-e2e --bench eks_moto` (needs python3 for moto, installed on first use).

#![allow(clippy::unwrap_used)] // a benchmark that cannot set itself up should stop loudly

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use matihnet_core::{Address, Attrs, Provider};
use matihnet_e2e::localcloud::LocalCloud;
use matihnet_e2e::moto::Moto;
use matihnet_e2e::Sandbox;
use serde_json::Value;

#[path = "direct/mod.rs"]
mod direct;

/// Runs and returns the time and the JSON on stdout.
fn timed_json(s: &Sandbox, moto: &Moto, args: &[&str]) -> (Duration, Value) {
    let env = moto.env();
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let t = Instant::now();
    let out = s.run_with(args, &pairs).expect_code(0).stdout();
    (t.elapsed(), serde_json::from_str(&out).unwrap())
}

fn calls(v: &Value) -> u64 {
    v["api_calls"]
        .as_object()
        .map(|o| o.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0)
}

fn environment_file(tenants: usize, moto: &Moto) -> String {
    direct::with_tenants("eks.toml", tenants).replace(
        "# endpoint_url = \"http://127.0.0.1:5000\"",
        &format!("endpoint_url = \"{}\"", moto.endpoint()),
    )
}

async fn floor(
    text: &str,
    moto: &Moto,
    read_only_of: Option<&BTreeMap<Address, Attrs>>,
) -> (Duration, BTreeMap<Address, Attrs>) {
    let loaded = matihnet_net::load("bench.toml", text, &|_| None).unwrap();
    let env = &loaded.env;
    let aws = env.aws.as_ref().unwrap();
    let provider: Arc<dyn Provider> = Arc::new(
        matihnet_provider_aws::AwsProvider::connect(matihnet_provider_aws::AwsSettings {
            environment: env.name.clone(),
            region: env.region.clone(),
            availability_zones: aws.availability_zones.clone(),
            endpoint_url: Some(moto.endpoint()),
            nat: matihnet_provider_aws::NatMode::PerAz,
            rate_limits: Default::default(),
        })
        .await,
    );
    let desired = provider.map_resources(matihnet_net::expand(env, &loaded.plan));
    if let Some(existing) = read_only_of {
        return (
            direct::read_each(provider, existing, &env.name).await,
            BTreeMap::new(),
        );
    }
    direct::create_by_levels(provider, desired, &env.name).await
}

fn timed(s: &Sandbox, moto: &Moto, args: &[&str]) -> Duration {
    timed_with(s, &moto.env(), args)
}

fn timed_with(s: &Sandbox, env: &[(&'static str, String)], args: &[&str]) -> Duration {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let t = Instant::now();
    s.run_with(args, &pairs).expect_code(0);
    t.elapsed()
}

#[tokio::main]
async fn main() {
    let moto = Moto::start();
    // The in-process floor uses the standard credential chain, like matihnet does.
    for (k, v) in moto.env() {
        std::env::set_var(k, v);
    }
    println!(
        "{:>8} {:>10} {:>10} {:>10} {:>6} {:>9} {:>10} {:>10} {:>6} {:>9}",
        "tenants",
        "resources",
        "apply",
        "floor",
        "ratio",
        "calls/res",
        "plan",
        "read floor",
        "ratio",
        "calls/res"
    );
    for n in [1usize, 10, 30, 100, 300] {
        let text = environment_file(n, &moto);
        moto.reset();
        let (floor_apply, created) = floor(&text, &moto, None).await;
        let (floor_read, _) = floor(&text, &moto, Some(&created)).await;
        moto.reset();
        let s = Sandbox::with_config(&text);
        let (apply, applied) = timed_json(&s, &moto, &["apply", "--auto-approve", "--json"]);
        let (plan, planned) = timed_json(&s, &moto, &["plan", "--json"]);
        let resources = created.len() as f64;
        println!(
            "{n:>8} {:>10} {:>8.0}ms {:>8.0}ms {:>5.2}x {:>9.2} {:>8.0}ms {:>8.0}ms {:>5.2}x {:>9.2}",
            created.len(),
            apply.as_secs_f64() * 1e3,
            floor_apply.as_secs_f64() * 1e3,
            apply.as_secs_f64() / floor_apply.as_secs_f64(),
            calls(&applied) as f64 / resources,
            plan.as_secs_f64() * 1e3,
            floor_read.as_secs_f64() * 1e3,
            plan.as_secs_f64() / floor_read.as_secs_f64(),
            calls(&planned) as f64 / resources,
        );
    }

    // The same applies at the default parallelism against the three AWS endpoints a user has:
    // moto, the local AWS served by `matihnet local-cloud`, and the local AWS in-process
    // (`--local-cloud`), each with its default operation delay (200 ms: NAT gateways, changes).
    println!(
        "\nEKS apply at the default --parallelism 10\n{:>8} {:>12} {:>14} {:>16}",
        "tenants", "moto", "local served", "local in-process"
    );
    for n in [1usize, 10, 30, 100] {
        moto.reset();
        let on_moto = timed(
            &Sandbox::with_config(&environment_file(n, &moto)),
            &moto,
            &["apply", "--auto-approve"],
        );
        let served = LocalCloud::start("200ms");
        let text = environment_file(n, &moto).replace(&moto.endpoint(), &served.endpoint());
        let on_served = timed_with(
            &Sandbox::with_config(&text),
            &served.aws_env(),
            &["apply", "--auto-approve"],
        );
        let in_process = timed_with(
            &Sandbox::with_config(&environment_file(n, &moto)),
            &[],
            &["apply", "--auto-approve", "--local-cloud"],
        );
        println!(
            "{n:>8} {:>10.0}ms {:>12.0}ms {:>14.0}ms",
            on_moto.as_secs_f64() * 1e3,
            on_served.as_secs_f64() * 1e3,
            in_process.as_secs_f64() * 1e3
        );
    }
}
