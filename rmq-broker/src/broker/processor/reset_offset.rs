//! INVOKE_BROKER_TO_RESET_OFFSET (222): an admin moves a consumer group's position on a topic to a point in
//! time, and the group's online consumers are told with RESET_CONSUMER_CLIENT_OFFSET (220).
//!
//! This combines Java's two paths: like 5.x's server-side reset (`useServerSideResetOffset`, the 5.x default)
//! the broker commits the new offsets itself, so the reset holds even for a group with nobody online; like
//! `Broker2Client.resetOffset` it pushes the table to every online consumer (oneway), so running clients drop
//! what they hold and pull from the new position at once.
//!
//! Per queue (`readQueueNums` of them, or only `queueId` when the 5.x header names one):
//! - the target is the 5.x explicit `offset` when given with `queueId` (checked against the queue's range),
//!   else the queue's max offset for a negative `timestamp`, else the first offset stored at or after
//!   `timestamp`;
//! - by timestamp, without `isForce` a queue only moves back: when the group has committed an offset and the
//!   target is not before it, the committed offset stays (Java's `isForce || target < consumerOffset`).

use rmq_protocol::body::ResetOffsetBody;
use rmq_protocol::codes::{request, response};
use rmq_protocol::headers::ResetOffsetRequestHeader;
use rmq_protocol::RemotingCommand;
use tracing::{debug, info};

use super::refusal::{ok, Refusal, Reply};
use super::stats::queue;
use crate::broker::service::admin::AdminService;

/// Computes, commits and announces the new offsets; answers with the offsets chosen.
pub fn invoke_broker_to_reset_offset(inner: &AdminService, req: &RemotingCommand) -> Reply {
    let h: ResetOffsetRequestHeader = req.decode_header()?;
    let (topic, group) = (h.topic.as_str(), h.group.as_str());
    let cfg = inner.topics.get(topic).ok_or_else(|| {
        Refusal::new(
            response::TOPIC_NOT_EXIST,
            format!("Topic {topic} does not exist"),
        )
    })?;
    let online = inner.clients.consumer_connections(group);
    if inner.groups.get(group).is_none()
        && online.is_empty()
        && inner.offsets.queue_offsets(group, topic).is_empty()
    {
        return Err(Refusal::new(
            response::SUBSCRIPTION_GROUP_NOT_EXIST,
            format!("Group {group} does not exist"),
        ));
    }
    let mut body = ResetOffsetBody::default();
    match h.queue_id.filter(|q| *q >= 0) {
        Some(q) => {
            if q >= cfg.read_queue_nums.max(cfg.write_queue_nums) {
                return Err(Refusal::new(
                    response::INVALID_PARAMETER,
                    format!(
                        "queueId[{q}] is illegal, topic {topic} has {} read queues",
                        cfg.read_queue_nums
                    ),
                ));
            }
            let offset = match h.offset.filter(|o| *o != -1) {
                Some(o) => checked_offset(inner, topic, q, o)?,
                None => by_time(inner, &h, q),
            };
            body.offset_table.insert(queue(inner, topic, q), offset);
        }
        None => {
            for q in 0..cfg.read_queue_nums {
                body.offset_table
                    .insert(queue(inner, topic, q), by_time(inner, &h, q));
            }
        }
    }
    for (mq, offset) in &body.offset_table {
        inner.offsets.commit(group, topic, mq.queue_id, *offset);
    }
    info!(
        topic,
        group,
        timestamp = h.timestamp,
        force = h.is_force,
        queues = body.offset_table.len(),
        online = online.len(),
        "consumer offsets reset"
    );

    let json = body.to_json();
    let notify = ResetOffsetRequestHeader {
        topic: h.topic.clone(),
        group: h.group.clone(),
        timestamp: h.timestamp,
        is_force: h.is_force,
        queue_id: None,
        offset: None,
    };
    for conn in online {
        let mut cmd = RemotingCommand::request_with(request::RESET_CONSUMER_CLIENT_OFFSET, &notify)
            .with_body(json.clone())
            .into_oneway();
        cmd.opaque = crate::remoting::server::next_request_opaque();
        if !conn.try_send(cmd) {
            debug!(group, peer = %conn.peer(), "could not tell a consumer about the offset reset");
        }
    }
    Ok(ok(req).with_body(json))
}

/// The target of one queue by timestamp, kept at the committed offset when not forced and not moving back.
fn by_time(inner: &AdminService, h: &ResetOffsetRequestHeader, q: i32) -> i64 {
    let target = if h.timestamp < 0 {
        inner.store.max_offset_in_queue(&h.topic, q)
    } else {
        inner.store.offset_by_time(&h.topic, q, h.timestamp, false)
    }
    .max(0);
    match inner.offsets.query(&h.group, &h.topic, q) {
        Some(committed) if !h.is_force && target >= committed => committed,
        _ => target,
    }
}

/// An explicit 5.x target, refused outside the queue's `[min, max]` (Java allows one past max).
fn checked_offset(inner: &AdminService, topic: &str, q: i32, offset: i64) -> Result<i64, Refusal> {
    let min = inner.store.min_offset_in_queue(topic, q);
    let max = inner.store.max_offset_in_queue(topic, q);
    if offset < min || offset > max {
        return Err(Refusal::new(
            response::SYSTEM_ERROR,
            format!("Target offset {offset} not in consume queue range [{min}-{max}]"),
        ));
    }
    Ok(offset)
}
