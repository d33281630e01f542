//! ConsumeQueue: the per topic/queue list of where each message sits in the CommitLog (docs/protocol.md §3.7).
//!
//! Entry `n` (the queue offset) lives at byte `n × 20`, in files of `entries_per_file × 20` bytes named by
//! their 20-digit start byte offset under `<root>/consumequeue/<topic>/<queueId>/`:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | CommitLog offset of the record (i64) |
//! | 8 | 4 | record size (i32) |
//! | 12 | 8 | tag code: Java hash of TAGS, or the delivery time for delayed messages (i64) |
//!
//! It is derived data: the writer appends entries after the CommitLog bytes are written, and recovery
//! rebuilds missing entries from the CommitLog. Files are not preallocated, so a file's length says how
//! many entries it holds. An entry with size 0 is a filler for a gap found during recovery; readers skip it.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::fs::FsHandle;
use super::segment::{Segment, SegmentSet};

/// Bytes per entry.
pub(crate) const ENTRY_SIZE: u64 = 20;

/// One decoded entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CqEntry {
    pub(crate) phys_offset: i64,
    pub(crate) size: i32,
    pub(crate) tag_code: i64,
}

impl CqEntry {
    fn decode(b: &[u8]) -> CqEntry {
        let mut p = [0u8; 8];
        p.copy_from_slice(&b[0..8]);
        let mut t = [0u8; 8];
        t.copy_from_slice(&b[12..20]);
        CqEntry {
            phys_offset: i64::from_be_bytes(p),
            size: i32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            tag_code: i64::from_be_bytes(t),
        }
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.phys_offset.to_be_bytes());
        out.extend_from_slice(&self.size.to_be_bytes());
        out.extend_from_slice(&self.tag_code.to_be_bytes());
    }
}

/// One topic/queue's consume queue.
#[derive(Debug)]
pub(crate) struct ConsumeQueue {
    pub(crate) topic: String,
    pub(crate) queue_id: i32,
    segs: SegmentSet,
    min_offset: AtomicI64,
    max_offset: AtomicI64,
    dirty: AtomicBool,
    to_sync: Mutex<Vec<Arc<Segment>>>,
    staged: Mutex<Vec<u8>>,
}

impl ConsumeQueue {
    /// Opens the queue in `dir` (created lazily on first write).
    pub(crate) fn open(
        fs: FsHandle,
        dir: PathBuf,
        topic: &str,
        queue_id: i32,
        entries_per_file: u64,
    ) -> io::Result<ConsumeQueue> {
        let segs = SegmentSet::open(fs, dir, entries_per_file * ENTRY_SIZE, false)?;
        let (min, max) = match (segs.first(), segs.last()) {
            (Some(first), Some(last)) => {
                let len = last.len()?.min(segs.file_size);
                let whole = len - len % ENTRY_SIZE;
                if whole != len {
                    tracing::warn!(file = %last.path.display(), len, "consume queue file ends mid-entry; truncating");
                    last.file.set_len(whole)?;
                }
                (
                    (first.start / ENTRY_SIZE) as i64,
                    ((last.start + whole) / ENTRY_SIZE) as i64,
                )
            }
            _ => (0, 0),
        };
        Ok(ConsumeQueue {
            topic: topic.to_owned(),
            queue_id,
            segs,
            min_offset: AtomicI64::new(min),
            max_offset: AtomicI64::new(max),
            dirty: AtomicBool::new(false),
            to_sync: Mutex::new(Vec::new()),
            staged: Mutex::new(Vec::new()),
        })
    }

    /// First readable queue offset.
    pub(crate) fn min_offset(&self) -> i64 {
        self.min_offset.load(Ordering::Acquire)
    }

    /// Next queue offset to be written (= number of entries ever written).
    pub(crate) fn max_offset(&self) -> i64 {
        self.max_offset.load(Ordering::Acquire)
    }

    /// Stages one entry for the next [`write_staged`](Self::write_staged); returns true if it is the first.
    pub(crate) fn stage(&self, phys_offset: i64, size: i32, tag_code: i64) -> bool {
        let mut s = self.staged.lock();
        let first = s.is_empty();
        CqEntry {
            phys_offset,
            size,
            tag_code,
        }
        .encode_into(&mut s);
        first
    }

    /// Number of entries staged and not yet written.
    pub(crate) fn staged_count(&self) -> i64 {
        (self.staged.lock().len() as u64 / ENTRY_SIZE) as i64
    }

    /// Writes every staged entry after the current max (one `pwrite` per file touched), then publishes the
    /// new max. Only the writer thread calls this.
    pub(crate) fn write_staged(&self) -> io::Result<i64> {
        let buf = std::mem::take(&mut *self.staged.lock());
        let mut max = self.max_offset();
        if buf.is_empty() {
            return Ok(max);
        }
        let mut off = max as u64 * ENTRY_SIZE;
        let mut rest: &[u8] = &buf;
        while !rest.is_empty() {
            let seg = self.segs.find_or_create(off)?;
            let pos = off - seg.start;
            let n = ((self.segs.file_size - pos) as usize).min(rest.len());
            seg.write_all_at(&rest[..n], pos)?;
            if pos + n as u64 == self.segs.file_size {
                // This file is complete; the flusher syncs it once.
                self.to_sync.lock().push(seg);
            }
            off += n as u64;
            rest = &rest[n..];
        }
        max += (buf.len() as u64 / ENTRY_SIZE) as i64;
        self.dirty.store(true, Ordering::Release);
        self.max_offset.store(max, Ordering::Release);
        Ok(max)
    }

    /// Reads up to `max_n` entries from queue offset `from`, stopping at the max and at a file end.
    pub(crate) fn read_entries(&self, from: i64, max_n: usize) -> io::Result<Vec<CqEntry>> {
        let max = self.max_offset();
        if from < 0 || from >= max || max_n == 0 {
            return Ok(Vec::new());
        }
        let off = from as u64 * ENTRY_SIZE;
        let Some(seg) = self.segs.find(off) else {
            return Ok(Vec::new());
        };
        let pos = off - seg.start;
        let in_file = (self.segs.file_size - pos) / ENTRY_SIZE;
        let n = (max - from).min(max_n as i64).min(in_file as i64) as usize;
        let mut buf = vec![0u8; n * ENTRY_SIZE as usize];
        seg.read_exact_at(&mut buf, pos)?;
        Ok(buf
            .chunks_exact(ENTRY_SIZE as usize)
            .map(CqEntry::decode)
            .collect())
    }

    /// The entry at queue offset `idx`.
    pub(crate) fn entry(&self, idx: i64) -> Option<CqEntry> {
        self.read_entries(idx, 1).ok()?.into_iter().next()
    }

    /// Drops entries from queue offset `new_max` on (recovery).
    pub(crate) fn truncate_to(&self, new_max: i64) -> io::Result<()> {
        let cut = new_max.max(0) as u64 * ENTRY_SIZE;
        for seg in self.segs.all() {
            if seg.start > cut {
                self.segs.remove(seg.start)?;
            } else if seg.start + self.segs.file_size > cut {
                seg.file.set_len(cut - seg.start)?;
            }
        }
        self.max_offset.store(new_max, Ordering::Release);
        if self.min_offset() > new_max {
            self.min_offset.store(new_max, Ordering::Release);
        }
        Ok(())
    }

    /// Removes trailing entries that point at or past `commit_log_end` or are zero-filled; returns how many.
    pub(crate) fn truncate_invalid_tail(&self, commit_log_end: i64) -> io::Result<i64> {
        let max = self.max_offset();
        let mut new_max = max;
        while new_max > self.min_offset() {
            match self.entry(new_max - 1) {
                Some(e)
                    if e.size > 0
                        && e.phys_offset >= 0
                        && e.phys_offset + i64::from(e.size) <= commit_log_end =>
                {
                    break
                }
                _ => new_max -= 1,
            }
        }
        if new_max != max {
            tracing::warn!(
                topic = %self.topic, queue_id = self.queue_id, from = max, to = new_max,
                "consume queue entries point past the commit log end; truncated"
            );
            self.truncate_to(new_max)?;
        }
        Ok(max - new_max)
    }

    /// Sets the min offset to the first entry whose record is at or after `commit_log_min` (binary search
    /// in the first file: entries are in CommitLog order).
    pub(crate) fn correct_min_offset(&self, commit_log_min: i64) {
        let Some(first) = self.segs.first() else {
            return;
        };
        let max = self.max_offset();
        let mut lo = (first.start / ENTRY_SIZE) as i64;
        let mut hi = (((first.start + self.segs.file_size) / ENTRY_SIZE) as i64).min(max);
        // First index in [lo, hi) with phys >= commit_log_min; hi if none.
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.entry(mid) {
                Some(e) if e.phys_offset < commit_log_min => lo = mid + 1,
                _ => hi = mid,
            }
        }
        self.min_offset.store(lo, Ordering::Release);
    }

    /// Deletes whole files (never the last) whose entries all point below `commit_log_min`, then corrects
    /// the min offset. Returns the number of files deleted.
    pub(crate) fn delete_below(&self, commit_log_min: i64) -> io::Result<usize> {
        let segs = self.segs.all();
        let mut deleted = 0;
        for seg in segs.iter().take(segs.len().saturating_sub(1)) {
            let last_idx = ((seg.start + self.segs.file_size) / ENTRY_SIZE) as i64 - 1;
            match self.entry(last_idx) {
                Some(e) if e.phys_offset < commit_log_min => {
                    self.segs.remove(seg.start)?;
                    deleted += 1;
                }
                _ => break,
            }
        }
        self.correct_min_offset(commit_log_min);
        Ok(deleted)
    }

    /// `fsync`s what was written since the last call.
    pub(crate) fn sync(&self) -> io::Result<()> {
        let done: Vec<_> = std::mem::take(&mut *self.to_sync.lock());
        for seg in done {
            seg.file.sync_data()?;
        }
        if self.dirty.swap(false, Ordering::AcqRel) {
            if let Some(last) = self.segs.last() {
                last.file.sync_data()?;
            }
        }
        Ok(())
    }

    /// Deletes the queue's directory (topic deletion).
    pub(crate) fn destroy(&self) -> io::Result<()> {
        self.segs.fs.remove_dir_all(&self.segs.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_rollover_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("T").join("0");
        let cq = ConsumeQueue::open(FsHandle::default(), p.clone(), "T", 0, 4).unwrap();
        for i in 0..10 {
            cq.stage(i * 100, 100, i);
        }
        assert_eq!(cq.staged_count(), 10);
        assert_eq!(cq.write_staged().unwrap(), 10);
        assert_eq!(cq.read_entries(0, 100).unwrap().len(), 4); // stops at the file end
        let e = cq.read_entries(5, 100).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(
            e[0],
            CqEntry {
                phys_offset: 500,
                size: 100,
                tag_code: 5
            }
        );
        assert_eq!(cq.read_entries(9, 5).unwrap().len(), 1);
        assert!(cq.read_entries(10, 5).unwrap().is_empty());
        cq.sync().unwrap();
        drop(cq);
        let cq = ConsumeQueue::open(FsHandle::default(), p.clone(), "T", 0, 4).unwrap();
        assert_eq!((cq.min_offset(), cq.max_offset()), (0, 10));
        assert_eq!(cq.truncate_invalid_tail(750).unwrap(), 3);
        assert_eq!(cq.max_offset(), 7);
        cq.truncate_to(4).unwrap();
        drop(cq);
        let cq = ConsumeQueue::open(FsHandle::default(), p.clone(), "T", 0, 4).unwrap();
        assert_eq!(cq.max_offset(), 4);
        for i in 4..12 {
            cq.stage(i * 100, 100, i);
        }
        cq.write_staged().unwrap();
        assert_eq!(cq.delete_below(850).unwrap(), 2);
        assert_eq!(cq.min_offset(), 9);
        drop(cq);
        let cq = ConsumeQueue::open(FsHandle::default(), p, "T", 0, 4).unwrap();
        assert_eq!((cq.min_offset(), cq.max_offset()), (8, 12));
        cq.correct_min_offset(850);
        assert_eq!(cq.min_offset(), 9);
    }
}
