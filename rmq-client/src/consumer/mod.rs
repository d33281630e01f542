//! Consumers: the push consumer and its building blocks.
//!
//! - [`push`]: [`PushConsumer`], subscribe and a listener is called (concurrently or orderly);
//! - [`lite_pull`]: [`LitePullConsumer`], subscribe or assign queues and `poll` for messages;
//! - [`allocate`]: which queues this client owns in its group ([`AllocateStrategy`], Java-compatible);
//! - `process_queue`: pulled, unacknowledged messages of one queue and the offset safe to commit;
//! - [`offset_store`]: consume progress in memory, and on local disk for broadcasting consumers;
//! - `rebalance`, `pull`, `consume`: the push consumer's queue allocation, pull tasks and consume services;
//! - `broker_calls`, `offsets`: the broker requests consumers make, and where progress is kept.

pub mod allocate;
pub mod broker_calls;
mod consume;
mod fastjson;
pub mod lite_pull;
pub mod offset_store;
mod offsets;
#[allow(
    dead_code,
    reason = "Java's full ProcessQueue surface (rollback, backlog count, timestamps) is kept for consumer running info"
)]
pub(crate) mod process_queue;
mod pull;
pub mod push;
mod rebalance;

pub use allocate::{AllocateStrategy, Averagely, AveragelyByCircle};
pub use lite_pull::{LitePullConsumer, LitePullConsumerOptions};
pub use offset_store::{LocalFileOffsetStore, OffsetStoreError, OffsetTable};
pub use push::{
    dlq_topic, retry_topic, ConsumeContext, ConsumeFromWhere, ConsumeOutcome, MessageListener,
    MessageModel, MessageSelector, PushConsumer, PushConsumerOptions,
};
