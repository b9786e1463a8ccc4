//! The faults a test injects into an emulated cloud, counted down as requests and operations
//! use them: throttled requests, server errors, and operations that end failed with an optional
//! code and message. Each cloud keeps its own admin request and response shapes and its own
//! error bodies; this is only what they count.
//!
//! Faults belong to a test run: they are never part of a snapshot.

use std::time::Duration;

#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Faults {
    /// The cloud's documented request rate limits, when enforced.
    pub rate_limits: Option<super::rate_limit::RateLimits>,
    /// Requests still to be throttled (429).
    pub throttle: u32,
    /// What a throttled answer tells the client to wait, where the cloud says it (ARM does).
    pub retry_after_seconds: u64,
    /// Requests still to fail with a server error (ARM's 500, Google's 503).
    pub server_errors: u32,
    /// Operations still to end failed.
    pub fail_operations: u32,
    /// The error code failed operations end with; `None`: the cloud's transient default.
    pub failure_code: Option<String>,
    /// The message failed operations end with, where the cloud lets a test choose it.
    pub failure_message: Option<String>,
}

/// What a request meets instead of the cloud, when a fault is waiting.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RequestFault {
    Throttled { retry_after_seconds: u64 },
    ServerError,
}

/// The error an operation started now is to end with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InjectedFailure {
    pub code: Option<String>,
    pub message: Option<String>,
}

impl Faults {
    /// The next `count` requests are throttled; `retry_after` (at least a second) replaces the
    /// wait a throttled answer names, where the cloud names one.
    pub(crate) fn set_throttle(&mut self, count: u32, retry_after: Option<Duration>) {
        self.throttle = count;
        if let Some(wait) = retry_after {
            self.retry_after_seconds = wait.as_secs().max(1);
        }
    }

    /// Takes the fault the next request meets: throttling first, then server errors, so a test
    /// that asks for both sees them in that order.
    pub(crate) fn take_request_fault(&mut self) -> Option<RequestFault> {
        if self.throttle > 0 {
            self.throttle -= 1;
            return Some(RequestFault::Throttled {
                retry_after_seconds: self.retry_after_seconds.max(1),
            });
        }
        if self.server_errors > 0 {
            self.server_errors -= 1;
            return Some(RequestFault::ServerError);
        }
        None
    }

    /// Takes the failure an operation started now ends with, if one is waiting.
    pub(crate) fn take_operation_failure(&mut self) -> Option<InjectedFailure> {
        if self.fail_operations == 0 {
            return None;
        }
        self.fail_operations -= 1;
        Some(InjectedFailure {
            code: self.failure_code.clone(),
            message: self.failure_message.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_count_down_in_order() {
        let mut f = Faults::default();
        f.set_throttle(1, Some(Duration::from_millis(10)));
        f.server_errors = 1;
        assert_eq!(
            f.take_request_fault(),
            Some(RequestFault::Throttled {
                retry_after_seconds: 1
            })
        );
        assert_eq!(f.take_request_fault(), Some(RequestFault::ServerError));
        assert_eq!(f.take_request_fault(), None);

        f.fail_operations = 1;
        f.failure_code = Some("QUOTA_EXCEEDED".into());
        let failure = f.take_operation_failure().unwrap();
        assert_eq!(failure.code.as_deref(), Some("QUOTA_EXCEEDED"));
        assert_eq!(failure.message, None);
        assert_eq!(f.take_operation_failure(), None);
    }
}
