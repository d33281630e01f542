//! rmq's bundled broker: a RocketMQ-compatible name server and broker with a durable, RocketMQ-shaped store.
//!
//! Real RocketMQ clients (Java, Go, `rocketmq-client-rust`) talk to it unchanged, and apps move to a real
//! Apache RocketMQ cluster by changing only the name-server address.
//!
//! # Layout
//! - [`embedded`]: start a name server + broker inside the process (apps in development, every test).
//! - [`namesrv`]: route tables and the name-server request processor.
//! - [`broker`]: the broker proper.
//!   - [`broker::node`]: [`broker::Broker`], the composition root: builds the services with their collaborators
//!     and starts the front end and the background tasks.
//!   - [`broker::service`]: typed services, independent of the wire: [`write`](broker::service::write) (every
//!     put: sends, replies, retries, transaction outcomes, redeliveries), [`pull`](broker::service::pull),
//!     [`offset`](broker::service::offset), [`client`](broker::service::client),
//!     [`admin`](broker::service::admin), and their [`ServiceError`](broker::service::ServiceError).
//!   - [`broker::processor`]: the remoting codecs over those services, the dispatch table, and
//!     [`status`](broker::processor::status), the one mapping from service errors to response codes.
//!   - [`broker::transaction`], [`broker::schedule`]: transactional messages; delay levels and timers.
//!   - the tables the services share: topics, groups, offsets, clients, rebalance locks, SQL92 selectors,
//!     held pulls; registration with name servers.
//! - [`store`]: CommitLog segments, ConsumeQueues, IndexFiles, checkpoint, flush and crash recovery; it reports
//!   what happens through one [`StoreObserver`](store::StoreObserver) interface.
//! - [`remoting`]: the accept loop, per-connection tasks, and an outbound client.
//! - [`grpc`]: the RocketMQ 5 gRPC front end (`grpcListen`, off by default), a second codec over the same
//!   services.
//! - [`config`]: broker.conf keys, defaults and validation.
//! - [`metrics`]: the Prometheus endpoint (`metricsExporterType=PROM`, off by default).
//! - [`persist`]: atomic JSON state files.
//! - [`error`]: [`BrokerError`], why a broker or name server did not start or stopped.
#![warn(missing_docs)]

pub mod broker;
pub mod config;
pub mod embedded;
pub mod error;
pub mod grpc;
pub mod metrics;
pub mod namesrv;
pub mod persist;
pub mod remoting;
pub mod store;

pub use error::BrokerError;
