//! PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361), with long polling (notes §2.3.2, §4.9).

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use rmq_protocol::body::SubscriptionData;
use rmq_protocol::codes::response;
use rmq_protocol::headers::{CommandHeader, PullMessageRequestHeader, PullMessageResponseHeader};
use rmq_protocol::message::sysflag::{perm, pull as pull_flag};
use rmq_protocol::message::tag::tag_hash_code;
use rmq_protocol::RemotingCommand;

use super::{Refusal, Reply};
use crate::broker::BrokerInner;
use crate::store::{GetMessageResult, GetMessageStatus};

/// Longest hold we grant, whatever the client asks (Java clients ask 15 s, with a 30 s RPC timeout).
const MAX_SUSPEND: Duration = Duration::from_secs(60);

/// Which consume-queue tag codes a pull accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagFilter {
    /// `*` or empty: everything.
    All,
    /// `a || b`: tag hash codes (collisions are re-checked by the client, as in RocketMQ).
    Codes(HashSet<i64>),
}

impl TagFilter {
    /// Parses a TAG expression: `*`, empty, or tags separated by `||`.
    pub fn parse(expression: &str) -> TagFilter {
        let expr = expression.trim();
        if expr.is_empty() || expr == "*" {
            return TagFilter::All;
        }
        TagFilter::Codes(
            expr.split("||")
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(tag_hash_code)
                .collect(),
        )
    }

    /// From a heartbeat subscription, using its code set when present.
    fn from_subscription(sub: &SubscriptionData) -> TagFilter {
        if sub.sub_string.trim() == "*" || sub.sub_string.trim().is_empty() {
            TagFilter::All
        } else if !sub.code_set.is_empty() {
            TagFilter::Codes(sub.code_set.iter().map(|c| i64::from(*c)).collect())
        } else {
            TagFilter::parse(&sub.sub_string)
        }
    }

    /// Whether a consume-queue entry with this tag code is delivered.
    pub fn accepts(&self, tag_code: i64) -> bool {
        match self {
            TagFilter::All => true,
            TagFilter::Codes(codes) => codes.contains(&tag_code),
        }
    }
}

/// Handles a pull: checks, optional offset commit, read, and a hold when nothing is there yet.
pub async fn process(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
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
    let read = || {
        inner.store.get_messages(
            &h.topic,
            h.queue_id,
            h.queue_offset,
            max_msgs,
            max_bytes,
            &|code| filter.accepts(code),
        )
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
        inner
            .holds
            .hold(&h.topic, h.queue_id, h.queue_offset, hold, || {
                inner.store.max_offset_in_queue(&h.topic, h.queue_id)
            })
            .await;
        result = read();
    }
    Ok(respond(inner, req, result, h.queue_offset))
}

/// Pre-checks of notes §2.3.2, in Java's order; returns the filter to apply.
fn check(inner: &BrokerInner, h: &PullMessageRequestHeader) -> Result<TagFilter, Refusal> {
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
    let (expression, expression_type, filter) = if pull_flag::has_subscription(h.sys_flag) {
        let expr = h.subscription.clone().unwrap_or_else(|| "*".into());
        let ty = h.expression_type.clone().unwrap_or_else(|| "TAG".into());
        let filter = TagFilter::parse(&expr);
        (expr, ty, filter)
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
        (sub.sub_string.clone(), sub.expression_type.clone(), filter)
    };
    if expression_type.eq_ignore_ascii_case("SQL92") {
        if !inner.config.enable_property_filter {
            return Err(Refusal::new(
                response::NO_PERMISSION,
                "The broker does not support consumer to filter message by SQL92 (enablePropertyFilter=false)",
            ));
        }
        return Err(Refusal::new(
            response::SUBSCRIPTION_PARSE_FAILED,
            format!("SQL92 filtering is not implemented yet; expression: {expression}"),
        ));
    }
    Ok(filter)
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
        let mut body = BytesMut::with_capacity(result.buffer_total_size);
        for m in &result.messages {
            body.extend_from_slice(m);
        }
        resp.body = body.freeze();
    } else {
        resp.remark = Some(format!("{:?}", result.status));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_expressions() {
        assert_eq!(TagFilter::parse("*"), TagFilter::All);
        assert_eq!(TagFilter::parse(""), TagFilter::All);
        let f = TagFilter::parse("TagA || TagB");
        assert!(f.accepts(2598919));
        assert!(f.accepts(2598920));
        assert!(!f.accepts(0));
    }
}
