//! Where a producer's send goes: broker and topic permission, topic name rules, auto-creation (from the
//! template, or a group's retry topic) and the queue.

use rmq_protocol::body::TopicConfig;
use rmq_protocol::message::sysflag::perm;

use super::service::WriteService;
use crate::broker::service::ServiceError;
use crate::broker::topic_config;
use rmq_protocol::topic::group_of_retry_topic;

/// The checked destination of a send.
#[derive(Debug, Clone)]
pub struct Route {
    /// The topic's config (created if it was missing).
    pub topic: TopicConfig,
    /// The queue: the requested one, or the broker's choice for a negative request.
    pub queue_id: i32,
}

impl WriteService {
    /// Checks a producer may send to `topic` queue `queue_id` (negative: any) and resolves the queue,
    /// creating the topic on first send when allowed (from `default_topic`, or a group's retry topic).
    ///
    /// # Errors
    /// Broker or topic not writable, a bad or system topic name, an unknown group or topic, a queue id
    /// beyond the topic's queues, or topic state that cannot be saved.
    pub fn route(
        &self,
        topic: &str,
        queue_id: i32,
        default_topic: &str,
        default_topic_queue_nums: i32,
    ) -> Result<Route, ServiceError> {
        self.check_broker_writable()?;
        topic_config::validate_topic(topic).map_err(ServiceError::InvalidTopicName)?;
        if topic_config::is_system_topic(topic) {
            return Err(ServiceError::SystemTopic {
                topic: topic.to_owned(),
            });
        }
        let cfg = match self.topics.get(topic) {
            Some(t) => t,
            None => self.create_on_send(topic, default_topic, default_topic_queue_nums)?,
        };
        if !perm::is_writeable(cfg.perm) {
            return Err(ServiceError::TopicNotWritable {
                topic: topic.to_owned(),
            });
        }
        let queue_id = match queue_id {
            q if q < 0 => pick_queue(cfg.write_queue_nums),
            // SYSTEM_ERROR on the wire, as Java's msgCheck answers: producers treat it as retryable and refetch
            // the route, which is what a producer holding a stale (or TBW102-derived) route needs.
            q if q >= cfg.write_queue_nums.max(cfg.read_queue_nums) => {
                return Err(ServiceError::IllegalQueue {
                    queue_id: q,
                    topic: topic.to_owned(),
                    write_queues: cfg.write_queue_nums,
                })
            }
            q => q,
        };
        Ok(Route {
            topic: cfg,
            queue_id,
        })
    }

    /// Refuses every write while `brokerPermission` forbids them.
    pub(crate) fn check_broker_writable(&self) -> Result<(), ServiceError> {
        if perm::is_writeable(self.policy.live.broker_permission()) {
            Ok(())
        } else {
            Err(ServiceError::BrokerNotWritable {
                broker: self.policy.broker_addr.clone(),
            })
        }
    }

    /// Refuses a body larger than `maxMessageSize`.
    pub(crate) fn check_body(&self, len: usize) -> Result<(), ServiceError> {
        if len > self.policy.max_message_size {
            return Err(ServiceError::BodyTooLarge {
                len,
                max: self.policy.max_message_size,
            });
        }
        Ok(())
    }

    fn create_on_send(
        &self,
        topic: &str,
        default_topic: &str,
        default_topic_queue_nums: i32,
    ) -> Result<TopicConfig, ServiceError> {
        let created = if let Some(group) = group_of_retry_topic(topic) {
            let Some(g) = self.groups.find_or_create(group)? else {
                return Err(ServiceError::GroupNotExist {
                    group: group.to_owned(),
                });
            };
            Some(
                self.topics
                    .create_system_managed(topic, g.retry_queue_nums.max(1))?,
            )
        } else if self.policy.auto_create_topic_enable {
            self.topics
                .create_on_send(topic, default_topic, default_topic_queue_nums, 0)?
        } else {
            None
        };
        created.ok_or_else(|| ServiceError::TopicNotExist {
            topic: topic.to_owned(),
            auto_create: self.policy.auto_create_topic_enable,
        })
    }
}

/// Spreads sends with queueId < 0 over the writable queues (round robin; Java picks at random).
pub(crate) fn pick_queue(write_queue_nums: i32) -> i32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = write_queue_nums.max(1) as u32;
    (NEXT.fetch_add(1, Ordering::Relaxed) % n) as i32
}
