//! How a consumer takes part in its group through the client instance, the same for push and lite pull: the
//! hook the instance calls (heartbeat data, rebalance notices, offset resets) and the probe for routes of
//! subscribed topics that did not exist yet.

use std::sync::{Arc, Weak};

use futures::future::BoxFuture;
use rmq_protocol::body::running_info::prop;
use rmq_protocol::body::{
    ConsumeMessageDirectlyResult, ConsumerData, ConsumerRunningInfo, MessageQueue, SubscriptionData,
};
use tokio::sync::Notify;

use super::model::{ConsumeFromWhere, MessageModel};
use crate::instance::{ClientInstance, ConsumerHook};
use crate::message::MessageExt;

/// A consumer as its group membership sees it; [`Hook`] turns one into the instance's [`ConsumerHook`].
pub(crate) trait GroupMember: Send + Sync + 'static {
    /// What the next heartbeat says about this consumer.
    fn consumer_data(&self) -> ConsumerData;
    /// Notified to rebalance now (a broker said the group changed).
    fn rebalance_signal(&self) -> &Notify;
    /// Applies offsets an operator reset (run on its own task).
    fn reset_offsets(
        self: Arc<Self>,
        topic: String,
        offsets: Vec<(MessageQueue, i64)>,
    ) -> BoxFuture<'static, ()>;
    /// What GET_CONSUMER_RUNNING_INFO reports.
    fn running_info(&self, jstack: bool) -> ConsumerRunningInfo;
    /// Runs one message through the listener (push consumers only).
    fn consume_directly(
        self: Arc<Self>,
        msg: MessageExt,
        broker_name: String,
    ) -> Option<BoxFuture<'static, ConsumeMessageDirectlyResult>> {
        let _ = (msg, broker_name);
        None
    }
}

/// The instance's handle on a consumer; weak, so a consumer dropped without shutdown does not live on.
pub(crate) struct Hook<T>(pub(crate) Weak<T>);

impl<T: GroupMember> ConsumerHook for Hook<T> {
    fn consumer_data(&self) -> ConsumerData {
        match self.0.upgrade() {
            Some(member) => member.consumer_data(),
            None => ConsumerData::default(),
        }
    }

    fn rebalance_now(&self) {
        if let Some(member) = self.0.upgrade() {
            member.rebalance_signal().notify_one();
        }
    }

    fn reset_offsets(&self, topic: &str, offsets: Vec<(MessageQueue, i64)>) {
        if let Some(member) = self.0.upgrade() {
            tokio::spawn(member.reset_offsets(topic.to_string(), offsets));
        }
    }

    fn running_info(&self, jstack: bool) -> Option<ConsumerRunningInfo> {
        self.0.upgrade().map(|member| member.running_info(jstack))
    }

    fn consume_directly(
        &self,
        msg: MessageExt,
        broker_name: String,
    ) -> Option<BoxFuture<'static, ConsumeMessageDirectlyResult>> {
        self.0
            .upgrade()
            .and_then(|member| member.consume_directly(msg, broker_name))
    }
}

/// The heartbeat entry of a consumer: `consume_type` is `CONSUME_PASSIVELY` (push) or `CONSUME_ACTIVELY`
/// (lite pull), as Java sends them.
pub(crate) fn consumer_data(
    group: &str,
    consume_type: &str,
    model: MessageModel,
    from: ConsumeFromWhere,
    subscriptions: Vec<SubscriptionData>,
) -> ConsumerData {
    ConsumerData {
        group_name: group.to_string(),
        consume_type: consume_type.to_string(),
        message_model: model.java_name().to_string(),
        consume_from_where: from.java_name().to_string(),
        subscription_data_set: subscriptions,
        unit_mode: false,
    }
}

/// Fetches the routes of `subscribed` topics the instance has none for; when one appears, heartbeats (so its
/// brokers know the group) and signals a rebalance.
pub(crate) async fn probe_missing_routes(
    instance: &ClientInstance,
    subscribed: Vec<String>,
    rebalance: &Notify,
) {
    let cached = instance.cached_topics();
    let mut found = false;
    for topic in subscribed.iter().filter(|t| !cached.contains(*t)) {
        if instance.update_route(topic).await.is_ok() {
            found = true;
        }
    }
    if found {
        instance.heartbeat_all().await;
        rebalance.notify_one();
    }
}

/// The running info every consumer can give from its heartbeat entry: group, model, where it starts, the
/// `PROP_*` keys mqadmin needs and the subscriptions (a lite-pull consumer reports this much).
pub(crate) fn basic_running_info(
    data: ConsumerData,
    instance: &ClientInstance,
    started_at_ms: i64,
) -> ConsumerRunningInfo {
    let mut properties = std::collections::BTreeMap::new();
    properties.insert("consumerGroup".to_owned(), data.group_name.clone());
    properties.insert("messageModel".to_owned(), data.message_model.clone());
    properties.insert(
        "consumeFromWhere".to_owned(),
        data.consume_from_where.clone(),
    );
    properties.insert(prop::CONSUME_TYPE.to_owned(), data.consume_type.clone());
    properties.insert(
        prop::CONSUMER_START_TIMESTAMP.to_owned(),
        started_at_ms.to_string(),
    );
    let mut servers: String = instance
        .namesrv_addrs()
        .iter()
        .map(|a| format!("{a};"))
        .collect();
    if servers.is_empty() {
        servers = instance.config().namesrv_addr.clone();
    }
    properties.insert(prop::NAMESERVER_ADDR.to_owned(), servers);
    let mut subscription_set = data.subscription_data_set;
    subscription_set.sort_by(|a, b| a.topic.cmp(&b.topic));
    ConsumerRunningInfo {
        properties,
        subscription_set,
        ..ConsumerRunningInfo::default()
    }
}
