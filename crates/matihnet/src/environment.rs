//! Opening an environment: reading its file, resolving `${VAR}`s, building the provider it names,
//! the desired resources and outputs, and the state backend beside it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use matihnet_core::{DesiredResource, Diagnostic, Provider, ResourceSchema};
use matihnet_net::{CloudProvider, Loaded, StateBackend, StateSection};
use matihnet_provider_fake::{FakeConfig, FakeProvider};
use matihnet_state::{Backend, LocalBackend};

use crate::terminal::Terminal;

/// A provider's settings, built from the file without connecting.
enum Settings {
    #[cfg(feature = "azure")]
    Azure(matihnet_provider_azure::AzureSettings),
    #[cfg(feature = "aws")]
    Aws(matihnet_provider_aws::AwsSettings),
    #[cfg(feature = "gcp")]
    Gcp(matihnet_provider_gcp::GcpSettings),
    Fake,
}

/// An environment file that loaded without errors.
pub struct EnvironmentFile {
    pub path: PathBuf,
    pub text: String,
    pub loaded: Loaded,
}

/// Why an environment could not be opened; the diagnostics are already rendered.
#[derive(Debug)]
pub enum OpenError {
    Diagnostics(Vec<Diagnostic>),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for OpenError {
    fn from(e: anyhow::Error) -> Self {
        OpenError::Other(e)
    }
}

/// Parses `NAME=VALUE` pairs from `--var`.
pub fn parse_vars(raw: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for r in raw {
        let Some((k, v)) = r.split_once('=') else {
            anyhow::bail!("--var {r:?}: expected NAME=VALUE, for example --var AZURE_SUBSCRIPTION_ID=0000-...");
        };
        out.insert(k.trim().to_string(), v.to_string());
    }
    Ok(out)
}

pub fn open(path: &Path, vars: &BTreeMap<String, String>) -> Result<EnvironmentFile, OpenError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!(
                "no environment file at {}: create one (see examples/) or name it with -c FILE",
                path.display()
            )
        } else {
            anyhow::anyhow!("cannot read {}: {e}", path.display())
        }
    })?;
    let lookup = |name: &str| vars.get(name).cloned().or_else(|| std::env::var(name).ok());
    let file_name = path.display().to_string();
    match matihnet_net::load(&file_name, &text, &lookup) {
        Ok(loaded) => Ok(EnvironmentFile {
            path: path.to_path_buf(),
            text,
            loaded,
        }),
        Err(diags) => Err(OpenError::Diagnostics(diags)),
    }
}

impl EnvironmentFile {
    pub fn name(&self) -> &str {
        &self.loaded.env.name
    }

    fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    fn stem(&self) -> String {
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "matihnet".to_string())
    }

    /// `[state] path`, relative to the file; otherwise `<file stem>.state.json` beside it.
    /// With a remote backend, the files matihnet keeps beside the state locally (the local
    /// cloud's objects) are named after this path all the same.
    pub fn state_path(&self) -> PathBuf {
        match &self.loaded.env.state.path {
            Some(p) => self.dir().join(p),
            None => self.default_state_path(),
        }
    }

    /// `<file stem>.state.json` beside the file: where the state is when `[state]` says nothing.
    pub fn default_state_path(&self) -> PathBuf {
        self.dir().join(format!("{}.state.json", self.stem()))
    }

    /// Where `--local-cloud` keeps the emulated objects: beside the state.
    pub fn local_cloud_path(&self) -> PathBuf {
        let mut name = self
            .state_path()
            .file_name()
            .unwrap_or_default()
            .to_os_string();
        name.push(".local-cloud.json");
        self.state_path().with_file_name(name)
    }

    /// Where the state lives: the only place the binary picks a backend, so every command works
    /// with each of them. S3 connects nothing yet; PostgreSQL connects and checks its tables.
    /// With `local_cloud` a remote backend must be on
    /// this machine too, so that a rehearsal never touches a team's real state.
    pub async fn backend(&self, local_cloud: bool) -> anyhow::Result<Arc<dyn Backend>> {
        self.backend_for(&self.loaded.env.state, local_cloud).await
    }

    /// The backend another `[state]` section names (a `state migrate` source), with this
    /// environment's context (its directory, `[aws]`).
    pub async fn backend_for(
        &self,
        section: &StateSection,
        local_cloud: bool,
    ) -> anyhow::Result<Arc<dyn Backend>> {
        match &section.backend {
            StateBackend::Local => Ok(Arc::new(LocalBackend::new(match &section.path {
                Some(p) => self.dir().join(p),
                None => self.default_state_path(),
            }))),
            #[cfg(feature = "state-s3")]
            StateBackend::S3(s3) => {
                let aws = self.loaded.env.aws.as_ref();
                let endpoint = s3
                    .endpoint
                    .clone()
                    .or_else(|| aws.and_then(|a| a.endpoint_url.clone()))
                    .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
                    .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
                let on_this_machine = endpoint
                    .as_deref()
                    .is_some_and(matihnet_core::endpoint::is_loopback);
                if local_cloud && !on_this_machine {
                    anyhow::bail!(
                        "--local-cloud keeps a rehearsal on this machine, but [state] backend = \"s3\" keeps the state in s3://{}/{} at {} (nothing was contacted)\n  \
                         hint: rehearse with a local state (remove [state] or set backend = \"local\" in a copy of the file), or point [state] endpoint at an S3 emulator on 127.0.0.1",
                        s3.bucket,
                        s3.key,
                        endpoint.as_deref().unwrap_or("AWS")
                    );
                }
                let region = s3.region.clone().or_else(|| {
                    (self.loaded.env.provider == CloudProvider::Eks)
                        .then(|| self.loaded.env.region.clone())
                });
                Ok(Arc::new(
                    matihnet_state_s3::S3Backend::new(matihnet_state_s3::S3Settings {
                        bucket: s3.bucket.clone(),
                        key: s3.key.clone(),
                        region,
                        endpoint: endpoint.clone(),
                        lock_ttl: std::time::Duration::from_secs(s3.lock_ttl_secs),
                        // An emulator gets fixed test credentials: real ones never leave for it.
                        test_credentials: on_this_machine,
                    })
                    .await,
                ))
            }
            #[cfg(feature = "state-postgres")]
            StateBackend::Postgres(pg) => {
                if local_cloud && !matihnet_state_postgres::is_on_this_machine(&pg.conn_str) {
                    anyhow::bail!(
                        "--local-cloud keeps a rehearsal on this machine, but [state] backend = \"postgres\" keeps the state in a database elsewhere (nothing was contacted)\n  \
                         hint: rehearse with a local state (remove [state] or set backend = \"local\" in a copy of the file), or point [state] conn_str at a PostgreSQL on 127.0.0.1 or a Unix socket"
                    );
                }
                let backend =
                    matihnet_state_postgres::PostgresBackend::open(matihnet_state_postgres::PostgresSettings {
                        conn_str: pg.conn_str.clone(),
                        schema: pg.schema.clone(),
                        name: pg.name.clone(),
                    })
                    .await?;
                Ok(Arc::new(backend))
            }
            #[allow(unreachable_patterns)]
            other => anyhow::bail!(
                "[state] backend = \"{}\" is not built into this matihnet (build it with the cargo feature state-{})",
                other.as_str(),
                other.as_str()
            ),
        }
    }

    /// The provider-neutral resources of the model.
    pub fn neutral_resources(&self) -> Vec<DesiredResource> {
        matihnet_net::expand(&self.loaded.env, &self.loaded.plan)
    }

    /// Whether the providers talk to emulators or a private cloud rather than the public clouds:
    /// an endpoint is set (in the file or its variable), or the provider is the fake one. Such a
    /// run sends nothing else off the machine either (no DNS lookups of its own).
    pub fn emulated(&self) -> bool {
        let env = &self.loaded.env;
        let var = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty());
        match env.provider {
            CloudProvider::Aks => {
                env.azure.as_ref().is_some_and(|a| a.endpoint.is_some())
                    || var("MATIHNET_AZURE_ENDPOINT")
            }
            CloudProvider::Eks => {
                env.aws.as_ref().is_some_and(|a| a.endpoint_url.is_some())
                    || var("AWS_ENDPOINT_URL")
            }
            CloudProvider::Gke => {
                env.gcp.as_ref().is_some_and(|g| g.endpoint.is_some())
                    || var("MATIHNET_GCP_ENDPOINT")
            }
            CloudProvider::Fake => true,
        }
    }

    /// The settings of the provider the file names, from its section; with `local_cloud` the
    /// endpoint is the in-process emulators', whatever the file or the environment say.
    fn settings(&self, local_cloud: Option<&str>) -> anyhow::Result<Settings> {
        let env = &self.loaded.env;
        match env.provider {
            #[cfg(feature = "azure")]
            CloudProvider::Aks => {
                let azure = env
                    .azure
                    .as_ref()
                    .ok_or_else(|| anyhow::anyhow!("provider \"aks\" needs an [azure] section"))?;
                let endpoint = local_cloud
                    .map(str::to_string)
                    .or_else(|| azure.endpoint.clone())
                    .or_else(|| std::env::var("MATIHNET_AZURE_ENDPOINT").ok());
                Ok(Settings::Azure(matihnet_provider_azure::AzureSettings {
                    environment: env.name.clone(),
                    location: env.region.clone(),
                    subscription_id: azure.subscription_id.clone(),
                    resource_group: azure.resource_group.clone(),
                    ingress_resource_group: azure.ingress_resource_group.clone(),
                    rate_limits: rate_limits("azure", endpoint.as_deref(), &env.rate_limits)?,
                    endpoint,
                }))
            }
            #[cfg(feature = "aws")]
            CloudProvider::Eks => {
                let aws = env
                    .aws
                    .as_ref()
                    .ok_or_else(|| anyhow::anyhow!("provider \"eks\" needs an [aws] section"))?;
                let endpoint_url = local_cloud
                    .map(str::to_string)
                    .or_else(|| aws.endpoint_url.clone());
                // The SDK reads AWS_ENDPOINT_URL itself; it decides the defaults all the same.
                let reached = endpoint_url
                    .clone()
                    .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
                Ok(Settings::Aws(matihnet_provider_aws::AwsSettings {
                    environment: env.name.clone(),
                    region: env.region.clone(),
                    availability_zones: aws.availability_zones.clone(),
                    rate_limits: rate_limits("aws", reached.as_deref(), &env.rate_limits)?,
                    endpoint_url,
                    nat: match aws.nat {
                        matihnet_net::NatMode::PerAz => matihnet_provider_aws::NatMode::PerAz,
                        matihnet_net::NatMode::Single => matihnet_provider_aws::NatMode::Single,
                        matihnet_net::NatMode::None => matihnet_provider_aws::NatMode::None,
                    },
                }))
            }
            #[cfg(feature = "gcp")]
            CloudProvider::Gke => {
                let gcp = env
                    .gcp
                    .as_ref()
                    .ok_or_else(|| anyhow::anyhow!("provider \"gke\" needs a [gcp] section"))?;
                let endpoint = local_cloud
                    .map(str::to_string)
                    .or_else(|| gcp.endpoint.clone())
                    .or_else(|| std::env::var("MATIHNET_GCP_ENDPOINT").ok());
                Ok(Settings::Gcp(matihnet_provider_gcp::GcpSettings {
                    environment: env.name.clone(),
                    project: gcp.project.clone(),
                    region: env.region.clone(),
                    rate_limits: rate_limits("gcp", endpoint.as_deref(), &env.rate_limits)?,
                    endpoint,
                }))
            }
            CloudProvider::Fake => Ok(Settings::Fake),
            #[allow(unreachable_patterns)]
            other => anyhow::bail!(
                "provider {:?} is not built into this matihnet (build it with its cargo feature)",
                other.as_str()
            ),
        }
    }

    /// The provider's resource types and the resources it will manage, without connecting to
    /// anything or reading credentials: `validate` and `graph` stay offline.
    pub fn offline_mapping(&self) -> anyhow::Result<(Vec<ResourceSchema>, Vec<DesiredResource>)> {
        let neutral = self.neutral_resources();
        Ok(match self.settings(None)? {
            #[cfg(feature = "azure")]
            Settings::Azure(s) => (
                matihnet_provider_azure::schemas(),
                matihnet_provider_azure::map_resources(&s, neutral),
            ),
            #[cfg(feature = "aws")]
            Settings::Aws(s) => (
                matihnet_provider_aws::schemas(),
                matihnet_provider_aws::map_resources(&s, neutral),
            ),
            #[cfg(feature = "gcp")]
            Settings::Gcp(s) => (
                matihnet_provider_gcp::schemas(),
                matihnet_provider_gcp::map_resources(&s, neutral),
            ),
            Settings::Fake => (matihnet_net::neutral_schemas(), neutral),
        })
    }

    /// Builds the provider the file names, configured from its section. With `local_cloud` (the
    /// in-process emulators' endpoint) the provider reaches that endpoint only, with test
    /// credentials, whatever the file, the environment or a profile say; a provider without a
    /// local cloud refuses before anything is connected.
    pub async fn provider(&self, local_cloud: Option<&str>) -> anyhow::Result<Arc<dyn Provider>> {
        if let Some(endpoint) = local_cloud {
            anyhow::ensure!(
                matihnet_core::endpoint::is_loopback(endpoint),
                "--local-cloud endpoint {endpoint} is not on this machine"
            );
        }
        match self.settings(local_cloud)? {
            #[cfg(feature = "azure")]
            Settings::Azure(settings) => Ok(Arc::new(
                matihnet_provider_azure::AzureProvider::connect(settings)?,
            )),
            #[cfg(feature = "aws")]
            Settings::Aws(settings) => Ok(Arc::new(
                matihnet_provider_aws::AwsProvider::connect(settings).await,
            )),
            #[cfg(feature = "gcp")]
            Settings::Gcp(settings) => Ok(Arc::new(
                matihnet_provider_gcp::GcpProvider::connect(settings).await?,
            )),
            Settings::Fake => {
                let mut config = FakeConfig::from_env(|k| std::env::var(k).ok())?;
                if config.store.is_none() {
                    let mut name = self
                        .state_path()
                        .file_name()
                        .unwrap_or_default()
                        .to_os_string();
                    name.push(".fake-cloud.json");
                    config.store = Some(self.state_path().with_file_name(name));
                }
                Ok(Arc::new(FakeProvider::new(
                    matihnet_net::neutral_schemas(),
                    config,
                )?))
            }
        }
    }

    pub fn print_warnings(&self, term: &Terminal) {
        for w in &self.loaded.warnings {
            term.diagnostic(w, Some(&self.text));
        }
    }
}

/// The rates a provider reaching `endpoint` paces each API to: `[rate_limits]` over the
/// defaults `core::pacing::Defaults::choose` picks (and `MATIHNET_RATE_LIMITS` may force).
#[cfg(any(feature = "aws", feature = "azure", feature = "gcp"))]
fn rate_limits(
    cloud: &str,
    endpoint: Option<&str>,
    overrides: &matihnet_core::pacing::Overrides,
) -> anyhow::Result<std::collections::BTreeMap<String, matihnet_core::pacing::Limit>> {
    let chosen = std::env::var("MATIHNET_RATE_LIMITS").ok();
    let defaults = matihnet_core::pacing::Defaults::choose(endpoint, chosen.as_deref())
        .map_err(anyhow::Error::msg)?;
    Ok(matihnet_core::pacing::effective(cloud, defaults, overrides))
}
