//! From the networking model's neutral resources to Azure's: the neutral ones keep their
//! addresses; the resource groups they live in are added.

use matihnet_core::{Address, DesiredResource, Expr, ResourceSchema};

use crate::provider::AzureSettings;

/// The resource types' schemas, without connecting (see `types.rs`).
pub fn schemas() -> Vec<ResourceSchema> {
    crate::types::table().schemas()
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
            // An existing network or zone is found by its ARM id, in whatever group its owner
            // keeps it: no group is asked of it.
            "network" | "dns_zone" if r.existing.is_some() => {}
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
            // A record lives in its zone's group (an existing zone may be in another one).
            "dns_record" => {
                let zone = match r.attrs.get("zone_id") {
                    Some(Expr::Ref { addr, .. }) => Some(addr.clone()),
                    _ => None,
                };
                r = match zone {
                    Some(zone) => r.attr("resource_group", Expr::reference(zone, "resource_group")),
                    None => r.attr("resource_group", settings.resource_group.as_str()),
                }
                .depends_on(main.clone());
            }
            "dns_zone" => {
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
