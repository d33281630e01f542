//! Why a name server could not start: its files, or its listener.

use std::path::PathBuf;

use crate::config::NamesrvKeyError;
use crate::persist::PersistError;

/// A name server refused to start; every variant names the file or address involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NamesrvError {
    /// `kvConfigPath` could not be read or is not Java's kvConfig.json.
    #[error("kvConfigPath {0}")]
    KvConfig(#[source] PersistError),
    /// `configStorePath` could not be read.
    #[error("cannot read name-server config file {path} (configStorePath): {source}")]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A key of `configStorePath` was refused.
    #[error("{}:{line}: {source}", path.display())]
    ConfigKey {
        /// The file.
        path: PathBuf,
        /// 1-based line of the entry.
        line: usize,
        /// Which key and why.
        #[source]
        source: NamesrvKeyError,
    },
    /// The listener's address could not be read.
    #[error("name-server listener: {0}")]
    Io(#[source] std::io::Error),
}
