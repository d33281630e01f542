//! Saved delivery progress: `delayOffset.json` (per-level queue offsets, Java's shape) and
//! `timerCheckpoint.json` (the timer's index position and last delivered key). Both are written atomically
//! (temp file + rename) off the async threads.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::persist::{PersistError, StateFile};

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DelayOffsetFile {
    /// Level (1-based) → next queue offset of `SCHEDULE_TOPIC_XXXX` queue level − 1 to deliver.
    offset_table: BTreeMap<i32, i64>,
}

/// Per-level progress shared by the level tasks; saved when changed.
#[derive(Debug)]
pub struct DelayProgress {
    file: StateFile,
    table: Mutex<BTreeMap<i32, i64>>,
    dirty: AtomicBool,
    /// Serialises writers so an older snapshot never lands after a newer one.
    write: tokio::sync::Mutex<()>,
}

impl DelayProgress {
    /// Reads `path` (absent: every level starts at 0).
    ///
    /// # Errors
    /// The file exists but is unreadable or not ours.
    pub fn load(file: StateFile) -> Result<DelayProgress, PersistError> {
        let stored: DelayOffsetFile = file.read_json()?.unwrap_or_default();
        Ok(DelayProgress {
            file,
            table: Mutex::new(stored.offset_table),
            dirty: AtomicBool::new(false),
            write: tokio::sync::Mutex::new(()),
        })
    }

    /// The next offset to deliver for `level`.
    pub fn get(&self, level: i32) -> i64 {
        self.table.lock().get(&level).copied().unwrap_or(0)
    }

    /// Records that `level` has delivered everything below `offset`.
    pub fn set(&self, level: i32, offset: i64) {
        let mut t = self.table.lock();
        if t.insert(level, offset) != Some(offset) {
            self.dirty.store(true, Ordering::Release);
        }
    }

    /// A copy of the table.
    pub fn snapshot(&self) -> BTreeMap<i32, i64> {
        self.table.lock().clone()
    }

    /// Writes the table if it changed since the last write (or always with `force`).
    ///
    /// # Errors
    /// The file could not be written; the table stays dirty so the next call retries.
    pub async fn save(&self, force: bool) -> Result<(), PersistError> {
        let _w = self.write.lock().await;
        if !self.dirty.swap(false, Ordering::AcqRel) && !force {
            return Ok(());
        }
        let file = DelayOffsetFile {
            offset_table: self.snapshot(),
        };
        let r = write_off_thread(self.file.clone(), file).await;
        if r.is_err() {
            self.dirty.store(true, Ordering::Release);
        }
        r
    }
}

/// Where the timer stands; see [`super::timer`] for the invariant it encodes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TimerCheckpoint {
    /// Timer-queue entries below this offset had been read into the index.
    pub indexed_offset: i64,
    /// Lowest offset of an entry still pending then (a restart reads the queue from here).
    pub low_offset: i64,
    /// Delivery time of the last delivered entry (entries are delivered in (time, offset) order).
    pub done_deliver_ms: i64,
    /// Queue offset of the last delivered entry (−1: none).
    pub done_queue_offset: i64,
}

impl TimerCheckpoint {
    /// Nothing indexed, nothing delivered.
    pub fn empty() -> TimerCheckpoint {
        TimerCheckpoint {
            indexed_offset: 0,
            low_offset: 0,
            done_deliver_ms: i64::MIN,
            done_queue_offset: -1,
        }
    }

    /// Reads `path` (absent: [`TimerCheckpoint::empty`]).
    ///
    /// # Errors
    /// The file exists but is unreadable or not ours.
    pub fn load(file: &StateFile) -> Result<TimerCheckpoint, PersistError> {
        Ok(file.read_json()?.unwrap_or_else(TimerCheckpoint::empty))
    }

    /// Writes it to `path` atomically, off the async threads.
    ///
    /// # Errors
    /// The file could not be written.
    pub async fn save(self, file: StateFile) -> Result<(), PersistError> {
        write_off_thread(file, self).await
    }
}

async fn write_off_thread<T: Serialize + Send + 'static>(
    file: StateFile,
    value: T,
) -> Result<(), PersistError> {
    let path = file.path().display().to_string();
    match tokio::task::spawn_blocking(move || file.write_json(&value)).await {
        Ok(r) => r,
        Err(e) => Err(PersistError::Io {
            path,
            source: std::io::Error::other(e),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delay_progress_round_trip_in_java_shape() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config/delayOffset.json");
        let file =
            || crate::persist::StateDir::from(dir.path().join("config")).file("delayOffset.json");
        let p = DelayProgress::load(file()).expect("load");
        assert_eq!(p.get(2), 0);
        p.set(2, 7);
        p.set(18, 1);
        p.save(false).await.expect("save");
        let text = std::fs::read_to_string(&path).expect("written");
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["offsetTable"]["2"], 7);
        let again = DelayProgress::load(file()).expect("reload");
        assert_eq!((again.get(2), again.get(18), again.get(1)), (7, 1, 0));
    }

    #[tokio::test]
    async fn timer_checkpoint_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = crate::persist::StateDir::from(dir.path()).file("timerCheckpoint.json");
        assert_eq!(
            TimerCheckpoint::load(&path).expect("absent"),
            TimerCheckpoint::empty()
        );
        let cp = TimerCheckpoint {
            indexed_offset: 10,
            low_offset: 4,
            done_deliver_ms: 1234,
            done_queue_offset: 6,
        };
        cp.save(path.clone()).await.expect("save");
        assert_eq!(TimerCheckpoint::load(&path).expect("load"), cp);
    }
}
