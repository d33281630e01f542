//! JSON state files (topics, subscription groups, consumer offsets, delay and timer progress, transactions),
//! replaced atomically through the store's file system ([`Fs::write_atomic`](crate::store::fs::Fs): temp
//! file, fsync, rename): a crash leaves either the old file or the new one, never a torn mix.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::store::fs::FsHandle;

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

/// A state file, on the store's file system (the operating system's, or a power-cut test's
/// [`LazyFs`](crate::store::lazy_fs::LazyFs)).
#[derive(Debug, Clone)]
pub struct StateFile {
    fs: FsHandle,
    path: PathBuf,
}

impl StateFile {
    /// `path` on `fs`.
    pub fn new(fs: FsHandle, path: PathBuf) -> Self {
        StateFile { fs, path }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `value` as JSON, atomically (the old content or the new one after a crash, never a mix).
    pub fn write_json<T: Serialize>(&self, value: &T) -> Result<(), PersistError> {
        let json = serde_json::to_vec_pretty(value).map_err(|source| PersistError::Corrupt {
            path: self.path.display().to_string(),
            source,
        })?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            self.fs
                .create_dir_all(dir)
                .map_err(|source| self.io(source))?;
        }
        self.fs
            .write_atomic(&self.path, &json)
            .map_err(|source| self.io(source))
    }

    /// Reads the JSON; `Ok(None)` when the file does not exist.
    pub fn read_json<T: DeserializeOwned>(&self) -> Result<Option<T>, PersistError> {
        match self.fs.read(&self.path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|source| PersistError::Corrupt {
                        path: self.path.display().to_string(),
                        source,
                    })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(self.io(source)),
        }
    }

    fn io(&self, source: std::io::Error) -> PersistError {
        PersistError::Io {
            path: self.path.display().to_string(),
            source,
        }
    }
}

/// The directory holding the broker's state files (`<storePathRootDir>/config`), on the store's file system.
#[derive(Debug, Clone)]
pub struct StateDir {
    fs: FsHandle,
    dir: PathBuf,
}

impl StateDir {
    /// `dir` on `fs`.
    pub fn new(fs: FsHandle, dir: PathBuf) -> Self {
        StateDir { fs, dir }
    }

    /// The file `name` in this directory.
    pub fn file(&self, name: &str) -> StateFile {
        StateFile::new(self.fs.clone(), self.dir.join(name))
    }
}

impl From<PathBuf> for StateDir {
    fn from(dir: PathBuf) -> Self {
        StateDir::new(FsHandle::default(), dir)
    }
}

impl From<&Path> for StateDir {
    fn from(dir: &Path) -> Self {
        dir.to_path_buf().into()
    }
}

impl From<&PathBuf> for StateDir {
    fn from(dir: &PathBuf) -> Self {
        dir.clone().into()
    }
}

impl From<&StateDir> for StateDir {
    fn from(dir: &StateDir) -> Self {
        dir.clone()
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
        let file = StateDir::from(dir.path().join("config")).file("x.json");
        assert!(file
            .read_json::<BTreeMap<String, i64>>()
            .expect("missing ok")
            .is_none());
        let mut m = BTreeMap::new();
        m.insert("a".to_string(), 1i64);
        file.write_json(&m).expect("write");
        assert_eq!(
            file.read_json::<BTreeMap<String, i64>>().expect("read"),
            Some(m)
        );
        std::fs::write(&path, b"{not json").expect("corrupt");
        assert!(matches!(
            file.read_json::<BTreeMap<String, i64>>(),
            Err(PersistError::Corrupt { .. })
        ));
    }
}
