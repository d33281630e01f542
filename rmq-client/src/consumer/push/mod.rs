//! The push consumer (Java `DefaultMQPushConsumer`): subscribe, and a listener is called with each message.
//!
//! Start-up registers the group with the client instance, heartbeats the brokers, and starts a rebalance task
//! (on start, every 20 s, and at once when a broker says the group changed). Each owned queue gets a pull task
//! with long polling and flow control; pulled messages go to the concurrent or orderly consume service; offsets
//! are committed from the lowest unfinished message, every 5 s and on shutdown.
//!
//! - `options`: [`PushConsumerOptions`];
//! - `inner`: the state the tasks share, and the queues it owns;
//! - `consume`: the concurrent and orderly consume services;
//! - `pull`: one long-polling pull task per owned queue;
//! - `rebalance`: which queues it owns, taking and dropping them;
//! - `consumer`: [`PushConsumer`], start, shutdown and the background timers.
//!
//! Each module uses only modules listed before it, so they form no circle.

mod consume;
mod consumer;
mod inner;
mod options;
mod pull;
mod rebalance;
mod running_info;

pub use consumer::{FlowControlTimes, PushConsumer};
pub use options::PushConsumerOptions;

// The paths these had when the push consumer was one file.
pub use super::listener::{ConsumeContext, ConsumeOutcome, MessageListener};
pub use super::model::{ConsumeFromWhere, MessageModel};
pub use super::selector::{subscription_data, MessageSelector};
pub use super::topics::{dlq_topic, retry_topic};
