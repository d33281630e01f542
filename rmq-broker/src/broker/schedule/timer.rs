//! The timer service: messages with an arbitrary delivery time (5.x `TIMER_*` properties).
//!
//! Timer messages are ordinary records of `rmq_sys_wheel_timer` queue 0 (in the CommitLog, so they are as
//! durable as any message). This task keeps the queue's *pending* entries in an ordered in-memory index,
//! `(delivery ms, queue offset) → CommitLog offset`, sleeps until the first key is due (a timer put wakes it, so
//! an earlier message is picked up at once), and re-puts due messages to `REAL_TOPIC`/`REAL_QID` in key order.
//! Memory is about 60 bytes per pending message; time is O(log n) per message, never a scan per tick.
//!
//! # Checkpoint
//! `timerCheckpoint.json` holds `indexed_offset` Q, `low_offset` P and the last delivered key K. It is only
//! written when no pending key is ≤ K, which makes this true at every save: *among queue entries below Q,
//! exactly those with key ≤ K have been delivered*; P is the lowest pending offset. Because keys are delivered
//! in order, and an entry indexed after its time (key < K) is delivered before anything else, this holds
//! after each step. A restart reads the queue from P: entries below Q with a key ≤ K are skipped (their tag
//! code is the delivery time, so most are skipped without reading the CommitLog), all others are pending.
//! Those already due at restart might have been delivered after the last save (crash), so they are checked
//! against their destination's index first ([`super::already_delivered`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rmq_protocol::message::properties;
use rmq_protocol::message::stored::parse_view;
use tokio_util::sync::CancellationToken;

use super::deliver::{redelivery, reput, Delivery, Reput};
use super::progress::TimerCheckpoint;
use super::{already_delivered, PERSIST_INTERVAL, RETRY_BACKOFF, TIMER_TOPIC};
use crate::persist::StateFile;
use crate::store::{GetMessageStatus, MessageStore};
use rmq_protocol::clock::Wait;

/// Index key: delivery time (epoch ms), then queue offset (a total order).
type Key = (i64, i64);

#[derive(Debug, Clone, Copy)]
struct Pending {
    /// CommitLog offset of the timer record.
    phys: i64,
    /// Due before the restart that indexed it: check the destination before re-putting.
    verify: bool,
}

/// The in-memory index and the progress it saves.
#[derive(Debug)]
struct Wheel {
    pending: BTreeMap<Key, Pending>,
    /// Queue offsets of pending entries (for `low_offset`).
    offsets: BTreeSet<i64>,
    /// Next queue offset to index (Q).
    indexed: i64,
    /// Last delivered key (K).
    done: Key,
    dirty: bool,
    last_save: Instant,
    path: StateFile,
}

impl Wheel {
    fn checkpoint(&self) -> TimerCheckpoint {
        TimerCheckpoint {
            indexed_offset: self.indexed,
            low_offset: self.offsets.first().copied().unwrap_or(self.indexed),
            done_deliver_ms: self.done.0,
            done_queue_offset: self.done.1,
        }
    }

    /// Whether the checkpoint invariant holds now (no pending key ≤ K).
    fn consistent(&self) -> bool {
        self.pending
            .first_key_value()
            .is_none_or(|(k, _)| *k > self.done)
    }

    fn insert(&mut self, key: Key, p: Pending) {
        self.pending.insert(key, p);
        self.offsets.insert(key.1);
    }

    /// Indexes one record: a message becomes pending; a recall marker removes the pending message of the same
    /// delivery time with its UNIQ_KEY (Java's `TIMER_DEL_UNIQKEY`: the marker is written after the message,
    /// so it is always indexed after it, also when the index is rebuilt).
    fn index(&mut self, store: &MessageStore, e: Entry, verify_due_by: Option<i64>) {
        let Some(uniq) = e.cancels else {
            let verify = verify_due_by.is_some_and(|t| e.key.0 <= t);
            self.insert(
                e.key,
                Pending {
                    phys: e.phys,
                    verify,
                },
            );
            return;
        };
        let same_time: Vec<(Key, i64)> = self
            .pending
            .range((e.key.0, i64::MIN)..=(e.key.0, i64::MAX))
            .map(|(k, p)| (*k, p.phys))
            .collect();
        for (key, phys) in same_time {
            let matches = store
                .message_at(phys)
                .and_then(|rec| {
                    parse_view(&rec)
                        .ok()
                        .map(|v| v.uniq_key() == Some(uniq.as_str()))
                })
                .unwrap_or(false);
            if matches {
                self.pending.remove(&key);
                self.offsets.remove(&key.1);
                tracing::info!(uniq = %uniq, deliver_ms = key.0, "timer message recalled");
            }
        }
    }

    /// Rebuilds the index from the queue and the saved checkpoint (blocking reads).
    fn rebuild(store: &MessageStore, mut cp: TimerCheckpoint, path: StateFile, now: i64) -> Wheel {
        let (min, max) = (
            store.min_offset_in_queue(TIMER_TOPIC, 0),
            store.max_offset_in_queue(TIMER_TOPIC, 0),
        );
        if cp.indexed_offset > max {
            tracing::warn!(
                checkpoint = cp.indexed_offset,
                max,
                "timer checkpoint is beyond the timer queue; re-indexing from its end"
            );
            cp.indexed_offset = max;
        }
        let done = (cp.done_deliver_ms, cp.done_queue_offset);
        let mut w = Wheel {
            pending: BTreeMap::new(),
            offsets: BTreeSet::new(),
            indexed: cp.low_offset.clamp(min, cp.indexed_offset.max(min)),
            done,
            dirty: false,
            last_save: Instant::now(),
            path,
        };
        // Below Q: only entries with key > K are pending; the tag code (delivery time) filters the rest.
        let limit = cp.indexed_offset;
        let max_msgs = store.config().max_transfer_count_on_message;
        while w.indexed < limit {
            let r = store.get_messages(TIMER_TOPIC, 0, w.indexed, max_msgs, usize::MAX, &|tag| {
                tag >= done.0
            });
            for rec in &r.messages {
                if let Some(e) = entry(rec) {
                    if e.key.1 < limit && e.key > done {
                        w.index(store, e, Some(now));
                    }
                }
            }
            if r.next_begin_offset <= w.indexed {
                break;
            }
            w.indexed = r.next_begin_offset;
        }
        // From Q on, everything is pending (entries seen above are inserted again under the same key).
        w.indexed = limit.max(min);
        w.index_new(store, Some(now));
        tracing::info!(
            pending = w.pending.len(),
            indexed = w.indexed,
            first_due = w.pending.first_key_value().map(|(k, _)| k.0),
            "timer index rebuilt"
        );
        w
    }

    /// Reads queue entries from `indexed` to the end into the index; `verify_due_by` marks entries due by then
    /// for a destination check (restart only).
    fn index_new(&mut self, store: &MessageStore, verify_due_by: Option<i64>) {
        let max_msgs = store.config().max_transfer_count_on_message;
        loop {
            let r = store.get_messages(TIMER_TOPIC, 0, self.indexed, max_msgs, usize::MAX, &|_| {
                true
            });
            match r.status {
                GetMessageStatus::Found => {
                    for rec in &r.messages {
                        if let Some(e) = entry(rec) {
                            self.index(store, e, verify_due_by);
                        }
                    }
                }
                GetMessageStatus::NoMessageInQueue
                | GetMessageStatus::NoMatchedLogicQueue
                | GetMessageStatus::OffsetOverflowOne => return,
                status => {
                    if r.next_begin_offset == self.indexed {
                        return;
                    }
                    tracing::warn!(
                        from = self.indexed,
                        to = r.next_begin_offset,
                        ?status,
                        "timer index offset corrected"
                    );
                }
            }
            if r.next_begin_offset <= self.indexed {
                return;
            }
            self.indexed = r.next_begin_offset;
            self.dirty = true;
        }
    }

    /// Re-puts every due entry in key order; returns a back-off when the store refused one.
    async fn deliver_due(&mut self, d: &Delivery, stop: &CancellationToken) -> Option<Duration> {
        while !stop.is_cancelled() {
            let Some((&key, &p)) = self.pending.first_key_value() else {
                break;
            };
            let now = d.clock.now_ms();
            if key.0 > now {
                break;
            }
            self.pending.remove(&key);
            self.offsets.remove(&key.1);
            if deliver(d, key, p, now).await == Reput::Retry {
                self.insert(key, p);
                return Some(RETRY_BACKOFF);
            }
            self.done = self.done.max(key);
            self.dirty = true;
        }
        None
    }

    /// Saves the checkpoint if it changed and the last save is `PERSIST_INTERVAL` old (or `force`), and only
    /// while the invariant holds.
    async fn save(&mut self, force: bool) {
        if !self.dirty || !self.consistent() {
            return;
        }
        if !force && self.last_save.elapsed() < PERSIST_INTERVAL {
            return;
        }
        match self.checkpoint().save(self.path.clone()).await {
            Ok(()) => {
                self.dirty = false;
                self.last_save = Instant::now();
            }
            Err(e) => tracing::warn!(error = %e, "saving the timer checkpoint failed"),
        }
    }

    /// When the first pending entry is due (epoch ms on the delivery clock).
    fn next_due(&self) -> Option<i64> {
        self.pending.first_key_value().map(|(k, _)| k.0)
    }

    /// How long (real time) until a save or a retry is due (None: nothing but deliveries and puts).
    fn next_wake(&self, backoff: Option<Duration>) -> Option<Duration> {
        let save = self.dirty.then(|| {
            PERSIST_INTERVAL
                .saturating_sub(self.last_save.elapsed())
                .max(Duration::from_millis(1))
        });
        [save, backoff].into_iter().flatten().min()
    }
}

/// One timer record: its index key and CommitLog offset, and, for a recall marker (`TIMER_DEL_UNIQKEY`), the
/// UNIQ_KEY of the message it cancels.
struct Entry {
    key: Key,
    phys: i64,
    cancels: Option<String>,
}

/// Reads one timer record's [`Entry`].
fn entry(rec: &bytes::Bytes) -> Option<Entry> {
    let v = match parse_view(rec) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "undecodable timer record skipped");
            return None;
        }
    };
    let at = v
        .property(properties::TIMER_OUT_MS)
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or_else(|| {
            tracing::warn!(
                phys = v.commit_log_offset,
                "timer record without TIMER_OUT_MS; delivering now"
            );
            v.store_timestamp
        });
    Some(Entry {
        key: (at, v.queue_offset),
        phys: v.commit_log_offset,
        cancels: v.property(properties::TIMER_DEL_UNIQKEY).map(str::to_owned),
    })
}

/// Re-puts one due timer message to its real topic.
async fn deliver(d: &Delivery, key: Key, p: Pending, now: i64) -> Reput {
    let store = &d.store;
    let Some(rec) = store.message_at(p.phys) else {
        tracing::error!(
            phys = p.phys,
            queue_offset = key.1,
            "timer record no longer readable; dropped"
        );
        return Reput::Dropped;
    };
    let v = match parse_view(&rec) {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(phys = p.phys, error = %e, "undecodable timer record; dropped");
            return Reput::Dropped;
        }
    };
    if p.verify
        && v.property(properties::REAL_TOPIC)
            .is_some_and(|t| already_delivered(store, t, &v))
    {
        tracing::info!(
            phys = p.phys,
            "timer message was delivered before the restart; not delivered again"
        );
        return Reput::Stored;
    }
    let enqueued = v.store_timestamp;
    let Some(msg) = redelivery(&rec, &v, |props| {
        props.insert(properties::TIMER_ENQUEUE_MS, enqueued.to_string());
        props.insert(properties::TIMER_DEQUEUE_MS, now.to_string());
    }) else {
        return Reput::Dropped;
    };
    reput(&d.write, msg).await
}

/// Runs the timer until `stop`, then saves its checkpoint.
pub async fn run(d: Delivery, stop: CancellationToken) {
    let sched = &d.schedule;
    let cp = sched.timer_start;
    let path = sched.timer_checkpoint.clone();
    let store = d.store.clone();
    let now = d.clock.now_ms();
    let mut wheel = match tokio::task::spawn_blocking(move || Wheel::rebuild(&store, cp, path, now))
        .await
    {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(error = %e, "rebuilding the timer index failed; timer messages are not delivered");
            return;
        }
    };
    loop {
        wheel.index_new(&d.store, None);
        let backoff = wheel.deliver_due(&d, &stop).await;
        wheel.save(false).await;
        if stop.is_cancelled() {
            break;
        }
        let wait = wheel.next_wake(backoff);
        let due = wheel.next_due();
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = sched.timer_wake.notified() => {}
            _ = tokio::time::sleep(wait.unwrap_or_default()), if wait.is_some() => {}
            _ = d.clock.sleep_until(due.unwrap_or(i64::MAX), Wait::Delivery), if due.is_some() => {}
        }
    }
    wheel.save(true).await;
    tracing::debug!(pending = wheel.pending.len(), "timer service stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wheel() -> Wheel {
        Wheel {
            pending: BTreeMap::new(),
            offsets: BTreeSet::new(),
            indexed: 0,
            done: (i64::MIN, -1),
            dirty: false,
            last_save: Instant::now(),
            path: crate::persist::StateDir::from(std::path::PathBuf::new())
                .file("timerCheckpoint.json"),
        }
    }

    #[test]
    fn checkpoint_tracks_lowest_pending_offset_and_consistency() {
        let mut w = wheel();
        w.indexed = 10;
        assert_eq!(w.checkpoint().low_offset, 10);
        w.insert(
            (500, 7),
            Pending {
                phys: 1,
                verify: false,
            },
        );
        w.insert(
            (100, 9),
            Pending {
                phys: 2,
                verify: false,
            },
        );
        assert_eq!(w.checkpoint().low_offset, 7);
        assert!(w.consistent());
        w.done = (100, 9);
        assert!(
            !w.consistent(),
            "a pending key equal to K breaks the invariant"
        );
        w.pending.remove(&(100, 9));
        w.offsets.remove(&9);
        assert!(w.consistent());
        assert_eq!(w.pending.first_key_value().map(|(k, _)| *k), Some((500, 7)));
    }

    #[test]
    fn next_due_is_the_first_entry_and_next_wake_the_earliest_of_save_and_backoff() {
        let mut w = wheel();
        assert_eq!(w.next_wake(None), None);
        assert_eq!(w.next_due(), None);
        w.insert(
            (60_000, 0),
            Pending {
                phys: 0,
                verify: false,
            },
        );
        assert_eq!(w.next_due(), Some(60_000));
        assert_eq!(
            w.next_wake(None),
            None,
            "a due entry is waited on the clock, not here"
        );
        assert_eq!(
            w.next_wake(Some(Duration::from_millis(5))),
            Some(Duration::from_millis(5))
        );
        w.dirty = true;
        assert!(w.next_wake(None).expect("save") <= PERSIST_INTERVAL);
    }
}
