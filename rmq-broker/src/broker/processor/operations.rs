//! Codecs of the admin service's operator requests: GET_PRODUCER_CONNECTION_LIST (204),
//! QUERY_TOPIC_CONSUME_BY_WHO (300), CLEAN_EXPIRED_CONSUMEQUEUE (306), CLONE_GROUP_OFFSET (314),
//! VIEW_BROKER_STATS_DATA (315), CLEAN_UNUSED_TOPIC (316), GET_BROKER_CONSUME_STATS (317) and
//! QUERY_CONSUME_QUEUE (321).

use rmq_protocol::body;
use rmq_protocol::codes::response;
use rmq_protocol::headers::{
    CloneGroupOffsetRequestHeader, GetConsumeStatsInBrokerHeader,
    GetProducerConnectionListRequestHeader, QueryConsumeQueueRequestHeader,
    QueryTopicConsumeByWhoRequestHeader, ViewBrokerStatsDataRequestHeader,
};
use rmq_protocol::RemotingCommand;

use super::refusal::{ok, Refusal, Reply};
use crate::broker::service::admin::AdminService;
use crate::broker::service::operations::ConsumeQueueQuery;

/// GET_PRODUCER_CONNECTION_LIST: the connections of a producer group.
pub fn producer_connections(admin: &AdminService, req: &RemotingCommand) -> Reply {
    let h: GetProducerConnectionListRequestHeader = req.decode_header()?;
    let body = admin.producer_connection(&h.producer_group)?;
    Ok(ok(req).with_body(body::to_json(&body)))
}

/// QUERY_TOPIC_CONSUME_BY_WHO: the groups consuming a topic.
pub fn topic_consumed_by(admin: &AdminService, req: &RemotingCommand) -> Reply {
    let h: QueryTopicConsumeByWhoRequestHeader = req.decode_header()?;
    Ok(ok(req).with_body(body::to_json(&admin.topic_consumed_by(&h.topic))))
}

/// CLONE_GROUP_OFFSET: copies offsets; always SUCCESS without a body, as Java.
pub fn clone_group_offset(admin: &AdminService, req: &RemotingCommand) -> Reply {
    let h: CloneGroupOffsetRequestHeader = req.decode_header()?;
    admin.clone_group_offset(&h.src_group, &h.dest_group, h.topic.as_deref(), h.offline);
    Ok(ok(req))
}

/// GET_BROKER_CONSUME_STATS: every group's stats on this broker.
pub fn broker_consume_stats(admin: &AdminService, req: &RemotingCommand) -> Reply {
    let h: GetConsumeStatsInBrokerHeader = req.decode_header()?;
    Ok(ok(req).with_body(admin.broker_consume_stats(h.is_order).to_json()))
}

/// VIEW_BROKER_STATS_DATA: a statistic's windows.
pub fn stats_data(admin: &AdminService, req: &RemotingCommand) -> Reply {
    let h: ViewBrokerStatsDataRequestHeader = req.decode_header()?;
    let data = admin.stats_data(&h.stats_name, &h.stats_key)?;
    Ok(ok(req).with_body(body::to_json(&data)))
}

/// QUERY_CONSUME_QUEUE: raw consume-queue units.
pub fn query_consume_queue(admin: &AdminService, req: &RemotingCommand) -> Reply {
    let h: QueryConsumeQueueRequestHeader = req.decode_header()?;
    let Some(topic) = h.topic.filter(|t| !t.is_empty()) else {
        return Err(Refusal::new(
            response::SYSTEM_ERROR,
            "the custom field <topic> is null",
        ));
    };
    let body = admin.query_consume_queue(&ConsumeQueueQuery {
        topic,
        queue_id: h.queue_id,
        index: h.index,
        count: h.count,
        group: h.consumer_group,
    })?;
    Ok(ok(req).with_body(body::to_json(&body)))
}

/// CLEAN_EXPIRED_CONSUMEQUEUE: always SUCCESS, as Java.
pub fn clean_expired_consume_queue(admin: &AdminService, req: &RemotingCommand) -> Reply {
    admin.clean_expired_consume_queues();
    Ok(ok(req))
}

/// CLEAN_UNUSED_TOPIC: always SUCCESS, as Java.
pub fn clean_unused_topic(admin: &AdminService, req: &RemotingCommand) -> Reply {
    admin.clean_unused_topics();
    Ok(ok(req))
}
