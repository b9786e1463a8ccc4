//! The plugin side: [`serve`] answers a host's requests with any [`ProviderFactory`], so a
//! provider crate becomes a plugin executable with a three-line `main`.
//!
//! Calls that reach the cloud run as concurrent tasks (the host bounds how many); the
//! handshake, `configure` and `map_resources` run in order. A `cancel` aborts its call's task;
//! the end of stdin (the host exited or was killed) aborts every call and ends the plugin.
//!
//! Requests are read by a task from stdin made non-blocking (when stdin is a pipe, as a host
//! makes it), so a request wakes one worker, which starts its call on the spot; answers are
//! written by the task that made them.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;

use matihnet_core::retry::{reporting_retries, RetryNotice, RetryReporter};
use matihnet_core::{Provider, ProviderConfig, ProviderFactory};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::protocol::{
    notification, read_frame, read_frame_async, response, Body, CancelParams, Capabilities,
    ConfigureParams, ConfigureResult, CreateParams, DeleteParams, FrameError, HandshakeParams,
    HandshakeResult, ImportParams, MapParams, Message, ReadAnswer, ReadManyParams, ReadParams,
    RetryParams, UpdateParams, WireError, MAGIC_COOKIE_VALUE, MAGIC_COOKIE_VAR, PROTOCOL_VERSIONS,
};

/// Why a plugin stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "this is a matihnet provider plugin: matihnet starts it itself and talks to it over stdin and stdout. \
         To use it, name its provider in the environment file ([environment] provider = \"{0}\") \
         and put this executable in MATIHNET_PLUGIN_DIR or on PATH, or point [providers.{0}] source at it"
    )]
    NotStartedByHost(String),
    #[error("the host sent something that is not a protocol message: {0}")]
    Garbage(String),
    #[error("reading from the host: {0}")]
    Io(std::io::Error),
}

/// Where answers go: stdout, locked per message (not for good: a stray `println!` in a
/// provider then lands between messages, where the host sees it and says so, instead of
/// blocking forever). Written from the task that answers, without a hop to a writer thread:
/// the host always drains the pipe.
#[derive(Clone, Copy)]
struct Outgoing;

impl Outgoing {
    /// Writes one framed message.
    fn send(&self, frame: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        // A second handle on the same descriptor, unbuffered, so a frame leaves in one write;
        // stdout's own handle is line-buffered and would send the header and the body apart.
        static RAW: OnceLock<Option<File>> = OnceLock::new();
        let mut stdout = std::io::stdout().lock();
        let raw = RAW.get_or_init(|| stdout.as_fd().try_clone_to_owned().ok().map(File::from));
        match raw {
            Some(file) => (&mut &*file).write_all(frame),
            None => stdout.write_all(frame).and_then(|()| stdout.flush()),
        }
    }
}

/// The methods that reach the cloud: run concurrently, each in a task of its own.
const CLOUD_METHODS: &[&str] = &["read", "read_many", "create", "update", "delete", "import"];

type Running = Arc<Mutex<HashMap<u64, AbortHandle>>>;
type Connected = Arc<std::sync::RwLock<Option<Arc<dyn Provider>>>>;

/// Serves `factory`'s provider to the host that started this process, until the host says
/// `shutdown` or closes stdin. `version` is the plugin's own version, for the handshake.
pub async fn serve<F>(factory: F, version: &str) -> Result<(), ServeError>
where
    F: ProviderFactory + 'static,
{
    if std::env::var(MAGIC_COOKIE_VAR).ok().as_deref() != Some(MAGIC_COOKIE_VALUE) {
        return Err(ServeError::NotStartedByHost(factory.name().to_string()));
    }
    let running: Running = Arc::new(Mutex::new(HashMap::new()));
    let connected: Connected = Arc::new(std::sync::RwLock::new(None));
    let (incoming_tx, mut incoming) = mpsc::unbounded_channel();
    let reader = Reader {
        handle: tokio::runtime::Handle::current(),
        running: running.clone(),
        connected: connected.clone(),
        ordered: incoming_tx,
    };
    match stdin_pipe() {
        Some(stdin) => {
            tokio::spawn(async move {
                let mut stdin = tokio::io::BufReader::with_capacity(64 * 1024, stdin);
                while reader.take(read_frame_async(&mut stdin).await.and_then(Message::parse)) {}
            });
        }
        // Stdin that is not a pipe (a file, a socket) is read with blocking reads, on a
        // thread of its own so that a quiet host costs no worker.
        None => {
            std::thread::spawn(move || {
                let stdin = std::io::stdin();
                let mut stdin = stdin.lock();
                while reader.take(read_frame(&mut stdin).and_then(Message::parse)) {}
            });
        }
    }

    let mut server = Server {
        factory,
        version: version.to_string(),
        config: None,
        provider: None,
        connected,
        running,
    };
    let result = loop {
        let Some(message) = incoming.recv().await else {
            break Ok(());
        };
        match message {
            Ok(Message::Request { id, method, params }) => {
                if method == "shutdown" {
                    respond(id, Ok(()));
                    break Ok(());
                }
                server.request(id, &method, params).await;
            }
            // Cancels are handled as they are read; other notifications are of later versions.
            Ok(Message::Notification { .. }) => {}
            // The host sends no responses; one is ignored rather than fatal.
            Ok(Message::Response { .. }) => {}
            Err(FrameError::Closed) => break Ok(()),
            Err(FrameError::Io(e)) => break Err(ServeError::Io(e)),
            Err(FrameError::Garbage(what)) => break Err(ServeError::Garbage(what)),
        }
    };
    server.abort_all();
    result
}

/// Stdin as a non-blocking pipe, when it is one.
fn stdin_pipe() -> Option<tokio::net::unix::pipe::Receiver> {
    let fd = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
    tokio::net::unix::pipe::Receiver::from_owned_fd(fd).ok()
}

/// What reads the host's messages: starts cloud calls and cancels them as they arrive (a hop
/// fewer per call than passing them through the serving loop), and passes the rest, which
/// must run in order, to that loop.
struct Reader {
    handle: tokio::runtime::Handle,
    running: Running,
    connected: Connected,
    ordered: mpsc::UnboundedSender<Result<Message, FrameError>>,
}

impl Reader {
    /// Takes one message read; false when reading should stop.
    fn take(&self, message: Result<Message, FrameError>) -> bool {
        let message = match message {
            Ok(Message::Request { id, method, params })
                if CLOUD_METHODS.contains(&method.as_str()) =>
            {
                let provider = self
                    .connected
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone();
                match provider {
                    Some(p) => {
                        spawn_call(&self.handle, &self.running, id, method, params, p);
                        return true;
                    }
                    None => Ok(Message::Request { id, method, params }),
                }
            }
            Ok(Message::Notification { method, params }) if method == "cancel" => {
                if let Ok(p) = params.params::<CancelParams>() {
                    cancel(&self.running, p.id);
                }
                return true;
            }
            other => other,
        };
        let end = message.is_err();
        self.ordered.send(message).is_ok() && !end
    }
}

/// Writes the answer to call `id`.
fn respond<T: Serialize>(id: u64, outcome: Result<T, WireError>) {
    let _ = Outgoing.send(&response(id, outcome.as_ref()));
}

fn params<T: DeserializeOwned>(method: &str, body: &Body) -> Result<T, WireError> {
    body.params()
        .map_err(|e| WireError::rejected(format!("bad parameters for {method}: {e}")))
}

struct Server<F> {
    factory: F,
    version: String,
    config: Option<ProviderConfig>,
    provider: Option<Arc<dyn Provider>>,
    connected: Connected,
    running: Running,
}

impl<F: ProviderFactory + 'static> Server<F> {
    async fn request(&mut self, id: u64, method: &str, raw: Body) {
        match method {
            "handshake" => respond(id, self.handshake(&raw)),
            "configure" => respond(id, self.configure(&raw).await),
            "map_resources" => respond(id, self.map_resources(&raw).await),
            "api_calls" => match &self.provider {
                Some(p) => respond(id, Ok(p.api_calls())),
                None => respond(id, Ok(matihnet_core::CallCounts::new())),
            },
            "pacing" => match &self.provider {
                Some(p) => respond(id, Ok(p.pacing())),
                None => respond(id, Ok(std::collections::BTreeMap::<String, ()>::new())),
            },
            cloud if CLOUD_METHODS.contains(&cloud) => match &self.provider {
                Some(p) => spawn_call(
                    &tokio::runtime::Handle::current(),
                    &self.running,
                    id,
                    method.to_string(),
                    raw,
                    p.clone(),
                ),
                None => respond::<()>(
                    id,
                    Err(WireError::rejected(format!(
                        "{method} before configure with connect = true"
                    ))),
                ),
            },
            other => respond::<()>(
                id,
                Err(WireError::rejected(format!("unknown method {other:?}"))),
            ),
        }
    }

    fn handshake(&self, raw: &Body) -> Result<HandshakeResult, WireError> {
        let p: HandshakeParams = params("handshake", raw)?;
        let Some(version) = PROTOCOL_VERSIONS
            .iter()
            .rev()
            .find(|v| p.protocol_versions.contains(v))
        else {
            return Err(WireError::rejected(format!(
                "this plugin speaks protocol versions {PROTOCOL_VERSIONS:?}, the host offers {:?}",
                p.protocol_versions
            )));
        };
        Ok(HandshakeResult {
            protocol_version: *version,
            name: self.factory.name().to_string(),
            version: self.version.clone(),
            capabilities: Capabilities {
                import: true,
                cancel: true,
                retry_notices: true,
            },
        })
    }

    async fn configure(&mut self, raw: &Body) -> Result<ConfigureResult, WireError> {
        let p: ConfigureParams = params("configure", raw)?;
        let result = if p.connect {
            let provider = self.factory.connect(&p.config).await?;
            let schemas = provider.schemas();
            let batched_kinds = schemas
                .iter()
                .filter(|s| provider.reads_in_batches(&s.type_name))
                .map(|s| s.type_name.clone())
                .collect();
            self.provider = Some(provider.clone());
            *self
                .connected
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(provider);
            ConfigureResult {
                schemas,
                batched_kinds,
            }
        } else {
            ConfigureResult {
                schemas: self.factory.schemas(&p.config).await?,
                batched_kinds: Vec::new(),
            }
        };
        self.config = Some(p.config);
        Ok(result)
    }

    async fn map_resources(
        &self,
        raw: &Body,
    ) -> Result<Vec<matihnet_core::DesiredResource>, WireError> {
        let p: MapParams = params("map_resources", raw)?;
        if let Some(provider) = &self.provider {
            return Ok(provider.map_resources(p.resources));
        }
        let Some(config) = &self.config else {
            return Err(WireError::rejected("map_resources before configure"));
        };
        Ok(self.factory.map_resources(config, p.resources).await?)
    }

    fn abort_all(&self) {
        for (_, handle) in self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain()
        {
            handle.abort();
        }
    }
}

/// Starts one cloud call as a task; its answer is written when it ends, unless a cancel
/// answered it first.
fn spawn_call(
    handle: &tokio::runtime::Handle,
    running: &Running,
    id: u64,
    method: String,
    raw: Body,
    provider: Arc<dyn Provider>,
) {
    let reporter: RetryReporter = Arc::new(move |notice: &RetryNotice| {
        let params = RetryParams {
            id,
            notice: notice.clone(),
        };
        if let Ok(frame) = notification("retry", &params) {
            let _ = Outgoing.send(&frame);
        }
    });
    // The entry is made before the task can finish, so a fast task's removal finds it.
    let mut guard = running
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let task = handle.spawn({
        let running = running.clone();
        async move {
            let answer = reporting_retries(reporter, call(&*provider, id, &method, &raw)).await;
            let still_ours = running
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&id)
                .is_some();
            if still_ours {
                let _ = Outgoing.send(&answer);
            }
        }
    });
    guard.insert(id, task.abort_handle());
}

/// Stops call `id` and answers it as cancelled.
fn cancel(running: &Running, id: u64) {
    let handle = running
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(&id);
    if let Some(handle) = handle {
        handle.abort();
        respond::<()>(
            id,
            Err(WireError::from(matihnet_core::ProviderError::new(
                matihnet_core::ErrorKind::Other,
                "cancelled by matihnet",
            ))),
        );
    }
}

/// One cloud call, decoded, made, and its answer framed.
async fn call(provider: &dyn Provider, id: u64, method: &str, raw: &Body) -> Vec<u8> {
    fn framed<T: Serialize>(id: u64, outcome: Result<T, WireError>) -> Vec<u8> {
        response(id, outcome.as_ref())
    }
    match method {
        "read" => framed(
            id,
            async {
                let p: ReadParams = params(method, raw)?;
                Ok::<_, WireError>(provider.read(&p.ctx, &p.prior).await?)
            }
            .await,
        ),
        "read_many" => framed(
            id,
            async {
                let p: ReadManyParams = params(method, raw)?;
                let reads: Vec<_> = p.reads.into_iter().map(|r| (r.ctx, r.prior)).collect();
                let answers: Vec<ReadAnswer> = provider
                    .read_many(&p.kind, &reads)
                    .await
                    .into_iter()
                    .map(|r| match r {
                        Ok(result) => ReadAnswer {
                            result,
                            error: None,
                        },
                        Err(e) => ReadAnswer {
                            result: None,
                            error: Some(e.into()),
                        },
                    })
                    .collect();
                Ok::<_, WireError>(answers)
            }
            .await,
        ),
        "create" => framed(
            id,
            async {
                let p: CreateParams = params(method, raw)?;
                Ok::<_, WireError>(provider.create(&p.ctx, &p.desired).await?)
            }
            .await,
        ),
        "update" => framed(
            id,
            async {
                let p: UpdateParams = params(method, raw)?;
                Ok::<_, WireError>(provider.update(&p.ctx, &p.prior, &p.desired).await?)
            }
            .await,
        ),
        "delete" => framed(
            id,
            async {
                let p: DeleteParams = params(method, raw)?;
                provider.delete(&p.ctx, &p.prior).await?;
                Ok::<_, WireError>(())
            }
            .await,
        ),
        "import" => framed(
            id,
            async {
                let p: ImportParams = params(method, raw)?;
                Ok::<_, WireError>(provider.import(&p.ctx, &p.id, p.mark).await?)
            }
            .await,
        ),
        other => framed::<()>(
            id,
            Err(WireError::rejected(format!("unknown method {other:?}"))),
        ),
    }
}

/// A plugin executable's whole `main`: serves `factory` on a multi-threaded runtime and
/// turns a failure into a message on stderr and exit code 1.
pub fn main<F>(factory: F, version: &str) -> std::process::ExitCode
where
    F: ProviderFactory + 'static,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the plugin's runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(serve(factory, version));
    // In-flight calls were aborted; their tasks need not be waited for.
    runtime.shutdown_background();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}
