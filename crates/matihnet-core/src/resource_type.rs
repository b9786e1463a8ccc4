//! One table of per-kind handlers for a provider: each resource type is one value that knows its
//! schema and its four calls, so adding a type is one implementation and one table entry, and a
//! kind without a handler cannot have a schema.

use async_trait::async_trait;

use crate::{Attrs, ErrorKind, OperationContext, ProviderError, ProviderResult, ResourceSchema};

/// One resource type of a provider whose connected clients are `C`.
#[async_trait]
pub trait ResourceType<C: Sync>: Send + Sync {
    fn schema(&self) -> ResourceSchema;

    /// The object recorded with `prior`; `Ok(None)` when it is gone.
    async fn read(
        &self,
        cloud: &C,
        ctx: &OperationContext,
        prior: &Attrs,
    ) -> Result<Option<Attrs>, ProviderError>;

    /// Creates the object, or adopts the one this resource made before a crash.
    async fn create(
        &self,
        cloud: &C,
        ctx: &OperationContext,
        desired: &Attrs,
    ) -> ProviderResult<Attrs>;

    async fn update(
        &self,
        cloud: &C,
        ctx: &OperationContext,
        prior: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs>;

    /// Deletes the object; one already gone is success.
    async fn delete(
        &self,
        cloud: &C,
        ctx: &OperationContext,
        prior: &Attrs,
    ) -> Result<(), ProviderError>;

    /// Finds the object the cloud knows by `id` and returns its attributes, marking it as
    /// `ctx`'s when `mark` is set: see [`crate::Provider::import`] for the contract.
    async fn import(
        &self,
        cloud: &C,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        let _ = (cloud, id, mark);
        Err(ProviderError::new(
            ErrorKind::Rejected,
            format!("importing a `{}` is not supported", ctx.addr.kind),
        ))
    }

    /// Whether [`ResourceType::read_many`] answers many reads with fewer calls than one each
    /// (one list per zone, say); the engine then hands it every read of this type at once.
    fn reads_in_batches(&self) -> bool {
        false
    }

    /// Reads many objects of this type: one answer per read, in order. The default reads them
    /// one after another.
    async fn read_many(
        &self,
        cloud: &C,
        reads: &[(OperationContext, Attrs)],
    ) -> Vec<Result<Option<Attrs>, ProviderError>> {
        let mut out = Vec::with_capacity(reads.len());
        for (ctx, prior) in reads {
            out.push(self.read(cloud, ctx, prior).await);
        }
        out
    }
}

/// A provider's resource types, looked up by kind.
pub struct ResourceTypes<C: Sync + 'static> {
    provider: &'static str,
    types: Vec<(String, &'static dyn ResourceType<C>)>,
}

impl<C: Sync + 'static> ResourceTypes<C> {
    pub fn new(provider: &'static str, types: &[&'static dyn ResourceType<C>]) -> Self {
        ResourceTypes {
            provider,
            types: types.iter().map(|t| (t.schema().type_name, *t)).collect(),
        }
    }

    pub fn schemas(&self) -> Vec<ResourceSchema> {
        self.types.iter().map(|(_, t)| t.schema()).collect()
    }

    /// The handler of `kind`, or the one error for a kind this provider does not have.
    pub fn get(&self, kind: &str) -> Result<&'static dyn ResourceType<C>, ProviderError> {
        self.types
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Other,
                    format!(
                        "the {} provider has no resource type `{kind}`",
                        self.provider
                    ),
                )
            })
    }
}

/// A provider made of a table of resource types: it says its name, its table and how it maps
/// the neutral resources, and the `Provider` calls dispatch through the table (one copy of that
/// dispatch for every cloud).
pub trait TableProvider: Send + Sync + Sized + 'static {
    fn name(&self) -> &str;
    fn types(&self) -> &ResourceTypes<Self>;
    fn map_resources(&self, neutral: Vec<crate::DesiredResource>) -> Vec<crate::DesiredResource>;

    /// The API calls made so far, by operation kind.
    fn api_calls(&self) -> crate::CallCounts {
        crate::CallCounts::new()
    }

    /// What pacing cost so far, per metered API.
    fn pacing(&self) -> std::collections::BTreeMap<String, crate::pacing::PacingReport> {
        std::collections::BTreeMap::new()
    }
}

#[async_trait]
impl<T: TableProvider> crate::Provider for T {
    fn name(&self) -> &str {
        TableProvider::name(self)
    }

    fn schemas(&self) -> Vec<ResourceSchema> {
        self.types().schemas()
    }

    fn map_resources(&self, neutral: Vec<crate::DesiredResource>) -> Vec<crate::DesiredResource> {
        TableProvider::map_resources(self, neutral)
    }

    async fn read(
        &self,
        ctx: &OperationContext,
        prior: &Attrs,
    ) -> Result<Option<Attrs>, ProviderError> {
        self.types()
            .get(&ctx.addr.kind)?
            .read(self, ctx, prior)
            .await
    }

    async fn create(&self, ctx: &OperationContext, desired: &Attrs) -> ProviderResult<Attrs> {
        self.types()
            .get(&ctx.addr.kind)?
            .create(self, ctx, desired)
            .await
    }

    async fn update(
        &self,
        ctx: &OperationContext,
        prior: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        self.types()
            .get(&ctx.addr.kind)?
            .update(self, ctx, prior, desired)
            .await
    }

    async fn delete(&self, ctx: &OperationContext, prior: &Attrs) -> Result<(), ProviderError> {
        self.types()
            .get(&ctx.addr.kind)?
            .delete(self, ctx, prior)
            .await
    }

    async fn import(
        &self,
        ctx: &OperationContext,
        id: &str,
        mark: bool,
    ) -> Result<Attrs, ProviderError> {
        self.types()
            .get(&ctx.addr.kind)?
            .import(self, ctx, id, mark)
            .await
    }

    fn api_calls(&self) -> crate::CallCounts {
        TableProvider::api_calls(self)
    }

    fn pacing(&self) -> std::collections::BTreeMap<String, crate::pacing::PacingReport> {
        TableProvider::pacing(self)
    }

    fn reads_in_batches(&self, kind: &str) -> bool {
        self.types().get(kind).is_ok_and(|t| t.reads_in_batches())
    }

    async fn read_many(
        &self,
        kind: &str,
        reads: &[(OperationContext, Attrs)],
    ) -> Vec<Result<Option<Attrs>, ProviderError>> {
        match self.types().get(kind) {
            Ok(t) => t.read_many(self, reads).await,
            Err(e) => reads.iter().map(|_| Err(e.clone())).collect(),
        }
    }
}
