//! Pops waiting for messages (docs/pop-java.md §9): a pop that finds nothing waits here until something is
//! dispatched to one of its topics (the topic or its POP retry topic), an ack frees a FIFO queue, or its poll
//! time passes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::store::StoreObserver;

/// Waiting pops keyed by topic.
#[derive(Default)]
pub struct PopWaiters {
    waiters: Mutex<HashMap<String, Vec<Arc<Notify>>>>,
    count: AtomicUsize,
}

impl std::fmt::Debug for PopWaiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PopWaiters")
            .field("waiting", &self.count.load(Ordering::Relaxed))
            .finish()
    }
}

/// One registered wait; await [`Wait::woken`], and it unregisters when dropped.
pub struct Wait<'a> {
    waiters: &'a PopWaiters,
    topics: Vec<String>,
    notify: Arc<Notify>,
}

impl Wait<'_> {
    /// Resolves on the first arrival in any of the topics since registration.
    pub async fn woken(&self) {
        self.notify.notified().await;
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        let mut w = self.waiters.waiters.lock();
        for t in &self.topics {
            if let Some(list) = w.get_mut(t) {
                let before = list.len();
                list.retain(|n| !Arc::ptr_eq(n, &self.notify));
                self.waiters
                    .count
                    .fetch_sub(before - list.len(), Ordering::AcqRel);
                if list.is_empty() {
                    w.remove(t);
                }
            }
        }
    }
}

impl PopWaiters {
    /// Registers a wait on `topics`. Register before the last read, so an arrival between that read and the
    /// wait is not missed (the wake is kept as a permit).
    pub fn register(&self, topics: &[&str]) -> Wait<'_> {
        let notify = Arc::new(Notify::new());
        let mut w = self.waiters.lock();
        for t in topics {
            w.entry((*t).to_owned()).or_default().push(notify.clone());
            self.count.fetch_add(1, Ordering::AcqRel);
        }
        Wait {
            waiters: self,
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            notify,
        }
    }

    /// Wakes every pop waiting on `topic`. Called for every dispatched message, so it returns at once when
    /// nothing waits.
    pub fn wake(&self, topic: &str) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        if let Some(list) = self.waiters.lock().get(topic) {
            for n in list {
                n.notify_one();
            }
        }
    }
}

impl StoreObserver for PopWaiters {
    fn on_dispatch(&self, topic: &str, _queue_id: i32, _max_offset: i64) {
        self.wake(topic);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wake_before_the_wait_is_kept_and_a_dropped_wait_unregisters() {
        let w = PopWaiters::default();
        let wait = w.register(&["T", "%RETRY%g_T"]);
        w.wake("%RETRY%g_T");
        tokio::time::timeout(std::time::Duration::from_secs(5), wait.woken())
            .await
            .expect("the permit was kept");
        drop(wait);
        assert_eq!(w.count.load(Ordering::Acquire), 0);
        assert!(w.waiters.lock().is_empty());
    }
}
