//! Route bodies (docs/protocol.md §2.3.6, §4.11): GET_ROUTEINFO_BY_TOPIC and GET_BROKER_CLUSTER_INFO answers.
//!
//! Fields are declared in alphabetical order so our JSON has Java's (fastjson's) key order. `to_json(false)`
//! writes `brokerAddrs` with bare integer keys as Java does by default, which old clients (the Go client, the C++
//! client) parse by hand; `to_json(true)` writes standard JSON. Read either with [`super::from_json`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::json::unquote_broker_addr_keys;

/// Where a topic lives: its queues per broker and the brokers' addresses.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicRouteData {
    /// One entry per broker name.
    pub broker_datas: Vec<BrokerData>,
    /// Filter servers by broker address (unused, kept for the wire).
    pub filter_server_table: HashMap<String, Vec<String>>,
    /// `brokerName:queueNum;…` for ordered topics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_topic_conf: Option<String>,
    /// One entry per broker serving the topic.
    pub queue_datas: Vec<QueueData>,
}

impl TopicRouteData {
    /// JSON text: standard (`{"0":…}`) when `standard`, else Java's default with bare `brokerAddrs` keys.
    /// A name server answers standard only to requesters with version ≥ 401 or `acceptStandardJsonOnly`.
    pub fn to_json(&self, standard: bool) -> String {
        route_json(self, standard)
    }
}

/// A topic's queues on one broker.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueueData {
    /// Broker name.
    pub broker_name: String,
    /// PermName bits.
    pub perm: i32,
    /// Queues consumers read.
    pub read_queue_nums: i32,
    /// Topic sys flag.
    pub topic_sys_flag: i32,
    /// Queues producers write.
    pub write_queue_nums: i32,
}

/// A broker name's addresses by broker id (0 = master).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerData {
    /// Broker id → `ip:port`.
    pub broker_addrs: BTreeMap<i64, String>,
    /// Broker name.
    pub broker_name: String,
    /// Cluster name.
    pub cluster: String,
    /// Slave-acting-master mode.
    pub enable_acting_master: bool,
    /// Zone, if the broker registered one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
}

impl BrokerData {
    /// The master's address (id 0), which producers must use.
    pub fn master_addr(&self) -> Option<&str> {
        self.broker_addrs.get(&0).map(String::as_str)
    }
}

/// Every broker and which cluster it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterInfo {
    /// Broker name → addresses.
    pub broker_addr_table: HashMap<String, BrokerData>,
    /// Cluster name → broker names.
    pub cluster_addr_table: HashMap<String, BTreeSet<String>>,
}

impl ClusterInfo {
    /// JSON text, standard or Java's default (see [`TopicRouteData::to_json`]); Java always sends the latter.
    pub fn to_json(&self, standard: bool) -> String {
        route_json(self, standard)
    }
}

fn route_json<T: Serialize>(value: &T, standard: bool) -> String {
    let json = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
    if standard {
        json
    } else {
        unquote_broker_addr_keys(json)
    }
}
