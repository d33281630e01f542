//! The broker: request processors over the store, plus the state around them (topics, groups, offsets,
//! clients, held pulls) and registration with name servers.

pub mod client_manager;
pub mod consumer_offset;
pub mod filter;
pub mod long_polling;
pub mod processor;
pub mod rebalance_lock;
pub mod register;
pub mod schedule;
pub mod subscription_group;
pub mod topic_config;
pub mod transaction;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::store::MessageStore;
use client_manager::ClientManager;
use consumer_offset::ConsumerOffsetManager;
use long_polling::PullHoldService;
use register::Registrar;
use subscription_group::SubscriptionGroupManager;
use topic_config::TopicConfigManager;

/// Counters reported by GET_BROKER_RUNTIME_INFO.
#[derive(Debug, Default)]
pub struct BrokerStats {
    /// Messages stored since start.
    pub put_messages: AtomicU64,
    /// Bytes of bodies stored since start.
    pub put_bytes: AtomicU64,
    /// Messages returned by pulls since start.
    pub got_messages: AtomicU64,
}

/// Everything a request processor needs; shared by all connections.
#[derive(Debug)]
pub struct BrokerInner {
    /// The effective configuration.
    pub config: BrokerConfig,
    /// The message store.
    pub store: Arc<MessageStore>,
    /// Topic table.
    pub topics: TopicConfigManager,
    /// Consumer-group table.
    pub groups: SubscriptionGroupManager,
    /// Committed offsets.
    pub offsets: ConsumerOffsetManager,
    /// Connected producers and consumers.
    pub clients: ClientManager,
    /// Held pulls.
    pub holds: Arc<PullHoldService>,
    /// Half messages without an outcome (transactional messages).
    pub transactions: transaction::TransactionService,
    /// Name-server registration.
    pub registrar: Arc<Registrar>,
    /// `ip:port` published to name servers.
    pub broker_addr: String,
    /// Published HA address (no replication: listen port + 1, as Java).
    pub ha_addr: String,
    /// Address written into stored records and message ids.
    pub store_host: SocketAddr,
    /// Start time, epoch ms.
    pub boot_timestamp: i64,
    /// Counters.
    pub stats: BrokerStats,
    /// Delay levels and delivery times (SCHEDULE_TOPIC_XXXX, rmq_sys_wheel_timer).
    pub schedule: schedule::Schedule,
    /// Ordered-consumption queue locks.
    pub locks: rebalance_lock::RebalanceLockManager,
    /// Makes UNIQ_KEYs for messages sent without one.
    pub uniq_ids: rmq_protocol::message::msg_id::UniqIdGenerator,
    /// Compiled SQL92 selectors, per (group, topic) and subscription version.
    pub filters: filter::SelectorCache,
    /// Open connections to the broker port, kept by the accept loop.
    pub connections: crate::remoting::ConnectionCount,
    /// Metric handles; `None` unless `metricsExporterType=PROM`, so the request paths skip them for free.
    pub metrics: Option<crate::metrics::BrokerMetrics>,
}

impl BrokerInner {
    /// Asks the registrar to publish the topic table now (after a topic change).
    pub fn topics_changed(&self) {
        self.registrar.changed.notify_one();
    }
}

/// A running broker.
#[derive(Debug)]
pub struct Broker {
    inner: Arc<BrokerInner>,
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    stopped: tokio::sync::Mutex<bool>,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Broker {
    /// Opens the store (recovering it if needed), loads state, registers with the name servers and serves on
    /// `listener`. `config.listen_port` is replaced by the listener's real port. With
    /// `metricsExporterType=PROM` it also serves `GET /metrics` (see [`Broker::metrics_addr`]).
    pub async fn start(
        listener: TcpListener,
        mut config: BrokerConfig,
    ) -> Result<Broker, BrokerError> {
        let addr = listener.local_addr().map_err(BrokerError::Io)?;
        config.listen_port = addr.port();
        config.bind_ip = addr.ip();
        config.validate()?;
        let store_host = config.advertised_addr();
        let metrics_listener = crate::metrics::bind(&config).await?;
        let (metrics, registry) = match metrics_listener {
            Some(_) => {
                let (m, r) = crate::metrics::BrokerMetrics::new(&config);
                (Some(m), Some(r))
            }
            None => (None, None),
        };
        let mut store_cfg = config.store_config();
        store_cfg.tag_code_hook = Some(schedule::tag_code_hook(config.delay_levels()));
        store_cfg.flush_observer = metrics
            .as_ref()
            .map(crate::metrics::BrokerMetrics::flush_observer);
        let store = tokio::task::spawn_blocking(move || MessageStore::open(store_cfg))
            .await
            .map_err(|e| BrokerError::Io(std::io::Error::other(e)))??;
        let config_dir = config.store_path_root_dir.join("config");
        let topics = TopicConfigManager::load(
            config_dir.clone(),
            &config.broker_cluster_name,
            &config.broker_name,
            config.auto_create_topic_enable,
            config.default_topic_queue_nums,
        )?;
        topics.persist()?;
        let groups = SubscriptionGroupManager::load(
            config_dir.clone(),
            config.auto_create_subscription_group,
        )?;
        let schedule = schedule::Schedule::load(&config_dir, config.delay_levels())?;
        let offsets = ConsumerOffsetManager::load(config_dir)?;
        let transactions = transaction::TransactionService::load(
            &config.store_path_root_dir.join("config"),
            &store,
        )?;
        let holds = Arc::new(PullHoldService::default());
        let wake = holds.clone();
        store.set_arrival_listener(Arc::new(
            move |topic: &str, queue_id: i32, max_offset: i64| {
                wake.wake(topic, queue_id, max_offset)
            },
        ));
        let registrar = Arc::new(Registrar::new(config.namesrv_addrs()));
        let inner = Arc::new(BrokerInner {
            broker_addr: store_host.to_string(),
            ha_addr: format!("{}:{}", store_host.ip(), store_host.port().wrapping_add(1)),
            store_host,
            boot_timestamp: now_ms(),
            store,
            topics,
            groups,
            offsets,
            clients: ClientManager::default(),
            holds,
            transactions,
            registrar: registrar.clone(),
            stats: BrokerStats::default(),
            schedule,
            uniq_ids: rmq_protocol::message::msg_id::UniqIdGenerator::new(store_host.ip()),
            filters: filter::SelectorCache::default(),
            connections: crate::remoting::ConnectionCount::default(),
            metrics,
            locks: rebalance_lock::RebalanceLockManager::new(Duration::from_millis(
                config.rebalance_lock_max_live_time,
            )),
            config,
        });
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let handler = Arc::new(processor::BrokerProcessor::new(inner.clone()));
        tracker.spawn(crate::remoting::serve(
            listener,
            handler,
            inner.config.max_frame_length,
            shutdown.clone(),
            tracker.clone(),
            inner.connections.clone(),
        ));
        let metrics_addr = match (metrics_listener, registry) {
            (Some(listener), Some(registry)) => Some(crate::metrics::serve(
                &inner,
                registry,
                listener,
                &tracker,
                shutdown.clone(),
            )?),
            _ => None,
        };
        registrar.register_all(&inner).await;
        tracker.spawn(registrar.run(inner.clone(), shutdown.clone()));
        tracker.spawn(housekeeping(inner.clone(), shutdown.clone()));
        schedule::start(&inner, &tracker, shutdown.clone());
        tracker.spawn(transaction::check::run(inner.clone(), shutdown.clone()));
        info!(%addr, broker = %inner.config.broker_name, cluster = %inner.config.broker_cluster_name, "broker listening");
        Ok(Broker {
            inner,
            addr,
            metrics_addr,
            shutdown,
            tracker,
            stopped: tokio::sync::Mutex::new(false),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `GET /metrics` is served, `None` when metrics are disabled (the default). With
    /// `metricsPromExporterPort=0` this is the ephemeral port actually bound.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The shared state (tests and the admin side read it).
    pub fn inner(&self) -> &Arc<BrokerInner> {
        &self.inner
    }

    /// Clean stop: release held pulls, stop accepting, answer in-flight requests, unregister from name servers,
    /// persist offsets and topics, flush the store, write its checkpoint and remove its abort marker.
    /// Idempotent.
    pub async fn shutdown(&self) -> Result<(), BrokerError> {
        let mut stopped = self.stopped.lock().await;
        if *stopped {
            return Ok(());
        }
        self.inner.holds.stop();
        self.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
        self.inner.registrar.unregister_all(&self.inner).await;
        self.inner.offsets.persist()?;
        self.inner.topics.persist()?;
        self.inner.store.shutdown().await?;
        *stopped = true;
        info!(addr = %self.addr, "broker stopped");
        Ok(())
    }
}

impl Drop for Broker {
    /// A dropped broker stops serving (its store is left as after a crash unless `shutdown` ran first).
    fn drop(&mut self) {
        self.inner.holds.stop();
        self.shutdown.cancel();
    }
}

/// Periodic chores: persist offsets, drop silent clients (and tell their groups).
async fn housekeeping(inner: Arc<BrokerInner>, stop: CancellationToken) {
    let offsets_every = Duration::from_millis(inner.config.flush_consumer_offset_interval);
    let mut offsets_tick = tokio::time::interval(offsets_every);
    let mut clients_tick = tokio::time::interval(Duration::from_secs(10));
    offsets_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    clients_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = offsets_tick.tick() => {
                if let Err(e) = inner.offsets.persist() {
                    warn!(error = %e, "persisting consumer offsets failed");
                }
            }
            _ = clients_tick.tick() => {
                let changed = inner.clients.expire(Instant::now(), inner.config.channel_expiry());
                for group in changed {
                    processor::client::notify_consumer_ids_changed(&inner, &group);
                }
            }
        }
    }
}

/// Counts a put into `topic` for runtime info and, when enabled, metrics.
pub(crate) fn count_put(inner: &BrokerInner, topic: &str, messages: u64, bytes: u64) {
    crate::metrics::count_in(inner, topic, messages, bytes);
    inner
        .stats
        .put_messages
        .fetch_add(messages, Ordering::Relaxed);
    inner.stats.put_bytes.fetch_add(bytes, Ordering::Relaxed);
}
