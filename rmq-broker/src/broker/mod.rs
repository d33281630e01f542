//! The broker: request processors over the store, plus the state around them (topics, groups, offsets,
//! clients, held pulls) and registration with name servers.

pub mod client_manager;
pub mod clock;
pub mod consumer_offset;
pub mod counters;
pub mod filter;
pub mod long_polling;
pub mod processor;
pub mod rebalance_lock;
pub mod register;
pub mod schedule;
pub mod service;
pub mod subscription_group;
pub mod topic_config;
pub mod transaction;

pub use counters::BrokerStats;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// Everything a request processor needs; shared by all connections.
#[derive(Debug)]
pub struct BrokerInner {
    /// The effective configuration.
    pub config: BrokerConfig,
    /// The message store.
    pub store: Arc<MessageStore>,
    /// Topic table.
    pub topics: Arc<TopicConfigManager>,
    /// Consumer-group table.
    pub groups: Arc<SubscriptionGroupManager>,
    /// Committed offsets.
    pub offsets: Arc<ConsumerOffsetManager>,
    /// Connected producers and consumers.
    pub clients: Arc<ClientManager>,
    /// Held pulls.
    pub holds: Arc<PullHoldService>,
    /// Half messages without an outcome (transactional messages).
    pub transactions: Arc<transaction::TransactionService>,
    /// The one path into the store.
    pub write: Arc<service::write::WriteService>,
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
    pub stats: Arc<BrokerStats>,
    /// Delay levels and delivery times (SCHEDULE_TOPIC_XXXX, rmq_sys_wheel_timer).
    pub schedule: Arc<schedule::Schedule>,
    /// Ordered-consumption queue locks.
    pub locks: rebalance_lock::RebalanceLockManager,
    /// Compiled SQL92 selectors, per (group, topic) and subscription version.
    pub filters: Arc<filter::SelectorCache>,
    /// Pulls.
    pub pulls: Arc<service::pull::PullService>,
    /// Open connections to the broker port, kept by the accept loop.
    pub connections: crate::remoting::ConnectionCount,
    /// Metric handles; `None` unless `metricsExporterType=PROM`, so the request paths skip them for free.
    pub metrics: Option<crate::metrics::BrokerMetrics>,
    /// The send and pull paths' handles of `metrics`.
    pub request_metrics: Option<crate::metrics::RequestMetrics>,
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
        store_cfg.tag_codes = Some(crate::store::TagCodes(Arc::new(
            schedule::DeliveryTagCodes::new(config.delay_levels()),
        )));
        let holds = Arc::new(PullHoldService::default());
        store_cfg.observers.add(holds.clone());
        if let Some(m) = &metrics {
            store_cfg.observers.add(m.flush_observer());
        }
        let store = tokio::task::spawn_blocking(move || MessageStore::open(store_cfg))
            .await
            .map_err(|e| BrokerError::Io(std::io::Error::other(e)))??;
        let config_dir = config.store_path_root_dir.join("config");
        let topics = Arc::new(TopicConfigManager::load(
            config_dir.clone(),
            &config.broker_cluster_name,
            &config.broker_name,
            config.auto_create_topic_enable,
            config.default_topic_queue_nums,
        )?);
        topics.persist()?;
        let groups = Arc::new(SubscriptionGroupManager::load(
            config_dir.clone(),
            config.auto_create_subscription_group,
        )?);
        let schedule = Arc::new(schedule::Schedule::load(
            &config_dir,
            config.delay_levels(),
        )?);
        let offsets = Arc::new(ConsumerOffsetManager::load(config_dir)?);
        let stats = Arc::new(BrokerStats::default());
        let request_metrics = metrics
            .as_ref()
            .map(crate::metrics::BrokerMetrics::requests);
        let write = Arc::new(service::write::WriteService::new(
            service::write::WritePolicy::new(&config, store_host),
            store.clone(),
            topics.clone(),
            groups.clone(),
            schedule.clone(),
            Arc::new(rmq_protocol::message::msg_id::UniqIdGenerator::new(
                store_host.ip(),
            )),
            service::write::PutCounter::new(stats.clone(), request_metrics.clone()),
        ));
        let transactions = Arc::new(transaction::TransactionService::load(
            &config.store_path_root_dir.join("config"),
            store.clone(),
            write.clone(),
        )?);
        let broker_addr = store_host.to_string();
        let ha_addr = format!("{}:{}", store_host.ip(), store_host.port().wrapping_add(1));
        let registrar = Arc::new(Registrar::new(
            config.namesrv_addrs(),
            register::BrokerIdentity {
                broker_name: config.broker_name.clone(),
                cluster_name: config.broker_cluster_name.clone(),
                broker_id: config.broker_id,
                broker_addr: broker_addr.clone(),
                ha_addr: ha_addr.clone(),
                register_period_ms: config.register_name_server_period,
                max_frame_length: config.max_frame_length,
            },
            topics.clone(),
        ));
        let clients = Arc::new(ClientManager::default());
        let filters = Arc::new(filter::SelectorCache::default());
        let pulls = Arc::new(service::pull::PullService::new(
            service::pull::PullPolicy::new(&config, broker_addr.clone()),
            service::pull::PullDeps {
                store: store.clone(),
                topics: topics.clone(),
                groups: groups.clone(),
                clients: clients.clone(),
                offsets: offsets.clone(),
                filters: filters.clone(),
                holds: holds.clone(),
                stats: stats.clone(),
                metrics: request_metrics.clone(),
            },
        ));
        let inner = Arc::new(BrokerInner {
            broker_addr,
            ha_addr,
            store_host,
            boot_timestamp: clock::now_ms(),
            store,
            topics,
            groups,
            offsets,
            clients: clients.clone(),
            holds,
            transactions: transactions.clone(),
            write: write.clone(),
            registrar: registrar.clone(),
            stats,
            schedule: schedule.clone(),
            filters,
            pulls,
            connections: crate::remoting::ConnectionCount::default(),
            request_metrics,
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
                crate::metrics::ScrapeSources {
                    broker_addr: inner.broker_addr.clone(),
                    permission: inner.config.broker_permission,
                    connections: inner.connections.clone(),
                    clients: inner.clients.clone(),
                    offsets: inner.offsets.clone(),
                    store: Arc::downgrade(&inner.store),
                },
                registry,
                listener,
                &tracker,
                shutdown.clone(),
            )?),
            _ => None,
        };
        registrar.register_all().await;
        tracker.spawn(registrar.clone().run(shutdown.clone()));
        tracker.spawn(housekeeping(inner.clone(), shutdown.clone()));
        let delivery = schedule::deliver::Delivery {
            schedule,
            store: inner.store.clone(),
            write,
        };
        tracker.spawn(schedule::delay_level::run_all(
            delivery.clone(),
            shutdown.clone(),
        ));
        tracker.spawn(schedule::timer::run(delivery, shutdown.clone()));
        tracker.spawn(transaction::check::run(
            transaction::check::Checker {
                transactions,
                clients,
                topics: inner.topics.clone(),
                settings: transaction::check::CheckSettings::new(&inner.config),
            },
            shutdown.clone(),
        ));
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
        self.inner.registrar.unregister_all().await;
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
