//! Engine benchmark: prints figures, asserts nothing about time.
//!
//! `cargo bench -p matihnet-engine --bench engine` (set `MATIHNET_BENCH_RESOURCES` to change the
//! 50,000). Measures, with the fake provider:
//! - plan of N resources from state, with `--refresh=false` and with refresh (zero latency);
//! - one state write of N resources to a file (atomic write + fsync);
//! - apply of 1,000 independent resources with 20 ms latency at parallelism 10 and 50, against
//!   the ideal N x latency / parallelism;
//! - peak resident memory of the process.

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

use std::sync::Arc;
use std::time::{Duration, Instant};

use matihnet_core::{Address, DesiredResource, Expr, ResourceSchema};
use matihnet_engine::{plan, ApplyOptions, Executor, PlanInput, PlanOptions, Silent};
use matihnet_provider_fake::{FakeConfig, FakeProvider};
use matihnet_state::{Backend, LocalBackend, MemoryBackend, State};
use tokio_util::sync::CancellationToken;

fn schemas() -> Vec<ResourceSchema> {
    vec![
        ResourceSchema::new("dns_zone")
            .required_force_new("name")
            .computed("id")
            .computed("name_servers"),
        ResourceSchema::new("dns_record")
            .required_force_new("zone_id")
            .required_force_new("name")
            .required("values")
            .computed("id"),
    ]
}

/// One zone per 5 resources, each with 4 records referring to it: dependencies like the model's.
fn desired(n: usize) -> Vec<DesiredResource> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        if i % 5 == 0 {
            out.push(
                DesiredResource::new(Address::new("dns_zone", format!("z{i}")))
                    .attr("name", format!("z{i}.matih.test")),
            );
        } else {
            let zone = Address::new("dns_zone", format!("z{}", i - i % 5));
            out.push(
                DesiredResource::new(Address::new("dns_record", format!("r{i}")))
                    .attr("zone_id", Expr::reference(zone.clone(), "id"))
                    .attr("name", format!("r{i}"))
                    .attr("values", Expr::reference(zone, "name_servers")),
            );
        }
    }
    out
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn executor(
    provider: Arc<FakeProvider>,
    backend: Arc<dyn Backend>,
    parallelism: usize,
) -> Executor {
    Executor {
        provider,
        backend,
        observer: Arc::new(Silent),
        environment: "bench".into(),
        options: ApplyOptions {
            parallelism,
            still_running_every: Duration::from_secs(3600),
        },
    }
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("MATIHNET_BENCH_RESOURCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let dir = tempfile::tempdir().expect("temp dir");

    // Build a state of n resources by applying them (zero latency).
    let provider = Arc::new(FakeProvider::new(schemas(), FakeConfig::default()).expect("fake"));
    let memory = Arc::new(MemoryBackend::new());
    let resources = desired(n);
    let empty = State::new();
    let t = Instant::now();
    let p = plan(
        PlanInput {
            desired: &resources,
            outputs: &[],
            state: &empty,
            provider: provider.as_ref(),
            environment: "bench",
        },
        &PlanOptions::default(),
    )
    .await
    .expect("plan");
    let initial_plan = t.elapsed();
    let rss_after_plan = peak_rss_mib();
    let t = Instant::now();
    let outcome = executor(provider.clone(), memory.clone(), 50)
        .apply(&p, empty, CancellationToken::new())
        .await
        .expect("apply");
    let initial_apply = t.elapsed();
    let rss_after_apply = peak_rss_mib();
    assert!(outcome.succeeded());
    let state = outcome.state;
    println!("resources: {n}");
    println!(
        "peak RSS after the first plan / apply: {rss_after_plan:.0} / {rss_after_apply:.0} MiB"
    );
    println!(
        "plan from empty state:              {:>9.1} ms",
        initial_plan.as_secs_f64() * 1e3
    );
    println!(
        "apply from empty (0 ms latency, p=50): {:>6.1} ms ({} state writes, coalesced)",
        initial_apply.as_secs_f64() * 1e3,
        memory.writes()
    );

    for refresh in [false, true, false, true] {
        let t = Instant::now();
        let p = plan(
            PlanInput {
                desired: &resources,
                outputs: &[],
                state: &state,
                provider: provider.as_ref(),
                environment: "bench",
            },
            &PlanOptions {
                refresh,
                ..PlanOptions::default()
            },
        )
        .await
        .expect("plan");
        assert!(!p.has_changes());
        println!(
            "plan, no changes, refresh={refresh:<5}:     {:>9.1} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
    }

    let file = LocalBackend::new(dir.path().join("bench.state.json"));
    let t = Instant::now();
    file.write(&state).await.expect("write");
    let write = t.elapsed();
    let size = std::fs::metadata(dir.path().join("bench.state.json"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "state write ({:.1} MiB, fsync+rename):  {:>6.1} ms",
        size as f64 / 1048576.0,
        write.as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let back = file.read().await.expect("read").expect("present");
    println!(
        "state read + parse:                 {:>9.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(back.resources.len(), n);
    println!(
        "peak RSS so far:                    {:>9.1} MiB",
        peak_rss_mib()
    );

    let latency = Duration::from_millis(20);
    let independent: Vec<DesiredResource> = (0..1000)
        .map(|i| {
            DesiredResource::new(Address::new("dns_zone", format!("i{i}")))
                .attr("name", format!("i{i}.matih.test"))
        })
        .collect();
    for parallelism in [10usize, 50] {
        let provider = Arc::new(
            FakeProvider::new(
                schemas(),
                FakeConfig {
                    latency,
                    ..FakeConfig::default()
                },
            )
            .expect("fake"),
        );
        let backend = Arc::new(LocalBackend::new(
            dir.path().join(format!("p{parallelism}.json")),
        ));
        let empty = State::new();
        let p = plan(
            PlanInput {
                desired: &independent,
                outputs: &[],
                state: &empty,
                provider: provider.as_ref(),
                environment: "bench",
            },
            &PlanOptions::default(),
        )
        .await
        .expect("plan");
        let t = Instant::now();
        let outcome = executor(provider, backend, parallelism)
            .apply(&p, empty, CancellationToken::new())
            .await
            .expect("apply");
        assert!(outcome.succeeded());
        let took = t.elapsed().as_secs_f64();
        let ideal = 1000.0 * latency.as_secs_f64() / parallelism as f64;
        println!(
            "apply 1000 x 20 ms, parallelism {parallelism:>2}: {:>7.0} ms (ideal {:>5.0} ms, {:.2}x)",
            took * 1e3,
            ideal * 1e3,
            took / ideal
        );
    }
    println!(
        "peak RSS:                           {:>9.1} MiB",
        peak_rss_mib()
    );
}
