//! The host side: a [`ProviderFactory`] and a [`Provider`] that run a plugin executable and
//! speak the protocol to it.
//!
//! The plugin is started once per command and stopped at its end (`shutdown`, then a kill if
//! it lingers). It runs in a process group of its own, so the terminal's Ctrl-C reaches only
//! matihnet, which decides what to cancel; if matihnet dies, the plugin sees its stdin close
//! and stops. Its stdin and stdout are non-blocking pipes on the runtime that started it: a
//! caller writes its request itself when the pipe takes it (a writer task finishes what it
//! does not take), and a reader task wakes the caller with the answer, so neither a slow
//! plugin nor a full pipe blocks a worker and a call wakes no thread of its own. Its stderr,
//! seldom written, has a thread. A plugin that exits, hangs past the call timeout or writes
//! anything but protocol messages fails the calls it holds with an error naming the plugin,
//! the call, the resource and the last lines of its stderr.
//!
//! The host needs a multi-threaded runtime: the trait's synchronous calls (`api_calls`,
//! `map_resources`) wait for the plugin with `block_in_place`.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use matihnet_core::retry::RetryNotice;
use matihnet_core::{
    Attrs, CallCounts, DesiredResource, ErrorKind, OperationContext, Provider, ProviderConfig,
    ProviderError, ProviderFactory, ProviderResult, ResourceSchema,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::net::unix::pipe;
use tokio::runtime::RuntimeFlavor;
use tokio::sync::{mpsc, oneshot};

use crate::protocol::{
    notification, read_frame_async, request, Body, CancelParams, ConfigureParams, ConfigureResult,
    FrameError, HandshakeParams, HandshakeResult, MapParams, Message, ReadAnswer, RetryParams,
    WireError, MAGIC_COOKIE_VALUE, MAGIC_COOKIE_VAR, PROTOCOL_VERSIONS,
};

/// How a plugin is run.
#[derive(Debug, Clone)]
pub struct PluginSpec {
    /// The provider name the environment asks for; the plugin must answer with it.
    pub name: String,
    pub path: PathBuf,
    /// How long one call may take before the plugin is taken to hang. Cloud operations that
    /// take long (an AWS NAT gateway, a load balancer) are one call, so this is generous.
    pub call_timeout: Duration,
    /// How long the plugin may take to start and answer the handshake.
    pub start_timeout: Duration,
}

impl PluginSpec {
    /// The default call timeout: longer than any single cloud operation matihnet waits for.
    pub const CALL_TIMEOUT: Duration = Duration::from_secs(30 * 60);
    pub const START_TIMEOUT: Duration = Duration::from_secs(30);

    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> PluginSpec {
        PluginSpec {
            name: name.into(),
            path: path.into(),
            call_timeout: PluginSpec::CALL_TIMEOUT,
            start_timeout: PluginSpec::START_TIMEOUT,
        }
    }
}

/// What went wrong at the plugin boundary (as opposed to in the cloud, which the plugin
/// reports as a provider error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    #[error("cannot start provider plugin `{plugin}` ({path}): {reason}")]
    Start {
        plugin: String,
        path: String,
        reason: String,
    },
    #[error(
        "provider plugin `{plugin}` ({path}) speaks protocol version {answered}; this matihnet speaks {offered}. \
         Use a plugin built for protocol {offered}, or a matihnet that speaks {answered}"
    )]
    Version {
        plugin: String,
        path: String,
        offered: String,
        answered: u32,
    },
    #[error("provider plugin at {path} calls itself `{answered}`, but the environment asks for `{plugin}`")]
    Name {
        plugin: String,
        path: String,
        answered: String,
    },
    #[error("provider plugin `{plugin}` ({path}) {reason} during {call}{stderr}")]
    Broken {
        plugin: String,
        path: String,
        call: String,
        reason: String,
        stderr: String,
    },
    #[error(
        "provider plugin `{plugin}` ({path}) did not answer {call} within {after:?}: it may hang. \
         The call was cancelled; raise [providers.{plugin}] timeout if the cloud is just slow{stderr}"
    )]
    Timeout {
        plugin: String,
        path: String,
        call: String,
        after: Duration,
        stderr: String,
    },
    /// The plugin answered the call with an error of its own.
    #[error("{0}")]
    Answered(String),
}

impl PluginError {
    fn into_provider_error(self) -> ProviderError {
        match self {
            PluginError::Answered(m) => ProviderError::new(ErrorKind::Rejected, m),
            other => ProviderError::new(ErrorKind::Other, other.to_string()),
        }
    }
}

/// How many of the plugin's last stderr lines an error keeps.
const STDERR_LINES: usize = 40;
const STDERR_LINE_CHARS: usize = 500;

type Outcome = Result<Body, CallFailure>;

#[derive(Debug, Clone)]
enum CallFailure {
    /// The plugin answered with an error.
    Answered(WireError),
    /// The plugin stopped, or broke the protocol: why, in words.
    Broken(String),
}

/// Where a call's answer, and its retry notices, go.
struct Reply {
    done: oneshot::Sender<Outcome>,
    retries: mpsc::UnboundedSender<RetryNotice>,
}

impl Reply {
    fn send(self, outcome: Outcome) {
        let _ = self.done.send(outcome);
    }
}

struct Shared {
    pending: Mutex<HashMap<u64, Reply>>,
    /// Why the plugin can answer no more, once it cannot.
    dead: Mutex<Option<String>>,
    stderr: Mutex<VecDeque<String>>,
    /// Set when stderr reached its end, so an error can wait for a dying plugin's last words.
    stderr_done: (Mutex<bool>, Condvar),
}

impl Shared {
    fn stderr_tail(&self) -> String {
        let lines = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
        if lines.is_empty() {
            return String::new();
        }
        let mut out = String::from("; its last stderr lines:");
        for l in lines.iter() {
            out.push_str("\n  | ");
            out.push_str(l);
        }
        out
    }

    fn wait_for_stderr(&self, at_most: Duration) {
        let (lock, cv) = &self.stderr_done;
        let done = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = cv
            .wait_timeout_while(done, at_most, |d| !*d)
            .unwrap_or_else(PoisonError::into_inner);
    }

    /// Marks the plugin dead and fails every call it holds.
    fn fail_all(&self, why: String) {
        {
            let mut dead = self.dead.lock().unwrap_or_else(PoisonError::into_inner);
            if dead.is_none() {
                *dead = Some(why.clone());
            }
        }
        let pending: Vec<Reply> = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .map(|(_, r)| r)
            .collect();
        for reply in pending {
            reply.send(Err(CallFailure::Broken(why.clone())));
        }
    }
}

/// A running plugin process.
pub struct Plugin {
    spec: PluginSpec,
    child: Arc<Mutex<Child>>,
    /// The plugin's stdin; `None` once it is closed.
    outgoing: Mutex<Option<Outbox>>,
    /// The runtime the plugin's reader and writer run on, for calls from synchronous code.
    runtime: tokio::runtime::Handle,
    shared: Arc<Shared>,
    next_id: AtomicU64,
    hello: HandshakeResult,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("spec", &self.spec)
            .field("hello", &self.hello)
            .finish()
    }
}

/// Removes a call that is no longer awaited and tells the plugin to stop it.
struct InFlight<'a> {
    plugin: &'a Plugin,
    id: u64,
    finished: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let removed = self
            .plugin
            .shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
        if removed.is_some() {
            self.plugin.notify("cancel", CancelParams { id: self.id });
        }
    }
}

impl Plugin {
    /// Starts the plugin and shakes hands with it.
    pub async fn start(spec: PluginSpec) -> Result<Plugin, PluginError> {
        let start_error = |reason: String| PluginError::Start {
            plugin: spec.name.clone(),
            path: spec.path.display().to_string(),
            reason,
        };
        let mut child = Command::new(&spec.path)
            .env(MAGIC_COOKIE_VAR, MAGIC_COOKIE_VALUE)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| start_error(e.to_string()))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            return Err(start_error("its pipes could not be opened".into()));
        };
        let child = Arc::new(Mutex::new(child));
        let shared = Arc::new(Shared {
            pending: Mutex::new(HashMap::new()),
            dead: Mutex::new(None),
            stderr: Mutex::new(VecDeque::new()),
            stderr_done: (Mutex::new(false), Condvar::new()),
        });

        let pipes = pipe::Sender::from_owned_fd(OwnedFd::from(stdin)).and_then(|stdin| {
            pipe::Receiver::from_owned_fd(OwnedFd::from(stdout)).map(|stdout| (stdin, stdout))
        });
        let (stdin, stdout) = match pipes {
            Ok(pipes) => pipes,
            Err(e) => {
                let mut child = child.lock().unwrap_or_else(PoisonError::into_inner);
                let _ = child.kill();
                let _ = child.wait();
                return Err(start_error(format!("its pipes could not be set up: {e}")));
            }
        };
        let outgoing = Outbox::new(stdin);
        std::thread::spawn({
            let shared = shared.clone();
            move || {
                for line in BufReader::new(stderr).split(b'\n') {
                    let Ok(line) = line else { break };
                    let mut text = String::from_utf8_lossy(&line).trim_end().to_string();
                    if text.len() > STDERR_LINE_CHARS {
                        let cut = (0..=STDERR_LINE_CHARS)
                            .rev()
                            .find(|i| text.is_char_boundary(*i))
                            .unwrap_or(0);
                        text.truncate(cut);
                        text.push('…');
                    }
                    let mut lines = shared.stderr.lock().unwrap_or_else(PoisonError::into_inner);
                    if lines.len() == STDERR_LINES {
                        lines.pop_front();
                    }
                    lines.push_back(text);
                }
                let (lock, cv) = &shared.stderr_done;
                *lock.lock().unwrap_or_else(PoisonError::into_inner) = true;
                cv.notify_all();
            }
        });
        tokio::spawn({
            let shared = shared.clone();
            let child = child.clone();
            async move { read_loop(stdout, &shared, &child).await }
        });

        let mut plugin = Plugin {
            spec,
            child,
            outgoing: Mutex::new(Some(outgoing)),
            runtime: tokio::runtime::Handle::current(),
            shared,
            next_id: AtomicU64::new(1),
            hello: HandshakeResult {
                protocol_version: 0,
                name: String::new(),
                version: String::new(),
                capabilities: Default::default(),
            },
        };
        let hello: HandshakeResult = plugin
            .call_with(
                "handshake",
                &HandshakeParams {
                    protocol_versions: PROTOCOL_VERSIONS.to_vec(),
                    host: format!("matihnet {}", env!("CARGO_PKG_VERSION")),
                },
                "the handshake",
                plugin.spec.start_timeout,
            )
            .await
            .map_err(|e| match e.into_plugin_error() {
                PluginError::Answered(reason) => PluginError::Start {
                    plugin: plugin.spec.name.clone(),
                    path: plugin.spec.path.display().to_string(),
                    reason: format!("it refused the handshake: {reason}"),
                },
                other => other,
            })?;
        if !PROTOCOL_VERSIONS.contains(&hello.protocol_version) {
            return Err(PluginError::Version {
                plugin: plugin.spec.name.clone(),
                path: plugin.spec.path.display().to_string(),
                offered: versions_text(),
                answered: hello.protocol_version,
            });
        }
        if hello.name != plugin.spec.name {
            return Err(PluginError::Name {
                plugin: plugin.spec.name.clone(),
                path: plugin.spec.path.display().to_string(),
                answered: hello.name,
            });
        }
        plugin.hello = hello;
        Ok(plugin)
    }

    /// What the plugin said of itself.
    pub fn hello(&self) -> &HandshakeResult {
        &self.hello
    }

    pub fn spec(&self) -> &PluginSpec {
        &self.spec
    }

    /// Sends a framed message; false if the plugin's stdin is closed or broken.
    fn send(&self, frame: Vec<u8>) -> bool {
        self.outgoing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|out| out.send(frame))
    }

    fn notify(&self, method: &str, params: impl Serialize) {
        if let Ok(frame) = notification(method, &params) {
            self.send(frame);
        }
    }

    fn broken(&self, call: &str, reason: String) -> PluginError {
        PluginError::Broken {
            plugin: self.spec.name.clone(),
            path: self.spec.path.display().to_string(),
            call: call.to_string(),
            reason,
            stderr: self.shared.stderr_tail(),
        }
    }

    fn failure(&self, call: &str, f: CallFailure) -> CallError {
        match f {
            CallFailure::Answered(w) => CallError::Answered(w),
            CallFailure::Broken(reason) => {
                // A plugin that just died may still be flushing its stderr.
                self.shared.wait_for_stderr(Duration::from_millis(500));
                CallError::Plugin(self.broken(call, reason))
            }
        }
    }

    /// Registers call `id`, unless the plugin is dead already.
    fn register(&self, id: u64, reply: Reply) -> Result<(), String> {
        let dead = self
            .shared
            .dead
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(why) = dead.as_ref() {
            return Err(why.clone());
        }
        self.shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, reply);
        Ok(())
    }

    /// Makes one call and waits for its answer, undecoded.
    async fn call_raw(
        &self,
        method: &str,
        params: &impl Serialize,
        call: &str,
        timeout: Duration,
    ) -> Result<Body, CallError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = request(id, method, params).map_err(|e| {
            CallError::Plugin(self.broken(
                call,
                format!("was not sent the call: its parameters do not serialise ({e})"),
            ))
        })?;
        let (done, mut outcome) = oneshot::channel();
        let (retries, mut notices) = mpsc::unbounded_channel();
        self.register(id, Reply { done, retries })
            .map_err(|why| CallError::Plugin(self.broken(call, why)))?;
        let mut in_flight = InFlight {
            plugin: self,
            id,
            finished: false,
        };
        self.send(frame);
        let deadline = tokio::time::Instant::now() + timeout;
        let result = loop {
            tokio::select! {
                got = &mut outcome => break got,
                Some(notice) = notices.recv() => matihnet_core::retry::report_forwarded(&notice),
                () = tokio::time::sleep_until(deadline) => {
                    // Dropping the guard cancels the call in the plugin.
                    drop(in_flight);
                    return Err(CallError::Plugin(PluginError::Timeout {
                        plugin: self.spec.name.clone(),
                        path: self.spec.path.display().to_string(),
                        call: call.to_string(),
                        after: timeout,
                        stderr: self.shared.stderr_tail(),
                    }));
                }
            }
        };
        in_flight.finished = true;
        match result {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(f)) => Err(self.failure(call, f)),
            // The reader drops every reply when it stops; it says why first.
            Err(_) => Err(self.failure(call, CallFailure::Broken("stopped".into()))),
        }
    }

    /// Makes one call and decodes its answer.
    async fn call_with<T: DeserializeOwned>(
        &self,
        method: &str,
        params: &impl Serialize,
        call: &str,
        timeout: Duration,
    ) -> Result<T, CallError> {
        let body = self.call_raw(method, params, call, timeout).await?;
        self.decode(call, &body).map_err(CallError::Plugin)
    }

    fn decode<T: DeserializeOwned>(&self, call: &str, body: &Body) -> Result<T, PluginError> {
        body.result().map_err(|e| {
            self.broken(
                call,
                format!(
                    "answered with something this matihnet cannot read ({e}): {}",
                    body.shown()
                ),
            )
        })
    }

    /// A call made from synchronous code (the trait's `map_resources`, `api_calls`): the
    /// worker it blocks hands its other tasks on (`block_in_place`), so the plugin's reader and
    /// writer go on running.
    fn call_blocking<T: DeserializeOwned>(
        &self,
        method: &str,
        params: impl Serialize,
        call: &str,
    ) -> Result<T, CallError> {
        if runtime_flavor() == Some(RuntimeFlavor::CurrentThread) {
            return Err(CallError::Plugin(self.broken(
                call,
                "was called from a single-threaded runtime, on which matihnet cannot wait for a plugin without stopping it; use a multi-threaded one".into(),
            )));
        }
        blocking(|| {
            self.runtime
                .block_on(self.call_with(method, &params, call, self.spec.call_timeout))
        })
    }

    /// Asks the plugin to stop, and makes sure it does.
    pub fn shutdown(&self) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(frame) = request(id, "shutdown", &()) {
            self.send(frame);
        }
        // Closing stdin is the plugin's other signal to stop.
        self.outgoing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        // The writer task closes stdin once it has written what is queued: a worker that
        // waits here hands its tasks on first.
        blocking(|| {
            let deadline = Instant::now() + Duration::from_secs(2);
            let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = child.kill();
            let _ = child.wait();
        });
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The flavour of the runtime this thread is in, if it is in one.
fn runtime_flavor() -> Option<RuntimeFlavor> {
    tokio::runtime::Handle::try_current()
        .ok()
        .map(|h| h.runtime_flavor())
}

/// Runs `wait`, which blocks its thread, so that the runtime's other tasks (the plugin's
/// reader and writer among them) go on: a worker of a multi-threaded runtime hands them to
/// another thread first.
fn blocking<R>(wait: impl FnOnce() -> R) -> R {
    if runtime_flavor() == Some(RuntimeFlavor::MultiThread) {
        tokio::task::block_in_place(wait)
    } else {
        wait()
    }
}

fn versions_text() -> String {
    PROTOCOL_VERSIONS
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads the plugin's stdout until it ends, handing each answer to its caller.
async fn read_loop(stdout: pipe::Receiver, shared: &Shared, child: &Mutex<Child>) {
    // Big enough that a batch of answers arrives in one read.
    let mut reader = tokio::io::BufReader::with_capacity(64 * 1024, stdout);
    let why = loop {
        let message = match read_frame_async(&mut reader).await.and_then(Message::parse) {
            Ok(m) => m,
            Err(FrameError::Garbage(what)) => {
                let _ = child.lock().unwrap_or_else(PoisonError::into_inner).kill();
                break format!(
                    "wrote something that is not a protocol message to its stdout ({what}; a plugin must write its logs to stderr), so it was stopped"
                );
            }
            Err(FrameError::Closed | FrameError::Io(_)) => break exit_reason(child).await,
        };
        match message {
            Message::Response { id, outcome } => {
                let reply = shared
                    .pending
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&id);
                if let Some(reply) = reply {
                    reply.send(outcome.map_err(CallFailure::Answered));
                }
            }
            Message::Notification { method, params } if method == "retry" => {
                if let Ok(p) = params.params::<RetryParams>() {
                    if let Some(reply) = shared
                        .pending
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get(&p.id)
                    {
                        let _ = reply.retries.send(p.notice);
                    }
                }
            }
            // Notifications of later protocol minor versions, and requests (a host answers
            // none), are ignored.
            Message::Notification { .. } | Message::Request { .. } => {}
        }
    };
    shared.fail_all(why);
}

/// Why a plugin's stdout ended: its exit status, once it has one.
async fn exit_reason(child: &Mutex<Child>) -> String {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if let Ok(Some(status)) = child
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .try_wait()
        {
            return format!("exited ({status})");
        }
        if Instant::now() >= deadline {
            return "closed its stdout".to_string();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[derive(Debug)]
enum CallError {
    Answered(WireError),
    Plugin(PluginError),
}

impl CallError {
    fn into_plugin_error(self) -> PluginError {
        match self {
            CallError::Answered(w) => PluginError::Answered(w.message),
            CallError::Plugin(p) => p,
        }
    }

    fn into_failure(self) -> matihnet_core::ProviderFailure {
        match self {
            CallError::Answered(w) => w.into_failure(),
            CallError::Plugin(p) => p.into_provider_error().into(),
        }
    }

    fn into_error(self) -> ProviderError {
        self.into_failure().error
    }
}

/// Builds providers by running a plugin: the plugin is started on first use and kept for the
/// rest of the command.
pub struct PluginFactory {
    spec: PluginSpec,
    plugin: tokio::sync::OnceCell<Arc<Plugin>>,
    /// The config the plugin was last configured with, and whether it connected.
    configured: tokio::sync::Mutex<Option<(ProviderConfig, bool, ConfigureResult)>>,
}

impl PluginFactory {
    pub fn new(spec: PluginSpec) -> PluginFactory {
        PluginFactory {
            spec,
            plugin: tokio::sync::OnceCell::new(),
            configured: tokio::sync::Mutex::new(None),
        }
    }

    /// The running plugin, started if it is not yet.
    pub async fn plugin(&self) -> Result<Arc<Plugin>, PluginError> {
        self.plugin
            .get_or_try_init(|| async { Plugin::start(self.spec.clone()).await.map(Arc::new) })
            .await
            .cloned()
    }

    async fn configure(
        &self,
        config: &ProviderConfig,
        connect: bool,
    ) -> Result<(Arc<Plugin>, ConfigureResult), ProviderError> {
        let plugin = self
            .plugin()
            .await
            .map_err(PluginError::into_provider_error)?;
        let mut configured = self.configured.lock().await;
        if let Some((c, connected, result)) = configured.as_ref() {
            if c == config && (*connected || !connect) {
                return Ok((plugin, result.clone()));
            }
        }
        let result: ConfigureResult = plugin
            .call_with(
                "configure",
                &ConfigureParams {
                    config: config.clone(),
                    connect,
                },
                "configure",
                plugin.spec.call_timeout,
            )
            .await
            .map_err(CallError::into_error)?;
        *configured = Some((config.clone(), connect, result.clone()));
        Ok((plugin, result))
    }
}

#[async_trait]
impl ProviderFactory for PluginFactory {
    fn name(&self) -> &str {
        &self.spec.name
    }

    async fn schemas(&self, config: &ProviderConfig) -> Result<Vec<ResourceSchema>, ProviderError> {
        Ok(self.configure(config, false).await?.1.schemas)
    }

    async fn map_resources(
        &self,
        config: &ProviderConfig,
        neutral: Vec<DesiredResource>,
    ) -> Result<Vec<DesiredResource>, ProviderError> {
        let (plugin, _) = self.configure(config, false).await?;
        plugin
            .call_with(
                "map_resources",
                &MapParams { resources: neutral },
                "map_resources",
                plugin.spec.call_timeout,
            )
            .await
            .map_err(CallError::into_error)
    }

    async fn connect(&self, config: &ProviderConfig) -> Result<Arc<dyn Provider>, ProviderError> {
        let (plugin, configured) = self.configure(config, true).await?;
        Ok(Arc::new(PluginProvider {
            name: plugin.hello.name.clone(),
            plugin,
            configured,
        }))
    }
}

/// The plugin's stdin. A frame is written by the caller itself, without waiting, when the pipe
/// takes it whole and nothing is queued before it (almost always: the plugin reads as fast as
/// it is written to); otherwise it, or what is left of it, queues for a writer task that waits
/// until the pipe takes it. So a call wakes no other thread or task to be sent, a full pipe
/// blocks no worker, and a frame begun is always finished, whatever becomes of its call.
struct Outbox {
    pipe: Arc<pipe::Sender>,
    to_writer: mpsc::UnboundedSender<Vec<u8>>,
    /// Frames the writer task has not finished: while there are any, new ones queue behind.
    queued: Arc<AtomicU64>,
}

impl Outbox {
    /// Must be called on the runtime, which the writer task then runs on.
    fn new(pipe: pipe::Sender) -> Outbox {
        let pipe = Arc::new(pipe);
        let queued = Arc::new(AtomicU64::new(0));
        let (to_writer, mut frames) = mpsc::unbounded_channel::<Vec<u8>>();
        tokio::spawn({
            let (pipe, queued) = (pipe.clone(), queued.clone());
            async move {
                while let Some(frame) = frames.recv().await {
                    let mut rest = &frame[..];
                    while !rest.is_empty() {
                        if pipe.writable().await.is_err() {
                            return;
                        }
                        match pipe.try_write(rest) {
                            Ok(n) => rest = &rest[n..],
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                            // The plugin is gone; its stdout's end tells the reader why.
                            Err(_) => return,
                        }
                    }
                    queued.fetch_sub(1, Ordering::SeqCst);
                }
                // The outbox is gone: this was the pipe's last handle, and dropping it closes
                // the plugin's stdin, its signal to stop.
            }
        });
        Outbox {
            pipe,
            to_writer,
            queued,
        }
    }

    /// Called with the plugin's `outgoing` lock held, so that two frames never interleave.
    fn send(&self, frame: Vec<u8>) -> bool {
        let mut written = 0;
        if self.queued.load(Ordering::SeqCst) == 0 {
            match self.pipe.try_write(&frame) {
                Ok(n) if n == frame.len() => return true,
                Ok(n) => written = n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return false,
            }
        }
        self.queued.fetch_add(1, Ordering::SeqCst);
        let rest = if written == 0 {
            frame
        } else {
            frame[written..].to_vec()
        };
        self.to_writer.send(rest).is_ok()
    }
}

/// The parameters of the cloud calls as the host sends them: borrowed, so a call copies
/// nothing before it is encoded. Each has the keys of its owned form in [`crate::protocol`]
/// (`ReadParams`, `CreateParams`, ...), which the plugin decodes; a test holds them together.
#[derive(Serialize)]
#[serde(untagged)]
enum CallParams<'a> {
    Read {
        ctx: &'a OperationContext,
        prior: &'a Attrs,
    },
    ReadMany {
        kind: &'a str,
        reads: Vec<CallParams<'a>>,
    },
    Create {
        ctx: &'a OperationContext,
        desired: &'a Attrs,
    },
    Update {
        ctx: &'a OperationContext,
        prior: &'a Attrs,
        desired: &'a Attrs,
    },
    Delete {
        ctx: &'a OperationContext,
        prior: &'a Attrs,
    },
    Import {
        ctx: &'a OperationContext,
        id: &'a str,
        mark: bool,
    },
    /// `{}`, for the calls without parameters.
    Nothing {},
}

/// A connected plugin's provider.
pub struct PluginProvider {
    name: String,
    plugin: Arc<Plugin>,
    configured: ConfigureResult,
}

impl PluginProvider {
    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: impl Serialize,
        call: String,
    ) -> Result<T, CallError> {
        self.plugin
            .call_with(method, &params, &call, self.plugin.spec.call_timeout)
            .await
    }
}

#[async_trait]
impl Provider for PluginProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn schemas(&self) -> Vec<ResourceSchema> {
        self.configured.schemas.clone()
    }

    fn map_resources(&self, neutral: Vec<DesiredResource>) -> Vec<DesiredResource> {
        // The trait gives no way to fail here (the binary maps through the factory, which
        // does). Falling back to the resources as they came keeps a failed mapping from ever
        // reading as "nothing is wanted", which would plan to destroy everything; the plugin
        // then refuses the kinds it does not know, and its next call says why it failed.
        self.plugin
            .call_blocking(
                "map_resources",
                MapParams {
                    resources: neutral.clone(),
                },
                "map_resources",
            )
            .unwrap_or(neutral)
    }

    async fn read(
        &self,
        ctx: &OperationContext,
        prior: &Attrs,
    ) -> Result<Option<Attrs>, ProviderError> {
        let params = CallParams::Read { ctx, prior };
        self.call("read", params, format!("read of {}", ctx.addr))
            .await
            .map_err(CallError::into_error)
    }

    async fn create(&self, ctx: &OperationContext, desired: &Attrs) -> ProviderResult<Attrs> {
        let params = CallParams::Create { ctx, desired };
        self.call("create", params, format!("create of {}", ctx.addr))
            .await
            .map_err(CallError::into_failure)
    }

    async fn update(
        &self,
        ctx: &OperationContext,
        prior: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        let params = CallParams::Update {
            ctx,
            prior,
            desired,
        };
        self.call("update", params, format!("update of {}", ctx.addr))
            .await
            .map_err(CallError::into_failure)
    }

    async fn delete(&self, ctx: &OperationContext, prior: &Attrs) -> Result<(), ProviderError> {
        let params = CallParams::Delete { ctx, prior };
        self.call::<serde_json::Value>("delete", params, format!("delete of {}", ctx.addr))
            .await
            .map(|_| ())
            .map_err(CallError::into_error)
    }

    async fn import(
        &self,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        if !self.plugin.hello.capabilities.import {
            return Err(ProviderError::new(
                ErrorKind::Rejected,
                format!("the {} provider plugin cannot import", self.name),
            ));
        }
        let params = CallParams::Import { ctx, id, mark };
        self.call(
            "import",
            params,
            format!("import of {} from {id}", ctx.addr),
        )
        .await
        .map_err(CallError::into_error)
    }

    fn api_calls(&self) -> CallCounts {
        self.plugin
            .call_blocking("api_calls", CallParams::Nothing {}, "api_calls")
            .unwrap_or_default()
    }

    fn pacing(&self) -> std::collections::BTreeMap<String, matihnet_core::pacing::PacingReport> {
        self.plugin
            .call_blocking("pacing", CallParams::Nothing {}, "pacing")
            .unwrap_or_default()
    }

    fn reads_in_batches(&self, kind: &str) -> bool {
        self.configured.batched_kinds.iter().any(|k| k == kind)
    }

    async fn read_many(
        &self,
        kind: &str,
        reads: &[(OperationContext, Attrs)],
    ) -> Vec<Result<Option<Attrs>, ProviderError>> {
        let params = CallParams::ReadMany {
            kind,
            reads: reads
                .iter()
                .map(|(ctx, prior)| CallParams::Read { ctx, prior })
                .collect(),
        };
        let call = format!("read of {} `{kind}` resources", reads.len());
        match self
            .call::<Vec<ReadAnswer>>("read_many", params, call.clone())
            .await
        {
            Ok(answers) if answers.len() == reads.len() => answers
                .into_iter()
                .map(|a| match a.error {
                    Some(e) => Err(e.into_error()),
                    None => Ok(a.result),
                })
                .collect(),
            Ok(answers) => {
                let e = self
                    .plugin
                    .broken(
                        &call,
                        format!("answered {} reads for {} asked", answers.len(), reads.len()),
                    )
                    .into_provider_error();
                reads.iter().map(|_| Err(e.clone())).collect()
            }
            Err(e) => {
                let e = e.into_error();
                reads.iter().map(|_| Err(e.clone())).collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{
        CreateParams, DeleteParams, ImportParams, ReadManyParams, ReadParams, UpdateParams,
    };
    use matihnet_core::Address;

    /// What the host sends decodes as what the plugin expects.
    #[test]
    fn borrowed_parameters_have_the_keys_of_the_owned_ones() {
        let ctx = OperationContext {
            addr: Address::new("network", "main"),
            environment: "prod".into(),
            lineage: "L".into(),
        };
        let mut prior = Attrs::new();
        prior.insert("id".into(), "n-1".into());
        let mut desired = Attrs::new();
        desired.insert("cidr".into(), "10.0.0.0/16".into());
        fn sent<T: serde::de::DeserializeOwned>(o: &CallParams<'_>) -> T {
            let text = serde_json::to_string(o).expect("encode");
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"))
        }
        let read = CallParams::Read {
            ctx: &ctx,
            prior: &prior,
        };
        let r: ReadParams = sent(&read);
        assert_eq!(
            (r.ctx.addr.to_string(), &r.prior),
            ("network.main".into(), &prior)
        );
        let many: ReadManyParams = sent(&CallParams::ReadMany {
            kind: "network",
            reads: vec![read],
        });
        assert_eq!((many.kind.as_str(), many.reads.len()), ("network", 1));
        let c: CreateParams = sent(&CallParams::Create {
            ctx: &ctx,
            desired: &desired,
        });
        assert_eq!(c.desired, desired);
        let u: UpdateParams = sent(&CallParams::Update {
            ctx: &ctx,
            prior: &prior,
            desired: &desired,
        });
        assert_eq!((u.prior, u.desired), (prior.clone(), desired.clone()));
        let d: DeleteParams = sent(&CallParams::Delete {
            ctx: &ctx,
            prior: &prior,
        });
        assert_eq!(d.ctx.lineage, "L");
        let i: ImportParams = sent(&CallParams::Import {
            ctx: &ctx,
            id: "n-1",
            mark: true,
        });
        assert_eq!((i.id.as_str(), i.mark), ("n-1", true));
        assert_eq!(
            serde_json::to_string(&CallParams::Nothing {}).expect("encode"),
            "{}"
        );
    }
}
