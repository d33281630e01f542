//! Retry and dead letters (docs/protocol.md §2.3.5, §4.3): a consumer's send-back, the DLQ rule for plain sends to
//! `%RETRY%group`, and the resend of a dead letter to its original topic.
//!
//! A failed message is re-stored in `%RETRY%group` with `DELAY` = the next level, so it goes through the
//! delay-level service and comes back after that level's delay; its reconsume count grows by one and
//! `RETRY_TOPIC` / `ORIGIN_MESSAGE_ID` keep where it came from. Once the count reaches the group's limit (or the
//! client asks for a negative level) it goes to `%DLQ%group` instead, where nothing consumes it until an
//! operator resends it.

use rmq_protocol::message::properties;
use rmq_protocol::message::stored::{decode_stored, MessageExt};
use rmq_protocol::message::sysflag::perm;

use super::request::{Message, Origin, Props, SendRequest};
use super::service::WriteService;
use crate::broker::service::ServiceError;
use crate::broker::subscription_group::SubscriptionGroupConfig;
use crate::store::PutResult;
use rmq_protocol::topic::{group_of_retry_topic, is_dlq_topic};

/// `MQVersion.Version.V3_4_9.ordinal()`: requesters from this version on send `maxReconsumeTimes`.
pub const V3_4_9: i32 = 121;
/// Queues of a `%DLQ%group` topic (Java's `DLQ_NUMS_PER_GROUP`).
pub const DLQ_NUMS_PER_GROUP: i32 = 1;

pub use rmq_protocol::topic::{dlq_topic, retry_topic};

/// A consumer's CONSUMER_SEND_MSG_BACK: the message it failed to consume.
#[derive(Debug, Clone)]
pub struct SendBack {
    /// The consumer group.
    pub group: String,
    /// CommitLog offset of the failed message.
    pub offset: i64,
    /// Requested delay level: 0 = next by reconsume count, negative = straight to the DLQ.
    pub delay_level: i32,
    /// The consumer's limit on reconsumes (honoured from [`V3_4_9`] on).
    pub max_reconsume_times: Option<i32>,
    /// The client's protocol version.
    pub client_version: i32,
}

/// An operator's resend of a dead letter.
#[derive(Debug, Clone)]
pub struct ResendDlq {
    /// CommitLog offset of the `%DLQ%group` record.
    pub offset: i64,
    /// Target topic; default the recorded original topic.
    pub topic: Option<String>,
}

/// Where a resent dead letter went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResendOutcome {
    /// Offset message id of the new record.
    pub msg_id: String,
    /// Its queue.
    pub queue_id: i32,
    /// Its queue offset.
    pub queue_offset: i64,
}

impl WriteService {
    /// Re-stores a failed message in `%RETRY%group` with the next delay level, or in `%DLQ%group` once its
    /// reconsume count reached the limit (or the client asked for delayLevel < 0). A group without retry
    /// queues drops it (as Java).
    ///
    /// # Errors
    /// Unknown group, broker or retry topic not writable, no message at the offset, or the store's refusal.
    pub async fn send_back(&self, req: SendBack) -> Result<(), ServiceError> {
        let Some(group) = self.groups.find_or_create(&req.group)? else {
            return Err(ServiceError::GroupNotExist { group: req.group });
        };
        self.check_broker_writable()?;
        if group.retry_queue_nums <= 0 {
            return Ok(());
        }
        let retry = retry_topic(&req.group);
        let retry_queues = self.ensure_topic(&retry, group.retry_queue_nums)?;
        let Some(m) = self.look_message(req.offset) else {
            return Err(ServiceError::System(format!(
                "look message by offset failed, {}",
                req.offset
            )));
        };
        let mut props = m.properties.clone();
        if props.get(properties::RETRY_TOPIC).is_none() {
            props.insert(properties::RETRY_TOPIC, m.topic.clone());
        }
        props.insert(properties::WAIT_STORE_MSG_OK, "false");
        let origin_id = props
            .get(properties::ORIGIN_MESSAGE_ID)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| m.offset_msg_id());
        props.insert(properties::ORIGIN_MESSAGE_ID, origin_id.clone());
        let max = max_reconsume_times(&group, req.client_version, req.max_reconsume_times);
        let (topic, queue_id) = if m.reconsume_times >= max || req.delay_level < 0 {
            let dlq = dlq_topic(&req.group);
            let queues = self.ensure_topic(&dlq, DLQ_NUMS_PER_GROUP)?;
            props.remove(properties::DELAY_TIME_LEVEL);
            let origin_topic = props
                .get(properties::RETRY_TOPIC)
                .unwrap_or(&m.topic)
                .to_owned();
            props.insert(properties::DLQ_ORIGIN_TOPIC, origin_topic);
            props.insert(properties::DLQ_ORIGIN_MESSAGE_ID, origin_id);
            tracing::info!(group = %req.group, reconsume_times = m.reconsume_times, max, "message sent to the dead-letter queue");
            (dlq, pick_queue(queues))
        } else {
            let level = if req.delay_level == 0 {
                3 + m.reconsume_times
            } else {
                req.delay_level
            };
            props.insert(properties::DELAY_TIME_LEVEL, level.to_string());
            (retry, pick_queue(retry_queues))
        };
        let reconsume_times = m.reconsume_times + 1;
        let counted_as = format!(
            "{}@{}",
            props.get(properties::RETRY_TOPIC).unwrap_or(&m.topic),
            req.group
        );
        self.put(
            Origin::SendBack,
            copy_of(m, topic, queue_id, props, reconsume_times),
        )
        .await?;
        self.counter.sent_back(&counted_as);
        Ok(())
    }

    /// Puts the dead letter at `offset` back on its original topic (or the request's), with a fresh reconsume
    /// count.
    ///
    /// # Errors
    /// Broker or target not writable, no record at the offset, a record outside a DLQ or without an original
    /// topic, an unknown target topic, or the store's refusal.
    pub async fn resend_dlq(&self, req: ResendDlq) -> Result<ResendOutcome, ServiceError> {
        self.check_broker_writable()?;
        let Some(m) = self.look_message(req.offset) else {
            return Err(ServiceError::NotFound(format!(
                "no message at commit-log offset {}",
                req.offset
            )));
        };
        if !is_dlq_topic(&m.topic) {
            return Err(ServiceError::InvalidParameter(format!(
                "the message at offset {} is in topic {}, not a dead-letter queue",
                req.offset, m.topic
            )));
        }
        let Some(target) = req
            .topic
            .clone()
            .filter(|t| !t.is_empty())
            .or_else(|| m.property(properties::DLQ_ORIGIN_TOPIC).map(str::to_owned))
            .or_else(|| m.property(properties::RETRY_TOPIC).map(str::to_owned))
        else {
            return Err(ServiceError::InvalidParameter(format!(
                "the dead letter at offset {} records no original topic; name one in header `topic`",
                req.offset
            )));
        };
        let Some(cfg) = self.topics.get(&target) else {
            return Err(ServiceError::UnknownTopic { topic: target });
        };
        if !perm::is_writeable(cfg.perm) {
            return Err(ServiceError::TopicNotWritable { topic: target });
        }
        let mut props = m.properties.clone();
        for key in [
            properties::DELAY_TIME_LEVEL,
            properties::RETRY_TOPIC,
            properties::DLQ_ORIGIN_TOPIC,
            properties::DLQ_ORIGIN_MESSAGE_ID,
            properties::REAL_TOPIC,
            properties::REAL_QUEUE_ID,
            properties::WAIT_STORE_MSG_OK,
        ] {
            props.remove(key);
        }
        let queue_id = pick_queue(cfg.write_queue_nums);
        let stored = self
            .put(
                Origin::DlqResend,
                copy_of(m, target.clone(), queue_id, props, 0),
            )
            .await?;
        let put: PutResult = stored.put;
        tracing::info!(from = req.offset, topic = %target, msg_id = %put.msg_id, "dead letter resent");
        Ok(ResendOutcome {
            msg_id: put.msg_id,
            queue_id,
            queue_offset: put.queue_offset,
        })
    }

    /// The DLQ rule of a plain send to `%RETRY%group` (Java's `handleRetryAndDLQ`): with a reconsume count above
    /// the group's limit the message goes to `%DLQ%group` queue 0 instead, `DELAY` set to −1. Other topics are
    /// left alone.
    pub(super) fn redirect_exhausted_retry(
        &self,
        req: &SendRequest,
        msg: &mut Message,
    ) -> Result<(), ServiceError> {
        let Some(group) = group_of_retry_topic(&msg.topic).map(str::to_owned) else {
            return Ok(());
        };
        let Some(cfg) = self.groups.get(&group) else {
            return Err(ServiceError::GroupNotExist { group });
        };
        let max = max_reconsume_times(&cfg, req.client_version, req.max_reconsume_times);
        if req.reconsume_times.unwrap_or(0) > max {
            let dlq = dlq_topic(&group);
            let queues = self.ensure_topic(&dlq, DLQ_NUMS_PER_GROUP)?;
            let props = msg.properties.parsed();
            props.insert(properties::DELAY_TIME_LEVEL, "-1");
            if let Some(origin) = props.get(properties::RETRY_TOPIC).map(str::to_owned) {
                props.insert(properties::DLQ_ORIGIN_TOPIC, origin);
            }
            tracing::info!(%group, reconsume_times = req.reconsume_times, max, "retry send redirected to the dead-letter queue");
            msg.topic = dlq;
            msg.queue_id = pick_queue(queues);
        }
        Ok(())
    }

    /// Creates a retry or DLQ topic when missing; refuses when it is not writable. Returns its write queues.
    fn ensure_topic(&self, topic: &str, queues: i32) -> Result<i32, ServiceError> {
        let cfg = self.topics.create_system_managed(topic, queues)?;
        if !perm::is_writeable(cfg.perm) {
            return Err(ServiceError::TopicNotWritable {
                topic: topic.to_owned(),
            });
        }
        Ok(cfg.write_queue_nums.max(1))
    }

    /// The stored message at a CommitLog offset, body included.
    fn look_message(&self, offset: i64) -> Option<MessageExt> {
        let rec = self.store.message_at(offset)?;
        decode_stored(&rec, true).ok().map(|(m, _)| m)
    }
}

/// The group's max reconsume times: the request's when the requester is new enough to send one, else the
/// group's `retryMaxTimes`.
fn max_reconsume_times(group: &SubscriptionGroupConfig, version: i32, header: Option<i32>) -> i32 {
    match header {
        Some(m) if version >= V3_4_9 => m,
        _ => group.retry_max_times,
    }
}

/// Round robin over a retry or DLQ topic's queues.
fn pick_queue(queues: i32) -> i32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    (NEXT.fetch_add(1, Ordering::Relaxed) % queues.max(1) as u32) as i32
}

/// A stored message re-addressed to `topic`/`queue_id` with new properties and reconsume count.
fn copy_of(
    m: MessageExt,
    topic: String,
    queue_id: i32,
    props: rmq_protocol::message::properties::Properties,
    reconsume_times: i32,
) -> Message {
    Message {
        topic,
        queue_id,
        flag: m.flag,
        body: m.body,
        properties: Props::Parsed(props),
        sys_flag: m.sys_flag,
        born_timestamp: m.born_timestamp,
        born_host: m.born_host,
        reconsume_times,
        prepared_transaction_offset: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_max_reconsume_times_needs_a_new_enough_requester() {
        let g = SubscriptionGroupConfig::default();
        assert_eq!(max_reconsume_times(&g, V3_4_9, Some(2)), 2);
        assert_eq!(max_reconsume_times(&g, V3_4_9 - 1, Some(2)), 16);
        assert_eq!(max_reconsume_times(&g, 500, None), 16);
    }
}
