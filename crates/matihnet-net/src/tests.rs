//! Whole-crate tests: the examples, the error output, the address table and the carving properties.

use std::collections::BTreeMap;

use matihnet_core::{Address, DesiredResource, Expr, Value};
use proptest::prelude::*;

use crate::*;

const EKS: &str = include_str!("../../../examples/eks.toml");
const AKS: &str = include_str!("../../../examples/aks.toml");
const GKE: &str = include_str!("../../../examples/gke.toml");
const FAKE: &str = include_str!("../../../examples/fake.toml");

fn vars(name: &str) -> Option<String> {
    match name {
        "AZURE_SUBSCRIPTION_ID" => Some("00000000-1111-2222-3333-444444444444".to_string()),
        _ => None,
    }
}

fn ok(name: &str, text: &str) -> Loaded {
    match load(name, text, &vars) {
        Ok(l) => l,
        Err(diags) => panic!(
            "{name} failed:\n{}",
            diags
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

fn errors(text: &str) -> String {
    match load("env.toml", text, &vars) {
        Ok(_) => panic!("loaded without errors"),
        Err(diags) => diags
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

#[test]
fn examples_load_without_errors_or_warnings() {
    for (name, text) in [
        ("eks.toml", EKS),
        ("aks.toml", AKS),
        ("gke.toml", GKE),
        ("fake.toml", FAKE),
    ] {
        let l = ok(name, text);
        assert!(l.warnings.is_empty(), "{name}: {:?}", l.warnings);
        assert_eq!(l.env.dns.subdomains, vec!["staging".to_string()], "{name}");
        assert!(
            l.env
                .tenants
                .iter()
                .any(|t| t.ingress == Ingress::Dedicated),
            "{name}"
        );
    }
    assert_eq!(
        ok("aks.toml", AKS).env.azure.unwrap().subscription_id,
        "00000000-1111-2222-3333-444444444444"
    );
    let fake = ok("fake.toml", FAKE);
    assert_eq!(fake.env.tenants.len(), 5);
    assert_eq!(
        fake.env
            .tenants
            .iter()
            .filter(|t| t.ingress == Ingress::Dedicated)
            .count(),
        2
    );
}

#[test]
fn address_tables() {
    insta::assert_snapshot!(
        "eks_addresses",
        render_address_table(&ok("eks.toml", EKS).plan)
    );
    insta::assert_snapshot!(
        "aks_addresses",
        render_address_table(&ok("aks.toml", AKS).plan)
    );
    insta::assert_snapshot!(
        "gke_addresses",
        render_address_table(&ok("gke.toml", GKE).plan)
    );
    insta::assert_snapshot!(
        "fake_addresses",
        render_address_table(&ok("fake.toml", FAKE).plan)
    );
}

const MALFORMED: &str = r#"[environment]
name = "prod"
provider = "eks"
region = "eu-west-1"
colour = "blue"

[aws]
availability_zones = ["eu-west-1a"]

[azure]
resource_group = "rg"

[network]
cidr = "10.0.0.1/16"
secondary_cidrs = ["10.1.0.0/16", "10.2.0.0/33"]
service_cidr = "10.0.0.0/8"
pod_cidr = "172.17.0.0/16"
cni = "vpc-cni-custm"

[[node_pool]]
name = "system"
instance_type = "m5.larg"
max_nodes = 0

[dns]
zone = "matih.ai"
subdomains = ["staging", "api"]

[[tenant]]
slug = "Acme_Corp"

[[tenant]]
slug = "bigcorp"
ingress = "private"

[[tenant]]
slug = "bigcorp"

[[tenant]]
slug = "www"
"#;

#[test]
fn malformed_config_reports_every_error() {
    insta::assert_snapshot!("malformed_errors", errors(MALFORMED));
}

#[test]
fn syntax_error_is_located() {
    insta::assert_snapshot!(
        "syntax_error",
        errors("[environment]\nname = prod\nprovider = \"fake\n[network\ncidr = 1.2\n")
    );
}

#[test]
fn capacity_errors_show_arithmetic_and_fix() {
    let text = AKS
        .replace(
            "cidr = \"10.0.0.0/16\"",
            "cidr = \"10.0.0.0/16\"\nnode_prefix = 24",
        )
        .replace("max_nodes = 50 ", "max_nodes = 10 ");
    let text = text.replace(
        "[[node_pool]]\nname = \"system\"\ninstance_type = \"Standard_D4s_v5\"\nmax_nodes = 5\n\n",
        "",
    );
    insta::assert_snapshot!("aks_node_subnet_too_small", errors(&text));

    let gke = GKE.replace("10.4.0.0/14", "10.4.0.0/20");
    insta::assert_snapshot!("gke_pod_range_too_small", errors(&gke));

    // 3 ENIs x 10 IPs x 4 nodes per zone no longer fit a /27.
    let eks = EKS.replace(
        "cidr = \"10.0.0.0/16\"",
        "cidr = \"10.0.0.0/16\"\nnode_prefix = 27",
    );
    insta::assert_snapshot!("eks_node_subnet_too_small", errors(&eks));
}

#[test]
fn near_full_ranges_warn() {
    // (50 + 1) x 31 = 1,581 of 2,043 usable in a /21: 77%, then 1,700 (83%) with 5 more pods... use max_pods 33.
    let text = AKS
        .replace(
            "cidr = \"10.0.0.0/16\"",
            "cidr = \"10.0.0.0/16\"\nnode_prefix = 21",
        )
        .replace("max_pods = 30", "max_pods = 34");
    let l = ok("aks.toml", &text);
    let w: Vec<String> = l.warnings.iter().map(|d| d.to_string()).collect();
    insta::assert_snapshot!("aks_near_full", w.join("\n"));
}

#[test]
fn unset_variable_is_a_located_error() {
    let out = match load("aks.toml", AKS, &|_| None) {
        Err(d) => d,
        Ok(_) => panic!("loaded"),
    };
    assert_eq!(out.len(), 1);
    let d = &out[0];
    assert_eq!(d.field.as_deref(), Some("azure.subscription_id"));
    let loc = d.location.clone().unwrap();
    assert_eq!(loc.line, 10);
    assert_eq!(loc.column, 20);
    assert_eq!(
        d.hint.as_deref(),
        Some("export AZURE_SUBSCRIPTION_ID=... or pass --var AZURE_SUBSCRIPTION_ID=value")
    );
}

#[test]
fn variables_apply_to_every_string_and_escape() {
    let text = FAKE
        .replace("name = \"test\"", "name = \"${ENV}\"")
        .replace("zone = \"matih.ai\"", "zone = \"${ZONE}\"")
        + "\n[state]\npath = \"$${HOME}/${ENV}.json\"\n";
    let vars = |n: &str| match n {
        "ENV" => Some("qa".to_string()),
        "ZONE" => Some("example.com".to_string()),
        _ => None,
    };
    let l = load("fake.toml", &text, &vars).unwrap();
    assert_eq!(l.env.name, "qa");
    assert_eq!(l.env.dns.zone, "example.com");
    assert_eq!(l.env.state.path.as_deref(), Some("${HOME}/qa.json"));
}

#[test]
fn expansion_of_the_fake_example() {
    let l = ok("fake.toml", FAKE);
    let resources = expand(&l.env, &l.plan);
    let addrs: Vec<String> = resources.iter().map(|r| r.addr.to_string()).collect();
    insta::assert_snapshot!("fake_resources", addrs.join("\n"));
    let by: BTreeMap<String, &DesiredResource> =
        resources.iter().map(|r| (r.addr.to_string(), r)).collect();
    assert_eq!(by.len(), resources.len(), "addresses are unique");

    let ns = by["dns_record.acme_ns"];
    assert_eq!(
        ns.attrs["values"],
        Expr::reference(Address::new("dns_zone", "acme"), "name_servers")
    );
    assert_eq!(ns.attrs["name"], Expr::from("acme"));
    assert_eq!(ns.attrs["type"], Expr::from("NS"));
    assert!(ns
        .dependencies()
        .contains(&Address::new("dns_zone", "acme")));
    assert!(ns
        .dependencies()
        .contains(&Address::new("dns_zone", "platform")));

    let shared = by["dns_record.initech_wildcard"];
    assert_eq!(
        shared.attrs["values"],
        Expr::List(vec![Expr::reference(
            Address::new("frontend", "platform"),
            "ip_address"
        )])
    );
    assert_eq!(shared.attrs["zone_name"], Expr::from("initech.matih.ai"));
    assert_eq!(shared.attrs["ttl"], Expr::from(60i64));
    let dedicated = by["dns_record.acme_apex"];
    assert_eq!(
        dedicated.attrs["values"],
        Expr::List(vec![Expr::reference(
            Address::new("frontend", "acme"),
            "ip_address"
        )])
    );
    assert_eq!(dedicated.attrs["name"], Expr::from("@"));

    let api = by["dns_record.api"];
    assert_eq!(
        api.attrs["values"],
        Expr::List(vec![Expr::reference(
            Address::new("frontend", "platform"),
            "ip_address"
        )])
    );
    assert!(by["frontend.acme"]
        .depends_on
        .contains(&Address::new("subnet", "public")));
    assert_eq!(
        by["dns_zone.staging"].attrs["name"],
        Expr::from("staging.matih.ai")
    );

    // Every attribute produced is in the schema, and every required attribute is produced.
    let schemas = neutral_schemas();
    for r in &resources {
        let s = schemas.iter().find(|s| s.type_name == r.addr.kind).unwrap();
        for name in r.attrs.keys() {
            assert!(
                s.attribute(name).is_some(),
                "{}: {name} not in schema",
                r.addr
            );
        }
        for a in &s.attributes {
            if a.kind == matihnet_core::AttributeKind::Required {
                assert!(
                    r.attrs.contains_key(&a.name),
                    "{}: {} missing",
                    r.addr,
                    a.name
                );
            }
        }
    }
}

#[test]
fn gke_subnet_carries_secondary_ranges() {
    let l = ok("gke.toml", GKE);
    let resources = expand(&l.env, &l.plan);
    let nodes = resources
        .iter()
        .find(|r| r.addr == Address::new("subnet", "nodes"))
        .unwrap();
    let mut want = BTreeMap::new();
    want.insert("pods".to_string(), Expr::from("10.4.0.0/14"));
    want.insert("services".to_string(), Expr::from("10.8.0.0/20"));
    assert_eq!(nodes.attrs["secondary_ranges"], Expr::Map(want));
}

#[test]
fn eks_custom_networking_adds_the_pod_cidr_to_the_vpc() {
    let text = EKS.replace(
        "cni = \"vpc-cni\"",
        "cni = \"vpc-cni-custom\"\npod_cidr = \"100.64.0.0/16\"",
    );
    let l = ok("eks.toml", &text);
    let resources = expand(&l.env, &l.plan);
    assert_eq!(
        resources[0].attrs["secondary_cidrs"],
        Expr::Literal(Value::string_list(["100.64.0.0/16"]))
    );
    assert_eq!(
        l.plan.subnet("pods_eu-west-1b").unwrap().cidr.to_string(),
        "100.64.64.0/18"
    );
}

#[test]
fn expansion_is_deterministic() {
    let a = ok("eks.toml", EKS);
    let b = ok("eks.toml", EKS);
    assert_eq!(expand(&a.env, &a.plan), expand(&b.env, &b.plan));
}

#[test]
fn eks_instance_type_rules() {
    let unknown = EKS.replace("m5.xlarge", "m5.huge");
    let out = errors(&unknown);
    assert!(out.contains("unknown EC2 instance type `m5.huge`"), "{out}");
    assert!(out.contains("m5.large, m5.xlarge"), "{out}");
    // With max_pods the type need not be known.
    ok(
        "eks.toml",
        &unknown.replace("max_surge = 2", "max_surge = 2\nmax_pods = 40"),
    );
    let too_many = EKS.replace("max_nodes = 6", "max_nodes = 6\nmax_pods = 30");
    assert!(errors(&too_many).contains("m5.large supports at most 29 pods"));
}

#[test]
fn aks_max_pods_range() {
    let text = AKS.replace("max_pods = 30", "max_pods = 300");
    let out = errors(&text);
    assert!(out.contains("node_pool[1].max_pods"), "{out}");
}

#[test]
fn vpc_block_limit() {
    let text = EKS.replace(
        "cni = \"vpc-cni\"",
        "cni = \"vpc-cni-custom\"\npod_cidr = \"100.64.0.0/16\"\nsecondary_cidrs = [\"10.1.0.0/16\", \"10.2.0.0/16\", \"10.3.0.0/16\", \"10.4.0.0/16\"]",
    );
    assert!(errors(&text).contains("the VPC would have 6 CIDR blocks"));
}

fn fake_env(tenants: usize, pools: usize, prefix: u8) -> String {
    let mut s = format!(
        "[environment]\nname = \"t\"\nprovider = \"fake\"\n[network]\ncidr = \"10.0.0.0/{prefix}\"\nservice_cidr = \"192.168.0.0/16\"\n[dns]\nzone = \"matih.ai\"\n"
    );
    for i in 0..pools {
        s.push_str(&format!(
            "[[node_pool]]\nname = \"p{i}\"\ninstance_type = \"x\"\nmax_nodes = 1\nmax_pods = 10\n"
        ));
    }
    for i in 0..tenants {
        s.push_str(&format!(
            "[[tenant]]\nslug = \"t{i}\"\ningress = \"dedicated\"\n"
        ));
    }
    s
}

fn eks_env(zones: usize, prefix: u8, custom: bool) -> Environment {
    let zs: Vec<String> = (0..zones)
        .map(|i| format!("\"eu-west-1{}\"", (b'a' + i as u8) as char))
        .collect();
    let cni = if custom {
        "cni = \"vpc-cni-custom\"\npod_cidr = \"100.64.0.0/16\"\n"
    } else {
        ""
    };
    let text = format!(
        "[environment]\nname = \"t\"\nprovider = \"eks\"\nregion = \"eu-west-1\"\n[aws]\navailability_zones = [{}]\n[network]\ncidr = \"10.0.0.0/{prefix}\"\nservice_cidr = \"192.168.0.0/16\"\n{cni}[dns]\nzone = \"matih.ai\"\n[[node_pool]]\nname = \"a\"\ninstance_type = \"t3.medium\"\nmax_nodes = 1\nmax_surge = 0\n",
        zs.join(", ")
    );
    match load("p.toml", &text, &vars) {
        Ok(l) => l.env,
        // Capacity may fail on tiny networks; carving is what these properties test.
        Err(_) => parse::parse("p.toml", &text, &vars).env.unwrap(),
    }
}

proptest! {
    #[test]
    fn carved_ranges_are_disjoint_and_inside_their_parent(zones in 2usize..=4, prefix in 16u8..=22, custom in any::<bool>()) {
        let env = eks_env(zones, prefix, custom);
        let plan = AddressPlan::carve(&env).unwrap();
        let subnets: Vec<&PlannedRange> = plan.subnets().collect();
        prop_assert_eq!(subnets.len(), zones * if custom { 3 } else { 2 });
        for (j, b) in subnets.iter().enumerate() {
            let parent = if b.purpose == Purpose::Pods { env.network.pod_cidr.unwrap() } else { env.network.cidr };
            prop_assert!(parent.contains(&b.cidr), "{} outside {}", b.cidr, parent);
            for a in &subnets[..j] {
                prop_assert!(!cidr::overlaps(&a.cidr, &b.cidr), "{} overlaps {}", a.cidr, b.cidr);
            }
        }
    }

    #[test]
    fn adding_tenants_pools_or_zones_never_moves_a_range(tenants in 0usize..6, pools in 1usize..4, more in 1usize..4, zones in 2usize..4) {
        let before = load("f.toml", &fake_env(tenants, pools, 16), &vars).unwrap();
        let after = load("f.toml", &fake_env(tenants + more, pools + more, 16), &vars).unwrap();
        let cidrs = |p: &AddressPlan| p.ranges.iter().map(|r| (r.subnet.clone(), r.cidr)).collect::<Vec<_>>();
        prop_assert_eq!(cidrs(&before.plan), cidrs(&after.plan));

        let small = AddressPlan::carve(&eks_env(zones, 16, true)).unwrap();
        let large = AddressPlan::carve(&eks_env(zones + 1, 16, true)).unwrap();
        for r in small.subnets() {
            prop_assert_eq!(Some(r.cidr), large.subnet(r.subnet.as_deref().unwrap()).map(|s| s.cidr));
        }
    }
}

#[test]
fn missing_and_mistyped_keys_are_located() {
    let text = "[environment]\nname = \"t\"\nprovider = \"fake\"\n\n[network]\nservice_cidr = \"172.20.0.0/16\"\nprotect = \"yes\"\n\n[[node_pool]]\nname = \"a\"\ninstance_type = \"x\"\nmax_nodes = \"3\"\n\n[dns]\nzone = \"matih.ai\"\nttl = 30\nsubdomain = [\"staging\"]\n";
    insta::assert_snapshot!("missing_and_mistyped", errors(text));
}

#[test]
fn aks_domain_figure_end_to_end() {
    // domain.md: 50 nodes, surge 1, 30 pods -> 1,581 addresses -> a /21.
    let one_pool = AKS.replace(
        "[[node_pool]]\nname = \"system\"\ninstance_type = \"Standard_D4s_v5\"\nmax_nodes = 5\n\n",
        "",
    );
    let fits = one_pool.replace(
        "cidr = \"10.0.0.0/16\"",
        "cidr = \"10.0.0.0/16\"\nnode_prefix = 21",
    );
    let l = ok("aks.toml", &fits);
    assert_eq!(l.plan.subnet("nodes").unwrap().needed, Some(1_581));
    assert_eq!(l.plan.subnet("nodes").unwrap().usable(), 2_043);
    let small = one_pool.replace(
        "cidr = \"10.0.0.0/16\"",
        "cidr = \"10.0.0.0/16\"\nnode_prefix = 22",
    );
    let out = errors(&small);
    assert!(
        out.contains(
            "holds 1,019 usable addresses; (50 nodes + 1 surge) x (1 + 30 pods) need 1,581"
        ),
        "{out}"
    );
    assert!(out.contains("use a /21 (2,043) or larger"), "{out}");
}

#[test]
fn gke_domain_figure_end_to_end() {
    // domain.md: 110 pods -> a /24 per node; a /16 pods range holds 256 nodes.
    let base = GKE
        .replace("10.4.0.0/14", "10.4.0.0/16")
        .replace("max_pods = 64", "max_pods = 110")
        .replace("max_nodes = 40", "max_nodes = 248");
    // (6 + 1) + (248 + 1) = 256 nodes x 256 addresses fill the /16 exactly.
    let l = load("gke.toml", &base, &vars).unwrap();
    let pods = l
        .plan
        .ranges
        .iter()
        .find(|r| r.purpose == Purpose::Pods)
        .unwrap();
    assert_eq!(pods.needed, Some(65_536));
    assert_eq!(pods.headroom(), Some(0));
    assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
    let over = base.replace("max_nodes = 248", "max_nodes = 249");
    assert!(errors(&over).contains("need 65,792"));
}

/// A minimal environment of each carving shape, with a network of prefix `prefix`.
fn shape_env(shape: usize, prefix: u8, node_prefix: Option<u8>) -> Environment {
    let np = node_prefix
        .map(|p| format!("node_prefix = {p}\n"))
        .unwrap_or_default();
    let (head, net) = match shape {
        0 => ("provider = \"aks\"\nregion = \"westeurope\"\n[azure]\nsubscription_id = \"s\"\nresource_group = \"rg\"\n", "cni = \"azure-pod-subnet\"\n"),
        1 => ("provider = \"aks\"\nregion = \"westeurope\"\n[azure]\nsubscription_id = \"s\"\nresource_group = \"rg\"\n", "cni = \"azure-pod-subnet\"\npod_cidr = \"100.64.0.0/16\"\n"),
        2 => ("provider = \"aks\"\nregion = \"westeurope\"\n[azure]\nsubscription_id = \"s\"\nresource_group = \"rg\"\n", "cni = \"azure-overlay\"\n"),
        3 => ("provider = \"gke\"\nregion = \"europe-west1\"\n[gcp]\nproject = \"p\"\n", "pod_cidr = \"100.64.0.0/14\"\n"),
        _ => ("provider = \"fake\"\n", ""),
    };
    let text = format!(
        "[environment]\nname = \"t\"\n{head}[network]\ncidr = \"10.0.0.0/{prefix}\"\nservice_cidr = \"192.168.0.0/16\"\n{net}{np}[dns]\nzone = \"matih.ai\"\n[[node_pool]]\nname = \"a\"\ninstance_type = \"x\"\nmax_nodes = 1\nmax_pods = 10\nmax_surge = 0\n"
    );
    let parsed = parse::parse("s.toml", &text, &vars);
    match parsed.env {
        Some(env) => env,
        None => panic!("{text}\n{:?}", parsed.diags),
    }
}

proptest! {
    #[test]
    fn every_shape_carves_disjoint_ranges_inside_their_parents(shape in 0usize..5, prefix in 12u8..=22, grow in proptest::option::of(0u8..6)) {
        let env = shape_env(shape, prefix, grow.map(|g| prefix + 1 + g));
        let plan = match AddressPlan::carve(&env) {
            Ok(p) => p,
            // Only the fake (AWS-like) shape may refuse, for subnets larger than a /16.
            Err(_) => { prop_assert_eq!(shape, 4, "only AWS-like subnet size limits may refuse"); return Ok(()); }
        };
        let parents: Vec<ipnet::Ipv4Net> = plan.ranges.iter()
            .filter(|r| matches!(r.purpose, Purpose::Network | Purpose::NetworkSecondary))
            .map(|r| r.cidr).collect();
        let mut leaves: Vec<&PlannedRange> = plan.subnets().collect();
        leaves.extend(plan.ranges.iter().filter(|r| r.subnet.is_none() && matches!(r.purpose, Purpose::Pods | Purpose::Services)));
        for (j, b) in leaves.iter().enumerate() {
            if b.subnet.is_some() {
                prop_assert!(parents.iter().any(|p| p.contains(&b.cidr)), "{} outside every network block", b.cidr);
            }
            for a in &leaves[..j] {
                prop_assert!(!cidr::overlaps(&a.cidr, &b.cidr), "{} overlaps {}", a.cidr, b.cidr);
            }
        }
        prop_assert_eq!(AddressPlan::carve(&env).unwrap(), plan, "carving is deterministic");
    }
}

#[test]
fn explicit_subnets_replace_carved_ones_by_name() {
    let text = EKS.replace(
        "protect = true\n\n[[node_pool]]",
        "protect = true\n\n[[network.subnet]]\nname = \"nodes_eu-west-1b\"\ncidr = \"10.0.128.0/20\"\n\n[[node_pool]]",
    );
    let l = ok("eks.toml", &text);
    assert_eq!(
        l.plan.subnet("nodes_eu-west-1b").unwrap().cidr.to_string(),
        "10.0.128.0/20"
    );
    assert_eq!(
        l.plan.subnet("nodes_eu-west-1a").unwrap().cidr.to_string(),
        "10.0.0.0/19"
    );

    let bad = EKS.replace(
        "protect = true\n\n[[node_pool]]",
        "protect = true\n\n[[network.subnet]]\nname = \"nodes_eu-west-1x\"\ncidr = \"10.0.128.0/20\"\n\n[[network.subnet]]\nname = \"nodes_eu-west-1a\"\ncidr = \"10.1.0.0/20\"\n\n[[network.subnet]]\nname = \"public_eu-west-1a\"\ncidr = \"10.0.32.0/28\"\n\n[[node_pool]]",
    );
    insta::assert_snapshot!("explicit_subnet_errors", errors(&bad));
}

#[test]
fn eks_pod_subnets_respect_aws_subnet_sizes() {
    let text = EKS.replace(
        "cni = \"vpc-cni\"",
        "cni = \"vpc-cni-custom\"\npod_cidr = \"100.64.0.0/27\"",
    );
    let out = errors(&text);
    assert!(
        out.contains("subnet pods_eu-west-1a would be 100.64.0.0/29: AWS subnets are /16 to /28"),
        "{out}"
    );
}

#[test]
fn provider_and_section_problems() {
    let typo = FAKE.replace("provider = \"fake\"", "provider = \"ekss\"");
    let missing_section = EKS.replace(
        "[aws]\navailability_zones",
        "[gcp]\nproject = \"p\"\navailability_zones",
    );
    let wrong_cni = AKS.replace("cni = \"azure\"", "cni = \"vpc-cni\"");
    let unset_and_overlap = FAKE
        .replace(
            "service_cidr = \"172.20.0.0/16\"",
            "service_cidr = \"10.0.128.0/17\"",
        )
        .replace("zone = \"matih.ai\"", "zone = \"${ZONE}.${TLD\"");
    let out = [typo, missing_section, wrong_cni, unset_and_overlap]
        .iter()
        .map(|t| errors(t))
        .collect::<Vec<_>>()
        .join("\n---\n");
    insta::assert_snapshot!("provider_and_section_problems", out);
}
