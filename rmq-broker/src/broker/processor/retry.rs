//! Retry and dead letters (notes §2.3.5, §4.3): CONSUMER_SEND_MSG_BACK (36), the DLQ rule for plain sends to
//! `%RETRY%group`, and `RMQ_RESEND_DLQ_MESSAGE` (40001, an rmq extension) which puts a dead letter back on its
//! original topic.
//!
//! A failed message is re-stored in `%RETRY%group` with `DELAY` = the next level, so it goes through the
//! delay-level service and comes back after that level's delay; its reconsume count grows by one and
//! `RETRY_TOPIC` / `ORIGIN_MESSAGE_ID` keep where it came from. Once the count reaches the group's limit (or the
//! client asks for a negative level) it goes to `%DLQ%group` instead, where nothing consumes it until an
//! operator resends it.

use std::collections::HashMap;

use rmq_protocol::codes::response;
use rmq_protocol::headers::{
    CommandHeader, ConsumerSendMsgBackRequestHeader, ExtField, SendMessageRequestHeader,
};
use rmq_protocol::message::properties::{self, Properties};
use rmq_protocol::message::stored::{decode_stored, MessageExt, MAX_PROPERTIES_LEN};
use rmq_protocol::message::sysflag::perm;
use rmq_protocol::RemotingCommand;

use super::{ok, Refusal, Reply};
use crate::broker::subscription_group::SubscriptionGroupConfig;
use crate::broker::topic_config::{DLQ_GROUP_TOPIC_PREFIX, RETRY_GROUP_TOPIC_PREFIX};
use crate::broker::{count_put, now_ms, BrokerInner};
use crate::store::{MessageToStore, PutResult};

/// `MQVersion.Version.V3_4_9.ordinal()`: requesters from this version on send `maxReconsumeTimes`.
pub const V3_4_9: i32 = 121;
/// Queues of a `%DLQ%group` topic (Java's `DLQ_NUMS_PER_GROUP`).
pub const DLQ_NUMS_PER_GROUP: i32 = 1;

/// Header of [`RMQ_RESEND_DLQ_MESSAGE`](rmq_protocol::codes::request::RMQ_RESEND_DLQ_MESSAGE): which dead letter,
/// and optionally where to instead of its original topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResendDlqMessageRequestHeader {
    /// CommitLog offset of the `%DLQ%group` record.
    pub offset: i64,
    /// Target topic; default the recorded original topic (`DLQ_ORIGIN_TOPIC`, else `RETRY_TOPIC`).
    pub topic: Option<String>,
}

impl CommandHeader for ResendDlqMessageRequestHeader {
    const EXT_KEYS: &'static [&'static str] = &["offset", "topic"];

    fn to_ext(&self) -> HashMap<String, String> {
        let mut ext = HashMap::new();
        self.offset.write(&mut ext, "offset");
        self.topic.write(&mut ext, "topic");
        ext
    }

    fn from_ext(ext: &HashMap<String, String>) -> rmq_protocol::Result<Self> {
        Ok(ResendDlqMessageRequestHeader {
            offset: ExtField::read(ext, "offset")?,
            topic: ExtField::read(ext, "topic")?,
        })
    }
}

/// `%RETRY%group`.
pub fn retry_topic(group: &str) -> String {
    format!("{RETRY_GROUP_TOPIC_PREFIX}{group}")
}

/// `%DLQ%group`.
pub fn dlq_topic(group: &str) -> String {
    format!("{DLQ_GROUP_TOPIC_PREFIX}{group}")
}

/// Creates a retry or DLQ topic when missing (and tells the name servers); refuses when it is not writable.
fn ensure_topic(inner: &BrokerInner, topic: &str, queues: i32) -> Result<i32, Refusal> {
    let existed = inner.topics.get(topic).is_some();
    let cfg = inner.topics.create_system_managed(topic, queues)?;
    if !existed {
        inner.topics_changed();
    }
    if !perm::is_writeable(cfg.perm) {
        return Err(Refusal::new(
            response::NO_PERMISSION,
            format!("the topic[{topic}] sending message is forbidden"),
        ));
    }
    Ok(cfg.write_queue_nums.max(1))
}

/// The group's max reconsume times: the header's when the requester is new enough to send one, else the
/// group's `retryMaxTimes`.
fn max_reconsume_times(group: &SubscriptionGroupConfig, version: i32, header: Option<i32>) -> i32 {
    match header {
        Some(m) if version >= V3_4_9 => m,
        _ => group.retry_max_times,
    }
}

fn pick_queue(queues: i32) -> i32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    (NEXT.fetch_add(1, Ordering::Relaxed) % queues.max(1) as u32) as i32
}

/// Applies delay/timer deferral, stores, and wakes the schedule service concerned.
async fn store_deferred(
    inner: &BrokerInner,
    mut topic: String,
    mut queue_id: i32,
    mut props: Properties,
    m: &MessageExt,
    reconsume_times: i32,
) -> Result<PutResult, Refusal> {
    // Counted under the retry or DLQ topic, not where a deferral parks it meanwhile.
    let target = topic.clone();
    let deferral =
        inner
            .schedule
            .defer(&mut topic, &mut queue_id, &mut props, m.sys_flag, now_ms())?;
    let properties = props.encode();
    if properties.len() > MAX_PROPERTIES_LEN {
        return Err(Refusal::new(
            response::MESSAGE_ILLEGAL,
            format!(
                "the message properties size {} is over the max value {MAX_PROPERTIES_LEN}",
                properties.len()
            ),
        ));
    }
    let put = inner
        .store
        .put_message(MessageToStore {
            topic,
            queue_id,
            flag: m.flag,
            body: m.body.clone(),
            properties,
            sys_flag: m.sys_flag,
            born_timestamp: m.born_timestamp,
            born_host: m.born_host,
            reconsume_times,
            prepared_transaction_offset: 0,
        })
        .await?;
    inner.schedule.stored(deferral);
    count_put(inner, &target, 1, m.body.len() as u64);
    Ok(put)
}

/// The stored message at a CommitLog offset, body included.
fn look_message(inner: &BrokerInner, offset: i64) -> Option<MessageExt> {
    let rec = inner.store.message_at(offset)?;
    decode_stored(&rec, true).ok().map(|(m, _)| m)
}

/// CONSUMER_SEND_MSG_BACK: re-store a failed message in `%RETRY%group` with the next delay level, or in
/// `%DLQ%group` once its reconsume count reached the limit (or the client asked for delayLevel < 0).
pub async fn consumer_send_msg_back(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let h: ConsumerSendMsgBackRequestHeader = req.decode_header()?;
    let Some(group) = inner.groups.find_or_create(&h.group)? else {
        return Err(Refusal::new(
            response::SUBSCRIPTION_GROUP_NOT_EXIST,
            format!("subscription group not exist, {}", h.group),
        ));
    };
    if !perm::is_writeable(inner.config.broker_permission) {
        return Err(Refusal::new(
            response::NO_PERMISSION,
            format!(
                "the broker[{}] sending message is forbidden",
                inner.broker_addr
            ),
        ));
    }
    if group.retry_queue_nums <= 0 {
        // Java: a group without retry queues drops failed messages.
        return Ok(ok(req));
    }
    let retry = retry_topic(&h.group);
    let retry_queues = ensure_topic(inner, &retry, group.retry_queue_nums)?;
    let Some(m) = look_message(inner, h.offset) else {
        return Err(Refusal::new(
            response::SYSTEM_ERROR,
            format!("look message by offset failed, {}", h.offset),
        ));
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
    let max = max_reconsume_times(&group, req.version, h.max_reconsume_times);
    let (topic, queue_id) = if m.reconsume_times >= max || h.delay_level < 0 {
        let dlq = dlq_topic(&h.group);
        let queues = ensure_topic(inner, &dlq, DLQ_NUMS_PER_GROUP)?;
        props.remove(properties::DELAY_TIME_LEVEL);
        let origin_topic = props
            .get(properties::RETRY_TOPIC)
            .unwrap_or(&m.topic)
            .to_owned();
        props.insert(properties::DLQ_ORIGIN_TOPIC, origin_topic);
        props.insert(properties::DLQ_ORIGIN_MESSAGE_ID, origin_id);
        tracing::info!(group = %h.group, reconsume_times = m.reconsume_times, max, "message sent to the dead-letter queue");
        (dlq, pick_queue(queues))
    } else {
        let level = if h.delay_level == 0 {
            3 + m.reconsume_times
        } else {
            h.delay_level
        };
        props.insert(properties::DELAY_TIME_LEVEL, level.to_string());
        (retry, pick_queue(retry_queues))
    };
    store_deferred(inner, topic, queue_id, props, &m, m.reconsume_times + 1).await?;
    Ok(ok(req))
}

/// The DLQ rule of a plain send to `%RETRY%group` (Java's `handleRetryAndDLQ`): with a reconsume count above
/// the group's limit the message goes to `%DLQ%group` queue 0 instead, `DELAY` set to −1. Other topics are
/// left alone.
///
/// # Errors
/// SUBSCRIPTION_GROUP_NOT_EXIST for an unknown group; state-file errors creating the DLQ topic.
pub fn redirect_exhausted_retry(
    inner: &BrokerInner,
    version: i32,
    h: &SendMessageRequestHeader,
    topic: &mut String,
    queue_id: &mut i32,
    props: &mut Properties,
) -> Result<(), Refusal> {
    let Some(group) = topic
        .strip_prefix(RETRY_GROUP_TOPIC_PREFIX)
        .map(str::to_owned)
    else {
        return Ok(());
    };
    let Some(cfg) = inner.groups.get(&group) else {
        return Err(Refusal::new(
            response::SUBSCRIPTION_GROUP_NOT_EXIST,
            format!("subscription group not exist, {group}"),
        ));
    };
    let max = max_reconsume_times(&cfg, version, h.max_reconsume_times);
    if h.reconsume_times.unwrap_or(0) > max {
        let dlq = dlq_topic(&group);
        let queues = ensure_topic(inner, &dlq, DLQ_NUMS_PER_GROUP)?;
        props.insert(properties::DELAY_TIME_LEVEL, "-1");
        if let Some(origin) = props.get(properties::RETRY_TOPIC).map(str::to_owned) {
            props.insert(properties::DLQ_ORIGIN_TOPIC, origin);
        }
        tracing::info!(%group, reconsume_times = h.reconsume_times, max, "retry send redirected to the dead-letter queue");
        *topic = dlq;
        *queue_id = pick_queue(queues);
    }
    Ok(())
}

/// RMQ_RESEND_DLQ_MESSAGE: put the dead letter at `offset` back on its original topic (or the header's), with a
/// fresh reconsume count. Answers with the new record's `msgId`, `queueId` and `queueOffset`.
pub async fn resend_dlq_message(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let h: ResendDlqMessageRequestHeader = req.decode_header()?;
    if !perm::is_writeable(inner.config.broker_permission) {
        return Err(Refusal::new(
            response::NO_PERMISSION,
            format!(
                "the broker[{}] sending message is forbidden",
                inner.broker_addr
            ),
        ));
    }
    let Some(m) = look_message(inner, h.offset) else {
        return Err(Refusal::new(
            response::QUERY_NOT_FOUND,
            format!("no message at commit-log offset {}", h.offset),
        ));
    };
    if !m.topic.starts_with(DLQ_GROUP_TOPIC_PREFIX) {
        return Err(Refusal::new(
            response::INVALID_PARAMETER,
            format!(
                "the message at offset {} is in topic {}, not a dead-letter queue",
                h.offset, m.topic
            ),
        ));
    }
    let Some(target) = h
        .topic
        .clone()
        .filter(|t| !t.is_empty())
        .or_else(|| m.property(properties::DLQ_ORIGIN_TOPIC).map(str::to_owned))
        .or_else(|| m.property(properties::RETRY_TOPIC).map(str::to_owned))
    else {
        return Err(Refusal::new(
            response::INVALID_PARAMETER,
            format!(
                "the dead letter at offset {} records no original topic; name one in header `topic`",
                h.offset
            ),
        ));
    };
    let Some(cfg) = inner.topics.get(&target) else {
        return Err(Refusal::new(
            response::TOPIC_NOT_EXIST,
            format!("topic[{target}] not exist"),
        ));
    };
    if !perm::is_writeable(cfg.perm) {
        return Err(Refusal::new(
            response::NO_PERMISSION,
            format!("the topic[{target}] sending message is forbidden"),
        ));
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
    let put = store_deferred(inner, target.clone(), queue_id, props, &m, 0).await?;
    tracing::info!(from = h.offset, topic = %target, msg_id = %put.msg_id, "dead letter resent");
    let mut ext = HashMap::new();
    ext.insert("msgId".to_owned(), put.msg_id);
    ext.insert("queueId".to_owned(), queue_id.to_string());
    ext.insert("queueOffset".to_owned(), put.queue_offset.to_string());
    Ok(ok(req).with_ext(ext))
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

    #[test]
    fn resend_header_round_trip() {
        let h = ResendDlqMessageRequestHeader {
            offset: 1234,
            topic: None,
        };
        let ext = h.to_ext();
        assert_eq!(ext.get("offset").map(String::as_str), Some("1234"));
        assert_eq!(
            ResendDlqMessageRequestHeader::from_ext(&ext).expect("parse"),
            h
        );
        assert!(ResendDlqMessageRequestHeader::from_ext(&HashMap::new()).is_err());
    }
}
