//! The tags every object carries, the filters that find an object by them, and what an id's
//! format says it names (for imports).

use matihnet_core::ownership::{self, Marks};
use matihnet_core::{OperationContext, ProviderError};

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

/// The ownership tags alone (no `Name`): what an import writes, leaving the object's own name
/// and other tags as they are.
pub fn ownership(ctx: &OperationContext) -> Vec<(String, String)> {
    vec![
        (ENVIRONMENT.to_string(), ctx.environment.clone()),
        (ADDRESS.to_string(), ctx.addr.to_string()),
        (LINEAGE.to_string(), ctx.lineage.clone()),
    ]
}

/// The ownership marks among `(key, value)` tags.
pub fn marks<'a>(tags: &[(&'a str, &'a str)]) -> Marks<'a> {
    let get = |k: &str| tags.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
    Marks {
        address: get(ADDRESS),
        lineage: get(LINEAGE),
        environment: get(ENVIRONMENT),
    }
}

/// Core's import rule on an EC2 object's tags: refused when another state's lineage marks it.
pub fn check_importable_ec2(
    ctx: &OperationContext,
    what: &str,
    tags: &[aws_sdk_ec2::types::Tag],
) -> Result<(), ProviderError> {
    let pairs: Vec<(&str, &str)> = tags
        .iter()
        .filter_map(|t| Some((t.key()?, t.value()?)))
        .collect();
    let address = ctx.addr.to_string();
    ownership::check_importable(what, marks(&pairs), Marks::of(ctx, &address))
}

/// What an AWS id names, judged by its format alone, worded for `ownership::wrong_kind`; `None`
/// for a format of no kind this provider manages (a domain name, say).
pub fn id_names(id: &str) -> Option<&'static str> {
    const EC2: [(&str, &str); 6] = [
        ("vpc-", "a VPC (`network`)"),
        ("subnet-", "a subnet"),
        ("igw-", "an internet gateway"),
        ("nat-", "a NAT gateway"),
        ("rtb-", "a route table"),
        ("eipalloc-", "an Elastic IP"),
    ];
    if let Some((_, what)) = EC2.iter().find(|(prefix, _)| id.starts_with(prefix)) {
        return Some(what);
    }
    if id.starts_with("arn:") {
        return Some(if id.contains(":loadbalancer/") {
            "a load balancer (`frontend`)"
        } else if id.contains(":targetgroup/") {
            "a target group"
        } else {
            "the ARN of an object matihnet does not import"
        });
    }
    if record_id_parts(id).is_some() {
        return Some("a DNS record id (`<zone id>/<name>./<type>`)");
    }
    if is_zone_id(id) {
        return Some("a hosted zone (`dns_zone`)");
    }
    None
}

/// A Route53 hosted zone id, bare or as the API prints it (`/hostedzone/…`): 8 to 32
/// upper-case letters and digits. AWS's start with `Z`, moto's need not, and no domain name is
/// spelled so (a zone's domain has a dot).
pub fn is_zone_id(id: &str) -> bool {
    let bare = id.strip_prefix("/hostedzone/").unwrap_or(id);
    (8..=32).contains(&bare.len())
        && bare
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// `(zone id, fully qualified name, type)` of a record id as the provider records it,
/// `<zone id>/<name>./<type>`.
pub fn record_id_parts(id: &str) -> Option<(&str, &str, &str)> {
    let (rest, kind) = id.rsplit_once('/')?;
    let (zone, name) = rest.split_once('/')?;
    let typed = !kind.is_empty() && kind.chars().all(|c| c.is_ascii_uppercase());
    (is_zone_id(zone) && name.ends_with('.') && typed).then_some((zone, name, kind))
}

/// `Ok` when `id` has the format of `kind`'s ids (`accepts`); otherwise the refusal, before any
/// call to AWS: another kind's id, or no id AWS gives (`expected` describes the format).
pub fn expect_id(
    kind: &str,
    id: &str,
    accepts: impl Fn(&str) -> bool,
    expected: &str,
) -> Result<(), ProviderError> {
    if accepts(id) {
        return Ok(());
    }
    Err(match id_names(id) {
        Some(found) => ownership::wrong_kind(kind, id, found),
        None => ProviderError::new(
            matihnet_core::ErrorKind::Rejected,
            format!("`{id}` is not the id of a `{kind}`: AWS gives those as {expected}"),
        ),
    })
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
    fn an_id_says_what_it_names() {
        assert_eq!(id_names("vpc-0a1b"), Some("a VPC (`network`)"));
        assert_eq!(id_names("subnet-0a1b"), Some("a subnet"));
        assert_eq!(
            id_names("arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/net/x/1"),
            Some("a load balancer (`frontend`)")
        );
        assert_eq!(
            id_names("/hostedzone/Z2FDTNDATAQYW2"),
            Some("a hosted zone (`dns_zone`)")
        );
        assert_eq!(
            record_id_parts("Z2FDTNDATAQYW2/*.acme.matih.ai./A"),
            Some(("Z2FDTNDATAQYW2", "*.acme.matih.ai.", "A"))
        );
        assert!(id_names("Z2FDTNDATAQYW2/acme.matih.ai./A").is_some());
        assert_eq!(id_names("matih.ai"), None);
        assert_eq!(record_id_parts("Z2FDTNDATAQYW2/acme.matih.ai/A"), None);
        let e = expect_id("network", "subnet-1", |i| i.starts_with("vpc-"), "`vpc-…`").unwrap_err();
        assert_eq!(e.kind, matihnet_core::ErrorKind::Rejected);
        assert!(
            e.message.contains("is a subnet, not a `network`"),
            "{}",
            e.message
        );
    }

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
