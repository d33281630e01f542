//! Held pulls (docs/protocol.md §4.9): a pull that finds nothing new waits here until a message arrives on its queue or
//! its suspend time passes; the store wakes it through [`StoreObserver::on_dispatch`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::store::StoreObserver;

struct Waiter {
    offset: i64,
    wake: oneshot::Sender<()>,
}

/// Waiters keyed by (topic, queue).
#[derive(Default)]
pub struct PullHoldService {
    waiters: Mutex<HashMap<(String, i32), Vec<Waiter>>>,
    count: AtomicUsize,
    stop: CancellationToken,
}

impl std::fmt::Debug for PullHoldService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullHoldService")
            .field("held", &self.count.load(Ordering::Relaxed))
            .finish()
    }
}

impl PullHoldService {
    /// Waits until the queue's max offset passes `offset`, the timeout passes, or the broker stops.
    /// `current_max` is re-read after registering, so an arrival between the failed read and the
    /// registration is never missed.
    pub async fn hold(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        timeout: Duration,
        current_max: impl Fn() -> i64,
    ) {
        let (tx, rx) = oneshot::channel();
        {
            let mut w = self.waiters.lock();
            w.entry((topic.to_string(), queue_id))
                .or_default()
                .push(Waiter { offset, wake: tx });
            self.count.fetch_add(1, Ordering::AcqRel);
        }
        if current_max() > offset {
            self.wake(topic, queue_id, i64::MAX);
        }
        tokio::select! {
            _ = rx => {}
            _ = tokio::time::sleep(timeout) => {}
            _ = self.stop.cancelled() => {}
        }
        self.prune(topic, queue_id);
    }

    /// Wakes the pulls on a queue waiting below `max_offset`. Called for every stored message, so it returns
    /// at once when nothing is held.
    pub fn wake(&self, topic: &str, queue_id: i32, max_offset: i64) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut w = self.waiters.lock();
        let key = (topic.to_string(), queue_id);
        if let Some(list) = w.get_mut(&key) {
            let mut kept = Vec::with_capacity(list.len());
            for waiter in list.drain(..) {
                if waiter.offset < max_offset {
                    let _ = waiter.wake.send(());
                    self.count.fetch_sub(1, Ordering::AcqRel);
                } else {
                    kept.push(waiter);
                }
            }
            if kept.is_empty() {
                w.remove(&key);
            } else {
                *list = kept;
            }
        }
    }

    /// Drops waiters whose pull already returned (timeout path).
    fn prune(&self, topic: &str, queue_id: i32) {
        let mut w = self.waiters.lock();
        let key = (topic.to_string(), queue_id);
        if let Some(list) = w.get_mut(&key) {
            let before = list.len();
            list.retain(|x| !x.wake.is_closed());
            self.count.fetch_sub(before - list.len(), Ordering::AcqRel);
            if list.is_empty() {
                w.remove(&key);
            }
        }
    }

    /// Releases every held pull (shutdown), so connections can drain.
    pub fn stop(&self) {
        self.stop.cancel();
    }
}

/// A dispatched record wakes the pulls held on its queue.
impl StoreObserver for PullHoldService {
    fn on_dispatch(&self, topic: &str, queue_id: i32, max_offset: i64) {
        self.wake(topic, queue_id, max_offset);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn wake_releases_only_waiters_below_the_new_max() {
        let s = Arc::new(PullHoldService::default());
        let s2 = s.clone();
        let held =
            tokio::spawn(async move { s2.hold("T", 0, 5, Duration::from_secs(30), || 5).await });
        while s.count.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        s.wake("T", 0, 5); // not past offset 5: stays held
        s.wake("T", 1, 100); // other queue
        assert_eq!(
            s.count.load(Ordering::Acquire),
            1,
            "wrong-queue or not-newer arrivals keep the pull held"
        );
        s.wake("T", 0, 6);
        tokio::time::timeout(Duration::from_secs(5), held)
            .await
            .expect("woken")
            .expect("join");
        assert_eq!(s.count.load(Ordering::Acquire), 0);
    }

    #[tokio::test]
    async fn arrival_before_registration_is_not_missed() {
        let s = PullHoldService::default();
        tokio::time::timeout(
            Duration::from_secs(5),
            s.hold("T", 0, 5, Duration::from_secs(30), || 6),
        )
        .await
        .expect("returns at once");
    }
}
