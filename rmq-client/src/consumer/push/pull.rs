//! One pull task per queue a push consumer owns: long polling, flow control, and hand-off to the consume
//! service.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::headers::PullMessageRequestHeader;
use rmq_protocol::message::sysflag::pull as pull_flag;

use super::consume::submit;
use super::inner::{OwnedQueue, PushInner};
use crate::consumer::broker_calls::PullOutcome;
use crate::consumer::model::MessageModel;
use crate::consumer::pause::pause;
use crate::consumer::pull_request::{delivered, pull_header};
use crate::consumer::topics::retry_topic;
use crate::message::MessageExt;

/// Pause while a queue is over its flow-control thresholds (Java: 50 ms).
const FLOW_CONTROL_PAUSE: Duration = Duration::from_millis(50);
/// Pause after a failed pull (Java: 3 s).
const ERROR_PAUSE: Duration = Duration::from_secs(3);
/// Pause while an orderly queue waits for its broker lock.
const UNLOCKED_PAUSE: Duration = Duration::from_millis(500);

/// Pulls `owned` from `offset` until the queue is dropped or the consumer stops.
pub(crate) async fn pull_loop(inner: Arc<PushInner>, owned: Arc<OwnedQueue>, mut offset: i64) {
    let mq = &owned.mq;
    let Some(sub) = inner.subscriptions.get(&mq.topic).cloned() else {
        return;
    };
    let opts = &inner.opts;
    let clustering = opts.message_model == MessageModel::Clustering;
    let retry_topic = retry_topic(&inner.group);
    let hold = opts.broker_suspend_max_time;
    loop {
        if owned.cancel.is_cancelled() || owned.pq.is_dropped() {
            return;
        }
        let pq = &owned.pq;
        let counters = &inner.flow_control;
        let over = if pq.cached_count() > opts.pull_threshold_for_queue {
            Some(&counters.by_count)
        } else if pq.cached_bytes() > opts.pull_threshold_size_for_queue {
            Some(&counters.by_size)
        } else if !opts.orderly && pq.max_span() > opts.consume_concurrently_max_span {
            Some(&counters.by_span)
        } else {
            None
        };
        if let Some(times) = over {
            times.fetch_add(1, Ordering::Relaxed);
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
            max_msg_nums: opts.pull_batch_size,
            sys_flag: pull_flag::build(commit.is_some(), true, true, false),
            commit_offset: commit.unwrap_or(0),
            suspend_timeout_millis: hold.as_millis() as i64,
            ..pull_header(&inner.group, mq, offset, &sub)
        };
        let pulled_at = tokio::time::Instant::now();
        pq.set_last_pull_timestamp(pulled_at);
        let outcome = tokio::select! {
            _ = owned.cancel.cancelled() => return,
            r = inner.instance.pull(header, mq, hold + Duration::from_secs(15)) => r,
        };
        if let Ok(PullOutcome::Found { msgs, .. }) = &outcome {
            inner
                .stats
                .pulled(&mq.topic, msgs.len(), pulled_at.elapsed());
        }
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
                submit(&inner, &owned, msgs, dispatch);
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
