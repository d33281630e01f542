//! rmq's runtime: the RocketMQ client, `RocketMqTemplate`, the listener container, config and idempotency.
//!
//! The client half mirrors the Java client: one [`ClientInstance`] per process and name-server list shares
//! connections, routes and heartbeats among every [`Producer`] and consumer. It works unchanged against the
//! bundled rmq broker and an Apache RocketMQ cluster.
#![warn(missing_docs)]

pub mod admin;
pub mod config;
pub mod consumer;
pub mod error;
pub mod idempotency;
pub mod instance;
pub mod message;
pub mod producer;
pub mod remoting;
pub mod route;

pub use admin::Admin;
pub use config::ClientConfig;
pub use consumer::{
    ConsumeContext, ConsumeFromWhere, ConsumeOutcome, MessageListener, MessageModel,
    MessageSelector, PushConsumer, PushConsumerOptions,
};
pub use error::{ClientError, Result};
pub use instance::ClientInstance;
pub use message::{Message, MessageExt};
pub use producer::{Producer, ProducerOptions, SendResult, SendStatus, TransactionProducer};
pub use rmq_macros as macros;
pub use rmq_protocol as protocol;
