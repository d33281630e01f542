//! The lite pull consumer (Java `DefaultLitePullConsumer`): the application asks for messages with
//! [`LitePullConsumer::poll`] instead of registering a listener.
//!
//! Two ways to get queues, mutually exclusive as in Java: [`subscribe`](LitePullConsumer::subscribe) joins the
//! group's rebalance (allocation on subscribe, every 20 s and when a broker says the group changed), and
//! [`assign`](LitePullConsumer::assign) takes a fixed set of queues with no rebalance.
//!
//! Each owned queue has a background pull task (LITE_PULL_MESSAGE with long polling) that appends batches to
//! one buffer shared by every queue, bounded by `pull_threshold_for_all` and per queue by
//! `pull_threshold_for_queue`. `poll` takes the oldest batch and counts it as consumed: the offset after its last
//! message is what the next commit stores (Java semantics — there is no per-message acknowledgement). Commits
//! go to the in-memory offset table ([`commit`](LitePullConsumer::commit)), which the consumer sends to the
//! broker (clustering) or its local file (broadcasting) every `persist_offset_interval`, on
//! [`commit_sync`](LitePullConsumer::commit_sync), when a queue moves to another member, and on shutdown.
//!
//! - `options`: [`LitePullConsumerOptions`];
//! - `state`: per-queue entries, the buffer of pulled batches, subscribe or assign mode;
//! - `inner`: the state the handle and tasks share, the buffer and offset operations;
//! - `pull`: one long-polling pull task per owned queue;
//! - `queues`: which queues it pulls (rebalance, assign, removal, seek);
//! - `consumer`: [`LitePullConsumer`] and its background timers.
//!
//! Each module uses only modules listed before it, so they form no circle.

mod consumer;
mod inner;
mod options;
mod pull;
mod queues;
mod state;

pub use consumer::LitePullConsumer;
pub use options::LitePullConsumerOptions;
