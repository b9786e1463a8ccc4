//! Request rate limits as the clouds document them, enforced per API with token buckets: a
//! bucket holds at most `capacity` requests and refills `refill_per_second`; a request that
//! finds it empty is throttled in the cloud's own error shape. Off unless a test or a user turns
//! it on (`"rate_limit": true` in a cloud's faults, `LocalCloud::set_rate_limits`, or
//! `MATIHNET_LOCALCLOUD_RATE_LIMIT=1` when the server starts), so that an apply can be shown to
//! ride out real limits here, not only an emulator's unlimited speed.
//!
//! A bucket is named by its key: the cloud decides what one bucket covers (AWS one per API, ARM
//! one per subscription and kind of request, Compute one per project and quota group).

use std::collections::HashMap;

/// One API's documented limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Limit {
    pub capacity: f64,
    pub refill_per_second: f64,
}

impl Limit {
    /// A quota documented per minute, as a bucket holding the minute's worth and refilled at a
    /// sixtieth of it a second: a burst of the whole quota passes, as it does at the start of
    /// Google's interval, and the sustained rate is the quota's.
    pub(crate) const fn per_minute(quota: f64) -> Limit {
        Limit {
            capacity: quota,
            refill_per_second: quota / 60.0,
        }
    }
}

/// What a bucket answered a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Admission {
    /// Let through; `remaining` whole tokens are left (what ARM's `x-ms-ratelimit-remaining-*`
    /// headers report).
    Admitted { remaining: u64 },
    /// Refused; one token is back after `retry_after_seconds` (at least one, as `Retry-After`
    /// counts whole seconds).
    Throttled { retry_after_seconds: u64 },
}

#[derive(Debug, Clone, PartialEq)]
struct Bucket {
    tokens: f64,
    at_ms: u64,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct RateLimits {
    buckets: HashMap<String, Bucket>,
    /// Requests throttled so far.
    pub throttled: u64,
}

impl RateLimits {
    /// Takes one token from the bucket `key` (full the first time it is named) at `now_ms`.
    pub fn take(&mut self, key: &str, limit: Limit, now_ms: u64) -> Admission {
        let bucket = self.buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: limit.capacity,
            at_ms: now_ms,
        });
        let elapsed = now_ms.saturating_sub(bucket.at_ms) as f64 / 1000.0;
        bucket.tokens = (bucket.tokens + elapsed * limit.refill_per_second).min(limit.capacity);
        bucket.at_ms = now_ms;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Admission::Admitted {
                remaining: bucket.tokens.floor() as u64,
            }
        } else {
            self.throttled += 1;
            let wait = (1.0 - bucket.tokens) / limit.refill_per_second.max(f64::MIN_POSITIVE);
            Admission::Throttled {
                retry_after_seconds: (wait.ceil() as u64).max(1),
            }
        }
    }

    /// Takes one token from the bucket `key`; `false` when it is empty.
    pub fn admit(&mut self, key: &str, limit: Limit, now_ms: u64) -> bool {
        matches!(self.take(key, limit, now_ms), Admission::Admitted { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_empties_and_refills_at_its_rate() {
        let limit = Limit {
            capacity: 5.0,
            refill_per_second: 5.0,
        };
        let mut limits = RateLimits::default();
        for _ in 0..5 {
            assert!(limits.admit("route53", limit, 1000));
        }
        assert!(
            !limits.admit("route53", limit, 1000),
            "the sixth in one instant"
        );
        assert!(
            limits.admit("ec2-mutating", limit, 1000),
            "buckets are per API"
        );
        assert!(
            limits.admit("route53", limit, 1200),
            "one token back after 200 ms"
        );
        assert!(!limits.admit("route53", limit, 1200));
        assert_eq!(limits.throttled, 2);
    }

    #[test]
    fn take_reports_what_is_left_and_how_long_to_wait() {
        let limit = Limit {
            capacity: 3.0,
            refill_per_second: 0.5,
        };
        let mut limits = RateLimits::default();
        assert_eq!(
            limits.take("k", limit, 0),
            Admission::Admitted { remaining: 2 }
        );
        limits.take("k", limit, 0);
        assert_eq!(
            limits.take("k", limit, 0),
            Admission::Admitted { remaining: 0 }
        );
        // Half a token a second: the next one is two seconds away.
        assert_eq!(
            limits.take("k", limit, 0),
            Admission::Throttled {
                retry_after_seconds: 2
            }
        );
        assert_eq!(
            limits.take("k", limit, 1000),
            Admission::Throttled {
                retry_after_seconds: 1
            },
            "half a token back after a second"
        );
        assert_eq!(
            limits.take("k", limit, 2000),
            Admission::Admitted { remaining: 0 }
        );
    }

    #[test]
    fn a_per_minute_quota_refills_a_sixtieth_a_second() {
        let limit = Limit::per_minute(1500.0);
        assert_eq!(limit.capacity, 1500.0);
        assert_eq!(limit.refill_per_second, 25.0);
    }
}
