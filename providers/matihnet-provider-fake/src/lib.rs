//! A provider that keeps its objects in memory (optionally mirrored to a JSON file, so that a
//! killed process's objects survive into the next run), with latency and fault injection: fail
//! the Nth call or one address, throttle every Nth call, abort the process after K calls.
//!
//! It plays a cloud faithfully where the engine's correctness depends on it: objects are tagged
//! with their address and lineage and adopted on create, ids and computed values are generated,
//! and deletes of missing objects succeed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use matihnet_core::ownership::{self, Marks};
use matihnet_core::retry::{with_backoff, RetryPolicy};
use matihnet_core::{
    Address, ApiCalls, AttributeKind, Attrs, CallCounts, ErrorKind, OperationContext, Provider,
    ProviderError, ProviderResult, ResourceSchema, Value,
};
use serde::{Deserialize, Serialize};

/// Fault and latency settings. Every field is off by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FakeConfig {
    pub latency: Duration,
    /// The Nth call (1-based, counting every call) fails with a rejection.
    pub fail_call: Option<u64>,
    /// Creates and updates of this address fail.
    pub fail_address: Option<Address>,
    /// Every Nth attempt is throttled (and retried with backoff, as a real provider does).
    pub throttle_every: Option<u64>,
    /// The process aborts right after the effect of the Kth call, before the caller hears of it.
    pub abort_after: Option<u64>,
    /// Mirror of the objects, rewritten atomically after every change.
    pub store: Option<PathBuf>,
    /// Kinds whose reads a refresh hands over together, answered with one listing call, as a
    /// cloud's list does.
    pub batched_reads: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FakeConfigError {
    #[error("{var}={value:?} is not a valid {what}")]
    Invalid {
        var: &'static str,
        value: String,
        what: &'static str,
    },
    #[error("cannot read the fake cloud's store {path}: {reason}")]
    Store { path: PathBuf, reason: String },
}

impl FakeConfig {
    /// Reads `MATIHNET_FAKE_LATENCY_MS`, `_FAIL_CALL`, `_FAIL_ADDRESS`, `_THROTTLE_EVERY`,
    /// `_ABORT_AFTER`, `_STORE` and `_BATCHED_READS` (kinds, comma-separated): how the binary's
    /// black-box tests inject faults.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<FakeConfig, FakeConfigError> {
        let num = |var: &'static str| -> Result<Option<u64>, FakeConfigError> {
            match get(var) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| FakeConfigError::Invalid {
                        var,
                        value: v,
                        what: "number",
                    }),
            }
        };
        let fail_address = match get("MATIHNET_FAKE_FAIL_ADDRESS") {
            None => None,
            Some(v) => Some(v.parse().map_err(|_| FakeConfigError::Invalid {
                var: "MATIHNET_FAKE_FAIL_ADDRESS",
                value: v,
                what: "resource address",
            })?),
        };
        Ok(FakeConfig {
            latency: Duration::from_millis(num("MATIHNET_FAKE_LATENCY_MS")?.unwrap_or(0)),
            fail_call: num("MATIHNET_FAKE_FAIL_CALL")?,
            fail_address,
            throttle_every: num("MATIHNET_FAKE_THROTTLE_EVERY")?,
            abort_after: num("MATIHNET_FAKE_ABORT_AFTER")?,
            store: get("MATIHNET_FAKE_STORE").map(PathBuf::from),
            batched_reads: get("MATIHNET_FAKE_BATCHED_READS")
                .map(|v| {
                    v.split(',')
                        .map(|k| k.trim().to_string())
                        .filter(|k| !k.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FakeObject {
    pub kind: String,
    pub attrs: Attrs,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Store {
    next: u64,
    objects: BTreeMap<String, FakeObject>,
    /// `address lineage` -> id: what a cloud's tag filter gives a provider, without a scan.
    #[serde(skip)]
    by_tag: std::collections::HashMap<String, String>,
}

impl Store {
    fn tag_key(address: &str, lineage: &str) -> String {
        format!("{address} {lineage}")
    }

    fn reindex(&mut self) {
        self.by_tag = self
            .objects
            .iter()
            .filter_map(|(id, o)| {
                Some((
                    Store::tag_key(o.tags.get(TAG_ADDRESS)?, o.tags.get(TAG_LINEAGE)?),
                    id.clone(),
                ))
            })
            .collect();
    }
}

pub struct FakeProvider {
    schemas: Vec<ResourceSchema>,
    config: FakeConfig,
    calls: AtomicU64,
    attempts: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    store: Mutex<Store>,
    api: ApiCalls,
}

const TAG_ADDRESS: &str = "matihnet:address";
const TAG_LINEAGE: &str = "matihnet:lineage";
const TAG_ENVIRONMENT: &str = "matihnet:environment";

impl FakeProvider {
    pub fn new(schemas: Vec<ResourceSchema>, config: FakeConfig) -> Result<Self, FakeConfigError> {
        let store = match &config.store {
            Some(path) => load_store(path)?,
            None => Store::default(),
        };
        Ok(FakeProvider {
            schemas,
            config,
            calls: AtomicU64::new(0),
            attempts: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
            api: ApiCalls::new(),
            store: Mutex::new(store),
        })
    }

    /// Calls made so far (each create, read, update or delete counts once, retries not).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Attempts made so far, retries after throttling included.
    pub fn attempts(&self) -> u64 {
        self.attempts.load(Ordering::SeqCst)
    }

    /// The most calls that were ever in progress at once.
    pub fn max_in_flight(&self) -> u64 {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// Writes every object to `path` in the store's format, so that a provider made later (in
    /// another process) with `FakeConfig { store: Some(path), .. }` starts with this cloud: how
    /// a benchmark measures a refresh in a process that did nothing before it.
    pub fn save_to(&self, path: &Path) -> std::io::Result<()> {
        self.with_store(|s| save_store(path, s))
    }

    /// Every object, by id.
    pub fn objects(&self) -> BTreeMap<String, FakeObject> {
        self.with_store(|s| s.objects.clone())
    }

    /// How many objects carry `addr` as their address tag: more than one is a duplicate.
    pub fn count_tagged(&self, addr: &Address) -> usize {
        let a = addr.to_string();
        self.with_store(|s| {
            s.objects
                .values()
                .filter(|o| o.tags.get(TAG_ADDRESS) == Some(&a))
                .count()
        })
    }

    /// Changes an attribute behind matihnet's back, as a user with the cloud console would.
    pub fn tamper(&self, addr: &Address, attr: &str, value: Value) -> bool {
        let a = addr.to_string();
        self.mutate(|s| {
            let Some(o) = s
                .objects
                .values_mut()
                .find(|o| o.tags.get(TAG_ADDRESS) == Some(&a))
            else {
                return false;
            };
            o.attrs.insert(attr.to_string(), value);
            true
        })
    }

    /// Makes an object of `kind` behind matihnet's back (no marks, as a console or another tool
    /// would), with a generated id unless `attrs` has one; returns its id.
    pub fn create_outside(&self, kind: &str, attrs: &Attrs) -> String {
        self.mutate(|s| {
            s.next += 1;
            let mut all = attrs.clone();
            for (k, v) in self.generated(kind, s.next) {
                all.entry(k).or_insert(v);
            }
            let id = id_of(attrs)
                .map(str::to_string)
                .unwrap_or_else(|| format!("fake-{kind}-{}", s.next));
            all.insert("id".into(), Value::from(id.clone()));
            s.objects.insert(
                id.clone(),
                FakeObject {
                    kind: kind.to_string(),
                    attrs: all,
                    tags: BTreeMap::new(),
                },
            );
            id
        })
    }

    /// Deletes an object behind matihnet's back.
    pub fn delete_outside(&self, addr: &Address) -> bool {
        let a = addr.to_string();
        self.mutate(|s| {
            let before = s.objects.len();
            s.objects.retain(|_, o| o.tags.get(TAG_ADDRESS) != Some(&a));
            s.reindex();
            s.objects.len() != before
        })
    }

    fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        let mut g = match self.store.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g)
    }

    fn mutate<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        self.with_store(|s| {
            let r = f(s);
            if let Some(path) = &self.config.store {
                // The mirror is what a killed process leaves behind: write it before answering.
                if let Err(e) = save_store(path, s) {
                    eprintln!("fake cloud: cannot save {}: {e}", path.display());
                }
            }
            r
        })
    }

    fn schema(&self, kind: &str) -> Option<&ResourceSchema> {
        self.schemas.iter().find(|s| s.type_name == kind)
    }

    /// One API call: latency, throttling (retried), the injected failure.
    async fn call(&self, ctx: &OperationContext, mutating: bool) -> Result<u64, ProviderError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let r = self.call_inner(ctx, mutating, n).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        r
    }

    async fn call_inner(
        &self,
        ctx: &OperationContext,
        mutating: bool,
        n: u64,
    ) -> Result<u64, ProviderError> {
        with_backoff(
            RetryPolicy {
                max_attempts: 6,
                max_failed_operations: 3,
                base_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(50),
            },
            |_| async {
                let attempt = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
                if !self.config.latency.is_zero() {
                    tokio::time::sleep(self.config.latency).await;
                }
                if self
                    .config
                    .throttle_every
                    .is_some_and(|k| k > 0 && attempt.is_multiple_of(k))
                {
                    return Err((
                        ProviderError::new(ErrorKind::Throttled, "Rate exceeded (injected)"),
                        None,
                    ));
                }
                Ok(())
            },
        )
        .await?;
        if self.config.fail_call == Some(n) {
            return Err(ProviderError::new(
                ErrorKind::Rejected,
                format!("injected failure of call {n}"),
            )
            .with_request_id(format!("fake-req-{n}")));
        }
        if mutating && self.config.fail_address.as_ref() == Some(&ctx.addr) {
            return Err(ProviderError::new(
                ErrorKind::Rejected,
                format!("injected failure for {}", ctx.addr),
            ));
        }
        Ok(n)
    }

    /// After the Kth call's effect is stored, the process dies as `kill -9` would kill it.
    fn maybe_abort(&self, n: u64) {
        if self.config.abort_after == Some(n) {
            eprintln!("fake cloud: aborting after call {n} (MATIHNET_FAKE_ABORT_AFTER)");
            std::process::abort();
        }
    }

    fn generated(&self, kind: &str, serial: u64) -> Attrs {
        let mut out = Attrs::new();
        let Some(schema) = self.schema(kind) else {
            return out;
        };
        for a in &schema.attributes {
            if a.kind != AttributeKind::Computed {
                continue;
            }
            let v = match a.name.as_str() {
                "id" => Value::from(format!("fake-{kind}-{serial}")),
                "name_servers" => {
                    Value::string_list((1..=4).map(|i| format!("ns{i}-{serial}.fake-dns.test.")))
                }
                "ip_address" => Value::from(format!(
                    "198.18.{}.{}",
                    (serial / 250) % 256,
                    serial % 250 + 1
                )),
                other => Value::from(format!("{other}-{serial}")),
            };
            out.insert(a.name.clone(), v);
        }
        out
    }
}

fn load_store(path: &Path) -> Result<Store, FakeConfigError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let mut store: Store =
                serde_json::from_slice(&bytes).map_err(|e| FakeConfigError::Store {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })?;
            store.reindex();
            Ok(store)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Store::default()),
        Err(e) => Err(FakeConfigError::Store {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
    }
}

fn save_store(path: &Path, store: &Store) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(store).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, path)
}

fn id_of(attrs: &Attrs) -> Option<&str> {
    attrs.get("id").and_then(Value::as_str)
}

#[async_trait]
impl Provider for FakeProvider {
    fn name(&self) -> &str {
        "fake"
    }

    fn schemas(&self) -> Vec<ResourceSchema> {
        self.schemas.clone()
    }

    async fn read(
        &self,
        ctx: &OperationContext,
        prior: &Attrs,
    ) -> Result<Option<Attrs>, ProviderError> {
        self.api.record(&format!("fake.{}.read", ctx.addr.kind));
        self.call(ctx, false).await?;
        let Some(id) = id_of(prior) else {
            return Ok(None);
        };
        Ok(self.with_store(|s| s.objects.get(id).map(|o| o.attrs.clone())))
    }

    async fn create(&self, ctx: &OperationContext, desired: &Attrs) -> ProviderResult<Attrs> {
        self.api.record(&format!("fake.{}.create", ctx.addr.kind));
        let n = self.call(ctx, true).await?;
        let address = ctx.addr.to_string();
        let attrs = self.mutate(|s| {
            // An object this environment created before a crash: adopt it, do not duplicate it.
            let key = Store::tag_key(&address, &ctx.lineage);
            let adopted = match s.by_tag.get(&key) {
                Some(id) => s.objects.get_mut(id),
                None => None,
            };
            if let Some(o) = adopted {
                o.attrs.extend(desired.clone());
                return o.attrs.clone();
            }
            s.next += 1;
            let mut attrs = desired.clone();
            attrs.extend(self.generated(&ctx.addr.kind, s.next));
            let id = id_of(&attrs)
                .map(str::to_string)
                .unwrap_or_else(|| format!("fake-{}-{}", ctx.addr.kind, s.next));
            attrs.insert("id".into(), Value::from(id.clone()));
            let tags = BTreeMap::from([
                (TAG_ADDRESS.to_string(), address.clone()),
                (TAG_LINEAGE.to_string(), ctx.lineage.clone()),
                (TAG_ENVIRONMENT.to_string(), ctx.environment.clone()),
            ]);
            s.by_tag.insert(key, id.clone());
            s.objects.insert(
                id,
                FakeObject {
                    kind: ctx.addr.kind.clone(),
                    attrs: attrs.clone(),
                    tags,
                },
            );
            attrs
        });
        self.maybe_abort(n);
        Ok(attrs)
    }

    async fn update(
        &self,
        ctx: &OperationContext,
        prior: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        self.api.record(&format!("fake.{}.update", ctx.addr.kind));
        let n = self.call(ctx, true).await?;
        let id = id_of(prior).unwrap_or_default().to_string();
        let r = self.mutate(|s| {
            s.objects.get_mut(&id).map(|o| {
                o.attrs.extend(desired.clone());
                o.attrs.clone()
            })
        });
        self.maybe_abort(n);
        r.ok_or_else(|| {
            ProviderError::new(ErrorKind::Rejected, format!("object {id} not found")).into()
        })
    }

    async fn delete(&self, ctx: &OperationContext, prior: &Attrs) -> Result<(), ProviderError> {
        self.api.record(&format!("fake.{}.delete", ctx.addr.kind));
        let n = self.call(ctx, true).await?;
        if let Some(id) = id_of(prior) {
            self.mutate(|s| {
                if let Some(o) = s.objects.remove(id) {
                    if let (Some(a), Some(l)) = (o.tags.get(TAG_ADDRESS), o.tags.get(TAG_LINEAGE)) {
                        s.by_tag.remove(&Store::tag_key(a, l));
                    }
                }
            });
        }
        self.maybe_abort(n);
        Ok(())
    }

    async fn import(
        &self,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        self.api.record(&format!("fake.{}.import", ctx.addr.kind));
        self.call(ctx, mark).await?;
        let kind = ctx.addr.kind.as_str();
        let address = ctx.addr.to_string();
        self.mutate(|s| {
            // An object may also be named by its `name` (a zone by its domain, with or without
            // the root's dot, as every cloud's zones may).
            let key = if s.objects.contains_key(id) {
                Some(id.to_string())
            } else {
                let domain = id.strip_suffix('.').unwrap_or(id);
                s.objects
                    .iter()
                    .find(|(_, o)| {
                        o.kind == kind
                            && o.attrs.get("name").and_then(Value::as_str) == Some(domain)
                    })
                    .map(|(k, _)| k.clone())
            };
            let Some(o) = key.and_then(|k| s.objects.get_mut(&k)) else {
                return Err(ownership::not_found(kind, id));
            };
            if o.kind != kind {
                return Err(ownership::wrong_kind(kind, id, &format!("a `{}`", o.kind)));
            }
            let found = Marks {
                address: o.tags.get(TAG_ADDRESS).map(String::as_str),
                lineage: o.tags.get(TAG_LINEAGE).map(String::as_str),
                environment: o.tags.get(TAG_ENVIRONMENT).map(String::as_str),
            };
            ownership::check_importable(&format!("{kind} {id}"), found, Marks::of(ctx, &address))?;
            let attrs = o.attrs.clone();
            if mark {
                o.tags = BTreeMap::from([
                    (TAG_ADDRESS.to_string(), address.clone()),
                    (TAG_LINEAGE.to_string(), ctx.lineage.clone()),
                    (TAG_ENVIRONMENT.to_string(), ctx.environment.clone()),
                ]);
                s.reindex();
            }
            Ok(attrs)
        })
    }

    fn api_calls(&self) -> CallCounts {
        self.api.snapshot()
    }

    fn reads_in_batches(&self, kind: &str) -> bool {
        self.config.batched_reads.iter().any(|k| k == kind)
    }

    /// One listing call answers every read, as a cloud's filtered list does.
    async fn read_many(
        &self,
        kind: &str,
        reads: &[(OperationContext, Attrs)],
    ) -> Vec<Result<Option<Attrs>, ProviderError>> {
        let Some((first, _)) = reads.first() else {
            return Vec::new();
        };
        self.api.record(&format!("fake.{kind}.list"));
        if let Err(e) = self.call(first, false).await {
            return reads.iter().map(|_| Err(e.clone())).collect();
        }
        reads
            .iter()
            .map(|(_, prior)| {
                Ok(id_of(prior)
                    .and_then(|id| self.with_store(|s| s.objects.get(id).map(|o| o.attrs.clone()))))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Vec<ResourceSchema> {
        vec![ResourceSchema::new("zone")
            .required_force_new("name")
            .computed("id")
            .computed("name_servers")]
    }

    fn ctx(name: &str) -> OperationContext {
        OperationContext {
            addr: Address::new("zone", name),
            environment: "test".into(),
            lineage: "L1".into(),
        }
    }

    fn attrs(name: &str) -> Attrs {
        Attrs::from([("name".to_string(), Value::from(name))])
    }

    #[tokio::test]
    async fn create_adopts_what_a_crash_left_behind() {
        let p = FakeProvider::new(schema(), FakeConfig::default()).unwrap();
        let a = p.create(&ctx("a"), &attrs("a.test")).await.unwrap();
        let again = p.create(&ctx("a"), &attrs("a.test")).await.unwrap();
        assert_eq!(a.get("id"), again.get("id"));
        assert_eq!(p.count_tagged(&Address::new("zone", "a")), 1);
        let ns = a.get("name_servers").and_then(Value::as_list).unwrap();
        assert_eq!(ns.len(), 4);
    }

    #[tokio::test]
    async fn store_survives_a_new_process() {
        let dir = tempfile::tempdir().unwrap();
        let config = FakeConfig {
            store: Some(dir.path().join("fake.json")),
            ..FakeConfig::default()
        };
        let p = FakeProvider::new(schema(), config.clone()).unwrap();
        let a = p.create(&ctx("a"), &attrs("a.test")).await.unwrap();
        let p2 = FakeProvider::new(schema(), config).unwrap();
        assert_eq!(p2.read(&ctx("a"), &a).await.unwrap(), Some(a));
    }

    #[tokio::test]
    async fn injected_faults_fire() {
        let p = FakeProvider::new(
            schema(),
            FakeConfig {
                fail_call: Some(2),
                throttle_every: Some(2),
                ..FakeConfig::default()
            },
        )
        .unwrap();
        assert!(p.create(&ctx("a"), &attrs("a")).await.is_ok());
        let err = p.create(&ctx("b"), &attrs("b")).await.unwrap_err();
        assert_eq!(err.error.kind, ErrorKind::Rejected);
        assert!(p.attempts() > p.calls(), "throttled attempts were retried");
    }

    #[test]
    fn config_from_env_names_the_bad_variable() {
        let err = FakeConfig::from_env(|k| (k == "MATIHNET_FAKE_FAIL_CALL").then(|| "x".into()))
            .unwrap_err();
        assert!(err.to_string().contains("MATIHNET_FAKE_FAIL_CALL"));
    }
}

/// Builds the fake provider from a [`ProviderConfig`]: its faults from the `MATIHNET_FAKE_*`
/// variables of the process it runs in (the binary's, or the plugin's, which inherits them),
/// its store from the settings' `store` key unless `MATIHNET_FAKE_STORE` names one.
pub struct FakeFactory;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FakeSettings {
    #[serde(default)]
    store: Option<PathBuf>,
}

#[async_trait]
impl matihnet_core::ProviderFactory for FakeFactory {
    fn name(&self) -> &str {
        "fake"
    }

    async fn schemas(
        &self,
        _config: &matihnet_core::ProviderConfig,
    ) -> Result<Vec<ResourceSchema>, ProviderError> {
        Ok(matihnet_core::neutral::schemas())
    }

    async fn map_resources(
        &self,
        _config: &matihnet_core::ProviderConfig,
        neutral: Vec<matihnet_core::DesiredResource>,
    ) -> Result<Vec<matihnet_core::DesiredResource>, ProviderError> {
        Ok(neutral)
    }

    async fn connect(
        &self,
        config: &matihnet_core::ProviderConfig,
    ) -> Result<std::sync::Arc<dyn Provider>, ProviderError> {
        let settings: FakeSettings = config.settings_as("fake")?;
        let rejected = |e: FakeConfigError| ProviderError::new(ErrorKind::Rejected, e.to_string());
        let mut fake = FakeConfig::from_env(|k| std::env::var(k).ok()).map_err(rejected)?;
        if fake.store.is_none() {
            fake.store = settings.store;
        }
        let provider =
            FakeProvider::new(matihnet_core::neutral::schemas(), fake).map_err(rejected)?;
        Ok(std::sync::Arc::new(provider))
    }
}
