//! What a consumer reports about itself: Java's `ConsumerRunningInfo`, answered to GET_CONSUMER_RUNNING_INFO
//! (307) and shown by `consumerStatus` and the console, and the result of CONSUME_MESSAGE_DIRECTLY (309).
//!
//! `mqTable` is keyed by message queue and written with fastjson's bare object keys, like the bodies of
//! [`super::admin`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::admin::{parse, queue_table, write_queue_table, QueueTable};
use super::SubscriptionData;
use crate::error::Result;

/// Keys Java's clients put in [`ConsumerRunningInfo::properties`] besides the consumer's settings; mqadmin's
/// `consumerStatus` needs `PROP_CONSUME_TYPE` and `PROP_CONSUMER_START_TIMESTAMP` to parse.
pub mod prop {
    /// `true` / `false`: orderly listener.
    pub const CONSUME_ORDERLY: &str = "PROP_CONSUMEORDERLY";
    /// Listener calls running at once.
    pub const THREADPOOL_CORE_SIZE: &str = "PROP_THREADPOOL_CORE_SIZE";
    /// Start time, epoch ms.
    pub const CONSUMER_START_TIMESTAMP: &str = "PROP_CONSUMER_START_TIMESTAMP";
    /// Name servers, each followed by `;`.
    pub const NAMESERVER_ADDR: &str = "PROP_NAMESERVER_ADDR";
    /// `CONSUME_PASSIVELY` (push), `CONSUME_ACTIVELY` (pull), `CONSUME_POP`.
    pub const CONSUME_TYPE: &str = "PROP_CONSUME_TYPE";
    /// Client version name, e.g. `V4_9_4`.
    pub const CLIENT_VERSION: &str = "PROP_CLIENT_VERSION";
}

/// A consumer's pull and consume rates for one topic over the last minute (Java `ConsumeStatus`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsumeStatus {
    /// Mean pull round trip, ms.
    #[serde(rename = "pullRT")]
    pub pull_rt: f64,
    /// Messages pulled per second.
    #[serde(rename = "pullTPS")]
    pub pull_tps: f64,
    /// Mean listener time per message, ms.
    #[serde(rename = "consumeRT")]
    pub consume_rt: f64,
    /// Messages consumed successfully per second.
    #[serde(rename = "consumeOKTPS")]
    pub consume_ok_tps: f64,
    /// Messages failed per second.
    #[serde(rename = "consumeFailedTPS")]
    pub consume_failed_tps: f64,
    /// Messages failed in the last hour (Java counts the hour window).
    #[serde(rename = "consumeFailedMsgs")]
    pub consume_failed_msgs: i64,
}

/// GET_CONSUMER_RUNNING_INFO answer: a consumer's settings, subscriptions, per-queue state and rates, so an
/// operator can see why a group lags without logging into the machine.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumerRunningInfo {
    /// Settings as strings (Java: the consumer's fields) and the `PROP_*` keys of [`prop`].
    pub properties: BTreeMap<String, String>,
    /// Subscriptions, the retry topic's included.
    pub subscription_set: Vec<SubscriptionData>,
    /// Queue → process-queue state.
    #[serde(deserialize_with = "queue_table")]
    pub mq_table: QueueTable<ProcessQueueInfo>,
    /// Topic → rates.
    pub status_table: BTreeMap<String, ConsumeStatus>,
    /// Free-form per-user info (5.x; usually empty).
    pub user_consumer_info: BTreeMap<String, String>,
    /// A dump of the consumer's tasks when asked for (`jstackEnable`).
    pub jstack: Option<String>,
}

/// The members fastjson writes, in its (alphabetical) order; `mqTable` is written by hand.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunningInfoTail<'a> {
    properties: &'a BTreeMap<String, String>,
    status_table: &'a BTreeMap<String, ConsumeStatus>,
    subscription_set: &'a [SubscriptionData],
    user_consumer_info: &'a BTreeMap<String, String>,
}

impl ConsumerRunningInfo {
    /// Java's JSON: members sorted, `mqTable` with object keys, `jstack` only when present.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = b"{".to_vec();
        if let Some(j) = &self.jstack {
            out.extend_from_slice(br#""jstack":"#);
            out.extend_from_slice(&serde_json::to_vec(j).unwrap_or_else(|_| b"\"\"".to_vec()));
            out.push(b',');
        }
        out.extend_from_slice(br#""mqTable":"#);
        write_queue_table(&mut out, &self.mq_table);
        let tail = RunningInfoTail {
            properties: &self.properties,
            status_table: &self.status_table,
            subscription_set: &self.subscription_set,
            user_consumer_info: &self.user_consumer_info,
        };
        // A struct of strings, numbers and maps with string keys: serde_json cannot fail on it.
        let tail = serde_json::to_vec(&tail).unwrap_or_else(|_| b"{}".to_vec());
        if tail.len() > 2 {
            out.push(b',');
            out.extend_from_slice(&tail[1..tail.len() - 1]);
        }
        out.push(b'}');
        out
    }

    /// Reads Java's JSON (object keys repaired, values coerced as Java's clients write them).
    ///
    /// # Errors
    /// [`crate::ProtocolError::InvalidBody`] naming `ConsumerRunningInfo`.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        parse(bytes)
    }

    /// Whether the consumer is a push consumer (`PROP_CONSUME_TYPE` = `CONSUME_PASSIVELY`).
    pub fn is_push(&self) -> bool {
        self.properties.get(prop::CONSUME_TYPE).map(String::as_str) == Some("CONSUME_PASSIVELY")
    }
}

/// What a listener did with a message handed to it by CONSUME_MESSAGE_DIRECTLY (Java `CMResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::upper_case_acronyms)]
pub enum CMResult {
    /// Consumed.
    #[serde(rename = "CR_SUCCESS")]
    Success,
    /// Asked to be retried later.
    #[serde(rename = "CR_LATER")]
    Later,
    /// Orderly: rolled back.
    #[serde(rename = "CR_ROLLBACK")]
    Rollback,
    /// Orderly: committed.
    #[serde(rename = "CR_COMMIT")]
    Commit,
    /// The listener failed (an error or a panic).
    #[serde(rename = "CR_THROW_EXCEPTION")]
    ThrowException,
    /// The listener returned nothing.
    #[serde(rename = "CR_RETURN_NULL")]
    ReturnNull,
}

/// CONSUME_MESSAGE_DIRECTLY answer: how the consumer's listener handled the message an operator sent it
/// (mqadmin `consumeMessage` / the dashboard's "resend to this client").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConsumeMessageDirectlyResult {
    /// Orderly commit mode (true for concurrent listeners).
    pub auto_commit: bool,
    /// The listener's verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consume_result: Option<CMResult>,
    /// Whether the listener is orderly.
    pub order: bool,
    /// The error, when the listener failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    /// How long the listener took, ms (Java's spelling).
    pub spent_time_mills: i64,
}

impl Default for ConsumeMessageDirectlyResult {
    fn default() -> Self {
        ConsumeMessageDirectlyResult {
            auto_commit: true,
            consume_result: None,
            order: false,
            remark: None,
            spent_time_mills: 0,
        }
    }
}

/// One queue's process-queue state in a push consumer (Java `ProcessQueueInfo`): how much is buffered, what is
/// committed, whether the orderly lock is held. Timestamps are epoch ms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProcessQueueInfo {
    /// The offset the consumer would commit now (next to consume).
    pub commit_offset: i64,
    /// Lowest buffered offset (0 when nothing is buffered).
    pub cached_msg_min_offset: i64,
    /// Highest buffered offset (0 when nothing is buffered).
    pub cached_msg_max_offset: i64,
    /// Messages buffered, those being consumed included.
    pub cached_msg_count: i32,
    /// Body bytes buffered, in whole MiB.
    #[serde(rename = "cachedMsgSizeInMiB")]
    pub cached_msg_size_in_mib: i32,
    /// Orderly mode: lowest offset of the batch being consumed.
    pub transaction_msg_min_offset: i64,
    /// Orderly mode: highest offset of the batch being consumed.
    pub transaction_msg_max_offset: i64,
    /// Orderly mode: messages in the batch being consumed.
    pub transaction_msg_count: i32,
    /// Orderly clustering: whether this client holds the broker lock.
    pub locked: bool,
    /// Times an unlock was postponed because a batch was still running.
    pub try_unlock_times: i64,
    /// When the broker lock was last granted or renewed.
    pub last_lock_timestamp: i64,
    /// Whether rebalance took the queue away (4.x spelled it `droped`, read too).
    #[serde(alias = "droped")]
    pub dropped: bool,
    /// When the queue was last pulled.
    pub last_pull_timestamp: i64,
    /// When messages of the queue were last consumed.
    pub last_consume_timestamp: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_info_has_object_keys_and_java_member_names() {
        let mut info = ConsumerRunningInfo::default();
        info.properties
            .insert(prop::CONSUME_TYPE.into(), "CONSUME_PASSIVELY".into());
        info.mq_table.insert(
            crate::body::MessageQueue {
                topic: "T".into(),
                broker_name: "b".into(),
                queue_id: 0,
            },
            ProcessQueueInfo {
                cached_msg_count: 2,
                ..ProcessQueueInfo::default()
            },
        );
        info.status_table.insert(
            "T".into(),
            ConsumeStatus {
                consume_ok_tps: 1.5,
                ..ConsumeStatus::default()
            },
        );
        let json = String::from_utf8(info.to_json()).expect("utf-8");
        assert!(
            json.starts_with(r#"{"mqTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"#),
            "{json}"
        );
        assert!(json.contains(r#""consumeOKTPS":1.5"#), "{json}");
        assert!(!json.contains("jstack"), "{json}");
        let back = ConsumerRunningInfo::from_json(json.as_bytes()).expect("reads back");
        assert_eq!(back, info);
        assert!(back.is_push());
    }

    #[test]
    fn direct_consumption_result_uses_java_enum_names() {
        let r = ConsumeMessageDirectlyResult {
            consume_result: Some(CMResult::Later),
            ..ConsumeMessageDirectlyResult::default()
        };
        let json = serde_json::to_string(&r).expect("serialises");
        assert_eq!(
            json,
            r#"{"autoCommit":true,"consumeResult":"CR_LATER","order":false,"spentTimeMills":0}"#
        );
        let back: ConsumeMessageDirectlyResult =
            crate::body::from_json(br#"{"consumeResult":"cr_success","order":"true"}"#)
                .expect("lenient");
        assert_eq!(back.consume_result, Some(CMResult::Success));
        assert!(back.order && back.auto_commit);
    }

    #[test]
    fn java_names_and_the_old_spelling() {
        let info = ProcessQueueInfo {
            cached_msg_size_in_mib: 3,
            dropped: true,
            ..ProcessQueueInfo::default()
        };
        let json = serde_json::to_value(&info).expect("serialises");
        assert_eq!(json["cachedMsgSizeInMiB"], 3);
        assert_eq!(json["dropped"], true);
        assert_eq!(json["tryUnlockTimes"], 0);
        let old: ProcessQueueInfo =
            crate::body::from_json(br#"{"droped":true,"cachedMsgCount":"7"}"#).expect("4.x body");
        assert!(old.dropped);
        assert_eq!(old.cached_msg_count, 7);
    }
}
