//! Admin read-outs: GET_TOPIC_STATS_INFO (202), GET_CONSUMER_CONNECTION_LIST (203) and GET_CONSUME_STATS
//! (208), as Java's `AdminBrokerProcessor` answers them. Queue-keyed bodies are written in Java's form
//! (`rmq_protocol::body::admin`).

use rmq_protocol::body::{
    self, Connection, ConsumeStats, ConsumerConnection, MessageQueue, OffsetWrapper, TopicOffset,
    TopicStatsTable,
};
use rmq_protocol::codes::response;
use rmq_protocol::headers::{
    GetConsumeStatsRequestHeader, GetConsumerConnectionListRequestHeader,
    GetTopicStatsInfoRequestHeader,
};
use rmq_protocol::RemotingCommand;

use super::refusal::{ok, Refusal, Reply};
use crate::broker::service::admin::AdminService;

/// A queue of this broker.
pub(crate) fn queue(inner: &AdminService, topic: &str, queue_id: i32) -> MessageQueue {
    MessageQueue {
        topic: topic.to_owned(),
        broker_name: inner.config.broker_name.clone(),
        queue_id,
    }
}

/// GET_TOPIC_STATS_INFO: min and max offset and the last store time of every queue of the topic
/// (`max(readQueueNums, writeQueueNums)` queues, as Java 5.x), so a tool can show what each queue holds.
pub fn topic_stats(inner: &AdminService, req: &RemotingCommand) -> Reply {
    let h: GetTopicStatsInfoRequestHeader = req.decode_header()?;
    let cfg = inner.topics.get(&h.topic).ok_or_else(|| {
        Refusal::new(
            response::TOPIC_NOT_EXIST,
            format!("topic[{}] not exist", h.topic),
        )
    })?;
    let mut table = TopicStatsTable::default();
    for q in 0..cfg.read_queue_nums.max(cfg.write_queue_nums) {
        let min_offset = inner.store.min_offset_in_queue(&h.topic, q).max(0);
        let max_offset = inner.store.max_offset_in_queue(&h.topic, q).max(0);
        let last_update_timestamp = if max_offset > 0 {
            inner
                .store
                .store_time_at(&h.topic, q, max_offset - 1)
                .unwrap_or(0)
        } else {
            0
        };
        table.offset_table.insert(
            queue(inner, &h.topic, q),
            TopicOffset {
                last_update_timestamp,
                max_offset,
                min_offset,
            },
        );
    }
    Ok(ok(req).with_body(table.to_json()))
}

/// GET_CONSUMER_CONNECTION_LIST: who is online in a consumer group, from heartbeats; CONSUMER_NOT_ONLINE when
/// nobody is.
pub fn consumer_connections(inner: &AdminService, req: &RemotingCommand) -> Reply {
    let h: GetConsumerConnectionListRequestHeader = req.decode_header()?;
    let Some(info) = inner.clients.consumer_group(&h.consumer_group) else {
        return Err(Refusal::new(
            response::CONSUMER_NOT_ONLINE,
            format!("the consumer group[{}] not online", h.consumer_group),
        ));
    };
    let mut connection_set: Vec<Connection> = info
        .channels
        .values()
        .map(|ch| Connection {
            client_id: ch.client_id.clone(),
            client_addr: ch.connection.peer().to_string(),
            language: ch.language.name().to_owned(),
            version: ch.version,
        })
        .collect();
    connection_set
        .sort_by(|a, b| (&a.client_id, &a.client_addr).cmp(&(&b.client_id, &b.client_addr)));
    let body = ConsumerConnection {
        connection_set,
        subscription_table: info.subscriptions,
        consume_type: info.consume_type,
        message_model: info.message_model,
        consume_from_where: info.consume_from_where,
    };
    Ok(ok(req).with_body(body::to_json(&body)))
}

/// GET_CONSUME_STATS: per-queue broker offset, committed offset and last consumed store time of a group, for
/// lag monitoring. Without a topic, every topic the group committed offsets on; topics the broker does not
/// have, and topics an online group does not subscribe to, are left out (Java's rules). An unknown group gets
/// an empty table, not an error, as in Java.
///
/// This broker does not track pull positions or rates: `pullOffset` equals `consumerOffset` and `consumeTps`
/// is 0.0.
pub fn consume_stats(inner: &AdminService, req: &RemotingCommand) -> Reply {
    let h: GetConsumeStatsRequestHeader = req.decode_header()?;
    let group = h.consumer_group.as_str();
    let topics = match h.topic.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => vec![t.to_owned()],
        _ => inner.offsets.topics_of_group(group),
    };
    let online = inner.clients.consumer_group(group);
    let mut stats = ConsumeStats::default();
    for topic in topics {
        let Some(cfg) = inner.topics.get(&topic) else {
            continue;
        };
        if let Some(g) = &online {
            if !g.subscriptions.is_empty() && !g.subscriptions.contains_key(&topic) {
                continue;
            }
        }
        for q in 0..cfg.read_queue_nums {
            let broker_offset = inner.store.max_offset_in_queue(&topic, q).max(0);
            let consumer_offset = inner.offsets.query(group, &topic, q).unwrap_or(0).max(0);
            let last_timestamp = if consumer_offset > 0 {
                inner
                    .store
                    .store_time_at(&topic, q, consumer_offset - 1)
                    .unwrap_or(0)
            } else {
                0
            };
            stats.offset_table.insert(
                queue(inner, &topic, q),
                OffsetWrapper {
                    broker_offset,
                    consumer_offset,
                    last_timestamp,
                    pull_offset: consumer_offset,
                },
            );
        }
    }
    Ok(ok(req).with_body(stats.to_json()))
}
