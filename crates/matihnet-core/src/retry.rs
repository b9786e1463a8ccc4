//! Retries with exponential backoff and jitter for throttling and transient failures, shared by
//! the providers whose SDKs do not retry on their own (and by the fake, which plays a cloud).

use std::future::Future;
use std::time::Duration;

use crate::{ErrorKind, ProviderError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first one included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
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
}

/// Whether an error is worth another attempt.
pub fn is_retryable(e: &ProviderError) -> bool {
    matches!(e.kind, ErrorKind::Throttled | ErrorKind::Unavailable)
}

/// Runs `attempt` until it succeeds, fails for good, or the attempts run out. A server's
/// `Retry-After` comes back through `retry_after` and wins over the computed delay.
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
    loop {
        match attempt(n).await {
            Ok(v) => return Ok(v),
            Err((e, retry_after)) => {
                if !is_retryable(&e) || n + 1 >= policy.max_attempts {
                    return Err(e);
                }
                let wait = retry_after.unwrap_or_else(|| policy.delay(n, seed));
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
}
