//! The name server's own settings at run time: GET_NAMESRV_CONFIG (319) reports them, UPDATE_NAMESRV_CONFIG
//! (318) changes the live keys and persists them to `configStorePath` (Java's `namesrv.properties`).
//!
//! What differs from Java, on purpose:
//! - the config store file is read back at start (Java writes it but reads it only when passed as `-c`), so an
//!   update survives a restart;
//! - an update is all or nothing and refused naming the key when a key is unknown, has no effect in rmq, cannot
//!   change at run time, or has a bad value (Java ignores unknown keys and logs bad numbers);
//! - it is written to the file before it is applied, so a write failure refuses the update instead of leaving
//!   the file behind the running config.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;

use parking_lot::{Mutex, RwLock};
use rmq_protocol::codes::response;
use tokio::sync::Notify;

use super::error::NamesrvError;
use crate::config::{properties, NamesrvConfig};
use crate::store::fs::FsHandle;

/// Remark of a refused black-listed key (Java's words).
pub const BLACK_LIST_REMARK: &str = "Can not update config in black list.";

/// The running config, its black list (fixed at start, as Java computes it once) and its file.
#[derive(Debug)]
pub struct LiveConfig {
    current: RwLock<NamesrvConfig>,
    black_list: BTreeSet<String>,
    listen: SocketAddr,
    fs: FsHandle,
    // Serialises updates, so the file always holds the last one.
    update: Mutex<()>,
    changed: Notify,
}

impl LiveConfig {
    /// `config` with the keys of its `configStorePath` file applied on top (an absent file changes nothing).
    ///
    /// # Errors
    /// The file cannot be read, or holds a bad value or an unknown key ([`NamesrvError::ConfigKey`] names
    /// the file, line and key).
    pub fn open(
        mut config: NamesrvConfig,
        listen: SocketAddr,
        fs: FsHandle,
    ) -> Result<LiveConfig, NamesrvError> {
        let path = config.config_store_path.clone();
        match fs.read(&path) {
            Ok(bytes) => {
                for p in properties::parse(&String::from_utf8_lossy(&bytes)) {
                    let applied = config.set_at_start(&p.key, &p.value).map_err(|error| {
                        NamesrvError::ConfigKey {
                            path: path.clone(),
                            line: p.line,
                            error,
                        }
                    })?;
                    if !applied {
                        tracing::debug!(key = %p.key, file = %path.display(), "name-server config key not taken from the file");
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(NamesrvError::ConfigRead { path, error }),
        }
        Ok(LiveConfig {
            black_list: config.black_list(),
            current: RwLock::new(config),
            listen,
            fs,
            update: Mutex::new(()),
            changed: Notify::new(),
        })
    }

    /// The config now.
    pub fn get(&self) -> parking_lot::RwLockReadGuard<'_, NamesrvConfig> {
        self.current.read()
    }

    /// Woken after every applied update (the expiry sweeper re-reads its interval).
    pub fn changed(&self) -> &Notify {
        &self.changed
    }

    /// GET_NAMESRV_CONFIG's body: `key=value` lines sorted by key, as Java's `properties2String`.
    pub fn properties_text(&self) -> String {
        properties_text(&self.current.read(), self.listen)
    }

    /// Applies UPDATE_NAMESRV_CONFIG's Properties body; `Err((code, remark))` when refused, with nothing
    /// changed. An empty body changes nothing, as in Java.
    pub fn update(&self, body: &[u8]) -> Result<(), (i32, String)> {
        if body.is_empty() {
            return Ok(());
        }
        let props = properties::parse(&String::from_utf8_lossy(body));
        if props.iter().any(|p| self.black_list.contains(&p.key)) {
            return Err((response::NO_PERMISSION, BLACK_LIST_REMARK.to_string()));
        }
        let _serial = self.update.lock();
        let mut next = self.current.read().clone();
        for p in &props {
            next.set_live(&p.key, &p.value)
                .map_err(|e| (response::SYSTEM_ERROR, e.to_string()))?;
        }
        self.persist(&next).map_err(|e| {
            (
                response::SYSTEM_ERROR,
                format!(
                    "cannot persist the name-server config to {} (configStorePath): {e}",
                    next.config_store_path.display()
                ),
            )
        })?;
        let keys: Vec<&str> = props.iter().map(|p| p.key.as_str()).collect();
        tracing::info!(?keys, "name-server config updated");
        *self.current.write() = next;
        self.changed.notify_waiters();
        Ok(())
    }

    fn persist(&self, config: &NamesrvConfig) -> std::io::Result<()> {
        let path: &Path = &config.config_store_path;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            self.fs.create_dir_all(dir)?;
        }
        self.fs
            .write_atomic(path, properties_text(config, self.listen).as_bytes())
    }
}

fn properties_text(config: &NamesrvConfig, listen: SocketAddr) -> String {
    config
        .to_properties(listen)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path) -> LiveConfig {
        LiveConfig::open(
            NamesrvConfig::default().with_dir(dir),
            "127.0.0.1:9876".parse().expect("addr"),
            FsHandle::default(),
        )
        .expect("open")
    }

    #[test]
    fn an_update_is_persisted_and_read_back_at_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let live = open(dir.path());
        live.update(b"scanNotActiveBrokerInterval=700\norderMessageEnable=true\n")
            .expect("update");
        assert!(live.get().order_message_enable);
        let again = open(dir.path());
        assert_eq!(again.get().scan_interval.as_millis(), 700);
        assert!(again
            .properties_text()
            .contains("orderMessageEnable=true\n"));
    }

    #[test]
    fn refusals_change_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let live = open(dir.path());
        let (code, remark) = live
            .update(b"orderMessageEnable=true\nkvConfigPath=/x\n")
            .unwrap_err();
        assert_eq!(
            (code, remark.as_str()),
            (response::NO_PERMISSION, BLACK_LIST_REMARK)
        );
        let (code, remark) = live
            .update(b"orderMessageEnable=true\nscanNotActiveBrokerInterval=soon\n")
            .unwrap_err();
        assert_eq!(code, response::SYSTEM_ERROR);
        assert!(remark.contains("scanNotActiveBrokerInterval"), "{remark}");
        assert!(!live.get().order_message_enable);
        assert!(!dir.path().join("namesrv.properties").exists());
    }

    #[test]
    fn a_bad_key_in_the_file_names_file_line_and_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("namesrv.properties"),
            "listenPort=1\nenableAllTopicList=maybe\n",
        )
        .expect("write");
        let err = LiveConfig::open(
            NamesrvConfig::default().with_dir(dir.path()),
            "127.0.0.1:9876".parse().expect("addr"),
            FsHandle::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("namesrv.properties:2"), "{err}");
        assert!(err.contains("enableAllTopicList"), "{err}");
    }
}
