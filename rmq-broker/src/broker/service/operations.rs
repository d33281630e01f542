//! The admin service's operator requests around producers, topic consumers, offset cloning, broker-wide
//! consume stats, statistics windows, consume-queue inspection and cleaning, answered as Java's
//! `AdminBrokerProcessor` does (docs/admin-requests-java.md).

use std::collections::BTreeSet;

use rmq_protocol::body::{
    BrokerStatsData, ConsumeQueueData, ConsumeStats, ConsumeStatsList, GroupList, OffsetWrapper,
    ProducerConnection, QueryConsumeQueueResponseBody,
};
use rmq_protocol::message::sysflag::perm;

use super::admin::AdminService;
use super::ServiceError;
use crate::broker::filter::{is_sql92, TagFilter};
use crate::broker::stats_windows::names;
use crate::broker::topic_config::is_system_topic;

/// What QUERY_CONSUME_QUEUE asks for.
#[derive(Debug, Clone)]
pub struct ConsumeQueueQuery {
    /// Topic.
    pub topic: String,
    /// Queue id.
    pub queue_id: i32,
    /// First logical offset.
    pub index: i64,
    /// Units wanted.
    pub count: i32,
    /// Evaluate this group's subscription.
    pub group: Option<String>,
}

impl AdminService {
    /// GET_PRODUCER_CONNECTION_LIST: the live connections of a producer group, sorted.
    pub fn producer_connection(&self, group: &str) -> Result<ProducerConnection, ServiceError> {
        let channels = self.clients.producer_channels(group);
        if channels.is_empty() {
            return Err(ServiceError::System(format!(
                "the producer group[{group}] not exist"
            )));
        }
        Ok(ProducerConnection {
            connection_set: super::stats::connections(channels.iter()),
        })
    }

    /// QUERY_TOPIC_CONSUME_BY_WHO: groups online with a subscription to `topic`, and groups with committed
    /// offsets on it.
    pub fn topic_consumed_by(&self, topic: &str) -> GroupList {
        let mut groups: BTreeSet<String> = self
            .clients
            .consumer_groups()
            .into_iter()
            .filter(|g| self.clients.subscription(g, topic).is_some())
            .collect();
        groups.extend(self.offsets.groups_of_topic(topic));
        GroupList {
            group_list: groups.into_iter().collect(),
        }
    }

    /// CLONE_GROUP_OFFSET: copies `src`'s committed offsets to `dest`, for `topic` or every topic `src` has
    /// offsets on; returns the topics copied. Topics the broker does not have are skipped, and so (unless
    /// `offline`) are topics the online `src` group no longer subscribes to. Java's handler copies the
    /// request's topic for every topic of the loop (so without a topic it copies nothing); this copies each.
    pub fn clone_group_offset(
        &self,
        src: &str,
        dest: &str,
        topic: Option<&str>,
        offline: bool,
    ) -> Vec<String> {
        let topics = match topic.map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => vec![t.to_owned()],
            None => self.offsets.topics_of_group(src),
        };
        let online = self.clients.consumer_group(src);
        let mut copied = Vec::new();
        for t in topics {
            if self.topics.get(&t).is_none() {
                continue;
            }
            if !offline {
                if let Some(g) = &online {
                    if !g.subscriptions.is_empty() && !g.subscriptions.contains_key(&t) {
                        continue;
                    }
                }
            }
            for (queue_id, offset) in self.offsets.queue_offsets(src, &t) {
                self.offsets.commit(dest, &t, queue_id, offset);
            }
            copied.push(t);
        }
        tracing::info!(src, dest, topics = ?copied, "consumer offsets cloned");
        copied
    }

    /// GET_BROKER_CONSUME_STATS: every configured group's stats per topic it has offsets on (write queues,
    /// as Java), `is_order` keeping ordered topics only.
    pub fn broker_consume_stats(&self, is_order: bool) -> ConsumeStatsList {
        let mut list = ConsumeStatsList {
            broker_addr: self.config.advertised_addr().to_string(),
            ..ConsumeStatsList::default()
        };
        let mut groups: Vec<String> = self
            .groups
            .all()
            .into_iter()
            .map(|g| g.group_name)
            .collect();
        groups.sort();
        for group in groups {
            let online = self.clients.consumer_group(&group);
            let mut per_topic = Vec::new();
            let mut topics = self.offsets.topics_of_group(&group);
            topics.sort();
            for topic in topics {
                let Some(cfg) = self.topics.get(&topic) else {
                    continue;
                };
                if is_order && !cfg.order {
                    continue;
                }
                if let Some(g) = &online {
                    if !g.subscriptions.is_empty() && !g.subscriptions.contains_key(&topic) {
                        continue;
                    }
                }
                let mut stats = ConsumeStats {
                    consume_tps: self
                        .stats
                        .windows
                        .minute_tps(names::GROUP_GET_NUMS, &format!("{topic}@{group}")),
                    ..ConsumeStats::default()
                };
                for q in 0..cfg.write_queue_nums {
                    let broker_offset = self.store.max_offset_in_queue(&topic, q).max(0);
                    let consumer_offset = self.offsets.query(&group, &topic, q).unwrap_or(0).max(0);
                    let last_timestamp = if consumer_offset > 0 {
                        self.store
                            .store_time_at(&topic, q, consumer_offset - 1)
                            .unwrap_or(0)
                    } else {
                        0
                    };
                    list.total_diff += broker_offset - consumer_offset;
                    list.total_inflight_diff -= consumer_offset;
                    stats.offset_table.insert(
                        self.queue(&topic, q),
                        OffsetWrapper {
                            broker_offset,
                            consumer_offset,
                            last_timestamp,
                            pull_offset: 0,
                        },
                    );
                }
                per_topic.push(stats);
            }
            list.consume_stats_list.push((group, per_topic));
        }
        list
    }

    /// VIEW_BROKER_STATS_DATA: a statistic's minute, hour and day windows.
    pub fn stats_data(&self, name: &str, key: &str) -> Result<BrokerStatsData, ServiceError> {
        self.stats
            .windows
            .get(name, key)
            .ok_or_else(|| ServiceError::System(format!("The stats <{name}> <{key}> not exist")))
    }

    /// QUERY_CONSUME_QUEUE: raw units of one queue from `index`, with the group's filter verdict.
    pub fn query_consume_queue(
        &self,
        q: &ConsumeQueueQuery,
    ) -> Result<QueryConsumeQueueResponseBody, ServiceError> {
        let count = usize::try_from(q.count.max(0)).unwrap_or(0);
        let Some(units) = self.store.queue_units(&q.topic, q.queue_id, q.index, count) else {
            return Err(ServiceError::System(format!(
                "{}@{} is not exist!",
                q.queue_id, q.topic
            )));
        };
        let mut body = QueryConsumeQueueResponseBody {
            max_queue_index: self.store.max_offset_in_queue(&q.topic, q.queue_id),
            min_queue_index: self.store.min_offset_in_queue(&q.topic, q.queue_id),
            ..QueryConsumeQueueResponseBody::default()
        };
        let mut filter = None;
        if let Some(group) = q.group.as_deref() {
            match self.clients.subscription(group, &q.topic) {
                Some(sub) => {
                    body.filter_data = Some(format!("{} {}", sub.expression_type, sub.sub_string));
                    filter = Some((
                        is_sql92(&sub.expression_type),
                        TagFilter::from_subscription(&sub),
                    ));
                    body.subscription_data = Some(sub);
                }
                None => body.filter_data = Some(format!("{group}@{} is not online!", q.topic)),
            }
        }
        body.queue_data = units
            .into_iter()
            .filter(|u| u.queue_offset - q.index < i64::from(q.count))
            .map(|u| ConsumeQueueData {
                physic_offset: u.phys_offset,
                physic_size: u.size,
                tags_code: u.tag_code,
                // SQL92 is evaluated on the stored record at pull time, so the queue unit matches (Java
                // without a bloom-filter bit map does the same).
                eval: filter
                    .as_ref()
                    .is_some_and(|(sql, tags)| *sql || tags.accepts(u.tag_code)),
                ..ConsumeQueueData::default()
            })
            .collect();
        Ok(body)
    }

    /// CLEAN_EXPIRED_CONSUMEQUEUE: drops queues whose messages all expired; returns how many.
    pub fn clean_expired_consume_queues(&self) -> usize {
        let n = self
            .store
            .clean_expired_consume_queues(|t| is_system_topic(t) || t.starts_with("RMQ_SYS_"));
        tracing::info!(queues = n, "expired consume queues cleaned");
        n
    }

    /// CLEAN_UNUSED_TOPIC: drops the queues of topics that have no topic config; returns the topics.
    pub fn clean_unused_topics(&self) -> Vec<String> {
        let removed = self.store.clean_unused_topics(|t| {
            self.topics.get(t).is_some()
                || is_system_topic(t)
                || t.starts_with("RMQ_SYS_")
                || t.starts_with("%LMQ%")
        });
        for t in &removed {
            self.offsets.remove_topic(t);
        }
        tracing::info!(topics = ?removed, "unused topics cleaned");
        removed
    }

    /// Whether the broker takes writes now (`brokerPermission`).
    pub fn writable(&self) -> bool {
        perm::is_writeable(self.live.broker_permission())
    }
}
