//! Consumer-group settings (Java `SubscriptionGroupConfig`), shared by the broker that keeps them and the admin
//! client that edits them.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::topic::DataVersion;

/// A consumer group's settings on a broker, with Java's JSON names: the broker's persisted table, the body of
/// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP and the entries of GET_ALL_SUBSCRIPTIONGROUP_CONFIG. `Default` is Java's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupConfig {
    /// The consumer group.
    pub group_name: String,
    /// Whether pulls are served.
    pub consume_enable: bool,
    /// Whether a new group may start from the queue's min offset.
    pub consume_from_min_enable: bool,
    /// Whether broadcasting consumption is allowed.
    pub consume_broadcast_enable: bool,
    /// Whether the group consumes orderly.
    pub consume_message_orderly: bool,
    /// Queues of `%RETRY%group` (1).
    pub retry_queue_nums: i32,
    /// Deliveries before a message goes to `%DLQ%group` (16).
    pub retry_max_times: i32,
    /// Broker id to consume from (0 = master).
    pub broker_id: i64,
    /// Broker id to switch to when consumption is slow.
    pub which_broker_when_consume_slowly: i64,
    /// Whether NOTIFY_CONSUMER_IDS_CHANGED is sent to the group.
    pub notify_consumer_ids_changed_enable: bool,
    /// Group sys flag.
    pub group_sys_flag: i32,
    /// Consume timeout in minutes.
    pub consume_timeout_minute: i32,
    /// Extension attributes.
    pub attributes: HashMap<String, String>,
}

impl Default for SubscriptionGroupConfig {
    fn default() -> Self {
        SubscriptionGroupConfig {
            group_name: String::new(),
            consume_enable: true,
            consume_from_min_enable: true,
            consume_broadcast_enable: true,
            consume_message_orderly: false,
            retry_queue_nums: 1,
            retry_max_times: 16,
            broker_id: 0,
            which_broker_when_consume_slowly: 1,
            notify_consumer_ids_changed_enable: true,
            group_sys_flag: 0,
            consume_timeout_minute: 15,
            attributes: HashMap::new(),
        }
    }
}

impl SubscriptionGroupConfig {
    /// Java's defaults for `group`.
    pub fn new(group: impl Into<String>) -> Self {
        SubscriptionGroupConfig {
            group_name: group.into(),
            ..SubscriptionGroupConfig::default()
        }
    }
}

/// A broker's whole group table (Java `SubscriptionGroupWrapper`): the body of GET_ALL_SUBSCRIPTIONGROUP_CONFIG,
/// which admin reads, and the broker's persisted `subscriptionGroup.json`, so both sides name the keys once.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionGroupWrapper {
    /// Group name → settings.
    pub subscription_group_table: HashMap<String, SubscriptionGroupConfig>,
    /// Version of the table; the broker's answer carries it, its file does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_version: Option<DataVersion>,
}
