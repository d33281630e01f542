//! Broker and name-server configuration: RocketMQ's `broker.conf` keys, their defaults, and validation.
//!
//! Every key of a Java broker.conf falls in one of five groups (docs/broker-conf.md has the table):
//!
//! - implemented ([`IMPLEMENTED_KEYS`]): applied; an invalid value is refused with an error naming the key;
//! - old spellings ([`ALIASES`], e.g. RocketMQ 4.0–4.5.1's `mapedFileSizeCommitLog`): applied as the current key;
//! - Java keys with no counterpart in rmq (thread pools, page-cache tuning, HA, ...): accepted with an INFO note
//!   "`<key>` has no effect in rmq", so a Java broker.conf starts unchanged;
//! - switches for features rmq lacks where running without them would be weaker than asked (`brokerRole` =
//!   SYNC_MASTER or SLAVE, `aclEnable` = true, ...): refused with [`ConfigError::Unsupported`];
//! - anything else (a typo): a warning, with "did you mean" when a known key is a few edits away.

mod java_keys;
pub mod namesrv;
pub mod properties;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rmq_protocol::clock::Clock;

use crate::store::fs::FsHandle;
use crate::store::{FlushDiskType, StoreConfig};

pub use namesrv::{NamesrvConfig, NamesrvKeyError};

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A known key has a value of the wrong form.
    #[error("invalid value {value:?} for broker config key `{key}`: {reason}")]
    InvalidValue {
        /// The key, as written in broker.conf.
        key: String,
        /// The raw value.
        value: String,
        /// What was expected.
        reason: String,
    },
    /// A key asks for a feature rmq does not implement (replication, ACL, TLS, ...): refused, because running
    /// without it would be weaker than what the configuration asks for.
    #[error("broker config key `{key}` = {value}: {reason}")]
    Unsupported {
        /// The key, as written in broker.conf.
        key: String,
        /// The raw value.
        value: String,
        /// What is missing and what to write instead.
        reason: String,
    },
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Role of this broker. Only the role without replication exists: `SYNC_MASTER` and `SLAVE` are refused by
/// [`BrokerConfig::set`] until replication is implemented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BrokerRole {
    /// Master that acknowledges without waiting for replicas (the only mode without replication).
    AsyncMaster,
}

/// Old spellings of broker.conf keys, `(old, current)`, applied as the current key: RocketMQ 4.0–4.5.1 spelt
/// `mapped` as `maped` (renamed in 4.5.2, after which Java itself ignores the old keys), and 4.x broker.conf
/// files still carry them.
pub const ALIASES: &[(&str, &str)] = &[
    ("mapedFileSizeCommitLog", "mappedFileSizeCommitLog"),
    ("mapedFileSizeConsumeQueue", "mappedFileSizeConsumeQueue"),
];

/// Java switches for features rmq does not have, `(key, why)`: `false` (their default) is accepted with no
/// effect; `true` is refused, since running without the feature would be weaker than the file asks for.
const REFUSED_WHEN_TRUE: &[(&str, &str)] = &[
    ("aclEnable", "ACL is not implemented in rmq, so requests would not be checked; remove the key or set it to false"),
    ("authenticationEnabled", "authentication is not implemented in rmq; remove the key or set it to false"),
    ("authorizationEnabled", "authorization is not implemented in rmq; remove the key or set it to false"),
    ("enableDLegerCommitLog", "DLedger replication is not implemented in rmq yet; remove the key or set it to false"),
    ("enableControllerMode", "controller-mode replication is not implemented in rmq yet; remove the key or set it to false"),
    ("useTLS", "TLS is not implemented in rmq; remove the key or set it to false"),
    (
        "fetchNamesrvAddrByAddressServer",
        "rmq does not fetch name-server addresses from an address server; set namesrvAddr instead",
    ),
    ("rejectTransactionMessage", "rmq cannot be told to refuse transaction messages; remove the key or set it to false"),
];

/// The broker.conf keys rmq implements (what [`BrokerConfig::to_properties`] prints and GET_BROKER_CONFIG
/// returns), in that order.
pub const IMPLEMENTED_KEYS: &[&str] = &[
    "brokerClusterName",
    "brokerName",
    "brokerId",
    "namesrvAddr",
    "listenPort",
    "brokerIP1",
    "storePathRootDir",
    "storePathCommitLog",
    "storePathConsumeQueue",
    "storePathIndex",
    "storeCheckpoint",
    "abortFile",
    "mappedFileSizeCommitLog",
    "mappedFileSizeConsumeQueue",
    "defaultTopicQueueNums",
    "autoCreateTopicEnable",
    "autoCreateSubscriptionGroup",
    "maxMessageSize",
    "flushDiskType",
    "flushIntervalCommitLog",
    "syncFlushTimeout",
    "brokerRole",
    "brokerPermission",
    "fileReservedTime",
    "deleteWhen",
    "diskMaxUsedSpaceRatio",
    "diskSpaceCleanForciblyRatio",
    "enablePropertyFilter",
    "messageDelayLevel",
    "longPollingEnable",
    "shortPollingTimeMills",
    "registerNameServerPeriod",
    "channelExpiredTimeout",
    "flushConsumerOffsetInterval",
    "transactionTimeOut",
    "transactionCheckMax",
    "transactionCheckInterval",
    "maxHashSlotNum",
    "maxIndexNum",
    "maxTransferCountOnMessageInMemory",
    "maxTransferBytesOnMessageInMemory",
    "regionId",
    "traceOn",
    "serverMaxFrameLength",
    "rebalanceLockMaxLiveTime",
    "storeReplyMessageEnable",
    "metricsExporterType",
    "metricsPromExporterHost",
    "metricsPromExporterPort",
    "grpcListen",
    "minInvisibleTimeMillsForRecv",
    "enableTopicMessageTypeCheck",
];

/// What [`BrokerConfig::set`] did with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyStatus {
    /// An rmq setting ([`IMPLEMENTED_KEYS`]); applied.
    Applied,
    /// An old spelling ([`ALIASES`]); applied as `current`.
    Alias {
        /// The key it was applied as.
        current: &'static str,
    },
    /// A Java broker key without a counterpart in rmq; accepted and ignored.
    NoEffect,
    /// Not a broker key of rmq or of any Java release (a typo?); ignored.
    Unknown {
        /// A known key a few edits away, for a "did you mean".
        suggestion: Option<&'static str>,
    },
}

/// One broker.conf line the operator should hear about (everything [`BrokerConfig::set`] did not simply apply);
/// the binary logs unknown keys as warnings and the rest at INFO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigNote {
    /// The file.
    pub path: PathBuf,
    /// 1-based line of the entry.
    pub line: usize,
    /// The key as written.
    pub key: String,
    /// What happened to it (never [`KeyStatus::Applied`]).
    pub status: KeyStatus,
}

impl ConfigNote {
    /// Whether this deserves a warning (an unknown key, likely a typo) rather than an INFO line.
    pub fn is_warning(&self) -> bool {
        matches!(self.status, KeyStatus::Unknown { .. })
    }
}

impl std::fmt::Display for ConfigNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: ", self.path.display(), self.line)?;
        match self.status {
            KeyStatus::Applied => write!(f, "{} applied", self.key),
            KeyStatus::Alias { current } => write!(
                f,
                "{} is the RocketMQ 4.0-4.5.1 spelling of {current}; applied as {current}",
                self.key
            ),
            KeyStatus::NoEffect => write!(f, "{} has no effect in rmq", self.key),
            KeyStatus::Unknown { suggestion } => {
                write!(f, "unknown broker config key `{}` ignored", self.key)?;
                match suggestion {
                    Some(s) => write!(f, "; did you mean `{s}`?"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// `metricsExporterType`: how the broker exports metrics (RocketMQ 5's `MetricsExporterType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricsExporterType {
    /// No metrics are collected and no port is opened (the default, as in Java).
    #[default]
    Disable,
    /// Serve `GET /metrics` in Prometheus text format on `metricsPromExporterHost:metricsPromExporterPort`.
    Prom,
}

/// Every setting of the bundled broker, with RocketMQ's key names and defaults.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// `brokerClusterName`: cluster this broker registers under.
    pub broker_cluster_name: String,
    /// `brokerName`: name shared by a master and its slaves.
    pub broker_name: String,
    /// `brokerId`: 0 = master.
    pub broker_id: i64,
    /// `namesrvAddr`: `host:port;host:port` name servers to register with (None: none).
    pub namesrv_addr: Option<String>,
    /// `listenPort`: broker port (10911).
    pub listen_port: u16,
    /// Address the broker binds; `listenPort` gives its port (CLI `--listen` sets both).
    pub bind_ip: IpAddr,
    /// `brokerIP1`: address published to name servers and used in message ids (default: bind address, or
    /// 127.0.0.1 when binding 0.0.0.0).
    pub broker_ip1: Option<IpAddr>,
    /// `storePathRootDir`: store root (./store).
    pub store_path_root_dir: PathBuf,
    /// `storePathCommitLog`: CommitLog dir (default `<root>/commitlog`).
    pub store_path_commit_log: Option<PathBuf>,
    /// `storePathConsumeQueue`: ConsumeQueue dir (default `<root>/consumequeue`).
    pub store_path_consume_queue: Option<PathBuf>,
    /// `storePathIndex`: IndexFile dir (default `<root>/index`).
    pub store_path_index: Option<PathBuf>,
    /// `storeCheckpoint`: the checkpoint file (default `<root>/checkpoint`).
    pub store_checkpoint: Option<PathBuf>,
    /// `abortFile`: the crash marker (default `<root>/abort`).
    pub abort_file: Option<PathBuf>,
    /// `mappedFileSizeCommitLog`: CommitLog segment size (1 GiB).
    pub mapped_file_size_commit_log: u64,
    /// `mappedFileSizeConsumeQueue`: ConsumeQueue file size in bytes (300 000 × 20).
    pub mapped_file_size_consume_queue: u64,
    /// `defaultTopicQueueNums`: queues of TBW102, the auto-create template (8, as Java).
    pub default_topic_queue_nums: i32,
    /// `autoCreateTopicEnable`: create unknown topics on first send.
    pub auto_create_topic_enable: bool,
    /// `autoCreateSubscriptionGroup`: create unknown consumer groups on first heartbeat/pull.
    pub auto_create_subscription_group: bool,
    /// `maxMessageSize`: largest accepted body in bytes (4 MiB).
    pub max_message_size: usize,
    /// `flushDiskType`: ASYNC_FLUSH or SYNC_FLUSH.
    pub flush_disk_type: FlushDiskType,
    /// `flushIntervalCommitLog`: background flush period in ms under ASYNC_FLUSH (500).
    pub flush_interval_commit_log: u64,
    /// `syncFlushTimeout`: how long a SYNC_FLUSH send waits for its fsync before FLUSH_DISK_TIMEOUT (5000 ms).
    pub sync_flush_timeout: u64,
    /// `brokerRole`.
    pub broker_role: BrokerRole,
    /// `brokerPermission`: 6 = read + write.
    pub broker_permission: i32,
    /// `fileReservedTime`: hours a CommitLog segment is kept (72).
    pub file_reserved_time: u64,
    /// `deleteWhen`: hours of day when expired segments are deleted, `04` or `04;05`.
    pub delete_when: String,
    /// `diskMaxUsedSpaceRatio`: percent of disk use above which writes are refused (75).
    pub disk_max_used_space_ratio: u32,
    /// `diskSpaceCleanForciblyRatio`: percent of disk use above which the oldest CommitLog segments are deleted
    /// even before `fileReservedTime` (85).
    pub disk_space_clean_forcibly_ratio: u32,
    /// `enablePropertyFilter`: allow SQL92 subscriptions (true in rmq; Java defaults to false).
    pub enable_property_filter: bool,
    /// `messageDelayLevel`: the delay-level table, e.g. `1s 5s 10s ... 2h`.
    pub message_delay_level: String,
    /// `longPollingEnable`: hold pulls until a message arrives (true) or use 1 s short polling.
    pub long_polling_enable: bool,
    /// `shortPollingTimeMills`: hold time when long polling is off (1000 ms).
    pub short_polling_time_mills: u64,
    /// `registerNameServerPeriod`: ms between registrations with every name server (30 000, clamped 10–60 s).
    pub register_name_server_period: u64,
    /// `channelExpiredTimeout`: ms without heartbeat after which a client is dropped (120 000).
    pub channel_expired_timeout: u64,
    /// `flushConsumerOffsetInterval`: ms between consumerOffset.json writes (5000).
    pub flush_consumer_offset_interval: u64,
    /// `transactionTimeOut`: ms a half message may stay without outcome before its first check-back (6000).
    pub transaction_time_out: u64,
    /// `transactionCheckMax`: check-backs before an unresolved half message is discarded (15).
    pub transaction_check_max: u32,
    /// `transactionCheckInterval`: ms between check-back rounds (30 000, Java 5.x).
    pub transaction_check_interval: u64,
    /// `maxHashSlotNum`: IndexFile hash slots (5 000 000).
    pub max_hash_slot_num: u32,
    /// `maxIndexNum`: IndexFile entries (20 000 000).
    pub max_index_num: u32,
    /// `maxTransferCountOnMessageInMemory`: messages per pull (32).
    pub max_transfer_count_on_message_in_memory: i32,
    /// `maxTransferBytesOnMessageInMemory`: bytes per pull (256 KiB).
    pub max_transfer_bytes_on_message_in_memory: usize,
    /// `regionId`: MSG_REGION added to stored messages and send responses.
    pub region_id: String,
    /// `traceOn`: TRACE_ON added to stored messages and send responses.
    pub trace_on: bool,
    /// `serverMaxFrameLength` (our key; Java uses a system property): largest accepted frame (16 MiB).
    pub max_frame_length: usize,
    /// `rebalanceLockMaxLiveTime` (our key; Java's system property `rocketmq.broker.rebalance.lockMaxLiveTime`):
    /// ms after which an unrenewed orderly-consumption queue lock expires (60 000).
    pub rebalance_lock_max_live_time: u64,
    /// `storeReplyMessageEnable`: also store request-reply replies in their reply topic (true, as Java).
    pub store_reply_message_enable: bool,
    /// `metricsExporterType`: DISABLE (default) or PROM (Java's OTLP_GRPC and LOG are refused).
    pub metrics_exporter_type: MetricsExporterType,
    /// `metricsPromExporterHost`: address the metrics endpoint binds; empty (default) means `brokerIP1` when
    /// set, else the broker's own bind address.
    pub metrics_prom_exporter_host: String,
    /// `metricsPromExporterPort`: metrics port (5557, as Java); 0 picks an ephemeral port, which
    /// `Broker::metrics_addr` then reports.
    pub metrics_prom_exporter_port: u16,
    /// `grpcListen` (rmq key): where the RocketMQ 5 gRPC endpoint listens, `ip:port`; empty (the default) is
    /// off. Apache's proxy listens on 8081.
    pub grpc_listen: Option<SocketAddr>,
    /// Not a broker.conf key: whether `grpcListen` was given (an empty value is an explicit "off", which the
    /// all-in-one binary's default must not override).
    pub grpc_listen_given: bool,
    /// `minInvisibleTimeMillsForRecv` (Apache proxy key): the shortest invisible duration a gRPC
    /// ReceiveMessage may ask for, ms (10000); shorter is refused with ILLEGAL_INVISIBLE_TIME.
    pub min_invisible_time_mills_for_recv: i64,
    /// `enableTopicMessageTypeCheck` (Java's proxy key, true by default): a gRPC send whose message type is not
    /// the topic's `message.type` is refused. Remoting sends are not checked, as Java's broker does not.
    pub enable_topic_message_type_check: bool,
    /// Not a broker.conf key: the clock deliveries, checks and store timestamps follow. The system clock,
    /// unless an embedded broker under a test's virtual time is given one (`EmbeddedBroker::builder().clock`).
    pub clock: Clock,
    /// Not a broker.conf key: the file system the store's files go through (the operating system's; a
    /// [`LazyFs`](crate::store::lazy_fs::LazyFs) in power-cut tests).
    pub fs: FsHandle,
    /// Not a broker.conf key: the file the config was read from (`-c`), which UPDATE_BROKER_CONFIG rewrites;
    /// without one, updates go to `<storePathRootDir>/config/broker.properties`.
    pub config_file: Option<PathBuf>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            broker_cluster_name: "DefaultCluster".into(),
            broker_name: "broker-a".into(),
            broker_id: 0,
            namesrv_addr: None,
            listen_port: 10911,
            bind_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            broker_ip1: None,
            store_path_root_dir: PathBuf::from("./store"),
            store_path_commit_log: None,
            store_path_consume_queue: None,
            store_path_index: None,
            store_checkpoint: None,
            abort_file: None,
            mapped_file_size_commit_log: 1 << 30,
            mapped_file_size_consume_queue: 300_000 * 20,
            default_topic_queue_nums: 8,
            auto_create_topic_enable: true,
            auto_create_subscription_group: true,
            max_message_size: 4 * 1024 * 1024,
            flush_disk_type: FlushDiskType::Async,
            flush_interval_commit_log: 500,
            sync_flush_timeout: 5000,
            broker_role: BrokerRole::AsyncMaster,
            broker_permission: 6,
            file_reserved_time: 72,
            delete_when: "04".into(),
            disk_max_used_space_ratio: 75,
            disk_space_clean_forcibly_ratio: 85,
            enable_property_filter: true,
            message_delay_level: "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"
                .into(),
            long_polling_enable: true,
            short_polling_time_mills: 1000,
            register_name_server_period: 30_000,
            channel_expired_timeout: 120_000,
            flush_consumer_offset_interval: 5000,
            transaction_time_out: 6000,
            transaction_check_max: 15,
            transaction_check_interval: 30_000,
            max_hash_slot_num: 5_000_000,
            max_index_num: 20_000_000,
            max_transfer_count_on_message_in_memory: 32,
            max_transfer_bytes_on_message_in_memory: 256 * 1024,
            region_id: "DefaultRegion".into(),
            trace_on: true,
            max_frame_length: 16 * 1024 * 1024,
            rebalance_lock_max_live_time: 60_000,
            store_reply_message_enable: true,
            metrics_exporter_type: MetricsExporterType::Disable,
            metrics_prom_exporter_host: String::new(),
            metrics_prom_exporter_port: 5557,
            clock: Clock::system(),
            fs: FsHandle::default(),
            grpc_listen: None,
            grpc_listen_given: false,
            min_invisible_time_mills_for_recv: 10_000,
            enable_topic_message_type_check: true,
            config_file: None,
        }
    }
}

impl BrokerConfig {
    /// Reads a broker.conf file on top of the defaults; returns the config and a note for every key that was
    /// not simply applied (unknown, alias, no effect), for the caller to log.
    ///
    /// # Errors
    /// [`ConfigError::Read`], an invalid value, or a refused key ([`ConfigError::Unsupported`]).
    pub fn from_file(path: &Path) -> Result<(BrokerConfig, Vec<ConfigNote>), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut cfg = BrokerConfig::default();
        let mut notes = Vec::new();
        for p in properties::parse(&text) {
            let status = cfg.set(&p.key, &p.value)?;
            if status != KeyStatus::Applied {
                notes.push(ConfigNote {
                    path: path.to_path_buf(),
                    line: p.line,
                    key: p.key,
                    status,
                });
            }
        }
        cfg.validate()?;
        cfg.config_file = Some(path.to_path_buf());
        Ok((cfg, notes))
    }

    /// Sets one key from its text form and says how it was taken (see the module docs for the groups).
    ///
    /// # Errors
    /// [`ConfigError::InvalidValue`] for a bad value of a known key, [`ConfigError::Unsupported`] for a feature
    /// rmq does not implement.
    pub fn set(&mut self, key: &str, value: &str) -> Result<KeyStatus, ConfigError> {
        if let Some(&(_, current)) = ALIASES.iter().find(|(old, _)| *old == key) {
            self.apply(current, value).map_err(|e| e.for_key(key))?;
            return Ok(KeyStatus::Alias { current });
        }
        if self.apply(key, value)? {
            return Ok(KeyStatus::Applied);
        }
        let v = value.trim();
        if let Some((_, reason)) = REFUSED_WHEN_TRUE.iter().find(|(k, _)| *k == key) {
            return if boolean(key, v)? {
                Err(ConfigError::Unsupported {
                    key: key.to_string(),
                    value: v.to_string(),
                    reason: (*reason).to_string(),
                })
            } else {
                Ok(KeyStatus::NoEffect)
            };
        }
        if java_keys::NO_EFFECT_KEYS.binary_search(&key).is_ok() {
            return Ok(KeyStatus::NoEffect);
        }
        let known = IMPLEMENTED_KEYS
            .iter()
            .chain(ALIASES.iter().map(|(old, _)| old))
            .chain(REFUSED_WHEN_TRUE.iter().map(|(k, _)| k))
            .chain(java_keys::NO_EFFECT_KEYS)
            .copied();
        Ok(KeyStatus::Unknown {
            suggestion: rmq_filter::suggest::closest(key, known, 3),
        })
    }

    /// Applies an implemented key; `Ok(false)` when `key` is not one.
    fn apply(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        let v = value.trim();
        match key {
            "brokerClusterName" => self.broker_cluster_name = non_empty(key, v)?,
            "brokerName" => self.broker_name = non_empty(key, v)?,
            "brokerId" => self.broker_id = num(key, v)?,
            "namesrvAddr" => {
                self.namesrv_addr = if v.is_empty() {
                    None
                } else {
                    for addr in v.split(';').filter(|a| !a.is_empty()) {
                        check_host_port(key, addr)?;
                    }
                    Some(v.to_string())
                }
            }
            "listenPort" => self.listen_port = num(key, v)?,
            "brokerIP1" => {
                self.broker_ip1 = Some(v.parse().map_err(|_| invalid(key, v, "an IP address"))?)
            }
            "storePathRootDir" => self.store_path_root_dir = PathBuf::from(non_empty(key, v)?),
            "storePathCommitLog" => self.store_path_commit_log = Some(PathBuf::from(non_empty(key, v)?)),
            "storePathConsumeQueue" => {
                self.store_path_consume_queue = Some(PathBuf::from(non_empty(key, v)?))
            }
            "storePathIndex" => self.store_path_index = Some(PathBuf::from(non_empty(key, v)?)),
            "storeCheckpoint" => self.store_checkpoint = Some(PathBuf::from(non_empty(key, v)?)),
            "abortFile" => self.abort_file = Some(PathBuf::from(non_empty(key, v)?)),
            "mappedFileSizeCommitLog" => self.mapped_file_size_commit_log = positive(key, v)?,
            "mappedFileSizeConsumeQueue" => {
                let n: u64 = positive(key, v)?;
                if !n.is_multiple_of(20) {
                    return Err(invalid(key, v, "a multiple of 20 (the entry size)"));
                }
                self.mapped_file_size_consume_queue = n;
            }
            "defaultTopicQueueNums" => self.default_topic_queue_nums = positive(key, v)?,
            "autoCreateTopicEnable" => self.auto_create_topic_enable = boolean(key, v)?,
            "autoCreateSubscriptionGroup" => self.auto_create_subscription_group = boolean(key, v)?,
            "maxMessageSize" => self.max_message_size = positive(key, v)?,
            "flushDiskType" => {
                self.flush_disk_type = match v {
                    "ASYNC_FLUSH" => FlushDiskType::Async,
                    "SYNC_FLUSH" => FlushDiskType::Sync,
                    _ => return Err(invalid(key, v, "ASYNC_FLUSH or SYNC_FLUSH")),
                }
            }
            "flushIntervalCommitLog" => self.flush_interval_commit_log = positive(key, v)?,
            "syncFlushTimeout" => self.sync_flush_timeout = positive(key, v)?,
            "brokerRole" => {
                self.broker_role = match v {
                    "ASYNC_MASTER" => BrokerRole::AsyncMaster,
                    "SYNC_MASTER" => {
                        return Err(unsupported(
                            key,
                            v,
                            "replication is not implemented in rmq yet, so a send cannot wait for a slave; \
                             use ASYNC_MASTER (a single master, no slave)",
                        ))
                    }
                    "SLAVE" => {
                        return Err(unsupported(
                            key,
                            v,
                            "replication is not implemented in rmq yet, so a broker cannot be a slave; \
                             use ASYNC_MASTER",
                        ))
                    }
                    _ => return Err(invalid(key, v, "ASYNC_MASTER (SYNC_MASTER and SLAVE need replication)")),
                }
            }
            "brokerPermission" => {
                let p: i32 = num(key, v)?;
                if !(0..=15).contains(&p) {
                    return Err(invalid(key, v, "a permission between 0 and 15 (READ 4 | WRITE 2 | INHERIT 1)"));
                }
                self.broker_permission = p;
            }
            "fileReservedTime" => self.file_reserved_time = positive(key, v)?,
            "deleteWhen" => {
                for h in v.split(';') {
                    match h.trim().parse::<u32>() {
                        Ok(hour) if hour < 24 => {}
                        _ => return Err(invalid(key, v, "hours of day 00-23 separated by ';', e.g. 04;05")),
                    }
                }
                self.delete_when = v.to_string();
            }
            "diskMaxUsedSpaceRatio" => {
                let r: u32 = num(key, v)?;
                if !(10..=95).contains(&r) {
                    return Err(invalid(key, v, "a percentage between 10 and 95"));
                }
                self.disk_max_used_space_ratio = r;
            }
            "diskSpaceCleanForciblyRatio" => {
                let r: u32 = num(key, v)?;
                if !(10..=95).contains(&r) {
                    return Err(invalid(key, v, "a percentage between 10 and 95"));
                }
                self.disk_space_clean_forcibly_ratio = r;
            }
            "enablePropertyFilter" => self.enable_property_filter = boolean(key, v)?,
            "messageDelayLevel" => {
                parse_delay_levels(v).map_err(|reason| invalid(key, v, &reason))?;
                self.message_delay_level = v.to_string();
            }
            "longPollingEnable" => self.long_polling_enable = boolean(key, v)?,
            "shortPollingTimeMills" => self.short_polling_time_mills = positive(key, v)?,
            "registerNameServerPeriod" => {
                self.register_name_server_period = num::<u64>(key, v)?.clamp(10_000, 60_000)
            }
            "channelExpiredTimeout" => self.channel_expired_timeout = positive(key, v)?,
            "flushConsumerOffsetInterval" => self.flush_consumer_offset_interval = positive(key, v)?,
            "transactionTimeOut" => self.transaction_time_out = num(key, v)?,
            "transactionCheckMax" => self.transaction_check_max = num(key, v)?,
            "transactionCheckInterval" => self.transaction_check_interval = positive(key, v)?,
            "maxHashSlotNum" => self.max_hash_slot_num = positive(key, v)?,
            "maxIndexNum" => self.max_index_num = positive(key, v)?,
            "maxTransferCountOnMessageInMemory" => {
                self.max_transfer_count_on_message_in_memory = positive(key, v)?
            }
            "maxTransferBytesOnMessageInMemory" => {
                self.max_transfer_bytes_on_message_in_memory = positive(key, v)?
            }
            "regionId" => self.region_id = non_empty(key, v)?,
            "traceOn" => self.trace_on = boolean(key, v)?,
            "serverMaxFrameLength" => self.max_frame_length = positive(key, v)?,
            "rebalanceLockMaxLiveTime" => self.rebalance_lock_max_live_time = positive(key, v)?,
            "storeReplyMessageEnable" => self.store_reply_message_enable = boolean(key, v)?,
            "metricsExporterType" => {
                self.metrics_exporter_type = match v.to_ascii_uppercase().as_str() {
                    "DISABLE" => MetricsExporterType::Disable,
                    "PROM" => MetricsExporterType::Prom,
                    "OTLP_GRPC" | "LOG" => {
                        return Err(invalid(
                            key,
                            v,
                            "DISABLE or PROM (rmq exports Prometheus only; OTLP_GRPC and LOG are not implemented)",
                        ))
                    }
                    _ => return Err(invalid(key, v, "DISABLE or PROM")),
                }
            }
            "metricsPromExporterHost" => self.metrics_prom_exporter_host = v.to_string(),
            "metricsPromExporterPort" => self.metrics_prom_exporter_port = num(key, v)?,
            "grpcListen" => {
                self.grpc_listen_given = true;
                self.grpc_listen = if v.is_empty() {
                    None
                } else {
                    Some(v.parse().map_err(|_| invalid(key, v, "an ip:port address"))?)
                }
            }
            "minInvisibleTimeMillsForRecv" => {
                self.min_invisible_time_mills_for_recv = positive(key, v)?
            }
            "enableTopicMessageTypeCheck" => {
                self.enable_topic_message_type_check = boolean(key, v)?
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Checks combinations that single keys cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.broker_id != 0 {
            return Err(unsupported(
                "brokerId",
                &self.broker_id.to_string(),
                "replication is not implemented in rmq yet, so every broker is a master with brokerId 0",
            ));
        }
        if (self.max_message_size as u64).saturating_add(1024) > self.mapped_file_size_commit_log {
            return Err(invalid(
                "mappedFileSizeCommitLog",
                &self.mapped_file_size_commit_log.to_string(),
                "a size larger than maxMessageSize plus record overhead",
            ));
        }
        Ok(())
    }

    /// The address published to name servers and written into message ids.
    pub fn advertised_addr(&self) -> SocketAddr {
        let ip = self.broker_ip1.unwrap_or(if self.bind_ip.is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            self.bind_ip
        });
        SocketAddr::new(ip, self.listen_port)
    }

    /// Where the Prometheus endpoint binds, `(host, port)`, or `None` when metrics are disabled. An empty
    /// `metricsPromExporterHost` means `brokerIP1` when set, else the broker's bind address (Java uses
    /// `brokerIP1`, which always has a value there).
    pub fn metrics_listen(&self) -> Option<(String, u16)> {
        if self.metrics_exporter_type != MetricsExporterType::Prom {
            return None;
        }
        let host = if self.metrics_prom_exporter_host.is_empty() {
            self.broker_ip1.unwrap_or(self.bind_ip).to_string()
        } else {
            self.metrics_prom_exporter_host.clone()
        };
        Some((host, self.metrics_prom_exporter_port))
    }

    /// Turns the Prometheus endpoint on at `addr` (the binary's `--metrics-listen`, the embedded builder).
    pub fn enable_metrics(&mut self, addr: SocketAddr) {
        self.metrics_exporter_type = MetricsExporterType::Prom;
        self.metrics_prom_exporter_host = addr.ip().to_string();
        self.metrics_prom_exporter_port = addr.port();
    }

    /// Name-server addresses from `namesrvAddr`.
    pub fn namesrv_addrs(&self) -> Vec<String> {
        self.namesrv_addr
            .as_deref()
            .unwrap_or("")
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }

    /// The delay table in milliseconds, level 1 first.
    pub fn delay_levels(&self) -> Vec<u64> {
        parse_delay_levels(&self.message_delay_level).unwrap_or_default()
    }

    /// The store's view of this config.
    pub fn store_config(&self) -> StoreConfig {
        StoreConfig {
            root_dir: self.store_path_root_dir.clone(),
            commit_log_dir: self.store_path_commit_log.clone(),
            consume_queue_dir: self.store_path_consume_queue.clone(),
            index_dir: self.store_path_index.clone(),
            checkpoint_file: self.store_checkpoint.clone(),
            abort_file: self.abort_file.clone(),
            mapped_file_size_commit_log: self.mapped_file_size_commit_log,
            consume_queue_entries_per_file: self.mapped_file_size_consume_queue / 20,
            flush_disk_type: self.flush_disk_type,
            flush_interval_ms: self.flush_interval_commit_log,
            sync_flush_timeout_ms: self.sync_flush_timeout,
            file_reserved_time_hours: self.file_reserved_time,
            delete_when: self.delete_when.clone(),
            disk_max_used_space_ratio: self.disk_max_used_space_ratio,
            disk_space_clean_forcibly_ratio: self.disk_space_clean_forcibly_ratio,
            max_hash_slot_num: self.max_hash_slot_num,
            max_index_num: self.max_index_num,
            max_transfer_count_on_message: self.max_transfer_count_on_message_in_memory,
            max_transfer_bytes_on_message: self.max_transfer_bytes_on_message_in_memory,
            store_host: self.advertised_addr(),
            clock: self.clock.clone(),
            fs: self.fs.clone(),
            ..StoreConfig::default()
        }
    }

    /// The effective settings under their broker.conf keys (GET_BROKER_CONFIG, `--print-config`).
    pub fn to_properties(&self) -> Vec<(String, String)> {
        let flush = match self.flush_disk_type {
            FlushDiskType::Async => "ASYNC_FLUSH",
            FlushDiskType::Sync => "SYNC_FLUSH",
        };
        let role = match self.broker_role {
            BrokerRole::AsyncMaster => "ASYNC_MASTER",
        };
        let opt_path = |p: &Option<PathBuf>| {
            p.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        [
            ("brokerClusterName", self.broker_cluster_name.clone()),
            ("brokerName", self.broker_name.clone()),
            ("brokerId", self.broker_id.to_string()),
            ("namesrvAddr", self.namesrv_addr.clone().unwrap_or_default()),
            ("listenPort", self.listen_port.to_string()),
            ("brokerIP1", self.advertised_addr().ip().to_string()),
            (
                "storePathRootDir",
                self.store_path_root_dir.display().to_string(),
            ),
            ("storePathCommitLog", opt_path(&self.store_path_commit_log)),
            (
                "storePathConsumeQueue",
                opt_path(&self.store_path_consume_queue),
            ),
            ("storePathIndex", opt_path(&self.store_path_index)),
            ("storeCheckpoint", opt_path(&self.store_checkpoint)),
            ("abortFile", opt_path(&self.abort_file)),
            (
                "mappedFileSizeCommitLog",
                self.mapped_file_size_commit_log.to_string(),
            ),
            (
                "mappedFileSizeConsumeQueue",
                self.mapped_file_size_consume_queue.to_string(),
            ),
            (
                "defaultTopicQueueNums",
                self.default_topic_queue_nums.to_string(),
            ),
            (
                "autoCreateTopicEnable",
                self.auto_create_topic_enable.to_string(),
            ),
            (
                "autoCreateSubscriptionGroup",
                self.auto_create_subscription_group.to_string(),
            ),
            ("maxMessageSize", self.max_message_size.to_string()),
            ("flushDiskType", flush.to_string()),
            (
                "flushIntervalCommitLog",
                self.flush_interval_commit_log.to_string(),
            ),
            ("syncFlushTimeout", self.sync_flush_timeout.to_string()),
            ("brokerRole", role.to_string()),
            ("brokerPermission", self.broker_permission.to_string()),
            ("fileReservedTime", self.file_reserved_time.to_string()),
            ("deleteWhen", self.delete_when.clone()),
            (
                "diskMaxUsedSpaceRatio",
                self.disk_max_used_space_ratio.to_string(),
            ),
            (
                "diskSpaceCleanForciblyRatio",
                self.disk_space_clean_forcibly_ratio.to_string(),
            ),
            (
                "enablePropertyFilter",
                self.enable_property_filter.to_string(),
            ),
            ("messageDelayLevel", self.message_delay_level.clone()),
            ("longPollingEnable", self.long_polling_enable.to_string()),
            (
                "shortPollingTimeMills",
                self.short_polling_time_mills.to_string(),
            ),
            (
                "registerNameServerPeriod",
                self.register_name_server_period.to_string(),
            ),
            (
                "channelExpiredTimeout",
                self.channel_expired_timeout.to_string(),
            ),
            (
                "flushConsumerOffsetInterval",
                self.flush_consumer_offset_interval.to_string(),
            ),
            ("transactionTimeOut", self.transaction_time_out.to_string()),
            (
                "transactionCheckMax",
                self.transaction_check_max.to_string(),
            ),
            (
                "transactionCheckInterval",
                self.transaction_check_interval.to_string(),
            ),
            ("maxHashSlotNum", self.max_hash_slot_num.to_string()),
            ("maxIndexNum", self.max_index_num.to_string()),
            (
                "maxTransferCountOnMessageInMemory",
                self.max_transfer_count_on_message_in_memory.to_string(),
            ),
            (
                "maxTransferBytesOnMessageInMemory",
                self.max_transfer_bytes_on_message_in_memory.to_string(),
            ),
            ("regionId", self.region_id.clone()),
            ("traceOn", self.trace_on.to_string()),
            ("serverMaxFrameLength", self.max_frame_length.to_string()),
            (
                "rebalanceLockMaxLiveTime",
                self.rebalance_lock_max_live_time.to_string(),
            ),
            (
                "storeReplyMessageEnable",
                self.store_reply_message_enable.to_string(),
            ),
            (
                "metricsExporterType",
                match self.metrics_exporter_type {
                    MetricsExporterType::Disable => "DISABLE",
                    MetricsExporterType::Prom => "PROM",
                }
                .to_string(),
            ),
            (
                "metricsPromExporterHost",
                self.metrics_prom_exporter_host.clone(),
            ),
            (
                "metricsPromExporterPort",
                self.metrics_prom_exporter_port.to_string(),
            ),
            (
                "grpcListen",
                self.grpc_listen.map(|a| a.to_string()).unwrap_or_default(),
            ),
            (
                "minInvisibleTimeMillsForRecv",
                self.min_invisible_time_mills_for_recv.to_string(),
            ),
            (
                "enableTopicMessageTypeCheck",
                self.enable_topic_message_type_check.to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// `channelExpiredTimeout` as a duration.
    pub fn channel_expiry(&self) -> Duration {
        Duration::from_millis(self.channel_expired_timeout)
    }
}

/// Parses `1s 5s 10s 1m 2h 1d` into milliseconds per level.
pub fn parse_delay_levels(text: &str) -> Result<Vec<u64>, String> {
    let mut out = Vec::new();
    for item in text.split_whitespace() {
        // The unit is the last character, which need not be one byte long.
        let unit_at = item.char_indices().last().map_or(0, |(i, _)| i);
        let (num, unit) = item.split_at(unit_at);
        let factor = match unit {
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(format!("level `{item}` must end in s, m, h or d")),
        };
        let n: u64 = num.parse().map_err(|_| {
            format!("level `{item}` must be a whole number followed by s, m, h or d")
        })?;
        let ms = n
            .checked_mul(factor)
            .ok_or_else(|| format!("level `{item}` is too long"))?;
        out.push(ms);
    }
    if out.is_empty() {
        return Err("at least one delay level is required".into());
    }
    Ok(out)
}

impl ConfigError {
    /// The same error naming `key` (the alias the user wrote) instead of the key it was applied as.
    fn for_key(self, key: &str) -> ConfigError {
        match self {
            ConfigError::InvalidValue { value, reason, .. } => ConfigError::InvalidValue {
                key: key.to_string(),
                value,
                reason,
            },
            ConfigError::Unsupported { value, reason, .. } => ConfigError::Unsupported {
                key: key.to_string(),
                value,
                reason,
            },
            other => other,
        }
    }
}

fn unsupported(key: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Unsupported {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn invalid(key: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, ConfigError> {
    v.parse().map_err(|_| invalid(key, v, "a number"))
}

fn positive<T: std::str::FromStr + PartialOrd + Default>(
    key: &str,
    v: &str,
) -> Result<T, ConfigError> {
    let n: T = v
        .parse()
        .map_err(|_| invalid(key, v, "a positive number"))?;
    if n <= T::default() {
        return Err(invalid(key, v, "a positive number"));
    }
    Ok(n)
}

fn boolean(key: &str, v: &str) -> Result<bool, ConfigError> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(key, v, "true or false")),
    }
}

fn non_empty(key: &str, v: &str) -> Result<String, ConfigError> {
    if v.is_empty() {
        Err(invalid(key, v, "a non-empty value"))
    } else {
        Ok(v.to_string())
    }
}

fn check_host_port(key: &str, addr: &str) -> Result<(), ConfigError> {
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(()),
        _ => Err(invalid(key, addr, "host:port entries separated by ';'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_real_keys_and_warns_on_unknown() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("broker.conf");
        std::fs::write(
            &path,
            "brokerClusterName=C1\nbrokerName=b1\nbrokerId=0\nnamesrvAddr=127.0.0.1:9876;127.0.0.1:9877\n\
             listenPort=20911\nflushDiskType=SYNC_FLUSH\nmessageDelayLevel=1s 2s\nbrokerIP1=10.0.0.1\n\
             deleteWhen=04;05\nsomeJavaOnlyKey=1\n",
        )
        .expect("write");
        let (cfg, notes) = BrokerConfig::from_file(&path).expect("valid");
        assert_eq!(cfg.broker_cluster_name, "C1");
        assert_eq!(
            cfg.namesrv_addrs(),
            vec!["127.0.0.1:9876", "127.0.0.1:9877"]
        );
        assert_eq!(cfg.flush_disk_type, FlushDiskType::Sync);
        assert_eq!(cfg.delay_levels(), vec![1000, 2000]);
        assert_eq!(
            cfg.advertised_addr(),
            "10.0.0.1:20911".parse().expect("addr")
        );
        assert_eq!(notes.len(), 1);
        assert!(notes[0].is_warning());
        let text = notes[0].to_string();
        assert!(
            text.contains("someJavaOnlyKey") && text.contains(":10:"),
            "{text}"
        );
    }

    #[test]
    fn invalid_values_name_the_key() {
        for (k, v) in [
            ("listenPort", "x"),
            ("flushDiskType", "SOMETIMES"),
            ("autoCreateTopicEnable", "yes"),
            ("messageDelayLevel", "1s 5q"),
            ("diskMaxUsedSpaceRatio", "99"),
            ("namesrvAddr", "nohostport"),
            ("brokerRole", "SLAVE"),
            ("mappedFileSizeCommitLog", "0"),
            ("metricsExporterType", "OTLP_GRPC"),
            ("metricsExporterType", "SOMETIMES"),
            ("metricsPromExporterPort", "70000"),
        ] {
            let err = BrokerConfig::default().set(k, v).expect_err(k);
            assert!(err.to_string().contains(&format!("`{k}`")), "{err}");
        }
    }

    #[test]
    fn printed_properties_read_back_identically() {
        let mut cfg = BrokerConfig::default();
        cfg.set("brokerName", "x").expect("set");
        cfg.set("namesrvAddr", "127.0.0.1:1").expect("set");
        cfg.set("metricsExporterType", "PROM").expect("set");
        cfg.set("metricsPromExporterHost", "127.0.0.1")
            .expect("set");
        let mut again = BrokerConfig::default();
        for (k, v) in cfg.to_properties() {
            if v.is_empty() {
                continue;
            }
            assert_eq!(
                again.set(&k, &v).expect(&k),
                KeyStatus::Applied,
                "printed key {k} must be known"
            );
        }
        assert_eq!(again.to_properties(), cfg.to_properties());
    }

    #[test]
    fn metrics_are_off_by_default_and_prom_binds_where_asked() {
        let mut cfg = BrokerConfig::default();
        assert_eq!(cfg.metrics_listen(), None);
        cfg.set("metricsExporterType", "PROM").expect("set");
        assert_eq!(cfg.metrics_listen(), Some(("0.0.0.0".to_string(), 5557)));
        cfg.set("brokerIP1", "10.0.0.7").expect("set");
        assert_eq!(cfg.metrics_listen(), Some(("10.0.0.7".to_string(), 5557)));
        cfg.set("metricsPromExporterHost", "127.0.0.1")
            .expect("set");
        cfg.set("metricsPromExporterPort", "0").expect("set");
        assert_eq!(cfg.metrics_listen(), Some(("127.0.0.1".to_string(), 0)));
        cfg.set("metricsExporterType", "DISABLE").expect("set");
        assert_eq!(cfg.metrics_listen(), None);
        cfg.enable_metrics("[::1]:9100".parse().expect("addr"));
        assert_eq!(cfg.metrics_listen(), Some(("::1".to_string(), 9100)));
    }

    #[test]
    fn old_spellings_apply_as_the_current_key() {
        let mut cfg = BrokerConfig::default();
        assert_eq!(
            cfg.set("mapedFileSizeCommitLog", "67108864")
                .expect("alias"),
            KeyStatus::Alias {
                current: "mappedFileSizeCommitLog"
            }
        );
        assert_eq!(cfg.mapped_file_size_commit_log, 64 << 20);
        cfg.set("mapedFileSizeConsumeQueue", "6000").expect("alias");
        assert_eq!(cfg.mapped_file_size_consume_queue, 6000);
        let err = cfg
            .set("mapedFileSizeConsumeQueue", "6001")
            .expect_err("not a multiple of 20");
        assert!(
            err.to_string().contains("`mapedFileSizeConsumeQueue`"),
            "the error names the key as written: {err}"
        );
    }

    #[test]
    fn java_only_keys_have_no_effect_and_typos_get_a_hint() {
        for key in [
            "sendMessageThreadPoolNums",
            "pullMessageThreadPoolNums",
            "useReentrantLockWhenPutMessage",
            "sendThreadPoolQueueCapacity",
            "osPageCacheBusyTimeOutMills",
            "transientStorePoolEnable",
            "warmMapedFileEnable",
            "flushCommitLogLeastPages",
            "brokerIP2",
            "haListenPort",
            "serverWorkerThreads",
            "clientWorkerThreads",
            "authenticationProvider",
        ] {
            let before = BrokerConfig::default().to_properties();
            let mut cfg = BrokerConfig::default();
            assert_eq!(cfg.set(key, "8").expect(key), KeyStatus::NoEffect, "{key}");
            assert_eq!(cfg.to_properties(), before, "{key} changed nothing");
        }
        assert_eq!(
            BrokerConfig::default()
                .set("brokerNmae", "x")
                .expect("typo"),
            KeyStatus::Unknown {
                suggestion: Some("brokerName")
            }
        );
        assert_eq!(
            BrokerConfig::default()
                .set("sendMessageThreadPoolNum", "4")
                .expect("typo"),
            KeyStatus::Unknown {
                suggestion: Some("sendMessageThreadPoolNums")
            }
        );
        assert_eq!(
            BrokerConfig::default()
                .set("completelyMadeUp", "1")
                .expect("unknown"),
            KeyStatus::Unknown { suggestion: None }
        );
    }

    #[test]
    fn replication_and_security_switches_are_refused_not_ignored() {
        for (key, value) in [
            ("brokerRole", "SYNC_MASTER"),
            ("brokerRole", "SLAVE"),
            ("aclEnable", "true"),
            ("enableDLegerCommitLog", "true"),
            ("useTLS", "true"),
        ] {
            let err = BrokerConfig::default().set(key, value).expect_err(key);
            assert!(
                matches!(err, ConfigError::Unsupported { .. }),
                "{key}={value}: {err:?}"
            );
            let text = err.to_string();
            assert!(
                text.contains(&format!("`{key}`")) && text.contains(value),
                "{text}"
            );
        }
        let text = BrokerConfig::default()
            .set("brokerRole", "SYNC_MASTER")
            .expect_err("refused")
            .to_string();
        assert!(text.contains("replication is not implemented"), "{text}");
        assert_eq!(
            BrokerConfig::default()
                .set("aclEnable", "false")
                .expect("off"),
            KeyStatus::NoEffect
        );
        assert_eq!(
            BrokerConfig::default()
                .set("brokerRole", "ASYNC_MASTER")
                .expect("async"),
            KeyStatus::Applied
        );
        let mut slave = BrokerConfig::default();
        slave.set("brokerId", "1").expect("parses");
        assert!(matches!(
            slave.validate(),
            Err(ConfigError::Unsupported { .. })
        ));
    }

    #[test]
    fn key_tables_are_consistent() {
        let keys = java_keys::NO_EFFECT_KEYS;
        assert!(
            keys.windows(2).all(|w| w[0] < w[1]),
            "NO_EFFECT_KEYS must be sorted and unique for binary search"
        );
        let printed: Vec<String> = BrokerConfig::default()
            .to_properties()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            printed, IMPLEMENTED_KEYS,
            "--print-config shows exactly the implemented keys"
        );
        for key in IMPLEMENTED_KEYS
            .iter()
            .chain(ALIASES.iter().map(|(old, _)| old))
            .chain(REFUSED_WHEN_TRUE.iter().map(|(k, _)| k))
        {
            assert!(
                keys.binary_search(key).is_err(),
                "{key} is not a no-effect key"
            );
        }
    }

    #[test]
    fn store_path_keys_reach_the_store_config() {
        let mut cfg = BrokerConfig::default();
        for (k, v) in [
            ("storePathRootDir", "/r"),
            ("storePathConsumeQueue", "/q/cq"),
            ("storePathIndex", "/i/idx"),
            ("storeCheckpoint", "/c/cp"),
            ("abortFile", "/a/abort"),
            ("diskSpaceCleanForciblyRatio", "90"),
        ] {
            assert_eq!(cfg.set(k, v).expect(k), KeyStatus::Applied);
        }
        let store = cfg.store_config();
        assert_eq!(store.consume_queue_path(), PathBuf::from("/q/cq"));
        assert_eq!(store.index_path(), PathBuf::from("/i/idx"));
        assert_eq!(store.checkpoint_path(), PathBuf::from("/c/cp"));
        assert_eq!(store.abort_path(), PathBuf::from("/a/abort"));
        assert_eq!(store.commit_log_path(), PathBuf::from("/r/commitlog"));
        assert_eq!(store.disk_space_clean_forcibly_ratio, 90);
        let defaults = BrokerConfig::default().store_config();
        assert_eq!(defaults.index_path(), PathBuf::from("./store/index"));
        assert_eq!(defaults.abort_path(), PathBuf::from("./store/abort"));
    }

    #[test]
    fn delay_levels_default_has_18() {
        let levels = BrokerConfig::default().delay_levels();
        assert_eq!(levels.len(), 18);
        assert_eq!(levels[0], 1000);
        assert_eq!(levels[17], 7_200_000);
    }

    /// Fuzzing (broker_conf): a level ending in a multi-byte character panicked in `split_at`.
    #[test]
    fn fuzz_delay_level_with_multibyte_unit_is_an_error() {
        assert!(parse_delay_levels("30\u{fffd}").is_err());
        assert!(parse_delay_levels("1s é").is_err());
        let mut cfg = BrokerConfig::default();
        assert!(cfg.set("messageDelayLevel", "1s 30\u{fffd}").is_err());
    }

    /// Review of the broker_conf target: a maxMessageSize near `usize::MAX` overflowed the size check in
    /// `validate` (a panic in debug, a wrapped sum that passed the check in release).
    #[test]
    fn huge_max_message_size_is_refused_not_overflowed() {
        let mut cfg = BrokerConfig::default();
        assert!(cfg.set("maxMessageSize", &usize::MAX.to_string()).is_ok());
        assert!(cfg.validate().is_err());
    }

    /// Fuzzing (broker_conf): a level whose milliseconds overflow u64 panicked (debug) or wrapped (release).
    #[test]
    fn fuzz_delay_level_overflow_is_an_error() {
        assert!(parse_delay_levels("99999999999999999d").is_err());
        assert_eq!(
            parse_delay_levels("18446744073709551s"),
            Ok(vec![18_446_744_073_709_551_000])
        );
    }
}
