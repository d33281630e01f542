//! The delay-level service: one task per level over `SCHEDULE_TOPIC_XXXX` queue level − 1 (Java's
//! `ScheduleMessageService` with its `DeliverDelayedMessageTimerTask`s).
//!
//! All entries of a level wait the same time, so they come due in queue order: a task only ever looks at the
//! head of its queue. It sleeps until the head is due, or, when the queue is drained, until a put of that
//! level wakes it; it never polls.

use rmq_protocol::message::properties;
use rmq_protocol::message::stored::parse_view;
use tokio_util::sync::CancellationToken;

use super::deliver::{redelivery, reput, Delivery, Reput};
use super::{already_delivered, PERSIST_INTERVAL, RETRY_BACKOFF, SCHEDULE_TOPIC};
use crate::store::GetMessageStatus;
use rmq_protocol::clock::Wait;

/// What a level task does after one read of its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Read again at once (progress was made).
    Continue,
    /// Nothing left: wait for a put of this level.
    Idle,
    /// The head is due at this epoch ms.
    Until(i64),
    /// The store refused a re-put or a read came back empty: try again after a pause.
    Backoff,
}

/// When an entry stored at `store_ts` is due, corrected as Java does for a clock that moved back: never later
/// than `now + delay`.
fn due_at(store_ts: i64, delay: i64, now: i64) -> i64 {
    let due = store_ts.saturating_add(delay);
    if due > now.saturating_add(delay) {
        now
    } else {
        due
    }
}

/// Runs every level task plus the periodic save of their progress; on `stop` waits for the level tasks to
/// finish their current re-put and writes the final progress.
pub async fn run_all(d: Delivery, stop: CancellationToken) {
    let mut tasks = tokio::task::JoinSet::new();
    for level in 1..=d.schedule.max_level() {
        tasks.spawn(run_level(d.clone(), level, stop.clone()));
    }
    let progress = d.schedule.progress.clone();
    let mut tick = tokio::time::interval(PERSIST_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {
                if let Err(e) = progress.save(false).await {
                    tracing::warn!(error = %e, "saving delay-level progress failed");
                }
            }
        }
    }
    while tasks.join_next().await.is_some() {}
    if let Err(e) = progress.save(true).await {
        tracing::error!(error = %e, "saving delay-level progress at shutdown failed");
    }
}

/// Delivers one level until `stop`.
async fn run_level(d: Delivery, level: i32, stop: CancellationToken) {
    let sched = &d.schedule;
    let queue_id = level - 1;
    let (Some(delay), Some(wake)) = (
        sched.delay_ms(level),
        usize::try_from(queue_id)
            .ok()
            .and_then(|i| sched.level_wake.get(i)),
    ) else {
        return;
    };
    let store = &d.store;
    let mut offset = sched.progress.get(level);
    // Entries stored before this start and due by then may have been re-put after the last save (crash):
    // those are checked against the destination before being re-put.
    let clock = &d.clock;
    let started = clock.now_ms();
    let verify_below = store.max_offset_in_queue(SCHEDULE_TOPIC, queue_id);
    let max_msgs = store.config().max_transfer_count_on_message;
    tracing::debug!(level, delay, offset, "delay level service started");
    while !stop.is_cancelled() {
        let r = store.get_messages(
            SCHEDULE_TOPIC,
            queue_id,
            offset,
            max_msgs,
            usize::MAX,
            &|_| true,
        );
        let next = match r.status {
            GetMessageStatus::Found => {
                let mut next = Next::Continue;
                let mut reached = r.next_begin_offset;
                for rec in &r.messages {
                    let v = match parse_view(rec) {
                        Ok(v) => v,
                        Err(e) => {
                            tracing::error!(level, error = %e, "undecodable schedule record skipped");
                            continue;
                        }
                    };
                    let now = clock.now_ms();
                    let due = due_at(v.store_timestamp, delay, now);
                    if due > now {
                        next = Next::Until(due);
                        reached = v.queue_offset;
                        break;
                    }
                    let verify = v.queue_offset < verify_below && due <= started;
                    let done = verify
                        && v.property(properties::REAL_TOPIC)
                            .is_some_and(|t| already_delivered(store, t, &v));
                    if !done {
                        if let Some(msg) = redelivery(rec, &v, |p| {
                            p.remove(properties::DELAY_TIME_LEVEL);
                        }) {
                            if reput(&d.write, msg).await == Reput::Retry {
                                next = Next::Backoff;
                                reached = v.queue_offset;
                                break;
                            }
                        }
                    }
                    sched.progress.set(level, v.queue_offset + 1);
                    if stop.is_cancelled() {
                        reached = v.queue_offset + 1;
                        break;
                    }
                }
                offset = reached;
                next
            }
            GetMessageStatus::OffsetTooSmall
            | GetMessageStatus::OffsetOverflowBadly
            | GetMessageStatus::NoMatchedMessage
            | GetMessageStatus::MessageWasRemoving
            | GetMessageStatus::OffsetFoundNull => {
                if r.next_begin_offset != offset {
                    tracing::warn!(
                        level,
                        from = offset,
                        to = r.next_begin_offset,
                        status = ?r.status,
                        "delay level offset corrected"
                    );
                    offset = r.next_begin_offset;
                    Next::Continue
                } else {
                    Next::Backoff
                }
            }
            GetMessageStatus::NoMessageInQueue
            | GetMessageStatus::NoMatchedLogicQueue
            | GetMessageStatus::OffsetOverflowOne => Next::Idle,
        };
        sched.progress.set(level, offset);
        match next {
            Next::Continue => tokio::task::yield_now().await,
            Next::Idle => {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = wake.notified() => {}
                }
            }
            Next::Until(due) => {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = clock.sleep_until(due, Wait::Delivery) => {}
                }
            }
            Next::Backoff => {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(RETRY_BACKOFF) => {}
                }
            }
        }
    }
    tracing::debug!(level, offset, "delay level service stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_time_is_store_time_plus_delay_unless_the_clock_went_back() {
        assert_eq!(due_at(1000, 500, 1200), 1500);
        assert_eq!(due_at(1000, 500, 2000), 1500);
        // Stored "in the future" (clock moved back by more than the delay): due now.
        assert_eq!(due_at(10_000, 500, 1000), 1000);
    }
}
