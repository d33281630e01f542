//! Operator access to ConsumeQueues: raw units for `queryCq`, the topics that have queues, and removing queues
//! an operator asks to clean (CLEAN_EXPIRED_CONSUMEQUEUE, CLEAN_UNUSED_TOPIC).

use std::collections::BTreeSet;

use super::MessageStore;

/// One ConsumeQueue unit: where the message is in the CommitLog, its size and tag hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueUnit {
    /// Logical offset in the queue.
    pub queue_offset: i64,
    /// CommitLog offset.
    pub phys_offset: i64,
    /// Stored size.
    pub size: i32,
    /// Tag hash code.
    pub tag_code: i64,
}

impl MessageStore {
    /// Up to `count` units of a queue from `from` on; `None` when the queue does not exist.
    pub fn queue_units(
        &self,
        topic: &str,
        queue_id: i32,
        from: i64,
        count: usize,
    ) -> Option<Vec<QueueUnit>> {
        let cq = self.inner.find_cq(topic, queue_id)?;
        let from = from.max(cq.min_offset());
        let entries = cq.read_entries(from, count).unwrap_or_default();
        Some(
            entries
                .into_iter()
                .enumerate()
                .map(|(i, e)| QueueUnit {
                    queue_offset: from + i as i64,
                    phys_offset: e.phys_offset,
                    size: e.size,
                    tag_code: e.tag_code,
                })
                .collect(),
        )
    }

    /// Topics that have at least one ConsumeQueue, sorted.
    pub fn topics_with_queues(&self) -> BTreeSet<String> {
        self.inner.cqs.read().keys().cloned().collect()
    }

    /// Drops every queue whose last message lies below the CommitLog's first readable offset (all its
    /// messages expired), as Java's `cleanExpiredConsumerQueue`, skipping topics `keep` names (the broker's
    /// system topics); returns how many.
    pub fn clean_expired_consume_queues(&self, keep: impl Fn(&str) -> bool) -> usize {
        let min = self.commit_log_min_offset();
        let mut expired = Vec::new();
        for (topic, queues) in self.inner.cqs.read().iter() {
            if keep(topic) {
                continue;
            }
            for (queue_id, cq) in queues {
                let max = cq.max_offset();
                if max <= cq.min_offset() {
                    continue;
                }
                let last = cq.entry(max - 1).map(|e| e.phys_offset);
                if last.is_some_and(|p| p < min) {
                    expired.push((topic.clone(), *queue_id));
                }
            }
        }
        for (topic, queue_id) in &expired {
            self.delete_queue(topic, *queue_id);
        }
        expired.len()
    }

    /// Drops the queues of every topic `keep` does not keep (the broker keeps its configured and system
    /// topics); returns the topics removed.
    pub fn clean_unused_topics(&self, keep: impl Fn(&str) -> bool) -> Vec<String> {
        let unused: Vec<String> = self
            .topics_with_queues()
            .into_iter()
            .filter(|t| !keep(t))
            .collect();
        for topic in &unused {
            self.delete_topic(topic);
        }
        unused
    }

    fn delete_queue(&self, topic: &str, queue_id: i32) {
        let removed = {
            let mut st = self.inner.put.lock();
            if let Some(q) = st.queue_offsets.get_mut(topic) {
                q.remove(&queue_id);
            }
            let mut cqs = self.inner.cqs.write();
            let cq = cqs.get_mut(topic).and_then(|m| m.remove(&queue_id));
            if cqs.get(topic).is_some_and(|m| m.is_empty()) {
                cqs.remove(topic);
            }
            cq
        };
        if let Some(cq) = removed {
            if let Err(e) = cq.destroy() {
                tracing::warn!(topic, queue_id, error = %e, "cannot delete consume queue");
            }
        }
    }
}
