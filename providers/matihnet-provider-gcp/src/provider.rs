//! The configured GCP provider: its settings, clients with application default credentials (or
//! anonymous ones for a loopback emulator), and its table of resource types (`types.rs`).

use std::time::Duration;

use matihnet_core::{ApiCalls, CallCounts, DesiredResource, ResourceTypes, TableProvider};

use crate::{map, types};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcpSettings {
    pub environment: String,
    pub project: String,
    pub region: String,
    /// `[gcp] endpoint` or `MATIHNET_GCP_ENDPOINT`: Compute and Cloud DNS both live under it.
    pub endpoint: Option<String>,
    /// The rates to pace each quota group to (`core::pacing::effective`).
    pub rate_limits: std::collections::BTreeMap<String, matihnet_core::pacing::Limit>,
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
    pub(crate) meter: crate::client::Meter,
    /// Record edits queued per managed zone; a change takes at most 1,000 additions and 1,000
    /// deletions, so 500 edits of both kinds fit.
    pub(crate) record_batches: matihnet_core::batches::Batches<crate::dns::Edit>,
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
            meter: crate::client::Meter {
                calls: ApiCalls::new(),
                pacer: matihnet_core::pacing::Pacer::new(settings.rate_limits.clone()),
            },
            record_batches: matihnet_core::batches::Batches::new(500),
            settings,
            types: types::table(),
        })
    }
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

    fn api_calls(&self) -> CallCounts {
        self.meter.calls.snapshot()
    }

    fn pacing(&self) -> std::collections::BTreeMap<String, matihnet_core::pacing::PacingReport> {
        self.meter.pacer.report()
    }
}
