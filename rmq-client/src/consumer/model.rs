//! How a group consumes: one member or all get each message, and where a queue without progress starts.

/// Where a group with no committed offset starts reading a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeFromWhere {
    /// Only messages sent from now on (Java default).
    LastOffset,
    /// Everything still stored.
    FirstOffset,
    /// Messages stored at or after this time (ms since the epoch).
    Timestamp(i64),
}

impl ConsumeFromWhere {
    /// Java's enum constant, as heartbeats carry it.
    pub(crate) fn java_name(self) -> &'static str {
        match self {
            ConsumeFromWhere::LastOffset => "CONSUME_FROM_LAST_OFFSET",
            ConsumeFromWhere::FirstOffset => "CONSUME_FROM_FIRST_OFFSET",
            ConsumeFromWhere::Timestamp(_) => "CONSUME_FROM_TIMESTAMP",
        }
    }
}

/// Whether a message goes to one member of the group or to all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageModel {
    /// Queues are split among the members; offsets live on the broker.
    Clustering,
    /// Every member gets every message; offsets live in a local file per instance.
    Broadcasting,
}

impl MessageModel {
    /// Java's enum constant, as heartbeats carry it.
    pub(crate) fn java_name(self) -> &'static str {
        match self {
            MessageModel::Clustering => "CLUSTERING",
            MessageModel::Broadcasting => "BROADCASTING",
        }
    }
}
