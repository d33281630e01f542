//! The store's one way to the file system: segment files (CommitLog, ConsumeQueues), IndexFiles, the
//! checkpoint and the abort marker all go through an [`Fs`].
//!
//! Production uses [`OsFs`]: positioned reads and writes on `std::fs::File`, `fdatasync`, `fallocate`, the same
//! calls the store made before the seam existed (one dynamic call per operation on top). Tests use
//! [`LazyFs`](super::lazy_fs::LazyFs), which keeps written-but-unsynced bytes apart and throws them away on a
//! simulated power cut, so a durability test can tell a synced write from one that only reached the page
//! cache (which a SIGKILL cannot).

use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One open file: positioned I/O only, so readers and the writer share it without a lock.
pub trait FileIo: Send + Sync + Debug {
    /// Reads exactly `buf.len()` bytes at `pos` (`UnexpectedEof` past the end).
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()>;
    /// Writes all of `buf` at `pos`, extending the file if needed.
    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()>;
    /// Makes every byte written so far durable (`fdatasync`).
    fn sync_data(&self) -> io::Result<()>;
    /// Current length.
    fn len(&self) -> io::Result<u64>;
    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Truncates or extends to `len` (the new length is durable once synced).
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Extends to `len` with real blocks where the file system can (`fallocate`), else like `set_len`.
    fn allocate(&self, len: u64) -> io::Result<()>;
    /// When the file was last written (expiry of CommitLog segments).
    fn modified(&self) -> io::Result<std::time::SystemTime>;
}

/// A shared open file.
pub type StoreFile = Arc<dyn FileIo>;

/// How [`Fs::open`] treats a missing or existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// The file must exist.
    Existing,
    /// Opened if it exists, created empty otherwise.
    Create,
    /// Created; an existing file is an error (`AlreadyExists`).
    CreateNew,
}

/// An entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// The entry's file name.
    pub name: String,
    /// Its full path.
    pub path: PathBuf,
    /// Whether it is a directory.
    pub is_dir: bool,
}

/// Everything the store does to files and directories.
pub trait Fs: Send + Sync + Debug {
    /// Opens a file for reading and writing.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<StoreFile>;
    /// The whole content of a file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Replaces a file's content atomically and durably: a temp file next to it, synced, then renamed over
    /// it and the directory synced. After a crash the file holds the old or the new content, never a mix.
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> io::Result<()>;
    /// Creates (or truncates) a file holding `bytes` and makes its existence durable (the abort marker).
    fn write_marker(&self, path: &Path, bytes: &[u8]) -> io::Result<()>;
    /// Whether a file or directory exists.
    fn exists(&self, path: &Path) -> bool;
    /// Removes a file; a missing one is not an error.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Removes a directory tree; a missing one is not an error.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Creates a directory and its parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// The entries of a directory (empty when it does not exist).
    fn list_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>>;
    /// Makes created and removed entries of a directory durable.
    fn sync_dir(&self, path: &Path);
    /// Takes the store's exclusive lock on `path`, held until the returned guard drops; `Ok(None)` when
    /// another process holds it.
    fn lock(&self, path: &Path) -> io::Result<Option<Box<dyn Send + Sync + Debug>>>;
    /// How full the file system holding `path` is, 0.0 to 1.0 (`diskMaxUsedSpaceRatio` is checked against it).
    fn used_ratio(&self, path: &Path) -> io::Result<f64>;
}

/// The file system the store uses; [`OsFs`] unless a test sets another.
#[derive(Debug, Clone)]
pub struct FsHandle(Arc<dyn Fs>);

impl FsHandle {
    /// Uses `fs` for every file of the store.
    pub fn new(fs: Arc<dyn Fs>) -> Self {
        FsHandle(fs)
    }
}

impl Default for FsHandle {
    fn default() -> Self {
        FsHandle(Arc::new(OsFs))
    }
}

impl std::ops::Deref for FsHandle {
    type Target = dyn Fs;
    fn deref(&self) -> &(dyn Fs + 'static) {
        &*self.0
    }
}

/// The operating system's file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsFs;

#[derive(Debug)]
struct OsFile(File);

impl FileIo for OsFile {
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        self.0.read_exact_at(buf, pos)
    }
    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        self.0.write_all_at(buf, pos)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
    fn allocate(&self, len: u64) -> io::Result<()> {
        // Real blocks, not a sparse file: writes into allocated extents skip the filesystem's delayed
        // allocation and run at page-cache speed (docs/performance.md). Without fallocate: a sparse file.
        if rustix::fs::fallocate(&self.0, rustix::fs::FallocateFlags::empty(), 0, len).is_err() {
            self.0.set_len(len)?;
        }
        Ok(())
    }
    fn modified(&self) -> io::Result<std::time::SystemTime> {
        self.0.metadata()?.modified()
    }
}

#[derive(Debug)]
struct OsLock(#[allow(dead_code)] File);

impl Fs for OsFs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<StoreFile> {
        let mut o = OpenOptions::new();
        o.read(true).write(true);
        match mode {
            OpenMode::Existing => {}
            OpenMode::Create => {
                o.create(true).truncate(false);
            }
            OpenMode::CreateNew => {
                o.create_new(true);
            }
        }
        Ok(Arc::new(OsFile(o.open(path)?)))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        rmq_protocol::persist::write_atomic(path, bytes)
            .map_err(|e| io::Error::new(e.source.kind(), e.to_string()))
    }

    fn write_marker(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        std::fs::write(path, bytes)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            self.sync_dir(dir);
        }
        Ok(())
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        match std::fs::remove_dir_all(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        let rd = match std::fs::read_dir(path) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            out.push(DirEntry {
                name,
                path: entry.path(),
                is_dir: entry.file_type()?.is_dir(),
            });
        }
        Ok(out)
    }

    fn sync_dir(&self, path: &Path) {
        if let Ok(d) = File::open(path) {
            let _ = d.sync_all();
        }
    }

    fn used_ratio(&self, path: &Path) -> io::Result<f64> {
        let s = rustix::fs::statvfs(path).map_err(io::Error::from)?;
        if s.f_blocks == 0 {
            return Ok(0.0);
        }
        let total = s.f_blocks as f64;
        let free = s.f_bfree as f64;
        Ok(((total - free) / total).clamp(0.0, 1.0))
    }

    fn lock(&self, path: &Path) -> io::Result<Option<Box<dyn Send + Sync + Debug>>> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(Box::new(OsLock(file)))),
            Err(_) => Ok(None),
        }
    }
}
