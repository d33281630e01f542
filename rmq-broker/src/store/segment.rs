//! Directories of fixed-size files named by their 20-digit, zero-padded start offset.
//!
//! Shared by the CommitLog (`00000000000000000000`, `00000000001073741824`, ...) and the ConsumeQueues, as
//! RocketMQ names both. All access is positioned I/O on a shared `File` (`pread`/`pwrite`), so readers never
//! take a lock across I/O and never block the writer.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;

use super::fs::{FsHandle, OpenMode, StoreFile};
use super::observer::Observers;

/// The file name of a segment starting at `offset`.
pub(crate) fn file_name(offset: u64) -> String {
    format!("{offset:020}")
}

/// The start offset named by a segment file name, `None` for anything else.
pub(crate) fn parse_name(name: &str) -> Option<u64> {
    if name.len() == 20 && name.bytes().all(|b| b.is_ascii_digit()) {
        name.parse().ok()
    } else {
        None
    }
}

/// Segment files in `dir`, sorted by start offset; other files are ignored.
pub(crate) fn list(fs: &FsHandle, dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs.list_dir(dir)? {
        if let Some(start) = parse_name(&entry.name).filter(|_| !entry.is_dir) {
            out.push((start, entry.path));
        }
    }
    out.sort_by_key(|(s, _)| *s);
    Ok(out)
}

/// One open segment file.
#[derive(Debug)]
pub(crate) struct Segment {
    /// First offset held by this file.
    pub(crate) start: u64,
    /// Path, for logs and deletion.
    pub(crate) path: PathBuf,
    /// The open file (read + write).
    pub(crate) file: StoreFile,
}

impl Segment {
    /// Opens (or creates) the segment starting at `start` in `dir`; a new file is extended to `prealloc`.
    pub(crate) fn open(
        fs: &FsHandle,
        dir: &Path,
        start: u64,
        prealloc: Option<u64>,
    ) -> io::Result<Segment> {
        let path = dir.join(file_name(start));
        let file = fs.open(&path, OpenMode::Create)?;
        if let Some(len) = prealloc {
            if file.len()? < len {
                file.allocate(len)?;
            }
        }
        Ok(Segment { start, path, file })
    }

    /// Reads exactly `buf.len()` bytes at file position `pos`.
    pub(crate) fn read_exact_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, pos)
    }

    /// Writes all of `buf` at file position `pos`.
    pub(crate) fn write_all_at(&self, buf: &[u8], pos: u64) -> io::Result<()> {
        self.file.write_all_at(buf, pos)
    }

    /// Current file length.
    pub(crate) fn len(&self) -> io::Result<u64> {
        self.file.len()
    }
}

/// The segments of one directory, by start offset.
#[derive(Debug)]
pub(crate) struct SegmentSet {
    pub(crate) dir: PathBuf,
    pub(crate) file_size: u64,
    pub(crate) fs: FsHandle,
    prealloc: bool,
    segs: RwLock<BTreeMap<u64, Arc<Segment>>>,
    observers: Observers,
}

impl SegmentSet {
    /// Opens every segment already in `dir` (creating `dir` if needed).
    pub(crate) fn open(
        fs: FsHandle,
        dir: PathBuf,
        file_size: u64,
        prealloc: bool,
    ) -> io::Result<SegmentSet> {
        fs.create_dir_all(&dir)?;
        let mut segs = BTreeMap::new();
        for (start, _) in list(&fs, &dir)? {
            let seg = Segment::open(&fs, &dir, start, None)?;
            segs.insert(start, Arc::new(seg));
        }
        Ok(SegmentSet {
            dir,
            file_size,
            fs,
            prealloc,
            segs: RwLock::new(segs),
            observers: Observers::default(),
        })
    }

    /// Tells `observers` of segments created and removed from now on.
    pub(crate) fn observed_by(mut self, observers: Observers) -> SegmentSet {
        self.observers = observers;
        self
    }

    /// Start offset of the segment that holds `offset`.
    pub(crate) fn segment_start(&self, offset: u64) -> u64 {
        offset - offset % self.file_size
    }

    /// The segment holding `offset`, if it exists.
    pub(crate) fn find(&self, offset: u64) -> Option<Arc<Segment>> {
        self.segs.read().get(&self.segment_start(offset)).cloned()
    }

    /// The segment holding `offset`, created (and preallocated) if missing.
    pub(crate) fn find_or_create(&self, offset: u64) -> io::Result<Arc<Segment>> {
        let start = self.segment_start(offset);
        if let Some(s) = self.segs.read().get(&start) {
            return Ok(s.clone());
        }
        // Opened (and allocated, which can take a while) outside the lock, so readers and the writer keep going
        // while the flush thread creates the next segment; two racing creators open the same file harmlessly.
        let seg = Arc::new(Segment::open(
            &self.fs,
            &self.dir,
            start,
            self.prealloc.then_some(self.file_size),
        )?);
        let (seg, created) = match self.segs.write().entry(start) {
            std::collections::btree_map::Entry::Occupied(e) => (e.get().clone(), false),
            std::collections::btree_map::Entry::Vacant(e) => (e.insert(seg).clone(), true),
        };
        if created {
            self.observers.each(|o| o.on_segment_created(start));
        }
        Ok(seg)
    }

    /// All segments in order.
    pub(crate) fn all(&self) -> Vec<Arc<Segment>> {
        self.segs.read().values().cloned().collect()
    }

    /// The first segment.
    pub(crate) fn first(&self) -> Option<Arc<Segment>> {
        self.segs.read().values().next().cloned()
    }

    /// The last segment.
    pub(crate) fn last(&self) -> Option<Arc<Segment>> {
        self.segs.read().values().next_back().cloned()
    }

    /// Number of segments.
    pub(crate) fn count(&self) -> usize {
        self.segs.read().len()
    }

    /// Removes the segment starting at `start` from the set and deletes its file.
    ///
    /// Readers holding the `Arc` keep reading the unlinked file until they drop it.
    pub(crate) fn remove(&self, start: u64) -> io::Result<()> {
        let seg = self.segs.write().remove(&start);
        if let Some(seg) = seg {
            self.fs.remove_file(&seg.path)?;
            self.observers.each(|o| o.on_segment_removed(start));
        }
        Ok(())
    }

    /// Reads `len` bytes at logical `offset`, which must not cross a segment boundary.
    pub(crate) fn read(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let seg = self.find(offset).ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "no segment holds this offset")
        })?;
        let pos = offset - seg.start;
        if pos + len as u64 > self.file_size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "read crosses a segment boundary",
            ));
        }
        let mut buf = vec![0u8; len];
        seg.read_exact_at(&mut buf, pos)?;
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(file_name(0), "00000000000000000000");
        assert_eq!(file_name(1 << 30), "00000000001073741824");
        assert_eq!(parse_name("00000000001073741824"), Some(1 << 30));
        assert_eq!(parse_name("0000000000107374182"), None);
        assert_eq!(parse_name("0000000000107374182x"), None);
        assert_eq!(parse_name("00000000001073741824.tmp"), None);
    }

    #[test]
    fn set_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let set = SegmentSet::open(FsHandle::default(), dir.path().join("s"), 100, true).unwrap();
        assert!(set.find(150).is_none());
        let seg = set.find_or_create(150).unwrap();
        assert_eq!(seg.start, 100);
        assert_eq!(seg.len().unwrap(), 100);
        seg.write_all_at(b"abc", 50).unwrap();
        assert_eq!(set.read(150, 3).unwrap(), b"abc");
        assert!(set.read(199, 2).is_err());
        set.find_or_create(0).unwrap();
        drop(set);
        let set = SegmentSet::open(FsHandle::default(), dir.path().join("s"), 100, true).unwrap();
        assert_eq!(set.count(), 2);
        assert_eq!(set.first().unwrap().start, 0);
        set.remove(0).unwrap();
        assert_eq!(set.count(), 1);
        assert_eq!(
            list(&FsHandle::default(), &dir.path().join("s"))
                .unwrap()
                .len(),
            1
        );
    }
}
