//! The command line: mqadmin's command names (camelCase) and short flags, parsed by clap.
//!
//! Flags follow `org.apache.rocketmq.tools.command.*` so an operator's muscle memory and scripts carry over;
//! where mqadmin has no flag for something the brief asks for, a long-only flag is added (`--max-count`,
//! `--all`) rather than inventing a short one that could clash with a future mqadmin flag.

use clap::{Args, Parser, Subcommand};

/// `rmq-admin`: RocketMQ's mqadmin commands for rmq (and any RocketMQ) clusters.
#[derive(Debug, Parser)]
#[command(name = "rmq-admin", version, about, propagate_version = true)]
pub struct Cli {
    /// Name server address list, `host:port;host:port` (mqadmin's -n).
    #[arg(
        short = 'n',
        long = "namesrv",
        env = "NAMESRV_ADDR",
        default_value = "127.0.0.1:9876",
        global = true,
        help_heading = "Global options"
    )]
    pub namesrv: String,
    /// Print JSON on stdout instead of tables.
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
    /// Timeout of each request (and each connect), in milliseconds.
    #[arg(
        long = "timeout-ms",
        default_value_t = 3000,
        global = true,
        help_heading = "Global options",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub timeout_ms: u64,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// One broker address or every master of a cluster: where a write goes (mqadmin's `-b` / `-c`).
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct Target {
    /// Broker address, `host:port`.
    #[arg(short = 'b', long = "brokerAddr")]
    pub broker_addr: Option<String>,
    /// Cluster name: every master of it.
    #[arg(short = 'c', long = "clusterName")]
    pub cluster: Option<String>,
}

/// Every mqadmin command rmq-admin knows.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update a topic on a broker or on every master of a cluster.
    #[command(name = "updateTopic")]
    UpdateTopic {
        /// Topic name.
        #[arg(short = 't', long = "topic")]
        topic: String,
        #[command(flatten)]
        target: Target,
        /// Read queues.
        #[arg(short = 'r', long = "readQueueNums", default_value_t = 8)]
        read_queues: i32,
        /// Write queues.
        #[arg(short = 'w', long = "writeQueueNums", default_value_t = 8)]
        write_queues: i32,
        /// Permission: 2 write only, 4 read only, 6 read and write.
        #[arg(short = 'p', long = "perm", default_value_t = 6)]
        perm: i32,
        /// Ordered topic (true / false).
        #[arg(short = 'o', long = "order", default_value_t = false, action = clap::ArgAction::Set)]
        order: bool,
        /// Topic attributes, `+key=value,+k2=v2` (e.g. `+message.type=FIFO`), as mqadmin's `-a`.
        #[arg(short = 'a', long = "attributes", default_value = "")]
        attributes: String,
    },
    /// Delete a topic from every master of a cluster and from the name servers.
    #[command(name = "deleteTopic")]
    DeleteTopic {
        /// Topic name.
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// Cluster name.
        #[arg(short = 'c', long = "clusterName")]
        cluster: String,
    },
    /// List every topic the name servers route; with -c, per topic its cluster and consumer groups.
    #[command(name = "topicList")]
    TopicList {
        /// Show each topic's cluster and consumer groups.
        #[arg(short = 'c', long = "clusterModel")]
        cluster_model: bool,
    },
    /// Show a topic's route: brokers and queue counts.
    #[command(name = "topicRoute")]
    TopicRoute {
        /// Topic name.
        #[arg(short = 't', long = "topic")]
        topic: String,
    },
    /// Per queue: broker, queue id, min and max offset, last update time.
    #[command(name = "topicStatus")]
    TopicStatus {
        /// Topic name.
        #[arg(short = 't', long = "topic")]
        topic: String,
    },
    /// The clusters holding a topic.
    #[command(name = "topicClusterList")]
    TopicClusterList {
        /// Topic name.
        #[arg(short = 't', long = "topic")]
        topic: String,
    },
    /// Every cluster and broker the name servers know, with version and message counts.
    #[command(name = "clusterList")]
    ClusterList {
        /// Yesterday's and today's in and out totals per broker.
        #[arg(short = 'm', long = "moreStats")]
        more_stats: bool,
        /// Repeat every this many seconds.
        #[arg(short = 'i', long = "interval")]
        interval: Option<u64>,
        /// Only this cluster.
        #[arg(short = 'c', long = "clusterName")]
        cluster: Option<String>,
        /// With -i, stop after this many rounds (mqadmin runs until interrupted).
        #[arg(long = "rounds")]
        rounds: Option<u32>,
    },
    /// A broker's runtime figures (or those of every master of a cluster).
    #[command(name = "brokerStatus")]
    BrokerStatus {
        #[command(flatten)]
        target: Target,
    },
    /// A broker's effective configuration (or that of every master of a cluster).
    #[command(name = "getBrokerConfig")]
    GetBrokerConfig {
        #[command(flatten)]
        target: Target,
    },
    /// Show a message by its offset message id: every field, properties and body.
    #[command(name = "queryMsgById")]
    QueryMsgById {
        /// Offset message id (what sendMessage and dlqList print as the offset msg id).
        #[arg(short = 'i', long = "msgId")]
        msg_id: String,
    },
    /// Find messages of a topic by key.
    #[command(name = "queryMsgByKey")]
    QueryMsgByKey {
        /// Topic name.
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// Message key.
        #[arg(short = 'k', long = "msgKey")]
        key: String,
        /// Only messages stored at or after this time (ms, `now`, or yyyy-MM-dd#HH:mm:ss:SSS).
        #[arg(short = 'b', long = "beginTimestamp")]
        begin: Option<String>,
        /// Only messages stored at or before this time.
        #[arg(short = 'e', long = "endTimestamp")]
        end: Option<String>,
        /// At most this many messages.
        #[arg(short = 'c', long = "maxNum", default_value_t = 64, value_parser = clap::value_parser!(i32).range(1..))]
        max: i32,
    },
    /// Show the message at one offset of one queue.
    #[command(name = "queryMsgByOffset")]
    QueryMsgByOffset {
        /// Topic name.
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// Broker name.
        #[arg(short = 'b', long = "brokerName")]
        broker: String,
        /// Queue id.
        #[arg(short = 'i', long = "queueId")]
        queue_id: i32,
        /// Queue offset.
        #[arg(short = 'o', long = "offset")]
        offset: i64,
    },
    /// Print the messages of a topic, optionally between two store times.
    #[command(name = "printMsg")]
    PrintMsg {
        /// Topic name.
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// Tag expression: `*` or `TagA || TagB`.
        #[arg(short = 's', long = "subExpression", default_value = "*")]
        sub_expression: String,
        /// Start at the first message stored at or after this time (ms, `now`, or yyyy-MM-dd#HH:mm:ss:SSS).
        #[arg(short = 'b', long = "beginTimestamp")]
        begin: Option<String>,
        /// Stop at the first message stored at or after this time.
        #[arg(short = 'e', long = "endTimestamp")]
        end: Option<String>,
        /// Print bodies (true / false).
        #[arg(short = 'd', long = "printBody", default_value_t = true, action = clap::ArgAction::Set)]
        print_body: bool,
        /// Stop after this many messages.
        #[arg(long = "max-count")]
        max_count: Option<usize>,
    },
    /// Send one message and print where it was stored.
    #[command(name = "sendMessage")]
    SendMessage {
        /// Topic name.
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// Message body.
        #[arg(short = 'p', long = "body")]
        body: String,
        /// Keys, space separated.
        #[arg(short = 'k', long = "keys")]
        keys: Option<String>,
        /// Tag.
        #[arg(short = 'c', long = "tags")]
        tags: Option<String>,
        /// Broker name (with -i: send to that queue).
        #[arg(short = 'b', long = "broker", requires = "queue_id")]
        broker: Option<String>,
        /// Queue id (with -b).
        #[arg(short = 'i', long = "qid", requires = "broker")]
        queue_id: Option<i32>,
    },
    /// Pull messages of a topic (or one queue) and print them, committing nothing.
    #[command(name = "consumeMessage")]
    ConsumeMessage {
        /// Topic name.
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// Consumer group the pulls are made as (default TOOLS_CONSUMER).
        #[arg(short = 'g', long = "consumerGroup")]
        group: Option<String>,
        /// Number of messages to print.
        #[arg(short = 'c', long = "MessageNumber", default_value_t = 128, value_parser = clap::value_parser!(u64).range(1..))]
        count: u64,
        /// Broker name (with -i: one queue only).
        #[arg(short = 'b', long = "brokerName", requires = "queue_id")]
        broker: Option<String>,
        /// Queue id (with -b).
        #[arg(short = 'i', long = "queueId", requires = "broker")]
        queue_id: Option<i32>,
        /// Start offset in that queue (with -b and -i).
        #[arg(short = 'o', long = "offset", requires = "queue_id")]
        offset: Option<i64>,
        /// Start at the first message stored at or after this time (ms, `now`, or yyyy-MM-dd#HH:mm:ss:SSS).
        #[arg(short = 's', long = "beginTimestamp")]
        begin: Option<String>,
        /// Stop at the first message stored at or after this time.
        #[arg(short = 'e', long = "endTimestamp")]
        end: Option<String>,
    },
    /// A consumer group's progress: per queue broker offset, consumer offset and lag.
    #[command(name = "consumerProgress")]
    ConsumerProgress {
        /// Consumer group.
        #[arg(short = 'g', long = "groupName")]
        group: String,
        /// Only this topic.
        #[arg(short = 't', long = "topicName")]
        topic: Option<String>,
    },
    /// The online members of a consumer group: client ids, addresses, versions, subscriptions.
    #[command(name = "consumerConnection")]
    ConsumerConnection {
        /// Consumer group.
        #[arg(short = 'g', long = "consumerGroup")]
        group: String,
    },
    // ---- operations: running info, producers, offsets, stats, consume queues, config ----
    /// A consumer group's running info: per client its settings, subscriptions, queues and rates.
    #[command(name = "consumerStatus")]
    ConsumerStatus {
        /// Consumer group.
        #[arg(short = 'g', long = "consumerGroup")]
        group: String,
        /// Only this client (prints its full running info).
        #[arg(short = 'i', long = "clientId")]
        client_id: Option<String>,
        /// Include a dump of the client's tasks (Java: its thread stacks).
        #[arg(short = 's', long = "jstack")]
        jstack: bool,
    },
    /// The connections of a producer group.
    #[command(name = "producerConnection")]
    ProducerConnection {
        /// Producer group.
        #[arg(short = 'g', long = "producerGroup")]
        group: String,
        /// A topic the group sends to (its brokers are asked).
        #[arg(short = 't', long = "topic")]
        topic: String,
    },
    /// Change one broker setting on a broker or on every master of a cluster.
    #[command(name = "updateBrokerConfig")]
    UpdateBrokerConfig {
        #[command(flatten)]
        target: Target,
        /// Config key (broker.conf spelling).
        #[arg(short = 'k', long = "key")]
        key: String,
        /// New value.
        #[arg(short = 'v', long = "value")]
        value: String,
    },
    /// Change a topic's permission (2 write only, 4 read only, 6 read and write).
    #[command(name = "updateTopicPerm")]
    UpdateTopicPerm {
        /// Topic name.
        #[arg(short = 't', long = "topic")]
        topic: String,
        #[command(flatten)]
        target: Target,
        /// New permission.
        #[arg(short = 'p', long = "perm", value_parser = clap::value_parser!(i32).range(0..8))]
        perm: i32,
    },
    /// Copy a consumer group's offsets on a topic to another group.
    #[command(name = "cloneGroupOffset")]
    CloneGroupOffset {
        /// Group to copy from.
        #[arg(short = 's', long = "srcGroup")]
        src: String,
        /// Group to copy to.
        #[arg(short = 'd', long = "destGroup")]
        dest: String,
        /// Topic.
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// Accepted for mqadmin compatibility (its value is ignored there too).
        #[arg(short = 'o', long = "offline")]
        offline: Option<String>,
    },
    /// Every group's lag on one broker, per queue.
    #[command(name = "brokerConsumeStats")]
    BrokerConsumeStats {
        /// Broker address.
        #[arg(short = 'b', long = "brokerAddr")]
        broker_addr: String,
        /// Only rows whose lag is at least this.
        #[arg(short = 'l', long = "level", default_value_t = 0)]
        level: i64,
        /// Only ordered topics (true / false).
        #[arg(short = 'o', long = "order", default_value_t = false, action = clap::ArgAction::Set)]
        order: bool,
        /// Accepted for mqadmin compatibility; --timeout-ms sets the timeout.
        #[arg(short = 't', long = "timeoutMillis")]
        timeout_millis: Option<u64>,
    },
    /// Per topic and consumer group: lag, in and out TPS, messages in the last 24 hours.
    #[command(name = "statsAll")]
    StatsAll {
        /// Hide topics with no traffic.
        #[arg(short = 'a', long = "activeTopic")]
        active: bool,
        /// Only this topic.
        #[arg(short = 't', long = "topic")]
        topic: Option<String>,
    },
    /// Raw consume-queue units of one queue.
    #[command(name = "queryCq")]
    QueryCq {
        /// Topic.
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// Queue id.
        #[arg(short = 'q', long = "queue")]
        queue_id: i32,
        /// First logical offset.
        #[arg(short = 'i', long = "index")]
        index: i64,
        /// Units to show.
        #[arg(short = 'c', long = "count", default_value_t = 10)]
        count: i32,
        /// Broker address (default: the master of the topic's first broker).
        #[arg(short = 'b', long = "broker")]
        broker: Option<String>,
        /// Evaluate this consumer group's subscription against each unit.
        #[arg(short = 'g', long = "consumer")]
        group: Option<String>,
    },
    /// Delete consume queues whose messages all expired (one broker, a cluster, or every broker).
    #[command(name = "cleanExpiredCQ")]
    CleanExpiredCq {
        /// Broker address.
        #[arg(short = 'b', long = "brokerAddr")]
        broker_addr: Option<String>,
        /// Cluster name.
        #[arg(short = 'c', long = "cluster")]
        cluster: Option<String>,
    },
    /// Delete consume queues of topics that no longer exist (one broker, a cluster, or every broker).
    #[command(name = "cleanUnusedTopic")]
    CleanUnusedTopic {
        /// Broker address.
        #[arg(short = 'b', long = "brokerAddr")]
        broker_addr: Option<String>,
        /// Cluster name.
        #[arg(short = 'c', long = "cluster")]
        cluster: Option<String>,
    },
    /// Find a message by its unique key (the id producers report); with -g and -d, hand it to that consumer.
    #[command(name = "queryMsgByUniqueKey")]
    QueryMsgByUniqueKey {
        /// Unique key (UNIQ_KEY).
        #[arg(short = 'i', long = "msgId")]
        key: String,
        /// Topic.
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// Consumer group to hand the message to (with -d).
        #[arg(short = 'g', long = "consumerGroup", requires = "client_id")]
        group: Option<String>,
        /// Client id to hand the message to (with -g).
        #[arg(short = 'd', long = "clientId", requires = "group")]
        client_id: Option<String>,
        /// Every message with that key, not only the first.
        #[arg(short = 'a', long = "showAll")]
        show_all: bool,
    },
    /// Print the messages of one queue, optionally in a time range, or count them per tag.
    #[command(name = "printMsgByQueue")]
    PrintMsgByQueue {
        /// Topic.
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// Broker name.
        #[arg(short = 'a', long = "brokerName")]
        broker_name: String,
        /// Queue id.
        #[arg(short = 'i', long = "queueId")]
        queue_id: i32,
        /// Start time (epoch ms or yyyy-MM-dd#HH:mm:ss:SSS).
        #[arg(short = 'b', long = "beginTimestamp")]
        begin: Option<String>,
        /// End time (epoch ms or yyyy-MM-dd#HH:mm:ss:SSS).
        #[arg(short = 'e', long = "endTimestamp")]
        end: Option<String>,
        /// Only messages with these tags (`*` for all).
        #[arg(short = 's', long = "subExpression", default_value = "*")]
        sub_expression: String,
        /// Print each message (true / false).
        #[arg(short = 'p', long = "print", default_value_t = false, action = clap::ArgAction::Set)]
        print: bool,
        /// Print bodies too.
        #[arg(short = 'd', long = "printBody")]
        print_body: bool,
        /// Count messages per tag (true / false).
        #[arg(short = 'f', long = "calculate", default_value_t = false, action = clap::ArgAction::Set)]
        calculate: bool,
    },
    /// How the averagely strategy would split a topic's queues among these client ids.
    #[command(name = "allocateMQ")]
    AllocateMq {
        /// Topic.
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// Client ids (IPs), comma separated.
        #[arg(short = 'i', long = "ipList")]
        ip_list: String,
    },
    /// Send round trip per broker: `amount` sends to the topic named after each broker, every `interval`.
    #[command(name = "clusterRT")]
    ClusterRt {
        /// Sends per broker and round.
        #[arg(short = 'a', long = "amount", default_value_t = 100)]
        amount: u32,
        /// Body size in bytes.
        #[arg(short = 's', long = "size", default_value_t = 128)]
        size: usize,
        /// Only this cluster.
        #[arg(short = 'c', long = "cluster")]
        cluster: Option<String>,
        /// Seconds between rounds.
        #[arg(short = 'i', long = "interval", default_value_t = 10)]
        interval: u64,
        /// Stop after this many rounds (mqadmin runs until interrupted).
        #[arg(long = "rounds")]
        rounds: Option<u32>,
    },
    /// Send `count` messages to the topic named after a broker and print each result with its round trip.
    #[command(name = "sendMsgStatus")]
    SendMsgStatus {
        /// Broker name (its own topic).
        #[arg(short = 'b', long = "brokerName")]
        broker_name: String,
        /// Body size in bytes.
        #[arg(short = 's', long = "messageSize", default_value_t = 128)]
        size: usize,
        /// Messages.
        #[arg(short = 'c', long = "count", default_value_t = 50)]
        count: u32,
    },
    /// Send round trip per queue of a topic.
    #[command(name = "checkMsgSendRT")]
    CheckMsgSendRt {
        /// Topic.
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// Messages.
        #[arg(short = 'a', long = "amount", default_value_t = 100)]
        amount: u32,
        /// Body size in bytes.
        #[arg(short = 's', long = "size", default_value_t = 128)]
        size: usize,
    },
    /// Create or update a consumer group on a broker or on every master of a cluster.
    #[command(name = "updateSubGroup")]
    UpdateSubGroup {
        /// Consumer group.
        #[arg(short = 'g', long = "groupName")]
        group: String,
        #[command(flatten)]
        target: Target,
        /// Whether the group may consume.
        #[arg(short = 's', long = "consumeEnable")]
        consume_enable: Option<bool>,
        /// Whether a new member may start from the min offset (mqadmin default false).
        #[arg(short = 'm', long = "consumeFromMinEnable")]
        consume_from_min_enable: Option<bool>,
        /// Whether broadcasting consumption is allowed (mqadmin default false).
        #[arg(short = 'd', long = "consumeBroadcastEnable")]
        consume_broadcast_enable: Option<bool>,
        /// Whether the group consumes orderly.
        #[arg(short = 'o', long = "consumeMessageOrderly")]
        consume_message_orderly: Option<bool>,
        /// Queues of the group's retry topic.
        #[arg(short = 'q', long = "retryQueueNums")]
        retry_queue_nums: Option<i32>,
        /// Deliveries before a message goes to the dead-letter queue.
        #[arg(short = 'r', long = "retryMaxTimes")]
        retry_max_times: Option<i32>,
        /// Broker id to consume from.
        #[arg(short = 'i', long = "brokerId")]
        broker_id: Option<i64>,
        /// Broker id to switch to when consumption is slow.
        #[arg(short = 'w', long = "whichBrokerWhenConsumeSlowly")]
        which_broker_when_consume_slowly: Option<i64>,
        /// Whether members are told when the group changes.
        #[arg(short = 'a', long = "notifyConsumerIdsChanged")]
        notify_consumer_ids_changed: Option<bool>,
    },
    /// Delete a consumer group from a broker or from every master of a cluster.
    #[command(name = "deleteSubGroup")]
    DeleteSubGroup {
        /// Consumer group.
        #[arg(short = 'g', long = "groupName")]
        group: String,
        #[command(flatten)]
        target: Target,
        /// Also delete the group's committed offsets (true / false).
        #[arg(short = 'r', long = "removeOffset", default_value_t = false, action = clap::ArgAction::Set)]
        remove_offset: bool,
    },
    /// Move a consumer group's offsets on a topic to a point in time; running members restart from there.
    #[command(name = "resetOffsetByTime")]
    ResetOffsetByTime {
        /// Consumer group.
        #[arg(short = 'g', long = "group")]
        group: String,
        /// Topic name.
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// The time: ms since the epoch, `now`, or yyyy-MM-dd#HH:mm:ss:SSS (local time).
        #[arg(short = 's', long = "timestamp")]
        timestamp: String,
        /// Also move forward (true / false); without force a queue only moves back.
        #[arg(short = 'f', long = "force", default_value_t = true, action = clap::ArgAction::Set)]
        force: bool,
    },
    /// List a consumer group's dead letters (`%DLQ%<group>`).
    #[command(name = "dlqList")]
    DlqList {
        /// Consumer group.
        #[arg(short = 'g', long = "group")]
        group: String,
        /// Stop after this many messages.
        #[arg(long = "max-count")]
        max_count: Option<usize>,
    },
    /// Resend dead letters of a consumer group to their original topic.
    #[command(name = "dlqResend")]
    DlqResend {
        /// Consumer group.
        #[arg(short = 'g', long = "group")]
        group: String,
        /// Offset message id of the dead letter (as dlqList prints it).
        #[arg(
            short = 'i',
            long = "msgId",
            required_unless_present = "all",
            conflicts_with = "all"
        )]
        msg_id: Option<String>,
        /// Every dead letter of the group.
        #[arg(long = "all")]
        all: bool,
        /// Resend to this topic instead of the recorded original one.
        #[arg(short = 't', long = "topic")]
        topic: Option<String>,
    },
    // ---- name server (KV config, name-server config, write permission) ----
    /// Create or update a KV config entry on every name server (PUT_KV_CONFIG).
    #[command(name = "updateKvConfig")]
    UpdateKvConfig {
        /// Namespace.
        #[arg(short = 's', long = "namespace")]
        namespace: String,
        /// Key.
        #[arg(short = 'k', long = "key")]
        key: String,
        /// Value.
        #[arg(short = 'v', long = "value")]
        value: String,
    },
    /// Delete a KV config entry from every name server (DELETE_KV_CONFIG).
    #[command(name = "deleteKvConfig")]
    DeleteKvConfig {
        /// Namespace.
        #[arg(short = 's', long = "namespace")]
        namespace: String,
        /// Key.
        #[arg(short = 'k', long = "key")]
        key: String,
    },
    /// Print the config of each name server of -n (GET_NAMESRV_CONFIG).
    #[command(name = "getNamesrvConfig")]
    GetNamesrvConfig,
    /// Update one config key on each name server of -n (UPDATE_NAMESRV_CONFIG).
    #[command(name = "updateNamesrvConfig")]
    UpdateNamesrvConfig {
        /// Config key (Java's NamesrvConfig spelling, e.g. orderMessageEnable).
        #[arg(short = 'k', long = "key")]
        key: String,
        /// New value.
        #[arg(short = 'v', long = "value")]
        value: String,
    },
    /// Put, get or delete the ordered-topic setting (`brokerName:queueNums;...`) of a topic in the name
    /// servers' KV config (namespace ORDER_TOPIC_CONFIG).
    #[command(name = "updateOrderConf")]
    UpdateOrderConf {
        /// Topic.
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// put, get or delete.
        #[arg(short = 'm', long = "method", value_enum)]
        method: OrderConfMethod,
        /// `brokerName:queueNums;brokerName:queueNums` (needed for put).
        #[arg(short = 'v', long = "orderConf")]
        order_conf: Option<String>,
    },
    /// Clear the write permission of a broker's queues in every name server's routes (WIPE_WRITE_PERM_OF_BROKER).
    #[command(name = "wipeWritePerm")]
    WipeWritePerm {
        /// Broker name.
        #[arg(short = 'b', long = "brokerName")]
        broker_name: String,
    },
    /// Give a broker's queues read and write permission (6) in every name server's routes (ADD_WRITE_PERM_OF_BROKER).
    #[command(name = "addWritePerm")]
    AddWritePerm {
        /// Broker name.
        #[arg(short = 'b', long = "brokerName")]
        broker_name: String,
    },
}

/// updateOrderConf's `-m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OrderConfMethod {
    /// Replace the topic's setting on every name server.
    Put,
    /// Read it from one name server.
    Get,
    /// Remove it from every name server.
    Delete,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn mqadmin_spellings_parse() {
        let cli = Cli::try_parse_from([
            "rmq-admin",
            "updateTopic",
            "-n",
            "h:1",
            "-t",
            "T",
            "-c",
            "DefaultCluster",
            "-r",
            "2",
            "-w",
            "3",
        ])
        .unwrap();
        assert_eq!(cli.namesrv, "h:1");
        match cli.command {
            Command::UpdateTopic {
                topic,
                target,
                read_queues,
                write_queues,
                perm,
                ..
            } => {
                assert_eq!(
                    (topic.as_str(), read_queues, write_queues, perm),
                    ("T", 2, 3, 6)
                );
                assert_eq!(target.cluster.as_deref(), Some("DefaultCluster"));
            }
            other => panic!("parsed as {other:?}"),
        }
        let err = Cli::try_parse_from(["rmq-admin", "updateTopic", "-t", "T"]).unwrap_err();
        assert!(err.to_string().contains("--brokerAddr"), "{err}");
        let err = Cli::try_parse_from([
            "rmq-admin",
            "deleteSubGroup",
            "-g",
            "G",
            "-b",
            "a:1",
            "-c",
            "C",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("cannot be used with"), "{err}");
        assert!(Cli::try_parse_from(["rmq-admin", "dlqResend", "-g", "G"]).is_err());
        assert!(Cli::try_parse_from(["rmq-admin", "dlqResend", "-g", "G", "--all"]).is_ok());
    }
}
