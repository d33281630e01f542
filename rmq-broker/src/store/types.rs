//! The values the store takes and gives back: messages to append, put and read results, stats.

use std::net::SocketAddr;

use bytes::Bytes;

/// One message to append, as the broker hands it over (the store never sees a `RemotingCommand`).
#[derive(Debug, Clone)]
pub struct MessageToStore {
    /// Topic (also names the ConsumeQueue directory).
    pub topic: String,
    /// Queue id within the topic.
    pub queue_id: i32,
    /// User flag.
    pub flag: i32,
    /// Body as sent (possibly compressed).
    pub body: Bytes,
    /// Encoded properties string; the store adds nothing to it (UNIQ_KEY etc. are the broker's job).
    pub properties: String,
    /// MessageSysFlag; PREPARED and ROLLBACK records get queue offset 0 and no ConsumeQueue entry.
    pub sys_flag: i32,
    /// Producer timestamp, ms.
    pub born_timestamp: i64,
    /// Producer address.
    pub born_host: SocketAddr,
    /// Reconsume count.
    pub reconsume_times: i32,
    /// Half-message offset for committed transactions, else 0.
    pub prepared_transaction_offset: i64,
}

/// Where a message was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutResult {
    /// CommitLog offset of the record.
    pub phys_offset: i64,
    /// Offset in its ConsumeQueue.
    pub queue_offset: i64,
    /// Offset msg id (store host + CommitLog offset).
    pub msg_id: String,
    /// Record size.
    pub wrote_bytes: usize,
    /// Store timestamp written into the record.
    pub store_timestamp: i64,
}

/// Outcome of [`MessageStore::get_messages`] (Java's `GetMessageStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetMessageStatus {
    /// At least one message returned.
    Found,
    /// Entries were scanned but none matched the filter.
    NoMatchedMessage,
    /// The messages were deleted by cleanup while being read.
    MessageWasRemoving,
    /// The entries could not be read.
    OffsetFoundNull,
    /// The offset is beyond the max offset + 1.
    OffsetOverflowBadly,
    /// The offset equals the max offset (nothing new yet).
    OffsetOverflowOne,
    /// The offset is below the min offset.
    OffsetTooSmall,
    /// The queue exists but holds no message.
    NoMessageInQueue,
    /// No such topic/queue.
    NoMatchedLogicQueue,
}

/// Messages for one pull.
#[derive(Debug, Clone)]
pub struct GetMessageResult {
    /// What happened.
    pub status: GetMessageStatus,
    /// Where the next pull should start.
    pub next_begin_offset: i64,
    /// Queue min offset.
    pub min_offset: i64,
    /// Queue max offset.
    pub max_offset: i64,
    /// Raw stored records (one read from disk each span; slices share the read buffer).
    pub messages: Vec<Bytes>,
    /// Sum of the records' sizes.
    pub buffer_total_size: usize,
}

/// Messages found by key.
#[derive(Debug, Clone, Default)]
pub struct QueryMessageResult {
    /// Raw stored records, newest first.
    pub messages: Vec<Bytes>,
    /// Store timestamp of the newest indexed record.
    pub index_last_update_timestamp: i64,
    /// CommitLog offset of the newest indexed record.
    pub index_last_update_phy_offset: i64,
}

/// Store figures for runtime info and tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreStats {
    /// First readable CommitLog offset.
    pub commit_log_min_offset: i64,
    /// End of the written (readable) CommitLog.
    pub commit_log_max_offset: i64,
    /// End of the synced CommitLog.
    pub flushed_offset: i64,
    /// End of the dispatched CommitLog.
    pub dispatched_offset: i64,
    /// Messages stored since open.
    pub put_message_count: u64,
    /// Record bytes stored since open.
    pub put_bytes: u64,
    /// Disk usage of the CommitLog's file system (0..1).
    pub disk_used_ratio: f64,
    /// Whether writes are refused for lack of disk.
    pub disk_full: bool,
    /// Number of CommitLog segments.
    pub commit_log_files: usize,
    /// Number of ConsumeQueues.
    pub consume_queues: usize,
    /// Number of index files.
    pub index_files: usize,
}
