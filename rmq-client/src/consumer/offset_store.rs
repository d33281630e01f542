//! Consume progress: the in-memory table every consumer keeps, and the local file broadcasting consumers
//! persist it to (Java's `LocalFileOffsetStore`).
//!
//! In clustering mode the broker owns the committed offsets and the table is only a cache; in broadcasting mode
//! every client consumes every queue, so each keeps its own progress on its own disk, at
//! `{dir}/{client_id}/{group}/offsets.json` as the Java client does.
//!
//! # File format
//!
//! The file holds Java's `OffsetSerializeWrapper` exactly as fastjson pretty-prints it, so a Java client with
//! the same client id picks up where a Rust one stopped and vice versa. fastjson writes the `MessageQueue` keys
//! inline as objects, which is not standard JSON:
//!
//! ```text
//! {
//!     "offsetTable":{{
//!             "brokerName":"broker-a",
//!             "queueId":0,
//!             "topic":"TopicTest"
//!         }:1470,{
//!             "brokerName":"broker-a",
//!             "queueId":1,
//!             "topic":"TopicTest"
//!         }:1471
//!     }
//! }
//! ```
//!
//! We write that layout byte for byte (one tab per level where this page shows four spaces, no trailing
//! newline), with entries sorted by topic, broker and queue id where Java uses hash order. We read any
//! spacing, compact or pretty, and ignore unknown fields.
//!
//! # Crash safety
//!
//! A write goes to `offsets.json.tmp`, is fsynced, and is renamed over `offsets.json`; the previous file, if it
//! still parses, is first saved the same way as `offsets.json.bak`. Loading falls back to the `.bak` when the
//! main file is missing, empty or damaged, and fails with [`OffsetStoreError`] rather than silently starting
//! from scratch (which would re-consume or skip messages) when neither is usable.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use parking_lot::{Mutex, RwLock};
use rmq_protocol::body::{quote_object_keys, MessageQueue};
use rmq_protocol::persist::{sibling, write_atomic};

use serde_json::Value;

/// Overrides where broadcasting consumers keep their offsets (Java's `rocketmq.client.localOffsetStoreDir`).
pub const OFFSETS_DIR_ENV: &str = "ROCKETMQ_OFFSETS_DIR";
/// Name of the offsets file inside `{dir}/{client_id}/{group}/`, as in Java.
pub const OFFSETS_FILE: &str = "offsets.json";

/// Why offsets could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OffsetStoreError {
    /// Reading, writing, syncing or renaming a file failed.
    #[error("offset store I/O on {}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The offsets file is damaged and there is no backup to fall back to.
    #[error(
        "offsets file {} is damaged ({reason}) and has no backup; repair or delete it to start over",
        path.display()
    )]
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Both the offsets file and its backup are damaged.
    #[error(
        "offsets file {} is damaged ({reason}) and so is its backup {} ({backup_reason}); repair or delete them \
         to start over",
        path.display(),
        backup.display()
    )]
    BothCorrupt {
        /// The main file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
        /// The backup file.
        backup: PathBuf,
        /// What is wrong with the backup.
        backup_reason: String,
    },
    /// A client id or group that cannot be used as a directory name (empty, `.`, `..`, or with a separator).
    #[error("{what} {value:?} cannot be used as a directory name")]
    InvalidName {
        /// `client id` or `consumer group`.
        what: &'static str,
        /// The rejected value.
        value: String,
    },
}

/// Where broadcasting offsets live unless configured: `$ROCKETMQ_OFFSETS_DIR`, else `~/.rocketmq_offsets`
/// (Java's default), else `.rocketmq_offsets` in the working directory when no home directory is known.
pub fn default_offsets_dir() -> PathBuf {
    match std::env::var_os(OFFSETS_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => std::env::home_dir()
            .unwrap_or_default()
            .join(".rocketmq_offsets"),
    }
}

/// The consumer's view of its progress per queue: updated after every consumed batch, read before every
/// pull, and persisted (to the broker or a file) periodically, so it must be cheap and shareable.
#[derive(Debug, Default)]
pub struct OffsetTable {
    offsets: RwLock<HashMap<MessageQueue, i64>>,
}

impl OffsetTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records progress on `mq`. With `increase_only` a lower offset is ignored, so a slow batch finishing late
    /// cannot move progress backwards; without it the offset is set as given (offset resets).
    pub fn update(&self, mq: &MessageQueue, offset: i64, increase_only: bool) {
        let mut offsets = self.offsets.write();
        match offsets.get_mut(mq) {
            Some(current) if increase_only => *current = (*current).max(offset),
            Some(current) => *current = offset,
            None => {
                offsets.insert(mq.clone(), offset);
            }
        }
    }

    /// The recorded offset of `mq`, i.e. the next message to consume.
    pub fn get(&self, mq: &MessageQueue) -> Option<i64> {
        self.offsets.read().get(mq).copied()
    }

    /// Forgets `mq` (rebalance gave it away) and returns its last offset.
    pub fn remove(&self, mq: &MessageQueue) -> Option<i64> {
        self.offsets.write().remove(mq)
    }

    /// Keeps only the queues `keep` accepts (drops queues no longer assigned after persisting).
    pub fn retain(&self, mut keep: impl FnMut(&MessageQueue) -> bool) {
        self.offsets.write().retain(|mq, _| keep(mq));
    }

    /// A consistent copy, sorted by queue, to persist or report without holding the lock.
    pub fn snapshot(&self) -> BTreeMap<MessageQueue, i64> {
        self.offsets
            .read()
            .iter()
            .map(|(mq, offset)| (mq.clone(), *offset))
            .collect()
    }

    /// Number of queues with an offset.
    pub fn len(&self) -> usize {
        self.offsets.read().len()
    }

    /// Whether no queue has an offset yet.
    pub fn is_empty(&self) -> bool {
        self.offsets.read().is_empty()
    }
}

/// Offsets of a broadcasting consumer, kept in memory and persisted to a local file (the broker does not track
/// per-client progress in broadcasting mode).
///
/// # Blocking
///
/// [`open`](Self::open), [`persist`](Self::persist) and [`persist_all`](Self::persist_all) do synchronous file
/// I/O with fsync; call them from `spawn_blocking` inside a runtime.
#[derive(Debug)]
pub struct LocalFileOffsetStore {
    path: PathBuf,
    table: OffsetTable,
    /// What the file holds: written entries for queues outside a `persist_all` set are kept, as in Java.
    /// The lock also serialises writers.
    on_disk: Mutex<BTreeMap<MessageQueue, i64>>,
}

impl LocalFileOffsetStore {
    /// Opens the store of `group` for `client_id` under `dir` and loads its offsets (from the backup if the main
    /// file is missing or damaged). A store that was never written opens empty.
    ///
    /// # Errors
    /// [`OffsetStoreError::InvalidName`] for a client id or group that is not a plain directory name;
    /// [`OffsetStoreError::Corrupt`] / [`OffsetStoreError::BothCorrupt`] when no usable file remains;
    /// [`OffsetStoreError::Io`] when a file exists but cannot be read.
    pub fn open(
        dir: impl AsRef<Path>,
        client_id: &str,
        group: &str,
    ) -> Result<Self, OffsetStoreError> {
        check_name("client id", client_id)?;
        check_name("consumer group", group)?;
        let path = dir.as_ref().join(client_id).join(group).join(OFFSETS_FILE);
        let loaded = load(&path)?;
        let table = OffsetTable::new();
        for (mq, offset) in &loaded {
            tracing::info!(group, topic = %mq.topic, broker = %mq.broker_name, queue_id = mq.queue_id, offset,
                "loaded local consume offset");
            table.update(mq, *offset, false);
        }
        Ok(LocalFileOffsetStore {
            path,
            table,
            on_disk: Mutex::new(loaded),
        })
    }

    /// The offsets file (`{dir}/{client_id}/{group}/offsets.json`), for logs and diagnostics.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The in-memory offsets, ahead of the file until the next persist.
    pub fn table(&self) -> &OffsetTable {
        &self.table
    }

    /// Records progress on `mq` in memory; see [`OffsetTable::update`].
    pub fn update_offset(&self, mq: &MessageQueue, offset: i64, increase_only: bool) {
        self.table.update(mq, offset, increase_only);
    }

    /// Where to resume `mq`: the in-memory offset, else the persisted one (which is then cached in memory).
    /// `None` when the queue was never consumed, so the consumer applies its `ConsumeFromWhere`.
    pub fn read_offset(&self, mq: &MessageQueue) -> Option<i64> {
        if let Some(offset) = self.table.get(mq) {
            return Some(offset);
        }
        let offset = self.on_disk.lock().get(mq).copied()?;
        self.table.update(mq, offset, false);
        Some(offset)
    }

    /// Writes the current offsets of `mqs` (normally the queues this client consumes); the file keeps the
    /// entries of every other queue as last written. Does nothing for an empty set.
    ///
    /// # Errors
    /// [`OffsetStoreError::Io`]; the previous file is then left intact.
    pub fn persist_all(&self, mqs: &[MessageQueue]) -> Result<(), OffsetStoreError> {
        if mqs.is_empty() {
            return Ok(());
        }
        let mut on_disk = self.on_disk.lock();
        let mut next = on_disk.clone();
        for mq in mqs {
            if let Some(offset) = self.table.get(mq) {
                next.insert(mq.clone(), offset);
            }
        }
        save(&self.path, &encode(&next))?;
        *on_disk = next;
        Ok(())
    }

    /// Writes the current offset of one queue (when rebalance removes it); see [`persist_all`](Self::persist_all).
    ///
    /// # Errors
    /// As [`persist_all`](Self::persist_all).
    pub fn persist(&self, mq: &MessageQueue) -> Result<(), OffsetStoreError> {
        self.persist_all(std::slice::from_ref(mq))
    }
}

fn check_name(what: &'static str, value: &str) -> Result<(), OffsetStoreError> {
    let bad =
        value.is_empty() || value == "." || value == ".." || value.contains(['/', '\\', '\0']);
    if bad {
        return Err(OffsetStoreError::InvalidName {
            what,
            value: value.to_owned(),
        });
    }
    Ok(())
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> OffsetStoreError + '_ {
    move |source| OffsetStoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What one file holds: its entries, absent, or damaged (with why).
enum Read {
    Missing,
    Damaged(String),
    Ok(BTreeMap<MessageQueue, i64>),
}

fn read(path: &Path) -> Result<Read, OffsetStoreError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Read::Missing),
        Err(e) => return Err(io_err(path)(e)),
    };
    if bytes.is_empty() {
        return Ok(Read::Damaged("empty file".to_owned()));
    }
    let parsed = std::str::from_utf8(&bytes)
        .map_err(|e| format!("not UTF-8: {e}"))
        .and_then(decode);
    Ok(match parsed {
        Ok(offsets) => Read::Ok(offsets),
        Err(reason) => Read::Damaged(reason),
    })
}

fn load(path: &Path) -> Result<BTreeMap<MessageQueue, i64>, OffsetStoreError> {
    let main_reason = match read(path)? {
        Read::Ok(offsets) => return Ok(offsets),
        Read::Missing => None,
        Read::Damaged(reason) => Some(reason),
    };
    let backup = sibling(path, ".bak");
    let from_backup = read(&backup)?;
    match (main_reason, from_backup) {
        (None, Read::Missing) => Ok(BTreeMap::new()),
        (Some(reason), Read::Missing) => Err(OffsetStoreError::Corrupt {
            path: path.to_owned(),
            reason,
        }),
        (reason, Read::Ok(offsets)) => {
            tracing::warn!(path = %path.display(), reason = reason.as_deref().unwrap_or("missing"),
                "offsets file unusable, loaded its backup");
            Ok(offsets)
        }
        (None, Read::Damaged(reason)) => Err(OffsetStoreError::Corrupt {
            path: backup,
            reason,
        }),
        (Some(reason), Read::Damaged(backup_reason)) => Err(OffsetStoreError::BothCorrupt {
            path: path.to_owned(),
            reason,
            backup,
            backup_reason,
        }),
    }
}

/// Backs up the current file if it is sound, then replaces it atomically with `contents`.
fn save(path: &Path, contents: &str) -> Result<(), OffsetStoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    match fs::read(path) {
        Ok(previous) => {
            let sound = std::str::from_utf8(&previous)
                .map_err(|e| e.to_string())
                .and_then(decode);
            match sound {
                Ok(_) => replace(&sibling(path, ".bak"), &previous)?,
                Err(reason) => tracing::warn!(path = %path.display(), reason,
                    "not backing up a damaged offsets file; keeping the older backup"),
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(path)(e)),
    }
    replace(path, contents.as_bytes())
}

/// Writes `bytes` to `path` so a reader sees the old or the new contents, never a mix (rmq-protocol's
/// [`write_atomic`]: tmp file, fsync, rename, fsync of the directory).
fn replace(path: &Path, bytes: &[u8]) -> Result<(), OffsetStoreError> {
    write_atomic(path, bytes).map_err(|e| OffsetStoreError::Io {
        path: e.path,
        source: e.source,
    })
}

/// fastjson's pretty form of `OffsetSerializeWrapper` (see the module docs).
pub(crate) fn encode(offsets: &BTreeMap<MessageQueue, i64>) -> String {
    if offsets.is_empty() {
        return "{\n\t\"offsetTable\":{}\n}".to_owned();
    }
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned());
    let entries: Vec<String> = offsets
        .iter()
        .map(|(mq, offset)| {
            format!(
                "{{\n\t\t\t\"brokerName\":{},\n\t\t\t\"queueId\":{},\n\t\t\t\"topic\":{}\n\t\t}}:{offset}",
                quote(&mq.broker_name),
                mq.queue_id,
                quote(&mq.topic),
            )
        })
        .collect();
    format!("{{\n\t\"offsetTable\":{{{}\n\t}}\n}}", entries.join(","))
}

/// Reads an `OffsetSerializeWrapper` in fastjson's object-key form, pretty or compact: rmq-protocol's
/// [`quote_object_keys`] (the one reader of that dialect) makes it standard JSON, then every field is checked
/// strictly, so a damaged file is reported (and its backup used) rather than read as something else.
pub(crate) fn decode(text: &str) -> Result<BTreeMap<MessageQueue, i64>, String> {
    let standard = quote_object_keys(text.as_bytes());
    let doc: Value = serde_json::from_slice(&standard).map_err(|e| e.to_string())?;
    if !doc.is_object() {
        return Err("top level is not an object".to_owned());
    }
    let entries = match doc.get("offsetTable") {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(entries)) => entries,
        Some(_) => return Err("offsetTable is not an object".to_owned()),
    };
    let mut offsets = BTreeMap::new();
    for (key, value) in entries {
        let mq = queue_from(key)?;
        let offset = value
            .as_i64()
            .ok_or_else(|| format!("offset of {mq:?} is not an integer"))?;
        offsets.insert(mq, offset);
    }
    Ok(offsets)
}

/// The queue of one `offsetTable` key: the JSON text of a queue object, as [`quote_object_keys`] left it.
fn queue_from(key: &str) -> Result<MessageQueue, String> {
    let key = serde_json::from_str::<Value>(key)
        .ok()
        .filter(Value::is_object)
        .ok_or("offsetTable key is not a queue object")?;
    let text = |name: &str| match key.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(format!("offsetTable key without a string `{name}`")),
    };
    let queue_id = key
        .get("queueId")
        .and_then(Value::as_i64)
        .and_then(|id| i32::try_from(id).ok())
        .ok_or("offsetTable key without an integer `queueId`")?;
    Ok(MessageQueue {
        topic: text("topic")?,
        broker_name: text("brokerName")?,
        queue_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mq(topic: &str, queue_id: i32) -> MessageQueue {
        MessageQueue {
            topic: topic.to_owned(),
            broker_name: "broker-a".to_owned(),
            queue_id,
        }
    }

    fn open(dir: &Path) -> LocalFileOffsetStore {
        LocalFileOffsetStore::open(dir, "10.0.0.1@42", "G").unwrap()
    }

    /// The layout the Java client writes (fastjson pretty format), in Java's hash order.
    const JAVA_FILE: &str = "{\n\t\"offsetTable\":{{\n\t\t\t\"brokerName\":\"broker-a\",\n\t\t\t\"queueId\":3,\n\t\t\t\
        \"topic\":\"TopicTest\"\n\t\t}:1470,{\n\t\t\t\"brokerName\":\"broker-a\",\n\t\t\t\"queueId\":2,\n\t\t\t\
        \"topic\":\"TopicTest\"\n\t\t}:1471\n\t}\n}";

    #[test]
    fn table_update_respects_increase_only() {
        let table = OffsetTable::new();
        let q = mq("T", 0);
        table.update(&q, 5, true);
        assert_eq!(table.get(&q), Some(5));
        table.update(&q, 3, true);
        assert_eq!(table.get(&q), Some(5));
        table.update(&q, 8, true);
        assert_eq!(table.get(&q), Some(8));
        table.update(&q, 2, false);
        assert_eq!(table.get(&q), Some(2));
    }

    #[test]
    fn table_remove_retain_snapshot() {
        let table = OffsetTable::new();
        for id in [2, 0, 1] {
            table.update(&mq("T", id), i64::from(id) * 10, false);
        }
        let keys: Vec<i32> = table.snapshot().keys().map(|q| q.queue_id).collect();
        assert_eq!(keys, vec![0, 1, 2]);
        assert_eq!(table.remove(&mq("T", 1)), Some(10));
        assert_eq!(table.remove(&mq("T", 1)), None);
        table.retain(|q| q.queue_id != 2);
        assert_eq!(table.len(), 1);
        assert_eq!(table.get(&mq("T", 0)), Some(0));
        table.retain(|_| false);
        assert!(table.is_empty());
    }

    #[test]
    fn encodes_fastjson_pretty_layout_byte_for_byte() {
        let offsets = BTreeMap::from([(mq("TopicTest", 3), 1470), (mq("TopicTest", 2), 1471)]);
        // Same bytes as Java's file except entry order (we sort by queue).
        let expected = "{\n\t\"offsetTable\":{{\n\t\t\t\"brokerName\":\"broker-a\",\n\t\t\t\"queueId\":2,\n\t\t\t\
            \"topic\":\"TopicTest\"\n\t\t}:1471,{\n\t\t\t\"brokerName\":\"broker-a\",\n\t\t\t\"queueId\":3,\n\t\t\t\
            \"topic\":\"TopicTest\"\n\t\t}:1470\n\t}\n}";
        assert_eq!(encode(&offsets), expected);
        assert_eq!(decode(&encode(&offsets)).unwrap(), offsets);
        assert_eq!(encode(&BTreeMap::new()), "{\n\t\"offsetTable\":{}\n}");
        assert!(decode(&encode(&BTreeMap::new())).unwrap().is_empty());
    }

    #[test]
    fn decodes_java_files_pretty_and_compact() {
        let java = decode(JAVA_FILE).unwrap();
        assert_eq!(
            java,
            BTreeMap::from([(mq("TopicTest", 3), 1470), (mq("TopicTest", 2), 1471)])
        );
        let compact =
            r#"{"offsetTable":{{"brokerName":"b","queueId":1,"topic":"T","extra":true}:9}}"#;
        let q = MessageQueue {
            topic: "T".to_owned(),
            broker_name: "b".to_owned(),
            queue_id: 1,
        };
        assert_eq!(decode(compact).unwrap(), BTreeMap::from([(q, 9)]));
        assert!(decode("{}").unwrap().is_empty());
    }

    #[test]
    fn decode_names_what_is_wrong() {
        for (text, needle) in [
            ("[]", "top level"),
            (r#"{"offsetTable":[]}"#, "not an object"),
            (r#"{"offsetTable":{"T":1}}"#, "not a queue"),
            (
                r#"{"offsetTable":{{"queueId":0,"brokerName":"b"}:1}}"#,
                "topic",
            ),
            (
                r#"{"offsetTable":{{"topic":"T","brokerName":"b"}:1}}"#,
                "queueId",
            ),
            (
                r#"{"offsetTable":{{"topic":"T","brokerName":"b","queueId":0}:"x"}}"#,
                "not an integer",
            ),
            (r#"{"offsetTable":{{"topic":"T""#, "line 1 column"),
        ] {
            let err = decode(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn persists_under_client_and_group_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        assert_eq!(
            store.path(),
            dir.path()
                .join("10.0.0.1@42")
                .join("G")
                .join("offsets.json")
        );
        assert!(store.table().is_empty());
        store.update_offset(&mq("T", 0), 7, true);
        store.update_offset(&mq("T", 1), 9, true);
        store.persist_all(&[mq("T", 0), mq("T", 1)]).unwrap();
        assert!(!sibling(store.path(), ".tmp").exists());

        let reopened = open(dir.path());
        assert_eq!(reopened.read_offset(&mq("T", 0)), Some(7));
        assert_eq!(reopened.read_offset(&mq("T", 1)), Some(9));
        assert_eq!(reopened.read_offset(&mq("T", 2)), None);
    }

    #[test]
    fn reads_a_file_written_by_java() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir
            .path()
            .join("10.0.0.1@42")
            .join("G")
            .join("offsets.json");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, JAVA_FILE).unwrap();
        assert_eq!(
            open(dir.path()).read_offset(&mq("TopicTest", 2)),
            Some(1471)
        );
    }

    #[test]
    fn persist_all_keeps_other_queues_as_last_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        store.update_offset(&mq("T", 0), 1, false);
        store.update_offset(&mq("T", 1), 1, false);
        store.persist_all(&[mq("T", 0), mq("T", 1)]).unwrap();
        store.update_offset(&mq("T", 0), 5, false);
        store.update_offset(&mq("T", 1), 5, false);
        store.persist(&mq("T", 0)).unwrap();
        store.persist_all(&[]).unwrap();
        let reopened = open(dir.path());
        assert_eq!(reopened.read_offset(&mq("T", 0)), Some(5));
        assert_eq!(reopened.read_offset(&mq("T", 1)), Some(1));
    }

    #[test]
    fn read_offset_falls_back_to_the_file_after_a_removal() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        store.update_offset(&mq("T", 0), 4, false);
        store.persist(&mq("T", 0)).unwrap();
        store.table().remove(&mq("T", 0));
        assert_eq!(store.read_offset(&mq("T", 0)), Some(4));
        assert_eq!(store.table().get(&mq("T", 0)), Some(4));
    }

    /// Writes offset `first`, then `second`, so the main file holds `second` and the backup `first`.
    fn two_generations(dir: &Path, first: i64, second: i64) -> PathBuf {
        let store = open(dir);
        store.update_offset(&mq("T", 0), first, false);
        store.persist(&mq("T", 0)).unwrap();
        store.update_offset(&mq("T", 0), second, false);
        store.persist(&mq("T", 0)).unwrap();
        store.path().to_owned()
    }

    #[test]
    fn keeps_the_previous_file_as_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = two_generations(dir.path(), 3, 4);
        let backup = fs::read_to_string(sibling(&path, ".bak")).unwrap();
        assert_eq!(decode(&backup).unwrap(), BTreeMap::from([(mq("T", 0), 3)]));
    }

    #[test]
    fn torn_main_file_falls_back_to_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = two_generations(dir.path(), 3, 4);
        let text = fs::read(&path).unwrap();
        fs::write(&path, &text[..text.len() / 2]).unwrap();
        assert_eq!(open(dir.path()).read_offset(&mq("T", 0)), Some(3));
        fs::write(&path, b"").unwrap();
        assert_eq!(open(dir.path()).read_offset(&mq("T", 0)), Some(3));
        fs::remove_file(&path).unwrap();
        assert_eq!(open(dir.path()).read_offset(&mq("T", 0)), Some(3));
    }

    #[test]
    fn persisting_over_a_damaged_file_keeps_the_good_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = two_generations(dir.path(), 3, 4);
        fs::write(&path, b"{\"offsetTa").unwrap();
        let store = open(dir.path());
        store.update_offset(&mq("T", 0), 9, false);
        store.persist(&mq("T", 0)).unwrap();
        let backup = fs::read_to_string(sibling(&path, ".bak")).unwrap();
        assert_eq!(decode(&backup).unwrap(), BTreeMap::from([(mq("T", 0), 3)]));
        assert_eq!(open(dir.path()).read_offset(&mq("T", 0)), Some(9));
    }

    #[test]
    fn damaged_main_without_backup_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        store.update_offset(&mq("T", 0), 3, false);
        store.persist(&mq("T", 0)).unwrap();
        fs::write(store.path(), b"\xff\xfe").unwrap();
        let err = LocalFileOffsetStore::open(dir.path(), "10.0.0.1@42", "G").unwrap_err();
        assert!(
            matches!(&err, OffsetStoreError::Corrupt { path, .. } if path == store.path()),
            "{err}"
        );
        assert!(err.to_string().contains("no backup"), "{err}");
    }

    #[test]
    fn both_damaged_is_an_error_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        let path = two_generations(dir.path(), 3, 4);
        fs::write(&path, b"garbage").unwrap();
        fs::write(sibling(&path, ".bak"), b"{\"offsetTable\":{").unwrap();
        let err = LocalFileOffsetStore::open(dir.path(), "10.0.0.1@42", "G").unwrap_err();
        let OffsetStoreError::BothCorrupt {
            path: main, backup, ..
        } = &err
        else {
            panic!("{err}");
        };
        assert_eq!(main, &path);
        assert_eq!(backup, &sibling(&path, ".bak"));
    }

    #[test]
    fn missing_main_with_damaged_backup_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = two_generations(dir.path(), 3, 4);
        fs::remove_file(&path).unwrap();
        fs::write(sibling(&path, ".bak"), b"").unwrap();
        let err = LocalFileOffsetStore::open(dir.path(), "10.0.0.1@42", "G").unwrap_err();
        assert!(
            matches!(&err, OffsetStoreError::Corrupt { path: p, .. } if *p == sibling(&path, ".bak")),
            "{err}"
        );
    }

    #[test]
    fn rejects_names_that_escape_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        for (client, group) in [
            ("", "G"),
            ("..", "G"),
            ("c", "a/b"),
            ("c", "."),
            ("c\\d", "G"),
        ] {
            let err = LocalFileOffsetStore::open(dir.path(), client, group).unwrap_err();
            assert!(
                matches!(err, OffsetStoreError::InvalidName { .. }),
                "{client:?} {group:?}"
            );
        }
        assert!(LocalFileOffsetStore::open(dir.path(), "10.0.0.1@DEFAULT", "%RETRY%G").is_ok());
    }

    #[test]
    fn default_dir_honours_the_environment() {
        // The only test that touches this variable.
        std::env::set_var(OFFSETS_DIR_ENV, "/tmp/rmq-offsets-test");
        assert_eq!(
            default_offsets_dir(),
            PathBuf::from("/tmp/rmq-offsets-test")
        );
        std::env::remove_var(OFFSETS_DIR_ENV);
        assert!(default_offsets_dir().ends_with(".rocketmq_offsets"));
    }
}
