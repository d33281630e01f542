//! How a consumer takes part in its group through the client instance, the same for push and lite pull: the
//! hook the instance calls (heartbeat data, rebalance notices, offset resets) and the probe for routes of
//! subscribed topics that did not exist yet.

use std::sync::{Arc, Weak};

use futures::future::BoxFuture;
use rmq_protocol::body::{ConsumerData, MessageQueue, SubscriptionData};
use tokio::sync::Notify;

use super::model::{ConsumeFromWhere, MessageModel};
use crate::instance::{ClientInstance, ConsumerHook};

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
