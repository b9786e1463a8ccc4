//! Turning SDK errors into the engine's `ProviderError`, keeping the AWS error code and request id.

use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::operation::RequestId;
use matihnet_core::{ErrorKind, ProviderError};

/// The error code of an SDK error, if AWS sent one (e.g. `InvalidVpcID.NotFound`).
pub fn code<E: ProvideErrorMetadata>(e: &E) -> Option<&str> {
    e.code()
}

/// Whether AWS says the object does not exist.
pub fn is_not_found<E: ProvideErrorMetadata>(e: &E) -> bool {
    e.code().is_some_and(is_not_found_code)
}

fn is_not_found_code(c: &str) -> bool {
    c.ends_with("NotFound") || c == "NoSuchHostedZone"
}

pub fn to_provider_error<E>(what: &str, e: &E) -> ProviderError
where
    E: ProvideErrorMetadata + RequestId + std::error::Error,
{
    let code = e.code().unwrap_or("");
    let kind = match code {
        "Throttling"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "TooManyRequestsException"
        | "PriorRequestNotComplete" => ErrorKind::Throttled,
        "UnauthorizedOperation"
        | "AuthFailure"
        | "AccessDenied"
        | "AccessDeniedException"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch" => ErrorKind::Unauthorized,
        "InternalError" | "InternalFailure" | "ServiceUnavailable" | "Unavailable" => {
            ErrorKind::Unavailable
        }
        "DependencyViolation"
        | "InvalidIPAddress.InUse"
        | "ResourceInUse"
        | "HostedZoneNotEmpty" => ErrorKind::InUse,
        "DuplicateLoadBalancerName"
        | "DuplicateTargetGroupName"
        | "HostedZoneAlreadyExists"
        | "InvalidSubnet.Conflict" => ErrorKind::Conflict,
        c if is_not_found_code(c) => ErrorKind::NotFound,
        "" => ErrorKind::Unavailable,
        _ => ErrorKind::Rejected,
    };
    let chain = aws_smithy_types::error::display::DisplayErrorContext(e).to_string();
    let message = match (e.code(), e.message()) {
        (Some(c), Some(m)) => format!("{what}: {c}: {m}"),
        (Some(c), None) => format!("{what}: {c}"),
        _ if chain.contains("credentials") || chain.contains("FailedToLoadToken") => {
            return ProviderError::new(
                ErrorKind::Unauthorized,
                format!("{what}: no usable AWS credentials were found by the standard chain (environment, profile, SSO, web identity, container, instance metadata); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run where an IAM role is available"),
            );
        }
        _ => format!("{what}: {chain}"),
    };
    let mut err = ProviderError::new(kind, message);
    if let Some(id) = e.request_id() {
        err = err.with_request_id(id);
    }
    err
}

/// Shorthand for `.map_err(|e| aws(what, e))`.
pub fn aws<E>(what: &'static str) -> impl Fn(E) -> ProviderError
where
    E: ProvideErrorMetadata + RequestId + std::error::Error,
{
    move |e| to_provider_error(what, &e)
}

/// A delete's answer: done, or already gone (also success), or the error.
pub fn gone_or<T, E>(what: &str, r: Result<T, E>) -> Result<(), ProviderError>
where
    E: ProvideErrorMetadata + RequestId + std::error::Error,
{
    match r {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(to_provider_error(what, &e)),
    }
}

pub fn invalid(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ErrorKind::Rejected, message)
}
