//! The broker requests a consumer makes (offsets, group membership, queue locks, pulls and send-backs), each
//! also addressable to one broker (`*_at`), which is how admin makes the same requests.

use std::collections::HashMap;
use std::time::Duration;

use rmq_protocol::body::{
    self, ConsumerListBody, LockBatchRequestBody, LockBatchResponseBody, MessageQueue,
};
use rmq_protocol::codes::{request, response};
use rmq_protocol::headers::{
    ConsumerSendMsgBackRequestHeader, GetConsumerListByGroupRequestHeader,
    GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader, GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader, PullMessageRequestHeader, PullMessageResponseHeader,
    QueryConsumerOffsetRequestHeader, QueryConsumerOffsetResponseHeader, SearchOffsetRequestHeader,
    SearchOffsetResponseHeader, SendMessageRequestHeader, UpdateConsumerOffsetRequestHeader,
};
use rmq_protocol::message::{decode_all, properties as keys, MessageExt};
use rmq_protocol::RemotingCommand;

use crate::error::{ClientError, Result};
use crate::instance::{ClientInstance, CLIENT_INNER_PRODUCER_GROUP};
use crate::message::decompress_in_place;

/// What a pull returned: the three answers a consumer continues from differently.
#[derive(Debug)]
pub enum PullOutcome {
    /// Messages (already decompressed), and where to continue.
    Found {
        /// The messages, in queue order.
        msgs: Vec<MessageExt>,
        /// The offset to pull next.
        next: i64,
    },
    /// Nothing new (or nothing matched the filter): continue at `next`.
    Empty {
        /// The offset to pull next.
        next: i64,
    },
    /// The requested offset is outside the queue: continue at `next`.
    OffsetMoved {
        /// The offset the broker suggests instead.
        next: i64,
    },
}

impl ClientInstance {
    async fn broker_of(&self, mq: &MessageQueue) -> Result<String> {
        if let Some(a) = self.any_addr(&mq.broker_name) {
            return Ok(a);
        }
        self.update_route(&mq.topic).await?;
        self.any_addr(&mq.broker_name)
            .ok_or_else(|| ClientError::NoBrokerAddr {
                broker_name: mq.broker_name.clone(),
            })
    }

    /// The group's committed offset of `mq`, `None` when the broker has none.
    pub(crate) async fn query_consumer_offset(
        &self,
        group: &str,
        mq: &MessageQueue,
    ) -> Result<Option<i64>> {
        let addr = self.broker_of(mq).await?;
        self.query_consumer_offset_at(&addr, group, mq, None).await
    }

    /// The group's committed offset of `mq` on the broker at `addr`, `None` when it has none (QUERY_NOT_FOUND);
    /// `set_zero_if_not_found` is sent as given (admin sends `false`, consumers leave it out).
    pub(crate) async fn query_consumer_offset_at(
        &self,
        addr: &str,
        group: &str,
        mq: &MessageQueue,
        set_zero_if_not_found: Option<bool>,
    ) -> Result<Option<i64>> {
        let header = QueryConsumerOffsetRequestHeader {
            consumer_group: group.to_string(),
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            set_zero_if_not_found,
        };
        let cmd = RemotingCommand::request_with(request::QUERY_CONSUMER_OFFSET, &header);
        let resp = self
            .invoke_raw(addr, cmd, self.config().request_timeout)
            .await?;
        match resp.code {
            response::SUCCESS => Ok(Some(
                resp.decode_header::<QueryConsumerOffsetResponseHeader>()?
                    .offset,
            )),
            response::QUERY_NOT_FOUND => Ok(None),
            code => Err(ClientError::Broker {
                addr: addr.to_string(),
                code,
                remark: resp.remark.unwrap_or_default(),
            }),
        }
    }

    /// Commits the group's offset of `mq` on its broker.
    pub(crate) async fn update_consumer_offset(
        &self,
        group: &str,
        mq: &MessageQueue,
        offset: i64,
    ) -> Result<()> {
        let addr = self.broker_of(mq).await?;
        self.update_consumer_offset_at(&addr, group, mq, offset)
            .await
    }

    /// Commits the group's offset of `mq` on the broker at `addr` (admin resets address the master directly).
    pub(crate) async fn update_consumer_offset_at(
        &self,
        addr: &str,
        group: &str,
        mq: &MessageQueue,
        offset: i64,
    ) -> Result<()> {
        let header = UpdateConsumerOffsetRequestHeader {
            consumer_group: group.to_string(),
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            commit_offset: offset,
        };
        let cmd = RemotingCommand::request_with(request::UPDATE_CONSUMER_OFFSET, &header);
        self.invoke(addr, cmd, self.config().request_timeout)
            .await
            .map(|_| ())
    }

    /// The queue's max offset (one past its last message).
    pub(crate) async fn max_offset(&self, mq: &MessageQueue) -> Result<i64> {
        let addr = self.broker_of(mq).await?;
        self.max_offset_at(&addr, mq, None).await
    }

    /// The queue's max offset on the broker at `addr`; `committed` is sent as given (admin asks for the
    /// committed one explicitly, consumers take the broker's default).
    pub(crate) async fn max_offset_at(
        &self,
        addr: &str,
        mq: &MessageQueue,
        committed: Option<bool>,
    ) -> Result<i64> {
        let header = GetMaxOffsetRequestHeader {
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            committed,
        };
        let cmd = RemotingCommand::request_with(request::GET_MAX_OFFSET, &header);
        let resp = self
            .invoke(addr, cmd, self.config().request_timeout)
            .await?;
        Ok(resp.decode_header::<GetMaxOffsetResponseHeader>()?.offset)
    }

    /// The queue's min offset (its first message still stored); where a lite pull consumer's `seek_to_begin` goes.
    pub(crate) async fn min_offset(&self, mq: &MessageQueue) -> Result<i64> {
        let addr = self.broker_of(mq).await?;
        self.min_offset_at(&addr, mq).await
    }

    /// The queue's min offset on the broker at `addr`.
    pub(crate) async fn min_offset_at(&self, addr: &str, mq: &MessageQueue) -> Result<i64> {
        let header = GetMinOffsetRequestHeader {
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
        };
        let cmd = RemotingCommand::request_with(request::GET_MIN_OFFSET, &header);
        let resp = self
            .invoke(addr, cmd, self.config().request_timeout)
            .await?;
        Ok(resp.decode_header::<GetMinOffsetResponseHeader>()?.offset)
    }

    /// The first offset of `mq` stored at or after `timestamp_ms`.
    pub(crate) async fn search_offset(&self, mq: &MessageQueue, timestamp_ms: i64) -> Result<i64> {
        let addr = self.broker_of(mq).await?;
        self.search_offset_at(&addr, mq, timestamp_ms).await
    }

    /// The first offset of `mq` stored at or after `timestamp_ms`, asked of the broker at `addr`.
    pub(crate) async fn search_offset_at(
        &self,
        addr: &str,
        mq: &MessageQueue,
        timestamp_ms: i64,
    ) -> Result<i64> {
        let header = SearchOffsetRequestHeader {
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            timestamp: timestamp_ms,
            boundary_type: None,
        };
        let cmd = RemotingCommand::request_with(request::SEARCH_OFFSET_BY_TIMESTAMP, &header);
        let resp = self
            .invoke(addr, cmd, self.config().request_timeout)
            .await?;
        Ok(resp.decode_header::<SearchOffsetResponseHeader>()?.offset)
    }

    /// Client ids of `group` as a broker of `topic` sees them.
    pub(crate) async fn consumer_ids(&self, topic: &str, group: &str) -> Result<Vec<String>> {
        let route = self.route(topic).await?;
        let mut last_err = None;
        for bd in &route.broker_datas {
            let Some(addr) = bd
                .master_addr()
                .or_else(|| bd.broker_addrs.values().next().map(String::as_str))
            else {
                continue;
            };
            let header = GetConsumerListByGroupRequestHeader {
                consumer_group: group.to_string(),
            };
            let cmd = RemotingCommand::request_with(request::GET_CONSUMER_LIST_BY_GROUP, &header);
            match self.invoke(addr, cmd, self.config().request_timeout).await {
                Ok(resp) => {
                    let list: ConsumerListBody = body::from_json(&resp.body)?;
                    return Ok(list.consumer_id_list);
                }
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| ClientError::NoRoute {
            topic: topic.to_string(),
            reason: "no broker in the route".into(),
        }))
    }

    /// Locks `mqs` (all on `broker_name`) for orderly consumption; returns the ones this client now holds.
    pub(crate) async fn lock_queues(
        &self,
        group: &str,
        broker_name: &str,
        mqs: Vec<MessageQueue>,
    ) -> Result<Vec<MessageQueue>> {
        let topic = mqs.first().map(|m| m.topic.clone()).unwrap_or_default();
        let addr = self.master_addr_for(broker_name, &topic).await?;
        let body = LockBatchRequestBody {
            consumer_group: group.to_string(),
            client_id: self.client_id().to_string(),
            only_this_broker: false,
            mq_set: mqs,
        };
        let cmd = RemotingCommand::request(request::LOCK_BATCH_MQ, HashMap::new())
            .with_body(body::to_json(&body));
        let resp = self
            .invoke(&addr, cmd, self.config().request_timeout)
            .await?;
        let locked: LockBatchResponseBody = body::from_json(&resp.body)?;
        Ok(locked.lock_ok_mq_set)
    }

    /// Releases orderly locks (oneway failures are logged: the locks expire anyway).
    pub(crate) async fn unlock_queues(
        &self,
        group: &str,
        broker_name: &str,
        mqs: Vec<MessageQueue>,
    ) {
        let topic = mqs.first().map(|m| m.topic.clone()).unwrap_or_default();
        let Ok(addr) = self.master_addr_for(broker_name, &topic).await else {
            return;
        };
        let body = LockBatchRequestBody {
            consumer_group: group.to_string(),
            client_id: self.client_id().to_string(),
            only_this_broker: false,
            mq_set: mqs,
        };
        let cmd = RemotingCommand::request(request::UNLOCK_BATCH_MQ, HashMap::new())
            .with_body(body::to_json(&body));
        if let Err(e) = self.invoke(&addr, cmd, self.config().request_timeout).await {
            tracing::debug!(broker = %addr, error = %e, "unlock failed; the locks will expire");
        }
    }

    /// One (long-polling) pull; public so test harnesses can read a queue without a consumer.
    pub async fn pull(
        &self,
        header: PullMessageRequestHeader,
        mq: &MessageQueue,
        timeout: Duration,
    ) -> Result<PullOutcome> {
        self.pull_with_code(request::PULL_MESSAGE, header, mq, timeout)
            .await
    }

    /// One pull sent as `code`: PULL_MESSAGE (push consumer) or LITE_PULL_MESSAGE (lite pull consumer, as Java
    /// 5 sends it, so brokers can tell the two apart in their statistics); the answer is the same.
    pub(crate) async fn pull_with_code(
        &self,
        code: i32,
        header: PullMessageRequestHeader,
        mq: &MessageQueue,
        timeout: Duration,
    ) -> Result<PullOutcome> {
        let addr = self.broker_of(mq).await?;
        let mut outcome = self.pull_at(&addr, code, header, timeout).await?;
        if let PullOutcome::Found { msgs, .. } = &mut outcome {
            for m in msgs {
                if let Err(e) = decompress_in_place(m) {
                    tracing::warn!(error = %e, "delivering a message whose body could not be decompressed as stored");
                }
            }
        }
        Ok(outcome)
    }

    /// One pull sent as `code` to the broker at `addr`, bodies as stored (the caller decides what an
    /// undecompressable body means: consumers deliver it, admin reports it).
    pub(crate) async fn pull_at(
        &self,
        addr: &str,
        code: i32,
        header: PullMessageRequestHeader,
        timeout: Duration,
    ) -> Result<PullOutcome> {
        let cmd = RemotingCommand::request_with(code, &header);
        let resp = self.invoke_raw(addr, cmd, timeout).await?;
        let next = |resp: &RemotingCommand| -> Result<i64> {
            Ok(resp
                .decode_header::<PullMessageResponseHeader>()?
                .next_begin_offset)
        };
        match resp.code {
            response::SUCCESS => Ok(PullOutcome::Found {
                next: next(&resp)?,
                msgs: decode_all(&resp.body),
            }),
            response::PULL_NOT_FOUND | response::PULL_RETRY_IMMEDIATELY => {
                Ok(PullOutcome::Empty { next: next(&resp)? })
            }
            response::PULL_OFFSET_MOVED => Ok(PullOutcome::OffsetMoved { next: next(&resp)? }),
            code => Err(ClientError::Broker {
                addr: addr.to_string(),
                code,
                remark: resp.remark.unwrap_or_default(),
            }),
        }
    }

    /// Hands a failed message back for a later retry (`delay_level` 0: the broker's schedule; -1: DLQ now).
    ///
    /// As Java's `sendMessageBack`: when the broker refuses CONSUMER_SEND_MSG_BACK (or it fails on the wire),
    /// the message is sent to `%RETRY%<group>` as a new message instead ([`send_to_retry_topic`]). Only when
    /// both fail is the error returned, and the caller retries the message locally.
    ///
    /// [`send_to_retry_topic`]: Self::send_to_retry_topic
    pub(crate) async fn send_message_back(
        &self,
        group: &str,
        msg: &MessageExt,
        broker_name: &str,
        delay_level: i32,
        max_reconsume_times: i32,
    ) -> Result<()> {
        let addr = self.master_addr_for(broker_name, &msg.topic).await?;
        let header = ConsumerSendMsgBackRequestHeader {
            offset: msg.commit_log_offset,
            group: group.to_string(),
            delay_level,
            origin_msg_id: Some(msg.msg_id()),
            origin_topic: Some(
                msg.property(keys::RETRY_TOPIC)
                    .map_or_else(|| msg.topic.clone(), str::to_string),
            ),
            unit_mode: Some(false),
            max_reconsume_times: Some(max_reconsume_times),
        };
        let cmd = RemotingCommand::request_with(request::CONSUMER_SEND_MSG_BACK, &header);
        let Err(back) = self.invoke(&addr, cmd, self.config().request_timeout).await else {
            return Ok(());
        };
        tracing::warn!(%group, msg_id = %msg.msg_id(), error = %back, "send-back refused; sending to the retry topic instead");
        self.send_to_retry_topic(group, msg, broker_name, max_reconsume_times)
            .await
    }

    /// Sends `msg` to `%RETRY%<group>` as a new message, counting the deliveries made (`reconsume_times + 1`)
    /// with delay level `3 + reconsume_times`, as Java does in two places:
    /// - the fallback of a refused CONSUMER_SEND_MSG_BACK ([`send_message_back`](Self::send_message_back));
    /// - orderly mode, for a message that used up its local retries: the broker files it in the DLQ (the
    ///   count exceeds the maximum, or the group holds orderly locks) with the same reconsume count a
    ///   concurrently consumed message gets there. A CONSUMER_SEND_MSG_BACK would not do: the broker would
    ///   count from the stored original, which local retries never touched.
    pub(crate) async fn send_to_retry_topic(
        &self,
        group: &str,
        msg: &MessageExt,
        broker_name: &str,
        max_reconsume_times: i32,
    ) -> Result<()> {
        let retry_topic = rmq_protocol::topic::retry_topic(group);
        let addr = self.master_addr_for(broker_name, &retry_topic).await?;
        let mut props = msg.properties.clone();
        if props.get(keys::ORIGIN_MESSAGE_ID).is_none_or(str::is_empty) {
            props.insert(keys::ORIGIN_MESSAGE_ID, msg.msg_id());
        }
        props.insert(keys::RETRY_TOPIC, msg.topic.clone());
        props.remove(keys::TRANSACTION_PREPARED);
        props.insert(
            keys::DELAY_TIME_LEVEL,
            (3 + msg.reconsume_times).to_string(),
        );
        let header = SendMessageRequestHeader {
            producer_group: CLIENT_INNER_PRODUCER_GROUP.to_string(),
            topic: retry_topic,
            default_topic: rmq_protocol::topic::TBW102.to_string(),
            default_topic_queue_nums: 4,
            queue_id: 0,
            sys_flag: 0,
            born_timestamp: rmq_protocol::clock::system_now_ms(),
            flag: msg.flag,
            properties: Some(props.encode()),
            reconsume_times: Some(msg.reconsume_times.saturating_add(1)),
            unit_mode: Some(false),
            max_reconsume_times: Some(max_reconsume_times),
            batch: Some(false),
            broker_name: Some(broker_name.to_string()),
        };
        let cmd = header
            .to_command(request::SEND_MESSAGE_V2)
            .with_body(msg.body.clone());
        self.invoke(&addr, cmd, self.config().request_timeout)
            .await
            .map(|_| ())
    }
}
