//! Building the Azure provider from a `ProviderConfig`: the `[azure]` section's keys, the same
//! in-process and in the `matihnet-provider-azure` plugin.

use std::sync::Arc;

use async_trait::async_trait;
use matihnet_core::{
    DesiredResource, ErrorKind, Provider, ProviderConfig, ProviderError, ResourceSchema,
};
use serde::Deserialize;

use crate::{AzureProvider, AzureSettings};

/// The `[azure]` section as the provider reads it.
#[derive(Debug, Deserialize)]
struct Section {
    subscription_id: String,
    resource_group: String,
    ingress_resource_group: String,
}

/// Builds [`AzureProvider`]s.
pub struct AzureFactory;

impl AzureFactory {
    pub fn settings(config: &ProviderConfig) -> Result<AzureSettings, ProviderError> {
        let section: Section = config.settings_as("azure")?;
        Ok(AzureSettings {
            environment: config.environment.clone(),
            location: config.region.clone(),
            subscription_id: section.subscription_id,
            resource_group: section.resource_group,
            ingress_resource_group: section.ingress_resource_group,
            endpoint: config.endpoint.clone(),
            rate_limits: config.rate_limits.clone(),
        })
    }
}

#[async_trait]
impl matihnet_core::ProviderFactory for AzureFactory {
    fn name(&self) -> &str {
        "azure"
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
            &AzureFactory::settings(config)?,
            neutral,
        ))
    }

    async fn connect(&self, config: &ProviderConfig) -> Result<Arc<dyn Provider>, ProviderError> {
        let provider = AzureProvider::connect(AzureFactory::settings(config)?)
            .map_err(|e| ProviderError::new(ErrorKind::Unauthorized, e.to_string()))?;
        Ok(Arc::new(provider))
    }
}
