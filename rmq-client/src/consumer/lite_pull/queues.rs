//! Which queues a lite pull consumer pulls: its share of the subscriptions (rebalance), an assignment, a
//! queue taken away, a seek.

use std::collections::HashSet;
use std::sync::Arc;

use rmq_protocol::body::MessageQueue;

use super::inner::{invalid, LiteInner};
use super::pull::pull_loop;
use super::state::{Mode, PullTask, QueueEntry};
use crate::consumer::rebalance::allocate_topic;
use crate::error::Result;

impl LiteInner {
    /// Re-allocates every subscribed topic (subscribe mode only; serialised with assign and shutdown).
    pub(super) async fn rebalance_all(self: Arc<Self>) {
        let _one_at_a_time = self.rebalance_lock.lock().await;
        if self.stopping.is_cancelled() {
            return;
        }
        let mut topics: Vec<String> = {
            let st = self.state.lock();
            if st.mode != Mode::Subscribe {
                return;
            }
            st.subscriptions.keys().cloned().collect()
        };
        topics.sort();
        for topic in topics {
            if let Err(e) = self.rebalance_topic(&topic).await {
                tracing::debug!(group = %self.group, %topic, error = %e, "rebalance skipped this round");
            }
        }
    }

    /// This member's share of `topic`, taken (subscribe mode).
    pub(super) async fn rebalance_topic(self: &Arc<Self>, topic: &str) -> Result<()> {
        let Some(allocated) = allocate_topic(
            &self.instance,
            &self.group,
            self.opts.message_model,
            self.opts.allocate.as_ref(),
            topic,
        )
        .await?
        else {
            return Ok(());
        };
        self.update_queues(Some(topic), allocated).await;
        Ok(())
    }

    /// Makes the owned queues (of `topic`, or all when `None`) exactly `wanted`: new ones get a pull task, the
    /// others are dropped. The caller holds `rebalance_lock`.
    pub(super) async fn update_queues(
        self: &Arc<Self>,
        topic: Option<&str>,
        wanted: Vec<MessageQueue>,
    ) {
        let wanted_set: HashSet<&MessageQueue> = wanted.iter().collect();
        let gone: Vec<MessageQueue> = self
            .state
            .lock()
            .queues
            .keys()
            .filter(|mq| topic.is_none_or(|t| mq.topic == t) && !wanted_set.contains(mq))
            .cloned()
            .collect();
        for mq in &gone {
            tracing::info!(group = %self.group, queue = ?mq, "queue no longer ours; dropping it");
            self.remove_queue(mq).await;
        }
        let mut st = self.state.lock();
        if self.stopping.is_cancelled() {
            return;
        }
        for mq in wanted {
            if st.queues.contains_key(&mq) {
                continue;
            }
            tracing::info!(group = %self.group, queue = ?mq, "pulling queue");
            let task = self.spawn_pull(&mq);
            st.queues.insert(
                mq,
                QueueEntry {
                    task: Some(task),
                    pull_offset: None,
                    consumed: None,
                    buffered: 0,
                    buffered_bytes: 0,
                    paused: false,
                },
            );
        }
    }

    /// Stops pulling `mq`, forgets its buffered messages and sends its offset (after committing what was polled,
    /// when `auto_commit`), so the next owner resumes there.
    pub(super) async fn remove_queue(&self, mq: &MessageQueue) {
        let consumed = {
            let mut st = self.state.lock();
            st.discard_buffered(mq);
            let Some(e) = st.queues.remove(mq) else {
                return;
            };
            if let Some(t) = e.task {
                t.cancel.cancel();
            }
            e.consumed
        };
        self.space.notify_waiters();
        if self.opts.auto_commit {
            if let Some(o) = consumed {
                self.offsets.update(mq, o, false);
            }
        }
        self.offsets
            .persist(&self.instance, &self.group, std::slice::from_ref(mq))
            .await;
        self.offsets.remove(mq);
    }

    /// Starts a pull task for `mq`; the queue entry records it as the current run.
    pub(super) fn spawn_pull(self: &Arc<Self>, mq: &MessageQueue) -> Arc<PullTask> {
        let task = Arc::new(PullTask {
            mq: mq.clone(),
            cancel: self.stopping.child_token(),
        });
        tokio::spawn(pull_loop(self.clone(), task.clone()));
        task
    }

    /// Moves `mq`'s next pull and consumed position to `offset` (seek, operator reset).
    pub(super) async fn seek_wrapped(
        self: &Arc<Self>,
        mq: &MessageQueue,
        offset: i64,
    ) -> Result<()> {
        if !self.state.lock().queues.contains_key(mq) {
            return Err(invalid(
                "message_queue",
                format!("{mq:?} is not assigned to this consumer (a rebalance may be moving it)"),
            ));
        }
        let (min, max) = (
            self.instance.min_offset(mq).await?,
            self.instance.max_offset(mq).await?,
        );
        if offset < min || offset > max {
            return Err(invalid(
                "offset",
                format!("seek offset {offset} is outside [{min}, {max}] of {mq:?}"),
            ));
        }
        {
            let mut st = self.state.lock();
            st.discard_buffered(mq);
            let Some(e) = st.queues.get_mut(mq) else {
                return Err(invalid(
                    "message_queue",
                    format!("{mq:?} moved to another member during the seek"),
                ));
            };
            if let Some(t) = e.task.take() {
                t.cancel.cancel();
            }
            e.pull_offset = Some(offset);
            e.consumed = Some(offset);
            if !e.paused && !self.stopping.is_cancelled() {
                e.task = Some(self.spawn_pull(mq));
            }
        }
        self.space.notify_waiters();
        self.offsets.update(mq, offset, false);
        Ok(())
    }
}
