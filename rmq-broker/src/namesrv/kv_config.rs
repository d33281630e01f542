//! The name server's KV config (PUT/GET/DELETE_KV_CONFIG, GET_KVLIST_BY_NAMESPACE), kept in Java's
//! `kvConfig.json` so it survives restarts and a Java name server can read the same file.
//!
//! The file is `{"configTable":{"<namespace>":{"<key>":"<value>",…},…}}` (Java's `KVConfigSerializeWrapper`).
//! It is read once at start, where a file that is not that JSON stops the start naming the file (an empty table
//! would silently drop every ordered-topic setting), and rewritten atomically through [`StateFile`] after every
//! change, before the change is visible: a put or delete that cannot be persisted is refused and changes
//! nothing. Java copies the previous file to `kvConfig.json.bak` first; the atomic rename makes that copy
//! unnecessary here.

use std::collections::BTreeMap;
use std::path::PathBuf;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::persist::{PersistError, StateFile};
use crate::store::fs::FsHandle;

/// Namespace → key → value.
pub type ConfigTable = BTreeMap<String, BTreeMap<String, String>>;

/// The file's JSON (Java `KVConfigSerializeWrapper`).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct KvConfigFile {
    config_table: ConfigTable,
}

/// The KV table and its file; every change is written before it is applied.
#[derive(Debug)]
pub struct KvConfig {
    // Held across the file write, so the file always ends with the latest change.
    table: Mutex<ConfigTable>,
    file: StateFile,
}

impl KvConfig {
    /// Loads `path` (an absent file is an empty table).
    ///
    /// # Errors
    /// [`PersistError::Corrupt`] naming the file when it is not the JSON above, [`PersistError::Io`] when it
    /// cannot be read.
    pub fn open(fs: FsHandle, path: PathBuf) -> Result<KvConfig, PersistError> {
        let file = StateFile::new(fs, path);
        let loaded: Option<KvConfigFile> = file.read_json()?;
        Ok(KvConfig {
            table: Mutex::new(loaded.map(|f| f.config_table).unwrap_or_default()),
            file,
        })
    }

    /// Where the table is persisted.
    pub fn path(&self) -> &std::path::Path {
        self.file.path()
    }

    /// Sets `namespace`/`key` to `value` (creating the namespace).
    ///
    /// # Errors
    /// The file could not be written; nothing changed.
    pub fn put(&self, namespace: &str, key: &str, value: &str) -> Result<(), PersistError> {
        self.change(|t| {
            t.entry(namespace.to_string())
                .or_default()
                .insert(key.to_string(), value.to_string());
        })
    }

    /// Removes `namespace`/`key` if present; an emptied namespace stays (as in Java).
    ///
    /// # Errors
    /// The file could not be written; nothing changed.
    pub fn delete(&self, namespace: &str, key: &str) -> Result<(), PersistError> {
        if !self
            .table
            .lock()
            .get(namespace)
            .is_some_and(|m| m.contains_key(key))
        {
            return Ok(());
        }
        self.change(|t| {
            if let Some(m) = t.get_mut(namespace) {
                m.remove(key);
            }
        })
    }

    /// One value.
    pub fn get(&self, namespace: &str, key: &str) -> Option<String> {
        self.table.lock().get(namespace)?.get(key).cloned()
    }

    /// Every key of `namespace`; `None` when the namespace does not exist (an emptied one is `Some({})`).
    pub fn namespace(&self, namespace: &str) -> Option<BTreeMap<String, String>> {
        self.table.lock().get(namespace).cloned()
    }

    fn change(&self, edit: impl FnOnce(&mut ConfigTable)) -> Result<(), PersistError> {
        let mut table = self.table.lock();
        let mut next = table.clone();
        edit(&mut next);
        self.file.write_json(&KvConfigFile {
            config_table: next.clone(),
        })?;
        *table = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_survive_a_reopen_in_javas_layout() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ns/kvConfig.json");
        let kv = KvConfig::open(FsHandle::default(), path.clone()).expect("open");
        kv.put("N", "k", "v").expect("put");
        kv.put("N", "gone", "x").expect("put");
        kv.delete("N", "gone").expect("delete");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("file")).expect("json");
        assert_eq!(json, serde_json::json!({"configTable": {"N": {"k": "v"}}}));
        let again = KvConfig::open(FsHandle::default(), path).expect("reopen");
        assert_eq!(again.get("N", "k").as_deref(), Some("v"));
        assert_eq!(again.namespace("missing"), None);
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kvConfig.json");
        std::fs::write(&path, b"{\"configTable\":").expect("write");
        let err = KvConfig::open(FsHandle::default(), path).unwrap_err();
        assert!(err.to_string().contains("kvConfig.json"), "{err}");
    }
}
