//! The flush thread: background `fdatasync` (ASYNC_FLUSH), ConsumeQueue/index syncs, the checkpoint,
//! the disk-usage check and the periodic cleanup.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::checkpoint::Checkpoint;
use super::cleanup;
use super::inner::StoreInner;
use super::segment::Segment;

/// How often the cleanup policy is evaluated.
const CLEAN_INTERVAL: Duration = Duration::from_secs(10);

impl StoreInner {
    /// Creates the CommitLog segment after the one being written once that one is half full, so the writer does
    /// not stop to create and allocate a file at the boundary (Java's AllocateMappedFileService does the same;
    /// on tmpfs allocating a 1 GiB segment took 400 ms in rmq-bench).
    pub(crate) fn preallocate_next_segment(&self) {
        let fs = self.cfg.mapped_file_size_commit_log;
        let w = self.written.load(Ordering::Acquire).max(0) as u64;
        if fs > 0 && w % fs >= fs / 2 {
            let next = (w / fs + 1) * fs;
            if let Err(e) = self.commitlog.find_or_create(next) {
                tracing::warn!(error = %e, next, "could not create the next commit log segment ahead");
            }
        }
    }

    /// Syncs CommitLog segments between the flushed and the written offset; returns the new flushed offset.
    pub(crate) fn flush_commit_log(&self) -> std::io::Result<i64> {
        let w = self.written.load(Ordering::Acquire);
        let f = self.flushed.load(Ordering::Acquire);
        if w > f {
            let fs = self.cfg.mapped_file_size_commit_log as i64;
            let dirty = self.commitlog.all().into_iter().filter(|seg| {
                let s = seg.start as i64;
                s + fs > f && s < w
            });
            self.sync_segments(dirty, w)?;
            self.flushed.fetch_max(w, Ordering::AcqRel);
        }
        Ok(self.flushed.load(Ordering::Acquire))
    }

    /// `fdatasync`s the given CommitLog segments, which makes the CommitLog durable up to `upto`, and tells
    /// the observers (timing the sync only when there are any). Both flush paths go through here: the
    /// background flush above and SYNC_FLUSH's group commit.
    pub(crate) fn sync_segments<S: AsRef<Segment>>(
        &self,
        segments: impl IntoIterator<Item = S>,
        upto: i64,
    ) -> std::io::Result<()> {
        let started = self.cfg.observers.any().then(Instant::now);
        for seg in segments {
            seg.as_ref().file.sync_data()?;
        }
        if let Some(started) = started {
            let took = started.elapsed();
            self.cfg.observers.each(|o| o.on_durable(upto, took));
        }
        Ok(())
    }

    /// Flushes everything and writes the checkpoint (skipped when nothing moved).
    pub(crate) fn checkpoint(&self, last: &mut Option<Checkpoint>) -> std::io::Result<()> {
        let flushed = self.flush_commit_log()?;
        let dispatched = self.dispatched.load(Ordering::Acquire);
        let indexed = self.index_persisted.load(Ordering::Acquire);
        for cq in self.all_cqs() {
            cq.sync()?;
        }
        self.index.sync()?;
        let cp = Checkpoint {
            commit_log_flushed: flushed,
            logics_offset: dispatched.min(flushed),
            index_offset: indexed,
            timestamp: self.cfg.clock.now_ms(),
        };
        let same = last.is_some_and(|l| {
            l.commit_log_flushed == cp.commit_log_flushed
                && l.logics_offset == cp.logics_offset
                && l.index_offset == cp.index_offset
        });
        if !same {
            cp.store(&self.cfg.fs, &self.cfg.checkpoint_path())?;
            *last = Some(cp);
        }
        Ok(())
    }

    /// Re-reads the disk usage and updates the write-refusal flag.
    pub(crate) fn refresh_disk(&self) -> f64 {
        let ratio = super::disk::used_ratio(&self.cfg, &self.cfg.commit_log_path());
        self.disk_ratio_bits
            .store(ratio.to_bits(), Ordering::Relaxed);
        let full = ratio > f64::from(self.cfg.disk_max_used_space_ratio) / 100.0;
        let was = self.disk_full.swap(full, Ordering::AcqRel);
        if full && !was {
            tracing::error!(
                ratio,
                max = self.cfg.disk_max_used_space_ratio,
                "disk is full; refusing writes"
            );
        } else if !full && was {
            tracing::info!(ratio, "disk usage back under the limit; accepting writes");
        }
        ratio
    }
}

/// The flush thread's loop; returns when `stop` fires or its sender is dropped.
pub(crate) fn run(inner: Arc<StoreInner>, stop: Receiver<()>) {
    let interval = Duration::from_millis(inner.cfg.flush_interval_ms);
    let mut last_clean = Instant::now();
    let mut last_cp = None;
    loop {
        match stop.recv_timeout(interval) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        if let Err(e) = inner.checkpoint(&mut last_cp) {
            tracing::error!(error = %e, "flush failed");
        }
        inner.refresh_disk();
        inner.preallocate_next_segment();
        if last_clean.elapsed() >= CLEAN_INTERVAL {
            last_clean = Instant::now();
            let report = cleanup::run(&inner, SystemTime::now(), false);
            if report.deleted_commit_log_files > 0 {
                tracing::info!(?report, "cleaned expired files");
            }
        }
    }
}
