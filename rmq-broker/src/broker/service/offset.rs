//! The offset service: committed consumer offsets and the queue offsets of the store (QUERY/UPDATE consumer
//! offset, max/min offset, offset by time, earliest store time).

use std::sync::Arc;

use super::ServiceError;
use crate::broker::consumer_offset::ConsumerOffsetManager;
use crate::broker::subscription_group::SubscriptionGroupManager;
use crate::broker::topic_config::TopicConfigManager;
use crate::store::MessageStore;

/// Offsets of consumer groups and queues; see the [module docs](self).
#[derive(Debug)]
pub struct OffsetService {
    pub(crate) store: Arc<MessageStore>,
    pub(crate) topics: Arc<TopicConfigManager>,
    pub(crate) groups: Arc<SubscriptionGroupManager>,
    pub(crate) offsets: Arc<ConsumerOffsetManager>,
}

impl OffsetService {
    /// An offset service over its collaborators.
    pub fn new(
        store: Arc<MessageStore>,
        topics: Arc<TopicConfigManager>,
        groups: Arc<SubscriptionGroupManager>,
        offsets: Arc<ConsumerOffsetManager>,
    ) -> Self {
        OffsetService {
            store,
            topics,
            groups,
            offsets,
        }
    }

    /// The group's committed offset of a queue; when none is committed, 0 if the queue still starts at 0
    /// and the client allows it (`set_zero_if_not_found`, default yes).
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when nothing is committed and 0 is not an answer.
    pub fn query(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
        set_zero_if_not_found: Option<bool>,
    ) -> Result<i64, ServiceError> {
        match self.offsets.query(group, topic, queue_id) {
            Some(o) => Ok(o),
            None => {
                let min = self.store.min_offset_in_queue(topic, queue_id);
                if min <= 0 && set_zero_if_not_found != Some(false) {
                    Ok(0)
                } else {
                    Err(ServiceError::NotFound(
                        "Not found, do not set to zero, maybe this group boot first".to_owned(),
                    ))
                }
            }
        }
    }

    /// Commits a group's offset of a queue.
    ///
    /// # Errors
    /// Unknown group or topic, or a queue id outside the topic.
    pub fn update(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
        offset: i64,
    ) -> Result<(), ServiceError> {
        if self.groups.find_or_create(group)?.is_none() {
            return Err(ServiceError::NoSuchGroup(format!(
                "subscription group [{group}] does not exist"
            )));
        }
        let Some(cfg) = self.topics.get(topic) else {
            return Err(ServiceError::NoSuchTopic(format!(
                "topic[{topic}] not exist, apply first please!"
            )));
        };
        if queue_id < 0 || queue_id >= cfg.read_queue_nums.max(cfg.write_queue_nums) {
            return Err(ServiceError::InvalidParameter(format!(
                "queueId[{queue_id}] is illegal, topic:[{topic}]"
            )));
        }
        self.offsets.commit(group, topic, queue_id, offset);
        Ok(())
    }

    /// The queue's end (next offset to be written).
    pub fn max_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.store.max_offset_in_queue(topic, queue_id)
    }

    /// The queue's first readable offset.
    pub fn min_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.store.min_offset_in_queue(topic, queue_id)
    }

    /// The offset of the first message stored at or after `timestamp` (`upper`: the last at or before).
    pub fn offset_by_time(&self, topic: &str, queue_id: i32, timestamp: i64, upper: bool) -> i64 {
        self.store.offset_by_time(topic, queue_id, timestamp, upper)
    }

    /// The store time of the queue's first message.
    ///
    /// # Errors
    /// [`ServiceError::System`] for an empty queue (as Java answers).
    pub fn earliest_store_time(&self, topic: &str, queue_id: i32) -> Result<i64, ServiceError> {
        self.store
            .earliest_message_time(topic, queue_id)
            .ok_or_else(|| {
                ServiceError::System(format!("no message in queue {queue_id} of topic {topic}"))
            })
    }
}
