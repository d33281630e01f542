//! Gauges computed when Prometheus scrapes, never on a request path: broker info, connections, consumer lag,
//! store size and store progress.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Weak};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeGaugeValue};
use prometheus_client::metrics::MetricType;

use crate::broker::client_manager::ClientManager;
use crate::broker::consumer_offset::ConsumerOffsetManager;
use crate::remoting::ConnectionCount;
use crate::store::MessageStore;
use rmq_protocol::topic::is_retry_topic;

/// What a scrape reads: small handles on the broker's state, not the broker. The store is held weakly: the
/// exporter must not keep a stopped broker's store alive, and a scrape racing with its drop just sees no
/// broker gauges.
#[derive(Debug, Clone)]
pub struct ScrapeSources {
    /// Published `ip:port`.
    pub broker_addr: String,
    /// `brokerPermission`, read live.
    pub live: Arc<crate::broker::live_config::LiveConfig>,
    /// Open connections to the broker port.
    pub connections: ConnectionCount,
    /// Connected producers and consumers.
    pub clients: Arc<ClientManager>,
    /// Committed offsets (for lag).
    pub offsets: Arc<ConsumerOffsetManager>,
    /// The store (sizes, progress, queue ends).
    pub store: Weak<MessageStore>,
}

/// Reads [`ScrapeSources`] at scrape time.
#[derive(Debug)]
pub(crate) struct BrokerCollector {
    pub(crate) sources: ScrapeSources,
}

impl Collector for BrokerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let inner = &self.sources;
        let Some(store_handle) = inner.store.upgrade() else {
            return Ok(());
        };
        let version = env!("CARGO_PKG_VERSION");
        let addr = inner.broker_addr.as_str();
        encoder
            .encode_descriptor(
                "rocketmq_broker_info",
                "Always 1 while the broker runs; labels carry its version and published address.",
                None,
                MetricType::Gauge,
            )?
            .encode_family(&[("version", version), ("broker_addr", addr)])?
            .encode_gauge(&1i64)?;
        gauge(
            &mut encoder,
            "rocketmq_broker_permission",
            "brokerPermission: 6 = read and write, 4 = read only, 2 = write only.",
            i64::from(inner.live.broker_permission()),
        )?;
        gauge(
            &mut encoder,
            "rocketmq_connections",
            "Open TCP connections to the broker port (clients, admin tools).",
            inner.connections.get() as i64,
        )?;
        let (producers, consumers) = inner.clients.counts();
        gauge(
            &mut encoder,
            "rocketmq_producer_connections",
            "Producer channels known from heartbeats.",
            producers as i64,
        )?;
        gauge(
            &mut encoder,
            "rocketmq_consumer_connections",
            "Consumer channels known from heartbeats.",
            consumers as i64,
        )?;
        encode_lag(&mut encoder, &inner.offsets, &store_handle)?;
        let store = store_handle.stats();
        let cfg = store_handle.config();
        gauge(
            &mut encoder,
            "rocketmq_storage_size_bytes",
            "Disk space allocated to the store's files (CommitLog, ConsumeQueues, indexes, state).",
            (disk_usage(&cfg.root_dir) + outside(&cfg.commit_log_path(), &cfg.root_dir)) as i64,
        )?;
        gauge(
            &mut encoder,
            "rocketmq_storage_flush_behind_bytes",
            "CommitLog bytes written but not yet synced to disk.",
            (store.commit_log_max_offset - store.flushed_offset).max(0),
        )?;
        gauge(
            &mut encoder,
            "rocketmq_storage_dispatch_behind_bytes",
            "CommitLog bytes written but not yet in ConsumeQueues and indexes.",
            (store.commit_log_max_offset - store.dispatched_offset).max(0),
        )?;
        gauge(
            &mut encoder,
            "rocketmq_storage_disk_used_ratio",
            "Used fraction of the file system holding the CommitLog (writes stop above diskMaxUsedSpaceRatio).",
            store.disk_used_ratio,
        )?;
        Ok(())
    }
}

/// One unlabelled gauge. (Help texts end in a full stop here because `Registry::register` adds one to the
/// others.)
fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: impl EncodeGaugeValue,
) -> Result<(), fmt::Error> {
    encoder
        .encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&value)
}

/// `rocketmq_consumer_lag_messages{consumer_group, topic, queue_id}`: ConsumeQueue max offset minus the
/// committed offset, for every queue a group has committed an offset on (Java's `ConsumerLagCalculator`
/// sums the queues per group and topic; the per-queue series sum to that). Retry topics are left out, as
/// Java does.
fn encode_lag(
    encoder: &mut DescriptorEncoder,
    offsets: &ConsumerOffsetManager,
    store: &MessageStore,
) -> Result<(), fmt::Error> {
    let mut rows = offsets.snapshot();
    rows.retain(|r| !is_retry_topic(&r.topic));
    rows.sort_by(|a, b| (&a.group, &a.topic, a.queue_id).cmp(&(&b.group, &b.topic, b.queue_id)));
    let mut family = encoder.encode_descriptor(
        "rocketmq_consumer_lag_messages",
        "Messages in a queue after the consumer group's committed offset.",
        None,
        MetricType::Gauge,
    )?;
    for row in &rows {
        let max = store.max_offset_in_queue(&row.topic, row.queue_id);
        let queue_id = row.queue_id.to_string();
        let labels = [
            ("consumer_group", row.group.as_str()),
            ("topic", row.topic.as_str()),
            ("queue_id", queue_id.as_str()),
        ];
        family
            .encode_family(&labels)?
            .encode_gauge(&(max - row.offset).max(0))?;
    }
    Ok(())
}

/// Bytes allocated to the files under `dir` (`du`: blocks, so sparse and preallocated files count what
/// they really use). Unreadable entries count 0; symbolic links are not followed.
fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_usage(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

/// Usage of `dir` when it is not inside `root` (a `storePathCommitLog` elsewhere), else 0.
fn outside(dir: &Path, root: &Path) -> u64 {
    if dir.starts_with(root) {
        0
    } else {
        disk_usage(dir)
    }
}
