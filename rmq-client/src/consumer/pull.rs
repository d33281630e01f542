//! One pull task per owned queue: long polling, flow control, and hand-off to the consume service.

use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::body::SubscriptionData;
use rmq_protocol::headers::PullMessageRequestHeader;
use rmq_protocol::message::{properties as keys, sysflag::pull as pull_flag};
use tokio_util::sync::CancellationToken;

use super::broker_calls::PullOutcome;
use super::push::{MessageModel, PushInner};
use super::rebalance::OwnedQueue;
use crate::message::MessageExt;

/// Pause while a queue is over its flow-control thresholds (Java: 50 ms).
const FLOW_CONTROL_PAUSE: Duration = Duration::from_millis(50);
/// Pause after a failed pull (Java: 3 s).
const ERROR_PAUSE: Duration = Duration::from_secs(3);
/// Pause while an orderly queue waits for its broker lock.
const UNLOCKED_PAUSE: Duration = Duration::from_millis(500);

/// Waits `d` unless `token` fires first; true when it fired.
pub(crate) async fn pause(token: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = token.cancelled() => true,
        _ = tokio::time::sleep(d) => false,
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

/// Pulls `owned` from `offset` until the queue is dropped or the consumer stops.
pub(crate) async fn pull_loop(inner: Arc<PushInner>, owned: Arc<OwnedQueue>, mut offset: i64) {
    let mq = &owned.mq;
    let Some(sub) = inner.subscriptions.get(&mq.topic).cloned() else {
        return;
    };
    let opts = &inner.opts;
    let clustering = opts.message_model == MessageModel::Clustering;
    let retry_topic = super::push::retry_topic(&inner.group);
    let hold = opts.broker_suspend_max_time;
    loop {
        if owned.cancel.is_cancelled() || owned.pq.is_dropped() {
            return;
        }
        let pq = &owned.pq;
        let over = pq.cached_count() > opts.pull_threshold_for_queue
            || pq.cached_bytes() > opts.pull_threshold_size_for_queue
            || (!opts.orderly && pq.max_span() > opts.consume_concurrently_max_span);
        if over {
            if pause(&owned.cancel, FLOW_CONTROL_PAUSE).await {
                return;
            }
            continue;
        }
        if opts.orderly && clustering && !pq.is_locked() {
            if pause(&owned.cancel, UNLOCKED_PAUSE).await {
                return;
            }
            continue;
        }
        let commit = if clustering {
            inner.offsets.get(mq).filter(|o| *o > 0)
        } else {
            None
        };
        let header = PullMessageRequestHeader {
            consumer_group: inner.group.clone(),
            topic: mq.topic.clone(),
            queue_id: mq.queue_id,
            queue_offset: offset,
            max_msg_nums: opts.pull_batch_size,
            sys_flag: pull_flag::build(commit.is_some(), true, true, false),
            commit_offset: commit.unwrap_or(0),
            suspend_timeout_millis: hold.as_millis() as i64,
            subscription: Some(sub.sub_string.clone()),
            sub_version: sub.sub_version,
            expression_type: Some(sub.expression_type.clone()),
            max_msg_bytes: None,
            request_source: None,
            proxy_forward_client_id: None,
        };
        pq.set_last_pull_timestamp(tokio::time::Instant::now());
        let outcome = tokio::select! {
            _ = owned.cancel.cancelled() => return,
            r = inner.instance.pull(header, mq, hold + Duration::from_secs(15)) => r,
        };
        match outcome {
            Ok(PullOutcome::Found { msgs, next }) => {
                offset = next;
                let msgs: Vec<Arc<MessageExt>> =
                    delivered(msgs, &sub, &retry_topic).map(Arc::new).collect();
                if msgs.is_empty() {
                    if pq.cached_count() == 0 {
                        inner.offsets.update(mq, next, true);
                    }
                    continue;
                }
                let dispatch = pq.put_messages(&msgs);
                super::consume::submit(&inner, &owned, msgs, dispatch);
            }
            Ok(PullOutcome::Empty { next }) => {
                offset = next;
                if pq.cached_count() == 0 {
                    inner.offsets.update(mq, next, true);
                }
            }
            Ok(PullOutcome::OffsetMoved { next }) => {
                tracing::warn!(group = %inner.group, queue = ?mq, from = offset, to = next, "pull offset out of range; moving");
                offset = next;
                inner.offsets.update(mq, next, false);
                inner
                    .offsets
                    .persist(&inner.instance, &inner.group, std::slice::from_ref(mq))
                    .await;
            }
            Err(e) => {
                tracing::debug!(group = %inner.group, queue = ?mq, error = %e, "pull failed; pausing");
                if pause(&owned.cancel, ERROR_PAUSE).await {
                    return;
                }
            }
        }
    }
}
