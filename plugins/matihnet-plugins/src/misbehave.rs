//! What `matihnet-provider-fake` does wrong when `MATIHNET_FAKE_PLUGIN_MISBEHAVE` asks it to:
//! test-only faults of the plugin boundary (the fake provider's own `MATIHNET_FAKE_*` faults,
//! such as aborting after K calls, work in the plugin as they do in-process).
//!
//! - `hang-on-create`: every create waits forever.
//! - `garbage-on-create`: a create writes a line of text to stdout, as a stray `println!` would.
//! - `exit-on-create`: a create prints a panic-like line to stderr and exits with code 101.
//! - `newer-protocol`: the handshake answers protocol version 99.
//!
//! `MATIHNET_FAKE_PLUGIN_MISBEHAVE_AFTER=K` lets the first K creates succeed first, so a test
//! can check that what finished before the plugin broke is in the state.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use matihnet_core::{
    Attrs, DesiredResource, OperationContext, Provider, ProviderConfig, ProviderError,
    ProviderFactory, ProviderResult, ResourceSchema,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehaviour {
    HangOnCreate,
    GarbageOnCreate,
    ExitOnCreate,
    NewerProtocol,
}

impl Misbehaviour {
    pub fn from_env() -> Result<Option<Misbehaviour>, String> {
        match std::env::var("MATIHNET_FAKE_PLUGIN_MISBEHAVE").ok().as_deref() {
            None | Some("") => Ok(None),
            Some("hang-on-create") => Ok(Some(Misbehaviour::HangOnCreate)),
            Some("garbage-on-create") => Ok(Some(Misbehaviour::GarbageOnCreate)),
            Some("exit-on-create") => Ok(Some(Misbehaviour::ExitOnCreate)),
            Some("newer-protocol") => Ok(Some(Misbehaviour::NewerProtocol)),
            Some(other) => Err(format!(
                "MATIHNET_FAKE_PLUGIN_MISBEHAVE={other:?}: expected hang-on-create, garbage-on-create, exit-on-create or newer-protocol"
            )),
        }
    }
}

/// Answers the handshake with a protocol version no host speaks, then waits for stdin to end.
pub fn newer_protocol() -> std::process::ExitCode {
    use matihnet_plugin::protocol::{read_frame, response, Message};
    use std::io::Write;
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::stdout();
    while let Ok(body) = read_frame(&mut input) {
        if let Ok(Message::Request { id, method, .. }) = Message::parse(body) {
            let result = if method == "handshake" {
                serde_json::json!({"protocol_version": 99, "name": "fake", "version": "99.0.0"})
            } else {
                serde_json::Value::Null
            };
            let sent = out
                .write_all(&response(id, Ok(&result)))
                .and_then(|()| out.flush());
            if sent.is_err() {
                break;
            }
        }
    }
    std::process::ExitCode::SUCCESS
}

/// Creates that succeed before the misbehaviour starts (`MATIHNET_FAKE_PLUGIN_MISBEHAVE_AFTER`).
pub fn misbehave_after() -> Result<u64, String> {
    match std::env::var("MATIHNET_FAKE_PLUGIN_MISBEHAVE_AFTER")
        .ok()
        .as_deref()
    {
        None | Some("") => Ok(0),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("MATIHNET_FAKE_PLUGIN_MISBEHAVE_AFTER={v:?} is not a number")),
    }
}

/// The fake factory, with its providers wrapped to misbehave after `after` good creates.
pub struct MisbehavingFactory {
    pub how: Misbehaviour,
    pub after: u64,
}

#[async_trait]
impl ProviderFactory for MisbehavingFactory {
    fn name(&self) -> &str {
        "fake"
    }

    async fn schemas(&self, config: &ProviderConfig) -> Result<Vec<ResourceSchema>, ProviderError> {
        matihnet_provider_fake::FakeFactory.schemas(config).await
    }

    async fn map_resources(
        &self,
        config: &ProviderConfig,
        neutral: Vec<DesiredResource>,
    ) -> Result<Vec<DesiredResource>, ProviderError> {
        matihnet_provider_fake::FakeFactory
            .map_resources(config, neutral)
            .await
    }

    async fn connect(&self, config: &ProviderConfig) -> Result<Arc<dyn Provider>, ProviderError> {
        let inner = matihnet_provider_fake::FakeFactory.connect(config).await?;
        Ok(Arc::new(Misbehaving {
            inner,
            how: self.how,
            good_creates_left: AtomicU64::new(self.after),
        }))
    }
}

struct Misbehaving {
    inner: Arc<dyn Provider>,
    how: Misbehaviour,
    good_creates_left: AtomicU64,
}

#[async_trait]
impl Provider for Misbehaving {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn schemas(&self) -> Vec<ResourceSchema> {
        self.inner.schemas()
    }

    async fn read(
        &self,
        ctx: &OperationContext,
        prior: &Attrs,
    ) -> Result<Option<Attrs>, ProviderError> {
        self.inner.read(ctx, prior).await
    }

    async fn create(&self, ctx: &OperationContext, desired: &Attrs) -> ProviderResult<Attrs> {
        let good = self
            .good_creates_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if good {
            return self.inner.create(ctx, desired).await;
        }
        match self.how {
            Misbehaviour::HangOnCreate => std::future::pending().await,
            Misbehaviour::GarbageOnCreate => {
                #[allow(clippy::print_stdout)]
                {
                    println!("creating {} now", ctx.addr);
                }
                self.inner.create(ctx, desired).await
            }
            Misbehaviour::ExitOnCreate => {
                eprintln!("thread 'main' panicked: the fake plugin was told to exit during the create of {}", ctx.addr);
                std::process::exit(101);
            }
            Misbehaviour::NewerProtocol => self.inner.create(ctx, desired).await,
        }
    }

    async fn update(
        &self,
        ctx: &OperationContext,
        prior: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        self.inner.update(ctx, prior, desired).await
    }

    async fn delete(&self, ctx: &OperationContext, prior: &Attrs) -> Result<(), ProviderError> {
        self.inner.delete(ctx, prior).await
    }

    async fn import(
        &self,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        self.inner.import(ctx, id, mark).await
    }
}
