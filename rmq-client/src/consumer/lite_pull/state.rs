//! What a lite pull consumer tracks per queue and for its shared buffer.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use rmq_protocol::body::{MessageQueue, SubscriptionData};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::message::MessageExt;

/// How the consumer gets its queues; fixed by the first `subscribe` or `assign`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Mode {
    #[default]
    Unset,
    Subscribe,
    Assign,
}

/// Identity of one run of a queue's pull loop; replaced on seek and resume so a stale run stops delivering.
#[derive(Debug)]
pub(super) struct PullTask {
    pub(super) mq: MessageQueue,
    pub(super) cancel: CancellationToken,
}

#[derive(Debug)]
pub(super) struct QueueEntry {
    /// The running pull loop; `None` while paused.
    pub(super) task: Option<Arc<PullTask>>,
    /// Where the next pull starts; `None` until the start offset is known (computed by the pull task).
    pub(super) pull_offset: Option<i64>,
    /// Offset after the last message `poll` returned (or after a stretch the filter skipped): what commit stores.
    pub(super) consumed: Option<i64>,
    /// Messages and body bytes of this queue in the buffer.
    pub(super) buffered: usize,
    pub(super) buffered_bytes: u64,
    pub(super) paused: bool,
}

impl QueueEntry {
    pub(super) fn runs(&self, task: &Arc<PullTask>) -> bool {
        self.task.as_ref().is_some_and(|t| Arc::ptr_eq(t, task))
    }
}

/// One pull's messages, waiting for `poll`.
#[derive(Debug)]
pub(super) struct Batch {
    pub(super) mq: MessageQueue,
    pub(super) msgs: Vec<MessageExt>,
    pub(super) bytes: u64,
}

#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) mode: Mode,
    /// Wrapped topic → subscription (subscribe mode).
    pub(super) subscriptions: HashMap<String, SubscriptionData>,
    pub(super) queues: HashMap<MessageQueue, QueueEntry>,
    pub(super) buffer: VecDeque<Batch>,
    pub(super) buffered_total: usize,
    pub(super) next_auto_commit: Option<Instant>,
}

impl State {
    /// Drops the buffered batches of `mq` (seek, queue removal) and zeroes its counts, so totals stay exact.
    pub(super) fn discard_buffered(&mut self, mq: &MessageQueue) {
        let mut dropped = 0;
        self.buffer.retain(|b| {
            let keep = &b.mq != mq;
            if !keep {
                dropped += b.msgs.len();
            }
            keep
        });
        self.buffered_total -= dropped;
        if let Some(e) = self.queues.get_mut(mq) {
            e.buffered = 0;
            e.buffered_bytes = 0;
        }
    }
}
