//! Plain ARM requests where the generated clients stop short: resource groups, and waiting on
//! the long-running operations of deletes (the generated delete builders only send). Retries
//! throttling (honouring `Retry-After`), 5xx, and 409 `AnotherOperationInProgress`.

use std::sync::Arc;
use std::time::Duration;

use azure_core::auth::TokenCredential;
use azure_core::headers::{self, Headers};
use azure_core::{HttpClient, Method, Request, StatusCode, Url};
use matihnet_core::retry::{with_backoff, RetryPolicy};
use matihnet_core::{ErrorKind, ProviderError};

pub const SCOPE: &str = "https://management.azure.com/.default";

/// A bearer token that never expires, for the local emulator (it accepts any token).
#[derive(Debug)]
pub struct StaticToken;

#[async_trait::async_trait]
impl TokenCredential for StaticToken {
    async fn get_token(
        &self,
        _scopes: &[&str],
    ) -> azure_core::Result<azure_core::auth::AccessToken> {
        let expires = std::time::SystemTime::now() + Duration::from_secs(24 * 3600);
        Ok(azure_core::auth::AccessToken::new(
            "local-cloud",
            expires.into(),
        ))
    }

    async fn clear_cache(&self) -> azure_core::Result<()> {
        Ok(())
    }
}

/// The one retry policy of every ARM call (core's default: capped backoff, a small budget for
/// failed operations).
pub fn policy() -> RetryPolicy {
    RetryPolicy::default()
}

/// ARM's answer to a request, already known not to be an error.
pub struct Answer {
    pub status: StatusCode,
    pub headers: Headers,
    pub body: serde_json::Value,
}

fn retry_after(headers: &Headers) -> Option<Duration> {
    headers
        .get_optional_str(&headers::RETRY_AFTER)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// The engine's kind for an ARM error status and code.
fn kind_of(status: u16, code: &str) -> ErrorKind {
    match status {
        429 => ErrorKind::Throttled,
        401 | 403 => ErrorKind::Unauthorized,
        404 => ErrorKind::NotFound,
        409 if code == "AnotherOperationInProgress" => ErrorKind::Unavailable,
        409 => ErrorKind::Conflict,
        412 => ErrorKind::PreconditionFailed,
        400 if code.ends_with("InUse") || code == "InUseSubnetCannotBeDeleted" => ErrorKind::InUse,
        500..=599 => ErrorKind::Unavailable,
        _ => ErrorKind::Rejected,
    }
}

/// Maps an ARM error response to the engine's error kinds; `None` for success.
fn classify(
    status: StatusCode,
    body: &serde_json::Value,
    what: &str,
    request_id: Option<&str>,
) -> Option<ProviderError> {
    let code_num = u16::from(status);
    if code_num < 400 {
        return None;
    }
    let error = body.get("error").unwrap_or(body);
    let code = error.get("code").and_then(|c| c.as_str()).unwrap_or("");
    let message = error.get("message").and_then(|c| c.as_str()).unwrap_or("");
    let kind = kind_of(code_num, code);
    let mut e = ProviderError::new(kind, format!("{what}: {code_num} {code}: {message}"));
    if let Some(id) = request_id {
        e = e.with_request_id(id);
    }
    Some(e)
}

/// Turns an error from a generated client into the engine's error, with ARM's code.
pub fn from_azure(what: &str, e: &azure_core::Error) -> ProviderError {
    match e.as_http_error() {
        Some(h) => {
            let status = u16::from(h.status());
            let code = h.error_code().unwrap_or("");
            let kind = kind_of(status, code);
            ProviderError::new(
                kind,
                format!(
                    "{what}: {status} {code}: {}",
                    h.error_message().unwrap_or("")
                ),
            )
        }
        None => {
            let kind = match e.kind() {
                azure_core::error::ErrorKind::Credential => ErrorKind::Unauthorized,
                azure_core::error::ErrorKind::Io => ErrorKind::Unavailable,
                // The generated clients' poller says only this when a PUT's operation ends
                // `Failed` (no code, no body): a PUT is idempotent, so re-sending it is safe,
                // within the small budget for failed operations.
                _ if e.to_string() == "Long running operation failed" => ErrorKind::OperationFailed,
                _ => ErrorKind::Other,
            };
            ProviderError::new(kind, format!("{what}: {e}"))
        }
    }
}

/// ARM operation error codes that mean "try again" (ARM's guidance for failed async operations
/// and the codes its services return for internal errors, throttling and preemption).
fn is_transient_operation_error(code: &str) -> bool {
    matches!(
        code,
        "InternalServerError"
            | "InternalError"
            | "RetryableError"
            | "ServiceUnavailable"
            | "GatewayTimeout"
            | "OperationPreempted"
            | "AnotherOperationInProgress"
            | "TooManyRequests"
            | "Throttled"
    )
}

pub fn is_not_found(e: &azure_core::Error) -> bool {
    e.as_http_error()
        .is_some_and(|h| u16::from(h.status()) == 404)
}

#[derive(Clone)]
pub struct Arm {
    pub http: Arc<dyn HttpClient>,
    pub credential: Arc<dyn TokenCredential>,
    pub endpoint: Url,
}

impl Arm {
    async fn token(&self) -> Result<String, ProviderError> {
        self.credential
            .get_token(&[SCOPE])
            .await
            .map(|t| t.token.secret().to_string())
            .map_err(|e| ProviderError::new(ErrorKind::Unauthorized, format!("no Azure credentials: {e}; set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, use workload or managed identity, or `az login`")))
    }

    fn url(&self, path_and_query: &str) -> Result<Url, ProviderError> {
        self.endpoint.join(path_and_query).map_err(|e| {
            ProviderError::new(
                ErrorKind::Other,
                format!("bad ARM URL {path_and_query}: {e}"),
            )
        })
    }

    /// One request with retries; 404 comes back as `Ok(None)`.
    pub async fn send(
        &self,
        what: &str,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
    ) -> Result<Option<Answer>, ProviderError> {
        with_backoff(policy(), |_| {
            let url = url.clone();
            async move {
                let mut req = Request::new(url, method);
                let token = self.token().await.map_err(|e| (e, None))?;
                req.insert_header(headers::AUTHORIZATION, format!("Bearer {token}"));
                if let Some(b) = body {
                    req.insert_header(headers::CONTENT_TYPE, "application/json");
                    req.set_body(serde_json::to_vec(b).unwrap_or_default());
                }
                let resp = self.http.execute_request(&req).await.map_err(|e| {
                    (
                        ProviderError::new(ErrorKind::Unavailable, format!("{what}: {e}")),
                        None,
                    )
                })?;
                let (status, headers, body) = resp.deconstruct();
                let bytes = body.collect().await.map_err(|e| {
                    (
                        ProviderError::new(ErrorKind::Unavailable, format!("{what}: {e}")),
                        None,
                    )
                })?;
                let json: serde_json::Value = if bytes.is_empty() {
                    serde_json::Value::Null
                } else {
                    serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
                };
                if u16::from(status) == 404 {
                    return Ok(None);
                }
                let request_id = headers.get_optional_string(&headers::REQUEST_ID);
                match classify(status, &json, what, request_id.as_deref()) {
                    Some(e) => Err((e, retry_after(&headers))),
                    None => Ok(Some(Answer {
                        status,
                        headers,
                        body: json,
                    })),
                }
            }
        })
        .await
    }

    /// Waits for the long-running operation a 201/202 answer points at (`Azure-AsyncOperation`
    /// preferred, `Location` otherwise) and fails if it ends `Failed` or `Canceled`.
    pub async fn wait(&self, what: &str, headers: &Headers) -> Result<(), ProviderError> {
        let async_op = headers.get_optional_string(&headers::AZURE_ASYNCOPERATION);
        let location = headers.get_optional_string(&headers::LOCATION);
        let (url, by_status) = match (async_op, location) {
            (Some(u), _) => (u, true),
            (None, Some(u)) => (u, false),
            (None, None) => return Ok(()),
        };
        let url = Url::parse(&url).map_err(|e| {
            ProviderError::new(ErrorKind::Other, format!("{what}: bad operation URL: {e}"))
        })?;
        let mut wait = retry_after(headers).unwrap_or(Duration::from_millis(200));
        for _ in 0..3600 {
            tokio::time::sleep(wait.min(Duration::from_secs(10))).await;
            let Some(answer) = self.send(what, Method::Get, url.clone(), None).await? else {
                // The operation record is gone: ARM only drops it once it finished.
                return Ok(());
            };
            wait = retry_after(&answer.headers).unwrap_or(Duration::from_millis(500));
            if by_status {
                match answer
                    .body
                    .get("status")
                    .and_then(|s| s.as_str())
                    .unwrap_or("InProgress")
                {
                    "Succeeded" => return Ok(()),
                    "Failed" | "Canceled" => {
                        let err = answer.body.get("error").cloned().unwrap_or_default();
                        let code = err.get("code").and_then(|c| c.as_str()).unwrap_or("");
                        return Err(ProviderError::new(
                            if is_transient_operation_error(code) {
                                ErrorKind::OperationFailed
                            } else {
                                ErrorKind::Rejected
                            },
                            format!(
                                "{what}: the operation ended {}: {}",
                                answer.body["status"], err
                            ),
                        ));
                    }
                    _ => {}
                }
            } else if u16::from(answer.status) != 202 {
                return Ok(());
            }
        }
        Err(ProviderError::new(
            ErrorKind::Unavailable,
            format!("{what}: the operation did not finish"),
        ))
    }

    /// The URL of the resource an ARM id names, at `api_version`.
    pub fn resource_url(&self, id: &str, api_version: &str) -> Result<Url, ProviderError> {
        self.url(&format!("{id}?api-version={api_version}"))
    }

    /// Replaces a resource's tags (`PATCH {"tags": ...}`, ARM's UpdateTags), waiting for the
    /// operation if ARM answers with one.
    pub async fn patch_tags(
        &self,
        what: &str,
        id: &str,
        api_version: &str,
        tags: &serde_json::Value,
    ) -> Result<(), ProviderError> {
        let url = self.resource_url(id, api_version)?;
        let body = serde_json::json!({ "tags": tags });
        match self.send(what, Method::Patch, url, Some(&body)).await? {
            Some(answer) => self.wait(what, &answer.headers).await,
            None => Err(ProviderError::new(
                ErrorKind::NotFound,
                format!("{what}: {id} is gone"),
            )),
        }
    }

    pub fn resource_group_url(&self, subscription: &str, name: &str) -> Result<Url, ProviderError> {
        self.url(&format!(
            "/subscriptions/{subscription}/resourcegroups/{name}?api-version=2021-04-01"
        ))
    }

    /// The public IP addresses of a resource group (the network API version the SDK speaks).
    pub fn public_ips_url(&self, subscription: &str, group: &str) -> Result<Url, ProviderError> {
        self.url(&format!(
            "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Network/publicIPAddresses?api-version=2024-03-01"
        ))
    }

    pub fn zones_url(&self, subscription: &str, group: &str) -> Result<Url, ProviderError> {
        self.url(&format!(
            "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Network/dnsZones?api-version=2018-05-01"
        ))
    }

    pub fn record_sets_url(
        &self,
        subscription: &str,
        group: &str,
        zone: &str,
    ) -> Result<Url, ProviderError> {
        self.url(&format!(
            "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Network/dnsZones/{zone}/recordsets?api-version=2018-05-01"
        ))
    }

    pub fn resources_in_group_url(
        &self,
        subscription: &str,
        name: &str,
    ) -> Result<Url, ProviderError> {
        self.url(&format!(
            "/subscriptions/{subscription}/resourceGroups/{name}/resources?api-version=2021-04-01"
        ))
    }
}

/// Every item of an ARM list, following `nextLink`; `None` when the list's parent is gone.
pub(crate) async fn list_all(
    p: &crate::provider::AzureProvider,
    first: Result<azure_core::Url, ProviderError>,
    what: &str,
) -> Result<Option<Vec<serde_json::Value>>, ProviderError> {
    let mut url = first?;
    let mut items = Vec::new();
    loop {
        let Some(answer) = p.arm.send(what, Method::Get, url.clone(), None).await? else {
            return Ok(None);
        };
        items.extend(answer.body["value"].as_array().cloned().unwrap_or_default());
        match answer.body["nextLink"].as_str().filter(|l| !l.is_empty()) {
            Some(next) => {
                url = azure_core::Url::parse(next).map_err(|e| {
                    ProviderError::new(ErrorKind::Other, format!("bad nextLink {next}: {e}"))
                })?;
            }
            None => return Ok(Some(items)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_not_message_text_set_the_error_kind() {
        assert_eq!(kind_of(404, "ResourceNotFound"), ErrorKind::NotFound);
        assert_eq!(kind_of(409, "Conflict"), ErrorKind::Conflict);
        assert_eq!(
            kind_of(409, "AnotherOperationInProgress"),
            ErrorKind::Unavailable
        );
        assert_eq!(
            kind_of(412, "PreconditionFailed"),
            ErrorKind::PreconditionFailed
        );
        assert_eq!(kind_of(400, "InUseSubnetCannotBeDeleted"), ErrorKind::InUse);
        assert_eq!(kind_of(400, "PublicIPAddressInUse"), ErrorKind::InUse);
        assert_eq!(kind_of(400, "InvalidRequestFormat"), ErrorKind::Rejected);
        assert_eq!(kind_of(429, ""), ErrorKind::Throttled);
        assert_eq!(kind_of(503, ""), ErrorKind::Unavailable);
        assert!(is_transient_operation_error("InternalServerError"));
        assert!(!is_transient_operation_error("InvalidRequestFormat"));
    }
}
