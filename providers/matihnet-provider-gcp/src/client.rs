//! How every Google call is made: one retry policy, 404 as "gone", and Google errors turned into
//! the engine's kinds by status code.

use google_cloud_gax::error::rpc::StatusDetails;
use matihnet_core::pacing::Pacer;
use matihnet_core::retry::{with_backoff, RetryPolicy};
use matihnet_core::{ApiCalls, ErrorKind, ProviderError};

/// What every call is metered by: its count, and the pace of its quota group.
#[derive(Debug, Default)]
pub(crate) struct Meter {
    pub calls: ApiCalls,
    pub pacer: Pacer,
}

/// The quota group of a call, from how the provider names it ("get network", "create
/// change"): Cloud DNS has one, Compute meters reads and writes apart.
pub(crate) fn quota_group(what: &str) -> &'static str {
    let dns = ["managed zone", "record set", "change"];
    if dns.iter().any(|d| what.contains(d)) {
        "dns"
    } else if what.starts_with("get ") || what.starts_with("list ") {
        "compute-reads"
    } else {
        "compute-writes"
    }
}

/// Maps a Google API error to the engine's kinds, keeping GCP's reason.
pub(crate) fn gcp_error(what: &str, e: &google_cloud_gax::error::Error) -> ProviderError {
    let status = e.http_status_code();
    let message = e
        .status()
        .map(|s| s.message.clone())
        .unwrap_or_else(|| e.to_string());
    // GCP says "in use" with a 400 whose reason (`errors[].reason` in Compute and Cloud DNS
    // bodies) the client keeps as an ErrorInfo detail.
    let in_use = e.status().is_some_and(|s| {
        s.details.iter().any(|d| {
            matches!(d, StatusDetails::ErrorInfo(info)
                if matches!(info.reason.as_str(), "containerNotEmpty" | "resourceInUseByAnotherResource"))
        })
    });
    let kind = match status {
        Some(429) => ErrorKind::Throttled,
        // Compute answers a spent rate quota with 403 `rateLimitExceeded`, not 429.
        Some(403) if is_rate_limited(e) => ErrorKind::Throttled,
        Some(401) | Some(403) => ErrorKind::Unauthorized,
        Some(404) => ErrorKind::NotFound,
        Some(409) => ErrorKind::Conflict,
        Some(412) => ErrorKind::PreconditionFailed,
        Some(400) if in_use => ErrorKind::InUse,
        Some(500..=599) => ErrorKind::Unavailable,
        Some(_) => ErrorKind::Rejected,
        None if e.is_authentication() => ErrorKind::Unauthorized,
        None if e.is_io() || e.is_connect() || e.is_timeout() || e.is_transport() => {
            ErrorKind::Unavailable
        }
        None => ErrorKind::Other,
    };
    ProviderError::new(
        kind,
        format!(
            "{what}: {}{message}",
            status.map(|s| format!("{s} ")).unwrap_or_default()
        ),
    )
}

/// Whether Google refused for rate: 429, or Compute's documented 403 `rateLimitExceeded` /
/// `userRateLimitExceeded`.
pub(crate) fn is_rate_limited(e: &google_cloud_gax::error::Error) -> bool {
    e.http_status_code() == Some(429)
        || (e.http_status_code() == Some(403)
            && e.status().is_some_and(|s| {
                s.details.iter().any(|d| {
                    matches!(d, StatusDetails::ErrorInfo(info)
                        if matches!(info.reason.as_str(), "rateLimitExceeded" | "userRateLimitExceeded"))
                })
            }))
}

pub(crate) fn is_not_found(e: &google_cloud_gax::error::Error) -> bool {
    e.http_status_code() == Some(404)
}

/// The one retry policy of every Google call (core's default: capped backoff, a small budget
/// for failed operations).
pub(crate) fn policy() -> RetryPolicy {
    RetryPolicy::default()
}

/// Runs a call with retries on 429 and 5xx, pacing and counting every attempt; 404 comes back
/// as `Ok(None)`.
pub(crate) async fn call<T, F, Fut>(
    meter: &Meter,
    what: &str,
    mut f: F,
) -> Result<Option<T>, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, google_cloud_gax::error::Error>>,
{
    let group = quota_group(what);
    with_backoff(policy(), |_| {
        let fut = f();
        async move {
            if !matihnet_core::pacing::take_prepaid(group) {
                meter.pacer.pace(group).await;
            }
            meter.calls.record(what);
            match fut.await {
                Ok(v) => Ok(Some(v)),
                Err(e) if is_not_found(&e) => Ok(None),
                Err(e) => {
                    if is_rate_limited(&e) {
                        meter.pacer.throttled(group);
                    }
                    Err((gcp_error(what, &e), None))
                }
            }
        }
    })
    .await
}

/// Every item of a paged Google list, following `nextPageToken`: `send` asks for the page a
/// token names (empty: the first), `field` names a page's items. `None` when the list's parent
/// is gone.
pub(crate) async fn list_pages<T, F, Fut>(
    meter: &Meter,
    what: &str,
    field: &str,
    send: F,
) -> Result<Option<Vec<serde_json::Value>>, ProviderError>
where
    T: serde::Serialize,
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<T, google_cloud_gax::error::Error>>,
{
    let mut items = Vec::new();
    let mut token = String::new();
    loop {
        let Some(page) = call(meter, what, || send(token.clone())).await? else {
            return Ok(None);
        };
        let page = as_json(&page);
        items.extend(page[field].as_array().cloned().unwrap_or_default());
        match page["nextPageToken"].as_str() {
            Some(t) if !t.is_empty() => token = t.to_string(),
            _ => return Ok(Some(items)),
        }
    }
}

pub(crate) fn as_json<T: serde::Serialize>(t: &T) -> serde_json::Value {
    serde_json::to_value(t).unwrap_or_default()
}

pub(crate) fn model<T: serde::de::DeserializeOwned>(
    v: serde_json::Value,
) -> Result<T, ProviderError> {
    serde_json::from_value(v).map_err(|e| {
        ProviderError::new(
            ErrorKind::Other,
            format!("internal error: building a request body: {e}"),
        )
    })
}
