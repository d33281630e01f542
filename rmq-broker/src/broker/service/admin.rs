//! The admin service: what operator tools read and change (topic and group tables, runtime info, broker
//! config, stats, rebalance locks, message queries, offset resets).
//!
//! Topic and group administration, broker introspection, rebalance locks and message queries are typed methods
//! here; queue and group read-outs are in [`stats`](super::stats), the offset reset in
//! [`offset_reset`](super::offset_reset).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use rmq_protocol::body::{DataVersion, MessageQueue, TopicConfig, TopicConfigSerializeWrapper};

use super::ServiceError;
use crate::broker::subscription_group::SubscriptionGroupConfig;
use crate::broker::topic_config::{self, TBW102};
use rmq_protocol::clock::system_now_ms;

use crate::broker::client_manager::ClientManager;
use crate::broker::consumer_offset::ConsumerOffsetManager;
use crate::broker::counters::BrokerStats;
use crate::broker::live_config::LiveConfig;
use crate::broker::rebalance_lock::RebalanceLockManager;
use crate::broker::subscription_group::SubscriptionGroupManager;
use crate::broker::topic_config::TopicConfigManager;
use crate::config::BrokerConfig;
use crate::store::{MessageStore, QueryMessageResult};

/// A QUERY_MESSAGE: messages of a topic by key (or by unique key, which names one message).
#[derive(Debug, Clone)]
pub struct MessageQuery {
    /// The topic.
    pub topic: String,
    /// The business key, or the UNIQ_KEY when `unique`.
    pub key: String,
    /// Most messages to return.
    pub max: usize,
    /// `key` is a UNIQ_KEY (Java's `_UNIQUE_KEY_QUERY`): at most one hit, later ones are retries of it.
    pub unique: bool,
    /// Stored at or after, epoch ms.
    pub begin: i64,
    /// Stored at or before, epoch ms.
    pub end: i64,
}

/// The collaborators of the admin requests.
#[derive(Debug)]
pub struct AdminService {
    /// The effective configuration (GET_BROKER_CONFIG, runtime info).
    pub(crate) config: Arc<BrokerConfig>,
    /// Topic table.
    pub(crate) topics: Arc<TopicConfigManager>,
    /// Consumer-group table.
    pub(crate) groups: Arc<SubscriptionGroupManager>,
    /// Committed offsets.
    pub(crate) offsets: Arc<ConsumerOffsetManager>,
    /// The store.
    pub(crate) store: Arc<MessageStore>,
    /// Runtime counters.
    pub(crate) stats: Arc<BrokerStats>,
    /// Connected clients.
    pub(crate) clients: Arc<ClientManager>,
    /// Settings changeable at run time.
    pub(crate) live: Arc<LiveConfig>,
    /// Ordered-consumption queue locks.
    pub(crate) locks: RebalanceLockManager,
    /// Start time, epoch ms.
    pub(crate) boot_timestamp: i64,
}

/// The collaborators an [`AdminService`] is built from.
#[derive(Debug)]
pub struct AdminDeps {
    /// The effective configuration.
    pub config: Arc<BrokerConfig>,
    /// Topic table.
    pub topics: Arc<TopicConfigManager>,
    /// Consumer-group table.
    pub groups: Arc<SubscriptionGroupManager>,
    /// Committed offsets.
    pub offsets: Arc<ConsumerOffsetManager>,
    /// The store.
    pub store: Arc<MessageStore>,
    /// Runtime counters.
    pub stats: Arc<BrokerStats>,
    /// Connected clients.
    pub clients: Arc<ClientManager>,
    /// Settings changeable at run time.
    pub live: Arc<LiveConfig>,
    /// Start time, epoch ms.
    pub boot_timestamp: i64,
}

impl AdminService {
    /// An admin service over its collaborators (it owns the rebalance locks).
    pub fn new(deps: AdminDeps) -> Self {
        AdminService {
            locks: RebalanceLockManager::new(std::time::Duration::from_millis(
                deps.config.rebalance_lock_max_live_time,
            )),
            config: deps.config,
            topics: deps.topics,
            groups: deps.groups,
            offsets: deps.offsets,
            store: deps.store,
            stats: deps.stats,
            clients: deps.clients,
            live: deps.live,
            boot_timestamp: deps.boot_timestamp,
        }
    }
}

impl AdminService {
    /// Creates or replaces a topic (UPDATE_AND_CREATE_TOPIC) with the attributes in `attributes`
    /// (`+key=value,...`, replacing `cfg.attributes`); a change re-registers with the name servers.
    ///
    /// # Errors
    /// A bad or system topic name, queue counts outside 1..=1024, malformed attributes, or a table that cannot
    /// be saved.
    pub fn create_topic(&self, mut cfg: TopicConfig, attributes: &str) -> Result<(), ServiceError> {
        topic_config::validate_topic(&cfg.topic_name).map_err(ServiceError::InvalidParameter)?;
        if cfg.topic_name == TBW102 || topic_config::is_system_topic(&cfg.topic_name) {
            return Err(ServiceError::InvalidParameter(format!(
                "The topic[{}] is conflict with system topic.",
                cfg.topic_name
            )));
        }
        let (r, w) = (cfg.read_queue_nums, cfg.write_queue_nums);
        if r <= 0 || w <= 0 || r > 1024 || w > 1024 {
            return Err(ServiceError::InvalidParameter(format!(
                "readQueueNums {r} and writeQueueNums {w} must be between 1 and 1024"
            )));
        }
        cfg.attributes = parse_attributes(attributes)?;
        self.topics.upsert(cfg)?;
        Ok(())
    }

    /// Forgets a topic, its committed offsets and its consume queues (DELETE_TOPIC_IN_BROKER).
    ///
    /// # Errors
    /// A system topic, or a table that cannot be saved.
    pub fn delete_topic(&self, topic: &str) -> Result<(), ServiceError> {
        if topic_config::is_system_topic(topic) {
            return Err(ServiceError::InvalidParameter(format!(
                "The topic[{topic}] is conflict with system topic."
            )));
        }
        self.topics.delete(topic)?;
        self.offsets.remove_topic(topic);
        self.store.delete_topic(topic);
        Ok(())
    }

    /// The whole topic table with its version.
    pub fn topics(&self) -> TopicConfigSerializeWrapper {
        self.topics.wrapper()
    }

    /// One topic's config.
    ///
    /// # Errors
    /// [`ServiceError::NoSuchTopic`] when the broker has no such topic.
    pub fn topic(&self, topic: &str) -> Result<TopicConfig, ServiceError> {
        self.topics.get(topic).ok_or_else(|| {
            ServiceError::NoSuchTopic(format!("No topic in this broker. topic: {topic}"))
        })
    }

    /// The version of the topic table (also reported with the group table and the broker config).
    pub fn data_version(&self) -> DataVersion {
        self.topics.data_version()
    }

    /// Counters and store figures for GET_BROKER_RUNTIME_INFO, under Java's key names where they exist.
    pub fn runtime_info(&self) -> HashMap<String, String> {
        let stats = self.store.stats();
        let (producers, consumers) = self.clients.counts();
        let mut table = HashMap::new();
        let mut put = |k: &str, v: String| {
            table.insert(k.to_string(), v);
        };
        put(
            "brokerVersionDesc",
            format!("rmq {}", env!("CARGO_PKG_VERSION")),
        );
        put(
            "brokerVersion",
            rmq_protocol::command::CURRENT_VERSION.to_string(),
        );
        put("bootTimestamp", self.boot_timestamp.to_string());
        put(
            "runtime",
            format!("{} ms", system_now_ms() - self.boot_timestamp),
        );
        let mornings = self.stats.mornings(system_now_ms());
        put(
            "msgPutTotalYesterdayMorning",
            mornings.put_yesterday.to_string(),
        );
        put("msgPutTotalTodayMorning", mornings.put_today.to_string());
        put(
            "msgGetTotalYesterdayMorning",
            mornings.got_yesterday.to_string(),
        );
        put("msgGetTotalTodayMorning", mornings.got_today.to_string());
        {
            use crate::broker::stats_windows::names;
            let key = &self.stats.broker_key;
            let rates = |name: &str| {
                self.stats.windows.get(name, key).map_or_else(
                    || "0.00 0.00 0.00".to_owned(),
                    |d| {
                        format!(
                            "{:.2} {:.2} {:.2}",
                            d.stats_minute.tps, d.stats_minute.tps, d.stats_hour.tps
                        )
                    },
                )
            };
            // Java: 10 s, 1 min and 10 min rates; the windows here give the minute twice, then the hour.
            put("putTps", rates(names::BROKER_PUT_NUMS));
            let get = rates(names::BROKER_GET_NUMS);
            // 5.x spells it `getTransferredTps`, 4.9.x `getTransferedTps`; each clusterList reads its own.
            put("getTransferredTps", get.clone());
            put("getTransferedTps", get);
        }
        put(
            "msgPutTotalTodayNow",
            self.stats.put_messages.load(Ordering::Relaxed).to_string(),
        );
        put(
            "msgGetTotalTodayNow",
            self.stats.got_messages.load(Ordering::Relaxed).to_string(),
        );
        put(
            "putBytesTotal",
            self.stats.put_bytes.load(Ordering::Relaxed).to_string(),
        );
        put(
            "commitLogMinOffset",
            stats.commit_log_min_offset.to_string(),
        );
        put(
            "commitLogMaxOffset",
            stats.commit_log_max_offset.to_string(),
        );
        put("commitLogFlushedOffset", stats.flushed_offset.to_string());
        put(
            "commitLogDiskRatio",
            format!("{:.4}", stats.disk_used_ratio),
        );
        put("producerConnections", producers.to_string());
        put("consumerConnections", consumers.to_string());
        put(
            "flushDiskType",
            format!("{:?}", self.config.flush_disk_type),
        );
        put("brokerName", self.config.broker_name.clone());
        put("clusterName", self.config.broker_cluster_name.clone());
        table
    }

    /// The effective configuration as key/value pairs (GET_BROKER_CONFIG).
    pub fn config_properties(&self) -> Vec<(String, String)> {
        let mut config = (*self.config).clone();
        config.broker_permission = self.live.broker_permission();
        config.to_properties()
    }

    /// Creates or replaces a consumer group (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP).
    ///
    /// # Errors
    /// A group name outside 1..=120 characters, or a table that cannot be saved.
    pub fn upsert_group(&self, cfg: SubscriptionGroupConfig) -> Result<(), ServiceError> {
        if cfg.group_name.is_empty() || cfg.group_name.len() > 120 {
            return Err(ServiceError::InvalidParameter(
                "groupName must be 1 to 120 characters".to_owned(),
            ));
        }
        self.groups.upsert(cfg)?;
        Ok(())
    }

    /// Every consumer group.
    pub fn groups(&self) -> Vec<SubscriptionGroupConfig> {
        self.groups.all()
    }

    /// Deletes a consumer group, and its committed offsets when `clean_offsets`.
    ///
    /// # Errors
    /// A table that cannot be saved.
    pub fn delete_group(&self, group: &str, clean_offsets: bool) -> Result<(), ServiceError> {
        self.groups.delete(group)?;
        if clean_offsets {
            self.offsets.remove_group(group);
        }
        Ok(())
    }
}

/// Parses `+key=value,+k2=v2` (a leading `-key` deletes, which on create means "absent").
fn parse_attributes(text: &str) -> Result<HashMap<String, String>, ServiceError> {
    let mut out = HashMap::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if let Some(kv) = item.strip_prefix('+') {
            match kv.split_once('=') {
                Some((k, v)) if !k.is_empty() => {
                    if k == crate::broker::message_type::ATTRIBUTE {
                        crate::broker::message_type::check_attribute_value(v)
                            .map_err(ServiceError::InvalidParameter)?;
                    }
                    out.insert(k.to_string(), v.to_string());
                }
                _ => {
                    return Err(ServiceError::InvalidParameter(format!(
                        "attribute `{item}` must look like +key=value"
                    )))
                }
            }
        } else if !item.starts_with('-') {
            return Err(ServiceError::InvalidParameter(format!(
                "attribute `{item}` must start with + or -"
            )));
        }
    }
    Ok(out)
}

/// Rebalance locks and message lookups (LOCK/UNLOCK_BATCH_MQ, QUERY_MESSAGE, VIEW_MESSAGE_BY_ID).
impl AdminService {
    /// Locks for `client` the queues of `group` it may own (free, expired or already its own); returns the
    /// ones it holds afterwards.
    pub fn lock_queues(
        &self,
        group: &str,
        queues: &[MessageQueue],
        client: &str,
    ) -> Vec<MessageQueue> {
        self.locks.try_lock_batch(group, queues, client)
    }

    /// Releases `client`'s locks on the listed queues of `group` (others' locks stay).
    pub fn unlock_queues(&self, group: &str, queues: &[MessageQueue], client: &str) {
        self.locks.unlock_batch(group, queues, client);
    }

    /// Messages matching `q`, newest first; [`ServiceError::NotFound`] when there is none.
    pub fn query_messages(&self, q: &MessageQuery) -> Result<QueryMessageResult, ServiceError> {
        let max = if q.unique { 1 } else { q.max.max(1) };
        let result = self
            .store
            .query_messages(&q.topic, &q.key, max, q.begin, q.end);
        if result.messages.is_empty() {
            return Err(ServiceError::NotFound(format!(
                "can not find message, maybe time range not correct (topic {}, key {})",
                q.topic, q.key
            )));
        }
        Ok(result)
    }

    /// The stored record starting at CommitLog offset `offset` (an offset message id).
    pub fn message_at(&self, offset: i64) -> Result<Bytes, ServiceError> {
        self.store.message_at(offset).ok_or_else(|| {
            ServiceError::System(format!("can not find message by the offset, {offset}"))
        })
    }
}
