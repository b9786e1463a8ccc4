//! The configured AWS provider: SDK clients built from the standard credential chain, the
//! region and an optional endpoint, and the dispatch of each call to its resource type.

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use matihnet_core::{
    Attrs, DesiredResource, ErrorKind, OperationContext, Provider, ProviderError, ProviderResult,
    ResourceSchema,
};

use crate::map::{self, NatMode};
use crate::{dns, nlb, vpc};

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
        // Standard retry mode, with enough attempts to ride out throttling and the eventual
        // consistency of objects created a moment ago.
        let retry = RetryConfig::standard()
            .with_max_attempts(10)
            .with_initial_backoff(std::time::Duration::from_millis(200))
            .with_max_backoff(std::time::Duration::from_secs(20));
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .retry_config(retry)
            .region(Region::new(settings.region.clone()));
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let shared = loader.load().await;
        // Route53 is a global service signed in us-east-1.
        let route53_conf = aws_sdk_route53::config::Builder::from(&shared)
            .region(Region::new("us-east-1"))
            .build();
        AwsProvider {
            ec2: aws_sdk_ec2::Client::new(&shared),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&shared),
            route53: aws_sdk_route53::Client::from_conf(route53_conf),
            settings,
        }
    }
}

pub(crate) use matihnet_core::value::attrs::{merged as merge, text, texts};

fn unknown(kind: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::Other,
        format!("the aws provider has no resource type `{kind}`"),
    )
}

#[async_trait]
impl Provider for AwsProvider {
    fn name(&self) -> &str {
        "aws"
    }

    fn schemas(&self) -> Vec<ResourceSchema> {
        map::schemas()
    }

    fn map_resources(&self, neutral: Vec<DesiredResource>) -> Vec<DesiredResource> {
        map::map_resources(&self.settings, neutral)
    }

    async fn read(
        &self,
        ctx: &OperationContext,
        prior: &Attrs,
    ) -> Result<Option<Attrs>, ProviderError> {
        match ctx.addr.kind.as_str() {
            "network" => vpc::read_vpc(self, prior).await,
            "subnet" => vpc::read_subnet(self, prior).await,
            "internet_gateway" => vpc::read_igw(self, prior).await,
            "nat_gateway" => vpc::read_nat(self, prior).await,
            "route_table" => vpc::read_route_table(self, prior).await,
            "frontend" => nlb::read(self, prior).await,
            "dns_zone" => dns::read_zone(self, prior).await,
            "dns_record" => dns::read_record(self, prior).await,
            other => Err(unknown(other)),
        }
    }

    async fn create(&self, ctx: &OperationContext, desired: &Attrs) -> ProviderResult<Attrs> {
        match ctx.addr.kind.as_str() {
            "network" => vpc::create_vpc(self, ctx, desired).await,
            "subnet" => vpc::create_subnet(self, ctx, desired).await,
            "internet_gateway" => vpc::create_igw(self, ctx, desired).await,
            "nat_gateway" => vpc::create_nat(self, ctx, desired).await,
            "route_table" => vpc::create_route_table(self, ctx, desired).await,
            "frontend" => nlb::create(self, ctx, desired).await,
            "dns_zone" => dns::create_zone(self, ctx, desired).await,
            "dns_record" => dns::upsert_record(self, desired, None)
                .await
                .map_err(Into::into),
            other => Err(unknown(other).into()),
        }
    }

    async fn update(
        &self,
        ctx: &OperationContext,
        prior: &Attrs,
        desired: &Attrs,
    ) -> ProviderResult<Attrs> {
        match ctx.addr.kind.as_str() {
            "network" => vpc::update_vpc(self, ctx, prior, desired).await,
            "subnet" => vpc::update_tags(self, ctx, text(prior, "id"), desired)
                .await
                .map(|()| merge(prior, desired))
                .map_err(Into::into),
            "route_table" => {
                vpc::update_tags(self, ctx, text(prior, "id"), desired).await?;
                vpc::update_route_table(self, prior, desired).await
            }
            "frontend" => Ok(merge(prior, desired)),
            "dns_record" => dns::upsert_record(self, desired, Some(prior))
                .await
                .map_err(Into::into),
            "internet_gateway" | "nat_gateway" => {
                vpc::update_tags(self, ctx, text(prior, "id"), desired)
                    .await
                    .map(|()| merge(prior, desired))
                    .map_err(Into::into)
            }
            // Every other attribute of a zone forces a new one.
            "dns_zone" => Ok(merge(prior, desired)),
            other => Err(unknown(other).into()),
        }
    }

    async fn delete(&self, ctx: &OperationContext, prior: &Attrs) -> Result<(), ProviderError> {
        match ctx.addr.kind.as_str() {
            "network" => vpc::delete_vpc(self, prior).await,
            "subnet" => vpc::delete_subnet(self, prior).await,
            "internet_gateway" => vpc::delete_igw(self, prior).await,
            "nat_gateway" => vpc::delete_nat(self, prior).await,
            "route_table" => vpc::delete_route_table(self, prior).await,
            "frontend" => nlb::delete(self, prior).await,
            "dns_zone" => dns::delete_zone(self, prior).await,
            "dns_record" => dns::delete_record(self, prior).await,
            other => Err(unknown(other)),
        }
    }
}
