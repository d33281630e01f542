//! Consumers: the push and lite pull consumers, and the building blocks they share.
//!
//! - [`push`]: [`PushConsumer`], subscribe and a listener is called (concurrently or orderly);
//! - [`lite_pull`]: [`LitePullConsumer`], subscribe or assign queues and `poll` for messages;
//! - [`listener`]: what a push listener is given and answers ([`MessageListener`], [`ConsumeOutcome`]);
//! - [`model`], [`selector`], [`topics`]: message model and start position, subscriptions, retry and DLQ topics;
//! - [`allocate`]: which queues this client owns in its group ([`AllocateStrategy`], Java-compatible);
//! - `rebalance`: one topic's allocation for this member, as both consumers compute it;
//! - `membership`: the hook the client instance calls, heartbeat data, the probe for new routes;
//! - [`offset_store`], `offsets`: consume progress in memory and on local disk, and where a queue starts;
//! - [`broker_calls`], `pull_request`: the broker requests consumers make, and the pull request they share;
//! - `process_queue`: pulled, unacknowledged messages of one push-consumer queue, the offset safe to commit;
//! - `pause`: the cancellable wait of every consumer task.

pub mod allocate;
pub mod broker_calls;
pub mod listener;
pub mod lite_pull;
mod membership;
pub mod model;
pub mod offset_store;
mod offsets;
mod pause;
#[allow(
    dead_code,
    reason = "Java's full ProcessQueue surface (rollback, backlog count, timestamps) is kept for consumer running info"
)]
pub(crate) mod process_queue;
pub(crate) mod pull_request;
pub mod push;
mod rebalance;
pub mod selector;
mod stats;
pub mod topics;

pub use allocate::{AllocateStrategy, Averagely, AveragelyByCircle};
pub use listener::{ConsumeContext, ConsumeOutcome, MessageListener};
pub use lite_pull::{LitePullConsumer, LitePullConsumerOptions};
pub use model::{ConsumeFromWhere, MessageModel};
pub use offset_store::{LocalFileOffsetStore, OffsetStoreError, OffsetTable};
pub use push::{PushConsumer, PushConsumerOptions};
pub use selector::{subscription_data, MessageSelector};
pub use topics::{dlq_topic, retry_topic};
