//! The cloud sections: `[aws]`, `[azure]` and `[gcp]`.

use super::*;

pub(super) fn read_aws(
    r: &mut Reader<'_>,
    root: &DeTable<'_>,
    region: Option<&str>,
) -> Option<AwsSection> {
    let (t, at) = r.section(root, "aws")?;
    r.check_keys(t, "aws", AWS_KEYS);
    let zones = match r.value(t, "aws", "availability_zones") {
        Some(v) => {
            let at = v.span().start;
            let zones = r.str_list(v, "aws.availability_zones")?;
            let mut ok = true;
            if zones.len() < 2 {
                r.error(at, "aws.availability_zones", format!("EKS needs subnets in at least 2 availability zones, found {}", zones.len()),
                    "list two or more zones of the region, such as [\"eu-west-1a\", \"eu-west-1b\"]".to_string());
                ok = false;
            }
            if zones.len() > crate::carve::MAX_ZONES {
                r.error(
                    at,
                    "aws.availability_zones",
                    format!(
                        "at most {} availability zones are supported, found {}",
                        crate::carve::MAX_ZONES,
                        zones.len()
                    ),
                    format!("keep the first {} zones", crate::carve::MAX_ZONES),
                );
                ok = false;
            }
            let mut seen = std::collections::BTreeSet::new();
            for (i, (z, zat)) in zones.iter().enumerate() {
                let f = format!("aws.availability_zones[{i}]");
                if seen.contains(z.as_str()) {
                    r.error(
                        *zat,
                        &f,
                        format!("availability zone `{z}` is listed twice"),
                        "remove the duplicate".to_string(),
                    );
                    ok = false;
                } else if let Some(region) =
                    region.filter(|reg| !z.starts_with(reg) || z.len() == reg.len())
                {
                    r.error(
                        *zat,
                        &f,
                        format!("`{z}` is not an availability zone of region `{region}`"),
                        format!("zones of {region} are named {region}a, {region}b, ..."),
                    );
                    ok = false;
                } else if !z.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    r.error(
                        *zat,
                        &f,
                        format!("`{z}` is not an availability zone name"),
                        "use names such as \"eu-west-1a\"".to_string(),
                    );
                    ok = false;
                }
                seen.insert(z.as_str());
            }
            ok.then(|| zones.into_iter().map(|(z, _)| z).collect())
        }
        None => {
            r.missing(
                at,
                "aws",
                "availability_zones",
                "add availability_zones = [\"<region>a\", \"<region>b\"]",
            );
            None
        }
    };
    let endpoint_url = r.opt_str(t, "aws", "endpoint_url");
    let nat = match r.opt_str(t, "aws", "nat").as_deref() {
        None => Some(NatMode::PerAz),
        Some("per-az") => Some(NatMode::PerAz),
        Some("single") => Some(NatMode::Single),
        Some("none") => Some(NatMode::None),
        Some(other) => {
            let at = r.spans.get("aws.nat").map_or(at, |s| s.start);
            r.error(
                at,
                "aws.nat",
                format!("unknown NAT mode `{other}`"),
                "use \"per-az\", \"single\" or \"none\"".to_string(),
            );
            None
        }
    };
    Some(AwsSection {
        availability_zones: zones?,
        endpoint_url,
        nat: nat?,
    })
}

pub(super) fn read_azure(r: &mut Reader<'_>, root: &DeTable<'_>) -> Option<AzureSection> {
    let (t, at) = r.section(root, "azure")?;
    r.check_keys(t, "azure", AZURE_KEYS);
    let subscription_id = r.req_str(
        t,
        at,
        "azure",
        "subscription_id",
        "add subscription_id = \"${AZURE_SUBSCRIPTION_ID}\"",
    );
    let resource_group = r.req_str(
        t,
        at,
        "azure",
        "resource_group",
        "add resource_group = \"matih-<env>\"",
    );
    let endpoint = r.opt_str(t, "azure", "endpoint");
    let ingress_resource_group = r.opt_str(t, "azure", "ingress_resource_group");
    let resource_group = resource_group?;
    Some(AzureSection {
        subscription_id: subscription_id?,
        ingress_resource_group: ingress_resource_group.unwrap_or_else(|| resource_group.clone()),
        resource_group,
        endpoint,
    })
}

pub(super) fn read_gcp(r: &mut Reader<'_>, root: &DeTable<'_>) -> Option<GcpSection> {
    let (t, at) = r.section(root, "gcp")?;
    r.check_keys(t, "gcp", GCP_KEYS);
    let project = r.req_str(
        t,
        at,
        "gcp",
        "project",
        "add project = \"<GCP project id>\"",
    );
    let endpoint = r.opt_str(t, "gcp", "endpoint");
    Some(GcpSection {
        project: project?,
        endpoint,
    })
}
