//! Counts every attempt of every AWS call by service and operation (`ec2.CreateVpc`), as the
//! SDK's interceptor sees it just before it goes out: retries and polls count, as AWS meters
//! them.

use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use matihnet_core::ApiCalls;

#[derive(Debug, Clone)]
pub(crate) struct CountCalls(pub Arc<ApiCalls>);

/// `ec2`, `elbv2`, `route53`: the short names the AWS CLI uses.
fn short_service(service: &str) -> String {
    let lower = service.to_ascii_lowercase().replace(' ', "");
    match lower.as_str() {
        "elasticloadbalancingv2" => "elbv2".into(),
        _ => lower,
    }
}

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "matihnet-count-calls"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(m) = cfg.load::<Metadata>() {
            self.0
                .record(&format!("{}.{}", short_service(m.service()), m.name()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_are_the_cli_ones() {
        assert_eq!(short_service("EC2"), "ec2");
        assert_eq!(short_service("Elastic Load Balancing v2"), "elbv2");
        assert_eq!(short_service("Route 53"), "route53");
    }
}
