//! The admin service's read-outs of queues and groups (GET_TOPIC_STATS_INFO, GET_CONSUMER_CONNECTION_LIST,
//! GET_CONSUME_STATS), answered as Java's `AdminBrokerProcessor` does, in the protocol's body types.

use rmq_protocol::body::{
    Connection, ConsumeStats, ConsumerConnection, MessageQueue, OffsetWrapper, TopicOffset,
    TopicStatsTable,
};

use super::admin::AdminService;
use super::ServiceError;

impl AdminService {
    /// Queue `queue_id` of `topic` on this broker.
    pub fn queue(&self, topic: &str, queue_id: i32) -> MessageQueue {
        MessageQueue {
            topic: topic.to_owned(),
            broker_name: self.config.broker_name.clone(),
            queue_id,
        }
    }

    /// Min and max offset and the last store time of every queue of `topic` (`max(readQueueNums,
    /// writeQueueNums)` queues, as Java 5.x), so a tool can show what each queue holds.
    pub fn topic_stats(&self, topic: &str) -> Result<TopicStatsTable, ServiceError> {
        let cfg = self
            .topics
            .get(topic)
            .ok_or_else(|| ServiceError::UnknownTopic {
                topic: topic.to_owned(),
            })?;
        let mut table = TopicStatsTable::default();
        for q in 0..cfg.read_queue_nums.max(cfg.write_queue_nums) {
            let min_offset = self.store.min_offset_in_queue(topic, q).max(0);
            let max_offset = self.store.max_offset_in_queue(topic, q).max(0);
            let last_update_timestamp = if max_offset > 0 {
                self.store
                    .store_time_at(topic, q, max_offset - 1)
                    .unwrap_or(0)
            } else {
                0
            };
            table.offset_table.insert(
                self.queue(topic, q),
                TopicOffset {
                    last_update_timestamp,
                    max_offset,
                    min_offset,
                },
            );
        }
        Ok(table)
    }

    /// Who is online in a consumer group, from heartbeats, sorted by client id and address.
    pub fn consumer_connection(&self, group: &str) -> Result<ConsumerConnection, ServiceError> {
        let info =
            self.clients
                .consumer_group(group)
                .ok_or_else(|| ServiceError::ConsumerNotOnline {
                    group: group.to_owned(),
                })?;
        Ok(ConsumerConnection {
            connection_set: connections(info.channels.values()),
            subscription_table: info.subscriptions,
            consume_type: info.consume_type,
            message_model: info.message_model,
            consume_from_where: info.consume_from_where,
        })
    }

    /// Per-queue broker offset, committed offset and last consumed store time of a group, for lag
    /// monitoring. Without a topic, every topic the group committed offsets on; topics the broker does not
    /// have, and topics an online group does not subscribe to, are left out (Java's rules). An unknown group
    /// gets an empty table, not an error, as in Java.
    ///
    /// `consumeTps` is the group's pull rate over the last minute summed over the topics listed
    /// (`GROUP_GET_NUMS` of `topic@group`, as Java). Pull positions are not tracked: `pullOffset` equals
    /// `consumerOffset`.
    pub fn consume_stats(&self, group: &str, topic: Option<&str>) -> ConsumeStats {
        let topics = match topic.map(str::trim) {
            Some(t) if !t.is_empty() => vec![t.to_owned()],
            _ => self.offsets.topics_of_group(group),
        };
        let online = self.clients.consumer_group(group);
        let mut stats = ConsumeStats::default();
        for topic in topics {
            let Some(cfg) = self.topics.get(&topic) else {
                continue;
            };
            if let Some(g) = &online {
                if !g.subscriptions.is_empty() && !g.subscriptions.contains_key(&topic) {
                    continue;
                }
            }
            stats.consume_tps += self.stats.windows.minute_tps(
                crate::broker::stats_windows::names::GROUP_GET_NUMS,
                &format!("{topic}@{group}"),
            );
            for q in 0..cfg.read_queue_nums {
                let broker_offset = self.store.max_offset_in_queue(&topic, q).max(0);
                let consumer_offset = self.offsets.query(group, &topic, q).unwrap_or(0).max(0);
                let last_timestamp = if consumer_offset > 0 {
                    self.store
                        .store_time_at(&topic, q, consumer_offset - 1)
                        .unwrap_or(0)
                } else {
                    0
                };
                stats.offset_table.insert(
                    self.queue(&topic, q),
                    OffsetWrapper {
                        broker_offset,
                        consumer_offset,
                        last_timestamp,
                        pull_offset: consumer_offset,
                    },
                );
            }
        }
        stats
    }
}

/// The admin view of client channels (consumer and producer connection lists), sorted by client id and address.
pub(super) fn connections<'a>(
    channels: impl Iterator<Item = &'a crate::broker::client_manager::ClientChannel>,
) -> Vec<Connection> {
    let mut list: Vec<Connection> = channels
        .map(|ch| Connection {
            client_id: ch.client_id.clone(),
            client_addr: ch.connection.peer().to_string(),
            language: ch.language.name().to_owned(),
            version: ch.version,
        })
        .collect();
    list.sort_by(|a, b| (&a.client_id, &a.client_addr).cmp(&(&b.client_id, &b.client_addr)));
    list
}
