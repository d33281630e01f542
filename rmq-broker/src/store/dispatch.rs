//! Dispatch ("reput"): derive ConsumeQueue entries and index keys from CommitLog records.
//!
//! Used by the writer for freshly written bytes and by recovery for bytes read back from disk, so both
//! derive the same tag code (TAGS hash, or the [`TagCodePolicy`](super::TagCodePolicy)) and the same keys
//! (`topic#key` for each KEYS entry and for UNIQ_KEY). Entries already present are skipped, which makes
//! re-dispatching a range idempotent.

use std::io;
use std::sync::Arc;

use rmq_protocol::message::stored::{peek, Peek, RecordView};
use rmq_protocol::message::sysflag::{
    transaction_value, TRANSACTION_PREPARED_TYPE, TRANSACTION_ROLLBACK_TYPE,
};

use super::consume_queue::ConsumeQueue;
use super::index::key_hash;
use super::inner::StoreInner;

/// Largest queue-offset gap recovery fills with placeholder entries; beyond it the record is not queued.
const MAX_GAP_FILL: i64 = 1_000_000;

/// Accumulates one batch of dispatch work; [`finish`](Self::finish) writes it.
pub(crate) struct Dispatcher<'a> {
    inner: &'a StoreInner,
    touched: Vec<Arc<ConsumeQueue>>,
    last_indexed: i64,
}

impl<'a> Dispatcher<'a> {
    pub(crate) fn new(inner: &'a StoreInner) -> Dispatcher<'a> {
        Dispatcher {
            inner,
            touched: Vec::new(),
            last_indexed: inner.index.last_indexed_phys(),
        }
    }

    /// Dispatches every record in `buf`, which starts at CommitLog offset `start`; stops at a blank, at
    /// zeroes, or at bytes that do not parse.
    pub(crate) fn dispatch_buffer(&mut self, buf: &[u8], start: i64) -> io::Result<()> {
        let mut pos = 0;
        while pos < buf.len() {
            match peek(&buf[pos..]) {
                Ok(Peek::Message(v)) => {
                    self.dispatch(&v, start + pos as i64)?;
                    pos += v.total_size;
                }
                Ok(Peek::Blank { .. }) | Ok(Peek::Empty) => break,
                Err(e) => {
                    tracing::error!(offset = start + pos as i64, error = %e, "undecodable record in dispatch");
                    break;
                }
            }
        }
        Ok(())
    }

    /// Dispatches one record stored at `phys`.
    pub(crate) fn dispatch(&mut self, v: &RecordView<'_>, phys: i64) -> io::Result<()> {
        let tx = transaction_value(v.sys_flag);
        if tx != TRANSACTION_PREPARED_TYPE && tx != TRANSACTION_ROLLBACK_TYPE {
            self.queue(v, phys)?;
        }
        if tx != TRANSACTION_ROLLBACK_TYPE && phys > self.last_indexed {
            let ts = v.store_timestamp;
            if let Some(u) = v.uniq_key() {
                self.inner.index.add(key_hash(v.topic, u), phys, ts)?;
            }
            for k in v.keys() {
                self.inner.index.add(key_hash(v.topic, k), phys, ts)?;
            }
            self.last_indexed = phys;
        }
        Ok(())
    }

    fn queue(&mut self, v: &RecordView<'_>, phys: i64) -> io::Result<()> {
        let cq = self.inner.find_or_create_cq(v.topic, v.queue_id)?;
        let expected = cq.max_offset() + cq.staged_count();
        if v.queue_offset < expected {
            return Ok(()); // already dispatched (recovery re-reads a range)
        }
        let mut first = false;
        if v.queue_offset > expected {
            let gap = v.queue_offset - expected;
            if gap > MAX_GAP_FILL {
                tracing::error!(
                    topic = v.topic,
                    queue_id = v.queue_id,
                    expected,
                    found = v.queue_offset,
                    phys,
                    "queue offset far ahead of the consume queue; record not queued"
                );
                return Ok(());
            }
            tracing::warn!(
                topic = v.topic,
                queue_id = v.queue_id,
                expected,
                found = v.queue_offset,
                phys,
                "gap in consume queue; filling with placeholders"
            );
            for _ in 0..gap {
                first |= cq.stage(phys, 0, 0);
            }
        }
        let tag = self
            .inner
            .cfg
            .tag_codes
            .as_ref()
            .and_then(|p| p.0.tag_code(v))
            .unwrap_or_else(|| v.tag_code());
        first |= cq.stage(phys, v.total_size as i32, tag);
        if first {
            self.touched.push(cq);
        }
        Ok(())
    }

    /// Writes staged ConsumeQueue entries and index entries, then tells the observers.
    pub(crate) fn finish(self) -> io::Result<()> {
        for cq in &self.touched {
            cq.write_staged()?;
        }
        self.inner.index.write_pending()?;
        if !self.touched.is_empty() {
            self.inner.cfg.observers.each(|o| {
                for cq in &self.touched {
                    o.on_dispatch(&cq.topic, cq.queue_id, cq.max_offset());
                }
            });
        }
        Ok(())
    }
}
