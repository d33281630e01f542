//! rmq's runtime: the RocketMQ client, `RocketMqTemplate`, the listener container, config and idempotency.
//!
//! The client half mirrors the Java client: one [`ClientInstance`] per process and name-server list shares
//! connections, routes and heartbeats among every [`Producer`] and consumer. It works unchanged against the
//! bundled rmq broker and an Apache RocketMQ cluster.
#![warn(missing_docs)]

pub mod admin;
pub mod app;
pub mod codec;
pub mod config;
pub mod consumer;
pub mod container;
pub mod context;
pub mod error;
#[cfg(feature = "idempotency")]
pub mod idempotency;
pub mod instance;
pub mod listener;
pub mod message;
pub mod producer;
pub mod remoting;
pub mod route;
pub mod settings;
pub mod template;
#[cfg(feature = "embedded")]
pub mod testing;
pub mod transaction_listener;

pub use admin::Admin;
pub use app::{Application, ApplicationBuilder};
pub use config::ClientConfig;
pub use consumer::{
    ConsumeContext, ConsumeFromWhere, ConsumeOutcome, LitePullConsumer, LitePullConsumerOptions,
    MessageListener, MessageModel, MessageSelector, PushConsumer, PushConsumerOptions,
};
pub use context::AppContext;
pub use error::{ClientError, Result};
pub use instance::ClientInstance;
pub use listener::{Bean, FromMessage, Headers, Json, ListenerError};
pub use message::{Message, MessageExt};
pub use producer::{Producer, ProducerOptions, SendResult, SendStatus, TransactionProducer};
pub use rmq_macros as macros;
pub use rmq_macros::{rocketmq_listener, rocketmq_transaction_listener};
pub use template::{Outgoing, RocketMqTemplate};
pub use transaction_listener::LocalTransactionListener;

/// What a service usually needs, in one import.
pub mod prelude {
    pub use crate::app::{Application, ApplicationBuilder};
    pub use crate::context::AppContext;
    pub use crate::listener::{Bean, FromMessage, Headers, Json, ListenerError};
    pub use crate::message::{Message, MessageExt};
    pub use crate::producer::LocalTransactionState;
    pub use crate::template::{Outgoing, RocketMqTemplate};
    pub use crate::transaction_listener::LocalTransactionListener;
    pub use rmq_macros::{rocketmq_listener, rocketmq_transaction_listener};
}

/// What macro expansions refer to; not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use async_trait::async_trait;
    pub use futures::future::BoxFuture;
    pub use inventory;
}
pub use rmq_protocol as protocol;
