//! The admin service: what operator tools read and change (topic and group tables, runtime info, broker
//! config, stats, rebalance locks, message queries, offset resets).
//!
//! The admin codecs in [`processor`](crate::broker::processor) (admin, stats, lock, query, reset_offset) still
//! hold their logic and read these collaborators directly; splitting each into a typed request and outcome
//! is the next step.

use std::sync::Arc;

use crate::broker::client_manager::ClientManager;
use crate::broker::consumer_offset::ConsumerOffsetManager;
use crate::broker::counters::BrokerStats;
use crate::broker::rebalance_lock::RebalanceLockManager;
use crate::broker::subscription_group::SubscriptionGroupManager;
use crate::broker::topic_config::TopicConfigManager;
use crate::config::BrokerConfig;
use crate::store::MessageStore;

/// The collaborators of the admin requests.
#[derive(Debug)]
pub struct AdminService {
    /// The effective configuration (GET_BROKER_CONFIG, runtime info).
    pub(crate) config: Arc<BrokerConfig>,
    /// Topic table.
    pub(crate) topics: Arc<TopicConfigManager>,
    /// Consumer-group table.
    pub(crate) groups: Arc<SubscriptionGroupManager>,
    /// Committed offsets.
    pub(crate) offsets: Arc<ConsumerOffsetManager>,
    /// The store.
    pub(crate) store: Arc<MessageStore>,
    /// Runtime counters.
    pub(crate) stats: Arc<BrokerStats>,
    /// Connected clients.
    pub(crate) clients: Arc<ClientManager>,
    /// Ordered-consumption queue locks.
    pub(crate) locks: RebalanceLockManager,
    /// Start time, epoch ms.
    pub(crate) boot_timestamp: i64,
}

/// The collaborators an [`AdminService`] is built from.
#[derive(Debug)]
pub struct AdminDeps {
    /// The effective configuration.
    pub config: Arc<BrokerConfig>,
    /// Topic table.
    pub topics: Arc<TopicConfigManager>,
    /// Consumer-group table.
    pub groups: Arc<SubscriptionGroupManager>,
    /// Committed offsets.
    pub offsets: Arc<ConsumerOffsetManager>,
    /// The store.
    pub store: Arc<MessageStore>,
    /// Runtime counters.
    pub stats: Arc<BrokerStats>,
    /// Connected clients.
    pub clients: Arc<ClientManager>,
    /// Start time, epoch ms.
    pub boot_timestamp: i64,
}

impl AdminService {
    /// An admin service over its collaborators (it owns the rebalance locks).
    pub fn new(deps: AdminDeps) -> Self {
        AdminService {
            locks: RebalanceLockManager::new(std::time::Duration::from_millis(
                deps.config.rebalance_lock_max_live_time,
            )),
            config: deps.config,
            topics: deps.topics,
            groups: deps.groups,
            offsets: deps.offsets,
            store: deps.store,
            stats: deps.stats,
            clients: deps.clients,
            boot_timestamp: deps.boot_timestamp,
        }
    }
}
