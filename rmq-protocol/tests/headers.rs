//! Typed headers: generic round trips for every header, required-field errors naming the key, and the headers of
//! captured frames from real peers (V1 send, pull, send-back, register-broker, ...).

mod common;

use std::collections::HashMap;
use std::fmt::Debug;

use rmq_protocol::codes::request;
use rmq_protocol::frame;
use rmq_protocol::headers::*;
use rmq_protocol::{ProtocolError, RemotingCommand};

/// An ext map holding every key of `H`, each with a value of its kind ("7", or "true" for booleans).
fn filled_ext<H: CommandHeader>() -> HashMap<String, String> {
    assert_eq!(
        H::FIELDS.len(),
        H::EXT_KEYS.len(),
        "the field table lists every key"
    );
    H::FIELDS
        .iter()
        .map(|f| {
            let v = match f.kind {
                FieldKind::Boolean => "true",
                _ => "7",
            };
            (f.key.to_string(), v.to_string())
        })
        .collect()
}

/// Round trips, both empty and full, and the error for each missing required key.
fn check_header<H: CommandHeader + Debug + PartialEq + Default>() {
    let name = std::any::type_name::<H>();
    assert!(!H::EXT_KEYS.is_empty(), "{name} lists its keys");

    let empty = H::default();
    assert_eq!(
        H::from_ext(&empty.to_ext()).expect("default round trip"),
        empty,
        "{name}"
    );

    let ext = filled_ext::<H>();
    let full = H::from_ext(&ext).expect("filled");
    assert_eq!(
        full.to_ext(),
        ext,
        "{name}: every key written back unchanged"
    );
    assert_eq!(
        H::from_ext(&full.to_ext()).expect("full round trip"),
        full,
        "{name}"
    );

    // A key the header does not own is ignored.
    let mut extra = ext.clone();
    extra.insert("bnameX".into(), "whatever".into());
    assert_eq!(H::from_ext(&extra).expect("extra key"), full, "{name}");

    let required: Vec<String> = H::FIELDS
        .iter()
        .filter(|f| f.required)
        .map(|f| f.key.to_string())
        .collect();
    for key in H::EXT_KEYS {
        let mut missing = ext.clone();
        missing.remove(*key);
        match H::from_ext(&missing) {
            Err(ProtocolError::MissingField { field }) => {
                assert_eq!(field, *key, "{name}");
                assert!(
                    required.contains(&key.to_string()),
                    "{name}: {key} is required"
                );
            }
            Ok(_) => assert!(
                !required.contains(&key.to_string()),
                "{name}: {key} is optional"
            ),
            Err(e) => panic!("{name}: {e}"),
        }
    }
}

macro_rules! check_all {
    ($($h:ty),* $(,)?) => {{
        let mut n = 0;
        $( check_header::<$h>(); n += 1; )*
        n
    }};
}

#[test]
fn every_header_round_trips_and_names_missing_fields() {
    let n = check_all!(
        SendMessageRequestHeader,
        SendMessageResponseHeader,
        PullMessageRequestHeader,
        PullMessageResponseHeader,
        QueryConsumerOffsetRequestHeader,
        QueryConsumerOffsetResponseHeader,
        UpdateConsumerOffsetRequestHeader,
        GetMaxOffsetRequestHeader,
        GetMaxOffsetResponseHeader,
        GetMinOffsetRequestHeader,
        GetMinOffsetResponseHeader,
        SearchOffsetRequestHeader,
        SearchOffsetResponseHeader,
        GetEarliestMsgStoretimeRequestHeader,
        GetEarliestMsgStoretimeResponseHeader,
        ViewMessageRequestHeader,
        QueryMessageRequestHeader,
        QueryMessageResponseHeader,
        UnregisterClientRequestHeader,
        GetConsumerListByGroupRequestHeader,
        NotifyConsumerIdsChangedRequestHeader,
        CreateTopicRequestHeader,
        DeleteTopicRequestHeader,
        GetTopicConfigRequestHeader,
        RegisterBrokerRequestHeader,
        RegisterBrokerResponseHeader,
        UnregisterBrokerRequestHeader,
        GetRouteInfoRequestHeader,
        ConsumerSendMsgBackRequestHeader,
        EndTransactionRequestHeader,
        CheckTransactionStateRequestHeader,
        GetConsumerConnectionListRequestHeader,
        GetConsumeStatsRequestHeader,
        ResetOffsetRequestHeader,
        GetTopicStatsInfoRequestHeader,
        ReplyMessageRequestHeader,
    );
    assert_eq!(n, 36);
}

#[test]
fn missing_field_message_matches_java() {
    let err = PullMessageRequestHeader::from_ext(&HashMap::new()).expect_err("empty");
    assert_eq!(err.to_string(), "the custom field <consumerGroup> is null");
}

#[test]
fn invalid_values_name_the_field() {
    let mut ext = filled_ext::<GetMaxOffsetRequestHeader>();
    ext.insert("queueId".into(), "x1".into());
    match GetMaxOffsetRequestHeader::from_ext(&ext) {
        Err(ProtocolError::InvalidField { field, value, .. }) => {
            assert_eq!(field, "queueId");
            assert_eq!(value, "x1");
        }
        other => panic!("{other:?}"),
    }
    ext.insert("queueId".into(), "99999999999".into());
    assert!(
        GetMaxOffsetRequestHeader::from_ext(&ext).is_err(),
        "i32 overflow"
    );
}

#[test]
fn booleans_read_as_java_parse_boolean() {
    let mut ext = filled_ext::<GetRouteInfoRequestHeader>();
    for (raw, want) in [
        ("TRUE", true),
        ("True", true),
        ("false", false),
        ("FALSE", false),
        ("1", false),
        ("0", false),
        ("yes", false),
        ("", false),
    ] {
        ext.insert("acceptStandardJsonOnly".into(), raw.into());
        let h = GetRouteInfoRequestHeader::from_ext(&ext).expect(raw);
        assert_eq!(h.accept_standard_json_only, Some(want));
    }
}

#[test]
fn request_with_and_decode_header() {
    let h = GetRouteInfoRequestHeader {
        topic: "T".into(),
        accept_standard_json_only: Some(true),
    };
    let cmd = RemotingCommand::request_with(request::GET_ROUTEINFO_BY_TOPIC, &h);
    assert_eq!(cmd.code, request::GET_ROUTEINFO_BY_TOPIC);
    assert_eq!(
        cmd.ext_fields
            .get("acceptStandardJsonOnly")
            .map(String::as_str),
        Some("true")
    );
    assert_eq!(
        cmd.decode_header::<GetRouteInfoRequestHeader>()
            .expect("decodes"),
        h
    );
}

fn sample_send() -> SendMessageRequestHeader {
    SendMessageRequestHeader {
        producer_group: "pg".into(),
        topic: "T".into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id: 3,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        flag: 0,
        properties: Some("WAIT\u{1}true\u{2}".into()),
        reconsume_times: Some(0),
        unit_mode: Some(false),
        max_reconsume_times: None,
        batch: Some(true),
        broker_name: Some("b1".into()),
    }
}

#[test]
fn send_header_v1_and_v2_spellings() {
    let h = sample_send();
    let v1 = h.to_ext_v1();
    assert_eq!(v1.get("producerGroup").map(String::as_str), Some("pg"));
    assert_eq!(v1.get("bname").map(String::as_str), Some("b1"));
    assert!(!v1.contains_key("maxReconsumeTimes"));
    let v2 = h.to_ext_v2();
    let mut keys: Vec<&str> = v2.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "m", "n"]
    );
    assert_eq!(v2.get("g").map(String::as_str), Some("1700000000000"));

    for code in [
        request::SEND_MESSAGE,
        request::SEND_MESSAGE_V2,
        request::SEND_BATCH_MESSAGE,
    ] {
        let cmd = h.to_command(code);
        assert_eq!(
            cmd.ext_fields,
            if code == request::SEND_MESSAGE {
                v1.clone()
            } else {
                v2.clone()
            }
        );
        assert_eq!(
            SendMessageRequestHeader::from_command(&cmd).expect("decodes"),
            h,
            "code {code}"
        );
    }
    // V2 without `n` falls back to `bname`.
    let mut v2_bname = v2.clone();
    v2_bname.remove("n");
    v2_bname.insert("bname".into(), "b2".into());
    assert_eq!(
        SendMessageRequestHeader::from_ext_v2(&v2_bname)
            .expect("ok")
            .broker_name
            .as_deref(),
        Some("b2")
    );
    // The wrong spelling for the code names the missing key of the expected one (`b`, the topic: the producer
    // group `a` has a default, as Java's broker never dereferences it).
    let wrong = RemotingCommand::request(request::SEND_MESSAGE_V2, v1);
    assert!(matches!(
        SendMessageRequestHeader::from_command(&wrong),
        Err(ProtocolError::MissingField { field: "b" })
    ));
}

/// Decodes the captured frame's command.
fn command(bytes: &[u8]) -> RemotingCommand {
    let mut buf = bytes::BytesMut::from(bytes);
    frame::decode(&mut buf, frame::DEFAULT_MAX_FRAME_LEN)
        .expect("ok")
        .expect("frame")
}

/// The typed header written back must reproduce every captured key it owns.
fn assert_subset(
    origin: &str,
    typed: &HashMap<String, String>,
    captured: &HashMap<String, String>,
) {
    for (k, v) in typed {
        assert_eq!(captured.get(k), Some(v), "{origin}: key {k}");
    }
}

#[test]
fn captured_headers_decode() {
    let mut seen: HashMap<i32, usize> = HashMap::new();
    let mut send_checked = 0;
    for f in common::frames() {
        let cmd = command(&f.bytes);
        let ext = &cmd.ext_fields;
        let o = f.origin.as_str();
        let typed = if cmd.is_response() {
            // Responses: only the ones whose request kind is obvious from their keys.
            if ext.contains_key("msgId") {
                Some(
                    cmd.decode_header::<SendMessageResponseHeader>()
                        .expect(o)
                        .to_ext(),
                )
            } else if ext.contains_key("nextBeginOffset") {
                let h = cmd.decode_header::<PullMessageResponseHeader>().expect(o);
                assert_eq!(h.next_begin_offset, 32, "{o}");
                Some(h.to_ext())
            } else if ext.contains_key("masterAddr") {
                Some(
                    cmd.decode_header::<RegisterBrokerResponseHeader>()
                        .expect(o)
                        .to_ext(),
                )
            } else if ext.contains_key("offset") {
                Some(
                    cmd.decode_header::<QueryConsumerOffsetResponseHeader>()
                        .expect(o)
                        .to_ext(),
                )
            } else {
                None
            }
        } else {
            match cmd.code {
                request::SEND_MESSAGE => {
                    let h = SendMessageRequestHeader::from_command(&cmd).expect(o);
                    assert_eq!(h.topic, "CapTopic", "{o}");
                    assert_eq!(h.default_topic_queue_nums, 4, "{o}");
                    assert_eq!(h.broker_name.as_deref(), Some("peer-broker"), "{o}");
                    assert_eq!(h.batch, Some(false), "{o}");
                    // Exactly the captured V1 map, and the V2 spelling carries the same header.
                    assert_eq!(&h.to_ext_v1(), ext, "{o}");
                    assert_eq!(
                        SendMessageRequestHeader::from_ext_v2(&h.to_ext_v2()).expect(o),
                        h,
                        "{o}"
                    );
                    send_checked += 1;
                    Some(h.to_ext())
                }
                request::PULL_MESSAGE => {
                    let h = cmd.decode_header::<PullMessageRequestHeader>().expect(o);
                    assert_eq!(
                        (h.max_msg_nums, h.sys_flag, h.suspend_timeout_millis),
                        (32, 2, 15000),
                        "{o}"
                    );
                    assert_eq!(h.subscription.as_deref(), Some(""), "{o}");
                    Some(h.to_ext())
                }
                request::QUERY_CONSUMER_OFFSET => Some(
                    cmd.decode_header::<QueryConsumerOffsetRequestHeader>()
                        .expect(o)
                        .to_ext(),
                ),
                request::CONSUMER_SEND_MSG_BACK => {
                    let h = cmd
                        .decode_header::<ConsumerSendMsgBackRequestHeader>()
                        .expect(o);
                    assert_eq!(h.max_reconsume_times, Some(16), "{o}");
                    Some(h.to_ext())
                }
                request::REGISTER_BROKER => {
                    let h = cmd.decode_header::<RegisterBrokerRequestHeader>().expect(o);
                    assert_eq!((h.broker_id, h.compressed), (0, Some(false)), "{o}");
                    assert_eq!(h.body_crc32, Some(1_780_129_681), "{o}");
                    Some(h.to_ext())
                }
                request::GET_ROUTEINFO_BY_TOPIC => Some(
                    cmd.decode_header::<GetRouteInfoRequestHeader>()
                        .expect(o)
                        .to_ext(),
                ),
                request::GET_TOPIC_CONFIG => Some(
                    cmd.decode_header::<GetTopicConfigRequestHeader>()
                        .expect(o)
                        .to_ext(),
                ),
                request::GET_CONSUMER_LIST_BY_GROUP => Some(
                    cmd.decode_header::<GetConsumerListByGroupRequestHeader>()
                        .expect(o)
                        .to_ext(),
                ),
                request::NOTIFY_CONSUMER_IDS_CHANGED => Some(
                    cmd.decode_header::<NotifyConsumerIdsChangedRequestHeader>()
                        .expect(o)
                        .to_ext(),
                ),
                _ => None,
            }
        };
        if let Some(typed) = typed {
            assert_subset(o, &typed, ext);
            *seen.entry(cmd.code).or_default() += 1;
        }
    }
    assert_eq!(send_checked, 2, "both captured V1 sends");
    assert!(
        seen.len() >= 8,
        "kinds of captured headers checked: {seen:?}"
    );
}
