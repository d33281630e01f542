//! Runtime counters reported by GET_BROKER_RUNTIME_INFO.

use std::sync::atomic::AtomicU64;

use super::stats_windows::StatsWindows;

/// Counters reported by GET_BROKER_RUNTIME_INFO; the write service adds puts, the pull service gets.
#[derive(Debug, Default)]
pub struct BrokerStats {
    /// The key of the broker-wide statistics: the broker's cluster name, as Java uses.
    pub broker_key: String,
    /// Messages stored since start.
    pub put_messages: AtomicU64,
    /// Bytes of bodies stored since start.
    pub put_bytes: AtomicU64,
    /// Messages returned by pulls since start.
    pub got_messages: AtomicU64,
    /// Minute / hour / day windows per topic and group (VIEW_BROKER_STATS_DATA, consume TPS).
    pub windows: StatsWindows,
}

impl BrokerStats {
    /// Counters for a broker of cluster `cluster`.
    pub fn new(cluster: &str) -> Self {
        BrokerStats {
            broker_key: cluster.to_owned(),
            ..BrokerStats::default()
        }
    }

    /// Counts `messages` messages of `bytes` body bytes pulled from `topic` by `group`.
    pub fn pulled(&self, topic: &str, group: &str, messages: u64, bytes: u64) {
        use super::stats_windows::names;
        use std::sync::atomic::Ordering;
        self.got_messages.fetch_add(messages, Ordering::Relaxed);
        let key = format!("{topic}@{group}");
        let (m, b) = (clamp(messages), clamp(bytes));
        self.windows.add(names::GROUP_GET_NUMS, &key, m, 1);
        self.windows.add(names::GROUP_GET_SIZE, &key, b, 1);
        self.windows
            .add(names::BROKER_GET_NUMS, &self.broker_key, m, 0);
    }

    /// Counts `messages` messages of `bytes` body bytes stored on `topic`.
    pub fn stored(&self, topic: &str, messages: u64, bytes: u64) {
        use super::stats_windows::names;
        use std::sync::atomic::Ordering;
        self.put_messages.fetch_add(messages, Ordering::Relaxed);
        self.put_bytes.fetch_add(bytes, Ordering::Relaxed);
        let (m, b) = (clamp(messages), clamp(bytes));
        self.windows.add(names::TOPIC_PUT_NUMS, topic, m, 1);
        self.windows.add(names::TOPIC_PUT_SIZE, topic, b, 1);
        self.windows
            .add(names::BROKER_PUT_NUMS, &self.broker_key, m, 0);
    }
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
