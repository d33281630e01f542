//! UPDATE_BROKER_CONFIG: an operator changes broker settings remotely (`mqadmin updateBrokerConfig`).
//!
//! Every key is checked as broker.conf checks it, before anything changes, so one bad key changes nothing
//! and the refusal names it (Java silently skips values it cannot parse and keys it does not know). Java's
//! black list is refused with NO_PERMISSION. Keys in [`LIVE_KEYS`] take effect at once; the others are saved
//! and apply at the next start, and the answer's remark says which were which. The file is the broker's `-c`
//! file (lines of other keys and comments kept, the old text copied to `<file>.bak` first, as Java does),
//! or `<storePathRootDir>/config/broker.properties` for a broker started without one.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::admin::AdminService;
use super::ServiceError;
use crate::broker::live_config::LIVE_KEYS;
use crate::config::properties;
use crate::config::KeyStatus;

/// Keys Java never lets a remote update touch (its default `configBlackList` plus the fixed ones).
const BLACK_LIST: &[&str] = &["brokerConfigPath", "rocketmqHome", "configBlackList"];

/// What an update did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigUpdate {
    /// Keys in effect now.
    pub applied_now: Vec<String>,
    /// Keys saved for the next start.
    pub at_next_start: Vec<String>,
    /// Java keys rmq has no counterpart for (accepted, as broker.conf accepts them).
    pub no_effect: Vec<String>,
    /// Where the new values were saved (`None` when nothing was sent).
    pub saved_to: Option<PathBuf>,
    /// Whether the broker reads that file at start (it is its `-c` file); a broker started without one saves
    /// to its store directory, which only a restart with `-c <that file>` reads.
    pub read_at_start: bool,
}

impl ConfigUpdate {
    /// The remark of the SUCCESS answer.
    pub fn remark(&self) -> String {
        let list = |v: &[String]| v.join(", ");
        let mut parts = Vec::new();
        if !self.applied_now.is_empty() {
            parts.push(format!("applied now: {}", list(&self.applied_now)));
        }
        if !self.at_next_start.is_empty() {
            parts.push(format!(
                "saved for the next start: {}",
                list(&self.at_next_start)
            ));
        }
        if !self.no_effect.is_empty() {
            parts.push(format!("no effect in rmq: {}", list(&self.no_effect)));
        }
        if let Some(path) = &self.saved_to {
            let how = if self.read_at_start {
                ""
            } else {
                " (the broker was started without -c; start it with -c on this file to keep them)"
            };
            parts.push(format!("saved to {}{how}", path.display()));
        }
        parts.join("; ")
    }
}

impl AdminService {
    /// Applies and saves the `key=value` lines of `text` (see the module docs).
    ///
    /// # Errors
    /// [`ServiceError::Forbidden`] for a black-listed key, [`ServiceError::InvalidParameter`] naming the first
    /// unknown key or invalid value, [`ServiceError::System`] when the file cannot be written.
    pub fn update_config(&self, text: &str) -> Result<ConfigUpdate, ServiceError> {
        let entries = properties::parse(text);
        if entries.is_empty() {
            return Ok(ConfigUpdate::default());
        }
        if entries.iter().any(|e| BLACK_LIST.contains(&e.key.as_str())) {
            return Err(ServiceError::Forbidden(
                "Can not update config in black list.".to_owned(),
            ));
        }
        let mut next = (*self.config).clone();
        next.broker_permission = self.live.broker_permission();
        let mut update = ConfigUpdate::default();
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        for e in &entries {
            let status = next
                .set(&e.key, &e.value)
                .map_err(|err| ServiceError::InvalidParameter(err.to_string()))?;
            match status {
                KeyStatus::Unknown { suggestion } => {
                    return Err(ServiceError::InvalidParameter(format!(
                        "unknown broker config key {}{}",
                        e.key,
                        suggestion.map_or_else(String::new, |s| format!(" (did you mean {s}?)"))
                    )));
                }
                KeyStatus::NoEffect => update.no_effect.push(e.key.clone()),
                _ if LIVE_KEYS.contains(&e.key.as_str()) => update.applied_now.push(e.key.clone()),
                _ => update.at_next_start.push(e.key.clone()),
            }
            values.insert(e.key.clone(), e.value.trim().to_owned());
        }
        next.validate()
            .map_err(|err| ServiceError::InvalidParameter(err.to_string()))?;
        let path = self.config.config_file.clone().unwrap_or_else(|| {
            self.config
                .store_path_root_dir
                .join("config")
                .join("broker.properties")
        });
        self.save_config(&path, &values)?;
        update.read_at_start = self.config.config_file.is_some();
        update.saved_to = Some(path);
        if update.applied_now.iter().any(|k| k == "brokerPermission") {
            self.live.set_broker_permission(next.broker_permission);
            self.topics.touch()?;
        }
        tracing::info!(
            now = ?update.applied_now,
            next_start = ?update.at_next_start,
            saved_to = ?update.saved_to,
            "broker config updated"
        );
        Ok(update)
    }

    /// Rewrites `path` with `values`: lines of those keys replaced, new keys appended, everything else kept;
    /// the old text goes to `<path>.bak` first.
    fn save_config(
        &self,
        path: &std::path::Path,
        values: &BTreeMap<String, String>,
    ) -> Result<(), ServiceError> {
        let fs = &self.config.fs;
        let io = |what: &str, e: std::io::Error| {
            ServiceError::System(format!("cannot {what} {}: {e}", path.display()))
        };
        let old = match fs.read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io("read", e)),
        };
        let by_line: BTreeMap<usize, &str> = properties::parse(&old)
            .into_iter()
            .filter_map(|p| {
                values
                    .get_key_value(&p.key)
                    .map(|(k, _)| (p.line, k.as_str()))
            })
            .collect();
        let mut written = std::collections::BTreeSet::new();
        let mut out = String::new();
        for (i, line) in old.lines().enumerate() {
            match by_line.get(&(i + 1)) {
                Some(key) => {
                    out.push_str(&format!("{key}={}\n", values[*key]));
                    written.insert(*key);
                }
                None => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        for (k, v) in values {
            if !written.contains(k.as_str()) {
                out.push_str(&format!("{k}={v}\n"));
            }
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs.create_dir_all(dir)
                .map_err(|e| io("create the directory of", e))?;
        }
        if !old.is_empty() {
            let mut bak = path.as_os_str().to_owned();
            bak.push(".bak");
            fs.write_atomic(std::path::Path::new(&bak), old.as_bytes())
                .map_err(|e| io("back up", e))?;
        }
        fs.write_atomic(path, out.as_bytes())
            .map_err(|e| io("write", e))
    }
}
