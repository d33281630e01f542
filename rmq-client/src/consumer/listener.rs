//! What a push consumer's listener is given and what it answers.

use std::future::Future;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use rmq_protocol::body::MessageQueue;

use crate::message::MessageExt;

/// What the listener decided about a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeOutcome {
    /// Done: the offset may move past these messages.
    Success,
    /// Concurrent mode: deliver again later. `delay_level` 0 lets the broker pick (3 + reconsume times); -1
    /// sends the messages straight to the dead-letter queue.
    Retry {
        /// Delay level of the redelivery.
        delay_level: i32,
    },
    /// Orderly mode: stop this queue for a while and redeliver the same messages locally.
    Suspend(Duration),
}

impl ConsumeOutcome {
    /// Retry with the broker's schedule.
    pub const RETRY_LATER: ConsumeOutcome = ConsumeOutcome::Retry { delay_level: 0 };
    /// Dead-letter now.
    pub const DEAD_LETTER: ConsumeOutcome = ConsumeOutcome::Retry { delay_level: -1 };
}

/// Where a batch came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumeContext {
    /// The queue.
    pub queue: MessageQueue,
    /// Whether this is an orderly consumer (then [`ConsumeOutcome::Suspend`] is the way to retry).
    pub orderly: bool,
}

/// Called with pulled messages (one or up to `consume_message_batch_max_size`).
pub trait MessageListener: Send + Sync + 'static {
    /// Consumes a batch and says what happened; a panic counts as a failure.
    fn consume(
        &self,
        msgs: Vec<MessageExt>,
        ctx: ConsumeContext,
    ) -> BoxFuture<'static, ConsumeOutcome>;
}

impl<F, Fut> MessageListener for F
where
    F: Fn(Vec<MessageExt>, ConsumeContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ConsumeOutcome> + Send + 'static,
{
    fn consume(
        &self,
        msgs: Vec<MessageExt>,
        ctx: ConsumeContext,
    ) -> BoxFuture<'static, ConsumeOutcome> {
        self(msgs, ctx).boxed()
    }
}
