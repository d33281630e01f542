//! The lite pull consumer (Java `DefaultLitePullConsumer`): the application asks for messages with
//! [`LitePullConsumer::poll`] instead of registering a listener.
//!
//! Two ways to get queues, mutually exclusive as in Java: [`subscribe`](LitePullConsumer::subscribe) joins the
//! group's rebalance (allocation on subscribe, every 20 s and when a broker says the group changed), and
//! [`assign`](LitePullConsumer::assign) takes a fixed set of queues with no rebalance.
//!
//! Each owned queue has a background pull task (LITE_PULL_MESSAGE with long polling) that appends batches to
//! one buffer shared by every queue, bounded by `pull_threshold_for_all` and per queue by
//! `pull_threshold_for_queue`. `poll` takes the oldest batch and counts it as consumed: the offset after its last
//! message is what the next commit stores (Java semantics — there is no per-message acknowledgement). Commits
//! go to the in-memory offset table ([`commit`](LitePullConsumer::commit)), which the consumer sends to the
//! broker (clustering) or its local file (broadcasting) every `persist_offset_interval`, on
//! [`commit_sync`](LitePullConsumer::commit_sync), when a queue moves to another member, and on shutdown.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use rmq_protocol::body::{ConsumerData, MessageQueue, SubscriptionData};
use rmq_protocol::codes::request;
use rmq_protocol::headers::PullMessageRequestHeader;
use rmq_protocol::message::sysflag::pull as pull_flag;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::allocate::{AllocateStrategy, Averagely};
use super::broker_calls::PullOutcome;
use super::offsets::OffsetBackend;
use super::push::{
    retry_topic, subscription_data, ConsumeFromWhere, MessageModel, MessageSelector,
};
use super::rebalance::start_offset;
use crate::config::ClientConfig;
use crate::error::{ClientError, Result};
use crate::instance::{ClientInstance, ConsumerHook};
use crate::message::{check_topic, MessageExt};
use crate::route::subscribe_queues;

/// Wait before re-checking a queue over its flow-control thresholds, unless a poll frees room first (Java: 50 ms).
const FLOW_CONTROL_PAUSE: Duration = Duration::from_millis(50);

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
            offsets_dir: super::offset_store::default_offsets_dir(),
        }
    }

    /// Adds a subscription made at start.
    pub fn subscribe(mut self, topic: impl Into<String>, selector: MessageSelector) -> Self {
        self.subscriptions.push((topic.into(), selector));
        self
    }
}

/// How the consumer gets its queues; fixed by the first `subscribe` or `assign`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Mode {
    #[default]
    Unset,
    Subscribe,
    Assign,
}

/// Identity of one run of a queue's pull loop; replaced on seek and resume so a stale run stops delivering.
#[derive(Debug)]
struct PullTask {
    mq: MessageQueue,
    cancel: CancellationToken,
}

#[derive(Debug)]
struct QueueEntry {
    /// The running pull loop; `None` while paused.
    task: Option<Arc<PullTask>>,
    /// Where the next pull starts; `None` until the start offset is known (computed by the pull task).
    pull_offset: Option<i64>,
    /// Offset after the last message `poll` returned (or after a stretch the filter skipped): what commit stores.
    consumed: Option<i64>,
    /// Messages and body bytes of this queue in the buffer.
    buffered: usize,
    buffered_bytes: u64,
    paused: bool,
}

impl QueueEntry {
    fn runs(&self, task: &Arc<PullTask>) -> bool {
        self.task.as_ref().is_some_and(|t| Arc::ptr_eq(t, task))
    }
}

/// One pull's messages, waiting for `poll`.
#[derive(Debug)]
struct Batch {
    mq: MessageQueue,
    msgs: Vec<MessageExt>,
    bytes: u64,
}

#[derive(Debug, Default)]
struct State {
    mode: Mode,
    /// Wrapped topic → subscription (subscribe mode).
    subscriptions: HashMap<String, SubscriptionData>,
    queues: HashMap<MessageQueue, QueueEntry>,
    buffer: VecDeque<Batch>,
    buffered_total: usize,
    next_auto_commit: Option<Instant>,
}

impl State {
    /// Drops the buffered batches of `mq` (seek, queue removal) and zeroes its counts, so totals stay exact.
    fn discard_buffered(&mut self, mq: &MessageQueue) {
        let mut dropped = 0;
        self.buffer.retain(|b| {
            let keep = &b.mq != mq;
            if !keep {
                dropped += b.msgs.len();
            }
            keep
        });
        self.buffered_total -= dropped;
        if let Some(e) = self.queues.get_mut(mq) {
            e.buffered = 0;
            e.buffered_bytes = 0;
        }
    }
}

struct LiteInner {
    opts: LitePullConsumerOptions,
    instance: Arc<ClientInstance>,
    /// Group with namespace.
    group: String,
    offsets: OffsetBackend,
    state: Mutex<State>,
    /// A batch entered the buffer (pollers wait on it).
    arrived: Notify,
    /// A poll took a batch (pull tasks under flow control wait on it).
    space: Notify,
    rebalance_signal: Notify,
    /// One rebalance or assign at a time.
    rebalance_lock: tokio::sync::Mutex<()>,
    /// Cancelled on shutdown: every pull task and the background loop stop.
    stopping: CancellationToken,
}

/// Pulls subscribed or assigned queues in the background and hands messages out on [`poll`](Self::poll);
/// cheap to clone. Call [`shutdown`](Self::shutdown) to commit and leave the group.
#[derive(Clone)]
pub struct LitePullConsumer {
    inner: Arc<LiteInner>,
}

impl std::fmt::Debug for LitePullConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LitePullConsumer")
            .field("group", &self.inner.group)
            .finish_non_exhaustive()
    }
}

struct Hook(Weak<LiteInner>);

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
            tokio::spawn(async move {
                for (mq, offset) in offsets {
                    if !inner.state.lock().queues.contains_key(&mq) {
                        continue;
                    }
                    if let Err(e) = inner.seek_wrapped(&mq, offset).await {
                        tracing::warn!(group = %inner.group, %topic, queue = ?mq, offset, error = %e, "offset reset not applied");
                    }
                }
            });
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn invalid(field: &'static str, reason: impl Into<String>) -> ClientError {
    ClientError::InvalidArgument {
        field,
        reason: reason.into(),
    }
}

impl LitePullConsumer {
    /// Validates the options, joins the group (heartbeat with consume type `CONSUME_ACTIVELY`) and starts
    /// pulling the subscriptions given in the options, if any; more can be added with `subscribe`, or queues
    /// taken with `assign`.
    ///
    /// # Errors
    /// [`ClientError::InvalidArgument`] for a bad group, topic, selector or setting (the field is named), a
    /// group already started in the same client instance, or an unreadable broadcast offsets file.
    pub async fn start(opts: LitePullConsumerOptions) -> Result<LitePullConsumer> {
        if opts.group.trim().is_empty() {
            return Err(invalid("consumer_group", "the consumer group is empty"));
        }
        check_topic(&opts.group).map_err(|_| {
            invalid(
                "consumer_group",
                format!(
                    "{:?} may only contain letters, digits, %, |, _ and -",
                    opts.group
                ),
            )
        })?;
        if opts.pull_batch_size <= 0 {
            return Err(invalid("pull_batch_size", "must be positive"));
        }
        if opts.pull_threshold_for_all == 0 || opts.pull_threshold_for_queue == 0 {
            return Err(invalid(
                "pull_threshold_for_queue",
                "flow-control thresholds must be positive, or nothing is ever pulled",
            ));
        }
        if opts.consumer_timeout_when_suspend <= opts.broker_suspend_max_time {
            return Err(invalid(
                "consumer_timeout_when_suspend",
                "must exceed broker_suspend_max_time, or every long poll times out before the broker answers",
            ));
        }
        let group = opts.client.wrap(&opts.group);
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
        let state = State {
            mode: if subscriptions.is_empty() {
                Mode::Unset
            } else {
                Mode::Subscribe
            },
            subscriptions,
            ..State::default()
        };
        let inner = Arc::new(LiteInner {
            opts,
            instance: instance.clone(),
            group: group.clone(),
            offsets,
            state: Mutex::new(state),
            arrived: Notify::new(),
            space: Notify::new(),
            rebalance_signal: Notify::new(),
            rebalance_lock: tokio::sync::Mutex::new(()),
            stopping: CancellationToken::new(),
        });
        instance.register_consumer(&group, Arc::new(Hook(Arc::downgrade(&inner))))?;
        let topics: Vec<String> = inner.state.lock().subscriptions.keys().cloned().collect();
        for topic in &topics {
            if let Err(e) = instance.update_route(topic).await {
                tracing::warn!(%topic, error = %e, "no route yet; the consumer will pick it up when it appears");
            }
        }
        instance.heartbeat_all().await;
        inner.clone().spawn_background();
        if !topics.is_empty() {
            inner.clone().rebalance_all().await;
        }
        Ok(LitePullConsumer { inner })
    }

    /// The consumer group (with namespace).
    pub fn group(&self) -> &str {
        &self.inner.group
    }

    /// Subscribes to `topic` (or changes its selector) and takes this member's share of its queues now.
    ///
    /// # Errors
    /// A bad topic or selector, `assign` already used ("subscribe and assign are mutually exclusive", as in
    /// Java), or a consumer that was shut down.
    pub async fn subscribe(&self, topic: &str, selector: MessageSelector) -> Result<()> {
        let inner = &self.inner;
        inner.check_running()?;
        check_topic(topic)?;
        let wrapped = inner.opts.client.wrap(topic);
        let sd = subscription_data(&wrapped, &selector, now_ms())?;
        {
            let mut st = inner.state.lock();
            if st.mode == Mode::Assign {
                return Err(invalid(
                    "subscription",
                    "subscribe and assign are mutually exclusive",
                ));
            }
            st.mode = Mode::Subscribe;
            st.subscriptions.insert(wrapped.clone(), sd);
        }
        if let Err(e) = inner.instance.update_route(&wrapped).await {
            tracing::warn!(topic = %wrapped, error = %e, "no route yet; the consumer will pick it up when it appears");
        }
        inner.instance.heartbeat_all().await;
        inner.clone().rebalance_all().await;
        Ok(())
    }

    /// Stops consuming `topic`: its queues are dropped (consumed offsets committed when `auto_commit`).
    pub async fn unsubscribe(&self, topic: &str) {
        let inner = &self.inner;
        let wrapped = inner.opts.client.wrap(topic);
        let _one_at_a_time = inner.rebalance_lock.lock().await;
        let mqs: Vec<MessageQueue> = {
            let mut st = inner.state.lock();
            st.subscriptions.remove(&wrapped);
            st.queues
                .keys()
                .filter(|mq| mq.topic == wrapped)
                .cloned()
                .collect()
        };
        for mq in mqs {
            inner.remove_queue(&mq).await;
        }
        inner.instance.heartbeat_all().await;
    }

    /// Consumes exactly `queues` (replacing an earlier assignment), with no group rebalance; queues start at the
    /// group's committed offset, else where `consume_from_where` says.
    ///
    /// # Errors
    /// An empty list or bad topic, `subscribe` already used, or a consumer that was shut down.
    pub async fn assign(&self, queues: Vec<MessageQueue>) -> Result<()> {
        let inner = &self.inner;
        inner.check_running()?;
        if queues.is_empty() {
            return Err(invalid("message_queues", "assign at least one queue"));
        }
        let mut wanted = Vec::with_capacity(queues.len());
        for mq in queues {
            check_topic(&mq.topic)?;
            wanted.push(inner.wrap_mq(&mq));
        }
        {
            let mut st = inner.state.lock();
            if st.mode == Mode::Subscribe {
                return Err(invalid(
                    "message_queues",
                    "subscribe and assign are mutually exclusive",
                ));
            }
            st.mode = Mode::Assign;
        }
        let _one_at_a_time = inner.rebalance_lock.lock().await;
        inner.update_queues(None, wanted).await;
        Ok(())
    }

    /// The readable queues of `topic` (what to pass to `assign`).
    ///
    /// # Errors
    /// No route for the topic.
    pub async fn fetch_message_queues(&self, topic: &str) -> Result<Vec<MessageQueue>> {
        let inner = &self.inner;
        let wrapped = inner.opts.client.wrap(topic);
        let route = inner.instance.update_route(&wrapped).await?;
        Ok(subscribe_queues(&wrapped, &route)
            .into_iter()
            .map(|mq| inner.unwrap_mq(mq))
            .collect())
    }

    /// Waits up to `timeout` for buffered messages and returns one pulled batch (at most `pull_batch_size`
    /// messages, one queue, in queue order), or an empty `Vec` when nothing came. Returned messages count as
    /// consumed: the next commit moves the group past them.
    ///
    /// Bodies are decompressed; messages redelivered through the retry topic carry their original topic.
    ///
    /// # Errors
    /// [`ClientError::Shutdown`] once the consumer is (or while waiting, gets) shut down.
    ///
    /// # Cancel safety
    /// Cancel safe: a batch is taken from the buffer only when the call returns it.
    pub async fn poll(&self, timeout: Duration) -> Result<Vec<MessageExt>> {
        let inner = &self.inner;
        inner.check_running()?;
        if inner.opts.auto_commit {
            inner.maybe_auto_commit();
        }
        let deadline = Instant::now() + timeout;
        loop {
            let arrived = inner.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if let Some(msgs) = inner.take_batch() {
                inner.space.notify_waiters();
                return Ok(msgs);
            }
            tokio::select! {
                _ = &mut arrived => {}
                _ = tokio::time::sleep_until(deadline) => return Ok(Vec::new()),
                _ = inner.stopping.cancelled() => return Err(ClientError::Shutdown("lite pull consumer")),
            }
        }
    }

    /// [`poll`](Self::poll) with the options' `poll_timeout` (Java `poll()`).
    ///
    /// # Errors
    /// As `poll`.
    pub async fn poll_default(&self) -> Result<Vec<MessageExt>> {
        self.poll(self.inner.opts.poll_timeout).await
    }

    /// Makes the next poll of `mq` start at `offset` (buffered messages of `mq` are discarded). As Java `seek`
    /// does, `offset` also becomes the queue's consumed position and the group's offset in memory, so it reaches
    /// the broker with the next persist round even without a commit.
    ///
    /// # Errors
    /// `mq` not currently owned (subscribe mode: maybe it is being rebalanced), or `offset` outside the
    /// queue's `[min, max]` offsets.
    pub async fn seek(&self, mq: &MessageQueue, offset: i64) -> Result<()> {
        self.inner.check_running()?;
        let mq = self.inner.wrap_mq(mq);
        self.inner.seek_wrapped(&mq, offset).await
    }

    /// Seeks to the first message the broker still stores.
    ///
    /// # Errors
    /// As [`seek`](Self::seek), or the broker cannot be asked.
    pub async fn seek_to_begin(&self, mq: &MessageQueue) -> Result<()> {
        self.inner.check_running()?;
        let mq = self.inner.wrap_mq(mq);
        let min = self.inner.instance.min_offset(&mq).await?;
        self.inner.seek_wrapped(&mq, min).await
    }

    /// Seeks past the last stored message: only messages sent from now on are polled.
    ///
    /// # Errors
    /// As [`seek`](Self::seek), or the broker cannot be asked.
    pub async fn seek_to_end(&self, mq: &MessageQueue) -> Result<()> {
        self.inner.check_running()?;
        let mq = self.inner.wrap_mq(mq);
        let max = self.inner.instance.max_offset(&mq).await?;
        self.inner.seek_wrapped(&mq, max).await
    }

    /// Stops pulling `queues` (an in-flight long poll is abandoned); batches already buffered are still
    /// returned by `poll`. Queues not owned are ignored, as in Java; a paused queue that moves away and comes
    /// back is no longer paused.
    pub fn pause(&self, queues: &[MessageQueue]) {
        let mut st = self.inner.state.lock();
        for mq in queues {
            let mq = self.inner.wrap_mq(mq);
            if let Some(e) = st.queues.get_mut(&mq) {
                e.paused = true;
                if let Some(t) = e.task.take() {
                    t.cancel.cancel();
                }
            }
        }
    }

    /// Resumes pulling paused `queues` where they stopped.
    pub fn resume(&self, queues: &[MessageQueue]) {
        let inner = &self.inner;
        let mut st = inner.state.lock();
        for mq in queues {
            let mq = inner.wrap_mq(mq);
            if let Some(e) = st.queues.get_mut(&mq) {
                e.paused = false;
                if e.task.is_none() && !inner.stopping.is_cancelled() {
                    e.task = Some(inner.spawn_pull(&mq));
                }
            }
        }
    }

    /// Records the consumed position of every owned queue (what `poll` returned) as the group's offset in
    /// memory; it reaches the broker or offsets file within `persist_offset_interval`, when the queue moves to
    /// another member, or on shutdown. Use [`commit_sync`](Self::commit_sync) to wait for it.
    pub fn commit(&self) {
        self.inner.commit_in_memory();
    }

    /// [`commit`](Self::commit), then sends the offsets of every owned queue now (UPDATE_CONSUMER_OFFSET when
    /// clustering, the local offsets file when broadcasting) and waits.
    ///
    /// # Errors
    /// The first broker refusal or I/O error; the other queues are still tried, and everything is sent again
    /// on the next periodic round.
    pub async fn commit_sync(&self) -> Result<()> {
        self.inner.check_running()?;
        self.inner.commit_in_memory();
        self.inner.persist_owned_checked().await
    }

    /// The group's committed offset of `mq`: this consumer's latest commit, else the broker's (or the offsets
    /// file's); `None` when there is none.
    ///
    /// # Errors
    /// The broker cannot be asked.
    pub async fn committed(&self, mq: &MessageQueue) -> Result<Option<i64>> {
        let inner = &self.inner;
        let mq = inner.wrap_mq(mq);
        if let Some(o) = inner.offsets.get(&mq) {
            return Ok(Some(o));
        }
        inner
            .offsets
            .read_stored(&inner.instance, &inner.group, &mq)
            .await
            .map(|o| o.filter(|o| *o >= 0))
    }

    /// Queues this consumer currently pulls (assigned, or its share of the subscriptions), sorted.
    pub fn assignment(&self) -> Vec<MessageQueue> {
        let mut v: Vec<MessageQueue> = self
            .inner
            .state
            .lock()
            .queues
            .keys()
            .map(|mq| self.inner.unwrap_mq(mq.clone()))
            .collect();
        v.sort();
        v
    }

    /// Re-runs queue allocation now and waits for it (tests and operators; the timer and notices do it anyway).
    pub async fn rebalance(&self) {
        self.inner.clone().rebalance_all().await;
    }

    /// Stops pulling, commits what was polled (when `auto_commit`), sends the offsets, and leaves the group.
    /// Pending and later `poll` calls fail with [`ClientError::Shutdown`]; buffered messages are dropped and will
    /// be delivered again to whoever takes the queues.
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        if inner.stopping.is_cancelled() {
            return;
        }
        inner.stopping.cancel();
        let _one_at_a_time = inner.rebalance_lock.lock().await;
        if inner.opts.auto_commit {
            inner.commit_in_memory();
        }
        let mqs = inner.owned();
        inner
            .offsets
            .persist(&inner.instance, &inner.group, &mqs)
            .await;
        {
            let mut st = inner.state.lock();
            st.buffer.clear();
            st.buffered_total = 0;
            st.queues.clear();
        }
        inner.instance.unregister_consumer(&inner.group).await;
    }
}

impl LiteInner {
    fn check_running(&self) -> Result<()> {
        if self.stopping.is_cancelled() {
            return Err(ClientError::Shutdown("lite pull consumer"));
        }
        Ok(())
    }

    fn wrap_mq(&self, mq: &MessageQueue) -> MessageQueue {
        MessageQueue {
            topic: self.opts.client.wrap(&mq.topic),
            ..mq.clone()
        }
    }

    /// The user's view of a topic: without this client's namespace prefix (Java `NamespaceUtil.withoutNamespace`).
    fn unwrap_topic(&self, topic: &str) -> Option<String> {
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

    fn unwrap_mq(&self, mut mq: MessageQueue) -> MessageQueue {
        if let Some(t) = self.unwrap_topic(&mq.topic) {
            mq.topic = t;
        }
        mq
    }

    fn consumer_data(&self) -> ConsumerData {
        let subscription_data_set = self.state.lock().subscriptions.values().cloned().collect();
        ConsumerData {
            group_name: self.group.clone(),
            consume_type: "CONSUME_ACTIVELY".to_string(),
            message_model: match self.opts.message_model {
                MessageModel::Clustering => "CLUSTERING",
                MessageModel::Broadcasting => "BROADCASTING",
            }
            .to_string(),
            consume_from_where: match self.opts.consume_from_where {
                ConsumeFromWhere::LastOffset => "CONSUME_FROM_LAST_OFFSET",
                ConsumeFromWhere::FirstOffset => "CONSUME_FROM_FIRST_OFFSET",
                ConsumeFromWhere::Timestamp(_) => "CONSUME_FROM_TIMESTAMP",
            }
            .to_string(),
            subscription_data_set,
            unit_mode: false,
        }
    }

    fn owned(&self) -> Vec<MessageQueue> {
        let mut mqs: Vec<MessageQueue> = self.state.lock().queues.keys().cloned().collect();
        mqs.sort();
        mqs
    }

    fn spawn_background(self: Arc<Self>) {
        let weak = Arc::downgrade(&self);
        let stopping = self.stopping.clone();
        let instance_down = self.instance.shutdown_token();
        let every = self.opts.rebalance_interval;
        let persist_every = self.instance.config().persist_offset_interval;
        drop(self);
        tokio::spawn(async move {
            let mut rebalance = tokio::time::interval(every);
            let mut persist = tokio::time::interval(persist_every);
            rebalance.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            persist.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // Topics created after subscribing (auto-created by the first send) are found within a second
            // instead of at the next 30 s route refresh.
            let mut probe = tokio::time::interval(Duration::from_secs(1));
            probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            rebalance.tick().await;
            persist.tick().await;
            loop {
                let Some(me) = weak.upgrade() else { return };
                tokio::select! {
                    _ = probe.tick() => me.clone().probe_missing_routes().await,
                    _ = stopping.cancelled() => return,
                    _ = instance_down.cancelled() => return,
                    _ = rebalance.tick() => me.clone().rebalance_all().await,
                    _ = me.rebalance_signal.notified() => me.clone().rebalance_all().await,
                    _ = persist.tick() => {
                        let mqs = me.owned();
                        me.offsets.persist(&me.instance, &me.group, &mqs).await;
                    }
                }
            }
        });
    }

    /// Fetches routes of subscribed topics that had none; rebalances when one appears.
    async fn probe_missing_routes(self: Arc<Self>) {
        let cached = self.instance.cached_topics();
        let missing: Vec<String> = self
            .state
            .lock()
            .subscriptions
            .keys()
            .filter(|t| !cached.contains(*t))
            .cloned()
            .collect();
        let mut found = false;
        for topic in &missing {
            if self.instance.update_route(topic).await.is_ok() {
                found = true;
            }
        }
        if found {
            self.instance.heartbeat_all().await;
            self.rebalance_signal.notify_one();
        }
    }

    /// Re-allocates every subscribed topic (subscribe mode only; serialised with assign and shutdown).
    async fn rebalance_all(self: Arc<Self>) {
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

    async fn rebalance_topic(self: &Arc<Self>, topic: &str) -> Result<()> {
        let route = self.instance.route(topic).await?;
        let mqs = subscribe_queues(topic, &route);
        let allocated = match self.opts.message_model {
            MessageModel::Broadcasting => mqs,
            MessageModel::Clustering => {
                let mut cids = self.instance.consumer_ids(topic, &self.group).await?;
                if cids.is_empty() {
                    return Ok(());
                }
                cids.sort();
                self.opts
                    .allocate
                    .allocate(&self.group, self.instance.client_id(), &mqs, &cids)
            }
        };
        self.update_queues(Some(topic), allocated).await;
        Ok(())
    }

    /// Makes the owned queues (of `topic`, or all when `None`) exactly `wanted`: new ones get a pull task, the
    /// others are dropped. The caller holds `rebalance_lock`.
    async fn update_queues(self: &Arc<Self>, topic: Option<&str>, wanted: Vec<MessageQueue>) {
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
    async fn remove_queue(&self, mq: &MessageQueue) {
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

    fn spawn_pull(self: &Arc<Self>, mq: &MessageQueue) -> Arc<PullTask> {
        let task = Arc::new(PullTask {
            mq: mq.clone(),
            cancel: self.stopping.child_token(),
        });
        tokio::spawn(pull_loop(self.clone(), task.clone()));
        task
    }

    async fn seek_wrapped(self: &Arc<Self>, mq: &MessageQueue, offset: i64) -> Result<()> {
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

    fn maybe_auto_commit(&self) {
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

    fn commit_in_memory(&self) {
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

    async fn persist_owned_checked(&self) -> Result<()> {
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
    fn take_batch(&self) -> Option<Vec<MessageExt>> {
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
    fn next_step(&self, task: &Arc<PullTask>) -> Option<Step> {
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
    fn deliver(&self, task: &Arc<PullTask>, msgs: Vec<MessageExt>, next: i64, moved: bool) -> bool {
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

struct Step {
    offset: Option<i64>,
    over: bool,
    /// Subscribe mode: the topic's subscription; `None` in assign mode (everything).
    sub: Option<SubscriptionData>,
}

/// Waits `d` unless `task` is cancelled first; true when cancelled.
async fn pause(task: &PullTask, d: Duration) -> bool {
    tokio::select! {
        _ = task.cancel.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
    }
}

/// Pulls `task.mq` into the shared buffer until the task is replaced, the queue dropped, or the consumer stopped.
async fn pull_loop(inner: Arc<LiteInner>, task: Arc<PullTask>) {
    let mq = &task.mq;
    let opts = &inner.opts;
    let retry = retry_topic(&inner.group);
    let all = match subscription_data(&mq.topic, &MessageSelector::all(), 0) {
        Ok(sd) => sd,
        Err(e) => {
            tracing::error!(queue = ?mq, error = %e, "cannot build the match-all subscription");
            return;
        }
    };
    loop {
        if task.cancel.is_cancelled() {
            return;
        }
        let space = inner.space.notified();
        tokio::pin!(space);
        space.as_mut().enable();
        let Some(step) = inner.next_step(&task) else {
            return;
        };
        if step.over {
            tokio::select! {
                _ = task.cancel.cancelled() => return,
                _ = &mut space => {}
                _ = tokio::time::sleep(FLOW_CONTROL_PAUSE) => {}
            }
            continue;
        }
        let offset = match step.offset {
            Some(o) => o,
            None => {
                let from = opts.consume_from_where;
                let start = tokio::select! {
                    _ = task.cancel.cancelled() => return,
                    r = start_offset(&inner.instance, &inner.offsets, &inner.group, from, mq) => r,
                };
                match start {
                    Ok(o) => {
                        let mut st = inner.state.lock();
                        match st.queues.get_mut(mq).filter(|e| e.runs(&task)) {
                            Some(e) => *e.pull_offset.get_or_insert(o),
                            None => return,
                        }
                    }
                    Err(e) => {
                        tracing::warn!(group = %inner.group, queue = ?mq, error = %e, "no start offset yet; retrying");
                        if pause(&task, opts.pull_delay_when_exception).await {
                            return;
                        }
                        continue;
                    }
                }
            }
        };
        let sub = step.sub.as_ref().unwrap_or(&all);
        let header = PullMessageRequestHeader {
            consumer_group: inner.group.clone(),
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            queue_offset: offset,
            max_msg_nums: opts.pull_batch_size,
            sys_flag: pull_flag::build(false, true, true, false) | pull_flag::LITE_PULL,
            commit_offset: 0,
            suspend_timeout_millis: opts.broker_suspend_max_time.as_millis() as i64,
            subscription: Some(sub.sub_string.clone()),
            sub_version: sub.sub_version,
            expression_type: Some(sub.expression_type.clone()),
            max_msg_bytes: None,
            request_source: None,
            proxy_forward_client_id: None,
        };
        let outcome = tokio::select! {
            _ = task.cancel.cancelled() => return,
            r = inner.instance.pull_with_code(
                request::LITE_PULL_MESSAGE,
                header,
                mq,
                opts.consumer_timeout_when_suspend,
            ) => r,
        };
        let keep_going = match outcome {
            Ok(PullOutcome::Found { msgs, next }) => {
                let msgs: Vec<MessageExt> = super::pull::delivered(msgs, sub, &retry)
                    .map(|mut m| {
                        if let Some(t) = inner.unwrap_topic(&m.topic) {
                            m.topic = t;
                        }
                        m
                    })
                    .collect();
                inner.deliver(&task, msgs, next, false)
            }
            Ok(PullOutcome::Empty { next }) => inner.deliver(&task, Vec::new(), next, false),
            Ok(PullOutcome::OffsetMoved { next }) => {
                tracing::warn!(group = %inner.group, queue = ?mq, from = offset, to = next, "pull offset out of range; moving");
                inner.deliver(&task, Vec::new(), next, true)
            }
            Err(e) => {
                tracing::debug!(group = %inner.group, queue = ?mq, error = %e, "pull failed; pausing");
                !pause(&task, opts.pull_delay_when_exception).await
            }
        };
        if !keep_going {
            return;
        }
    }
}
