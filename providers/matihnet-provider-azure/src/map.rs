//! From the networking model's neutral resources to Azure's: the neutral ones keep their
//! addresses; the resource groups they live in are added.

use matihnet_core::{Address, DesiredResource, ResourceSchema};

use crate::provider::AzureSettings;

pub fn schemas() -> Vec<ResourceSchema> {
    vec![
        ResourceSchema::new("resource_group")
            .required_force_new("name")
            .required_force_new("location")
            .computed("id")
            .computed("created"),
        ResourceSchema::new("network")
            .required_force_new("name")
            .required_force_new("cidr")
            .optional("secondary_cidrs")
            .required_force_new("region")
            .required_force_new("resource_group")
            .computed("id"),
        ResourceSchema::new("subnet")
            .required_force_new("network_id")
            .required_force_new("name")
            .required_force_new("cidr")
            .required_force_new("purpose")
            .required_force_new("zone")
            .computed("id"),
        ResourceSchema::new("frontend")
            .required_force_new("name")
            .required("purpose")
            .required_force_new("resource_group")
            .required_force_new("location")
            .computed("id")
            .computed("ip_address"),
        ResourceSchema::new("dns_zone")
            .required_force_new("name")
            .required_force_new("resource_group")
            .computed("id")
            .computed("name_servers"),
        ResourceSchema::new("dns_record")
            .required_force_new("zone_id")
            .required_force_new("zone_name")
            .required_force_new("name")
            .required_force_new("type")
            .required_force_new("resource_group")
            .required("ttl")
            .required("values")
            .computed("id")
            .computed("etag"),
    ]
}

pub fn map_resources(
    settings: &AzureSettings,
    neutral: Vec<DesiredResource>,
) -> Vec<DesiredResource> {
    let main = Address::new("resource_group", "main");
    let ingress = if settings.ingress_resource_group == settings.resource_group {
        main.clone()
    } else {
        Address::new("resource_group", "ingress")
    };
    let mut out = vec![DesiredResource::new(main.clone())
        .attr("name", settings.resource_group.as_str())
        .attr("location", settings.location.as_str())];
    if ingress != main {
        out.push(
            DesiredResource::new(ingress.clone())
                .attr("name", settings.ingress_resource_group.as_str())
                .attr("location", settings.location.as_str()),
        );
    }
    for mut r in neutral {
        match r.addr.kind.as_str() {
            "network" => {
                r = r
                    .attr("resource_group", settings.resource_group.as_str())
                    .depends_on(main.clone());
            }
            "subnet" => {
                r.attrs.remove("secondary_ranges");
            }
            "frontend" => {
                r = r
                    .attr("resource_group", settings.ingress_resource_group.as_str())
                    .attr("location", settings.location.as_str())
                    .depends_on(ingress.clone());
            }
            "dns_zone" | "dns_record" => {
                r = r
                    .attr("resource_group", settings.resource_group.as_str())
                    .depends_on(main.clone());
            }
            _ => {}
        }
        out.push(r);
    }
    out
}
