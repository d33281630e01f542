//! A consumer's pull and consume rates per topic (Java's `ConsumerStatsManager`), for running info: totals
//! counted as they happen, rates taken over the last minute from snapshots at most 10 s apart.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rmq_protocol::body::ConsumeStatus;

/// Snapshots are taken at most this often (Java samples minute windows every 10 s).
const SNAPSHOT_EVERY: Duration = Duration::from_secs(10);
/// Rates cover this much history.
const WINDOW: Duration = Duration::from_secs(60);
/// Failures are counted over this much history (Java: the hour window).
const FAILED_WINDOW: Duration = Duration::from_secs(3600);

/// Running totals of one topic.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    pulled: u64,
    pulls: u64,
    pull_rt_ms: u64,
    ok: u64,
    failed: u64,
    consumed_rt_ms: u64,
}

#[derive(Debug)]
struct Topic {
    now: Totals,
    /// (when, totals then), oldest first, covering at least the failed window.
    history: VecDeque<(Instant, Totals)>,
}

impl Topic {
    fn new() -> Topic {
        Topic {
            now: Totals::default(),
            history: VecDeque::from([(Instant::now(), Totals::default())]),
        }
    }

    fn snapshot(&mut self, at: Instant) {
        if self
            .history
            .back()
            .is_none_or(|(t, _)| at.duration_since(*t) >= SNAPSHOT_EVERY)
        {
            self.history.push_back((at, self.now));
        }
        while self
            .history
            .get(1)
            .is_some_and(|(t, _)| at.duration_since(*t) > FAILED_WINDOW)
        {
            self.history.pop_front();
        }
    }

    /// The oldest snapshot still inside `window` (or the oldest one kept).
    fn since(&self, at: Instant, window: Duration) -> (Instant, Totals) {
        self.history
            .iter()
            .find(|(t, _)| at.duration_since(*t) <= window)
            .or_else(|| self.history.back())
            .copied()
            .unwrap_or((at, Totals::default()))
    }

    fn status(&self, at: Instant) -> ConsumeStatus {
        let (then, old) = self.since(at, WINDOW);
        let secs = at.duration_since(then).as_secs_f64().max(1.0);
        let d = |now: u64, old: u64| now.saturating_sub(old) as f64;
        let per = |sum: f64, n: f64| if n > 0.0 { sum / n } else { 0.0 };
        let (_, hour_ago) = self.since(at, FAILED_WINDOW);
        let n = &self.now;
        ConsumeStatus {
            pull_rt: per(d(n.pull_rt_ms, old.pull_rt_ms), d(n.pulls, old.pulls)),
            pull_tps: d(n.pulled, old.pulled) / secs,
            consume_rt: per(
                d(n.consumed_rt_ms, old.consumed_rt_ms),
                d(n.ok + n.failed, old.ok + old.failed),
            ),
            consume_ok_tps: d(n.ok, old.ok) / secs,
            consume_failed_tps: d(n.failed, old.failed) / secs,
            consume_failed_msgs: i64::try_from(n.failed.saturating_sub(hour_ago.failed))
                .unwrap_or(i64::MAX),
        }
    }
}

/// Per-topic pull and consume counters of one consumer.
#[derive(Debug, Default)]
pub(crate) struct ConsumerStats {
    topics: Mutex<HashMap<String, Topic>>,
}

impl ConsumerStats {
    fn with(&self, topic: &str, f: impl FnOnce(&mut Totals)) {
        let mut topics = self.topics.lock();
        let t = topics.entry(topic.to_owned()).or_insert_with(Topic::new);
        t.snapshot(Instant::now());
        f(&mut t.now);
    }

    /// A pull of `topic` that returned `msgs` messages after `rt`.
    pub(crate) fn pulled(&self, topic: &str, msgs: usize, rt: Duration) {
        self.with(topic, |t| {
            t.pulls += 1;
            t.pulled += msgs as u64;
            t.pull_rt_ms += u64::try_from(rt.as_millis()).unwrap_or(u64::MAX);
        });
    }

    /// A listener call on `msgs` messages of `topic` that took `rt` and succeeded or not.
    pub(crate) fn consumed(&self, topic: &str, msgs: usize, rt: Duration, ok: bool) {
        let rt_ms = u64::try_from(rt.as_millis()).unwrap_or(u64::MAX);
        self.with(topic, |t| {
            if ok {
                t.ok += msgs as u64;
            } else {
                t.failed += msgs as u64;
            }
            t.consumed_rt_ms += rt_ms.saturating_mul(msgs as u64);
        });
    }

    /// Each topic's rates now.
    pub(crate) fn status_table(&self) -> std::collections::BTreeMap<String, ConsumeStatus> {
        let now = Instant::now();
        let mut topics = self.topics.lock();
        topics
            .iter_mut()
            .map(|(name, t)| {
                t.snapshot(now);
                (name.clone(), t.status(now))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_become_rates_and_means() {
        let stats = ConsumerStats::default();
        stats.pulled("T", 32, Duration::from_millis(4));
        stats.pulled("T", 8, Duration::from_millis(2));
        stats.consumed("T", 3, Duration::from_millis(10), true);
        stats.consumed("T", 1, Duration::from_millis(30), false);
        let s = &stats.status_table()["T"];
        assert!((s.pull_rt - 3.0).abs() < 1e-9, "{s:?}");
        assert!((s.consume_rt - 15.0).abs() < 1e-9, "{s:?}");
        assert_eq!(s.consume_failed_msgs, 1);
        // Within the first second the rates are per one second.
        assert!((s.pull_tps - 40.0).abs() < 1e-9, "{s:?}");
        assert!((s.consume_ok_tps - 3.0).abs() < 1e-9, "{s:?}");
        assert!((s.consume_failed_tps - 1.0).abs() < 1e-9, "{s:?}");
    }
}
