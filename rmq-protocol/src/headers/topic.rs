//! Topic admin headers (docs/protocol.md §2.3.7).

ext_header! {
    /// UPDATE_AND_CREATE_TOPIC (17): create or update a topic on a broker.
    pub struct CreateTopicRequestHeader {
        /// Topic name.
        topic: String => "topic",
        /// Template topic (`TBW102`). Java's broker never reads it: empty when absent.
        default_topic: String = String::new() => "defaultTopic",
        /// Read queue count.
        read_queue_nums: i32 => "readQueueNums",
        /// Write queue count.
        write_queue_nums: i32 => "writeQueueNums",
        /// PermName bits (6 = read + write).
        perm: i32 => "perm",
        /// `SINGLE_TAG` or `MULTI_TAG`.
        topic_filter_type: String => "topicFilterType",
        /// Topic sys flag.
        topic_sys_flag: Option<i32> => "topicSysFlag",
        /// Ordered topic (Java: `@CFNotNull Boolean order = false`: the initializer stands when absent).
        order: bool = false => "order",
        /// Attributes as `+key=value,+k2=v2`.
        attributes: Option<String> => "attributes",
        /// Override attribute checks (Java: `Boolean force = false`; `None` reads as false).
        force: Option<bool> => "force",
    }

    /// DELETE_TOPIC_IN_BROKER (215) / DELETE_TOPIC_IN_NAMESRV (216).
    pub struct DeleteTopicRequestHeader {
        /// Topic name.
        topic: String => "topic",
    }

    /// GET_TOPIC_CONFIG (217): one topic's config.
    pub struct GetTopicConfigRequestHeader {
        /// Topic name.
        topic: String => "topic",
    }
}
