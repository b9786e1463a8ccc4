//! The Provider trait: the only way the engine reaches a cloud.
//!
//! A provider crate offers a constructor that validates its settings and returns a configured
//! provider, so nothing can plan against an unconfigured one. Each call takes one resource and
//! returns the attributes to record; a failure carries what was created before it, so the engine
//! never forgets an object that exists.

use std::fmt;

use async_trait::async_trait;

use crate::{Address, Attrs, DesiredResource, ResourceSchema};

/// Who is asking: providers tag cloud objects with these so that an object created just before a
/// crash can be found and adopted instead of duplicated.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OperationContext {
    pub addr: Address,
    pub environment: String,
    pub lineage: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ErrorKind {
    /// The cloud asked us to slow down and retries ran out.
    Throttled,
    /// A network error or a 5xx that retries did not cure.
    Unavailable,
    /// The request was refused as invalid; retrying will not help.
    Rejected,
    /// The object is not there (HTTP 404, AWS `*.NotFound`).
    NotFound,
    /// An object with that name exists already (HTTP 409, AWS `Duplicate*`): adopt it if it is
    /// ours, refuse otherwise.
    Conflict,
    /// A conditional write lost a race (HTTP 412: the ETag moved on).
    PreconditionFailed,
    /// Another object still uses this one (AWS `DependencyViolation`, GCP `containerNotEmpty` /
    /// `resourceInUseByAnotherResource`): it goes once that one is gone.
    InUse,
    /// Credentials are missing or not allowed to do this.
    Unauthorized,
    /// A long-running operation the cloud accepted ended failed in a way the cloud documents as
    /// transient (an internal error, a rate limit, preemption): re-issuing the request may
    /// succeed, so it is retried a few times before the resource fails.
    OperationFailed,
    /// Anything else.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProviderError {
    pub kind: ErrorKind,
    pub message: String,
    /// The cloud's request id, for a support ticket.
    pub request_id: Option<String>,
}

impl ProviderError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ProviderError {
            kind,
            message: message.into(),
            request_id: None,
        }
    }

    pub fn with_request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ProviderError {}

/// A failed create or update, with the attributes of whatever exists now (if anything).
/// The engine records a partially created object as tainted, so the next plan replaces it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProviderFailure {
    pub error: ProviderError,
    pub partial: Option<Attrs>,
}

impl From<ProviderError> for ProviderFailure {
    fn from(error: ProviderError) -> Self {
        ProviderFailure {
            error,
            partial: None,
        }
    }
}

pub type ProviderResult<T> = Result<T, ProviderFailure>;

#[async_trait]
pub trait Provider: Send + Sync {
    /// Short name used in messages: `aws`, `azure`, `gcp`, `fake`.
    fn name(&self) -> &str;

    /// The resource types this provider manages.
    fn schemas(&self) -> Vec<ResourceSchema>;

    /// Turns the provider-neutral resources of the networking model into this provider's
    /// resources. The default keeps them as they are.
    fn map_resources(&self, neutral: Vec<DesiredResource>) -> Vec<DesiredResource> {
        neutral
    }

    /// Reads the object recorded with `prior` attributes. `Ok(None)` means it is gone.
    async fn read(
        &self,
        ctx: &OperationContext,
        prior: &Attrs,
    ) -> Result<Option<Attrs>, ProviderError>;

    /// Creates the object (or adopts one this environment created before a crash).
    async fn create(&self, ctx: &OperationContext, desired: &Attrs) -> ProviderResult<Attrs>;

    /// Changes attributes that can change in place.
    async fn update(
        &self,
        ctx: &OperationContext,
        prior: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs>;

    /// Deletes the object; an object already gone is success.
    async fn delete(&self, ctx: &OperationContext, prior: &Attrs) -> Result<(), ProviderError>;

    /// Takes over an object made outside this state (`matihnet import`, `[[import]]`, and the
    /// objects a file says exist already): finds the object of kind `ctx.addr.kind` that the
    /// cloud knows by `id` (the value the provider records as that kind's `id`; a DNS zone may
    /// also be named by its domain), and returns its attributes as [`Provider::read`] records
    /// them, every attribute the cloud holds included. With `mark` it also tags or labels the
    /// object as `ctx`'s, where the cloud takes marks.
    ///
    /// Errors: [`ErrorKind::NotFound`] when no object has that id; [`ErrorKind::Rejected`] when
    /// the id names an object of another kind, or one whose marks say another matihnet state
    /// owns it ([`crate::ownership::check_importable`]).
    async fn import(
        &self,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        let _ = (id, mark);
        Err(ProviderError::new(
            ErrorKind::Rejected,
            format!(
                "the {} provider cannot import a `{}`",
                self.name(),
                ctx.addr.kind
            ),
        ))
    }

    /// The API calls made since the provider was built, by operation kind (every attempt,
    /// retries and polls included). A provider that counts nothing answers none.
    fn api_calls(&self) -> crate::CallCounts {
        crate::CallCounts::new()
    }

    /// What pacing to the cloud's rate limits cost so far, per metered API (time spent waiting
    /// for a token, throttled answers). A provider that paces nothing answers none.
    fn pacing(&self) -> std::collections::BTreeMap<String, crate::pacing::PacingReport> {
        std::collections::BTreeMap::new()
    }

    /// Whether reads of `kind` are cheaper together ([`Provider::read_many`]): a refresh then
    /// hands them over at once instead of one by one.
    fn reads_in_batches(&self, _kind: &str) -> bool {
        false
    }

    /// Reads many objects of one kind: one answer per read, in order, each as
    /// [`Provider::read`] would give it. The default reads them one after another.
    async fn read_many(
        &self,
        _kind: &str,
        reads: &[(OperationContext, Attrs)],
    ) -> Vec<Result<Option<Attrs>, ProviderError>> {
        let mut out = Vec::with_capacity(reads.len());
        for (ctx, prior) in reads {
            out.push(self.read(ctx, prior).await);
        }
        out
    }
}

#[cfg(test)]
mod serialisable {
    //! Every value a `Provider` call takes or returns crosses a process boundary as JSON, so
    //! providers can later run as plugins.
    use super::*;
    use crate::{Address, DesiredResource, Expr, ResourceSchema, Value};

    fn round_trip<T>(v: &T)
    where
        T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let text = serde_json::to_string(v).expect("serialise");
        let back: T = serde_json::from_str(&text).expect("deserialise");
        assert_eq!(&back, v, "{text}");
    }

    #[test]
    fn every_value_of_the_provider_trait_survives_json() {
        let ctx = OperationContext {
            addr: Address::new("network", "main"),
            environment: "prod".into(),
            lineage: "L".into(),
        };
        round_trip(&ctx);
        let mut attrs = Attrs::new();
        attrs.insert("cidr".into(), Value::from("10.0.0.0/16"));
        round_trip(&attrs);
        round_trip(&ProviderFailure {
            error: ProviderError::new(ErrorKind::OperationFailed, "x").with_request_id("r"),
            partial: Some(attrs),
        });
        round_trip(
            &ResourceSchema::new("subnet")
                .required_force_new("cidr")
                .optional_grow_only("secondary_ranges")
                .computed("id"),
        );
        round_trip(
            &DesiredResource::new(Address::new("subnet", "a"))
                .attr(
                    "network_id",
                    Expr::reference(Address::new("network", "main"), "id"),
                )
                .depends_on(Address::new("network", "main"))
                .protected(true),
        );
    }
}
