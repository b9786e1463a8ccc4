//! The floor a benchmark compares matihnet against: the same objects created (or read) directly
//! through a provider, a dependency level at a time on as many concurrent tasks as the default
//! `--parallelism`, without the engine, the state or a process; and the environment files the
//! benchmarks measure. Shared by the benchmarks that include it with `#[path]`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use matihnet_core::{Address, Attrs, DesiredResource, OperationContext, Provider};

/// The floor's concurrency: the default `--parallelism` a user gets.
pub const TASKS: usize = 10;

fn ctx(addr: &Address, environment: &str) -> OperationContext {
    OperationContext {
        addr: addr.clone(),
        environment: environment.to_string(),
        lineage: "floor".into(),
    }
}

/// Creates `desired` a dependency level at a time; the time it took and what was created.
pub async fn create_by_levels(
    provider: Arc<dyn Provider>,
    desired: Vec<DesiredResource>,
    environment: &str,
) -> (Duration, BTreeMap<Address, Attrs>) {
    let started = Instant::now();
    let mut done: BTreeMap<Address, Attrs> = BTreeMap::new();
    let mut left = desired;
    while !left.is_empty() {
        let ready: BTreeSet<Address> = left
            .iter()
            .filter(|r| r.dependencies().iter().all(|d| done.contains_key(d)))
            .map(|r| r.addr.clone())
            .collect();
        assert!(
            !ready.is_empty(),
            "a dependency cycle in the desired resources"
        );
        let (now, later): (Vec<_>, Vec<_>) =
            left.into_iter().partition(|r| ready.contains(&r.addr));
        left = later;
        let calls = now.into_iter().map(|r| {
            let lookup = |a: &Address| done.get(a);
            let attrs: Attrs = r
                .attrs
                .iter()
                .map(|(k, e)| (k.clone(), e.resolve(&lookup).unwrap()))
                .collect();
            let p = Arc::clone(&provider);
            let c = ctx(&r.addr, environment);
            async move {
                let made = p
                    .create(&c, &attrs)
                    .await
                    .unwrap_or_else(|f| panic!("floor: create {}: {}", c.addr, f.error));
                (c.addr.clone(), made)
            }
        });
        let finished: Vec<(Address, Attrs)> = futures::stream::iter(calls)
            .buffer_unordered(TASKS)
            .collect()
            .await;
        done.extend(finished);
    }
    (started.elapsed(), done)
}

/// Reads every created object once, one call each.
pub async fn read_each(
    provider: Arc<dyn Provider>,
    created: &BTreeMap<Address, Attrs>,
    environment: &str,
) -> Duration {
    let started = Instant::now();
    let reads = created.iter().map(|(addr, attrs)| {
        let p = Arc::clone(&provider);
        let c = ctx(addr, environment);
        async move { p.read(&c, attrs).await.unwrap() }
    });
    futures::stream::iter(reads)
        .buffer_unordered(TASKS)
        .collect::<Vec<_>>()
        .await;
    started.elapsed()
}

/// `examples/<example>` with `tenants` tenants (every tenth with a dedicated front end, the rest
/// on the platform's) and nothing protected, so a benchmark can destroy what it made.
pub fn with_tenants(example: &str, tenants: usize) -> String {
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
