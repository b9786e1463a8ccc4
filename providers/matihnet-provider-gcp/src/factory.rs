//! Building the GCP provider from a `ProviderConfig`: the `[gcp]` section's keys, the same
//! in-process and in the `matihnet-provider-gcp` plugin.

use std::sync::Arc;

use async_trait::async_trait;
use matihnet_core::{
    DesiredResource, ErrorKind, Provider, ProviderConfig, ProviderError, ResourceSchema,
};
use serde::Deserialize;

use crate::{GcpProvider, GcpSettings};

/// The `[gcp]` section as the provider reads it.
#[derive(Debug, Deserialize)]
struct Section {
    project: String,
}

/// Builds [`GcpProvider`]s.
pub struct GcpFactory;

impl GcpFactory {
    pub fn settings(config: &ProviderConfig) -> Result<GcpSettings, ProviderError> {
        let section: Section = config.settings_as("gcp")?;
        Ok(GcpSettings {
            environment: config.environment.clone(),
            project: section.project,
            region: config.region.clone(),
            endpoint: config.endpoint.clone(),
            rate_limits: config.rate_limits.clone(),
        })
    }
}

#[async_trait]
impl matihnet_core::ProviderFactory for GcpFactory {
    fn name(&self) -> &str {
        "gcp"
    }

    async fn schemas(
        &self,
        _config: &ProviderConfig,
    ) -> Result<Vec<ResourceSchema>, ProviderError> {
        Ok(crate::schemas())
    }

    async fn map_resources(
        &self,
        config: &ProviderConfig,
        neutral: Vec<DesiredResource>,
    ) -> Result<Vec<DesiredResource>, ProviderError> {
        Ok(crate::map_resources(
            &GcpFactory::settings(config)?,
            neutral,
        ))
    }

    async fn connect(&self, config: &ProviderConfig) -> Result<Arc<dyn Provider>, ProviderError> {
        let provider = GcpProvider::connect(GcpFactory::settings(config)?)
            .await
            .map_err(|e| ProviderError::new(ErrorKind::Unauthorized, e.to_string()))?;
        Ok(Arc::new(provider))
    }
}
