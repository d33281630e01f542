//! Why a service refused or failed a request. Each variant names one reason; codecs map them to wire codes
//! (remoting: `processor::status`), so a reason has one code everywhere.

use crate::broker::schedule::ScheduleError;
use crate::persist::PersistError;
use crate::store::StoreError;

/// A service's refusal or failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The broker's permission (`brokerPermission`) forbids writes.
    #[error("the broker[{broker}] sending message is forbidden")]
    BrokerNotWritable {
        /// The broker's address.
        broker: String,
    },
    /// The topic's permission forbids writes.
    #[error("the topic[{topic}] sending message is forbidden")]
    TopicNotWritable {
        /// The topic.
        topic: String,
    },
    /// Clients may not send to this system topic.
    #[error("Sending message to topic[{topic}] is forbidden.")]
    SystemTopic {
        /// The topic.
        topic: String,
    },
    /// The topic name breaks RocketMQ's naming rules (the text says which).
    #[error("{0}")]
    InvalidTopicName(String),
    /// A producer's topic does not exist and was not auto-created.
    #[error("topic[{topic}] not exist, apply first please! (autoCreateTopicEnable={auto_create})")]
    TopicNotExist {
        /// The topic.
        topic: String,
        /// `autoCreateTopicEnable`.
        auto_create: bool,
    },
    /// A topic named by an operator request does not exist.
    #[error("topic[{topic}] not exist")]
    UnknownTopic {
        /// The topic.
        topic: String,
    },
    /// The consumer group does not exist (and was not auto-created).
    #[error("subscription group not exist, {group}")]
    GroupNotExist {
        /// The group.
        group: String,
    },
    /// The requested queue id is not below the topic's queue count.
    #[error(
        "request queueId[{queue_id}] is illegal, topic {topic} has {write_queues} write queues"
    )]
    IllegalQueue {
        /// The requested queue id.
        queue_id: i32,
        /// The topic.
        topic: String,
        /// Its write queue count.
        write_queues: i32,
    },
    /// A body is larger than `maxMessageSize`.
    #[error("the message body size {len} is over the max value {max} (maxMessageSize)")]
    BodyTooLarge {
        /// The body's length.
        len: usize,
        /// `maxMessageSize`.
        max: usize,
    },
    /// The message breaks a rule of its kind of send (the text says which).
    #[error("{0}")]
    IllegalMessage(&'static str),
    /// A permission (broker, topic or group) forbids the request (the text says which).
    #[error("{0}")]
    Forbidden(String),
    /// The consumer group a read or offset request names does not exist (the text names it).
    #[error("{0}")]
    NoSuchGroup(String),
    /// The topic a read or offset request names does not exist (the text names it).
    #[error("{0}")]
    NoSuchTopic(String),
    /// The broker knows no subscription for the consumer's pull (the text says which).
    #[error("{0}")]
    NoSubscription(String),
    /// The consumer pulls with an older subscription than the broker has.
    #[error("{0}")]
    StaleSubscription(String),
    /// A filter expression does not parse or its type is unsupported (the text says where).
    #[error("{0}")]
    BadExpression(String),
    /// A request parameter is unusable (the text says which and why).
    #[error("{0}")]
    InvalidParameter(String),
    /// What the request names does not exist (the text says what).
    #[error("{0}")]
    NotFound(String),
    /// Nothing at the offset an ack or change of invisible time names (the text says what).
    #[error("{0}")]
    NoMessage(String),
    /// Refused as Java's ILLEGAL_OPERATION (the text says why).
    #[error("{0}")]
    IllegalOperation(String),
    /// A POP handle that does not name a message out on this broker (the text says why).
    #[error("{0}")]
    BadHandle(String),
    /// No consumer of the group is connected.
    #[error("the consumer group[{group}] not online")]
    ConsumerNotOnline {
        /// The group.
        group: String,
    },
    /// The broker cannot do it right now or hit an internal problem (the text says what).
    #[error("{0}")]
    System(String),
    /// A request or body does not decode (the text names the field).
    #[error(transparent)]
    Protocol(#[from] rmq_protocol::ProtocolError),
    /// The message's delay or delivery time is unusable.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// The store refused or failed the write.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Broker state (topics, groups, offsets) could not be saved.
    #[error("broker state could not be saved: {0}")]
    Persist(#[from] PersistError),
}
