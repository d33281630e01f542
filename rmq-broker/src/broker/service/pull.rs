//! The pull service: reads for PULL_MESSAGE / LITE_PULL_MESSAGE (and later gRPC ReceiveMessage), with
//! long polling (docs/protocol.md §2.3.2, §4.9).

use std::sync::Arc;
use std::time::Duration;

use rmq_protocol::message::sysflag::perm;

use super::ServiceError;
use crate::broker::client_manager::ClientManager;
use crate::broker::consumer_offset::ConsumerOffsetManager;
use crate::broker::counters::BrokerStats;
use crate::broker::filter::{is_sql92, MessageFilter, SelectorCache, TagFilter};
use crate::broker::live_config::LiveConfig;
use crate::broker::long_polling::PullHoldService;
use crate::broker::subscription_group::SubscriptionGroupManager;
use crate::broker::topic_config::TopicConfigManager;
use crate::config::BrokerConfig;
use crate::metrics::{self, RequestMetrics};
use crate::store::{GetMessageResult, GetMessageStatus, MessageStore, ReadFilter};

/// Longest hold we grant, whatever the client asks (Java clients ask 15 s, with a 30 s RPC timeout).
const MAX_SUSPEND: Duration = Duration::from_secs(60);

/// The configuration the read path reads, copied out of [`BrokerConfig`] at start.
#[derive(Debug, Clone)]
pub struct PullPolicy {
    /// `brokerPermission`, changeable at run time.
    pub live: Arc<LiveConfig>,
    /// `ip:port` named in refusals.
    pub broker_addr: String,
    /// `enablePropertyFilter` (SQL92).
    pub enable_property_filter: bool,
    /// `longPollingEnable`.
    pub long_polling_enable: bool,
    /// `shortPollingTimeMills`.
    pub short_polling_time_mills: u64,
    /// `maxTransferCountOnMessageInMemory`.
    pub max_msgs: i32,
    /// `maxTransferBytesOnMessageInMemory`.
    pub max_bytes: usize,
}

impl PullPolicy {
    /// The read-path settings of `config` for a broker published as `broker_addr`.
    pub fn new(config: &BrokerConfig, broker_addr: String, live: Arc<LiveConfig>) -> Self {
        PullPolicy {
            live,
            broker_addr,
            enable_property_filter: config.enable_property_filter,
            long_polling_enable: config.long_polling_enable,
            short_polling_time_mills: config.short_polling_time_mills,
            max_msgs: config.max_transfer_count_on_message_in_memory.max(1),
            max_bytes: config.max_transfer_bytes_on_message_in_memory,
        }
    }
}

/// Where the subscription of a pull comes from.
#[derive(Debug, Clone)]
pub enum PullSubscription {
    /// Carried by the request (lite pull, or a push consumer's first pull).
    Inline {
        /// Expression; `*` when absent.
        expression: Option<String>,
        /// `TAG` or `SQL92`; `TAG` when absent.
        expression_type: Option<String>,
        /// Its version.
        version: i64,
    },
    /// Registered by the consumer's heartbeat; the request's version must not be newer.
    Registered {
        /// The version the consumer pulls with.
        version: i64,
    },
}

/// One pull.
#[derive(Debug, Clone)]
pub struct PullRequest {
    /// Consumer group.
    pub group: String,
    /// Topic.
    pub topic: String,
    /// Queue.
    pub queue_id: i32,
    /// First queue offset wanted.
    pub queue_offset: i64,
    /// At most this many messages (clamped to the broker's limit).
    pub max_msgs: i32,
    /// At most this many bytes, when positive.
    pub max_bytes: Option<i64>,
    /// An offset to commit first, when the consumer sends one.
    pub commit_offset: Option<i64>,
    /// How long to hold the pull when nothing is there yet; `None` for no hold.
    pub suspend: Option<Duration>,
    /// The subscription.
    pub subscription: PullSubscription,
}

/// What a pull read.
#[derive(Debug)]
pub struct PullOutcome {
    /// The store's answer (after the hold, if there was one).
    pub result: GetMessageResult,
}

/// Serves pulls; see the [module docs](self).
#[derive(Debug)]
pub struct PullService {
    policy: PullPolicy,
    store: Arc<MessageStore>,
    topics: Arc<TopicConfigManager>,
    groups: Arc<SubscriptionGroupManager>,
    clients: Arc<ClientManager>,
    offsets: Arc<ConsumerOffsetManager>,
    filters: Arc<SelectorCache>,
    holds: Arc<PullHoldService>,
    stats: Arc<BrokerStats>,
    metrics: Option<RequestMetrics>,
}

/// The collaborators of a [`PullService`].
#[derive(Debug, Clone)]
pub struct PullDeps {
    /// The store read from.
    pub store: Arc<MessageStore>,
    /// Topic table.
    pub topics: Arc<TopicConfigManager>,
    /// Consumer-group table.
    pub groups: Arc<SubscriptionGroupManager>,
    /// Registered subscriptions.
    pub clients: Arc<ClientManager>,
    /// Committed offsets.
    pub offsets: Arc<ConsumerOffsetManager>,
    /// Compiled SQL92 selectors.
    pub filters: Arc<SelectorCache>,
    /// Held pulls.
    pub holds: Arc<PullHoldService>,
    /// Runtime counters.
    pub stats: Arc<BrokerStats>,
    /// Latency and traffic handles, when metrics are on.
    pub metrics: Option<RequestMetrics>,
}

impl PullService {
    /// A pull service over its collaborators.
    pub fn new(policy: PullPolicy, deps: PullDeps) -> Self {
        PullService {
            policy,
            store: deps.store,
            topics: deps.topics,
            groups: deps.groups,
            clients: deps.clients,
            offsets: deps.offsets,
            filters: deps.filters,
            holds: deps.holds,
            stats: deps.stats,
            metrics: deps.metrics,
        }
    }

    /// Checks, optional offset commit, read, and a hold when nothing is there yet. `not_found` says whether
    /// a result means "nothing yet" (the codec's rule, so the hold matches the answer it will give).
    ///
    /// # Errors
    /// Permissions, unknown group, topic or subscription, a stale subscription, an illegal queue, or a filter
    /// that does not compile.
    pub async fn pull(
        &self,
        req: &PullRequest,
        not_found: impl Fn(&GetMessageResult) -> bool,
    ) -> Result<PullOutcome, ServiceError> {
        let mut clock = metrics::Stopwatch::start(self.metrics.as_ref());
        let filter = self.check(req)?;
        if let Some(offset) = req.commit_offset {
            self.offsets
                .commit(&req.group, &req.topic, req.queue_id, offset);
        }
        let max_msgs = req.max_msgs.clamp(1, self.policy.max_msgs);
        let max_bytes = req
            .max_bytes
            .filter(|b| *b > 0)
            .map(|b| b as usize)
            .unwrap_or(usize::MAX)
            .min(self.policy.max_bytes);
        let tag_code = |code: i64| filter.accepts_tag_code(code);
        let record = |rec: &[u8]| filter.accepts_record(rec);
        let read = || {
            if filter.needs_record() {
                let stages = ReadFilter {
                    tag_code: &tag_code,
                    record: &record,
                };
                self.store.get_messages_filtered(
                    &req.topic,
                    req.queue_id,
                    req.queue_offset,
                    max_msgs,
                    max_bytes,
                    stages,
                )
            } else {
                self.store.get_messages(
                    &req.topic,
                    req.queue_id,
                    req.queue_offset,
                    max_msgs,
                    max_bytes,
                    &tag_code,
                )
            }
        };
        let mut result = read();
        if let Some(suspend) = req.suspend.filter(|_| not_found(&result)) {
            let hold = if self.policy.long_polling_enable {
                suspend.min(MAX_SUSPEND)
            } else {
                Duration::from_millis(self.policy.short_polling_time_mills)
            };
            let held = self
                .holds
                .hold(&req.topic, req.queue_id, req.queue_offset, hold, || {
                    self.store.max_offset_in_queue(&req.topic, req.queue_id)
                });
            clock.exclude(held).await;
            result = read();
        }
        metrics::pulled(
            self.metrics.as_ref(),
            &req.group,
            &req.topic,
            &result,
            clock,
        );
        if result.status == GetMessageStatus::Found {
            self.stats.pulled(
                &req.topic,
                &req.group,
                result.messages.len() as u64,
                result.buffer_total_size as u64,
            );
        }
        Ok(PullOutcome { result })
    }

    /// Pre-checks of docs/protocol.md §2.3.2, in Java's order; returns the filter to apply.
    fn check(&self, req: &PullRequest) -> Result<MessageFilter, ServiceError> {
        if !perm::is_readable(self.policy.live.broker_permission()) {
            return Err(ServiceError::Forbidden(format!(
                "the broker[{}] pulling message is forbidden",
                self.policy.broker_addr
            )));
        }
        let Some(group) = self.groups.find_or_create(&req.group)? else {
            return Err(ServiceError::NoSuchGroup(format!(
                "subscription group [{}] does not exist",
                req.group
            )));
        };
        if !group.consume_enable {
            return Err(ServiceError::Forbidden(format!(
                "subscription group no permission, {}",
                req.group
            )));
        }
        let Some(topic) = self.topics.get(&req.topic) else {
            return Err(ServiceError::NoSuchTopic(format!(
                "topic[{}] not exist, apply first please!",
                req.topic
            )));
        };
        if !perm::is_readable(topic.perm) {
            return Err(ServiceError::Forbidden(format!(
                "the topic[{}] pulling message is forbidden",
                req.topic
            )));
        }
        // SYSTEM_ERROR, as Java's PullMessageProcessor (4.9 and 5.x) answers it (docs/protocol.md §2.3.2); a
        // consumer retries a failed pull after its back-off either way.
        if req.queue_id < 0 || req.queue_id >= topic.read_queue_nums {
            return Err(ServiceError::System(format!(
                "queueId[{}] is illegal, topic:[{}] topicConfig.readQueueNums:[{}]",
                req.queue_id, req.topic, topic.read_queue_nums
            )));
        }
        let (expression, expression_type, version, filter) = match &req.subscription {
            PullSubscription::Inline {
                expression,
                expression_type,
                version,
            } => {
                let expr = expression.clone().unwrap_or_else(|| "*".into());
                let ty = expression_type.clone().unwrap_or_else(|| "TAG".into());
                let filter = TagFilter::parse(&expr);
                (expr, ty, *version, filter)
            }
            PullSubscription::Registered { version } => {
                if self.clients.consumer_group(&req.group).is_none() {
                    return Err(ServiceError::NoSubscription(format!(
                        "the consumer's group info not exist, group: {}",
                        req.group
                    )));
                }
                let Some(sub) = self.clients.subscription(&req.group, &req.topic) else {
                    return Err(ServiceError::NoSubscription(format!(
                        "the consumer's subscription not exist, group: {} topic: {}",
                        req.group, req.topic
                    )));
                };
                if sub.sub_version < *version {
                    return Err(ServiceError::StaleSubscription(format!(
                        "the consumer's subscription not latest, group: {}",
                        req.group
                    )));
                }
                let filter = TagFilter::from_subscription(&sub);
                (
                    sub.sub_string.clone(),
                    sub.expression_type.clone(),
                    sub.sub_version,
                    filter,
                )
            }
        };
        if is_sql92(&expression_type) {
            // SYSTEM_ERROR with Java's remark, as PullMessageProcessor and CHECK_CLIENT_CONFIG answer it.
            if !self.policy.enable_property_filter {
                return Err(ServiceError::System(format!(
                    "The broker does not support consumer to filter message by {expression_type} (enablePropertyFilter=false)"
                )));
            }
            // Compiled once per subscription version (usually already at the heartbeat); a bad expression is
            // remembered and refused here with its position.
            let selector = self
                .filters
                .register(&req.group, &req.topic, version, &expression)
                .map_err(|e| ServiceError::BadExpression(e.to_string()))?;
            return Ok(MessageFilter::sql92(selector));
        }
        Ok(MessageFilter::tags(filter))
    }
}
