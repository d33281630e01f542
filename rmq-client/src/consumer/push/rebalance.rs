//! Which queues this push consumer consumes: allocation on start, every 20 s and on membership notices; queues
//! that move away are dropped cleanly (offset committed, orderly lock released, but never while a batch of
//! the queue is still running).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::body::MessageQueue;

use super::inner::{OwnedQueue, PushInner};
use super::pull::pull_loop;
use crate::consumer::model::MessageModel;
use crate::consumer::offsets::start_offset;
use crate::consumer::process_queue::ProcessQueue;
use crate::consumer::rebalance::allocate_topic;
use crate::error::Result;

/// How long shutdown and an offset reset wait for a running orderly batch before unlocking anyway (Java: 1 s).
const ORDERLY_DROP_WAIT: Duration = Duration::from_secs(1);

impl PushInner {
    /// Re-allocates every subscribed topic (serialised: one rebalance at a time).
    pub(crate) async fn rebalance_all(self: Arc<Self>) {
        let _one_at_a_time = self.rebalance_lock.lock().await;
        if self.stopping.is_cancelled() {
            return;
        }
        let mut topics: Vec<&String> = self.subscriptions.keys().collect();
        topics.sort();
        for topic in topics {
            if let Err(e) = self.clone().rebalance_topic(topic).await {
                tracing::debug!(group = %self.group, %topic, error = %e, "rebalance skipped this round");
            }
        }
    }

    async fn rebalance_topic(self: Arc<Self>, topic: &str) -> Result<()> {
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
        let wanted: HashSet<&MessageQueue> = allocated.iter().collect();
        let current: Vec<MessageQueue> = self
            .queues
            .lock()
            .keys()
            .filter(|mq| mq.topic == topic)
            .cloned()
            .collect();
        for mq in current.iter().filter(|mq| !wanted.contains(mq)) {
            tracing::info!(group = %self.group, queue = ?mq, "queue moved to another member; dropping it");
            self.clone().move_away(mq).await;
        }
        let held: HashSet<&MessageQueue> = current.iter().collect();
        let releasing: HashSet<MessageQueue> = self.releasing.lock().keys().cloned().collect();
        // A queue whose last batch here is still running comes back only after that batch ended.
        let mut added: Vec<MessageQueue> = allocated
            .iter()
            .filter(|mq| !held.contains(mq) && !releasing.contains(mq))
            .cloned()
            .collect();
        if added.is_empty() {
            return Ok(());
        }
        if self.locks_queues() {
            added = self.lock_new(added).await;
        }
        for mq in added {
            let offset = match self.start_offset(&mq).await {
                Ok(o) => o,
                Err(e) => {
                    tracing::warn!(group = %self.group, queue = ?mq, error = %e, "no start offset; retrying next rebalance");
                    continue;
                }
            };
            let pq = Arc::new(ProcessQueue::new());
            if self.locks_queues() {
                pq.set_locked(true);
                pq.set_last_lock_timestamp(tokio::time::Instant::now());
            }
            self.offsets.update(&mq, offset, false);
            let owned = Arc::new(OwnedQueue {
                mq: mq.clone(),
                pq,
                cancel: self.stopping.child_token(),
            });
            tracing::info!(group = %self.group, queue = ?mq, offset, "consuming queue");
            self.queues.lock().insert(mq, owned.clone());
            tokio::spawn(pull_loop(self.clone(), owned, offset));
        }
        Ok(())
    }

    /// Locks new queues on their brokers; returns the ones now held (the rest are tried next rebalance).
    async fn lock_new(&self, mqs: Vec<MessageQueue>) -> Vec<MessageQueue> {
        let mut by_broker: BTreeMap<String, Vec<MessageQueue>> = BTreeMap::new();
        for mq in mqs {
            by_broker
                .entry(mq.broker_name.clone())
                .or_default()
                .push(mq);
        }
        let mut held = Vec::new();
        for (broker, mqs) in by_broker {
            match self.instance.lock_queues(&self.group, &broker, mqs).await {
                Ok(locked) => held.extend(locked),
                Err(e) => tracing::debug!(group = %self.group, %broker, error = %e, "lock failed"),
            }
        }
        held
    }

    /// Renews the broker locks of every owned queue and of those still finishing a batch (orderly clustering,
    /// every 20 s).
    pub(crate) async fn lock_all(&self) {
        let owned: Vec<Arc<OwnedQueue>> = self.queues.lock().values().cloned().collect();
        let releasing: Vec<MessageQueue> = self.releasing.lock().keys().cloned().collect();
        let mut by_broker: BTreeMap<String, Vec<MessageQueue>> = BTreeMap::new();
        for mq in releasing {
            by_broker
                .entry(mq.broker_name.clone())
                .or_default()
                .push(mq);
        }
        for o in &owned {
            by_broker
                .entry(o.mq.broker_name.clone())
                .or_default()
                .push(o.mq.clone());
        }
        for (broker, mqs) in by_broker {
            let locked: HashSet<MessageQueue> = match self
                .instance
                .lock_queues(&self.group, &broker, mqs)
                .await
            {
                Ok(l) => l.into_iter().collect(),
                Err(e) => {
                    tracing::debug!(group = %self.group, %broker, error = %e, "lock renewal failed");
                    continue;
                }
            };
            for o in owned.iter().filter(|o| o.mq.broker_name == broker) {
                let ok = locked.contains(&o.mq);
                o.pq.set_locked(ok);
                if ok {
                    o.pq.set_last_lock_timestamp(tokio::time::Instant::now());
                }
            }
        }
    }

    /// Where a newly assigned queue starts: the committed offset, else the ConsumeFromWhere rule.
    async fn start_offset(&self, mq: &MessageQueue) -> Result<i64> {
        start_offset(
            &self.instance,
            &self.offsets,
            &self.group,
            self.opts.consume_from_where,
            mq,
        )
        .await
    }

    /// Rebalance gave `mq` to another member: stop consuming it. An orderly queue keeps its broker lock until
    /// its running batch has ended and that batch's offset is committed, however long the batch takes (Java's
    /// `removeUnnecessaryMessageQueue` keeps the lock too); meanwhile the lock is renewed with the owned ones.
    async fn move_away(self: Arc<Self>, mq: &MessageQueue) {
        let Some(owned) = self.queues.lock().remove(mq) else {
            return;
        };
        owned.pq.set_dropped(true);
        owned.cancel.cancel();
        if !self.locks_queues() {
            self.release(&owned, true).await;
            return;
        }
        // Registered first, so a batch that ends right now still records its offset.
        self.releasing.lock().insert(mq.clone(), owned.clone());
        if let Ok(idle) = owned.pq.consume_lock().try_lock() {
            self.release(&owned, true).await;
            drop(idle);
            self.releasing.lock().remove(mq);
            return;
        }
        tracing::info!(group = %self.group, queue = ?mq, "a batch of the queue is still running; keeping its lock until it ends");
        owned.pq.inc_try_unlock_times();
        tokio::spawn(async move {
            let batch_ended = owned.pq.consume_lock().lock().await;
            self.release(&owned, true).await;
            drop(batch_ended);
            self.releasing.lock().remove(&owned.mq);
            // The queue may have been allocated back meanwhile.
            self.rebalance_signal.notify_one();
        });
    }

    /// Stops consuming `mq` at once (shutdown, offset reset): no more pulls, its offset committed (if
    /// `commit`), its orderly lock released after waiting up to [`ORDERLY_DROP_WAIT`] for a running batch.
    pub(crate) async fn drop_queue(&self, mq: &MessageQueue, commit: bool) {
        let Some(owned) = self.queues.lock().remove(mq) else {
            return;
        };
        owned.pq.set_dropped(true);
        owned.cancel.cancel();
        if self.locks_queues()
            && tokio::time::timeout(ORDERLY_DROP_WAIT, owned.pq.consume_lock().lock())
                .await
                .is_err()
        {
            owned.pq.inc_try_unlock_times();
            tracing::warn!(group = %self.group, queue = ?mq, "orderly batch still running; unlocking the queue anyway");
        }
        self.release(&owned, commit).await;
    }

    /// Commits (if `commit`) and forgets a dropped queue's offset, releases its orderly lock, frees its buffer.
    async fn release(&self, owned: &OwnedQueue, commit: bool) {
        let mq = &owned.mq;
        if commit {
            self.offsets
                .persist(&self.instance, &self.group, std::slice::from_ref(mq))
                .await;
        }
        self.offsets.remove(mq);
        if self.locks_queues() {
            self.instance
                .unlock_queues(&self.group, &mq.broker_name, vec![mq.clone()])
                .await;
        }
        owned.pq.clear();
    }

    /// Commits the offsets of every owned queue.
    pub(crate) async fn persist_offsets(&self) {
        let mut mqs: Vec<MessageQueue> = self.queues.lock().keys().cloned().collect();
        mqs.sort();
        self.offsets
            .persist(&self.instance, &self.group, &mqs)
            .await;
    }

    /// Drops every queue (shutdown).
    pub(crate) async fn release_all_queues(&self) {
        let mqs: Vec<MessageQueue> = self.queues.lock().keys().cloned().collect();
        for mq in mqs {
            self.drop_queue(&mq, true).await;
        }
    }

    /// An operator moved the group's offsets: restart the affected queues from the new positions.
    pub(crate) async fn reset_offsets(
        self: Arc<Self>,
        topic: &str,
        offsets: Vec<(MessageQueue, i64)>,
    ) {
        {
            let _one_at_a_time = self.rebalance_lock.lock().await;
            for (mq, offset) in &offsets {
                self.drop_queue(mq, false).await;
                if self.opts.message_model == MessageModel::Clustering {
                    if let Err(e) = self
                        .instance
                        .update_consumer_offset(&self.group, mq, *offset)
                        .await
                    {
                        tracing::warn!(group = %self.group, queue = ?mq, error = %e, "reset offset not committed");
                    }
                } else {
                    self.offsets.update(mq, *offset, false);
                }
            }
            tracing::info!(group = %self.group, %topic, queues = offsets.len(), "offsets reset by an operator");
        }
        self.rebalance_signal.notify_one();
    }
}
