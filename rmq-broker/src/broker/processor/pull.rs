//! PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361), with long polling (notes §2.3.2, §4.9).

use std::sync::atomic::Ordering;
use std::time::Duration;

use rmq_protocol::codes::response;
use rmq_protocol::headers::{CommandHeader, PullMessageRequestHeader, PullMessageResponseHeader};
use rmq_protocol::message::sysflag::{perm, pull as pull_flag};
use rmq_protocol::RemotingCommand;

use super::{Refusal, Reply};
use crate::broker::filter::{is_sql92, MessageFilter};
use crate::broker::BrokerInner;
use crate::store::{GetMessageResult, GetMessageStatus, ReadFilter};

/// Moved to [`crate::broker::filter`]; re-exported for existing users.
pub use crate::broker::filter::TagFilter;

/// Longest hold we grant, whatever the client asks (Java clients ask 15 s, with a 30 s RPC timeout).
const MAX_SUSPEND: Duration = Duration::from_secs(60);

/// Handles a pull: checks, optional offset commit, read, and a hold when nothing is there yet.
pub async fn process(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let mut clock = crate::metrics::Stopwatch::start(inner);
    let h: PullMessageRequestHeader = req.decode_header()?;
    let filter = check(inner, &h)?;
    if pull_flag::has_commit_offset(h.sys_flag) && h.commit_offset >= 0 {
        inner
            .offsets
            .commit(&h.consumer_group, &h.topic, h.queue_id, h.commit_offset);
    }
    let max_msgs = h.max_msg_nums.clamp(
        1,
        inner.config.max_transfer_count_on_message_in_memory.max(1),
    );
    let max_bytes = h
        .max_msg_bytes
        .filter(|b| *b > 0)
        .map(|b| b as usize)
        .unwrap_or(usize::MAX)
        .min(inner.config.max_transfer_bytes_on_message_in_memory);
    let tag_code = |code: i64| filter.accepts_tag_code(code);
    let record = |rec: &[u8]| filter.accepts_record(rec);
    let read = || {
        if filter.needs_record() {
            let stages = ReadFilter {
                tag_code: &tag_code,
                record: &record,
            };
            inner.store.get_messages_filtered(
                &h.topic,
                h.queue_id,
                h.queue_offset,
                max_msgs,
                max_bytes,
                stages,
            )
        } else {
            inner.store.get_messages(
                &h.topic,
                h.queue_id,
                h.queue_offset,
                max_msgs,
                max_bytes,
                &tag_code,
            )
        }
    };
    let mut result = read();
    if response_code(&result, h.queue_offset) == response::PULL_NOT_FOUND
        && pull_flag::has_suspend(h.sys_flag)
    {
        let hold = if inner.config.long_polling_enable {
            Duration::from_millis(h.suspend_timeout_millis.max(0) as u64).min(MAX_SUSPEND)
        } else {
            Duration::from_millis(inner.config.short_polling_time_mills)
        };
        let held = inner
            .holds
            .hold(&h.topic, h.queue_id, h.queue_offset, hold, || {
                inner.store.max_offset_in_queue(&h.topic, h.queue_id)
            });
        clock.exclude(held).await;
        result = read();
    }
    crate::metrics::pulled(inner, &h.consumer_group, &h.topic, &result, clock);
    Ok(respond(inner, req, result, h.queue_offset))
}

/// Pre-checks of notes §2.3.2, in Java's order; returns the filter to apply.
fn check(inner: &BrokerInner, h: &PullMessageRequestHeader) -> Result<MessageFilter, Refusal> {
    if !perm::is_readable(inner.config.broker_permission) {
        return Err(Refusal::new(
            response::NO_PERMISSION,
            format!(
                "the broker[{}] pulling message is forbidden",
                inner.broker_addr
            ),
        ));
    }
    let Some(group) = inner.groups.find_or_create(&h.consumer_group)? else {
        return Err(Refusal::new(
            response::SUBSCRIPTION_GROUP_NOT_EXIST,
            format!("subscription group [{}] does not exist", h.consumer_group),
        ));
    };
    if !group.consume_enable {
        return Err(Refusal::new(
            response::NO_PERMISSION,
            format!("subscription group no permission, {}", h.consumer_group),
        ));
    }
    let Some(topic) = inner.topics.get(&h.topic) else {
        return Err(Refusal::new(
            response::TOPIC_NOT_EXIST,
            format!("topic[{}] not exist, apply first please!", h.topic),
        ));
    };
    if !perm::is_readable(topic.perm) {
        return Err(Refusal::new(
            response::NO_PERMISSION,
            format!("the topic[{}] pulling message is forbidden", h.topic),
        ));
    }
    if h.queue_id < 0 || h.queue_id >= topic.read_queue_nums {
        return Err(Refusal::new(
            response::INVALID_PARAMETER,
            format!(
                "queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:[{}]",
                h.queue_id, h.topic, topic.read_queue_nums
            ),
        ));
    }
    let (expression, expression_type, version, filter) = if pull_flag::has_subscription(h.sys_flag)
    {
        let expr = h.subscription.clone().unwrap_or_else(|| "*".into());
        let ty = h.expression_type.clone().unwrap_or_else(|| "TAG".into());
        let filter = TagFilter::parse(&expr);
        (expr, ty, h.sub_version, filter)
    } else {
        if inner.clients.consumer_group(&h.consumer_group).is_none() {
            return Err(Refusal::new(
                response::SUBSCRIPTION_NOT_EXIST,
                format!(
                    "the consumer's group info not exist, group: {}",
                    h.consumer_group
                ),
            ));
        }
        let Some(sub) = inner.clients.subscription(&h.consumer_group, &h.topic) else {
            return Err(Refusal::new(
                response::SUBSCRIPTION_NOT_EXIST,
                format!(
                    "the consumer's subscription not exist, group: {} topic: {}",
                    h.consumer_group, h.topic
                ),
            ));
        };
        if sub.sub_version < h.sub_version {
            return Err(Refusal::new(
                response::SUBSCRIPTION_NOT_LATEST,
                format!(
                    "the consumer's subscription not latest, group: {}",
                    h.consumer_group
                ),
            ));
        }
        let filter = TagFilter::from_subscription(&sub);
        (
            sub.sub_string.clone(),
            sub.expression_type.clone(),
            sub.sub_version,
            filter,
        )
    };
    if is_sql92(&expression_type) {
        if !inner.config.enable_property_filter {
            return Err(Refusal::new(
                response::NO_PERMISSION,
                "The broker does not support consumer to filter message by SQL92 (enablePropertyFilter=false)",
            ));
        }
        // Compiled once per subscription version (usually already at the heartbeat); a bad expression is
        // remembered and refused here with its position.
        let selector = inner
            .filters
            .register(&h.consumer_group, &h.topic, version, &expression)
            .map_err(|e| Refusal::new(response::SUBSCRIPTION_PARSE_FAILED, e.to_string()))?;
        return Ok(MessageFilter::sql92(selector));
    }
    Ok(MessageFilter::tags(filter))
}

/// Maps a store status to the pull response code (notes §2.3.2).
fn response_code(result: &GetMessageResult, requested_offset: i64) -> i32 {
    match result.status {
        GetMessageStatus::Found => response::SUCCESS,
        GetMessageStatus::NoMatchedMessage | GetMessageStatus::MessageWasRemoving => {
            response::PULL_RETRY_IMMEDIATELY
        }
        GetMessageStatus::NoMessageInQueue | GetMessageStatus::NoMatchedLogicQueue => {
            if requested_offset != 0 {
                response::PULL_OFFSET_MOVED
            } else {
                response::PULL_NOT_FOUND
            }
        }
        GetMessageStatus::OffsetFoundNull | GetMessageStatus::OffsetOverflowOne => {
            response::PULL_NOT_FOUND
        }
        GetMessageStatus::OffsetOverflowBadly | GetMessageStatus::OffsetTooSmall => {
            response::PULL_OFFSET_MOVED
        }
    }
}

fn respond(
    inner: &BrokerInner,
    req: &RemotingCommand,
    result: GetMessageResult,
    requested: i64,
) -> RemotingCommand {
    let code = response_code(&result, requested);
    let header = PullMessageResponseHeader {
        suggest_which_broker_id: 0,
        next_begin_offset: result.next_begin_offset,
        min_offset: result.min_offset,
        max_offset: result.max_offset,
        ..PullMessageResponseHeader::default()
    };
    let mut resp = RemotingCommand::response_to(req, code).with_ext(header.to_ext());
    if code == response::SUCCESS {
        inner
            .stats
            .got_messages
            .fetch_add(result.messages.len() as u64, Ordering::Relaxed);
        resp.body = super::concat_records(&result.messages);
    } else {
        resp.remark = Some(format!("{:?}", result.status));
    }
    resp
}
