//! Offset requests: committed consumer offsets and queue min/max/time lookups (docs/protocol.md §2.3.3).

use rmq_protocol::headers::{
    CommandHeader, GetEarliestMsgStoretimeRequestHeader, GetEarliestMsgStoretimeResponseHeader,
    GetMaxOffsetRequestHeader, GetMaxOffsetResponseHeader, GetMinOffsetRequestHeader,
    GetMinOffsetResponseHeader, QueryConsumerOffsetRequestHeader,
    QueryConsumerOffsetResponseHeader, SearchOffsetRequestHeader, SearchOffsetResponseHeader,
    UpdateConsumerOffsetRequestHeader,
};
use rmq_protocol::RemotingCommand;

use super::refusal::{ok, Reply};
use crate::broker::service::offset::OffsetService;

/// QUERY_CONSUMER_OFFSET.
pub fn query_consumer_offset(svc: &OffsetService, req: &RemotingCommand) -> Reply {
    let h: QueryConsumerOffsetRequestHeader = req.decode_header()?;
    let offset = svc.query(
        &h.consumer_group,
        &h.topic,
        h.queue_id,
        h.set_zero_if_not_found,
    )?;
    Ok(ok(req).with_ext(QueryConsumerOffsetResponseHeader { offset }.to_ext()))
}

/// UPDATE_CONSUMER_OFFSET.
pub fn update_consumer_offset(svc: &OffsetService, req: &RemotingCommand) -> Reply {
    let h: UpdateConsumerOffsetRequestHeader = req.decode_header()?;
    svc.update(&h.consumer_group, &h.topic, h.queue_id, h.commit_offset)?;
    Ok(ok(req))
}

/// GET_MAX_OFFSET.
pub fn get_max_offset(svc: &OffsetService, req: &RemotingCommand) -> Reply {
    let h: GetMaxOffsetRequestHeader = req.decode_header()?;
    let offset = svc.max_offset(&h.topic, h.queue_id);
    Ok(ok(req).with_ext(GetMaxOffsetResponseHeader { offset }.to_ext()))
}

/// GET_MIN_OFFSET.
pub fn get_min_offset(svc: &OffsetService, req: &RemotingCommand) -> Reply {
    let h: GetMinOffsetRequestHeader = req.decode_header()?;
    let offset = svc.min_offset(&h.topic, h.queue_id);
    Ok(ok(req).with_ext(GetMinOffsetResponseHeader { offset }.to_ext()))
}

/// SEARCH_OFFSET_BY_TIMESTAMP (`boundaryType=UPPER` for the last message at or before the time).
pub fn search_offset_by_timestamp(svc: &OffsetService, req: &RemotingCommand) -> Reply {
    let h: SearchOffsetRequestHeader = req.decode_header()?;
    let upper = h
        .boundary_type
        .as_deref()
        .is_some_and(|b| b.eq_ignore_ascii_case("UPPER"));
    let offset = svc.offset_by_time(&h.topic, h.queue_id, h.timestamp, upper);
    Ok(ok(req).with_ext(SearchOffsetResponseHeader { offset }.to_ext()))
}

/// GET_EARLIEST_MSG_STORETIME.
pub fn earliest_msg_store_time(svc: &OffsetService, req: &RemotingCommand) -> Reply {
    let h: GetEarliestMsgStoretimeRequestHeader = req.decode_header()?;
    let timestamp = svc.earliest_store_time(&h.topic, h.queue_id)?;
    Ok(ok(req).with_ext(GetEarliestMsgStoretimeResponseHeader { timestamp }.to_ext()))
}
