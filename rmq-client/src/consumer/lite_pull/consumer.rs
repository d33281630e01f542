//! The lite pull consumer's handle (Java `DefaultLitePullConsumer`): start, subscribe or assign, poll, seek,
//! commit, shutdown.

use rmq_protocol::clock::system_now_ms;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use parking_lot::Mutex;
use rmq_protocol::body::{ConsumerData, ConsumerRunningInfo, MessageQueue};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::inner::{invalid, LiteInner};
use super::options::LitePullConsumerOptions;
use super::state::{Mode, State};
use crate::consumer::membership::{self, basic_running_info, GroupMember, Hook};
use crate::consumer::model::MessageModel;
use crate::consumer::offsets::OffsetBackend;
use crate::consumer::selector::{subscription_data, MessageSelector};
use crate::error::{ClientError, Result};
use crate::instance::ClientInstance;
use crate::message::{check_topic, MessageExt};
use crate::route::subscribe_queues;

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

impl GroupMember for LiteInner {
    fn consumer_data(&self) -> ConsumerData {
        LiteInner::consumer_data(self)
    }

    fn rebalance_signal(&self) -> &Notify {
        &self.rebalance_signal
    }

    fn reset_offsets(
        self: Arc<Self>,
        topic: String,
        offsets: Vec<(MessageQueue, i64)>,
    ) -> BoxFuture<'static, ()> {
        async move {
            for (mq, offset) in offsets {
                if !self.state.lock().queues.contains_key(&mq) {
                    continue;
                }
                if let Err(e) = self.seek_wrapped(&mq, offset).await {
                    tracing::warn!(group = %self.group, %topic, queue = ?mq, offset, error = %e, "offset reset not applied");
                }
            }
        }
        .boxed()
    }

    fn running_info(&self, _jstack: bool) -> ConsumerRunningInfo {
        basic_running_info(self.consumer_data(), &self.instance, self.started_at_ms)
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
            started_at_ms: system_now_ms(),
        });
        instance.register_consumer(&group, Arc::new(Hook(Arc::downgrade(&inner))))?;
        let topics: Vec<String> = inner.state.lock().subscriptions.keys().cloned().collect();
        for topic in &topics {
            if let Err(e) = instance.update_route(topic).await {
                tracing::debug!(%topic, error = %e, "no route yet; the consumer will pick it up when it appears");
            }
        }
        instance.heartbeat_all().await;
        spawn_background(inner.clone());
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
        let sd = subscription_data(&wrapped, &selector, system_now_ms())?;
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
            tracing::debug!(topic = %wrapped, error = %e, "no route yet; the consumer will pick it up when it appears");
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

/// The consumer's timers: route probe, rebalance and offset persistence.
fn spawn_background(inner: Arc<LiteInner>) {
    let weak = Arc::downgrade(&inner);
    let stopping = inner.stopping.clone();
    let instance_down = inner.instance.shutdown_token();
    let every = inner.opts.rebalance_interval;
    let persist_every = inner.instance.config().persist_offset_interval;
    drop(inner);
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
                _ = probe.tick() => {
                    let subscribed = me.state.lock().subscriptions.keys().cloned().collect();
                    membership::probe_missing_routes(&me.instance, subscribed, &me.rebalance_signal).await;
                }
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
