//! The broker's typed services: what a request *does*, independent of how it arrived. A codec (today the
//! remoting processors in [`super::processor`], later gRPC) decodes a request into a service's typed request,
//! calls the service and encodes its typed outcome; errors are [`ServiceError`]s, which each codec maps to
//! its wire codes in one place.
//!
//! - [`write`]: every message the broker stores, client sends and internal re-puts alike.
//! - [`pull`]: reads for consumers, with long polling.
//! - [`pop`]: POP consumption (RocketMQ 5): pops with invisible time, acks, and the reviver.
//! - [`offset`]: committed consumer offsets and queue offsets; [`offset_reset`] an operator's reset of them.
//! - [`client`]: the registry of connected producers and consumers.
//! - [`admin`]: operator requests (topic and group tables, runtime info, locks, queries); [`stats`] its
//!   queue and group read-outs; [`operations`] producers, topic consumers, offset cloning, broker-wide stats,
//!   consume-queue inspection and cleaning.
//! - Transactions: [`TransactionService`](crate::broker::transaction::TransactionService).
//! - [`error`]: the services' error type.

pub mod admin;
pub mod broker_config;
pub mod client;
pub mod error;
pub mod offset;
pub mod offset_reset;
pub mod operations;
pub mod pop;
pub mod pull;
pub mod stats;
pub mod write;

pub use error::ServiceError;
