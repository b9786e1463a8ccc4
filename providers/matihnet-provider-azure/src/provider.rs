//! The configured Azure provider: its settings, credentials, the ARM endpoint, the generated
//! clients, and its table of resource types (`types.rs`).

use std::sync::Arc;

use azure_core::auth::TokenCredential;
use matihnet_core::{ApiCalls, CallCounts, DesiredResource, ResourceTypes, TableProvider};

use crate::arm::{Arm, StaticToken, SCOPE};
use crate::calls::MeteredHttp;
use crate::{map, types};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureSettings {
    pub environment: String,
    pub location: String,
    pub subscription_id: String,
    pub resource_group: String,
    /// Where the ingress public IPs live (what ingress-nginx's
    /// `azure-load-balancer-resource-group` annotation names).
    pub ingress_resource_group: String,
    /// `[azure] endpoint` or `MATIHNET_AZURE_ENDPOINT`; Azure's public cloud otherwise.
    pub endpoint: Option<String>,
    /// The rates to pace ARM's buckets to (`core::pacing::effective`).
    pub rate_limits: std::collections::BTreeMap<String, matihnet_core::pacing::Limit>,
}

pub struct AzureProvider {
    pub(crate) settings: AzureSettings,
    pub(crate) arm: Arm,
    pub(crate) network: azure_mgmt_network::Client,
    pub(crate) dns: azure_mgmt_dns::package_2018_05::Client,
    types: ResourceTypes<AzureProvider>,
    calls: Arc<ApiCalls>,
    pacer: Arc<matihnet_core::pacing::Pacer>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("the Azure endpoint {0:?} is not a URL")]
    Endpoint(String),
    #[error("cannot set up Azure credentials: {0}")]
    Credential(String),
    #[error("cannot build the Azure clients: {0}")]
    Client(String),
}

impl AzureProvider {
    /// Credentials come from `azure_identity`'s standard chain (environment service principal,
    /// workload identity, managed identity, Azure CLI); a loopback endpoint is the local
    /// emulator, which takes any bearer token.
    pub fn connect(settings: AzureSettings) -> Result<AzureProvider, ConnectError> {
        let endpoint_text = settings
            .endpoint
            .clone()
            .unwrap_or_else(|| "https://management.azure.com".to_string());
        let endpoint = azure_core::Url::parse(&endpoint_text)
            .map_err(|_| ConnectError::Endpoint(endpoint_text.clone()))?;
        let credential: Arc<dyn TokenCredential> =
            if matihnet_core::endpoint::is_loopback(endpoint.as_str()) {
                Arc::new(StaticToken)
            } else {
                azure_identity::create_credential()
                    .map_err(|e| ConnectError::Credential(e.to_string()))?
            };
        let calls = Arc::new(ApiCalls::new());
        let pacer = Arc::new(matihnet_core::pacing::Pacer::new(
            settings.rate_limits.clone(),
        ));
        // One counted and paced transport for the generated clients and for `arm.rs`. The
        // SDK's own `new_http_client` turns connection pooling off (for a hyper bug of 2020,
        // hyperium/hyper#2312, long fixed): every request would open a new connection, and
        // against the real cloud pay a TLS handshake too. This one keeps connections open.
        let pooled = reqwest::Client::builder()
            .build()
            .map_err(|e| ConnectError::Client(format!("the HTTP client: {e}")))?;
        let http: Arc<dyn azure_core::HttpClient> = Arc::new(MeteredHttp {
            inner: Arc::new(pooled),
            calls: Arc::clone(&calls),
            pacer: Arc::clone(&pacer),
        });
        let network = azure_mgmt_network::ClientBuilder::new(Arc::clone(&credential))
            .endpoint(endpoint.clone())
            .transport(azure_core::TransportOptions::new(Arc::clone(&http)))
            .scopes(&[SCOPE])
            .build()
            .map_err(|e| ConnectError::Client(e.to_string()))?;
        let dns = azure_mgmt_dns::package_2018_05::ClientBuilder::new(Arc::clone(&credential))
            .endpoint(endpoint.clone())
            .transport(azure_core::TransportOptions::new(Arc::clone(&http)))
            .scopes(&[SCOPE])
            .build()
            .map_err(|e| ConnectError::Client(e.to_string()))?;
        Ok(AzureProvider {
            arm: Arm {
                http,
                credential,
                endpoint,
            },
            network,
            dns,
            settings,
            types: types::table(),
            calls,
            pacer,
        })
    }
}

impl TableProvider for AzureProvider {
    fn name(&self) -> &str {
        "azure"
    }

    fn types(&self) -> &ResourceTypes<AzureProvider> {
        &self.types
    }

    fn map_resources(&self, neutral: Vec<DesiredResource>) -> Vec<DesiredResource> {
        map::map_resources(&self.settings, neutral)
    }

    fn api_calls(&self) -> CallCounts {
        self.calls.snapshot()
    }

    fn pacing(&self) -> std::collections::BTreeMap<String, matihnet_core::pacing::PacingReport> {
        self.pacer.report()
    }
}
