//! POP consumption (RocketMQ 5; docs/pop-java.md): consumers do not own queues; the broker hands out messages
//! with an invisible time and takes them back unless they are acked in time.
//!
//! Each non-FIFO pop writes a **checkpoint** (which queue, which offsets, when they become visible again) to
//! the revive topic `rmq_sys_REVIVE_LOG_<cluster>` before it answers, and moves the group's offset past the
//! popped messages at once (as Java does); acks and changes of invisible time are written there too. The
//! revive topic is the journal: the live state is [`inflight`], and after a restart or crash the journal is
//! read again from the revive offset, so an unacked message always comes back and an acked one never does.
//! When a checkpoint's time is up, its unacked messages are copied to the group's POP retry topic
//! `%RETRY%group_topic` with one more reconsume count ([`revive`]), where the next pops find them.
//!
//! Unlike Java, checkpoints and acks are written to the revive queue directly instead of as timer messages
//! delivered near their deadline: the deadline lives in memory, so an ack never races its checkpoint and the
//! journal read at start-up sees every checkpoint still open. The records (JSON with Java's short names) are
//! Java's.
//!
//! - [`journal`]: the checkpoint and ack records and the revive topic's names.
//! - [`inflight`]: open checkpoints, their acks and deadlines, and how far the revive offset may move.
//! - [`order`]: FIFO pops: one batch per queue in flight, delivery counts per offset.
//! - [`waiters`]: pops waiting for messages (long polling), woken by the store's dispatch.
//! - [`service`]: [`PopService`]: pop, ack, change of invisible time, notification.
//! - [`revive`]: the task that brings unacked messages back.

pub mod inflight;
pub mod journal;
pub mod order;
pub mod revive;
pub mod service;
pub mod waiters;

pub use service::{
    AckRequest, ChangeInvisible, ChangedHandle, InitMode, PopDeps, PopOutcome, PopPolicy,
    PopRequest, PopService, Popped, MAX_POP_BATCH,
};
