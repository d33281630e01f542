//! Name-server settings under Java's key names (`NamesrvConfig` and the remoting server's `NettyServerConfig`,
//! which Java's `Configuration` reports together), and how each key may change.
//!
//! Keys fall in four groups (docs/operating.md, "Name server", has the table):
//!
//! - live ([`KeyKind::Live`]): applied at run time by UPDATE_NAMESRV_CONFIG, and read from the config store
//!   file (`configStorePath`) at start;
//! - start only ([`KeyKind::StartOnly`]): `configBlackList`, read from the config store file at start (Java
//!   blacklists it at run time);
//! - fixed ([`KeyKind::Fixed`]): reported but decided by the command line or the embedding code (the two file
//!   paths, `rocketmqHome`, the listen address); an update is refused naming the key;
//! - Java keys with no counterpart in rmq (thread pools, socket buffers, ...): refused by an update, because
//!   accepting them would change nothing; skipped with a note when found in the config store file.
//!
//! rmq refuses an unknown key or a bad value naming the key, where Java silently ignores unknown keys (and
//! logs a bad number).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Name of the KV config file Java keeps in `~/namesrv` (`kvConfigPath`).
pub const KV_CONFIG_FILE: &str = "kvConfig.json";
/// Name of the file Java persists the name-server config to (`configStorePath`).
pub const CONFIG_STORE_FILE: &str = "namesrv.properties";
/// Keys an update may never change, whatever `configBlackList` says (Java's `DefaultRequestProcessor`).
pub const ALWAYS_BLACKLISTED: &[&str] = &[
    "configBlackList",
    "configStorePath",
    "kvConfigPath",
    "rocketmqHome",
];

/// Name-server settings; [`Default`] is Java's defaults (files under `~/namesrv`).
#[derive(Debug, Clone)]
pub struct NamesrvConfig {
    /// How long a broker stays routable without re-registering (120 s, Java's fixed
    /// `DEFAULT_BROKER_CHANNEL_EXPIRED_TIME`), unless its registration says otherwise. No key: Java has none.
    pub broker_expiry: Duration,
    /// `scanNotActiveBrokerInterval` (ms): how often expired brokers are swept (5 s). Live.
    pub scan_interval: Duration,
    /// Largest accepted frame (16 MiB). No name-server key (Java: the `com.rocketmq.remoting.frameMaxLength`
    /// system property).
    pub max_frame_length: usize,
    /// `kvConfigPath`: the KV config file (`~/namesrv/kvConfig.json`). Fixed.
    pub kv_config_path: PathBuf,
    /// `configStorePath`: where updates of this config are persisted (`~/namesrv/namesrv.properties`). Fixed.
    pub config_store_path: PathBuf,
    /// `rocketmqHome` (`$ROCKETMQ_HOME`, absent when unset): reported only, rmq reads nothing from it.
    pub rocketmq_home: Option<String>,
    /// `configBlackList`: `;`-separated keys an update may not change, on top of [`ALWAYS_BLACKLISTED`]
    /// (`configBlackList;configStorePath;kvConfigPath`). Start only.
    pub config_black_list: String,
    /// `orderMessageEnable`: whether routes carry the topic's `ORDER_TOPIC_CONFIG` entry as
    /// `orderTopicConf` (false, as Java). Live.
    pub order_message_enable: bool,
    /// `returnOrderTopicConfigToBroker`: whether REGISTER_BROKER answers with the `ORDER_TOPIC_CONFIG` table
    /// (true). Live.
    pub return_order_topic_config_to_broker: bool,
    /// `enableAllTopicList`: whether GET_ALL_TOPIC_LIST_FROM_NAMESERVER is answered (true). Live.
    pub enable_all_topic_list: bool,
}

impl Default for NamesrvConfig {
    fn default() -> Self {
        let dir = java_default_dir();
        NamesrvConfig {
            broker_expiry: Duration::from_secs(120),
            scan_interval: Duration::from_secs(5),
            max_frame_length: 16 * 1024 * 1024,
            kv_config_path: dir.join(KV_CONFIG_FILE),
            config_store_path: dir.join(CONFIG_STORE_FILE),
            rocketmq_home: std::env::var("ROCKETMQ_HOME").ok(),
            config_black_list: "configBlackList;configStorePath;kvConfigPath".into(),
            order_message_enable: false,
            return_order_topic_config_to_broker: true,
            enable_all_topic_list: true,
        }
    }
}

/// Java's name-server directory, `~/namesrv` (`./namesrv` when `HOME` is unset).
pub fn java_default_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join("namesrv")
}

/// How a key may change (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Changed at run time by UPDATE_NAMESRV_CONFIG, and read from the config store file at start.
    Live,
    /// Read from the config store file at start only.
    StartOnly,
    /// Reported, never changed through the config: the command line or the embedding code decides.
    Fixed,
}

/// Every key rmq reports, with how it may change, in Java's spelling.
pub const NAMESRV_KEYS: &[(&str, KeyKind)] = &[
    ("bindAddress", KeyKind::Fixed),
    ("configBlackList", KeyKind::StartOnly),
    ("configStorePath", KeyKind::Fixed),
    ("enableAllTopicList", KeyKind::Live),
    ("kvConfigPath", KeyKind::Fixed),
    ("listenPort", KeyKind::Fixed),
    ("orderMessageEnable", KeyKind::Live),
    ("returnOrderTopicConfigToBroker", KeyKind::Live),
    ("rocketmqHome", KeyKind::Fixed),
    ("scanNotActiveBrokerInterval", KeyKind::Live),
];

/// Java `NamesrvConfig` and `NettyServerConfig` keys with no counterpart in rmq (sorted).
const NO_EFFECT_KEYS: &[&str] = &[
    "clientRequestThreadPoolNums",
    "clientRequestThreadPoolQueueCapacity",
    "clusterTest",
    "defaultThreadPoolNums",
    "defaultThreadPoolQueueCapacity",
    "deleteTopicWithBrokerRegistration",
    "enableControllerInNamesrv",
    "enableShutdownGracefully",
    "enableTopicList",
    "needWaitForService",
    "notifyMinBrokerIdChangeTimeoutMillis",
    "notifyMinBrokerIdChanged",
    "productEnvName",
    "serverAsyncSemaphoreValue",
    "serverCallbackExecutorThreads",
    "serverChannelMaxIdleTimeSeconds",
    "serverNettyWorkerGroupEnable",
    "serverOnewaySemaphoreValue",
    "serverPooledByteBufAllocatorEnable",
    "serverSelectorThreads",
    "serverSocketBacklog",
    "serverSocketRcvBufSize",
    "serverSocketSndBufSize",
    "serverWorkerThreads",
    "shutdownWaitTimeSeconds",
    "supportActingMaster",
    "unRegisterBrokerQueueCapacity",
    "useEpollNativeSelector",
    "waitSecondsForService",
    "writeBufferHighWaterMark",
    "writeBufferLowWaterMark",
];

/// Why a name-server key was not applied; every variant names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NamesrvKeyError {
    /// A known key with a value of the wrong form.
    #[error("invalid value {value:?} for name-server config key `{key}`: {reason}")]
    InvalidValue {
        /// The key.
        key: String,
        /// The raw value.
        value: String,
        /// What was expected.
        reason: String,
    },
    /// A key that cannot change through the config while the name server runs.
    #[error("name-server config key `{key}` cannot be updated at run time: {reason}")]
    Fixed {
        /// The key.
        key: String,
        /// Where it is set instead.
        reason: &'static str,
    },
    /// A Java key rmq has nothing to apply to.
    #[error("name-server config key `{key}` has no effect in rmq (nothing was changed)")]
    NoEffect {
        /// The key.
        key: String,
    },
    /// Not a name-server key of Java or rmq.
    #[error("unknown name-server config key `{key}`{}", suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    Unknown {
        /// The key.
        key: String,
        /// A known key a few edits away.
        suggestion: Option<String>,
    },
}

impl NamesrvConfig {
    /// Java's two name-server files in `dir`: `dir/kvConfig.json` and `dir/namesrv.properties`.
    pub fn with_dir(mut self, dir: &Path) -> Self {
        self.kv_config_path = dir.join(KV_CONFIG_FILE);
        self.config_store_path = dir.join(CONFIG_STORE_FILE);
        self
    }

    /// How `key` may change; `None` when rmq does not report it.
    pub fn key_kind(key: &str) -> Option<KeyKind> {
        NAMESRV_KEYS
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, kind)| *kind)
    }

    /// Applies a live key (an update at run time).
    ///
    /// # Errors
    /// [`NamesrvKeyError`] naming the key: a bad value, a fixed or start-only key, a Java key without effect in
    /// rmq, or an unknown key.
    pub fn set_live(&mut self, key: &str, value: &str) -> Result<(), NamesrvKeyError> {
        match Self::key_kind(key) {
            Some(KeyKind::Live) => self.apply(key, value),
            Some(KeyKind::StartOnly) => Err(NamesrvKeyError::Fixed {
                key: key.to_string(),
                reason: "it is read from configStorePath at start only",
            }),
            Some(KeyKind::Fixed) => Err(NamesrvKeyError::Fixed {
                key: key.to_string(),
                reason: fixed_reason(key),
            }),
            None => Err(unknown_or_no_effect(key)),
        }
    }

    /// Applies a key found in the config store file at start; `Ok(false)` when the key is skipped there (a
    /// fixed key, which the command line decides, or a Java key with no effect in rmq).
    ///
    /// # Errors
    /// A bad value or an unknown key, naming the key.
    pub fn set_at_start(&mut self, key: &str, value: &str) -> Result<bool, NamesrvKeyError> {
        match Self::key_kind(key) {
            Some(KeyKind::Live | KeyKind::StartOnly) => self.apply(key, value).map(|()| true),
            Some(KeyKind::Fixed) => Ok(false),
            None => match unknown_or_no_effect(key) {
                NamesrvKeyError::NoEffect { .. } => Ok(false),
                other => Err(other),
            },
        }
    }

    fn apply(&mut self, key: &str, value: &str) -> Result<(), NamesrvKeyError> {
        let v = value.trim();
        match key {
            "configBlackList" => self.config_black_list = v.to_string(),
            "orderMessageEnable" => self.order_message_enable = boolean(key, v)?,
            "returnOrderTopicConfigToBroker" => {
                self.return_order_topic_config_to_broker = boolean(key, v)?
            }
            "enableAllTopicList" => self.enable_all_topic_list = boolean(key, v)?,
            "scanNotActiveBrokerInterval" => {
                let ms: u64 = v
                    .parse()
                    .ok()
                    .filter(|ms| *ms > 0)
                    .ok_or_else(|| invalid(key, v, "a positive number of milliseconds"))?;
                self.scan_interval = Duration::from_millis(ms);
            }
            _ => return Err(unknown_or_no_effect(key)),
        }
        Ok(())
    }

    /// Keys an update is refused with NO_PERMISSION: [`ALWAYS_BLACKLISTED`] and `configBlackList`'s entries.
    pub fn black_list(&self) -> BTreeSet<String> {
        ALWAYS_BLACKLISTED
            .iter()
            .map(|k| k.to_string())
            .chain(
                self.config_black_list
                    .split(';')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(str::to_string),
            )
            .collect()
    }

    /// Every reported key with its value (GET_NAMESRV_CONFIG, the config store file); `listen` is the
    /// address the name server listens on (Java's `bindAddress` and `listenPort`).
    pub fn to_properties(&self, listen: SocketAddr) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            out.insert(k.to_string(), v);
        };
        put("bindAddress", listen.ip().to_string());
        put("listenPort", listen.port().to_string());
        put("configBlackList", self.config_black_list.clone());
        put(
            "configStorePath",
            self.config_store_path.display().to_string(),
        );
        put("kvConfigPath", self.kv_config_path.display().to_string());
        put("orderMessageEnable", self.order_message_enable.to_string());
        put(
            "returnOrderTopicConfigToBroker",
            self.return_order_topic_config_to_broker.to_string(),
        );
        put("enableAllTopicList", self.enable_all_topic_list.to_string());
        put(
            "scanNotActiveBrokerInterval",
            self.scan_interval.as_millis().to_string(),
        );
        if let Some(home) = &self.rocketmq_home {
            put("rocketmqHome", home.clone());
        }
        out
    }
}

fn fixed_reason(key: &str) -> &'static str {
    match key {
        "listenPort" | "bindAddress" => "it is the listen address (rmq-broker --namesrv-listen)",
        "kvConfigPath" | "configStorePath" => "it is set at start (rmq-broker --namesrv-dir)",
        _ => "rmq reads nothing from it",
    }
}

fn unknown_or_no_effect(key: &str) -> NamesrvKeyError {
    if NO_EFFECT_KEYS.binary_search(&key).is_ok() {
        return NamesrvKeyError::NoEffect {
            key: key.to_string(),
        };
    }
    let known = NAMESRV_KEYS
        .iter()
        .map(|(k, _)| *k)
        .chain(NO_EFFECT_KEYS.iter().copied());
    NamesrvKeyError::Unknown {
        key: key.to_string(),
        suggestion: rmq_filter::suggest::closest(key, known, 3).map(str::to_string),
    }
}

fn invalid(key: &str, value: &str, reason: &str) -> NamesrvKeyError {
    NamesrvKeyError::InvalidValue {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn boolean(key: &str, v: &str) -> Result<bool, NamesrvKeyError> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(key, v, "true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_effect_keys_are_sorted_for_binary_search() {
        assert!(NO_EFFECT_KEYS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn live_keys_apply_and_bad_ones_name_the_key() {
        let mut c = NamesrvConfig::default();
        c.set_live("scanNotActiveBrokerInterval", "250")
            .expect("live");
        assert_eq!(c.scan_interval, Duration::from_millis(250));
        c.set_live("orderMessageEnable", "TRUE").expect("live");
        assert!(c.order_message_enable);
        let e = c.set_live("orderMessageEnable", "yes").unwrap_err();
        assert!(e.to_string().contains("`orderMessageEnable`"), "{e}");
        let e = c.set_live("scanNotActiveBrokerInterval", "0").unwrap_err();
        assert!(e.to_string().contains("scanNotActiveBrokerInterval"), "{e}");
        let e = c.set_live("listenPort", "1").unwrap_err();
        assert!(matches!(e, NamesrvKeyError::Fixed { .. }), "{e}");
        let e = c.set_live("serverWorkerThreads", "1").unwrap_err();
        assert!(matches!(e, NamesrvKeyError::NoEffect { .. }), "{e}");
        let e = c.set_live("orderMessageEnabled", "true").unwrap_err();
        assert!(
            e.to_string().contains("did you mean `orderMessageEnable`"),
            "{e}"
        );
    }

    #[test]
    fn reported_keys_are_the_key_table() {
        let mut c = NamesrvConfig::default().with_dir(Path::new("/d"));
        c.rocketmq_home = Some("/h".into());
        let props = c.to_properties("0.0.0.0:9876".parse().expect("addr"));
        let keys: Vec<&str> = props.keys().map(String::as_str).collect();
        let table: Vec<&str> = NAMESRV_KEYS.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, table);
        assert_eq!(props["kvConfigPath"], "/d/kvConfig.json");
        assert_eq!(props["listenPort"], "9876");
    }

    #[test]
    fn the_black_list_always_holds_javas_four() {
        let c = NamesrvConfig {
            config_black_list: " orderMessageEnable ;".into(),
            ..NamesrvConfig::default()
        };
        let bl = c.black_list();
        for k in ALWAYS_BLACKLISTED {
            assert!(bl.contains(*k));
        }
        assert!(bl.contains("orderMessageEnable"));
        assert_eq!(bl.len(), 5);
    }
}
