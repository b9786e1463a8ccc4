//! The host side: a [`ProviderFactory`] and a [`Provider`] that run a plugin executable and
//! speak the protocol to it.
//!
//! The plugin is started once per command and stopped at its end (`shutdown`, then a kill if
//! it lingers). It runs in a process group of its own, so the terminal's Ctrl-C reaches only
//! matihnet, which decides what to cancel; if matihnet dies, the plugin sees its stdin close
//! and stops. Three threads per plugin do its IO (stdin, stdout, stderr), so neither a slow
//! plugin nor a full pipe ever blocks the runtime. A plugin that exits, hangs past the call
//! timeout or writes anything but protocol messages fails the calls it holds with an error
//! naming the plugin, the call, the resource and the last lines of its stderr.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader};
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
use tokio::sync::{mpsc, oneshot};

use crate::protocol::{
    read_message, write_message, CancelParams, ConfigureParams, ConfigureResult, CreateParams,
    DeleteParams, FrameError, HandshakeParams, HandshakeResult, ImportParams, MapParams, Message,
    ReadAnswer, ReadManyParams, ReadParams, RetryParams, UpdateParams, WireError,
    MAGIC_COOKIE_VALUE, MAGIC_COOKIE_VAR, PROTOCOL_VERSIONS,
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

type Outcome = Result<serde_json::Value, CallFailure>;

#[derive(Debug, Clone)]
enum CallFailure {
    /// The plugin answered with an error.
    Answered(WireError),
    /// The plugin stopped, or broke the protocol: why, in words.
    Broken(String),
}

enum Reply {
    Async {
        done: oneshot::Sender<Outcome>,
        retries: mpsc::UnboundedSender<RetryNotice>,
    },
    Blocking(std::sync::mpsc::SyncSender<Outcome>),
}

impl Reply {
    fn send(self, outcome: Outcome) {
        match self {
            Reply::Async { done, .. } => {
                let _ = done.send(outcome);
            }
            Reply::Blocking(tx) => {
                let _ = tx.send(outcome);
            }
        }
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
    outgoing: Mutex<Option<mpsc::UnboundedSender<serde_json::Value>>>,
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

        let (outgoing, mut to_write) = mpsc::unbounded_channel::<serde_json::Value>();
        std::thread::spawn(move || {
            let mut stdin = stdin;
            while let Some(message) = to_write.blocking_recv() {
                if write_message(&mut stdin, &message).is_err() {
                    // The plugin is gone; its stdout's end tells the reader why.
                    return;
                }
            }
        });
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
        std::thread::spawn({
            let shared = shared.clone();
            let child = child.clone();
            move || read_loop(stdout, &shared, &child)
        });

        let mut plugin = Plugin {
            spec,
            child,
            outgoing: Mutex::new(Some(outgoing)),
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
                HandshakeParams {
                    protocol_versions: PROTOCOL_VERSIONS.to_vec(),
                    host: format!("matihnet {}", env!("CARGO_PKG_VERSION")),
                },
                "the handshake".into(),
                plugin.spec.start_timeout,
            )
            .await
            .map_err(|e| match e {
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

    fn send(&self, message: Message) -> bool {
        self.outgoing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|tx| tx.send(message.into_value()).is_ok())
    }

    fn notify(&self, method: &str, params: impl Serialize) {
        self.send(Message::Notification {
            method: method.into(),
            params: serde_json::to_value(params).unwrap_or_default(),
        });
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

    async fn call_raw(
        &self,
        method: &str,
        params: serde_json::Value,
        call: &str,
        timeout: Duration,
    ) -> Result<serde_json::Value, CallError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (done, mut outcome) = oneshot::channel();
        let (retries, mut notices) = mpsc::unbounded_channel();
        self.register(id, Reply::Async { done, retries })
            .map_err(|why| CallError::Plugin(self.broken(call, why)))?;
        let mut in_flight = InFlight {
            plugin: self,
            id,
            finished: false,
        };
        self.send(Message::Request {
            id,
            method: method.into(),
            params,
        });
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

    async fn call_with<T: DeserializeOwned>(
        &self,
        method: &str,
        params: impl Serialize,
        call: String,
        timeout: Duration,
    ) -> Result<T, PluginError> {
        let params = serde_json::to_value(params).unwrap_or_default();
        let value = self
            .call_raw(method, params, &call, timeout)
            .await
            .map_err(|e| e.into_plugin_error())?;
        self.decode(&call, value)
    }

    fn decode<T: DeserializeOwned>(
        &self,
        call: &str,
        value: serde_json::Value,
    ) -> Result<T, PluginError> {
        serde_json::from_value(value).map_err(|e| {
            self.broken(
                call,
                format!("answered with something this matihnet cannot read ({e})"),
            )
        })
    }

    /// A call made from synchronous code (the trait's `map_resources`, `api_calls`): waits on
    /// a thread-blocking channel, so it does not need the runtime to make progress.
    fn call_blocking<T: DeserializeOwned>(
        &self,
        method: &str,
        params: impl Serialize,
        call: &str,
    ) -> Result<T, CallError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.register(id, Reply::Blocking(tx))
            .map_err(|why| CallError::Plugin(self.broken(call, why)))?;
        self.send(Message::Request {
            id,
            method: method.into(),
            params: serde_json::to_value(params).unwrap_or_default(),
        });
        match rx.recv_timeout(self.spec.call_timeout) {
            Ok(Ok(v)) => self.decode(call, v).map_err(CallError::Plugin),
            Ok(Err(f)) => Err(self.failure(call, f)),
            Err(_) => {
                let _ = InFlight {
                    plugin: self,
                    id,
                    finished: false,
                };
                Err(CallError::Plugin(PluginError::Timeout {
                    plugin: self.spec.name.clone(),
                    path: self.spec.path.display().to_string(),
                    call: call.to_string(),
                    after: self.spec.call_timeout,
                    stderr: self.shared.stderr_tail(),
                }))
            }
        }
    }

    /// Asks the plugin to stop, and makes sure it does.
    pub fn shutdown(&self) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.send(Message::Request {
            id,
            method: "shutdown".into(),
            params: serde_json::Value::Null,
        });
        // Closing stdin is the plugin's other signal to stop.
        self.outgoing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
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
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        self.shutdown();
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
fn read_loop(stdout: std::process::ChildStdout, shared: &Shared, child: &Mutex<Child>) {
    let mut reader = BufReader::new(stdout);
    let why = loop {
        let message = match read_message(&mut reader).and_then(Message::classify) {
            Ok(m) => m,
            Err(FrameError::Garbage(what)) => {
                let _ = child.lock().unwrap_or_else(PoisonError::into_inner).kill();
                break format!(
                    "wrote something that is not a protocol message to its stdout ({what}; a plugin must write its logs to stderr), so it was stopped"
                );
            }
            Err(FrameError::Closed | FrameError::Io(_)) => break exit_reason(child),
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
                if let Ok(p) = serde_json::from_value::<RetryParams>(params) {
                    if let Some(Reply::Async { retries, .. }) = shared
                        .pending
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get(&p.id)
                    {
                        let _ = retries.send(p.notice);
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
fn exit_reason(child: &Mutex<Child>) -> String {
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
        std::thread::sleep(Duration::from_millis(10));
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
            .call_raw(
                "configure",
                serde_json::to_value(ConfigureParams {
                    config: config.clone(),
                    connect,
                })
                .unwrap_or_default(),
                "configure",
                plugin.spec.call_timeout,
            )
            .await
            .map_err(CallError::into_error)
            .and_then(|v| {
                plugin
                    .decode("configure", v)
                    .map_err(PluginError::into_provider_error)
            })?;
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
        let value = plugin
            .call_raw(
                "map_resources",
                serde_json::to_value(MapParams { resources: neutral }).unwrap_or_default(),
                "map_resources",
                plugin.spec.call_timeout,
            )
            .await
            .map_err(CallError::into_error)?;
        plugin
            .decode("map_resources", value)
            .map_err(PluginError::into_provider_error)
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
        let params = serde_json::to_value(params).unwrap_or_default();
        let value = self
            .plugin
            .call_raw(method, params, &call, self.plugin.spec.call_timeout)
            .await?;
        self.plugin.decode(&call, value).map_err(CallError::Plugin)
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
        let params = ReadParams {
            ctx: ctx.clone(),
            prior: prior.clone(),
        };
        self.call("read", params, format!("read of {}", ctx.addr))
            .await
            .map_err(CallError::into_error)
    }

    async fn create(&self, ctx: &OperationContext, desired: &Attrs) -> ProviderResult<Attrs> {
        let params = CreateParams {
            ctx: ctx.clone(),
            desired: desired.clone(),
        };
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
        let params = UpdateParams {
            ctx: ctx.clone(),
            prior: prior.clone(),
            desired: desired.clone(),
        };
        self.call("update", params, format!("update of {}", ctx.addr))
            .await
            .map_err(CallError::into_failure)
    }

    async fn delete(&self, ctx: &OperationContext, prior: &Attrs) -> Result<(), ProviderError> {
        let params = DeleteParams {
            ctx: ctx.clone(),
            prior: prior.clone(),
        };
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
        let params = ImportParams {
            ctx: ctx.clone(),
            id: id.to_string(),
            mark,
        };
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
            .call_blocking("api_calls", serde_json::json!({}), "api_calls")
            .unwrap_or_default()
    }

    fn pacing(&self) -> std::collections::BTreeMap<String, matihnet_core::pacing::PacingReport> {
        self.plugin
            .call_blocking("pacing", serde_json::json!({}), "pacing")
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
        let params = ReadManyParams {
            kind: kind.to_string(),
            reads: reads
                .iter()
                .map(|(ctx, prior)| ReadParams {
                    ctx: ctx.clone(),
                    prior: prior.clone(),
                })
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
