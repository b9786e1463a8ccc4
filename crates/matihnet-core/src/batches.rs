//! Writes that arrive together for one container (a Route53 hosted zone, a Cloud DNS managed
//! zone) go out as one request where the API takes many changes at once: the clouds meter
//! requests, not records, so a zone written one change at a time spends its rate on requests.
//!
//! The first write queued for a key leads: it waits a short window and its turn at the API's
//! rate, then sends everything queued by then. Each caller still gets its own answer: a batch the
//! cloud refuses is split and every item is sent alone by the provider, so one bad record fails
//! its own resource and not its neighbours.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::{ErrorKind, ProviderError};

/// How long the first write of a key waits for others: short against a DNS change's wait
/// (seconds), long enough for the writes one engine step starts together.
pub const WINDOW: Duration = Duration::from_millis(25);

/// Where one queued item's result goes.
pub type Answer = oneshot::Sender<Result<(), ProviderError>>;

/// Queues of items per key, each item with its caller's answer.
pub struct Batches<T> {
    queues: Mutex<HashMap<String, Vec<(T, Answer)>>>,
    /// The most items one request takes (Route53 and Cloud DNS: 1,000 changes).
    max: usize,
}

impl<T> std::fmt::Debug for Batches<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Batches")
    }
}

impl<T> Batches<T> {
    pub fn new(max: usize) -> Batches<T> {
        Batches {
            queues: Mutex::new(HashMap::new()),
            max: max.max(1),
        }
    }

    /// Queues `item` for `key` and returns whether this caller leads the batch (it found the
    /// queue empty) and where its answer will come.
    pub fn queue(
        &self,
        key: &str,
        item: T,
    ) -> (bool, oneshot::Receiver<Result<(), ProviderError>>) {
        let (tx, rx) = oneshot::channel();
        let mut queues = self
            .queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let queue = queues.entry(key.to_string()).or_default();
        let leads = queue.is_empty();
        queue.push((item, tx));
        (leads, rx)
    }

    /// Whether items wait for `key`.
    pub fn has_queued(&self, key: &str) -> bool {
        self.queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .is_some_and(|q| !q.is_empty())
    }

    /// Takes up to `max` queued items of `key`; the leader takes until nothing is left, and an
    /// item queued after that finds the queue empty and leads the next batch.
    pub fn take(&self, key: &str) -> Vec<(T, Answer)> {
        let mut queues = self
            .queues
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(queue) = queues.get_mut(key) else {
            return Vec::new();
        };
        let n = queue.len().min(self.max);
        let taken: Vec<_> = queue.drain(..n).collect();
        if queue.is_empty() {
            queues.remove(key);
        }
        taken
    }
}

/// Waits for the answer of a queued item.
pub async fn answer(rx: oneshot::Receiver<Result<(), ProviderError>>) -> Result<(), ProviderError> {
    rx.await.unwrap_or_else(|_| {
        Err(ProviderError::new(
            ErrorKind::Other,
            "internal error: a batched change lost its answer",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_item_leads_and_the_leader_takes_what_queued_since() {
        let batches: Batches<u32> = Batches::new(2);
        let (leads, first) = batches.queue("z", 1);
        assert!(leads);
        let (leads, second) = batches.queue("z", 2);
        assert!(!leads);
        let (_, third) = batches.queue("z", 3);
        let (leads, other) = batches.queue("y", 9);
        assert!(leads, "keys queue apart");
        let taken = batches.take("z");
        assert_eq!(taken.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1, 2]);
        assert!(batches.has_queued("z"), "at most `max` per request");
        for (_, tx) in taken {
            let _ = tx.send(Ok(()));
        }
        assert_eq!(answer(first).await, Ok(()));
        assert_eq!(answer(second).await, Ok(()));
        drop(batches.take("z"));
        assert!(!batches.has_queued("z"));
        assert_eq!(answer(third).await.unwrap_err().kind, ErrorKind::Other);
        drop(other);
    }
}
