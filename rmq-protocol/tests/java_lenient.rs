//! "What Java accepts, we accept": every typed header and every JSON body, fed the spellings Java's readers take
//! (rules: `rmq_protocol::lenient`), decodes to what Java would read.
//!
//! Headers are reached through `headers::catalog()` and their field tables, so a new header is covered by being
//! declared. Bodies start from a populated canonical value, are written as JSON and then rewritten the ways
//! other clients write them (numbers as strings, booleans as 0/1 or words, enum names as ordinals or in another
//! case, unknown members, nulls and absent members) before being read back.

mod common;

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use rmq_protocol::body::{self, *};
use rmq_protocol::headers::{self, CommandHeader, FieldKind, SendMessageRequestHeader};
use rmq_protocol::lenient::{self, JavaEnum};
use rmq_protocol::ProtocolError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------------------------------------

/// An integer as Java's parseInt/parseLong take it (an optional `+` on non-negative values), and its canonical text.
fn signed<T>() -> BoxedStrategy<(String, String)>
where
    T: Arbitrary + std::fmt::Display + PartialOrd + Default + 'static,
{
    (any::<T>(), any::<bool>())
        .prop_map(|(v, plus)| {
            let raw = if plus && v >= T::default() {
                format!("+{v}")
            } else {
                v.to_string()
            };
            (raw, v.to_string())
        })
        .boxed()
}

/// A value Java's parser for `kind` accepts, and the value Java reads from it (as our encoder writes it).
fn java_spelling(kind: FieldKind) -> BoxedStrategy<(String, String)> {
    match kind {
        FieldKind::Str => any::<String>().prop_map(|s| (s.clone(), s)).boxed(),
        FieldKind::Int => signed::<i32>(),
        FieldKind::Long => signed::<i64>(),
        FieldKind::Boolean => prop_oneof![
            // "true" in a random case.
            prop::collection::vec(any::<bool>(), 4).prop_map(|upper| {
                "true"
                    .chars()
                    .zip(upper)
                    .map(|(c, u)| if u { c.to_ascii_uppercase() } else { c })
                    .collect::<String>()
            }),
            Just("false".to_owned()),
            Just("0".to_owned()),
            Just("1".to_owned()),
            Just(String::new()),
            "[a-zA-Z0-9 ]{0,8}",
        ]
        .prop_map(|raw| {
            // Java's Boolean.parseBoolean, written out here so the test does not trust the code it checks.
            let read = raw.to_lowercase() == "true";
            (raw, read.to_string())
        })
        .boxed(),
    }
}

/// For one header: present-or-absent per field (required always present), a Java spelling for each, and
/// unknown extra keys.
type HeaderCase = (Vec<Option<(String, String)>>, HashMap<String, String>);

fn header_case(fields: &'static [headers::FieldSpec]) -> BoxedStrategy<HeaderCase> {
    let per_field: Vec<BoxedStrategy<Option<(String, String)>>> = fields
        .iter()
        .map(|f| {
            let s = java_spelling(f.kind);
            if f.required {
                s.prop_map(Some).boxed()
            } else {
                prop::option::of(s).boxed()
            }
        })
        .collect();
    let extras = prop::collection::hash_map("[a-z]{1,6}X", ".{0,6}", 0..4);
    (per_field, extras).boxed()
}

/// Cases run, so the test can check that every header got its share.
static CASES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn check_header_case(entry: &headers::HeaderEntry, case: HeaderCase) -> Result<(), TestCaseError> {
    CASES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (values, extras) = case;
    let mut ext: HashMap<String, String> = extras;
    for (f, v) in entry.fields.iter().zip(&values) {
        if let Some((raw, _)) = v {
            ext.insert(f.key.to_owned(), raw.clone());
        }
    }
    let out = (entry.round_trip)(&ext)
        .map_err(|e| TestCaseError::fail(format!("{}: {e} for {ext:?}", entry.name)))?;
    for (f, v) in entry.fields.iter().zip(&values) {
        match v {
            Some((_, read)) => prop_assert_eq!(
                out.get(f.key),
                Some(read),
                "{}.{} from {:?}",
                entry.name,
                f.key,
                ext.get(f.key)
            ),
            None if !f.required => {}
            None => unreachable!("required fields are always generated"),
        }
    }
    Ok(())
}

#[test]
fn every_header_accepts_what_java_accepts() {
    const PER_HEADER: u32 = 64;
    let catalog = headers::catalog();
    assert!(catalog.len() >= 36, "catalog lists every header");
    for entry in catalog {
        assert!(!entry.fields.is_empty(), "{} has a field table", entry.name);
        // A runner per header: one runner's case budget is spent by its first `run`.
        let mut runner =
            proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(PER_HEADER));
        runner
            .run(&header_case(entry.fields), |case| {
                check_header_case(entry, case)
            })
            .unwrap_or_else(|e| panic!("{}: {e}", entry.name));
    }
    let ran = CASES.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        ran >= catalog.len() * PER_HEADER as usize,
        "only {ran} cases ran for {} headers",
        catalog.len()
    );
}

#[test]
fn every_header_refuses_only_a_missing_required_field() {
    for entry in headers::catalog() {
        let full: HashMap<String, String> = entry
            .fields
            .iter()
            .map(|f| {
                let v = if f.kind == FieldKind::Boolean {
                    "true"
                } else {
                    "1"
                };
                (f.key.to_owned(), v.to_owned())
            })
            .collect();
        (entry.round_trip)(&full).unwrap_or_else(|e| panic!("{}: {e}", entry.name));
        for f in entry.fields {
            let mut ext = full.clone();
            ext.remove(f.key);
            match ((entry.round_trip)(&ext), f.required) {
                (Err(ProtocolError::MissingField { field }), true) => {
                    assert_eq!(field, f.key, "{}", entry.name)
                }
                (Ok(_), false) => {}
                (other, required) => panic!(
                    "{}.{} (required: {required}) absent gave {other:?}",
                    entry.name, f.key
                ),
            }
        }
    }
}

/// The send header's V2 letters follow the same rules; this is what Apache's C++ client sends (code 10, V1
/// names) with `unitMode`/`batch` as 0/1.
#[test]
fn send_header_from_cpp_client() {
    let ext = common::ext(&[
        ("producerGroup", "pg"),
        ("topic", "T"),
        ("defaultTopic", "TBW102"),
        ("defaultTopicQueueNums", "4"),
        ("queueId", "2"),
        ("sysFlag", "0"),
        ("bornTimestamp", "1700000000000"),
        ("flag", "0"),
        ("properties", ""),
        ("reconsumeTimes", "0"),
        ("unitMode", "0"),
        ("batch", "1"),
    ]);
    let h = SendMessageRequestHeader::from_ext(&ext).expect("C++ send header");
    assert_eq!(h.unit_mode, Some(false));
    assert_eq!(h.batch, Some(false), "Boolean.parseBoolean(\"1\") is false");
    assert_eq!(h.queue_id, 2);

    let v2: HashMap<String, String> = SendMessageRequestHeader::to_ext_v2(&h)
        .into_iter()
        .map(|(k, v)| {
            if k == "k" {
                (k, "TRUE".to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    let back = SendMessageRequestHeader::from_ext_v2(&v2).expect("v2");
    assert_eq!(back.unit_mode, Some(true));
}

// ---------------------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------------------

/// Members whose values are raw JSON in our structs, where a rewrite would change the value.
const RAW_MEMBERS: &[&str] = &["topicQueueMappingInfoMap", "topicQueueMappingDetailMap"];

/// Members that are maps (any key is data, so an "unknown member" would be an entry).
const MAP_MEMBERS: &[&str] = &[
    "table",
    "attributes",
    "topicConfigTable",
    "subscriptionTable",
];

/// Enum-valued members and their Java enums.
fn enum_of(key: &str) -> Option<&'static JavaEnum> {
    match key {
        "consumeType" => Some(&lenient::CONSUME_TYPE),
        "messageModel" => Some(&lenient::MESSAGE_MODEL),
        "consumeFromWhere" => Some(&lenient::CONSUME_FROM_WHERE),
        "topicFilterType" => Some(&lenient::TOPIC_FILTER_TYPE),
        "language" => Some(&lenient::LANGUAGE_CODE),
        _ => None,
    }
}

/// A rewrite that keeps the value Java reads.
#[derive(Debug, Clone, Copy)]
enum Spelling {
    AsIs,
    NumberAsString,
    BoolAsNumber,
    BoolAsWord,
    EnumAsOrdinal,
    EnumLowercase,
}

fn spelling() -> impl Strategy<Value = Spelling> {
    prop_oneof![
        Just(Spelling::AsIs),
        Just(Spelling::NumberAsString),
        Just(Spelling::BoolAsNumber),
        Just(Spelling::BoolAsWord),
        Just(Spelling::EnumAsOrdinal),
        Just(Spelling::EnumLowercase),
    ]
}

/// Rewrites every scalar under `v`, taking the next choice from `choices` (cycled) for each one.
fn respell(v: &mut Value, key: Option<&str>, choices: &[Spelling], next: &mut usize) {
    let mut pick = || {
        let c = choices[*next % choices.len()];
        *next += 1;
        c
    };
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if !RAW_MEMBERS.contains(&k.as_str()) {
                    respell(child, Some(k), choices, next);
                }
            }
        }
        Value::Array(items) => {
            for child in items {
                respell(child, key, choices, next);
            }
        }
        Value::Number(n) => {
            if let Spelling::NumberAsString = pick() {
                *v = Value::String(n.to_string());
            }
        }
        Value::Bool(b) => match pick() {
            Spelling::BoolAsNumber => *v = json!(u8::from(*b)),
            Spelling::BoolAsWord => {
                *v = Value::String(if *b { "TRUE".into() } else { "False".into() })
            }
            _ => {}
        },
        Value::String(s) => {
            if let Some(e) = key.and_then(enum_of) {
                if let Some(i) = e.constants.iter().position(|c| c == s) {
                    match pick() {
                        Spelling::EnumAsOrdinal => *v = json!(i),
                        Spelling::EnumLowercase => *v = Value::String(s.to_lowercase()),
                        _ => {}
                    }
                }
            }
        }
        Value::Null => {}
    }
}

/// Adds an unknown member to every object and turns some members into `null` or removes them; returns the
/// expected JSON, in which those members are absent (Java's default for both).
fn perturb(v: &mut Value, expected: &mut Value, is_map: bool, drops: &[bool], next: &mut usize) {
    if let (Value::Object(map), Value::Object(exp)) = (&mut *v, &mut *expected) {
        let keys: Vec<String> = map.keys().cloned().collect();
        for k in keys {
            if RAW_MEMBERS.contains(&k.as_str()) {
                continue;
            }
            let drop = drops[*next % drops.len()];
            *next += 1;
            if drop {
                let as_null = (*next).is_multiple_of(2);
                if as_null {
                    map.insert(k.clone(), Value::Null);
                } else {
                    map.remove(&k);
                }
                exp.remove(&k);
            } else if let (Some(child), Some(exp_child)) = (map.get_mut(&k), exp.get_mut(&k)) {
                perturb(
                    child,
                    exp_child,
                    MAP_MEMBERS.contains(&k.as_str()),
                    drops,
                    next,
                );
            }
        }
        if !is_map {
            map.insert("zzUnknownMember".into(), json!({"nested": [1, "x", null]}));
        }
    } else if let (Value::Array(items), Value::Array(exp)) = (v, expected) {
        for (child, exp_child) in items.iter_mut().zip(exp.iter_mut()) {
            perturb(child, exp_child, false, drops, next);
        }
    }
}

fn read<T: DeserializeOwned>(v: &Value) -> Result<T, ProtocolError> {
    body::from_json(&serde_json::to_vec(v).expect("json"))
}

/// One body type under both kinds of rewrite.
fn check_body<T>(canonical: T, choices: &[Spelling], drops: &[bool]) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_value(&canonical).expect("to value");
    let mut respelled = json.clone();
    respell(&mut respelled, None, choices, &mut 0);
    let back: T = read(&respelled).map_err(|e| TestCaseError::fail(format!("{e}: {respelled}")))?;
    prop_assert_eq!(&back, &canonical, "respelled {}", respelled);

    let mut perturbed = json.clone();
    let mut expected = json;
    perturb(&mut perturbed, &mut expected, false, drops, &mut 0);
    let got: T = read(&perturbed).map_err(|e| TestCaseError::fail(format!("{e}: {perturbed}")))?;
    let want: T = read(&expected).map_err(|e| TestCaseError::fail(format!("{e}: {expected}")))?;
    prop_assert_eq!(got, want, "perturbed {}", perturbed);
    Ok(())
}

fn word() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_%@.:-]{0,12}"
}

fn subscription() -> impl Strategy<Value = SubscriptionData> {
    (
        any::<bool>(),
        word(),
        word(),
        prop::collection::vec(word(), 0..3),
        prop::collection::vec(any::<i32>(), 0..3),
        any::<i64>(),
        prop_oneof![Just("TAG".to_owned()), Just("SQL92".to_owned())],
    )
        .prop_map(
            |(
                class_filter_mode,
                topic,
                sub_string,
                tags_set,
                code_set,
                sub_version,
                expression_type,
            )| {
                SubscriptionData {
                    class_filter_mode,
                    topic,
                    sub_string,
                    tags_set,
                    code_set,
                    sub_version,
                    expression_type,
                }
            },
        )
}

fn constant(e: &'static JavaEnum) -> impl Strategy<Value = String> {
    prop::sample::select(e.constants).prop_map(str::to_owned)
}

fn heartbeat() -> impl Strategy<Value = HeartbeatData> {
    let consumer = (
        word(),
        constant(&lenient::CONSUME_TYPE),
        constant(&lenient::MESSAGE_MODEL),
        constant(&lenient::CONSUME_FROM_WHERE),
        prop::collection::vec(subscription(), 0..3),
        any::<bool>(),
    )
        .prop_map(
            |(group_name, consume_type, message_model, consume_from_where, subs, unit_mode)| {
                ConsumerData {
                    group_name,
                    consume_type,
                    message_model,
                    consume_from_where,
                    subscription_data_set: subs,
                    unit_mode,
                }
            },
        );
    (
        word(),
        prop::collection::vec(
            word().prop_map(|group_name| ProducerData { group_name }),
            0..3,
        ),
        prop::collection::vec(consumer, 0..3),
        any::<i32>(),
        any::<bool>(),
    )
        .prop_map(
            |(client_id, producers, consumers, heartbeat_fingerprint, without_sub)| HeartbeatData {
                client_id,
                producer_data_set: producers,
                consumer_data_set: consumers,
                heartbeat_fingerprint,
                without_sub,
            },
        )
}

fn queue() -> impl Strategy<Value = MessageQueue> {
    (word(), word(), any::<i32>()).prop_map(|(topic, broker_name, queue_id)| MessageQueue {
        topic,
        broker_name,
        queue_id,
    })
}

fn lock_body() -> impl Strategy<Value = LockBatchRequestBody> {
    (
        word(),
        word(),
        any::<bool>(),
        prop::collection::vec(queue(), 0..4),
    )
        .prop_map(|(consumer_group, client_id, only_this_broker, mq_set)| {
            LockBatchRequestBody {
                consumer_group,
                client_id,
                only_this_broker,
                mq_set,
            }
        })
}

fn topic_config() -> impl Strategy<Value = TopicConfig> {
    (
        word(),
        any::<i32>(),
        any::<i32>(),
        any::<i32>(),
        constant(&lenient::TOPIC_FILTER_TYPE),
        any::<i32>(),
        any::<bool>(),
        prop::collection::hash_map(word(), word(), 0..2),
    )
        .prop_map(
            |(
                topic_name,
                read_queue_nums,
                write_queue_nums,
                perm,
                filter,
                topic_sys_flag,
                order,
                attributes,
            )| {
                TopicConfig {
                    topic_name,
                    read_queue_nums,
                    write_queue_nums,
                    perm,
                    topic_filter_type: filter,
                    topic_sys_flag,
                    order,
                    attributes,
                }
            },
        )
}

fn data_version() -> impl Strategy<Value = DataVersion> {
    (any::<i64>(), any::<i64>(), any::<i64>()).prop_map(|(state_version, timestamp, counter)| {
        DataVersion {
            state_version,
            timestamp,
            counter,
        }
    })
}

fn connection() -> impl Strategy<Value = ConsumerConnection> {
    let conn = (
        word(),
        word(),
        constant(&lenient::LANGUAGE_CODE),
        any::<i32>(),
    )
        .prop_map(|(client_id, client_addr, language, version)| Connection {
            client_id,
            client_addr,
            language,
            version,
        });
    (
        prop::collection::vec(conn, 0..3),
        prop::collection::hash_map(word(), subscription(), 0..2),
        constant(&lenient::CONSUME_TYPE),
        constant(&lenient::MESSAGE_MODEL),
        constant(&lenient::CONSUME_FROM_WHERE),
    )
        .prop_map(
            |(
                connection_set,
                subscription_table,
                consume_type,
                message_model,
                consume_from_where,
            )| {
                ConsumerConnection {
                    connection_set,
                    subscription_table,
                    consume_type,
                    message_model,
                    consume_from_where,
                }
            },
        )
}

fn choices() -> impl Strategy<Value = Vec<Spelling>> {
    prop::collection::vec(spelling(), 1..16)
}

fn drops() -> impl Strategy<Value = Vec<bool>> {
    prop::collection::vec(prop::bool::weighted(0.2), 1..16)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn heartbeat_accepts_java_spellings(v in heartbeat(), c in choices(), d in drops()) {
        check_body(v, &c, &d)?;
    }

    #[test]
    fn lock_bodies_accept_java_spellings(v in lock_body(), c in choices(), d in drops()) {
        check_body(v, &c, &d)?;
    }

    #[test]
    fn check_client_body_accepts_java_spellings(
        client_id in word(), group in word(), sub in prop::option::of(subscription()),
        c in choices(), d in drops(),
    ) {
        check_body(CheckClientRequestBody { client_id, group, subscription_data: sub, namespace: None }, &c, &d)?;
    }

    #[test]
    fn topic_config_accepts_java_spellings(v in topic_config(), c in choices(), d in drops()) {
        check_body(v, &c, &d)?;
    }

    #[test]
    fn topic_wrapper_accepts_java_spellings(
        topics in prop::collection::hash_map(word(), topic_config(), 0..3),
        dv in data_version(), c in choices(), d in drops(),
    ) {
        let w = TopicConfigSerializeWrapper {
            topic_config_table: topics,
            data_version: dv.clone(),
            mapping_data_version: dv,
            ..Default::default()
        };
        check_body(w, &c, &d)?;
    }

    #[test]
    fn consumer_connection_accepts_java_spellings(v in connection(), c in choices(), d in drops()) {
        check_body(v, &c, &d)?;
    }

    #[test]
    fn lists_and_tables_accept_java_spellings(
        ids in prop::collection::vec(word(), 0..4),
        table in prop::collection::hash_map(word(), word(), 0..4),
        topics in prop::collection::btree_set(word(), 0..4),
        locked in prop::collection::vec(queue(), 0..4),
        c in choices(), d in drops(),
    ) {
        check_body(ConsumerListBody { consumer_id_list: ids }, &c, &d)?;
        check_body(KvTable { table }, &c, &d)?;
        check_body(TopicList { topic_list: topics, broker_addr: None }, &c, &d)?;
        check_body(LockBatchResponseBody { lock_ok_mq_set: locked }, &c, &d)?;
    }

    #[test]
    fn queue_keyed_tables_accept_java_spellings(
        offsets in prop::collection::btree_map(queue(), (any::<i64>(), any::<i64>(), any::<i64>()), 0..4),
        c in choices(),
    ) {
        // Java writes these with object keys; respell the values inside that text.
        let table: BTreeMap<MessageQueue, TopicOffset> = offsets
            .into_iter()
            .map(|(q, (a, b, m))| (q, TopicOffset { last_update_timestamp: a, max_offset: b, min_offset: m }))
            .collect();
        let stats = TopicStatsTable { offset_table: table };
        let java = String::from_utf8(stats.to_json()).expect("utf8");
        let mut n = 0;
        let respelled = respell_numbers_in_text(&java, &c, &mut n);
        prop_assert_eq!(TopicStatsTable::from_json(respelled.as_bytes()).expect("respelled"), stats);
    }
}

/// Quotes some of the numbers in a (non-standard) JSON text, outside strings.
fn respell_numbers_in_text(text: &str, choices: &[Spelling], next: &mut usize) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if c == '"' {
            in_string = true;
            out.push(c);
        } else if c == '-' || c.is_ascii_digit() {
            let mut num = c.to_string();
            while let Some(&d) = chars.peek() {
                if d.is_ascii_digit() || d == '.' {
                    num.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            let quote = matches!(choices[*next % choices.len()], Spelling::NumberAsString);
            *next += 1;
            // A key object's queueId is also a number; quoting it is what fastjson accepts too.
            if quote {
                out.push('"');
                out.push_str(&num);
                out.push('"');
            } else {
                out.push_str(&num);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The bodies Apache's C++ client 1.x writes, byte for byte as its jsoncpp writer does.
#[test]
fn cpp_client_heartbeat_decodes() {
    let raw = br#"{"clientID":"10.0.0.5@12345","consumerDataSet":[{"consumeFromWhere":4,"consumeType":1,"groupName":"g1","messageModel":1,"subscriptionDataSet":[{"codeSet":[2598919],"subString":"TagA","subVersion":"1700000000123","tagsSet":["TagA"],"topic":"T1"}]}],"producerDataSet":[{"groupName":"CLIENT_INNER_PRODUCER"}]}
"#;
    let hb: HeartbeatData = body::from_json(raw).expect("C++ heartbeat");
    let c = &hb.consumer_data_set[0];
    assert_eq!(c.consume_type, "CONSUME_PASSIVELY");
    assert_eq!(c.message_model, "CLUSTERING");
    assert_eq!(c.consume_from_where, "CONSUME_FROM_FIRST_OFFSET");
    let s = &c.subscription_data_set[0];
    assert_eq!(s.sub_version, 1_700_000_000_123);
    assert_eq!(s.expression_type, "TAG", "absent → Java's default");
    assert_eq!(s.code_set, vec![2_598_919]);

    let bad = br#"{"consumerDataSet":[{"messageModel":7}]}"#;
    let e = body::from_json::<HeartbeatData>(bad).expect_err("ordinal out of range");
    assert!(e.to_string().contains("MessageModel"), "{e}");
}

/// Java's reflective decoder logs a number it cannot parse and leaves the field null or at its initializer; only
/// a required field is then refused (Java dereferences the null).
#[test]
fn unparsable_numbers_follow_java_reflective_decoding() {
    use rmq_protocol::headers::{PullMessageRequestHeader, ResetOffsetRequestHeader};
    let mut ext = common::ext(&[
        ("consumerGroup", "g"),
        ("topic", "T"),
        ("queueId", "0"),
        ("queueOffset", "0"),
        ("maxMsgNums", "32"),
        ("sysFlag", "0"),
        ("subVersion", "0"),
        ("maxMsgBytes", "lots"),
        ("suspendTimeoutMillis", "soon"),
    ]);
    let h = PullMessageRequestHeader::from_ext(&ext)
        .expect("optional and defaulted fields tolerate junk");
    assert_eq!(h.max_msg_bytes, None);
    ext.insert("queueId".into(), "zero".into());
    match PullMessageRequestHeader::from_ext(&ext) {
        Err(ProtocolError::InvalidField { field, .. }) => assert_eq!(field, "queueId"),
        other => panic!("{other:?}"),
    }
    let reset = common::ext(&[("topic", "T"), ("group", "g"), ("timestamp", "x")]);
    let r = ResetOffsetRequestHeader::from_ext(&reset).expect("primitive long keeps its default");
    assert_eq!(r.timestamp, 0);
}
