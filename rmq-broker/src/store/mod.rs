//! The message store: RocketMQ's CommitLog + ConsumeQueue + IndexFile design in safe Rust.
//!
//! Every message is appended once to the **CommitLog** (fixed-size segment files named by their 20-digit
//! start offset); per topic/queue **ConsumeQueues** list where each message sits (20-byte entries), and
//! **IndexFiles** find messages by key. ConsumeQueues and indexes are derived data: a writer thread
//! "dispatches" each record after writing it, and recovery re-dispatches from the CommitLog after a crash.
//!
//! # Layout
//! - [`config`]: the [`StoreConfig`] and [`FlushDiskType`] types, and the [`TagCodePolicy`].
//! - [`types`]: messages to append and the results of puts and reads.
//! - [`error`]: the [`StoreError`] type.
//! - [`observer`]: [`StoreObserver`], the one interface through which the store reports appends, syncs,
//!   segment changes and dispatches.
//! - [`fs`]: [`Fs`](fs::Fs), the one seam every file access goes through ([`OsFs`](fs::OsFs) in
//!   production); [`lazy_fs`]: [`LazyFs`](lazy_fs::LazyFs), the test file system that forgets unsynced
//!   writes on a simulated power cut and injects I/O errors.
//! - `inner`: the state shared by the API and the store's threads; `put_state`: what the put lock guards.
//! - `segment`: 20-digit-named fixed-size files, positioned I/O.
//! - `writer`: offset assignment under a short lock; the writer thread (pwrite, group commit, dispatch, acks).
//! - `dispatch`: record → ConsumeQueue entry + index keys (shared with recovery).
//! - `consume_queue`, `index`, `checkpoint`: the derived files and the progress marker.
//! - `recovery`: clean and crash recovery, tail truncation, re-dispatch.
//! - `flush`: background flush, checkpoint, disk check; `cleanup`: expired-file deletion.
//! - `read`: pulls, lookups by offset, time and key.
//!
//! # Durability
//! A put completes after its bytes were written to the page cache (ASYNC_FLUSH: survives a process crash)
//! or synced (SYNC_FLUSH: survives power loss), and after its ConsumeQueue entry was written, so a consumer
//! can read it as soon as the producer has its answer.

pub mod config;
pub mod error;
pub mod fs;
pub mod lazy_fs;
pub mod observer;
pub mod types;

mod checkpoint;
mod cleanup;
mod consume_queue;
mod disk;
mod dispatch;
mod flush;
mod index;
mod inner;
mod inspect;
mod put_state;
mod read;
mod recovery;
mod segment;
mod writer;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use parking_lot::{Condvar, Mutex, RwLock};
use rmq_protocol::message::stored::{body_crc, stored_size, MAX_PROPERTIES_LEN, MAX_TOPIC_LEN_V2};

pub use cleanup::CleanupReport;
pub use config::{DiskUsageProbe, FlushDiskType, StoreConfig, TagCodePolicy, TagCodes};
pub use error::{Result, StoreError};
pub use inspect::QueueUnit;
pub use observer::{Observers, StoreObserver};
pub use read::ReadFilter;
pub use types::{
    GetMessageResult, GetMessageStatus, MessageToStore, PutResult, QueryMessageResult, StoreStats,
};

use checkpoint::Checkpoint;
use index::IndexService;
use inner::StoreInner;
use put_state::{PutState, RunState};
use segment::SegmentSet;

struct Threads {
    writer: Option<JoinHandle<()>>,
    flusher: Option<JoinHandle<()>>,
    stop_flusher: Option<mpsc::Sender<()>>,
}

/// The store. Open it with [`MessageStore::open`]; stop it with [`MessageStore::shutdown`].
///
/// Dropping it without `shutdown` stops its threads at once and leaves the `abort` marker, exactly like a
/// crash (tests rely on that).
pub struct MessageStore {
    inner: Arc<StoreInner>,
    threads: Mutex<Threads>,
    closed: AtomicBool,
    /// Exclusive `flock` on `<root>/lock`; released by shutdown or drop.
    lock: Mutex<Option<Box<dyn Send + Sync + std::fmt::Debug>>>,
}

impl std::fmt::Debug for MessageStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageStore")
            .field("root", &self.inner.cfg.root_dir)
            .finish_non_exhaustive()
    }
}

fn validate(cfg: &StoreConfig, m: &MessageToStore) -> Result<usize> {
    if m.topic.is_empty() || m.topic.len() > MAX_TOPIC_LEN_V2 {
        return Err(StoreError::InvalidTopic {
            topic: m.topic.clone(),
            reason: "length must be 1..=32767 bytes",
        });
    }
    if m.topic == "." || m.topic == ".." || m.topic.contains(['/', '\\', '\0']) {
        return Err(StoreError::InvalidTopic {
            topic: m.topic.clone(),
            reason: "not usable as a directory name",
        });
    }
    if m.properties.len() > MAX_PROPERTIES_LEN {
        return Err(StoreError::PropertiesTooLarge {
            size: m.properties.len(),
            max: MAX_PROPERTIES_LEN,
        });
    }
    let payload = m.body.len() + m.properties.len();
    if payload > cfg.max_message_size {
        return Err(StoreError::MessageTooLarge {
            size: payload,
            max: cfg.max_message_size,
        });
    }
    let size = stored_size(
        m.body.len(),
        m.topic.len(),
        m.properties.len(),
        m.born_host.is_ipv6(),
        cfg.store_host.is_ipv6(),
    );
    if size as u64 + 8 > cfg.mapped_file_size_commit_log || size > i32::MAX as usize {
        return Err(StoreError::MessageTooLarge {
            size,
            max: cfg.mapped_file_size_commit_log as usize - 8,
        });
    }
    Ok(size)
}

/// Makes a file's creation or removal durable by syncing the directory holding it.
fn sync_parent(fs: &fs::FsHandle, file: &Path) {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs.sync_dir(dir);
    }
}

impl MessageStore {
    /// Opens (creating if needed) the store under `cfg.root_dir`, recovers it, and starts its threads.
    ///
    /// Blocking: call it from `spawn_blocking` in async code. Fast for an empty or cleanly closed store.
    ///
    /// # Errors
    /// [`StoreError::InvalidConfig`], [`StoreError::Locked`] when another store holds the directory,
    /// [`StoreError::Corruption`] when segment files do not match the configured size, or I/O errors.
    pub fn open(mut cfg: StoreConfig) -> Result<Arc<MessageStore>> {
        cfg.sanitize().map_err(StoreError::InvalidConfig)?;
        let fs = cfg.fs.clone();
        fs.create_dir_all(&cfg.root_dir)?;
        // The checkpoint and the abort marker may live outside the root (storeCheckpoint, abortFile).
        for file in [cfg.checkpoint_path(), cfg.abort_path()] {
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                fs.create_dir_all(dir)?;
            }
        }
        let lock = fs
            .lock(&cfg.lock_path())?
            .ok_or_else(|| StoreError::Locked(cfg.root_dir.clone()))?;

        let abort = fs.exists(&cfg.abort_path());
        let cp = Checkpoint::load(&fs, &cfg.checkpoint_path());
        let commitlog = SegmentSet::open(
            fs.clone(),
            cfg.commit_log_path(),
            cfg.mapped_file_size_commit_log,
            true,
        )?
        .observed_by(cfg.observers.clone());
        let index = IndexService::open(
            fs.clone(),
            cfg.index_path(),
            cfg.max_hash_slot_num,
            cfg.max_index_num,
            abort,
        )?;
        let inner = Arc::new(StoreInner {
            commitlog,
            put: Mutex::new(PutState::new(0, HashMap::new())),
            writer_cv: Condvar::new(),
            space: tokio::sync::Notify::new(),
            pending_bytes: AtomicUsize::new(0),
            written: AtomicI64::new(0),
            flushed: AtomicI64::new(0),
            dispatched: AtomicI64::new(0),
            index_persisted: AtomicI64::new(0),
            min_phys: AtomicI64::new(0),
            cqs: RwLock::new(HashMap::new()),
            index,
            put_count: AtomicU64::new(0),
            put_bytes: AtomicU64::new(0),
            disk_ratio_bits: AtomicU64::new(0),
            disk_full: AtomicBool::new(false),
            cfg,
        });
        inner.load_cqs()?;
        let end = inner.recover(abort, cp)?;
        let mut offsets: HashMap<String, HashMap<i32, i64>> = HashMap::new();
        for cq in inner.all_cqs() {
            offsets
                .entry(cq.topic.clone())
                .or_default()
                .insert(cq.queue_id, cq.max_offset());
        }
        *inner.put.lock() = PutState::new(end, offsets);
        inner.refresh_disk();
        // A fresh checkpoint, so a crash right after open does not rescan what recovery just verified.
        inner.checkpoint(&mut None)?;
        fs.write_marker(&inner.cfg.abort_path(), b"")?;

        let w = inner.clone();
        let writer = std::thread::Builder::new()
            .name("rmq-store-writer".into())
            .spawn(move || writer::run(w))?;
        let (stop_tx, stop_rx) = mpsc::channel();
        let f = inner.clone();
        let flusher = std::thread::Builder::new()
            .name("rmq-store-flush".into())
            .spawn(move || flush::run(f, stop_rx))?;
        tracing::info!(
            root = %inner.cfg.root_dir.display(), end, min = inner.min_phys.load(Ordering::Acquire),
            recovered_from_crash = abort, "message store open"
        );
        Ok(Arc::new(MessageStore {
            inner,
            threads: Mutex::new(Threads {
                writer: Some(writer),
                flusher: Some(flusher),
                stop_flusher: Some(stop_tx),
            }),
            closed: AtomicBool::new(false),
            lock: Mutex::new(Some(lock)),
        }))
    }

    /// The effective configuration.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.cfg
    }

    /// Appends one message; completes once it is written (ASYNC_FLUSH) or synced (SYNC_FLUSH) and dispatched.
    ///
    /// # Errors
    /// Size and topic checks, [`StoreError::DiskFull`], [`StoreError::ShuttingDown`],
    /// [`StoreError::FlushTimeout`] (SYNC_FLUSH only; the message is stored nonetheless and its result rides in
    /// the error), I/O failures.
    ///
    /// # Cancel safety
    /// Dropping the future after it started waiting does not withdraw the message: it will be stored.
    pub async fn put_message(&self, msg: MessageToStore) -> Result<PutResult> {
        let mut v = self.put_batch(std::slice::from_ref(&msg)).await?;
        v.pop().ok_or(StoreError::ShuttingDown)
    }

    /// Appends messages as one batch: one lock section, one write, consecutive queue offsets per queue.
    ///
    /// # Errors
    /// As [`put_message`](Self::put_message); a validation error refuses the whole batch.
    pub async fn put_messages(&self, msgs: Vec<MessageToStore>) -> Result<Vec<PutResult>> {
        self.put_batch(&msgs).await
    }

    async fn put_batch(&self, msgs: &[MessageToStore]) -> Result<Vec<PutResult>> {
        if msgs.is_empty() {
            return Ok(Vec::new());
        }
        let inner = &self.inner;
        if inner.disk_full.load(Ordering::Acquire) {
            return Err(StoreError::DiskFull {
                ratio: f64::from_bits(inner.disk_ratio_bits.load(Ordering::Relaxed)),
                max: f64::from(inner.cfg.disk_max_used_space_ratio) / 100.0,
            });
        }
        let mut prepared = Vec::with_capacity(msgs.len());
        for m in msgs {
            prepared.push(writer::Prepared {
                size: validate(&inner.cfg, m)?,
                crc: body_crc(&m.body),
            });
        }
        self.wait_for_space().await;
        let (results, rx) = inner.enqueue(msgs, &prepared)?;
        let outcome = match inner.cfg.flush_disk_type {
            FlushDiskType::Sync => {
                match tokio::time::timeout(
                    Duration::from_millis(inner.cfg.sync_flush_timeout_ms),
                    rx,
                )
                .await
                {
                    Ok(r) => r,
                    Err(_) => return Err(StoreError::FlushTimeout { results }),
                }
            }
            FlushDiskType::Async => rx.await,
        };
        match outcome {
            Ok(Ok(())) => {
                inner
                    .put_count
                    .fetch_add(results.len() as u64, Ordering::Relaxed);
                let bytes: usize = results.iter().map(|r| r.wrote_bytes).sum();
                inner.put_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
                Ok(results)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(StoreError::ShuttingDown),
        }
    }

    /// Waits while the writer's queue is over `max_pending_bytes`.
    async fn wait_for_space(&self) {
        let inner = &self.inner;
        let max = inner.cfg.max_pending_bytes;
        loop {
            if inner.pending_bytes.load(Ordering::Acquire) < max {
                return;
            }
            let notified = inner.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if inner.pending_bytes.load(Ordering::Acquire) < max
                || self.closed.load(Ordering::Acquire)
            {
                return;
            }
            notified.await;
        }
    }

    /// The store's observers, to add one after `open` (it sees events from then on).
    pub fn observers(&self) -> &Observers {
        &self.inner.cfg.observers
    }

    /// Drops a topic's ConsumeQueues (its CommitLog records stay until they expire).
    pub fn delete_topic(&self, topic: &str) {
        let removed = {
            let mut st = self.inner.put.lock();
            st.queue_offsets.remove(topic);
            self.inner.cqs.write().remove(topic)
        };
        if let Some(queues) = removed {
            for cq in queues.values() {
                if let Err(e) = cq.destroy() {
                    tracing::warn!(topic, queue_id = cq.queue_id, error = %e, "cannot delete consume queue");
                }
            }
        }
        let dir = self.inner.cfg.consume_queue_path().join(topic);
        let _ = self.inner.cfg.fs.remove_dir_all(&dir);
    }

    /// Current figures.
    pub fn stats(&self) -> StoreStats {
        let i = &self.inner;
        StoreStats {
            commit_log_min_offset: i.min_phys.load(Ordering::Acquire),
            commit_log_max_offset: i.written.load(Ordering::Acquire),
            flushed_offset: i.flushed.load(Ordering::Acquire),
            dispatched_offset: i.dispatched.load(Ordering::Acquire),
            put_message_count: i.put_count.load(Ordering::Relaxed),
            put_bytes: i.put_bytes.load(Ordering::Relaxed),
            disk_used_ratio: f64::from_bits(i.disk_ratio_bits.load(Ordering::Relaxed)),
            disk_full: i.disk_full.load(Ordering::Relaxed),
            commit_log_files: i.commitlog.count(),
            consume_queues: i.all_cqs().len(),
            index_files: i.index.file_count(),
        }
    }

    /// End of the readable CommitLog.
    pub fn commit_log_max_offset(&self) -> i64 {
        self.inner.written.load(Ordering::Acquire)
    }

    /// First readable CommitLog offset.
    pub fn commit_log_min_offset(&self) -> i64 {
        self.inner.min_phys.load(Ordering::Acquire)
    }

    /// Runs one cleanup round now (the flush thread runs one every 10 s); `ignore_schedule` treats the
    /// current hour as listed in `delete_when`.
    pub fn run_cleanup(&self, ignore_schedule: bool) -> CleanupReport {
        cleanup::run(&self.inner, SystemTime::now(), ignore_schedule)
    }

    /// Re-reads the disk usage now (the flush thread does it every flush interval); returns the ratio.
    pub fn refresh_disk_usage(&self) -> f64 {
        self.inner.refresh_disk()
    }

    /// Stops accepting writes, writes everything queued, flushes, checkpoints and removes the `abort`
    /// marker. Idempotent.
    ///
    /// # Errors
    /// I/O errors of the final flush (the `abort` marker then stays, so the next open recovers).
    pub async fn shutdown(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        {
            let mut st = self.inner.put.lock();
            if st.run == RunState::Running {
                st.run = RunState::Draining;
            }
        }
        self.inner.writer_cv.notify_all();
        self.inner.space.notify_waiters();
        let (writer, flusher, stop) = {
            let mut t = self.threads.lock();
            (t.writer.take(), t.flusher.take(), t.stop_flusher.take())
        };
        drop(stop);
        let inner = self.inner.clone();
        let join = move || -> Result<()> {
            if let Some(w) = writer {
                let _ = w.join();
            }
            if let Some(f) = flusher {
                let _ = f.join();
            }
            inner.index.persist()?;
            let end = inner.written.load(Ordering::Acquire);
            inner.index_persisted.store(end, Ordering::Release);
            inner.checkpoint(&mut None)?;
            if inner.put.lock().failed.is_none() {
                inner.cfg.fs.remove_file(&inner.cfg.abort_path())?;
                sync_parent(&inner.cfg.fs, &inner.cfg.abort_path());
            }
            tracing::info!(root = %inner.cfg.root_dir.display(), end, "message store shut down");
            Ok(())
        };
        let r = match tokio::runtime::Handle::try_current() {
            Ok(_) => tokio::task::spawn_blocking(join)
                .await
                .map_err(|e| StoreError::Io(std::io::Error::other(e)))
                .and_then(|r| r),
            Err(_) => join(),
        };
        // The directory may be opened again (by this process too) from here on.
        drop(self.lock.lock().take());
        r
    }
}

impl Drop for MessageStore {
    fn drop(&mut self) {
        {
            let mut st = self.inner.put.lock();
            if st.run == RunState::Running {
                st.run = RunState::Aborted;
            }
        }
        self.inner.writer_cv.notify_all();
        let mut t = self.threads.lock();
        drop(t.stop_flusher.take());
        if let Some(w) = t.writer.take() {
            let _ = w.join();
        }
        if let Some(f) = t.flusher.take() {
            let _ = f.join();
        }
    }
}
