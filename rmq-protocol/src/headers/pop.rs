//! POP consumption headers (RocketMQ 5.x; docs/pop-java.md §2): the broker hands out messages with an invisible
//! time and takes them back unless acked.

ext_header! {
    /// POP_MESSAGE (200050): up to `maxMsgNums` messages of a topic (one queue, or every read queue when
    /// `queueId` is negative), invisible to other pops for `invisibleTime`.
    pub struct PopMessageRequestHeader {
        /// Consumer group.
        consumer_group: String => "consumerGroup",
        /// The normal topic; the broker reads the group's POP retry topic as well.
        topic: String => "topic",
        /// Queue; negative (Java folds it to -1) for every read queue. Java's primitive `int`: absent reads as 0.
        queue_id: i32 = 0 => "queueId",
        /// At most this many messages (≤ 32).
        max_msg_nums: i32 = 0 => "maxMsgNums",
        /// How long the popped messages stay invisible, ms.
        invisible_time: i64 = 0 => "invisibleTime",
        /// Long-poll budget, ms; ≤ 0 answers at once.
        poll_time: i64 = 0 => "pollTime",
        /// Client clock at the request, ms; absent or 0 means the broker's now.
        born_time: i64 = 0 => "bornTime",
        /// Where a group without an offset starts: 0 MIN, 1 MAX.
        init_mode: i32 = 0 => "initMode",
        /// `TAG` or `SQL92`.
        exp_type: Option<String> => "expType",
        /// Filter expression; absent or empty subscribes `*`.
        exp: Option<String> => "exp",
        /// FIFO pop: one batch per queue in flight.
        order: Option<bool> => "order",
        /// FIFO retry idempotency key.
        attempt_id: Option<String> => "attemptId",
    }

    /// Answer to POP_MESSAGE; the body holds the stored records.
    pub struct PopMessageResponseHeader {
        /// Broker clock at the pop, ms.
        pop_time: i64 = 0 => "popTime",
        /// Echo of the request's invisible time.
        invisible_time: i64 = 0 => "invisibleTime",
        /// Revive queue of the checkpoint (999 for FIFO).
        revive_qid: i32 = 0 => "reviveQid",
        /// Estimate of the messages left.
        rest_num: i64 = 0 => "restNum",
        /// `flag queueId startOffset` entries, `;`-separated.
        start_offset_info: Option<String> => "startOffsetInfo",
        /// `flag queueId off1,off2,…` entries, `;`-separated.
        msg_offset_info: Option<String> => "msgOffsetInfo",
        /// FIFO delivery counts.
        order_count_info: Option<String> => "orderCountInfo",
    }

    /// ACK_MESSAGE (200051): one popped message consumed.
    pub struct AckMessageRequestHeader {
        /// Consumer group.
        consumer_group: String => "consumerGroup",
        /// The message's real topic (its POP retry topic when it came from there).
        topic: String => "topic",
        /// Queue of the message.
        queue_id: i32 => "queueId",
        /// The message's `POP_CK` string.
        extra_info: String => "extraInfo",
        /// Queue offset of the message.
        offset: i64 => "offset",
    }

    /// CHANGE_MESSAGE_INVISIBLETIME (200053): a popped message stays invisible for `invisibleTime` from now.
    pub struct ChangeInvisibleTimeRequestHeader {
        /// Consumer group.
        consumer_group: String => "consumerGroup",
        /// The message's real topic.
        topic: String => "topic",
        /// Queue of the message.
        queue_id: i32 => "queueId",
        /// The message's `POP_CK` string.
        extra_info: String => "extraInfo",
        /// Queue offset of the message.
        offset: i64 => "offset",
        /// New invisible time from now, ms.
        invisible_time: i64 => "invisibleTime",
    }

    /// Answer to CHANGE_MESSAGE_INVISIBLETIME: the parts of the message's new handle.
    pub struct ChangeInvisibleTimeResponseHeader {
        /// Pop time of the new handle.
        pop_time: i64 => "popTime",
        /// Invisible time of the new handle.
        invisible_time: i64 => "invisibleTime",
        /// Revive queue of the new handle.
        revive_qid: i32 => "reviveQid",
    }

    /// NOTIFICATION (200054): wait until the group has something to pop on the topic.
    pub struct NotificationRequestHeader {
        /// Consumer group.
        consumer_group: String => "consumerGroup",
        /// Topic.
        topic: String => "topic",
        /// Queue; negative for every read queue (absent: 0, Java's primitive `int`).
        queue_id: i32 = 0 => "queueId",
        /// Long-poll budget, ms.
        poll_time: i64 = 0 => "pollTime",
        /// Client clock at the request, ms.
        born_time: i64 = 0 => "bornTime",
        /// FIFO.
        order: Option<bool> => "order",
        /// FIFO attempt.
        attempt_id: Option<String> => "attemptId",
    }

    /// Answer to NOTIFICATION.
    pub struct NotificationResponseHeader {
        /// Whether there is something to pop.
        has_msg: bool = false => "hasMsg",
        /// Whether the broker could not hold the request.
        polling_full: Option<bool> => "pollingFull",
    }
}
