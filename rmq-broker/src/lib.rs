//! rmq's bundled broker: a RocketMQ-compatible name server and broker with a durable, RocketMQ-shaped store.
//!
//! Real RocketMQ clients (Java, Go, `rocketmq-client-rust`) talk to it unchanged, and apps move to a real
//! Apache RocketMQ cluster by changing only the name-server address.
//!
//! # Layout
//! - [`embedded`]: start a name server + broker inside the process (apps in development, every test).
//! - [`namesrv`]: route tables and the name-server request processor.
//! - [`broker`]: request processors and the state around them (topics, groups, offsets, clients, held pulls,
//!   registration with name servers).
//! - [`store`]: CommitLog segments, ConsumeQueues, IndexFiles, checkpoint, flush and crash recovery.
//! - [`remoting`]: the accept loop, per-connection tasks, and an outbound client.
//! - [`config`]: broker.conf keys, defaults and validation.
//! - [`metrics`]: the Prometheus endpoint (`metricsExporterType=PROM`, off by default).
//! - [`persist`]: atomic JSON state files.
#![warn(missing_docs)]

pub mod broker;
pub mod config;
pub mod embedded;
pub mod error;
pub mod metrics;
pub mod namesrv;
pub mod persist;
pub mod remoting;
pub mod store;

pub use error::BrokerError;
