//! Retry and transaction headers (docs/protocol.md §2.3.5).

ext_header! {
    /// CONSUMER_SEND_MSG_BACK (36): a consumer handing a failed message back for retry or DLQ.
    pub struct ConsumerSendMsgBackRequestHeader {
        /// Commit-log offset of the failed message.
        offset: i64 => "offset",
        /// Consumer group.
        group: String => "group",
        /// Delay level; 0 = broker picks 3 + reconsume times, < 0 = straight to DLQ.
        delay_level: i32 => "delayLevel",
        /// Message id of the first delivery.
        origin_msg_id: Option<String> => "originMsgId",
        /// Topic of the first delivery.
        origin_topic: Option<String> => "originTopic",
        /// Unit mode (Java: `boolean unitMode = false`; `None` reads as false).
        unit_mode: Option<bool> => "unitMode",
        /// Client's max reconsume times.
        max_reconsume_times: Option<i32> => "maxReconsumeTimes",
    }

    /// END_TRANSACTION (37, oneway): commit or roll back a half message.
    pub struct EndTransactionRequestHeader {
        /// Real topic.
        topic: Option<String> => "topic",
        /// Producer group.
        producer_group: String => "producerGroup",
        /// Half message's queue offset.
        tran_state_table_offset: i64 => "tranStateTableOffset",
        /// Half message's commit-log offset.
        commit_log_offset: i64 => "commitLogOffset",
        /// 0 unknown, 8 commit, 12 rollback (MessageSysFlag transaction bits).
        commit_or_rollback: i32 => "commitOrRollback",
        /// Answer to a CHECK_TRANSACTION_STATE (Java: `Boolean fromTransactionCheck = false`; `None` reads as
        /// false).
        from_transaction_check: Option<bool> => "fromTransactionCheck",
        /// UNIQ_KEY of the message. Java's broker only logs it: empty when absent.
        msg_id: String = String::new() => "msgId",
        /// Transaction id.
        transaction_id: Option<String> => "transactionId",
    }

    /// CHECK_TRANSACTION_STATE (39, broker → producer, oneway): ask for a half message's outcome.
    pub struct CheckTransactionStateRequestHeader {
        /// Real topic.
        topic: Option<String> => "topic",
        /// Half message's queue offset.
        tran_state_table_offset: i64 => "tranStateTableOffset",
        /// Half message's commit-log offset.
        commit_log_offset: i64 => "commitLogOffset",
        /// UNIQ_KEY.
        msg_id: Option<String> => "msgId",
        /// Transaction id.
        transaction_id: Option<String> => "transactionId",
        /// Offset message id of the half message.
        offset_msg_id: Option<String> => "offsetMsgId",
        /// Broker name (`bname`).
        broker_name: Option<String> => "bname",
    }
}
