//! Admin-tool headers (consumer connections, consume stats, offset reset).

ext_header! {
    /// GET_CONSUMER_CONNECTION_LIST (203).
    pub struct GetConsumerConnectionListRequestHeader {
        /// Consumer group.
        consumer_group: String => "consumerGroup",
    }

    /// GET_CONSUME_STATS (208).
    pub struct GetConsumeStatsRequestHeader {
        /// Consumer group.
        consumer_group: String => "consumerGroup",
        /// Restrict to one topic.
        topic: Option<String> => "topic",
    }

    /// INVOKE_BROKER_TO_RESET_OFFSET (222) / RESET_CONSUMER_CLIENT_OFFSET (220).
    pub struct ResetOffsetRequestHeader {
        /// Topic.
        topic: String => "topic",
        /// Consumer group.
        group: String => "group",
        /// Reset to this point in time, epoch ms.
        timestamp: i64 => "timestamp",
        /// Reset even forward.
        is_force: bool => "isForce",
    }
}
