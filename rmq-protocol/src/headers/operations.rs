//! Headers of the operator requests mqadmin and the dashboard send to brokers: consumer running info and
//! direct consumption (forwarded to a client), producer connections, who consumes a topic, offset cloning,
//! broker-wide consume stats, stats windows and consume-queue inspection.

ext_header! {
    /// GET_CONSUMER_RUNNING_INFO (307), admin → broker → client.
    pub struct GetConsumerRunningInfoRequestHeader {
        /// Consumer group.
        consumer_group: String => "consumerGroup",
        /// The client asked (`ip@instance`).
        client_id: String => "clientId",
        /// Include a dump of the client's tasks (Java's primitive `boolean`: absent is false).
        jstack_enable: bool = false => "jstackEnable",
    }

    /// CONSUME_MESSAGE_DIRECTLY (309), admin → broker → client: hand one stored message to a consumer's
    /// listener. The broker fills `brokerName` and the body (the stored record).
    pub struct ConsumeMessageDirectlyResultRequestHeader {
        /// Consumer group.
        consumer_group: String => "consumerGroup",
        /// The client to run it on.
        client_id: Option<String> => "clientId",
        /// Offset message id of the stored message.
        msg_id: Option<String> => "msgId",
        /// The broker's name (the broker overwrites what was sent).
        broker_name: Option<String> => "brokerName",
        /// The message's topic (5.x).
        topic: Option<String> => "topic",
        /// The topic's sys flag (5.x, filled by the broker).
        topic_sys_flag: Option<i32> => "topicSysFlag",
        /// The group's sys flag (5.x, filled by the broker).
        group_sys_flag: Option<i32> => "groupSysFlag",
    }

    /// GET_PRODUCER_CONNECTION_LIST (204).
    pub struct GetProducerConnectionListRequestHeader {
        /// Producer group.
        producer_group: String => "producerGroup",
    }

    /// QUERY_TOPIC_CONSUME_BY_WHO (300).
    pub struct QueryTopicConsumeByWhoRequestHeader {
        /// Topic.
        topic: String => "topic",
    }

    /// CLONE_GROUP_OFFSET (314): copy one group's committed offsets to another.
    pub struct CloneGroupOffsetRequestHeader {
        /// Group to copy from.
        src_group: String => "srcGroup",
        /// Group to copy to.
        dest_group: String => "destGroup",
        /// Only this topic; absent or blank: every topic `srcGroup` has offsets for.
        topic: Option<String> => "topic",
        /// Copy even topics the online `srcGroup` no longer subscribes to.
        offline: bool = false => "offline",
    }

    /// GET_BROKER_CONSUME_STATS (317).
    pub struct GetConsumeStatsInBrokerHeader {
        /// Only ordered topics (Java's primitive `boolean`: absent is false).
        is_order: bool = false => "isOrder",
    }

    /// VIEW_BROKER_STATS_DATA (315).
    pub struct ViewBrokerStatsDataRequestHeader {
        /// Statistic, e.g. `TOPIC_PUT_NUMS`, `GROUP_GET_NUMS`.
        stats_name: String => "statsName",
        /// Its key: a topic, `topic@group`, or the cluster name for `BROKER_*`.
        stats_key: String => "statsKey",
    }

    /// QUERY_CONSUME_QUEUE (321): raw consume-queue units of one queue. Java annotates none of the fields; the
    /// primitives read 0 when absent.
    pub struct QueryConsumeQueueRequestHeader {
        /// Topic.
        topic: Option<String> => "topic",
        /// Queue id.
        queue_id: i32 = 0 => "queueId",
        /// First logical offset.
        index: i64 = 0 => "index",
        /// Units to return.
        count: i32 = 0 => "count",
        /// Evaluate this group's subscription against each unit.
        consumer_group: Option<String> => "consumerGroup",
    }
}
