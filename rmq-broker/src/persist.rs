//! JSON state files (topics, subscription groups, consumer offsets), replaced atomically with
//! [`rmq_protocol::persist::write_atomic`] (temp file, fsync, rename): a crash leaves either the old file or the
//! new one, never a torn mix.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Why a state file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersistError {
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file exists but is not the JSON we wrote.
    #[error("{path} is not valid: {source}")]
    Corrupt {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
}

/// Writes `value` as JSON to `path` atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), PersistError> {
    let json = serde_json::to_vec_pretty(value).map_err(|source| PersistError::Corrupt {
        path: path.display().to_string(),
        source,
    })?;
    rmq_protocol::persist::write_atomic(path, &json).map_err(|e| PersistError::Io {
        path: path.display().to_string(),
        source: e.source,
    })
}

/// Reads JSON from `path`; `Ok(None)` when the file does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, PersistError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| PersistError::Corrupt {
                    path: path.display().to_string(),
                    source,
                })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PersistError::Io {
            path: path.display().to_string(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn round_trip_and_missing_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config/x.json");
        assert!(read_json::<BTreeMap<String, i64>>(&path)
            .expect("missing ok")
            .is_none());
        let mut m = BTreeMap::new();
        m.insert("a".to_string(), 1i64);
        write_json(&path, &m).expect("write");
        assert_eq!(
            read_json::<BTreeMap<String, i64>>(&path).expect("read"),
            Some(m)
        );
        std::fs::write(&path, b"{not json").expect("corrupt");
        assert!(matches!(
            read_json::<BTreeMap<String, i64>>(&path),
            Err(PersistError::Corrupt { .. })
        ));
    }
}
