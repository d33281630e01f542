//! rmq's runtime: the RocketMQ client, `RocketMqTemplate`, the listener container, config and idempotency.
//!
//! Skeleton: the client and the Spring-style layer arrive with their issues. It already re-exports the protocol
//! crate and the macros so downstream crates depend on one facade.
#![warn(missing_docs)]

pub mod consumer;

pub use rmq_macros as macros;
pub use rmq_protocol as protocol;
