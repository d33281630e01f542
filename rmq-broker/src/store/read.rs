//! Reads: pulls from a ConsumeQueue, records by CommitLog offset, offsets by time, messages by key.
//!
//! Reads only look below the published written offset and never take the put lock. Adjacent records of
//! one pull are fetched with a single `pread` and handed out as slices of that buffer.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use rmq_protocol::message::properties;
use rmq_protocol::message::stored::{
    parse_view, store_timestamp_pos, MESSAGE_MAGIC_CODE_V1, MESSAGE_MAGIC_CODE_V2, MIN_RECORD_SIZE,
    POS_SYS_FLAG,
};

use super::consume_queue::CqEntry;
use super::index::key_hash;
use super::inner::StoreInner;
use super::types::{GetMessageResult, GetMessageStatus, QueryMessageResult};
use super::MessageStore;

impl StoreInner {
    /// Reads `len` bytes at CommitLog offset `phys` if they are readable (not removed, fully written,
    /// within one segment).
    pub(crate) fn read_commit_log(&self, phys: i64, len: usize) -> Option<Bytes> {
        if phys < self.min_phys.load(Ordering::Acquire) || len == 0 {
            return None;
        }
        if phys + len as i64 > self.written.load(Ordering::Acquire) {
            return None;
        }
        self.commitlog.read(phys as u64, len).ok().map(Bytes::from)
    }

    /// Store timestamp of the record at `phys` (one small read).
    fn store_timestamp_at(&self, phys: i64) -> Option<i64> {
        let head = self.read_commit_log(phys, 76)?;
        let sys_flag =
            i32::from_be_bytes(head.get(POS_SYS_FLAG..POS_SYS_FLAG + 4)?.try_into().ok()?);
        let at = store_timestamp_pos(sys_flag);
        Some(i64::from_be_bytes(head.get(at..at + 8)?.try_into().ok()?))
    }

    /// The whole record starting at `phys`, verified to be a record start.
    pub(crate) fn record_at(&self, phys: i64) -> Option<Bytes> {
        let head = self.read_commit_log(phys, 8)?;
        let size = i32::from_be_bytes(head[0..4].try_into().ok()?);
        let magic = i32::from_be_bytes(head[4..8].try_into().ok()?);
        if magic != MESSAGE_MAGIC_CODE_V1 && magic != MESSAGE_MAGIC_CODE_V2 {
            return None;
        }
        let size = usize::try_from(size)
            .ok()
            .filter(|&s| s >= MIN_RECORD_SIZE)?;
        let rec = self.read_commit_log(phys, size)?;
        let v = parse_view(&rec).ok()?;
        (v.commit_log_offset == phys).then_some(rec)
    }
}

/// The two stages of a read's filter, as RocketMQ's `MessageFilter`: the tag code from the ConsumeQueue entry
/// (cheap, decides whether the record is read at all) and the stored record itself (after reading, e.g. a
/// SQL92 selector over its properties).
///
/// Records rejected by either stage still count as scanned: the pull's `next_begin_offset` moves past them,
/// they do not count against `max_msgs`/`max_bytes`, and a pull that found only rejected records answers
/// [`GetMessageStatus::NoMatchedMessage`].
#[derive(Clone, Copy)]
pub struct ReadFilter<'a> {
    /// Keeps a ConsumeQueue entry by its tag code.
    pub tag_code: &'a dyn Fn(i64) -> bool,
    /// Keeps a stored record (its whole bytes, as [`rmq_protocol::message::stored::parse_view`] reads them).
    pub record: &'a dyn Fn(&[u8]) -> bool,
}

impl std::fmt::Debug for ReadFilter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReadFilter")
    }
}

/// What [`StoreInner::read_planned`] could not deliver.
struct PlannedRead {
    /// Some record failed the record stage of the filter.
    rejected: bool,
    /// Some record could not be read (its segment was removed meanwhile).
    unreadable: bool,
}

impl StoreInner {
    /// Reads `planned` entries (runs of adjacent records with one `pread` each) and appends those passing
    /// `keep` to `r` as slices of the read buffers.
    fn read_planned(
        &self,
        topic: &str,
        queue_id: i32,
        planned: &[CqEntry],
        r: &mut GetMessageResult,
        keep: &dyn Fn(&[u8]) -> bool,
    ) -> PlannedRead {
        let mut out = PlannedRead {
            rejected: false,
            unreadable: false,
        };
        let fs = self.cfg.mapped_file_size_commit_log as i64;
        let mut i = 0;
        while i < planned.len() {
            let start = planned[i].phys_offset;
            let mut end = start + i64::from(planned[i].size);
            let mut j = i + 1;
            while j < planned.len()
                && planned[j].phys_offset == end
                && (end + i64::from(planned[j].size) - 1) / fs == start / fs
                && end + i64::from(planned[j].size) - start <= 4 << 20
            {
                end += i64::from(planned[j].size);
                j += 1;
            }
            match self.read_commit_log(start, (end - start) as usize) {
                Some(buf) => {
                    let mut at = 0usize;
                    for e in &planned[i..j] {
                        let size = e.size as usize;
                        let record = buf
                            .get(at..at + size)
                            .filter(|rec| rec.get(0..4) == Some(&e.size.to_be_bytes()[..]));
                        match record {
                            None => tracing::warn!(
                                topic,
                                queue_id,
                                phys = e.phys_offset,
                                "consume queue entry does not match the commit log"
                            ),
                            Some(rec) if keep(rec) => {
                                r.messages.push(buf.slice(at..at + size));
                                r.buffer_total_size += size;
                            }
                            Some(_) => out.rejected = true,
                        }
                        at += size;
                    }
                }
                None => out.unreadable = true,
            }
            i = j;
        }
        out
    }
}

impl MessageStore {
    /// Reads up to `max_msgs` messages (and `max_bytes`, both capped by the config) from a queue, starting at
    /// queue offset `offset`, keeping those whose tag code passes `filter`.
    pub fn get_messages(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max_msgs: i32,
        max_bytes: usize,
        filter: &dyn Fn(i64) -> bool,
    ) -> GetMessageResult {
        let filter = ReadFilter {
            tag_code: filter,
            record: &|_| true,
        };
        self.get_messages_filtered(topic, queue_id, offset, max_msgs, max_bytes, filter)
    }

    /// [`MessageStore::get_messages`] with a second, record-level stage (see [`ReadFilter`]): each record
    /// whose tag code passes is read and handed to `filter.record`; the kept ones are slices of the read
    /// buffer (no copy).
    pub fn get_messages_filtered(
        &self,
        topic: &str,
        queue_id: i32,
        offset: i64,
        max_msgs: i32,
        max_bytes: usize,
        filter: ReadFilter<'_>,
    ) -> GetMessageResult {
        let inner = &self.inner;
        let mut r = GetMessageResult {
            status: GetMessageStatus::NoMatchedLogicQueue,
            next_begin_offset: 0,
            min_offset: 0,
            max_offset: 0,
            messages: Vec::new(),
            buffer_total_size: 0,
        };
        let Some(cq) = inner.find_cq(topic, queue_id) else {
            return r;
        };
        let (min, max) = (cq.min_offset(), cq.max_offset());
        r.min_offset = min;
        r.max_offset = max;
        if max == 0 {
            r.status = GetMessageStatus::NoMessageInQueue;
            r.next_begin_offset = 0;
            return r;
        }
        if offset < min {
            r.status = GetMessageStatus::OffsetTooSmall;
            r.next_begin_offset = min;
            return r;
        }
        if offset == max {
            r.status = GetMessageStatus::OffsetOverflowOne;
            r.next_begin_offset = offset;
            return r;
        }
        if offset > max {
            r.status = GetMessageStatus::OffsetOverflowBadly;
            r.next_begin_offset = if min == 0 { min } else { max };
            return r;
        }

        let max_msgs = max_msgs.clamp(1, inner.cfg.max_transfer_count_on_message.max(1)) as usize;
        let max_bytes = max_bytes
            .min(inner.cfg.max_transfer_bytes_on_message)
            .max(1);
        let scan = max_msgs.max(800);
        let entries = match cq.read_entries(offset, scan) {
            Ok(e) if !e.is_empty() => e,
            _ => {
                r.status = GetMessageStatus::OffsetFoundNull;
                r.next_begin_offset = offset;
                return r;
            }
        };
        let commit_min = inner.min_phys.load(Ordering::Acquire);
        let written = inner.written.load(Ordering::Acquire);
        let mut consumed = 0i64;
        let mut pos = 0usize;
        let mut filtered = false;
        let mut removing = false;
        // Plan a window of entries as if every planned record will also pass the record stage, read it, keep
        // what passes, and plan the next window from the real totals. Each entry is thus judged "batch full"
        // exactly as a one-by-one scan would (the planned totals are never below the real ones).
        loop {
            let mut window: Vec<CqEntry> = Vec::new();
            let mut window_bytes = 0usize;
            while let Some(e) = entries.get(pos) {
                if e.size <= 0 {
                    consumed += 1;
                    pos += 1;
                    continue;
                }
                if e.phys_offset < commit_min {
                    removing = true;
                    consumed += 1;
                    pos += 1;
                    continue;
                }
                if e.phys_offset + i64::from(e.size) > written {
                    break;
                }
                let size = e.size as usize;
                let count = r.messages.len() + window.len();
                if count > 0
                    && (count >= max_msgs || r.buffer_total_size + window_bytes + size > max_bytes)
                {
                    break;
                }
                consumed += 1;
                pos += 1;
                if !(filter.tag_code)(e.tag_code) {
                    filtered = true;
                    continue;
                }
                window_bytes += size;
                window.push(*e);
            }
            if window.is_empty() {
                break;
            }
            let kept = inner.read_planned(topic, queue_id, &window, &mut r, filter.record);
            filtered |= kept.rejected;
            removing |= kept.unreadable;
        }
        r.next_begin_offset = offset + consumed;
        r.status = if !r.messages.is_empty() {
            GetMessageStatus::Found
        } else if filtered {
            GetMessageStatus::NoMatchedMessage
        } else if removing {
            GetMessageStatus::MessageWasRemoving
        } else {
            GetMessageStatus::OffsetFoundNull
        };
        r
    }

    /// Next queue offset of a queue (0 if unknown).
    pub fn max_offset_in_queue(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner
            .find_cq(topic, queue_id)
            .map(|c| c.max_offset())
            .unwrap_or(0)
    }

    /// First readable queue offset of a queue (0 if unknown).
    pub fn min_offset_in_queue(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner
            .find_cq(topic, queue_id)
            .map(|c| c.min_offset())
            .unwrap_or(0)
    }

    /// The queue offset of the first message stored at or after `timestamp` (`upper_boundary == false`,
    /// or the max offset if none), or of the last message stored at or before it (`true`, or the min
    /// offset if none). Binary search over store timestamps.
    pub fn offset_by_time(
        &self,
        topic: &str,
        queue_id: i32,
        timestamp: i64,
        upper_boundary: bool,
    ) -> i64 {
        let inner = &self.inner;
        let Some(cq) = inner.find_cq(topic, queue_id) else {
            return 0;
        };
        let (min, max) = (cq.min_offset(), cq.max_offset());
        if min >= max {
            return max;
        }
        let ts = |i: i64| -> i64 {
            cq.entry(i)
                .and_then(|e| inner.store_timestamp_at(e.phys_offset))
                .unwrap_or(i64::MIN)
        };
        if upper_boundary {
            // Last index with ts <= timestamp.
            let (mut lo, mut hi) = (min, max); // answer in [min-1, max-1]
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if ts(mid) <= timestamp {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            (lo - 1).max(min)
        } else {
            // First index with ts >= timestamp.
            let (mut lo, mut hi) = (min, max);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if ts(mid) < timestamp {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            lo
        }
    }

    /// Store timestamp of the message at queue offset `offset` (Java's `getMessageStoreTimeStamp`); `None` when
    /// the queue has no such entry or its record is gone.
    pub fn store_time_at(&self, topic: &str, queue_id: i32, offset: i64) -> Option<i64> {
        let cq = self.inner.find_cq(topic, queue_id)?;
        if offset < cq.min_offset() || offset >= cq.max_offset() {
            return None;
        }
        let e = cq.entry(offset)?;
        self.inner.store_timestamp_at(e.phys_offset)
    }

    /// Store timestamp of the first readable message of a queue.
    pub fn earliest_message_time(&self, topic: &str, queue_id: i32) -> Option<i64> {
        let cq = self.inner.find_cq(topic, queue_id)?;
        let min = cq.min_offset();
        if min >= cq.max_offset() {
            return None;
        }
        let e = cq.entry(min)?;
        self.inner.store_timestamp_at(e.phys_offset)
    }

    /// The record starting at CommitLog offset `phys_offset` (VIEW_MESSAGE_BY_ID), `None` unless a whole
    /// valid record starts exactly there.
    pub fn message_at(&self, phys_offset: i64) -> Option<Bytes> {
        self.inner.record_at(phys_offset)
    }

    /// Messages of `topic` whose KEYS contain `key` or whose UNIQ_KEY is `key`, stored within
    /// `[begin, end]` (ms), newest first, at most `max_num`. Hash collisions are filtered out.
    pub fn query_messages(
        &self,
        topic: &str,
        key: &str,
        max_num: usize,
        begin: i64,
        end: i64,
    ) -> QueryMessageResult {
        let inner = &self.inner;
        let (ts, phy) = inner.index.last_update();
        let mut out = QueryMessageResult {
            messages: Vec::new(),
            index_last_update_timestamp: ts,
            index_last_update_phy_offset: phy,
        };
        if max_num == 0 {
            return out;
        }
        let mut seen = HashSet::new();
        inner
            .index
            .query(key_hash(topic, key), begin, end, &mut |phys| {
                if !seen.insert(phys) {
                    return true;
                }
                if let Some(rec) = inner.record_at(phys) {
                    if let Ok(v) = parse_view(&rec) {
                        let key_match = v.uniq_key() == Some(key)
                            || properties::find(v.properties, properties::KEYS)
                                .is_some_and(|ks| ks.split(' ').any(|k| k == key));
                        if v.topic == topic
                            && key_match
                            && v.store_timestamp >= begin
                            && v.store_timestamp <= end
                        {
                            out.messages.push(rec);
                        }
                    }
                }
                out.messages.len() < max_num
            });
        out
    }
}
