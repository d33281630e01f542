//! Open checkpoints: which popped messages are still unacked, when each batch is due back, and how far each
//! revive queue's offset may move (to the first checkpoint still open, so a restart reads every open one
//! again, with the acks written after it).

use std::collections::{BTreeSet, HashMap};

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::journal::CheckPoint;

/// Where a checkpoint record sits: (revive queue, offset in it).
pub type Position = (i32, i64);

/// What identifies a checkpoint to an ack: (real topic, group, queue, start offset, pop time).
pub type CkKey = (String, String, i32, i64, i64);

/// One open checkpoint.
#[derive(Debug, Clone)]
pub struct OpenCk {
    /// The record.
    pub ck: CheckPoint,
    /// Where it is in the revive topic.
    pub at: Position,
    /// Acked message indices (a batch holds at most 32).
    pub acked: u64,
}

impl OpenCk {
    fn key(&self) -> CkKey {
        key_of(&self.ck)
    }

    fn all_acked(&self) -> bool {
        let n = self.ck.num.clamp(0, 64) as u32;
        n == 0 || self.acked.count_ones() >= n
    }

    /// The queue offsets not acked yet.
    pub fn unacked_offsets(&self) -> Vec<i64> {
        (0..self.ck.num.max(0) as usize)
            .filter(|i| self.acked & (1u64 << i) == 0)
            .map(|i| self.ck.offset_at(i))
            .collect()
    }
}

/// The key of a checkpoint.
pub fn key_of(ck: &CheckPoint) -> CkKey {
    (
        ck.topic.clone(),
        ck.cid.clone(),
        ck.queue_id,
        ck.start_offset,
        ck.pop_time,
    )
}

/// What an ack found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckResult {
    /// The message was open and is now acked.
    Acked,
    /// It was acked already.
    Already,
    /// No open checkpoint holds it (revived already, or never popped here).
    Unknown,
}

#[derive(Default)]
struct Table {
    open: HashMap<Position, OpenCk>,
    by_key: HashMap<CkKey, Position>,
    due: BTreeSet<(i64, Position)>,
    /// Record writes under way per revive queue: while one is, the revive offset may not move to the queue's
    /// end (the record being written may land below it).
    writing: HashMap<i32, usize>,
}

/// The open checkpoints of one broker.
#[derive(Default)]
pub struct Inflight {
    table: Mutex<Table>,
    /// Fired when a checkpoint is added (it may be due before the reviver's current sleep ends).
    pub(crate) added: Notify,
}

impl std::fmt::Debug for Inflight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflight")
            .field("open", &self.table.lock().open.len())
            .finish()
    }
}

/// Marks a record write to revive queue `qid` under way until dropped.
pub struct Writing<'a> {
    inflight: &'a Inflight,
    qid: i32,
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        let mut t = self.inflight.table.lock();
        if let Some(n) = t.writing.get_mut(&self.qid) {
            *n = n.saturating_sub(1);
        }
    }
}

impl Inflight {
    /// Announces a record write to revive queue `qid`; hold the guard until the record's effect is applied.
    pub fn writing(&self, qid: i32) -> Writing<'_> {
        *self.table.lock().writing.entry(qid).or_default() += 1;
        Writing {
            inflight: self,
            qid,
        }
    }

    /// Opens a checkpoint stored at `at` (a re-read one is ignored if already open).
    pub fn open(&self, ck: CheckPoint, at: Position) {
        let open = OpenCk { ck, at, acked: 0 };
        let mut t = self.table.lock();
        if t.open.contains_key(&at) {
            return;
        }
        t.by_key.insert(open.key(), at);
        t.due.insert((open.ck.revive_time(), at));
        t.open.insert(at, open);
        drop(t);
        self.added.notify_one();
    }

    /// Acks the message at `offset` of the checkpoint `key`.
    pub fn ack(&self, key: &CkKey, offset: i64) -> AckResult {
        let mut t = self.table.lock();
        let Some(at) = t.by_key.get(key).copied() else {
            return AckResult::Unknown;
        };
        let Some(open) = t.open.get_mut(&at) else {
            return AckResult::Unknown;
        };
        let Some(i) = open.ck.index_of(offset).filter(|i| *i < 64) else {
            return AckResult::Unknown;
        };
        if open.acked & (1 << i) != 0 {
            return AckResult::Already;
        }
        open.acked |= 1 << i;
        if open.all_acked() {
            remove(&mut t, at);
        }
        AckResult::Acked
    }

    /// Whether the checkpoint `key` is open and still holds `offset` unacked.
    pub fn holds(&self, key: &CkKey, offset: i64) -> bool {
        let t = self.table.lock();
        t.by_key
            .get(key)
            .and_then(|at| t.open.get(at))
            .and_then(|o| o.ck.index_of(offset).map(|i| o.acked & (1 << i) == 0))
            .unwrap_or(false)
    }

    /// The checkpoints due at `now` (they stay open until [`finish`](Self::finish)).
    pub fn due(&self, now: i64) -> Vec<OpenCk> {
        let t = self.table.lock();
        t.due
            .range(..=(now, (i32::MAX, i64::MAX)))
            .filter_map(|(_, at)| t.open.get(at).cloned())
            .collect()
    }

    /// When the next checkpoint is due, if any is open.
    pub fn next_due(&self) -> Option<i64> {
        self.table.lock().due.first().map(|(at, _)| *at)
    }

    /// Closes a checkpoint (revived, or fully acked).
    pub fn finish(&self, at: Position) {
        remove(&mut self.table.lock(), at);
    }

    /// How far revive queue `qid` may be marked read: the first open checkpoint there, or `end` (the queue's
    /// max offset) when none is open and no write is under way; `None` to leave it.
    pub fn safe_revive_offset(&self, qid: i32, end: i64) -> Option<i64> {
        let t = self.table.lock();
        let first = t
            .open
            .keys()
            .filter(|(q, _)| *q == qid)
            .map(|(_, o)| *o)
            .min();
        match first {
            Some(o) => Some(o),
            None if t.writing.get(&qid).copied().unwrap_or(0) == 0 => Some(end),
            None => None,
        }
    }

    /// Open checkpoints.
    pub fn len(&self) -> usize {
        self.table.lock().open.len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn remove(t: &mut Table, at: Position) {
    if let Some(open) = t.open.remove(&at) {
        t.by_key.remove(&open.key());
        t.due.remove(&(open.ck.revive_time(), at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ck(start: i64, n: i32, pop_time: i64) -> CheckPoint {
        CheckPoint {
            start_offset: start,
            pop_time,
            invisible_time: 1000,
            bit_map: 0,
            num: n,
            queue_id: 0,
            topic: "T".into(),
            cid: "g".into(),
            revive_offset: 0,
            queue_offset_diff: (0..i64::from(n)).collect(),
            broker_name: "b".into(),
            re_put_times: None,
        }
    }

    #[test]
    fn acks_close_a_checkpoint_and_the_revive_offset_stops_at_the_first_open_one() {
        let f = Inflight::default();
        f.open(ck(0, 2, 100), (1, 5));
        f.open(ck(2, 1, 200), (1, 7));
        assert_eq!(f.safe_revive_offset(1, 9), Some(5));
        let key = key_of(&ck(0, 2, 100));
        assert_eq!(f.ack(&key, 0), AckResult::Acked);
        assert_eq!(f.ack(&key, 0), AckResult::Already);
        assert_eq!(f.ack(&key, 9), AckResult::Unknown);
        assert_eq!(f.due(1100).len(), 1, "only the first is due");
        assert_eq!(f.ack(&key, 1), AckResult::Acked);
        assert_eq!(f.ack(&key, 1), AckResult::Unknown, "closed");
        assert_eq!(f.safe_revive_offset(1, 9), Some(7));
        f.finish((1, 7));
        assert_eq!(f.safe_revive_offset(1, 9), Some(9));
        let w = f.writing(1);
        assert_eq!(f.safe_revive_offset(1, 9), None, "a write is under way");
        drop(w);
        assert_eq!(f.safe_revive_offset(1, 9), Some(9));
        assert!(f.is_empty());
    }
}
