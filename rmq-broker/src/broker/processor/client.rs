//! Client management: HEART_BEAT, UNREGISTER_CLIENT, GET_CONSUMER_LIST_BY_GROUP, CHECK_CLIENT_CONFIG, and
//! the NOTIFY_CONSUMER_IDS_CHANGED push that makes a group rebalance at once (notes §2.3.4).

use std::collections::HashMap;
use std::time::Instant;

use rmq_protocol::body::{self, CheckClientRequestBody, ConsumerListBody, HeartbeatData};
use rmq_protocol::codes::{request, response};
use rmq_protocol::headers::{
    GetConsumerListByGroupRequestHeader, NotifyConsumerIdsChangedRequestHeader,
    UnregisterClientRequestHeader,
};
use rmq_protocol::RemotingCommand;
use tracing::{debug, warn};

use super::{ok, Refusal, Reply};
use crate::broker::client_manager::{ClientChannel, ConsumerRegistration};
use crate::broker::clock::now_ms;
use crate::broker::filter::is_sql92;
use crate::broker::topic_config::RETRY_GROUP_TOPIC_PREFIX;
use crate::broker::BrokerInner;
use crate::remoting::Connection;

/// Records producers and consumers of the heartbeat; creates groups and retry topics; notifies groups whose
/// membership changed.
pub fn heartbeat(inner: &BrokerInner, conn: &Connection, req: &RemotingCommand) -> Reply {
    let hb: HeartbeatData = body::from_json(&req.body)?;
    let channel = ClientChannel {
        client_id: hb.client_id.clone(),
        connection: conn.clone(),
        version: req.version,
        language: req.language,
        last_update: Instant::now(),
    };
    for mut consumer in hb.consumer_data_set {
        // Java's SubscriptionData initializes subVersion to the reader's clock, so a heartbeat that leaves it out
        // (some non-Java clients) registers "now", and the client's later pulls are never newer than it.
        for sub in &mut consumer.subscription_data_set {
            if sub.sub_version == 0 {
                sub.sub_version = now_ms();
            }
        }
        let group = consumer.group_name.clone();
        if let Some(cfg) = inner.groups.find_or_create(&group)? {
            let retry = format!("{RETRY_GROUP_TOPIC_PREFIX}{group}");
            if inner.topics.get(&retry).is_none() {
                inner
                    .topics
                    .create_system_managed(&retry, cfg.retry_queue_nums.max(1))?;
            }
        }
        compile_selectors(inner, &group, &consumer.subscription_data_set);
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

/// Compiles the group's SQL92 subscriptions into the selector cache (once per version). One that does not
/// parse is remembered as invalid, so its pulls are refused with the position; the heartbeat itself still
/// succeeds, as in RocketMQ.
fn compile_selectors(inner: &BrokerInner, group: &str, subs: &[body::SubscriptionData]) {
    for sub in subs {
        if !is_sql92(&sub.expression_type) {
            inner.filters.remove(group, &sub.topic);
        } else if inner.config.enable_property_filter {
            if let Err(e) =
                inner
                    .filters
                    .register(group, &sub.topic, sub.sub_version, &sub.sub_string)
            {
                warn!(group, topic = %sub.topic, error = %e, "SQL92 subscription does not parse; its pulls will be refused");
            }
        }
    }
}

/// CHECK_CLIENT_CONFIG (46): compiles a consumer's subscription before it starts, so a bad SQL92 expression is
/// refused at subscribe time (RocketMQ's `ClientManageProcessor.checkClientConfig`). TAG subscriptions and
/// bodies without a subscription pass; with `enablePropertyFilter=false` SQL92 gets SYSTEM_ERROR, as in Java.
pub fn check_client_config(inner: &BrokerInner, req: &RemotingCommand) -> Reply {
    if req.body.is_empty() {
        return Ok(ok(req));
    }
    let check: CheckClientRequestBody = body::from_json(&req.body)?;
    let Some(sub) = check.subscription_data else {
        return Ok(ok(req));
    };
    let ty = sub.expression_type.as_str();
    if ty.is_empty() || ty == "TAG" {
        return Ok(ok(req));
    }
    if !is_sql92(ty) {
        return Err(Refusal::new(
            response::SUBSCRIPTION_PARSE_FAILED,
            format!("unsupported expression type {ty} (TAG or SQL92)"),
        ));
    }
    if !inner.config.enable_property_filter {
        return Err(Refusal::new(
            response::SYSTEM_ERROR,
            format!("The broker does not support consumer to filter message by {ty}"),
        ));
    }
    match rmq_filter::Selector::parse(&sub.sub_string) {
        Ok(_) => Ok(ok(req)),
        Err(e) => {
            debug!(client = %check.client_id, group = %check.group, error = %e, "CHECK_CLIENT_CONFIG refused");
            Err(Refusal::new(
                response::SUBSCRIPTION_PARSE_FAILED,
                e.to_string(),
            ))
        }
    }
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
