//! Errors of the message store.

use std::path::PathBuf;

/// Why the store refused or failed an operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Body + properties exceed `max_message_size` (Java: MESSAGE_ILLEGAL).
    #[error("message of {size} bytes exceeds the maximum of {max} bytes")]
    MessageTooLarge {
        /// Offending size.
        size: usize,
        /// Configured maximum.
        max: usize,
    },
    /// The properties string exceeds 32767 bytes (it has an `i16` length on disk).
    #[error("properties of {size} bytes exceed the maximum of {max} bytes")]
    PropertiesTooLarge {
        /// Offending size.
        size: usize,
        /// Maximum.
        max: usize,
    },
    /// The topic name cannot be stored (empty or longer than 32767 bytes).
    #[error("invalid topic {topic:?}: {reason}")]
    InvalidTopic {
        /// The topic.
        topic: String,
        /// Why.
        reason: &'static str,
    },
    /// The store's file system is fuller than `disk_max_used_space_ratio`.
    #[error("disk usage {ratio:.3} exceeds the maximum of {max:.3}; writes refused")]
    DiskFull {
        /// Current used fraction.
        ratio: f64,
        /// Configured maximum fraction.
        max: f64,
    },
    /// The store is shutting down or has shut down.
    #[error("the message store is shutting down")]
    ShuttingDown,
    /// An earlier write failed; the store refuses writes until reopened.
    #[error("the message store is not writable after an i/o failure: {0}")]
    NotWritable(String),
    /// A SYNC_FLUSH send was written but not confirmed on disk in time (Java: FLUSH_DISK_TIMEOUT, which
    /// answers with the message's id and offsets all the same).
    #[error("timed out waiting for the disk flush")]
    FlushTimeout {
        /// Where the messages were written.
        results: Vec<super::types::PutResult>,
    },
    /// Stored bytes are inconsistent where recovery cannot just cut a torn tail.
    #[error("corrupt store file {}: at offset {offset}: {reason}", file.display())]
    Corruption {
        /// The file.
        file: PathBuf,
        /// Byte offset in the file.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// The configuration is impossible.
    #[error("invalid store config: {0}")]
    InvalidConfig(String),
    /// Another process (or store instance) holds the store directory.
    #[error("store directory {} is locked by another store", .0.display())]
    Locked(PathBuf),
    /// File system error.
    #[error("store i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// A copy suitable for answering several waiters of one failed write.
    pub(crate) fn share(&self) -> StoreError {
        match self {
            StoreError::Io(e) => StoreError::NotWritable(e.to_string()),
            StoreError::NotWritable(s) => StoreError::NotWritable(s.clone()),
            StoreError::ShuttingDown => StoreError::ShuttingDown,
            other => StoreError::NotWritable(other.to_string()),
        }
    }
}

/// Result with [`StoreError`] as the default error.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
