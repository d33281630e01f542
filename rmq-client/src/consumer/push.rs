//! The push consumer (Java `DefaultMQPushConsumer`): subscribe, and a listener is called with each message.
//!
//! Start-up registers the group with the client instance, heartbeats the brokers, and starts a rebalance task
//! (on start, every 20 s, and at once when a broker says the group changed). Each owned queue gets a pull task
//! with long polling and flow control; pulled messages go to the concurrent or orderly consume service; offsets
//! are committed from the lowest unfinished message, every 5 s and on shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use futures::FutureExt;
use parking_lot::Mutex;
use rmq_protocol::body::{ConsumerData, MessageQueue, SubscriptionData};
use rmq_protocol::message::tag_hash_code;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::allocate::{AllocateStrategy, Averagely};
use super::offsets::OffsetBackend;
use super::rebalance::OwnedQueue;
use crate::config::ClientConfig;
use crate::error::{ClientError, Result};
use crate::instance::{ClientInstance, ConsumerHook};
use crate::message::{check_topic, MessageExt};

/// Where a group with no committed offset starts reading a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeFromWhere {
    /// Only messages sent from now on (Java default).
    LastOffset,
    /// Everything still stored.
    FirstOffset,
    /// Messages stored at or after this time (ms since the epoch).
    Timestamp(i64),
}

/// Whether a message goes to one member of the group or to all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageModel {
    /// Queues are split among the members; offsets live on the broker.
    Clustering,
    /// Every member gets every message; offsets live in a local file per instance.
    Broadcasting,
}

impl MessageModel {
    fn java_name(self) -> &'static str {
        match self {
            MessageModel::Clustering => "CLUSTERING",
            MessageModel::Broadcasting => "BROADCASTING",
        }
    }
}

/// Which messages of a topic a subscription takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageSelector {
    /// `*` or `TagA || TagB`.
    Tag(String),
    /// A SQL92 expression over properties (the broker must enable property filtering).
    Sql92(String),
}

impl MessageSelector {
    /// Every message.
    pub fn all() -> Self {
        MessageSelector::Tag("*".to_string())
    }
}

/// What the listener decided about a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeOutcome {
    /// Done: the offset may move past these messages.
    Success,
    /// Concurrent mode: deliver again later. `delay_level` 0 lets the broker pick (3 + reconsume times); -1
    /// sends the messages straight to the dead-letter queue.
    Retry {
        /// Delay level of the redelivery.
        delay_level: i32,
    },
    /// Orderly mode: stop this queue for a while and redeliver the same messages locally.
    Suspend(Duration),
}

impl ConsumeOutcome {
    /// Retry with the broker's schedule.
    pub const RETRY_LATER: ConsumeOutcome = ConsumeOutcome::Retry { delay_level: 0 };
    /// Dead-letter now.
    pub const DEAD_LETTER: ConsumeOutcome = ConsumeOutcome::Retry { delay_level: -1 };
}

/// Where a batch came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumeContext {
    /// The queue.
    pub queue: MessageQueue,
    /// Whether this is an orderly consumer (then [`ConsumeOutcome::Suspend`] is the way to retry).
    pub orderly: bool,
}

/// Called with pulled messages (one or up to `consume_message_batch_max_size`).
pub trait MessageListener: Send + Sync + 'static {
    /// Consumes a batch and says what happened; a panic counts as a failure.
    fn consume(
        &self,
        msgs: Vec<MessageExt>,
        ctx: ConsumeContext,
    ) -> BoxFuture<'static, ConsumeOutcome>;
}

impl<F, Fut> MessageListener for F
where
    F: Fn(Vec<MessageExt>, ConsumeContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ConsumeOutcome> + Send + 'static,
{
    fn consume(
        &self,
        msgs: Vec<MessageExt>,
        ctx: ConsumeContext,
    ) -> BoxFuture<'static, ConsumeOutcome> {
        self(msgs, ctx).boxed()
    }
}

/// Push consumer settings; defaults are Java's `DefaultMQPushConsumer` defaults.
#[derive(Debug, Clone)]
pub struct PushConsumerOptions {
    /// Consumer group.
    pub group: String,
    /// Client instance settings (name servers, instance name).
    pub client: ClientConfig,
    /// Clustering (default) or broadcasting.
    pub message_model: MessageModel,
    /// Start position for queues without a committed offset (LastOffset).
    pub consume_from_where: ConsumeFromWhere,
    /// Topic → selector.
    pub subscriptions: Vec<(String, MessageSelector)>,
    /// How queues are split in a group (averagely).
    pub allocate: Arc<dyn AllocateStrategy>,
    /// Orderly consumption: one batch at a time per queue, with broker queue locks in clustering mode.
    pub orderly: bool,
    /// Listener calls running at once (20).
    pub consume_thread_max: usize,
    /// Messages per listener call (1).
    pub consume_message_batch_max_size: usize,
    /// Messages per pull (32).
    pub pull_batch_size: i32,
    /// Pulling pauses while a queue buffers more messages than this (1000).
    pub pull_threshold_for_queue: usize,
    /// ... or more body bytes than this (100 MiB).
    pub pull_threshold_size_for_queue: u64,
    /// Concurrent mode: pulling pauses while the buffered offsets span more than this (2000).
    pub consume_concurrently_max_span: i64,
    /// Deliveries before a message is dead-lettered (16 concurrent; orderly: i32::MAX in Java, 16 here too).
    pub max_reconsume_times: i32,
    /// Orderly mode: pause after a Suspend without an explicit duration (1 s).
    pub suspend_current_queue_time: Duration,
    /// A listener call longer than this counts as failed (15 min).
    pub consume_timeout: Duration,
    /// Shutdown waits this long for running listener calls (0 = do not wait; Java default).
    pub await_termination: Duration,
    /// Long-poll hold on the broker (15 s).
    pub broker_suspend_max_time: Duration,
    /// How often queues are reallocated without a membership notice (20 s).
    pub rebalance_interval: Duration,
    /// Broadcasting offsets directory (`$ROCKETMQ_OFFSETS_DIR` or `~/.rocketmq_offsets`).
    pub offsets_dir: PathBuf,
}

impl PushConsumerOptions {
    /// Defaults for `group` on the name servers `namesrv_addr`.
    pub fn new(group: impl Into<String>, namesrv_addr: impl Into<String>) -> Self {
        PushConsumerOptions {
            group: group.into(),
            client: ClientConfig::new(namesrv_addr),
            message_model: MessageModel::Clustering,
            consume_from_where: ConsumeFromWhere::LastOffset,
            subscriptions: Vec::new(),
            allocate: Arc::new(Averagely),
            orderly: false,
            consume_thread_max: 20,
            consume_message_batch_max_size: 1,
            pull_batch_size: 32,
            pull_threshold_for_queue: 1000,
            pull_threshold_size_for_queue: 100 * 1024 * 1024,
            consume_concurrently_max_span: 2000,
            max_reconsume_times: 16,
            suspend_current_queue_time: Duration::from_secs(1),
            consume_timeout: Duration::from_secs(15 * 60),
            await_termination: Duration::ZERO,
            broker_suspend_max_time: Duration::from_secs(15),
            rebalance_interval: Duration::from_secs(20),
            offsets_dir: super::offset_store::default_offsets_dir(),
        }
    }

    /// Adds a subscription.
    pub fn subscribe(mut self, topic: impl Into<String>, selector: MessageSelector) -> Self {
        self.subscriptions.push((topic.into(), selector));
        self
    }
}

/// The group's retry topic (Java `MixAll.getRetryTopic`).
pub fn retry_topic(group: &str) -> String {
    format!("%RETRY%{group}")
}

/// The group's dead-letter topic.
pub fn dlq_topic(group: &str) -> String {
    format!("%DLQ%{group}")
}

/// Parses a subscription into what heartbeats and pulls carry.
pub fn subscription_data(
    topic: &str,
    selector: &MessageSelector,
    version: i64,
) -> Result<SubscriptionData> {
    let mut sd = SubscriptionData {
        topic: topic.to_string(),
        sub_version: version,
        ..SubscriptionData::default()
    };
    match selector {
        MessageSelector::Tag(expr) => {
            let expr = expr.trim();
            if expr.is_empty() || expr == "*" {
                sd.sub_string = "*".to_string();
            } else {
                sd.sub_string = expr.to_string();
                for tag in expr.split("||").map(str::trim).filter(|t| !t.is_empty()) {
                    if !sd.tags_set.iter().any(|t| t == tag) {
                        sd.tags_set.push(tag.to_string());
                        sd.code_set.push(tag_hash_code(tag) as i32);
                    }
                }
                if sd.tags_set.is_empty() {
                    return Err(ClientError::InvalidArgument {
                        field: "selector_expression",
                        reason: format!("{expr:?} names no tag"),
                    });
                }
            }
            sd.expression_type = "TAG".to_string();
        }
        MessageSelector::Sql92(expr) => {
            if let Err(e) = rmq_filter::Selector::parse(expr) {
                return Err(ClientError::InvalidArgument {
                    field: "selector_expression",
                    reason: format!("SQL92 {expr:?} does not parse: {e}"),
                });
            }
            sd.sub_string = expr.clone();
            sd.expression_type = "SQL92".to_string();
        }
    }
    Ok(sd)
}

pub(crate) struct PushInner {
    pub(crate) opts: PushConsumerOptions,
    pub(crate) instance: Arc<ClientInstance>,
    pub(crate) listener: Arc<dyn MessageListener>,
    /// Wrapped topic → subscription (the retry topic included in clustering mode).
    pub(crate) subscriptions: HashMap<String, SubscriptionData>,
    pub(crate) group: String,
    pub(crate) queues: Mutex<HashMap<MessageQueue, Arc<OwnedQueue>>>,
    pub(crate) offsets: OffsetBackend,
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) consume_tasks: TaskTracker,
    pub(crate) rebalance_signal: Notify,
    pub(crate) rebalance_lock: tokio::sync::Mutex<()>,
    /// Cancelled first on shutdown: pulls and rebalances stop.
    pub(crate) stopping: CancellationToken,
}

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

struct Hook(std::sync::Weak<PushInner>);

impl ConsumerHook for Hook {
    fn consumer_data(&self) -> ConsumerData {
        match self.0.upgrade() {
            Some(inner) => inner.consumer_data(),
            None => ConsumerData::default(),
        }
    }

    fn rebalance_now(&self) {
        if let Some(inner) = self.0.upgrade() {
            inner.rebalance_signal.notify_one();
        }
    }

    fn reset_offsets(&self, topic: &str, offsets: Vec<(MessageQueue, i64)>) {
        if let Some(inner) = self.0.upgrade() {
            let topic = topic.to_string();
            tokio::spawn(async move { inner.reset_offsets(&topic, offsets).await });
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
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
        let version = now_ms();
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
            opts,
            instance: instance.clone(),
            listener: Arc::new(listener),
            subscriptions,
            group: group.clone(),
            queues: Mutex::default(),
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
                tracing::warn!(%topic, error = %e, "no route yet; the consumer will pick it up when it appears");
            }
        }
        instance.heartbeat_all().await;
        inner.clone().spawn_background();
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

impl PushInner {
    /// Fetches routes of subscribed topics that had none; rebalances when one appears.
    async fn probe_missing_routes(self: Arc<Self>) {
        let cached = self.instance.cached_topics();
        let mut found = false;
        for topic in self.subscriptions.keys().filter(|t| !cached.contains(*t)) {
            if self.instance.update_route(topic).await.is_ok() {
                found = true;
            }
        }
        if found {
            self.instance.heartbeat_all().await;
            self.rebalance_signal.notify_one();
        }
    }

    pub(crate) fn consumer_data(&self) -> ConsumerData {
        ConsumerData {
            group_name: self.group.clone(),
            consume_type: "CONSUME_PASSIVELY".to_string(),
            message_model: self.opts.message_model.java_name().to_string(),
            consume_from_where: match self.opts.consume_from_where {
                ConsumeFromWhere::LastOffset => "CONSUME_FROM_LAST_OFFSET",
                ConsumeFromWhere::FirstOffset => "CONSUME_FROM_FIRST_OFFSET",
                ConsumeFromWhere::Timestamp(_) => "CONSUME_FROM_TIMESTAMP",
            }
            .to_string(),
            subscription_data_set: self.subscriptions.values().cloned().collect(),
            unit_mode: false,
        }
    }

    fn spawn_background(self: Arc<Self>) {
        let weak = Arc::downgrade(&self);
        let stopping = self.stopping.clone();
        let instance_down = self.instance.shutdown_token();
        let every = self.opts.rebalance_interval;
        let persist_every = self.instance.config().persist_offset_interval;
        let orderly_locks =
            self.opts.orderly && self.opts.message_model == MessageModel::Clustering;
        tokio::spawn(async move {
            let mut rebalance = tokio::time::interval(every);
            let mut persist = tokio::time::interval(persist_every);
            let mut relock = tokio::time::interval(super::process_queue::REBALANCE_LOCK_INTERVAL);
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
                    _ = probe.tick() => me.clone().probe_missing_routes().await,
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
}
