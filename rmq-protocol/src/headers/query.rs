//! Message lookup headers (docs/protocol.md §2.3.7).

ext_header! {
    /// VIEW_MESSAGE_BY_ID (33): one stored message by its commit-log offset.
    pub struct ViewMessageRequestHeader {
        /// Commit-log offset, taken from an offset message id.
        offset: i64 => "offset",
        /// Topic, for permission checks.
        topic: Option<String> => "topic",
    }

    /// QUERY_MESSAGE (12): messages by key in a time range. A UNIQ_KEY lookup also carries ext
    /// `_UNIQUE_KEY_QUERY=true`, which the broker reads separately.
    pub struct QueryMessageRequestHeader {
        /// Topic.
        topic: String => "topic",
        /// Business key or UNIQ_KEY.
        key: String => "key",
        /// At most this many messages.
        max_num: i32 => "maxNum",
        /// Range start, epoch ms.
        begin_timestamp: i64 => "beginTimestamp",
        /// Range end, epoch ms.
        end_timestamp: i64 => "endTimestamp",
    }

    /// Answer to QUERY_MESSAGE: how fresh the index is.
    pub struct QueryMessageResponseHeader {
        /// Last index update, epoch ms.
        index_last_update_timestamp: i64 => "indexLastUpdateTimestamp",
        /// Commit-log offset the index has reached.
        index_last_update_phyoffset: i64 => "indexLastUpdatePhyoffset",
    }
}
