//! [`PopService`]: POP_MESSAGE, ACK_MESSAGE, BATCH_ACK_MESSAGE and CHANGE_MESSAGE_INVISIBLETIME (and the gRPC
//! ReceiveMessage, AckMessage and ChangeInvisibleDuration over them), following Java's `PopMessageProcessor`,
//! `AckMessageProcessor` and `ChangeInvisibleTimeProcessor` (docs/pop-java.md §2–§8).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use rmq_protocol::clock::Clock;
use rmq_protocol::message::properties::{self, Properties};
use rmq_protocol::message::stored::{body_crc, decode_stored, encode_stored, StoredRecord};
use rmq_protocol::message::sysflag::perm;
use rmq_protocol::pop::{
    normal_topic, pop_retry_topic_v1, ExtraInfo, RetryFlag, ORDER_REVIVE_QUEUE,
};

use super::inflight::{key_of, AckResult, Inflight};
use super::journal::{self, AckRecord, CheckPoint, REVIVE_GROUP};
use super::order::{OrderAck, OrderTable, QueueKey};
use super::waiters::PopWaiters;
use crate::broker::consumer_offset::ConsumerOffsetManager;
use crate::broker::counters::BrokerStats;
use crate::broker::filter::{is_sql92, MessageFilter, SelectorCache, TagFilter};
use crate::broker::live_config::LiveConfig;
use crate::broker::service::write::{Message, Origin, Props, WriteService};
use crate::broker::service::ServiceError;
use crate::broker::subscription_group::SubscriptionGroupManager;
use crate::broker::topic_config::TopicConfigManager;
use crate::store::{GetMessageResult, GetMessageStatus, MessageStore, ReadFilter};

/// Java's hard limit on one pop (`maxMsgNums > 32` is refused).
pub const MAX_POP_BATCH: i32 = 32;
/// `popFromRetryProbability`: the share of pops (in %) that read the retry topic first.
const RETRY_FIRST_PERCENT: u64 = 20;

/// The configuration POP reads, copied out of the broker config at start.
#[derive(Debug, Clone)]
pub struct PopPolicy {
    /// `brokerName`, written into every handle.
    pub broker_name: String,
    /// `brokerClusterName`, naming the revive topic.
    pub cluster: String,
    /// `reviveQueueNum`.
    pub revive_queue_num: i32,
    /// The broker's clock (pop times, deadlines).
    pub clock: Clock,
    /// `brokerPermission`, changeable at run time.
    pub live: Arc<LiveConfig>,
    /// `ip:port` named in refusals.
    pub broker_addr: String,
    /// The broker's address, as born host of journal records.
    pub store_host: SocketAddr,
    /// `enablePropertyFilter` (SQL92).
    pub enable_property_filter: bool,
}

/// The collaborators of a [`PopService`].
#[derive(Debug, Clone)]
pub struct PopDeps {
    /// Read from.
    pub store: Arc<MessageStore>,
    /// Journal records and revived messages are written through it.
    pub write: Arc<WriteService>,
    /// Topic table.
    pub topics: Arc<TopicConfigManager>,
    /// Consumer-group table.
    pub groups: Arc<SubscriptionGroupManager>,
    /// Pop offsets and revive offsets.
    pub offsets: Arc<ConsumerOffsetManager>,
    /// Compiled SQL92 selectors.
    pub filters: Arc<SelectorCache>,
    /// Waiting pops (also a store observer, added by the broker).
    pub waiters: Arc<PopWaiters>,
    /// Runtime counters (a pop counts as a get, as Java's `BrokerStatsManager` counts it).
    pub stats: Arc<BrokerStats>,
}

/// Where a group without an offset starts (`ConsumeInitMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitMode {
    /// At the queue's first message.
    Min,
    /// At the queue's end (Java: the last message; from 0 on a queue never cleaned).
    Max,
}

/// One pop.
#[derive(Debug, Clone)]
pub struct PopRequest {
    /// Consumer group.
    pub group: String,
    /// The normal topic.
    pub topic: String,
    /// One queue, or negative for every read queue.
    pub queue_id: i32,
    /// At most this many messages (1..=32).
    pub max_msgs: i32,
    /// How long the messages stay invisible, ms.
    pub invisible_ms: i64,
    /// How long to wait for messages when there are none.
    pub poll: Duration,
    /// Where a new group starts.
    pub init_mode: InitMode,
    /// Filter expression; `None` or empty for `*`.
    pub expression: Option<String>,
    /// `TAG` or `SQL92`; `TAG` when absent.
    pub expression_type: Option<String>,
    /// FIFO pop.
    pub order: bool,
    /// FIFO attempt id.
    pub attempt_id: Option<String>,
}

/// One popped message.
#[derive(Debug, Clone)]
pub struct Popped {
    /// The stored record as the client sees it (a retry copy carries its original topic and `POP_CK`).
    pub record: Bytes,
    /// Its handle.
    pub handle: ExtraInfo,
    /// Deliveries before this one.
    pub reconsume_times: i32,
}

/// What a pop found.
#[derive(Debug, Clone, Default)]
pub struct PopOutcome {
    /// The messages, in the order read.
    pub messages: Vec<Popped>,
    /// Broker clock at the pop.
    pub pop_time: i64,
    /// The invisible time granted.
    pub invisible_time: i64,
    /// Revive queue of the batch (999 for FIFO).
    pub revive_qid: i32,
    /// Estimate of the messages left.
    pub rest_num: i64,
    /// `startOffsetInfo` of the response header.
    pub start_offset_info: String,
    /// `msgOffsetInfo` of the response header.
    pub msg_offset_info: String,
    /// `orderCountInfo` of the response header (FIFO).
    pub order_count_info: String,
}

/// An ack of one popped message.
#[derive(Debug, Clone)]
pub struct AckRequest {
    /// Consumer group.
    pub group: String,
    /// The message's real topic (its retry topic when it came from there).
    pub topic: String,
    /// Its queue.
    pub queue_id: i32,
    /// Its handle.
    pub handle: ExtraInfo,
    /// Its queue offset.
    pub offset: i64,
}

/// A change of a popped message's invisible time.
#[derive(Debug, Clone)]
pub struct ChangeInvisible {
    /// The message.
    pub ack: AckRequest,
    /// New invisible time from now, ms.
    pub invisible_ms: i64,
}

/// The parts of a message's handle after a change of invisible time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangedHandle {
    /// Pop time of the new handle.
    pub pop_time: i64,
    /// Invisible time of the new handle.
    pub invisible_time: i64,
    /// Revive queue of the new handle.
    pub revive_qid: i32,
}

/// Serves POP; see the [module docs](super).
#[derive(Debug)]
pub struct PopService {
    policy: PopPolicy,
    revive_topic: String,
    deps: PopDeps,
    pub(super) inflight: Inflight,
    order: OrderTable,
    busy: Mutex<HashSet<QueueKey>>,
    seq: AtomicU64,
}

/// Holds a queue for one pop (Java's `QueueLockManager`): a second pop of the same queue skips it.
struct QueueGuard<'a> {
    busy: &'a Mutex<HashSet<QueueKey>>,
    key: QueueKey,
}

impl Drop for QueueGuard<'_> {
    fn drop(&mut self) {
        self.busy.lock().remove(&self.key);
    }
}

impl PopService {
    /// A POP service; call [`recover`](Self::recover) before serving.
    pub fn new(policy: PopPolicy, deps: PopDeps) -> Self {
        PopService {
            revive_topic: journal::revive_topic(&policy.cluster),
            policy,
            deps,
            inflight: Inflight::default(),
            order: OrderTable::default(),
            busy: Mutex::new(HashSet::new()),
            seq: AtomicU64::new(0),
        }
    }

    /// The revive topic (created at start-up with `reviveQueueNum` queues).
    pub fn revive_topic(&self) -> &str {
        &self.revive_topic
    }

    /// Open checkpoints (tests and runtime info).
    pub fn open_checkpoints(&self) -> usize {
        self.inflight.len()
    }

    /// The broker's clock.
    pub(super) fn clock(&self) -> &Clock {
        &self.policy.clock
    }

    pub(super) fn deps(&self) -> &PopDeps {
        &self.deps
    }

    pub(super) fn revive_queue_num(&self) -> i32 {
        self.policy.revive_queue_num
    }

    /// Creates the revive topic and reads its journal again from the revive offsets: every checkpoint still
    /// open is opened again with its acks, and each group's pop offset is moved past what it had popped (the
    /// offsets file may be up to `flushConsumerOffsetInterval` behind after a crash).
    ///
    /// # Errors
    /// The revive topic could not be saved.
    pub fn recover(&self) -> Result<(), crate::persist::PersistError> {
        self.deps
            .topics
            .create_system_managed(&self.revive_topic, self.policy.revive_queue_num)?;
        let (mut cks, mut acks) = (0usize, 0usize);
        for qid in 0..self.policy.revive_queue_num {
            let store = &self.deps.store;
            let mut offset = self
                .deps
                .offsets
                .query(REVIVE_GROUP, &self.revive_topic, qid)
                .unwrap_or(0)
                .max(store.min_offset_in_queue(&self.revive_topic, qid));
            loop {
                let r =
                    store.get_messages(&self.revive_topic, qid, offset, 32, usize::MAX, &|_| true);
                if r.status != GetMessageStatus::Found {
                    break;
                }
                for rec in &r.messages {
                    let Ok((m, _)) = decode_stored(rec, true) else {
                        continue;
                    };
                    match m.property(properties::TAGS) {
                        Some(journal::CK_TAG) => {
                            if let Ok(ck) = serde_json::from_slice::<CheckPoint>(&m.body) {
                                self.raise_offset(&ck.cid, &ck.topic, ck.queue_id, ck.end_offset());
                                self.inflight.open(ck, (qid, m.queue_offset));
                                cks += 1;
                            }
                        }
                        Some(journal::ACK_TAG) | Some(journal::BATCH_ACK_TAG) => {
                            if let Ok(ack) = serde_json::from_slice::<AckRecord>(&m.body) {
                                let key = (
                                    ack.topic.clone(),
                                    ack.consumer_group.clone(),
                                    ack.queue_id,
                                    ack.start_offset,
                                    ack.pop_time,
                                );
                                for o in ack.offsets() {
                                    self.inflight.ack(&key, o);
                                }
                                acks += 1;
                            }
                        }
                        _ => {}
                    }
                }
                offset = r.next_begin_offset;
            }
        }
        if cks > 0 {
            tracing::info!(
                checkpoints = cks,
                acks,
                open = self.inflight.len(),
                "POP journal read again"
            );
        }
        Ok(())
    }

    fn raise_offset(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        let offsets = &self.deps.offsets;
        if offsets
            .query(group, topic, queue_id)
            .is_none_or(|o| o < offset)
        {
            offsets.commit(group, topic, queue_id, offset);
        }
    }

    /// Pops up to `max_msgs` messages, waiting up to `poll` for some to arrive.
    ///
    /// # Errors
    /// The checks of Java's `PopMessageProcessor`, in its order, or a failed journal write.
    pub async fn pop(&self, req: &PopRequest) -> Result<PopOutcome, ServiceError> {
        let (filter, read_queues) = self.check(req)?;
        let deadline = tokio::time::Instant::now() + req.poll;
        let retry = pop_retry_topic_v1(&req.group, &req.topic);
        loop {
            let out = self.try_pop(req, &filter, read_queues).await?;
            if !out.messages.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(self.counted(req, out));
            }
            let wait = self.deps.waiters.register(&[&req.topic, &retry]);
            let out = self.try_pop(req, &filter, read_queues).await?;
            if !out.messages.is_empty() {
                return Ok(self.counted(req, out));
            }
            tokio::select! {
                _ = wait.woken() => {}
                _ = tokio::time::sleep_until(deadline) => return Ok(out),
            }
        }
    }

    fn counted(&self, req: &PopRequest, out: PopOutcome) -> PopOutcome {
        if !out.messages.is_empty() {
            let bytes: usize = out.messages.iter().map(|p| p.record.len()).sum();
            self.deps.stats.pulled(
                &req.topic,
                &req.group,
                out.messages.len() as u64,
                bytes as u64,
            );
        }
        out
    }

    fn check(&self, req: &PopRequest) -> Result<(MessageFilter, i32), ServiceError> {
        if !perm::is_readable(self.policy.live.broker_permission()) {
            return Err(ServiceError::Forbidden(format!(
                "the broker[{}] pop message is forbidden",
                self.policy.broker_addr
            )));
        }
        if req.max_msgs > MAX_POP_BATCH {
            return Err(ServiceError::InvalidParameter(
                "the broker pop message's num is greater than 32".into(),
            ));
        }
        let Some(topic) = self.deps.topics.get(&req.topic) else {
            return Err(ServiceError::NoSuchTopic(format!(
                "topic[{}] not exist, apply first please!",
                req.topic
            )));
        };
        if !perm::is_readable(topic.perm) {
            return Err(ServiceError::Forbidden(format!(
                "the topic[{}] peeking message is forbidden",
                req.topic
            )));
        }
        if req.queue_id >= topic.read_queue_nums {
            return Err(ServiceError::InvalidParameter(format!(
                "queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:[{}] consumer:[{}]",
                req.queue_id, req.topic, topic.read_queue_nums, req.group
            )));
        }
        let Some(group) = self.deps.groups.find_or_create(&req.group)? else {
            return Err(ServiceError::NoSuchGroup(format!(
                "subscription group [{}] does not exist",
                req.group
            )));
        };
        if !group.consume_enable {
            return Err(ServiceError::Forbidden(format!(
                "subscription group no permission, {}",
                req.group
            )));
        }
        let expr = req
            .expression
            .clone()
            .filter(|e| !e.trim().is_empty())
            .unwrap_or_else(|| "*".into());
        let ty = req.expression_type.clone().unwrap_or_else(|| "TAG".into());
        if is_sql92(&ty) {
            if !self.policy.enable_property_filter {
                return Err(ServiceError::BadExpression(format!(
                    "The broker does not support consumer to filter message by {ty} (enablePropertyFilter=false)"
                )));
            }
            let selector = self
                .deps
                .filters
                .register(&req.group, &req.topic, 0, &expr)
                .map_err(|e| ServiceError::BadExpression(e.to_string()))?;
            return Ok((MessageFilter::sql92(selector), topic.read_queue_nums));
        }
        Ok((
            MessageFilter::tags(TagFilter::parse(&expr)),
            topic.read_queue_nums,
        ))
    }

    async fn try_pop(
        &self,
        req: &PopRequest,
        filter: &MessageFilter,
        read_queues: i32,
    ) -> Result<PopOutcome, ServiceError> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let rand = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) % 100;
        let mut out = PopOutcome {
            pop_time: self.policy.clock.now_ms(),
            invisible_time: req.invisible_ms,
            revive_qid: if req.order {
                ORDER_REVIVE_QUEUE
            } else {
                (seq % self.policy.revive_queue_num.max(1) as u64) as i32
            },
            ..PopOutcome::default()
        };
        let retry = pop_retry_topic_v1(&req.group, &req.topic);
        let retry_queues = if req.order {
            None
        } else {
            self.deps.topics.get(&retry).map(|c| c.read_queue_nums)
        };
        let retry_first = rand < RETRY_FIRST_PERCENT;
        if let (true, Some(n)) = (retry_first, retry_queues) {
            for q in 0..n {
                self.pop_queue(req, &retry, q, filter, &mut out).await?;
            }
        }
        let queues: Vec<i32> = if req.queue_id < 0 {
            let n = read_queues.max(1);
            (0..n).map(|i| ((rand as i32) + i) % n).collect()
        } else {
            vec![req.queue_id]
        };
        for q in queues {
            self.pop_queue(req, &req.topic, q, filter, &mut out).await?;
        }
        if let (false, Some(n)) = (retry_first, retry_queues) {
            for q in 0..n {
                self.pop_queue(req, &retry, q, filter, &mut out).await?;
            }
        }
        Ok(out)
    }

    fn lock_queue(&self, key: QueueKey) -> Option<QueueGuard<'_>> {
        self.busy.lock().insert(key.clone()).then_some(QueueGuard {
            busy: &self.busy,
            key,
        })
    }

    /// The offset a pop of the queue starts at: the committed one, or the init offset (committed then).
    fn pop_offset(&self, req: &PopRequest, topic: &str, queue_id: i32) -> i64 {
        if let Some(o) = self.deps.offsets.query(&req.group, topic, queue_id) {
            return o;
        }
        let store = &self.deps.store;
        let min = store.min_offset_in_queue(topic, queue_id);
        let init = if req.init_mode == InitMode::Min || topic != req.topic || min <= 0 {
            min
        } else {
            (store.max_offset_in_queue(topic, queue_id) - 1).max(0)
        };
        self.deps.offsets.commit(&req.group, topic, queue_id, init);
        init
    }

    fn read(
        &self,
        filter: &MessageFilter,
        topic: &str,
        q: i32,
        offset: i64,
        n: i32,
    ) -> GetMessageResult {
        let tag_code = |code: i64| filter.accepts_tag_code(code);
        let record = |rec: &[u8]| filter.accepts_record(rec);
        self.deps.store.get_messages_filtered(
            topic,
            q,
            offset,
            n,
            usize::MAX,
            ReadFilter {
                tag_code: &tag_code,
                record: &record,
            },
        )
    }

    async fn pop_queue(
        &self,
        req: &PopRequest,
        topic: &str,
        q: i32,
        filter: &MessageFilter,
        out: &mut PopOutcome,
    ) -> Result<(), ServiceError> {
        let want = req.max_msgs.max(1) - out.messages.len() as i32;
        if want <= 0 {
            return Ok(());
        }
        let key: QueueKey = (topic.to_owned(), req.group.clone(), q);
        let Some(_guard) = self.lock_queue(key.clone()) else {
            let store = &self.deps.store;
            let done = self.deps.offsets.query(&req.group, topic, q).unwrap_or(0);
            out.rest_num += (store.max_offset_in_queue(topic, q) - done).max(0);
            return Ok(());
        };
        if req.order
            && self
                .order
                .blocked(&key, req.attempt_id.as_deref(), out.pop_time)
        {
            return Ok(());
        }
        let mut offset = self.pop_offset(req, topic, q);
        let mut r = self.read(filter, topic, q, offset, want);
        if matches!(
            r.status,
            GetMessageStatus::OffsetTooSmall
                | GetMessageStatus::OffsetOverflowBadly
                | GetMessageStatus::OffsetFoundNull
        ) {
            offset = r.next_begin_offset;
            self.deps.offsets.commit(&req.group, topic, q, offset);
            r = self.read(filter, topic, q, offset, want);
        }
        out.rest_num += (r.max_offset - r.next_begin_offset).max(0);
        if r.status != GetMessageStatus::Found {
            if r.next_begin_offset > offset {
                // Everything read was filtered out: move past it (Java's mock checkpoint).
                self.deps
                    .offsets
                    .commit(&req.group, topic, q, r.next_begin_offset);
            }
            return Ok(());
        }
        let mut views = Vec::with_capacity(r.messages.len());
        for rec in &r.messages {
            match decode_stored(rec, true) {
                Ok((m, _)) => views.push(m),
                Err(e) => {
                    return Err(ServiceError::System(format!(
                        "a stored record of {topic}:{q} does not decode: {e}"
                    )))
                }
            }
        }
        let offsets: Vec<i64> = views.iter().map(|m| m.queue_offset).collect();
        let flag = RetryFlag::of_topic(topic);
        let counts = if req.order {
            self.order.update(
                key,
                req.attempt_id.clone(),
                out.pop_time,
                req.invisible_ms,
                &offsets,
            )
        } else {
            let ck = CheckPoint {
                start_offset: offset,
                pop_time: out.pop_time,
                invisible_time: req.invisible_ms,
                bit_map: 0,
                num: offsets.len() as i32,
                queue_id: q,
                topic: topic.to_owned(),
                cid: req.group.clone(),
                revive_offset: 0,
                queue_offset_diff: offsets.iter().map(|o| o - offset).collect(),
                broker_name: self.policy.broker_name.clone(),
                re_put_times: None,
            };
            if let Err(e) = self.write_ck(ck, out.revive_qid).await {
                // Not returned: without its checkpoint nothing would bring the batch back.
                tracing::warn!(topic, queue = q, error = %e, "POP checkpoint not stored; batch not handed out");
                out.rest_num += offsets.len() as i64;
                return Ok(());
            }
            self.deps
                .offsets
                .commit(&req.group, topic, q, r.next_begin_offset);
            vec![0; offsets.len()]
        };
        let list = offsets
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        append_info(
            &mut out.start_offset_info,
            format!("{} {q} {offset}", flag.as_str()),
        );
        append_info(
            &mut out.msg_offset_info,
            format!("{} {q} {list}", flag.as_str()),
        );
        for ((m, rec), count) in views.into_iter().zip(&r.messages).zip(counts) {
            if req.order && count > 0 {
                append_info(
                    &mut out.order_count_info,
                    format!("{} qo{q}%{} {count}", flag.as_str(), m.queue_offset),
                );
            }
            let handle = ExtraInfo {
                ck_offset: offset,
                pop_time: out.pop_time,
                invisible_time: req.invisible_ms,
                revive_qid: out.revive_qid,
                flag,
                broker_name: self.policy.broker_name.clone(),
                queue_id: q,
                offset: m.queue_offset,
                commit_log_offset: m.commit_log_offset,
            };
            let reconsume_times = if req.order { count } else { m.reconsume_times };
            let record = if flag == RetryFlag::Normal {
                rec.clone()
            } else {
                as_original(&m, &req.group, &handle)?
            };
            out.messages.push(Popped {
                record,
                handle,
                reconsume_times,
            });
        }
        if req.order {
            let min = out
                .messages
                .iter()
                .map(|p| p.reconsume_times)
                .min()
                .unwrap_or(0);
            append_info(
                &mut out.order_count_info,
                format!("{} {q} {min}", flag.as_str()),
            );
        }
        Ok(())
    }

    /// Writes a checkpoint to revive queue `qid` and opens it.
    async fn write_ck(&self, ck: CheckPoint, qid: i32) -> Result<(), ServiceError> {
        let uniq = format!(
            "{}@{}@{}@{}@{}@{}@ck",
            ck.topic, ck.queue_id, ck.start_offset, ck.cid, ck.pop_time, ck.broker_name
        );
        let body = serde_json::to_vec(&ck).map_err(|e| ServiceError::System(e.to_string()))?;
        let _writing = self.inflight.writing(qid);
        let stored = self.write_record(qid, journal::CK_TAG, uniq, body).await?;
        self.inflight.open(ck, (qid, stored));
        Ok(())
    }

    /// Appends one journal record to revive queue `qid`; returns its queue offset.
    async fn write_record(
        &self,
        qid: i32,
        tag: &str,
        uniq: String,
        body: Vec<u8>,
    ) -> Result<i64, ServiceError> {
        let mut props = Properties::new();
        props.insert(properties::TAGS, tag);
        props.insert(properties::UNIQ_KEY, uniq);
        let stored = self
            .deps
            .write
            .put(
                Origin::PopJournal,
                Message {
                    topic: self.revive_topic.clone(),
                    queue_id: qid,
                    flag: 0,
                    body: Bytes::from(body),
                    properties: Props::Parsed(props),
                    sys_flag: 0,
                    born_timestamp: self.policy.clock.now_ms(),
                    born_host: self.policy.store_host,
                    reconsume_times: 0,
                    prepared_transaction_offset: 0,
                },
            )
            .await?;
        Ok(stored.put.queue_offset)
    }

    /// Refuses a handle whose queue or offset cannot be this broker's (Java: MESSAGE_ILLEGAL / NO_MESSAGE).
    fn check_ack(&self, a: &AckRequest, max_inclusive: bool) -> Result<(), ServiceError> {
        let Some(cfg) = self.deps.topics.get(&a.topic) else {
            return Err(ServiceError::NoSuchTopic(format!(
                "topic[{}] not exist, apply first please!",
                a.topic
            )));
        };
        if a.queue_id < 0 || a.queue_id >= cfg.read_queue_nums {
            return Err(ServiceError::BadHandle(format!(
                "queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:[{}]",
                a.queue_id, a.topic, cfg.read_queue_nums
            )));
        }
        let store = &self.deps.store;
        let (min, max) = (
            store.min_offset_in_queue(&a.topic, a.queue_id),
            store.max_offset_in_queue(&a.topic, a.queue_id),
        );
        if a.offset < min || a.offset > max || (!max_inclusive && a.offset == max) {
            return Err(ServiceError::NoMessage(format!(
                "offset is illegal, key:{}@{}, commit:{}, store:{min}~{max}",
                a.topic, a.queue_id, a.offset
            )));
        }
        if !a.handle.is_order()
            && (a.handle.revive_qid < 0 || a.handle.revive_qid >= self.policy.revive_queue_num)
        {
            return Err(ServiceError::BadHandle(format!(
                "the receipt handle names revive queue {}, which this broker does not have",
                a.handle.revive_qid
            )));
        }
        Ok(())
    }

    /// Acks one popped message. An ack of a message that is no longer out (revived, or acked already) is
    /// answered like Java's: nothing changes.
    ///
    /// # Errors
    /// An unknown topic, a queue or offset outside the queue, or a failed journal write.
    pub async fn ack(&self, a: &AckRequest) -> Result<AckResult, ServiceError> {
        self.check_ack(a, true)?;
        if a.handle.is_order() {
            let key: QueueKey = (a.topic.clone(), a.group.clone(), a.queue_id);
            return match self.order.ack(&key, a.offset, a.handle.pop_time) {
                OrderAck::Commit(next) => {
                    self.deps
                        .offsets
                        .commit(&a.group, &a.topic, a.queue_id, next);
                    self.deps.waiters.wake(normal_topic(&a.topic, &a.group));
                    Ok(AckResult::Acked)
                }
                OrderAck::Stale => Ok(AckResult::Unknown),
                OrderAck::Illegal => Err(ServiceError::BadHandle("offset is illegal".into())),
            };
        }
        self.ack_offsets(a, &[a.offset]).await
    }

    async fn ack_offsets(
        &self,
        a: &AckRequest,
        offsets: &[i64],
    ) -> Result<AckResult, ServiceError> {
        let key = (
            a.topic.clone(),
            a.group.clone(),
            a.queue_id,
            a.handle.ck_offset,
            a.handle.pop_time,
        );
        let open: Vec<i64> = offsets
            .iter()
            .copied()
            .filter(|o| self.inflight.holds(&key, *o))
            .collect();
        if open.is_empty() {
            return Ok(AckResult::Unknown);
        }
        let rec = AckRecord {
            ack_offset: if open.len() == 1 { open[0] } else { -1 },
            start_offset: a.handle.ck_offset,
            consumer_group: a.group.clone(),
            topic: a.topic.clone(),
            queue_id: a.queue_id,
            pop_time: a.handle.pop_time,
            broker_name: a.handle.broker_name.clone(),
            ack_offset_list: if open.len() == 1 {
                Vec::new()
            } else {
                open.clone()
            },
        };
        let (tag, uniq) = if open.len() == 1 {
            (
                journal::ACK_TAG,
                format!(
                    "{}@{}@{}@{}@{}@{}@ack",
                    a.topic, a.queue_id, open[0], a.group, a.handle.pop_time, a.handle.broker_name
                ),
            )
        } else {
            (
                journal::BATCH_ACK_TAG,
                format!(
                    "{}@{}@{}@{}@{}@{}@bAck",
                    a.topic,
                    a.queue_id,
                    a.handle.ck_offset,
                    a.group,
                    a.handle.pop_time,
                    a.handle.broker_name
                ),
            )
        };
        let body = serde_json::to_vec(&rec).map_err(|e| ServiceError::System(e.to_string()))?;
        self.write_record(a.handle.revive_qid, tag, uniq, body)
            .await?;
        let mut result = AckResult::Already;
        for o in open {
            if self.inflight.ack(&key, o) == AckResult::Acked {
                result = AckResult::Acked;
            }
        }
        Ok(result)
    }

    /// BATCH_ACK_MESSAGE: acks several messages of one checkpoint (offsets outside the queue are skipped).
    ///
    /// # Errors
    /// As [`ack`](Self::ack).
    pub async fn batch_ack(
        &self,
        a: &AckRequest,
        offsets: &[i64],
    ) -> Result<AckResult, ServiceError> {
        self.check_ack(a, true)?;
        if a.handle.is_order() {
            let mut last = AckResult::Unknown;
            for o in offsets {
                let one = AckRequest {
                    offset: *o,
                    ..a.clone()
                };
                last = self.ack(&one).await?;
            }
            return Ok(last);
        }
        self.ack_offsets(a, offsets).await
    }

    /// Keeps a popped message invisible for `invisible_ms` from now: a new checkpoint for it, then an ack of
    /// the old one (Java's order, so a crash between the two brings it back rather than losing it).
    ///
    /// # Errors
    /// The ack checks, a handle that is no longer out ([`ServiceError::BadHandle`]), or a failed write.
    pub async fn change_invisible(
        &self,
        c: &ChangeInvisible,
    ) -> Result<ChangedHandle, ServiceError> {
        let a = &c.ack;
        self.check_ack(a, false)?;
        let now = self.policy.clock.now_ms();
        if a.handle.is_order() {
            let key: QueueKey = (a.topic.clone(), a.group.clone(), a.queue_id);
            if !self
                .order
                .change(&key, a.offset, a.handle.pop_time, now + c.invisible_ms)
            {
                return Err(ServiceError::BadHandle(
                    "the receipt handle is stale: the queue was popped again".into(),
                ));
            }
            return Ok(ChangedHandle {
                pop_time: a.handle.pop_time,
                invisible_time: now + c.invisible_ms - a.handle.pop_time,
                revive_qid: ORDER_REVIVE_QUEUE,
            });
        }
        let old = (
            a.topic.clone(),
            a.group.clone(),
            a.queue_id,
            a.handle.ck_offset,
            a.handle.pop_time,
        );
        if !self.inflight.holds(&old, a.offset) {
            return Err(ServiceError::BadHandle(
                "the receipt handle is expired: the message was acked or is visible again".into(),
            ));
        }
        let ck = CheckPoint {
            start_offset: a.offset,
            pop_time: now,
            invisible_time: c.invisible_ms,
            bit_map: 0,
            num: 1,
            queue_id: a.queue_id,
            topic: a.topic.clone(),
            cid: a.group.clone(),
            revive_offset: 0,
            queue_offset_diff: vec![0],
            broker_name: self.policy.broker_name.clone(),
            re_put_times: None,
        };
        debug_assert_eq!(key_of(&ck).3, a.offset);
        self.write_ck(ck, a.handle.revive_qid).await?;
        self.ack_offsets(a, &[a.offset]).await?;
        Ok(ChangedHandle {
            pop_time: now,
            invisible_time: c.invisible_ms,
            revive_qid: a.handle.revive_qid,
        })
    }

    /// Whether the group has something to pop on the topic now (NOTIFICATION without the wait).
    pub fn has_message(&self, group: &str, topic: &str) -> bool {
        let store = &self.deps.store;
        let retry = pop_retry_topic_v1(group, topic);
        [topic, retry.as_str()].iter().any(|t| {
            let Some(cfg) = self.deps.topics.get(t) else {
                return false;
            };
            (0..cfg.read_queue_nums).any(|q| {
                let done = self
                    .deps
                    .offsets
                    .query(group, t, q)
                    .unwrap_or_else(|| store.min_offset_in_queue(t, q));
                store.max_offset_in_queue(t, q) > done
            })
        })
    }

    /// Waits up to `poll` until [`has_message`](Self::has_message).
    pub async fn notification(&self, group: &str, topic: &str, poll: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + poll;
        let retry = pop_retry_topic_v1(group, topic);
        loop {
            let wait = self.deps.waiters.register(&[topic, &retry]);
            if self.has_message(group, topic) {
                return true;
            }
            tokio::select! {
                _ = wait.woken() => {}
                _ = tokio::time::sleep_until(deadline) => return self.has_message(group, topic),
            }
        }
    }
}

fn append_info(to: &mut String, entry: String) {
    if !to.is_empty() {
        to.push(';');
    }
    to.push_str(&entry);
}

/// A retry-topic copy as the client sees it: its original topic, and `POP_CK` set (Java's
/// `popResponseReturnActualRetryTopic=false`).
fn as_original(
    m: &rmq_protocol::message::stored::MessageExt,
    group: &str,
    handle: &ExtraInfo,
) -> Result<Bytes, ServiceError> {
    let mut props = m.properties.clone();
    if !props.contains(properties::POP_CK) {
        props.insert(properties::POP_CK, handle.pop_ck());
    }
    let encoded = props.encode();
    let topic = normal_topic(&m.topic, group);
    let mut buf = BytesMut::new();
    encode_stored(
        &mut buf,
        &StoredRecord {
            body_crc: body_crc(&m.body),
            queue_id: m.queue_id,
            flag: m.flag,
            queue_offset: m.queue_offset,
            commit_log_offset: m.commit_log_offset,
            sys_flag: m.sys_flag,
            born_timestamp: m.born_timestamp,
            born_host: m.born_host,
            store_timestamp: m.store_timestamp,
            store_host: m.store_host,
            reconsume_times: m.reconsume_times,
            prepared_transaction_offset: m.prepared_transaction_offset,
            body: &m.body,
            topic,
            properties: &encoded,
        },
    )
    .map_err(ServiceError::Protocol)?;
    Ok(buf.freeze())
}
