//! Name server + broker inside the current process, on ephemeral ports with a temp store: what apps use in
//! development and every test uses for isolation. Starting one takes milliseconds; several can run at once.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rmq_broker::BrokerError> {
//! let broker = rmq_broker::embedded::EmbeddedBroker::start().await?;
//! println!("clients use namesrv {}", broker.namesrv_addr());
//! broker.shutdown().await?;
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rmq_protocol::clock::Clock;
use tokio::net::TcpListener;

use crate::broker::Broker;
use crate::config::{BrokerConfig, KeyStatus, NamesrvConfig};
use crate::error::BrokerError;
use crate::namesrv::NameServer;
use crate::store::fs::FsHandle;
use crate::store::FlushDiskType;

/// A name server alone, for tests with several brokers or several name servers.
///
/// Its files (Java's `kvConfig.json` and `namesrv.properties`) live in a directory of its own, never in
/// Java's `~/namesrv`: a temp directory deleted on drop, or the one given to [`start_in`](Self::start_in).
#[derive(Debug)]
pub struct EmbeddedNamesrv {
    server: NameServer,
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl EmbeddedNamesrv {
    /// Starts a name server on `127.0.0.1:0` with its files in a temp directory.
    pub async fn start() -> Result<Self, BrokerError> {
        Self::start_with(
            NamesrvConfig::default(),
            "127.0.0.1:0".parse().map_err(io_invalid)?,
        )
        .await
    }

    /// Starts a name server with the given settings on `addr`, its files in a temp directory deleted on drop
    /// (`config`'s `kv_config_path` and `config_store_path` are replaced; use [`start_in`](Self::start_in)
    /// to keep them).
    pub async fn start_with(config: NamesrvConfig, addr: SocketAddr) -> Result<Self, BrokerError> {
        let temp = tempfile::Builder::new()
            .prefix("rmq-namesrv-")
            .tempdir()
            .map_err(BrokerError::Io)?;
        let mut ns = Self::start_in(temp.path(), config, addr).await?;
        ns._temp = Some(temp);
        Ok(ns)
    }

    /// Starts a name server with `dir/kvConfig.json` and `dir/namesrv.properties` (kept, so a later name
    /// server started in `dir` has the same KV table and config updates).
    ///
    /// # Errors
    /// Besides binding: either file exists but is not valid (the error names it).
    pub async fn start_in(
        dir: impl AsRef<Path>,
        config: NamesrvConfig,
        addr: SocketAddr,
    ) -> Result<Self, BrokerError> {
        let dir = dir.as_ref().to_path_buf();
        let listener = TcpListener::bind(addr).await.map_err(BrokerError::Io)?;
        Ok(EmbeddedNamesrv {
            server: NameServer::start(listener, config.with_dir(&dir))?,
            dir,
            _temp: None,
        })
    }

    /// The directory holding its `kvConfig.json` and `namesrv.properties`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `127.0.0.1:PORT`, what clients and brokers are given.
    pub fn addr(&self) -> String {
        self.server.addr().to_string()
    }

    /// The running server (route tables for assertions).
    pub fn server(&self) -> &NameServer {
        &self.server
    }

    /// Stops it.
    pub async fn shutdown(&self) {
        self.server.shutdown().await;
    }
}

/// Where a name server started together with a broker (embedded, or the all-in-one binary) keeps its files:
/// `<storePathRootDir>/namesrv`, so one directory holds everything the process persists.
pub const NAMESRV_DIR: &str = "namesrv";

fn io_invalid(e: std::net::AddrParseError) -> BrokerError {
    BrokerError::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
}

/// Options for [`EmbeddedBroker`]; every broker.conf key can be set with [`EmbeddedBrokerBuilder::property`].
#[derive(Debug, Default)]
pub struct EmbeddedBrokerBuilder {
    store_dir: Option<PathBuf>,
    flush_sync: bool,
    properties: Vec<(String, String)>,
    namesrv_addrs: Option<String>,
    listen: Option<SocketAddr>,
    namesrv_listen: Option<SocketAddr>,
    namesrv_config: Option<NamesrvConfig>,
    metrics_listen: Option<SocketAddr>,
    grpc_listen: Option<SocketAddr>,
    clock: Option<Clock>,
    fs: Option<FsHandle>,
}

impl EmbeddedBrokerBuilder {
    /// Keeps the store in `dir` (not deleted), so a later broker can reopen it.
    pub fn store_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.store_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// SYNC_FLUSH instead of ASYNC_FLUSH.
    pub fn flush_sync(mut self, sync: bool) -> Self {
        self.flush_sync = sync;
        self
    }

    /// Sets a broker.conf key; an unknown key or bad value fails `start` naming the key.
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.push((key.into(), value.into()));
        self
    }

    /// Registers with existing name servers (`a:1;b:2`) instead of starting one.
    pub fn namesrv_addrs(mut self, addrs: impl Into<String>) -> Self {
        self.namesrv_addrs = Some(addrs.into());
        self
    }

    /// Broker listen address (default `127.0.0.1:0`).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// Embedded name-server listen address (default `127.0.0.1:0`).
    pub fn namesrv_listen(mut self, addr: SocketAddr) -> Self {
        self.namesrv_listen = Some(addr);
        self
    }

    /// Name-server settings (broker expiry, ...). Its files are kept in `<store dir>/namesrv` whatever the
    /// config's paths say, so a broker reopening the store finds its name server's KV table again.
    pub fn namesrv_config(mut self, config: NamesrvConfig) -> Self {
        self.namesrv_config = Some(config);
        self
    }

    /// Serves Prometheus metrics (`GET /metrics`) on `addr`; `127.0.0.1:0` picks a free port, which
    /// [`EmbeddedBroker::metrics_addr`] reports. Same as the properties `metricsExporterType=PROM`,
    /// `metricsPromExporterHost` and `metricsPromExporterPort` (and wins over them). Off by default.
    pub fn metrics_listen(mut self, addr: SocketAddr) -> Self {
        self.metrics_listen = Some(addr);
        self
    }

    /// Serves the RocketMQ 5 gRPC endpoint (`apache.rocketmq.v2.MessagingService`) on `addr`; `127.0.0.1:0`
    /// picks a free port, which [`EmbeddedBroker::grpc_addr`] reports. Same as the property `grpcListen`. Off
    /// by default.
    pub fn grpc_listen(mut self, addr: SocketAddr) -> Self {
        self.grpc_listen = Some(addr);
        self
    }

    /// Runs the broker on `clock` (store timestamps, delay levels, timer messages, transaction checks): a
    /// test passes a [`Clock::virtual_time`] and moves it with [`Clock::advance`]. Default: the system clock.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Keeps the store's files on `fs` instead of the operating system's file system: a power-cut test
    /// passes a [`LazyFs`](crate::store::lazy_fs::LazyFs) (with [`store_dir`](Self::store_dir) naming where
    /// the broker's JSON state files go on the real disk).
    pub fn fs(mut self, fs: FsHandle) -> Self {
        self.fs = Some(fs);
        self
    }

    /// Starts the name server (unless external ones were given) and the broker.
    pub async fn start(self) -> Result<EmbeddedBroker, BrokerError> {
        let mut config = embedded_defaults();
        for (k, v) in &self.properties {
            match config.set(k, v)? {
                KeyStatus::Applied => {}
                KeyStatus::Unknown { suggestion } => {
                    return Err(crate::config::ConfigError::InvalidValue {
                        key: k.clone(),
                        value: v.clone(),
                        reason: match suggestion {
                            Some(s) => format!("unknown broker config key; did you mean `{s}`?"),
                            None => "unknown broker config key".into(),
                        },
                    }
                    .into());
                }
                KeyStatus::Alias { current } => {
                    tracing::info!(
                        "{k} is the RocketMQ 4.0-4.5.1 spelling of {current}; applied as {current}"
                    )
                }
                KeyStatus::NoEffect => tracing::info!("{k} has no effect in rmq"),
            }
        }
        if self.flush_sync {
            config.flush_disk_type = FlushDiskType::Sync;
        }
        if let Some(addr) = self.metrics_listen {
            config.enable_metrics(addr);
        }
        if let Some(addr) = self.grpc_listen {
            config.grpc_listen = Some(addr);
        }
        if let Some(clock) = self.clock {
            config.clock = clock;
        }
        if let Some(fs) = self.fs {
            config.fs = fs;
        }
        let temp = match &self.store_dir {
            Some(dir) => {
                config.store_path_root_dir = dir.clone();
                None
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("rmq-embedded-")
                    .tempdir()
                    .map_err(BrokerError::Io)?;
                config.store_path_root_dir = t.path().to_path_buf();
                Some(t)
            }
        };
        let namesrv = match &self.namesrv_addrs {
            Some(addrs) => {
                config.namesrv_addr = Some(addrs.clone());
                None
            }
            None => {
                let ns = EmbeddedNamesrv::start_in(
                    config.store_path_root_dir.join(NAMESRV_DIR),
                    self.namesrv_config.unwrap_or_default(),
                    self.namesrv_listen.unwrap_or(([127, 0, 0, 1], 0).into()),
                )
                .await?;
                config.namesrv_addr = Some(ns.addr());
                Some(ns)
            }
        };
        let listener = TcpListener::bind(self.listen.unwrap_or(([127, 0, 0, 1], 0).into()))
            .await
            .map_err(BrokerError::Io)?;
        let broker = Broker::start(listener, config.clone()).await?;
        Ok(EmbeddedBroker {
            namesrv_addr: config.namesrv_addr.unwrap_or_default(),
            store_dir: config.store_path_root_dir,
            namesrv,
            broker,
            _temp: temp,
        })
    }
}

/// Embedded defaults: the broker.conf defaults with files sized for a laptop and a test run rather than a
/// production disk (64 MiB CommitLog segments, small index files).
pub fn embedded_defaults() -> BrokerConfig {
    BrokerConfig {
        mapped_file_size_commit_log: 64 * 1024 * 1024,
        mapped_file_size_consume_queue: 30_000 * 20,
        max_hash_slot_num: 100_000,
        max_index_num: 400_000,
        bind_ip: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        ..BrokerConfig::default()
    }
}

/// A running name server + broker in this process.
#[derive(Debug)]
pub struct EmbeddedBroker {
    namesrv_addr: String,
    store_dir: PathBuf,
    namesrv: Option<EmbeddedNamesrv>,
    broker: Broker,
    _temp: Option<tempfile::TempDir>,
}

impl EmbeddedBroker {
    /// Name server + broker on ephemeral ports with a temp store deleted on drop.
    pub async fn start() -> Result<EmbeddedBroker, BrokerError> {
        EmbeddedBroker::builder().start().await
    }

    /// Options.
    pub fn builder() -> EmbeddedBrokerBuilder {
        EmbeddedBrokerBuilder::default()
    }

    /// The name-server address(es) clients are given (`a;b` when external ones were used).
    pub fn namesrv_addr(&self) -> String {
        self.namesrv_addr.clone()
    }

    /// The broker's own address.
    pub fn broker_addr(&self) -> String {
        self.broker.broker_addr().to_owned()
    }

    /// Where `GET /metrics` is served; `None` unless metrics were enabled.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.broker.metrics_addr()
    }

    /// Where the gRPC endpoint is served; `None` unless it was switched on.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.broker.grpc_addr()
    }

    /// The store root.
    pub fn store_dir(&self) -> PathBuf {
        self.store_dir.clone()
    }

    /// The broker, for inspection.
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// Clean stop of the broker and then its name server.
    pub async fn shutdown(&self) -> Result<(), BrokerError> {
        self.broker.shutdown().await?;
        if let Some(ns) = &self.namesrv {
            ns.shutdown().await;
        }
        Ok(())
    }
}
