//! FIFO pops (docs/pop-java.md §8): per (topic, group, queue) at most one popped batch is in flight; the queue
//! stays blocked until the batch is acked or its invisible time passes, and the group's offset moves only as
//! the batch is acked. No checkpoint is written: a FIFO message comes back by being read again from the
//! committed offset, with its delivery count.

use std::collections::HashMap;

use parking_lot::Mutex;

/// (topic, group, queue).
pub type QueueKey = (String, String, i32);

#[derive(Debug, Clone, Default)]
struct OrderInfo {
    pop_time: i64,
    invisible_time: i64,
    offsets: Vec<i64>,
    acked: u64,
    next_visible: HashMap<i64, i64>,
    counts: HashMap<i64, i32>,
    attempt_id: Option<String>,
}

impl OrderInfo {
    fn visible_at(&self, offset: i64) -> i64 {
        self.next_visible
            .get(&offset)
            .copied()
            .unwrap_or(self.pop_time.saturating_add(self.invisible_time))
    }
}

/// What a FIFO ack does to the group's offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderAck {
    /// Commit this offset (the first unacked one, or past the batch).
    Commit(i64),
    /// The ack belongs to an older pop of the queue: nothing changes.
    Stale,
    /// The offset is not in the batch in flight.
    Illegal,
}

/// The FIFO state of every queue.
#[derive(Debug, Default)]
pub struct OrderTable {
    map: Mutex<HashMap<QueueKey, OrderInfo>>,
}

impl OrderTable {
    /// Whether the queue still has an unacked, invisible batch of another attempt.
    pub fn blocked(&self, key: &QueueKey, attempt_id: Option<&str>, now: i64) -> bool {
        let map = self.map.lock();
        let Some(info) = map.get(key) else {
            return false;
        };
        if info.offsets.is_empty()
            || (attempt_id.is_some() && info.attempt_id.as_deref() == attempt_id)
        {
            return false;
        }
        info.offsets
            .iter()
            .enumerate()
            .any(|(i, o)| info.acked & (1 << i.min(63)) == 0 && now < info.visible_at(*o))
    }

    /// Records a popped batch; returns how often each offset was delivered before (the reconsume count).
    pub fn update(
        &self,
        key: QueueKey,
        attempt_id: Option<String>,
        pop_time: i64,
        invisible_time: i64,
        offsets: &[i64],
    ) -> Vec<i32> {
        let mut map = self.map.lock();
        let old = map.remove(&key).unwrap_or_default();
        let same_attempt = attempt_id.is_some() && old.attempt_id == attempt_id;
        let mut counts = HashMap::new();
        for o in offsets {
            let before = old.counts.get(o).copied().unwrap_or(0);
            let count = if same_attempt || !old.offsets.contains(o) {
                before
            } else {
                before + 1
            };
            if count > 0 {
                counts.insert(*o, count);
            }
        }
        let out = offsets
            .iter()
            .map(|o| counts.get(o).copied().unwrap_or(0))
            .collect();
        map.insert(
            key,
            OrderInfo {
                pop_time,
                invisible_time,
                offsets: offsets.to_vec(),
                acked: 0,
                next_visible: HashMap::new(),
                counts,
                attempt_id,
            },
        );
        out
    }

    /// Acks `offset` of the batch popped at `pop_time`.
    pub fn ack(&self, key: &QueueKey, offset: i64, pop_time: i64) -> OrderAck {
        let mut map = self.map.lock();
        let Some(info) = map.get_mut(key) else {
            return OrderAck::Commit(offset + 1);
        };
        let Some(i) = info.offsets.iter().position(|o| *o == offset) else {
            return OrderAck::Illegal;
        };
        if info.pop_time != pop_time {
            return OrderAck::Stale;
        }
        info.acked |= 1 << i.min(63);
        let next = info
            .offsets
            .iter()
            .enumerate()
            .find(|(i, _)| info.acked & (1 << (*i).min(63)) == 0)
            .map(|(_, o)| *o);
        match next {
            Some(o) => OrderAck::Commit(o),
            None => OrderAck::Commit(info.offsets.last().map_or(offset + 1, |o| o + 1)),
        }
    }

    /// Moves when `offset` (of the batch popped at `pop_time`) becomes visible again; false on a stale handle.
    pub fn change(&self, key: &QueueKey, offset: i64, pop_time: i64, visible_at: i64) -> bool {
        let mut map = self.map.lock();
        match map.get_mut(key) {
            Some(info) if info.pop_time == pop_time && info.offsets.contains(&offset) => {
                info.next_visible.insert(offset, visible_at);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_queue_is_blocked_until_acked_or_visible_and_counts_redeliveries() {
        let t = OrderTable::default();
        let k: QueueKey = ("T".into(), "g".into(), 0);
        assert_eq!(t.update(k.clone(), None, 1000, 500, &[3, 4]), vec![0, 0]);
        assert!(t.blocked(&k, None, 1200));
        assert!(!t.blocked(&k, None, 1500), "visible again");
        assert_eq!(t.ack(&k, 3, 999), OrderAck::Stale);
        assert_eq!(t.ack(&k, 3, 1000), OrderAck::Commit(4));
        assert!(t.blocked(&k, None, 1200), "4 is still out");
        assert_eq!(t.update(k.clone(), None, 1600, 500, &[4, 5]), vec![1, 0]);
        assert_eq!(t.ack(&k, 9, 1600), OrderAck::Illegal);
        assert_eq!(t.ack(&k, 4, 1600), OrderAck::Commit(5));
        assert_eq!(t.ack(&k, 5, 1600), OrderAck::Commit(6));
        assert!(!t.blocked(&k, None, 1700));
    }
}
