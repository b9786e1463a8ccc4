//! The local AWS's Elastic Load Balancing v2 held to moto: the calls the EKS provider makes
//! (`providers/matihnet-provider-aws/src/nlb.rs`), through the SDK, against both, compared step
//! by step on their outcomes and on the fields the provider reads. Where moto departs from AWS's
//! documentation the local AWS follows AWS, and the difference is written down below with its
//! reason: as a field left out of the comparison, or as an outcome moto gets wrong.

mod sdk_clients;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, LoadBalancer, LoadBalancerSchemeEnum, LoadBalancerTypeEnum,
    ProtocolEnum, SubnetMapping, Tag, TargetTypeEnum,
};
use matihnet_e2e::localcloud::LocalCloud;
use matihnet_e2e::moto::Moto;
use sdk_clients::{assert_same, normalize, Clients, Step};

const LB: &str = "matih-test-web";
const TG80: &str = "matih-test-web-80";
const TG443: &str = "matih-test-web-443";
const ALLOCATIONS: [&str; 2] = ["eipalloc-0123456789abcdef1", "eipalloc-0123456789abcdef2"];

/// Where the load balancer goes: a VPC and two subnets.
struct Network {
    vpc: String,
    subnets: [String; 2],
}

/// moto checks subnets and VPCs against its own EC2, so they are made there; the local ELB
/// cannot see EC2 and takes any id, so it gets fixed made-up ones (normalized alike).
async fn network(c: &Clients, real: bool) -> Network {
    if !real {
        return Network {
            vpc: "vpc-0123456789abcdef0".into(),
            subnets: [
                "subnet-0123456789abcdef1".into(),
                "subnet-0123456789abcdef2".into(),
            ],
        };
    }
    let vpc = c
        .ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .expect("create_vpc on moto")
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_string();
    let mut subnets = Vec::new();
    for (cidr, zone) in [("10.0.1.0/24", "eu-west-1a"), ("10.0.2.0/24", "eu-west-1b")] {
        let out = c
            .ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(cidr)
            .availability_zone(zone)
            .send()
            .await
            .expect("create_subnet on moto");
        subnets.push(
            out.subnet()
                .and_then(|s| s.subnet_id())
                .expect("subnet id")
                .to_string(),
        );
    }
    Network {
        vpc,
        subnets: [subnets[0].clone(), subnets[1].clone()],
    }
}

fn tags(name: &str) -> Vec<Tag> {
    [
        ("Name", name),
        ("matihnet:environment", "test"),
        ("matihnet:address", "nlb.web"),
        ("matihnet:lineage", "lineage-1"),
    ]
    .iter()
    .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
    .collect()
}

/// An ARN split for comparison: the 16-hex ids marked `elbid-` (so `normalize` numbers them
/// in order of appearance) and the load balancer kind (`net`, `app`) as a field of its own, so
/// an exception on the kind leaves the rest of the ARN compared.
fn arn_fields(key: &str, arn: &str) -> Vec<(String, String)> {
    let mut kind = String::new();
    let mut parts: Vec<String> = Vec::new();
    let (head, path) = arn.split_once(":loadbalancer/").map_or_else(
        || {
            arn.split_once(":listener/")
                .map_or((arn, None), |(h, p)| (h, Some(("listener", p))))
        },
        |(h, p)| (h, Some(("loadbalancer", p))),
    );
    let text = match path {
        None => mark_ids(arn),
        Some((resource, path)) => {
            let mut segments = path.split('/');
            kind = segments.next().unwrap_or_default().to_string();
            parts.extend(segments.map(mark_ids));
            format!("{head}:{resource}/<kind>/{}", parts.join("/"))
        }
    };
    let mut out = vec![(key.to_string(), text)];
    if !kind.is_empty() {
        out.push((format!("{key}.kind"), kind));
    }
    out
}

/// Path segments of 16 hex digits become `elbid-...`.
fn mark_ids(text: &str) -> String {
    text.split('/')
        .map(|s| {
            if s.len() == 16 && s.chars().all(|c| c.is_ascii_hexdigit()) {
                format!("elbid-{s}")
            } else {
                s.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn step(name: &str, fields: Vec<(String, String)>) -> Step {
    let borrowed: Vec<(&str, String)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    Step::ok(name, &borrowed)
}

/// The fields of a load balancer the provider reads (ARN, DNS name, zone) and the ones that
/// say what it is.
fn lb_fields(lb: &LoadBalancer) -> Vec<(String, String)> {
    let mut f = arn_fields("arn", lb.load_balancer_arn().unwrap_or_default());
    let dns = lb.dns_name().unwrap_or_default();
    let name = lb.load_balancer_name().unwrap_or_default().to_string();
    f.push(("dns_name".into(), dns.to_string()));
    f.push((
        "dns_name.starts_with_name".into(),
        dns.starts_with(&format!("{name}-")).to_string(),
    ));
    f.push(("name".into(), name));
    f.push((
        "zone_id".into(),
        lb.canonical_hosted_zone_id()
            .unwrap_or_default()
            .to_string(),
    ));
    f.push((
        "state".into(),
        lb.state()
            .and_then(|s| s.code())
            .map(|c| c.as_str().to_string())
            .unwrap_or_default(),
    ));
    f.push((
        "type".into(),
        lb.r#type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
    ));
    f.push((
        "scheme".into(),
        lb.scheme()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
    ));
    f.push((
        "ip_address_type".into(),
        lb.ip_address_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
    ));
    let zones: Vec<String> = lb
        .availability_zones()
        .iter()
        .map(|z| {
            format!(
                "{}:{}",
                z.zone_name().unwrap_or_default(),
                z.subnet_id().unwrap_or_default()
            )
        })
        .collect();
    f.push(("zones".into(), zones.join(",")));
    f
}

async fn scenario(c: &Clients, real_network: bool) -> Vec<Step> {
    let net = network(c, real_network).await;
    let elb = &c.elb;
    let mut steps = Vec::new();

    let mappings: Vec<SubnetMapping> = net
        .subnets
        .iter()
        .zip(ALLOCATIONS)
        .map(|(s, a)| {
            SubnetMapping::builder()
                .subnet_id(s)
                .allocation_id(a)
                .build()
        })
        .collect();
    let mut lb_arn = String::new();
    match elb
        .create_load_balancer()
        .name(LB)
        .r#type(LoadBalancerTypeEnum::Network)
        .scheme(LoadBalancerSchemeEnum::InternetFacing)
        .set_subnet_mappings(Some(mappings))
        .set_tags(Some(tags(LB)))
        .send()
        .await
    {
        Ok(out) => {
            let lb = out.load_balancers().first().expect("a load balancer");
            lb_arn = lb.load_balancer_arn().unwrap_or_default().to_string();
            steps.push(step("create_lb", lb_fields(lb)));
        }
        Err(e) => steps.push(Step::err("create_lb", &e)),
    }

    // The same name with other settings.
    match elb
        .create_load_balancer()
        .name(LB)
        .r#type(LoadBalancerTypeEnum::Network)
        .scheme(LoadBalancerSchemeEnum::Internal)
        .subnets(&net.subnets[0])
        .send()
        .await
    {
        Ok(out) => {
            // moto makes a second load balancer of the same name: gone again, so both
            // emulators go on from the same objects.
            for lb in out.load_balancers() {
                if let Some(arn) = lb.load_balancer_arn().filter(|a| *a != lb_arn) {
                    elb.delete_load_balancer()
                        .load_balancer_arn(arn)
                        .send()
                        .await
                        .expect("delete moto's second load balancer");
                }
            }
            steps.push(Step::ok("create_lb_same_name_other_settings", &[]));
        }
        Err(e) => steps.push(Step::err("create_lb_same_name_other_settings", &e)),
    }

    match elb.describe_load_balancers().names(LB).send().await {
        Ok(out) => {
            let mut f = vec![("count".to_string(), out.load_balancers().len().to_string())];
            if let Some(lb) = out.load_balancers().first() {
                f.extend(lb_fields(lb));
            }
            steps.push(step("describe_lb_by_name", f));
        }
        Err(e) => steps.push(Step::err("describe_lb_by_name", &e)),
    }

    match elb
        .describe_load_balancers()
        .names("matih-test-missing")
        .send()
        .await
    {
        Ok(out) => steps.push(Step::ok(
            "describe_lb_missing_name",
            &[("count", out.load_balancers().len().to_string())],
        )),
        Err(e) => steps.push(Step::err("describe_lb_missing_name", &e)),
    }

    match elb
        .describe_load_balancers()
        .load_balancer_arns(&lb_arn)
        .send()
        .await
    {
        Ok(out) => {
            let mut f = vec![("count".to_string(), out.load_balancers().len().to_string())];
            if let Some(lb) = out.load_balancers().first() {
                f.extend(lb_fields(lb));
            }
            steps.push(step("describe_lb_by_arn", f));
        }
        Err(e) => steps.push(Step::err("describe_lb_by_arn", &e)),
    }

    let mut tg_arns = Vec::new();
    for (name, port) in [(TG80, 80), (TG443, 443)] {
        let label = format!("create_tg_{port}");
        match elb
            .create_target_group()
            .name(name)
            .protocol(ProtocolEnum::Tcp)
            .port(port)
            .vpc_id(&net.vpc)
            .target_type(TargetTypeEnum::Ip)
            .set_tags(Some(tags(name)))
            .send()
            .await
        {
            Ok(out) => {
                let g = out.target_groups().first().expect("a target group");
                let arn = g.target_group_arn().unwrap_or_default().to_string();
                let mut f = arn_fields("arn", &arn);
                f.extend([
                    (
                        "name".into(),
                        g.target_group_name().unwrap_or_default().to_string(),
                    ),
                    (
                        "protocol".into(),
                        g.protocol()
                            .map(|p| p.as_str().to_string())
                            .unwrap_or_default(),
                    ),
                    (
                        "port".into(),
                        g.port().map(|p| p.to_string()).unwrap_or_default(),
                    ),
                    ("vpc".into(), g.vpc_id().unwrap_or_default().to_string()),
                    (
                        "target_type".into(),
                        g.target_type()
                            .map(|t| t.as_str().to_string())
                            .unwrap_or_default(),
                    ),
                    (
                        "health_check_protocol".into(),
                        g.health_check_protocol()
                            .map(|p| p.as_str().to_string())
                            .unwrap_or_default(),
                    ),
                    (
                        "health_check_port".into(),
                        g.health_check_port().unwrap_or_default().to_string(),
                    ),
                ]);
                tg_arns.push(arn);
                steps.push(step(&label, f));
            }
            Err(e) => {
                tg_arns.push(String::new());
                steps.push(Step::err(&label, &e));
            }
        }
    }
    let (tg80, tg443) = (tg_arns[0].clone(), tg_arns[1].clone());

    match elb
        .create_target_group()
        .name(TG80)
        .protocol(ProtocolEnum::Tcp)
        .port(81)
        .vpc_id(&net.vpc)
        .target_type(TargetTypeEnum::Ip)
        .send()
        .await
    {
        Ok(_) => steps.push(Step::ok("create_tg_same_name_other_port", &[])),
        Err(e) => steps.push(Step::err("create_tg_same_name_other_port", &e)),
    }

    match elb.describe_target_groups().names(TG80).send().await {
        Ok(out) => {
            let arns: Vec<String> = out
                .target_groups()
                .iter()
                .map(|g| g.target_group_arn().unwrap_or_default().to_string())
                .collect();
            let mut f = vec![("count".to_string(), arns.len().to_string())];
            if let Some(a) = arns.first() {
                f.extend(arn_fields("arn", a));
            }
            steps.push(step("describe_tg_by_name", f));
        }
        Err(e) => steps.push(Step::err("describe_tg_by_name", &e)),
    }

    match elb
        .describe_target_groups()
        .names("matih-test-missing")
        .send()
        .await
    {
        Ok(_) => steps.push(Step::ok("describe_tg_missing_name", &[])),
        Err(e) => steps.push(Step::err("describe_tg_missing_name", &e)),
    }

    match elb
        .describe_listeners()
        .load_balancer_arn(&lb_arn)
        .send()
        .await
    {
        Ok(out) => steps.push(Step::ok(
            "describe_listeners_none_yet",
            &[("count", out.listeners().len().to_string())],
        )),
        Err(e) => steps.push(Step::err("describe_listeners_none_yet", &e)),
    }

    let forward = |tg: &str| {
        Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(tg)
            .build()
    };
    let mut listener80 = String::new();
    for (port, tg) in [(80, &tg80), (443, &tg443)] {
        let label = format!("create_listener_{port}");
        match elb
            .create_listener()
            .load_balancer_arn(&lb_arn)
            .protocol(ProtocolEnum::Tcp)
            .port(port)
            .set_tags(Some(tags(LB)))
            .default_actions(forward(tg))
            .send()
            .await
        {
            Ok(out) => {
                let l = out.listeners().first().expect("a listener");
                let arn = l.listener_arn().unwrap_or_default().to_string();
                if port == 80 {
                    listener80 = arn.clone();
                }
                let mut f = arn_fields("arn", &arn);
                f.extend(arn_fields(
                    "lb_arn",
                    l.load_balancer_arn().unwrap_or_default(),
                ));
                f.push((
                    "port".into(),
                    l.port().map(|p| p.to_string()).unwrap_or_default(),
                ));
                f.push((
                    "protocol".into(),
                    l.protocol()
                        .map(|p| p.as_str().to_string())
                        .unwrap_or_default(),
                ));
                let action = l.default_actions().first();
                f.push((
                    "action_type".into(),
                    action
                        .and_then(|a| a.r#type())
                        .map(|t| t.as_str().to_string())
                        .unwrap_or_default(),
                ));
                f.extend(arn_fields(
                    "action_tg",
                    action
                        .and_then(|a| a.target_group_arn())
                        .unwrap_or_default(),
                ));
                steps.push(step(&label, f));
            }
            Err(e) => steps.push(Step::err(&label, &e)),
        }

        if port == 80 {
            // Port 80 again, forwarding elsewhere.
            match elb
                .create_listener()
                .load_balancer_arn(&lb_arn)
                .protocol(ProtocolEnum::Tcp)
                .port(80)
                .default_actions(forward(&tg443))
                .send()
                .await
            {
                Ok(out) => {
                    // moto makes a second listener on the port: gone again, as above.
                    for l in out.listeners() {
                        if let Some(arn) = l.listener_arn().filter(|a| *a != listener80) {
                            elb.delete_listener()
                                .listener_arn(arn)
                                .send()
                                .await
                                .expect("delete moto's second listener");
                        }
                    }
                    steps.push(Step::ok("create_listener_same_port_other_target", &[]));
                }
                Err(e) => steps.push(Step::err("create_listener_same_port_other_target", &e)),
            }
        }
    }

    match elb
        .describe_listeners()
        .load_balancer_arn(&lb_arn)
        .send()
        .await
    {
        Ok(out) => {
            let mut f = vec![("count".to_string(), out.listeners().len().to_string())];
            for (i, l) in out.listeners().iter().enumerate() {
                f.push((
                    format!("{i}.port"),
                    l.port().map(|p| p.to_string()).unwrap_or_default(),
                ));
                f.extend(arn_fields(
                    &format!("{i}.arn"),
                    l.listener_arn().unwrap_or_default(),
                ));
            }
            steps.push(step("describe_listeners", f));
        }
        Err(e) => steps.push(Step::err("describe_listeners", &e)),
    }

    match elb
        .describe_target_groups()
        .load_balancer_arn(&lb_arn)
        .send()
        .await
    {
        Ok(out) => {
            let names: Vec<&str> = out
                .target_groups()
                .iter()
                .map(|g| g.target_group_name().unwrap_or_default())
                .collect();
            steps.push(Step::ok(
                "describe_tgs_of_lb",
                &[("names", names.join(","))],
            ));
        }
        Err(e) => steps.push(Step::err("describe_tgs_of_lb", &e)),
    }

    match elb
        .describe_tags()
        .resource_arns(&lb_arn)
        .resource_arns(&tg80)
        .send()
        .await
    {
        Ok(out) => {
            let mut f = Vec::new();
            for (i, d) in out.tag_descriptions().iter().enumerate() {
                f.extend(arn_fields(
                    &format!("{i}.arn"),
                    d.resource_arn().unwrap_or_default(),
                ));
                let mut pairs: Vec<String> = d
                    .tags()
                    .iter()
                    .map(|t| {
                        format!(
                            "{}={}",
                            t.key().unwrap_or_default(),
                            t.value().unwrap_or_default()
                        )
                    })
                    .collect();
                pairs.sort();
                f.push((format!("{i}.tags"), pairs.join(",")));
            }
            steps.push(step("describe_tags", f));
        }
        Err(e) => steps.push(Step::err("describe_tags", &e)),
    }

    let delete_tg = |arn: String| async move {
        c.elb
            .delete_target_group()
            .target_group_arn(arn)
            .send()
            .await
    };
    match delete_tg(tg80.clone()).await {
        Ok(_) => steps.push(Step::ok("delete_tg_in_use", &[])),
        Err(e) => steps.push(Step::err("delete_tg_in_use", &e)),
    }

    for label in ["delete_listener_80", "delete_listener_80_again"] {
        match elb.delete_listener().listener_arn(&listener80).send().await {
            Ok(_) => steps.push(Step::ok(label, &[])),
            Err(e) => steps.push(Step::err(label, &e)),
        }
    }

    for label in ["delete_tg_80", "delete_tg_80_again"] {
        match delete_tg(tg80.clone()).await {
            Ok(_) => steps.push(Step::ok(label, &[])),
            Err(e) => steps.push(Step::err(label, &e)),
        }
    }

    match elb
        .describe_target_groups()
        .target_group_arns(&tg80)
        .send()
        .await
    {
        Ok(_) => steps.push(Step::ok("describe_tg_deleted", &[])),
        Err(e) => steps.push(Step::err("describe_tg_deleted", &e)),
    }

    for label in ["delete_lb", "delete_lb_again"] {
        match elb
            .delete_load_balancer()
            .load_balancer_arn(&lb_arn)
            .send()
            .await
        {
            Ok(_) => steps.push(Step::ok(label, &[])),
            Err(e) => steps.push(Step::err(label, &e)),
        }
    }

    match elb
        .describe_load_balancers()
        .load_balancer_arns(&lb_arn)
        .send()
        .await
    {
        Ok(out) => steps.push(Step::ok(
            "describe_lb_deleted",
            &[("count", out.load_balancers().len().to_string())],
        )),
        Err(e) => steps.push(Step::err("describe_lb_deleted", &e)),
    }

    match elb.describe_tags().resource_arns(&lb_arn).send().await {
        Ok(_) => steps.push(Step::ok("describe_tags_deleted_lb", &[])),
        Err(e) => steps.push(Step::err("describe_tags_deleted_lb", &e)),
    }

    // The load balancer took its listeners along, so the 443 group is free to go.
    match delete_tg(tg443.clone()).await {
        Ok(_) => steps.push(Step::ok("delete_tg_443_after_lb", &[])),
        Err(e) => steps.push(Step::err("delete_tg_443_after_lb", &e)),
    }
    steps
}

const LB_STEPS: [&str; 3] = ["create_lb", "describe_lb_by_name", "describe_lb_by_arn"];

/// Fields where moto departs from AWS's documentation and the local AWS follows AWS.
fn field_exceptions() -> Vec<(&'static str, &'static str, &'static str)> {
    const KIND: &str = "AWS documents network load balancers' ARNs as loadbalancer/net/NAME/ID and their listeners' as listener/net/...; moto writes app/ (an application load balancer's) for every type";
    const DNS: &str = "AWS names a network load balancer NAME-ID.elb.REGION.amazonaws.com; moto writes NAME-1.REGION.elb.amazonaws.com, an application load balancer's form with a fixed id";
    const ZONE: &str = "AWS gives network load balancers the per-region NLB zone (eu-west-1: Z2IFOLAFXWLO4F) that alias records need; moto answers the placeholder Z2P70J7EXAMPLE";
    let mut out = Vec::new();
    for s in LB_STEPS {
        out.push((s, "arn.kind", KIND));
        out.push((s, "dns_name", DNS));
        out.push((s, "zone_id", ZONE));
    }
    for s in ["create_listener_80", "create_listener_443"] {
        out.push((s, "arn.kind", KIND));
        out.push((s, "lb_arn.kind", KIND));
    }
    for f in ["0.arn.kind", "1.arn.kind"] {
        out.push(("describe_listeners", f, KIND));
    }
    out.push(("describe_tags", "0.arn.kind", KIND));
    out
}

/// Outcomes moto gets wrong: `(step, moto's outcome, AWS's outcome, reason)`. moto's answer is
/// checked (so a moto that changes is noticed), then replaced by AWS's before the comparison.
const OUTCOME_EXCEPTIONS: &[(&str, &str, &str, &str)] = &[
    (
        "create_lb_same_name_other_settings",
        "ok",
        "HTTP 400 DuplicateLoadBalancerName",
        "AWS's CreateLoadBalancer is idempotent for the same settings and answers DuplicateLoadBalancerName for a taken name with other settings; moto compares ARNs with a fresh random id, so it never finds a duplicate and makes a second load balancer of the same name",
    ),
    (
        "create_listener_same_port_other_target",
        "ok",
        "HTTP 400 DuplicateListener",
        "AWS answers DuplicateListener for a port already listened on with other settings; moto looks the port up among listener ARNs, never finds it, and makes a second listener on the port",
    ),
    (
        "delete_tg_80_again",
        "HTTP 400 TargetGroupNotFound",
        "ok",
        "AWS's API gives DeleteTargetGroup no not-found error (only ResourceInUse): deleting a target group already gone succeeds, as DeleteLoadBalancer does; moto answers TargetGroupNotFound",
    ),
    (
        "describe_tags_deleted_lb",
        "ok",
        "HTTP 400 LoadBalancerNotFound",
        "AWS's DescribeTags answers LoadBalancerNotFound for a load balancer that does not exist; moto answers an empty tag list for any ARN",
    ),
];

fn apply_outcome_exceptions(moto: &mut [Step]) {
    for (name, moto_outcome, aws_outcome, reason) in OUTCOME_EXCEPTIONS {
        let s = moto
            .iter_mut()
            .find(|s| s.name == *name)
            .unwrap_or_else(|| panic!("no step {name}"));
        assert_eq!(
            s.outcome, *moto_outcome,
            "moto's answer to {name} changed; revisit the exception ({reason})"
        );
        s.outcome = aws_outcome.to_string();
        s.fields.clear();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elb_matches_moto() {
    let moto = Moto::start();
    let local = LocalCloud::start("50ms");
    let on_moto = scenario(&Clients::new(&moto.endpoint()).await, true).await;
    let on_local = scenario(&Clients::new(&local.endpoint()).await, false).await;
    let ids = ["vpc-", "subnet-", "eipalloc-", "elbid-"];
    let mut moto_steps = normalize(&on_moto, &ids);
    let local_steps = normalize(&on_local, &ids);
    apply_outcome_exceptions(&mut moto_steps);
    let exceptions = field_exceptions();
    assert_same(&moto_steps, &local_steps, &exceptions);
    // An exception moto no longer needs would hide a difference: each must still differ.
    for (step, field, reason) in &exceptions {
        let value = |steps: &[Step]| {
            steps
                .iter()
                .find(|s| s.name == *step)
                .and_then(|s| s.fields.get(*field).cloned())
        };
        assert_ne!(
            value(&moto_steps),
            value(&local_steps),
            "{step} {field} is the same on moto now; drop the exception ({reason})"
        );
    }

    // What the exceptions leave out, checked against AWS's documented forms.
    let lb = local_steps
        .iter()
        .find(|s| s.name == "create_lb")
        .expect("create_lb");
    assert_eq!(lb.fields["arn.kind"], "net");
    assert_eq!(lb.fields["zone_id"], "Z2IFOLAFXWLO4F");
    let dns = &on_local[0].fields["dns_name"];
    let label = dns
        .strip_prefix("matih-test-web-")
        .and_then(|d| d.strip_suffix(".elb.eu-west-1.amazonaws.com"))
        .unwrap_or_else(|| panic!("{dns}"));
    assert!(
        label.len() == 16 && label.chars().all(|c| c.is_ascii_hexdigit()),
        "{dns}"
    );
}
