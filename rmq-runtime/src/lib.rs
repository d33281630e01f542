//! rmq's runtime: RocketMQ for Rust services the way Spring Boot users know it, on top of [`rmq_client`].
//!
//! This crate is the Spring-style layer: settings, the [`Application`] and its listener container,
//! [`RocketMqTemplate`], listener traits and macros, the test harness and the idempotency guard. The RocketMQ
//! client itself (connections, [`ClientInstance`], [`Producer`], consumers, [`Admin`]) lives in `rmq-client`;
//! its modules are re-exported here under their old names (`rmq_runtime::producer`, `rmq_runtime::consumer`,
//! ...) so an application needs one dependency.
//!
//! # Layout
//! - [`app`]: [`Application`] and its builder: settings, beans, templates, the container, the embedded broker.
//! - [`settings`]: application.{toml,yaml,properties} with environment overrides and `${...}` placeholders,
//!   rocketmq-spring's keys checked.
//! - [`container`]: listeners resolved against settings (the attribute table of `rmq-listener-attrs`),
//!   validated together, and run on one push consumer per group.
//! - [`listener`]: what `#[rocketmq_listener]` registers, argument extraction ([`FromMessage`]) and
//!   [`ListenerError`].
//! - [`transaction_listener`]: [`LocalTransactionListener`] and its binding to the context.
//! - [`template`]: [`RocketMqTemplate`], rocketmq-spring's `RocketMQTemplate`.
//! - [`context`]: [`AppContext`], what handlers see (beans, templates, settings, codec).
//! - [`codec`]: how payloads become bodies and back.
//! - [`testing`]: the test harness over a fresh embedded broker (feature `embedded`).
//! - [`idempotency`]: the consumer-log guard (feature `idempotency`).
#![warn(missing_docs)]

pub mod app;
pub mod codec;
pub mod container;
pub mod context;
#[cfg(feature = "idempotency")]
pub mod idempotency;
pub mod listener;
pub mod settings;
pub mod template;
#[cfg(feature = "embedded")]
pub mod testing;
pub mod transaction_listener;

pub use rmq_client as client;
/// The native client's modules, under the paths they had when they lived in this crate.
pub use rmq_client::{
    admin, config, consumer, error, instance, message, producer, remoting, route,
};
pub use rmq_client::{
    Admin, ClientConfig, ClientError, ClientInstance, ConsumeContext, ConsumeFromWhere,
    ConsumeOutcome, LitePullConsumer, LitePullConsumerOptions, Message, MessageExt,
    MessageListener, MessageModel, MessageSelector, Producer, ProducerOptions, PushConsumer,
    PushConsumerOptions, Result, SendResult, SendStatus, TransactionProducer,
};

pub use app::{Application, ApplicationBuilder};
pub use context::AppContext;
pub use listener::{Bean, FromMessage, Headers, Json, ListenerError};
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
    pub use crate::settings::Settings;
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
