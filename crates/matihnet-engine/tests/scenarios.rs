//! Engine scenarios against the fake provider: plan -> apply -> plan, updates vs replacements,
//! drift, targets, stale plans, failures part way, cancellation and the parallelism bound.

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

use std::sync::Arc;
use std::time::Duration;

use matihnet_core::{Address, DesiredResource, Expr, ResourceSchema, Value};
use matihnet_engine::{
    check_fresh, plan, Action, ApplyOptions, Executor, OutputSpec, Plan, PlanError, PlanInput,
    PlanOptions, Silent, StalePlan,
};
use matihnet_provider_fake::{FakeConfig, FakeProvider};
use matihnet_state::{Backend, MemoryBackend, State};
use tokio_util::sync::CancellationToken;

fn schemas() -> Vec<ResourceSchema> {
    vec![
        ResourceSchema::new("network")
            .required_force_new("cidr")
            .optional("label")
            .computed("id"),
        ResourceSchema::new("subnet")
            .required_force_new("network_id")
            .required_force_new("cidr")
            .optional("label")
            .computed("id"),
        ResourceSchema::new("zone")
            .required_force_new("name")
            .computed("id")
            .computed("name_servers"),
        ResourceSchema::new("record")
            .required_force_new("zone_id")
            .required_force_new("name")
            .required("values")
            .optional("ttl")
            .computed("id"),
    ]
}

fn a(kind: &str, name: &str) -> Address {
    Address::new(kind, name)
}

/// A network with two subnets, a parent zone and a delegated child zone.
fn config(child_name: &str, subnet_label: &str) -> Vec<DesiredResource> {
    vec![
        DesiredResource::new(a("network", "main")).attr("cidr", "10.0.0.0/16"),
        DesiredResource::new(a("subnet", "a"))
            .attr("network_id", Expr::reference(a("network", "main"), "id"))
            .attr("cidr", "10.0.0.0/24")
            .attr("label", subnet_label),
        DesiredResource::new(a("subnet", "b"))
            .attr("network_id", Expr::reference(a("network", "main"), "id"))
            .attr("cidr", "10.0.1.0/24"),
        DesiredResource::new(a("zone", "platform")).attr("name", "matih.test"),
        DesiredResource::new(a("zone", "child")).attr("name", child_name),
        DesiredResource::new(a("record", "child_ns"))
            .attr("zone_id", Expr::reference(a("zone", "platform"), "id"))
            .attr("name", "child")
            .attr(
                "values",
                Expr::reference(a("zone", "child"), "name_servers"),
            ),
    ]
}

struct World {
    provider: Arc<FakeProvider>,
    backend: Arc<MemoryBackend>,
}

impl World {
    fn new(config: FakeConfig) -> World {
        let backend = MemoryBackend::new();
        // The lineage is fixed once, as a first state write would fix it.
        futures::executor::block_on(backend.write(&State::new())).unwrap();
        World {
            provider: Arc::new(FakeProvider::new(schemas(), config).unwrap()),
            backend: Arc::new(backend),
        }
    }

    async fn state(&self) -> State {
        self.backend.read().await.unwrap().unwrap_or_default()
    }

    async fn plan(
        &self,
        desired: &[DesiredResource],
        options: PlanOptions,
    ) -> Result<Plan, PlanError> {
        let state = self.state().await;
        let outputs = [OutputSpec {
            name: "platform_name_servers".into(),
            value: Expr::reference(a("zone", "platform"), "name_servers"),
            sensitive: false,
        }];
        plan(
            PlanInput {
                desired,
                outputs: &outputs,
                state: &state,
                provider: self.provider.as_ref(),
                environment: "test",
            },
            &options,
        )
        .await
    }

    async fn apply_plan(&self, plan: &Plan, parallelism: usize) -> matihnet_engine::ApplyOutcome {
        let state = self.state().await;
        check_fresh(plan, &state).unwrap();
        self.executor(parallelism)
            .apply(plan, state, CancellationToken::new())
            .await
            .unwrap()
    }

    fn executor(&self, parallelism: usize) -> Executor {
        Executor {
            provider: self.provider.clone(),
            backend: self.backend.clone(),
            observer: Arc::new(Silent),
            environment: "test".into(),
            options: ApplyOptions {
                parallelism,
                still_running_every: Duration::from_secs(10),
            },
        }
    }

    async fn apply(&self, desired: &[DesiredResource]) -> matihnet_engine::ApplyOutcome {
        let p = self.plan(desired, PlanOptions::default()).await.unwrap();
        self.apply_plan(&p, 10).await
    }
}

fn action_of(plan: &Plan, addr: &Address) -> Action {
    plan.change(addr).map(|c| c.action).unwrap_or(Action::NoOp)
}

#[tokio::test]
async fn plan_apply_plan_is_empty() {
    let w = World::new(FakeConfig::default());
    let desired = config("child.matih.test", "one");
    let first = w.plan(&desired, PlanOptions::default()).await.unwrap();
    assert_eq!(first.summary().add, 6);
    // The NS record's values are only known once the child zone exists.
    let ns = first.change(&a("record", "child_ns")).unwrap();
    assert!(ns.after_unknown.contains(&"values".to_string()));

    let outcome = w.apply_plan(&first, 10).await;
    assert!(outcome.succeeded(), "{:?}", outcome.failures);
    assert_eq!(outcome.added, 6);
    let state = w.state().await;
    assert_eq!(state.resources.len(), 6);
    assert!(state.serial > 0);
    assert!(state.outputs.contains_key("platform_name_servers"));
    let child_ns = &state.resources[&a("zone", "child")].attributes["name_servers"];
    let record = &state.resources[&a("record", "child_ns")].attributes["values"];
    assert_eq!(
        child_ns, record,
        "the NS record lists the child zone's name servers"
    );

    let again = w.plan(&desired, PlanOptions::default()).await.unwrap();
    assert!(!again.has_changes(), "{:?}", again.summary());
    assert!(again.drift.is_empty());
}

#[tokio::test]
async fn update_in_place_versus_replace() {
    let w = World::new(FakeConfig::default());
    w.apply(&config("child.matih.test", "one")).await;

    let p = w
        .plan(&config("child.matih.test", "two"), PlanOptions::default())
        .await
        .unwrap();
    assert_eq!(action_of(&p, &a("subnet", "a")), Action::Update);
    assert_eq!(p.summary().change, 1);

    // Renaming the child zone replaces it, and its new name servers change the NS record.
    let p = w
        .plan(&config("kid.matih.test", "one"), PlanOptions::default())
        .await
        .unwrap();
    let zone = p.change(&a("zone", "child")).unwrap();
    assert_eq!(zone.action, Action::Replace);
    assert_eq!(zone.replace_because, vec!["name".to_string()]);
    assert_eq!(action_of(&p, &a("record", "child_ns")), Action::Update);
    let old_id = w.state().await.resources[&a("zone", "child")].attributes["id"].clone();
    let outcome = w.apply_plan(&p, 10).await;
    assert!(outcome.succeeded());
    let state = w.state().await;
    assert_ne!(
        state.resources[&a("zone", "child")].attributes["id"],
        old_id
    );
    assert_eq!(
        state.resources[&a("zone", "child")].attributes["name_servers"],
        state.resources[&a("record", "child_ns")].attributes["values"]
    );
    assert_eq!(w.provider.count_tagged(&a("zone", "child")), 1);
}

#[tokio::test]
async fn drift_is_detected_and_repaired() {
    let w = World::new(FakeConfig::default());
    let desired = config("child.matih.test", "one");
    w.apply(&desired).await;
    w.provider.delete_outside(&a("record", "child_ns"));
    w.provider
        .tamper(&a("subnet", "b"), "label", Value::from("edited-in-console"));

    let p = w.plan(&desired, PlanOptions::default()).await.unwrap();
    let deleted: Vec<_> = p.drift.iter().filter(|d| d.deleted).collect();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].address, a("record", "child_ns"));
    assert_eq!(action_of(&p, &a("record", "child_ns")), Action::Create);
    // `label` is not configured on subnet.b: the console edit is not noisy drift.
    assert!(p.drift.iter().all(|d| d.address != a("subnet", "b")));

    w.provider
        .tamper(&a("subnet", "a"), "label", Value::from("edited"));
    let p = w.plan(&desired, PlanOptions::default()).await.unwrap();
    let d = p
        .drift
        .iter()
        .find(|d| d.address == a("subnet", "a"))
        .unwrap();
    assert_eq!(d.attributes[0].actual, Some(Value::from("edited")));
    assert_eq!(action_of(&p, &a("subnet", "a")), Action::Update);

    assert!(w.apply_plan(&p, 10).await.succeeded());
    let p = w.plan(&desired, PlanOptions::default()).await.unwrap();
    assert!(!p.has_changes());
    assert!(p.drift.is_empty());
}

#[tokio::test]
async fn refresh_false_trusts_the_state() {
    let w = World::new(FakeConfig::default());
    let desired = config("child.matih.test", "one");
    w.apply(&desired).await;
    w.provider.delete_outside(&a("zone", "child"));
    let calls = w.provider.calls();
    let p = w
        .plan(
            &desired,
            PlanOptions {
                refresh: false,
                ..PlanOptions::default()
            },
        )
        .await
        .unwrap();
    assert!(!p.has_changes());
    assert_eq!(
        w.provider.calls(),
        calls,
        "no provider call without refresh"
    );
}

#[tokio::test]
async fn target_limits_the_plan_to_the_target_and_its_dependencies() {
    let w = World::new(FakeConfig::default());
    let desired = config("child.matih.test", "one");
    let p = w
        .plan(
            &desired,
            PlanOptions {
                targets: vec![a("record", "child_ns")],
                ..PlanOptions::default()
            },
        )
        .await
        .unwrap();
    let creating: Vec<String> = p
        .changes
        .iter()
        .filter(|c| c.action == Action::Create)
        .map(|c| c.address.to_string())
        .collect();
    assert_eq!(creating, ["record.child_ns", "zone.child", "zone.platform"]);
    assert!(w.apply_plan(&p, 10).await.succeeded());
    let full = w.plan(&desired, PlanOptions::default()).await.unwrap();
    assert_eq!(full.summary().add, 3);

    let err = w
        .plan(
            &desired,
            PlanOptions {
                targets: vec![a("zone", "nope")],
                ..PlanOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("zone.nope"));
}

#[tokio::test]
async fn a_stale_saved_plan_is_refused() {
    let w = World::new(FakeConfig::default());
    let desired = config("child.matih.test", "one");
    w.apply(&desired).await;
    let saved = w
        .plan(&config("child.matih.test", "two"), PlanOptions::default())
        .await
        .unwrap();
    // Someone else applies in between.
    w.apply(&config("child.matih.test", "three")).await;
    let state = w.state().await;
    assert!(matches!(
        check_fresh(&saved, &state),
        Err(StalePlan::Serial { .. })
    ));
    let mut other = saved.clone();
    other.lineage = "another".into();
    assert!(matches!(
        check_fresh(&other, &state),
        Err(StalePlan::Lineage { .. })
    ));
}

#[tokio::test]
async fn deletes_run_after_their_dependents() {
    let w = World::new(FakeConfig::default());
    w.apply(&config("child.matih.test", "one")).await;
    let p = w
        .plan(
            &[],
            PlanOptions {
                destroy: true,
                ..PlanOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(p.summary().destroy, 6);
    let outcome = w.apply_plan(&p, 1).await;
    assert!(outcome.succeeded());
    assert!(w.provider.objects().is_empty());
    assert!(w.state().await.resources.is_empty());
}

#[tokio::test]
async fn protected_resources_refuse_destroy_and_replace() {
    let w = World::new(FakeConfig::default());
    let mut desired = config("child.matih.test", "one");
    desired[3].protect = true; // zone.platform
    w.apply(&desired).await;
    let err = w
        .plan(
            &desired,
            PlanOptions {
                destroy: true,
                ..PlanOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("zone.platform is protected"),
        "{err}"
    );
    desired[3] = desired[3].clone().attr("name", "other.test");
    let err = w.plan(&desired, PlanOptions::default()).await.unwrap_err();
    assert!(err.to_string().contains("replace"), "{err}");
}

#[tokio::test]
async fn first_error_stops_scheduling_and_skips_dependents() {
    let w = World::new(FakeConfig {
        fail_address: Some(a("zone", "child")),
        ..FakeConfig::default()
    });
    let outcome = w.apply(&config("child.matih.test", "one")).await;
    assert_eq!(outcome.failures.len(), 1);
    assert_eq!(outcome.failures[0].address, a("zone", "child"));
    assert!(outcome
        .skipped
        .iter()
        .any(|(addr, _)| addr == &a("record", "child_ns")));
    let state = w.state().await;
    assert!(!state.resources.contains_key(&a("record", "child_ns")));
    // Whatever finished is recorded: the state and the fake agree.
    for addr in state.resources.keys() {
        assert_eq!(w.provider.count_tagged(addr), 1, "{addr}");
    }
    assert_eq!(w.provider.objects().len(), state.resources.len());
}

#[tokio::test]
async fn parallelism_bound_is_respected() {
    let w = World::new(FakeConfig {
        latency: Duration::from_millis(20),
        ..FakeConfig::default()
    });
    let desired: Vec<DesiredResource> = (0..40)
        .map(|i| {
            DesiredResource::new(a("zone", &format!("z{i}"))).attr("name", format!("z{i}.test"))
        })
        .collect();
    let p = w.plan(&desired, PlanOptions::default()).await.unwrap();
    assert!(w.apply_plan(&p, 4).await.succeeded());
    assert_eq!(w.provider.max_in_flight(), 4);
}

#[tokio::test]
async fn throttling_is_absorbed_by_retries() {
    let w = World::new(FakeConfig {
        throttle_every: Some(3),
        ..FakeConfig::default()
    });
    let outcome = w.apply(&config("child.matih.test", "one")).await;
    assert!(outcome.succeeded(), "{:?}", outcome.failures);
    assert!(w.provider.attempts() > w.provider.calls());
}

#[tokio::test]
async fn cancellation_lets_in_flight_calls_finish_and_saves() {
    let w = World::new(FakeConfig {
        latency: Duration::from_millis(50),
        ..FakeConfig::default()
    });
    let desired: Vec<DesiredResource> = (0..20)
        .map(|i| {
            DesiredResource::new(a("zone", &format!("z{i}"))).attr("name", format!("z{i}.test"))
        })
        .collect();
    let p = w.plan(&desired, PlanOptions::default()).await.unwrap();
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(70)).await;
        c.cancel();
    });
    let outcome = w
        .executor(5)
        .apply(&p, w.state().await, cancel)
        .await
        .unwrap();
    assert!(outcome.cancelled);
    assert!(!outcome.skipped.is_empty());
    let state = w.state().await;
    // Every object the fake holds was recorded: nothing in flight was forgotten.
    assert_eq!(state.resources.len(), w.provider.objects().len());
    assert!(state.resources.len() >= 5 && state.resources.len() < 20);
}

#[tokio::test]
async fn a_partial_create_is_recorded_tainted_and_replaced() {
    // A provider whose create fails after the object exists reports it; the engine must keep it.
    use async_trait::async_trait;
    use matihnet_core::{
        Attrs, ErrorKind, OperationContext, Provider, ProviderError, ProviderFailure,
        ProviderResult,
    };
    struct HalfDone(FakeProvider);
    #[async_trait]
    impl Provider for HalfDone {
        fn name(&self) -> &str {
            "half"
        }
        fn schemas(&self) -> Vec<ResourceSchema> {
            self.0.schemas()
        }
        async fn read(
            &self,
            c: &OperationContext,
            p: &Attrs,
        ) -> Result<Option<Attrs>, ProviderError> {
            self.0.read(c, p).await
        }
        async fn create(&self, c: &OperationContext, d: &Attrs) -> ProviderResult<Attrs> {
            let made = self.0.create(c, d).await?;
            Err(ProviderFailure {
                error: ProviderError::new(ErrorKind::Other, "waiting for the object timed out"),
                partial: Some(made),
            })
        }
        async fn update(
            &self,
            c: &OperationContext,
            p: &Attrs,
            d: &Attrs,
        ) -> ProviderResult<Attrs> {
            self.0.update(c, p, d).await
        }
        async fn delete(&self, c: &OperationContext, p: &Attrs) -> Result<(), ProviderError> {
            self.0.delete(c, p).await
        }
    }
    let provider = Arc::new(HalfDone(
        FakeProvider::new(schemas(), FakeConfig::default()).unwrap(),
    ));
    let backend = Arc::new(MemoryBackend::new());
    let desired = vec![DesiredResource::new(a("zone", "z")).attr("name", "z.test")];
    let state = State::new();
    let p = plan(
        PlanInput {
            desired: &desired,
            outputs: &[],
            state: &state,
            provider: provider.as_ref(),
            environment: "t",
        },
        &PlanOptions::default(),
    )
    .await
    .unwrap();
    let ex = Executor {
        provider: provider.clone(),
        backend: backend.clone(),
        observer: Arc::new(Silent),
        environment: "t".into(),
        options: ApplyOptions::default(),
    };
    let outcome = ex.apply(&p, state, CancellationToken::new()).await.unwrap();
    assert_eq!(outcome.failures.len(), 1);
    let state = backend.read().await.unwrap().unwrap();
    assert!(state.resources[&a("zone", "z")].tainted);
    let p = plan(
        PlanInput {
            desired: &desired,
            outputs: &[],
            state: &state,
            provider: provider.as_ref(),
            environment: "t",
        },
        &PlanOptions::default(),
    )
    .await
    .unwrap();
    let c = p.change(&a("zone", "z")).unwrap();
    assert_eq!(c.action, Action::Replace);
    assert!(c
        .replace_reason
        .as_deref()
        .unwrap_or("")
        .contains("tainted"));
}

#[tokio::test]
async fn configuration_errors_are_reported_all_at_once() {
    let w = World::new(FakeConfig::default());
    let desired = vec![
        DesiredResource::new(a("zone", "a")),
        DesiredResource::new(a("nope", "b")),
        DesiredResource::new(a("record", "r"))
            .attr("zone_id", Expr::reference(a("zone", "missing"), "id"))
            .attr("name", "x")
            .attr("values", Value::List(vec![]))
            .attr("bogus", 1),
    ];
    let err = w.plan(&desired, PlanOptions::default()).await.unwrap_err();
    let text = err.to_string();
    for needle in [
        "zone.a: attribute `name` is required",
        "no resource type `nope`",
        "zone.missing",
        "no attribute `bogus`",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in {text}");
    }
}

#[tokio::test]
async fn a_dependency_cycle_is_named() {
    let w = World::new(FakeConfig::default());
    let desired = vec![
        DesiredResource::new(a("zone", "a")).attr("name", Expr::reference(a("zone", "b"), "id")),
        DesiredResource::new(a("zone", "b")).attr("name", Expr::reference(a("zone", "a"), "id")),
    ];
    let err = w.plan(&desired, PlanOptions::default()).await.unwrap_err();
    assert!(
        err.to_string().starts_with("dependency cycle: zone."),
        "{err}"
    );
}

#[tokio::test]
async fn unprotecting_takes_effect_with_an_apply_that_changes_nothing_else() {
    let w = World::new(FakeConfig::default());
    let mut desired = config("child.matih.test", "one");
    desired[3].protect = true;
    w.apply(&desired).await;
    desired[3].protect = false;
    let p = w.plan(&desired, PlanOptions::default()).await.unwrap();
    assert!(!p.has_changes());
    assert!(w.apply_plan(&p, 10).await.succeeded());
    assert!(!w.state().await.resources[&a("zone", "platform")].protect);
    let destroy = w
        .plan(
            &[],
            PlanOptions {
                destroy: true,
                ..PlanOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(destroy.summary().destroy, 6);
}

#[tokio::test]
async fn a_grow_only_map_adds_keys_in_place_and_replaces_on_edits() {
    use std::collections::BTreeMap;
    let provider = Arc::new(
        FakeProvider::new(
            vec![ResourceSchema::new("subnet")
                .required_force_new("cidr")
                .optional_grow_only("ranges")
                .computed("id")],
            FakeConfig::default(),
        )
        .unwrap(),
    );
    let backend = Arc::new(MemoryBackend::new());
    backend.write(&State::new()).await.unwrap();
    let with = |ranges: &[(&str, &str)]| {
        let m: BTreeMap<String, Expr> = ranges
            .iter()
            .map(|(k, v)| (k.to_string(), Expr::from(*v)))
            .collect();
        vec![DesiredResource::new(a("subnet", "s"))
            .attr("cidr", "10.0.0.0/24")
            .attr("ranges", Expr::Map(m))]
    };
    let run = |desired: Vec<DesiredResource>| {
        let provider = provider.clone();
        let backend = backend.clone();
        async move {
            let state = backend.read().await.unwrap().unwrap();
            let p = plan(
                PlanInput {
                    desired: &desired,
                    outputs: &[],
                    state: &state,
                    provider: provider.as_ref(),
                    environment: "t",
                },
                &PlanOptions::default(),
            )
            .await
            .unwrap();
            let action = p.change(&a("subnet", "s")).unwrap().action;
            let ex = Executor {
                provider: provider.clone(),
                backend: backend.clone(),
                observer: Arc::new(Silent),
                environment: "t".into(),
                options: ApplyOptions::default(),
            };
            assert!(ex
                .apply(&p, state, CancellationToken::new())
                .await
                .unwrap()
                .succeeded());
            action
        }
    };
    assert_eq!(run(with(&[("pods", "10.1.0.0/16")])).await, Action::Create);
    assert_eq!(
        run(with(&[
            ("pods", "10.1.0.0/16"),
            ("services", "10.2.0.0/20")
        ]))
        .await,
        Action::Update
    );
    assert_eq!(
        run(with(&[
            ("pods", "10.9.0.0/16"),
            ("services", "10.2.0.0/20")
        ]))
        .await,
        Action::Replace
    );
    assert_eq!(run(with(&[("pods", "10.9.0.0/16")])).await, Action::Replace);
}

mod delete_order {
    //! Property: whatever the graph and the parallelism, a resource is deleted only after every
    //! resource that depends on it.
    use super::*;
    use matihnet_engine::{Event, Observer, OpKind};
    use proptest::prelude::*;
    use std::sync::Mutex;

    /// At the start of each delete, which resources the fake cloud still holds: a delete must
    /// not start while a dependent's object exists. ("Finished" events arrive only once the
    /// state records them, later than the call, so the cloud itself is the witness.)
    struct Order {
        cloud: Arc<FakeProvider>,
        seen: Mutex<Vec<(String, Vec<Address>)>>,
    }

    impl Observer for Order {
        fn on_event(&self, e: &Event) {
            if let Event::Started {
                address,
                kind: OpKind::Delete,
            } = e
            {
                let left: Vec<Address> = self
                    .cloud
                    .objects()
                    .values()
                    .filter_map(|o| o.tags.get("matihnet:address"))
                    .filter_map(|a| a.parse().ok())
                    .collect();
                self.seen.lock().unwrap().push((address.to_string(), left));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]
        #[test]
        fn deletes_wait_for_their_dependents(n in 2usize..25, edges in proptest::collection::vec((0usize..25, 0usize..25), 0..60), parallelism in 1usize..8) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let w = World::new(FakeConfig { latency: Duration::from_millis(1), ..FakeConfig::default() });
                let zone = |i: usize| a("zone", &format!("z{i}"));
                let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
                for (x, y) in edges {
                    let (x, y) = (x % n, y % n);
                    if x > y { deps[x].push(y); }
                }
                let desired: Vec<DesiredResource> = (0..n)
                    .map(|i| {
                        let mut r = DesiredResource::new(zone(i)).attr("name", format!("z{i}.test"));
                        for d in &deps[i] { r = r.depends_on(zone(*d)); }
                        r
                    })
                    .collect();
                w.apply(&desired).await;
                let p = w.plan(&[], PlanOptions { destroy: true, ..PlanOptions::default() }).await.unwrap();
                let order = Arc::new(Order { cloud: w.provider.clone(), seen: Mutex::new(Vec::new()) });
                let ex = Executor {
                    provider: w.provider.clone(),
                    backend: w.backend.clone(),
                    observer: order.clone(),
                    environment: "test".into(),
                    options: ApplyOptions { parallelism, still_running_every: Duration::from_secs(10) },
                };
                let outcome = ex.apply(&p, w.state().await, CancellationToken::new()).await.unwrap();
                assert!(outcome.succeeded());
                let seen = order.seen.lock().unwrap().clone();
                assert_eq!(seen.len(), n);
                for (x, ds) in deps.iter().enumerate() {
                    for d in ds {
                        // x depends on d: x's object is gone before d's delete starts.
                        let (_, left) = seen.iter().find(|(a, _)| *a == format!("zone.z{d}")).unwrap();
                        assert!(!left.contains(&zone(x)), "z{x} -> z{d}");
                    }
                }
            });
        }
    }
}

/// A backend that remembers the last state it finished writing, so an observer can check what
/// a crash at that instant would keep.
struct Witnessed {
    inner: MemoryBackend,
    last_written: std::sync::Mutex<Option<State>>,
}

#[async_trait::async_trait]
impl Backend for Witnessed {
    fn describe(&self) -> String {
        "witnessed".into()
    }
    async fn read(&self) -> Result<Option<State>, matihnet_state::StateError> {
        self.inner.read().await
    }
    async fn write(&self, state: &State) -> Result<(), matihnet_state::StateError> {
        // Slow writes widen the window in which a "complete" could run ahead of the file.
        tokio::time::sleep(Duration::from_millis(15)).await;
        self.inner.write(state).await?;
        *self.last_written.lock().unwrap() = Some(state.clone());
        Ok(())
    }
    async fn lock(
        &self,
        request: matihnet_state::LockRequest,
    ) -> Result<String, matihnet_state::StateError> {
        self.inner.lock(request).await
    }
    async fn unlock(&self, id: &str) -> Result<(), matihnet_state::StateError> {
        self.inner.unlock(id).await
    }
    async fn force_unlock(&self, id: &str) -> Result<(), matihnet_state::StateError> {
        self.inner.force_unlock(id).await
    }
    async fn lock_holder(
        &self,
    ) -> Result<Option<matihnet_state::LockInfo>, matihnet_state::StateError> {
        self.inner.lock_holder().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue9_item11_complete_is_announced_only_after_the_state_records_it() {
    use matihnet_engine::{Event, Observer, OpKind};
    struct Check {
        backend: Arc<Witnessed>,
        announced: std::sync::Mutex<Vec<(Address, OpKind)>>,
        broken: std::sync::Mutex<Vec<String>>,
    }
    impl Observer for Check {
        fn on_event(&self, e: &Event) {
            if let Event::Finished { address, kind, .. } = e {
                let written = self.backend.last_written.lock().unwrap().clone();
                let recorded = written.is_some_and(|s| s.resources.contains_key(address));
                let durable = match kind {
                    OpKind::Delete => !recorded,
                    _ => recorded,
                };
                if !durable {
                    self.broken
                        .lock()
                        .unwrap()
                        .push(format!("{kind:?} {address} announced before it was saved"));
                }
                self.announced
                    .lock()
                    .unwrap()
                    .push((address.clone(), *kind));
            }
        }
    }
    let backend = Arc::new(Witnessed {
        inner: MemoryBackend::new(),
        last_written: std::sync::Mutex::new(None),
    });
    backend.write(&State::new()).await.unwrap();
    let provider = Arc::new(
        FakeProvider::new(
            schemas(),
            FakeConfig {
                latency: Duration::from_millis(2),
                ..FakeConfig::default()
            },
        )
        .unwrap(),
    );
    let check = Arc::new(Check {
        backend: Arc::clone(&backend),
        announced: std::sync::Mutex::new(Vec::new()),
        broken: std::sync::Mutex::new(Vec::new()),
    });
    let desired: Vec<DesiredResource> = (0..40)
        .map(|i| {
            DesiredResource::new(a("zone", &format!("z{i}"))).attr("name", format!("z{i}.test"))
        })
        .collect();
    for destroy in [false, true] {
        let state = backend.read().await.unwrap().unwrap_or_default();
        let p = plan(
            PlanInput {
                desired: if destroy { &[] } else { &desired },
                outputs: &[],
                state: &state,
                provider: provider.as_ref(),
                environment: "test",
            },
            &PlanOptions {
                destroy,
                ..PlanOptions::default()
            },
        )
        .await
        .unwrap();
        let ex = Executor {
            provider: provider.clone(),
            backend: backend.clone(),
            observer: check.clone(),
            environment: "test".into(),
            options: ApplyOptions {
                parallelism: 10,
                still_running_every: Duration::from_secs(10),
            },
        };
        let outcome = ex.apply(&p, state, CancellationToken::new()).await.unwrap();
        assert!(outcome.succeeded());
    }
    assert!(
        check.broken.lock().unwrap().is_empty(),
        "{:?}",
        check.broken.lock().unwrap()
    );
    // Every resource is still announced, once per operation.
    assert_eq!(check.announced.lock().unwrap().len(), 80);
}

/// Issue 15: a refresh hands the reads of a kind the provider lists to it together, so a
/// no-change plan costs one call for that kind, not one per resource; drift and disappearance
/// are still seen per resource.
#[tokio::test]
async fn a_refresh_reads_listed_kinds_in_one_call_and_still_sees_each_resource() {
    let w = World::new(FakeConfig {
        batched_reads: vec!["zone".into(), "subnet".into()],
        ..FakeConfig::default()
    });
    let desired = config("child.matih.test", "one");
    let outcome = w.apply(&desired).await;
    assert!(outcome.succeeded(), "{:?}", outcome.failures);
    let before = matihnet_core::Provider::api_calls(w.provider.as_ref());
    let again = w.plan(&desired, PlanOptions::default()).await.unwrap();
    assert!(!again.has_changes(), "{:?}", again.summary());
    let after = matihnet_core::Provider::api_calls(w.provider.as_ref());
    let delta = |k: &str| after.get(k).copied().unwrap_or(0) - before.get(k).copied().unwrap_or(0);
    assert_eq!(delta("fake.zone.list"), 1, "{after:?}");
    assert_eq!(delta("fake.subnet.list"), 1, "{after:?}");
    assert_eq!(delta("fake.zone.read"), 0, "{after:?}");
    assert_eq!(
        delta("fake.network.read"),
        1,
        "a kind not listed is read alone"
    );
    assert_eq!(delta("fake.record.read"), 1);

    // A zone deleted outside matihnet is planned again, found through the listing.
    assert!(w.provider.delete_outside(&a("zone", "child")));
    let p = w.plan(&desired, PlanOptions::default()).await.unwrap();
    assert_eq!(action_of(&p, &a("zone", "child")), Action::Create);
    assert_eq!(action_of(&p, &a("zone", "platform")), Action::NoOp);
}

fn creates_and_deletes(w: &World) -> u64 {
    matihnet_core::Provider::api_calls(w.provider.as_ref())
        .iter()
        .filter(|(k, _)| k.ends_with(".create") || k.ends_with(".delete"))
        .map(|(_, n)| n)
        .sum()
}

fn attrs(pairs: &[(&str, &str)]) -> matihnet_core::Attrs {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect()
}

/// Issue 16: objects made outside matihnet are imported by id, planned as imports (a no-op when
/// they match the file, an update towards it when not), marked as this state's, and a plan
/// after the apply finds nothing to do.
#[tokio::test]
async fn imported_objects_are_recorded_marked_and_then_planned_like_any_other() {
    let w = World::new(FakeConfig::default());
    let net = w
        .provider
        .create_outside("network", &attrs(&[("cidr", "10.0.0.0/16")]));
    let sub = w.provider.create_outside(
        "subnet",
        &attrs(&[
            ("network_id", &net),
            ("cidr", "10.0.0.0/24"),
            ("label", "old"),
        ]),
    );
    let desired = config("child.matih.test", "new");
    let options = PlanOptions {
        imports: [(a("network", "main"), net.clone()), (a("subnet", "a"), sub)]
            .into_iter()
            .collect(),
        ..PlanOptions::default()
    };
    let p = w.plan(&desired, options.clone()).await.unwrap();
    let n = p.change(&a("network", "main")).unwrap();
    assert_eq!(
        (n.action, n.importing.as_deref()),
        (Action::NoOp, Some(net.as_str()))
    );
    let s = p.change(&a("subnet", "a")).unwrap();
    assert_eq!(s.action, Action::Update, "the label differs from the file");
    assert!(s.importing.is_some());
    assert_eq!(p.summary().import, 2);
    assert_eq!(p.summary().add, 4, "subnet b, the zones and the record");
    assert_eq!(
        w.provider.count_tagged(&a("network", "main")),
        0,
        "a plan marks nothing"
    );

    let outcome = w.apply_plan(&p, 10).await;
    assert!(outcome.succeeded(), "{:?}", outcome.failures);
    assert_eq!(
        (outcome.imported, outcome.changed, outcome.added),
        (2, 1, 4)
    );
    let state = w.state().await;
    assert_eq!(
        state.resources[&a("network", "main")].attributes["id"],
        Value::from(net.as_str())
    );
    assert_eq!(
        state.resources[&a("subnet", "a")].attributes["label"],
        Value::from("new")
    );
    assert_eq!(w.provider.count_tagged(&a("network", "main")), 1);
    // The import entries stay in the file; once done they plan nothing.
    let again = w.plan(&desired, options).await.unwrap();
    assert!(!again.has_changes(), "{:?}", again.summary());
}

#[tokio::test]
async fn an_import_of_nothing_another_kind_or_another_states_object_fails_the_plan() {
    let w = World::new(FakeConfig::default());
    let desired = config("child.matih.test", "one");
    // Another state's object: made by an apply of another lineage.
    let other = World {
        provider: Arc::clone(&w.provider),
        backend: Arc::new(MemoryBackend::new()),
    };
    futures::executor::block_on(other.backend.write(&State::new())).unwrap();
    assert!(other.apply(&desired[..1]).await.succeeded());
    let theirs = other.state().await.resources[&a("network", "main")].attributes["id"]
        .as_str()
        .unwrap()
        .to_string();
    let zone = w
        .provider
        .create_outside("zone", &attrs(&[("name", "matih.test")]));
    let before = w.state().await;
    for (id, wanted) in [
        ("no-such-id", "no `network` with id `no-such-id` exists"),
        (zone.as_str(), "is a `zone`, not a `network`"),
        (
            theirs.as_str(),
            "belongs to network.main of another matihnet state (environment test)",
        ),
    ] {
        let options = PlanOptions {
            imports: [(a("network", "main"), id.to_string())]
                .into_iter()
                .collect(),
            ..PlanOptions::default()
        };
        let e = w.plan(&desired, options).await.unwrap_err();
        assert!(
            matches!(e, PlanError::Import(_)) && e.to_string().contains(wanted),
            "{id}: {e}"
        );
    }
    assert_eq!(
        w.state().await,
        before,
        "a failed plan leaves the state alone"
    );
    let undeclared = PlanOptions {
        imports: [(a("network", "elsewhere"), zone)].into_iter().collect(),
        ..PlanOptions::default()
    };
    let e = w.plan(&desired, undeclared).await.unwrap_err();
    assert!(e.to_string().contains("is not declared in the file"), "{e}");
}

/// Issue 16: an existing zone is used, not owned: read and recorded, records placed in it,
/// never changed, and a destroy forgets it, leaving it and its foreign records in the cloud.
#[tokio::test]
async fn an_existing_zone_is_used_checked_and_left_in_place_by_destroy() {
    let w = World::new(FakeConfig::default());
    let zone = w
        .provider
        .create_outside("zone", &attrs(&[("name", "matih.test")]));
    let foreign = w.provider.create_outside(
        "record",
        &attrs(&[("zone_id", &zone), ("name", "www"), ("values", "1.2.3.4")]),
    );
    let mut desired = config("child.matih.test", "one");
    // Found by its domain, as a user names an existing zone.
    desired[3] = desired[3].clone().existing("matih.test");
    let p = w.plan(&desired, PlanOptions::default()).await.unwrap();
    let c = p.change(&a("zone", "platform")).unwrap();
    assert_eq!(c.action, Action::Read);
    assert_eq!(c.after.get("id"), Some(&Value::from(zone.as_str())));
    assert_eq!(p.summary().read, 1);
    let outcome = w.apply_plan(&p, 10).await;
    assert!(outcome.succeeded(), "{:?}", outcome.failures);
    let state = w.state().await;
    assert!(state.resources[&a("zone", "platform")].existing);
    assert_eq!(
        state.resources[&a("record", "child_ns")].attributes["zone_id"],
        Value::from(zone.as_str())
    );
    assert_eq!(
        w.provider.count_tagged(&a("zone", "platform")),
        0,
        "never marked"
    );
    let again = w.plan(&desired, PlanOptions::default()).await.unwrap();
    assert!(!again.has_changes(), "{:?}", again.summary());

    // The file names another domain for it: matihnet never changes an existing object.
    let mut wrong = desired.clone();
    wrong[3] = DesiredResource::new(a("zone", "platform"))
        .attr("name", "other.test")
        .existing("matih.test");
    let e = w.plan(&wrong, PlanOptions::default()).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "1 existing objects do not match the file (matihnet uses them and never changes them):\n  - zone.platform: `name` is \"matih.test\" in the existing object matih.test, the file says \"other.test\""
    );

    let destroy = w
        .plan(
            &desired,
            PlanOptions {
                destroy: true,
                ..PlanOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(action_of(&destroy, &a("zone", "platform")), Action::Forget);
    assert_eq!(
        action_of(&destroy, &a("record", "child_ns")),
        Action::Delete
    );
    let outcome = w.apply_plan(&destroy, 10).await;
    assert!(outcome.succeeded(), "{:?}", outcome.failures);
    assert!(w.state().await.resources.is_empty());
    let left = w.provider.objects();
    assert!(
        left.contains_key(&zone) && left.contains_key(&foreign),
        "{left:?}"
    );
    assert_eq!(left.len(), 2, "everything matihnet made is gone: {left:?}");
}

/// Issue 16: a renamed zone (its address changes, nothing else) is proposed as a move, and its
/// record follows it; declared moves work too. No object is created or deleted.
#[tokio::test]
async fn a_renamed_resource_moves_instead_of_being_replaced() {
    let w = World::new(FakeConfig::default());
    let desired = config("child.matih.test", "one");
    assert!(w.apply(&desired).await.succeeded());
    let renamed: Vec<DesiredResource> = desired
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if r.addr == a("zone", "child") {
                r.addr = a("zone", "kid");
            }
            if r.addr == a("record", "child_ns") {
                r.addr = a("record", "kid_ns");
                r = r.attr("values", Expr::reference(a("zone", "kid"), "name_servers"));
            }
            r
        })
        .collect();
    let calls = creates_and_deletes(&w);
    let p = w.plan(&renamed, PlanOptions::default()).await.unwrap();
    for (to, from) in [("kid", "child"), ("kid_ns", "child_ns")] {
        let kind = if to == "kid" { "zone" } else { "record" };
        let c = p.change(&a(kind, to)).unwrap();
        assert_eq!(c.action, Action::NoOp, "{to}");
        assert_eq!(c.moved_from, Some(a(kind, from)));
    }
    assert_eq!(p.summary().moved, 2);
    assert_eq!((p.summary().add, p.summary().destroy), (0, 0));
    assert!(p.has_changes(), "a move changes the state");
    assert!(w.apply_plan(&p, 10).await.succeeded());
    assert_eq!(creates_and_deletes(&w), calls, "nothing made or deleted");
    let state = w.state().await;
    assert!(state.resources.contains_key(&a("zone", "kid")));
    assert!(!state.resources.contains_key(&a("zone", "child")));
    assert_eq!(
        state.resources[&a("record", "kid_ns")].dependencies,
        vec![a("zone", "kid"), a("zone", "platform")]
    );
    assert!(!w
        .plan(&renamed, PlanOptions::default())
        .await
        .unwrap()
        .has_changes());

    // Declared: moves even when something else changes, which the plan then shows.
    let mut relabelled = renamed.clone();
    relabelled[1] = relabelled[1].clone().attr("label", "two");
    relabelled[1].addr = a("subnet", "first");
    let declared = PlanOptions {
        moves: vec![(a("subnet", "a"), a("subnet", "first"))],
        ..PlanOptions::default()
    };
    let p = w.plan(&relabelled, declared.clone()).await.unwrap();
    let c = p.change(&a("subnet", "first")).unwrap();
    assert_eq!(
        (c.action, c.moved_from.clone()),
        (Action::Update, Some(a("subnet", "a")))
    );
    assert!(w.apply_plan(&p, 10).await.succeeded());
    assert_eq!(creates_and_deletes(&w), calls);
    // Once made, the declared move is skipped.
    assert!(!w.plan(&relabelled, declared).await.unwrap().has_changes());
}
