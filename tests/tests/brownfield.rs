//! Brownfield end to end (issue 16), per cloud (AWS on moto, Azure and GCP on the local cloud):
//! objects made with the cloud's own API taken over by `[[import]]` and `existing`, checked by
//! `plan --detailed-exitcode`, left in place by destroy; and a tenant renamed in the file, by the
//! plan's move proposal and by `state mv`, with no object created or deleted in the cloud.

use matihnet_e2e::localcloud::LocalCloud;
use matihnet_e2e::moto::Moto;
use matihnet_e2e::Sandbox;
use serde_json::Value;

const SUB: &str = "00000000-0000-0000-0000-0000000000bf";

fn config(s: &Sandbox) -> String {
    std::fs::read_to_string(s.path("matihnet.toml")).expect("environment file")
}

fn set_config(s: &Sandbox, text: &str) {
    std::fs::write(s.path("matihnet.toml"), text).expect("write environment file");
}

/// Renames the tenant `slug` to `renamed` in the file, keeping its subdomain.
fn rename_tenant(s: &Sandbox, slug: &str, renamed: &str) {
    let text = config(s);
    let from = format!("slug = \"{slug}\"\n");
    assert!(text.contains(&from), "the example has tenant {slug}");
    set_config(
        s,
        &text.replacen(
            &from,
            &format!("slug = \"{renamed}\"\nsubdomain = \"{slug}\"\n"),
            1,
        ),
    );
}

/// The requests the local cloud served that create, change or delete something.
fn writes(cloud: &LocalCloud) -> Vec<(String, u64)> {
    let counts = cloud.get("/_localcloud/requests");
    counts["requests"]
        .as_object()
        .expect("request counts")
        .iter()
        .filter(|(op, _)| {
            op.split_whitespace()
                .any(|w| ["POST", "PUT", "PATCH", "DELETE"].contains(&w))
        })
        .map(|(op, n)| (op.clone(), n.as_u64().unwrap_or(0)))
        .collect()
}

/// A slug rename through the plan's move proposal (tenant `acme`, dedicated ingress) and through
/// `state mv` (tenant `initech`): `unchanged` says whether the cloud saw no create or delete.
fn renames_keep_every_object(s: &Sandbox, unchanged: &dyn Fn() -> Result<(), String>) {
    s.run(&["apply", "--auto-approve"]).expect_code(0);
    let before_state = s.state_addresses();
    unchanged().expect("baseline");

    rename_tenant(s, "acme", "acme-corp");
    let plan = s.run(&["plan", "--detailed-exitcode"]).expect_code(2);
    let out = plan.stdout();
    for moved in [
        "dns_zone.acme-corp (moved from dns_zone.acme)",
        "dns_record.acme-corp_apex (moved from dns_record.acme_apex)",
        "dns_record.acme-corp_ns (moved from dns_record.acme_ns)",
        "frontend.acme-corp (moved from frontend.acme)",
    ] {
        assert!(out.contains(moved), "no `{moved}` in:\n{out}");
    }
    assert!(
        out.contains("Plan: 0 to add, 0 to change, 0 to destroy, ") && out.contains(" to move."),
        "{out}"
    );
    s.run(&["apply", "--auto-approve"]).expect_code(0);
    s.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    unchanged().expect("a rename by move proposal creates and deletes nothing");

    rename_tenant(s, "initech", "initech-ltd");
    for (kind, suffix) in [
        ("dns_zone", ""),
        ("dns_record", "_ns"),
        ("dns_record", "_apex"),
        ("dns_record", "_wildcard"),
    ] {
        let from = format!("{kind}.initech{suffix}");
        let to = format!("{kind}.initech-ltd{suffix}");
        s.run(&["state", "mv", &from, &to]).expect_code(0);
    }
    s.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    unchanged().expect("a rename by state mv creates and deletes nothing");
    let after_state = s.state_addresses();
    assert_eq!(after_state.len(), before_state.len(), "{after_state:?}");
    assert!(after_state.contains(&"dns_zone.initech-ltd".to_string()));
}

/// The local cloud's write requests stay what they were after the first apply.
fn no_new_writes(cloud: &LocalCloud) -> impl Fn() -> Result<(), String> + '_ {
    let baseline = std::cell::RefCell::new(None::<Vec<(String, u64)>>);
    move || {
        let now = writes(cloud);
        let mut b = baseline.borrow_mut();
        match b.as_ref() {
            None => {
                *b = Some(now);
                Ok(())
            }
            Some(then) if *then == now => Ok(()),
            Some(then) => Err(format!("writes were {then:?}, now {now:?}")),
        }
    }
}

#[test]
fn gke_tenant_renames_keep_every_object() {
    let cloud = LocalCloud::start("10ms");
    let s = Sandbox::with_example("gke.toml").with_env("MATIHNET_GCP_ENDPOINT", cloud.endpoint());
    renames_keep_every_object(&s, &no_new_writes(&cloud));
}

#[test]
fn aks_tenant_renames_keep_every_object() {
    let cloud = LocalCloud::start("10ms");
    let s = Sandbox::with_example("aks.toml")
        .with_env("MATIHNET_AZURE_ENDPOINT", cloud.endpoint())
        .with_env("AZURE_SUBSCRIPTION_ID", SUB);
    renames_keep_every_object(&s, &no_new_writes(&cloud));
}

#[test]
fn eks_tenant_renames_keep_every_object() {
    let moto = Moto::start();
    moto.reset();
    let mut s = Sandbox::with_example("eks.toml");
    for (k, v) in moto.env() {
        s = s.with_env(k, v);
    }
    // moto counts nothing itself: every object, by id and tags, must stay as it was.
    let baseline = std::cell::RefCell::new(None::<Value>);
    let unchanged = || {
        let now = moto.inventory();
        let mut b = baseline.borrow_mut();
        match b.as_ref() {
            None => {
                *b = Some(now);
                Ok(())
            }
            Some(then) if *then == now => Ok(()),
            Some(then) => Err(format!(
                "the inventory changed:\nbefore {then}\nafter {now}"
            )),
        }
    };
    renames_keep_every_object(&s, &unchanged);
}
