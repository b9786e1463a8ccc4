//! From the networking model's neutral resources to GCP's: addresses stay, and each object gets
//! the deterministic GCP name and the region or zone name it needs.

use matihnet_core::{DesiredResource, Expr, ResourceSchema, Value};

use crate::provider::GcpSettings;

/// The resource types' schemas, without connecting (see `types.rs`).
pub fn schemas() -> Vec<ResourceSchema> {
    crate::types::table().schemas()
}

/// The services range GKE uses when the cluster is given none; it lives outside the VPC.
const GKE_MANAGED_SERVICES: &str = "34.118.224.0/20";

/// GCP resource names: lowercase letters, digits and hyphens, starting with a letter.
pub fn gcp_name(s: &str) -> String {
    let mut out: String = s
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    let out = out.trim_matches('-').to_string();
    let out = if out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out
    } else {
        format!("m-{out}")
    };
    out.chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

pub fn map_resources(
    settings: &GcpSettings,
    neutral: Vec<DesiredResource>,
) -> Vec<DesiredResource> {
    let env = &settings.environment;
    neutral
        .into_iter()
        .map(|mut r| {
            match r.addr.kind.as_str() {
                "network" | "frontend" => {
                    if let Some(Expr::Literal(Value::String(n))) = r.attrs.get("name") {
                        let n = gcp_name(n);
                        r = r.attr("name", n);
                    }
                    if r.addr.kind == "frontend" {
                        r = r.attr("region", settings.region.as_str());
                    }
                }
                "subnet" => {
                    // GKE's default services range is Google-managed, not a subnetwork range.
                    if let Some(Expr::Map(ranges)) = r.attrs.get_mut("secondary_ranges") {
                        ranges.retain(|_, v| *v != Expr::from(GKE_MANAGED_SERVICES));
                    }
                    if let Some(Expr::Literal(Value::String(n))) = r.attrs.get("name") {
                        let n = gcp_name(n);
                        r = r.attr("name", n);
                    }
                    r = r.attr("region", settings.region.as_str());
                }
                // An existing zone keeps the resource name its owner gave it.
                "dns_zone" if r.existing.is_none() => {
                    // From the zone's own label, not its address, so that a tenant renamed in
                    // the file (its subdomain kept) is still the same managed zone.
                    let label = match r.attrs.get("name") {
                        Some(Expr::Literal(Value::String(n))) if r.addr.name != "platform" => {
                            n.split('.').next().unwrap_or(&r.addr.name).to_string()
                        }
                        _ => r.addr.name.clone(),
                    };
                    let resource = gcp_name(&format!("matih-{env}-{label}"));
                    r = r.attr("zone_resource", resource);
                }
                _ => {}
            }
            r
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_follow_gcp_rules() {
        assert_eq!(
            super::gcp_name("matih-prod-nodes_eu-west-1a"),
            "matih-prod-nodes-eu-west-1a"
        );
        assert_eq!(super::gcp_name("1abc"), "m-1abc");
        assert!(super::gcp_name(&"x".repeat(100)).len() <= 63);
    }
}
