//! How a provider is built from an environment file's settings: the one shape every provider
//! takes, whether it is compiled into matihnet or runs as a plugin executable.
//!
//! The binary turns the file into a [`ProviderConfig`] (plain data, no cloud types), and a
//! [`ProviderFactory`] turns that into the provider's resource types, its mapping of the
//! networking model, and a connected [`Provider`]. A plugin receives the same config over its
//! protocol, so a provider behaves the same in-process and out of process.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::pacing::Limit;
use crate::{DesiredResource, ErrorKind, Provider, ProviderError, ResourceSchema};

/// What a provider is configured with, from the environment file and its variables.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProviderConfig {
    /// The environment's name (`[environment] name`): providers tag what they create with it.
    pub environment: String,
    /// `[environment] region`.
    pub region: String,
    /// The endpoint to reach instead of the public cloud (an emulator, a private cloud), as the
    /// file or its variable sets it. `None`: the provider's own default.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The rates to pace each API to (`pacing::effective`).
    #[serde(default)]
    pub rate_limits: BTreeMap<String, Limit>,
    /// The provider's own section of the file (`[aws]`, `[azure]`, `[gcp]`,
    /// `[providers.NAME]`), as a JSON object.
    #[serde(default)]
    pub settings: serde_json::Map<String, serde_json::Value>,
}

impl ProviderConfig {
    /// Reads the provider's section as `T`; a missing or mistyped key is a rejection naming it.
    pub fn settings_as<T: serde::de::DeserializeOwned>(
        &self,
        section: &str,
    ) -> Result<T, ProviderError> {
        serde_json::from_value(serde_json::Value::Object(self.settings.clone())).map_err(|e| {
            ProviderError::new(ErrorKind::Rejected, format!("[{section}] settings: {e}"))
        })
    }
}

/// Builds one kind of provider. Offline calls (`schemas`, `map_resources`) connect to nothing
/// and read no credentials, so `validate`, `graph` and `render` stay offline.
#[async_trait]
pub trait ProviderFactory: Send + Sync {
    /// The provider's name: `aws`, `azure`, `gcp`, `fake`, or a plugin's own.
    fn name(&self) -> &str;

    /// The resource types the provider manages with these settings.
    async fn schemas(&self, config: &ProviderConfig) -> Result<Vec<ResourceSchema>, ProviderError>;

    /// The networking model's provider-neutral resources turned into the provider's own.
    async fn map_resources(
        &self,
        config: &ProviderConfig,
        neutral: Vec<DesiredResource>,
    ) -> Result<Vec<DesiredResource>, ProviderError>;

    /// A provider ready to reach its cloud.
    async fn connect(&self, config: &ProviderConfig) -> Result<Arc<dyn Provider>, ProviderError>;
}
