//! Consumer offsets and queue offsets (docs/protocol.md §2.3.3).

ext_header! {
    /// QUERY_CONSUMER_OFFSET (14): the group's committed offset for a queue.
    pub struct QueryConsumerOffsetRequestHeader {
        /// Consumer group.
        consumer_group: String => "consumerGroup",
        /// Topic.
        topic: String => "topic",
        /// Queue.
        queue_id: i32 => "queueId",
        /// Whether an unknown offset may be answered with 0 (default true).
        set_zero_if_not_found: Option<bool> => "setZeroIfNotFound",
    }

    /// Answer to QUERY_CONSUMER_OFFSET.
    pub struct QueryConsumerOffsetResponseHeader {
        /// The committed offset.
        offset: i64 => "offset",
    }

    /// UPDATE_CONSUMER_OFFSET (15): commit a group's offset for a queue (usually oneway).
    pub struct UpdateConsumerOffsetRequestHeader {
        /// Consumer group.
        consumer_group: String => "consumerGroup",
        /// Topic.
        topic: String => "topic",
        /// Queue.
        queue_id: i32 => "queueId",
        /// Offset to store.
        commit_offset: i64 => "commitOffset",
    }

    /// GET_MAX_OFFSET (30): the next offset to be written in a queue.
    pub struct GetMaxOffsetRequestHeader {
        /// Topic.
        topic: String => "topic",
        /// Queue.
        queue_id: i32 => "queueId",
        /// Only committed data (Java: `boolean committed = true`, 5.x only; `None` reads as true).
        committed: Option<bool> => "committed",
    }

    /// Answer to GET_MAX_OFFSET.
    pub struct GetMaxOffsetResponseHeader {
        /// The offset.
        offset: i64 => "offset",
    }

    /// GET_MIN_OFFSET (31): the first offset still stored in a queue.
    pub struct GetMinOffsetRequestHeader {
        /// Topic.
        topic: String => "topic",
        /// Queue.
        queue_id: i32 => "queueId",
    }

    /// Answer to GET_MIN_OFFSET.
    pub struct GetMinOffsetResponseHeader {
        /// The offset.
        offset: i64 => "offset",
    }

    /// SEARCH_OFFSET_BY_TIMESTAMP (29): the queue offset of a point in time.
    pub struct SearchOffsetRequestHeader {
        /// Topic.
        topic: String => "topic",
        /// Queue.
        queue_id: i32 => "queueId",
        /// Epoch ms to look for.
        timestamp: i64 => "timestamp",
        /// `LOWER` (default) or `UPPER`, case-insensitive.
        boundary_type: Option<String> => "boundaryType",
    }

    /// Answer to SEARCH_OFFSET_BY_TIMESTAMP.
    pub struct SearchOffsetResponseHeader {
        /// The offset.
        offset: i64 => "offset",
    }

    /// GET_EARLIEST_MSG_STORETIME (32): store time of a queue's first message.
    pub struct GetEarliestMsgStoretimeRequestHeader {
        /// Topic.
        topic: String => "topic",
        /// Queue.
        queue_id: i32 => "queueId",
    }

    /// Answer to GET_EARLIEST_MSG_STORETIME.
    pub struct GetEarliestMsgStoretimeResponseHeader {
        /// Epoch ms.
        timestamp: i64 => "timestamp",
    }
}
