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
    /// Java 5.x adds `queueId` (`int`, initializer -1: every queue) and `offset` (an exact target for that queue);
    /// a 4.x admin sends neither. `queue_id` stays an `Option`: `None` is Java's -1, the broker reads both as
    /// "every queue".
    pub struct ResetOffsetRequestHeader {
        /// Topic.
        topic: String => "topic",
        /// Consumer group.
        group: String => "group",
        /// Reset to this point in time, epoch ms; -1 means each queue's max offset. Java's field is a primitive
        /// `long` (its `@CFNotNull` only logs), so an absent value reads as 0.
        timestamp: i64 = 0 => "timestamp",
        /// Reset even forward (without it a queue only moves back). A primitive `boolean` in Java: absent is
        /// false.
        is_force: bool = false => "isForce",
        /// Only this queue (5.x); absent or negative means every queue.
        queue_id: Option<i32> => "queueId",
        /// Exact target offset for `queue_id` (5.x); absent or -1 means "by timestamp".
        offset: Option<i64> => "offset",
    }

    /// PUSH_REPLY_MESSAGE_TO_CLIENT (326), broker → requesting client: the reply's send header plus where
    /// and when the broker got it. The body is the reply's body.
    ///
    /// Java's client (`ClientRemotingProcessor.receiveReplyMessage`) never reads `producerGroup`,
    /// `defaultTopic` or `defaultTopicQueueNums` and null-checks `bornHost`/`storeHost`, so those take an empty
    /// default when absent; the `Integer` fields it unboxes stay required.
    pub struct ReplyMessageRequestHeader {
        /// Producer group of the replier (not read by Java's client: empty when absent).
        producer_group: String = String::new() => "producerGroup",
        /// Reply topic (`<cluster>_REPLY_TOPIC`).
        topic: String => "topic",
        /// Template topic of the send (not read by Java's client: empty when absent).
        default_topic: String = String::new() => "defaultTopic",
        /// Queue count for auto-create (not read by Java's client: 0 when absent).
        default_topic_queue_nums: i32 = 0 => "defaultTopicQueueNums",
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
        /// Unit mode (Java: `boolean unitMode = false`).
        unit_mode: bool = false => "unitMode",
        /// Replier's address as Java prints an `InetSocketAddress`: `/ip:port` (Java null-checks it: empty when
        /// absent).
        born_host: String = String::new() => "bornHost",
        /// Broker's store address, same form (empty when absent, as `born_host`).
        store_host: String = String::new() => "storeHost",
        /// When the broker pushed the reply, epoch ms (a primitive `long` in Java: 0 when absent).
        store_timestamp: i64 = 0 => "storeTimestamp",
    }
}
