//! What the put lock guards: offset assignment, queued chunks and their acks, the writer's lifecycle.

use std::collections::HashMap;

use bytes::BytesMut;
use tokio::sync::oneshot;

use super::error::Result;

/// Bytes for the CommitLog at `start`, contiguous within one segment.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub(crate) start: i64,
    pub(crate) buf: BytesMut,
}

/// Completes one `put_message(s)` call.
pub(crate) type Ack = oneshot::Sender<Result<()>>;

/// Lifecycle of the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunState {
    Running,
    /// Shutdown: refuse new puts, write what is queued, then stop.
    Draining,
    /// Dropped without shutdown: stop at once (what is queued is lost, as in a crash).
    Aborted,
}

/// Everything the put lock guards.
#[derive(Debug)]
pub(crate) struct PutState {
    /// Next CommitLog offset to assign (includes queued bytes).
    pub(crate) next_phys: i64,
    /// Next queue offset per topic and queue.
    pub(crate) queue_offsets: HashMap<String, HashMap<i32, i64>>,
    pub(crate) chunks: Vec<Chunk>,
    pub(crate) pending: usize,
    pub(crate) acks: Vec<Ack>,
    pub(crate) run: RunState,
    /// Set after a failed write: the store refuses writes until reopened.
    pub(crate) failed: Option<String>,
    /// Buffers returned by the writer for reuse.
    pub(crate) spare: Vec<BytesMut>,
}

impl PutState {
    pub(crate) fn new(
        next_phys: i64,
        queue_offsets: HashMap<String, HashMap<i32, i64>>,
    ) -> PutState {
        PutState {
            next_phys,
            queue_offsets,
            chunks: Vec::new(),
            pending: 0,
            acks: Vec::new(),
            run: RunState::Running,
            failed: None,
            spare: Vec::new(),
        }
    }

    /// The chunk that ends at `next_phys`, started if needed.
    pub(crate) fn tail_chunk(&mut self, min_cap: usize) -> &mut BytesMut {
        let next = self.next_phys;
        let contiguous = self
            .chunks
            .last()
            .is_some_and(|c| c.start + c.buf.len() as i64 == next);
        if !contiguous {
            let mut buf = self.spare.pop().unwrap_or_default();
            buf.reserve(min_cap.max(256 * 1024));
            self.chunks.push(Chunk { start: next, buf });
        }
        let last = self.chunks.len() - 1;
        &mut self.chunks[last].buf
    }

    pub(crate) fn next_queue_offset(&mut self, topic: &str, queue_id: i32) -> &mut i64 {
        if !self.queue_offsets.contains_key(topic) {
            self.queue_offsets.insert(topic.to_owned(), HashMap::new());
        }
        self.queue_offsets
            .get_mut(topic)
            .map(|m| m.entry(queue_id).or_insert(0))
            .expect("inserted above")
    }
}
