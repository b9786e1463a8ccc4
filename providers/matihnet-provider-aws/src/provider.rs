//! The configured AWS provider: SDK clients built from the standard credential chain, the
//! region and an optional endpoint, and its table of resource types (`types.rs`).

use std::sync::Arc;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use matihnet_core::{ApiCalls, CallCounts, DesiredResource, ResourceTypes, TableProvider};

use crate::calls::CountCalls;

use crate::map::{self, NatMode};
use crate::types;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    pub environment: String,
    pub region: String,
    pub availability_zones: Vec<String>,
    /// `[aws] endpoint_url`; `AWS_ENDPOINT_URL` is read by the SDK itself when this is unset.
    pub endpoint_url: Option<String>,
    pub nat: NatMode,
}

pub struct AwsProvider {
    pub(crate) settings: AwsSettings,
    pub(crate) ec2: aws_sdk_ec2::Client,
    pub(crate) elb: aws_sdk_elasticloadbalancingv2::Client,
    pub(crate) route53: aws_sdk_route53::Client,
    types: ResourceTypes<AwsProvider>,
    calls: Arc<ApiCalls>,
    pub(crate) record_batches: crate::record_batches::RecordBatches,
}

impl AwsProvider {
    /// Loads credentials and configuration from the standard AWS chain (environment, profile,
    /// SSO, web identity, container and instance metadata).
    pub async fn connect(settings: AwsSettings) -> AwsProvider {
        // One HTTP/TLS stack (hyper + rustls with ring) for all three clients.
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        // Adaptive retry mode: the standard retries, plus a client-side rate limiter per client
        // (EC2, ELBv2, Route53) that slows that API alone once it throttles, so a run at
        // Route53's five requests a second does not spend its attempts on refusals. Enough
        // attempts to ride out throttling and the eventual consistency of new objects.
        let retry = RetryConfig::adaptive()
            .with_max_attempts(10)
            .with_initial_backoff(std::time::Duration::from_millis(200))
            .with_max_backoff(std::time::Duration::from_secs(20));
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .retry_config(retry)
            .region(Region::new(settings.region.clone()));
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
            // An emulator on this machine gets fixed test credentials: a profile's real keys
            // never leave for it, and a rehearsal needs none.
            if matihnet_core::endpoint::is_loopback(url) {
                loader = loader.credentials_provider(aws_sdk_ec2::config::Credentials::new(
                    "test",
                    "test",
                    None,
                    None,
                    "matihnet-loopback",
                ));
            }
        }
        let shared = loader.load().await;
        let calls = Arc::new(ApiCalls::new());
        let count = CountCalls(Arc::clone(&calls));
        // Route53 is a global service signed in us-east-1.
        let route53_conf = aws_sdk_route53::config::Builder::from(&shared)
            .region(Region::new("us-east-1"))
            .interceptor(count.clone())
            .build();
        let ec2_conf = aws_sdk_ec2::config::Builder::from(&shared)
            .interceptor(count.clone())
            .build();
        let elb_conf = aws_sdk_elasticloadbalancingv2::config::Builder::from(&shared)
            .interceptor(count)
            .build();
        AwsProvider {
            ec2: aws_sdk_ec2::Client::from_conf(ec2_conf),
            elb: aws_sdk_elasticloadbalancingv2::Client::from_conf(elb_conf),
            route53: aws_sdk_route53::Client::from_conf(route53_conf),
            settings,
            types: types::table(),
            calls,
            record_batches: crate::record_batches::RecordBatches::default(),
        }
    }
}

impl TableProvider for AwsProvider {
    fn name(&self) -> &str {
        "aws"
    }

    fn types(&self) -> &ResourceTypes<AwsProvider> {
        &self.types
    }

    fn map_resources(&self, neutral: Vec<DesiredResource>) -> Vec<DesiredResource> {
        map::map_resources(&self.settings, neutral)
    }

    fn api_calls(&self) -> CallCounts {
        self.calls.snapshot()
    }
}
