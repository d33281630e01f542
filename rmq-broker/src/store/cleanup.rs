//! Deletion of expired CommitLog segments and of the ConsumeQueue/index files they orphan.
//!
//! Policy (Java's `CleanCommitLogService`, simplified): a segment is *expired* when its last modification is
//! older than `file_reserved_time_hours`. Expired segments are deleted when the current UTC hour is listed in
//! `delete_when`, or at any hour when disk usage exceeds `disk_max_used_space_ratio`. Above
//! `disk_space_clean_forcibly_ratio` the oldest segments go even if not expired (at most 10 per round). The
//! segment being written, and any segment not fully dispatched, is never deleted.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::inner::StoreInner;

/// Most segments deleted by force in one round.
const FORCE_BATCH: usize = 10;

/// What one cleanup round did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CleanupReport {
    /// CommitLog segments deleted.
    pub deleted_commit_log_files: usize,
    /// ConsumeQueue files deleted.
    pub deleted_consume_queue_files: usize,
    /// Index files deleted.
    pub deleted_index_files: usize,
    /// Disk usage seen by this round.
    pub disk_used_ratio: f64,
    /// CommitLog min offset afterwards.
    pub commit_log_min_offset: i64,
}

/// Runs one round; `ignore_schedule` treats the current hour as a deletion hour.
pub(crate) fn run(inner: &StoreInner, now: SystemTime, ignore_schedule: bool) -> CleanupReport {
    let cfg = &inner.cfg;
    let ratio = inner.refresh_disk();
    let space_needed = ratio > f64::from(cfg.disk_max_used_space_ratio) / 100.0;
    let forcibly = ratio > f64::from(cfg.disk_space_clean_forcibly_ratio) / 100.0;
    let hour = now
        .duration_since(UNIX_EPOCH)
        .map(|d| (d.as_secs() / 3600 % 24) as u32)
        .unwrap_or(0);
    let in_window = ignore_schedule || cfg.delete_hours().contains(&hour);
    let mut report = CleanupReport {
        disk_used_ratio: ratio,
        ..CleanupReport::default()
    };

    if in_window || space_needed || forcibly {
        let fs = cfg.mapped_file_size_commit_log as i64;
        let written = inner.written.load(Ordering::Acquire);
        let dispatched = inner.dispatched.load(Ordering::Acquire);
        let fence = written.min(dispatched);
        let fence = fence - fence % fs; // start of the segment still in use
        let keep = Duration::from_secs(cfg.file_reserved_time_hours * 3600);
        let mut forced = 0;
        for seg in inner.commitlog.all() {
            if seg.start as i64 + fs > fence {
                break;
            }
            let expired = seg
                .file
                .modified()
                .map(|m| now.duration_since(m).unwrap_or_default() >= keep)
                .unwrap_or(false);
            let delete = if expired {
                true
            } else if forcibly && forced < FORCE_BATCH {
                forced += 1;
                true
            } else {
                false
            };
            if !delete {
                break; // never leave a hole in the middle
            }
            // Publish the new minimum before the file goes, so readers stop asking for it.
            inner
                .min_phys
                .fetch_max(seg.start as i64 + fs, Ordering::AcqRel);
            match inner.commitlog.remove(seg.start) {
                Ok(()) => {
                    tracing::info!(file = %seg.path.display(), expired, "deleted commit log segment");
                    report.deleted_commit_log_files += 1;
                }
                Err(e) => {
                    tracing::warn!(file = %seg.path.display(), error = %e, "cannot delete commit log segment");
                    break;
                }
            }
        }
    }
    let min = inner.min_phys.load(Ordering::Acquire);
    for cq in inner.all_cqs() {
        match cq.delete_below(min) {
            Ok(n) => report.deleted_consume_queue_files += n,
            Err(e) => {
                tracing::warn!(topic = %cq.topic, queue_id = cq.queue_id, error = %e, "consume queue cleanup failed")
            }
        }
    }
    report.deleted_index_files = inner.index.delete_below(min);
    report.commit_log_min_offset = min;
    report
}
