//! The checkpoint file (`<root>/checkpoint`): how far each part of the store is known to be on disk.
//!
//! Java's `StoreCheckpoint` records timestamps; this store records CommitLog offsets, which are exact record
//! boundaries and need no clock. Layout (big-endian, 48 bytes):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `RMQC` |
//! | 4 | 4 | version (1) |
//! | 8 | 8 | CommitLog flushed offset: every byte below it was `fdatasync`ed |
//! | 16 | 8 | logics offset: ConsumeQueue entries of every record below it are synced (≤ flushed) |
//! | 24 | 8 | index offset: IndexFile state covers every record below it |
//! | 32 | 8 | store timestamp of the checkpoint, ms |
//! | 40 | 4 | CRC-32 of bytes 0..40 |
//! | 44 | 4 | reserved (0) |
//!
//! Written to `checkpoint.tmp`, synced, then renamed over the old one, so a torn write never leaves a
//! half-updated checkpoint.

use std::io;
use std::path::Path;

use super::fs::FsHandle;

const MAGIC: &[u8; 4] = b"RMQC";
const VERSION: u32 = 1;
const LEN: usize = 48;

/// The checkpoint's contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Checkpoint {
    pub(crate) commit_log_flushed: i64,
    pub(crate) logics_offset: i64,
    pub(crate) index_offset: i64,
    pub(crate) timestamp: i64,
}

impl Checkpoint {
    fn encode(&self) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        b[0..4].copy_from_slice(MAGIC);
        b[4..8].copy_from_slice(&VERSION.to_be_bytes());
        b[8..16].copy_from_slice(&self.commit_log_flushed.to_be_bytes());
        b[16..24].copy_from_slice(&self.logics_offset.to_be_bytes());
        b[24..32].copy_from_slice(&self.index_offset.to_be_bytes());
        b[32..40].copy_from_slice(&self.timestamp.to_be_bytes());
        let crc = crc32fast::hash(&b[0..40]);
        b[40..44].copy_from_slice(&crc.to_be_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<Checkpoint> {
        if b.len() < LEN || &b[0..4] != MAGIC || b[4..8] != VERSION.to_be_bytes() {
            return None;
        }
        let crc = u32::from_be_bytes(b[40..44].try_into().ok()?);
        if crc != crc32fast::hash(&b[0..40]) {
            return None;
        }
        let i =
            |at: usize| -> Option<i64> { Some(i64::from_be_bytes(b[at..at + 8].try_into().ok()?)) };
        Some(Checkpoint {
            commit_log_flushed: i(8)?,
            logics_offset: i(16)?,
            index_offset: i(24)?,
            timestamp: i(32)?,
        })
    }

    /// Reads the checkpoint; `None` when absent or invalid (logged).
    pub(crate) fn load(fs: &FsHandle, path: &Path) -> Option<Checkpoint> {
        match fs.read(path) {
            Ok(b) => {
                let cp = Checkpoint::decode(&b);
                if cp.is_none() {
                    tracing::warn!(file = %path.display(), "checkpoint is invalid; ignoring it");
                }
                cp
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot read the checkpoint; ignoring it");
                None
            }
        }
    }

    /// Writes the checkpoint atomically (temp file, sync, rename).
    pub(crate) fn store(&self, fs: &FsHandle, path: &Path) -> io::Result<()> {
        fs.write_atomic(path, &self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_reject() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FsHandle::default();
        let p = dir.path().join("checkpoint");
        assert_eq!(Checkpoint::load(&fs, &p), None);
        let cp = Checkpoint {
            commit_log_flushed: 10,
            logics_offset: 9,
            index_offset: 8,
            timestamp: 7,
        };
        cp.store(&fs, &p).unwrap();
        assert_eq!(Checkpoint::load(&fs, &p), Some(cp));
        let mut b = std::fs::read(&p).unwrap();
        b[12] ^= 1;
        std::fs::write(&p, &b).unwrap();
        assert_eq!(Checkpoint::load(&fs, &p), None);
        std::fs::write(&p, b"short").unwrap();
        assert_eq!(Checkpoint::load(&fs, &p), None);
    }
}
