//! Compute Engine networking: global networks, regional subnetworks and addresses, and the
//! global/regional operations their writes return.
//!
//! Requests are validated synchronously (400/404/409/412 like GCP); the accepted write is kept
//! in its operation as an effect and applied when the operation's delay has passed, so a
//! resource appears, changes or disappears exactly when its operation reads `DONE`.
//!
//! `collection` is the one handler behind every collection (get, list, insert, delete, and the
//! operation-backed updates); `networks`, `subnetworks` and `addresses` each describe one
//! collection to it and add their own verbs; `operations` holds the operation records, their
//! settling and their routes. This module keeps Compute's request conventions: field readers,
//! the name rule and the list body.

mod addresses;
mod auto_mode;
mod collection;
mod networks;
mod operations;
mod subnetworks;

use std::sync::Arc;

use axum::Router;
use serde_json::{json, Map, Value};

use super::fields;
use super::filter::Filter;
use super::wire::{ok, with_items, ApiError, ApiResult};
use super::Cloud;
use crate::core::http::Query;

pub(crate) use addresses::{Address, GlobalAddress};
pub(crate) use auto_mode::{ensure_project, Projects};
pub(crate) use networks::Network;
pub(crate) use operations::{settle, Operation};
pub(crate) use subnetworks::Subnetwork;

/// The host GCP puts in every URL it returns; the emulator returns the same so that URLs stored
/// by a client compare equal whether they came from GCP or from here.
const API: &str = "https://www.googleapis.com/compute/v1";

pub(super) fn routes() -> Router<Arc<Cloud>> {
    Router::new()
        .merge(collection::routes::<Network>())
        .merge(collection::routes::<Subnetwork>())
        .merge(collection::routes::<Address>())
        .merge(collection::routes::<GlobalAddress>())
        .merge(operations::routes())
}

fn region_url(project: &str, region: &str) -> String {
    format!("{API}/projects/{project}/regions/{region}")
}

fn list_body(kind: &str, self_link: String, items: Vec<Value>, query: &Query) -> ApiResult {
    let items = match query.get("filter").filter(|f| !f.trim().is_empty()) {
        Some(f) => {
            let filter = Filter::parse(f).ok_or_else(|| {
                ApiError::invalid(format!(
                    "Invalid value for field 'filter': '{f}'. Invalid list filter expression."
                ))
            })?;
            items.into_iter().filter(|i| filter.matches(i)).collect()
        }
        None => items,
    };
    let id = self_link
        .trim_start_matches(API)
        .trim_start_matches('/')
        .to_string();
    let body = json!({ "id": id, "kind": kind, "selfLink": self_link });
    Ok(ok(with_items(body, "items", items)))
}

fn string_field(body: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    fields::optional_string(body, field).map_err(|other| {
        ApiError::invalid(format!(
            "Invalid value for field 'resource.{field}': '{other}'. Expected a string."
        ))
    })
}

fn bool_field(body: &Map<String, Value>, field: &str) -> Result<Option<bool>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(ApiError::invalid(format!(
            "Invalid value for field 'resource.{field}': '{other}'. Expected a boolean."
        ))),
    }
}

/// A field the request must carry.
fn required(value: Option<String>, field: &str) -> Result<String, ApiError> {
    value.ok_or_else(|| {
        ApiError::new(
            400,
            "required",
            format!("Required field '{field}' not specified"),
        )
    })
}

/// GCP resource names: RFC 1035 labels of at most 63 characters.
fn check_name(name: Option<String>) -> Result<String, ApiError> {
    let name = required(name, "resource.name")?;
    if !fields::is_resource_name(&name) {
        return Err(ApiError::invalid(format!(
            "Invalid value for field 'resource.name': '{name}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{{0,61}}[a-z0-9])?)'"
        )));
    }
    Ok(name)
}

/// A fresh fingerprint: 8 random bytes in base64, like GCP's `abcdef0123A=`.
fn fingerprint() -> String {
    // Fingerprints are `format: byte` fields, which the API encodes as URL-safe base64 (the
    // official Rust client refuses `+` and `/` there).
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut bits: u64 = 0;
    for b in &bytes[..8] {
        bits = (bits << 8) | u64::from(*b);
    }
    // 64 bits = ten full 6-bit groups plus 4 bits, padded to 12 characters with one '='.
    let mut out = String::with_capacity(12);
    for i in 0..10 {
        let idx = (bits >> (58 - 6 * i)) & 0x3f;
        out.push(char::from(ALPHABET[idx as usize]));
    }
    out.push(char::from(ALPHABET[((bits & 0xf) << 2) as usize]));
    out.push('=');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_look_like_gcp_ones_and_differ() {
        let a = fingerprint();
        assert_eq!(a.len(), 12);
        assert!(a.ends_with('='));
        assert!(
            !a.contains('+') && !a.contains('/'),
            "{a} is not URL-safe base64"
        );
        assert_ne!(a, fingerprint());
    }
}
