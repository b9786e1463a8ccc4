//! The binary end to end against the fake provider (`provider = "fake"`): plan/apply/plan,
//! saved and stale plans, drift, crash safety, Ctrl-C, locking, protection and the state commands.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use matihnet_e2e::Sandbox;

fn example() -> Sandbox {
    Sandbox::with_example("fake.toml")
}

fn planned_additions(s: &Sandbox) -> usize {
    let plan = s.run(&["plan", "--json"]).expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&plan.stdout()).expect("plan JSON");
    v["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] == "create")
        .count()
}

#[test]
fn plan_apply_plan_reports_no_changes() {
    let s = example();
    let plan = s.run(&["plan", "--detailed-exitcode"]).expect_code(2);
    assert!(
        plan.stdout().contains("to add, 0 to change, 0 to destroy."),
        "{}",
        plan.stdout()
    );
    let apply = s.run(&["apply", "--auto-approve"]).expect_code(0);
    assert!(
        apply.stdout().contains("Apply complete!"),
        "{}",
        apply.stdout()
    );
    assert!(apply.stdout().contains("Creation complete after"));
    let again = s.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    assert!(again.stdout().contains("No changes."), "{}", again.stdout());
    // Every object in the cloud is in the state, once.
    let mut objects: Vec<String> = s.fake_objects().into_iter().map(|(_, a)| a).collect();
    objects.sort();
    assert_eq!(objects, s.state_addresses());
}

#[test]
fn apply_without_a_terminal_or_auto_approve_refuses() {
    let s = example();
    let r = s.run(&["apply"]).expect_code(1);
    assert!(r.stderr().contains("--auto-approve"), "{}", r.stderr());
    assert!(!s.state_path().exists(), "nothing was applied");
    assert!(s.fake_objects().is_empty());
}

#[test]
fn saved_plan_applies_once_and_a_stale_one_is_refused() {
    let s = example();
    s.run(&["plan", "-o", "first.plan"]).expect_code(0);
    s.run(&["plan", "-o", "second.plan"]).expect_code(0);
    let r = s.run(&["apply", "first.plan"]).expect_code(0);
    assert!(r.stdout().contains("Apply complete!"));
    let stale = s.run(&["apply", "second.plan"]).expect_code(1);
    assert!(stale.stderr().contains("stale"), "{}", stale.stderr());
    let shown = s.run(&["show", "first.plan"]).expect_code(0);
    assert!(shown.stdout().contains("Plan:"));
}

#[test]
fn drift_is_shown_apart_and_repaired() {
    let s = example();
    s.run(&["apply", "--auto-approve"]).expect_code(0);
    // Delete a tenant's NS delegation behind matihnet's back.
    s.edit_fake_cloud(|v| {
        let objects = v["objects"].as_object_mut().expect("objects");
        let id = objects
            .iter()
            .find(|(_, o)| {
                o["tags"]["matihnet:address"]
                    .as_str()
                    .is_some_and(|a| a.ends_with("_ns"))
            })
            .map(|(id, _)| id.clone())
            .expect("an NS record");
        objects.remove(&id);
    });
    let plan = s.run(&["plan", "--detailed-exitcode"]).expect_code(2);
    let out = plan.stdout();
    let drift_at = out
        .find("Objects have changed outside of matihnet")
        .expect("drift section");
    let actions_at = out
        .find("will perform the following actions")
        .expect("actions");
    assert!(drift_at < actions_at);
    assert!(out.contains("has been deleted"));
    assert!(
        out.contains("Plan: 1 to add, 0 to change, 0 to destroy."),
        "{out}"
    );
    s.run(&["apply", "--auto-approve"]).expect_code(0);
    s.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

#[test]
fn crash_after_every_provider_call_leaves_no_duplicate_and_no_orphan() {
    let total = planned_additions(&example());
    assert!(
        total >= 25,
        "the example should make a realistic graph, has {total}"
    );
    for k in 1..=total {
        let s = example();
        let k_text = k.to_string();
        let crashed = s.run_with(
            &["apply", "--auto-approve"],
            &[("MATIHNET_FAKE_ABORT_AFTER", k_text.as_str())],
        );
        assert_ne!(
            crashed.code(),
            Some(0),
            "K={k}: the apply should have been killed"
        );
        if s.state_path().exists() {
            // Whatever was written is a whole state.
            let _ = s.state();
        }
        s.run(&["apply", "--auto-approve"]).expect_code(0);
        let mut by_address: BTreeMap<String, usize> = BTreeMap::new();
        for (_, addr) in s.fake_objects() {
            *by_address.entry(addr).or_default() += 1;
        }
        let dupes: Vec<_> = by_address.iter().filter(|(_, n)| **n > 1).collect();
        assert!(dupes.is_empty(), "K={k}: duplicates {dupes:?}");
        let objects: Vec<String> = by_address.keys().cloned().collect();
        assert_eq!(
            objects,
            s.state_addresses(),
            "K={k}: cloud and state disagree"
        );
        assert_eq!(objects.len(), total, "K={k}");
        s.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    }
}

#[test]
fn a_failed_call_is_reported_with_its_address_and_the_rest_is_saved() {
    let s = example();
    let r = s
        .run_with(
            &["apply", "--auto-approve"],
            &[("MATIHNET_FAKE_FAIL_ADDRESS", "dns_zone.platform")],
        )
        .expect_code(1);
    assert!(r.stderr().contains("dns_zone.platform"), "{}", r.stderr());
    assert!(r.stderr().contains("not started"), "{}", r.stderr());
    let mut objects: Vec<String> = s.fake_objects().into_iter().map(|(_, a)| a).collect();
    objects.sort();
    assert_eq!(objects, s.state_addresses());
    s.run(&["apply", "--auto-approve"]).expect_code(0);
}

#[test]
fn interrupt_lets_in_flight_calls_finish_and_saves_the_state() {
    let s = example();
    let child = s
        .command(&["apply", "--auto-approve", "--parallelism", "2"])
        .env("MATIHNET_FAKE_LATENCY_MS", "300")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn apply");
    std::thread::sleep(Duration::from_millis(900));
    let pid = child.id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(kill.success());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Interrupt received"), "{stderr}");
    let mut objects: Vec<String> = s.fake_objects().into_iter().map(|(_, a)| a).collect();
    objects.sort();
    assert!(!objects.is_empty());
    assert_eq!(
        objects,
        s.state_addresses(),
        "everything created was recorded"
    );
    // The lock was released: the next apply proceeds at once.
    s.run(&["apply", "--auto-approve"]).expect_code(0);
}

#[test]
fn a_second_apply_waits_for_the_lock_then_names_the_holder() {
    let s = example();
    let mut first = s
        .command(&["apply", "--auto-approve"])
        .env("MATIHNET_FAKE_LATENCY_MS", "1000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn first apply");
    // Wait until the first one holds the lock.
    let info = s.path("matihnet.state.json.lock.info");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !info.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    let second = s
        .run(&["apply", "--auto-approve", "--lock-timeout", "1s"])
        .expect_code(1);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "it waited for the lock"
    );
    let err = second.stderr();
    assert!(err.contains("is locked"), "{err}");
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");
    assert!(err.contains("`apply`"), "{err}");
    assert_eq!(first.wait().expect("first apply").code(), Some(0));
}

#[test]
fn issue9_item13_two_applies_started_at_once_the_loser_names_the_winner() {
    for round in 0..6 {
        let s = example();
        let spawn = || {
            s.command(&["apply", "--auto-approve"])
                .env("MATIHNET_FAKE_LATENCY_MS", "200")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn apply")
        };
        let (a, b) = (spawn(), spawn());
        let (a, b) = (
            a.wait_with_output().expect("first"),
            b.wait_with_output().expect("second"),
        );
        let codes = [a.status.code(), b.status.code()];
        assert!(
            codes.contains(&Some(0)),
            "round {round}: one apply wins: {codes:?}"
        );
        for out in [&a, &b] {
            if out.status.code() == Some(1) {
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(err.contains("is locked"), "round {round}: {err}");
                assert!(
                    !err.contains("holder unknown") && err.contains("`apply`"),
                    "round {round}: the loser must name the holder: {err}"
                );
            }
        }
    }
}

#[test]
fn destroy_removes_everything_and_protection_is_honoured() {
    let s = example();
    s.run(&["apply", "--auto-approve"]).expect_code(0);
    let refused = s.run(&["destroy"]).expect_code(1);
    assert!(
        refused.stderr().contains("--auto-approve"),
        "{}",
        refused.stderr()
    );
    let r = s.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert!(r.stdout().contains("Destroy complete!"), "{}", r.stdout());
    assert!(s.fake_objects().is_empty());
    assert!(s.state_addresses().is_empty());

    let text = std::fs::read_to_string(s.path("matihnet.toml")).expect("config");
    let protected = text.replace("[dns]", "[dns]\nprotect = true");
    let p = Sandbox::with_config(&protected);
    p.run(&["apply", "--auto-approve"]).expect_code(0);
    let r = p.run(&["destroy", "--auto-approve"]).expect_code(1);
    assert!(r.stderr().contains("is protected"), "{}", r.stderr());
    assert!(!p.fake_objects().is_empty());
}

#[test]
fn a_corrupt_or_newer_state_is_refused_and_left_untouched() {
    let s = example();
    std::fs::write(s.state_path(), "{ this is not json").expect("write");
    let r = s.run(&["apply", "--auto-approve"]).expect_code(1);
    assert!(
        r.stderr().contains("not a matihnet state file"),
        "{}",
        r.stderr()
    );
    assert_eq!(
        std::fs::read_to_string(s.state_path()).expect("state"),
        "{ this is not json"
    );

    let newer = r#"{"version": 9, "serial": 1, "lineage": "x", "resources": []}"#;
    std::fs::write(s.state_path(), newer).expect("write");
    let r = s.run(&["plan"]).expect_code(1);
    assert!(r.stderr().contains("newer matihnet"), "{}", r.stderr());
    assert_eq!(
        std::fs::read_to_string(s.state_path()).expect("state"),
        newer
    );
}

#[test]
fn issue9_item9_suspicious_states_are_refused_by_every_command_and_left_untouched() {
    let s = example();
    s.run(&["apply", "--auto-approve"]).expect_code(0);
    let good = s.state();
    let first = good["resources"][0]["address"]
        .as_str()
        .expect("address")
        .to_string();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "newer than this build",
            Box::new(|v| v["matihnet_version"] = "99.0.0".into()),
        ),
        (
            "is not a version",
            Box::new(|v| v["matihnet_version"] = "banana".into()),
        ),
        ("lineage is empty", Box::new(|v| v["lineage"] = "".into())),
        (
            "which the state does not record",
            Box::new(|v| v["resources"][0]["dependencies"] = serde_json::json!(["network.gone"])),
        ),
        (
            "depends on itself",
            Box::new(move |v| {
                let me = v["resources"][0]["address"].clone();
                v["resources"][0]["dependencies"] = serde_json::json!([me]);
            }),
        ),
        (
            "form a cycle",
            Box::new(|v| {
                let a = v["resources"][0]["address"].clone();
                let b = v["resources"][1]["address"].clone();
                v["resources"][0]["dependencies"] = serde_json::json!([b]);
                v["resources"][1]["dependencies"] = serde_json::json!([a]);
            }),
        ),
    ];
    for (expected, edit) in cases {
        let mut bad = good.clone();
        edit(&mut bad);
        let text = serde_json::to_string_pretty(&bad).expect("json");
        std::fs::write(s.state_path(), &text).expect("write");
        for args in [
            &["plan", "--refresh=false"][..],
            &["apply", "--auto-approve", "--refresh=false"][..],
            &["state", "rm", first.as_str()][..],
            &["destroy", "--auto-approve"][..],
        ] {
            let r = s.run(args).expect_code(1);
            assert!(
                r.stderr().contains(expected),
                "{args:?} for {expected:?}: {}",
                r.stderr()
            );
            assert_eq!(
                std::fs::read_to_string(s.state_path()).expect("state"),
                text,
                "{args:?} changed a refused state ({expected})"
            );
        }
    }
}

#[test]
fn state_file_is_versioned_sorted_and_private() {
    use std::os::unix::fs::PermissionsExt;
    let s = example();
    s.run(&["apply", "--auto-approve"]).expect_code(0);
    let state = s.state();
    assert_eq!(state["version"], 1);
    assert!(state["serial"].as_u64().expect("serial") >= 1);
    assert_eq!(state["lineage"].as_str().expect("lineage").len(), 36);
    let addrs = s.state_addresses();
    let mut sorted = addrs.clone();
    sorted.sort();
    assert_eq!(addrs, sorted);
    let mode = std::fs::metadata(s.state_path())
        .expect("meta")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    // The second apply keeps a backup of what the first one wrote.
    let lineage = state["lineage"].clone();
    s.run(&["apply", "--auto-approve"]).expect_code(0);
    let backup: serde_json::Value = serde_json::from_slice(
        &std::fs::read(s.path("matihnet.state.json.backup")).expect("backup"),
    )
    .expect("backup JSON");
    assert_eq!(backup["lineage"], lineage);
}

#[test]
fn state_output_graph_and_show_commands() {
    let s = example();
    s.run(&["apply", "--auto-approve"]).expect_code(0);
    let list = s.run(&["state", "list"]).expect_code(0).stdout();
    assert!(list.lines().any(|l| l == "dns_zone.platform"), "{list}");
    let show = s
        .run(&["state", "show", "dns_zone.platform"])
        .expect_code(0)
        .stdout();
    assert!(show.contains("name_servers"), "{show}");
    let out = s.run(&["output", "--json"]).expect_code(0).stdout();
    let v: serde_json::Value = serde_json::from_str(&out).expect("outputs JSON");
    assert_eq!(
        v["platform_name_servers"]["value"].as_array().map(Vec::len),
        Some(4)
    );
    let graph = s.run(&["graph"]).expect_code(0).stdout();
    assert!(graph.starts_with("digraph"), "{graph}");
    assert!(graph.contains("-> \"dns_zone.platform\""), "{graph}");
    let json = s.run(&["show", "--json"]).expect_code(0).stdout();
    let v: serde_json::Value = serde_json::from_str(&json).expect("state JSON");
    assert_eq!(v["version"], 1);

    s.run(&["state", "rm", "dns_record.api"]).expect_code(0);
    assert!(!s.state_addresses().contains(&"dns_record.api".to_string()));
    let missing = s.run(&["state", "show", "dns_record.api"]).expect_code(1);
    assert!(missing.stderr().contains("not in the state"));
    // Forgotten but still in the cloud: the next apply adopts it instead of duplicating it.
    s.run(&["apply", "--auto-approve"]).expect_code(0);
    let apis = s
        .fake_objects()
        .into_iter()
        .filter(|(_, a)| a == "dns_record.api")
        .count();
    assert_eq!(apis, 1);
}

#[test]
fn target_plans_only_the_target_and_its_dependencies() {
    let s = example();
    let r = s
        .run(&["plan", "--json", "--target", "dns_record.api"])
        .expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).expect("plan JSON");
    let creating: Vec<&str> = v["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] == "create")
        .map(|c| c["address"].as_str().expect("address"))
        .collect();
    assert!(creating.contains(&"dns_record.api"));
    assert!(creating.contains(&"dns_zone.platform"));
    assert!(
        !creating.iter().any(|a| a.ends_with("_wildcard")),
        "{creating:?}"
    );
}

#[test]
fn force_unlock_refuses_a_live_holder_and_clears_a_dead_one() {
    let s = example();
    // What a killed process leaves: an info file, no OS lock. It blocks nothing.
    std::fs::write(
        s.path("matihnet.state.json.lock.info"),
        r#"{"id":"dead-1","who":"ci","host":"runner","pid":1,"operation":"apply","created":"2026-01-01T00:00:00Z","path":"x"}"#,
    )
    .expect("write");
    let r = s.run(&["force-unlock", "wrong-id"]).expect_code(1);
    assert!(
        r.stderr().contains("no lock with id wrong-id"),
        "{}",
        r.stderr()
    );
    s.run(&["force-unlock", "dead-1"]).expect_code(0);
    s.run(&["plan"]).expect_code(0);

    // A live holder keeps its lock: force-unlock names it and refuses.
    let mut holder = s
        .command(&["apply", "--auto-approve"])
        .env("MATIHNET_FAKE_LATENCY_MS", "200")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn apply");
    let info = s.path("matihnet.state.json.lock.info");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !info.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let id = serde_json::from_slice::<serde_json::Value>(&std::fs::read(&info).expect("info"))
        .expect("info JSON")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let r = s.run(&["force-unlock", &id]).expect_code(1);
    assert!(r.stderr().contains("live process"), "{}", r.stderr());
    assert_eq!(holder.wait().expect("apply").code(), Some(0));
}

/// moto gives every hosted zone the same name servers, which would hide a delegation pointing at
/// the wrong zone; the fake cloud gives each zone its own, so this catches it.
#[test]
fn each_delegation_lists_its_own_zones_name_servers() {
    let s = example();
    s.run(&["apply", "--auto-approve"]).expect_code(0);
    let state = s.state();
    let resources = state["resources"].as_array().expect("resources");
    let attrs = |addr: &str| {
        resources
            .iter()
            .find(|r| r["address"] == addr)
            .map(|r| r["attributes"].clone())
            .unwrap_or_else(|| panic!("{addr} in state"))
    };
    let mut seen = std::collections::BTreeSet::new();
    for child in [
        "acme", "bigcorp", "initech", "globex", "umbrella", "staging",
    ] {
        let zone_ns = attrs(&format!("dns_zone.{child}"))["name_servers"].clone();
        let record = attrs(&format!("dns_record.{child}_ns"))["values"].clone();
        assert_eq!(record, zone_ns, "{child}");
        assert!(
            seen.insert(zone_ns.to_string()),
            "{child}'s name servers are not distinct"
        );
    }
}

#[test]
fn long_operations_report_that_they_are_still_running() {
    let s = example();
    let r = s
        .run_with(
            &[
                "apply",
                "--auto-approve",
                "--target",
                "dns_zone.platform",
                "--progress-interval",
                "300ms",
            ],
            &[("MATIHNET_FAKE_LATENCY_MS", "1000")],
        )
        .expect_code(0);
    let out = r.stdout();
    assert!(out.contains("dns_zone.platform: Creating..."), "{out}");
    assert!(
        out.contains("dns_zone.platform: Still creating... [0s elapsed]"),
        "{out}"
    );
    assert!(
        out.contains("dns_zone.platform: Creation complete after 1s"),
        "{out}"
    );
}

#[test]
fn a_second_interrupt_exits_at_once_and_says_what_may_be_lost() {
    let s = example();
    let child = s
        .command(&["apply", "--auto-approve", "--parallelism", "1"])
        .env("MATIHNET_FAKE_LATENCY_MS", "3000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn apply");
    std::thread::sleep(Duration::from_millis(700));
    let pid = child.id().to_string();
    let started = Instant::now();
    for _ in 0..2 {
        assert!(std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill")
            .success());
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = child.wait_with_output().expect("wait");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "it did not wait for the 3 s call"
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Second interrupt"), "{stderr}");
    assert!(stderr.contains("adopts them"), "{stderr}");
    // What the abandoned call created is adopted by the next apply, not duplicated.
    s.run(&["apply", "--auto-approve"]).expect_code(0);
    let mut objects: Vec<String> = s.fake_objects().into_iter().map(|(_, a)| a).collect();
    objects.sort();
    assert_eq!(objects, s.state_addresses());
}

#[test]
fn validate_addresses_and_completions() {
    let s = example();
    let v = s.run(&["validate"]).expect_code(0);
    assert!(
        v.stdout().contains("The configuration is valid"),
        "{}",
        v.stdout()
    );
    let table = s.run(&["addresses"]).expect_code(0).stdout();
    assert!(table.starts_with("RANGE"), "{table}");
    assert!(table.contains("10.0.0.0/16"), "{table}");
    let bash = s.run(&["completions", "bash"]).expect_code(0).stdout();
    assert!(
        bash.contains("_matihnet()"),
        "{}",
        &bash[..bash.len().min(300)]
    );
}

#[test]
fn state_mv_renames_without_touching_the_cloud_and_refuses_what_it_cannot_do() {
    let s = example();
    s.run(&["apply", "--auto-approve"]).expect_code(0);
    let objects = s.fake_objects();
    let zone = s
        .state_addresses()
        .into_iter()
        .find(|a| a.starts_with("dns_zone.") && a != "dns_zone.platform")
        .expect("a child zone in the state");
    let renamed = "dns_zone.renamed";
    let moved = s.run(&["state", "mv", &zone, renamed]).expect_code(0);
    assert!(
        moved
            .stdout()
            .contains(&format!("Moved {zone} to {renamed}")),
        "{}",
        moved.stdout()
    );
    assert!(s.state_addresses().contains(&renamed.to_string()));
    assert!(!s.state_addresses().contains(&zone));
    // The file still names the old address: the renamed entry is otherwise identical to it, so
    // the plan proposes moving it back instead of a delete and a create (issue 16).
    let plan = s.run(&["plan", "--json"]).expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&plan.stdout()).expect("plan JSON");
    let change = |addr: &str| {
        v["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .find(|c| c["address"] == addr)
            .cloned()
    };
    let back = change(&zone).expect("the file's address is planned");
    assert_eq!(back["action"], "no_op", "{v}");
    assert_eq!(back["moved_from"], renamed, "{v}");
    assert!(change(renamed).is_none(), "{v}");

    // Refusals leave the state as it was.
    let before = std::fs::read(s.state_path()).expect("state");
    let taken = s
        .run(&["state", "mv", renamed, "dns_zone.platform"])
        .expect_code(1);
    assert!(
        taken.stderr().contains("is already in the state"),
        "{}",
        taken.stderr()
    );
    let kind = s
        .run(&["state", "mv", renamed, "dns_record.x"])
        .expect_code(1);
    assert!(
        kind.stderr().contains("a move keeps the kind"),
        "{}",
        kind.stderr()
    );
    let missing = s
        .run(&["state", "mv", "dns_zone.nope", "dns_zone.x"])
        .expect_code(1);
    assert!(
        missing.stderr().contains("is not in the state"),
        "{}",
        missing.stderr()
    );
    assert_eq!(std::fs::read(s.state_path()).expect("state"), before);

    // Moved back, nothing is left to do, and the cloud never saw a create or a delete.
    s.run(&["state", "mv", renamed, &zone]).expect_code(0);
    s.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    assert_eq!(s.fake_objects(), objects);
}
