//! JSON bodies of remoting commands, with Java's field names (docs/protocol.md §2.3.4, §2.3.6, §2.3.7).
//!
//! Every struct uses `camelCase` JSON names (with Java's odd ones spelled out, e.g. `clientID`,
//! `lockOKMQSet`), fills missing fields from its `Default` (Java's defaults where they matter) and ignores unknown
//! fields, so bodies from newer or older peers still decode. Absent optional values are omitted on output, as
//! fastjson does.
//!
//! Java's JSON is not always standard JSON: maps keyed by `long` (only `BrokerData.brokerAddrs` here) are written
//! with bare integer keys, `{0:"10.0.0.1:10911"}` (docs/protocol.md §4.11). [`TopicRouteData::to_json`] and
//! [`ClusterInfo::to_json`] can produce either form, and [`from_json`] reads both.
//!
//! - [`admin`]: topic stats, consume stats and offset-reset bodies, keyed by message queue (Java writes those
//!   keys as bare JSON objects; see the module docs).
//! - [`client`]: heartbeat, subscriptions, consumer list, message queues and lock bodies.
//! - [`topic`]: topic config, data version, the topic table wrapper, KV table, topic list.
//! - [`operations`]: producer connections, who consumes a topic, broker-wide consume stats, stats windows,
//!   consume-queue inspection.
//! - [`register`]: REGISTER_BROKER body, plain and zlib-compressed.
//! - [`route`]: topic route and cluster info, with the bare-key quirk.
//! - [`running_info`]: what a consumer reports about its queues (GET_CONSUMER_RUNNING_INFO).
//! - [`subscription`]: consumer-group settings (`SubscriptionGroupConfig`), kept by the broker, edited by admin.

pub mod admin;
pub mod client;
mod json;
pub mod operations;
pub mod register;
pub mod route;
pub mod running_info;
pub mod subscription;
pub mod topic;

pub use admin::*;
pub use client::*;
pub use json::{from_json, quote_bare_integer_keys, quote_object_keys, to_json, try_to_json};
pub use operations::{
    BrokerStatsData, BrokerStatsItem, ConsumeQueueData, ConsumeStatsList, GroupList,
    ProducerConnection, QueryConsumeQueueResponseBody,
};
pub use register::RegisterBrokerBody;
pub use route::*;
pub use running_info::{
    CMResult, ConsumeMessageDirectlyResult, ConsumeStatus, ConsumerRunningInfo, ProcessQueueInfo,
};
pub use subscription::{SubscriptionGroupConfig, SubscriptionGroupWrapper};
pub use topic::*;
