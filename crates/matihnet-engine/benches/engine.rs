//! Engine benchmark: prints figures, asserts nothing about time.
//!
//! `cargo bench -p matihnet-engine --bench engine` measures 50,000 resources on the fake
//! provider (one zone per five, four records referring to each zone's id and name servers); set
//! `MATIHNET_BENCH_RESOURCES` to other counts, comma-separated (`50000,200000`).
//!
//! Peak memory is only honest for a process that did one thing, so the benchmark re-executes
//! itself once per phase (`MATIHNET_BENCH_PHASE` selects it) and each child reads its own peak
//! resident set (`VmHWM`) from `/proc/self/status`:
//! - `apply`: plan from an empty state, then apply N creates at zero latency, parallelism 50,
//!   into a state file (as the binary does); it leaves the state file and the fake cloud's
//!   objects on disk for the phases below;
//! - `plan`: read that state file and plan with no changes, `--refresh=false`;
//! - `plan-refresh`: the same with refresh (N reads, parallelism 10); the fake cloud lives in
//!   this process too, loaded from disk first, and its share is printed separately;
//! - `write`: read the state file, then time one write of it (temp file, fsync, rename).
//!
//! The parent then applies 1,000 independent resources with 20 ms latency at parallelism 10 and
//! 50, against the ideal N x latency / parallelism.

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing benchmark

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use matihnet_core::{Address, DesiredResource, Expr, ResourceSchema};
use matihnet_engine::{plan, ApplyOptions, Executor, PlanInput, PlanOptions, Silent};
use matihnet_provider_fake::{FakeConfig, FakeProvider};
use matihnet_state::{Backend, LocalBackend, LockInfo, LockRequest, State, StateError};
use tokio_util::sync::CancellationToken;

const PHASE: &str = "MATIHNET_BENCH_PHASE";
const DIR: &str = "MATIHNET_BENCH_DIR";
const COUNT: &str = "MATIHNET_BENCH_COUNT";

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

/// A field of `/proc/self/status` in MiB: `VmHWM` (peak resident set) or `VmRSS` (now).
fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn peak_mib() -> f64 {
    status_mib("VmHWM:")
}

fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
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

/// The local file backend, counting its writes (to show how many the apply coalesced).
struct Counting {
    inner: LocalBackend,
    writes: AtomicU64,
}

#[async_trait]
impl Backend for Counting {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn read(&self) -> Result<Option<State>, StateError> {
        self.inner.read().await
    }
    async fn write(&self, state: &State) -> Result<(), StateError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner.write(state).await
    }
    async fn lock(&self, request: LockRequest) -> Result<String, StateError> {
        self.inner.lock(request).await
    }
    async fn unlock(&self, id: &str) -> Result<(), StateError> {
        self.inner.unlock(id).await
    }
    async fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        self.inner.force_unlock(id).await
    }
    async fn lock_holder(&self) -> Result<Option<LockInfo>, StateError> {
        self.inner.lock_holder().await
    }
}

fn state_path(dir: &Path) -> PathBuf {
    dir.join("bench.state.json")
}

fn cloud_path(dir: &Path) -> PathBuf {
    dir.join("fake-cloud.json")
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match std::env::var(PHASE) {
        Ok(phase) => {
            let dir = PathBuf::from(std::env::var(DIR).expect("MATIHNET_BENCH_DIR"));
            let n: usize = std::env::var(COUNT)
                .expect("MATIHNET_BENCH_COUNT")
                .parse()
                .expect("a count");
            runtime.block_on(child(&phase, &dir, n));
        }
        Err(_) => runtime.block_on(parent()),
    }
}

async fn parent() {
    let counts: Vec<usize> = std::env::var("MATIHNET_BENCH_RESOURCES")
        .ok()
        .map(|v| {
            v.split(',')
                .filter_map(|c| c.trim().replace('_', "").parse().ok())
                .collect()
        })
        .filter(|c: &Vec<usize>| !c.is_empty())
        .unwrap_or_else(|| vec![50_000]);
    let exe = std::env::current_exe().expect("the benchmark's own path");
    for n in counts {
        let dir = tempfile::tempdir().expect("temp dir");
        println!("resources: {n} (each phase in its own process)");
        for phase in ["apply", "plan", "plan-refresh", "write"] {
            let status = std::process::Command::new(&exe)
                .env(PHASE, phase)
                .env(DIR, dir.path())
                .env(COUNT, n.to_string())
                .status()
                .expect("running the benchmark's child");
            assert!(status.success(), "phase {phase} failed: {status}");
        }
    }
    latency().await;
}

async fn child(phase: &str, dir: &Path, n: usize) {
    match phase {
        "apply" => apply_phase(dir, n).await,
        "plan" => plan_phase(dir, n, false).await,
        "plan-refresh" => plan_phase(dir, n, true).await,
        "write" => write_phase(dir).await,
        other => panic!("unknown phase {other}"),
    }
}

async fn apply_phase(dir: &Path, n: usize) {
    let provider = Arc::new(FakeProvider::new(schemas(), FakeConfig::default()).expect("fake"));
    let backend = Arc::new(Counting {
        inner: LocalBackend::new(state_path(dir)),
        writes: AtomicU64::new(0),
    });
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
    let planned = t.elapsed();
    let peak_after_plan = peak_mib();
    let t = Instant::now();
    let outcome = executor(provider.clone(), backend.clone(), 50)
        .apply(&p, empty, CancellationToken::new())
        .await
        .expect("apply");
    let applied = t.elapsed();
    let peak = peak_mib();
    assert!(outcome.succeeded());
    assert_eq!(outcome.state.resources.len(), n);
    println!(
        "  plan from an empty state:             {:>8.1} ms   peak RSS {peak_after_plan:>6.0} MiB",
        ms(planned)
    );
    println!(
        "  apply, {n} creates (0 ms, p=50):  {:>8.1} ms   peak RSS {peak:>6.0} MiB  ({} state writes, coalesced; fake cloud in-process)",
        ms(applied),
        backend.writes.load(Ordering::Relaxed)
    );
    // For the refresh phase's fake cloud; after the figures, so its cost is not counted above.
    provider
        .save_to(&cloud_path(dir))
        .expect("saving the fake cloud");
}

async fn plan_phase(dir: &Path, n: usize, refresh: bool) {
    let before_cloud = rss_mib();
    let t = Instant::now();
    let provider = FakeProvider::new(
        schemas(),
        FakeConfig {
            // Without refresh nothing is read: the cloud stays empty.
            store: refresh.then(|| cloud_path(dir)),
            ..FakeConfig::default()
        },
    )
    .expect("fake");
    let loaded = t.elapsed();
    let cloud = rss_mib() - before_cloud;
    let resources = desired(n);
    let backend = LocalBackend::new(state_path(dir));
    let t = Instant::now();
    let state = backend.read().await.expect("read").expect("present");
    let read = t.elapsed();
    assert_eq!(state.resources.len(), n);
    let t = Instant::now();
    let p = plan(
        PlanInput {
            desired: &resources,
            outputs: &[],
            state: &state,
            provider: &provider,
            environment: "bench",
        },
        &PlanOptions {
            refresh,
            ..PlanOptions::default()
        },
    )
    .await
    .expect("plan");
    let planned = t.elapsed();
    assert!(!p.has_changes());
    let peak = peak_mib();
    if refresh {
        println!(
            "  plan, no changes, with refresh:       {:>8.1} ms   peak RSS {peak:>6.0} MiB  (state read + parse {:.0} ms; fake cloud loaded first: {cloud:.0} MiB, {:.0} ms)",
            ms(planned),
            ms(read),
            ms(loaded)
        );
    } else {
        println!(
            "  plan, no changes, --refresh=false:    {:>8.1} ms   peak RSS {peak:>6.0} MiB  (state read + parse {:.0} ms)",
            ms(planned),
            ms(read)
        );
    }
    drop(p);
}

async fn write_phase(dir: &Path) {
    let state = LocalBackend::new(state_path(dir))
        .read()
        .await
        .expect("read")
        .expect("present");
    let target = dir.join("bench.write.json");
    let file = LocalBackend::new(&target);
    let t = Instant::now();
    file.write(&state).await.expect("write");
    let write = t.elapsed();
    let size = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
    println!(
        "  one state write ({:.1} MiB, fsync+rename): {:>6.1} ms   peak RSS {:>6.0} MiB (read first)",
        size as f64 / 1048576.0,
        ms(write),
        peak_mib()
    );
}

async fn latency() {
    let dir = tempfile::tempdir().expect("temp dir");
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
}
