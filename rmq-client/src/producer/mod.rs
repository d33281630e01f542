//! The producer: sync, async, oneway, orderly, batch and request-reply sends, with retries on another broker.
//!
//! - `options`: [`ProducerOptions`];
//! - `result`: [`SendResult`], [`SendStatus`];
//! - `target`: a chosen queue or a selector, and Java's key hashing for orderly sends;
//! - `reply`: the message answering a request;
//! - `fault`: [`FaultTracker`], which brokers to avoid for a while;
//! - `inner`: what a producer's clones share;
//! - `send`: the send path (queue choice, the SEND request, one retry loop for single and batch sends);
//! - `handle`: [`Producer`];
//! - [`transaction`]: [`TransactionProducer`], half messages and check-backs.
//!
//! Each module uses only modules listed before it, so they form no circle.

mod fault;
mod handle;
mod inner;
mod options;
mod reply;
mod result;
mod send;
mod target;
pub mod transaction;

pub use fault::FaultTracker;
pub use handle::Producer;
pub use options::ProducerOptions;
pub use reply::reply_message;
pub use result::{SendResult, SendStatus};
pub use target::{java_string_hash, queue_index_for_hash};
pub use transaction::{
    LocalTransactionState, TransactionChecker, TransactionProducer, TransactionSendResult,
};
