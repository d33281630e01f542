//! Scheduled delivery: RocketMQ's 18 delay levels and 5.x arbitrary delivery times (docs/protocol.md §3.5, §4.4).
//!
//! # How a message is deferred
//! [`Schedule::defer`] runs on every put the broker makes for a client (send, send-back, DLQ resend) before the
//! properties are encoded:
//! - `DELAY` = L > 0 (and not a half or rollback message: those are deferred when committed): `REAL_TOPIC`/`REAL_QID` keep the destination, the
//!   message goes to `SCHEDULE_TOPIC_XXXX` queue L − 1 (levels above the table clamp to its last level) and any
//!   `TIMER_*` request is dropped. The consume-queue tag slot of that entry holds the delivery time (store time +
//!   the level's delay), computed by the store's tag-code policy [`DeliveryTagCodes`].
//! - otherwise `TIMER_DELAY_SEC`, `TIMER_DELAY_MS` or `TIMER_DELIVER_MS` (in Java's order of precedence): a
//!   delivery time in the future, at most [`TIMER_MAX_DELAY_MS`] ahead, sends the message to
//!   `rmq_sys_wheel_timer` queue 0 with `TIMER_OUT_MS` = the delivery time (no rounding: our precision is 1 ms;
//!   Java rounds down to `timerPrecisionMs`); a time in the past delivers at once. A message that already carries
//!   `TIMER_OUT_MS` was delivered by the timer before and is never deferred again (Java's double check).
//!
//! # How it comes back
//! - [`delay_level`]: one task per level reads its queue in order. Every entry of a level has the same delay, so
//!   entries come due in queue order; the task sleeps until the head is due (or until a put wakes an idle
//!   level) and re-puts due messages to `REAL_TOPIC`/`REAL_QID` with `DELAY` cleared. Progress per level is
//!   `<store>/config/delayOffset.json` (`{"offsetTable":{"1":n,...}}`, Java's shape with quoted keys).
//! - [`timer`]: one task keeps an in-memory ordered index (delivery time, queue offset) → CommitLog offset of
//!   the timer queue's pending entries and sleeps until the first is due; a put wakes it so an earlier message
//!   is never late. Its checkpoint is `<store>/config/timerCheckpoint.json`; at start the index is rebuilt from
//!   the timer queue beyond that checkpoint.
//!
//! # Delivery guarantees
//! A clean shutdown writes the exact progress, so nothing is delivered twice across a restart. After a crash
//! the progress may be up to [`PERSIST_INTERVAL`] old; every message that was due before the restart and is not
//! covered by the saved progress is first looked up by its UNIQ_KEY in the index of its destination topic, and
//! skipped when a copy with the same UNIQ_KEY and born timestamp was stored after it (see
//! [`already_delivered`]). Delivery is therefore exactly once unless the index itself lost entries (it is
//! rebuilt from the CommitLog by store recovery, so only a lost CommitLog tail can cause a redelivery).

pub mod delay_level;
pub mod deliver;
pub mod progress;
pub mod timer;

use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::message::properties::{self, Properties};
use rmq_protocol::message::stored::RecordView;
use rmq_protocol::message::sysflag::{
    transaction_value, TRANSACTION_COMMIT_TYPE, TRANSACTION_PREPARED_TYPE,
    TRANSACTION_ROLLBACK_TYPE,
};
use tokio::sync::Notify;

use crate::persist::{PersistError, StateDir, StateFile};
use crate::store::{MessageStore, TagCodePolicy};
use progress::{DelayProgress, TimerCheckpoint};

/// Topic holding delay-level messages, one queue per level (Java's `RMQ_SYS_SCHEDULE_TOPIC`).
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
/// Topic holding messages with a delivery time, one queue (Java's `TimerMessageStore.TIMER_TOPIC`).
pub const TIMER_TOPIC: &str = "rmq_sys_wheel_timer";
/// Longest accepted timer delay: Java's `timerMaxDelaySec` default (3 days), in ms.
pub const TIMER_MAX_DELAY_MS: i64 = 259_200 * 1000;
/// How often the delivery progress is written while it changes (and once more at shutdown).
pub const PERSIST_INTERVAL: Duration = Duration::from_secs(1);
/// How long a service waits before retrying a re-put the store refused (disk full, shutting down, ...).
const RETRY_BACKOFF: Duration = Duration::from_secs(1);

/// Why a message could not be scheduled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// A `TIMER_*` property is not an integer.
    #[error("timer message illegal, property {key}={value:?} is not an integer")]
    BadTimerProperty {
        /// The property.
        key: &'static str,
        /// Its value.
        value: String,
    },
    /// The delivery time is further ahead than `timerMaxDelaySec` allows.
    #[error(
        "timer message illegal, the delay time {delay_ms}ms should not be bigger than the max delay {max_ms}ms"
    )]
    TimerTooFar {
        /// Requested delay from now.
        delay_ms: i64,
        /// The limit.
        max_ms: i64,
    },
    /// Progress could not be saved.
    #[error(transparent)]
    Persist(#[from] PersistError),
}

/// Where [`Schedule::defer`] sent a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deferral {
    /// Stored on its own topic: deliverable now.
    Now,
    /// Parked on `SCHEDULE_TOPIC_XXXX` at this (clamped) level.
    Level(i32),
    /// Parked on the timer topic until this epoch ms.
    Timer(i64),
}

/// Delay table, wake-ups and per-level progress; shared by the write service (which defers) and the delivery
/// tasks.
#[derive(Debug)]
pub struct Schedule {
    levels: Vec<i64>,
    level_wake: Vec<Notify>,
    timer_wake: Notify,
    progress: Arc<DelayProgress>,
    timer_checkpoint: StateFile,
    timer_start: TimerCheckpoint,
}

impl Schedule {
    /// Loads `delayOffset.json` and `timerCheckpoint.json` from `config_dir`; `levels` is the delay table in
    /// ms, level 1 first.
    ///
    /// # Errors
    /// A progress file exists but cannot be read or parsed.
    pub fn load(
        config_dir: impl Into<StateDir>,
        levels: Vec<u64>,
    ) -> Result<Schedule, PersistError> {
        let dir = config_dir.into();
        let timer_checkpoint = dir.file("timerCheckpoint.json");
        let levels: Vec<i64> = levels
            .into_iter()
            .map(|d| i64::try_from(d).unwrap_or(i64::MAX))
            .collect();
        Ok(Schedule {
            level_wake: levels.iter().map(|_| Notify::new()).collect(),
            levels,
            timer_wake: Notify::new(),
            progress: Arc::new(DelayProgress::load(dir.file("delayOffset.json"))?),
            timer_start: TimerCheckpoint::load(&timer_checkpoint)?,
            timer_checkpoint,
        })
    }

    /// The highest level (the table's length).
    pub fn max_level(&self) -> i32 {
        i32::try_from(self.levels.len()).unwrap_or(i32::MAX)
    }

    /// The delay of `level` (1-based) in ms.
    pub fn delay_ms(&self, level: i32) -> Option<i64> {
        let i = usize::try_from(level).ok()?.checked_sub(1)?;
        self.levels.get(i).copied()
    }

    /// Per-level progress (queue offsets), for inspection.
    pub fn level_offsets(&self) -> std::collections::BTreeMap<i32, i64> {
        self.progress.snapshot()
    }

    /// Rewrites a message about to be stored so that it waits for its delay level or delivery time; see the
    /// module docs. `half` says whether it is a half message (the write service decides that once); `now` is
    /// the broker's clock in epoch ms.
    ///
    /// # Errors
    /// [`ScheduleError::BadTimerProperty`] and [`ScheduleError::TimerTooFar`] (MESSAGE_ILLEGAL for the client).
    pub fn defer(
        &self,
        topic: &mut String,
        queue_id: &mut i32,
        props: &mut Properties,
        sys_flag: i32,
        half: bool,
        now: i64,
    ) -> Result<Deferral, ScheduleError> {
        let tx = transaction_value(sys_flag);
        if tx == TRANSACTION_PREPARED_TYPE
            || tx == TRANSACTION_ROLLBACK_TYPE
            || (half && tx != TRANSACTION_COMMIT_TYPE)
        {
            // Half messages wait for their outcome first; the commit re-put is deferred then.
            return Ok(Deferral::Now);
        }
        let level = props
            .get(properties::DELAY_TIME_LEVEL)
            .and_then(|l| l.trim().parse::<i32>().ok())
            .unwrap_or(0);
        if level > 0 && !self.levels.is_empty() {
            for key in [
                properties::TIMER_DELIVER_MS,
                properties::TIMER_DELAY_MS,
                properties::TIMER_DELAY_SEC,
            ] {
                props.remove(key);
            }
            let level = level.min(self.max_level());
            props.insert(properties::DELAY_TIME_LEVEL, level.to_string());
            props.insert(properties::REAL_TOPIC, topic.as_str());
            props.insert(properties::REAL_QUEUE_ID, queue_id.to_string());
            *topic = SCHEDULE_TOPIC.to_owned();
            *queue_id = level - 1;
            return Ok(Deferral::Level(level));
        }
        if topic == TIMER_TOPIC || props.contains(properties::TIMER_OUT_MS) {
            return Ok(Deferral::Now);
        }
        let Some(deliver_ms) = requested_delivery(props, now)? else {
            return Ok(Deferral::Now);
        };
        if deliver_ms <= now {
            return Ok(Deferral::Now);
        }
        if deliver_ms - now > TIMER_MAX_DELAY_MS {
            return Err(ScheduleError::TimerTooFar {
                delay_ms: deliver_ms - now,
                max_ms: TIMER_MAX_DELAY_MS,
            });
        }
        props.insert(properties::TIMER_OUT_MS, deliver_ms.to_string());
        props.insert(properties::REAL_TOPIC, topic.as_str());
        props.insert(properties::REAL_QUEUE_ID, queue_id.to_string());
        *topic = TIMER_TOPIC.to_owned();
        *queue_id = 0;
        Ok(Deferral::Timer(deliver_ms))
    }

    /// Tells the service in charge that a deferred message was stored (call after the put succeeded).
    pub fn stored(&self, deferral: Deferral) {
        match deferral {
            Deferral::Now => {}
            Deferral::Level(l) => {
                if let Some(n) = usize::try_from(l - 1)
                    .ok()
                    .and_then(|i| self.level_wake.get(i))
                {
                    n.notify_one();
                }
            }
            Deferral::Timer(_) => self.timer_wake.notify_one(),
        }
    }
}

/// The delivery time a message asks for with `TIMER_*` properties, if any (Java's precedence: seconds, then
/// milliseconds of delay, then the absolute time).
fn requested_delivery(props: &Properties, now: i64) -> Result<Option<i64>, ScheduleError> {
    let parse = |key: &'static str| -> Result<Option<i64>, ScheduleError> {
        match props.get(key) {
            None => Ok(None),
            Some(v) => {
                v.trim()
                    .parse::<i64>()
                    .map(Some)
                    .map_err(|_| ScheduleError::BadTimerProperty {
                        key,
                        value: v.to_owned(),
                    })
            }
        }
    };
    if let Some(sec) = parse(properties::TIMER_DELAY_SEC)? {
        return Ok(Some(now.saturating_add(sec.saturating_mul(1000))));
    }
    if let Some(ms) = parse(properties::TIMER_DELAY_MS)? {
        return Ok(Some(now.saturating_add(ms)));
    }
    parse(properties::TIMER_DELIVER_MS)
}

/// The store's tag-code policy that puts delivery times into the consume-queue tag slot: store time + level
/// delay for `SCHEDULE_TOPIC_XXXX` (as RocketMQ), `TIMER_OUT_MS` for the timer topic (so a restart can skip
/// delivered timer entries by their tag code without reading them). Set it before the store opens.
#[derive(Debug, Clone)]
pub struct DeliveryTagCodes {
    levels: Vec<i64>,
}

impl DeliveryTagCodes {
    /// The policy for the delay table `levels` (ms, level 1 first).
    pub fn new(levels: Vec<u64>) -> Self {
        DeliveryTagCodes {
            levels: levels
                .into_iter()
                .map(|d| i64::try_from(d).unwrap_or(i64::MAX))
                .collect(),
        }
    }
}

impl TagCodePolicy for DeliveryTagCodes {
    fn tag_code(&self, v: &RecordView<'_>) -> Option<i64> {
        if v.topic == SCHEDULE_TOPIC {
            let level = v
                .property(properties::DELAY_TIME_LEVEL)
                .and_then(|l| l.parse::<i32>().ok())
                .unwrap_or(v.queue_id + 1);
            let delay = level_delay(&self.levels, level)?;
            Some(v.store_timestamp.saturating_add(delay))
        } else if v.topic == TIMER_TOPIC {
            v.property(properties::TIMER_OUT_MS)?.parse().ok()
        } else {
            None
        }
    }
}

/// Delay of a 1-based level, clamped to the table.
fn level_delay(levels: &[i64], level: i32) -> Option<i64> {
    let i = usize::try_from(level.max(1) - 1).ok()?;
    levels.get(i.min(levels.len().checked_sub(1)?)).copied()
}

/// Whether the scheduled record `v` was already re-put to `topic`: a record there with the same UNIQ_KEY and
/// born timestamp, stored after `v` (a higher CommitLog offset). Only the re-put of `v` (or a later retry
/// round, which needs that re-put first) can be such a record, so the answer is exact as far as the index is.
pub fn already_delivered(store: &MessageStore, topic: &str, v: &RecordView<'_>) -> bool {
    let Some(uniq) = v.uniq_key() else {
        return false;
    };
    let found = store.query_messages(topic, uniq, 64, 0, i64::MAX);
    found.messages.iter().any(|rec| {
        rmq_protocol::message::stored::parse_view(rec).is_ok_and(|d| {
            d.commit_log_offset > v.commit_log_offset
                && d.born_timestamp == v.born_timestamp
                && d.uniq_key() == Some(uniq)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_half(p: &Properties) -> bool {
        p.get(properties::TRANSACTION_PREPARED)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    fn schedule() -> Schedule {
        let dir = tempfile::tempdir().expect("tempdir");
        Schedule::load(dir.path(), vec![1000, 5000, 10_000]).expect("load")
    }

    fn props(pairs: &[(&str, &str)]) -> Properties {
        pairs.iter().map(|(k, v)| (*k, *v)).collect()
    }

    #[test]
    fn delay_level_goes_to_its_schedule_queue_and_clamps() {
        let s = schedule();
        let (mut t, mut q) = ("T".to_owned(), 3);
        let mut p = props(&[("DELAY", "2"), ("TIMER_DELIVER_MS", "99999999999999")]);
        assert_eq!(
            {
                let h = is_half(&p);
                s.defer(&mut t, &mut q, &mut p, 0, h, 1000)
            }
            .expect("defer"),
            Deferral::Level(2)
        );
        assert_eq!((t.as_str(), q), (SCHEDULE_TOPIC, 1));
        assert_eq!(p.get("REAL_TOPIC"), Some("T"));
        assert_eq!(p.get("REAL_QID"), Some("3"));
        assert!(!p.contains("TIMER_DELIVER_MS"), "DELAY wins over TIMER_*");

        let (mut t, mut q) = ("T".to_owned(), 0);
        let mut p = props(&[("DELAY", "40")]);
        assert_eq!(
            {
                let h = is_half(&p);
                s.defer(&mut t, &mut q, &mut p, 0, h, 1000)
            }
            .expect("defer"),
            Deferral::Level(3)
        );
        assert_eq!((q, p.get("DELAY")), (2, Some("3")));
    }

    #[test]
    fn non_positive_delay_half_messages_and_plain_messages_stay() {
        let s = schedule();
        for (pairs, sys_flag) in [
            (vec![("DELAY", "0")], 0),
            (vec![("DELAY", "-1")], 0),
            (vec![("DELAY", "x")], 0),
            (vec![("DELAY", "2")], TRANSACTION_PREPARED_TYPE),
            (vec![("DELAY", "2"), ("TRAN_MSG", "true")], 0),
            (vec![], 0),
        ] {
            let (mut t, mut q) = ("T".to_owned(), 1);
            let mut p = props(&pairs);
            assert_eq!(
                {
                    let h = is_half(&p);
                    s.defer(&mut t, &mut q, &mut p, sys_flag, h, 1000)
                }
                .expect("defer"),
                Deferral::Now
            );
            assert_eq!((t.as_str(), q), ("T", 1));
        }
    }

    #[test]
    fn timer_properties_in_java_precedence() {
        let s = schedule();
        let now = 1_000_000;
        for (pairs, want) in [
            (vec![("TIMER_DELIVER_MS", "1000500")], 1_000_500),
            (vec![("TIMER_DELAY_MS", "250")], 1_000_250),
            (
                vec![("TIMER_DELAY_SEC", "2"), ("TIMER_DELAY_MS", "7")],
                1_002_000,
            ),
        ] {
            let (mut t, mut q) = ("T".to_owned(), 5);
            let mut p = props(&pairs);
            assert_eq!(
                {
                    let h = is_half(&p);
                    s.defer(&mut t, &mut q, &mut p, 0, h, now)
                }
                .expect("defer"),
                Deferral::Timer(want)
            );
            assert_eq!((t.as_str(), q), (TIMER_TOPIC, 0));
            assert_eq!(p.get("TIMER_OUT_MS"), Some(want.to_string().as_str()));
            assert_eq!(p.get("REAL_QID"), Some("5"));
        }
    }

    #[test]
    fn timer_limits_and_past_times() {
        let s = schedule();
        let now = 1_000_000;
        let (mut t, mut q) = ("T".to_owned(), 0);
        let mut p = props(&[("TIMER_DELIVER_MS", "999999")]);
        assert_eq!(
            {
                let h = is_half(&p);
                s.defer(&mut t, &mut q, &mut p, 0, h, now)
            }
            .expect("past"),
            Deferral::Now
        );
        let far = (now + TIMER_MAX_DELAY_MS + 1).to_string();
        let mut p = props(&[("TIMER_DELIVER_MS", far.as_str())]);
        assert!(matches!(
            {
                let h = is_half(&p);
                s.defer(&mut t, &mut q, &mut p, 0, h, now)
            },
            Err(ScheduleError::TimerTooFar { .. })
        ));
        let edge = (now + TIMER_MAX_DELAY_MS).to_string();
        let mut p = props(&[("TIMER_DELIVER_MS", edge.as_str())]);
        assert!({
            let h = is_half(&p);
            s.defer(&mut t, &mut q, &mut p, 0, h, now)
        }
        .is_ok());
        let (mut t, mut q) = ("T".to_owned(), 0);
        let mut p = props(&[("TIMER_DELAY_MS", "soon")]);
        let err = {
            let h = is_half(&p);
            s.defer(&mut t, &mut q, &mut p, 0, h, now)
        }
        .expect_err("not a number");
        assert!(matches!(err, ScheduleError::BadTimerProperty { .. }));
        let mut p = props(&[("TIMER_DELIVER_MS", "2000000"), ("TIMER_OUT_MS", "5")]);
        assert_eq!(
            {
                let h = is_half(&p);
                s.defer(&mut t, &mut q, &mut p, 0, h, now)
            }
            .expect("redelivered"),
            Deferral::Now
        );
    }

    #[test]
    fn level_delay_clamps() {
        let l = [1000, 5000];
        assert_eq!(level_delay(&l, 1), Some(1000));
        assert_eq!(level_delay(&l, 2), Some(5000));
        assert_eq!(level_delay(&l, 9), Some(5000));
        assert_eq!(level_delay(&l, 0), Some(1000));
        assert_eq!(level_delay(&[], 1), None);
    }
}
