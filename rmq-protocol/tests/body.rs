//! JSON bodies: captured bodies from real peers, Java's bare-key route JSON, compressed registration.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proptest::prelude::*;
use rmq_protocol::body::{self, *};
use rmq_protocol::codes::request;
use rmq_protocol::frame;
use rmq_protocol::{ProtocolError, RemotingCommand};

/// Captured requests with their command (and the response for the same line when there is one).
fn captured() -> Vec<(String, RemotingCommand)> {
    common::frames()
        .into_iter()
        .map(|f| {
            let mut buf = bytes::BytesMut::from(&f.bytes[..]);
            let cmd = frame::decode(&mut buf, frame::DEFAULT_MAX_FRAME_LEN)
                .expect("ok")
                .expect("frame");
            (f.origin, cmd)
        })
        .collect()
}

#[test]
fn captured_heartbeats_decode() {
    let mut n = 0;
    let mut consumers = 0;
    for (origin, cmd) in captured() {
        if cmd.is_response() || cmd.code != request::HEART_BEAT {
            continue;
        }
        let hb: HeartbeatData = body::from_json(&cmd.body).expect(&origin);
        assert!(hb.client_id.contains('@'), "{origin}: {}", hb.client_id);
        assert!(
            hb.producer_data_set
                .iter()
                .any(|p| p.group_name == "CLIENT_INNER_PRODUCER"),
            "{origin}"
        );
        for c in &hb.consumer_data_set {
            consumers += 1;
            assert_eq!(c.group_name, "CapGroup", "{origin}");
            assert_eq!(c.consume_type, "CONSUME_PASSIVELY", "{origin}");
            assert_eq!(c.message_model, "CLUSTERING", "{origin}");
            assert!(
                c.subscription_data_set
                    .iter()
                    .any(|s| s.topic == "CapTopic"),
                "{origin}"
            );
        }
        // Our encoding reads back the same.
        assert_eq!(
            body::from_json::<HeartbeatData>(&body::to_json(&hb)).expect("re-read"),
            hb
        );
        n += 1;
    }
    assert_eq!(n, 2, "both captured heartbeats");
    // Both captured heartbeats are the producer's; consumer data is covered by `bodies_use_java_names`.
    assert_eq!(consumers, 0);
}

#[test]
fn captured_register_broker_decodes() {
    let mut n = 0;
    for (origin, cmd) in captured() {
        if cmd.is_response() || cmd.code != request::REGISTER_BROKER {
            continue;
        }
        let b = RegisterBrokerBody::decode(&cmd.body, false).expect(&origin);
        let table = &b.topic_config_serialize_wrapper.topic_config_table;
        let tbw = table.get("TBW102").expect("TBW102 registered");
        assert_eq!(
            (tbw.read_queue_nums, tbw.write_queue_nums, tbw.perm),
            (8, 8, 7)
        );
        assert_eq!(tbw.topic_filter_type, "SINGLE_TAG");
        assert_eq!(
            table.get("SCHEDULE_TOPIC_XXXX").map(|t| t.read_queue_nums),
            Some(18)
        );
        // The header's CRC matches the body (the name server's check).
        let crc = (crc32fast::hash(&cmd.body) & 0x7FFF_FFFF) as i64;
        assert_eq!(
            cmd.ext_fields
                .get("bodyCrc32")
                .and_then(|v| v.parse::<i64>().ok()),
            Some(crc)
        );
        // Java 5.x keys are present when we encode.
        let json: serde_json::Value = serde_json::from_slice(&b.encode(false)).expect("json");
        let w = &json["topicConfigSerializeWrapper"];
        assert!(
            w["topicQueueMappingInfoMap"].is_object()
                && w["topicQueueMappingDetailMap"].is_object()
        );
        assert!(w["mappingDataVersion"]["counter"].is_number());
        assert_eq!(
            RegisterBrokerBody::decode(&b.encode(false), false).expect("re-read"),
            b
        );
        // And the compressed form carries the same topics.
        let z = RegisterBrokerBody::decode(&b.encode(true), true).expect("compressed");
        assert_eq!(
            z.topic_config_serialize_wrapper.topic_config_table, *table,
            "{origin}"
        );
        n += 1;
    }
    assert_eq!(n, 1);
}

#[test]
fn captured_routes_and_lists_decode() {
    let mut routes = 0;
    for (origin, cmd) in captured() {
        if !cmd.is_response() || cmd.body.is_empty() || cmd.body.first() != Some(&b'{') {
            continue;
        }
        let text = String::from_utf8_lossy(&cmd.body);
        if text.contains("\"queueDatas\"") {
            let r: TopicRouteData = body::from_json(&cmd.body).expect(&origin);
            assert_eq!(
                r.broker_datas[0].master_addr(),
                Some("127.0.0.1:41679"),
                "{origin}"
            );
            assert_eq!(r.queue_datas[0].perm, 7, "{origin}");
            routes += 1;
        } else if text.contains("consumerIdList") {
            let l: ConsumerListBody = body::from_json(&cmd.body).expect(&origin);
            assert_eq!(l.consumer_id_list.len(), 1, "{origin}");
        }
    }
    assert_eq!(routes, 1);
}

fn sample_route() -> TopicRouteData {
    let mut addrs = BTreeMap::new();
    addrs.insert(0, "127.0.0.1:10911".to_owned());
    addrs.insert(1, "127.0.0.1:10921".to_owned());
    TopicRouteData {
        order_topic_conf: None,
        queue_datas: vec![QueueData {
            broker_name: "b-a".into(),
            read_queue_nums: 4,
            write_queue_nums: 4,
            perm: 6,
            topic_sys_flag: 0,
        }],
        broker_datas: vec![BrokerData {
            cluster: "DefaultCluster".into(),
            broker_name: "b-a".into(),
            broker_addrs: addrs,
            enable_acting_master: false,
            zone_name: None,
        }],
        filter_server_table: HashMap::new(),
    }
}

#[test]
fn route_json_like_java() {
    let r = sample_route();
    let java = r.to_json(false);
    assert_eq!(
        java,
        "{\"brokerDatas\":[{\"brokerAddrs\":{0:\"127.0.0.1:10911\",1:\"127.0.0.1:10921\"},\"brokerName\":\"b-a\",\
         \"cluster\":\"DefaultCluster\",\"enableActingMaster\":false}],\"filterServerTable\":{},\"queueDatas\":\
         [{\"brokerName\":\"b-a\",\"perm\":6,\"readQueueNums\":4,\"topicSysFlag\":0,\"writeQueueNums\":4}]}"
    );
    assert!(
        serde_json::from_str::<serde_json::Value>(&java).is_err(),
        "not standard JSON"
    );
    let standard = r.to_json(true);
    assert!(standard.contains("\"brokerAddrs\":{\"0\":\"127.0.0.1:10911\""));
    assert_eq!(
        body::from_json::<TopicRouteData>(standard.as_bytes()).expect("standard"),
        r
    );
    assert_eq!(
        body::from_json::<TopicRouteData>(java.as_bytes()).expect("java's bare keys"),
        r
    );
}

#[test]
fn java_route_text_decodes() {
    // As an Apache name server writes it for an old client: bare keys, null-free, unknown fields.
    let text = br#"{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911",2:"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}],"topicQueueMappingByBroker":null}"#;
    let r: TopicRouteData = body::from_json(text).expect("decodes");
    assert_eq!(
        r.broker_datas[0].broker_addrs.get(&2).map(String::as_str),
        Some("10.0.0.2:10911")
    );
    assert_eq!(r.broker_datas[0].master_addr(), Some("10.0.0.1:10911"));
}

#[test]
fn cluster_info_both_forms() {
    let r = sample_route();
    let mut info = ClusterInfo::default();
    info.broker_addr_table
        .insert("b-a".into(), r.broker_datas[0].clone());
    info.cluster_addr_table
        .insert("DefaultCluster".into(), BTreeSet::from(["b-a".to_owned()]));
    let java = info.to_json(false);
    assert!(
        java.contains("\"brokerAddrs\":{0:\"127.0.0.1:10911\",1:"),
        "{java}"
    );
    assert_eq!(
        body::from_json::<ClusterInfo>(java.as_bytes()).expect("java"),
        info
    );
    assert_eq!(
        body::from_json::<ClusterInfo>(info.to_json(true).as_bytes()).expect("std"),
        info
    );
}

#[test]
fn bodies_use_java_names() {
    let lock = LockBatchRequestBody {
        consumer_group: "g".into(),
        client_id: "c".into(),
        only_this_broker: true,
        mq_set: vec![MessageQueue {
            topic: "t".into(),
            broker_name: "b".into(),
            queue_id: 1,
        }],
    };
    let v: serde_json::Value = serde_json::from_slice(&body::to_json(&lock)).expect("json");
    assert_eq!(v["consumerGroup"], "g");
    assert_eq!(v["clientId"], "c");
    assert_eq!(v["onlyThisBroker"], true);
    assert_eq!(v["mqSet"][0]["brokerName"], "b");
    assert_eq!(v["mqSet"][0]["queueId"], 1);
    let resp = LockBatchResponseBody {
        lock_ok_mq_set: lock.mq_set.clone(),
    };
    assert!(String::from_utf8_lossy(&body::to_json(&resp)).starts_with("{\"lockOKMQSet\":["));

    let hb: HeartbeatData = body::from_json(br#"{"clientID":"1.2.3.4@1","unknown":[1],"consumerDataSet":[{"groupName":"g","subscriptionDataSet":[{"topic":"t","subString":"*","filterClassSource":"x"}]}]}"#).expect("hb");
    assert_eq!(hb.client_id, "1.2.3.4@1");
    assert_eq!(
        hb.consumer_data_set[0].subscription_data_set[0].expression_type, "TAG",
        "default expression type"
    );
    let v: serde_json::Value = serde_json::from_slice(&body::to_json(&hb)).expect("json");
    assert_eq!(v["clientID"], "1.2.3.4@1");
    assert_eq!(
        v["consumerDataSet"][0]["subscriptionDataSet"][0]["subString"],
        "*"
    );

    let cc: ConsumerConnection = body::from_json(
        br#"{"connectionSet":[{"clientAddr":"1.2.3.4:5","clientId":"c","language":"JAVA","version":479}],"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","subscriptionTable":{"t":{"topic":"t","subString":"*"}}}"#,
    )
    .expect("consumer connection");
    assert_eq!(cc.connection_set[0].version, 479);
    assert_eq!(
        cc.subscription_table
            .get("t")
            .map(|s| s.sub_string.as_str()),
        Some("*")
    );

    let tc: TopicConfig = body::from_json(br#"{"topicName":"t"}"#).expect("defaults");
    assert_eq!(
        (tc.read_queue_nums, tc.write_queue_nums, tc.perm),
        (16, 16, 6)
    );
    assert_eq!(tc.topic_filter_type, "SINGLE_TAG");

    let list = TopicList {
        topic_list: BTreeSet::from(["a".to_owned()]),
        broker_addr: None,
    };
    assert_eq!(body::to_json(&list), br#"{"topicList":["a"]}"#);
    let kv: KvTable = body::from_json(br#"{"table":{"k":"v"}}"#).expect("kv");
    assert_eq!(kv.table.get("k").map(String::as_str), Some("v"));
}

#[test]
fn compressed_register_round_trip_and_rejects() {
    let mut table = HashMap::new();
    let mut attributes = HashMap::new();
    attributes.insert("+message.type".to_owned(), "NORMAL".to_owned());
    table.insert(
        "T1".to_owned(),
        TopicConfig {
            topic_name: "T1".into(),
            read_queue_nums: 4,
            write_queue_nums: 2,
            perm: 6,
            attributes,
            ..Default::default()
        },
    );
    table.insert(
        "T2".to_owned(),
        TopicConfig {
            topic_name: "T2".into(),
            ..Default::default()
        },
    );
    let b = RegisterBrokerBody {
        topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
            topic_config_table: table,
            data_version: DataVersion {
                state_version: 0,
                timestamp: 1_700_000_000_000,
                counter: 5,
            },
            ..Default::default()
        },
        filter_server_list: vec!["1.2.3.4:1".into()],
    };
    let z = b.encode(true);
    assert_eq!(z.first(), Some(&0x78), "zlib header");
    assert_eq!(RegisterBrokerBody::decode(&z, true).expect("decodes"), b);
    for bad in [&b""[..], b"not zlib", &z[..z.len() / 2]] {
        assert!(matches!(
            RegisterBrokerBody::decode(bad, true),
            Err(ProtocolError::InvalidBody {
                what: "RegisterBrokerBody",
                ..
            })
        ));
    }
    assert!(RegisterBrokerBody::decode(b"{", false).is_err());
}

fn arb_route() -> impl Strategy<Value = TopicRouteData> {
    let text = "[a-zA-Z0-9_:.{}\",\\\\ -]{0,12}";
    let broker = (
        prop::collection::btree_map(-3i64..1000, text, 0..4),
        text,
        text,
        any::<bool>(),
        prop::option::of(text),
    )
        .prop_map(
            |(broker_addrs, broker_name, cluster, enable_acting_master, zone_name)| BrokerData {
                broker_addrs,
                broker_name,
                cluster,
                enable_acting_master,
                zone_name,
            },
        );
    let queue = (text, any::<i32>(), any::<i32>(), any::<i32>(), any::<i32>()).prop_map(
        |(b, p, r, f, w)| QueueData {
            broker_name: b,
            perm: p,
            read_queue_nums: r,
            topic_sys_flag: f,
            write_queue_nums: w,
        },
    );
    (
        prop::collection::vec(broker, 0..3),
        prop::collection::hash_map(text, prop::collection::vec(text, 0..2), 0..2),
        prop::option::of(text),
        prop::collection::vec(queue, 0..3),
    )
        .prop_map(
            |(broker_datas, filter_server_table, order_topic_conf, queue_datas)| TopicRouteData {
                broker_datas,
                filter_server_table,
                order_topic_conf,
                queue_datas,
            },
        )
}

proptest! {
    #[test]
    fn route_both_encodings_round_trip(r in arb_route()) {
        prop_assert_eq!(body::from_json::<TopicRouteData>(r.to_json(true).as_bytes()).expect("standard"), r.clone());
        prop_assert_eq!(body::from_json::<TopicRouteData>(r.to_json(false).as_bytes()).expect("java"), r);
    }

    #[test]
    fn lenient_decoder_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = body::from_json::<TopicRouteData>(&bytes);
        let _ = RegisterBrokerBody::decode(&bytes, true);
    }
}
