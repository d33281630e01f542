//! Admin-tool headers (topic stats, consumer connections, consume stats, offset reset) and the reply push.

ext_header! {
    /// GET_TOPIC_STATS_INFO (202): min/max offset of every queue of a topic.
    pub struct GetTopicStatsInfoRequestHeader {
        /// Topic.
        topic: String => "topic",
    }

    /// GET_CONSUMER_CONNECTION_LIST (203).
    pub struct GetConsumerConnectionListRequestHeader {
        /// Consumer group.
        consumer_group: String => "consumerGroup",
    }

    /// GET_CONSUME_STATS (208).
    pub struct GetConsumeStatsRequestHeader {
        /// Consumer group.
        consumer_group: String => "consumerGroup",
        /// Restrict to one topic; absent or blank means every topic the group has offsets for.
        topic: Option<String> => "topic",
    }

    /// INVOKE_BROKER_TO_RESET_OFFSET (222) / RESET_CONSUMER_CLIENT_OFFSET (220).
    ///
    /// Java 5.x adds `queueId` (default -1, every queue) and `offset` (an exact target for that queue).
    pub struct ResetOffsetRequestHeader {
        /// Topic.
        topic: String => "topic",
        /// Consumer group.
        group: String => "group",
        /// Reset to this point in time, epoch ms; -1 means each queue's max offset.
        timestamp: i64 => "timestamp",
        /// Reset even forward (without it a queue only moves back).
        is_force: bool => "isForce",
        /// Only this queue (5.x); absent or negative means every queue.
        queue_id: Option<i32> => "queueId",
        /// Exact target offset for `queue_id` (5.x); absent or -1 means "by timestamp".
        offset: Option<i64> => "offset",
    }

    /// PUSH_REPLY_MESSAGE_TO_CLIENT (326), broker → requesting client: the reply's send header plus where
    /// and when the broker got it. The body is the reply's body.
    pub struct ReplyMessageRequestHeader {
        /// Producer group of the replier.
        producer_group: String => "producerGroup",
        /// Reply topic (`<cluster>_REPLY_TOPIC`).
        topic: String => "topic",
        /// Template topic of the send.
        default_topic: String => "defaultTopic",
        /// Queue count for auto-create.
        default_topic_queue_nums: i32 => "defaultTopicQueueNums",
        /// Queue the replier asked for.
        queue_id: i32 => "queueId",
        /// MessageSysFlag bits.
        sys_flag: i32 => "sysFlag",
        /// Replier's epoch ms.
        born_timestamp: i64 => "bornTimestamp",
        /// User flag.
        flag: i32 => "flag",
        /// Properties string, with `PUSH_REPLY_TIME` added by the broker.
        properties: Option<String> => "properties",
        /// Reconsume count.
        reconsume_times: Option<i32> => "reconsumeTimes",
        /// Unit mode.
        unit_mode: Option<bool> => "unitMode",
        /// Replier's address as Java prints an `InetSocketAddress`: `/ip:port`.
        born_host: String => "bornHost",
        /// Broker's store address, same form.
        store_host: String => "storeHost",
        /// When the broker pushed the reply, epoch ms.
        store_timestamp: i64 => "storeTimestamp",
    }
}
