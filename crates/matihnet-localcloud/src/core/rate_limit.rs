//! Request rate limits as the clouds document them, enforced per API with token buckets: a
//! bucket holds at most `capacity` requests and refills `refill_per_second`; a request that
//! finds it empty is throttled in the cloud's own error shape. Off unless a test or a user turns
//! it on (`"rate_limit": true` in a cloud's faults), so that an apply can be shown to ride out
//! real limits here, not only an emulator's unlimited speed.

use std::collections::HashMap;

/// One API's documented limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Limit {
    pub capacity: f64,
    pub refill_per_second: f64,
}

#[derive(Debug, Clone, PartialEq)]
struct Bucket {
    tokens: f64,
    at_ms: u64,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct RateLimits {
    buckets: HashMap<&'static str, Bucket>,
    /// Requests throttled so far.
    pub throttled: u64,
}

impl RateLimits {
    /// Takes one token from `api`'s bucket at `now_ms`; `false` when it is empty.
    pub fn admit(&mut self, api: &'static str, limit: Limit, now_ms: u64) -> bool {
        let bucket = self.buckets.entry(api).or_insert(Bucket {
            tokens: limit.capacity,
            at_ms: now_ms,
        });
        let elapsed = now_ms.saturating_sub(bucket.at_ms) as f64 / 1000.0;
        bucket.tokens = (bucket.tokens + elapsed * limit.refill_per_second).min(limit.capacity);
        bucket.at_ms = now_ms;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            self.throttled += 1;
            false
        }
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
}
