//! The configured AWS provider: SDK clients built from the standard credential chain, the
//! region and an optional endpoint, and its table of resource types (`types.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use matihnet_core::pacing::{Limit, Pacer, PacingReport};
use matihnet_core::{ApiCalls, CallCounts, DesiredResource, ResourceTypes, TableProvider};

use crate::calls::CountCalls;
use crate::pacing::{PacedClient, Service};

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
    /// The rates to pace each API to (`core::pacing::effective`): the documented limits unless
    /// the file's `[rate_limits]` says otherwise.
    pub rate_limits: BTreeMap<String, Limit>,
}

pub struct AwsProvider {
    pub(crate) settings: AwsSettings,
    pub(crate) ec2: aws_sdk_ec2::Client,
    pub(crate) elb: aws_sdk_elasticloadbalancingv2::Client,
    pub(crate) route53: aws_sdk_route53::Client,
    types: ResourceTypes<AwsProvider>,
    calls: Arc<ApiCalls>,
    pub(crate) pacer: Arc<Pacer>,
    /// Route53 changes queued per hosted zone; Route53 takes at most 1,000 in one request.
    pub(crate) record_batches: matihnet_core::batches::Batches<aws_sdk_route53::types::Change>,
    /// The account's hosted zones as the first zone create of this command listed them, kept
    /// current with this command's own creates and deletes.
    pub(crate) known_zones:
        tokio::sync::OnceCell<std::sync::Mutex<Vec<aws_sdk_route53::types::HostedZone>>>,
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
        // Standard retries: the rate is kept by `pacing`, per documented bucket (finer than the
        // SDK's adaptive mode, whose limiter is one per client and learns the rate only by
        // being throttled). Enough attempts to ride out throttling and the eventual
        // consistency of new objects.
        let retry = RetryConfig::standard()
            .with_max_attempts(10)
            .with_initial_backoff(std::time::Duration::from_millis(200))
            .with_max_backoff(std::time::Duration::from_secs(20));
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http.clone())
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
        let pacer = Arc::new(Pacer::new(settings.rate_limits.clone()));
        let paced = |service| PacedClient::new(http.clone(), Arc::clone(&pacer), service);
        let calls = Arc::new(ApiCalls::new());
        let count = CountCalls(Arc::clone(&calls));
        // Route53 is a global service signed in us-east-1.
        let route53_conf = aws_sdk_route53::config::Builder::from(&shared)
            .region(Region::new("us-east-1"))
            .http_client(paced(Service::Route53))
            .interceptor(count.clone())
            .build();
        let ec2_conf = aws_sdk_ec2::config::Builder::from(&shared)
            .http_client(paced(Service::Ec2))
            .interceptor(count.clone())
            .build();
        let elb_conf = aws_sdk_elasticloadbalancingv2::config::Builder::from(&shared)
            .http_client(paced(Service::Elbv2))
            .interceptor(count)
            .build();
        AwsProvider {
            ec2: aws_sdk_ec2::Client::from_conf(ec2_conf),
            elb: aws_sdk_elasticloadbalancingv2::Client::from_conf(elb_conf),
            route53: aws_sdk_route53::Client::from_conf(route53_conf),
            settings,
            types: types::table(),
            calls,
            pacer,
            record_batches: matihnet_core::batches::Batches::new(1000),
            known_zones: tokio::sync::OnceCell::new(),
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

    fn pacing(&self) -> BTreeMap<String, PacingReport> {
        self.pacer.report()
    }
}
