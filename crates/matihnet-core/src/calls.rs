//! Counting the API calls a provider makes, per operation kind (`ec2.CreateVpc`,
//! `compute.networks.insert`): what users and benchmarks read to see how a run spends a cloud's
//! rate limits. Every attempt counts, retries included, since every attempt is metered.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Calls made, by operation kind.
pub type CallCounts = BTreeMap<String, u64>;

/// A provider's counter: shared by its tasks, read when a command reports.
#[derive(Debug, Default)]
pub struct ApiCalls {
    counts: Mutex<CallCounts>,
}

impl ApiCalls {
    pub fn new() -> ApiCalls {
        ApiCalls::default()
    }

    /// One more call of `operation`.
    pub fn record(&self, operation: &str) {
        // A panic elsewhere while the lock was held leaves whole counts behind.
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *counts.entry(operation.to_string()).or_insert(0) += 1;
    }

    /// The counts so far.
    pub fn snapshot(&self) -> CallCounts {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The total of some counts.
pub fn total(counts: &CallCounts) -> u64 {
    counts.values().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_per_operation() {
        let calls = ApiCalls::new();
        calls.record("ec2.CreateVpc");
        calls.record("ec2.CreateVpc");
        calls.record("route53.GetChange");
        let snap = calls.snapshot();
        assert_eq!(snap["ec2.CreateVpc"], 2);
        assert_eq!(snap["route53.GetChange"], 1);
        assert_eq!(total(&snap), 3);
    }
}
