//! rmq's native RocketMQ client: connections, routes, producers, push and lite-pull consumers, and admin.
//!
//! It mirrors the Java client: one [`ClientInstance`] per process and name-server list shares connections,
//! routes and heartbeats among every [`Producer`] and consumer. It works unchanged against the bundled rmq
//! broker and an Apache RocketMQ cluster, and needs nothing of the Spring-style layer (`rmq-runtime`), which
//! is built on top of it.
//!
//! # Layout
//!
//! - [`config`]: [`ClientConfig`], what one client instance needs to know (name servers, identity);
//! - [`error`]: [`ClientError`], the one error type of every client call;
//! - [`message`]: [`Message`] to send and [`MessageExt`] received, their checks and body compression;
//! - [`remoting`]: one TCP connection per address, requests matched to responses, and the pool of them;
//! - [`route`]: topic routes turned into the queues a producer writes and a consumer reads;
//! - [`instance`]: [`ClientInstance`], the shared connections, routes, heartbeats and registered clients;
//! - [`producer`] (`producer/`): [`Producer`] (send, retry, fault tolerance) and [`TransactionProducer`];
//! - [`consumer`] (`consumer/`): what both consumers share (listener, subscription, allocation, offsets,
//!   broker calls), with [`PushConsumer`] in `consumer/push/` and [`LitePullConsumer`] in `consumer/lite_pull/`;
//! - [`admin`]: [`Admin`], the operator requests `mqadmin` makes.
//!
//! Modules depend on each other without circles: `error` and `config` at the bottom, then `message`,
//! `remoting`, `route`, `instance`, and on top `producer`, `consumer` and `admin`. Each `mod.rs` only declares
//! its children and re-exports them.
#![warn(missing_docs)]

pub mod admin;
pub mod config;
pub mod consumer;
pub mod error;
pub mod instance;
pub mod message;
pub mod producer;
pub mod remoting;
pub mod route;

pub use admin::Admin;
pub use config::ClientConfig;
pub use consumer::{
    ConsumeContext, ConsumeFromWhere, ConsumeOutcome, LitePullConsumer, LitePullConsumerOptions,
    MessageListener, MessageModel, MessageSelector, PushConsumer, PushConsumerOptions,
};
pub use error::{ClientError, Result};
pub use instance::ClientInstance;
pub use message::{Message, MessageExt};
pub use producer::{Producer, ProducerOptions, SendResult, SendStatus, TransactionProducer};
pub use rmq_protocol as protocol;
