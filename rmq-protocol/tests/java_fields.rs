//! The field tables against Java's classes (audit: `docs/protocol-java-fields.md`): a field is required only when
//! Java's reader fails without it, and an absent field Java tolerates reads as Java's value.
//!
//! `required_keys_are_javas` pins, for every header of the catalog, the keys whose absence Java turns into an
//! error (a `@CFNotNull` wrapper its broker or client unboxes or uses as a map key); the other tests check the
//! value each newly tolerated absence reads as.

mod common;

use std::collections::BTreeSet;

use common::ext;
use rmq_protocol::body::{self, *};
use rmq_protocol::codes::request;
use rmq_protocol::headers::{self, *};
use rmq_protocol::{ProtocolError, RemotingCommand};

/// Per header: the keys Java cannot do without (from the audit table).
const JAVA_REQUIRED: &[(&str, &[&str])] = &[
    ("GetTopicStatsInfoRequestHeader", &["topic"]),
    ("GetConsumerConnectionListRequestHeader", &["consumerGroup"]),
    ("GetConsumeStatsRequestHeader", &["consumerGroup"]),
    ("ResetOffsetRequestHeader", &["topic", "group"]),
    (
        "ReplyMessageRequestHeader",
        &["topic", "queueId", "sysFlag", "bornTimestamp", "flag"],
    ),
    ("UnregisterClientRequestHeader", &[]),
    ("GetConsumerListByGroupRequestHeader", &["consumerGroup"]),
    ("NotifyConsumerIdsChangedRequestHeader", &["consumerGroup"]),
    (
        "RegisterBrokerRequestHeader",
        &["brokerName", "brokerAddr", "clusterName", "brokerId"],
    ),
    ("RegisterBrokerResponseHeader", &[]),
    (
        "UnregisterBrokerRequestHeader",
        &["brokerName", "brokerAddr", "clusterName", "brokerId"],
    ),
    ("GetRouteInfoRequestHeader", &["topic"]),
    (
        "QueryConsumerOffsetRequestHeader",
        &["consumerGroup", "topic", "queueId"],
    ),
    ("QueryConsumerOffsetResponseHeader", &["offset"]),
    (
        "UpdateConsumerOffsetRequestHeader",
        &["consumerGroup", "topic", "queueId", "commitOffset"],
    ),
    ("GetMaxOffsetRequestHeader", &["topic", "queueId"]),
    ("GetMaxOffsetResponseHeader", &["offset"]),
    ("GetMinOffsetRequestHeader", &["topic", "queueId"]),
    ("GetMinOffsetResponseHeader", &["offset"]),
    (
        "SearchOffsetRequestHeader",
        &["topic", "queueId", "timestamp"],
    ),
    ("SearchOffsetResponseHeader", &["offset"]),
    (
        "GetEarliestMsgStoretimeRequestHeader",
        &["topic", "queueId"],
    ),
    ("GetEarliestMsgStoretimeResponseHeader", &["timestamp"]),
    (
        "PullMessageRequestHeader",
        &[
            "consumerGroup",
            "topic",
            "queueId",
            "queueOffset",
            "maxMsgNums",
            "sysFlag",
            "subVersion",
        ],
    ),
    (
        "PullMessageResponseHeader",
        &[
            "suggestWhichBrokerId",
            "nextBeginOffset",
            "minOffset",
            "maxOffset",
        ],
    ),
    ("ViewMessageRequestHeader", &["offset"]),
    (
        "QueryMessageRequestHeader",
        &["topic", "key", "maxNum", "beginTimestamp", "endTimestamp"],
    ),
    (
        "QueryMessageResponseHeader",
        &["indexLastUpdateTimestamp", "indexLastUpdatePhyoffset"],
    ),
    (
        "SendMessageRequestHeader",
        &["topic", "queueId", "sysFlag", "bornTimestamp", "flag"],
    ),
    ("SendMessageResponseHeader", &["queueId", "queueOffset"]),
    (
        "CreateTopicRequestHeader",
        &[
            "topic",
            "readQueueNums",
            "writeQueueNums",
            "perm",
            "topicFilterType",
        ],
    ),
    ("DeleteTopicRequestHeader", &["topic"]),
    ("GetTopicConfigRequestHeader", &["topic"]),
    (
        "ConsumerSendMsgBackRequestHeader",
        &["offset", "group", "delayLevel"],
    ),
    (
        "EndTransactionRequestHeader",
        &[
            "producerGroup",
            "tranStateTableOffset",
            "commitLogOffset",
            "commitOrRollback",
        ],
    ),
    (
        "CheckTransactionStateRequestHeader",
        &["tranStateTableOffset", "commitLogOffset"],
    ),
    (
        "GetConsumerRunningInfoRequestHeader",
        &["consumerGroup", "clientId"],
    ),
    (
        "ConsumeMessageDirectlyResultRequestHeader",
        &["consumerGroup"],
    ),
    ("GetProducerConnectionListRequestHeader", &["producerGroup"]),
    ("QueryTopicConsumeByWhoRequestHeader", &["topic"]),
    ("CloneGroupOffsetRequestHeader", &["srcGroup", "destGroup"]),
    // `isOrder` is a @CFNotNull primitive: Java only logs its absence and reads false.
    ("GetConsumeStatsInBrokerHeader", &[]),
    (
        "ViewBrokerStatsDataRequestHeader",
        &["statsName", "statsKey"],
    ),
    // Java annotates none of its fields.
    ("QueryConsumeQueueRequestHeader", &[]),
    ("PutKvConfigRequestHeader", &["namespace", "key", "value"]),
    ("GetKvConfigRequestHeader", &["namespace", "key"]),
    ("GetKvConfigResponseHeader", &[]),
    ("DeleteKvConfigRequestHeader", &["namespace", "key"]),
    ("GetKvListByNamespaceRequestHeader", &["namespace"]),
    ("WipeWritePermOfBrokerRequestHeader", &["brokerName"]),
    ("WipeWritePermOfBrokerResponseHeader", &["wipeTopicCount"]),
    ("AddWritePermOfBrokerRequestHeader", &["brokerName"]),
    ("AddWritePermOfBrokerResponseHeader", &["addTopicCount"]),
    ("PopMessageRequestHeader", &["consumerGroup", "topic"]),
    ("PopMessageResponseHeader", &[]),
    (
        "AckMessageRequestHeader",
        &["consumerGroup", "topic", "queueId", "extraInfo", "offset"],
    ),
    (
        "ChangeInvisibleTimeRequestHeader",
        &[
            "consumerGroup",
            "topic",
            "queueId",
            "extraInfo",
            "offset",
            "invisibleTime",
        ],
    ),
    (
        "ChangeInvisibleTimeResponseHeader",
        &["popTime", "invisibleTime", "reviveQid"],
    ),
    ("NotificationRequestHeader", &["consumerGroup", "topic"]),
    ("NotificationResponseHeader", &[]),
    ("RecallMessageRequestHeader", &["topic", "recallHandle"]),
    ("RecallMessageResponseHeader", &["msgId"]),
];

#[test]
fn required_keys_are_javas() {
    let catalog = headers::catalog();
    assert_eq!(
        catalog.len(),
        JAVA_REQUIRED.len(),
        "every header of the catalog is in the audit"
    );
    for entry in catalog {
        let (_, want) = JAVA_REQUIRED
            .iter()
            .find(|(name, _)| *name == entry.name)
            .unwrap_or_else(|| panic!("{} is not in the audit table", entry.name));
        let want: BTreeSet<&str> = want.iter().copied().collect();
        let got: BTreeSet<&str> = entry
            .fields
            .iter()
            .filter(|f| f.required)
            .map(|f| f.key)
            .collect();
        assert_eq!(got, want, "{}", entry.name);
        for key in &want {
            assert!(
                entry.fields.iter().any(|f| f.key == *key),
                "{}.{key} is a field",
                entry.name
            );
        }
    }
}

#[test]
fn reset_offset_primitives_default_as_java() {
    // A 4.x admin tool's header without 5.x's queueId/offset, and without the primitives.
    let h = ResetOffsetRequestHeader::from_ext(&ext(&[("topic", "T"), ("group", "G")]))
        .expect("Java reads it");
    assert_eq!(h.timestamp, 0, "long timestamp: 0");
    assert!(!h.is_force, "boolean isForce: false");
    assert_eq!(h.queue_id, None, "int queueId = -1: every queue");
    assert_eq!(h.offset, None);
}

#[test]
fn reply_push_reads_what_javas_client_reads() {
    let h = ReplyMessageRequestHeader::from_ext(&ext(&[
        ("topic", "C_REPLY_TOPIC"),
        ("queueId", "0"),
        ("sysFlag", "0"),
        ("bornTimestamp", "1"),
        ("flag", "0"),
    ]))
    .expect("Java's client reads it");
    assert_eq!(h.producer_group, "");
    assert_eq!(h.default_topic, "");
    assert_eq!(h.default_topic_queue_nums, 0);
    assert_eq!(h.born_host, "");
    assert_eq!(h.store_host, "");
    assert_eq!(h.store_timestamp, 0);
    assert!(!h.unit_mode, "boolean unitMode = false");
    // C++-style 0/1 is Boolean.parseBoolean: false.
    let mut e = h.to_ext();
    e.insert("unitMode".into(), "1".into());
    assert!(
        !ReplyMessageRequestHeader::from_ext(&e)
            .expect("ok")
            .unit_mode
    );
}

#[test]
fn unregister_client_without_client_id() {
    let h = UnregisterClientRequestHeader::from_ext(&ext(&[("consumerGroup", "G")]))
        .expect("Java unregisters by channel");
    assert_eq!(h.client_id, "");
    assert_eq!(h.consumer_group.as_deref(), Some("G"));
}

#[test]
fn register_broker_without_ha_address() {
    let h = RegisterBrokerRequestHeader::from_ext(&ext(&[
        ("brokerName", "b"),
        ("brokerAddr", "1.2.3.4:10911"),
        ("clusterName", "c"),
        ("brokerId", "0"),
    ]))
    .expect("Java's name server stores a null HA address");
    assert_eq!(h.ha_server_addr, "");
    assert_eq!(h.compressed, None, "boolean compressed: read as false");
    assert_eq!(h.body_crc32, None, "Integer bodyCrc32 = 0: read as 0");
}

#[test]
fn pull_without_commit_offset_or_suspend_time() {
    let base = [
        ("consumerGroup", "G"),
        ("topic", "T"),
        ("queueId", "0"),
        ("queueOffset", "0"),
        ("maxMsgNums", "32"),
        ("sysFlag", "0"),
        ("subVersion", "0"),
    ];
    let h = PullMessageRequestHeader::from_ext(&ext(&base)).expect("Java reads it");
    assert_eq!(h.commit_offset, -1, "nothing to commit");
    assert_eq!(h.suspend_timeout_millis, 0, "no hold");
    // subVersion is unboxed on both of Java's paths: still required.
    let without: Vec<_> = base
        .iter()
        .copied()
        .filter(|(k, _)| *k != "subVersion")
        .collect();
    assert!(matches!(
        PullMessageRequestHeader::from_ext(&ext(&without)),
        Err(ProtocolError::MissingField {
            field: "subVersion"
        })
    ));
}

#[test]
fn create_topic_defaults() {
    // What a Go or 4.x admin may send: no defaultTopic, no order, no 5.x extras.
    let h = CreateTopicRequestHeader::from_ext(&ext(&[
        ("topic", "T"),
        ("readQueueNums", "8"),
        ("writeQueueNums", "8"),
        ("perm", "6"),
        ("topicFilterType", "SINGLE_TAG"),
    ]))
    .expect("Java creates it");
    assert_eq!(h.default_topic, "");
    assert!(!h.order, "Boolean order = false");
    assert_eq!(h.force, None, "Boolean force = false: read as false");
    assert_eq!(h.topic_sys_flag, None, "null: 0 in Java's broker");
}

#[test]
fn end_transaction_without_msg_id() {
    let h = EndTransactionRequestHeader::from_ext(&ext(&[
        ("producerGroup", "PG"),
        ("tranStateTableOffset", "1"),
        ("commitLogOffset", "2"),
        ("commitOrRollback", "8"),
    ]))
    .expect("Java only logs msgId");
    assert_eq!(h.msg_id, "");
    assert_eq!(h.from_transaction_check, None, "Boolean = false");
}

#[test]
fn send_without_group_or_template_both_spellings() {
    let v1 = ext(&[
        ("topic", "T"),
        ("queueId", "1"),
        ("sysFlag", "0"),
        ("bornTimestamp", "5"),
        ("flag", "0"),
    ]);
    let h = SendMessageRequestHeader::from_ext(&v1).expect("v1");
    assert_eq!(h.producer_group, "");
    assert_eq!(h.default_topic, "");
    assert_eq!(h.default_topic_queue_nums, 0);
    assert_eq!(h.topic, "T");
    let v2 = ext(&[("b", "T"), ("e", "1"), ("f", "0"), ("g", "5"), ("h", "0")]);
    let cmd = RemotingCommand::request(request::SEND_MESSAGE_V2, v2);
    assert_eq!(SendMessageRequestHeader::from_command(&cmd).expect("v2"), h);
    // The topic is still required.
    let mut no_topic = v1.clone();
    no_topic.remove("topic");
    assert!(matches!(
        SendMessageRequestHeader::from_ext(&no_topic),
        Err(ProtocolError::MissingField { field: "topic" })
    ));
}

#[test]
fn send_answer_without_offset_msg_id() {
    let h = SendMessageResponseHeader::from_ext(&ext(&[("queueId", "3"), ("queueOffset", "9")]))
        .expect("Java's client only stores msgId");
    assert_eq!((h.msg_id.as_str(), h.queue_id, h.queue_offset), ("", 3, 9));
}

#[test]
fn connection_language_by_name_case_or_ordinal() {
    for (raw, want) in [
        (r#""JAVA""#, "JAVA"),
        (r#""go""#, "GO"),
        ("12", "RUST"),
        (r#""13""#, "NODE_JS"),
        ("1", "CPP"),
    ] {
        let json = format!(r#"{{"clientId":"c","clientAddr":"a","language":{raw},"version":1}}"#);
        let c: Connection = body::from_json(json.as_bytes()).expect(raw);
        assert_eq!(c.language, want, "{raw}");
    }
    assert!(body::from_json::<Connection>(br#"{"language":14}"#).is_err());
}

#[test]
fn absent_body_members_take_javas_initializers() {
    let t: TopicConfig = body::from_json(br#"{"topicName":"T"}"#).expect("topic config");
    assert_eq!((t.read_queue_nums, t.write_queue_nums, t.perm), (16, 16, 6));
    assert_eq!(t.topic_filter_type, "SINGLE_TAG");
    assert!(!t.order);

    let s: SubscriptionData = body::from_json(br#"{"topic":"T","subString":"*"}"#).expect("sub");
    assert_eq!(
        s.expression_type, "TAG",
        "expressionType = ExpressionType.TAG"
    );
    assert!(!s.class_filter_mode);

    let l: LockBatchRequestBody = body::from_json(br#"{"consumerGroup":"G"}"#).expect("lock");
    assert!(!l.only_this_broker);
    assert!(l.mq_set.is_empty());

    // Java's `isWithoutSub` field is the bean property `withoutSub`.
    let hb: HeartbeatData =
        body::from_json(br#"{"clientID":"c","withoutSub":true}"#).expect("heartbeat");
    assert!(hb.without_sub);
    assert_eq!(hb.heartbeat_fingerprint, 0);

    let r: RegisterBrokerBody = body::from_json(b"{}").expect("register body");
    assert!(r.filter_server_list.is_empty());
    assert!(r
        .topic_config_serialize_wrapper
        .topic_config_table
        .is_empty());

    let c: ConsumeStats = body::from_json(b"{}").expect("consume stats");
    assert_eq!(c.consume_tps, 0.0);
    let q: QueueData = body::from_json(br#"{"brokerName":"b"}"#).expect("queue data");
    assert_eq!((q.perm, q.read_queue_nums, q.topic_sys_flag), (0, 0, 0));
    let b: BrokerData = body::from_json(br#"{"brokerName":"b"}"#).expect("broker data");
    assert!(!b.enable_acting_master);
}
