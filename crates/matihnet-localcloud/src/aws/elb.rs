//! Elastic Load Balancing v2: network load balancers, target groups, listeners and tags.

use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::wire::{AwsError, Params};
use super::Held;

pub(super) const VERSION: &str = "2015-12-01";

#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Elb {}

pub(super) fn handle(
    _held: &mut Held,
    action: &str,
    _params: &Params,
    _region: &str,
) -> Result<Response, AwsError> {
    Err(AwsError::client(
        "InvalidAction",
        format!("The local AWS does not emulate {action}"),
    ))
}
