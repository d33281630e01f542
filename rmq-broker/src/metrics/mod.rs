//! Prometheus metrics of the broker: `GET /metrics` on `metricsPromExporterHost:metricsPromExporterPort` when
//! `metricsExporterType=PROM` (RocketMQ 5's keys; the binary's `--metrics-listen`, the embedded builder's
//! `metrics_listen`). Off by default: then no port is opened and nothing is counted.
//!
//! # Metrics
//! Names follow RocketMQ 5's `BrokerMetricsConstant` where one exists; every series also carries the labels
//! `cluster`, `node_type="broker"` and `node_id` (the broker name), as Java's do.
//!
//! | name | type | labels | updated |
//! | --- | --- | --- | --- |
//! | `rocketmq_messages_in_total` | counter | topic | send (a batch counts each message) |
//! | `rocketmq_throughput_in_total` | counter, body bytes | topic | send |
//! | `rocketmq_messages_out_total` | counter | topic, consumer_group | pull |
//! | `rocketmq_throughput_out_total` | counter, body bytes | topic, consumer_group | pull |
//! | `rocketmq_rpc_latency_seconds` | histogram | operation = send, pull | send, pull (time in the broker; a pull's long-polling hold is left out) |
//! | `rocketmq_storage_flush_latency_seconds` | histogram | | each CommitLog fsync (background flush or SYNC_FLUSH group commit) |
//! | `rocketmq_consumer_lag_messages` | gauge | consumer_group, topic, queue_id | scrape |
//! | `rocketmq_storage_size_bytes`, `rocketmq_storage_flush_behind_bytes`, `rocketmq_storage_dispatch_behind_bytes`, `rocketmq_storage_disk_used_ratio` | gauge | | scrape |
//! | `rocketmq_connections`, `rocketmq_producer_connections`, `rocketmq_consumer_connections` | gauge | | scrape |
//! | `rocketmq_broker_info` (always 1), `rocketmq_broker_permission` | gauge | version, broker_addr | scrape |
//!
//! # Crates
//! The registry, counters, families and the text encoding (escaping, `_total`, histogram series) come from
//! `prometheus-client`, the Prometheus organisation's Rust client, rather than hand-written exposition code:
//! it is maintained next to the format's spec and gets the edge cases right. Two things are added around it:
//! [`histogram`], a lock-free histogram (the crate's takes a mutex per observation, too much on the send
//! path), and a small rewrite in [`http`] from the crate's OpenMetrics text to Prometheus text format 0.0.4,
//! which is what `/metrics` answers unless the scraper asks for OpenMetrics. HTTP is axum, the workspace's
//! HTTP stack (the shop uses it too).
//!
//! # Cost on the request paths
//! Disabled, the services' [`RequestMetrics`] are `None` and every hook is one `Option` check (the stopwatches do not
//! even read the clock). Enabled, a send adds two clock reads, a read-locked hash lookup of the topic's
//! cached counter handles and four relaxed atomic adds; a pull about the same plus one length read per
//! returned message. Lag, store size and connection gauges are computed at scrape time only.
//!
//! # Layout
//! - [`traffic`]: per-topic and per-topic-and-group counters with their handle caches.
//! - [`histogram`]: the lock-free latency histogram.
//! - [`scrape`]: the collector run on each scrape.
//! - [`http`]: the axum endpoint and the 0.0.4 rendering.

mod histogram;
mod http;
mod scrape;
mod traffic;

pub use scrape::ScrapeSources;

use std::borrow::Cow;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::store::{GetMessageResult, GetMessageStatus, StoreObserver};
use histogram::{LatencyHistogram, RpcLatency};

/// The broker's live metric handles; exists only when metrics are enabled. The request paths get
/// [`RequestMetrics`] handles from it, the store a flush observer, the scrape [`ScrapeSources`].
#[derive(Debug)]
pub struct BrokerMetrics {
    traffic: Arc<traffic::Traffic>,
    rpc: RpcLatency,
    flush_latency: LatencyHistogram,
}

impl BrokerMetrics {
    /// The handles and the registry that encodes them; the registry goes to the HTTP endpoint (see
    /// [`serve`]), the handles into the broker state.
    pub(crate) fn new(config: &BrokerConfig) -> (BrokerMetrics, Registry) {
        let labels = [
            ("cluster", config.broker_cluster_name.clone()),
            ("node_type", "broker".to_owned()),
            ("node_id", config.broker_name.clone()),
        ];
        let mut registry = Registry::with_labels(
            labels
                .into_iter()
                .map(|(k, v)| (Cow::Borrowed(k), Cow::Owned(v))),
        );
        let metrics = BrokerMetrics {
            traffic: Arc::new(traffic::Traffic::default()),
            rpc: RpcLatency::default(),
            flush_latency: LatencyHistogram::default(),
        };
        metrics.traffic.register(&mut registry);
        registry.register(
            "rocketmq_rpc_latency_seconds",
            "Time the broker spent on a send or pull request, without a pull's long-polling hold",
            metrics.rpc.clone(),
        );
        registry.register(
            "rocketmq_storage_flush_latency_seconds",
            "Duration of each CommitLog fsync (background flush, or group commit under SYNC_FLUSH)",
            metrics.flush_latency.clone(),
        );
        (metrics, registry)
    }

    /// The handles of the send and pull paths.
    pub fn requests(&self) -> RequestMetrics {
        RequestMetrics {
            traffic: self.traffic.clone(),
            rpc: self.rpc.clone(),
        }
    }

    /// The store observer feeding the flush-latency histogram.
    pub(crate) fn flush_observer(&self) -> Arc<dyn StoreObserver> {
        Arc::new(FlushLatency(self.flush_latency.clone()))
    }
}

/// Each CommitLog sync's duration goes into `rocketmq_storage_flush_latency_seconds`.
#[derive(Debug)]
struct FlushLatency(LatencyHistogram);

impl StoreObserver for FlushLatency {
    fn on_durable(&self, _offset: i64, took: Duration) {
        self.0.observe(took);
    }
}

/// Binds the endpoint's listener when metrics are enabled, before the broker opens its store, so a taken
/// port fails the start early and names the keys to change.
pub(crate) async fn bind(config: &BrokerConfig) -> Result<Option<TcpListener>, BrokerError> {
    let Some((host, port)) = config.metrics_listen() else {
        return Ok(None);
    };
    TcpListener::bind((host.as_str(), port))
        .await
        .map(Some)
        .map_err(|source| BrokerError::MetricsListen {
            addr: format!("{host}:{port}"),
            source,
        })
}

/// Starts `GET /metrics` on `listener` (tracked, stopped by `shutdown`); returns the bound address.
pub(crate) fn serve(
    sources: ScrapeSources,
    mut registry: Registry,
    listener: TcpListener,
    tracker: &TaskTracker,
    shutdown: CancellationToken,
) -> Result<SocketAddr, BrokerError> {
    let addr = listener.local_addr().map_err(BrokerError::Io)?;
    registry.register_collector(Box::new(scrape::BrokerCollector { sources }));
    tracker.spawn(http::serve(listener, Arc::new(registry), shutdown));
    tracing::info!(%addr, "metrics endpoint listening (GET /metrics)");
    Ok(addr)
}

/// The latency histograms and traffic counters of the send and pull paths; `None` where metrics are off,
/// so every hook is one `Option` check.
#[derive(Debug, Clone)]
pub struct RequestMetrics {
    traffic: Arc<traffic::Traffic>,
    rpc: RpcLatency,
}

impl RequestMetrics {
    /// Counts messages stored in `topic` (the write service counts every put path the same way).
    pub(crate) fn count_in(&self, topic: &str, messages: u64, bytes: u64) {
        self.traffic.add_in(topic, messages, bytes);
    }
}

/// Runs a send request, timing it when metrics are on.
pub(crate) async fn time_send<T>(m: Option<&RequestMetrics>, send: impl Future<Output = T>) -> T {
    let Some(m) = m else {
        return send.await;
    };
    let started = Instant::now();
    let reply = send.await;
    m.rpc.send.observe(started.elapsed());
    reply
}

/// Times a pull request minus the time it is held waiting for messages. Reads no clock when metrics are off.
#[derive(Debug)]
pub(crate) struct Stopwatch {
    started: Option<Instant>,
    held: Duration,
}

impl Stopwatch {
    /// Starts timing (or does nothing, when metrics are off).
    pub(crate) fn start(m: Option<&RequestMetrics>) -> Stopwatch {
        Stopwatch {
            started: m.map(|_| Instant::now()),
            held: Duration::ZERO,
        }
    }

    /// Awaits `hold` and leaves its duration out of the measurement.
    pub(crate) async fn exclude<F: Future>(&mut self, hold: F) -> F::Output {
        if self.started.is_none() {
            return hold.await;
        }
        let t = Instant::now();
        let out = hold.await;
        self.held += t.elapsed();
        out
    }
}

/// Records a served pull: its latency and, when it returned messages, messages and body bytes out.
pub(crate) fn pulled(
    m: Option<&RequestMetrics>,
    group: &str,
    topic: &str,
    result: &GetMessageResult,
    clock: Stopwatch,
) {
    let (Some(m), Some(started)) = (m, clock.started) else {
        return;
    };
    if result.status == GetMessageStatus::Found {
        let bytes: usize = result.messages.iter().map(|r| body_len(r)).sum();
        m.traffic
            .add_out(topic, group, result.messages.len() as u64, bytes as u64);
    }
    m.rpc
        .pull
        .observe(started.elapsed().saturating_sub(clock.held));
}

/// The body length of a stored record, read from its fixed-position header (no full decode); 0 if the record
/// is too short to say.
fn body_len(record: &[u8]) -> usize {
    use rmq_protocol::message::stored::{host_len, POS_BORN_HOST, POS_SYS_FLAG};
    use rmq_protocol::message::sysflag::{BORNHOST_V6_FLAG, STOREHOSTADDRESS_V6_FLAG};
    let read_i32 = |at: usize| {
        record
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(i32::from_be_bytes)
    };
    let Some(sys_flag) = read_i32(POS_SYS_FLAG) else {
        return 0;
    };
    // bornHost, storeTimestamp (8), storeHost, reconsumeTimes (4), preparedTransactionOffset (8).
    let at = POS_BORN_HOST
        + host_len(sys_flag & BORNHOST_V6_FLAG != 0)
        + 8
        + host_len(sys_flag & STOREHOSTADDRESS_V6_FLAG != 0)
        + 4
        + 8;
    read_i32(at).map_or(0, |n| usize::try_from(n).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use rmq_protocol::message::stored::{encode_stored, StoredRecord};

    #[test]
    fn body_len_reads_v4_and_v6_records() {
        for (born, store) in [
            ("10.0.0.1:1", "10.0.0.2:2"),
            ("[::1]:1", "10.0.0.2:2"),
            ("[::1]:1", "[::2]:2"),
        ] {
            let body = vec![7u8; 1234];
            let rec = StoredRecord {
                body_crc: 0,
                queue_id: 1,
                flag: 0,
                queue_offset: 5,
                commit_log_offset: 0,
                sys_flag: 0,
                born_timestamp: 1,
                born_host: born.parse().expect("addr"),
                store_timestamp: 2,
                store_host: store.parse().expect("addr"),
                reconsume_times: 0,
                prepared_transaction_offset: 0,
                body: &body,
                topic: "T",
                properties: "KEYS\u{1}k\u{2}",
            };
            let mut buf = BytesMut::new();
            encode_stored(&mut buf, &rec).expect("encode");
            assert_eq!(body_len(&buf), 1234, "{born} {store}");
        }
        assert_eq!(body_len(&[0; 10]), 0);
    }
}
