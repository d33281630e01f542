//! Topic and group administration, and broker introspection (runtime info, config).

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use rmq_protocol::body::{self, KvTable, TopicConfig};
use rmq_protocol::codes::response;
use rmq_protocol::headers::{CreateTopicRequestHeader, DeleteTopicRequestHeader};
use rmq_protocol::RemotingCommand;

use super::refusal::{ok, Refusal, Reply};
use crate::broker::clock::now_ms;
use crate::broker::service::admin::AdminService;
use crate::broker::subscription_group::SubscriptionGroupConfig;
use crate::broker::topic_config::{self, TBW102};

/// UPDATE_AND_CREATE_TOPIC: validates and stores the topic, then re-registers with the name servers.
pub fn create_topic(inner: &AdminService, req: &RemotingCommand) -> Reply {
    let h: CreateTopicRequestHeader = req.decode_header()?;
    topic_config::validate_topic(&h.topic)
        .map_err(|e| Refusal::new(response::INVALID_PARAMETER, e))?;
    if h.topic == TBW102 || topic_config::is_system_topic(&h.topic) {
        return Err(Refusal::new(
            response::INVALID_PARAMETER,
            format!("The topic[{}] is conflict with system topic.", h.topic),
        ));
    }
    if h.read_queue_nums <= 0
        || h.write_queue_nums <= 0
        || h.read_queue_nums > 1024
        || h.write_queue_nums > 1024
    {
        return Err(Refusal::new(
            response::INVALID_PARAMETER,
            format!(
                "readQueueNums {} and writeQueueNums {} must be between 1 and 1024",
                h.read_queue_nums, h.write_queue_nums
            ),
        ));
    }
    let attributes = parse_attributes(h.attributes.as_deref().unwrap_or(""))?;
    let cfg = TopicConfig {
        topic_name: h.topic.clone(),
        read_queue_nums: h.read_queue_nums,
        write_queue_nums: h.write_queue_nums,
        perm: h.perm,
        topic_filter_type: h.topic_filter_type.clone(),
        topic_sys_flag: h.topic_sys_flag.unwrap_or(0),
        order: h.order,
        attributes,
    };
    // A change tells the registrar itself (TopicConfigManager::changes).
    inner.topics.upsert(cfg)?;
    Ok(ok(req))
}

/// Parses `+key=value,+k2=v2` (a leading `-key` deletes, which on create means "absent").
fn parse_attributes(text: &str) -> Result<HashMap<String, String>, Refusal> {
    let mut out = HashMap::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if let Some(kv) = item.strip_prefix('+') {
            match kv.split_once('=') {
                Some((k, v)) if !k.is_empty() => {
                    out.insert(k.to_string(), v.to_string());
                }
                _ => {
                    return Err(Refusal::new(
                        response::INVALID_PARAMETER,
                        format!("attribute `{item}` must look like +key=value"),
                    ))
                }
            }
        } else if !item.starts_with('-') {
            return Err(Refusal::new(
                response::INVALID_PARAMETER,
                format!("attribute `{item}` must start with + or -"),
            ));
        }
    }
    Ok(out)
}

/// DELETE_TOPIC_IN_BROKER: forgets the topic, its offsets and its consume queues.
pub fn delete_topic(inner: &AdminService, req: &RemotingCommand) -> Reply {
    let h: DeleteTopicRequestHeader = req.decode_header()?;
    if topic_config::is_system_topic(&h.topic) {
        return Err(Refusal::new(
            response::INVALID_PARAMETER,
            format!("The topic[{}] is conflict with system topic.", h.topic),
        ));
    }
    inner.topics.delete(&h.topic)?;
    inner.offsets.remove_topic(&h.topic);
    inner.store.delete_topic(&h.topic);
    Ok(ok(req))
}

/// GET_ALL_TOPIC_CONFIG: the whole topic table with its version.
pub fn all_topic_config(inner: &AdminService, req: &RemotingCommand) -> Reply {
    Ok(ok(req).with_body(body::to_json(&inner.topics.wrapper())))
}

/// GET_TOPIC_CONFIG: one topic's config.
pub fn topic_config(inner: &AdminService, req: &RemotingCommand) -> Reply {
    let topic = req
        .ext_fields
        .get("topic")
        .ok_or(rmq_protocol::ProtocolError::MissingField { field: "topic" })?;
    match inner.topics.get(topic) {
        Some(cfg) => Ok(ok(req).with_body(body::to_json(&cfg))),
        None => Err(Refusal::new(
            response::TOPIC_NOT_EXIST,
            format!("No topic in this broker. topic: {topic}"),
        )),
    }
}

/// GET_BROKER_RUNTIME_INFO: counters and store figures, with Java's key names where they exist.
pub fn runtime_info(inner: &AdminService, req: &RemotingCommand) -> Reply {
    let stats = inner.store.stats();
    let (producers, consumers) = inner.clients.counts();
    let mut table = HashMap::new();
    let mut put = |k: &str, v: String| {
        table.insert(k.to_string(), v);
    };
    put(
        "brokerVersionDesc",
        format!("rmq {}", env!("CARGO_PKG_VERSION")),
    );
    put(
        "brokerVersion",
        rmq_protocol::command::CURRENT_VERSION.to_string(),
    );
    put("bootTimestamp", inner.boot_timestamp.to_string());
    put("runtime", format!("{} ms", now_ms() - inner.boot_timestamp));
    put(
        "msgPutTotalTodayNow",
        inner.stats.put_messages.load(Ordering::Relaxed).to_string(),
    );
    put(
        "msgGetTotalTodayNow",
        inner.stats.got_messages.load(Ordering::Relaxed).to_string(),
    );
    put(
        "putBytesTotal",
        inner.stats.put_bytes.load(Ordering::Relaxed).to_string(),
    );
    put(
        "commitLogMinOffset",
        stats.commit_log_min_offset.to_string(),
    );
    put(
        "commitLogMaxOffset",
        stats.commit_log_max_offset.to_string(),
    );
    put("commitLogFlushedOffset", stats.flushed_offset.to_string());
    put(
        "commitLogDiskRatio",
        format!("{:.4}", stats.disk_used_ratio),
    );
    put("producerConnections", producers.to_string());
    put("consumerConnections", consumers.to_string());
    put(
        "flushDiskType",
        format!("{:?}", inner.config.flush_disk_type),
    );
    put("brokerName", inner.config.broker_name.clone());
    put("clusterName", inner.config.broker_cluster_name.clone());
    Ok(ok(req).with_body(body::to_json(&KvTable { table })))
}

/// GET_BROKER_CONFIG: the effective config as properties text.
pub fn broker_config(inner: &AdminService, req: &RemotingCommand) -> Reply {
    let mut text = String::new();
    for (k, v) in inner.config.to_properties() {
        text.push_str(&k);
        text.push('=');
        text.push_str(&v);
        text.push('\n');
    }
    let mut resp = ok(req).with_body(text.into_bytes());
    resp.ext_fields.insert(
        "version".into(),
        String::from_utf8_lossy(&body::to_json(&inner.topics.data_version())).into_owned(),
    );
    Ok(resp)
}

/// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: body is a SubscriptionGroupConfig.
pub fn update_subscription_group(inner: &AdminService, req: &RemotingCommand) -> Reply {
    let cfg: SubscriptionGroupConfig = body::from_json(&req.body)?;
    if cfg.group_name.is_empty() || cfg.group_name.len() > 120 {
        return Err(Refusal::new(
            response::INVALID_PARAMETER,
            "groupName must be 1 to 120 characters",
        ));
    }
    inner.groups.upsert(cfg)?;
    Ok(ok(req))
}

/// GET_ALL_SUBSCRIPTIONGROUP_CONFIG.
pub fn all_subscription_groups(inner: &AdminService, req: &RemotingCommand) -> Reply {
    let table: HashMap<String, SubscriptionGroupConfig> = inner
        .groups
        .all()
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
        serde_json::to_value(inner.topics.data_version())
            .map_err(|e| Refusal::new(response::SYSTEM_ERROR, e.to_string()))?,
    );
    Ok(ok(req).with_body(body::to_json(&wrapper)))
}

/// DELETE_SUBSCRIPTIONGROUP (ext `groupName`, optional `cleanOffset`).
pub fn delete_subscription_group(inner: &AdminService, req: &RemotingCommand) -> Reply {
    let group = req
        .ext_fields
        .get("groupName")
        .ok_or(rmq_protocol::ProtocolError::MissingField { field: "groupName" })?;
    inner.groups.delete(group)?;
    if req
        .ext_fields
        .get("cleanOffset")
        .is_some_and(|v| v == "true")
    {
        inner.offsets.remove_group(group);
    }
    Ok(ok(req))
}
