//! Client management: HEART_BEAT, UNREGISTER_CLIENT, GET_CONSUMER_LIST_BY_GROUP, and the
//! NOTIFY_CONSUMER_IDS_CHANGED push that makes a group rebalance at once (notes §2.3.4).

use std::collections::HashMap;
use std::time::Instant;

use rmq_protocol::body::{self, ConsumerListBody, HeartbeatData};
use rmq_protocol::codes::{request, response};
use rmq_protocol::headers::{
    GetConsumerListByGroupRequestHeader, NotifyConsumerIdsChangedRequestHeader,
    UnregisterClientRequestHeader,
};
use rmq_protocol::RemotingCommand;
use tracing::debug;

use super::{ok, Refusal, Reply};
use crate::broker::client_manager::{ClientChannel, ConsumerRegistration};
use crate::broker::topic_config::RETRY_GROUP_TOPIC_PREFIX;
use crate::broker::BrokerInner;
use crate::remoting::Connection;

/// Records producers and consumers of the heartbeat; creates groups and retry topics; notifies groups whose
/// membership changed.
pub fn heartbeat(inner: &BrokerInner, conn: &Connection, req: &RemotingCommand) -> Reply {
    let hb: HeartbeatData = body::from_json_lenient(&req.body)?;
    let channel = ClientChannel {
        client_id: hb.client_id.clone(),
        connection: conn.clone(),
        version: req.version,
        last_update: Instant::now(),
    };
    for consumer in hb.consumer_data_set {
        let group = consumer.group_name.clone();
        if let Some(cfg) = inner.groups.find_or_create(&group)? {
            let retry = format!("{RETRY_GROUP_TOPIC_PREFIX}{group}");
            if inner.topics.get(&retry).is_none() {
                inner
                    .topics
                    .create_system_managed(&retry, cfg.retry_queue_nums.max(1))?;
                inner.topics_changed();
            }
        }
        let changed = inner.clients.register_consumer(ConsumerRegistration {
            group: group.clone(),
            channel: channel.clone(),
            consume_type: consumer.consume_type,
            message_model: consumer.message_model,
            consume_from_where: consumer.consume_from_where,
            subscriptions: consumer.subscription_data_set,
        });
        if changed {
            notify_consumer_ids_changed(inner, &group);
        }
    }
    for producer in hb.producer_data_set {
        inner
            .clients
            .register_producer(&producer.group_name, channel.clone());
    }
    Ok(ok(req).with_ext(HashMap::new()))
}

/// Removes the client's producer/consumer registrations on this connection.
pub fn unregister_client(inner: &BrokerInner, conn: &Connection, req: &RemotingCommand) -> Reply {
    let h: UnregisterClientRequestHeader = req.decode_header()?;
    if let Some(group) = h.producer_group.as_deref() {
        inner.clients.unregister_producer(group, conn.id());
    }
    if let Some(group) = h.consumer_group.as_deref() {
        if inner.clients.unregister_consumer(group, conn.id()) {
            notify_consumer_ids_changed(inner, group);
        }
    }
    Ok(ok(req))
}

/// The sorted client ids of a group, as every rebalance asks.
pub fn consumer_list(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    let h: GetConsumerListByGroupRequestHeader = req.decode_header()?;
    let ids = inner.clients.consumer_ids(&h.consumer_group);
    if ids.is_empty() {
        return Err(Refusal::new(
            response::SYSTEM_ERROR,
            format!("no consumer for this group, {}", h.consumer_group),
        ));
    }
    let list = ConsumerListBody {
        consumer_id_list: ids,
    };
    Ok(ok(req).with_body(body::to_json(&list)))
}

/// Sends NOTIFY_CONSUMER_IDS_CHANGED (oneway) to every consumer of `group`, if the group allows it.
pub fn notify_consumer_ids_changed(inner: &BrokerInner, group: &str) {
    if inner
        .groups
        .get(group)
        .is_some_and(|g| !g.notify_consumer_ids_changed_enable)
    {
        return;
    }
    let header = NotifyConsumerIdsChangedRequestHeader {
        consumer_group: group.to_string(),
    };
    for conn in inner.clients.consumer_connections(group) {
        let mut cmd = RemotingCommand::request_with(request::NOTIFY_CONSUMER_IDS_CHANGED, &header)
            .into_oneway();
        cmd.opaque = crate::remoting::server::next_request_opaque();
        if !conn.try_send(cmd) {
            debug!(group, peer = %conn.peer(), "could not notify consumer of membership change");
        }
    }
}
