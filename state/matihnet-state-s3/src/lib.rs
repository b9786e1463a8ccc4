//! The state in S3, for teams whose CI runners are thrown away after each job.
//!
//! - The state is one object; every write carries `If-Match` on the ETag this instance last read
//!   or wrote (`If-None-Match: *` when it saw none), so a writer that lost its lock, or that
//!   never read, cannot overwrite newer state.
//! - The backup is a second object, `<key>.backup`: a server-side copy of the state as it was
//!   before this process's first write (conditional on the ETag it read), as the local file keeps
//!   `<state>.backup`. Bucket versioning, where a team enables it, keeps older ones too.
//! - The lock is a third object, `<key>.lock`, created with `If-None-Match: *` (exactly one
//!   writer wins) and holding the holder's [`LockInfo`]. The holder rewrites it (`If-Match` on its
//!   own ETag) every quarter of the TTL; a lock not rewritten for a whole TTL (by S3's clock,
//!   its `Last-Modified`) is stale: reported with its holder and age, and taken over only by an
//!   explicit `break_stale` (`--break-stale-lock`), itself a conditional write on the stale
//!   lock's ETag, or removed by `force-unlock ID`. Releasing deletes it with `If-Match`, so a
//!   holder whose lock was taken over never deletes its successor's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use matihnet_state::{
    check_successor, format, Backend, LastSeen, LockInfo, LockRequest, Seen, State, StateError,
};

/// Where the state lives in S3 and how to reach it.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    pub key: String,
    /// `None`: the SDK's chain (`AWS_REGION`, the profile).
    pub region: Option<String>,
    /// `None`: `AWS_ENDPOINT_URL` or AWS itself.
    pub endpoint: Option<String>,
    pub lock_ttl: Duration,
    /// Sign with fixed test credentials instead of the standard chain: the binary sets it for
    /// loopback endpoints (an emulator), so that no real credentials are ever sent there.
    pub test_credentials: bool,
}

pub struct S3Backend {
    client: aws_sdk_s3::Client,
    settings: S3Settings,
    /// What this instance last read or wrote; `version` is the object's ETag.
    seen: LastSeen,
    backed_up: AtomicBool,
    held: Mutex<Option<Held>>,
}

/// A lock this instance holds: its id, the lock object's current ETag (the heartbeat moves it)
/// and the heartbeat task.
struct Held {
    id: String,
    etag: Arc<Mutex<String>>,
    lost: Arc<AtomicBool>,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl Drop for S3Backend {
    fn drop(&mut self) {
        // An instance dropped without unlocking (a crashed command) stops refreshing its lock,
        // which then goes stale after one TTL, as it would if the process had been killed.
        if let Ok(mut held) = self.held.lock() {
            if let Some(h) = held.take() {
                h.heartbeat.abort();
            }
        }
    }
}

/// What a failed S3 call means for the state.
enum Failure {
    NotFound,
    Precondition,
    NoBucket,
    Denied(String),
    Unreachable(String),
    Other(String),
}

fn classify<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let text = DisplayErrorContext(e).to_string();
    match e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => Failure::Unreachable(text),
        SdkError::ServiceError(s) => {
            let status = s.raw().status().as_u16();
            match (status, s.err().code()) {
                (_, Some("NoSuchBucket")) => Failure::NoBucket,
                (_, Some("NoSuchKey")) | (404, _) => Failure::NotFound,
                (412, _) | (409, Some("ConditionalRequestConflict")) => Failure::Precondition,
                (403, _) | (_, Some("AccessDenied")) => Failure::Denied(text),
                _ => Failure::Other(text),
            }
        }
        _ => Failure::Other(text),
    }
}

impl S3Backend {
    /// Builds the client from the standard AWS chain (or test credentials); connects nothing.
    pub async fn new(settings: S3Settings) -> S3Backend {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        // Throttling (503 SlowDown) and 5xx are retried with backoff; an unreachable endpoint
        // fails within seconds rather than after minutes of retries.
        let retry = RetryConfig::standard()
            .with_max_attempts(5)
            .with_initial_backoff(Duration::from_millis(200))
            .with_max_backoff(Duration::from_secs(10));
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &settings.endpoint {
            loader = loader.endpoint_url(url);
        }
        if settings.test_credentials {
            loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
                "test",
                "test",
                None,
                None,
                "matihnet-loopback",
            ));
        }
        let shared = loader.load().await;
        let mut conf = aws_sdk_s3::config::Builder::from(&shared);
        if shared.region().is_none() {
            // S3 needs a signing region; us-east-1 is where a bucket without one is found.
            conf = conf.region(Region::new("us-east-1"));
        }
        // Emulators and private S3s serve buckets by path, not by virtual host.
        if settings.endpoint.is_some() || shared.endpoint_url().is_some() {
            conf = conf.force_path_style(true);
        }
        S3Backend {
            client: aws_sdk_s3::Client::from_conf(conf.build()),
            settings,
            seen: LastSeen::default(),
            backed_up: AtomicBool::new(false),
            held: Mutex::new(None),
        }
    }

    fn lock_key(&self) -> String {
        format!("{}.lock", self.settings.key)
    }

    fn backup_key(&self) -> String {
        format!("{}.backup", self.settings.key)
    }

    /// The error for a failure that is not part of the protocol (missing bucket, denied, ...).
    fn unavailable(&self, what: &str, failure: Failure) -> StateError {
        let s = &self.settings;
        let (message, hint) = match failure {
            Failure::NoBucket => (
                format!("bucket \"{}\" does not exist", s.bucket),
                format!(
                    "create it (`aws s3 mb s3://{}`), or fix `bucket` in the [state] section",
                    s.bucket
                ),
            ),
            Failure::Denied(text) => (
                format!("access denied while trying to {what}: {text}"),
                format!(
                    "grant the identity matihnet runs as s3:GetObject, s3:PutObject and s3:DeleteObject on arn:aws:s3:::{}/{}*",
                    s.bucket, s.key
                ),
            ),
            Failure::Unreachable(text) => (
                format!(
                    "cannot reach S3 at {} to {what}: {text}",
                    s.endpoint.as_deref().unwrap_or("the AWS endpoint")
                ),
                "check `endpoint` in the [state] section (or AWS_ENDPOINT_URL), the region and the network".into(),
            ),
            Failure::NotFound | Failure::Precondition => (
                format!("S3 answered unexpectedly while trying to {what}"),
                "run the command again".into(),
            ),
            Failure::Other(text) => (
                format!("cannot {what}: {text}"),
                "check the [state] section's bucket, key and region, and the AWS credentials".into(),
            ),
        };
        StateError::Unavailable {
            location: self.describe(),
            message,
            hint,
        }
    }

    /// An object of the bucket, `None` when there is none; `what` names the step in errors.
    async fn get_object(
        &self,
        key: &str,
        what: &str,
    ) -> Result<Option<aws_sdk_s3::operation::get_object::GetObjectOutput>, StateError> {
        match self
            .client
            .get_object()
            .bucket(&self.settings.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(out)),
            Err(e) => match classify(&e) {
                Failure::NotFound => Ok(None),
                f => Err(self.unavailable(what, f)),
            },
        }
    }

    /// The lock object as it is now: its holder (if the body parses), ETag and age by S3's clock.
    async fn current_lock(&self) -> Result<Option<CurrentLock>, StateError> {
        let Some(out) = self.get_object(&self.lock_key(), "read the lock").await? else {
            return Ok(None);
        };
        let etag = out.e_tag().unwrap_or_default().to_string();
        let age = out
            .last_modified()
            .and_then(|t| SystemTime::try_from(*t).ok())
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .unwrap_or(Duration::ZERO);
        let body = out
            .body
            .collect()
            .await
            .map(|b| b.into_bytes().to_vec())
            .unwrap_or_default();
        let info = serde_json::from_slice::<LockInfo>(&body).ok();
        Ok(Some(CurrentLock { info, etag, age }))
    }

    /// Writes the lock object, created only if absent (`take_over: None`) or replacing exactly
    /// the stale lock with that ETag. `Ok(None)`: another writer got there first.
    async fn put_lock(
        &self,
        info: &LockInfo,
        take_over: Option<&str>,
    ) -> Result<Option<String>, StateError> {
        let body = serde_json::to_vec_pretty(info).unwrap_or_default();
        let req = self
            .client
            .put_object()
            .bucket(&self.settings.bucket)
            .key(self.lock_key())
            .content_type("application/json")
            .body(ByteStream::from(body));
        let req = match take_over {
            Some(etag) => req.if_match(etag),
            None => req.if_none_match("*"),
        };
        match req.send().await {
            Ok(out) => Ok(Some(out.e_tag().unwrap_or_default().to_string())),
            Err(e) => match classify(&e) {
                Failure::Precondition => Ok(None),
                f => Err(self.unavailable("write the lock", f)),
            },
        }
    }

    /// Records a lock just taken (its object's ETag) and starts refreshing it; returns its id.
    fn hold(&self, info: LockInfo, etag: String) -> String {
        let held = self.start_heartbeat(info, etag);
        let id = held.id.clone();
        if let Ok(mut slot) = self.held.lock() {
            if let Some(old) = slot.replace(held) {
                old.heartbeat.abort();
            }
        }
        id
    }

    /// "No lock with this id", naming the lock that is there instead, if any.
    async fn no_such_lock(&self, id: &str) -> Result<StateError, StateError> {
        Ok(StateError::NoSuchLock {
            location: self.describe(),
            id: id.to_string(),
            current: self
                .current_lock()
                .await?
                .and_then(|c| c.info.map(Box::new)),
        })
    }

    fn start_heartbeat(&self, info: LockInfo, etag: String) -> Held {
        let etag = Arc::new(Mutex::new(etag));
        let lost = Arc::new(AtomicBool::new(false));
        let beat = Heartbeat {
            client: self.client.clone(),
            bucket: self.settings.bucket.clone(),
            key: self.lock_key(),
            every: self.settings.lock_ttl / 4,
            etag: Arc::clone(&etag),
            lost: Arc::clone(&lost),
        };
        Held {
            id: info.id.clone(),
            etag,
            lost,
            heartbeat: tokio::spawn(beat.run(info)),
        }
    }
}

struct CurrentLock {
    info: Option<LockInfo>,
    etag: String,
    age: Duration,
}

/// Rewrites the lock object while the command runs, so that waiters see a live holder.
struct Heartbeat {
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    every: Duration,
    etag: Arc<Mutex<String>>,
    lost: Arc<AtomicBool>,
}

impl Heartbeat {
    async fn run(self, mut info: LockInfo) {
        loop {
            tokio::time::sleep(self.every).await;
            info.heartbeat = Some(now_rfc3339());
            let current = match self.etag.lock() {
                Ok(g) => g.clone(),
                Err(p) => p.into_inner().clone(),
            };
            let body = serde_json::to_vec_pretty(&info).unwrap_or_default();
            let sent = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(&self.key)
                .content_type("application/json")
                .if_match(current)
                .body(ByteStream::from(body))
                .send()
                .await;
            match sent {
                Ok(out) => {
                    if let Ok(mut g) = self.etag.lock() {
                        *g = out.e_tag().unwrap_or_default().to_string();
                    }
                }
                Err(e) => {
                    if matches!(classify(&e), Failure::Precondition | Failure::NotFound) {
                        // Taken over or removed: the state's own If-Match keeps this process
                        // from overwriting its successor's writes.
                        self.lost.store(true, Ordering::SeqCst);
                        return;
                    }
                    // Anything else (a throttle, a blip) is tried again at the next beat.
                }
            }
        }
    }
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

#[async_trait]
impl Backend for S3Backend {
    fn describe(&self) -> String {
        format!("s3://{}/{}", self.settings.bucket, self.settings.key)
    }

    async fn read(&self) -> Result<Option<State>, StateError> {
        self.seen.set(None);
        let Some(out) = self
            .get_object(&self.settings.key, "read the state")
            .await?
        else {
            return Ok(None);
        };
        let etag = out.e_tag().unwrap_or_default().to_string();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| StateError::Unavailable {
                location: self.describe(),
                message: format!("the state's download broke off: {e}"),
                hint: "run the command again".into(),
            })?
            .into_bytes();
        let state = format::decode(&bytes).map_err(|reason| StateError::Corrupt {
            location: self.describe(),
            reason,
        })?;
        self.seen.set(Some(Seen::of(&state, etag)));
        Ok(Some(state))
    }

    async fn write(&self, state: &State) -> Result<(), StateError> {
        let lost = match self.held.lock() {
            Ok(slot) => slot.as_ref().is_some_and(|h| h.lost.load(Ordering::SeqCst)),
            Err(_) => false,
        };
        if lost {
            // The state's If-Match would refuse a write over a successor's anyway; saying so
            // here names the cause.
            return Err(StateError::Conflict {
                location: self.describe(),
                expected: "the lock this run took".into(),
                found: "the lock was taken over or removed while this run held it".into(),
            });
        }
        let seen = self.seen.get();
        check_successor(&self.describe(), seen.as_ref(), state)?;
        if let Some(seen) = &seen {
            if !self.backed_up.swap(true, Ordering::SeqCst) {
                let copied = self
                    .client
                    .copy_object()
                    .bucket(&self.settings.bucket)
                    .key(self.backup_key())
                    .copy_source(format!(
                        "{}/{}",
                        self.settings.bucket,
                        encode_key(&self.settings.key)
                    ))
                    .copy_source_if_match(&seen.version)
                    .send()
                    .await;
                if let Err(e) = copied {
                    self.backed_up.store(false, Ordering::SeqCst);
                    return Err(match classify(&e) {
                        Failure::Precondition | Failure::NotFound => StateError::Conflict {
                            location: self.describe(),
                            expected: Seen::describe(Some(seen)),
                            found: "another version of the object".into(),
                        },
                        f => self.unavailable("back up the state", f),
                    });
                }
            }
        }
        let req = self
            .client
            .put_object()
            .bucket(&self.settings.bucket)
            .key(&self.settings.key)
            .content_type("application/json")
            .body(ByteStream::from(format::encode(state)));
        let req = match &seen {
            Some(s) => req.if_match(&s.version),
            None => req.if_none_match("*"),
        };
        match req.send().await {
            Ok(out) => {
                let etag = out.e_tag().unwrap_or_default().to_string();
                self.seen.set(Some(Seen::of(state, etag)));
                Ok(())
            }
            Err(e) => Err(match classify(&e) {
                Failure::Precondition | Failure::NotFound => StateError::Conflict {
                    location: self.describe(),
                    expected: Seen::describe(seen.as_ref()),
                    found: "another version of the object".into(),
                },
                f => self.unavailable("write the state", f),
            }),
        }
    }

    async fn lock(&self, request: LockRequest) -> Result<String, StateError> {
        let LockRequest {
            mut info,
            timeout,
            break_stale,
        } = request;
        info.path = self.describe();
        let started = Instant::now();
        let ttl = self.settings.lock_ttl;
        loop {
            info.heartbeat = Some(now_rfc3339());
            if let Some(etag) = self.put_lock(&info, None).await? {
                return Ok(self.hold(info.clone(), etag));
            }
            match self.current_lock().await? {
                // Released between our attempt and this look: try again at once.
                None => continue,
                Some(current) if current.age > ttl => {
                    if !break_stale {
                        return Err(StateError::StaleLock {
                            location: self.describe(),
                            holder: Box::new(current.info.unwrap_or_else(unknown_holder)),
                            age: current.age,
                            refresh: ttl / 4,
                        });
                    }
                    if let Some(etag) = self.put_lock(&info, Some(&current.etag)).await? {
                        return Ok(self.hold(info.clone(), etag));
                    }
                    // Another waiter broke it first; it is now a live lock.
                }
                Some(current) => {
                    if started.elapsed() >= timeout {
                        return Err(StateError::Locked {
                            location: self.describe(),
                            holder: current.info.map(Box::new),
                            waited: timeout,
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
    }

    async fn unlock(&self, id: &str) -> Result<(), StateError> {
        let held = match self.held.lock() {
            Ok(mut slot) => match slot.as_ref() {
                Some(h) if h.id == id => slot.take(),
                _ => None,
            },
            Err(_) => None,
        };
        let Some(held) = held else {
            return Err(self.no_such_lock(id).await?);
        };
        held.heartbeat.abort();
        let etag = match held.etag.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        let deleted = self
            .client
            .delete_object()
            .bucket(&self.settings.bucket)
            .key(self.lock_key())
            .if_match(etag)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(e) => match classify(&e) {
                // Taken over (--break-stale-lock elsewhere) or force-unlocked: not ours to remove.
                Failure::Precondition | Failure::NotFound => Err(self.no_such_lock(id).await?),
                f => Err(self.unavailable("release the lock", f)),
            },
        }
    }

    async fn force_unlock(&self, id: &str) -> Result<(), StateError> {
        let current = self.current_lock().await?;
        let Some(current) = current.filter(|c| c.info.as_ref().is_some_and(|i| i.id == id)) else {
            return Err(self.no_such_lock(id).await?);
        };
        match self
            .client
            .delete_object()
            .bucket(&self.settings.bucket)
            .key(self.lock_key())
            .if_match(&current.etag)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match classify(&e) {
                Failure::Precondition | Failure::NotFound => Err(self.no_such_lock(id).await?),
                f => Err(self.unavailable("remove the lock", f)),
            },
        }
    }

    async fn lock_holder(&self) -> Result<Option<LockInfo>, StateError> {
        Ok(self
            .current_lock()
            .await?
            .map(|c| c.info.unwrap_or_else(unknown_holder)))
    }
}

/// A lock object whose body is not a lock record (written by hand, or cut short).
fn unknown_holder() -> LockInfo {
    LockInfo {
        id: "unknown".into(),
        who: "unknown".into(),
        host: "unknown".into(),
        pid: 0,
        operation: "unknown".into(),
        created: String::new(),
        path: String::new(),
        heartbeat: None,
    }
}

/// A key as it appears in `x-amz-copy-source`: each segment percent-encoded, slashes kept.
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
