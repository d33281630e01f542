//! Running a push consumer's listener: concurrently (bounded parallelism, ack by lowest unfinished offset, failures sent back
//! for retry) or orderly (one batch at a time per locked queue, failures suspend the queue and redeliver).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;

use super::inner::{OwnedQueue, PushInner};
use crate::consumer::listener::{ConsumeContext, ConsumeOutcome};
use crate::consumer::model::MessageModel;
use crate::consumer::pause::{pause, pause_delivery};
use crate::consumer::process_queue::REBALANCE_LOCK_MAX_LIVE_TIME;
use crate::message::MessageExt;
use rmq_protocol::message::properties as keys;

/// Wait before consuming again messages whose send-back failed (Java: 5 s).
const LOCAL_RETRY_PAUSE: Duration = Duration::from_secs(5);
/// Wait before retrying an orderly queue whose lock is missing.
const RELOCK_PAUSE: Duration = Duration::from_millis(500);

/// Hands pulled messages to the consume service.
pub(crate) fn submit(
    inner: &Arc<PushInner>,
    owned: &Arc<OwnedQueue>,
    msgs: Vec<Arc<MessageExt>>,
    dispatch: bool,
) {
    if inner.opts.orderly {
        if dispatch {
            inner
                .consume_tasks
                .spawn(orderly(inner.clone(), owned.clone()));
        }
        return;
    }
    for chunk in msgs.chunks(inner.opts.consume_message_batch_max_size) {
        inner
            .consume_tasks
            .spawn(concurrently(inner.clone(), owned.clone(), chunk.to_vec()));
    }
}

/// Why a listener call produced no outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListenerFailure {
    /// It panicked (building the future or polling it).
    Panicked,
    /// It ran longer than `consume_timeout`.
    TimedOut,
}

/// Runs the listener on `batch`, catching a panic and bounding it by `consume_timeout`.
pub(crate) async fn run_listener(
    inner: &PushInner,
    batch: Vec<MessageExt>,
    ctx: ConsumeContext,
) -> Result<ConsumeOutcome, ListenerFailure> {
    let listener = inner.listener.clone();
    let fut = std::panic::catch_unwind(AssertUnwindSafe(|| listener.consume(batch, ctx)))
        .map_err(|_| ListenerFailure::Panicked)?;
    match tokio::time::timeout(
        inner.opts.consume_timeout,
        AssertUnwindSafe(fut).catch_unwind(),
    )
    .await
    {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(_)) => Err(ListenerFailure::Panicked),
        Err(_) => Err(ListenerFailure::TimedOut),
    }
}

/// Calls the listener and counts the call in the consumer's rates; a panic or a timeout counts as a failure.
async fn call_listener(
    inner: &PushInner,
    msgs: &[Arc<MessageExt>],
    ctx: ConsumeContext,
) -> ConsumeOutcome {
    let failure = if ctx.orderly {
        ConsumeOutcome::Suspend(inner.opts.suspend_current_queue_time)
    } else {
        ConsumeOutcome::RETRY_LATER
    };
    let topic = ctx.queue.topic.clone();
    let batch: Vec<MessageExt> = msgs.iter().map(|m| (**m).clone()).collect();
    let first = batch.first().map(MessageExt::msg_id).unwrap_or_default();
    let started = std::time::Instant::now();
    let outcome = match run_listener(inner, batch, ctx).await {
        Ok(outcome) => outcome,
        Err(ListenerFailure::Panicked) => {
            tracing::error!(group = %inner.group, msg_id = %first, "listener panicked; the messages will be retried");
            failure
        }
        Err(ListenerFailure::TimedOut) => {
            tracing::warn!(group = %inner.group, msg_id = %first, timeout = ?inner.opts.consume_timeout, "listener timed out; the messages will be retried");
            failure
        }
    };
    inner.stats.consumed(
        &topic,
        msgs.len(),
        started.elapsed(),
        outcome == ConsumeOutcome::Success,
    );
    outcome
}

fn with_one_more_try(m: &MessageExt) -> Arc<MessageExt> {
    let mut m = m.clone();
    m.reconsume_times += 1;
    Arc::new(m)
}

/// Boxed with a named type because a failed send-back schedules this again (a recursive future).
fn concurrently(
    inner: Arc<PushInner>,
    owned: Arc<OwnedQueue>,
    msgs: Vec<Arc<MessageExt>>,
) -> BoxFuture<'static, ()> {
    consume_concurrently(inner, owned, msgs).boxed()
}

async fn consume_concurrently(
    inner: Arc<PushInner>,
    owned: Arc<OwnedQueue>,
    msgs: Vec<Arc<MessageExt>>,
) {
    let permit = tokio::select! {
        _ = inner.stopping.cancelled() => return,
        p = inner.permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
    };
    if owned.pq.is_dropped() {
        return;
    }
    let ctx = ConsumeContext {
        queue: owned.mq.clone(),
        orderly: false,
    };
    let outcome = call_listener(&inner, &msgs, ctx).await;
    drop(permit);
    let mut done: Vec<i64> = msgs.iter().map(|m| m.queue_offset).collect();
    let delay_level = match outcome {
        ConsumeOutcome::Success => None,
        ConsumeOutcome::Retry { delay_level } => Some(delay_level),
        ConsumeOutcome::Suspend(_) => Some(0),
    };
    if let Some(delay_level) = delay_level {
        if inner.opts.message_model == MessageModel::Broadcasting {
            tracing::warn!(group = %inner.group, count = msgs.len(), "broadcast consumption failed; broadcasting does not retry");
        } else {
            let mut failed = Vec::new();
            for m in &msgs {
                let max = inner.opts.max_reconsume_times;
                // A listener's own "dead-letter now" is its caller's to log; used-up retries are logged here.
                if delay_level >= 0 && m.reconsume_times >= max {
                    tracing::warn!(
                        group = %inner.group,
                        topic = %m.property(keys::RETRY_TOPIC).unwrap_or(&m.topic),
                        msg_id = %m.msg_id(),
                        deliveries = m.reconsume_times + 1,
                        "message dead-lettered to %DLQ%{}",
                        inner.group
                    );
                }
                let sent = inner
                    .instance
                    .send_message_back(
                        &inner.group,
                        m,
                        &owned.mq.broker_name,
                        delay_level,
                        inner.opts.max_reconsume_times,
                    )
                    .await;
                if let Err(e) = sent {
                    tracing::warn!(group = %inner.group, msg_id = %m.msg_id(), error = %e, "send-back failed; retrying locally");
                    failed.push(with_one_more_try(m));
                }
            }
            if !failed.is_empty() {
                done.retain(|o| !failed.iter().any(|f| f.queue_offset == *o));
                let (inner2, owned2) = (inner.clone(), owned.clone());
                inner.consume_tasks.spawn(async move {
                    if !pause_delivery(&inner2.opts.clock, &owned2.cancel, LOCAL_RETRY_PAUSE).await
                    {
                        concurrently(inner2, owned2, failed).await;
                    }
                });
            }
        }
    }
    if let Some(offset) = owned.pq.remove_messages(&done) {
        if !owned.pq.is_dropped() {
            inner.offsets.update(&owned.mq, offset, true);
        }
    }
}

async fn orderly(inner: Arc<PushInner>, owned: Arc<OwnedQueue>) {
    let locks = inner.opts.message_model == MessageModel::Clustering;
    let pq = owned.pq.clone();
    loop {
        if pq.is_dropped() || inner.stopping.is_cancelled() {
            return;
        }
        if locks && (!pq.is_locked() || pq.is_lock_expired(REBALANCE_LOCK_MAX_LIVE_TIME)) {
            let got = inner
                .instance
                .lock_queues(&inner.group, &owned.mq.broker_name, vec![owned.mq.clone()])
                .await
                .is_ok_and(|l| l.contains(&owned.mq));
            pq.set_locked(got);
            if got {
                pq.set_last_lock_timestamp(tokio::time::Instant::now());
            } else if pause(&owned.cancel, RELOCK_PAUSE).await {
                return;
            }
            continue;
        }
        let permit = tokio::select! {
            _ = owned.cancel.cancelled() => return,
            p = inner.permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
        };
        let guard = pq.consume_lock().lock().await;
        if pq.is_dropped() {
            return;
        }
        let msgs = pq.take_messages(inner.opts.consume_message_batch_max_size);
        if msgs.is_empty() {
            return;
        }
        let ctx = ConsumeContext {
            queue: owned.mq.clone(),
            orderly: true,
        };
        let outcome = call_listener(&inner, &msgs, ctx).await;
        let suspend = match outcome {
            ConsumeOutcome::Success => None,
            ConsumeOutcome::Suspend(d) => Some(d),
            ConsumeOutcome::Retry { delay_level } if delay_level < 0 => Some(Duration::ZERO),
            ConsumeOutcome::Retry { .. } => Some(inner.opts.suspend_current_queue_time),
        };
        let dead_letter_now =
            matches!(outcome, ConsumeOutcome::Retry { delay_level } if delay_level < 0);
        match suspend {
            None => commit(&inner, &owned),
            Some(pause_for) => {
                let max = inner.opts.max_reconsume_times;
                let exhausted = dead_letter_now || msgs.iter().all(|m| m.reconsume_times >= max);
                if exhausted && dead_letter_all(&inner, &owned, &msgs).await {
                    commit(&inner, &owned);
                } else {
                    let again: Vec<Arc<MessageExt>> =
                        msgs.iter().map(|m| with_one_more_try(m)).collect();
                    pq.make_messages_to_consume_again(&again);
                    drop(guard);
                    drop(permit);
                    if pause_delivery(&inner.opts.clock, &owned.cancel, pause_for).await {
                        return;
                    }
                    continue;
                }
            }
        }
        drop(guard);
        drop(permit);
    }
}

/// Records an orderly batch's offset; after a drop only while this member still holds the queue's lock (a
/// queue moving away keeps it until the batch ends).
fn commit(inner: &PushInner, owned: &OwnedQueue) {
    if let Some(offset) = owned.pq.commit() {
        if !owned.pq.is_dropped() || inner.releasing.lock().contains_key(&owned.mq) {
            inner.offsets.update(&owned.mq, offset, false);
        }
    }
}

/// Orderly mode: moves messages that used up their retries to the DLQ; false if any send-back failed.
async fn dead_letter_all(inner: &PushInner, owned: &OwnedQueue, msgs: &[Arc<MessageExt>]) -> bool {
    for m in msgs {
        tracing::warn!(
            group = %inner.group,
            topic = %m.topic,
            msg_id = %m.msg_id(),
            deliveries = m.reconsume_times + 1,
            "message dead-lettered to %DLQ%{}",
            inner.group
        );
        let sent = inner
            .instance
            .send_to_retry_topic(
                &inner.group,
                m,
                &owned.mq.broker_name,
                inner.opts.max_reconsume_times,
            )
            .await;
        if let Err(e) = sent {
            tracing::warn!(group = %inner.group, msg_id = %m.msg_id(), error = %e, "could not dead-letter; suspending");
            return false;
        }
    }
    true
}
