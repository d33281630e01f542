//! Every JSON body type of `rmq_protocol::body`, through each decode entry point the crate offers:
//! `from_json` (standard JSON), `from_json_lenient` (Java's bare integer keys), the admin bodies' own
//! `from_json` (fastjson's object keys) and `RegisterBrokerBody::decode` (plain and zlib-compressed).
//!
//! The first input byte picks the body type, the rest is the body. Checks: no panic, no allocation sized by
//! the input, and every decoded value re-encodes with the type's encoder and decodes to the same value.
#![no_main]

use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use rmq_protocol::body::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

fuzz_target!(|data: &[u8]| {
    let (pick, body) = rmq_fuzz::split(data);
    match pick % 26 {
        0 => serde_body::<HeartbeatData>(body),
        1 => serde_body::<ProducerData>(body),
        2 => serde_body::<ConsumerData>(body),
        3 => serde_body::<SubscriptionData>(body),
        4 => serde_body::<ConsumerListBody>(body),
        5 => serde_body::<CheckClientRequestBody>(body),
        6 => serde_body::<MessageQueue>(body),
        7 => serde_body::<LockBatchRequestBody>(body),
        8 => serde_body::<UnlockBatchRequestBody>(body),
        9 => serde_body::<LockBatchResponseBody>(body),
        10 => serde_body::<Connection>(body),
        11 => serde_body::<ConsumerConnection>(body),
        12 => serde_body::<QueueData>(body),
        13 => serde_body::<BrokerData>(body),
        14 => route_body(body),
        15 => cluster_body(body),
        16 => serde_body::<TopicConfig>(body),
        17 => serde_body::<DataVersion>(body),
        18 => serde_body::<TopicConfigSerializeWrapper>(body),
        19 => serde_body::<KvTable>(body),
        20 => serde_body::<TopicList>(body),
        21 => serde_body::<TopicOffset>(body),
        22 => serde_body::<OffsetWrapper>(body),
        23 => admin_bodies(body),
        24 => register_body(body, false),
        _ => register_body(body, true),
    }
});

/// A body with serde both ways: both readers, and the round trip through `to_json`.
fn serde_body<T: Serialize + DeserializeOwned + PartialEq + Debug>(body: &[u8]) {
    for value in [from_json::<T>(body), from_json_lenient::<T>(body)]
        .into_iter()
        .flatten()
    {
        let json = to_json(&value);
        let back: T = from_json(&json).unwrap_or_else(|e| {
            panic!(
                "re-encoded body does not decode: {e}: {}",
                String::from_utf8_lossy(&json)
            )
        });
        assert_eq!(value, back, "{}", String::from_utf8_lossy(&json));
    }
}

/// Route data: the serde round trip, and both of its own JSON forms (bare keys read leniently).
fn route_body(body: &[u8]) {
    serde_body::<TopicRouteData>(body);
    if let Ok(route) = from_json_lenient::<TopicRouteData>(body) {
        let standard = route.to_json(true);
        assert_eq!(
            from_json::<TopicRouteData>(standard.as_bytes()).ok(),
            Some(route.clone()),
            "{standard}"
        );
        let java = route.to_json(false);
        assert_eq!(
            from_json_lenient::<TopicRouteData>(java.as_bytes()).ok(),
            Some(route),
            "{java}"
        );
    }
}

/// Cluster info: as route data.
fn cluster_body(body: &[u8]) {
    serde_body::<ClusterInfo>(body);
    if let Ok(info) = from_json_lenient::<ClusterInfo>(body) {
        let standard = info.to_json(true);
        assert_eq!(
            from_json::<ClusterInfo>(standard.as_bytes()).ok(),
            Some(info.clone()),
            "{standard}"
        );
        let java = info.to_json(false);
        assert_eq!(
            from_json_lenient::<ClusterInfo>(java.as_bytes()).ok(),
            Some(info),
            "{java}"
        );
    }
}

/// The queue-keyed admin bodies, with fastjson's object keys.
fn admin_bodies(body: &[u8]) {
    if let Ok(v) = TopicStatsTable::from_json(body) {
        let json = v.to_json();
        assert_eq!(
            TopicStatsTable::from_json(&json).ok(),
            Some(v),
            "{}",
            String::from_utf8_lossy(&json)
        );
    }
    if let Ok(v) = ConsumeStats::from_json(body) {
        let json = v.to_json();
        let back = ConsumeStats::from_json(&json).expect("re-encoded ConsumeStats decodes");
        assert_eq!(
            back.offset_table,
            v.offset_table,
            "{}",
            String::from_utf8_lossy(&json)
        );
        // to_json writes a non-finite rate as 0.0; JSON cannot carry one anyway.
        if v.consume_tps.is_finite() {
            assert_eq!(back.consume_tps, v.consume_tps);
        }
    }
    if let Ok(v) = ResetOffsetBody::from_json(body) {
        let json = v.to_json();
        assert_eq!(
            ResetOffsetBody::from_json(&json).ok(),
            Some(v),
            "{}",
            String::from_utf8_lossy(&json)
        );
    }
}

/// REGISTER_BROKER's body. The compressed text form carries only what Java's does (no topicSysFlag/order, and
/// mapping infos keyed by their `topic` field or position), so compare what it carries.
fn register_body(body: &[u8], compressed: bool) {
    let Ok(v) = RegisterBrokerBody::decode(body, compressed) else {
        return;
    };
    let encoded = v.encode(compressed);
    let back = RegisterBrokerBody::decode(&encoded, compressed)
        .unwrap_or_else(|e| panic!("re-encoded RegisterBrokerBody does not decode: {e}"));
    if compressed {
        let (a, b) = (
            &v.topic_config_serialize_wrapper,
            &back.topic_config_serialize_wrapper,
        );
        assert_eq!(a.data_version, b.data_version);
        assert_eq!(a.topic_config_table, b.topic_config_table);
        assert_eq!(v.filter_server_list, back.filter_server_list);
        // Mapping infos without a `topic` are keyed by their position, which a HashMap does not keep: not
        // compared.
    } else {
        assert_eq!(v, back);
    }
}
