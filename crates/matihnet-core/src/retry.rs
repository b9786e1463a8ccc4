//! Retries with exponential backoff and jitter for throttling and transient failures, shared by
//! the providers whose SDKs do not retry on their own (and by the fake, which plays a cloud).

use std::future::Future;
use std::time::Duration;

use crate::{ErrorKind, ProviderError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first one included.
    pub max_attempts: u32,
    /// Of those, how many may end in a failed long-running operation (each costs a whole
    /// operation, so the budget is smaller than for a throttled request).
    pub max_failed_operations: u32,
    pub base_delay: Duration,
    /// The longest single wait: backing off further only makes a throttled apply slower than
    /// the cloud's own recovery (ten 503s in a row took 53 s with a 30 s cap).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            // Enough to ride out ten throttled answers in a row (about 30 s at most with the
            // cap), which real clouds give a busy subscription or project.
            max_attempts: 12,
            max_failed_operations: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(4),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1`: base x 2^attempt, capped, with "full jitter" so
    /// that many clients throttled at once do not come back in step.
    pub fn delay(&self, attempt: u32, seed: u64) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX));
        let cap = exp.min(self.max_delay);
        let millis = cap.as_millis().max(1) as u64;
        // A cheap deterministic mix; the spread matters, not its quality.
        let mixed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(u64::from(attempt).wrapping_mul(1442695040888963407));
        Duration::from_millis(millis / 2 + (mixed >> 33) % (millis / 2 + 1))
    }

    /// Retries only failed operations, for a loop around a call that retries throttling itself.
    pub fn failed_operations_only(self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_failed_operations,
            ..self
        }
    }
}

/// Whether an error is worth another attempt.
pub fn is_retryable(e: &ProviderError) -> bool {
    matches!(
        e.kind,
        ErrorKind::Throttled | ErrorKind::Unavailable | ErrorKind::OperationFailed
    )
}

/// A retry about to happen, for the progress line ("retrying in 1.6 s: 503 ...").
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RetryNotice {
    /// The attempt that failed, from 1.
    pub attempt: u32,
    pub max_attempts: u32,
    pub wait: Duration,
    pub reason: String,
}

/// Receives the retries of the calls awaited inside [`reporting_retries`].
pub type RetryReporter = std::sync::Arc<dyn Fn(&RetryNotice) + Send + Sync>;

tokio::task_local! {
    static REPORTER: RetryReporter;
}

/// Runs `fut`, sending every retry that [`with_backoff`] makes inside it to `reporter`. The
/// executor wraps each provider call in this, so the user sees why a resource takes long
/// without the Provider trait carrying a callback.
pub async fn reporting_retries<F: Future>(reporter: RetryReporter, fut: F) -> F::Output {
    REPORTER.scope(reporter, fut).await
}

fn report(notice: &RetryNotice) {
    let _ = REPORTER.try_with(|r| r(notice));
}

/// Hands a retry made elsewhere (inside a provider plugin's process) to the reporter of the
/// task awaiting it, as if [`with_backoff`] had made it here.
pub fn report_forwarded(notice: &RetryNotice) {
    report(notice);
}

/// Runs `attempt` until it succeeds, fails for good, or the attempts run out. A server's
/// `Retry-After` comes back through `retry_after` and wins over the computed delay (capped by
/// the policy's `max_delay` too, so one header cannot stall an apply).
pub async fn with_backoff<T, F, Fut>(
    policy: RetryPolicy,
    mut attempt: F,
) -> Result<T, ProviderError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, (ProviderError, Option<Duration>)>>,
{
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    let mut n = 0;
    let mut failed_operations = 0;
    loop {
        match attempt(n).await {
            Ok(v) => return Ok(v),
            Err((e, retry_after)) => {
                if e.kind == ErrorKind::OperationFailed {
                    failed_operations += 1;
                }
                let out_of_budget = n + 1 >= policy.max_attempts
                    || (e.kind == ErrorKind::OperationFailed
                        && failed_operations >= policy.max_failed_operations);
                if !is_retryable(&e) || out_of_budget {
                    return Err(e);
                }
                let wait = retry_after
                    .map(|w| w.min(policy.max_delay.max(Duration::from_secs(30))))
                    .unwrap_or_else(|| policy.delay(n, seed));
                report(&RetryNotice {
                    attempt: n + 1,
                    max_attempts: policy.max_attempts,
                    wait,
                    reason: e.message.clone(),
                });
                tokio::time::sleep(wait).await;
                n += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            max_failed_operations: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        };
        for attempt in 0..10 {
            let d = p.delay(attempt, 42);
            let cap = (Duration::from_millis(100) * 2u32.pow(attempt)).min(p.max_delay);
            assert!(
                d <= cap && d >= cap / 2,
                "attempt {attempt}: {d:?} vs cap {cap:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_throttling_then_succeeds() {
        let policy = RetryPolicy::default();
        let r = with_backoff(policy, |n| async move {
            if n < 3 {
                Err((ProviderError::new(ErrorKind::Throttled, "slow down"), None))
            } else {
                Ok(n)
            }
        })
        .await;
        assert_eq!(r, Ok(3));
    }

    #[tokio::test(start_paused = true)]
    async fn does_not_retry_rejections_and_gives_up_eventually() {
        let policy = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        let mut calls = 0;
        let r: Result<(), _> = with_backoff(policy, |_| {
            calls += 1;
            async { Err((ProviderError::new(ErrorKind::Rejected, "bad"), None)) }
        })
        .await;
        assert_eq!(r.unwrap_err().kind, ErrorKind::Rejected);
        assert_eq!(calls, 1);
        let r: Result<(), _> = with_backoff(policy, |_| async {
            Err((ProviderError::new(ErrorKind::Unavailable, "503"), None))
        })
        .await;
        assert_eq!(r.unwrap_err().kind, ErrorKind::Unavailable);
    }

    #[tokio::test(start_paused = true)]
    async fn issue9_item10_failed_operations_are_retried_within_their_own_budget() {
        let mut calls = 0;
        let r: Result<u32, _> = with_backoff(RetryPolicy::default(), |n| {
            calls += 1;
            async move {
                if n < 2 {
                    Err((
                        ProviderError::new(ErrorKind::OperationFailed, "INTERNAL_ERROR"),
                        None,
                    ))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(
            r,
            Ok(2),
            "two failed operations, then success, in one apply"
        );
        calls = 0;
        let r: Result<(), _> = with_backoff(RetryPolicy::default(), |_| {
            calls += 1;
            async {
                Err((
                    ProviderError::new(ErrorKind::OperationFailed, "INTERNAL_ERROR"),
                    None,
                ))
            }
        })
        .await;
        assert_eq!(r.unwrap_err().kind, ErrorKind::OperationFailed);
        assert_eq!(calls, RetryPolicy::default().max_failed_operations);
    }

    #[tokio::test(start_paused = true)]
    async fn issue9_item10_ten_503s_wait_at_most_the_capped_backoff_and_are_reported() {
        let policy = RetryPolicy::default();
        let notices = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = std::sync::Arc::clone(&notices);
        let reporter: RetryReporter = std::sync::Arc::new(move |n: &RetryNotice| {
            seen.lock().unwrap().push(n.clone());
        });
        let started = tokio::time::Instant::now();
        let r = reporting_retries(
            reporter,
            with_backoff(policy, |n| async move {
                if n < 10 {
                    Err((
                        ProviderError::new(ErrorKind::Unavailable, "503 Service Unavailable"),
                        None,
                    ))
                } else {
                    Ok(())
                }
            }),
        )
        .await;
        assert_eq!(r, Ok(()));
        let waited = started.elapsed();
        // 0.2 + 0.4 + 0.8 + 1.6 + 3.2 + 4 x 5 s at most, whatever the jitter.
        assert!(waited <= Duration::from_millis(26_200), "{waited:?}");
        let notices = notices.lock().unwrap();
        assert_eq!(notices.len(), 10);
        assert_eq!(notices[0].attempt, 1);
        assert!(notices
            .iter()
            .all(|n| n.reason.contains("503") && n.wait <= policy.max_delay));
    }
}
