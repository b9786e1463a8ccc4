//! Local clouds: faithful emulators of the part of Azure Resource Manager (`azure`), of
//! Google Compute Engine + Cloud DNS (`gcp`) and of AWS EC2, ELBv2 and Route53 (`aws`) that
//! matihnet's providers use, behaving as the recordings in `tests/reference/` (and, for AWS,
//! moto, held to it by a differential test) show (status codes, long-running operations, error
//! bodies).
//!
//! One HTTP server serves all three: ARM paths start with `/subscriptions/`, GCP paths with
//! `/compute/v1/` and `/dns/v1/`, AWS Query actions are `POST /` and Route53 `/2013-04-01/`. The emulated objects can be saved to and restored from a JSON
//! file after every request, so `apply --local-cloud` followed by `plan --local-cloud` finds nothing to change.
//! Knows nothing of matihnet's engine, state or providers.
//!
//! `core` holds what every emulated cloud needs (IPv4 prefixes, injected faults, the timing of
//! long-running operations, the versioned snapshot envelope, the lock around one cloud's
//! objects); each cloud module keeps only its paths, bodies, errors and resource rules.

pub mod aws;
pub mod azure;
mod core;
pub mod gcp;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::{Deserialize, Serialize};

/// Settings shared by both emulators.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long a long-running operation stays `InProgress` / `RUNNING`.
    pub operation_delay: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            operation_delay: Duration::from_millis(200),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LocalCloudError {
    #[error("cannot read the local cloud's objects from {path}: {reason}")]
    Load { path: PathBuf, reason: String },
    #[error("cannot save the local cloud's objects to {path}: {reason}")]
    Save { path: PathBuf, reason: String },
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: String, reason: String },
}

#[derive(Serialize, Deserialize, Default)]
struct Snapshot {
    #[serde(default)]
    aws: serde_json::Value,
    #[serde(default)]
    azure: serde_json::Value,
    #[serde(default)]
    gcp: serde_json::Value,
}

/// Both emulators, optionally mirrored to a file after every request.
pub struct LocalCloud {
    pub aws: Arc<aws::Cloud>,
    pub azure: Arc<azure::Cloud>,
    pub gcp: Arc<gcp::Cloud>,
    persist: Option<PathBuf>,
    /// Concurrent requests save concurrently: one at a time, or two writers would interleave in
    /// the temporary file and an older snapshot could land last.
    saving: std::sync::Mutex<()>,
    served: core::served::Served,
}

/// The environment variable that turns the documented rate limits on for every cloud when a
/// [`LocalCloud`] is made (`matihnet local-cloud`, `--local-cloud`): `1`, `true`, `yes` or `on`.
pub const RATE_LIMIT_ENV: &str = "MATIHNET_LOCALCLOUD_RATE_LIMIT";

/// Whether a value of [`RATE_LIMIT_ENV`] asks for the rate limits; unset, empty, `0`, `false`
/// or anything unrecognised leaves them off, the emulators' usual unlimited speed.
pub fn rate_limit_wanted(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        ["1", "true", "yes", "on"]
            .iter()
            .any(|on| v.trim().eq_ignore_ascii_case(on))
    })
}

impl LocalCloud {
    /// The three emulators, empty; with the documented rate limits on when [`RATE_LIMIT_ENV`]
    /// asks for them. Read here because every way of starting the local cloud (the
    /// `local-cloud` command, `--local-cloud`, [`LocalCloud::persistent`]) comes through `new`.
    pub fn new(options: Options) -> LocalCloud {
        let cloud = LocalCloud {
            aws: Arc::new(aws::Cloud::new(options.clone())),
            azure: Arc::new(azure::Cloud::new(options.clone())),
            gcp: Arc::new(gcp::Cloud::new(options)),
            served: core::served::Served::default(),
            persist: None,
            saving: std::sync::Mutex::new(()),
        };
        if rate_limit_wanted(std::env::var(RATE_LIMIT_ENV).ok().as_deref()) {
            cloud.set_rate_limits(true);
        }
        cloud
    }

    /// Enforces (or stops enforcing) every cloud's documented request rate limits: AWS's
    /// Route53 and EC2 buckets, ARM's read/write/delete buckets per subscription and Compute
    /// Engine's per-minute quotas per project. The same as `"rate_limit": true` in each cloud's
    /// `POST /_localcloud/{aws,azure,gcp}/faults`; a cloud's reset (or Azure's `DELETE faults`)
    /// turns its limits off again, as it forgets every other fault.
    pub fn set_rate_limits(&self, on: bool) {
        self.aws.set_rate_limit(on);
        self.azure.set_rate_limit(on);
        self.gcp.set_rate_limit(on);
    }

    /// Emulators whose objects are loaded from `path` (when it exists) and saved back to it after
    /// every request.
    pub fn persistent(options: Options, path: PathBuf) -> Result<LocalCloud, LocalCloudError> {
        let cloud = LocalCloud::new(options);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let snap: Snapshot =
                    serde_json::from_slice(&bytes).map_err(|e| LocalCloudError::Load {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                let load = |reason: String| LocalCloudError::Load {
                    path: path.clone(),
                    reason,
                };
                cloud.aws.restore(snap.aws).map_err(load)?;
                cloud.azure.restore(snap.azure).map_err(load)?;
                cloud.gcp.restore(snap.gcp).map_err(load)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(LocalCloudError::Load {
                    path,
                    reason: e.to_string(),
                })
            }
        }
        Ok(LocalCloud {
            persist: Some(path),
            ..cloud
        })
    }

    pub fn save(&self) -> Result<(), LocalCloudError> {
        let Some(path) = &self.persist else {
            return Ok(());
        };
        // The snapshot is taken under the lock too, so the last save holds the newest objects.
        let _one_at_a_time = match self.saving.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let snap = Snapshot {
            aws: self.aws.snapshot(),
            azure: self.azure.snapshot(),
            gcp: self.gcp.snapshot(),
        };
        let err = |reason: String| LocalCloudError::Save {
            path: path.clone(),
            reason,
        };
        let bytes = serde_json::to_vec_pretty(&snap).map_err(|e| err(e.to_string()))?;
        let tmp = path.with_extension("tmp");
        write_private(&tmp, &bytes).map_err(|e| err(e.to_string()))?;
        std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))
    }

    /// The requests served since start (or the last reset), by cloud and operation; the
    /// admin API's `GET /_localcloud/requests` answers the same.
    pub fn requests_served(&self) -> std::collections::BTreeMap<String, u64> {
        self.served.snapshot()
    }

    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .merge(aws::router(Arc::clone(&self.aws)))
            .merge(azure::router(Arc::clone(&self.azure)))
            .merge(gcp::router(Arc::clone(&self.gcp)))
            .merge(
                Router::new()
                    .route(
                        "/_localcloud/requests",
                        axum::routing::get(requests).delete(reset_requests),
                    )
                    .with_state(Arc::clone(self)),
            )
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(self),
                save_after_change,
            ))
            .layer(axum::middleware::from_fn_with_state(
                Arc::clone(self),
                count_request,
            ))
    }

    /// Serves both emulators on `addr` (port 0: any free port) until the process ends.
    pub async fn serve(self: Arc<Self>, addr: &str) -> Result<SocketAddr, LocalCloudError> {
        let listener =
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| LocalCloudError::Bind {
                    addr: addr.to_string(),
                    reason: e.to_string(),
                })?;
        let local = listener.local_addr().map_err(|e| LocalCloudError::Bind {
            addr: addr.to_string(),
            reason: e.to_string(),
        })?;
        let app = self.router();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(local)
    }
}

/// Writes `bytes` to a file only its owner can read (0600), as every file matihnet writes: the
/// emulated objects name subscriptions, projects and addresses.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // A temp file left by an older version may exist with wider permissions; `mode` applies
    // only to files this call creates.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(bytes)?;
    f.sync_all()
}

async fn requests(State(cloud): State<Arc<LocalCloud>>) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "requests": cloud.requests_served() }))
}

async fn reset_requests(State(cloud): State<Arc<LocalCloud>>) -> axum::http::StatusCode {
    cloud.served.reset();
    axum::http::StatusCode::NO_CONTENT
}

/// Counts every request to a cloud API, throttled or not: a request the cloud refused still
/// spent its rate limit. An AWS Query request names its operation in the form, read here and
/// handed on unchanged.
async fn count_request(State(cloud): State<Arc<LocalCloud>>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    if method == "POST" && path == "/" {
        let (parts, body) = req.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, 16 << 20).await else {
            return axum::http::StatusCode::PAYLOAD_TOO_LARGE.into_response();
        };
        cloud.served.record(aws::query_operation(&bytes));
        return next
            .run(Request::from_parts(parts, axum::body::Body::from(bytes)))
            .await;
    }
    if let Some(operation) = core::served::rest_operation(&method, &path) {
        cloud.served.record(operation);
    }
    next.run(req).await
}

async fn save_after_change(
    State(cloud): State<Arc<LocalCloud>>,
    req: Request,
    next: Next,
) -> Response {
    let response = next.run(req).await;
    // Reads count too: a GET is when a finished operation's effect (a delete, say) is applied.
    if cloud.persist.is_some() {
        // A failed save must not fail the request: the objects still exist in memory.
        let _ = cloud.save();
    }
    response
}
