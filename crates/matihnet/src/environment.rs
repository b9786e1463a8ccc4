//! Opening an environment: reading its file, resolving `${VAR}`s, building the provider it names,
//! the desired resources and outputs, and the state backend beside it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use matihnet_core::{
    DesiredResource, Diagnostic, Provider, ProviderConfig, ProviderFactory, ResourceSchema,
};
use matihnet_net::{CloudProvider, Loaded, StateBackend, StateSection};
use matihnet_state::{Backend, LocalBackend};

use crate::terminal::Terminal;

/// An environment file that loaded without errors.
pub struct EnvironmentFile {
    pub path: PathBuf,
    pub text: String,
    pub loaded: Loaded,
    /// The provider's factory, resolved once per command so a plugin is started once.
    factory: std::sync::OnceLock<Arc<dyn ProviderFactory>>,
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
            factory: std::sync::OnceLock::new(),
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
    #[cfg_attr(not(feature = "state-s3"), allow(unused_variables))]
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
            // A plugin's endpoints are its own business; matihnet cannot tell.
            CloudProvider::Plugin => false,
        }
    }

    /// `<file stem>.providers.lock` beside the file: the checksums of the provider plugins it runs.
    pub fn lock_path(&self) -> PathBuf {
        self.dir().join(format!("{}.providers.lock", self.stem()))
    }

    /// The provider's factory: built in, or its plugin (checked against the lock file).
    pub fn factory(&self) -> anyhow::Result<Arc<dyn ProviderFactory>> {
        if let Some(f) = self.factory.get() {
            return Ok(f.clone());
        }
        let factory: Arc<dyn ProviderFactory> = match crate::plugins::resolve(
            &self.loaded.env,
            &self.path,
            &self.lock_path(),
            false,
        )? {
            crate::plugins::Resolved::BuiltIn(f) => f,
            crate::plugins::Resolved::Plugin { factory, recorded } => {
                if let Some(note) = recorded {
                    eprintln!("{note}");
                }
                factory
            }
        };
        Ok(self.factory.get_or_init(|| factory).clone())
    }

    /// What the provider is configured with, from the file and its variables; with
    /// `local_cloud` the endpoint is the in-process emulators', whatever the file or the
    /// environment say.
    pub fn provider_config(&self, local_cloud: Option<&str>) -> anyhow::Result<ProviderConfig> {
        let env = &self.loaded.env;
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        // `reached` is where requests go, which decides the default rates; AWS's SDK reads
        // AWS_ENDPOINT_URL itself, so it is not passed on as the endpoint.
        let (endpoint, reached, settings) = match env.provider {
            CloudProvider::Aks => {
                let azure = env
                    .azure
                    .as_ref()
                    .ok_or_else(|| anyhow::anyhow!("provider \"aks\" needs an [azure] section"))?;
                let endpoint = local_cloud
                    .map(str::to_string)
                    .or_else(|| azure.endpoint.clone())
                    .or_else(|| var("MATIHNET_AZURE_ENDPOINT"));
                let settings = serde_json::json!({
                    "subscription_id": azure.subscription_id,
                    "resource_group": azure.resource_group,
                    "ingress_resource_group": azure.ingress_resource_group,
                });
                (endpoint.clone(), endpoint, settings)
            }
            CloudProvider::Eks => {
                let aws = env
                    .aws
                    .as_ref()
                    .ok_or_else(|| anyhow::anyhow!("provider \"eks\" needs an [aws] section"))?;
                let endpoint = local_cloud
                    .map(str::to_string)
                    .or_else(|| aws.endpoint_url.clone());
                let reached = endpoint.clone().or_else(|| var("AWS_ENDPOINT_URL"));
                let settings = serde_json::json!({
                    "availability_zones": aws.availability_zones,
                    "nat": aws.nat.as_str(),
                });
                (endpoint, reached, settings)
            }
            CloudProvider::Gke => {
                let gcp = env
                    .gcp
                    .as_ref()
                    .ok_or_else(|| anyhow::anyhow!("provider \"gke\" needs a [gcp] section"))?;
                let endpoint = local_cloud
                    .map(str::to_string)
                    .or_else(|| gcp.endpoint.clone())
                    .or_else(|| var("MATIHNET_GCP_ENDPOINT"));
                let settings = serde_json::json!({ "project": gcp.project });
                (endpoint.clone(), endpoint, settings)
            }
            CloudProvider::Fake => {
                let mut name = self
                    .state_path()
                    .file_name()
                    .unwrap_or_default()
                    .to_os_string();
                name.push(".fake-cloud.json");
                let store = self.state_path().with_file_name(name);
                (None, None, serde_json::json!({ "store": store }))
            }
            CloudProvider::Plugin => {
                anyhow::ensure!(
                    local_cloud.is_none(),
                    "--local-cloud runs matihnet's own Azure and GCP emulators; provider plugin `{}` brings none (point the plugin at its own test endpoint in [providers.{}] instead)",
                    env.provider_name(),
                    env.provider_name()
                );
                let settings = env
                    .providers
                    .get(env.provider_name())
                    .map(|s| serde_json::Value::Object(s.settings.clone()))
                    .unwrap_or_else(|| serde_json::json!({}));
                (None, None, settings)
            }
        };
        let rate_limits = match env.provider.section() {
            Some(cloud) => rate_limits(cloud, reached.as_deref(), &env.rate_limits)?,
            None => BTreeMap::new(),
        };
        let serde_json::Value::Object(settings) = settings else {
            anyhow::bail!("a provider's settings are a table");
        };
        Ok(ProviderConfig {
            environment: env.name.clone(),
            region: env.region.clone(),
            endpoint,
            rate_limits,
            settings,
        })
    }

    /// The provider's resource types and the resources it will manage, without connecting to
    /// anything or reading credentials: `validate` and `graph` stay offline.
    pub async fn offline_mapping(
        &self,
    ) -> anyhow::Result<(Vec<ResourceSchema>, Vec<DesiredResource>)> {
        let factory = self.factory()?;
        let config = self.provider_config(None)?;
        let schemas = factory
            .schemas(&config)
            .await
            .map_err(|e| anyhow::anyhow!("provider {}: {e}", factory.name()))?;
        Ok((schemas, self.mapped(factory.as_ref(), &config).await?))
    }

    /// The file's resources as the provider will manage them.
    async fn mapped(
        &self,
        factory: &dyn ProviderFactory,
        config: &ProviderConfig,
    ) -> anyhow::Result<Vec<DesiredResource>> {
        factory
            .map_resources(config, self.neutral_resources())
            .await
            .map_err(|e| anyhow::anyhow!("provider {}: {e}", factory.name()))
    }

    /// Builds the provider the file names, configured from its section, and the resources it
    /// will manage. With `local_cloud` (the in-process emulators' endpoint) the provider
    /// reaches that endpoint only, with test credentials, whatever the file, the environment
    /// or a profile say; a provider without a local cloud refuses before anything is connected.
    pub async fn provider(
        &self,
        local_cloud: Option<&str>,
    ) -> anyhow::Result<(Arc<dyn Provider>, Vec<DesiredResource>)> {
        if let Some(endpoint) = local_cloud {
            anyhow::ensure!(
                matihnet_core::endpoint::is_loopback(endpoint),
                "--local-cloud endpoint {endpoint} is not on this machine"
            );
        }
        let factory = self.factory()?;
        let config = self.provider_config(local_cloud)?;
        let provider = factory
            .connect(&config)
            .await
            .map_err(|e| anyhow::anyhow!("provider {}: {e}", factory.name()))?;
        Ok((provider, self.mapped(factory.as_ref(), &config).await?))
    }

    pub fn print_warnings(&self, term: &Terminal) {
        for w in &self.loaded.warnings {
            term.diagnostic(w, Some(&self.text));
        }
    }
}

/// The rates a provider reaching `endpoint` paces each API to: `[rate_limits]` over the
/// defaults `core::pacing::Defaults::choose` picks (and `MATIHNET_RATE_LIMITS` may force).
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
