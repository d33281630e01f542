//! Admin bodies keyed by [`MessageQueue`]: GET_TOPIC_STATS_INFO (202), GET_CONSUME_STATS (208) and the offset
//! reset pair INVOKE_BROKER_TO_RESET_OFFSET (222) / RESET_CONSUMER_CLIENT_OFFSET (220).
//!
//! # The object-key quirk
//! Java keeps these tables as `Map<MessageQueue, V>` and fastjson (Java's `RemotingSerializable`) writes a
//! map key that is not a string as the key object itself, so the body is not standard JSON:
//!
//! ```text
//! {"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:{"lastUpdateTimestamp":1700000000000,"maxOffset":3,"minOffset":0}}}
//! ```
//!
//! Key and value fields are in alphabetical order, as fastjson writes bean properties. Each body's `to_json`
//! writes exactly that; its `from_json` reads it, and also the two other forms seen in the wild: keys as JSON
//! *strings* holding the object (fastjson's `WriteNonStringKeyAsString`, fastjson2) and Gson's
//! `enableComplexMapKeySerialization` array of `[key, value]` pairs (the Go client reads both).

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::json::{from_json, quote_object_keys};
use super::MessageQueue;
use crate::error::Result;

/// A table keyed by queue, sorted by topic, broker name, queue id.
pub type QueueTable<V> = BTreeMap<MessageQueue, V>;

/// One queue's offsets in a [`TopicStatsTable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicOffset {
    /// Store time of the last message, epoch ms (0 for an empty queue).
    pub last_update_timestamp: i64,
    /// Next offset to be written.
    pub max_offset: i64,
    /// First offset still readable.
    pub min_offset: i64,
}

/// GET_TOPIC_STATS_INFO answer: the offsets of every queue of a topic on this broker, so an admin tool can
/// show how many messages each queue holds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TopicStatsTable {
    /// Queue → offsets.
    #[serde(deserialize_with = "queue_table")]
    pub offset_table: QueueTable<TopicOffset>,
}

impl TopicStatsTable {
    /// Java's JSON (object keys, see the module docs).
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = br#"{"offsetTable":"#.to_vec();
        write_queue_table(&mut out, &self.offset_table);
        out.push(b'}');
        out
    }

    /// Parses any of the three forms of the module docs.
    ///
    /// # Errors
    /// [`crate::ProtocolError::InvalidBody`] naming `TopicStatsTable`.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        parse(bytes)
    }
}

/// One queue's progress in [`ConsumeStats`]. Lag = `broker_offset - consumer_offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OffsetWrapper {
    /// The queue's max offset.
    pub broker_offset: i64,
    /// The group's committed offset (0 when it never committed).
    pub consumer_offset: i64,
    /// Store time of the last consumed message (at `consumer_offset - 1`), epoch ms; 0 if unknown.
    pub last_timestamp: i64,
    /// How far the group has pulled (5.x); at least `consumer_offset`.
    pub pull_offset: i64,
}

impl OffsetWrapper {
    /// Messages not yet consumed.
    pub fn lag(&self) -> i64 {
        self.broker_offset - self.consumer_offset
    }
}

/// GET_CONSUME_STATS answer: per-queue progress of a consumer group, for lag monitoring.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumeStats {
    /// Messages per second the group pulled over the last minute.
    pub consume_tps: f64,
    /// Queue → progress.
    #[serde(deserialize_with = "queue_table")]
    pub offset_table: QueueTable<OffsetWrapper>,
}

impl ConsumeStats {
    /// Sum of every queue's lag (Java's `computeTotalDiff`).
    pub fn total_lag(&self) -> i64 {
        self.offset_table.values().map(OffsetWrapper::lag).sum()
    }

    /// Java's JSON (object keys, see the module docs).
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = br#"{"consumeTps":"#.to_vec();
        // serde_json writes finite doubles as Java does (`0.0`); a NaN or infinity is written as 0.0.
        let tps = if self.consume_tps.is_finite() {
            self.consume_tps
        } else {
            0.0
        };
        out.extend_from_slice(&serde_json::to_vec(&tps).unwrap_or_else(|_| b"0.0".to_vec()));
        out.extend_from_slice(br#","offsetTable":"#);
        write_queue_table(&mut out, &self.offset_table);
        out.push(b'}');
        out
    }

    /// Parses any of the three forms of the module docs.
    ///
    /// # Errors
    /// [`crate::ProtocolError::InvalidBody`] naming `ConsumeStats`.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        parse(bytes)
    }
}

/// INVOKE_BROKER_TO_RESET_OFFSET answer and RESET_CONSUMER_CLIENT_OFFSET body: the offset each queue of the
/// group was reset to, so consumers drop what they hold and pull from there.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResetOffsetBody {
    /// Queue → new offset.
    #[serde(deserialize_with = "queue_table")]
    pub offset_table: QueueTable<i64>,
}

impl ResetOffsetBody {
    /// Java's JSON (object keys, see the module docs).
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = br#"{"offsetTable":"#.to_vec();
        write_queue_table(&mut out, &self.offset_table);
        out.push(b'}');
        out
    }

    /// Parses any of the three forms of the module docs.
    ///
    /// # Errors
    /// [`crate::ProtocolError::InvalidBody`] naming `ResetOffsetBody`.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        parse(bytes)
    }
}

/// A [`MessageQueue`] with its fields in fastjson's (alphabetical) order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QueueKey<'a> {
    broker_name: &'a str,
    queue_id: i32,
    topic: &'a str,
}

/// Writes `{KEY:VALUE,...}` with each key as a bare JSON object.
pub(crate) fn write_queue_table<V: Serialize>(out: &mut Vec<u8>, table: &QueueTable<V>) {
    out.push(b'{');
    for (i, (mq, value)) in table.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let key = QueueKey {
            broker_name: &mq.broker_name,
            queue_id: mq.queue_id,
            topic: &mq.topic,
        };
        // Both are plain structs or integers of this module: serde_json cannot fail on them.
        out.extend_from_slice(&serde_json::to_vec(&key).unwrap_or_default());
        out.push(b':');
        out.extend_from_slice(&serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec()));
    }
    out.push(b'}');
}

/// Repairs object keys, then reads the body as every other one is read (Java's coercions, [`crate::lenient`]).
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    from_json(&quote_object_keys(bytes))
}

/// Reads a queue table from a map whose keys are JSON texts of queues, or from Gson's `[[key, value], ...]`.
pub(crate) fn queue_table<'de, D, V>(d: D) -> std::result::Result<QueueTable<V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct TableVisitor<V>(PhantomData<V>);

    impl<'de, V: Deserialize<'de>> Visitor<'de> for TableVisitor<V> {
        type Value = QueueTable<V>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map keyed by message queues, or a list of [queue, value] pairs")
        }

        fn visit_map<A: MapAccess<'de>>(
            self,
            mut map: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            let mut table = QueueTable::new();
            while let Some((key, value)) = map.next_entry::<String, V>()? {
                let mq: MessageQueue = from_json(key.as_bytes()).map_err(|e| {
                    de::Error::custom(format!("key {key:?} is not a message queue: {e}"))
                })?;
                table.insert(mq, value);
            }
            Ok(table)
        }

        fn visit_seq<A: SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            let mut table = QueueTable::new();
            while let Some((mq, value)) = seq.next_element::<(MessageQueue, V)>()? {
                table.insert(mq, value);
            }
            Ok(table)
        }

        fn visit_unit<E: de::Error>(self) -> std::result::Result<Self::Value, E> {
            Ok(QueueTable::new())
        }
    }

    d.deserialize_any(TableVisitor(PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mq(topic: &str, queue_id: i32) -> MessageQueue {
        MessageQueue {
            topic: topic.into(),
            broker_name: "broker-a".into(),
            queue_id,
        }
    }

    #[test]
    fn topic_stats_use_object_keys_in_fastjson_order() {
        let mut t = TopicStatsTable::default();
        t.offset_table.insert(
            mq("T", 1),
            TopicOffset {
                last_update_timestamp: 7,
                max_offset: 3,
                min_offset: 1,
            },
        );
        t.offset_table.insert(mq("T", 0), TopicOffset::default());
        let json = String::from_utf8(t.to_json()).expect("utf8");
        assert_eq!(
            json,
            r#"{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:{"lastUpdateTimestamp":0,"maxOffset":0,"minOffset":0},{"brokerName":"broker-a","queueId":1,"topic":"T"}:{"lastUpdateTimestamp":7,"maxOffset":3,"minOffset":1}}}"#
        );
        assert_eq!(
            TopicStatsTable::from_json(json.as_bytes()).expect("back"),
            t
        );
    }

    #[test]
    fn consume_stats_round_trip_and_lag() {
        let mut s = ConsumeStats::default();
        s.offset_table.insert(
            mq("T", 0),
            OffsetWrapper {
                broker_offset: 10,
                consumer_offset: 4,
                last_timestamp: 5,
                pull_offset: 4,
            },
        );
        let json = String::from_utf8(s.to_json()).expect("utf8");
        assert_eq!(
            json,
            r#"{"consumeTps":0.0,"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:{"brokerOffset":10,"consumerOffset":4,"lastTimestamp":5,"pullOffset":4}}}"#
        );
        let back = ConsumeStats::from_json(json.as_bytes()).expect("back");
        assert_eq!(back, s);
        assert_eq!(back.total_lag(), 6);
    }

    #[test]
    fn reset_body_reads_every_known_form() {
        let mut want = ResetOffsetBody::default();
        want.offset_table.insert(mq("T", 0), 5);
        want.offset_table.insert(mq("T", 1), 9);
        let fastjson = want.to_json();
        assert_eq!(
            String::from_utf8_lossy(&fastjson),
            r#"{"offsetTable":{{"brokerName":"broker-a","queueId":0,"topic":"T"}:5,{"brokerName":"broker-a","queueId":1,"topic":"T"}:9}}"#
        );
        // Java's field order is not required on input, whitespace is allowed (pretty printing).
        let pretty = "{ \"offsetTable\" : {\n\t{\"topic\":\"T\",\"queueId\":1,\"brokerName\":\"broker-a\"} : 9,\n\t{\"queueId\":0,\"topic\":\"T\",\"brokerName\":\"broker-a\"}:5 } }";
        let string_keys = r#"{"offsetTable":{"{\"brokerName\":\"broker-a\",\"queueId\":0,\"topic\":\"T\"}":5,"{\"brokerName\":\"broker-a\",\"queueId\":1,\"topic\":\"T\"}":9}}"#;
        let gson = r#"{"offsetTable":[[{"topic":"T","brokerName":"broker-a","queueId":0},5],[{"topic":"T","brokerName":"broker-a","queueId":1},9]]}"#;
        for (name, text) in [
            ("fastjson", &fastjson[..]),
            ("pretty", pretty.as_bytes()),
            ("string keys", string_keys.as_bytes()),
            ("gson", gson.as_bytes()),
        ] {
            assert_eq!(
                ResetOffsetBody::from_json(text).expect(name),
                want,
                "{name}"
            );
        }
        assert_eq!(
            ResetOffsetBody::from_json(b"{}").expect("empty"),
            ResetOffsetBody::default()
        );
        let err = ResetOffsetBody::from_json(br#"{"offsetTable":{"x":1}}"#).expect_err("bad key");
        assert!(err.to_string().contains("ResetOffsetBody"), "{err}");
    }

    #[test]
    fn topic_names_with_quotes_survive() {
        let mut t = ResetOffsetBody::default();
        t.offset_table.insert(mq("a\"b\\c", 0), 1);
        assert_eq!(ResetOffsetBody::from_json(&t.to_json()).expect("back"), t);
    }
}
