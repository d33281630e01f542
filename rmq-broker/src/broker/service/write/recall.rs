//! Recalling a delayed message before it is delivered (RocketMQ 5.3's RECALL_MESSAGE and gRPC RecallMessage,
//! Java's `RecallMessageProcessor`): a marker with `TIMER_DEL_UNIQKEY` goes into the timer for the same delivery
//! time, and the timer drops the message with that UNIQ_KEY instead of delivering it.

use std::net::SocketAddr;

use bytes::Bytes;
use rmq_protocol::message::properties::{self, Properties};
use rmq_protocol::recall::RecallHandle;

use super::request::{Message, Origin, Props};
use super::service::WriteService;
use crate::broker::schedule::TIMER_MAX_DELAY_MS;
use crate::broker::service::ServiceError;

/// Java's `RECALL_MESSAGE_TAG`.
const RECALL_TAG: &str = "_RECALL_TAG_";

/// A producer's recall.
#[derive(Debug, Clone)]
pub struct Recall {
    /// The topic the producer names (must be the handle's).
    pub topic: String,
    /// The handle the send answered with.
    pub handle: String,
    /// The producer group, recorded on the marker.
    pub producer_group: String,
    /// The producer's address.
    pub born_host: SocketAddr,
}

impl WriteService {
    /// Cancels the delayed message a recall handle names; returns its message id.
    ///
    /// # Errors
    /// The broker not writable, an unknown topic, a handle that does not decode, names another topic or
    /// broker, or a delivery time already past (or beyond the timer's reach) — Java's checks and remarks.
    pub async fn recall(&self, r: Recall) -> Result<String, ServiceError> {
        self.check_broker_writable()?;
        if self.topics.get(&r.topic).is_none() {
            return Err(ServiceError::NoSuchTopic(format!(
                "recall failed, the topic[{}] not exist",
                r.topic
            )));
        }
        let h = RecallHandle::decode(&r.handle)
            .map_err(|e| ServiceError::IllegalOperation(e.to_string()))?;
        if h.topic != r.topic {
            return Err(ServiceError::IllegalOperation(
                "recall failed, topic not match".into(),
            ));
        }
        if h.broker_name != self.policy.broker_name {
            return Err(ServiceError::IllegalOperation(
                "recall failed, broker service not available".into(),
            ));
        }
        let at: i64 = h.deliver_ms.parse().unwrap_or(-1);
        let left = at - self.policy.clock.now_ms();
        if left <= 0 || left >= TIMER_MAX_DELAY_MS {
            return Err(ServiceError::IllegalOperation(
                "recall failed, timestamp invalid".into(),
            ));
        }
        let mut props = Properties::new();
        props.insert(properties::TAGS, RECALL_TAG);
        props.insert(properties::TIMER_DEL_UNIQKEY, h.message_id.clone());
        props.insert(properties::UNIQ_KEY, h.message_id.clone());
        props.insert(properties::TIMER_DELIVER_MS, h.deliver_ms.clone());
        props.insert(properties::PRODUCER_GROUP, r.producer_group);
        let now = self.policy.clock.now_ms();
        self.put(
            Origin::Recall,
            Message {
                topic: h.topic,
                queue_id: 0,
                flag: 0,
                body: Bytes::from_static(b"0"),
                properties: Props::Parsed(props),
                sys_flag: 0,
                born_timestamp: now,
                born_host: r.born_host,
                reconsume_times: 0,
                prepared_transaction_offset: 0,
            },
        )
        .await?;
        Ok(h.message_id)
    }

    /// The recall handle of a message of `topic` parked on the timer until `at` (epoch ms).
    pub(crate) fn recall_handle_of(&self, topic: &str, at: i64, uniq_key: &str) -> String {
        RecallHandle {
            topic: topic.to_owned(),
            broker_name: self.policy.broker_name.clone(),
            deliver_ms: at.to_string(),
            message_id: uniq_key.to_owned(),
        }
        .encode()
    }
}
