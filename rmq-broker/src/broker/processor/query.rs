//! QUERY_MESSAGE (by key or unique key within a time range) and VIEW_MESSAGE_BY_ID (by commit-log offset).

use rmq_protocol::codes::response;
use rmq_protocol::headers::{
    CommandHeader, QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader,
};
use rmq_protocol::RemotingCommand;

use super::refusal::{ok, Refusal, Reply};
use crate::broker::service::admin::AdminService;

/// Ext flag a client sets when the key is a UNIQ_KEY (message id) rather than a business key.
const UNIQUE_KEY_QUERY: &str = "_UNIQUE_KEY_QUERY";

/// Finds messages whose KEYS (or UNIQ_KEY) contain `key`, stored between the two timestamps.
pub fn query_message(inner: &AdminService, req: &RemotingCommand) -> Reply {
    let h: QueryMessageRequestHeader = req.decode_header()?;
    let unique = req
        .ext_fields
        .get(UNIQUE_KEY_QUERY)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    // A unique key names one message; more hits are retries of the same send.
    let max = if unique { 1 } else { h.max_num.max(1) as usize };
    let result =
        inner
            .store
            .query_messages(&h.topic, &h.key, max, h.begin_timestamp, h.end_timestamp);
    if result.messages.is_empty() {
        return Err(Refusal::new(
            response::QUERY_NOT_FOUND,
            format!(
                "can not find message, maybe time range not correct (topic {}, key {})",
                h.topic, h.key
            ),
        ));
    }
    let header = QueryMessageResponseHeader {
        index_last_update_timestamp: result.index_last_update_timestamp,
        index_last_update_phyoffset: result.index_last_update_phy_offset,
    };
    Ok(ok(req)
        .with_ext(header.to_ext())
        .with_body(super::refusal::concat_records(&result.messages)))
}

/// Returns the record starting at a commit-log offset (from an offset message id).
pub fn view_message_by_id(inner: &AdminService, req: &RemotingCommand) -> Reply {
    let h: ViewMessageRequestHeader = req.decode_header()?;
    match inner.store.message_at(h.offset) {
        Some(record) => Ok(ok(req).with_body(record)),
        None => Err(Refusal::new(
            response::SYSTEM_ERROR,
            format!("can not find message by the offset, {}", h.offset),
        )),
    }
}
