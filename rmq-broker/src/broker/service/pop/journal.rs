//! The records POP writes to the revive topic (docs/pop-java.md §5, §7): a checkpoint per popped batch, an ack
//! per consumed message, a batch ack per BATCH_ACK_MESSAGE group — JSON with Java's short field names, tagged
//! `ck`, `ack` and `bAck`.

use serde::{Deserialize, Serialize};

/// `PopAckConstants.REVIVE_TOPIC` prefix; the cluster name follows.
pub const REVIVE_TOPIC_PREFIX: &str = "rmq_sys_REVIVE_LOG_";
/// `PopAckConstants.REVIVE_GROUP`: whose offsets say how far each revive queue has been read.
pub const REVIVE_GROUP: &str = "CID_RMQ_SYS_REVIVE_GROUP";
/// Tag of a checkpoint record.
pub const CK_TAG: &str = "ck";
/// Tag of an ack record.
pub const ACK_TAG: &str = "ack";
/// Tag of a batch-ack record.
pub const BATCH_ACK_TAG: &str = "bAck";

/// The revive topic of a cluster.
pub fn revive_topic(cluster: &str) -> String {
    format!("{REVIVE_TOPIC_PREFIX}{cluster}")
}

/// Java's `PopCheckPoint`: one popped batch of one queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckPoint {
    /// The queue's pop offset when it was popped.
    #[serde(rename = "so", alias = "startOffset")]
    pub start_offset: i64,
    /// Broker clock at the pop, ms.
    #[serde(rename = "pt", alias = "popTime")]
    pub pop_time: i64,
    /// Invisible time, ms.
    #[serde(rename = "it", alias = "invisibleTime")]
    pub invisible_time: i64,
    /// Acked bits (Java writes 0).
    #[serde(rename = "bm", alias = "bitMap", default)]
    pub bit_map: i64,
    /// Messages in the batch.
    #[serde(rename = "n", alias = "num")]
    pub num: i32,
    /// Queue.
    #[serde(rename = "q", alias = "queueId")]
    pub queue_id: i32,
    /// The real topic (a POP retry topic when popped from one).
    #[serde(rename = "t", alias = "topic")]
    pub topic: String,
    /// Consumer group.
    #[serde(rename = "c", alias = "cid")]
    pub cid: String,
    /// Offset of this record in its revive queue (set when read back).
    #[serde(rename = "ro", alias = "reviveOffset", default)]
    pub revive_offset: i64,
    /// Each message's queue offset minus `start_offset` (filtering leaves gaps).
    #[serde(rename = "d", alias = "queueOffsetDiff", default)]
    pub queue_offset_diff: Vec<i64>,
    /// Broker that popped it.
    #[serde(rename = "bn", alias = "brokerName", default)]
    pub broker_name: String,
    /// How often the reviver rewrote it.
    #[serde(
        rename = "rp",
        alias = "rePutTimes",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub re_put_times: Option<String>,
}

impl CheckPoint {
    /// When its messages become visible again, ms.
    pub fn revive_time(&self) -> i64 {
        self.pop_time.saturating_add(self.invisible_time)
    }

    /// The queue offset of the `i`-th message.
    pub fn offset_at(&self, i: usize) -> i64 {
        match self.queue_offset_diff.get(i) {
            Some(d) => self.start_offset + d,
            None => self.start_offset + i as i64,
        }
    }

    /// The index of the message at queue offset `offset`, if it is in this batch.
    pub fn index_of(&self, offset: i64) -> Option<usize> {
        let diff = offset - self.start_offset;
        if self.queue_offset_diff.is_empty() {
            return (0..i64::from(self.num))
                .contains(&diff)
                .then_some(diff as usize);
        }
        self.queue_offset_diff.iter().position(|d| *d == diff)
    }

    /// The offset just past the batch's last message.
    pub fn end_offset(&self) -> i64 {
        match self.num {
            n if n <= 0 => self.start_offset,
            n => self.offset_at(n as usize - 1) + 1,
        }
    }
}

/// Java's `AckMsg` / `BatchAckMsg`: messages of a checkpoint consumed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckRecord {
    /// The acked offset (-1 for a batch ack).
    #[serde(rename = "ao", alias = "ackOffset", default = "minus_one")]
    pub ack_offset: i64,
    /// The checkpoint's start offset.
    #[serde(rename = "so", alias = "startOffset")]
    pub start_offset: i64,
    /// Consumer group.
    #[serde(rename = "c", alias = "consumerGroup")]
    pub consumer_group: String,
    /// Real topic.
    #[serde(rename = "t", alias = "topic")]
    pub topic: String,
    /// Queue.
    #[serde(rename = "q", alias = "queueId")]
    pub queue_id: i32,
    /// The checkpoint's pop time.
    #[serde(rename = "pt", alias = "popTime")]
    pub pop_time: i64,
    /// Broker that popped it.
    #[serde(rename = "bn", alias = "brokerName", default)]
    pub broker_name: String,
    /// A batch ack's offsets.
    #[serde(
        rename = "aol",
        alias = "ackOffsetList",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ack_offset_list: Vec<i64>,
}

fn minus_one() -> i64 {
    -1
}

impl AckRecord {
    /// The acked offsets.
    pub fn offsets(&self) -> Vec<i64> {
        if self.ack_offset_list.is_empty() {
            vec![self.ack_offset]
        } else {
            self.ack_offset_list.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_use_javas_short_names_and_read_its_long_ones() {
        let ck = CheckPoint {
            start_offset: 10,
            pop_time: 1000,
            invisible_time: 60000,
            bit_map: 0,
            num: 3,
            queue_id: 2,
            topic: "T".into(),
            cid: "g".into(),
            revive_offset: 0,
            queue_offset_diff: vec![0, 2, 5],
            broker_name: "b".into(),
            re_put_times: None,
        };
        let json = serde_json::to_string(&ck).expect("encode");
        assert!(
            json.contains("\"so\":10") && json.contains("\"d\":[0,2,5]"),
            "{json}"
        );
        assert_eq!(
            serde_json::from_str::<CheckPoint>(&json).expect("decode"),
            ck
        );
        assert_eq!(ck.index_of(12), Some(1));
        assert_eq!(ck.index_of(11), None);
        assert_eq!(ck.end_offset(), 16);
        assert_eq!(ck.revive_time(), 61000);
        let java = r#"{"startOffset":1,"popTime":2,"invisibleTime":3,"num":1,"queueId":0,"topic":"T","cid":"g"}"#;
        let old: CheckPoint = serde_json::from_str(java).expect("long names");
        assert_eq!(old.index_of(1), Some(0));
        let ack: AckRecord =
            serde_json::from_str(r#"{"ao":5,"so":1,"c":"g","t":"T","q":0,"pt":2}"#).expect("ack");
        assert_eq!(ack.offsets(), vec![5]);
    }
}
