//! Topic configuration bodies (docs/protocol.md §2.3.6): TopicConfig, DataVersion, the topic table wrapper, KV table,
//! topic list.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

/// A topic's configuration on a broker (also the GET_TOPIC_CONFIG answer).
///
/// `Default` is Java's: 16 read and write queues, perm 6 (read + write), `SINGLE_TAG`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfig {
    /// Topic name.
    pub topic_name: String,
    /// Queues consumers read.
    pub read_queue_nums: i32,
    /// Queues producers write.
    pub write_queue_nums: i32,
    /// PermName bits.
    pub perm: i32,
    /// `SINGLE_TAG` or `MULTI_TAG`.
    #[serde(deserialize_with = "crate::lenient::enum_field::topic_filter_type")]
    pub topic_filter_type: String,
    /// Topic sys flag.
    pub topic_sys_flag: i32,
    /// Ordered topic.
    pub order: bool,
    /// Free-form attributes (5.x).
    pub attributes: HashMap<String, String>,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            topic_name: String::new(),
            read_queue_nums: 16,
            write_queue_nums: 16,
            perm: 6,
            topic_filter_type: "SINGLE_TAG".to_owned(),
            topic_sys_flag: 0,
            order: false,
            attributes: HashMap::new(),
        }
    }
}

/// Version stamp of a broker's topic table: the name server re-applies topics when it changes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DataVersion {
    /// State version (controller mode).
    pub state_version: i64,
    /// Last change, epoch ms.
    pub timestamp: i64,
    /// Change counter.
    pub counter: i64,
}

/// A broker's topic table with its version (Java `TopicConfigAndMappingSerializeWrapper`).
///
/// The static-topic mapping fields are kept as raw JSON: we do not implement static topics, but Java 5.x and
/// mxsm name servers expect the keys to be present (mxsm refuses a registration without them, docs/protocol.md §5.5).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicConfigSerializeWrapper {
    /// Topic name → config.
    pub topic_config_table: HashMap<String, TopicConfig>,
    /// Version of the table.
    pub data_version: DataVersion,
    /// Static-topic mapping infos by topic.
    pub topic_queue_mapping_info_map: HashMap<String, serde_json::Value>,
    /// Static-topic mapping details by topic.
    pub topic_queue_mapping_detail_map: HashMap<String, serde_json::Value>,
    /// Version of the mappings.
    pub mapping_data_version: DataVersion,
}

/// A string map (REGISTER_BROKER answer, broker runtime info, KV config).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KvTable {
    /// The entries.
    pub table: HashMap<String, String>,
}

/// GET_ALL_TOPIC_LIST_FROM_NAMESERVER answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicList {
    /// Topic names.
    pub topic_list: BTreeSet<String>,
    /// Broker address, when the list is one broker's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker_addr: Option<String>,
}
