//! The broker: typed services over the store, the remoting codecs in front of them, the tables they share
//! (topics, groups, offsets, clients, held pulls) and registration with name servers.
//!
//! - [`node`]: [`Broker`], the composition root (start, shutdown, background tasks).
//! - [`service`]: the typed services (write, pull, offset, client, admin) and their error type.
//! - [`processor`]: the remoting codecs, the dispatch table and the one error → response-code mapping.
//! - [`transaction`], [`schedule`]: transactional messages; delay levels and timer delivery.
//! - [`message_type`]: topic message types (`message.type`) and the check a send must pass.
//! - Tables: [`topic_config`], [`subscription_group`], [`consumer_offset`], [`client_manager`] (with
//!   [`client_channel`], one remoting client connection),
//!   [`rebalance_lock`], [`filter`] (SQL92 selectors), [`long_polling`] (held pulls); [`producer_channel`]:
//!   where a transaction check-back goes (a remoting connection or a gRPC Telemetry stream).
//! - [`register`]: registration with name servers; [`counters`]: runtime counters.

pub mod client_channel;
pub mod client_manager;
pub mod consumer_offset;
pub mod counters;
pub mod filter;
pub mod live_config;
pub mod long_polling;
pub mod message_type;
pub mod node;
pub mod processor;
pub mod producer_channel;
pub mod rebalance_lock;
pub mod register;
pub mod schedule;
pub mod service;
pub mod stats_windows;
pub mod subscription_group;
pub mod topic_config;
pub mod transaction;

pub use counters::BrokerStats;
pub use node::Broker;
