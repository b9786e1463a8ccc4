//! How every generated-client call is made: one retry policy (throttling, 5xx, ARM's
//! `AnotherOperationInProgress`, failed operations), 404 as "gone", deletes waited on, and the
//! JSON the generated models are built from.

use matihnet_core::retry::with_backoff;
use matihnet_core::{ErrorKind, ProviderError};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::arm::{from_azure, is_not_found, policy};
use crate::provider::AzureProvider;

pub(crate) fn model<T: DeserializeOwned>(v: serde_json::Value) -> Result<T, ProviderError> {
    serde_json::from_value(v).map_err(|e| {
        ProviderError::new(
            ErrorKind::Other,
            format!("internal error: building an ARM request body: {e}"),
        )
    })
}

pub(crate) fn as_json<T: Serialize>(t: &T) -> serde_json::Value {
    serde_json::to_value(t).unwrap_or_default()
}

/// Runs a generated-client call with retries for `AnotherOperationInProgress` and throttling
/// that outlasted the pipeline's own retries; 404 becomes `Ok(None)`.
pub(crate) async fn call<T, F, Fut>(what: &str, mut f: F) -> Result<Option<T>, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = azure_core::Result<T>>,
{
    with_backoff(policy(), |_| {
        let fut = f();
        async move {
            match fut.await {
                Ok(v) => Ok(Some(v)),
                Err(e) if is_not_found(&e) => Ok(None),
                Err(e) => Err((from_azure(what, &e), None)),
            }
        }
    })
    .await
}

/// Sends a DELETE and waits for its operation. An operation that ends failed in a way ARM calls
/// transient is re-sent (DELETE is idempotent) within the failed-operation budget, so one
/// transient failure does not cost the user a whole re-run.
pub(crate) async fn delete_and_wait<F, Fut>(
    p: &AzureProvider,
    what: &str,
    send: F,
) -> Result<(), ProviderError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = azure_core::Result<azure_core::headers::Headers>>,
{
    let send = &send;
    with_backoff(policy().failed_operations_only(), |_| async move {
        if let Some(headers) = call(what, send).await.map_err(|e| (e, None))? {
            p.arm.wait(what, &headers).await.map_err(|e| (e, None))?;
        }
        Ok(())
    })
    .await
}
