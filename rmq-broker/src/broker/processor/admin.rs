//! Topic and group administration, and broker introspection (runtime info, config): the remoting codecs of
//! [`AdminService`].

use std::collections::HashMap;

use rmq_protocol::body::{self, KvTable, TopicConfig};
use rmq_protocol::codes::response;
use rmq_protocol::headers::{CreateTopicRequestHeader, DeleteTopicRequestHeader};
use rmq_protocol::RemotingCommand;

use super::refusal::{ok, Refusal, Reply};
use crate::broker::service::admin::AdminService;
use crate::broker::subscription_group::SubscriptionGroupConfig;

/// UPDATE_AND_CREATE_TOPIC: validates and stores the topic, then re-registers with the name servers.
pub fn create_topic(svc: &AdminService, req: &RemotingCommand) -> Reply {
    let h: CreateTopicRequestHeader = req.decode_header()?;
    let cfg = TopicConfig {
        topic_name: h.topic.clone(),
        read_queue_nums: h.read_queue_nums,
        write_queue_nums: h.write_queue_nums,
        perm: h.perm,
        topic_filter_type: h.topic_filter_type.clone(),
        topic_sys_flag: h.topic_sys_flag.unwrap_or(0),
        order: h.order,
        attributes: HashMap::new(),
    };
    svc.create_topic(cfg, h.attributes.as_deref().unwrap_or(""))?;
    Ok(ok(req))
}

/// DELETE_TOPIC_IN_BROKER: forgets the topic, its offsets and its consume queues.
pub fn delete_topic(svc: &AdminService, req: &RemotingCommand) -> Reply {
    let h: DeleteTopicRequestHeader = req.decode_header()?;
    svc.delete_topic(&h.topic)?;
    Ok(ok(req))
}

/// GET_ALL_TOPIC_CONFIG: the whole topic table with its version.
pub fn all_topic_config(svc: &AdminService, req: &RemotingCommand) -> Reply {
    Ok(ok(req).with_body(body::to_json(&svc.topics())))
}

/// GET_TOPIC_CONFIG: one topic's config.
pub fn topic_config(svc: &AdminService, req: &RemotingCommand) -> Reply {
    let topic = req
        .ext_fields
        .get("topic")
        .ok_or(rmq_protocol::ProtocolError::MissingField { field: "topic" })?;
    Ok(ok(req).with_body(body::to_json(&svc.topic(topic)?)))
}

/// GET_BROKER_RUNTIME_INFO: counters and store figures, with Java's key names where they exist.
pub fn runtime_info(svc: &AdminService, req: &RemotingCommand) -> Reply {
    let table = svc.runtime_info();
    Ok(ok(req).with_body(body::to_json(&KvTable { table })))
}

/// GET_BROKER_CONFIG: the effective config as properties text.
pub fn broker_config(svc: &AdminService, req: &RemotingCommand) -> Reply {
    let mut text = String::new();
    for (k, v) in svc.config_properties() {
        text.push_str(&k);
        text.push('=');
        text.push_str(&v);
        text.push('\n');
    }
    let mut resp = ok(req).with_body(text.into_bytes());
    resp.ext_fields.insert(
        "version".into(),
        String::from_utf8_lossy(&body::to_json(&svc.data_version())).into_owned(),
    );
    Ok(resp)
}

/// UPDATE_BROKER_CONFIG: the body is properties text; SUCCESS with a remark saying what applies when.
pub fn update_broker_config(svc: &AdminService, req: &RemotingCommand) -> Reply {
    let Ok(text) = std::str::from_utf8(&req.body) else {
        return Err(super::refusal::Refusal::new(
            rmq_protocol::codes::response::SYSTEM_ERROR,
            "string2Properties error: the body is not UTF-8",
        ));
    };
    let update = svc.update_config(text)?;
    Ok(ok(req).with_remark(update.remark()))
}

/// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: body is a SubscriptionGroupConfig.
pub fn update_subscription_group(svc: &AdminService, req: &RemotingCommand) -> Reply {
    let cfg: SubscriptionGroupConfig = body::from_json(&req.body)?;
    svc.upsert_group(cfg)?;
    Ok(ok(req))
}

/// GET_ALL_SUBSCRIPTIONGROUP_CONFIG.
pub fn all_subscription_groups(svc: &AdminService, req: &RemotingCommand) -> Reply {
    let table: HashMap<String, SubscriptionGroupConfig> = svc
        .groups()
        .into_iter()
        .map(|g| (g.group_name.clone(), g))
        .collect();
    let mut wrapper = serde_json::Map::new();
    wrapper.insert(
        "subscriptionGroupTable".into(),
        serde_json::to_value(table)
            .map_err(|e| Refusal::new(response::SYSTEM_ERROR, e.to_string()))?,
    );
    wrapper.insert(
        "dataVersion".into(),
        serde_json::to_value(svc.data_version())
            .map_err(|e| Refusal::new(response::SYSTEM_ERROR, e.to_string()))?,
    );
    Ok(ok(req).with_body(body::to_json(&wrapper)))
}

/// DELETE_SUBSCRIPTIONGROUP (ext `groupName`, optional `cleanOffset`).
pub fn delete_subscription_group(svc: &AdminService, req: &RemotingCommand) -> Reply {
    let group = req
        .ext_fields
        .get("groupName")
        .ok_or(rmq_protocol::ProtocolError::MissingField { field: "groupName" })?;
    let clean = req
        .ext_fields
        .get("cleanOffset")
        .is_some_and(|v| v == "true");
    svc.delete_group(group, clean)?;
    Ok(ok(req))
}
