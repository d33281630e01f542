//! QUERY_MESSAGE (by key or unique key within a time range) and VIEW_MESSAGE_BY_ID (by commit-log offset):
//! the codec of the admin service's message lookups.

use rmq_protocol::headers::{
    CommandHeader, QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader,
};
use rmq_protocol::lenient::java_parse_boolean;
use rmq_protocol::RemotingCommand;

use super::refusal::{ok, Reply};
use crate::broker::service::admin::{AdminService, MessageQuery};

/// Ext flag a client sets when the key is a UNIQ_KEY (message id) rather than a business key.
const UNIQUE_KEY_QUERY: &str = "_UNIQUE_KEY_QUERY";

/// Finds messages whose KEYS (or UNIQ_KEY) contain `key`, stored between the two timestamps.
pub fn query_message(admin: &AdminService, req: &RemotingCommand) -> Reply {
    let h: QueryMessageRequestHeader = req.decode_header()?;
    let query = MessageQuery {
        unique: req
            .ext_fields
            .get(UNIQUE_KEY_QUERY)
            .is_some_and(|v| java_parse_boolean(v)),
        max: h.max_num.max(1) as usize,
        begin: h.begin_timestamp,
        end: h.end_timestamp,
        topic: h.topic,
        key: h.key,
    };
    let result = admin.query_messages(&query)?;
    let header = QueryMessageResponseHeader {
        index_last_update_timestamp: result.index_last_update_timestamp,
        index_last_update_phyoffset: result.index_last_update_phy_offset,
    };
    Ok(ok(req)
        .with_ext(header.to_ext())
        .with_body(super::refusal::concat_records(&result.messages)))
}

/// Returns the record starting at a commit-log offset (from an offset message id).
pub fn view_message_by_id(admin: &AdminService, req: &RemotingCommand) -> Reply {
    let h: ViewMessageRequestHeader = req.decode_header()?;
    Ok(ok(req).with_body(admin.message_at(h.offset)?))
}
