//! What a lite pull consumer is started with; defaults are Java's `DefaultLitePullConsumer` defaults.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::ClientConfig;
use crate::consumer::allocate::{AllocateStrategy, Averagely};
use crate::consumer::model::{ConsumeFromWhere, MessageModel};
use crate::consumer::offset_store::default_offsets_dir;
use crate::consumer::selector::MessageSelector;

/// Lite pull consumer settings; defaults are Java's `DefaultLitePullConsumer` defaults.
#[derive(Debug, Clone)]
pub struct LitePullConsumerOptions {
    /// Consumer group.
    pub group: String,
    /// Client instance settings (name servers, instance name, `persist_offset_interval`).
    pub client: ClientConfig,
    /// Clustering (default: queues split in the group, offsets on the broker) or broadcasting.
    pub message_model: MessageModel,
    /// Start position for queues without a committed offset (LastOffset).
    pub consume_from_where: ConsumeFromWhere,
    /// How queues are split in a group when subscribing (averagely).
    pub allocate: Arc<dyn AllocateStrategy>,
    /// Subscriptions made at start, as if [`LitePullConsumer::subscribe`] were called for each.
    pub subscriptions: Vec<(String, MessageSelector)>,
    /// Messages per pull, hence the most one `poll` returns (10).
    pub pull_batch_size: i32,
    /// What [`LitePullConsumer::poll_default`] waits for (5 s).
    pub poll_timeout: Duration,
    /// Commit what earlier polls returned when `poll` is called at least `auto_commit_interval` after the last
    /// auto-commit, and on shutdown (true).
    pub auto_commit: bool,
    /// See `auto_commit` (5 s).
    pub auto_commit_interval: Duration,
    /// Pulling pauses while the buffer holds more messages than this, all queues together (10000).
    pub pull_threshold_for_all: usize,
    /// ... or one queue has more than this many messages buffered (1000).
    pub pull_threshold_for_queue: usize,
    /// ... or one queue has more body bytes than this buffered (100 MiB).
    pub pull_threshold_size_for_queue: u64,
    /// Long-poll hold on the broker (20 s).
    pub broker_suspend_max_time: Duration,
    /// RPC timeout of a long-polling pull; must exceed `broker_suspend_max_time` (30 s).
    pub consumer_timeout_when_suspend: Duration,
    /// Pause of a queue's pull task after a failed pull (1 s).
    pub pull_delay_when_exception: Duration,
    /// How often queues are reallocated without a membership notice (20 s).
    pub rebalance_interval: Duration,
    /// Broadcasting offsets directory (`$ROCKETMQ_OFFSETS_DIR` or `~/.rocketmq_offsets`).
    pub offsets_dir: PathBuf,
}

impl LitePullConsumerOptions {
    /// Defaults for `group` on the name servers `namesrv_addr`.
    pub fn new(group: impl Into<String>, namesrv_addr: impl Into<String>) -> Self {
        LitePullConsumerOptions {
            group: group.into(),
            client: ClientConfig::new(namesrv_addr),
            message_model: MessageModel::Clustering,
            consume_from_where: ConsumeFromWhere::LastOffset,
            allocate: Arc::new(Averagely),
            subscriptions: Vec::new(),
            pull_batch_size: 10,
            poll_timeout: Duration::from_secs(5),
            auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
            pull_threshold_for_all: 10_000,
            pull_threshold_for_queue: 1000,
            pull_threshold_size_for_queue: 100 * 1024 * 1024,
            broker_suspend_max_time: Duration::from_secs(20),
            consumer_timeout_when_suspend: Duration::from_secs(30),
            pull_delay_when_exception: Duration::from_secs(1),
            rebalance_interval: Duration::from_secs(20),
            offsets_dir: default_offsets_dir(),
        }
    }

    /// Adds a subscription made at start.
    pub fn subscribe(mut self, topic: impl Into<String>, selector: MessageSelector) -> Self {
        self.subscriptions.push((topic.into(), selector));
        self
    }
}
