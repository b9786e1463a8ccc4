//! The timing of long-running operations, shared by every emulated cloud: how long a new
//! operation runs (`OperationClock`), and which operations have ended by a given instant, in the
//! order they ended (`due`).
//!
//! Nothing runs in the background: every request first settles the operations whose end has
//! passed, so an outcome depends only on timestamps and survives snapshot and restore. What an
//! operation does when it ends is the cloud's business.

use std::collections::BTreeMap;
use std::time::Duration;

/// How long an operation started now runs: the delay the cloud was created with, or the one a
/// test set since.
#[derive(Debug, Clone)]
pub(crate) struct OperationClock {
    default: Duration,
    current: Option<Duration>,
}

impl OperationClock {
    pub(crate) fn new(default: Duration) -> OperationClock {
        OperationClock {
            default,
            current: None,
        }
    }

    pub(crate) fn delay(&self) -> Duration {
        self.current.unwrap_or(self.default)
    }

    pub(crate) fn delay_ms(&self) -> u64 {
        u64::try_from(self.delay().as_millis()).unwrap_or(u64::MAX)
    }

    pub(crate) fn set_delay(&mut self, delay: Duration) {
        self.current = Some(delay);
    }

    /// Back to the delay the cloud was created with.
    pub(crate) fn reset(&mut self) {
        self.current = None;
    }

    /// When an operation started at `now` ends.
    pub(crate) fn ends_at(&self, now: u64) -> u64 {
        now.saturating_add(self.delay_ms())
    }
}

/// An operation as the clock sees it.
pub(crate) trait Timed {
    /// Milliseconds since the epoch at which the operation ends.
    fn ends_at_ms(&self) -> u64;
    /// Whether its effect has been applied.
    fn settled(&self) -> bool;
    /// Orders operations that end in the same millisecond; clouds that number their operations
    /// use the number, so ties resolve in creation order.
    fn sequence(&self) -> u64 {
        0
    }
    /// Moves the end to `ms` (tests that do not want to wait).
    fn end_at(&mut self, ms: u64);
}

/// The keys of the operations that have ended by `now` and are not settled yet, in the order
/// they ended.
pub(crate) fn due<K: Ord + Clone, T: Timed>(operations: &BTreeMap<K, T>, now: u64) -> Vec<K> {
    let mut due: Vec<(u64, u64, K)> = operations
        .iter()
        .filter(|(_, op)| !op.settled() && op.ends_at_ms() <= now)
        .map(|(k, op)| (op.ends_at_ms(), op.sequence(), k.clone()))
        .collect();
    due.sort();
    due.into_iter().map(|(_, _, k)| k).collect()
}

/// Ends every running operation at `now`; the caller settles them next.
pub(crate) fn end_all_at<K, T: Timed>(operations: &mut BTreeMap<K, T>, now: u64) {
    for op in operations.values_mut() {
        if !op.settled() && op.ends_at_ms() > now {
            op.end_at(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Op {
        ends: u64,
        seq: u64,
        settled: bool,
    }

    impl Timed for Op {
        fn ends_at_ms(&self) -> u64 {
            self.ends
        }
        fn settled(&self) -> bool {
            self.settled
        }
        fn sequence(&self) -> u64 {
            self.seq
        }
        fn end_at(&mut self, ms: u64) {
            self.ends = ms;
        }
    }

    #[test]
    fn due_operations_come_in_the_order_they_ended() {
        let mut ops = BTreeMap::new();
        ops.insert(
            "a",
            Op {
                ends: 30,
                seq: 1,
                settled: false,
            },
        );
        ops.insert(
            "b",
            Op {
                ends: 10,
                seq: 2,
                settled: false,
            },
        );
        ops.insert(
            "c",
            Op {
                ends: 10,
                seq: 1,
                settled: false,
            },
        );
        ops.insert(
            "d",
            Op {
                ends: 5,
                seq: 0,
                settled: true,
            },
        );
        ops.insert(
            "e",
            Op {
                ends: 99,
                seq: 0,
                settled: false,
            },
        );
        assert_eq!(due(&ops, 30), vec!["c", "b", "a"]);
        end_all_at(&mut ops, 40);
        assert_eq!(due(&ops, 40), vec!["c", "b", "a", "e"]);
    }

    #[test]
    fn the_clock_falls_back_to_its_default() {
        let mut clock = OperationClock::new(Duration::from_millis(200));
        assert_eq!(clock.ends_at(1000), 1200);
        clock.set_delay(Duration::from_millis(5));
        assert_eq!(clock.delay_ms(), 5);
        clock.reset();
        assert_eq!(clock.delay(), Duration::from_millis(200));
    }
}
