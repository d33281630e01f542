//! Ordered-consumption locks (docs/protocol.md §4.10): one owner per (group, queue) at a time, so an orderly consumer
//! group never processes a queue from two clients at once. A lock not renewed for `rebalanceLockMaxLiveTime`
//! (60 s) expires, so a crashed owner's queues move on.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rmq_protocol::body::MessageQueue;

#[derive(Debug, Clone)]
struct LockEntry {
    client_id: String,
    last_update: Instant,
}

/// Lock table per consumer group.
#[derive(Debug)]
pub struct RebalanceLockManager {
    max_live: Duration,
    groups: Mutex<HashMap<String, HashMap<MessageQueue, LockEntry>>>,
}

impl RebalanceLockManager {
    /// Locks expire after `max_live` without renewal.
    pub fn new(max_live: Duration) -> Self {
        RebalanceLockManager {
            max_live,
            groups: Mutex::new(HashMap::new()),
        }
    }

    /// Locks (or renews) what is free or already `client_id`'s; returns the queues the client holds now.
    pub fn try_lock_batch(
        &self,
        group: &str,
        queues: &[MessageQueue],
        client_id: &str,
    ) -> Vec<MessageQueue> {
        self.try_lock_batch_at(group, queues, client_id, Instant::now())
    }

    fn try_lock_batch_at(
        &self,
        group: &str,
        queues: &[MessageQueue],
        client_id: &str,
        now: Instant,
    ) -> Vec<MessageQueue> {
        let mut groups = self.groups.lock();
        let table = groups.entry(group.to_string()).or_default();
        let mut locked = Vec::with_capacity(queues.len());
        for mq in queues {
            let free = match table.get(mq) {
                None => true,
                Some(e) => {
                    e.client_id == client_id || now.duration_since(e.last_update) > self.max_live
                }
            };
            if free {
                if let Some(prev) = table.get(mq).filter(|e| e.client_id != client_id) {
                    tracing::info!(group, queue = ?mq, old = %prev.client_id, new = client_id, "expired queue lock taken over");
                }
                table.insert(
                    mq.clone(),
                    LockEntry {
                        client_id: client_id.to_string(),
                        last_update: now,
                    },
                );
                locked.push(mq.clone());
            }
        }
        locked
    }

    /// Releases the queues `client_id` holds among `queues`.
    pub fn unlock_batch(&self, group: &str, queues: &[MessageQueue], client_id: &str) {
        let mut groups = self.groups.lock();
        if let Some(table) = groups.get_mut(group) {
            for mq in queues {
                if table.get(mq).is_some_and(|e| e.client_id == client_id) {
                    table.remove(mq);
                }
            }
            if table.is_empty() {
                groups.remove(group);
            }
        }
    }

    /// Whether some client holds an unexpired lock in `group` (a retry for such a group goes to the DLQ).
    pub fn group_has_live_locks(&self, group: &str) -> bool {
        let now = Instant::now();
        self.groups.lock().get(group).is_some_and(|t| {
            t.values()
                .any(|e| now.duration_since(e.last_update) <= self.max_live)
        })
    }

    /// The unexpired owner of a queue.
    pub fn owner(&self, group: &str, mq: &MessageQueue) -> Option<String> {
        let now = Instant::now();
        self.groups
            .lock()
            .get(group)
            .and_then(|t| t.get(mq))
            .filter(|e| now.duration_since(e.last_update) <= self.max_live)
            .map(|e| e.client_id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mq(q: i32) -> MessageQueue {
        MessageQueue {
            topic: "T".into(),
            broker_name: "b".into(),
            queue_id: q,
        }
    }

    #[test]
    fn one_owner_until_expiry() {
        let m = RebalanceLockManager::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(
            m.try_lock_batch_at("g", &[mq(0), mq(1)], "a", t0),
            vec![mq(0), mq(1)]
        );
        assert_eq!(
            m.try_lock_batch_at("g", &[mq(1), mq(2)], "b", t0),
            vec![mq(2)]
        );
        // renewal by the owner keeps it
        assert_eq!(
            m.try_lock_batch_at("g", &[mq(0)], "a", t0 + Duration::from_secs(50)),
            vec![mq(0)]
        );
        // 61 s after a's last renewal of queue 1, b may take it; queue 0 was renewed at 50 s
        let later = t0 + Duration::from_secs(61);
        assert_eq!(
            m.try_lock_batch_at("g", &[mq(0), mq(1)], "b", later),
            vec![mq(1)]
        );
        // other groups are independent
        assert_eq!(m.try_lock_batch_at("h", &[mq(0)], "c", t0), vec![mq(0)]);
    }

    #[test]
    fn unlock_only_releases_own_queues() {
        let m = RebalanceLockManager::new(Duration::from_secs(60));
        m.try_lock_batch("g", &[mq(0)], "a");
        m.unlock_batch("g", &[mq(0)], "b");
        assert_eq!(m.owner("g", &mq(0)).as_deref(), Some("a"));
        assert!(m.group_has_live_locks("g"));
        m.unlock_batch("g", &[mq(0)], "a");
        assert_eq!(m.owner("g", &mq(0)), None);
        assert_eq!(m.try_lock_batch("g", &[mq(0)], "b"), vec![mq(0)]);
    }
}
