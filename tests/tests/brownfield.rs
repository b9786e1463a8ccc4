//! Brownfield end to end (issue 16), per cloud (AWS on moto, Azure and GCP on the local cloud):
//! objects made with the cloud's own API taken over by `[[import]]` and `existing`, checked by
//! `plan --detailed-exitcode`, left in place by destroy; and a tenant renamed in the file, by the
//! plan's move proposal and by `state mv`, with no object created or deleted in the cloud.

use matihnet_e2e::localcloud::LocalCloud;
use matihnet_e2e::moto::{aws_script, Moto};
use matihnet_e2e::Sandbox;
use serde_json::Value;

const SUB: &str = "00000000-0000-0000-0000-0000000000bf";

/// A DNS resolver on 127.0.0.1 that answers every NS question with `servers` (as the world sees
/// a zone's delegation), for the plan's delegation check.
struct Resolver {
    addr: std::net::SocketAddr,
    servers: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Resolver {
    fn start() -> Resolver {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a UDP port");
        let addr = socket.local_addr().expect("address");
        let servers = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let answer_with = std::sync::Arc::clone(&servers);
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                let mut m = buf[..n].to_vec();
                let names = answer_with.lock().map(|g| g.clone()).unwrap_or_default();
                // A response, recursion available, as many answers as names.
                m[2] = 0x81;
                m[3] = 0x80;
                m[6..8].copy_from_slice(&(names.len() as u16).to_be_bytes());
                for name in &names {
                    // The owner is the question's name (a pointer to offset 12): NS, IN, TTL 300.
                    m.extend_from_slice(&[0xc0, 12, 0, 2, 0, 1, 0, 0, 1, 44]);
                    let mut data = Vec::new();
                    for label in name.trim_end_matches('.').split('.') {
                        data.push(label.len() as u8);
                        data.extend_from_slice(label.as_bytes());
                    }
                    data.push(0);
                    m.extend_from_slice(&(data.len() as u16).to_be_bytes());
                    m.extend_from_slice(&data);
                }
                let _ = socket.send_to(&m, from);
            }
        });
        Resolver { addr, servers }
    }

    fn answer(&self, servers: &[&str]) {
        if let Ok(mut g) = self.servers.lock() {
            *g = servers.iter().map(|s| s.to_string()).collect();
        }
    }
}

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

/// `example` with its tenants, subdomains and cluster sections cut, and `dns` written instead:
/// the few objects a test makes by hand cover all of it.
fn small_environment(example: &str, dns: &str) -> String {
    let text = std::fs::read_to_string(matihnet_e2e::repo_root().join("examples").join(example))
        .expect("example");
    let head = text.split("\n[dns]").next().expect("the example has [dns]");
    format!("{head}\n[dns]\n{dns}\n")
}

/// What the plan wants each resource to be (`after` of `plan --json`), by address.
fn wanted(s: &Sandbox) -> serde_json::Map<String, Value> {
    let plan = s.run(&["plan", "--json"]).expect_code(0);
    let v: Value = serde_json::from_str(&plan.stdout()).expect("plan JSON");
    v["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap_or_default().to_string(),
                c["after"].clone(),
            )
        })
        .collect()
}

fn text_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no text `{key}` in {v}"))
}

fn add_imports(s: &Sandbox, imports: &[(&str, &str)]) {
    let mut text = config(s);
    for (to, id) in imports {
        text.push_str(&format!("\n[[import]]\nto = \"{to}\"\nid = \"{id}\"\n"));
    }
    set_config(s, &text);
}

/// Issue 16 on GKE: an environment made by hand with Compute's and Cloud DNS's own API (its
/// registered zone holding a record matihnet never made) is taken over by `[[import]]` and
/// `existing_zone`; the plan shows the one real difference exactly, and a plan after the apply
/// finds nothing; destroy leaves the zone and its foreign record.
#[test]
fn gke_objects_made_outside_are_imported_and_the_existing_zone_stays() {
    const P: &str = "/compute/v1/projects/matih-prod";
    const DNS: &str = "/dns/v1/projects/matih-prod/managedZones";
    let cloud = LocalCloud::start("0ms");
    let s = Sandbox::with_config(&small_environment(
        "gke.toml",
        "zone = \"matih.ai\"\nexisting_zone = true",
    ))
    .with_env("MATIHNET_GCP_ENDPOINT", cloud.endpoint());
    // The zone was registered before matihnet: an existing zone must exist for a plan.
    let (status, body) = cloud.request(
        "POST",
        DNS,
        Some(&serde_json::json!({"name": "registered-matih-ai", "dnsName": "matih.ai.", "description": "bought in 2019", "visibility": "public"})),
    );
    assert_eq!(status, 200, "{body}");
    let rrset = |name: &str, ttl: u64, data: &str| {
        let (status, body) = cloud.request(
            "POST",
            &format!("{DNS}/registered-matih-ai/rrsets"),
            Some(&serde_json::json!({"name": name, "type": "A", "ttl": ttl, "rrdatas": [data]})),
        );
        assert_eq!(status, 200, "{body}");
    };
    rrset("www.matih.ai.", 3600, "203.0.113.10");
    let want = wanted(&s);

    let post = |path: &str, body: Value| {
        let (status, answer) = cloud.request("POST", &format!("{P}/{path}"), Some(&body));
        assert_eq!(status, 200, "POST {path}: {answer}");
    };
    let network = &want["network.main"];
    post(
        "global/networks",
        serde_json::json!({"name": text_of(network, "name"), "autoCreateSubnetworks": false}),
    );
    let network_link = text_of(
        &cloud.get(&format!("{P}/global/networks/{}", text_of(network, "name"))),
        "selfLink",
    )
    .to_string();
    let subnet = &want["subnet.nodes"];
    let ranges: Vec<Value> = subnet["secondary_ranges"]
        .as_object()
        .expect("secondary ranges")
        .iter()
        .map(|(k, v)| serde_json::json!({"rangeName": k, "ipCidrRange": v}))
        .collect();
    post(
        "regions/europe-west1/subnetworks",
        serde_json::json!({"name": text_of(subnet, "name"), "network": network_link, "ipCidrRange": text_of(subnet, "cidr"), "secondaryIpRanges": ranges, "privateIpGoogleAccess": true}),
    );
    let frontend = &want["frontend.platform"];
    post(
        "regions/europe-west1/addresses",
        serde_json::json!({"name": text_of(frontend, "name"), "addressType": "EXTERNAL"}),
    );
    let subnet_now = cloud.get(&format!(
        "{P}/regions/europe-west1/subnetworks/{}",
        text_of(subnet, "name")
    ));
    let address_now = cloud.get(&format!(
        "{P}/regions/europe-west1/addresses/{}",
        text_of(frontend, "name")
    ));
    // Made with a TTL the file does not say: the one difference the plan must show.
    rrset("api.matih.ai.", 60, text_of(&address_now, "address"));

    add_imports(
        &s,
        &[
            ("network.main", &network_link),
            ("subnet.nodes", text_of(&subnet_now, "selfLink")),
            ("frontend.platform", text_of(&address_now, "selfLink")),
            ("dns_record.api", "registered-matih-ai/api.matih.ai./A"),
        ],
    );
    let plan = s.run(&["plan", "--detailed-exitcode"]).expect_code(2);
    let out = plan.stdout();
    for line in [
        format!("# network.main will be imported from {network_link}"),
        "# dns_zone.platform will be read: an existing object, used and never changed or deleted".to_string(),
        "# dns_record.api will be updated in-place (after its import from registered-matih-ai/api.matih.ai./A)".to_string(),
        "~ ttl  = 60 -> 300".to_string(),
        "Plan: 4 to import, 0 to add, 1 to change, 0 to destroy, 1 to read.".to_string(),
    ] {
        assert!(out.contains(&line), "no `{line}` in:\n{out}");
    }
    s.run(&["apply", "--auto-approve"]).expect_code(0);
    s.run(&["plan", "--detailed-exitcode"]).expect_code(0);

    // The registrar still sends the world elsewhere: a warning with the servers to set.
    let resolver = Resolver::start();
    let at = resolver.addr.to_string();
    resolver.answer(&["ns1.old-registrar.example."]);
    let warned = s
        .run_with(
            &["plan", "--detailed-exitcode"],
            &[("MATIHNET_DNS_RESOLVER", &at)],
        )
        .expect_code(0);
    assert!(
        warned.stderr().contains("warning: the registrar's delegation of matih.ai points at ns1.old-registrar.example, not at the existing zone's name servers: set these NS records at the registrar: ns-cloud-a1.googledomains.com, ns-cloud-a2.googledomains.com, ns-cloud-a3.googledomains.com, ns-cloud-a4.googledomains.com"),
        "{}",
        warned.stderr()
    );
    resolver.answer(&[
        "ns-cloud-a2.googledomains.com.",
        "NS-CLOUD-A1.googledomains.com.",
        "ns-cloud-a3.googledomains.com.",
        "ns-cloud-a4.googledomains.com.",
    ]);
    let fine = s
        .run_with(
            &["plan", "--detailed-exitcode"],
            &[("MATIHNET_DNS_RESOLVER", &at)],
        )
        .expect_code(0);
    assert!(!fine.stderr().contains("delegation"), "{}", fine.stderr());

    let address = cloud.get(&format!(
        "{P}/regions/europe-west1/addresses/{}",
        text_of(frontend, "name")
    ));
    assert_eq!(
        address["labels"]["matihnet-address"], "frontend_platform",
        "an import labels what takes labels: {address}"
    );

    s.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert_eq!(cloud.status(&format!("{DNS}/registered-matih-ai")), 200);
    assert_eq!(
        cloud.status(&format!("{DNS}/registered-matih-ai/rrsets/www.matih.ai./A")),
        200,
        "a record matihnet never made stays"
    );
    assert_eq!(
        cloud.status(&format!("{DNS}/registered-matih-ai/rrsets/api.matih.ai./A")),
        404,
        "the imported record is matihnet's now, and goes"
    );
    assert_eq!(
        cloud.status(&format!("{P}/global/networks/{}", text_of(network, "name"))),
        404
    );
}

/// Issue 16 on AKS: the same as on GKE, with ARM's own API: resource groups, a VNet with its
/// subnet and a public IP imported, and a registered zone in a DNS team's own resource group
/// used by its ARM id.
#[test]
fn aks_objects_made_outside_are_imported_and_the_existing_zone_stays() {
    let sub = format!("/subscriptions/{SUB}");
    let net = |path: &str| format!("{sub}/resourceGroups/{path}");
    let cloud = LocalCloud::start("0ms");
    let zone_id = format!(
        "{sub}/resourceGroups/dns-registered/providers/Microsoft.Network/dnsZones/matih.ai"
    );
    let s = Sandbox::with_config(&small_environment(
        "aks.toml",
        &format!("zone = \"matih.ai\"\nexisting_zone = \"{zone_id}\""),
    ))
    .with_env("MATIHNET_AZURE_ENDPOINT", cloud.endpoint())
    .with_env("AZURE_SUBSCRIPTION_ID", SUB);
    let put = |path: &str, body: Value| -> Value {
        let (status, answer) = cloud.request("PUT", path, Some(&body));
        assert!(
            status == 200 || status == 201,
            "PUT {path}: {status} {answer}"
        );
        answer
    };
    let group = |name: &str| {
        put(
            &format!("{sub}/resourcegroups/{name}?api-version=2021-04-01"),
            serde_json::json!({"location": "westeurope"}),
        )
    };
    group("dns-registered");
    put(
        &format!("{zone_id}?api-version=2018-05-01"),
        serde_json::json!({"location": "global"}),
    );
    let record = |name: &str, ttl: u64, ip: &str| {
        put(
            &format!("{zone_id}/A/{name}?api-version=2018-05-01"),
            serde_json::json!({"properties": {"TTL": ttl, "ARecords": [{"ipv4Address": ip}]}}),
        )
    };
    record("www", 3600, "203.0.113.10");
    let want = wanted(&s);

    let main = group(text_of(&want["resource_group.main"], "name"));
    let ingress = group(text_of(&want["resource_group.ingress"], "name"));
    let network = &want["network.main"];
    let vnet_id = format!(
        "{}/providers/Microsoft.Network/virtualNetworks/{}",
        net(text_of(network, "resource_group")),
        text_of(network, "name")
    );
    put(
        &format!("{vnet_id}?api-version=2024-03-01"),
        serde_json::json!({"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": [text_of(network, "cidr")]}}}),
    );
    let subnet = &want["subnet.nodes"];
    let subnet_id = format!("{vnet_id}/subnets/{}", text_of(subnet, "name"));
    put(
        &format!("{subnet_id}?api-version=2024-03-01"),
        serde_json::json!({"properties": {"addressPrefix": text_of(subnet, "cidr")}}),
    );
    let frontend = &want["frontend.platform"];
    let ip_id = format!(
        "{}/providers/Microsoft.Network/publicIPAddresses/{}",
        net(text_of(frontend, "resource_group")),
        text_of(frontend, "name")
    );
    put(
        &format!("{ip_id}?api-version=2024-03-01"),
        serde_json::json!({"location": "westeurope", "sku": {"name": "Standard", "tier": "Regional"}, "properties": {"publicIPAllocationMethod": "Static", "publicIPAddressVersion": "IPv4"}}),
    );
    let ip = cloud.get(&format!("{ip_id}?api-version=2024-03-01"));
    let address = ip["properties"]["ipAddress"]
        .as_str()
        .unwrap_or_else(|| panic!("no address in {ip}"))
        .to_string();
    // Made with a TTL the file does not say: the one difference the plan must show.
    record("api", 60, &address);

    let api_id = format!("{zone_id}/A/api");
    add_imports(
        &s,
        &[
            ("resource_group.main", text_of(&main, "id")),
            ("resource_group.ingress", text_of(&ingress, "id")),
            ("network.main", &vnet_id),
            ("subnet.nodes", &subnet_id),
            ("frontend.platform", &ip_id),
            ("dns_record.api", &api_id),
        ],
    );
    let plan = s.run(&["plan", "--detailed-exitcode"]).expect_code(2);
    let out = plan.stdout();
    for line in [
        format!("# network.main will be imported from {vnet_id}"),
        "# dns_zone.platform will be read: an existing object, used and never changed or deleted"
            .to_string(),
        format!("# dns_record.api will be updated in-place (after its import from {api_id})"),
        "~ ttl ".to_string(),
        "60 -> 300".to_string(),
        "Plan: 6 to import, 0 to add, 1 to change, 0 to destroy, 1 to read.".to_string(),
    ] {
        assert!(out.contains(&line), "no `{line}` in:\n{out}");
    }
    s.run(&["apply", "--auto-approve"]).expect_code(0);
    s.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    let vnet = cloud.get(&format!("{vnet_id}?api-version=2024-03-01"));
    assert_eq!(
        vnet["tags"]["matihnet:address"], "network.main",
        "an import tags what takes tags: {vnet}"
    );

    // The example protects its network; this test wants to see destroy leave the zone.
    set_config(&s, &config(&s).replace("protect = true", "protect = false"));
    s.run(&["destroy", "--auto-approve"]).expect_code(0);
    let zone = |path: &str| cloud.status(&format!("{zone_id}{path}?api-version=2018-05-01"));
    assert_eq!(zone(""), 200, "the existing zone stays");
    assert_eq!(zone("/A/www"), 200, "a record matihnet never made stays");
    assert_eq!(zone("/A/api"), 404, "the imported record is matihnet's now");
    assert_eq!(
        cloud.status(&format!("{vnet_id}?api-version=2024-03-01")),
        404
    );
}

/// Issue 16 on EKS against moto: a landing-zone team's VPC made with boto3 (tagged only with
/// its own Name) is imported, the plan shows the exact difference (the name matihnet gives it)
/// and updates it in place; the registered zone with a foreign record is used and left in place.
#[test]
fn eks_vpc_made_outside_is_imported_and_the_existing_zone_stays() {
    let moto = Moto::start();
    moto.reset();
    let mut s = Sandbox::with_config(&small_environment(
        "eks.toml",
        "zone = \"matih.ai\"\nexisting_zone = true",
    ));
    for (k, v) in moto.env() {
        s = s.with_env(k, v);
    }
    moto.script(&["create-zone", "matih.ai."]);
    moto.script(&[
        "put-record",
        "matih.ai.",
        "www.matih.ai.",
        "A",
        "3600",
        "203.0.113.10",
    ]);
    let want = wanted(&s);
    let cidr = text_of(&want["network.main"], "cidr");
    let vpc = moto.script(&["create-vpc", cidr, "landing-zone-vpc"]);
    let vpc = text_of(&vpc, "id").to_string();

    add_imports(&s, &[("network.main", &vpc)]);
    let plan = s.run(&["plan", "--detailed-exitcode"]).expect_code(2);
    let out = plan.stdout();
    for line in [
        format!("# network.main will be updated in-place (after its import from {vpc})"),
        "\"landing-zone-vpc\" -> \"matih-prod\"".to_string(),
        "# dns_zone.platform will be read: an existing object, used and never changed or deleted"
            .to_string(),
        "Plan: 1 to import, ".to_string(),
    ] {
        assert!(out.contains(&line), "no `{line}` in:\n{out}");
    }
    s.run(&["apply", "--auto-approve"]).expect_code(0);
    s.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    let inv = moto.inventory();
    let vpcs = inv["vpcs"].as_array().expect("vpcs");
    assert_eq!(vpcs.len(), 1, "the imported VPC is used, not copied: {inv}");
    assert_eq!(vpcs[0]["id"], vpc.as_str());
    assert_eq!(vpcs[0]["tags"]["matihnet:address"], "network.main", "{inv}");
    assert_eq!(vpcs[0]["tags"]["Name"], "matih-prod", "{inv}");

    set_config(&s, &config(&s).replace("protect = true", "protect = false"));
    s.run(&["destroy", "--auto-approve"]).expect_code(0);
    let inv = moto.inventory();
    let zones: Vec<&str> = inv["zones"]
        .as_array()
        .expect("zones")
        .iter()
        .filter_map(|z| z["name"].as_str())
        .collect();
    assert_eq!(zones, ["matih.ai."], "the existing zone stays: {inv}");
    let records: Vec<String> = inv["records"]["matih.ai."]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| format!("{} {}", text_of(r, "name"), text_of(r, "type")))
        .collect();
    assert!(
        records.contains(&"www.matih.ai. A".to_string()),
        "{records:?}"
    );
    assert!(
        !records.iter().any(|r| r.starts_with("api.")),
        "{records:?}"
    );
    assert!(inv["vpcs"].as_array().expect("vpcs").is_empty(), "{inv}");
}

/// Issue 16: a record of an existing zone that matihnet did not make is never overwritten, even
/// where the file wants a record of that name: the apply stops with how to take it over, and
/// `matihnet import` does, after which the plan shows the change. Against the local AWS, whose
/// Route53 refuses a CREATE of a name and type that exist as Route53 does (moto accepts it).
#[test]
fn eks_a_foreign_record_in_an_existing_zone_is_never_overwritten() {
    let cloud = LocalCloud::start("0ms");
    let aws = |args: &[&str]| aws_script(&cloud.aws_env(), args);
    let mut s = Sandbox::with_config(&small_environment(
        "eks.toml",
        "zone = \"matih.ai\"\nexisting_zone = true",
    ));
    for (k, v) in cloud.aws_env() {
        s = s.with_env(k, v);
    }
    aws(&["create-zone", "matih.ai."]);
    aws(&[
        "put-record",
        "matih.ai.",
        "api.matih.ai.",
        "A",
        "60",
        "198.51.100.7",
    ]);
    let zone_id = aws(&["inventory"])["zones"][0]["id"]
        .as_str()
        .expect("zone id")
        .trim_start_matches("/hostedzone/")
        .to_string();
    let refused = s.run(&["apply", "--auto-approve"]).expect_code(1);
    assert!(
        refused
            .stderr()
            .contains("record set api.matih.ai. A already exists with other values and was not made by matihnet; refusing to overwrite it"),
        "{}",
        refused.stderr()
    );
    let api = || {
        aws(&["inventory"])["records"]["matih.ai."]
            .as_array()
            .expect("records")
            .iter()
            .filter(|r| r["name"] == "api.matih.ai." && r["type"] == "A")
            .cloned()
            .collect::<Vec<Value>>()
    };
    let untouched = api();
    assert_eq!(untouched.len(), 1, "{untouched:?}");
    assert_eq!(untouched[0]["values"], serde_json::json!(["198.51.100.7"]));

    let record_id = format!("{zone_id}/api.matih.ai./A");
    let imported = s
        .run(&["import", "dns_record.api", &record_id])
        .expect_code(0);
    let out = imported.stdout();
    assert!(
        out.contains(&format!(
            "Import successful! dns_record.api imported from {record_id}"
        )) && out.contains("# dns_record.api will be updated in-place")
            && out.contains("~ alias_dns_name = \"\" -> "),
        "{out}"
    );
    s.run(&["apply", "--auto-approve"]).expect_code(0);
    s.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    let now = api();
    assert_eq!(now.len(), 1, "{now:?}");
    assert!(now[0]["alias"].is_string(), "now matihnet's alias: {now:?}");
}

/// Issue 16 on EKS against moto: `[network] existing` uses a landing-zone team's VPC and its
/// internet gateway (made with boto3): checked against the file's CIDR, never changed (its Name
/// stays its owner's), matihnet's subnets and gateways placed in it, and both left by destroy.
#[test]
fn eks_an_existing_vpc_is_used_checked_and_left_in_place() {
    let moto = Moto::start();
    moto.reset();
    let mut s = Sandbox::with_config(&small_environment("eks.toml", "zone = \"matih.ai\""));
    for (k, v) in moto.env() {
        s = s.with_env(k, v);
    }
    let use_vpc = |s: &Sandbox, id: &str| {
        let text = small_environment("eks.toml", "zone = \"matih.ai\"");
        let network = "[network]\n";
        assert!(text.contains(network));
        set_config(
            s,
            &text.replacen(network, &format!("{network}existing = \"{id}\"\n"), 1),
        );
    };
    let cidr = text_of(&wanted(&s)["network.main"], "cidr").to_string();

    // The wrong VPC: its address space is not the model's.
    let wrong = moto.script(&["create-vpc", "10.99.0.0/16", "someone-elses"]);
    let wrong = text_of(&wrong, "id").to_string();
    moto.script(&["attach-igw", &wrong]);
    use_vpc(&s, &wrong);
    let refused = s.run(&["plan"]).expect_code(1);
    assert!(
        refused.stderr().contains(&format!(
            "network.main: `cidr` is \"10.99.0.0/16\" in the existing object {wrong}, the file says \"{cidr}\""
        )),
        "{}",
        refused.stderr()
    );

    let vpc = moto.script(&["create-vpc", &cidr, "landing-zone-vpc"]);
    let vpc = text_of(&vpc, "id").to_string();
    let igw = moto.script(&["attach-igw", &vpc]);
    let igw = text_of(&igw, "id").to_string();
    use_vpc(&s, &vpc);
    let plan = s.run(&["plan", "--detailed-exitcode"]).expect_code(2);
    let out = plan.stdout();
    for line in [
        "# network.main will be read: an existing object, used and never changed or deleted",
        "# internet_gateway.main will be read: an existing object, used and never changed or deleted",
    ] {
        assert!(out.contains(line), "no `{line}` in:\n{out}");
    }
    s.run(&["apply", "--auto-approve"]).expect_code(0);
    s.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    let inv = moto.inventory();
    let ours: Vec<&Value> = inv["vpcs"]
        .as_array()
        .expect("vpcs")
        .iter()
        .filter(|v| v["id"] == vpc.as_str())
        .collect();
    assert_eq!(ours.len(), 1, "{inv}");
    assert_eq!(
        ours[0]["tags"]["Name"], "landing-zone-vpc",
        "never changed: {inv}"
    );
    assert!(
        ours[0]["tags"]["matihnet:address"].is_null(),
        "never marked: {inv}"
    );
    let attached: Vec<&Value> = inv["internet_gateways"]
        .as_array()
        .expect("gateways")
        .iter()
        .filter(|g| g["attached"][0] == vpc.as_str())
        .collect();
    assert_eq!(attached.len(), 1, "its own gateway, no second one: {inv}");
    assert_eq!(attached[0]["id"], igw.as_str());
    let subnets_in_vpc = inv["subnets"].as_array().expect("subnets").len();
    assert!(
        subnets_in_vpc > 0,
        "matihnet's subnets are placed in it: {inv}"
    );

    set_config(&s, &config(&s).replace("protect = true", "protect = false"));
    s.run(&["destroy", "--auto-approve"]).expect_code(0);
    let inv = moto.inventory();
    assert!(
        inv["vpcs"]
            .as_array()
            .expect("vpcs")
            .iter()
            .any(|v| v["id"] == vpc.as_str()),
        "the existing VPC stays: {inv}"
    );
    assert!(
        inv["internet_gateways"]
            .as_array()
            .expect("gateways")
            .iter()
            .any(|g| g["id"] == igw.as_str() && g["attached"][0] == vpc.as_str()),
        "its gateway stays attached: {inv}"
    );
    assert!(
        inv["subnets"].as_array().expect("subnets").is_empty(),
        "{inv}"
    );
}

/// Issue 16 on GKE: `[network] existing` uses a VPC network made with Compute's own API;
/// matihnet's subnetwork is placed in it, the network is never changed, and destroy leaves it.
#[test]
fn gke_an_existing_network_is_used_and_left_in_place() {
    const P: &str = "/compute/v1/projects/matih-prod";
    let cloud = LocalCloud::start("0ms");
    let (status, body) = cloud.request(
        "POST",
        &format!("{P}/global/networks"),
        Some(&serde_json::json!({"name": "shared-vpc", "autoCreateSubnetworks": false, "description": "the network team's"})),
    );
    assert_eq!(status, 200, "{body}");
    let link = text_of(
        &cloud.get(&format!("{P}/global/networks/shared-vpc")),
        "selfLink",
    )
    .to_string();
    let text = small_environment("gke.toml", "zone = \"matih.ai\"").replacen(
        "[network]\n",
        &format!("[network]\nexisting = \"{link}\"\n"),
        1,
    );
    let s = Sandbox::with_config(&text).with_env("MATIHNET_GCP_ENDPOINT", cloud.endpoint());
    let plan = s.run(&["plan", "--detailed-exitcode"]).expect_code(2);
    assert!(
        plan.stdout().contains(
            "# network.main will be read: an existing object, used and never changed or deleted"
        ),
        "{}",
        plan.stdout()
    );
    s.run(&["apply", "--auto-approve"]).expect_code(0);
    s.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    let subnets = cloud.get(&format!("{P}/regions/europe-west1/subnetworks"));
    let inside: Vec<&Value> = subnets["items"]
        .as_array()
        .expect("subnetworks")
        .iter()
        .filter(|s| s["network"] == link.as_str())
        .collect();
    assert!(
        !inside.is_empty(),
        "matihnet's subnetwork is in it: {subnets}"
    );
    set_config(&s, &config(&s).replace("protect = true", "protect = false"));
    s.run(&["destroy", "--auto-approve"]).expect_code(0);
    let network = cloud.get(&format!("{P}/global/networks/shared-vpc"));
    assert_eq!(network["description"], "the network team's", "{network}");
}
