//! The admin service's offset reset (INVOKE_BROKER_TO_RESET_OFFSET): move a consumer group's position on a
//! topic to a point in time, or, for one queue, to an explicit offset.
//!
//! This combines Java's two paths: like 5.x's server-side reset (`useServerSideResetOffset`, the 5.x default)
//! the broker commits the new offsets itself, so the reset holds even for a group with nobody online; the
//! codec then pushes the table to every online consumer, like `Broker2Client.resetOffset`, so running clients
//! drop what they hold and pull from the new position at once.
//!
//! Per queue (`readQueueNums` of them, or only `queue_id` when the 5.x request names one):
//! - the target is the 5.x explicit `offset` when given with `queue_id` (checked against the queue's range),
//!   else the queue's max offset for a negative `timestamp`, else the first offset stored at or after
//!   `timestamp`;
//! - by timestamp, without `force` a queue only moves back: when the group has committed an offset and the
//!   target is not before it, the committed offset stays (Java's `isForce || target < consumerOffset`).

use rmq_protocol::body::ResetOffsetBody;
use tracing::info;

use super::admin::AdminService;
use super::ServiceError;

/// What to reset.
#[derive(Debug, Clone)]
pub struct OffsetReset {
    /// The topic.
    pub topic: String,
    /// The consumer group.
    pub group: String,
    /// Epoch ms to reset to; negative: the queues' ends.
    pub timestamp: i64,
    /// Move forward too (by timestamp), not only back.
    pub force: bool,
    /// Only this queue (5.x).
    pub queue_id: Option<i32>,
    /// With `queue_id`: this offset instead of one by time (5.x; -1 means none).
    pub offset: Option<i64>,
}

impl AdminService {
    /// Computes and commits the new offsets; returns them (the table the codec also pushes to consumers).
    pub fn reset_offsets(&self, r: &OffsetReset) -> Result<ResetOffsetBody, ServiceError> {
        let (topic, group) = (r.topic.as_str(), r.group.as_str());
        let cfg = self
            .topics
            .get(topic)
            .ok_or_else(|| ServiceError::NoSuchTopic(format!("Topic {topic} does not exist")))?;
        let online = self.clients.consumer_connections(group).len();
        if self.groups.get(group).is_none()
            && online == 0
            && self.offsets.queue_offsets(group, topic).is_empty()
        {
            return Err(ServiceError::NoSuchGroup(format!(
                "Group {group} does not exist"
            )));
        }
        let mut body = ResetOffsetBody::default();
        match r.queue_id.filter(|q| *q >= 0) {
            Some(q) => {
                if q >= cfg.read_queue_nums.max(cfg.write_queue_nums) {
                    return Err(ServiceError::InvalidParameter(format!(
                        "queueId[{q}] is illegal, topic {topic} has {} read queues",
                        cfg.read_queue_nums
                    )));
                }
                let offset = match r.offset.filter(|o| *o != -1) {
                    Some(o) => self.checked_offset(topic, q, o)?,
                    None => self.offset_by_time(r, q),
                };
                body.offset_table.insert(self.queue(topic, q), offset);
            }
            None => {
                for q in 0..cfg.read_queue_nums {
                    body.offset_table
                        .insert(self.queue(topic, q), self.offset_by_time(r, q));
                }
            }
        }
        for (mq, offset) in &body.offset_table {
            self.offsets.commit(group, topic, mq.queue_id, *offset);
        }
        info!(
            topic,
            group,
            timestamp = r.timestamp,
            force = r.force,
            queues = body.offset_table.len(),
            online,
            "consumer offsets reset"
        );
        Ok(body)
    }

    /// The target of one queue by timestamp, kept at the committed offset when not forced and not moving
    /// back.
    fn offset_by_time(&self, r: &OffsetReset, q: i32) -> i64 {
        let target = if r.timestamp < 0 {
            self.store.max_offset_in_queue(&r.topic, q)
        } else {
            self.store.offset_by_time(&r.topic, q, r.timestamp, false)
        }
        .max(0);
        match self.offsets.query(&r.group, &r.topic, q) {
            Some(committed) if !r.force && target >= committed => committed,
            _ => target,
        }
    }

    /// An explicit 5.x target, refused outside the queue's `[min, max]` (Java allows one past max).
    fn checked_offset(&self, topic: &str, q: i32, offset: i64) -> Result<i64, ServiceError> {
        let min = self.store.min_offset_in_queue(topic, q);
        let max = self.store.max_offset_in_queue(topic, q);
        if offset < min || offset > max {
            return Err(ServiceError::System(format!(
                "Target offset {offset} not in consume queue range [{min}-{max}]"
            )));
        }
        Ok(offset)
    }
}
