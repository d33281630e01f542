//! Store configuration: RocketMQ's `MessageStoreConfig` keys that this store honours.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rmq_protocol::clock::Clock;
use rmq_protocol::message::RecordView;

use super::fs::FsHandle;
use super::observer::Observers;

/// When a send is acknowledged relative to the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlushDiskType {
    /// Acknowledge once the bytes are in the page cache; a background flush runs every `flush_interval_ms`.
    /// Survives a process crash, not a power loss.
    #[default]
    Async,
    /// Acknowledge after `fdatasync` (group commit: one sync for everything written together).
    Sync,
}

/// Reports the used fraction (0.0..=1.0) of the file system holding a path; injectable for tests.
#[derive(Clone)]
pub struct DiskUsageProbe(pub Arc<dyn Fn(&Path) -> f64 + Send + Sync>);

impl fmt::Debug for DiskUsageProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DiskUsageProbe(..)")
    }
}

/// Computes the consume-queue tag slot of a record instead of the TAGS hash, when it returns `Some`.
///
/// The policy for delayed delivery: for `SCHEDULE_TOPIC_XXXX` the slot holds the delivery timestamp. A policy,
/// not an observer: its answer is written into the ConsumeQueue, and it is asked again during recovery, so it
/// must depend only on the record.
pub trait TagCodePolicy: Send + Sync {
    /// The tag slot for `record`, or `None` for the TAGS hash.
    fn tag_code(&self, record: &RecordView<'_>) -> Option<i64>;
}

/// A shared [`TagCodePolicy`] (a config field, so it also applies while recovery re-dispatches).
#[derive(Clone)]
pub struct TagCodes(pub Arc<dyn TagCodePolicy>);

impl fmt::Debug for TagCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TagCodes(..)")
    }
}

/// Store settings. Every field documents its default (the Java broker's where one exists).
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Root directory (`storePathRootDir`); default `./store`.
    pub root_dir: PathBuf,
    /// CommitLog directory (`storePathCommitLog`); default `<root>/commitlog`.
    pub commit_log_dir: Option<PathBuf>,
    /// ConsumeQueue directory (`storePathConsumeQueue`); default `<root>/consumequeue`.
    pub consume_queue_dir: Option<PathBuf>,
    /// IndexFile directory (`storePathIndex`); default `<root>/index`.
    pub index_dir: Option<PathBuf>,
    /// Checkpoint file (`storeCheckpoint`); default `<root>/checkpoint`.
    pub checkpoint_file: Option<PathBuf>,
    /// Crash marker (`abortFile`); default `<root>/abort`.
    pub abort_file: Option<PathBuf>,
    /// CommitLog segment size (`mappedFileSizeCommitLog`); default 1 GiB.
    pub mapped_file_size_commit_log: u64,
    /// Entries per ConsumeQueue file; default 300 000 (6 000 000 bytes).
    pub consume_queue_entries_per_file: u64,
    /// ASYNC_FLUSH (default) or SYNC_FLUSH.
    pub flush_disk_type: FlushDiskType,
    /// Background flush / checkpoint interval (`flushIntervalCommitLog`); default 500 ms.
    pub flush_interval_ms: u64,
    /// How long a SYNC_FLUSH send waits for its sync (`syncFlushTimeout`); default 5000 ms.
    pub sync_flush_timeout_ms: u64,
    /// CommitLog segments older than this are deleted (`fileReservedTime`); default 72 hours.
    pub file_reserved_time_hours: u64,
    /// UTC hours at which expired segments are deleted, `;`-separated (`deleteWhen`); default `"04"`.
    pub delete_when: String,
    /// Writes are refused above this disk usage percentage (`diskMaxUsedSpaceRatio`); default 75. Above it,
    /// expired segments are also deleted at any hour.
    pub disk_max_used_space_ratio: u32,
    /// Above this disk usage percentage the oldest segments are deleted even if not expired
    /// (`diskSpaceCleanForciblyRatio`); default 85.
    pub disk_space_clean_forcibly_ratio: u32,
    /// Hash slots per IndexFile (`maxHashSlotNum`); default 5 000 000.
    pub max_hash_slot_num: u32,
    /// Entries per IndexFile (`maxIndexNum`); default 20 000 000.
    pub max_index_num: u32,
    /// Most messages one pull returns (`maxTransferCountOnMessageInMemory`); default 32.
    pub max_transfer_count_on_message: i32,
    /// Most bytes one pull returns (`maxTransferBytesOnMessageInMemory`); default 256 KiB.
    pub max_transfer_bytes_on_message: usize,
    /// Largest body + properties accepted (`maxMessageSize`); default 4 MiB.
    pub max_message_size: usize,
    /// Bytes queued for the writer before `put_message` waits (backpressure); default 64 MiB.
    pub max_pending_bytes: usize,
    /// Address written into every record and offset msg id; default 127.0.0.1:10911.
    pub store_host: SocketAddr,
    /// Disk usage source; default `statvfs` of the CommitLog directory.
    pub disk_usage_probe: Option<DiskUsageProbe>,
    /// Tag-slot override for dispatch (delay feature); default none.
    pub tag_codes: Option<TagCodes>,
    /// Who is told of appends, syncs, segments and dispatches (held pulls, metrics); default none. Shared by
    /// clones of the config; observers added here before `open` also see recovery's events, and
    /// [`MessageStore::observers`](super::MessageStore::observers) adds more later.
    pub observers: Observers,
    /// The clock records are stamped with (store and checkpoint timestamps); default the system clock, a
    /// test's virtual clock under virtual time.
    pub clock: Clock,
    /// The file system every store file goes through; default the operating system's, a
    /// [`LazyFs`](super::lazy_fs::LazyFs) in power-cut tests.
    pub fs: FsHandle,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            root_dir: PathBuf::from("./store"),
            commit_log_dir: None,
            consume_queue_dir: None,
            index_dir: None,
            checkpoint_file: None,
            abort_file: None,
            mapped_file_size_commit_log: 1 << 30,
            consume_queue_entries_per_file: 300_000,
            flush_disk_type: FlushDiskType::Async,
            flush_interval_ms: 500,
            sync_flush_timeout_ms: 5000,
            file_reserved_time_hours: 72,
            delete_when: "04".to_owned(),
            disk_max_used_space_ratio: 75,
            disk_space_clean_forcibly_ratio: 85,
            max_hash_slot_num: 5_000_000,
            max_index_num: 20_000_000,
            max_transfer_count_on_message: 32,
            max_transfer_bytes_on_message: 256 * 1024,
            max_message_size: 4 * 1024 * 1024,
            max_pending_bytes: 64 * 1024 * 1024,
            store_host: SocketAddr::from(([127, 0, 0, 1], 10911)),
            disk_usage_probe: None,
            tag_codes: None,
            observers: Observers::default(),
            clock: Clock::system(),
            fs: FsHandle::default(),
        }
    }
}

impl StoreConfig {
    /// A config rooted at `root` with defaults otherwise.
    pub fn with_root(root: impl Into<PathBuf>) -> Self {
        Self {
            root_dir: root.into(),
            ..Self::default()
        }
    }

    /// The CommitLog directory actually used.
    pub fn commit_log_path(&self) -> PathBuf {
        self.commit_log_dir
            .clone()
            .unwrap_or_else(|| self.root_dir.join("commitlog"))
    }

    /// The ConsumeQueue directory actually used (`<root>/consumequeue` unless overridden).
    pub fn consume_queue_path(&self) -> PathBuf {
        self.consume_queue_dir
            .clone()
            .unwrap_or_else(|| self.root_dir.join("consumequeue"))
    }

    /// The IndexFile directory actually used (`<root>/index` unless overridden).
    pub fn index_path(&self) -> PathBuf {
        self.index_dir
            .clone()
            .unwrap_or_else(|| self.root_dir.join("index"))
    }

    /// The checkpoint file actually used (`<root>/checkpoint` unless overridden).
    pub fn checkpoint_path(&self) -> PathBuf {
        self.checkpoint_file
            .clone()
            .unwrap_or_else(|| self.root_dir.join("checkpoint"))
    }

    /// The crash marker actually used (`<root>/abort` unless overridden): present while a store is open, left
    /// behind by a crash.
    pub fn abort_path(&self) -> PathBuf {
        self.abort_file
            .clone()
            .unwrap_or_else(|| self.root_dir.join("abort"))
    }

    /// `<root>/lock`: held exclusively by the open store.
    pub fn lock_path(&self) -> PathBuf {
        self.root_dir.join("lock")
    }

    /// The UTC hours listed in `delete_when`.
    pub fn delete_hours(&self) -> Vec<u32> {
        self.delete_when
            .split(';')
            .filter_map(|h| h.trim().parse().ok())
            .collect()
    }

    /// Rejects impossible combinations and clamps the rest (with a warning), as raft-engine's `sanitize`.
    ///
    /// # Errors
    /// A description of the first impossible setting.
    pub fn sanitize(&mut self) -> Result<(), String> {
        if self.mapped_file_size_commit_log < 4096 {
            return Err(format!(
                "mapped_file_size_commit_log {} is below 4096",
                self.mapped_file_size_commit_log
            ));
        }
        if self.consume_queue_entries_per_file == 0 {
            return Err("consume_queue_entries_per_file is 0".into());
        }
        if self.max_hash_slot_num == 0 || self.max_index_num < 2 {
            return Err("max_hash_slot_num must be > 0 and max_index_num > 1".into());
        }
        let seg_max = (self.mapped_file_size_commit_log as usize).saturating_sub(1024);
        if self.max_message_size > seg_max {
            tracing::warn!(
                max_message_size = self.max_message_size,
                clamped = seg_max,
                "max_message_size exceeds the commit log segment size; clamping"
            );
            self.max_message_size = seg_max;
        }
        if self.flush_interval_ms == 0 {
            self.flush_interval_ms = 500;
        }
        if self.max_pending_bytes < self.max_message_size * 2 {
            self.max_pending_bytes = self.max_message_size * 2;
        }
        Ok(())
    }
}
