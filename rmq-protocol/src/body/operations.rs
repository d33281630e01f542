//! Bodies of the operator requests around producers, topic consumers, broker-wide consume stats, stats
//! windows and consume-queue inspection, with Java's member names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::admin::ConsumeStats;
use super::{Connection, SubscriptionData};
use crate::error::Result;

/// GET_PRODUCER_CONNECTION_LIST (204) answer: the live connections of a producer group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProducerConnection {
    /// One per producer channel.
    pub connection_set: Vec<Connection>,
}

/// QUERY_TOPIC_CONSUME_BY_WHO (300) answer: groups consuming a topic (online, or with committed offsets).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupList {
    /// Group names (Java: a HashSet; written sorted here).
    pub group_list: Vec<String>,
}

/// GET_BROKER_CONSUME_STATS (317) answer: every group's consume stats on one broker, for `brokerConsumeStats`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConsumeStatsList {
    /// The broker, `ip:port`.
    pub broker_addr: String,
    /// One entry per group: its stats per topic.
    pub consume_stats_list: Vec<(String, Vec<ConsumeStats>)>,
    /// Σ (broker offset − consumer offset) over everything listed.
    pub total_diff: i64,
    /// Σ (pull offset − consumer offset) (5.x).
    pub total_inflight_diff: i64,
}

impl ConsumeStatsList {
    /// Java's JSON: `consumeStatsList` is an array of one-key objects `{group: [ConsumeStats…]}`, each
    /// ConsumeStats with object-keyed `offsetTable`.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = br#"{"brokerAddr":"#.to_vec();
        out.extend_from_slice(&serde_json::to_vec(&self.broker_addr).unwrap_or_default());
        out.extend_from_slice(br#","consumeStatsList":["#);
        for (i, (group, stats)) in self.consume_stats_list.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'{');
            out.extend_from_slice(&serde_json::to_vec(group).unwrap_or_default());
            out.extend_from_slice(b":[");
            for (j, s) in stats.iter().enumerate() {
                if j > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(&s.to_json());
            }
            out.extend_from_slice(b"]}");
        }
        out.extend_from_slice(
            format!(
                r#"],"totalDiff":{},"totalInflightDiff":{}}}"#,
                self.total_diff, self.total_inflight_diff
            )
            .as_bytes(),
        );
        out
    }

    /// Reads Java's JSON.
    ///
    /// # Errors
    /// [`crate::ProtocolError::InvalidBody`] naming `ConsumeStatsList`.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "camelCase", default)]
        struct Wire {
            broker_addr: String,
            consume_stats_list: Vec<BTreeMap<String, Vec<serde_json::Value>>>,
            total_diff: i64,
            total_inflight_diff: i64,
        }
        let wire: Wire = super::admin::parse(bytes)?;
        let mut list = Vec::new();
        for entry in wire.consume_stats_list {
            for (group, stats) in entry {
                let stats = stats
                    .into_iter()
                    .map(|v| {
                        let text = serde_json::to_vec(&v).unwrap_or_default();
                        ConsumeStats::from_json(&text)
                    })
                    .collect::<Result<Vec<_>>>()?;
                list.push((group, stats));
            }
        }
        Ok(ConsumeStatsList {
            broker_addr: wire.broker_addr,
            consume_stats_list: list,
            total_diff: wire.total_diff,
            total_inflight_diff: wire.total_inflight_diff,
        })
    }
}

/// One window of a broker statistic (Java `BrokerStatsItem`).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerStatsItem {
    /// Mean value per event (0 when only values are counted).
    pub avgpt: f64,
    /// Sum over the window.
    pub sum: i64,
    /// Per second over the window.
    pub tps: f64,
}

/// VIEW_BROKER_STATS_DATA (315) answer: a statistic over the last minute, hour and day.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrokerStatsData {
    /// Last day.
    pub stats_day: BrokerStatsItem,
    /// Last hour.
    pub stats_hour: BrokerStatsItem,
    /// Last minute.
    pub stats_minute: BrokerStatsItem,
}

/// One consume-queue unit in a [`QueryConsumeQueueResponseBody`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumeQueueData {
    /// Bit map of a consume-queue extension (rmq keeps none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bit_map: Option<String>,
    /// Whether the group's filter matches the unit.
    pub eval: bool,
    /// Extension data as JSON (rmq keeps none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extend_data_json: Option<String>,
    /// A note about the unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
    /// CommitLog offset of the message.
    pub physic_offset: i64,
    /// Its stored size.
    pub physic_size: i32,
    /// Its tag hash code.
    pub tags_code: i64,
}

/// QUERY_CONSUME_QUEUE (321) answer: raw units of one queue, for `queryCq`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct QueryConsumeQueueResponseBody {
    /// The group's filter, or why there is none (`<group>@<topic> is not online!`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_data: Option<String>,
    /// One past the last logical offset.
    pub max_queue_index: i64,
    /// First logical offset still there.
    pub min_queue_index: i64,
    /// The units asked for.
    pub queue_data: Vec<ConsumeQueueData>,
    /// The group's subscription to the topic, when it is online.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_data: Option<SubscriptionData>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{MessageQueue, OffsetWrapper};

    #[test]
    fn consume_stats_list_is_an_array_of_one_key_objects() {
        let mut stats = ConsumeStats::default();
        stats.offset_table.insert(
            MessageQueue {
                topic: "T".into(),
                broker_name: "b".into(),
                queue_id: 0,
            },
            OffsetWrapper {
                broker_offset: 5,
                consumer_offset: 2,
                ..OffsetWrapper::default()
            },
        );
        let list = ConsumeStatsList {
            broker_addr: "127.0.0.1:10911".into(),
            consume_stats_list: vec![("g".into(), vec![stats])],
            total_diff: 3,
            total_inflight_diff: -2,
        };
        let json = String::from_utf8(list.to_json()).expect("utf-8");
        assert!(
            json.starts_with(r#"{"brokerAddr":"127.0.0.1:10911","consumeStatsList":[{"g":[{"consumeTps":0.0,"offsetTable":{{"brokerName":"b""#),
            "{json}"
        );
        assert!(
            json.ends_with(r#"],"totalDiff":3,"totalInflightDiff":-2}"#),
            "{json}"
        );
        assert_eq!(
            ConsumeStatsList::from_json(json.as_bytes()).expect("back"),
            list
        );
    }
}
