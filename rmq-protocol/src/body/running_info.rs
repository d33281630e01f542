//! What a consumer reports about itself (Java's `ConsumerRunningInfo` parts), answered to
//! GET_CONSUMER_RUNNING_INFO and shown by `consumerStatus` and the console.

use serde::{Deserialize, Serialize};

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
