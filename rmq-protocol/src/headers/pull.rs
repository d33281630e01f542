//! PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361) headers (docs/protocol.md §2.3.2).

ext_header! {
    /// What a consumer asks the broker for: a batch from one queue, with long-poll and offset-commit options.
    pub struct PullMessageRequestHeader {
        /// Consumer group.
        consumer_group: String => "consumerGroup",
        /// Topic to read.
        topic: String => "topic",
        /// Queue to read.
        queue_id: i32 => "queueId",
        /// Logical (consume-queue) offset to start at.
        queue_offset: i64 => "queueOffset",
        /// At most this many messages (Java: 32).
        max_msg_nums: i32 => "maxMsgNums",
        /// PullSysFlag bits: commit offset, suspend, subscription, class filter, lite pull.
        sys_flag: i32 => "sysFlag",
        /// The consumer's current offset, stored when the commit-offset bit is set. Java's `Long` is only
        /// unboxed under that bit, so an absent value is tolerated: it reads as -1, "nothing to commit" (the
        /// broker commits only offsets >= 0).
        commit_offset: i64 = -1 => "commitOffset",
        /// Long-poll hold time in ms (Java: 15000). Java's `Long` is only unboxed under the suspend bit: absent
        /// reads as 0, no hold.
        suspend_timeout_millis: i64 = 0 => "suspendTimeoutMillis",
        /// Tag or SQL92 expression; sent only with the subscription bit.
        subscription: Option<String> => "subscription",
        /// Subscription version (ms timestamp); the broker answers 25 if its copy is older.
        sub_version: i64 => "subVersion",
        /// `TAG` (default) or `SQL92`.
        expression_type: Option<String> => "expressionType",
        /// Byte cap of the batch (Java: 256 KiB).
        max_msg_bytes: Option<i32> => "maxMsgBytes",
        /// Proxy use: where the request came from.
        request_source: Option<i32> => "requestSource",
        /// Proxy use: the real client id (Java's key is misspelled "Froward").
        proxy_forward_client_id: Option<String> => "proxyFrowardClientId",
    }

    /// The broker's answer to a pull, with where to continue.
    pub struct PullMessageResponseHeader {
        /// Broker id the consumer should pull from next (0 = master).
        suggest_which_broker_id: i64 => "suggestWhichBrokerId",
        /// Offset of the next pull.
        next_begin_offset: i64 => "nextBeginOffset",
        /// The queue's minimum offset.
        min_offset: i64 => "minOffset",
        /// The queue's maximum offset.
        max_offset: i64 => "maxOffset",
        /// Static-topic offset delta.
        offset_delta: Option<i64> => "offsetDelta",
        /// The topic's sys flag.
        topic_sys_flag: Option<i32> => "topicSysFlag",
        /// The group's sys flag.
        group_sys_flag: Option<i32> => "groupSysFlag",
        /// Why the pull is forbidden, if it is.
        forbidden_type: Option<i32> => "forbiddenType",
    }
}
