//! The broker's topic table: system topics, auto-creation on send, admin changes, and its persisted copy
//! (`<store>/config/topics.json`). Every change bumps the data version, which tells name servers to re-read it.

use rmq_protocol::clock::system_now_ms;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use rmq_protocol::body::{DataVersion, TopicConfig, TopicConfigSerializeWrapper};
use rmq_protocol::message::sysflag::perm;
use tokio::sync::Notify;

use crate::persist::{PersistError, StateDir, StateFile};

use rmq_protocol::topic::{self as names, NameError};
pub use rmq_protocol::topic::{
    DLQ_GROUP_TOPIC_PREFIX, RETRY_GROUP_TOPIC_PREFIX, TBW102, TOPIC_MAX_LENGTH,
};

/// Topic Java tools use to check a broker.
pub const SELF_TEST_TOPIC: &str = "SELF_TEST_TOPIC";
/// Topic where Java consumers report offset-moved events.
pub const OFFSET_MOVED_EVENT: &str = "OFFSET_MOVED_EVENT";
/// Suffix of the request-reply topic, `<cluster>_REPLY_TOPIC` (Java's `MixAll.REPLY_TOPIC_POSTFIX`).
pub const REPLY_TOPIC_POSTFIX: &str = "REPLY_TOPIC";

/// The topic repliers send request-reply answers to: `<cluster>_REPLY_TOPIC`, created at start (one queue, as
/// Java's `TopicConfigManager`) and published like any topic so a replier finds its route.
pub fn reply_topic(cluster: &str) -> String {
    format!("{cluster}_{REPLY_TOPIC_POSTFIX}")
}

/// Checks a topic name against RocketMQ's rule (`rmq_protocol::topic`: `^[%|a-zA-Z0-9_-]+$`, 127 characters,
/// 255 for retry and dead-letter topics), with the remarks Java's `TopicValidator` answers.
pub fn validate_topic(topic: &str) -> Result<(), String> {
    names::check_topic(topic).map_err(|e| match e {
        NameError::Blank => "The specified topic is blank.".to_string(),
        NameError::TooLong { max, len } => {
            format!("The specified topic is longer than topic max length {max}: {len} characters.")
        }
        NameError::BadChar(_) => format!(
            "The specified topic[{topic}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$"
        ),
    })
}

/// Topics the broker owns itself; clients may not send to them directly.
pub fn is_system_topic(topic: &str) -> bool {
    [
        names::SCHEDULE_TOPIC,
        names::TRANS_HALF_TOPIC,
        names::TRANS_OP_HALF_TOPIC,
        names::TRANS_CHECK_MAX_TIME_TOPIC,
        names::TIMER_TOPIC,
        names::TBW102,
    ]
    .contains(&topic)
}

/// The topic table with its version.
#[derive(Debug)]
pub struct TopicConfigManager {
    file: StateFile,
    table: RwLock<HashMap<String, TopicConfig>>,
    counter: AtomicI64,
    timestamp: AtomicI64,
    changes: Arc<Notify>,
}

fn topic(name: &str, queues: i32, permission: i32) -> TopicConfig {
    TopicConfig {
        topic_name: name.to_string(),
        read_queue_nums: queues,
        write_queue_nums: queues,
        perm: permission,
        topic_filter_type: "SINGLE_TAG".into(),
        ..TopicConfig::default()
    }
}

impl TopicConfigManager {
    /// Loads `<config_dir>/topics.json` and adds the system topics this broker serves.
    pub fn load(
        config_dir: impl Into<StateDir>,
        cluster: &str,
        broker_name: &str,
        auto_create: bool,
        default_queue_nums: i32,
    ) -> Result<Self, PersistError> {
        let file = config_dir.into().file("topics.json");
        let stored: Option<TopicConfigSerializeWrapper> = file.read_json()?;
        let (mut table, version) = match stored {
            Some(w) => (w.topic_config_table, w.data_version),
            None => (HashMap::new(), DataVersion::default()),
        };
        let mut system = vec![
            topic(SELF_TEST_TOPIC, 1, perm::READ | perm::WRITE),
            topic(OFFSET_MOVED_EVENT, 1, perm::READ | perm::WRITE),
            topic(cluster, 16, perm::INHERIT | perm::READ | perm::WRITE),
            topic(broker_name, 1, perm::INHERIT | perm::READ | perm::WRITE),
            topic(&reply_topic(cluster), 1, perm::READ | perm::WRITE),
        ];
        if auto_create {
            system.push(topic(
                TBW102,
                default_queue_nums,
                perm::INHERIT | perm::READ | perm::WRITE,
            ));
        } else {
            table.remove(TBW102);
        }
        for t in system {
            table.entry(t.topic_name.clone()).or_insert(t);
        }
        Ok(TopicConfigManager {
            file,
            table: RwLock::new(table),
            counter: AtomicI64::new(version.counter + 1),
            timestamp: AtomicI64::new(system_now_ms()),
            changes: Arc::new(Notify::new()),
        })
    }

    /// The config of a topic, if it exists.
    pub fn get(&self, topic: &str) -> Option<TopicConfig> {
        self.table.read().get(topic).cloned()
    }

    /// Every topic.
    pub fn all(&self) -> Vec<TopicConfig> {
        self.table.read().values().cloned().collect()
    }

    /// Creates `topic` from the template `default_topic` on first send (docs/protocol.md §4.1): the template must exist and
    /// carry INHERIT; queues = min(requested, template's write queues); perm = template's minus INHERIT.
    pub fn create_on_send(
        &self,
        topic_name: &str,
        default_topic: &str,
        requested_queues: i32,
        topic_sys_flag: i32,
    ) -> Result<Option<TopicConfig>, PersistError> {
        let created = {
            let mut table = self.table.write();
            if let Some(existing) = table.get(topic_name) {
                return Ok(Some(existing.clone()));
            }
            let Some(template) = table.get(default_topic) else {
                return Ok(None);
            };
            if !perm::is_inherited(template.perm) {
                return Ok(None);
            }
            let queues = requested_queues.clamp(1, template.write_queue_nums.max(1));
            let mut t = topic(topic_name, queues, template.perm & !perm::INHERIT);
            t.topic_sys_flag = topic_sys_flag;
            table.insert(topic_name.to_string(), t.clone());
            t
        };
        self.changed()?;
        tracing::info!(
            topic = topic_name,
            queues = created.write_queue_nums,
            "topic auto-created on send"
        );
        Ok(Some(created))
    }

    /// Creates a retry or DLQ topic of `queues` queues (RW) if it does not exist.
    pub fn create_system_managed(
        &self,
        topic_name: &str,
        queues: i32,
    ) -> Result<TopicConfig, PersistError> {
        let created = {
            let mut table = self.table.write();
            if let Some(existing) = table.get(topic_name) {
                return Ok(existing.clone());
            }
            let t = topic(topic_name, queues, perm::READ | perm::WRITE);
            table.insert(topic_name.to_string(), t.clone());
            t
        };
        self.changed()?;
        Ok(created)
    }

    /// Creates or replaces a topic (UPDATE_AND_CREATE_TOPIC). Returns whether anything changed.
    pub fn upsert(&self, config: TopicConfig) -> Result<bool, PersistError> {
        {
            let mut table = self.table.write();
            if table.get(&config.topic_name) == Some(&config) {
                return Ok(false);
            }
            table.insert(config.topic_name.clone(), config);
        }
        self.changed()?;
        Ok(true)
    }

    /// Deletes a topic; returns whether it existed.
    pub fn delete(&self, topic_name: &str) -> Result<bool, PersistError> {
        if self.table.write().remove(topic_name).is_none() {
            // Routes are republished anyway: the name servers may still list it.
            self.changes.notify_one();
            return Ok(false);
        }
        self.changed()?;
        Ok(true)
    }

    /// The current version; changes whenever the table does.
    pub fn data_version(&self) -> DataVersion {
        DataVersion {
            state_version: 0,
            timestamp: self.timestamp.load(Ordering::Acquire),
            counter: self.counter.load(Ordering::Acquire),
        }
    }

    /// The table in its wire/file form.
    pub fn wrapper(&self) -> TopicConfigSerializeWrapper {
        TopicConfigSerializeWrapper {
            topic_config_table: self.table.read().clone(),
            data_version: self.data_version(),
            ..TopicConfigSerializeWrapper::default()
        }
    }

    fn changed(&self) -> Result<(), PersistError> {
        self.counter.fetch_add(1, Ordering::AcqRel);
        self.timestamp.store(system_now_ms(), Ordering::Release);
        self.persist()?;
        self.changes.notify_one();
        Ok(())
    }

    /// Bumps the table's data version and has the routes published now, without changing a topic: the
    /// broker's permission changed, and name servers only take a registration whose version moved.
    ///
    /// # Errors
    /// The table cannot be saved.
    pub fn touch(&self) -> Result<(), PersistError> {
        self.changed()
    }

    /// Signalled after every saved change of the table, so the registrar publishes routes at once instead
    /// of every writer having to remember to tell it.
    pub fn changes(&self) -> Arc<Notify> {
        self.changes.clone()
    }

    /// Writes topics.json.
    pub fn persist(&self) -> Result<(), PersistError> {
        self.file.write_json(&self.wrapper())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_rocketmq_rules() {
        assert!(validate_topic("Order_topic-1").is_ok());
        assert!(validate_topic("%RETRY%group").is_ok());
        assert!(validate_topic("").is_err());
        assert!(validate_topic("has space").is_err());
        assert!(validate_topic("ünïcode").is_err());
        assert!(validate_topic(&"x".repeat(128)).is_err());
        assert!(validate_topic(&"x".repeat(127)).is_ok());
    }

    #[test]
    fn auto_create_uses_template_and_persists() {
        let dir = tempfile::tempdir().expect("tempdir");
        let m =
            TopicConfigManager::load(dir.path().to_path_buf(), "C", "b", true, 8).expect("load");
        let v0 = m.data_version();
        let t = m
            .create_on_send("T1", TBW102, 4, 0)
            .expect("io")
            .expect("created");
        assert_eq!((t.read_queue_nums, t.write_queue_nums, t.perm), (4, 4, 6));
        assert!(m.data_version().counter > v0.counter);
        assert!(m.create_on_send("T2", "NOPE", 4, 0).expect("io").is_none());
        let again =
            TopicConfigManager::load(dir.path().to_path_buf(), "C", "b", true, 8).expect("reload");
        assert_eq!(again.get("T1"), Some(t));
    }

    #[test]
    fn no_template_without_auto_create() {
        let dir = tempfile::tempdir().expect("tempdir");
        let m =
            TopicConfigManager::load(dir.path().to_path_buf(), "C", "b", false, 8).expect("load");
        assert!(m.get(TBW102).is_none());
        assert!(m.create_on_send("T1", TBW102, 4, 0).expect("io").is_none());
    }
}
