//! Writes that arrive together for one container (a Route53 hosted zone, a Cloud DNS managed
//! zone) go out as one request where the API takes many changes at once: the clouds meter
//! requests, not records, so a zone written one change at a time spends its rate on requests.
//!
//! The first write queued for a key leads: it waits a short window and its turn at the API's
//! rate, then sends everything queued by then. Each caller still gets its own answer: a batch the
//! cloud refuses is split and every item is sent alone by the provider, so one bad record fails
//! its own resource and not its neighbours.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::pacing::{prepaid, Pacer};
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

impl<T: Clone> Batches<T> {
    /// Queues `item` for `key` and waits for its own answer. The caller that found the queue
    /// empty leads: it waits the window, then, for as long as items wait, takes its turn at
    /// `api`'s rate and only then takes the batch (so what arrives while it waits joins it) and
    /// sends it with `send`, which takes that turn's token. Each batch is answered by
    /// [`answer_each`].
    pub async fn submit<F, Fut>(
        &self,
        key: &str,
        item: T,
        pacer: &Pacer,
        api: &'static str,
        send: F,
    ) -> Result<(), ProviderError>
    where
        F: Fn(Vec<T>) -> Fut,
        Fut: Future<Output = Result<(), ProviderError>>,
    {
        let (leads, rx) = self.queue(key, item);
        if leads {
            tokio::time::sleep(WINDOW).await;
            while self.has_queued(key) {
                pacer.pace(api).await;
                let batch = self.take(key);
                prepaid(api, answer_each(batch, &send, is_refusal)).await;
            }
        }
        answer(rx).await
    }
}

/// A batch the cloud turned down for its content, not for the moment: worth splitting.
pub fn is_refusal(e: &ProviderError) -> bool {
    matches!(
        e.kind,
        ErrorKind::Rejected
            | ErrorKind::Conflict
            | ErrorKind::PreconditionFailed
            | ErrorKind::NotFound
    )
}

/// Sends a batch as one request and answers each item; a batch the cloud refuses is sent again
/// item by item, so each gets the answer it alone would get.
pub async fn answer_each<T, F, Fut>(
    batch: Vec<(T, Answer)>,
    send: F,
    refused: impl Fn(&ProviderError) -> bool,
) where
    T: Clone,
    F: Fn(Vec<T>) -> Fut,
    Fut: Future<Output = Result<(), ProviderError>>,
{
    let items: Vec<T> = batch.iter().map(|(t, _)| t.clone()).collect();
    match send(items).await {
        Err(e) if batch.len() > 1 && refused(&e) => {
            for (item, tx) in batch {
                let _ = tx.send(send(vec![item]).await);
            }
        }
        result => {
            for (_, tx) in batch {
                let _ = tx.send(result.clone());
            }
        }
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
    async fn a_refused_batch_is_split_and_each_item_gets_its_own_answer() {
        let batches: std::sync::Arc<Batches<u32>> = std::sync::Arc::new(Batches::new(10));
        let pacer = std::sync::Arc::new(Pacer::unlimited());
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let send = |items: Vec<u32>| {
            let requests = std::sync::Arc::clone(&requests);
            async move {
                requests.lock().unwrap().push(items.clone());
                if items.contains(&13) {
                    Err(ProviderError::new(ErrorKind::Rejected, "13 is bad"))
                } else {
                    Ok(())
                }
            }
        };
        let results = futures_join(&batches, &pacer, &send, [1, 13, 2]).await;
        assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
        assert_eq!(results[1].as_ref().unwrap_err().kind, ErrorKind::Rejected);
        // One request of three, refused, then each alone.
        assert_eq!(requests.lock().unwrap().len(), 4);
        assert_eq!(requests.lock().unwrap()[0].len(), 3);
    }

    /// Submits the items at once from concurrent tasks.
    async fn futures_join<F, Fut>(
        batches: &std::sync::Arc<Batches<u32>>,
        pacer: &std::sync::Arc<Pacer>,
        send: &F,
        items: [u32; 3],
    ) -> Vec<Result<(), ProviderError>>
    where
        F: Fn(Vec<u32>) -> Fut,
        Fut: Future<Output = Result<(), ProviderError>>,
    {
        let [a, b, c] = items;
        let (ra, rb, rc) = tokio::join!(
            batches.submit("z", a, pacer, "api", send),
            batches.submit("z", b, pacer, "api", send),
            batches.submit("z", c, pacer, "api", send),
        );
        vec![ra, rb, rc]
    }

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
