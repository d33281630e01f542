//! rmq's bundled broker: a RocketMQ-compatible name server and broker with a durable, RocketMQ-shaped store.
//!
//! Real RocketMQ clients (Java, Go, `rocketmq-client-rust`) talk to it unchanged, and apps move to a real
//! Apache RocketMQ cluster by changing only the name-server address.
//!
//! # Layout
//! - [`store`]: CommitLog segments, ConsumeQueues, IndexFiles, checkpoint, flush and crash recovery.
#![warn(missing_docs)]

pub mod store;
