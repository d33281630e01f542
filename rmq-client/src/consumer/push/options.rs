//! What a push consumer is started with; defaults are Java's `DefaultMQPushConsumer` defaults.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::clock::Clock;

use crate::config::ClientConfig;
use crate::consumer::allocate::{AllocateStrategy, Averagely};
use crate::consumer::model::{ConsumeFromWhere, MessageModel};
use crate::consumer::offset_store::default_offsets_dir;
use crate::consumer::selector::MessageSelector;

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
    /// The clock suspensions and local retries wait on (the system clock; a test's virtual clock in the
    /// harness, shared with its embedded broker).
    pub clock: Clock,
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
            offsets_dir: default_offsets_dir(),
            clock: Clock::system(),
        }
    }

    /// Adds a subscription.
    pub fn subscribe(mut self, topic: impl Into<String>, selector: MessageSelector) -> Self {
        self.subscriptions.push((topic.into(), selector));
        self
    }
}
