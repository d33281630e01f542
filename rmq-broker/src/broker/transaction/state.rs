//! The in-memory transaction table and its persisted snapshot.
//!
//! Every half message is, at any time, in exactly one of four places, keyed by its queue offset in
//! `RMQ_SYS_TRANS_HALF_TOPIC` queue 0 (the `tranStateTableOffset` producers echo back):
//!
//! - **not yet scanned** (`offset >= scanned_to`): the check service has not read it; it is open unless its
//!   offset is in `resolved` (a commit can arrive before the first scan);
//! - **pending**: scanned, no outcome yet; carries what the check service needs (born time, immunity, count);
//! - **claimed**: an END_TRANSACTION or a discard is writing its outcome right now;
//! - **resolved**: an outcome is stored. Offsets below the low-water mark are dropped from the set, since
//!   anything below it that is not pending or claimed is resolved by definition.
//!
//! The claim step is what makes a second END_TRANSACTION (or a check-back answer racing the producer's own
//! commit) a no-op instead of a second delivery.
//!
//! # Snapshot consistency
//! A [`Snapshot`] says "start scanning the half queue at `scan_from`, replay op records from `op_from`, and
//! treat `resolved` as done". Ops are replayed from the smallest op-queue end seen by any claim still in
//! flight, so an op written after the snapshot was taken (or by a claim the snapshot could not yet count as
//! done) is always replayed on restart.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

/// What the check service needs to know about an open half message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PendingHalf {
    /// CommitLog offset of the half record.
    pub phys_offset: i64,
    /// Producer timestamp (the age for immunity is measured from it, as Java does).
    pub born_timestamp: i64,
    /// The message's CHECK_IMMUNITY_TIME_IN_SECONDS, if it set one.
    pub immunity_secs: Option<i64>,
    /// Check-backs sent so far.
    pub check_times: u32,
}

/// A resolution in flight.
#[derive(Debug, Clone, Copy)]
struct Claim {
    /// End of the op queue when the claim was taken: its op record lands at or after it.
    op_floor: i64,
    /// What to put back if the resolution fails (None: the message was not scanned yet).
    restore: Option<PendingHalf>,
}

/// Result of [`TxState::claim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClaimOutcome {
    /// The caller now owns the outcome and must call `complete` or `abandon`.
    Claimed,
    /// An outcome was already stored (or is being stored by someone else).
    AlreadyResolved,
}

/// The transaction table; guarded by one mutex in [`super::TransactionService`], never held across I/O.
#[derive(Debug, Default)]
pub(crate) struct TxState {
    scanned_to: i64,
    pending: BTreeMap<i64, PendingHalf>,
    claims: HashMap<i64, Claim>,
    resolved: BTreeSet<i64>,
    /// Check counts from the snapshot, applied when the scan meets the message again.
    carried_counts: HashMap<i64, u32>,
}

/// The persisted form (`<storePathRootDir>/config/transaction.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Snapshot {
    /// Half-queue offset to start scanning at (nothing below it is open).
    pub scan_from: i64,
    /// Op-queue offset to start replaying at.
    pub op_from: i64,
    /// Resolved half offsets at or above `scan_from`, as inclusive ranges.
    #[serde(default)]
    pub resolved: Vec<(i64, i64)>,
    /// Check counts of open half messages (offset → count), so a restart does not reset them.
    #[serde(default)]
    pub check_times: BTreeMap<i64, u32>,
}

impl TxState {
    /// A table restored from a snapshot; the caller then replays ops and scans from `scan_from`.
    pub(crate) fn from_snapshot(s: &Snapshot) -> TxState {
        let mut resolved = BTreeSet::new();
        for &(a, b) in &s.resolved {
            // A corrupt range must not make us loop for ages; ranges come from our own writer.
            if b >= a && b - a <= 10_000_000 {
                resolved.extend(a..=b);
            }
        }
        TxState {
            scanned_to: s.scan_from,
            pending: BTreeMap::new(),
            claims: HashMap::new(),
            resolved,
            carried_counts: s.check_times.iter().map(|(k, v)| (*k, *v)).collect(),
        }
    }

    /// Next half offset the scan reads.
    pub(crate) fn scanned_to(&self) -> i64 {
        self.scanned_to
    }

    /// Records an op record read back from the op queue (restart replay).
    pub(crate) fn replay_op(&mut self, half_offset: i64) {
        if half_offset >= self.scanned_to || self.pending.remove(&half_offset).is_some() {
            self.resolved.insert(half_offset);
        }
    }

    /// Adds half messages read by a scan (in offset order) and moves the scan position to `next`.
    pub(crate) fn add_scanned(&mut self, entries: Vec<(i64, PendingHalf)>, next: i64) {
        for (offset, mut p) in entries {
            if offset < self.scanned_to || self.resolved.contains(&offset) {
                continue;
            }
            if let Some(count) = self.carried_counts.remove(&offset) {
                p.check_times = p.check_times.max(count);
            }
            match self.claims.get_mut(&offset) {
                Some(c) => {
                    c.restore.get_or_insert(p);
                }
                None => {
                    self.pending.insert(offset, p);
                }
            }
        }
        self.scanned_to = self.scanned_to.max(next);
    }

    /// Takes ownership of the outcome of half message `offset`; `op_end` is the op queue's current end.
    pub(crate) fn claim(&mut self, offset: i64, op_end: i64) -> ClaimOutcome {
        if self.resolved.contains(&offset) || self.claims.contains_key(&offset) {
            return ClaimOutcome::AlreadyResolved;
        }
        let restore = if offset >= self.scanned_to {
            None
        } else {
            match self.pending.remove(&offset) {
                Some(p) => Some(p),
                // Below the scan position and not pending: resolved long ago (and pruned).
                None => return ClaimOutcome::AlreadyResolved,
            }
        };
        self.claims.insert(
            offset,
            Claim {
                op_floor: op_end,
                restore,
            },
        );
        ClaimOutcome::Claimed
    }

    /// The claimed outcome is stored.
    pub(crate) fn complete(&mut self, offset: i64) {
        if self.claims.remove(&offset).is_some() {
            self.resolved.insert(offset);
            self.carried_counts.remove(&offset);
        }
    }

    /// The claimed outcome could not be stored; the message is open again.
    pub(crate) fn abandon(&mut self, offset: i64) {
        if let Some(c) = self.claims.remove(&offset) {
            if let Some(p) = c.restore {
                self.pending.insert(offset, p);
            }
        }
    }

    /// Pending messages whose check is due at `now` (ms): older than their immunity time.
    pub(crate) fn due(&self, now: i64, timeout_ms: i64) -> Vec<(i64, PendingHalf)> {
        self.pending
            .iter()
            .filter(|(_, p)| is_due(p, now, timeout_ms))
            .map(|(k, p)| (*k, *p))
            .collect()
    }

    /// Counts one check-back of a pending message; returns the new count (None if it is no longer pending).
    pub(crate) fn bump(&mut self, offset: i64) -> Option<u32> {
        let p = self.pending.get_mut(&offset)?;
        p.check_times = p.check_times.saturating_add(1);
        Some(p.check_times)
    }

    /// Lowest half offset that may still be open.
    pub(crate) fn low_water(&self) -> i64 {
        let mut low = self.scanned_to;
        if let Some((&k, _)) = self.pending.iter().next() {
            low = low.min(k);
        }
        if let Some(&k) = self.claims.keys().min() {
            low = low.min(k);
        }
        low
    }

    /// Number of open (pending or claimed) half messages.
    pub(crate) fn open_count(&self) -> usize {
        self.pending.len() + self.claims.len()
    }

    /// Drops what the low-water mark makes redundant and returns the state to persist; `op_end` is the op
    /// queue's end read under the same lock.
    pub(crate) fn snapshot(&mut self, op_end: i64) -> Snapshot {
        let low = self.low_water();
        self.resolved = self.resolved.split_off(&low);
        self.carried_counts.retain(|k, _| *k >= low);
        let op_from = self
            .claims
            .values()
            .map(|c| c.op_floor)
            .min()
            .map_or(op_end, |f| f.min(op_end));
        let mut check_times: BTreeMap<i64, u32> =
            self.carried_counts.iter().map(|(k, v)| (*k, *v)).collect();
        let claimed = self
            .claims
            .iter()
            .filter_map(|(k, c)| c.restore.as_ref().map(|p| (k, p)));
        for (k, p) in self.pending.iter().chain(claimed) {
            if p.check_times > 0 {
                check_times.insert(*k, p.check_times);
            }
        }
        Snapshot {
            scan_from: low,
            op_from,
            resolved: to_ranges(&self.resolved),
            check_times,
        }
    }
}

/// Whether a pending message is old enough to be checked: its age (from the born time) must exceed
/// max(`transactionTimeOut`, CHECK_IMMUNITY_TIME_IN_SECONDS × 1000). A born time in the future (clock skew)
/// counts as due, as in Java.
pub(crate) fn is_due(p: &PendingHalf, now: i64, timeout_ms: i64) -> bool {
    let immunity = p
        .immunity_secs
        .map_or(timeout_ms, |s| timeout_ms.max(s.saturating_mul(1000)));
    let age = now - p.born_timestamp;
    age < 0 || age >= immunity
}

fn to_ranges(set: &BTreeSet<i64>) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for &v in set {
        match out.last_mut() {
            Some((_, end)) if *end + 1 == v => *end = v,
            _ => out.push((v, v)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(born: i64) -> PendingHalf {
        PendingHalf {
            phys_offset: born * 100,
            born_timestamp: born,
            immunity_secs: None,
            check_times: 0,
        }
    }

    #[test]
    fn commit_before_scan_is_remembered_and_scan_skips_it() {
        let mut s = TxState::default();
        assert_eq!(s.claim(0, 0), ClaimOutcome::Claimed);
        s.complete(0);
        assert_eq!(s.claim(0, 1), ClaimOutcome::AlreadyResolved);
        s.add_scanned(vec![(0, p(1)), (1, p(2))], 2);
        assert_eq!(s.due(i64::MAX / 2, 0).len(), 1);
        assert_eq!(s.claim(1, 1), ClaimOutcome::Claimed);
        s.complete(1);
        assert_eq!(s.claim(1, 2), ClaimOutcome::AlreadyResolved);
        assert_eq!(s.open_count(), 0);
        let snap = s.snapshot(2);
        assert_eq!(snap.scan_from, 2);
        assert!(snap.resolved.is_empty());
    }

    #[test]
    fn abandoned_claims_reopen_the_message() {
        let mut s = TxState::default();
        s.add_scanned(vec![(0, p(1))], 1);
        assert_eq!(s.claim(0, 5), ClaimOutcome::Claimed);
        assert_eq!(s.claim(0, 5), ClaimOutcome::AlreadyResolved);
        assert_eq!(s.low_water(), 0);
        s.abandon(0);
        assert_eq!(s.due(10, 0), vec![(0, p(1))]);
        // A claim taken before the scan gets its restore slot filled by the scan.
        assert_eq!(s.claim(1, 5), ClaimOutcome::Claimed);
        s.add_scanned(vec![(1, p(2))], 2);
        s.abandon(1);
        assert_eq!(s.due(10, 0).len(), 2);
    }

    #[test]
    fn snapshot_replays_ops_of_claims_in_flight() {
        let mut s = TxState::default();
        s.add_scanned(vec![(0, p(1)), (1, p(2)), (2, p(3))], 3);
        assert_eq!(s.claim(1, 7), ClaimOutcome::Claimed);
        s.complete(1);
        assert_eq!(s.claim(2, 8), ClaimOutcome::Claimed);
        s.bump(0);
        let snap = s.snapshot(9);
        assert_eq!(snap.scan_from, 0);
        assert_eq!(
            snap.op_from, 8,
            "the claim in flight writes its op at or after 8"
        );
        assert_eq!(snap.resolved, vec![(1, 1)]);
        assert_eq!(snap.check_times.get(&0), Some(&1));

        // Restart: 2's op was written at 8 before the crash.
        let mut r = TxState::from_snapshot(&snap);
        r.replay_op(2);
        r.add_scanned(vec![(0, p(1)), (1, p(2)), (2, p(3))], 3);
        let due = r.due(100, 0);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].0, 0);
        assert_eq!(due[0].1.check_times, 1, "check count survives the restart");
    }

    #[test]
    fn immunity_is_the_larger_of_timeout_and_the_property() {
        let mut h = p(1000);
        assert!(!is_due(&h, 1000 + 5999, 6000));
        assert!(is_due(&h, 1000 + 6000, 6000));
        h.immunity_secs = Some(10);
        assert!(!is_due(&h, 1000 + 9999, 6000));
        assert!(is_due(&h, 1000 + 10_000, 6000));
        h.immunity_secs = Some(1);
        assert!(!is_due(&h, 1000 + 5999, 6000));
        assert!(is_due(&h, 999, 6000), "born in the future");
    }

    #[test]
    fn ranges_round_trip() {
        let set: BTreeSet<i64> = [1, 2, 3, 7, 9, 10].into_iter().collect();
        let r = to_ranges(&set);
        assert_eq!(r, vec![(1, 3), (7, 7), (9, 10)]);
        let s = TxState::from_snapshot(&Snapshot {
            scan_from: 0,
            op_from: 0,
            resolved: r,
            check_times: BTreeMap::new(),
        });
        assert_eq!(s.resolved, set);
    }
}
