//! Why a name server could not start: its files, or its listener.

use std::path::PathBuf;

use crate::config::NamesrvKeyError;
use crate::persist::PersistError;

/// A name server refused to start; every variant names the file or address involved. Causes are part of
/// the message rather than separate sources, so `{:#}` chains print each once.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NamesrvError {
    /// `kvConfigPath` could not be read or is not Java's kvConfig.json.
    #[error("kvConfigPath {0}")]
    KvConfig(PersistError),
    /// `configStorePath` could not be read.
    #[error("cannot read name-server config file {} (configStorePath): {error}", path.display())]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// Cause (in the message, not a separate source, so a chain prints it once).
        error: std::io::Error,
    },
    /// A key of `configStorePath` was refused.
    #[error("{}:{line}: {error}", path.display())]
    ConfigKey {
        /// The file.
        path: PathBuf,
        /// 1-based line of the entry.
        line: usize,
        /// Which key and why.
        error: NamesrvKeyError,
    },
    /// The listener's address could not be read.
    #[error("name-server listener: {0}")]
    Io(std::io::Error),
}
