//! Admin read-outs: GET_TOPIC_STATS_INFO (202), GET_CONSUMER_CONNECTION_LIST (203) and GET_CONSUME_STATS
//! (208): the codecs of the admin service's stats. Queue-keyed bodies are written in Java's form
//! (`rmq_protocol::body::admin`).

use rmq_protocol::body;
use rmq_protocol::headers::{
    GetConsumeStatsRequestHeader, GetConsumerConnectionListRequestHeader,
    GetTopicStatsInfoRequestHeader,
};
use rmq_protocol::RemotingCommand;

use super::refusal::{ok, Reply};
use crate::broker::service::admin::AdminService;

/// GET_TOPIC_STATS_INFO: what each queue of a topic holds.
pub fn topic_stats(admin: &AdminService, req: &RemotingCommand) -> Reply {
    let h: GetTopicStatsInfoRequestHeader = req.decode_header()?;
    Ok(ok(req).with_body(admin.topic_stats(&h.topic)?.to_json()))
}

/// GET_CONSUMER_CONNECTION_LIST: who is online in a consumer group; CONSUMER_NOT_ONLINE when nobody is.
pub fn consumer_connections(admin: &AdminService, req: &RemotingCommand) -> Reply {
    let h: GetConsumerConnectionListRequestHeader = req.decode_header()?;
    let body = admin.consumer_connection(&h.consumer_group)?;
    Ok(ok(req).with_body(body::to_json(&body)))
}

/// GET_CONSUME_STATS: per-queue offsets of a group, for lag monitoring.
pub fn consume_stats(admin: &AdminService, req: &RemotingCommand) -> Reply {
    let h: GetConsumeStatsRequestHeader = req.decode_header()?;
    let stats = admin.consume_stats(&h.consumer_group, h.topic.as_deref());
    Ok(ok(req).with_body(stats.to_json()))
}
