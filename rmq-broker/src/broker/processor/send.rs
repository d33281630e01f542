//! SEND_MESSAGE (10), SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320): checks, topic auto-creation, store.

pub(crate) use rand_queue::pick_queue;
use rmq_protocol::codes::{request, response};
use rmq_protocol::headers::{CommandHeader, SendMessageRequestHeader, SendMessageResponseHeader};
use rmq_protocol::message::properties::{self, Properties};
use rmq_protocol::message::{batch, sysflag, sysflag::perm};
use rmq_protocol::RemotingCommand;

use super::{ok, retry, Refusal, Reply};
use crate::broker::topic_config::{self, RETRY_GROUP_TOPIC_PREFIX};
use crate::broker::transaction::bridge as transaction;
use crate::broker::{count_put, now_ms, BrokerInner};
use crate::remoting::Connection;
use crate::store::MessageToStore;

/// Largest encoded properties string a record can hold (i16 length, notes §3.4).
const MAX_PROPERTIES_LEN: usize = i16::MAX as usize;

/// Handles the three send codes.
pub async fn process(inner: &BrokerInner, conn: &Connection, req: &RemotingCommand) -> Reply {
    let h = SendMessageRequestHeader::from_command(req)?;
    let topic = check_and_prepare(inner, &h)?;
    let queue_id = match h.queue_id {
        q if q < 0 => pick_queue(topic.write_queue_nums),
        q if q >= topic.write_queue_nums.max(topic.read_queue_nums) => {
            // SYSTEM_ERROR, as Java's msgCheck answers: producers treat it as retryable and refetch the route,
            // which is what a producer holding a stale (or TBW102-derived) route needs.
            return Err(Refusal::new(
                response::SYSTEM_ERROR,
                format!(
                    "request queueId[{q}] is illegal, topic {} has {} write queues",
                    h.topic, topic.write_queue_nums
                ),
            ));
        }
        q => q,
    };
    let mut sys_flag = h.sys_flag;
    if topic.topic_filter_type == "MULTI_TAG" {
        sys_flag |= sysflag::MULTI_TAGS_FLAG;
    }
    // Java takes the batch path by the header's `batch` field alone (`requestHeader.isBatch()`), whatever the code:
    // a SEND_MESSAGE (10) with batch=true is a batch, and Apache's C++ client's batch=1 is not (parseBoolean).
    // A SEND_BATCH_MESSAGE without the field is read as a batch, which is what its sender meant.
    if h.batch.unwrap_or(req.code == request::SEND_BATCH_MESSAGE) {
        send_batch(inner, conn, req, &h, queue_id, sys_flag).await
    } else {
        send_one(inner, conn, req, &h, queue_id, sys_flag).await
    }
}

/// Permission, topic name, auto-creation and body checks shared by single and batch sends.
pub(super) fn check_and_prepare(
    inner: &BrokerInner,
    h: &SendMessageRequestHeader,
) -> Result<rmq_protocol::body::TopicConfig, Refusal> {
    if !perm::is_writeable(inner.config.broker_permission) {
        return Err(Refusal::new(
            response::NO_PERMISSION,
            format!(
                "the broker[{}] sending message is forbidden",
                inner.broker_addr
            ),
        ));
    }
    topic_config::validate_topic(&h.topic)
        .map_err(|e| Refusal::new(response::INVALID_PARAMETER, e))?;
    if topic_config::is_system_topic(&h.topic) {
        return Err(Refusal::new(
            response::NO_PERMISSION,
            format!("Sending message to topic[{}] is forbidden.", h.topic),
        ));
    }
    let topic = match inner.topics.get(&h.topic) {
        Some(t) => t,
        None => {
            let created = if let Some(group) = h.topic.strip_prefix(RETRY_GROUP_TOPIC_PREFIX) {
                let Some(g) = inner.groups.find_or_create(group)? else {
                    return Err(Refusal::new(
                        response::SUBSCRIPTION_GROUP_NOT_EXIST,
                        format!("subscription group not exist, {group}"),
                    ));
                };
                Some(
                    inner
                        .topics
                        .create_system_managed(&h.topic, g.retry_queue_nums.max(1))?,
                )
            } else if inner.config.auto_create_topic_enable {
                inner.topics.create_on_send(
                    &h.topic,
                    &h.default_topic,
                    h.default_topic_queue_nums,
                    0,
                )?
            } else {
                None
            };
            match created {
                Some(t) => {
                    inner.topics_changed();
                    t
                }
                None => {
                    return Err(Refusal::new(
                        response::TOPIC_NOT_EXIST,
                        format!(
                            "topic[{}] not exist, apply first please! (autoCreateTopicEnable={})",
                            h.topic, inner.config.auto_create_topic_enable
                        ),
                    ))
                }
            }
        }
    };
    if !perm::is_writeable(topic.perm) {
        return Err(Refusal::new(
            response::NO_PERMISSION,
            format!("the topic[{}] sending message is forbidden", h.topic),
        ));
    }
    Ok(topic)
}

pub(super) fn check_body(inner: &BrokerInner, len: usize) -> Result<(), Refusal> {
    if len > inner.config.max_message_size {
        return Err(Refusal::new(
            response::MESSAGE_ILLEGAL,
            format!(
                "the message body size {len} is over the max value {} (maxMessageSize)",
                inner.config.max_message_size
            ),
        ));
    }
    Ok(())
}

/// Adds what the broker stamps on every stored message and encodes the properties; returns them and the
/// message's UNIQ_KEY.
fn stamp_properties(
    inner: &BrokerInner,
    mut props: Properties,
) -> Result<(String, String), Refusal> {
    let uniq = match props.get(properties::UNIQ_KEY) {
        Some(u) => u.to_string(),
        None => {
            let u = inner.uniq_ids.next_id();
            props.insert(properties::UNIQ_KEY, u.clone());
            u
        }
    };
    props.insert(
        properties::CLUSTER,
        inner.config.broker_cluster_name.clone(),
    );
    props.insert(properties::MSG_REGION, inner.config.region_id.clone());
    props.insert(properties::TRACE_SWITCH, inner.config.trace_on.to_string());
    let encoded = props.encode();
    if encoded.len() > MAX_PROPERTIES_LEN {
        return Err(Refusal::new(
            response::MESSAGE_ILLEGAL,
            format!(
                "the message properties size {} is over the max value {MAX_PROPERTIES_LEN}",
                encoded.len()
            ),
        ));
    }
    Ok((encoded, uniq))
}

pub(super) fn response_ext(
    inner: &BrokerInner,
    header: SendMessageResponseHeader,
    req: &RemotingCommand,
) -> RemotingCommand {
    let mut ext = header.to_ext();
    ext.insert(
        properties::MSG_REGION.into(),
        inner.config.region_id.clone(),
    );
    ext.insert(
        properties::TRACE_SWITCH.into(),
        inner.config.trace_on.to_string(),
    );
    ok(req).with_ext(ext)
}

async fn send_one(
    inner: &BrokerInner,
    conn: &Connection,
    req: &RemotingCommand,
    h: &SendMessageRequestHeader,
    queue_id: i32,
    sys_flag: i32,
) -> Reply {
    check_body(inner, req.body.len())?;
    let mut props = Properties::parse(h.properties.as_deref().unwrap_or(""));
    let (mut store_topic, mut store_queue) = (h.topic.clone(), queue_id);
    retry::redirect_exhausted_retry(
        inner,
        req.version,
        h,
        &mut store_topic,
        &mut store_queue,
        &mut props,
    )?;
    let deferral = inner.schedule.defer(
        &mut store_topic,
        &mut store_queue,
        &mut props,
        sys_flag,
        now_ms(),
    )?;
    let half = transaction::is_half(&props);
    let (properties, uniq) = stamp_properties(inner, props)?;
    let msg = MessageToStore {
        topic: store_topic,
        queue_id: store_queue,
        flag: h.flag,
        body: req.body.clone(),
        properties,
        sys_flag,
        born_timestamp: h.born_timestamp,
        born_host: conn.peer(),
        reconsume_times: h.reconsume_times.unwrap_or(0),
        prepared_transaction_offset: 0,
    };
    // A half message is stored out of sight until END_TRANSACTION (broker::transaction).
    let msg = if half {
        transaction::half_message(msg)
    } else {
        msg
    };
    let put = inner.store.put_message(msg).await?;
    inner.schedule.stored(deferral);
    count_put(inner, &h.topic, 1, req.body.len() as u64);
    let header = SendMessageResponseHeader {
        msg_id: put.msg_id,
        queue_id,
        queue_offset: put.queue_offset,
        transaction_id: Some(uniq),
        batch_uniq_id: None,
    };
    Ok(response_ext(inner, header, req))
}

async fn send_batch(
    inner: &BrokerInner,
    conn: &Connection,
    req: &RemotingCommand,
    h: &SendMessageRequestHeader,
    queue_id: i32,
    sys_flag: i32,
) -> Reply {
    if h.topic.starts_with(RETRY_GROUP_TOPIC_PREFIX) {
        return Err(Refusal::new(
            response::MESSAGE_ILLEGAL,
            "retry group topic is not supported for batching",
        ));
    }
    let entries = batch::decode_batch(&req.body)?;
    if entries.is_empty() {
        return Err(Refusal::new(
            response::MESSAGE_ILLEGAL,
            "the batch body holds no message",
        ));
    }
    let mut msgs = Vec::with_capacity(entries.len());
    let mut bytes = 0u64;
    for entry in entries {
        check_body(inner, entry.body.len())?;
        let props = Properties::parse(&entry.properties);
        if transaction::is_half(&props) {
            return Err(Refusal::new(
                response::MESSAGE_ILLEGAL,
                "transactional messages cannot be sent in a batch",
            ));
        }
        if props
            .get(properties::DELAY_TIME_LEVEL)
            .is_some_and(|d| d != "0")
        {
            return Err(Refusal::new(
                response::MESSAGE_ILLEGAL,
                "TimeDelayLevel is not supported for batched messages",
            ));
        }
        if [
            properties::TIMER_DELIVER_MS,
            properties::TIMER_DELAY_MS,
            properties::TIMER_DELAY_SEC,
        ]
        .iter()
        .any(|k| props.contains(k))
        {
            return Err(Refusal::new(
                response::MESSAGE_ILLEGAL,
                "a delivery time (TIMER_*) is not supported for batched messages",
            ));
        }
        let (properties, _) = stamp_properties(inner, props)?;
        bytes += entry.body.len() as u64;
        msgs.push(MessageToStore {
            topic: h.topic.clone(),
            queue_id,
            flag: entry.flag,
            body: entry.body,
            properties,
            sys_flag,
            born_timestamp: h.born_timestamp,
            born_host: conn.peer(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
        });
    }
    let count = msgs.len() as u64;
    let puts = inner.store.put_messages(msgs).await?;
    count_put(inner, &h.topic, count, bytes);
    let first = puts.first().map(|p| p.queue_offset).unwrap_or(0);
    let ids = puts
        .iter()
        .map(|p| p.msg_id.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let batch_uniq = Properties::parse(h.properties.as_deref().unwrap_or(""))
        .get(properties::UNIQ_KEY)
        .map(String::from);
    let header = SendMessageResponseHeader {
        msg_id: ids,
        queue_id,
        queue_offset: first,
        transaction_id: batch_uniq,
        batch_uniq_id: None,
    };
    Ok(response_ext(inner, header, req))
}

mod rand_queue {
    use std::sync::atomic::{AtomicU32, Ordering};

    static NEXT: AtomicU32 = AtomicU32::new(0);

    /// Spreads sends with queueId < 0 over the writable queues (round robin; Java picks at random).
    pub(crate) fn pick_queue(write_queue_nums: i32) -> i32 {
        let n = write_queue_nums.max(1) as u32;
        (NEXT.fetch_add(1, Ordering::Relaxed) % n) as i32
    }
}
