//! The provider conformance suite: every provider (the fake, AWS on moto, Azure and GCP on the
//! local cloud) runs the same cases through the `Provider` trait alone, on the resources the
//! example environment maps to:
//! - lifecycle: create in dependency order, read back what was created, delete in reverse order,
//!   read reports it gone, and a second delete of what is gone is success;
//! - adoption: a create repeated with the same address and lineage (a run killed after its
//!   create, before the state recorded it) adopts the object, with the same id, never a copy;
//! - drift: an object deleted outside matihnet (the `acme` delegation, through the cloud's own
//!   API) reads as gone, and a create makes it again;
//! - ownership: a create from another state's lineage never takes the object over (it is
//!   refused where names are unique, or gets an object of its own where they are not), for
//!   every kind whose objects carry ownership marks (each provider lists those that cannot);
//! - import: every object imported by the id its create recorded (a zone by its domain too)
//!   reads as its create recorded it, except the attributes the cloud does not hold (each
//!   provider lists them with the reason); an id of the same format naming nothing is
//!   `NotFound`, another kind's id is `Rejected`, another state's object is `Rejected`, and an
//!   import that marks the object under a new address makes a create there adopt it.
//!
//! Each cloud's cases run twice: with the provider in-process, and as its plugin executable
//! (`matihnet-provider-{aws,azure,gcp}`) behind the plugin protocol, built from the same
//! `ProviderConfig` by the same factory, so both sides of the boundary give the same results.

use std::collections::BTreeMap;
use std::sync::Arc;

use matihnet_core::{
    Address, Attrs, DesiredResource, ErrorKind, OperationContext, Provider, ProviderConfig,
    ProviderFactory,
};
use matihnet_e2e::localcloud::LocalCloud;
use matihnet_e2e::moto::Moto;

const SUB: &str = "00000000-0000-0000-0000-0000000000cc";

/// The example's resources as `provider` maps them.
fn desired(example: &str, provider: &dyn Provider) -> Vec<DesiredResource> {
    let path = matihnet_e2e::repo_root().join("examples").join(example);
    let text = std::fs::read_to_string(&path).expect("example");
    let vars = |name: &str| (name == "AZURE_SUBSCRIPTION_ID").then(|| SUB.to_string());
    let loaded = matihnet_net::load(example, &text, &vars).expect("the example loads");
    provider.map_resources(matihnet_net::expand(&loaded.env, &loaded.plan))
}

fn ctx(addr: &Address, lineage: &str) -> OperationContext {
    OperationContext {
        addr: addr.clone(),
        environment: "prod".into(),
        lineage: lineage.into(),
    }
}

/// Dependencies first, as the engine would order them.
fn in_dependency_order(desired: &[DesiredResource]) -> Vec<&DesiredResource> {
    let mut done: Vec<Address> = Vec::new();
    let mut out = Vec::new();
    while out.len() < desired.len() {
        let before = out.len();
        for r in desired {
            if !done.contains(&r.addr) && r.dependencies().iter().all(|d| done.contains(d)) {
                done.push(r.addr.clone());
                out.push(r);
            }
        }
        assert!(out.len() > before, "the mapped resources have a cycle");
    }
    out
}

fn resolved(r: &DesiredResource, created: &BTreeMap<Address, Attrs>) -> Attrs {
    let lookup = |a: &Address| created.get(a);
    r.attrs
        .iter()
        .map(|(k, e)| {
            let v = e
                .resolve(&lookup)
                .unwrap_or_else(|| panic!("{}: `{k}` refers to an attribute nobody set", r.addr));
            (k.clone(), v)
        })
        .collect()
}

fn id(attrs: &Attrs) -> String {
    attrs
        .get("id")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

/// Deletes the `acme` NS delegation behind the provider's back, through the cloud's own API.
type DeleteOutside<'a> = &'a (dyn Fn() + Sync);

/// What a provider cannot do alike for every kind, each with the reason.
#[derive(Default)]
struct Exempt<'a> {
    /// Kinds whose objects carry no ownership marks (adoption there goes by the deterministic
    /// name inside objects that do carry them): `(kind, reason)`.
    unmarked: &'a [(&'a str, &'a str)],
    /// Attributes a create records that the cloud does not hold, so an import cannot return
    /// them (the engine fills them from the file): `(kind, attribute, reason)`.
    not_held: &'a [(&'a str, &'a str, &'a str)],
    /// Kinds whose objects take marks but whose create finds its object by something the
    /// address fixes (a name, a caller reference), so an import under a new address cannot make
    /// a create there adopt it: `(kind, reason)`.
    not_movable: &'a [(&'a str, &'a str)],
}

/// An id of the same format as `id` (of `kind`) that names no object.
type Missing<'a> = &'a (dyn Fn(&str, &str) -> String + Sync);

async fn conform(
    provider: Arc<dyn Provider>,
    example: &str,
    exempt: Exempt<'_>,
    missing: Missing<'_>,
    delete_outside: DeleteOutside<'_>,
) {
    let unmarked = exempt.unmarked;
    let p = provider.as_ref();
    let name = p.name().to_string();
    let lineage = uuid_like("a");
    let foreign = uuid_like("b");
    let desired = desired(example, p);
    let order = in_dependency_order(&desired);

    // Lifecycle, with adoption and ownership checked on the first object of every kind.
    let mut created: BTreeMap<Address, Attrs> = BTreeMap::new();
    let mut kinds_seen: Vec<String> = Vec::new();
    for r in &order {
        let attrs = resolved(r, &created);
        let c = ctx(&r.addr, &lineage);
        let mut made = p
            .create(&c, &attrs)
            .await
            .unwrap_or_else(|f| panic!("{name}: create {}: {}", r.addr, f.error.message));
        let read = p
            .read(&c, &made)
            .await
            .unwrap_or_else(|e| panic!("{name}: read {}: {}", r.addr, e.message))
            .unwrap_or_else(|| panic!("{name}: {} is not there right after its create", r.addr));
        for (k, v) in &attrs {
            if let Some(back) = read.get(k) {
                assert_eq!(back, v, "{name}: {} reads back {k} differently", r.addr);
            }
        }
        if !kinds_seen.contains(&r.addr.kind) {
            kinds_seen.push(r.addr.kind.clone());
            let again = p.create(&c, &attrs).await.unwrap_or_else(|f| {
                panic!(
                    "{name}: a repeated create of {} must adopt its own object: {}",
                    r.addr, f.error.message
                )
            });
            assert_eq!(
                id(&again),
                id(&made),
                "{name}: {} adopted another object",
                r.addr
            );
            // What the state would record: the last create's answer (an etag moves on).
            made = again;
            let exempt = unmarked.iter().any(|(k, _)| *k == r.addr.kind);
            if !exempt {
                let other = ctx(&r.addr, &foreign);
                match p.create(&other, &attrs).await {
                    // Where names are unique (ARM, GCP) the other state is refused...
                    Err(f) => assert!(
                        matches!(f.error.kind, ErrorKind::Rejected | ErrorKind::Conflict),
                        "{name}: {}: refused for the wrong reason: {:?} {}",
                        r.addr,
                        f.error.kind,
                        f.error.message
                    ),
                    // ...where they are not (EC2, the fake) it gets an object of its own;
                    // either way ours is never taken over.
                    Ok(theirs) => {
                        assert_ne!(
                            id(&theirs),
                            id(&made),
                            "{name}: {} was taken over by another state's lineage",
                            r.addr
                        );
                        p.delete(&other, &theirs).await.unwrap_or_else(|e| {
                            panic!("{name}: delete the other state's {}: {}", r.addr, e.message)
                        });
                    }
                }
            }
        }
        created.insert(r.addr.clone(), made);
    }

    // Drift: deleted outside matihnet, it reads as gone, and a create makes it again.
    let delegation = Address::new("dns_record", "acme_ns");
    let c = ctx(&delegation, &lineage);
    let recorded = created[&delegation].clone();
    delete_outside();
    let gone = p
        .read(&c, &recorded)
        .await
        .unwrap_or_else(|e| panic!("{name}: read after an outside delete: {}", e.message));
    assert!(
        gone.is_none(),
        "{name}: a delegation deleted outside still reads as there"
    );
    let wanted = resolved(
        desired
            .iter()
            .find(|r| r.addr == delegation)
            .expect("the example delegates acme"),
        &created,
    );
    let again = p
        .create(&c, &wanted)
        .await
        .unwrap_or_else(|f| panic!("{name}: re-create after drift: {}", f.error.message));
    assert!(
        p.read(&c, &again).await.ok().flatten().is_some(),
        "{name}: the re-created delegation is not there"
    );
    created.insert(delegation, again);

    import_cases(p, &order, &created, &lineage, &foreign, &exempt, missing).await;

    for r in order.iter().rev() {
        let c = ctx(&r.addr, &lineage);
        let prior = &created[&r.addr];
        p.delete(&c, prior)
            .await
            .unwrap_or_else(|e| panic!("{name}: delete {}: {}", r.addr, e.message));
        let after = p
            .read(&c, prior)
            .await
            .unwrap_or_else(|e| panic!("{name}: read {} after delete: {}", r.addr, e.message));
        // Azure resource groups made beforehand are used, never owned: they stay.
        if r.addr.kind != "resource_group" {
            assert!(
                after.is_none(),
                "{name}: {} is still there after delete",
                r.addr
            );
        }
        p.delete(&c, prior).await.unwrap_or_else(|e| {
            panic!(
                "{name}: deleting {} again (already gone) must succeed: {}",
                r.addr, e.message
            )
        });
    }
}

/// Whether an import answered what the create recorded: every key of `made`, except those the
/// provider lists as not held. A list of texts may come in another order: the clouds keep sets
/// (subnets, name servers, associations), and a read keeps the recorded order only when it has
/// one to keep, which an import has not.
fn import_differences(kind: &str, made: &Attrs, got: &Attrs, exempt: &Exempt<'_>) -> Vec<String> {
    let sorted = |v: &matihnet_core::Value| match v {
        matihnet_core::Value::List(items) => {
            let mut items = items.clone();
            items.sort_by_key(|i| format!("{i:?}"));
            matihnet_core::Value::List(items)
        }
        other => other.clone(),
    };
    made.iter()
        .filter(|(k, _)| {
            !exempt
                .not_held
                .iter()
                .any(|(kd, a, _)| *kd == kind && a == k)
        })
        .filter_map(|(k, v)| match got.get(k) {
            Some(g) if sorted(g) == sorted(v) => None,
            Some(g) => Some(format!("{k}: made {v:?}, imported {g:?}")),
            None => Some(format!("{k}: made {v:?}, not imported")),
        })
        .collect()
}

async fn import_cases(
    p: &dyn Provider,
    order: &[&DesiredResource],
    created: &BTreeMap<Address, Attrs>,
    lineage: &str,
    foreign: &str,
    exempt: &Exempt<'_>,
    missing: Missing<'_>,
) {
    let name = p.name().to_string();
    // By id, every object, as its create recorded it; a zone by its domain as well.
    let mut wrong = Vec::new();
    for r in order {
        let made = &created[&r.addr];
        let kind = r.addr.kind.as_str();
        let mut ids = vec![id(made)];
        if kind == "dns_zone" {
            let domain = made
                .get("name")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            ids.push(domain.to_string());
            ids.push(format!("{domain}."));
        }
        for i in ids {
            match p.import(&ctx(&r.addr, lineage), &i, false).await {
                Ok(got) => wrong.extend(
                    import_differences(kind, made, &got, exempt)
                        .into_iter()
                        .map(|d| format!("{} imported by `{i}`: {d}", r.addr)),
                ),
                Err(e) => wrong.push(format!("{} imported by `{i}`: {e}", r.addr)),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{name}: imports differ from what the creates recorded:\n{}",
        wrong.join("\n")
    );

    // The first object of every kind: refusals, and marking.
    let mut firsts: Vec<&DesiredResource> = Vec::new();
    for r in order {
        if !firsts.iter().any(|f| f.addr.kind == r.addr.kind) {
            firsts.push(r);
        }
    }
    for r in &firsts {
        let kind = r.addr.kind.as_str();
        let own = id(&created[&r.addr]);
        let c = ctx(&r.addr, lineage);
        let nothing = missing(kind, &own);
        match p.import(&c, &nothing, false).await {
            Err(e) => assert_eq!(
                e.kind,
                ErrorKind::NotFound,
                "{name}: importing the nonexistent {kind} `{nothing}`: {}",
                e.message
            ),
            Ok(_) => panic!("{name}: the nonexistent {kind} `{nothing}` was imported"),
        }
        for other in firsts.iter().filter(|o| o.addr.kind != kind) {
            let theirs = id(&created[&other.addr]);
            match p.import(&c, &theirs, false).await {
                Err(e) => assert_eq!(
                    e.kind,
                    ErrorKind::Rejected,
                    "{name}: the {} id `{theirs}` imported as a {kind}: {}",
                    other.addr.kind,
                    e.message
                ),
                Ok(_) => panic!(
                    "{name}: the {} id `{theirs}` was imported as a {kind}",
                    other.addr.kind
                ),
            }
        }
        if exempt.unmarked.iter().any(|(k, _)| *k == kind) {
            continue;
        }
        match p.import(&ctx(&r.addr, foreign), &own, false).await {
            Err(e) => assert_eq!(
                e.kind,
                ErrorKind::Rejected,
                "{name}: another state imported {}: {}",
                r.addr,
                e.message
            ),
            Ok(_) => panic!("{name}: another state's lineage imported {}", r.addr),
        }
        if exempt.not_movable.iter().any(|(k, _)| *k == kind) {
            continue;
        }
        // Marked under a new address, the object is that address's: a create there adopts it.
        let moved = Address::new(kind, format!("{}_moved", r.addr.name));
        let m = ctx(&moved, lineage);
        p.import(&m, &own, true)
            .await
            .unwrap_or_else(|e| panic!("{name}: import {} as {moved}: {}", r.addr, e.message));
        let attrs = resolved(r, created);
        let adopted = p
            .create(&m, &attrs)
            .await
            .unwrap_or_else(|f| panic!("{name}: create {moved}: {}", f.error.message));
        assert_eq!(
            id(&adopted),
            own,
            "{name}: {moved} made a new object instead of adopting the one marked for it"
        );
        // Back as it was, for the deletes.
        p.import(&c, &own, true)
            .await
            .unwrap_or_else(|e| panic!("{name}: import {} back: {}", r.addr, e.message));
        let back = p
            .create(&c, &attrs)
            .await
            .unwrap_or_else(|f| panic!("{name}: create {} again: {}", r.addr, f.error.message));
        assert_eq!(
            id(&back),
            own,
            "{name}: {} marked back is not adopted",
            r.addr
        );
    }
}

fn uuid_like(seed: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{seed}{nanos:031x}")
}

/// Where a provider runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    InProcess,
    Plugin,
}

/// The provider `factory` builds from `config`, in-process or as plugin `name`.
async fn connect(
    mode: Mode,
    name: &str,
    factory: &dyn ProviderFactory,
    config: ProviderConfig,
) -> Arc<dyn Provider> {
    match mode {
        Mode::InProcess => factory.connect(&config).await.expect("connect"),
        Mode::Plugin => {
            let spec = matihnet_plugin::PluginSpec::new(name, matihnet_e2e::plugin_binary(name));
            let plugin = matihnet_plugin::PluginFactory::new(spec);
            let provider = plugin.connect(&config).await.expect("the plugin connects");
            assert_eq!(provider.name(), name);
            provider
        }
    }
}

fn config(region: &str, endpoint: String, settings: serde_json::Value) -> ProviderConfig {
    let serde_json::Value::Object(settings) = settings else {
        panic!("settings are an object");
    };
    ProviderConfig {
        environment: "prod".into(),
        region: region.into(),
        endpoint: Some(endpoint),
        rate_limits: Default::default(),
        settings,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn the_fake_provider_conforms() {
    let provider = matihnet_provider_fake::FakeProvider::new(
        matihnet_net::neutral_schemas(),
        matihnet_provider_fake::FakeConfig::default(),
    )
    .expect("fake provider");
    let provider = Arc::new(provider);
    let cloud = Arc::clone(&provider);
    let outside = move || {
        assert!(cloud.delete_outside(&Address::new("dns_record", "acme_ns")));
    };
    let missing = |_: &str, id: &str| format!("{id}-missing");
    runtime().block_on(conform(
        provider,
        "fake.toml",
        Exempt::default(),
        &missing,
        &outside,
    ));
}

#[test]
fn the_azure_provider_conforms_on_the_local_cloud() {
    azure_conforms(Mode::InProcess);
}

#[test]
fn the_azure_provider_conforms_as_a_plugin() {
    azure_conforms(Mode::Plugin);
}

fn azure_conforms(mode: Mode) {
    let cloud = LocalCloud::start("10ms");
    let rt = runtime();
    let config = config(
        "westeurope",
        cloud.endpoint(),
        serde_json::json!({
            "subscription_id": SUB,
            "resource_group": "matih-prod",
            "ingress_resource_group": "matih-prod-ingress",
        }),
    );
    let factory = matihnet_provider_azure::AzureFactory;
    let provider = rt.block_on(connect(mode, "azure", &factory, config));
    let outside = || {
        let path = format!("/subscriptions/{SUB}/resourceGroups/matih-prod/providers/Microsoft.Network/dnsZones/matih.ai/NS/acme?api-version=2018-05-01");
        assert_eq!(cloud.request("DELETE", &path, None).0, 200);
    };
    // An ARM id ends in the object's name: another name is another object.
    let missing = |_: &str, id: &str| format!("{id}-missing");
    rt.block_on(conform(
        provider,
        "aks.toml",
        Exempt {
            unmarked: &[(
                "subnet",
                "ARM subnets take no tags: a subnet is ours by its name inside our own VNet",
            )],
            not_held: &[
                (
                    "subnet",
                    "purpose",
                    "a model-only role that ARM subnets cannot record (they take no tags)",
                ),
                (
                    "subnet",
                    "zone",
                    "an ARM subnet spans its region's zones: it has none",
                ),
                (
                    "frontend",
                    "purpose",
                    "a model-only role (platform or tenant) that no tag records",
                ),
            ],
            ..Exempt::default()
        },
        &missing,
        &outside,
    ));
}

#[test]
fn the_gcp_provider_conforms_on_the_local_cloud() {
    gcp_conforms(Mode::InProcess);
}

#[test]
fn the_gcp_provider_conforms_as_a_plugin() {
    gcp_conforms(Mode::Plugin);
}

fn gcp_conforms(mode: Mode) {
    let cloud = LocalCloud::start("10ms");
    let rt = runtime();
    let config = config(
        "europe-west1",
        cloud.endpoint(),
        serde_json::json!({ "project": "matih-prod" }),
    );
    let factory = matihnet_provider_gcp::GcpFactory;
    let provider = rt.block_on(connect(mode, "gcp", &factory, config));
    let outside = || {
        let path =
            "/dns/v1/projects/matih-prod/managedZones/matih-prod-platform/rrsets/acme.matih.ai./NS";
        assert_eq!(cloud.request("DELETE", path, None).0, 200);
    };
    // A self link or zone id ends in the object's name, another name is another object; a
    // record's id names another record of its zone.
    let missing = |kind: &str, id: &str| match id.split_once('/') {
        Some((zone, rest)) if kind == "dns_record" => format!("{zone}/nothing.{rest}"),
        _ => format!("{id}-missing"),
    };
    rt.block_on(conform(
        provider,
        "gke.toml",
        Exempt {
            unmarked: &[("dns_record", "Cloud DNS record sets take no labels: a record is ours by its name inside our own zone")],
            not_held: &[
                ("network", "cidr", "a custom-mode network has no range of its own: its subnetworks hold them"),
                ("network", "secondary_cidrs", "a custom-mode network has no range of its own: its subnetworks hold them"),
                ("network", "region", "a network is global: only its subnetworks have a region"),
                ("subnet", "purpose", "a model-only role that no label or field records (subnetworks take no labels)"),
                ("subnet", "zone", "a subnetwork is regional: it has no zone"),
                ("frontend", "purpose", "a model-only role (platform or tenant) that no label records"),
            ],
            not_movable: &[
                ("network", "a network's marks are in its description, which cannot change, and networks take no labels"),
                ("subnet", "a subnetwork's marks are in its description, which cannot change, and subnetworks take no labels"),
            ],
        },
        &missing,
        &outside,
    ));
}

/// An AWS id that names nothing: a record's id names another record of its zone; every other
/// id (EC2's `vpc-…`, a load balancer ARN, a zone's `Z…`) ends in generated characters, and
/// another last character is another object.
fn aws_missing(kind: &str, id: &str) -> String {
    if kind == "dns_record" {
        if let Some((zone, rest)) = id.split_once('/') {
            return format!("{zone}/nothing.{rest}");
        }
    }
    let mut s = id.to_string();
    let last = s.pop().unwrap_or('0');
    s.push(if last == '0' { '1' } else { '0' });
    s
}

/// One moto for both AWS cases: they run one after the other (moto's state is reset between
/// them), since the SDK's credential chain reads the process environment, which both set.
static MOTO: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn the_aws_provider_conforms_on_moto() {
    aws_conforms(Mode::InProcess);
}

#[test]
fn the_aws_provider_conforms_on_moto_as_a_plugin() {
    aws_conforms(Mode::Plugin);
}

fn aws_conforms(mode: Mode) {
    let _one_at_a_time = MOTO
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let moto = Moto::start();
    moto.reset();
    // The SDK's credential chain reads the process environment (a plugin inherits it); these
    // are the only tests of this binary that build an AWS client.
    for (k, v) in moto.env() {
        std::env::set_var(k, v);
    }
    let rt = runtime();
    let config = config(
        "eu-west-1",
        moto.endpoint(),
        serde_json::json!({
            "availability_zones": ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
            "nat": "per-az",
        }),
    );
    let factory = matihnet_provider_aws::AwsFactory;
    let provider = rt.block_on(connect(mode, "aws", &factory, config));
    let outside = || {
        moto.script(&["delete-record", "matih.ai.", "acme.matih.ai.", "NS"]);
    };
    rt.block_on(conform(
        provider,
        "eks.toml",
        Exempt {
            unmarked: &[(
                "dns_record",
                "Route53 record sets take no tags: a record is ours by its name inside our own zone",
            )],
            not_held: &[
                ("subnet", "purpose", "a model-only role: its load-balancer role tag says public or internal, not nodes or pods"),
                ("frontend", "purpose", "a model-only role (platform or tenant) that no tag records"),
            ],
            not_movable: &[
                ("frontend", "a load balancer is found by its name, which its address gives and which cannot change"),
            ],
        },
        &aws_missing,
        &outside,
    ));
}
