//! Paces every AWS request to its API's documented rate (`core::pacing`) at the HTTP layer,
//! below the SDK's retries: every attempt draws a token, as AWS meters every attempt, and a
//! throttled answer lowers that API's rate. The SDK's interceptors are synchronous, so the wait
//! lives in a wrapper around the HTTP connector, where a request may await.

use std::sync::Arc;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use matihnet_core::pacing::Pacer;

/// Which SDK client a connector serves: it decides the bucket a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Ec2,
    Elbv2,
    Route53,
}

/// EC2's documented split: actions that change something draw from the mutating bucket.
const EC2_MUTATING: [&str; 14] = [
    "Create",
    "Delete",
    "Modify",
    "Allocate",
    "Release",
    "Associate",
    "Disassociate",
    "Attach",
    "Detach",
    "Replace",
    "Authorize",
    "Revoke",
    "Run",
    "Terminate",
];

/// The `Action` of a Query-protocol form body (EC2, ELBv2).
fn action(body: &[u8]) -> Option<&str> {
    std::str::from_utf8(body)
        .ok()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
}

/// EC2's bucket for an action: `ec2-mutating` or `ec2-non-mutating`.
pub fn ec2_bucket(action: &str) -> &'static str {
    if EC2_MUTATING.iter().any(|m| action.starts_with(m)) {
        "ec2-mutating"
    } else {
        "ec2-non-mutating"
    }
}

/// The bucket a request of `service` draws from.
pub(crate) fn api_of(service: Service, body: Option<&[u8]>) -> Option<&'static str> {
    match service {
        Service::Route53 => Some("route53"),
        Service::Ec2 => body.and_then(action).map(ec2_bucket),
        // ELB documents its non-mutating bucket; the mutating ones go unpaced.
        Service::Elbv2 => body
            .and_then(action)
            .filter(|a| a.starts_with("Describe"))
            .map(|_| "elbv2-non-mutating"),
    }
}

/// Whether an error answer is AWS refusing for rate: EC2 answers `RequestLimitExceeded` with a
/// 503; Route53 and ELBv2 answer `Throttling` / `ThrottlingException` with a 400.
fn is_throttling(status: u16, body: &[u8]) -> bool {
    if status == 503 {
        return true;
    }
    let text = String::from_utf8_lossy(body);
    status == 400
        && (text.contains("<Code>Throttling</Code>")
            || text.contains("ThrottlingException")
            || text.contains("RequestLimitExceeded"))
}

#[derive(Debug, Clone)]
pub(crate) struct PacedClient {
    inner: SharedHttpClient,
    pacer: Arc<Pacer>,
    service: Service,
}

impl PacedClient {
    pub fn new(inner: SharedHttpClient, pacer: Arc<Pacer>, service: Service) -> PacedClient {
        PacedClient {
            inner,
            pacer,
            service,
        }
    }
}

impl HttpClient for PacedClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(PacedConnector {
            inner: self.inner.http_connector(settings, components),
            pacer: Arc::clone(&self.pacer),
            service: self.service,
        })
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct PacedConnector {
    inner: SharedHttpConnector,
    pacer: Arc<Pacer>,
    service: Service,
}

impl HttpConnector for PacedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let api = api_of(self.service, request.body().bytes());
        // Checked here, in the calling task, where `prepaid`'s scope is visible.
        let paid = api.is_some_and(matihnet_core::pacing::take_prepaid);
        let inner = self.inner.clone();
        let pacer = Arc::clone(&self.pacer);
        HttpConnectorFuture::new(async move {
            if let (Some(api), false) = (api, paid) {
                pacer.pace(api).await;
            }
            let mut response = inner.call(request).await?;
            let status = response.status().as_u16();
            if let (Some(api), 400 | 503) = (api, status) {
                // Error answers are small; reading one here and handing its bytes on lets the
                // pacer learn of throttling without the SDK's error types.
                let body = response.take_body();
                let bytes = match ByteStream::new(body).collect().await {
                    Ok(b) => b.into_bytes(),
                    Err(e) => {
                        return Err(aws_smithy_runtime_api::client::result::ConnectorError::io(
                            Box::new(e),
                        ))
                    }
                };
                if is_throttling(status, &bytes) {
                    pacer.throttled(api);
                }
                *response.body_mut() = SdkBody::from(bytes);
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_draw_from_their_documented_bucket() {
        let form = |a: &str| format!("Action={a}&Version=2016-11-15").into_bytes();
        assert_eq!(api_of(Service::Route53, None), Some("route53"));
        assert_eq!(
            api_of(Service::Ec2, Some(&form("CreateVpc"))),
            Some("ec2-mutating")
        );
        assert_eq!(
            api_of(Service::Ec2, Some(&form("DescribeVpcs"))),
            Some("ec2-non-mutating")
        );
        assert_eq!(
            api_of(Service::Elbv2, Some(&form("DescribeLoadBalancers"))),
            Some("elbv2-non-mutating")
        );
        assert_eq!(
            api_of(Service::Elbv2, Some(&form("CreateLoadBalancer"))),
            None
        );
    }

    #[test]
    fn throttling_is_told_from_other_refusals() {
        assert!(is_throttling(503, b""));
        assert!(is_throttling(
            400,
            b"<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>"
        ));
        assert!(!is_throttling(
            400,
            b"<ErrorResponse><Error><Code>InvalidChangeBatch</Code></Error></ErrorResponse>"
        ));
    }
}
