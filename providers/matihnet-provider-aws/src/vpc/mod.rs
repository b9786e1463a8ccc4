//! The VPC and what routes it: subnets, the internet gateway, NAT gateways and route tables.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ec2::types::{AttributeBooleanValue, DomainType, Filter, ResourceType};
use matihnet_core::retry::{with_backoff, RetryPolicy};
use matihnet_core::{
    Attrs, ErrorKind, OperationContext, ProviderError, ProviderFailure, ProviderResult, Value,
};

use crate::errors::{aws, gone_or, invalid, is_not_found, to_provider_error};
use matihnet_core::value::attrs::{merged as merge, text, texts};

use crate::provider::AwsProvider;
use crate::tags;

pub(crate) use matihnet_core::value::attrs::in_prior_order;

fn name_tag(tags: &[aws_sdk_ec2::types::Tag]) -> String {
    tags.iter()
        .find(|t| t.key() == Some("Name"))
        .and_then(|t| t.value())
        .unwrap_or_default()
        .to_string()
}

fn fail(error: ProviderError, partial: &Attrs) -> ProviderFailure {
    ProviderFailure {
        error,
        partial: if partial.contains_key("id") {
            Some(partial.clone())
        } else {
            None
        },
    }
}

/// Deletes refused because something still uses the object (an ENI an NLB leaves behind for a
/// minute, a subnet being deleted next door) are retried for a while before giving up.
async fn retry_in_use<F, Fut>(what: &'static str, mut op: F) -> Result<(), ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), ProviderError>>,
{
    let policy = RetryPolicy {
        max_attempts: 30,
        max_failed_operations: 1,
        base_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(10),
    };
    with_backoff(policy, |_| {
        let f = op();
        async move {
            match f.await {
                Ok(()) => Ok(()),
                Err(e) if e.kind == ErrorKind::InUse => Err((
                    ProviderError::new(ErrorKind::Unavailable, format!("{what}: {}", e.message)),
                    None,
                )),
                Err(e) => Err((e, None)),
            }
        }
    })
    .await
}

/// An import's ownership step for an EC2 object: refuses another state's object, and with
/// `mark` writes this address's ownership tags on it (`CreateTags` adds or overwrites, so the
/// object's `Name` and other tags stay).
pub(crate) async fn take_over(
    p: &AwsProvider,
    ctx: &OperationContext,
    what: &str,
    id: &str,
    found: &[aws_sdk_ec2::types::Tag],
    mark: bool,
) -> Result<(), ProviderError> {
    tags::check_importable_ec2(ctx, what, found)?;
    if mark {
        mark_ec2(p, id, &tags::ownership(ctx)).await?;
    }
    Ok(())
}

/// Writes `tags` on an EC2 object, keeping its others.
pub(crate) async fn mark_ec2(
    p: &AwsProvider,
    id: &str,
    t: &[(String, String)],
) -> Result<(), ProviderError> {
    p.ec2
        .create_tags()
        .resources(id)
        .set_tags(Some(tags::ec2(t)))
        .send()
        .await
        .map_err(aws("CreateTags"))?;
    Ok(())
}

/// A describe's answer for an import: AWS's not-found is core's wording of it.
pub(crate) fn found_or<T, E>(
    kind: &str,
    id: &str,
    what: &str,
    r: Result<T, E>,
) -> Result<T, ProviderError>
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata
        + aws_sdk_ec2::operation::RequestId
        + std::error::Error,
{
    match r {
        Ok(o) => Ok(o),
        Err(e) if is_not_found(&e) => Err(matihnet_core::ownership::not_found(kind, id)),
        Err(e) => Err(to_provider_error(what, &e)),
    }
}

/// The import id of the internet gateway attached to a VPC (`attached-to:vpc-…`): how an
/// existing VPC's own gateway is found.
pub const ATTACHED_TO: &str = "attached-to:";

mod gateways;
mod network;
mod route_tables;
mod subnets;

pub use gateways::{
    create_igw, create_nat, delete_igw, delete_nat, import_igw, import_nat, read_igw, read_nat,
};
pub(crate) use gateways::{owned_eip, release_eip};
pub use network::{create_vpc, delete_vpc, import_vpc, read_vpc, update_tags, update_vpc};
pub use route_tables::{
    create_route_table, delete_route_table, import_route_table, read_route_table,
    read_route_tables, update_route_table,
};
/// The `vpc-id` filter of the listings a refresh reads a VPC's objects with.
pub(crate) fn in_vpc(vpc_id: &str) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name("vpc-id")
        .values(vpc_id)
        .build()
}

pub use subnets::{create_subnet, delete_subnet, import_subnet, read_subnet, read_subnets};
