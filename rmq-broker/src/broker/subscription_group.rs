//! Consumer-group settings (retry queues, max retries, enabled flags), persisted as
//! `<store>/config/subscriptionGroup.json`; auto-created on first use when `autoCreateSubscriptionGroup`.

use std::collections::HashMap;

use parking_lot::RwLock;
use rmq_protocol::body::SubscriptionGroupWrapper;

use crate::persist::{PersistError, StateDir, StateFile};

pub use rmq_protocol::body::SubscriptionGroupConfig;

/// The group table.
#[derive(Debug)]
pub struct SubscriptionGroupManager {
    file: StateFile,
    auto_create: bool,
    table: RwLock<HashMap<String, SubscriptionGroupConfig>>,
}

impl SubscriptionGroupManager {
    /// Loads `<config_dir>/subscriptionGroup.json`.
    pub fn load(config_dir: impl Into<StateDir>, auto_create: bool) -> Result<Self, PersistError> {
        let file = config_dir.into().file("subscriptionGroup.json");
        let stored: SubscriptionGroupWrapper = file.read_json()?.unwrap_or_default();
        Ok(SubscriptionGroupManager {
            file,
            auto_create,
            table: RwLock::new(stored.subscription_group_table),
        })
    }

    /// The group's config; created with defaults when unknown and auto-creation is on.
    pub fn find_or_create(
        &self,
        group: &str,
    ) -> Result<Option<SubscriptionGroupConfig>, PersistError> {
        if let Some(c) = self.table.read().get(group) {
            return Ok(Some(c.clone()));
        }
        if !self.auto_create {
            return Ok(None);
        }
        let created = SubscriptionGroupConfig {
            group_name: group.to_string(),
            ..SubscriptionGroupConfig::default()
        };
        self.table
            .write()
            .entry(group.to_string())
            .or_insert_with(|| created.clone());
        self.persist()?;
        Ok(Some(created))
    }

    /// The group's config if it exists.
    pub fn get(&self, group: &str) -> Option<SubscriptionGroupConfig> {
        self.table.read().get(group).cloned()
    }

    /// Creates or replaces a group.
    pub fn upsert(&self, config: SubscriptionGroupConfig) -> Result<(), PersistError> {
        self.table.write().insert(config.group_name.clone(), config);
        self.persist()
    }

    /// Deletes a group; returns whether it existed.
    pub fn delete(&self, group: &str) -> Result<bool, PersistError> {
        let existed = self.table.write().remove(group).is_some();
        if existed {
            self.persist()?;
        }
        Ok(existed)
    }

    /// Every group.
    pub fn all(&self) -> Vec<SubscriptionGroupConfig> {
        self.table.read().values().cloned().collect()
    }

    fn persist(&self) -> Result<(), PersistError> {
        let stored = SubscriptionGroupWrapper {
            subscription_group_table: self.table.read().clone(),
            data_version: None,
        };
        self.file.write_json(&stored)
    }
}
