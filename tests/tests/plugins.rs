//! Provider plugins end to end: the binary running its providers as plugin executables, the
//! lock file's checksums, discovery, a third-party plugin in Python, and every way a plugin can
//! break (exit mid-apply, hang, speak a newer protocol, write garbage to stdout), each a clear
//! error that names the plugin, the call and the resource, with the state of what finished saved.

use std::collections::BTreeSet;

use matihnet_e2e::Sandbox;

/// The fake example with its provider run as the `matihnet-provider-fake` plugin.
fn as_plugin() -> Sandbox {
    Sandbox::with_example("fake.toml").with_env("MATIHNET_BUILTIN_PROVIDERS", "plugin")
}

/// Every object in the fake cloud is in the state, once, and nothing else.
fn cloud_matches_state(s: &Sandbox) {
    let objects: Vec<String> = s.fake_objects().into_iter().map(|(_, a)| a).collect();
    let unique: BTreeSet<&String> = objects.iter().collect();
    assert_eq!(unique.len(), objects.len(), "no object twice: {objects:?}");
    let mut objects = objects.clone();
    objects.sort();
    let mut state = s.state_addresses();
    state.sort();
    assert_eq!(objects, state);
}

#[test]
fn a_built_in_provider_runs_as_its_plugin_and_is_locked() {
    let s = as_plugin();
    let apply = s.run(&["apply", "--auto-approve"]).expect_code(0);
    assert!(
        apply.stdout().contains("Apply complete!"),
        "{}",
        apply.stdout()
    );
    assert!(
        apply.stderr().contains("Recorded provider plugin `fake`"),
        "{}",
        apply.stderr()
    );
    let lock = std::fs::read_to_string(s.path("matihnet.providers.lock")).expect("lock file");
    assert!(lock.contains("[providers.fake]"), "{lock}");
    assert!(lock.contains("checksum = \"sha256:"), "{lock}");
    let again = s.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    assert!(again.stdout().contains("No changes."), "{}", again.stdout());
    assert!(
        !again.stderr().contains("Recorded"),
        "recorded once: {}",
        again.stderr()
    );
    cloud_matches_state(&s);

    let list = s.run(&["providers", "list"]).expect_code(0);
    assert!(list.stdout().contains("plugin "), "{}", list.stdout());
    assert!(list.stdout().contains("protocol 1"), "{}", list.stdout());

    // In-process and as a plugin, the same provider sees the same objects: nothing to change.
    s.run_with(
        &["plan", "--detailed-exitcode"],
        &[("MATIHNET_BUILTIN_PROVIDERS", "in-process")],
    )
    .expect_code(0);
}

#[test]
fn a_changed_plugin_is_refused_until_it_is_accepted() {
    let s = Sandbox::with_config(
        &std::fs::read_to_string(matihnet_e2e::repo_root().join("examples/fake.toml"))
            .expect("example")
            .replace(
                "[network]",
                "[providers.fake]\nsource = \"./bin/matihnet-provider-fake\"\ntimeout = \"2m\"\n\n[network]",
            ),
    );
    std::fs::create_dir(s.path("bin")).expect("bin dir");
    let copy = s.path("bin/matihnet-provider-fake");
    std::fs::copy(matihnet_e2e::plugin_binary("fake"), &copy).expect("copy plugin");
    s.run(&["apply", "--auto-approve"]).expect_code(0);

    // An executable with bytes appended still runs, and is another file.
    let mut bytes = std::fs::read(&copy).expect("plugin");
    bytes.extend_from_slice(b"changed");
    std::fs::write(&copy, bytes).expect("change plugin");
    let refused = s.run(&["plan"]).expect_code(1);
    let err = refused.stderr();
    assert!(err.contains("provider plugin `fake`"), "{err}");
    assert!(err.contains("matihnet providers lock"), "{err}");

    let lock = s.run(&["providers", "lock"]).expect_code(0);
    assert!(
        lock.stdout().contains("Accepted provider plugin `fake`"),
        "{}",
        lock.stdout()
    );
    s.run(&["plan", "--detailed-exitcode"]).expect_code(0);
}

#[test]
fn a_plugin_that_exits_mid_apply_loses_nothing_and_a_re_apply_adopts() {
    let s = as_plugin();
    // The fake aborts right after its 6th call took effect, before answering it.
    let failed = s
        .run_with(
            &["apply", "--auto-approve"],
            &[("MATIHNET_FAKE_ABORT_AFTER", "6")],
        )
        .expect_code(1);
    let err = failed.stderr();
    assert!(err.contains("provider plugin `fake`"), "{err}");
    assert!(err.contains("exited ("), "{err}");
    assert!(err.contains("during create of "), "{err}");
    // Calls run ten at a time, so calls after the 6th can finish before it aborts the plugin:
    // what is saved is what finished, which exists in the cloud, and not the whole file.
    let saved = s.state_addresses();
    let created: BTreeSet<String> = s.fake_objects().into_iter().map(|(_, a)| a).collect();
    assert!(!saved.is_empty(), "finished creates saved");
    assert!(
        saved.iter().all(|a| created.contains(a)),
        "saved only what was created: {saved:?}, cloud {created:?}"
    );

    s.run(&["apply", "--auto-approve"]).expect_code(0);
    s.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    cloud_matches_state(&s);
    assert!(
        saved.len() < s.state_addresses().len(),
        "the aborted apply did not save everything: {saved:?}"
    );
}

#[test]
fn a_plugin_that_never_answers_times_out_with_the_call_named() {
    let s = as_plugin();
    let failed = s
        .run_with(
            &["apply", "--auto-approve"],
            &[
                ("MATIHNET_FAKE_PLUGIN_MISBEHAVE", "hang-on-create"),
                ("MATIHNET_FAKE_PLUGIN_MISBEHAVE_AFTER", "2"),
                ("MATIHNET_PLUGIN_TIMEOUT", "2s"),
            ],
        )
        .expect_code(1);
    let err = failed.stderr();
    assert!(err.contains("did not answer create of "), "{err}");
    assert!(err.contains("within 2s"), "{err}");
    assert!(err.contains("[providers.fake] timeout"), "{err}");
    assert_eq!(
        s.state_addresses().len(),
        2,
        "the two creates that finished are saved"
    );

    s.run(&["apply", "--auto-approve"]).expect_code(0);
    cloud_matches_state(&s);
}

#[test]
fn a_plugin_that_writes_garbage_to_stdout_is_stopped() {
    let s = as_plugin();
    let failed = s
        .run_with(
            &["apply", "--auto-approve"],
            &[
                ("MATIHNET_FAKE_PLUGIN_MISBEHAVE", "garbage-on-create"),
                ("MATIHNET_FAKE_PLUGIN_MISBEHAVE_AFTER", "3"),
            ],
        )
        .expect_code(1);
    let err = failed.stderr();
    assert!(err.contains("not a protocol message"), "{err}");
    assert!(err.contains("creating "), "the garbage is shown: {err}");
    assert!(err.contains("logs to stderr"), "{err}");
    assert!(!s.state_addresses().is_empty(), "what finished is saved");

    s.run(&["apply", "--auto-approve"]).expect_code(0);
    cloud_matches_state(&s);
}

#[test]
fn a_crashing_plugin_s_stderr_is_in_the_error() {
    let s = as_plugin();
    let failed = s
        .run_with(
            &["apply", "--auto-approve"],
            &[("MATIHNET_FAKE_PLUGIN_MISBEHAVE", "exit-on-create")],
        )
        .expect_code(1);
    let err = failed.stderr();
    assert!(err.contains("exited (exit status: 101)"), "{err}");
    assert!(err.contains("its last stderr lines:"), "{err}");
    assert!(err.contains("the fake plugin was told to exit"), "{err}");
    // Nothing was created, and the state says so.
    assert!(s.state_addresses().is_empty());
}

#[test]
fn a_plugin_of_a_newer_protocol_is_refused_before_anything_is_planned() {
    let s = as_plugin();
    let failed = s
        .run_with(
            &["plan"],
            &[("MATIHNET_FAKE_PLUGIN_MISBEHAVE", "newer-protocol")],
        )
        .expect_code(1);
    let err = failed.stderr();
    assert!(err.contains("speaks protocol version 99"), "{err}");
    assert!(err.contains("this matihnet speaks 1"), "{err}");
    assert!(!s.state_path().exists() || s.state_addresses().is_empty());
}

#[test]
fn a_plugin_run_by_hand_says_what_it_is() {
    let out = std::process::Command::new(matihnet_e2e::plugin_binary("fake"))
        .env_remove("MATIHNET_PLUGIN_MAGIC_COOKIE")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run plugin");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("this is a matihnet provider plugin"), "{err}");
}

#[test]
fn an_unknown_plugin_is_reported_with_where_it_was_looked_for() {
    let s = Sandbox::with_config(
        &std::fs::read_to_string(matihnet_e2e::repo_root().join("examples/fake.toml"))
            .expect("example")
            .replace("provider = \"fake\"", "provider = \"nosuch\"")
            .replace("[network]", "[providers.nosuch]\n\n[network]"),
    );
    let dir = s.path("plugins");
    let failed = s
        .run_with(
            &["plan"],
            &[("MATIHNET_PLUGIN_DIR", dir.to_str().expect("utf-8"))],
        )
        .expect_code(1);
    let err = failed.stderr();
    assert!(
        err.contains("no provider plugin matihnet-provider-nosuch found"),
        "{err}"
    );
    assert!(err.contains(dir.to_str().expect("utf-8")), "{err}");

    // Without a [providers.NAME] section the name is a typo, not a plugin.
    let typo = Sandbox::with_config(
        &std::fs::read_to_string(matihnet_e2e::repo_root().join("examples/fake.toml"))
            .expect("example")
            .replace("provider = \"fake\"", "provider = \"fakee\""),
    );
    let err = typo.run(&["validate"]).expect_code(1).stderr();
    assert!(err.contains("did you mean \"fake\""), "{err}");
    assert!(err.contains("[providers.fakee]"), "{err}");
}

/// The Python plugin in `examples/plugins/inventory`: the protocol is not tied to Rust.
#[test]
fn a_third_party_python_plugin_plans_applies_and_destroys() {
    let example = matihnet_e2e::repo_root().join("examples/plugins/inventory");
    let s = Sandbox::with_config(
        &std::fs::read_to_string(example.join("matihnet.toml")).expect("example"),
    );
    std::fs::copy(
        example.join("matihnet-provider-inventory"),
        s.path("matihnet-provider-inventory"),
    )
    .expect("copy plugin");
    let apply = s.run(&["apply", "--auto-approve"]).expect_code(0);
    assert!(
        apply.stdout().contains("Apply complete!"),
        "{}",
        apply.stdout()
    );
    assert!(
        apply
            .stdout()
            .contains("platform_ingress_ip = \"203.0.113."),
        "{}",
        apply.stdout()
    );
    let inventory: serde_json::Value = serde_json::from_slice(
        &std::fs::read(s.path("inventory.json")).expect("the plugin's inventory"),
    )
    .expect("JSON");
    let objects = inventory["objects"].as_object().expect("objects").len();
    assert_eq!(objects, s.state_addresses().len());
    s.run(&["plan", "--detailed-exitcode"]).expect_code(0);

    // Drift seen through the plugin: an object removed from the inventory is planned again.
    let mut edited = inventory.clone();
    let zone = edited["objects"]
        .as_object()
        .expect("objects")
        .iter()
        .find(|(_, o)| o["tags"]["address"] == "dns_zone.acme")
        .map(|(id, _)| id.clone())
        .expect("the acme zone");
    edited["objects"]
        .as_object_mut()
        .expect("objects")
        .remove(&zone);
    std::fs::write(
        s.path("inventory.json"),
        serde_json::to_vec(&edited).expect("json"),
    )
    .expect("edit inventory");
    let plan = s.run(&["plan", "--detailed-exitcode"]).expect_code(2);
    assert!(plan.stdout().contains("dns_zone.acme"), "{}", plan.stdout());

    s.run(&["destroy", "--auto-approve"]).expect_code(0);
    let after: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.path("inventory.json")).expect("inventory"))
            .expect("JSON");
    assert_eq!(after["objects"].as_object().map(|o| o.len()), Some(0));
}
