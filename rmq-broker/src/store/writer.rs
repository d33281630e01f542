//! The write path: offset assignment under a short lock, then one writer thread doing the I/O.
//!
//! `put_message` locks [`PutState`] only to assign the CommitLog offset and the queue offset, take the
//! store timestamp and encode the record into the pending [`Chunk`]s; it then waits on a oneshot. The writer
//! thread swaps the pending chunks out, writes each with one `pwrite` (chunks break only at segment ends),
//! syncs once for all of them in SYNC_FLUSH mode (group commit), publishes the written offset, dispatches
//! (ConsumeQueue, index, arrival listener) and completes the waiters. Puts arriving meanwhile fill the next
//! batch, so the batch grows with load.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmq_protocol::message::stored::{
    encode_blank, encode_stored, StoredRecord, END_FILE_MIN_BLANK_LENGTH,
};
use rmq_protocol::message::sysflag::{
    transaction_value, TRANSACTION_PREPARED_TYPE, TRANSACTION_ROLLBACK_TYPE,
};
use tokio::sync::oneshot;

use super::config::FlushDiskType;
use super::dispatch::Dispatcher;
use super::error::{Result, StoreError};
use super::inner::StoreInner;
use super::put_state::{Chunk, RunState};
use super::segment::Segment;
use super::types::{MessageToStore, PutResult};

/// What `put` computed before taking the lock.
pub(crate) struct Prepared {
    pub(crate) size: usize,
    pub(crate) crc: i32,
}

impl StoreInner {
    /// Assigns offsets and encodes `msgs` into the pending buffer, all under one short lock section.
    pub(crate) fn enqueue(
        &self,
        msgs: &[MessageToStore],
        prepared: &[Prepared],
    ) -> Result<(Vec<PutResult>, oneshot::Receiver<Result<()>>)> {
        let seg_size = self.cfg.mapped_file_size_commit_log;
        let store_host = self.cfg.store_host;
        let mut results = Vec::with_capacity(msgs.len());
        let (tx, rx) = oneshot::channel();
        {
            let mut st = self.put.lock();
            match st.run {
                RunState::Running => {}
                _ => return Err(StoreError::ShuttingDown),
            }
            if let Some(f) = &st.failed {
                return Err(StoreError::NotWritable(f.clone()));
            }
            let store_timestamp = self.cfg.clock.now_ms();
            let mut added = 0;
            for (m, p) in msgs.iter().zip(prepared) {
                let pos = st.next_phys as u64 % seg_size;
                if pos + (p.size + END_FILE_MIN_BLANK_LENGTH) as u64 > seg_size {
                    let remaining = seg_size - pos;
                    encode_blank(st.tail_chunk(8), remaining as i32);
                    st.next_phys += remaining as i64;
                    added += END_FILE_MIN_BLANK_LENGTH;
                }
                let tx_type = transaction_value(m.sys_flag);
                let counted =
                    tx_type != TRANSACTION_PREPARED_TYPE && tx_type != TRANSACTION_ROLLBACK_TYPE;
                let queue_offset = if counted {
                    let q = st.next_queue_offset(&m.topic, m.queue_id);
                    let v = *q;
                    *q += 1;
                    v
                } else {
                    0
                };
                let phys = st.next_phys;
                let rec = StoredRecord {
                    body_crc: p.crc,
                    queue_id: m.queue_id,
                    flag: m.flag,
                    queue_offset,
                    commit_log_offset: phys,
                    sys_flag: m.sys_flag,
                    born_timestamp: m.born_timestamp,
                    born_host: m.born_host,
                    store_timestamp,
                    store_host,
                    reconsume_times: m.reconsume_times,
                    prepared_transaction_offset: m.prepared_transaction_offset,
                    body: &m.body,
                    topic: &m.topic,
                    properties: &m.properties,
                };
                // Sizes were validated before locking, so encoding cannot fail here; if it somehow does, the
                // queue offset is given back and nothing was appended.
                let buf = st.tail_chunk(p.size);
                let before = buf.len();
                if let Err(e) = encode_stored(buf, &rec) {
                    buf.truncate(before);
                    if counted {
                        *st.next_queue_offset(&m.topic, m.queue_id) -= 1;
                    }
                    return Err(StoreError::InvalidConfig(e.to_string()));
                }
                st.next_phys += p.size as i64;
                added += p.size;
                results.push(PutResult {
                    phys_offset: phys,
                    queue_offset,
                    msg_id: String::new(),
                    wrote_bytes: p.size,
                    store_timestamp,
                });
            }
            st.pending += added;
            self.pending_bytes.store(st.pending, Ordering::Release);
            st.acks.push(tx);
        }
        self.writer_cv.notify_one();
        for r in &mut results {
            r.msg_id = rmq_protocol::message::create_offset_msg_id(store_host, r.phys_offset);
        }
        Ok((results, rx))
    }

    /// Writes drained chunks, syncs if SYNC_FLUSH, publishes, dispatches.
    fn write_chunks(&self, chunks: &[Chunk], end: i64) -> std::io::Result<()> {
        let mut touched: Vec<Arc<Segment>> = Vec::new();
        for c in chunks {
            if c.buf.is_empty() {
                continue;
            }
            let seg = self.commitlog.find_or_create(c.start as u64)?;
            seg.write_all_at(&c.buf, c.start as u64 - seg.start)?;
            if touched.last().is_none_or(|t| t.start != seg.start) {
                touched.push(seg);
            }
        }
        if self.cfg.flush_disk_type == FlushDiskType::Sync {
            self.sync_segments(&touched, end)?;
        }
        let from = self.written.swap(end, Ordering::AcqRel);
        if from < end {
            self.cfg.observers.each(|o| o.on_append(from, end));
        }
        if self.cfg.flush_disk_type == FlushDiskType::Sync {
            self.flushed.fetch_max(end, Ordering::AcqRel);
        }
        let mut d = Dispatcher::new(self);
        for c in chunks {
            d.dispatch_buffer(&c.buf, c.start)?;
        }
        d.finish()?;
        self.dispatched.store(end, Ordering::Release);
        Ok(())
    }
}

/// The writer thread's loop.
pub(crate) fn run(inner: Arc<StoreInner>) {
    let interval = Duration::from_millis(inner.cfg.flush_interval_ms);
    let mut last_persist = Instant::now();
    loop {
        let mut st = inner.put.lock();
        while st.chunks.is_empty() && st.run == RunState::Running {
            if inner.writer_cv.wait_for(&mut st, interval).timed_out() {
                break;
            }
        }
        if st.run == RunState::Aborted {
            return;
        }
        let draining = st.run == RunState::Draining;
        let chunks = std::mem::take(&mut st.chunks);
        let acks = std::mem::take(&mut st.acks);
        let end = st.next_phys;
        let failed = st.failed.clone();
        st.pending = 0;
        inner.pending_bytes.store(0, Ordering::Release);
        drop(st);
        inner.space.notify_waiters();

        let idle = chunks.is_empty();
        if !idle {
            let outcome = match failed {
                Some(f) => Err(StoreError::NotWritable(f)),
                None => inner.write_chunks(&chunks, end).map_err(StoreError::Io),
            };
            match outcome {
                Ok(()) => {
                    for a in acks {
                        let _ = a.send(Ok(()));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "commit log write failed; the store refuses writes until reopened");
                    inner.put.lock().failed.get_or_insert_with(|| e.to_string());
                    for a in acks {
                        let _ = a.send(Err(e.share()));
                    }
                }
            }
            let mut st = inner.put.lock();
            for mut c in chunks {
                if st.spare.len() < 4 && c.buf.capacity() <= 8 * 1024 * 1024 {
                    c.buf.clear();
                    st.spare.push(c.buf);
                }
            }
        }
        if (idle && draining) || last_persist.elapsed() >= interval {
            let upto = inner.dispatched.load(Ordering::Acquire);
            match inner.index.persist() {
                Ok(()) => inner.index_persisted.store(upto, Ordering::Release),
                Err(e) => tracing::warn!(error = %e, "index persist failed"),
            }
            last_persist = Instant::now();
        }
        if idle && draining {
            return;
        }
    }
}
