//! Finding the provider an environment names: built into this binary, or a plugin executable
//! `matihnet-provider-NAME`, with its checksum pinned in a lock file beside the environment
//! file (as Terraform pins providers in `.terraform.lock.hcl`).
//!
//! Search order for a plugin: `[providers.NAME] source` (relative to the environment file),
//! then `MATIHNET_PLUGIN_DIR` (a `:`-separated list), the directory this `matihnet` runs from
//! (plugins built or installed with it), `$XDG_DATA_HOME/matihnet/plugins` (by default
//! `~/.local/share/matihnet/plugins`), and `PATH`. A built-in provider runs in-process unless
//! its section names a `source` or `MATIHNET_BUILTIN_PROVIDERS=plugin` asks for its plugin.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use matihnet_core::ProviderFactory;
use matihnet_net::{CloudProvider, Environment};
use matihnet_plugin::{PluginFactory, PluginSpec};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What the environment's provider resolved to.
pub enum Resolved {
    BuiltIn(Arc<dyn ProviderFactory>),
    Plugin {
        factory: Arc<PluginFactory>,
        /// A note for the user when the lock file gained an entry.
        recorded: Option<String>,
    },
}

/// `<file stem>.providers.lock` beside the environment file: one entry per plugin the environment ran.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockFile {
    #[serde(default)]
    pub providers: BTreeMap<String, LockedPlugin>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LockedPlugin {
    /// `sha256:<hex>` of the executable.
    pub checksum: String,
    /// Where it was found when locked: for people reading the file; a plugin found elsewhere
    /// with the same checksum is accepted.
    pub path: String,
}

const LOCK_HEADER: &str = "# matihnet's provider lock file: the checksum of every provider plugin this environment runs.\n\
# matihnet writes it; commit it with the environment file. `matihnet providers lock` accepts a changed plugin.\n\n";

impl LockFile {
    pub fn read(path: &Path) -> anyhow::Result<LockFile> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| {
                anyhow::anyhow!(
                    "{}: {e}\nfix the file, or delete it and run `matihnet providers lock` to record the plugins again",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LockFile::default()),
            Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
        }
    }

    /// Writes the file whole (a temporary file renamed over it), so a crash leaves the old one.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let text = format!(
            "{LOCK_HEADER}{}",
            toml::to_string(self)
                .map_err(|e| anyhow::anyhow!("cannot encode the lock file: {e}"))?
        );
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        std::io::Write::write_all(&mut tmp, text.as_bytes())
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        tmp.persist(path)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {}", path.display(), e.error))?;
        Ok(())
    }
}

/// `sha256:<hex>` of a plugin, remembered per file identity (device, inode, size, change
/// time, as git's index trusts them) in `~/.cache/matihnet/plugin-checksums.json`, so a
/// command does not read a 100 MB plugin again each time; a rebuilt or replaced file has
/// another identity and is hashed again.
pub fn checksum(path: &Path) -> anyhow::Result<String> {
    use std::os::unix::fs::MetadataExt;
    let cache = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/matihnet/plugin-checksums.json"));
    let identity = std::fs::metadata(path).ok().map(|m| {
        format!(
            "{}:{}:{}:{}.{}",
            m.dev(),
            m.ino(),
            m.size(),
            m.ctime(),
            m.ctime_nsec()
        )
    });
    let key = path.display().to_string();
    let mut known: BTreeMap<String, (String, String)> = cache
        .as_ref()
        .and_then(|c| std::fs::read(c).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    if let (Some(id), Some((was, sum))) = (&identity, known.get(&key)) {
        if id == was {
            return Ok(sum.clone());
        }
    }
    let sum = hash_file(path)?;
    if let (Some(cache), Some(id)) = (cache, identity) {
        known.insert(key, (id, sum.clone()));
        // Only a speed-up: a cache that cannot be written is hashed again next time.
        if let (Some(dir), Ok(bytes)) = (cache.parent(), serde_json::to_vec(&known)) {
            if std::fs::create_dir_all(dir).is_ok() {
                if let Ok(mut tmp) = tempfile::NamedTempFile::new_in(dir) {
                    if std::io::Write::write_all(&mut tmp, &bytes).is_ok() {
                        let _ = tmp.persist(&cache);
                    }
                }
            }
        }
    }
    Ok(sum)
}

fn hash_file(path: &Path) -> anyhow::Result<String> {
    let mut file = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("cannot read provider plugin {}: {e}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| anyhow::anyhow!("cannot read provider plugin {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("sha256:{hex}"))
}

/// The places a plugin named `name` is looked for, in order, without `source`.
pub fn search_path() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(list) = std::env::var_os("MATIHNET_PLUGIN_DIR") {
        dirs.extend(std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()));
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        dirs.push(dir);
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
    if let Some(data) = data {
        dirs.push(data.join("matihnet/plugins"));
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path).filter(|p| !p.as_os_str().is_empty()));
    }
    dirs
}

fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The executable of plugin `name`, and the places looked in when there is none.
pub fn find(name: &str) -> Result<PathBuf, Vec<PathBuf>> {
    let file = format!("matihnet-provider-{name}");
    let dirs = search_path();
    for dir in &dirs {
        let candidate = dir.join(&file);
        if executable(&candidate) {
            return Ok(candidate);
        }
    }
    Err(dirs)
}

/// Whether built-in providers run as their plugins (`MATIHNET_BUILTIN_PROVIDERS=plugin`):
/// how the test suites prove that a provider behaves the same on both sides of the protocol.
fn builtins_as_plugins() -> anyhow::Result<bool> {
    match std::env::var("MATIHNET_BUILTIN_PROVIDERS").ok().as_deref() {
        None | Some("") | Some("in-process") => Ok(false),
        Some("plugin") => Ok(true),
        Some(other) => anyhow::bail!(
            "MATIHNET_BUILTIN_PROVIDERS={other:?}: expected \"in-process\" (the default) or \"plugin\""
        ),
    }
}

/// The factory compiled into this binary for `provider`, if it is.
fn built_in(provider: CloudProvider) -> Option<Arc<dyn ProviderFactory>> {
    match provider {
        #[cfg(feature = "aws")]
        CloudProvider::Eks => Some(Arc::new(matihnet_provider_aws::AwsFactory)),
        #[cfg(feature = "azure")]
        CloudProvider::Aks => Some(Arc::new(matihnet_provider_azure::AzureFactory)),
        #[cfg(feature = "gcp")]
        CloudProvider::Gke => Some(Arc::new(matihnet_provider_gcp::GcpFactory)),
        CloudProvider::Fake => Some(Arc::new(matihnet_provider_fake::FakeFactory)),
        _ => None,
    }
}

/// The call timeout: `[providers.NAME] timeout`, else `MATIHNET_PLUGIN_TIMEOUT`, else the default.
fn call_timeout(env: &Environment, name: &str) -> anyhow::Result<std::time::Duration> {
    if let Some(t) = env.providers.get(name).and_then(|s| s.timeout) {
        return Ok(t);
    }
    match std::env::var("MATIHNET_PLUGIN_TIMEOUT")
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(v) => humantime::parse_duration(&v).map_err(|e| {
            anyhow::anyhow!("MATIHNET_PLUGIN_TIMEOUT={v:?}: {e} (write \"90s\" or \"10m\")")
        }),
        None => Ok(PluginSpec::CALL_TIMEOUT),
    }
}

/// Resolves the provider `env` names. `file` is the environment file (for `source` and the
/// lock file), `accept` re-records a changed plugin's checksum instead of refusing it.
pub fn resolve(
    env: &Environment,
    file: &Path,
    lock_path: &Path,
    accept: bool,
) -> anyhow::Result<Resolved> {
    let name = env.provider_name().to_string();
    let section = env.providers.get(&name);
    let source = section.and_then(|s| s.source.as_deref());
    if source.is_none() && !builtins_as_plugins()? {
        if let Some(factory) = built_in(env.provider) {
            return Ok(Resolved::BuiltIn(factory));
        }
    }
    let path = match source {
        Some(source) => {
            let dir = match file.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let path = dir.join(source);
            let line = section.map_or(0, |s| s.line);
            anyhow::ensure!(
                executable(&path),
                "{}:{line}: providers.{name}.source: no executable at {}\n  hint: build or install the plugin there, or fix the path (it is relative to the environment file)",
                file.display(),
                path.display()
            );
            path
        }
        None => find(&name).map_err(|searched| {
            let places: Vec<String> = searched.iter().map(|p| format!("  {}", p.display())).collect();
            let build = if env.provider == CloudProvider::Plugin {
                format!("install matihnet-provider-{name} in one of them, or set [providers.{name}] source = \"/path/to/it\"")
            } else {
                format!(
                    "this matihnet is built without the {name} provider: build its plugin (cargo build --release -p matihnet-plugins --bin matihnet-provider-{name}) and put it in one of them, or build matihnet with the `{name}` feature"
                )
            };
            anyhow::anyhow!(
                "no provider plugin matihnet-provider-{name} found; looked in:\n{}\n  hint: {build}",
                places.join("\n")
            )
        })?,
    };
    let sum = checksum(&path)?;
    let mut lock = LockFile::read(lock_path)?;
    let recorded = match lock.providers.get(&name) {
        Some(locked) if locked.checksum == sum => None,
        Some(locked) if !accept => anyhow::bail!(
            "provider plugin `{name}` at {} is not the one {} records: it has {sum}, the lock file {}\n  hint: if you changed or upgraded the plugin on purpose, run `matihnet providers lock` to accept it",
            path.display(),
            lock_path.display(),
            locked.checksum
        ),
        previous => {
            let verb = if previous.is_some() { "Accepted" } else { "Recorded" };
            lock.providers.insert(
                name.clone(),
                LockedPlugin {
                    checksum: sum.clone(),
                    path: path.display().to_string(),
                },
            );
            lock.write(lock_path)?;
            Some(format!(
                "{verb} provider plugin `{name}` ({}, {sum}) in {}: commit it with the environment file.",
                path.display(),
                lock_path.display()
            ))
        }
    };
    let mut spec = PluginSpec::new(name.clone(), path);
    spec.call_timeout = call_timeout(env, &name)?;
    Ok(Resolved::Plugin {
        factory: Arc::new(PluginFactory::new(spec)),
        recorded,
    })
}

/// `matihnet providers list | lock`.
pub async fn providers_command(
    env: &crate::environment::EnvironmentFile,
    cmd: &crate::cli::ProvidersCommand,
    term: crate::terminal::Terminal,
) -> anyhow::Result<crate::Exit> {
    let accept = matches!(cmd, crate::cli::ProvidersCommand::Lock);
    let model = &env.loaded.env;
    let name = model.provider_name();
    match resolve(model, &env.path, &env.lock_path(), accept)? {
        Resolved::BuiltIn(_) => {
            term.line(&format!(
                "provider `{name}`: built into this matihnet {} (nothing to lock)",
                env!("CARGO_PKG_VERSION")
            ));
        }
        Resolved::Plugin { factory, recorded } => {
            let plugin = factory.plugin().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            let hello = plugin.hello();
            let path = plugin.spec().path.display().to_string();
            let lock = LockFile::read(&env.lock_path())?;
            let sum = lock
                .providers
                .get(name)
                .map_or("-", |l| l.checksum.as_str())
                .to_string();
            term.line(&format!(
                "provider `{name}`: plugin {path}\n  version {}, protocol {}\n  {sum} (in {})",
                hello.version,
                hello.protocol_version,
                env.lock_path().display()
            ));
            match recorded {
                Some(note) => term.line(&note),
                None if accept => term.line("The lock file already holds this plugin."),
                None => {}
            }
        }
    }
    Ok(crate::Exit::Success)
}
