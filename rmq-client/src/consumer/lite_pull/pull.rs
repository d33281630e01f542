//! One pull task per queue a lite pull consumer owns: long polling into the shared buffer, with flow control.

use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::codes::request;
use rmq_protocol::headers::PullMessageRequestHeader;
use rmq_protocol::message::sysflag::pull as pull_flag;

use super::inner::LiteInner;
use super::state::PullTask;
use crate::consumer::broker_calls::PullOutcome;
use crate::consumer::offsets::start_offset;
use crate::consumer::pause::pause;
use crate::consumer::pull_request::{delivered, pull_header};
use crate::consumer::selector::{subscription_data, MessageSelector};
use crate::consumer::topics::retry_topic;
use crate::message::MessageExt;

/// Wait before re-checking a queue over its flow-control thresholds, unless a poll frees room first (Java: 50 ms).
const FLOW_CONTROL_PAUSE: Duration = Duration::from_millis(50);

/// Pulls `task.mq` into the shared buffer until the task is replaced, the queue dropped, or the consumer stopped.
pub(super) async fn pull_loop(inner: Arc<LiteInner>, task: Arc<PullTask>) {
    let mq = &task.mq;
    let opts = &inner.opts;
    let retry = retry_topic(&inner.group);
    let all = match subscription_data(&mq.topic, &MessageSelector::all(), 0) {
        Ok(sd) => sd,
        Err(e) => {
            tracing::error!(queue = ?mq, error = %e, "cannot build the match-all subscription");
            return;
        }
    };
    loop {
        if task.cancel.is_cancelled() {
            return;
        }
        let space = inner.space.notified();
        tokio::pin!(space);
        space.as_mut().enable();
        let Some(step) = inner.next_step(&task) else {
            return;
        };
        if step.over {
            tokio::select! {
                _ = task.cancel.cancelled() => return,
                _ = &mut space => {}
                _ = tokio::time::sleep(FLOW_CONTROL_PAUSE) => {}
            }
            continue;
        }
        let offset = match step.offset {
            Some(o) => o,
            None => {
                let from = opts.consume_from_where;
                let start = tokio::select! {
                    _ = task.cancel.cancelled() => return,
                    r = start_offset(&inner.instance, &inner.offsets, &inner.group, from, mq) => r,
                };
                match start {
                    Ok(o) => {
                        let mut st = inner.state.lock();
                        match st.queues.get_mut(mq).filter(|e| e.runs(&task)) {
                            Some(e) => *e.pull_offset.get_or_insert(o),
                            None => return,
                        }
                    }
                    Err(e) => {
                        tracing::warn!(group = %inner.group, queue = ?mq, error = %e, "no start offset yet; retrying");
                        if pause(&task.cancel, opts.pull_delay_when_exception).await {
                            return;
                        }
                        continue;
                    }
                }
            }
        };
        let sub = step.sub.as_ref().unwrap_or(&all);
        let header = PullMessageRequestHeader {
            max_msg_nums: opts.pull_batch_size,
            sys_flag: pull_flag::build(false, true, true, false) | pull_flag::LITE_PULL,
            commit_offset: 0,
            suspend_timeout_millis: opts.broker_suspend_max_time.as_millis() as i64,
            ..pull_header(&inner.group, mq, offset, sub)
        };
        let outcome = tokio::select! {
            _ = task.cancel.cancelled() => return,
            r = inner.instance.pull_with_code(
                request::LITE_PULL_MESSAGE,
                header,
                mq,
                opts.consumer_timeout_when_suspend,
            ) => r,
        };
        let keep_going = match outcome {
            Ok(PullOutcome::Found { msgs, next }) => {
                let msgs: Vec<MessageExt> = delivered(msgs, sub, &retry)
                    .map(|mut m| {
                        if let Some(t) = inner.unwrap_topic(&m.topic) {
                            m.topic = t;
                        }
                        m
                    })
                    .collect();
                inner.deliver(&task, msgs, next, false)
            }
            Ok(PullOutcome::Empty { next }) => inner.deliver(&task, Vec::new(), next, false),
            Ok(PullOutcome::OffsetMoved { next }) => {
                tracing::warn!(group = %inner.group, queue = ?mq, from = offset, to = next, "pull offset out of range; moving");
                inner.deliver(&task, Vec::new(), next, true)
            }
            Err(e) => {
                tracing::debug!(group = %inner.group, queue = ?mq, error = %e, "pull failed; pausing");
                !pause(&task.cancel, opts.pull_delay_when_exception).await
            }
        };
        if !keep_going {
            return;
        }
    }
}
