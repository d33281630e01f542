//! A file system for durability tests that forgets what was not synced, as Jepsen's LazyFS does.
//!
//! Files live in memory as pages. A write lands in the file's *pending* pages, which reads see; `sync_data`
//! makes them *durable*. [`LazyFs::power_cut`] is the crash: it returns a new file system holding only the
//! durable pages (optionally with some pending pages or a prefix of one kept, a torn write-back), and the old
//! one fails every further call with EIO, so the broker that was running on it cannot touch what survived.
//!
//! Metadata is simpler than a kernel's: creating, renaming, removing a file and changing its length take
//! effect durably at once. So a state file replaced without syncing its temp file first loses its content on a
//! cut (the rename survives, the bytes do not), which is the mistake worth catching.
//!
//! [`LazyFs::inject`] makes chosen calls fail (EIO, ENOSPC) for the I/O-error tests.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::{Condvar, Mutex, RwLock, RwLockReadGuard};

use super::fs::{DirEntry, FileIo, Fs, OpenMode, StoreFile};

const PAGE: u64 = 4096;

type Page = Box<[u8; PAGE as usize]>;

fn zero_page() -> Page {
    Box::new([0u8; PAGE as usize])
}

/// One file's bytes: durable pages, pending (written, unsynced) pages over them, and the length.
#[derive(Debug, Clone)]
struct Content {
    len: u64,
    modified: SystemTime,
    durable: BTreeMap<u64, Page>,
    pending: BTreeMap<u64, Page>,
}

impl Default for Content {
    fn default() -> Self {
        Content {
            len: 0,
            modified: SystemTime::now(),
            durable: BTreeMap::new(),
            pending: BTreeMap::new(),
        }
    }
}

impl Content {
    fn page(&self, n: u64) -> Option<&Page> {
        self.pending.get(&n).or_else(|| self.durable.get(&n))
    }

    fn read(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        let end = pos
            .checked_add(buf.len() as u64)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "read past u64"))?;
        if end > self.len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "read past the end of the file",
            ));
        }
        let mut at = pos;
        let mut done = 0;
        while done < buf.len() {
            let (n, off) = (at / PAGE, (at % PAGE) as usize);
            let take = (PAGE as usize - off).min(buf.len() - done);
            match self.page(n) {
                Some(p) => buf[done..done + take].copy_from_slice(&p[off..off + take]),
                None => buf[done..done + take].fill(0),
            }
            done += take;
            at += take as u64;
        }
        Ok(())
    }

    fn write(&mut self, buf: &[u8], pos: u64) {
        let mut at = pos;
        let mut done = 0;
        while done < buf.len() {
            let (n, off) = (at / PAGE, (at % PAGE) as usize);
            let take = (PAGE as usize - off).min(buf.len() - done);
            if !self.pending.contains_key(&n) {
                let base = self.durable.get(&n).cloned().unwrap_or_else(zero_page);
                self.pending.insert(n, base);
            }
            if let Some(p) = self.pending.get_mut(&n) {
                p[off..off + take].copy_from_slice(&buf[done..done + take]);
            }
            done += take;
            at += take as u64;
        }
        self.len = self.len.max(pos + buf.len() as u64);
        self.modified = SystemTime::now();
    }

    fn sync(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        self.durable.extend(pending);
    }

    fn set_len(&mut self, len: u64) {
        if len < self.len {
            let first_gone = len.div_ceil(PAGE);
            for map in [&mut self.durable, &mut self.pending] {
                map.retain(|n, _| *n < first_gone);
                if !len.is_multiple_of(PAGE) {
                    if let Some(p) = map.get_mut(&(len / PAGE)) {
                        p[(len % PAGE) as usize..].fill(0);
                    }
                }
            }
        }
        self.len = len;
    }

    /// What a power cut leaves: the durable pages, plus what `tear` keeps of the pending ones.
    fn after_cut(&self, tear: &mut dyn FnMut(u64) -> Tear) -> Content {
        let mut durable = self.durable.clone();
        for (n, p) in &self.pending {
            match tear(*n) {
                Tear::Lose => {}
                Tear::Keep => {
                    durable.insert(*n, p.clone());
                }
                Tear::Prefix(k) => {
                    let mut page = durable.get(n).cloned().unwrap_or_else(zero_page);
                    let k = k.min(PAGE as usize);
                    page[..k].copy_from_slice(&p[..k]);
                    durable.insert(*n, page);
                }
            }
        }
        Content {
            len: self.len,
            modified: self.modified,
            durable,
            pending: BTreeMap::new(),
        }
    }
}

/// What a power cut does to one unsynced page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tear {
    /// Lost (what a cut before write-back does).
    Lose,
    /// Reached the disk anyway (written back before the cut).
    Keep,
    /// Only its first bytes reached the disk (a torn page).
    Prefix(usize),
}

/// Which calls an injected fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `write_all_at`.
    Write,
    /// `sync_data`.
    Sync,
    /// `open` (and `write_atomic`, `write_marker`).
    Open,
}

/// A fault: calls `op` on paths containing `path_part` fail with `kind` (EIO is `Other`, ENOSPC
/// `StorageFull`).
#[derive(Debug, Clone)]
pub struct Fault {
    /// The call that fails.
    pub op: Op,
    /// Only paths containing this (empty: every path).
    pub path_part: String,
    /// The error returned.
    pub kind: io::ErrorKind,
}

#[derive(Debug, Default)]
struct State {
    files: BTreeMap<PathBuf, Arc<Mutex<Content>>>,
    dirs: std::collections::BTreeSet<PathBuf>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// Whether the power was cut. Every call holds it shared for its whole duration and the cut takes it
    /// exclusively, so a call that returned Ok (a sync the broker then acknowledged) happened before the cut
    /// and is in the surviving copy.
    dead: RwLock<bool>,
    fault: Mutex<Option<Fault>>,
    /// Calls that block until `heal` or the cut (a device that stops answering).
    stall: Mutex<Option<(Op, String)>>,
    unstalled: Condvar,
    /// Set by the cut before it waits for running calls, so stalled ones wake and fail.
    cut: AtomicBool,
    /// What `used_ratio` reports, as f64 bits (a disk filling up on demand).
    used: AtomicU64,
}

impl Shared {
    fn check(&self, op: Option<Op>, path: &Path) -> io::Result<RwLockReadGuard<'_, bool>> {
        if let Some(op) = op {
            let mut stall = self.stall.lock();
            while !self.cut.load(Ordering::Acquire)
                && stall
                    .as_ref()
                    .is_some_and(|(o, part)| *o == op && path.to_string_lossy().contains(part))
            {
                self.unstalled.wait(&mut stall);
            }
        }
        let alive = self.dead.read();
        if *alive {
            return Err(io::Error::other("the power was cut"));
        }
        if let (Some(op), Some(f)) = (op, self.fault.lock().as_ref()) {
            if f.op == op && path.to_string_lossy().contains(&f.path_part) {
                return Err(io::Error::new(
                    f.kind,
                    format!("injected {:?} fault", f.kind),
                ));
            }
        }
        Ok(alive)
    }
}

/// The in-memory, forgetful file system (see the module docs). Cheap to clone; clones share files.
#[derive(Debug, Clone, Default)]
pub struct LazyFs {
    shared: Arc<Shared>,
}

impl LazyFs {
    /// An empty file system.
    pub fn new() -> Self {
        Self::default()
    }

    /// The crash: this file system fails every call from now on, and the returned one holds what survived
    /// (`tear` decides, page by page, what happens to unsynced pages; `|_| Tear::Lose` for a clean cut).
    pub fn power_cut(&self, mut tear: impl FnMut(u64) -> Tear) -> LazyFs {
        self.shared.cut.store(true, Ordering::Release);
        {
            let _stall = self.shared.stall.lock();
            self.shared.unstalled.notify_all();
        }
        let mut dead = self.shared.dead.write();
        *dead = true;
        let st = self.shared.state.lock();
        let files = st
            .files
            .iter()
            .map(|(p, c)| {
                (
                    p.clone(),
                    Arc::new(Mutex::new(c.lock().after_cut(&mut tear))),
                )
            })
            .collect();
        LazyFs {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    files,
                    dirs: st.dirs.clone(),
                }),
                dead: RwLock::new(false),
                fault: Mutex::new(None),
                stall: Mutex::new(None),
                unstalled: Condvar::new(),
                cut: AtomicBool::new(false),
                used: AtomicU64::new(self.shared.used.load(Ordering::Acquire)),
            }),
        }
    }

    /// Makes the calls `fault` names fail until [`heal`](Self::heal).
    pub fn inject(&self, fault: Fault) {
        *self.shared.fault.lock() = Some(fault);
    }

    /// Ends an injected fault and a stall.
    pub fn heal(&self) {
        *self.shared.fault.lock() = None;
        *self.shared.stall.lock() = None;
        self.shared.unstalled.notify_all();
    }

    /// Makes calls `op` on paths containing `path_part` block until [`heal`](Self::heal) (then they run)
    /// or the power cut (then they fail): a device that stops answering.
    pub fn stall(&self, op: Op, path_part: &str) {
        *self.shared.stall.lock() = Some((op, path_part.to_string()));
    }

    /// Makes the disk report itself `ratio` full (0.0 to 1.0) from now on.
    pub fn set_used_ratio(&self, ratio: f64) {
        self.shared.used.store(ratio.to_bits(), Ordering::Release);
    }

    /// Bytes written to files and not yet synced (what a cut now would lose).
    pub fn unsynced_pages(&self) -> usize {
        let st = self.shared.state.lock();
        st.files.values().map(|c| c.lock().pending.len()).sum()
    }

    fn file(&self, path: &Path) -> io::Result<Arc<Mutex<Content>>> {
        self.shared
            .state
            .lock()
            .files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, path.display().to_string()))
    }
}

#[derive(Debug)]
struct LazyFile {
    shared: Arc<Shared>,
    path: PathBuf,
    content: Arc<Mutex<Content>>,
}

impl FileIo for LazyFile {
    fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        let _alive = self.shared.check(None, &self.path)?;
        self.content.lock().read(buf, pos)
    }
    fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        let _alive = self.shared.check(Some(Op::Write), &self.path)?;
        self.content.lock().write(buf, pos);
        Ok(())
    }
    fn sync_data(&self) -> io::Result<()> {
        let _alive = self.shared.check(Some(Op::Sync), &self.path)?;
        self.content.lock().sync();
        Ok(())
    }
    fn len(&self) -> io::Result<u64> {
        let _alive = self.shared.check(None, &self.path)?;
        Ok(self.content.lock().len)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        let _alive = self.shared.check(Some(Op::Write), &self.path)?;
        self.content.lock().set_len(len);
        Ok(())
    }
    fn allocate(&self, len: u64) -> io::Result<()> {
        let _alive = self.shared.check(Some(Op::Write), &self.path)?;
        let mut c = self.content.lock();
        if c.len < len {
            c.set_len(len);
        }
        Ok(())
    }
    fn modified(&self) -> io::Result<SystemTime> {
        let _alive = self.shared.check(None, &self.path)?;
        Ok(self.content.lock().modified)
    }
}

#[derive(Debug)]
struct NoLock;

impl Fs for LazyFs {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<StoreFile> {
        let _alive = self.shared.check(Some(Op::Open), path)?;
        let mut st = self.shared.state.lock();
        let content = match (st.files.get(path).cloned(), mode) {
            (Some(_), OpenMode::CreateNew) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    path.display().to_string(),
                ))
            }
            (Some(c), _) => c,
            (None, OpenMode::Existing) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    path.display().to_string(),
                ))
            }
            (None, _) => {
                let c = Arc::new(Mutex::new(Content::default()));
                st.files.insert(path.to_path_buf(), c.clone());
                c
            }
        };
        Ok(Arc::new(LazyFile {
            shared: self.shared.clone(),
            path: path.to_path_buf(),
            content,
        }))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let _alive = self.shared.check(None, path)?;
        let f = self.file(path)?;
        let c = f.lock();
        let mut buf = vec![0u8; usize::try_from(c.len).unwrap_or(usize::MAX)];
        c.read(&mut buf, 0)?;
        Ok(buf)
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        // The same steps as the real one: temp file, sync, rename.
        let tmp = rmq_protocol::persist::sibling(path, ".tmp");
        let f = self.open(&tmp, OpenMode::Create)?;
        f.set_len(0)?;
        f.write_all_at(bytes, 0)?;
        f.sync_data()?;
        let _alive = self.shared.check(None, path)?;
        let mut st = self.shared.state.lock();
        if let Some(c) = st.files.remove(&tmp) {
            st.files.insert(path.to_path_buf(), c);
        }
        Ok(())
    }

    fn write_marker(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let f = self.open(path, OpenMode::Create)?;
        f.set_len(0)?;
        f.write_all_at(bytes, 0)?;
        f.sync_data()
    }

    fn exists(&self, path: &Path) -> bool {
        let st = self.shared.state.lock();
        st.files.contains_key(path)
            || st.dirs.contains(path)
            || st.files.keys().any(|p| p.starts_with(path))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let _alive = self.shared.check(Some(Op::Write), path)?;
        self.shared.state.lock().files.remove(path);
        Ok(())
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        let _alive = self.shared.check(Some(Op::Write), path)?;
        let mut st = self.shared.state.lock();
        st.files.retain(|p, _| !p.starts_with(path));
        st.dirs.retain(|p| !p.starts_with(path));
        Ok(())
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let _alive = self.shared.check(None, path)?;
        let mut st = self.shared.state.lock();
        let mut p = Some(path);
        while let Some(d) = p.filter(|d| !d.as_os_str().is_empty()) {
            st.dirs.insert(d.to_path_buf());
            p = d.parent();
        }
        Ok(())
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        let _alive = self.shared.check(None, path)?;
        let st = self.shared.state.lock();
        let mut names: BTreeMap<String, bool> = BTreeMap::new();
        let children = st
            .files
            .keys()
            .map(|p| (p, false))
            .chain(st.dirs.iter().map(|d| (d, true)));
        for (p, is_dir) in children {
            let Ok(rest) = p.strip_prefix(path) else {
                continue;
            };
            let mut parts = rest.components();
            let Some(first) = parts.next() else {
                continue;
            };
            let name = first.as_os_str().to_string_lossy().into_owned();
            let deeper = parts.next().is_some();
            *names.entry(name).or_insert(false) |= is_dir || deeper;
        }
        Ok(names
            .into_iter()
            .map(|(name, is_dir)| DirEntry {
                path: path.join(&name),
                name,
                is_dir,
            })
            .collect())
    }

    fn sync_dir(&self, _path: &Path) {}

    fn lock(&self, path: &Path) -> io::Result<Option<Box<dyn Send + Sync + Debug>>> {
        let _alive = self.shared.check(None, path)?;
        Ok(Some(Box::new(NoLock)))
    }

    fn used_ratio(&self, path: &Path) -> io::Result<f64> {
        let _alive = self.shared.check(None, path)?;
        Ok(f64::from_bits(self.shared.used.load(Ordering::Acquire)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(fs: &LazyFs, p: &str) -> Vec<u8> {
        fs.read(Path::new(p)).expect("read")
    }

    #[test]
    fn a_cut_keeps_synced_bytes_and_drops_the_rest() {
        let fs = LazyFs::new();
        let f = fs.open(Path::new("/s/a"), OpenMode::Create).unwrap();
        f.write_all_at(b"synced", 0).unwrap();
        f.sync_data().unwrap();
        f.write_all_at(b"-lost!", 6).unwrap();
        assert_eq!(text(&fs, "/s/a"), b"synced-lost!");
        assert_eq!(fs.unsynced_pages(), 1);
        let after = fs.power_cut(|_| Tear::Lose);
        assert!(f.write_all_at(b"x", 0).is_err(), "the old fs is dead");
        // The length survived (metadata), the unsynced bytes did not.
        assert_eq!(text(&after, "/s/a"), b"synced\0\0\0\0\0\0");
    }

    #[test]
    fn a_torn_page_keeps_a_prefix_and_writes_across_pages_read_back() {
        let fs = LazyFs::new();
        let f = fs.open(Path::new("/s/b"), OpenMode::Create).unwrap();
        let big: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        f.write_all_at(&big, 100).unwrap();
        let mut back = vec![0u8; big.len()];
        f.read_exact_at(&mut back, 100).unwrap();
        assert_eq!(back, big);
        let after = fs.power_cut(|n| {
            if n == 0 {
                Tear::Prefix(200)
            } else {
                Tear::Lose
            }
        });
        let got = text(&after, "/s/b");
        assert_eq!(&got[100..200], &big[..100]);
        assert!(got[200..].iter().all(|b| *b == 0));
    }

    #[test]
    fn atomic_replacement_survives_a_cut_and_faults_are_injected() {
        let fs = LazyFs::new();
        fs.write_atomic(Path::new("/c/topics.json"), b"{}").unwrap();
        let after = fs.power_cut(|_| Tear::Lose);
        assert_eq!(text(&after, "/c/topics.json"), b"{}");
        after.inject(Fault {
            op: Op::Sync,
            path_part: "commitlog".into(),
            kind: io::ErrorKind::StorageFull,
        });
        let f = after
            .open(Path::new("/s/commitlog/0"), OpenMode::Create)
            .unwrap();
        f.write_all_at(b"x", 0).unwrap();
        assert_eq!(
            f.sync_data().unwrap_err().kind(),
            io::ErrorKind::StorageFull
        );
        after.heal();
        f.sync_data().unwrap();
        let names: Vec<String> = after
            .list_dir(Path::new("/s"))
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["commitlog"]);
    }
}
