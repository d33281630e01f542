//! One pull as every consumer (push, lite pull, admin) asks for it, and what of its answer is delivered.

use rmq_protocol::body::{MessageQueue, SubscriptionData};
use rmq_protocol::headers::PullMessageRequestHeader;
use rmq_protocol::message::properties as keys;

use crate::message::MessageExt;

/// The pull of `mq` from `offset` under `sub` as group `group`; the caller sets what differs between
/// consumers (batch size, sys flag, commit offset, long-poll hold) with struct update syntax.
pub(crate) fn pull_header(
    group: &str,
    mq: &MessageQueue,
    offset: i64,
    sub: &SubscriptionData,
) -> PullMessageRequestHeader {
    PullMessageRequestHeader {
        consumer_group: group.to_string(),
        topic: mq.topic.clone(),
        queue_id: mq.queue_id,
        queue_offset: offset,
        subscription: Some(sub.sub_string.clone()),
        sub_version: sub.sub_version,
        expression_type: Some(sub.expression_type.clone()),
        ..PullMessageRequestHeader::default()
    }
}

/// What a consumer hands on from a pulled batch: messages whose tag really is subscribed (the broker filters
/// by tag hash, so collisions are checked here), with retries shown under their original topic (Java
/// `resetRetryTopic`: they arrive on %RETRY%group).
pub(crate) fn delivered<'a>(
    msgs: Vec<MessageExt>,
    sub: &'a SubscriptionData,
    retry_topic: &'a str,
) -> impl Iterator<Item = MessageExt> + 'a {
    let filter_tags =
        sub.expression_type == "TAG" && sub.sub_string != "*" && !sub.tags_set.is_empty();
    msgs.into_iter()
        .filter(move |m| {
            !filter_tags
                || m.tags()
                    .is_some_and(|t| sub.tags_set.iter().any(|s| s == t))
        })
        .map(move |mut m| {
            if m.topic == retry_topic {
                if let Some(original) = m.property(keys::RETRY_TOPIC).map(str::to_string) {
                    m.topic = original;
                }
            }
            m
        })
}
