//! Between `apache.rocketmq.v2` messages and the broker's own types: a protocol message becomes the
//! properties a remoting producer would have sent (so both fronts store the same record), a topic config
//! becomes route queues, and a service error becomes the protocol's `Code` with a message naming the problem.

use std::net::SocketAddr;

use rmq_grpc::v2::{
    Address, AddressScheme, Broker, Code, Endpoints, Message, MessageQueue, MessageType,
    Permission, Resource, Status,
};
use rmq_protocol::body::TopicConfig;
use rmq_protocol::message::properties::{self, Properties};
use rmq_protocol::message::sysflag::perm;

use crate::broker::service::ServiceError;

/// An OK status.
pub fn ok() -> Status {
    status(Code::Ok, "OK")
}

/// A status with `code` and `message`.
pub fn status(code: Code, message: impl Into<String>) -> Status {
    Status {
        code: code as i32,
        message: message.into(),
    }
}

/// The protocol code for a service error, as Apache's proxy maps the broker's answers.
pub fn error_status(e: &ServiceError) -> Status {
    let code = match e {
        ServiceError::TopicNotExist { .. } | ServiceError::UnknownTopic { .. } => {
            Code::TopicNotFound
        }
        ServiceError::BrokerNotWritable { .. }
        | ServiceError::TopicNotWritable { .. }
        | ServiceError::SystemTopic { .. }
        | ServiceError::Forbidden(_) => Code::Forbidden,
        ServiceError::InvalidTopicName(_) => Code::IllegalTopic,
        ServiceError::BodyTooLarge { .. } => Code::MessageBodyTooLarge,
        ServiceError::IllegalMessage(_) | ServiceError::IllegalQueue { .. } => Code::BadRequest,
        ServiceError::InvalidParameter(_) => Code::BadRequest,
        ServiceError::GroupNotExist { .. } | ServiceError::NoSuchGroup(_) => {
            Code::ConsumerGroupNotFound
        }
        _ => Code::InternalServerError,
    };
    status(code, e.to_string())
}

/// The endpoints a client should dial for this broker.
pub fn endpoints(addr: SocketAddr) -> Endpoints {
    Endpoints {
        scheme: if addr.is_ipv4() {
            AddressScheme::IPv4
        } else {
            AddressScheme::IPv6
        } as i32,
        addresses: vec![Address {
            host: addr.ip().to_string(),
            port: i32::from(addr.port()),
        }],
    }
}

/// The protocol permission of a topic's PermName bits.
pub fn permission(p: i32) -> Permission {
    match (perm::is_readable(p), perm::is_writeable(p)) {
        (true, true) => Permission::ReadWrite,
        (true, false) => Permission::Read,
        (false, true) => Permission::Write,
        (false, false) => Permission::None,
    }
}

/// The message types a topic accepts: its `message.type` attribute (5.x), all four when unset, as Apache.
pub fn accepted_types(cfg: &TopicConfig) -> Vec<i32> {
    let all = || {
        vec![
            MessageType::Normal as i32,
            MessageType::Fifo as i32,
            MessageType::Delay as i32,
            MessageType::Transaction as i32,
        ]
    };
    match cfg
        .attributes
        .get("message.type")
        .map(|t| t.trim_start_matches('+').to_ascii_uppercase())
        .as_deref()
    {
        Some("NORMAL") => vec![MessageType::Normal as i32],
        Some("FIFO") => vec![MessageType::Fifo as i32],
        Some("DELAY") => vec![MessageType::Delay as i32],
        Some("TRANSACTION") => vec![MessageType::Transaction as i32],
        _ => all(),
    }
}

/// The route queues of `cfg` on this broker (`max(read, write)` of them, each with the topic's permission).
pub fn route_queues(
    namespace: &str,
    cfg: &TopicConfig,
    broker_name: &str,
    addr: SocketAddr,
) -> Vec<MessageQueue> {
    let queues = cfg.read_queue_nums.max(cfg.write_queue_nums);
    (0..queues)
        .map(|id| {
            let mut p = 0;
            if id < cfg.read_queue_nums {
                p |= cfg.perm & perm::READ;
            }
            if id < cfg.write_queue_nums {
                p |= cfg.perm & perm::WRITE;
            }
            MessageQueue {
                topic: Some(Resource {
                    resource_namespace: namespace.to_owned(),
                    name: cfg.topic_name.clone(),
                }),
                id,
                permission: permission(p) as i32,
                broker: Some(Broker {
                    name: broker_name.to_owned(),
                    id: 0,
                    endpoints: Some(endpoints(addr)),
                }),
                accept_message_types: accepted_types(cfg),
            }
        })
        .collect()
}

/// The message properties a remoting producer would send for `m`: tag, keys, UNIQ_KEY, the FIFO message group
/// (`__SHARDINGKEY`), the delivery time (`TIMER_DELIVER_MS`) and the user properties.
///
/// # Errors
/// A user property using a reserved system key, named.
pub fn message_properties(m: &Message) -> Result<String, Status> {
    let mut props = Properties::new();
    for (k, v) in &m.user_properties {
        if is_reserved(k) {
            return Err(status(
                Code::IllegalMessagePropertyKey,
                format!("user property {k} is a reserved system property"),
            ));
        }
        props.insert(k.clone(), v.clone());
    }
    if let Some(sp) = &m.system_properties {
        if let Some(tag) = sp.tag.as_deref().filter(|t| !t.is_empty()) {
            props.insert(properties::TAGS, tag);
        }
        if !sp.keys.is_empty() {
            props.insert(properties::KEYS, sp.keys.join(properties::KEY_SEPARATOR));
        }
        if !sp.message_id.is_empty() {
            props.insert(properties::UNIQ_KEY, sp.message_id.clone());
        }
        if let Some(group) = sp.message_group.as_deref().filter(|g| !g.is_empty()) {
            props.insert(properties::SHARDING_KEY, group);
        }
        if let Some(at) = &sp.delivery_timestamp {
            let ms = at.seconds.saturating_mul(1000) + i64::from(at.nanos / 1_000_000);
            props.insert(properties::TIMER_DELIVER_MS, ms.to_string());
        }
    }
    Ok(props.encode())
}

/// System property keys a client may not set as user properties (what the broker itself reads).
fn is_reserved(key: &str) -> bool {
    [
        properties::TAGS,
        properties::KEYS,
        properties::UNIQ_KEY,
        properties::TRANSACTION_PREPARED,
        properties::TIMER_DELIVER_MS,
        properties::TIMER_DELAY_SEC,
        properties::SHARDING_KEY,
        "DELAY",
        "REAL_TOPIC",
        "REAL_QID",
    ]
    .contains(&key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_grpc::v2::SystemProperties;

    #[test]
    fn a_protocol_message_becomes_remoting_properties() {
        let m = Message {
            topic: None,
            user_properties: [("color".to_owned(), "red".to_owned())].into(),
            system_properties: Some(SystemProperties {
                tag: Some("TagA".into()),
                keys: vec!["k1".into(), "k2".into()],
                message_id: "01ABC".into(),
                message_group: Some("order-7".into()),
                ..SystemProperties::default()
            }),
            body: b"x".to_vec(),
        };
        let props = Properties::parse(&message_properties(&m).expect("valid"));
        assert_eq!(props.get(properties::TAGS), Some("TagA"));
        assert_eq!(props.get(properties::KEYS), Some("k1 k2"));
        assert_eq!(props.get(properties::UNIQ_KEY), Some("01ABC"));
        assert_eq!(props.get(properties::SHARDING_KEY), Some("order-7"));
        assert_eq!(props.get("color"), Some("red"));
        let bad = Message {
            user_properties: [("TAGS".to_owned(), "x".to_owned())].into(),
            ..m
        };
        assert_eq!(
            message_properties(&bad).map_err(|s| s.code),
            Err(Code::IllegalMessagePropertyKey as i32)
        );
    }

    #[test]
    fn permissions_and_types_follow_the_topic() {
        assert_eq!(permission(perm::READ | perm::WRITE), Permission::ReadWrite);
        assert_eq!(permission(perm::READ), Permission::Read);
        let mut cfg = TopicConfig::default();
        assert_eq!(accepted_types(&cfg).len(), 4);
        cfg.attributes.insert("message.type".into(), "FIFO".into());
        assert_eq!(accepted_types(&cfg), vec![MessageType::Fifo as i32]);
    }
}
