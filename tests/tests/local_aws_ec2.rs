//! The local AWS's EC2 held to moto: the same SDK calls (those the EKS provider makes, in its
//! order, plus the error cases) against both, compared step by step: outcome (or status and
//! error code) and the fields the provider reads.

mod sdk_clients;

use aws_sdk_ec2::types::{
    AttributeBooleanValue, DomainType, Filter, ResourceType, Tag, TagSpecification,
};
use matihnet_e2e::localcloud::LocalCloud;
use matihnet_e2e::moto::Moto;
use sdk_clients::{assert_same, normalize, Clients, Step};

fn spec(kind: ResourceType, name: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .tags(Tag::builder().key("matihnet:address").value(name).build())
        .build()
}

fn owned(name: &str) -> Filter {
    Filter::builder()
        .name("tag:matihnet:address")
        .values(name)
        .build()
}

macro_rules! step {
    ($steps:expr, $name:expr, $call:expr, |$out:ident| $fields:expr) => {
        match $call.await {
            Ok($out) => {
                let fields: Vec<(&str, String)> = $fields;
                $steps.push(Step::ok($name, &fields));
                Some($out)
            }
            Err(e) => {
                $steps.push(Step::err($name, &e));
                None
            }
        }
    };
}

async fn scenario(c: &Clients) -> Vec<Step> {
    let ec2 = &c.ec2;
    let mut s = Vec::new();
    let vpc = step!(
        s,
        "create_vpc",
        ec2.create_vpc()
            .cidr_block("10.0.0.0/16")
            .tag_specifications(spec(ResourceType::Vpc, "network.main"))
            .send(),
        |o| vec![
            (
                "id",
                o.vpc()
                    .and_then(|v| v.vpc_id())
                    .unwrap_or_default()
                    .to_string()
            ),
            (
                "cidr",
                o.vpc()
                    .and_then(|v| v.cidr_block())
                    .unwrap_or_default()
                    .to_string()
            ),
        ]
    );
    let vpc_id = vpc
        .and_then(|o| o.vpc().and_then(|v| v.vpc_id()).map(str::to_string))
        .unwrap_or_default();
    step!(
        s,
        "create_vpc_bad_range",
        ec2.create_vpc().cidr_block("10.0.0.0/8").send(),
        |_o| vec![]
    );
    let on = AttributeBooleanValue::builder().value(true).build();
    step!(
        s,
        "modify_vpc_attribute",
        ec2.modify_vpc_attribute()
            .vpc_id(&vpc_id)
            .enable_dns_hostnames(on)
            .send(),
        |_o| vec![]
    );
    let assoc = step!(
        s,
        "associate_vpc_cidr_block",
        ec2.associate_vpc_cidr_block()
            .vpc_id(&vpc_id)
            .cidr_block("10.1.0.0/16")
            .send(),
        |o| vec![(
            "cidr",
            o.cidr_block_association()
                .and_then(|a| a.cidr_block())
                .unwrap_or_default()
                .to_string()
        ),]
    );
    let assoc_id = assoc
        .and_then(|o| {
            o.cidr_block_association()
                .and_then(|a| a.association_id())
                .map(str::to_string)
        })
        .unwrap_or_default();
    step!(
        s,
        "describe_vpcs_by_tag",
        ec2.describe_vpcs().filters(owned("network.main")).send(),
        |o| vec![
            (
                "ids",
                o.vpcs()
                    .iter()
                    .filter_map(|v| v.vpc_id())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            (
                "associations",
                o.vpcs()
                    .first()
                    .map(|v| {
                        let mut a: Vec<String> = v
                            .cidr_block_association_set()
                            .iter()
                            .map(|a| {
                                format!(
                                    "{}={}",
                                    a.cidr_block().unwrap_or_default(),
                                    a.cidr_block_state()
                                        .and_then(|s| s.state())
                                        .map(|s| s.as_str().to_string())
                                        .unwrap_or_default()
                                )
                            })
                            .collect();
                        a.sort();
                        a.join(",")
                    })
                    .unwrap_or_default()
            ),
            (
                "name_tag",
                o.vpcs()
                    .first()
                    .map(|v| v
                        .tags()
                        .iter()
                        .filter_map(|t| t.key())
                        .collect::<Vec<_>>()
                        .join(","))
                    .unwrap_or_default()
            ),
        ]
    );
    step!(
        s,
        "describe_vpcs_missing",
        ec2.describe_vpcs().vpc_ids("vpc-0123456789abcdef0").send(),
        |_o| vec![]
    );
    step!(
        s,
        "disassociate_vpc_cidr_block",
        ec2.disassociate_vpc_cidr_block()
            .association_id(&assoc_id)
            .send(),
        |_o| vec![]
    );

    let subnet = step!(
        s,
        "create_subnet",
        ec2.create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block("10.0.0.0/20")
            .availability_zone("eu-west-1a")
            .tag_specifications(spec(ResourceType::Subnet, "subnet.a"))
            .send(),
        |o| vec![
            (
                "id",
                o.subnet()
                    .and_then(|x| x.subnet_id())
                    .unwrap_or_default()
                    .to_string()
            ),
            (
                "cidr",
                o.subnet()
                    .and_then(|x| x.cidr_block())
                    .unwrap_or_default()
                    .to_string()
            ),
            (
                "zone",
                o.subnet()
                    .and_then(|x| x.availability_zone())
                    .unwrap_or_default()
                    .to_string()
            ),
        ]
    );
    let subnet_id = subnet
        .and_then(|o| o.subnet().and_then(|x| x.subnet_id()).map(str::to_string))
        .unwrap_or_default();
    step!(
        s,
        "create_subnet_overlapping",
        ec2.create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block("10.0.8.0/21")
            .send(),
        |_o| vec![]
    );
    step!(
        s,
        "create_subnet_missing_vpc",
        ec2.create_subnet()
            .vpc_id("vpc-0123456789abcdef0")
            .cidr_block("10.0.16.0/20")
            .send(),
        |_o| vec![]
    );
    step!(
        s,
        "describe_subnets_by_id",
        ec2.describe_subnets().subnet_ids(&subnet_id).send(),
        |o| vec![
            (
                "cidr",
                o.subnets()
                    .first()
                    .and_then(|x| x.cidr_block())
                    .unwrap_or_default()
                    .to_string()
            ),
            (
                "zone",
                o.subnets()
                    .first()
                    .and_then(|x| x.availability_zone())
                    .unwrap_or_default()
                    .to_string()
            ),
            (
                "vpc",
                o.subnets()
                    .first()
                    .and_then(|x| x.vpc_id())
                    .unwrap_or_default()
                    .to_string()
            ),
        ]
    );

    let igw = step!(
        s,
        "create_internet_gateway",
        ec2.create_internet_gateway()
            .tag_specifications(spec(ResourceType::InternetGateway, "igw.main"))
            .send(),
        |o| vec![(
            "attachments",
            o.internet_gateway()
                .map(|g| g.attachments().len().to_string())
                .unwrap_or_default()
        ),]
    );
    let igw_id = igw
        .and_then(|o| {
            o.internet_gateway()
                .and_then(|g| g.internet_gateway_id())
                .map(str::to_string)
        })
        .unwrap_or_default();
    step!(
        s,
        "attach_internet_gateway",
        ec2.attach_internet_gateway()
            .internet_gateway_id(&igw_id)
            .vpc_id(&vpc_id)
            .send(),
        |_o| vec![]
    );
    step!(
        s,
        "describe_internet_gateways",
        ec2.describe_internet_gateways()
            .filters(owned("igw.main"))
            .send(),
        |o| vec![(
            "attached_to",
            o.internet_gateways()
                .first()
                .map(|g| g
                    .attachments()
                    .iter()
                    .filter_map(|a| a.vpc_id())
                    .collect::<Vec<_>>()
                    .join(","))
                .unwrap_or_default()
        ),]
    );
    step!(
        s,
        "delete_vpc_in_use",
        ec2.delete_vpc().vpc_id(&vpc_id).send(),
        |_o| vec![]
    );

    let eip = step!(
        s,
        "allocate_address",
        ec2.allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(spec(ResourceType::ElasticIp, "eip.a"))
            .send(),
        |o| vec![("has_ip", o.public_ip().is_some().to_string()),]
    );
    let alloc = eip
        .and_then(|o| o.allocation_id().map(str::to_string))
        .unwrap_or_default();
    step!(
        s,
        "describe_addresses_by_tag",
        ec2.describe_addresses().filters(owned("eip.a")).send(),
        |o| vec![(
            "ids",
            o.addresses()
                .iter()
                .filter_map(|a| a.allocation_id())
                .collect::<Vec<_>>()
                .join(",")
        ),]
    );
    let nat = step!(
        s,
        "create_nat_gateway",
        ec2.create_nat_gateway()
            .subnet_id(&subnet_id)
            .allocation_id(&alloc)
            .tag_specifications(spec(ResourceType::Natgateway, "nat.a"))
            .send(),
        |o| vec![(
            "subnet",
            o.nat_gateway()
                .and_then(|n| n.subnet_id())
                .unwrap_or_default()
                .to_string()
        ),]
    );
    let nat_id = nat
        .and_then(|o| {
            o.nat_gateway()
                .and_then(|n| n.nat_gateway_id())
                .map(str::to_string)
        })
        .unwrap_or_default();
    step!(
        s,
        "describe_nat_gateways",
        ec2.describe_nat_gateways().nat_gateway_ids(&nat_id).send(),
        |o| vec![
            (
                "vpc",
                o.nat_gateways()
                    .first()
                    .and_then(|n| n.vpc_id())
                    .unwrap_or_default()
                    .to_string()
            ),
            (
                "allocation",
                o.nat_gateways()
                    .first()
                    .and_then(|n| n.nat_gateway_addresses().first())
                    .and_then(|a| a.allocation_id())
                    .unwrap_or_default()
                    .to_string()
            ),
        ]
    );

    let rt = step!(
        s,
        "create_route_table",
        ec2.create_route_table()
            .vpc_id(&vpc_id)
            .tag_specifications(spec(ResourceType::RouteTable, "rt.a"))
            .send(),
        |o| vec![(
            "routes",
            o.route_table()
                .map(|r| r
                    .routes()
                    .iter()
                    .map(|x| format!(
                        "{}->{}",
                        x.destination_cidr_block().unwrap_or_default(),
                        x.gateway_id().unwrap_or_default()
                    ))
                    .collect::<Vec<_>>()
                    .join(","))
                .unwrap_or_default()
        ),]
    );
    let rt_id = rt
        .and_then(|o| {
            o.route_table()
                .and_then(|r| r.route_table_id())
                .map(str::to_string)
        })
        .unwrap_or_default();
    step!(
        s,
        "create_route",
        ec2.create_route()
            .route_table_id(&rt_id)
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(&igw_id)
            .send(),
        |_o| vec![]
    );
    step!(
        s,
        "create_route_again",
        ec2.create_route()
            .route_table_id(&rt_id)
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(&igw_id)
            .send(),
        |_o| vec![]
    );
    step!(
        s,
        "replace_route",
        ec2.replace_route()
            .route_table_id(&rt_id)
            .destination_cidr_block("0.0.0.0/0")
            .nat_gateway_id(&nat_id)
            .send(),
        |_o| vec![]
    );
    let assoc = step!(
        s,
        "associate_route_table",
        ec2.associate_route_table()
            .route_table_id(&rt_id)
            .subnet_id(&subnet_id)
            .send(),
        |_o| vec![]
    );
    let rt_assoc = assoc
        .and_then(|o| o.association_id().map(str::to_string))
        .unwrap_or_default();
    step!(
        s,
        "describe_route_tables",
        ec2.describe_route_tables().route_table_ids(&rt_id).send(),
        |o| vec![
            (
                "default_route",
                o.route_tables()
                    .first()
                    .and_then(|r| r
                        .routes()
                        .iter()
                        .find(|x| x.destination_cidr_block() == Some("0.0.0.0/0")))
                    .map(|x| format!(
                        "{} {}",
                        x.gateway_id().unwrap_or_default(),
                        x.nat_gateway_id().unwrap_or_default()
                    ))
                    .unwrap_or_default()
            ),
            (
                "associations",
                o.route_tables()
                    .first()
                    .map(|r| r
                        .associations()
                        .iter()
                        .filter_map(|a| a.subnet_id())
                        .collect::<Vec<_>>()
                        .join(","))
                    .unwrap_or_default()
            ),
        ]
    );
    step!(
        s,
        "delete_route_table_in_use",
        ec2.delete_route_table().route_table_id(&rt_id).send(),
        |_o| vec![]
    );
    step!(
        s,
        "create_tags",
        ec2.create_tags()
            .resources(&vpc_id)
            .tags(Tag::builder().key("Name").value("main").build())
            .send(),
        |_o| vec![]
    );

    // Teardown in the provider's order.
    step!(
        s,
        "disassociate_route_table",
        ec2.disassociate_route_table()
            .association_id(&rt_assoc)
            .send(),
        |_o| vec![]
    );
    step!(
        s,
        "delete_route_table",
        ec2.delete_route_table().route_table_id(&rt_id).send(),
        |_o| vec![]
    );
    step!(
        s,
        "delete_nat_gateway",
        ec2.delete_nat_gateway().nat_gateway_id(&nat_id).send(),
        |_o| vec![]
    );
    step!(
        s,
        "detach_internet_gateway",
        ec2.detach_internet_gateway()
            .internet_gateway_id(&igw_id)
            .vpc_id(&vpc_id)
            .send(),
        |_o| vec![]
    );
    step!(
        s,
        "delete_internet_gateway",
        ec2.delete_internet_gateway()
            .internet_gateway_id(&igw_id)
            .send(),
        |_o| vec![]
    );
    step!(
        s,
        "describe_internet_gateways_missing",
        ec2.describe_internet_gateways()
            .internet_gateway_ids(&igw_id)
            .send(),
        |_o| vec![]
    );
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec2_matches_moto() {
    let moto = Moto::start();
    let local = LocalCloud::start("50ms");
    let on_moto = scenario(&Clients::new(&moto.endpoint()).await).await;
    let on_local = scenario(&Clients::new(&local.endpoint()).await).await;
    let ids = [
        "vpc-cidr-assoc-",
        "vpc-",
        "subnet-",
        "igw-",
        "nat-",
        "eipalloc-",
        "rtbassoc-",
        "rtb-",
    ];
    assert_same(
        &normalize(&on_moto, &ids),
        &normalize(&on_local, &ids),
        &[(
            "create_route_table",
            "routes",
            "moto adds a local route for a CIDR block already disassociated from the VPC; AWS \
             routes only the blocks associated with it (VPC User Guide, 'VPC CIDR blocks')",
        )],
    );
}
