//! The tags every object carries, and the filters that find an object by them.

use matihnet_core::OperationContext;

pub const ENVIRONMENT: &str = "matihnet:environment";
pub const ADDRESS: &str = "matihnet:address";
pub const LINEAGE: &str = "matihnet:lineage";

/// `(key, value)` pairs: ownership tags plus `Name` and any extra ones.
pub fn for_object(
    ctx: &OperationContext,
    name: &str,
    extra: &[(String, String)],
) -> Vec<(String, String)> {
    let mut t = vec![
        ("Name".to_string(), name.to_string()),
        (ENVIRONMENT.to_string(), ctx.environment.clone()),
        (ADDRESS.to_string(), ctx.addr.to_string()),
        (LINEAGE.to_string(), ctx.lineage.clone()),
    ];
    t.extend(extra.iter().cloned());
    t
}

pub fn ec2(tags: &[(String, String)]) -> Vec<aws_sdk_ec2::types::Tag> {
    tags.iter()
        .map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
        .collect()
}

pub fn ec2_spec(
    kind: aws_sdk_ec2::types::ResourceType,
    tags: &[(String, String)],
) -> aws_sdk_ec2::types::TagSpecification {
    aws_sdk_ec2::types::TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(ec2(tags)))
        .build()
}

/// Filters selecting objects that this address of this state created.
pub fn ownership_filters(ctx: &OperationContext) -> Vec<aws_sdk_ec2::types::Filter> {
    vec![
        aws_sdk_ec2::types::Filter::builder()
            .name(format!("tag:{ADDRESS}"))
            .values(ctx.addr.to_string())
            .build(),
        aws_sdk_ec2::types::Filter::builder()
            .name(format!("tag:{LINEAGE}"))
            .values(&ctx.lineage)
            .build(),
    ]
}

/// Whether an EC2 object's tags say this address of this state made it. Checked on the client
/// too, because not every API (nor every emulator) honours tag filters.
pub fn owns(ctx: &OperationContext, tags: &[aws_sdk_ec2::types::Tag]) -> bool {
    let has = |k: &str, v: &str| {
        tags.iter()
            .any(|t| t.key() == Some(k) && t.value() == Some(v))
    };
    has(ADDRESS, &ctx.addr.to_string()) && has(LINEAGE, &ctx.lineage)
}

/// A name AWS accepts where names are short (load balancers and target groups: 32 characters,
/// alphanumerics and hyphens), stable for the same input.
pub fn short_name(parts: &[&str], limit: usize) -> String {
    let joined: String = parts
        .join("-")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if joined.len() <= limit {
        return joined.trim_matches('-').to_string();
    }
    let hash = fnv(&joined);
    let keep = limit - 9;
    format!(
        "{}-{:08x}",
        joined[..keep].trim_end_matches('-'),
        hash as u32
    )
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

/// Route53 caller references are unique per account: lineage + address makes a re-run after a
/// crash collide with its own earlier request instead of creating a second zone.
pub fn caller_reference(ctx: &OperationContext) -> String {
    format!(
        "matihnet-{:016x}-{}",
        fnv(&format!("{} {}", ctx.lineage, ctx.addr)),
        ctx.addr.name
    )
    .chars()
    .take(128)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_fit_and_are_stable() {
        let n = short_name(
            &[
                "matih",
                "production-eu",
                "tenant",
                "bigcorporation",
                "https",
            ],
            32,
        );
        assert!(n.len() <= 32, "{n}");
        assert_eq!(
            n,
            short_name(
                &[
                    "matih",
                    "production-eu",
                    "tenant",
                    "bigcorporation",
                    "https"
                ],
                32
            )
        );
        assert_eq!(short_name(&["matih", "prod", "api"], 32), "matih-prod-api");
    }
}
