//! Route53 record changes that arrive together for one hosted zone go out as one
//! `ChangeResourceRecordSets` (and one wait for INSYNC), as Route53's batch API allows: Route53
//! meters about five requests per second per account, so a zone with many records written one
//! change at a time spends its rate on requests, not records.
//!
//! The first change queued for a zone waits a short window for others, then sends them all.
//! Each caller still gets its own answer: a batch Route53 refuses is split and every change is
//! sent alone, so one bad record fails its own resource and not its neighbours.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_route53::types::Change;
use matihnet_core::ProviderError;
use tokio::sync::oneshot;

/// How long the first change of a zone waits for others: short against Route53's INSYNC wait
/// (seconds), long enough for the writes one engine step starts together.
pub(crate) const WINDOW: Duration = Duration::from_millis(25);

/// Route53 takes at most 1,000 changes in one request.
pub(crate) const MAX_CHANGES: usize = 1000;

type Answer = oneshot::Sender<Result<(), ProviderError>>;

#[derive(Default)]
pub(crate) struct RecordBatches {
    queues: Mutex<HashMap<String, Vec<(Change, Answer)>>>,
}

impl std::fmt::Debug for RecordBatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecordBatches")
    }
}

impl RecordBatches {
    /// Queues `change` for `zone` and returns whether this caller leads the batch (it found
    /// the queue empty) and where its answer will come.
    pub fn queue(
        &self,
        zone: &str,
        change: Change,
    ) -> (bool, oneshot::Receiver<Result<(), ProviderError>>) {
        let (tx, rx) = oneshot::channel();
        let mut queues = self
            .queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let queue = queues.entry(zone.to_string()).or_default();
        let leads = queue.is_empty();
        queue.push((change, tx));
        (leads, rx)
    }

    /// Whether changes wait for `zone`.
    pub fn has_queued(&self, zone: &str) -> bool {
        self.queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(zone)
            .is_some_and(|q| !q.is_empty())
    }

    /// Takes up to [`MAX_CHANGES`] queued changes of `zone`; the leader takes until nothing is
    /// left, and a change queued after that finds the queue empty and leads the next batch.
    pub fn take(&self, zone: &str) -> Vec<(Change, Answer)> {
        let mut queues = self
            .queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(queue) = queues.get_mut(zone) else {
            return Vec::new();
        };
        let n = queue.len().min(MAX_CHANGES);
        let taken: Vec<_> = queue.drain(..n).collect();
        if queue.is_empty() {
            queues.remove(zone);
        }
        taken
    }
}
