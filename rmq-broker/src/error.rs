//! Errors of starting, running and stopping a broker or name server.

use crate::config::ConfigError;
use crate::namesrv::NamesrvError;
use crate::persist::PersistError;
use crate::store::StoreError;

/// Why a broker could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// Invalid configuration (names the key).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store failed to open, recover or flush.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A state file (topics, groups, offsets) could not be read or written.
    #[error("state file: {0}")]
    Persist(#[from] PersistError),
    /// The metrics endpoint could not listen (`metricsPromExporterHost`, `metricsPromExporterPort`).
    #[error("cannot listen on {addr} for metrics (metricsPromExporterHost/metricsPromExporterPort): {source}")]
    MetricsListen {
        /// The address tried.
        addr: String,
        /// The bind error.
        #[source]
        source: std::io::Error,
    },
    /// The name server's files (kvConfig.json, namesrv.properties) could not be loaded (names the file).
    #[error("name server: {0}")]
    Namesrv(#[from] NamesrvError),
    /// Binding or another socket operation failed.
    #[error("i/o: {0}")]
    Io(std::io::Error),
}
