//! Atomic file replacement, for every state file rmq keeps (the broker's JSON stores, the client's broadcast
//! offsets), as Java keeps them with `MixAll.string2File`.
//!
//! [`write_atomic`] writes a sibling temp file, fsyncs it, renames it over the target and (on Unix) fsyncs
//! the directory, so a crash leaves either the old contents or the new ones, never a torn mix. What to keep
//! besides (the client's `.bak` of the last sound file) is the caller's policy, built from the same call.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Why a file could not be replaced: the step's path and the file system's error.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct WriteError {
    /// The file (or the temp file, or the directory) the failing step worked on.
    pub path: PathBuf,
    /// Cause.
    #[source]
    pub source: io::Error,
}

/// `path` with `suffix` appended to its file name (`offsets.json` + `.bak` is `offsets.json.bak`).
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn at(path: &Path) -> impl FnOnce(io::Error) -> WriteError + '_ {
    move |source| WriteError {
        path: path.to_owned(),
        source,
    }
}

/// Replaces `path` with `bytes` so a reader sees the old or the new contents, never a mix: `{path}.tmp`,
/// fsync, rename, fsync of the directory. Creates missing parent directories.
///
/// # Errors
/// [`WriteError`] naming the step's path; the previous file is then left intact (unless only the final
/// directory fsync failed, after the rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(at(dir))?;
    }
    let tmp = sibling(path, ".tmp");
    let mut file = File::create(&tmp).map_err(at(&tmp))?;
    file.write_all(bytes).map_err(at(&tmp))?;
    file.sync_all().map_err(at(&tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(at(path))?;
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Make the rename itself durable.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(at(dir))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_contents_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/state.json");
        write_atomic(&path, b"one").expect("first write");
        write_atomic(&path, b"two").expect("second write");
        assert_eq!(fs::read(&path).expect("read back"), b"two");
        assert!(!sibling(&path, ".tmp").exists());
    }

    #[test]
    fn a_failed_write_names_the_path_and_keeps_the_old_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        write_atomic(&path, b"old").expect("write");
        // The temp file's place is taken by a directory: creating it fails before the target is touched.
        fs::create_dir_all(sibling(&path, ".tmp")).expect("block the temp file");
        let err = write_atomic(&path, b"new").expect_err("temp file cannot be created");
        assert_eq!(err.path, sibling(&path, ".tmp"));
        assert_eq!(fs::read(&path).expect("read back"), b"old");
    }

    #[test]
    fn sibling_appends_to_the_file_name() {
        assert_eq!(
            sibling(Path::new("/a/offsets.json"), ".bak"),
            PathBuf::from("/a/offsets.json.bak")
        );
    }
}
