//! The state a lite pull consumer's handle and tasks share, and what they do with its buffer and offsets.

use std::sync::Arc;

use parking_lot::Mutex;
use rmq_protocol::body::{ConsumerData, MessageQueue, SubscriptionData};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::options::LitePullConsumerOptions;
use super::state::{Batch, Mode, PullTask, State};
use crate::consumer::membership;
use crate::consumer::offsets::OffsetBackend;
use crate::error::{ClientError, Result};
use crate::instance::ClientInstance;
use crate::message::MessageExt;

/// An invalid argument named by its field.
pub(super) fn invalid(field: &'static str, reason: impl Into<String>) -> ClientError {
    ClientError::InvalidArgument {
        field,
        reason: reason.into(),
    }
}

/// What the consumer's handle, its queue management and pull tasks share.
pub(super) struct LiteInner {
    pub(super) opts: LitePullConsumerOptions,
    pub(super) instance: Arc<ClientInstance>,
    /// Group with namespace.
    pub(super) group: String,
    pub(super) offsets: OffsetBackend,
    pub(super) state: Mutex<State>,
    /// A batch entered the buffer (pollers wait on it).
    pub(super) arrived: Notify,
    /// A poll took a batch (pull tasks under flow control wait on it).
    pub(super) space: Notify,
    pub(super) rebalance_signal: Notify,
    /// One rebalance or assign at a time.
    pub(super) rebalance_lock: tokio::sync::Mutex<()>,
    /// Cancelled on shutdown: every pull task and the background loop stop.
    pub(super) stopping: CancellationToken,
    /// When the consumer started, epoch ms (running info).
    pub(super) started_at_ms: i64,
}

/// What a pull task needs for its next step.
pub(super) struct Step {
    pub(super) offset: Option<i64>,
    pub(super) over: bool,
    /// Subscribe mode: the topic's subscription; `None` in assign mode (everything).
    pub(super) sub: Option<SubscriptionData>,
}

impl LiteInner {
    pub(super) fn check_running(&self) -> Result<()> {
        if self.stopping.is_cancelled() {
            return Err(ClientError::Shutdown("lite pull consumer"));
        }
        Ok(())
    }

    pub(super) fn wrap_mq(&self, mq: &MessageQueue) -> MessageQueue {
        MessageQueue {
            topic: self.opts.client.wrap(&mq.topic),
            ..mq.clone()
        }
    }

    /// The user's view of a topic: without this client's namespace prefix (Java `NamespaceUtil.withoutNamespace`).
    pub(super) fn unwrap_topic(&self, topic: &str) -> Option<String> {
        let ns = self
            .opts
            .client
            .namespace
            .as_deref()
            .filter(|n| !n.is_empty())?;
        topic
            .strip_prefix(ns)
            .and_then(|rest| rest.strip_prefix('%'))
            .map(str::to_string)
    }

    pub(super) fn unwrap_mq(&self, mut mq: MessageQueue) -> MessageQueue {
        if let Some(t) = self.unwrap_topic(&mq.topic) {
            mq.topic = t;
        }
        mq
    }

    /// What heartbeats say about this consumer.
    pub(super) fn consumer_data(&self) -> ConsumerData {
        let subscription_data_set = self.state.lock().subscriptions.values().cloned().collect();
        membership::consumer_data(
            &self.group,
            "CONSUME_ACTIVELY",
            self.opts.message_model,
            self.opts.consume_from_where,
            subscription_data_set,
        )
    }

    /// The queues it owns, sorted.
    pub(super) fn owned(&self) -> Vec<MessageQueue> {
        let mut mqs: Vec<MessageQueue> = self.state.lock().queues.keys().cloned().collect();
        mqs.sort();
        mqs
    }

    pub(super) fn maybe_auto_commit(&self) {
        let now = Instant::now();
        let due = {
            let mut st = self.state.lock();
            let due = st.next_auto_commit.is_none_or(|d| now >= d);
            if due {
                st.next_auto_commit = Some(now + self.opts.auto_commit_interval);
            }
            due
        };
        if due {
            self.commit_in_memory();
        }
    }

    pub(super) fn commit_in_memory(&self) {
        let consumed: Vec<(MessageQueue, i64)> = self
            .state
            .lock()
            .queues
            .iter()
            .filter_map(|(mq, e)| e.consumed.map(|o| (mq.clone(), o)))
            .collect();
        for (mq, o) in consumed {
            self.offsets.update(&mq, o, false);
        }
    }

    pub(super) async fn persist_owned_checked(&self) -> Result<()> {
        let mqs = self.owned();
        match &self.offsets {
            OffsetBackend::Remote(table) => {
                let mut first_err = None;
                for mq in &mqs {
                    let Some(offset) = table.get(mq) else {
                        continue;
                    };
                    if let Err(e) = self
                        .instance
                        .update_consumer_offset(&self.group, mq, offset)
                        .await
                    {
                        tracing::warn!(group = %self.group, queue = ?mq, offset, error = %e, "offset commit failed");
                        first_err.get_or_insert(e);
                    }
                }
                first_err.map_or(Ok(()), Err)
            }
            OffsetBackend::Local(store) => {
                let store = store.clone();
                let path = store.path().display().to_string();
                match tokio::task::spawn_blocking(move || store.persist_all(&mqs)).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(ClientError::Io {
                        path,
                        source: std::io::Error::other(e.to_string()),
                    }),
                    Err(_) => Err(ClientError::Shutdown("broadcast offset writer")),
                }
            }
        }
    }

    /// Takes the oldest buffered batch and moves its queue's consumed position past it.
    pub(super) fn take_batch(&self) -> Option<Vec<MessageExt>> {
        let mut st = self.state.lock();
        let batch = st.buffer.pop_front()?;
        st.buffered_total -= batch.msgs.len();
        if let Some(e) = st.queues.get_mut(&batch.mq) {
            e.buffered -= batch.msgs.len();
            e.buffered_bytes -= batch.bytes;
            if let Some(last) = batch.msgs.last() {
                e.consumed = Some(last.queue_offset + 1);
            }
        }
        Some(batch.msgs)
    }

    /// What a pull task needs for its next step, or `None` when it is no longer the queue's current run.
    pub(super) fn next_step(&self, task: &Arc<PullTask>) -> Option<Step> {
        let st = self.state.lock();
        let e = st.queues.get(&task.mq).filter(|e| e.runs(task))?;
        let over = st.buffered_total > self.opts.pull_threshold_for_all
            || e.buffered > self.opts.pull_threshold_for_queue
            || e.buffered_bytes > self.opts.pull_threshold_size_for_queue;
        let sub = match st.mode {
            Mode::Subscribe => Some(st.subscriptions.get(&task.mq.topic)?.clone()),
            _ => None,
        };
        Some(Step {
            offset: e.pull_offset,
            over,
            sub,
        })
    }

    /// Records a pull's result if `task` is still current: messages go to the buffer, and the consumed position
    /// follows `next` over stretches that had nothing to deliver. False when the task must stop.
    pub(super) fn deliver(
        &self,
        task: &Arc<PullTask>,
        msgs: Vec<MessageExt>,
        next: i64,
        moved: bool,
    ) -> bool {
        let mut st = self.state.lock();
        let n = msgs.len();
        let bytes: u64 = msgs.iter().map(|m| m.body.len() as u64).sum();
        let Some(e) = st.queues.get_mut(&task.mq).filter(|e| e.runs(task)) else {
            return false;
        };
        e.pull_offset = Some(next);
        if n == 0 {
            if e.buffered == 0 && (moved || e.consumed.is_none_or(|c| next > c)) {
                e.consumed = Some(next);
            }
            return true;
        }
        e.buffered += n;
        e.buffered_bytes += bytes;
        st.buffered_total += n;
        st.buffer.push_back(Batch {
            mq: task.mq.clone(),
            msgs,
            bytes,
        });
        drop(st);
        self.arrived.notify_waiters();
        true
    }
}
