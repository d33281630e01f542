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
    /// The put and get totals at the last two midnights (UTC), for clusterList -m.
    day_marks: parking_lot::Mutex<DayMarks>,
}

/// Totals at midnight: `[yesterday morning, today morning]` of puts and gets, and the day they belong to.
#[derive(Debug, Default, Clone, Copy)]
struct DayMarks {
    day: i64,
    put: [u64; 2],
    got: [u64; 2],
}

/// The totals at the start of yesterday and of today (Java's `msgPutTotalYesterdayMorning` and friends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mornings {
    /// Puts counted before yesterday began.
    pub put_yesterday: u64,
    /// Puts counted before today began.
    pub put_today: u64,
    /// Gets counted before yesterday began.
    pub got_yesterday: u64,
    /// Gets counted before today began.
    pub got_today: u64,
}

impl BrokerStats {
    /// The midnight totals as of `now_ms`: when a day has passed since the last call, today's morning becomes
    /// the current totals (a broker counts from its start, so both mornings are 0 on its first day, as the
    /// totals are).
    pub fn mornings(&self, now_ms: i64) -> Mornings {
        use std::sync::atomic::Ordering;
        let day = now_ms.div_euclid(86_400_000);
        let mut m = self.day_marks.lock();
        if m.day == 0 {
            m.day = day;
        }
        if day > m.day {
            let (put, got) = (
                self.put_messages.load(Ordering::Relaxed),
                self.got_messages.load(Ordering::Relaxed),
            );
            m.put = if day == m.day + 1 {
                [m.put[1], put]
            } else {
                [put, put]
            };
            m.got = if day == m.day + 1 {
                [m.got[1], got]
            } else {
                [got, got]
            };
            m.day = day;
        }
        Mornings {
            put_yesterday: m.put[0],
            put_today: m.put[1],
            got_yesterday: m.got[0],
            got_today: m.got[1],
        }
    }

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
