//! The configured GCP provider: clients with application default credentials (or anonymous ones
//! for a loopback emulator), retries, ownership marks, and its table of resource types
//! (`types.rs`).

use std::time::Duration;

use matihnet_core::ownership::{self, Marks};
use matihnet_core::retry::{with_backoff, RetryPolicy};
use matihnet_core::{
    DesiredResource, ErrorKind, OperationContext, ProviderError, ResourceTypes, TableProvider,
};

use crate::{map, types};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcpSettings {
    pub environment: String,
    pub project: String,
    pub region: String,
    /// `[gcp] endpoint` or `MATIHNET_GCP_ENDPOINT`: Compute and Cloud DNS both live under it.
    pub endpoint: Option<String>,
}

pub struct GcpProvider {
    pub(crate) settings: GcpSettings,
    pub(crate) networks: google_cloud_compute_v1::client::Networks,
    pub(crate) subnetworks: google_cloud_compute_v1::client::Subnetworks,
    pub(crate) addresses: google_cloud_compute_v1::client::Addresses,
    pub(crate) zones: google_cloud_dns_v1::client::ManagedZones,
    pub(crate) rrsets: google_cloud_dns_v1::client::ResourceRecordSets,
    pub(crate) changes: google_cloud_dns_v1::client::Changes,
    types: ResourceTypes<GcpProvider>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot build the Google Cloud clients: {0}")]
pub struct ConnectError(String);

/// Operations are polled from 100 ms up to 10 s apart: the library's default starts at a second,
/// which alone made a small apply take seconds longer than its operations did.
fn polling_backoff() -> Option<google_cloud_gax::exponential_backoff::ExponentialBackoff> {
    google_cloud_gax::exponential_backoff::ExponentialBackoffBuilder::new()
        .with_initial_delay(Duration::from_millis(100))
        .with_maximum_delay(Duration::from_secs(10))
        .build()
        .ok()
}

macro_rules! client {
    ($ty:ty, $settings:expr) => {{
        let mut b = <$ty>::builder();
        if let Some(backoff) = polling_backoff() {
            b = b.with_polling_backoff_policy(backoff);
        }
        if let Some(e) = &$settings.endpoint {
            b = b.with_endpoint(e.clone());
            if matihnet_core::endpoint::is_loopback(e) {
                b = b.with_credentials(
                    google_cloud_auth::credentials::anonymous::Builder::new().build(),
                );
            }
        }
        b.build().await.map_err(|e| ConnectError(e.to_string()))?
    }};
}

impl GcpProvider {
    pub async fn connect(settings: GcpSettings) -> Result<GcpProvider, ConnectError> {
        // One TLS crypto provider (ring) for every client; installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(GcpProvider {
            networks: client!(google_cloud_compute_v1::client::Networks, settings),
            subnetworks: client!(google_cloud_compute_v1::client::Subnetworks, settings),
            addresses: client!(google_cloud_compute_v1::client::Addresses, settings),
            zones: client!(google_cloud_dns_v1::client::ManagedZones, settings),
            rrsets: client!(google_cloud_dns_v1::client::ResourceRecordSets, settings),
            changes: client!(google_cloud_dns_v1::client::Changes, settings),
            settings,
            types: types::table(),
        })
    }
}

pub(crate) use matihnet_core::value::attrs::{text, texts};

/// GCP label values: lowercase letters, digits, `_` and `-`, at most 63 characters.
pub(crate) fn label_value(s: &str) -> String {
    s.to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(63)
        .collect()
}

pub(crate) fn labels(ctx: &OperationContext) -> serde_json::Value {
    serde_json::json!({
        "matihnet-environment": label_value(&ctx.environment),
        "matihnet-address": label_value(&ctx.addr.to_string()),
        "matihnet-lineage": label_value(&ctx.lineage),
    })
}

/// For resources without labels (networks, subnetworks): the description carries ownership.
pub(crate) fn ownership_description(ctx: &OperationContext) -> String {
    format!(
        "matihnet environment={} address={} lineage={}",
        ctx.environment, ctx.addr, ctx.lineage
    )
}

/// Refuses to adopt an object whose labels (or, for objects that take none, description) say
/// another owner made it (core's one ownership rule).
pub(crate) fn check_owner(
    ctx: &OperationContext,
    what: &str,
    found: &serde_json::Value,
) -> Result<(), ProviderError> {
    if let Some(l) = found
        .get("labels")
        .filter(|l| l.get("matihnet-address").is_some())
    {
        let get = |k: &str| l.get(k).and_then(|v| v.as_str());
        let (address, lineage, environment) = (
            label_value(&ctx.addr.to_string()),
            label_value(&ctx.lineage),
            label_value(&ctx.environment),
        );
        let found = Marks {
            address: get("matihnet-address"),
            lineage: get("matihnet-lineage"),
            environment: get("matihnet-environment"),
        };
        let expected = Marks {
            address: Some(&address),
            lineage: Some(&lineage),
            environment: Some(&environment),
        };
        return ownership::check_owner(what, found, expected);
    }
    let description = found
        .get("description")
        .and_then(|d| d.as_str())
        .unwrap_or("");
    let address = ctx.addr.to_string();
    ownership::check_owner(
        what,
        description_marks(description),
        Marks::of(ctx, &address),
    )
}

/// Reads back what [`ownership_description`] wrote: `matihnet environment=E address=A lineage=L`.
fn description_marks(description: &str) -> Marks<'_> {
    let Some(rest) = description.strip_prefix("matihnet ") else {
        return Marks::default();
    };
    let mut marks = Marks::default();
    for part in rest.split_whitespace() {
        match part.split_once('=') {
            Some(("environment", v)) => marks.environment = Some(v),
            Some(("address", v)) => marks.address = Some(v),
            Some(("lineage", v)) => marks.lineage = Some(v),
            _ => {}
        }
    }
    marks
}

/// Maps a Google API error to the engine's kinds, keeping GCP's reason.
pub(crate) fn gcp_error(what: &str, e: &google_cloud_gax::error::Error) -> ProviderError {
    let status = e.http_status_code();
    let message = e
        .status()
        .map(|s| s.message.clone())
        .unwrap_or_else(|| e.to_string());
    // GCP says "in use" with a 400 whose reason is only in the error text.
    let in_use = message.contains("containerNotEmpty")
        || message.contains("resourceInUseByAnotherResource")
        || message.contains("is not empty");
    let kind = match status {
        Some(429) => ErrorKind::Throttled,
        Some(401) | Some(403) => ErrorKind::Unauthorized,
        Some(404) => ErrorKind::NotFound,
        Some(409) => ErrorKind::Conflict,
        Some(412) => ErrorKind::PreconditionFailed,
        Some(400) if in_use => ErrorKind::InUse,
        Some(500..=599) => ErrorKind::Unavailable,
        Some(_) => ErrorKind::Rejected,
        None if e.is_authentication() => ErrorKind::Unauthorized,
        None if e.is_io() || e.is_connect() || e.is_timeout() || e.is_transport() => {
            ErrorKind::Unavailable
        }
        None => ErrorKind::Other,
    };
    ProviderError::new(
        kind,
        format!(
            "{what}: {}{message}",
            status.map(|s| format!("{s} ")).unwrap_or_default()
        ),
    )
}

pub(crate) fn is_not_found(e: &google_cloud_gax::error::Error) -> bool {
    e.http_status_code() == Some(404)
}

/// The one retry policy of every Google call (core's default: capped backoff, a small budget
/// for failed operations).
pub(crate) fn policy() -> RetryPolicy {
    RetryPolicy::default()
}

/// Runs a call with retries on 429 and 5xx; 404 comes back as `Ok(None)`.
pub(crate) async fn call<T, F, Fut>(what: &str, mut f: F) -> Result<Option<T>, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, google_cloud_gax::error::Error>>,
{
    with_backoff(policy(), |_| {
        let fut = f();
        async move {
            match fut.await {
                Ok(v) => Ok(Some(v)),
                Err(e) if is_not_found(&e) => Ok(None),
                Err(e) => Err((gcp_error(what, &e), None)),
            }
        }
    })
    .await
}

pub(crate) fn as_json<T: serde::Serialize>(t: &T) -> serde_json::Value {
    serde_json::to_value(t).unwrap_or_default()
}

pub(crate) fn model<T: serde::de::DeserializeOwned>(
    v: serde_json::Value,
) -> Result<T, ProviderError> {
    serde_json::from_value(v).map_err(|e| {
        ProviderError::new(
            ErrorKind::Other,
            format!("internal error: building a request body: {e}"),
        )
    })
}

impl TableProvider for GcpProvider {
    fn name(&self) -> &str {
        "gcp"
    }

    fn types(&self) -> &ResourceTypes<GcpProvider> {
        &self.types
    }

    fn map_resources(&self, neutral: Vec<DesiredResource>) -> Vec<DesiredResource> {
        map::map_resources(&self.settings, neutral)
    }
}
