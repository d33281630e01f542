//! The proxy's topic message-type check on a gRPC send (`ProducerProcessor` with
//! `enableTopicMessageTypeCheck`): retry and dead-letter topics are exempt; a mismatch is
//! `MESSAGE_PROPERTY_CONFLICT_WITH_TYPE`, the code the proxy maps its `MESSAGE_PROPERTY_CONFLICT_WITH_TYPE` to.
//!
//! Unlike Java, whose `TopicConfig` reads a missing attribute as NORMAL (and so refuses FIFO, delayed and
//! transactional messages to such a topic), a topic without `message.type` takes every type here, as its
//! route already advertises (see [`convert::accepted_types`](super::convert::accepted_types)).

use rmq_grpc::v2::{Code, Status};
use rmq_protocol::message::properties::Properties;
use rmq_protocol::topic::{is_dlq_topic, is_retry_topic};

use super::convert::status;
use crate::broker::message_type::{validate, TopicMessageType};
use crate::broker::processor::Services;

/// Refuses a message (its encoded `properties`) whose type is not `topic`'s.
///
/// # Errors
/// `MESSAGE_PROPERTY_CONFLICT_WITH_TYPE`, naming the topic's and the message's type.
pub fn check(services: &Services, topic: &str, properties: &str) -> Result<(), Status> {
    if !services.admin.config.enable_topic_message_type_check
        || is_retry_topic(topic)
        || is_dlq_topic(topic)
    {
        return Ok(());
    }
    let Some(expected) = services
        .admin
        .topics
        .get(topic)
        .and_then(|cfg| TopicMessageType::of_topic(&cfg))
    else {
        return Ok(());
    };
    let actual = TopicMessageType::of_message(&Properties::parse(properties));
    validate(expected, actual)
        .map_err(|e| status(Code::MessagePropertyConflictWithType, e.to_string()))
}
