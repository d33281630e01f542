//! The per-queue buffer of a push consumer (Java's `ProcessQueue`): messages pulled but not yet acknowledged.
//!
//! It answers the three questions the push consumer keeps asking about a queue:
//! - **which offset is safe to commit?** Messages of one queue finish out of order when consumed concurrently;
//!   the committed offset may only move up to the lowest message still unfinished, or a crash would lose it;
//! - **should pulling pause?** Count, bytes and offset span of what is buffered drive flow control;
//! - **may this client consume it in order?** Orderly consumption holds a broker lock (`locked`, renewed every
//!   [`REBALANCE_LOCK_INTERVAL`]) and takes messages in batches through a separate "consuming" map, so a failed
//!   batch can be put back and redelivered locally before anything is committed.
//!
//! Messages are held as `Arc<MessageExt>` so the pull path can buffer a batch and hand the same messages to the
//! listener without copying them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rmq_protocol::body::ProcessQueueInfo;
use rmq_protocol::message::{properties, MessageExt};
use tokio::time::Instant;

/// How long a broker-side queue lock is trusted without renewal (Java `rocketmq.client.rebalance.lockMaxLiveTime`).
pub(crate) const REBALANCE_LOCK_MAX_LIVE_TIME: Duration = Duration::from_secs(30);
/// How often held queue locks are renewed (Java `rocketmq.client.rebalance.lockInterval`).
pub(crate) const REBALANCE_LOCK_INTERVAL: Duration = Duration::from_secs(20);
/// A queue not pulled for this long is considered stuck and is dropped by rebalance (Java
/// `rocketmq.client.pull.pullMaxIdleTime`).
pub(crate) const PULL_MAX_IDLE_TIME: Duration = Duration::from_secs(120);

/// One queue's buffered messages, shared (via `Arc`) by the pull, consume and rebalance tasks.
#[derive(Debug)]
pub(crate) struct ProcessQueue {
    state: Mutex<State>,
    /// Set by rebalance when the queue is no longer ours: pulls stop and results are not committed.
    dropped: AtomicBool,
    /// Whether this client holds the broker lock for orderly consumption.
    locked: AtomicBool,
    try_unlock_times: AtomicU64,
    /// Held while a batch of this queue is being consumed in order, so rebalance can wait for it before
    /// releasing the broker lock.
    consume_lock: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct State {
    /// Buffered messages by queue offset, waiting to be consumed (or, concurrently, being consumed).
    msgs: BTreeMap<i64, Arc<MessageExt>>,
    /// Orderly mode: the batch taken by [`ProcessQueue::take_messages`] and not yet committed.
    consuming: BTreeMap<i64, Arc<MessageExt>>,
    /// Body bytes of `msgs` and `consuming` together.
    bytes: u64,
    /// Highest offset ever buffered since the last [`ProcessQueue::clear`].
    max_offset: Option<i64>,
    /// Orderly mode: a consume task is scheduled for this queue (Java's `consuming`).
    dispatched: bool,
    /// Messages the broker still holds beyond the last pulled one (from `MAX_OFFSET`), for monitoring.
    msg_acc_cnt: i64,
    last_pull: Instant,
    last_consume: Instant,
    last_lock: Instant,
}

fn body_len(msg: &MessageExt) -> u64 {
    msg.body.len() as u64
}

impl State {
    fn insert(
        map: &mut BTreeMap<i64, Arc<MessageExt>>,
        bytes: &mut u64,
        msg: Arc<MessageExt>,
    ) -> bool {
        *bytes += body_len(&msg);
        match map.insert(msg.queue_offset, msg) {
            Some(old) => {
                *bytes = bytes.saturating_sub(body_len(&old));
                false
            }
            None => true,
        }
    }

    fn take(
        map: &mut BTreeMap<i64, Arc<MessageExt>>,
        bytes: &mut u64,
        offset: i64,
    ) -> Option<Arc<MessageExt>> {
        let msg = map.remove(&offset)?;
        *bytes = bytes.saturating_sub(body_len(&msg));
        Some(msg)
    }
}

impl Default for ProcessQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcessQueue {
    /// An empty queue buffer; its timestamps start now, so a new queue is neither pull- nor lock-expired.
    pub(crate) fn new() -> Self {
        let now = Instant::now();
        ProcessQueue {
            state: Mutex::new(State {
                msgs: BTreeMap::new(),
                consuming: BTreeMap::new(),
                bytes: 0,
                max_offset: None,
                dispatched: false,
                msg_acc_cnt: 0,
                last_pull: now,
                last_consume: now,
                last_lock: now,
            }),
            dropped: AtomicBool::new(false),
            locked: AtomicBool::new(false),
            try_unlock_times: AtomicU64::new(0),
            consume_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Buffers a pulled batch; returns true when a consume task should be scheduled (orderly mode: none is
    /// scheduled yet). Concurrent consumption dispatches every batch and ignores the answer.
    ///
    /// An offset already buffered is replaced and counted once; one already taken for orderly consumption is
    /// skipped, so it cannot be consumed twice.
    pub(crate) fn put_messages(&self, msgs: &[Arc<MessageExt>]) -> bool {
        let mut st = self.state.lock();
        let st = &mut *st;
        for msg in msgs {
            if st.consuming.contains_key(&msg.queue_offset) {
                continue;
            }
            if State::insert(&mut st.msgs, &mut st.bytes, Arc::clone(msg)) {
                st.max_offset = Some(
                    st.max_offset
                        .map_or(msg.queue_offset, |m| m.max(msg.queue_offset)),
                );
            }
        }
        if let Some(last) = msgs.last() {
            let broker_max = last
                .property(properties::MAX_OFFSET)
                .and_then(|v| v.parse::<i64>().ok());
            if let Some(acc) = broker_max
                .map(|max| max - last.queue_offset)
                .filter(|acc| *acc > 0)
            {
                st.msg_acc_cnt = acc;
            }
        }
        let dispatch = !st.msgs.is_empty() && !st.dispatched;
        if dispatch {
            st.dispatched = true;
        }
        dispatch
    }

    /// Forgets consumed messages (concurrent mode) and returns the offset now safe to commit: the lowest offset
    /// still buffered, or one past the highest offset ever buffered when nothing is left.
    ///
    /// `None` when nothing was buffered at the call (never filled, already drained, or cleared after a drop):
    /// there is no progress to record, and guessing one could move the committed offset backwards.
    pub(crate) fn remove_messages(&self, offsets: &[i64]) -> Option<i64> {
        let mut st = self.state.lock();
        let st = &mut *st;
        st.last_consume = Instant::now();
        if st.msgs.is_empty() {
            return None;
        }
        for offset in offsets {
            State::take(&mut st.msgs, &mut st.bytes, *offset);
        }
        if st.msgs.is_empty() && st.consuming.is_empty() {
            st.bytes = 0;
        }
        match st.msgs.keys().next() {
            Some(first) => Some(*first),
            None => st.max_offset.map(|max| max + 1),
        }
    }

    /// Orderly mode: moves up to `batch` of the lowest buffered messages into the consuming map and returns
    /// them. An empty answer also clears the "dispatched" mark, so the next [`put_messages`](Self::put_messages)
    /// schedules a new consume task.
    pub(crate) fn take_messages(&self, batch: usize) -> Vec<Arc<MessageExt>> {
        let mut st = self.state.lock();
        let st = &mut *st;
        st.last_consume = Instant::now();
        let mut taken = Vec::with_capacity(batch.min(st.msgs.len()));
        while taken.len() < batch {
            let Some((offset, msg)) = st.msgs.pop_first() else {
                break;
            };
            st.consuming.insert(offset, Arc::clone(&msg));
            taken.push(msg);
        }
        if taken.is_empty() {
            st.dispatched = false;
        }
        taken
    }

    /// Orderly mode: the taken batch succeeded; forgets it and returns the offset after it, the one to commit.
    /// `None` when no batch was taken.
    pub(crate) fn commit(&self) -> Option<i64> {
        let mut st = self.state.lock();
        let st = &mut *st;
        let next = st.consuming.keys().next_back().map(|last| last + 1);
        let released: u64 = st.consuming.values().map(|m| body_len(m)).sum();
        st.bytes = st.bytes.saturating_sub(released);
        st.consuming.clear();
        if st.msgs.is_empty() {
            st.bytes = 0;
        }
        next
    }

    /// Orderly mode: puts every taken message back, e.g. when the queue lock was lost mid-batch.
    pub(crate) fn rollback(&self) {
        let mut st = self.state.lock();
        let st = &mut *st;
        let consuming = std::mem::take(&mut st.consuming);
        st.msgs.extend(consuming);
    }

    /// Orderly mode: returns these taken messages to the buffer so the next batch redelivers them locally (the
    /// listener asked to suspend the queue); nothing is committed past them.
    pub(crate) fn make_messages_to_consume_again(&self, msgs: &[Arc<MessageExt>]) {
        let mut st = self.state.lock();
        let st = &mut *st;
        for msg in msgs {
            State::take(&mut st.consuming, &mut st.bytes, msg.queue_offset);
            State::insert(&mut st.msgs, &mut st.bytes, Arc::clone(msg));
        }
    }

    /// Empties the buffer after the queue is dropped, so its memory and flow-control share are released.
    pub(crate) fn clear(&self) {
        let mut st = self.state.lock();
        st.msgs.clear();
        st.consuming.clear();
        st.bytes = 0;
        st.max_offset = None;
    }

    /// Whether this offset is buffered and not yet taken, so a late result for an old message can be ignored.
    pub(crate) fn contains(&self, offset: i64) -> bool {
        self.state.lock().msgs.contains_key(&offset)
    }

    /// Whether messages wait to be consumed (rebalance waits for an orderly queue to drain before unlocking).
    pub(crate) fn has_temp_messages(&self) -> bool {
        !self.state.lock().msgs.is_empty()
    }

    /// Buffered messages, taken ones included, for the `pullThresholdForQueue` flow-control check.
    pub(crate) fn cached_count(&self) -> usize {
        let st = self.state.lock();
        st.msgs.len() + st.consuming.len()
    }

    /// Body bytes buffered, taken ones included, for the `pullThresholdSizeForQueue` flow-control check.
    pub(crate) fn cached_bytes(&self) -> u64 {
        self.state.lock().bytes
    }

    /// Distance between the lowest and highest buffered offsets: a wide span means one slow message holds the
    /// committed offset back (`consumeConcurrentlyMaxSpan`), so pulling pauses.
    pub(crate) fn max_span(&self) -> i64 {
        let st = self.state.lock();
        match (st.msgs.keys().next(), st.msgs.keys().next_back()) {
            (Some(first), Some(last)) => last - first,
            _ => 0,
        }
    }

    /// Messages the broker held beyond the last pulled one, as of the last pull (consumer lag, for monitoring).
    pub(crate) fn msg_acc_cnt(&self) -> i64 {
        self.state.lock().msg_acc_cnt
    }

    /// Java's `fillProcessQueueInfo`: the snapshot a consumer reports in its running info, with `commit_offset`
    /// from the offset store.
    pub(crate) fn info(&self, commit_offset: i64) -> ProcessQueueInfo {
        let now_ms = rmq_protocol::clock::system_now_ms();
        let epoch_ms = |at: Instant| {
            now_ms.saturating_sub(i64::try_from(at.elapsed().as_millis()).unwrap_or(i64::MAX))
        };
        let st = self.state.lock();
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        let all = st.msgs.keys().chain(st.consuming.keys());
        ProcessQueueInfo {
            commit_offset,
            cached_msg_min_offset: all.clone().min().copied().unwrap_or(0),
            cached_msg_max_offset: all.max().copied().unwrap_or(0),
            cached_msg_count: count(st.msgs.len() + st.consuming.len()),
            cached_msg_size_in_mib: i32::try_from(st.bytes / (1024 * 1024)).unwrap_or(i32::MAX),
            transaction_msg_min_offset: st.consuming.keys().next().copied().unwrap_or(0),
            transaction_msg_max_offset: st.consuming.keys().next_back().copied().unwrap_or(0),
            transaction_msg_count: count(st.consuming.len()),
            locked: self.is_locked(),
            try_unlock_times: i64::try_from(self.try_unlock_times()).unwrap_or(i64::MAX),
            last_lock_timestamp: epoch_ms(st.last_lock),
            dropped: self.is_dropped(),
            last_pull_timestamp: epoch_ms(st.last_pull),
            last_consume_timestamp: epoch_ms(st.last_consume),
        }
    }

    /// Whether rebalance took this queue away; pulls stop and results are no longer committed.
    pub(crate) fn is_dropped(&self) -> bool {
        self.dropped.load(Ordering::Acquire)
    }

    /// Marks the queue as (no longer) ours.
    pub(crate) fn set_dropped(&self, dropped: bool) {
        self.dropped.store(dropped, Ordering::Release);
    }

    /// Whether this client holds the broker lock needed to consume the queue in order.
    pub(crate) fn is_locked(&self) -> bool {
        self.locked.load(Ordering::Acquire)
    }

    /// Records the outcome of a LOCK_BATCH_MQ (or an unlock).
    pub(crate) fn set_locked(&self, locked: bool) {
        self.locked.store(locked, Ordering::Release);
    }

    /// When the broker lock was last granted or renewed.
    pub(crate) fn last_lock_timestamp(&self) -> Instant {
        self.state.lock().last_lock
    }

    /// Records a granted or renewed broker lock.
    pub(crate) fn set_last_lock_timestamp(&self, at: Instant) {
        self.state.lock().last_lock = at;
    }

    /// Whether the broker lock may have lapsed (not renewed within `max_live`, normally
    /// [`REBALANCE_LOCK_MAX_LIVE_TIME`]); orderly consumption must re-lock before going on.
    pub(crate) fn is_lock_expired(&self, max_live: Duration) -> bool {
        self.last_lock_timestamp().elapsed() > max_live
    }

    /// When the queue was last pulled.
    pub(crate) fn last_pull_timestamp(&self) -> Instant {
        self.state.lock().last_pull
    }

    /// Records a pull, keeping the queue from looking stuck.
    pub(crate) fn set_last_pull_timestamp(&self, at: Instant) {
        self.state.lock().last_pull = at;
    }

    /// Whether no pull happened within `max_idle` (normally [`PULL_MAX_IDLE_TIME`]), i.e. the pull loop of this
    /// queue is stuck and rebalance should drop and recreate it.
    pub(crate) fn is_pull_expired(&self, max_idle: Duration) -> bool {
        self.last_pull_timestamp().elapsed() > max_idle
    }

    /// When messages were last removed or taken, for consumer running info.
    pub(crate) fn last_consume_timestamp(&self) -> Instant {
        self.state.lock().last_consume
    }

    /// Serialises orderly consumption of this queue; rebalance takes it (with a timeout) before unlocking the
    /// queue on the broker, so a batch never runs after another client may own the queue.
    pub(crate) fn consume_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.consume_lock
    }

    /// How many times rebalance postponed unlocking this queue because a batch was still running.
    pub(crate) fn try_unlock_times(&self) -> u64 {
        self.try_unlock_times.load(Ordering::Relaxed)
    }

    /// Counts one postponed unlock.
    pub(crate) fn inc_try_unlock_times(&self) {
        self.try_unlock_times.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use bytes::Bytes;
    use rmq_protocol::message::Properties;

    use super::*;

    fn msg(offset: i64, body_len: usize) -> Arc<MessageExt> {
        let host: SocketAddr = ([127, 0, 0, 1], 10911).into();
        Arc::new(MessageExt {
            store_size: 0,
            magic: 0,
            body_crc: 0,
            queue_id: 0,
            flag: 0,
            queue_offset: offset,
            commit_log_offset: 0,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: host,
            store_timestamp: 0,
            store_host: host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: Bytes::from(vec![b'x'; body_len]),
            topic: "T".to_owned(),
            properties: Properties::new(),
        })
    }

    fn batch(offsets: std::ops::Range<i64>) -> Vec<Arc<MessageExt>> {
        offsets.map(|o| msg(o, 10)).collect()
    }

    fn offsets(msgs: &[Arc<MessageExt>]) -> Vec<i64> {
        msgs.iter().map(|m| m.queue_offset).collect()
    }

    #[test]
    fn out_of_order_removal_never_commits_past_an_unfinished_message() {
        let pq = ProcessQueue::new();
        pq.put_messages(&batch(0..10));
        assert_eq!(pq.remove_messages(&[3, 5, 0]), Some(1));
        assert_eq!(pq.remove_messages(&[9]), Some(1));
        assert_eq!(pq.remove_messages(&[1, 2]), Some(4));
        assert_eq!(pq.remove_messages(&[4, 6, 7, 8]), Some(10));
        assert_eq!(pq.cached_count(), 0);
        assert_eq!(pq.cached_bytes(), 0);
    }

    #[test]
    fn nothing_buffered_means_nothing_to_commit() {
        let pq = ProcessQueue::new();
        assert_eq!(pq.remove_messages(&[0]), None);
        pq.put_messages(&batch(5..7));
        assert_eq!(pq.remove_messages(&[5, 6]), Some(7));
        // A late duplicate result after the queue drained does not report progress again.
        assert_eq!(pq.remove_messages(&[6]), None);
        pq.put_messages(&batch(7..9));
        pq.clear();
        assert_eq!(pq.remove_messages(&[7]), None);
    }

    #[test]
    fn removing_unknown_offsets_keeps_the_lowest_pending_one() {
        let pq = ProcessQueue::new();
        pq.put_messages(&batch(20..23));
        assert_eq!(pq.remove_messages(&[99, 22]), Some(20));
        assert_eq!(pq.cached_count(), 2);
    }

    #[test]
    fn counts_and_bytes_follow_the_buffer_and_ignore_duplicates() {
        let pq = ProcessQueue::new();
        pq.put_messages(&[msg(0, 100), msg(1, 50)]);
        pq.put_messages(&[msg(1, 50), msg(2, 7)]);
        assert_eq!(pq.cached_count(), 3);
        assert_eq!(pq.cached_bytes(), 157);
        assert_eq!(pq.max_span(), 2);
        pq.remove_messages(&[0]);
        assert_eq!(pq.cached_bytes(), 57);
        assert_eq!(pq.max_span(), 1);
        pq.remove_messages(&[1, 2]);
        assert_eq!(
            (pq.cached_count(), pq.cached_bytes(), pq.max_span()),
            (0, 0, 0)
        );
    }

    #[test]
    fn max_offset_property_sets_the_backlog() {
        let pq = ProcessQueue::new();
        let mut last = (*msg(4, 1)).clone();
        last.properties.insert(properties::MAX_OFFSET, "10");
        pq.put_messages(&[msg(3, 1), Arc::new(last)]);
        assert_eq!(pq.msg_acc_cnt(), 6);
    }

    #[test]
    fn put_asks_for_dispatch_once_until_a_take_comes_back_empty() {
        let pq = ProcessQueue::new();
        assert!(!pq.put_messages(&[]));
        assert!(pq.put_messages(&batch(0..2)));
        assert!(!pq.put_messages(&batch(2..4)));
        assert_eq!(pq.take_messages(10).len(), 4);
        assert_eq!(pq.commit(), Some(4));
        assert!(!pq.put_messages(&batch(4..5)), "still dispatched");
        assert_eq!(pq.take_messages(10).len(), 1);
        pq.commit();
        assert!(pq.take_messages(10).is_empty());
        assert!(pq.put_messages(&batch(5..6)));
    }

    #[test]
    fn orderly_take_commit_counts_taken_messages_until_commit() {
        let pq = ProcessQueue::new();
        pq.put_messages(&batch(0..5));
        let taken = pq.take_messages(3);
        assert_eq!(offsets(&taken), vec![0, 1, 2]);
        assert_eq!(pq.cached_count(), 5);
        assert_eq!(pq.cached_bytes(), 50);
        assert!(!pq.contains(0));
        assert_eq!(pq.max_span(), 1);
        assert_eq!(pq.commit(), Some(3));
        assert_eq!(pq.cached_count(), 2);
        assert_eq!(pq.cached_bytes(), 20);
        assert_eq!(pq.commit(), None);
    }

    #[test]
    fn orderly_consume_again_redelivers_before_later_messages() {
        let pq = ProcessQueue::new();
        pq.put_messages(&batch(0..4));
        let taken = pq.take_messages(2);
        pq.make_messages_to_consume_again(&taken);
        assert_eq!(pq.cached_count(), 4);
        assert_eq!(pq.cached_bytes(), 40);
        assert_eq!(pq.commit(), None);
        let again = pq.take_messages(3);
        assert_eq!(offsets(&again), vec![0, 1, 2]);
        assert_eq!(pq.commit(), Some(3));
    }

    #[test]
    fn orderly_rollback_returns_the_whole_batch() {
        let pq = ProcessQueue::new();
        pq.put_messages(&batch(0..3));
        pq.take_messages(2);
        pq.rollback();
        assert_eq!(pq.cached_count(), 3);
        assert_eq!(pq.cached_bytes(), 30);
        assert_eq!(pq.commit(), None);
        assert_eq!(offsets(&pq.take_messages(5)), vec![0, 1, 2]);
    }

    #[test]
    fn a_taken_offset_pulled_again_is_not_buffered_twice() {
        let pq = ProcessQueue::new();
        pq.put_messages(&batch(0..2));
        pq.take_messages(1);
        pq.put_messages(&batch(0..3));
        assert_eq!(pq.cached_count(), 3);
        assert_eq!(offsets(&pq.take_messages(5)), vec![1, 2]);
        assert_eq!(pq.commit(), Some(3));
    }

    #[test]
    fn flags_and_unlock_attempts() {
        let pq = ProcessQueue::new();
        assert!(!pq.is_dropped() && !pq.is_locked());
        pq.set_dropped(true);
        pq.set_locked(true);
        pq.inc_try_unlock_times();
        assert!(pq.is_dropped() && pq.is_locked());
        assert_eq!(pq.try_unlock_times(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn lock_and_pull_expire_after_their_idle_time() {
        let pq = ProcessQueue::new();
        assert!(!pq.is_lock_expired(REBALANCE_LOCK_MAX_LIVE_TIME));
        assert!(!pq.is_pull_expired(PULL_MAX_IDLE_TIME));
        tokio::time::advance(REBALANCE_LOCK_MAX_LIVE_TIME + Duration::from_millis(1)).await;
        assert!(pq.is_lock_expired(REBALANCE_LOCK_MAX_LIVE_TIME));
        pq.set_last_lock_timestamp(Instant::now());
        assert!(!pq.is_lock_expired(REBALANCE_LOCK_MAX_LIVE_TIME));
        tokio::time::advance(PULL_MAX_IDLE_TIME).await;
        assert!(pq.is_pull_expired(PULL_MAX_IDLE_TIME));
        pq.set_last_pull_timestamp(Instant::now());
        assert!(!pq.is_pull_expired(PULL_MAX_IDLE_TIME));
        let before = pq.last_consume_timestamp();
        tokio::time::advance(Duration::from_secs(1)).await;
        pq.take_messages(1);
        assert!(pq.last_consume_timestamp() > before);
        assert!(REBALANCE_LOCK_INTERVAL < REBALANCE_LOCK_MAX_LIVE_TIME);
    }

    #[tokio::test]
    async fn consume_lock_excludes_a_second_holder() {
        let pq = Arc::new(ProcessQueue::new());
        let guard = pq.consume_lock().lock().await;
        assert!(pq.consume_lock().try_lock().is_err());
        drop(guard);
        assert!(pq.consume_lock().try_lock().is_ok());
    }
}
