//! Recovery at open: find the CommitLog end, cut a torn tail, and bring ConsumeQueues and the index in
//! line with it.
//!
//! * **Clean exit** (no `abort` file, valid checkpoint): the checkpoint's flushed offset is the end. The
//!   tail is validated cheaply (the bytes at the end must be zeroes and no segment may lie beyond it);
//!   anything else falls back to the crash path.
//! * **Crash** (`abort` file present): scan forward from the start of the segment holding the checkpoint's
//!   safe point (the minimum of the flushed, ConsumeQueue and index offsets), verifying each record's magic, size,
//!   body CRC and stored physical offset. The first record that fails ends the log: the rest of its segment
//!   is cleared (logged at warn with file and offset) and later segments are deleted. Zeroes end the log
//!   silently (never-written space).
//!
//! Both paths then drop ConsumeQueue entries pointing past the end and re-dispatch records from the safe
//! point, which skips entries already present, so ConsumeQueues and the index cover the whole log.

use std::sync::atomic::Ordering;

use rmq_protocol::message::stored::{peek, Peek, RecordView, END_FILE_MIN_BLANK_LENGTH};

use super::checkpoint::Checkpoint;
use super::dispatch::Dispatcher;
use super::error::{Result, StoreError};
use super::inner::StoreInner;

/// Whether a segment has nothing written at its start (created ahead of the writer, never used).
fn is_blank(seg: &super::segment::Segment) -> bool {
    let mut b = [0u8; 4];
    seg.read_exact_at(&mut b, 0).is_ok() && b == [0; 4]
}

/// Called for each record of a walk with the record, its offset and its bytes.
type RecordVisitor<'a> = dyn FnMut(&RecordView<'_>, i64, &[u8]) -> std::io::Result<()> + 'a;

/// How a forward walk over the CommitLog ended.
struct WalkEnd {
    /// Offset just after the last whole record (or after the last blank).
    end: i64,
    /// Whether non-zero bytes that are not a valid record were found at `end`.
    garbage: Option<String>,
}

impl StoreInner {
    fn read_buf_size(&self) -> usize {
        (4 << 20).max(self.cfg.max_message_size + 64 * 1024)
    }

    /// Walks records from `from` (a record boundary) up to `limit`, calling `visit` for each valid one.
    fn walk(
        &self,
        from: i64,
        limit: i64,
        verify: bool,
        visit: &mut RecordVisitor<'_>,
    ) -> Result<WalkEnd> {
        let fs = self.cfg.mapped_file_size_commit_log as i64;
        let cap = self.read_buf_size() as i64;
        let mut pos = from;
        'segments: while pos < limit {
            let Some(seg) = self.commitlog.find(pos as u64) else {
                break;
            };
            let seg_start = seg.start as i64;
            let seg_end = seg_start + fs;
            let file_len = seg.len()? as i64;
            'read: loop {
                if pos >= limit {
                    break 'segments;
                }
                let want = (seg_end.min(limit).min(seg_start + file_len) - pos).min(cap);
                if want <= 0 {
                    break 'segments;
                }
                let mut buf = vec![0u8; want as usize];
                seg.read_exact_at(&mut buf, (pos - seg_start) as u64)?;
                let buf_end = pos + want;
                let mut rel = 0usize;
                while rel < buf.len() {
                    match peek(&buf[rel..]) {
                        Ok(Peek::Empty) => break 'segments,
                        Ok(Peek::Blank { remaining }) => {
                            if i64::from(remaining) != seg_end - pos {
                                return Ok(WalkEnd {
                                    end: pos,
                                    garbage: Some(format!(
                                        "end-of-file blank says {remaining} bytes remain, {} do",
                                        seg_end - pos
                                    )),
                                });
                            }
                            pos = seg_end;
                            continue 'segments;
                        }
                        Ok(Peek::Message(v)) => {
                            if verify {
                                let why = if !v.crc_ok() {
                                    Some("body CRC mismatch".to_owned())
                                } else if v.commit_log_offset != pos {
                                    Some(format!(
                                        "record says it is at offset {}",
                                        v.commit_log_offset
                                    ))
                                } else if pos + (v.total_size + END_FILE_MIN_BLANK_LENGTH) as i64
                                    > seg_end
                                {
                                    Some("record runs into the end-of-file reserve".to_owned())
                                } else {
                                    None
                                };
                                if let Some(why) = why {
                                    return Ok(WalkEnd {
                                        end: pos,
                                        garbage: Some(why),
                                    });
                                }
                            }
                            visit(&v, pos, &buf[rel..rel + v.total_size])?;
                            rel += v.total_size;
                            pos += v.total_size as i64;
                        }
                        Err(e) => {
                            // Maybe the record continues past this buffer: re-read from it.
                            let more = buf_end < seg_end.min(limit).min(seg_start + file_len);
                            if rel > 0 && more {
                                continue 'read;
                            }
                            return Ok(WalkEnd {
                                end: pos,
                                garbage: Some(e.to_string()),
                            });
                        }
                    }
                }
                // Buffer consumed exactly: read the next one.
            }
        }
        Ok(WalkEnd {
            end: pos,
            garbage: None,
        })
    }

    /// Clears everything from `end` on: the rest of its segment and every later segment.
    fn cut_tail(&self, end: i64) -> Result<()> {
        let fs = self.cfg.mapped_file_size_commit_log;
        for seg in self.commitlog.all() {
            let s = seg.start as i64;
            if s > end {
                if is_blank(&seg) {
                    tracing::debug!(file = %seg.path.display(), "removing a blank segment created ahead");
                } else {
                    tracing::warn!(file = %seg.path.display(), "deleting commit log segment after the recovered end");
                }
                self.commitlog.remove(seg.start)?;
            } else if s + fs as i64 > end {
                let keep = (end - s) as u64;
                // Truncate then re-extend: the tail reads as zeroes (never-written) from now on.
                seg.file.set_len(keep)?;
                seg.file.set_len(fs)?;
                seg.file.sync_data()?;
            }
        }
        Ok(())
    }

    fn clean_tail_ok(&self, end: i64) -> bool {
        let fs = self.cfg.mapped_file_size_commit_log as i64;
        let Some(mut last) = self.commitlog.last() else {
            return end == 0;
        };
        if last.start as i64 > end {
            // The segment the flush thread created ahead of the writer: part of a clean tail while blank.
            if last.start as i64 != (end / fs + 1) * fs || !is_blank(&last) {
                return false;
            }
            match self.commitlog.find(end as u64) {
                Some(s) => last = s,
                None => return end % fs == 0 && end == last.start as i64 - fs,
            }
        }
        let ls = last.start as i64;
        if end < ls || end > ls + fs {
            return false;
        }
        if end == ls + fs || end - ls + 4 > fs {
            return true;
        }
        let mut b = [0u8; 4];
        match last.read_exact_at(&mut b, (end - ls) as u64) {
            Ok(()) => b == [0; 4],
            Err(_) => last.len().is_ok_and(|l| l as i64 <= end - ls),
        }
    }

    /// Runs recovery and publishes the offsets; returns the CommitLog end.
    pub(crate) fn recover(&self, abort: bool, cp: Option<Checkpoint>) -> Result<i64> {
        let fs = self.cfg.mapped_file_size_commit_log;
        let segs = self.commitlog.all();
        if let Some(bad) = segs.iter().find(|s| s.start % fs != 0) {
            return Err(StoreError::Corruption {
                file: bad.path.clone(),
                offset: 0,
                reason: format!(
                    "segment start is not a multiple of the configured segment size {fs}"
                ),
            });
        }
        let min = segs.first().map(|s| s.start as i64).unwrap_or(0);
        let data_end = segs.last().map(|s| (s.start + fs) as i64).unwrap_or(0);
        let safe = |c: &Checkpoint| {
            let s = c
                .commit_log_flushed
                .min(c.logics_offset)
                .min(c.index_offset);
            if s < min || s > data_end || self.commitlog.find(s as u64).is_none() && s != min {
                min
            } else {
                s
            }
        };

        let clean = !abort && cp.is_some_and(|c| self.clean_tail_ok(c.commit_log_flushed));
        let (end, redispatch_from) = if clean {
            let c = cp.unwrap_or_default();
            let end = c.commit_log_flushed;
            (end, safe(&c).min(end))
        } else {
            // Verify the whole segment holding the safe point, as Java does: cheap next to a crash, and it
            // also catches damage to records the checkpoint already counted as synced.
            let from = cp.as_ref().map(safe).unwrap_or(min);
            let from = (from - from % fs as i64).max(min);
            if abort {
                tracing::warn!(
                    from,
                    "store was not shut down cleanly; recovering the commit log"
                );
            } else if cp.is_none() && segs.is_empty() {
                tracing::debug!("new store");
            } else {
                tracing::warn!(
                    from,
                    "checkpoint missing or does not match the commit log; recovering"
                );
            }
            let w = self.walk(from, i64::MAX, true, &mut |_, _, _| Ok(()))?;
            if let Some(why) = &w.garbage {
                let file = self
                    .commitlog
                    .find(w.end as u64)
                    .map(|s| s.path.display().to_string())
                    .unwrap_or_default();
                tracing::warn!(
                    file, offset = w.end, reason = %why,
                    "torn or corrupt commit log tail; truncating to the last whole record"
                );
            }
            self.cut_tail(w.end)?;
            (w.end, from.min(w.end))
        };

        self.written.store(end, Ordering::Release);
        self.flushed.store(end, Ordering::Release);
        self.min_phys.store(min.min(end), Ordering::Release);

        for cq in self.all_cqs() {
            cq.truncate_invalid_tail(end)?;
        }
        // Re-dispatch what the ConsumeQueues or the index may lack.
        let mut count = 0u64;
        let mut pending = 0usize;
        let mut d = Some(Dispatcher::new(self));
        self.walk(redispatch_from, end, false, &mut |v, phys, _| {
            if let Some(d) = d.as_mut() {
                d.dispatch(v, phys)?;
            }
            count += 1;
            pending += 1;
            if pending >= 4096 {
                pending = 0;
                if let Some(old) = d.take() {
                    old.finish()?;
                }
                d = Some(Dispatcher::new(self));
            }
            Ok(())
        })?;
        if let Some(d) = d.take() {
            d.finish()?;
        }
        if count > 0 {
            tracing::info!(
                from = redispatch_from,
                to = end,
                records = count,
                "re-dispatched commit log records"
            );
        }
        self.dispatched.store(end, Ordering::Release);
        self.index.persist()?;
        self.index.sync()?;
        self.index_persisted.store(end, Ordering::Release);
        let min = self.min_phys.load(Ordering::Acquire);
        for cq in self.all_cqs() {
            cq.correct_min_offset(min);
        }
        Ok(end)
    }
}
