//! Java's `BrokerStatsManager` windows: per statistic and key (a topic, `topic@group`, the cluster name), the
//! sum, rate and mean over the last minute, hour and day, for VIEW_BROKER_STATS_DATA (`statsAll`) and the
//! consume TPS of GET_CONSUME_STATS.
//!
//! Each item keeps three short snapshot rings like Java's (10 s steps × 7 for the minute, 10 min × 7 for the
//! hour, 1 h × 25 for the day), taken lazily when the item is counted or read instead of by timers, so an idle
//! item costs nothing. A window runs from its oldest snapshot to now.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use rmq_protocol::body::{BrokerStatsData, BrokerStatsItem};

/// Statistic names, as Java spells them.
pub mod names {
    /// Messages stored, per topic.
    pub const TOPIC_PUT_NUMS: &str = "TOPIC_PUT_NUMS";
    /// Body bytes stored, per topic.
    pub const TOPIC_PUT_SIZE: &str = "TOPIC_PUT_SIZE";
    /// Messages pulled, per `topic@group`.
    pub const GROUP_GET_NUMS: &str = "GROUP_GET_NUMS";
    /// Body bytes pulled, per `topic@group`.
    pub const GROUP_GET_SIZE: &str = "GROUP_GET_SIZE";
    /// Consumer send-backs, per `topic@group`.
    pub const SNDBCK_PUT_NUMS: &str = "SNDBCK_PUT_NUMS";
    /// Messages stored by the whole broker (key: its cluster name; values only).
    pub const BROKER_PUT_NUMS: &str = "BROKER_PUT_NUMS";
    /// Messages pulled from the whole broker (key: its cluster name; values only).
    pub const BROKER_GET_NUMS: &str = "BROKER_GET_NUMS";
}

/// Every statistic name VIEW_BROKER_STATS_DATA knows.
pub const ALL: &[&str] = &[
    names::TOPIC_PUT_NUMS,
    names::TOPIC_PUT_SIZE,
    names::GROUP_GET_NUMS,
    names::GROUP_GET_SIZE,
    names::SNDBCK_PUT_NUMS,
    names::BROKER_PUT_NUMS,
    names::BROKER_GET_NUMS,
];

const TIERS: [(Duration, usize); 3] = [
    (Duration::from_secs(10), 7),
    (Duration::from_secs(600), 7),
    (Duration::from_secs(3600), 25),
];

#[derive(Debug, Clone, Copy)]
struct Snapshot {
    at: Instant,
    value: i64,
    times: i64,
}

#[derive(Debug)]
struct Item {
    value: AtomicI64,
    times: AtomicI64,
    rings: Mutex<[VecDeque<Snapshot>; 3]>,
}

impl Item {
    fn new(now: Instant) -> Item {
        let zero = Snapshot {
            at: now,
            value: 0,
            times: 0,
        };
        Item {
            value: AtomicI64::new(0),
            times: AtomicI64::new(0),
            rings: Mutex::new(std::array::from_fn(|_| VecDeque::from([zero]))),
        }
    }

    fn current(&self, at: Instant) -> Snapshot {
        Snapshot {
            at,
            value: self.value.load(Ordering::Relaxed),
            times: self.times.load(Ordering::Relaxed),
        }
    }

    /// Takes the snapshots that are due, before the values move on.
    fn roll(&self, now: Instant) {
        let mut rings = self.rings.lock();
        let snap = self.current(now);
        for (ring, (every, keep)) in rings.iter_mut().zip(TIERS) {
            if ring
                .back()
                .is_none_or(|s| now.duration_since(s.at) >= every)
            {
                ring.push_back(snap);
                while ring.len() > keep {
                    ring.pop_front();
                }
            }
        }
    }

    fn add(&self, value: i64, times: i64) {
        self.roll(Instant::now());
        self.value.fetch_add(value, Ordering::Relaxed);
        self.times.fetch_add(times, Ordering::Relaxed);
    }

    fn window(&self, tier: usize, now: Instant) -> BrokerStatsItem {
        let first = self.rings.lock()[tier]
            .front()
            .copied()
            .unwrap_or_else(|| self.current(now));
        let last = self.current(now);
        let sum = last.value - first.value;
        let times = last.times - first.times;
        let secs = now.duration_since(first.at).as_secs_f64().max(1.0);
        BrokerStatsItem {
            sum,
            tps: sum as f64 / secs,
            avgpt: if times > 0 {
                sum as f64 / times as f64
            } else {
                0.0
            },
        }
    }
}

/// The windows of every (statistic, key) counted so far.
#[derive(Debug, Default)]
pub struct StatsWindows {
    items: RwLock<HashMap<(&'static str, String), Arc<Item>>>,
}

impl StatsWindows {
    /// Adds `value` in `times` events to statistic `name` for `key`.
    pub fn add(&self, name: &'static str, key: &str, value: i64, times: i64) {
        let item = self.items.read().get(&(name, key.to_owned())).cloned();
        let item = match item {
            Some(i) => i,
            None => self
                .items
                .write()
                .entry((name, key.to_owned()))
                .or_insert_with(|| Arc::new(Item::new(Instant::now())))
                .clone(),
        };
        item.add(value, times);
    }

    /// Minute, hour and day windows of `name` for `key`; `None` when it was never counted (Java: "not exist").
    pub fn get(&self, name: &str, key: &str) -> Option<BrokerStatsData> {
        let name = *ALL.iter().find(|n| **n == name)?;
        let item = self.items.read().get(&(name, key.to_owned())).cloned()?;
        let now = Instant::now();
        item.roll(now);
        Some(BrokerStatsData {
            stats_minute: item.window(0, now),
            stats_hour: item.window(1, now),
            stats_day: item.window(2, now),
        })
    }

    /// Per-second rate of `name` for `key` over the last minute (0 when never counted).
    pub fn minute_tps(&self, name: &str, key: &str) -> f64 {
        self.get(name, key).map_or(0.0, |d| d.stats_minute.tps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_rates_and_means_per_key() {
        let w = StatsWindows::default();
        w.add(names::TOPIC_PUT_NUMS, "T", 10, 1);
        w.add(names::TOPIC_PUT_NUMS, "T", 4, 1);
        w.add(names::TOPIC_PUT_NUMS, "U", 1, 1);
        let t = w.get(names::TOPIC_PUT_NUMS, "T").expect("counted");
        assert_eq!(t.stats_minute.sum, 14);
        assert_eq!(t.stats_day.sum, 14);
        assert!((t.stats_minute.avgpt - 7.0).abs() < 1e-9);
        // Within the first second the rate is per one second.
        assert!((t.stats_minute.tps - 14.0).abs() < 1e-9);
        assert_eq!(w.get(names::TOPIC_PUT_NUMS, "V"), None);
        assert_eq!(w.get(names::GROUP_GET_NUMS, "T"), None);
    }
}
