//! Committed consumer offsets per `topic@group` and queue, flushed to `<store>/config/consumerOffset.json`
//! every `flushConsumerOffsetInterval` and at shutdown.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::persist::{PersistError, StateDir, StateFile};

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    offset_table: BTreeMap<String, BTreeMap<i32, i64>>,
}

/// One committed offset, as [`ConsumerOffsetManager::snapshot`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    /// Topic.
    pub topic: String,
    /// Consumer group.
    pub group: String,
    /// Queue id.
    pub queue_id: i32,
    /// Next offset the group will consume.
    pub offset: i64,
}

/// Offsets in memory plus a dirty flag so idle brokers do not rewrite the file.
#[derive(Debug)]
pub struct ConsumerOffsetManager {
    file: StateFile,
    table: Mutex<HashMap<String, HashMap<i32, i64>>>,
    dirty: AtomicBool,
}

fn key(topic: &str, group: &str) -> String {
    format!("{topic}@{group}")
}

impl ConsumerOffsetManager {
    /// Loads `<config_dir>/consumerOffset.json`.
    pub fn load(config_dir: impl Into<StateDir>) -> Result<Self, PersistError> {
        let file = config_dir.into().file("consumerOffset.json");
        let stored: Stored = file.read_json()?.unwrap_or_default();
        let table = stored
            .offset_table
            .into_iter()
            .map(|(k, v)| (k, v.into_iter().collect()))
            .collect();
        Ok(ConsumerOffsetManager {
            file,
            table: Mutex::new(table),
            dirty: AtomicBool::new(false),
        })
    }

    /// Records a group's committed offset for a queue.
    pub fn commit(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        self.table
            .lock()
            .entry(key(topic, group))
            .or_default()
            .insert(queue_id, offset);
        self.dirty.store(true, Ordering::Release);
    }

    /// The committed offset, if the group ever committed one for the queue.
    pub fn query(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        self.table
            .lock()
            .get(&key(topic, group))
            .and_then(|q| q.get(&queue_id))
            .copied()
    }

    /// All committed offsets of a group on a topic.
    pub fn queue_offsets(&self, group: &str, topic: &str) -> HashMap<i32, i64> {
        self.table
            .lock()
            .get(&key(topic, group))
            .cloned()
            .unwrap_or_default()
    }

    /// Groups that committed offsets on `topic`.
    pub fn groups_of_topic(&self, topic: &str) -> Vec<String> {
        let prefix = format!("{topic}@");
        self.table
            .lock()
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix).map(String::from))
            .collect()
    }

    /// Topics `group` committed offsets on (Java's `whichTopicByConsumer`), sorted.
    pub fn topics_of_group(&self, group: &str) -> Vec<String> {
        let suffix = format!("@{group}");
        let mut topics: Vec<String> = self
            .table
            .lock()
            .keys()
            .filter_map(|k| k.strip_suffix(&suffix).map(String::from))
            .collect();
        topics.sort();
        topics
    }

    /// Every committed offset (metrics compute consumer lag from it at scrape time).
    pub fn snapshot(&self) -> Vec<CommittedOffset> {
        let table = self.table.lock();
        let mut out = Vec::with_capacity(table.values().map(HashMap::len).sum());
        for (k, queues) in table.iter() {
            // Topic names cannot contain '@' (validate_topic), so the first '@' ends the topic.
            let Some((topic, group)) = k.split_once('@') else {
                continue;
            };
            out.extend(queues.iter().map(|(&queue_id, &offset)| CommittedOffset {
                topic: topic.to_owned(),
                group: group.to_owned(),
                queue_id,
                offset,
            }));
        }
        out
    }

    /// Forgets a topic's offsets (topic deleted).
    pub fn remove_topic(&self, topic: &str) {
        let prefix = format!("{topic}@");
        self.table.lock().retain(|k, _| !k.starts_with(&prefix));
        self.dirty.store(true, Ordering::Release);
    }

    /// Forgets a group's offsets (group deleted).
    pub fn remove_group(&self, group: &str) {
        let suffix = format!("@{group}");
        self.table.lock().retain(|k, _| !k.ends_with(&suffix));
        self.dirty.store(true, Ordering::Release);
    }

    /// Writes the file if anything changed since the last write.
    pub fn persist(&self) -> Result<(), PersistError> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let stored = Stored {
            offset_table: self
                .table
                .lock()
                .iter()
                .map(|(k, v)| (k.clone(), v.iter().map(|(q, o)| (*q, *o)).collect()))
                .collect(),
        };
        self.file
            .write_json(&stored)
            .inspect_err(|_| self.dirty.store(true, Ordering::Release))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_survive_reload() {
        let dir = tempfile::tempdir().expect("tempdir");
        let m = ConsumerOffsetManager::load(dir.path().to_path_buf()).expect("load");
        m.commit("g", "T", 1, 42);
        m.commit("g", "T", 2, 7);
        m.persist().expect("persist");
        let again = ConsumerOffsetManager::load(dir.path().to_path_buf()).expect("reload");
        assert_eq!(again.query("g", "T", 1), Some(42));
        assert_eq!(again.query("g", "T", 3), None);
        assert_eq!(again.groups_of_topic("T"), vec!["g".to_string()]);
        assert_eq!(again.topics_of_group("g"), vec!["T".to_string()]);
        assert!(again.topics_of_group("T").is_empty());
    }
}
