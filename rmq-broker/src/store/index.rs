//! IndexFile: lookup of messages by key (`topic#key` for each KEYS entry and for UNIQ_KEY), in RocketMQ's
//! on-disk format, under `<root>/index/<yyyyMMddHHmmssSSS>`.
//!
//! | part | size | contents |
//! |---|---|---|
//! | header | 40 | beginTimestamp i64, endTimestamp i64, beginPhyOffset i64, endPhyOffset i64, used slot count i32, indexCount i32 |
//! | slots | 4 × maxHashSlotNum | i32: number of the newest entry whose key hash falls in the slot (0 = empty) |
//! | entries | 20 × maxIndexNum | keyHash i32, phyOffset i64, timeDiff i32 (s since beginTimestamp), prevIndex i32 |
//!
//! Entry numbers start at 1; entries of one slot form a chain through `prevIndex`. keyHash is
//! `abs(String.hashCode(topic + "#" + key))` (0 for `i32::MIN`), slot = keyHash % maxHashSlotNum.
//!
//! Writing: only the writer thread adds entries. The active file keeps its slot table in memory; new
//! entries are written with one `pwrite` per drain, and changed slot pages plus the header are written every
//! flush interval ([`IndexService::persist`]) and when the file fills. After a crash the active file's slot
//! table is rebuilt from its entries up to the persisted header's count, and records after its
//! `endPhyOffset` are indexed again.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::RwLock;

use super::fs::{FsHandle, OpenMode, StoreFile};

const HEADER_SIZE: u64 = 40;
const SLOT_SIZE: u64 = 4;
const ENTRY_SIZE: u64 = 20;
const PAGE_SLOTS: usize = 1024;

/// The index key hash: `abs(javaHash(topic + "#" + key))`, computed without building the string.
pub(crate) fn key_hash(topic: &str, key: &str) -> i32 {
    let h = topic
        .encode_utf16()
        .chain("#".encode_utf16())
        .chain(key.encode_utf16())
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)));
    // Java: Math.abs, and MIN_VALUE (still negative) becomes 0.
    h.checked_abs().unwrap_or(0)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Header {
    begin_ts: i64,
    end_ts: i64,
    begin_phy: i64,
    end_phy: i64,
    used_slots: i32,
    count: i32,
}

impl Header {
    fn encode(&self) -> [u8; HEADER_SIZE as usize] {
        let mut b = [0u8; HEADER_SIZE as usize];
        b[0..8].copy_from_slice(&self.begin_ts.to_be_bytes());
        b[8..16].copy_from_slice(&self.end_ts.to_be_bytes());
        b[16..24].copy_from_slice(&self.begin_phy.to_be_bytes());
        b[24..32].copy_from_slice(&self.end_phy.to_be_bytes());
        b[32..36].copy_from_slice(&self.used_slots.to_be_bytes());
        b[36..40].copy_from_slice(&self.count.to_be_bytes());
        b
    }
    fn decode(b: &[u8; HEADER_SIZE as usize]) -> Header {
        let l = |at: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[at..at + 8]);
            i64::from_be_bytes(a)
        };
        let i = |at: usize| i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        Header {
            begin_ts: l(0),
            end_ts: l(8),
            begin_phy: l(16),
            end_phy: l(24),
            used_slots: i(32),
            count: i(36),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    hash: i32,
    phys: i64,
    time_diff: i32,
    prev: i32,
}

impl Entry {
    fn decode(b: &[u8]) -> Entry {
        let mut p = [0u8; 8];
        p.copy_from_slice(&b[4..12]);
        Entry {
            hash: i32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            phys: i64::from_be_bytes(p),
            time_diff: i32::from_be_bytes([b[12], b[13], b[14], b[15]]),
            prev: i32::from_be_bytes([b[16], b[17], b[18], b[19]]),
        }
    }
}

#[derive(Debug)]
struct State {
    header: Header,
    /// The slot table, in memory while the file is active.
    slots: Option<Vec<i32>>,
    dirty_pages: Vec<bool>,
    /// Entries `written..header.count`, not yet on disk.
    pending: Vec<u8>,
    written: i32,
}

/// One index file.
#[derive(Debug)]
pub(crate) struct IndexFile {
    path: PathBuf,
    file: StoreFile,
    slot_num: u32,
    max_index: u32,
    state: RwLock<State>,
}

fn expected_len(slot_num: u32, max_index: u32) -> u64 {
    HEADER_SIZE + u64::from(slot_num) * SLOT_SIZE + u64::from(max_index) * ENTRY_SIZE
}

impl IndexFile {
    fn entry_pos(&self, idx: i32) -> u64 {
        HEADER_SIZE + u64::from(self.slot_num) * SLOT_SIZE + idx.max(0) as u64 * ENTRY_SIZE
    }

    fn create(
        fs: &FsHandle,
        path: PathBuf,
        slot_num: u32,
        max_index: u32,
    ) -> io::Result<IndexFile> {
        let file = fs.open(&path, OpenMode::CreateNew)?;
        file.set_len(expected_len(slot_num, max_index))?;
        let header = Header {
            count: 1,
            ..Header::default()
        };
        file.write_all_at(&header.encode(), 0)?;
        Ok(IndexFile {
            path,
            file,
            slot_num,
            max_index,
            state: RwLock::new(State {
                header,
                slots: Some(vec![0; slot_num as usize]),
                dirty_pages: vec![false; (slot_num as usize).div_ceil(PAGE_SLOTS)],
                pending: Vec::new(),
                written: 1,
            }),
        })
    }

    /// Opens an existing file; `active` loads (or, after a crash, rebuilds) its slot table.
    fn load(
        fs: &FsHandle,
        path: PathBuf,
        slot_num: u32,
        max_index: u32,
        active: bool,
        rebuild: bool,
    ) -> io::Result<IndexFile> {
        let file = fs.open(&path, OpenMode::Existing)?;
        let len = file.len()?;
        if len != expected_len(slot_num, max_index) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("length {len} does not match maxHashSlotNum/maxIndexNum"),
            ));
        }
        let mut hb = [0u8; HEADER_SIZE as usize];
        file.read_exact_at(&mut hb, 0)?;
        let mut header = Header::decode(&hb);
        if header.count < 1 || header.count as u32 > max_index {
            tracing::warn!(file = %path.display(), count = header.count, "index header count out of range; resetting");
            header.count = header.count.clamp(1, max_index as i32);
        }
        let mut f = IndexFile {
            path,
            file,
            slot_num,
            max_index,
            state: RwLock::new(State {
                header,
                slots: None,
                dirty_pages: vec![false; (slot_num as usize).div_ceil(PAGE_SLOTS)],
                pending: Vec::new(),
                written: header.count,
            }),
        };
        if active {
            let slots = if rebuild {
                f.rebuild_slots()?
            } else {
                f.read_slots()?
            };
            let st = f.state.get_mut();
            if rebuild {
                st.dirty_pages.iter_mut().for_each(|d| *d = true);
                st.header.used_slots = slots.iter().filter(|&&s| s != 0).count() as i32;
            }
            st.slots = Some(slots);
        }
        Ok(f)
    }

    fn read_slots(&self) -> io::Result<Vec<i32>> {
        let mut raw = vec![0u8; self.slot_num as usize * SLOT_SIZE as usize];
        self.file.read_exact_at(&mut raw, HEADER_SIZE)?;
        Ok(raw
            .chunks_exact(4)
            .map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// Rebuilds the slot table from entries `1..count` (after a crash the persisted table may lag).
    fn rebuild_slots(&self) -> io::Result<Vec<i32>> {
        let count = self.state.read().header.count;
        let mut slots = vec![0i32; self.slot_num as usize];
        let mut idx = 1;
        let mut buf = vec![0u8; 64 * 1024 * ENTRY_SIZE as usize];
        while idx < count {
            let n = ((count - idx) as usize).min(64 * 1024);
            let raw = &mut buf[..n * ENTRY_SIZE as usize];
            self.file.read_exact_at(raw, self.entry_pos(idx))?;
            for (k, c) in raw.chunks_exact(ENTRY_SIZE as usize).enumerate() {
                let e = Entry::decode(c);
                let slot = (e.hash.max(0) as u32 % self.slot_num) as usize;
                slots[slot] = idx + k as i32;
            }
            idx += n as i32;
        }
        Ok(slots)
    }

    fn is_full(st: &State, max_index: u32) -> bool {
        st.header.count as u32 >= max_index
    }

    fn add(&self, st: &mut State, hash: i32, phys: i64, ts: i64) {
        let slot = (hash.max(0) as u32 % self.slot_num) as usize;
        let Some(slots) = st.slots.as_mut() else {
            return;
        };
        let prev = slots[slot];
        if st.header.count <= 1 {
            st.header.begin_ts = ts;
            st.header.begin_phy = phys;
        }
        let diff = if st.header.begin_ts <= 0 {
            0
        } else {
            ((ts - st.header.begin_ts) / 1000).clamp(0, i64::from(i32::MAX)) as i32
        };
        st.pending.extend_from_slice(&hash.to_be_bytes());
        st.pending.extend_from_slice(&phys.to_be_bytes());
        st.pending.extend_from_slice(&diff.to_be_bytes());
        st.pending.extend_from_slice(&prev.to_be_bytes());
        slots[slot] = st.header.count;
        st.dirty_pages[slot / PAGE_SLOTS] = true;
        if prev == 0 {
            st.header.used_slots += 1;
        }
        st.header.count += 1;
        st.header.end_ts = ts;
        st.header.end_phy = phys;
    }

    fn write_pending(&self, st: &mut State) -> io::Result<()> {
        if !st.pending.is_empty() {
            self.file
                .write_all_at(&st.pending, self.entry_pos(st.written))?;
            st.pending.clear();
        }
        st.written = st.header.count;
        Ok(())
    }

    /// Writes pending entries, changed slot pages (coalesced) and the header.
    fn persist(&self, st: &mut State) -> io::Result<()> {
        self.write_pending(st)?;
        if let Some(slots) = st.slots.as_ref() {
            let pages = st.dirty_pages.len();
            let mut p = 0;
            let mut raw = Vec::new();
            while p < pages {
                if !st.dirty_pages[p] {
                    p += 1;
                    continue;
                }
                let first = p;
                while p < pages && st.dirty_pages[p] {
                    p += 1;
                }
                let from = first * PAGE_SLOTS;
                let to = (p * PAGE_SLOTS).min(slots.len());
                raw.clear();
                for s in &slots[from..to] {
                    raw.extend_from_slice(&s.to_be_bytes());
                }
                self.file
                    .write_all_at(&raw, HEADER_SIZE + from as u64 * SLOT_SIZE)?;
            }
            st.dirty_pages.iter_mut().for_each(|d| *d = false);
        }
        self.file.write_all_at(&st.header.encode(), 0)
    }

    fn entry(&self, st: &State, idx: i32) -> Option<Entry> {
        if idx < 1 || idx >= st.header.count {
            return None;
        }
        if idx >= st.written {
            let at = (idx - st.written) as usize * ENTRY_SIZE as usize;
            return st
                .pending
                .get(at..at + ENTRY_SIZE as usize)
                .map(Entry::decode);
        }
        let mut b = [0u8; ENTRY_SIZE as usize];
        self.file.read_exact_at(&mut b, self.entry_pos(idx)).ok()?;
        Some(Entry::decode(&b))
    }

    fn slot_value(&self, st: &State, slot: usize) -> i32 {
        match st.slots.as_ref() {
            Some(s) => s[slot],
            None => {
                let mut b = [0u8; 4];
                match self
                    .file
                    .read_exact_at(&mut b, HEADER_SIZE + slot as u64 * SLOT_SIZE)
                {
                    Ok(()) => i32::from_be_bytes(b),
                    Err(_) => 0,
                }
            }
        }
    }
}

/// Formats epoch ms as `yyyyMMddHHmmssSSS` (UTC), the index file name.
fn timestamp_name(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}{:03}",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

/// All index files, oldest first; the last one is active.
#[derive(Debug)]
pub(crate) struct IndexService {
    fs: FsHandle,
    dir: PathBuf,
    slot_num: u32,
    max_index: u32,
    files: RwLock<Vec<Arc<IndexFile>>>,
}

impl IndexService {
    /// Opens the index directory; `crashed` rebuilds the active file's slot table from its entries.
    pub(crate) fn open(
        fs: FsHandle,
        dir: PathBuf,
        slot_num: u32,
        max_index: u32,
        crashed: bool,
    ) -> io::Result<IndexService> {
        fs.create_dir_all(&dir)?;
        let mut names: Vec<(String, PathBuf)> = fs
            .list_dir(&dir)?
            .into_iter()
            .filter(|e| {
                !e.is_dir && e.name.len() == 17 && e.name.bytes().all(|b| b.is_ascii_digit())
            })
            .map(|e| (e.name, e.path))
            .collect();
        names.sort();
        let mut files = Vec::new();
        let n = names.len();
        for (i, (_, path)) in names.into_iter().enumerate() {
            let active = i + 1 == n;
            match IndexFile::load(
                &fs,
                path.clone(),
                slot_num,
                max_index,
                active,
                crashed && active,
            ) {
                Ok(f) => {
                    let full = IndexFile::is_full(&f.state.read(), max_index);
                    if active && full {
                        f.state.write().slots = None;
                    }
                    files.push(Arc::new(f))
                }
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "ignoring unusable index file")
                }
            }
        }
        Ok(IndexService {
            fs,
            dir,
            slot_num,
            max_index,
            files: RwLock::new(files),
        })
    }

    /// CommitLog offset of the last indexed record (-1 when nothing is indexed).
    pub(crate) fn last_indexed_phys(&self) -> i64 {
        let files = self.files.read();
        for f in files.iter().rev() {
            let st = f.state.read();
            if st.header.count > 1 {
                return st.header.end_phy;
            }
        }
        -1
    }

    /// (endTimestamp, endPhyOffset) of the newest file: QUERY_MESSAGE's `indexLastUpdate*` fields.
    pub(crate) fn last_update(&self) -> (i64, i64) {
        match self.files.read().last() {
            Some(f) => {
                let st = f.state.read();
                (st.header.end_ts, st.header.end_phy)
            }
            None => (0, 0),
        }
    }

    /// Number of index files.
    pub(crate) fn file_count(&self) -> usize {
        self.files.read().len()
    }

    fn new_file(&self, ts: i64) -> io::Result<Arc<IndexFile>> {
        let mut ms = ts;
        loop {
            let path = self.dir.join(timestamp_name(ms));
            if !self.fs.exists(&path) {
                return Ok(Arc::new(IndexFile::create(
                    &self.fs,
                    path,
                    self.slot_num,
                    self.max_index,
                )?));
            }
            ms += 1;
        }
    }

    /// Adds one key (writer thread only).
    pub(crate) fn add(&self, hash: i32, phys: i64, ts: i64) -> io::Result<()> {
        let active = self.files.read().last().cloned();
        let usable = active.as_ref().is_some_and(|f| {
            let st = f.state.read();
            st.slots.is_some() && !IndexFile::is_full(&st, self.max_index)
        });
        let active = match active {
            Some(f) if usable => f,
            other => {
                if let Some(old) = other {
                    let mut st = old.state.write();
                    old.persist(&mut st)?;
                    old.file.sync_data()?;
                    st.slots = None;
                }
                let f = self.new_file(ts)?;
                self.files.write().push(f.clone());
                f
            }
        };
        let mut st = active.state.write();
        active.add(&mut st, hash, phys, ts);
        Ok(())
    }

    /// Writes entries added since the last call (writer thread, once per drain).
    pub(crate) fn write_pending(&self) -> io::Result<()> {
        if let Some(f) = self.files.read().last() {
            let mut st = f.state.write();
            f.write_pending(&mut st)?;
        }
        Ok(())
    }

    /// Writes the active file's slot pages and header (writer thread).
    pub(crate) fn persist(&self) -> io::Result<()> {
        if let Some(f) = self.files.read().last() {
            let mut st = f.state.write();
            f.persist(&mut st)?;
        }
        Ok(())
    }

    /// `fsync`s the active file.
    pub(crate) fn sync(&self) -> io::Result<()> {
        let last = self.files.read().last().cloned();
        if let Some(f) = last {
            f.file.sync_data()?;
        }
        Ok(())
    }

    /// Walks every entry for `hash` whose time is in `[begin, end]` (with a second of slack for timeDiff's
    /// rounding), newest first, calling `visit` with its CommitLog offset until it returns false.
    pub(crate) fn query(
        &self,
        hash: i32,
        begin: i64,
        end: i64,
        visit: &mut dyn FnMut(i64) -> bool,
    ) {
        let files: Vec<_> = self.files.read().iter().rev().cloned().collect();
        let (begin, end) = (begin.saturating_sub(1000), end.saturating_add(1000));
        for f in files {
            let st = f.state.read();
            let h = st.header;
            if h.count <= 1 || h.end_ts < begin || h.begin_ts > end {
                continue;
            }
            let slot = (hash.max(0) as u32 % f.slot_num) as usize;
            let mut idx = f.slot_value(&st, slot);
            let mut steps = 0u32;
            while idx >= 1 && idx < h.count && steps < f.max_index {
                steps += 1;
                let Some(e) = f.entry(&st, idx) else { break };
                let t = h.begin_ts.saturating_add(i64::from(e.time_diff) * 1000);
                if t < begin {
                    break; // chains run newest to oldest
                }
                if e.hash == hash && t <= end && !visit(e.phys) {
                    return;
                }
                if e.prev >= idx {
                    break; // a chain only points backwards; anything else is damage
                }
                idx = e.prev;
            }
        }
    }

    /// Deletes files (never the active one) whose last record is below `min_phys`.
    pub(crate) fn delete_below(&self, min_phys: i64) -> usize {
        let mut files = self.files.write();
        let mut deleted = 0;
        while files.len() > 1 {
            let end_phy = files[0].state.read().header.end_phy;
            if end_phy >= min_phys {
                break;
            }
            let f = files.remove(0);
            if let Err(e) = self.fs.remove_file(&f.path) {
                tracing::warn!(file = %f.path.display(), error = %e, "cannot delete index file");
            }
            deleted += 1;
        }
        deleted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_key_hash() {
        // "T#k".hashCode() = ((84*31)+35)*31+107
        assert_eq!(key_hash("T", "k"), (84 * 31 + 35) * 31 + 107);
        let h = key_hash("TopicTest", "OrderID188");
        assert!(h >= 0);
    }

    #[test]
    fn names() {
        assert_eq!(timestamp_name(0), "19700101000000000");
        assert_eq!(timestamp_name(1_710_504_123_456), "20240315120203456");
    }

    #[test]
    fn add_query_roll_reload() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("index");
        let svc = IndexService::open(FsHandle::default(), p.clone(), 8, 5, false).unwrap();
        let base = 1_700_000_000_000;
        for i in 0..10i64 {
            svc.add(
                key_hash("T", &format!("k{}", i % 3)),
                i * 100,
                base + i * 1000,
            )
            .unwrap();
            svc.write_pending().unwrap();
        }
        // 4 entries per file (count starts at 1, max 5).
        assert_eq!(svc.file_count(), 3);
        let mut got = Vec::new();
        svc.query(key_hash("T", "k1"), 0, i64::MAX, &mut |p| {
            got.push(p);
            true
        });
        assert_eq!(got, vec![700, 400, 100]);
        got.clear();
        svc.query(key_hash("T", "k1"), base + 3000, base + 5000, &mut |p| {
            got.push(p);
            true
        });
        assert_eq!(got, vec![400]);
        svc.persist().unwrap();
        assert_eq!(svc.last_indexed_phys(), 900);
        drop(svc);
        for crashed in [false, true] {
            let svc = IndexService::open(FsHandle::default(), p.clone(), 8, 5, crashed).unwrap();
            let mut got = Vec::new();
            svc.query(key_hash("T", "k0"), 0, i64::MAX, &mut |p| {
                got.push(p);
                true
            });
            assert_eq!(got, vec![900, 600, 300, 0], "crashed={crashed}");
        }
        let svc = IndexService::open(FsHandle::default(), p, 8, 5, false).unwrap();
        assert_eq!(svc.delete_below(500), 1);
        assert_eq!(svc.file_count(), 2);
    }
}
