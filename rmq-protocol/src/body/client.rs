//! Client bodies: HEART_BEAT (34), GET_CONSUMER_LIST_BY_GROUP (38), LOCK/UNLOCK_BATCH_MQ (41/42),
//! CHECK_CLIENT_CONFIG (46) (docs/protocol.md §2.3.4, §2.3.7).

use serde::{Deserialize, Serialize};

/// HEART_BEAT body: which producer and consumer groups a client belongs to, with its subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HeartbeatData {
    /// `ip@instance` client id (Java key `clientID`).
    #[serde(rename = "clientID")]
    pub client_id: String,
    /// Producer groups (consumers also list `CLIENT_INNER_PRODUCER`).
    pub producer_data_set: Vec<ProducerData>,
    /// Consumer groups with their subscriptions.
    pub consumer_data_set: Vec<ConsumerData>,
    /// 0 = heartbeat v1 (always carries subscriptions).
    pub heartbeat_fingerprint: i32,
    /// Heartbeat v2: subscriptions left out because unchanged.
    pub without_sub: bool,
}

/// One producer group of a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProducerData {
    /// Producer group.
    pub group_name: String,
}

/// One consumer group of a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerData {
    /// Consumer group.
    pub group_name: String,
    /// `CONSUME_ACTIVELY` (pull), `CONSUME_PASSIVELY` (push) or `CONSUME_POP`.
    #[serde(deserialize_with = "crate::lenient::enum_field::consume_type")]
    pub consume_type: String,
    /// `CLUSTERING` or `BROADCASTING`.
    #[serde(deserialize_with = "crate::lenient::enum_field::message_model")]
    pub message_model: String,
    /// `CONSUME_FROM_LAST_OFFSET`, `CONSUME_FROM_FIRST_OFFSET`, `CONSUME_FROM_TIMESTAMP`, ...
    #[serde(deserialize_with = "crate::lenient::enum_field::consume_from_where")]
    pub consume_from_where: String,
    /// What the group subscribes to.
    pub subscription_data_set: Vec<SubscriptionData>,
    /// Unit mode.
    pub unit_mode: bool,
}

/// One topic subscription: the expression and, for tags, the parsed tags and their hash codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscriptionData {
    /// Java's class-filter mode (unused).
    pub class_filter_mode: bool,
    /// Topic.
    pub topic: String,
    /// `*`, `TagA || TagB`, or SQL92 text.
    pub sub_string: String,
    /// Tags of a TAG expression.
    pub tags_set: Vec<String>,
    /// Tag hash codes (Java `String.hashCode`), matched against consume-queue entries.
    pub code_set: Vec<i32>,
    /// Version (ms timestamp); a pull with a newer one than the broker's copy gets 25.
    pub sub_version: i64,
    /// `TAG` (default) or `SQL92`.
    pub expression_type: String,
}

impl Default for SubscriptionData {
    fn default() -> Self {
        SubscriptionData {
            class_filter_mode: false,
            topic: String::new(),
            sub_string: String::new(),
            tags_set: Vec::new(),
            code_set: Vec::new(),
            sub_version: 0,
            expression_type: "TAG".to_owned(),
        }
    }
}

/// GET_CONSUMER_LIST_BY_GROUP answer: live client ids of a group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerListBody {
    /// Client ids.
    pub consumer_id_list: Vec<String>,
}

/// CHECK_CLIENT_CONFIG (46) body: a consumer asks the broker to compile its subscription before starting
/// (Java's `DefaultMQPushConsumerImpl.checkClientInBroker` sends it for SQL92 subscriptions), so a bad
/// expression is refused at subscribe time instead of failing every pull.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CheckClientRequestBody {
    /// Client id.
    pub client_id: String,
    /// Consumer group.
    pub group: String,
    /// The subscription to check; Java answers SUCCESS when it is absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_data: Option<SubscriptionData>,
    /// Namespace (5.x clients), unused by the broker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A queue of a topic on a broker. Ordered by topic, broker, queue id (the rebalance sort order, docs/protocol.md §4.8).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageQueue {
    /// Topic.
    pub topic: String,
    /// Broker name.
    pub broker_name: String,
    /// Queue id.
    pub queue_id: i32,
}

/// LOCK_BATCH_MQ body: the queues a consumer wants to own for orderly consumption.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LockBatchRequestBody {
    /// Consumer group.
    pub consumer_group: String,
    /// Requesting client id.
    pub client_id: String,
    /// Lock only on this broker (no forwarding in a broker group).
    pub only_this_broker: bool,
    /// Queues to lock.
    pub mq_set: Vec<MessageQueue>,
}

/// UNLOCK_BATCH_MQ body: same shape as the lock request.
pub type UnlockBatchRequestBody = LockBatchRequestBody;

/// LOCK_BATCH_MQ answer: the requested queues the client now holds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LockBatchResponseBody {
    /// Locked queues (Java key `lockOKMQSet`).
    #[serde(rename = "lockOKMQSet")]
    pub lock_ok_mq_set: Vec<MessageQueue>,
}

/// One client connection as admin tools see it (part of [`ConsumerConnection`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Connection {
    /// Client id.
    pub client_id: String,
    /// Remote `ip:port`.
    pub client_addr: String,
    /// Java `LanguageCode` name (`JAVA`, `RUST`, ...); by name or ordinal, like every Java enum.
    #[serde(deserialize_with = "crate::lenient::enum_field::language_code")]
    pub language: String,
    /// The client's `MQVersion` ordinal.
    pub version: i32,
}

/// GET_CONSUMER_CONNECTION_LIST (203) answer: who is in a consumer group and what it subscribes to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerConnection {
    /// Live connections of the group.
    pub connection_set: Vec<Connection>,
    /// Topic → subscription.
    pub subscription_table: std::collections::HashMap<String, SubscriptionData>,
    /// `CONSUME_ACTIVELY` / `CONSUME_PASSIVELY` / `CONSUME_POP`.
    #[serde(deserialize_with = "crate::lenient::enum_field::consume_type")]
    pub consume_type: String,
    /// `CLUSTERING` or `BROADCASTING`.
    #[serde(deserialize_with = "crate::lenient::enum_field::message_model")]
    pub message_model: String,
    /// Where new queues start.
    #[serde(deserialize_with = "crate::lenient::enum_field::consume_from_where")]
    pub consume_from_where: String,
}
