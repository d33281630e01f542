//! The push consumer's handle (Java `DefaultMQPushConsumer`): start, shutdown, and what callers may ask.

use rmq_protocol::clock::system_now_ms;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use parking_lot::Mutex;
use rmq_protocol::body::{
    ConsumeMessageDirectlyResult, ConsumerData, ConsumerRunningInfo, MessageQueue, ProcessQueueInfo,
};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::inner::{FlowControlCounters, PushInner};
use super::options::PushConsumerOptions;
use crate::consumer::listener::MessageListener;
use crate::consumer::membership::{self, GroupMember, Hook};
use crate::consumer::model::MessageModel;
use crate::consumer::offsets::OffsetBackend;
use crate::consumer::process_queue::REBALANCE_LOCK_INTERVAL;
use crate::consumer::selector::{subscription_data, MessageSelector};
use crate::consumer::stats::ConsumerStats;
use crate::consumer::topics::retry_topic;
use crate::error::{ClientError, Result};
use crate::instance::ClientInstance;
use crate::message::{check_topic, MessageExt};

/// Consumes subscribed topics with a listener; cheap to clone.
#[derive(Clone)]
pub struct PushConsumer {
    inner: Arc<PushInner>,
}

impl std::fmt::Debug for PushConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushConsumer")
            .field("group", &self.inner.group)
            .finish_non_exhaustive()
    }
}

impl GroupMember for PushInner {
    fn consumer_data(&self) -> ConsumerData {
        PushInner::consumer_data(self)
    }

    fn rebalance_signal(&self) -> &Notify {
        &self.rebalance_signal
    }

    fn reset_offsets(
        self: Arc<Self>,
        topic: String,
        offsets: Vec<(MessageQueue, i64)>,
    ) -> BoxFuture<'static, ()> {
        async move { PushInner::reset_offsets(self, &topic, offsets).await }.boxed()
    }

    fn running_info(&self, jstack: bool) -> ConsumerRunningInfo {
        PushInner::running_info(self, jstack)
    }

    fn consume_directly(
        self: Arc<Self>,
        msg: MessageExt,
        broker_name: String,
    ) -> Option<BoxFuture<'static, ConsumeMessageDirectlyResult>> {
        Some(PushInner::consume_directly(self, msg, broker_name).boxed())
    }
}

impl PushConsumer {
    /// Validates the options, joins the group and starts consuming.
    pub async fn start(
        opts: PushConsumerOptions,
        listener: impl MessageListener,
    ) -> Result<PushConsumer> {
        let group = opts.client.wrap(&opts.group);
        if opts.group.trim().is_empty() {
            return Err(ClientError::InvalidArgument {
                field: "consumer_group",
                reason: "the consumer group is empty".into(),
            });
        }
        check_topic(&opts.group).map_err(|_| ClientError::InvalidArgument {
            field: "consumer_group",
            reason: format!(
                "{:?} may only contain letters, digits, %, |, _ and -",
                opts.group
            ),
        })?;
        if opts.subscriptions.is_empty() {
            return Err(ClientError::InvalidArgument {
                field: "subscriptions",
                reason: "subscribe to at least one topic before start".into(),
            });
        }
        if opts.consume_thread_max == 0
            || opts.consume_message_batch_max_size == 0
            || opts.pull_batch_size <= 0
        {
            return Err(ClientError::InvalidArgument {
                field: "consume_thread_max",
                reason: "thread count, consume batch and pull batch must be positive".into(),
            });
        }
        let version = system_now_ms();
        let mut subscriptions = HashMap::new();
        for (topic, selector) in &opts.subscriptions {
            check_topic(topic)?;
            let wrapped = opts.client.wrap(topic);
            subscriptions.insert(
                wrapped.clone(),
                subscription_data(&wrapped, selector, version)?,
            );
        }
        if opts.message_model == MessageModel::Clustering {
            let retry = retry_topic(&group);
            subscriptions.insert(
                retry.clone(),
                subscription_data(&retry, &MessageSelector::all(), version)?,
            );
        }
        let instance = ClientInstance::get_or_create(&opts.client)?;
        let offsets = match opts.message_model {
            MessageModel::Clustering => OffsetBackend::remote(),
            MessageModel::Broadcasting => {
                let dir = opts.offsets_dir.clone();
                let client_id = instance.client_id().replace([':', '/'], "_");
                let g = group.clone();
                tokio::task::spawn_blocking(move || OffsetBackend::local(&dir, &client_id, &g))
                    .await
                    .map_err(|_| ClientError::Shutdown("offset store loader"))??
            }
        };
        let inner = Arc::new(PushInner {
            permits: Arc::new(Semaphore::new(opts.consume_thread_max)),
            flow_control: FlowControlCounters::default(),
            stats: ConsumerStats::default(),
            started_at_ms: system_now_ms(),
            opts,
            instance: instance.clone(),
            listener: Arc::new(listener),
            subscriptions,
            group: group.clone(),
            queues: Mutex::default(),
            releasing: Mutex::default(),
            offsets,
            consume_tasks: TaskTracker::new(),
            rebalance_signal: Notify::new(),
            rebalance_lock: tokio::sync::Mutex::new(()),
            stopping: CancellationToken::new(),
        });
        instance.register_consumer(&group, Arc::new(Hook(Arc::downgrade(&inner))))?;
        // Learn the brokers of every subscribed topic, then make sure each knows the group before the first pull.
        for topic in inner.subscriptions.keys() {
            if let Err(e) = instance.update_route(topic).await {
                tracing::debug!(%topic, error = %e, "no route yet; the consumer will pick it up when it appears");
            }
        }
        instance.heartbeat_all().await;
        spawn_background(inner.clone());
        inner.rebalance_signal.notify_one();
        Ok(PushConsumer { inner })
    }

    /// The consumer group (with namespace).
    pub fn group(&self) -> &str {
        &self.inner.group
    }

    /// The settings it was started with.
    pub fn options(&self) -> &PushConsumerOptions {
        &self.inner.opts
    }

    /// Queues this member currently consumes.
    pub fn assigned_queues(&self) -> Vec<MessageQueue> {
        let mut v: Vec<MessageQueue> = self.inner.queues.lock().keys().cloned().collect();
        v.sort();
        v
    }

    /// Each owned queue's process-queue state (Java's `ProcessQueueInfo`, as running info reports it).
    pub fn process_queues(&self) -> Vec<(MessageQueue, ProcessQueueInfo)> {
        self.inner.queue_infos()
    }

    /// How many times pulling paused at each flow-control limit since the start.
    pub fn flow_control_times(&self) -> FlowControlTimes {
        let c = &self.inner.flow_control;
        FlowControlTimes {
            by_count: c.by_count.load(Ordering::Relaxed),
            by_size: c.by_size.load(Ordering::Relaxed),
            by_span: c.by_span.load(Ordering::Relaxed),
        }
    }

    /// Re-runs queue allocation now and waits for it (tests and operators; the timer and notices do it anyway).
    pub async fn rebalance(&self) {
        self.inner.clone().rebalance_all().await;
    }

    /// Commits every owned queue's offset now.
    pub async fn persist_offsets(&self) {
        self.inner.persist_offsets().await;
    }

    /// Stops pulling, waits up to `await_termination` for running listener calls, commits offsets, releases
    /// orderly locks and leaves the group.
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        if inner.stopping.is_cancelled() {
            return;
        }
        inner.stopping.cancel();
        inner.consume_tasks.close();
        if !inner.opts.await_termination.is_zero() {
            let _ = tokio::time::timeout(inner.opts.await_termination, inner.consume_tasks.wait())
                .await;
        }
        inner.persist_offsets().await;
        inner.release_all_queues().await;
        inner.instance.unregister_consumer(&inner.group).await;
    }
}

/// Flow-control pauses of a push consumer, per limit (see [`PushConsumer::flow_control_times`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowControlTimes {
    /// Paused because a queue buffered more than `pull_threshold_for_queue` messages.
    pub by_count: u64,
    /// Paused because a queue buffered more than `pull_threshold_size_for_queue` bytes.
    pub by_size: u64,
    /// Paused because a queue's buffered offsets spanned more than `consume_concurrently_max_span`.
    pub by_span: u64,
}

/// The consumer's timers: route probe, rebalance, offset commits and (orderly clustering) lock renewal.
fn spawn_background(inner: Arc<PushInner>) {
    let weak = Arc::downgrade(&inner);
    let stopping = inner.stopping.clone();
    let instance_down = inner.instance.shutdown_token();
    let every = inner.opts.rebalance_interval;
    let persist_every = inner.instance.config().persist_offset_interval;
    let orderly_locks = inner.locks_queues();
    tokio::spawn(async move {
        let mut rebalance = tokio::time::interval(every);
        let mut persist = tokio::time::interval(persist_every);
        let mut relock = tokio::time::interval(REBALANCE_LOCK_INTERVAL);
        rebalance.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        persist.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        relock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Topics created after the consumer started (auto-created by the first send) are found within a
        // second instead of at the next 30 s route refresh.
        let mut probe = tokio::time::interval(Duration::from_secs(1));
        probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        persist.tick().await;
        relock.tick().await;
        loop {
            let Some(me) = weak.upgrade() else { return };
            tokio::select! {
                _ = probe.tick() => {
                    let subscribed = me.subscriptions.keys().cloned().collect();
                    membership::probe_missing_routes(&me.instance, subscribed, &me.rebalance_signal).await;
                }
                _ = stopping.cancelled() => return,
                _ = instance_down.cancelled() => return,
                _ = rebalance.tick() => me.clone().rebalance_all().await,
                _ = me.rebalance_signal.notified() => me.clone().rebalance_all().await,
                _ = persist.tick() => me.persist_offsets().await,
                _ = relock.tick(), if orderly_locks => me.lock_all().await,
            }
        }
    });
}
