//! What a send reports when the broker stored the message.

use rmq_protocol::body::MessageQueue;

/// How a send went when the broker stored the message (Java `SendStatus`); refusals are errors instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendStatus {
    /// Stored (and flushed/replicated as the broker is configured).
    SendOk,
    /// Stored, but the SYNC_FLUSH flush did not finish in time.
    FlushDiskTimeout,
    /// Stored, but the slave did not confirm in time.
    FlushSlaveTimeout,
    /// Stored, but no slave is available for SYNC_MASTER replication.
    SlaveNotAvailable,
}

/// Where a sent message landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    /// Outcome.
    pub status: SendStatus,
    /// The client-generated unique id (UNIQ_KEY), what consumers see as the msg id.
    pub msg_id: String,
    /// The broker's offset msg id (store host + commit-log offset), for VIEW_MESSAGE_BY_ID.
    pub offset_msg_id: String,
    /// The queue written.
    pub queue: MessageQueue,
    /// The message's offset in that queue.
    pub queue_offset: i64,
    /// Transaction id, for half messages.
    pub transaction_id: Option<String>,
    /// Broker region (MSG_REGION).
    pub region_id: Option<String>,
}
