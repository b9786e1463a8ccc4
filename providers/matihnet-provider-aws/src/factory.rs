//! Building the AWS provider from a `ProviderConfig`: the `[aws]` section's keys, the same
//! in-process and in the `matihnet-provider-aws` plugin.

use std::sync::Arc;

use async_trait::async_trait;
use matihnet_core::{DesiredResource, Provider, ProviderConfig, ProviderError, ResourceSchema};
use serde::Deserialize;

use crate::{AwsProvider, AwsSettings, NatMode};

/// The `[aws]` section as the provider reads it.
#[derive(Debug, Deserialize)]
struct Section {
    availability_zones: Vec<String>,
    #[serde(default = "per_az")]
    nat: String,
}

fn per_az() -> String {
    "per-az".into()
}

/// Builds [`AwsProvider`]s.
pub struct AwsFactory;

impl AwsFactory {
    /// The provider's settings; an unknown `nat` is a rejection naming the choices.
    pub fn settings(config: &ProviderConfig) -> Result<AwsSettings, ProviderError> {
        let section: Section = config.settings_as("aws")?;
        let nat = match section.nat.as_str() {
            "per-az" | "per_az" => NatMode::PerAz,
            "single" => NatMode::Single,
            "none" => NatMode::None,
            other => {
                return Err(ProviderError::new(
                    matihnet_core::ErrorKind::Rejected,
                    format!("[aws] nat = {other:?}: expected \"per-az\", \"single\" or \"none\""),
                ))
            }
        };
        Ok(AwsSettings {
            environment: config.environment.clone(),
            region: config.region.clone(),
            availability_zones: section.availability_zones,
            endpoint_url: config.endpoint.clone(),
            nat,
            rate_limits: config.rate_limits.clone(),
        })
    }
}

#[async_trait]
impl matihnet_core::ProviderFactory for AwsFactory {
    fn name(&self) -> &str {
        "aws"
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
            &AwsFactory::settings(config)?,
            neutral,
        ))
    }

    async fn connect(&self, config: &ProviderConfig) -> Result<Arc<dyn Provider>, ProviderError> {
        Ok(Arc::new(
            AwsProvider::connect(AwsFactory::settings(config)?).await,
        ))
    }
}
