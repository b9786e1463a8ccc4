//! Apply against the local cloud enforcing the clouds' documented request rates (its
//! `rate_limit` fault), with matihnet pacing to the same documented limits as it does against a
//! real cloud (`MATIHNET_RATE_LIMITS=documented`; a loopback endpoint is otherwise unpaced), at
//! the default `--parallelism`. Prints, per cloud and tenant count: the apply's time, its API
//! calls, the requests the cloud throttled, the failed resources, and the rate floor: for each
//! metered API, the calls the apply made beyond the bucket's burst divided by its refill rate,
//! the largest of them. Beside it, the floor of a tool that makes one call per record (and waits
//! for each change), as Terraform's providers do. Prints figures; asserts nothing about time.
//!
//! `cargo bench --profile dev -p matihnet-e2e --bench rate_limited` (after `cargo build -p
//! matihnet`); `MATIHNET_BENCH_TENANTS=1,10` and `MATIHNET_BENCH_CLOUDS=eks` narrow it.

#![allow(clippy::unwrap_used)] // a benchmark that cannot set itself up should stop loudly

use std::collections::BTreeMap;
use std::time::Instant;

use matihnet_core::pacing::{documented, Limit};
use matihnet_e2e::localcloud::LocalCloud;
use matihnet_e2e::Sandbox;
use serde_json::{json, Value};

#[path = "direct/mod.rs"]
#[allow(dead_code)] // this benchmark uses the environment files, not the floors
mod direct;

const SUB: &str = "00000000-0000-0000-0000-0000000000bb";

/// The metered API a counted call draws from, as each provider names its calls.
fn api_of(cloud: &str, op: &str) -> Option<&'static str> {
    match cloud {
        "aws" => {
            let (service, action) = op.split_once('.')?;
            match service {
                "route53" => Some("route53"),
                "ec2" => Some(matihnet_provider_aws::ec2_bucket(action)),
                "elbv2" if action.starts_with("Describe") => Some("elbv2-non-mutating"),
                _ => None,
            }
        }
        "azure" => Some(match op.split(' ').next()? {
            "GET" | "HEAD" => "arm-reads",
            "DELETE" => "arm-deletes",
            _ => "arm-writes",
        }),
        _ => {
            if ["managed zone", "record set", "change"]
                .iter()
                .any(|d| op.contains(d))
            {
                None
            } else if op.starts_with("get ") || op.starts_with("list ") {
                Some("compute-reads")
            } else {
                Some("compute-writes")
            }
        }
    }
}

/// Calls per metered API.
fn per_api(cloud: &str, calls: &serde_json::Map<String, Value>) -> BTreeMap<&'static str, u64> {
    let mut out = BTreeMap::new();
    for (op, n) in calls {
        if let Some(api) = api_of(cloud, op) {
            *out.entry(api).or_insert(0) += n.as_u64().unwrap_or(0);
        }
    }
    out
}

fn limits(cloud: &str) -> BTreeMap<&'static str, Limit> {
    documented(cloud)
        .iter()
        .filter_map(|d| Some((d.api, d.limit?)))
        .collect()
}

/// The least time `calls` requests take at `limit`: what the burst does not cover, at the rate.
fn floor_of(calls: u64, limit: Limit) -> f64 {
    (calls as f64 - limit.burst).max(0.0) / limit.per_second
}

/// The rate floor and the API that sets it.
fn rate_floor(cloud: &str, calls: &BTreeMap<&'static str, u64>) -> (f64, &'static str) {
    let limits = limits(cloud);
    calls
        .iter()
        .filter_map(|(api, n)| Some((floor_of(*n, *limits.get(api)?), *api)))
        .fold((0.0, "-"), |a, b| if b.0 > a.0 { b } else { a })
}

/// What one call per record costs the DNS API on AWS: a change and at least one wait per
/// record and per zone, plus the zone's own create and tags.
fn per_record_floor(cloud: &str, plan: &Value) -> Option<f64> {
    if cloud != "aws" {
        return None;
    }
    let changes = plan["changes"].as_array().unwrap();
    let count = |kind: &str| {
        changes
            .iter()
            .filter(|c| c["address"].as_str().unwrap_or("").starts_with(kind))
            .count() as u64
    };
    let records = count("dns_record.");
    let zones = count("dns_zone.");
    let calls = records * 2 + zones * 3;
    Some(floor_of(calls, limits("aws")["route53"]))
}

fn main() {
    let tenants: Vec<usize> = std::env::var("MATIHNET_BENCH_TENANTS")
        .unwrap_or_else(|_| "1,10,30,100,300".into())
        .split(',')
        .map(|n| n.trim().parse().unwrap())
        .collect();
    let clouds = std::env::var("MATIHNET_BENCH_CLOUDS").unwrap_or_else(|_| "eks,aks,gke".into());
    let cloud = LocalCloud::start("50ms");
    let endpoint = cloud.endpoint();
    println!(
        "{:>5} {:>7} {:>9} {:>9} {:>9} {:>6} {:>18} {:>7} {:>9} {:>8} {:>15}",
        "cloud",
        "tenants",
        "resources",
        "apply",
        "floor",
        "ratio",
        "binding API",
        "calls",
        "throttled",
        "failures",
        "per-record floor"
    );
    for (name, example, provider) in [
        ("eks", "eks.toml", "aws"),
        ("aks", "aks.toml", "azure"),
        ("gke", "gke.toml", "gcp"),
    ] {
        if !clouds.split(',').any(|c| c.trim() == name) {
            continue;
        }
        for &n in &tenants {
            cloud.request("POST", &format!("/_localcloud/{provider}/reset"), None);
            let (status, faults) = cloud.request(
                "POST",
                &format!("/_localcloud/{provider}/faults"),
                Some(&json!({"rate_limit": true})),
            );
            assert_eq!(status, 200, "{faults}");
            let throttled_before = faults["rate_limited"].as_u64().unwrap_or(0);
            let mut env: Vec<(&str, String)> = cloud.aws_env();
            env.push(("MATIHNET_AZURE_ENDPOINT", endpoint.clone()));
            env.push(("MATIHNET_GCP_ENDPOINT", endpoint.clone()));
            env.push(("AZURE_SUBSCRIPTION_ID", SUB.into()));
            env.push(("MATIHNET_RATE_LIMITS", "documented".into()));
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let s = Sandbox::with_config(&direct::with_tenants(example, n));
            let plan: Value = serde_json::from_str(
                &s.run_with(&["plan", "--json"], &env)
                    .expect_code(0)
                    .stdout(),
            )
            .unwrap();
            let resources = plan["changes"].as_array().unwrap().len();
            let t = Instant::now();
            let applied = s.run_with(&["apply", "--auto-approve", "--json"], &env);
            let apply = t.elapsed().as_secs_f64();
            let outcome: Value = serde_json::from_str(&applied.stdout()).unwrap_or(Value::Null);
            let calls = outcome["api_calls"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            let total: u64 = calls.values().filter_map(Value::as_u64).sum();
            let apis = per_api(provider, &calls);
            let (floor, binding) = rate_floor(provider, &apis);
            let faults = cloud.get(&format!("/_localcloud/{provider}/faults"));
            let throttled = faults["rate_limited"].as_u64().unwrap_or(0) - throttled_before;
            let failures = outcome["failures"].as_array().map_or(0, Vec::len);
            let binding_calls = apis.get(binding).copied().unwrap_or(0);
            let ratio = if floor > 0.0 {
                format!("{:.2}x", apply / floor)
            } else {
                "-".into()
            };
            println!(
                "{name:>5} {n:>7} {resources:>9} {:>8.1}s {:>8.1}s {ratio:>6} {:>18} {total:>7} {throttled:>9} {failures:>8} {:>15}",
                apply,
                floor,
                format!("{binding} ({binding_calls})"),
                per_record_floor(provider, &plan).map_or("-".into(), |f| format!("{f:.1}s")),
            );
        }
    }
}
