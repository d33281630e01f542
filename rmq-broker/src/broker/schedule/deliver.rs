//! Delivery of due messages: the message a due record becomes on its real topic, and its re-put through the
//! write service.

use std::sync::Arc;

use bytes::Bytes;
use rmq_protocol::clock::Clock;
use rmq_protocol::message::properties::{self, Properties};
use rmq_protocol::message::stored::RecordView;

use super::Schedule;
use crate::broker::service::write::{Message, Origin, Props, WriteService};
use crate::broker::service::ServiceError;
use crate::store::{MessageStore, StoreError};

/// What the delivery tasks ([`delay_level`](super::delay_level), [`timer`](super::timer)) work with.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Delay table, wake-ups and progress.
    pub schedule: Arc<Schedule>,
    /// Where the parked messages are read.
    pub store: Arc<MessageStore>,
    /// Where due messages are put back.
    pub write: Arc<WriteService>,
    /// The clock due times are read on (virtual under a test's virtual time).
    pub clock: Clock,
}

/// The message a due record becomes on its real topic and queue; `None` (logged) when it lacks them.
pub(super) fn redelivery(
    record: &Bytes,
    v: &RecordView<'_>,
    edit: impl FnOnce(&mut Properties),
) -> Option<Message> {
    let mut props = Properties::parse(v.properties);
    let topic = props.get(properties::REAL_TOPIC).map(str::to_owned);
    let queue_id = props
        .get(properties::REAL_QUEUE_ID)
        .and_then(|q| q.parse::<i32>().ok());
    let (Some(topic), Some(queue_id)) = (topic, queue_id) else {
        tracing::error!(
            topic = v.topic,
            phys = v.commit_log_offset,
            "scheduled message without REAL_TOPIC/REAL_QID; dropped"
        );
        return None;
    };
    edit(&mut props);
    Some(Message {
        topic,
        queue_id,
        flag: v.flag,
        body: record.slice(v.body_pos..v.body_pos + v.body.len()),
        properties: Props::Parsed(props),
        sys_flag: v.sys_flag,
        born_timestamp: v.born_timestamp,
        born_host: v.born_host,
        reconsume_times: v.reconsume_times,
        prepared_transaction_offset: 0,
    })
}

/// What became of a re-put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reput {
    /// Stored (or written but not confirmed in time, which still stores it).
    Stored,
    /// Refused for good (the message cannot be stored anywhere); logged and skipped.
    Dropped,
    /// Refused for now (disk full, shutting down, i/o failure); try again later.
    Retry,
}

/// Puts a due message on its real topic.
pub(super) async fn reput(write: &WriteService, msg: Message) -> Reput {
    let (topic, queue_id) = (msg.topic.clone(), msg.queue_id);
    match write.put(Origin::Redelivery, msg).await {
        Ok(_) | Err(ServiceError::Store(StoreError::FlushTimeout { .. })) => Reput::Stored,
        Err(
            e @ ServiceError::Store(
                StoreError::MessageTooLarge { .. }
                | StoreError::PropertiesTooLarge { .. }
                | StoreError::InvalidTopic { .. },
            ),
        ) => {
            tracing::error!(topic, queue_id, error = %e, "scheduled message cannot be delivered; dropped");
            Reput::Dropped
        }
        Err(e) => {
            tracing::warn!(topic, queue_id, error = %e, "scheduled delivery failed; will retry");
            Reput::Retry
        }
    }
}
