//! Offset requests: committed consumer offsets and queue min/max/time lookups (notes §2.3.3).

use rmq_protocol::codes::response;
use rmq_protocol::headers::{
    CommandHeader, GetEarliestMsgStoretimeRequestHeader, GetEarliestMsgStoretimeResponseHeader,
    GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader, GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader, QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader, SearchOffsetRequestHeader, SearchOffsetResponseHeader,
    UpdateConsumerOffsetRequestHeader,
};
use rmq_protocol::RemotingCommand;

use super::{ok, Refusal, Reply};
use crate::broker::BrokerInner;

fn check_queue(inner: &BrokerInner, topic: &str, queue_id: i32) -> Result<(), Refusal> {
    let Some(cfg) = inner.topics.get(topic) else {
        return Err(Refusal::new(
            response::TOPIC_NOT_EXIST,
            format!("topic[{topic}] not exist, apply first please!"),
        ));
    };
    if queue_id < 0 || queue_id >= cfg.read_queue_nums.max(cfg.write_queue_nums) {
        return Err(Refusal::new(
            response::INVALID_PARAMETER,
            format!("queueId[{queue_id}] is illegal, topic:[{topic}]"),
        ));
    }
    Ok(())
}

/// QUERY_CONSUMER_OFFSET: the committed offset; for a group that never committed, 0 while the queue still
/// starts at 0 (so a group started after the first messages still gets them), else QUERY_NOT_FOUND.
pub fn query_consumer_offset(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let h: QueryConsumerOffsetRequestHeader = req.decode_header()?;
    let offset = match inner.offsets.query(&h.consumer_group, &h.topic, h.queue_id) {
        Some(o) => o,
        None => {
            let min = inner.store.min_offset_in_queue(&h.topic, h.queue_id);
            if min <= 0 && h.set_zero_if_not_found != Some(false) {
                0
            } else {
                return Err(Refusal::new(
                    response::QUERY_NOT_FOUND,
                    "Not found, do not set to zero, maybe this group boot first",
                ));
            }
        }
    };
    Ok(ok(req).with_ext(QueryConsumerOffsetResponseHeader { offset }.to_ext()))
}

/// UPDATE_CONSUMER_OFFSET (usually oneway).
pub fn update_consumer_offset(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let h: UpdateConsumerOffsetRequestHeader = req.decode_header()?;
    if inner.groups.find_or_create(&h.consumer_group)?.is_none() {
        return Err(Refusal::new(
            response::SUBSCRIPTION_GROUP_NOT_EXIST,
            format!("subscription group [{}] does not exist", h.consumer_group),
        ));
    }
    check_queue(inner, &h.topic, h.queue_id)?;
    inner
        .offsets
        .commit(&h.consumer_group, &h.topic, h.queue_id, h.commit_offset);
    Ok(ok(req))
}

/// GET_MAX_OFFSET: next offset to be written.
pub fn get_max_offset(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let h: GetMaxOffsetRequestHeader = req.decode_header()?;
    let offset = inner.store.max_offset_in_queue(&h.topic, h.queue_id);
    Ok(ok(req).with_ext(GetMaxOffsetResponseHeader { offset }.to_ext()))
}

/// GET_MIN_OFFSET: first offset still readable.
pub fn get_min_offset(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let h: GetMinOffsetRequestHeader = req.decode_header()?;
    let offset = inner.store.min_offset_in_queue(&h.topic, h.queue_id);
    Ok(ok(req).with_ext(GetMinOffsetResponseHeader { offset }.to_ext()))
}

/// SEARCH_OFFSET_BY_TIMESTAMP (CONSUME_FROM_TIMESTAMP, resetOffsetByTime).
pub fn search_offset_by_timestamp(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let h: SearchOffsetRequestHeader = req.decode_header()?;
    let upper = h
        .boundary_type
        .as_deref()
        .is_some_and(|b| b.eq_ignore_ascii_case("UPPER"));
    let offset = inner
        .store
        .offset_by_time(&h.topic, h.queue_id, h.timestamp, upper);
    Ok(ok(req).with_ext(SearchOffsetResponseHeader { offset }.to_ext()))
}

/// GET_EARLIEST_MSG_STORETIME.
pub fn earliest_msg_store_time(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let h: GetEarliestMsgStoretimeRequestHeader = req.decode_header()?;
    match inner.store.earliest_message_time(&h.topic, h.queue_id) {
        Some(timestamp) => {
            Ok(ok(req).with_ext(GetEarliestMsgStoretimeResponseHeader { timestamp }.to_ext()))
        }
        None => Err(Refusal::new(
            response::SYSTEM_ERROR,
            format!("no message in queue {} of topic {}", h.queue_id, h.topic),
        )),
    }
}
