//! Cloud DNS: managed zones (`zones`) and their resource record sets and changes (`records`).
//! Synchronous, as in GCP: a change is `done` in the response that creates it. Error bodies
//! carry the status name (`NOT_FOUND`, ...) Cloud DNS adds; this module keeps the request
//! conventions both parts share.

mod records;
mod zones;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use serde_json::{Map, Value};

use super::fields;
use super::wire::ApiError;
use super::{Cloud, World};

pub(crate) use zones::Zone;

const USER: &str = "user@example.com";

pub(super) fn routes(version: &str) -> Router<Arc<Cloud>> {
    let z = format!("/dns/{version}/projects/{{project}}/managedZones");
    Router::new()
        .route(&z, get(zones::list).post(zones::create))
        .route(
            &format!("{z}/{{zone}}"),
            get(zones::get)
                .patch(zones::patch)
                .put(zones::patch)
                .delete(zones::delete),
        )
        .route(
            &format!("{z}/{{zone}}/rrsets"),
            get(records::list_rrsets).post(records::create_rrset),
        )
        .route(
            &format!("{z}/{{zone}}/rrsets/{{name}}/{{kind}}"),
            get(records::get_rrset)
                .patch(records::patch_rrset)
                .delete(records::delete_rrset),
        )
        .route(
            &format!("{z}/{{zone}}/changes"),
            get(records::list_changes).post(records::create_change),
        )
        .route(
            &format!("{z}/{{zone}}/changes/{{id}}"),
            get(records::get_change),
        )
}

fn zone_key(project: &str, name: &str) -> String {
    format!("{project}/{name}")
}

fn zone_not_found(project: &str, zone: &str) -> ApiError {
    ApiError::new(
        404,
        "notFound",
        format!("managedZone \"projects/{project}/managedZones/{zone}\" not found"),
    )
    .dns()
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::invalid(message).dns()
}

/// A field the request must carry, in Cloud DNS's wording.
fn required(field: &str) -> ApiError {
    ApiError::new(
        400,
        "required",
        format!("Required field '{field}' not specified"),
    )
    .dns()
}

fn string(
    body: &Map<String, Value>,
    field: &str,
    entity: &str,
) -> Result<Option<String>, ApiError> {
    fields::optional_string(body, field)
        .map_err(|other| invalid(format!("Invalid value for '{entity}.{field}': '{other}'")))
}

fn zone_mut<'w>(world: &'w mut World, project: &str, zone: &str) -> Result<&'w mut Zone, ApiError> {
    world
        .zones
        .get_mut(&zone_key(project, zone))
        .ok_or_else(|| zone_not_found(project, zone))
}
