//! The client registry service: heartbeats, unregistration, consumer lists and client-config checks, over the
//! [`ClientManager`] table of connected producers and consumers.

use std::sync::Arc;
use std::time::Instant;

use rmq_protocol::body::{self, ConsumerData, ProducerData};
use rmq_protocol::codes::request;
use rmq_protocol::headers::NotifyConsumerIdsChangedRequestHeader;
use rmq_protocol::RemotingCommand;
use tracing::{debug, warn};

use super::ServiceError;
use crate::broker::client_manager::{ClientChannel, ClientManager, ConsumerRegistration};
use crate::broker::filter::{is_sql92, SelectorCache};
use crate::broker::subscription_group::SubscriptionGroupManager;
use crate::broker::topic_config::TopicConfigManager;
use rmq_protocol::clock::system_now_ms;
use rmq_protocol::topic::retry_topic;

/// A client's heartbeat: who it is and which groups it plays in.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    /// The client's channel (id, connection, version, language).
    pub channel: ClientChannel,
    /// Consumer groups with their subscriptions.
    pub consumers: Vec<ConsumerData>,
    /// Producer groups.
    pub producers: Vec<ProducerData>,
}

/// Connected producers and consumers; see the [module docs](self).
#[derive(Debug)]
pub struct ClientService {
    pub(crate) clients: Arc<ClientManager>,
    groups: Arc<SubscriptionGroupManager>,
    topics: Arc<TopicConfigManager>,
    filters: Arc<SelectorCache>,
    enable_property_filter: bool,
}

impl ClientService {
    /// A client service over its collaborators; `enable_property_filter` is `enablePropertyFilter`.
    pub fn new(
        clients: Arc<ClientManager>,
        groups: Arc<SubscriptionGroupManager>,
        topics: Arc<TopicConfigManager>,
        filters: Arc<SelectorCache>,
        enable_property_filter: bool,
    ) -> Self {
        ClientService {
            clients,
            groups,
            topics,
            filters,
            enable_property_filter,
        }
    }

    /// The table itself (for gauges and the check service).
    pub fn clients(&self) -> &Arc<ClientManager> {
        &self.clients
    }

    /// Registers a heartbeat: each consumer group (auto-created, with its retry topic) and its SQL92
    /// selectors, each producer group. Consumers whose group membership changed are told.
    ///
    /// # Errors
    /// Group or topic state that cannot be saved.
    pub fn heartbeat(&self, hb: Heartbeat) -> Result<(), ServiceError> {
        for mut consumer in hb.consumers {
            for sub in &mut consumer.subscription_data_set {
                if sub.sub_version == 0 {
                    sub.sub_version = system_now_ms();
                }
            }
            let group = consumer.group_name.clone();
            if let Some(cfg) = self.groups.find_or_create(&group)? {
                let retry = retry_topic(&group);
                if self.topics.get(&retry).is_none() {
                    self.topics
                        .create_system_managed(&retry, cfg.retry_queue_nums.max(1))?;
                }
            }
            self.compile_selectors(&group, &consumer.subscription_data_set);
            let changed = self.clients.register_consumer(ConsumerRegistration {
                group: group.clone(),
                channel: hb.channel.clone(),
                consume_type: consumer.consume_type,
                message_model: consumer.message_model,
                consume_from_where: consumer.consume_from_where,
                subscriptions: consumer.subscription_data_set,
            });
            if changed {
                self.notify_consumer_ids_changed(&group);
            }
        }
        for producer in hb.producers {
            self.clients
                .register_producer(&producer.group_name, hb.channel.clone());
        }
        Ok(())
    }

    fn compile_selectors(&self, group: &str, subs: &[body::SubscriptionData]) {
        for sub in subs {
            if !is_sql92(&sub.expression_type) {
                self.filters.remove(group, &sub.topic);
            } else if self.enable_property_filter {
                if let Err(e) =
                    self.filters
                        .register(group, &sub.topic, sub.sub_version, &sub.sub_string)
                {
                    warn!(group, topic = %sub.topic, error = %e, "SQL92 subscription does not parse; its pulls will be refused");
                }
            }
        }
    }

    /// Checks a consumer's subscription expression before it subscribes (CHECK_CLIENT_CONFIG).
    ///
    /// # Errors
    /// An unsupported expression type, SQL92 while `enablePropertyFilter=false`, or an expression that does
    /// not parse.
    pub fn check_subscription(
        &self,
        expression_type: &str,
        expression: &str,
    ) -> Result<(), ServiceError> {
        let ty = expression_type;
        if ty.is_empty() || ty == "TAG" {
            return Ok(());
        }
        if !is_sql92(ty) {
            return Err(ServiceError::BadExpression(format!(
                "unsupported expression type {ty} (TAG or SQL92)"
            )));
        }
        if !self.enable_property_filter {
            return Err(ServiceError::System(format!(
                "The broker does not support consumer to filter message by {ty}"
            )));
        }
        rmq_filter::Selector::parse(expression)
            .map(|_| ())
            .map_err(|e| ServiceError::BadExpression(e.to_string()))
    }

    /// Forgets a connection's producer and/or consumer registration.
    pub fn unregister(
        &self,
        connection: u64,
        producer_group: Option<&str>,
        consumer_group: Option<&str>,
    ) {
        if let Some(group) = producer_group {
            self.clients.unregister_producer(group, connection);
        }
        if let Some(group) = consumer_group {
            if self.clients.unregister_consumer(group, connection) {
                self.notify_consumer_ids_changed(group);
            }
        }
    }

    /// The client ids of a consumer group.
    ///
    /// # Errors
    /// [`ServiceError::System`] when the group has no consumer (as Java answers).
    pub fn consumer_ids(&self, group: &str) -> Result<Vec<String>, ServiceError> {
        let ids = self.clients.consumer_ids(group);
        if ids.is_empty() {
            return Err(ServiceError::System(format!(
                "no consumer for this group, {group}"
            )));
        }
        Ok(ids)
    }

    /// A connection closed: drop its registrations and tell the groups it left.
    pub fn connection_closed(&self, connection: u64) {
        for group in self.clients.connection_closed(connection) {
            self.notify_consumer_ids_changed(&group);
        }
    }

    /// Drops clients silent for longer than `expiry` and tells the groups they left.
    pub fn expire(&self, now: Instant, expiry: std::time::Duration) {
        for group in self.clients.expire(now, expiry) {
            self.notify_consumer_ids_changed(&group);
        }
    }

    /// Tells a group's consumers (NOTIFY_CONSUMER_IDS_CHANGED, oneway) that membership changed, unless the
    /// group turned that off.
    pub fn notify_consumer_ids_changed(&self, group: &str) {
        if self
            .groups
            .get(group)
            .is_some_and(|g| !g.notify_consumer_ids_changed_enable)
        {
            return;
        }
        let header = NotifyConsumerIdsChangedRequestHeader {
            consumer_group: group.to_string(),
        };
        for conn in self.clients.consumer_connections(group) {
            let mut cmd =
                RemotingCommand::request_with(request::NOTIFY_CONSUMER_IDS_CHANGED, &header)
                    .into_oneway();
            cmd.opaque = crate::remoting::server::next_request_opaque();
            if !conn.try_send(cmd) {
                debug!(group, peer = %conn.peer(), "could not notify consumer of membership change");
            }
        }
    }
}
