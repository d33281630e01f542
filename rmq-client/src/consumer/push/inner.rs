//! The state a push consumer's tasks share: options, owned queues, offsets, the consume permits and the
//! signals that stop or rebalance it.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use parking_lot::Mutex;
use rmq_protocol::body::{ConsumerData, MessageQueue, SubscriptionData};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::options::PushConsumerOptions;
use crate::consumer::listener::MessageListener;
use crate::consumer::membership;
use crate::consumer::model::MessageModel;
use crate::consumer::offsets::OffsetBackend;
use crate::consumer::process_queue::ProcessQueue;
use crate::consumer::stats::ConsumerStats;
use crate::instance::ClientInstance;

/// A queue this member consumes: its buffer, and the token that stops its pull task.
#[derive(Debug)]
pub(crate) struct OwnedQueue {
    pub(crate) mq: MessageQueue,
    pub(crate) pq: Arc<ProcessQueue>,
    pub(crate) cancel: CancellationToken,
}

/// How often pulling paused for each flow-control limit (Java logs `queueFlowControlTimes` and
/// `queueMaxSpanFlowControlTimes`); a lasting rise means the listener is slower than the traffic.
#[derive(Debug, Default)]
pub(crate) struct FlowControlCounters {
    pub(crate) by_count: AtomicU64,
    pub(crate) by_size: AtomicU64,
    pub(crate) by_span: AtomicU64,
}

/// What the consumer's handle, its rebalance, pull and consume tasks share.
pub(crate) struct PushInner {
    pub(crate) opts: PushConsumerOptions,
    pub(crate) instance: Arc<ClientInstance>,
    pub(crate) listener: Arc<dyn MessageListener>,
    /// Wrapped topic → subscription (the retry topic included in clustering mode).
    pub(crate) subscriptions: HashMap<String, SubscriptionData>,
    pub(crate) group: String,
    pub(crate) queues: Mutex<HashMap<MessageQueue, Arc<OwnedQueue>>>,
    /// Orderly queues rebalance moved away while a batch was still running: their broker lock is kept (and
    /// renewed) until that batch ends, so the new owner cannot start before it (Java keeps such a lock too).
    pub(crate) releasing: Mutex<HashMap<MessageQueue, Arc<OwnedQueue>>>,
    pub(crate) offsets: OffsetBackend,
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) flow_control: FlowControlCounters,
    /// Pull and consume rates per topic, for running info.
    pub(crate) stats: ConsumerStats,
    /// When the consumer started, epoch ms (`PROP_CONSUMER_START_TIMESTAMP`).
    pub(crate) started_at_ms: i64,
    pub(crate) consume_tasks: TaskTracker,
    pub(crate) rebalance_signal: Notify,
    pub(crate) rebalance_lock: tokio::sync::Mutex<()>,
    /// Cancelled first on shutdown: pulls and rebalances stop.
    pub(crate) stopping: CancellationToken,
}

impl PushInner {
    /// Whether owned queues are locked on their brokers (orderly clustering).
    pub(crate) fn locks_queues(&self) -> bool {
        self.opts.orderly && self.opts.message_model == MessageModel::Clustering
    }

    /// What heartbeats say about this consumer.
    pub(crate) fn consumer_data(&self) -> ConsumerData {
        membership::consumer_data(
            &self.group,
            "CONSUME_PASSIVELY",
            self.opts.message_model,
            self.opts.consume_from_where,
            self.subscriptions.values().cloned().collect(),
        )
    }
}
