//! [`Broker`]: the composition root. It opens the store, loads the tables, builds every service with exactly
//! the collaborators it needs, and starts the remoting front end and the background tasks.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::client_manager::ClientManager;
use super::consumer_offset::ConsumerOffsetManager;
use super::counters::BrokerStats;
use super::filter::SelectorCache;
use super::live_config::LiveConfig;
use super::long_polling::PullHoldService;
use super::processor::dispatch::{BrokerProcessor, Services};
use super::register::{BrokerIdentity, Registrar};
use super::schedule::deliver::Delivery;
use super::schedule::{delay_level, timer, DeliveryTagCodes, Schedule};
use super::service::admin::{AdminDeps, AdminService};
use super::service::client::ClientService;
use super::service::offset::OffsetService;
use super::service::pop::waiters::PopWaiters;
use super::service::pop::{revive, PopDeps, PopPolicy, PopService};
use super::service::pull::{PullDeps, PullPolicy, PullService};
use super::service::write::{PutCounter, WritePolicy, WriteService};
use super::subscription_group::SubscriptionGroupManager;
use super::topic_config::TopicConfigManager;
use super::transaction::check::{self, CheckSettings, Checker};
use super::transaction::service::TransactionService;
use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::metrics::{BrokerMetrics, ScrapeSources};
use crate::remoting::ConnectionCount;
use crate::store::{MessageStore, TagCodes};
use rmq_protocol::clock::system_now_ms;

/// `reviveQueueNum`: revive queues of the POP journal (Java's default).
const REVIVE_QUEUE_NUM: i32 = 8;

/// A running broker.
#[derive(Debug)]
pub struct Broker {
    config: Arc<BrokerConfig>,
    broker_addr: String,
    store: Arc<MessageStore>,
    topics: Arc<TopicConfigManager>,
    offsets: Arc<ConsumerOffsetManager>,
    filters: Arc<SelectorCache>,
    holds: Arc<PullHoldService>,
    registrar: Arc<Registrar>,
    services: Arc<Services>,
    metrics_enabled: bool,
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    grpc_addr: Option<SocketAddr>,
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
        let config = Arc::new(config);
        let store_host = config.advertised_addr();
        let broker_addr = store_host.to_string();
        let metrics_listener = crate::metrics::bind(&config).await?;
        let grpc_listener = match config.grpc_listen {
            Some(at) => Some(TcpListener::bind(at).await.map_err(BrokerError::Io)?),
            None => None,
        };
        let (metrics, registry) = match metrics_listener {
            Some(_) => {
                let (m, r) = BrokerMetrics::new(&config);
                (Some(m), Some(r))
            }
            None => (None, None),
        };
        let request_metrics = metrics.as_ref().map(BrokerMetrics::requests);

        let holds = Arc::new(PullHoldService::default());
        let mut store_cfg = config.store_config();
        store_cfg.tag_codes = Some(TagCodes(Arc::new(DeliveryTagCodes::new(
            config.delay_levels(),
        ))));
        store_cfg.observers.add(holds.clone());
        let pop_waiters = Arc::new(PopWaiters::default());
        store_cfg.observers.add(pop_waiters.clone());
        if let Some(m) = &metrics {
            store_cfg.observers.add(m.flush_observer());
        }
        let store = tokio::task::spawn_blocking(move || MessageStore::open(store_cfg))
            .await
            .map_err(|e| BrokerError::Io(std::io::Error::other(e)))??;

        // The state files live on the store's file system, so a power-cut test cuts them too.
        let config_dir = crate::persist::StateDir::new(
            config.fs.clone(),
            config.store_path_root_dir.join("config"),
        );
        let topics = Arc::new(TopicConfigManager::load(
            &config_dir,
            &config.broker_cluster_name,
            &config.broker_name,
            config.auto_create_topic_enable,
            config.default_topic_queue_nums,
        )?);
        topics.persist()?;
        let groups = Arc::new(SubscriptionGroupManager::load(
            &config_dir,
            config.auto_create_subscription_group,
        )?);
        let schedule = Arc::new(Schedule::load(&config_dir, config.delay_levels())?);
        let offsets = Arc::new(ConsumerOffsetManager::load(&config_dir)?);
        let stats = Arc::new(BrokerStats::new(&config.broker_cluster_name));
        let clients = Arc::new(ClientManager::default());
        let filters = Arc::new(SelectorCache::default());
        let live = Arc::new(LiveConfig::new(config.broker_permission));

        let write = Arc::new(WriteService::new(
            WritePolicy::new(&config, store_host, live.clone()),
            store.clone(),
            topics.clone(),
            groups.clone(),
            schedule.clone(),
            Arc::new(rmq_protocol::message::msg_id::UniqIdGenerator::new(
                store_host.ip(),
            )),
            PutCounter::new(stats.clone(), request_metrics.clone()),
        ));
        let transactions = Arc::new(TransactionService::load(
            &config_dir,
            store.clone(),
            write.clone(),
        )?);
        let pulls = Arc::new(PullService::new(
            PullPolicy::new(&config, broker_addr.clone(), live.clone()),
            PullDeps {
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
        let pops = Arc::new(PopService::new(
            PopPolicy {
                broker_name: config.broker_name.clone(),
                cluster: config.broker_cluster_name.clone(),
                revive_queue_num: REVIVE_QUEUE_NUM,
                clock: config.clock.clone(),
                live: live.clone(),
                broker_addr: broker_addr.clone(),
                store_host,
                enable_property_filter: config.enable_property_filter,
            },
            PopDeps {
                store: store.clone(),
                write: write.clone(),
                topics: topics.clone(),
                groups: groups.clone(),
                offsets: offsets.clone(),
                filters: filters.clone(),
                waiters: pop_waiters,
                stats: stats.clone(),
            },
        ));
        pops.recover()?;
        let client_service = Arc::new(ClientService::new(
            clients.clone(),
            groups.clone(),
            topics.clone(),
            filters.clone(),
            config.enable_property_filter,
        ));
        let services = Arc::new(Services {
            write: write.clone(),
            pulls,
            offsets: Arc::new(OffsetService::new(
                store.clone(),
                topics.clone(),
                groups.clone(),
                offsets.clone(),
            )),
            clients: client_service.clone(),
            transactions: transactions.clone(),
            pops: pops.clone(),
            admin: Arc::new(AdminService::new(AdminDeps {
                config: config.clone(),
                topics: topics.clone(),
                groups: groups.clone(),
                offsets: offsets.clone(),
                store: store.clone(),
                stats,
                clients: clients.clone(),
                live: live.clone(),
                boot_timestamp: system_now_ms(),
            })),
            metrics: request_metrics,
            store_reply: config.store_reply_message_enable,
        });
        let registrar = Arc::new(Registrar::new(
            config.namesrv_addrs(),
            BrokerIdentity {
                broker_name: config.broker_name.clone(),
                cluster_name: config.broker_cluster_name.clone(),
                broker_id: config.broker_id,
                broker_addr: broker_addr.clone(),
                ha_addr: format!("{}:{}", store_host.ip(), store_host.port().wrapping_add(1)),
                register_period_ms: config.register_name_server_period,
                max_frame_length: config.max_frame_length,
            },
            topics.clone(),
            live.clone(),
        ));

        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let connections = ConnectionCount::default();
        let handler = Arc::new(BrokerProcessor::new(services.clone()));
        tracker.spawn(crate::remoting::serve(
            listener,
            handler,
            config.max_frame_length,
            shutdown.clone(),
            tracker.clone(),
            connections.clone(),
        ));
        let metrics_enabled = metrics.is_some();
        let metrics_addr = match (metrics_listener, registry) {
            (Some(listener), Some(registry)) => Some(crate::metrics::serve(
                ScrapeSources {
                    broker_addr: broker_addr.clone(),
                    live: live.clone(),
                    connections,
                    clients: clients.clone(),
                    offsets: offsets.clone(),
                    store: Arc::downgrade(&store),
                },
                registry,
                listener,
                &tracker,
                shutdown.clone(),
            )?),
            _ => None,
        };
        let grpc_addr = match grpc_listener {
            Some(listener) => {
                let bound = listener.local_addr().map_err(BrokerError::Io)?;
                // Advertise the broker's published IP with the bound port (0.0.0.0 is not dialable).
                let advertised = SocketAddr::new(store_host.ip(), bound.port());
                tracker.spawn(crate::grpc::serve(
                    listener,
                    advertised,
                    services.clone(),
                    shutdown.clone(),
                ));
                Some(advertised)
            }
            None => None,
        };
        registrar.register_all().await;
        tracker.spawn(registrar.clone().run(shutdown.clone()));
        tracker.spawn(housekeeping(
            config.clone(),
            offsets.clone(),
            client_service,
            shutdown.clone(),
        ));
        let delivery = Delivery {
            schedule,
            store: store.clone(),
            write,
            clock: config.clock.clone(),
        };
        tracker.spawn(delay_level::run_all(delivery.clone(), shutdown.clone()));
        tracker.spawn(timer::run(delivery, shutdown.clone()));
        tracker.spawn(revive::run(pops, shutdown.clone()));
        tracker.spawn(check::run(
            Checker {
                transactions,
                clients,
                topics: topics.clone(),
                settings: CheckSettings::new(&config),
                clock: config.clock.clone(),
            },
            shutdown.clone(),
        ));
        info!(%addr, broker = %config.broker_name, cluster = %config.broker_cluster_name, "broker listening");
        Ok(Broker {
            config,
            broker_addr,
            store,
            topics,
            offsets,
            filters,
            holds,
            registrar,
            services,
            metrics_enabled,
            addr,
            metrics_addr,
            grpc_addr,
            shutdown,
            tracker,
            stopped: tokio::sync::Mutex::new(false),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ip:port` published to name servers (and written into message ids).
    pub fn broker_addr(&self) -> &str {
        &self.broker_addr
    }

    /// Where `GET /metrics` is served, `None` when metrics are disabled (the default). With
    /// `metricsPromExporterPort=0` this is the ephemeral port actually bound.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Where the RocketMQ 5 gRPC endpoint is served (`grpcListen`), `None` when it is off (the default).
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc_addr
    }

    /// Whether metrics are collected (`metricsExporterType=PROM`).
    pub fn metrics_enabled(&self) -> bool {
        self.metrics_enabled
    }

    /// The effective configuration.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// The message store (tests read records directly).
    pub fn store(&self) -> &Arc<MessageStore> {
        &self.store
    }

    /// The compiled SQL92 selectors (tests check compilation counts).
    pub fn filters(&self) -> &SelectorCache {
        &self.filters
    }

    /// The services the remoting front end calls (a second front end, such as gRPC, calls the same).
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// Clean stop: release held pulls, stop accepting, answer in-flight requests, unregister from name servers,
    /// persist offsets and topics, flush the store, write its checkpoint and remove its abort marker.
    /// Idempotent.
    pub async fn shutdown(&self) -> Result<(), BrokerError> {
        let mut stopped = self.stopped.lock().await;
        if *stopped {
            return Ok(());
        }
        self.holds.stop();
        self.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
        self.registrar.unregister_all().await;
        self.offsets.persist()?;
        self.topics.persist()?;
        self.store.shutdown().await?;
        *stopped = true;
        info!(addr = %self.addr, "broker stopped");
        Ok(())
    }
}

impl Drop for Broker {
    /// A dropped broker stops serving (its store is left as after a crash unless `shutdown` ran first).
    fn drop(&mut self) {
        self.holds.stop();
        self.shutdown.cancel();
    }
}

/// Periodic chores: persist offsets, drop silent clients (and tell their groups).
async fn housekeeping(
    config: Arc<BrokerConfig>,
    offsets: Arc<ConsumerOffsetManager>,
    clients: Arc<ClientService>,
    stop: CancellationToken,
) {
    let offsets_every = Duration::from_millis(config.flush_consumer_offset_interval);
    let mut offsets_tick = tokio::time::interval(offsets_every);
    let mut clients_tick = tokio::time::interval(Duration::from_secs(10));
    offsets_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    clients_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = offsets_tick.tick() => {
                if let Err(e) = offsets.persist() {
                    warn!(error = %e, "persisting consumer offsets failed");
                }
            }
            _ = clients_tick.tick() => {
                clients.expire(Instant::now(), config.channel_expiry());
            }
        }
    }
}
