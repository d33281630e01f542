//! Acceptance test 6: the interop checklist of docs/protocol.md §6, item by item, over raw frames.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::BufMut;
use rmq_broker::embedded::EmbeddedBroker;
use rmq_protocol::{LanguageCode, RemotingCommand, SerializeType};
use rmq_tests::client::{
    code, now_ms, parse_json_lenient, rc, uniq_key, OutMessage, PullArgs, PullOutcome,
};
use rmq_tests::record::{decode_offset_msg_id, encode_properties};
use rmq_tests::wire::{self, JsonStyle};
use rmq_tests::{eventually, unique, RawClient};
use serde_json::Value;

fn ext<const N: usize>(pairs: [(&str, String); N]) -> HashMap<String, String> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Sends a hand-encoded frame with `opaque` and awaits the matching response.
async fn raw_request(c: &RawClient, frame: Vec<u8>, opaque: i32, what: &str) -> RemotingCommand {
    let rx = c.expect_response(opaque);
    c.send_raw(frame).expect("write frame");
    tokio::time::timeout(Duration::from_secs(10), rx)
        .await
        .unwrap_or_else(|_| panic!("{what}: no response"))
        .unwrap_or_else(|_| panic!("{what}: connection closed instead of a response"))
}

/// Checklist 1 and 13: JSON (Java style and Go style, i.e. without `serializeTypeCurrentRPC`) and ROCKETMQ
/// binary headers are understood by the name server and by the broker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_header_encodings_at_name_server_and_broker() {
    let broker = EmbeddedBroker::start().await.expect("start broker");
    let ns = RawClient::connect(&broker.namesrv_addr())
        .await
        .expect("connect name server");
    let br = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect broker");
    let topic = unique("EncodingTopic");

    type Encoder = fn(&RemotingCommand) -> Vec<u8>;
    let encoders: [(&str, Encoder); 3] = [
        ("JSON (Java)", |c| wire::encode_json(c, JsonStyle::JAVA)),
        ("JSON (Go)", |c| wire::encode_json(c, JsonStyle::GO)),
        ("ROCKETMQ", wire::encode_binary),
    ];
    let mut opaque = 1000;
    let mut sent = Vec::new();
    for (name, enc) in encoders {
        // Name server: TBW102 route.
        opaque += 1;
        let mut cmd = RemotingCommand::request(
            code::GET_ROUTEINFO_BY_TOPIC,
            ext([("topic", "TBW102".to_owned())]),
        );
        cmd.opaque = opaque;
        cmd.language = LanguageCode::Java;
        let resp = raw_request(&ns, enc(&cmd), opaque, name).await;
        assert_eq!(resp.code, rc::SUCCESS, "{name} route request: {resp:?}");
        assert!(resp.is_response());
        let route = parse_json_lenient(&resp.body).expect("route JSON");
        assert!(
            route.to_string().contains(&broker.broker_addr()),
            "{name}: TBW102 route without the broker: {route}"
        );

        // Broker: a V2 send.
        opaque += 1;
        let m = OutMessage::new(&topic, format!("sent with {name}").as_bytes()).tags(Some(name));
        let mut cmd = m.to_command();
        cmd.opaque = opaque;
        let resp = raw_request(&br, enc(&cmd), opaque, name).await;
        assert_eq!(resp.code, rc::SUCCESS, "{name} send: {resp:?}");
        sent.push(m);

        // Broker: a pull of what was sent so far.
        opaque += 1;
        let mut cmd = PullArgs::new("encoding_group", &topic, 0, 0).to_command();
        cmd.opaque = opaque;
        let resp = raw_request(&br, enc(&cmd), opaque, name).await;
        let p = PullOutcome::from_response(resp).expect("pull response");
        assert_eq!(p.code, rc::SUCCESS, "{name} pull: {:?}", p.remark);
        assert_eq!(p.records.len(), sent.len());
        for (r, m) in p.records.iter().zip(&sent) {
            assert_eq!(r.body, m.body);
        }
    }
    // Our own codec's binary encoding through the client too.
    let mut cmd = OutMessage::new(&topic, b"binary via rmq-protocol").to_command();
    cmd.serialize_type = SerializeType::RocketMq;
    let resp = br.request(cmd).await.expect("binary send via RawClient");
    assert_eq!(resp.code, rc::SUCCESS, "{resp:?}");
    broker.shutdown().await.expect("shutdown");
}

/// Checklist 4: TBW102 is registered with perm 7 and served by the name server, and a send naming it as
/// `defaultTopic` auto-creates the topic, which then has a route of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tbw102_route_lets_producers_auto_create_topics() {
    let broker = EmbeddedBroker::start().await.expect("start broker");
    let ns = RawClient::connect(&broker.namesrv_addr())
        .await
        .expect("connect name server");
    let br = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect broker");

    let tbw = eventually(Duration::from_secs(10), "TBW102 route", || {
        ns.route_json("TBW102")
    })
    .await
    .expect("TBW102 route");
    let qd = &tbw["queueDatas"][0];
    assert_eq!(qd["perm"], 7, "TBW102 perm (must include INHERIT): {tbw}");
    let tbw_write = qd["writeQueueNums"].as_i64().expect("writeQueueNums");
    assert!(tbw_write > 0);
    assert_eq!(
        tbw["brokerDatas"][0]["brokerAddrs"]["0"],
        broker.broker_addr().as_str(),
        "{tbw}"
    );

    let topic = unique("AutoCreated");
    assert!(
        ns.route_json(&topic).await.expect("route").is_none(),
        "fresh topic already routed"
    );
    let mut m = OutMessage::new(&topic, b"auto-create me");
    m.queue_id = -1; // let the broker choose, as after a TOPIC_NOT_EXIST the Java producer spreads over queues
    let r = br
        .send(&m)
        .await
        .expect("send")
        .ok()
        .expect("auto-create send stored");
    assert!(r.queue_id >= 0);
    let route = eventually(
        Duration::from_secs(10),
        "route of the auto-created topic",
        || ns.route_json(&topic),
    )
    .await
    .expect("auto-created route");
    let qd = &route["queueDatas"][0];
    let want = 4.min(tbw_write);
    assert_eq!(qd["writeQueueNums"].as_i64(), Some(want), "{route}");
    assert_eq!(qd["readQueueNums"].as_i64(), Some(want), "{route}");
    assert_eq!(
        qd["perm"], 6,
        "auto-created topic perm = TBW102 perm minus INHERIT: {route}"
    );
    broker.shutdown().await.expect("shutdown");
}

/// Checklist 6 and 11: a suspended pull at the max offset is held and answered as soon as a message arrives;
/// without a message it is answered with 19 after about suspendTimeoutMillis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polling_holds_and_wakes() {
    let broker = EmbeddedBroker::start().await.expect("start broker");
    let addr = broker.broker_addr();
    let c = RawClient::connect(&addr).await.expect("connect");
    let topic = unique("LongPoll");
    let group = unique("long_poll_group");
    c.send(&OutMessage::new(&topic, b"first"))
        .await
        .expect("send")
        .ok()
        .expect("stored");

    // Without SUSPEND: 19 right away.
    let t = Instant::now();
    let p = c.pull(&group, &topic, 0, 1, 32).await.expect("pull at max");
    assert_eq!(p.code, rc::PULL_NOT_FOUND, "{:?}", p.remark);
    assert!(
        // Far below the 10 s hold below, with room for a loaded machine.
        t.elapsed() < Duration::from_secs(5),
        "non-suspended pull took {:?}",
        t.elapsed()
    );

    // With SUSPEND (10 s): held, then woken by a send from another connection.
    let suspend = Duration::from_secs(10);
    let poller = RawClient::connect(&addr).await.expect("connect poller");
    let args = PullArgs::new(&group, &topic, 0, 1).suspend(suspend.as_millis() as i64);
    let mut pending = tokio::spawn(async move { poller.pull_with(&args).await });
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut pending)
            .await
            .is_err(),
        "a suspended pull at the max offset was answered at once instead of being held"
    );
    let sent_at = Instant::now();
    c.send(&OutMessage::new(&topic, b"wake up"))
        .await
        .expect("send")
        .ok()
        .expect("stored");
    let p = tokio::time::timeout(suspend, pending)
        .await
        .expect("held pull answered within suspendTimeoutMillis")
        .expect("task")
        .expect("pull");
    let latency = sent_at.elapsed();
    eprintln!("long polling: held pull answered {latency:?} after the message arrived");
    assert_eq!(p.code, rc::SUCCESS, "woken pull: {:?}", p.remark);
    assert_eq!(p.records.len(), 1);
    assert_eq!(p.records[0].body, b"wake up");
    assert!(
        latency < Duration::from_secs(5),
        "held pull answered {latency:?} after the message arrived (suspend {suspend:?})"
    );

    // No message: 19 after about the timeout.
    let suspend = Duration::from_millis(2000);
    let t = Instant::now();
    let p = c
        .pull_with(&PullArgs::new(&group, &topic, 0, 2).suspend(suspend.as_millis() as i64))
        .await
        .expect("pull that times out");
    let held = t.elapsed();
    eprintln!("long polling: empty pull held {held:?} for suspendTimeoutMillis {suspend:?}");
    assert_eq!(p.code, rc::PULL_NOT_FOUND, "{:?}", p.remark);
    assert!(
        held >= suspend.mul_f32(0.9) && held <= suspend + Duration::from_secs(3),
        "suspended pull without messages answered after {held:?} (suspendTimeoutMillis {suspend:?})"
    );
    broker.shutdown().await.expect("shutdown");
}

/// Whether the first key of the first `brokerAddrs` object in `text` is quoted (`{"0":…}`) or not (`{0:…}`).
fn broker_addrs_key_quoted(text: &str) -> bool {
    let at = text
        .find("\"brokerAddrs\"")
        .unwrap_or_else(|| panic!("no brokerAddrs in {text}"));
    let rest = text[at + "\"brokerAddrs\"".len()..].trim_start();
    let rest = rest.strip_prefix(':').expect("colon").trim_start();
    let rest = rest.strip_prefix('{').expect("object").trim_start();
    match rest.chars().next() {
        Some('"') => true,
        Some(c) if c.is_ascii_digit() => false,
        other => panic!("unexpected brokerAddrs key start {other:?} in {text}"),
    }
}

/// Checklist 5: route JSON keys `brokerAddrs` by unquoted integers for requesters older than 401 (Go sends 317)
/// and by standard JSON strings for 401+ or `acceptStandardJsonOnly=true`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_json_form_follows_requester_version() {
    let broker = EmbeddedBroker::start().await.expect("start broker");
    let ns = RawClient::connect(&broker.namesrv_addr())
        .await
        .expect("connect name server");
    for (version, accept_standard, standard) in [
        (317, false, false),
        (63, false, false),
        (400, false, false),
        (401, false, true),
        (479, false, true),
        (317, true, true),
    ] {
        let mut e = ext([("topic", "TBW102".to_owned())]);
        if accept_standard {
            e.insert("acceptStandardJsonOnly".to_owned(), "true".to_owned());
        }
        let mut cmd = RemotingCommand::request(code::GET_ROUTEINFO_BY_TOPIC, e);
        cmd.version = version;
        cmd.language = if version == 317 {
            LanguageCode::Go
        } else {
            LanguageCode::Java
        };
        let resp = ns.request(cmd).await.expect("route");
        assert_eq!(resp.code, rc::SUCCESS);
        let text = String::from_utf8(resp.body.to_vec()).expect("UTF-8 route");
        let case = format!("version {version}, acceptStandardJsonOnly {accept_standard}");
        assert_eq!(broker_addrs_key_quoted(&text), standard, "{case}: {text}");
        if standard {
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{case}: not standard JSON ({e}): {text}"));
            assert_eq!(
                v["brokerDatas"][0]["brokerAddrs"]["0"],
                broker.broker_addr().as_str()
            );
        } else {
            assert!(
                text.contains(&format!("{{0:\"{}\"", broker.broker_addr())),
                "{case}: {text}"
            );
            let v = parse_json_lenient(text.as_bytes()).expect("Java-style JSON");
            assert_eq!(
                v["brokerDatas"][0]["brokerAddrs"]["0"],
                broker.broker_addr().as_str()
            );
        }
    }
    broker.shutdown().await.expect("shutdown");
}

/// SEND_BATCH_MESSAGE body (docs/protocol.md §3.3).
pub(crate) fn batch_body(msgs: &[(Vec<u8>, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (body, props) in msgs {
        let total = 4 + 4 + 4 + 4 + 4 + body.len() + 2 + props.len();
        out.put_i32(total as i32);
        out.put_i32(0);
        out.put_i32(0);
        out.put_i32(0);
        out.put_i32(body.len() as i32);
        out.put_slice(body);
        out.put_i16(props.len() as i16);
        out.put_slice(props.as_bytes());
    }
    out
}

/// Checklist 2 and 3: SEND_MESSAGE (10), SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320) are accepted, and
/// every success response carries msgId, queueId, queueOffset, MSG_REGION and TRACE_ON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_codes_and_response_ext_fields() {
    let broker = EmbeddedBroker::start().await.expect("start broker");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("SendCodes");
    let required = ["msgId", "queueId", "queueOffset", "MSG_REGION", "TRACE_ON"];

    let v1 = c
        .send(&OutMessage::new(&topic, b"v1").v1())
        .await
        .expect("send v1")
        .ok()
        .expect("v1 stored");
    let v2 = c
        .send(&OutMessage::new(&topic, b"v2"))
        .await
        .expect("send v2")
        .ok()
        .expect("v2 stored");
    for (name, r) in [("SEND_MESSAGE", &v1), ("SEND_MESSAGE_V2", &v2)] {
        for k in required {
            assert!(
                r.ext.contains_key(k),
                "{name} response without ext {k}: {:?}",
                r.ext
            );
        }
        decode_offset_msg_id(&r.msg_id).expect("offset msgId");
    }
    assert_eq!((v1.queue_offset, v2.queue_offset), (0, 1));

    // A batch of three, each with its own UNIQ_KEY / TAGS / KEYS.
    let inner: Vec<(Vec<u8>, String, String)> = (0..3)
        .map(|i| {
            let u = uniq_key();
            let props = encode_properties([
                ("TAGS", format!("bt{i}").as_str()),
                ("KEYS", format!("bk{i}").as_str()),
                ("UNIQ_KEY", u.as_str()),
                ("WAIT", "true"),
            ]);
            (format!("batch {i}").into_bytes(), props, u)
        })
        .collect();
    let body = batch_body(
        &inner
            .iter()
            .map(|(b, p, _)| (b.clone(), p.clone()))
            .collect::<Vec<_>>(),
    );
    let batch_props = encode_properties([("UNIQ_KEY", uniq_key().as_str()), ("WAIT", "true")]);
    let cmd = RemotingCommand::request(
        code::SEND_BATCH_MESSAGE,
        ext([
            ("a", "batch_producer".to_owned()),
            ("b", topic.clone()),
            ("c", "TBW102".to_owned()),
            ("d", "4".to_owned()),
            ("e", "0".to_owned()),
            ("f", "0".to_owned()),
            ("g", now_ms().to_string()),
            ("h", "0".to_owned()),
            ("i", batch_props),
            ("j", "0".to_owned()),
            ("m", "true".to_owned()),
        ]),
    )
    .with_body(body);
    let resp = c.request(cmd).await.expect("batch send");
    assert_eq!(resp.code, rc::SUCCESS, "batch: {:?}", resp.remark);
    for k in required {
        assert!(
            resp.ext_fields.contains_key(k),
            "SEND_BATCH_MESSAGE response without ext {k}: {:?}",
            resp.ext_fields
        );
    }
    let ids: Vec<&str> = resp.ext_fields["msgId"].split(',').collect();
    assert_eq!(
        ids.len(),
        3,
        "batch msgId must list every message: {}",
        resp.ext_fields["msgId"]
    );
    assert_eq!(
        resp.ext_fields["queueOffset"], "2",
        "batch queueOffset = first message's offset"
    );

    let recs = c
        .pull_all("send_codes_reader", &topic, 0, 0)
        .await
        .expect("pull");
    assert_eq!(recs.len(), 5);
    for (i, (body, _, u)) in inner.iter().enumerate() {
        let r = &recs[2 + i];
        assert_eq!(&r.body, body);
        assert_eq!(r.queue_offset, 2 + i as i64);
        assert_eq!(
            r.physical_offset,
            decode_offset_msg_id(ids[i]).expect("batch id").offset
        );
        let p = r.properties();
        assert_eq!(
            p.get("TAGS").map(String::as_str),
            Some(format!("bt{i}").as_str()),
            "{p:?}"
        );
        assert_eq!(
            p.get("KEYS").map(String::as_str),
            Some(format!("bk{i}").as_str()),
            "{p:?}"
        );
        assert_eq!(
            p.get("UNIQ_KEY"),
            Some(u),
            "inner UNIQ_KEY overridden by the batch's: {p:?}"
        );
        assert!(
            r.body_crc_ok(),
            "broker must compute each inner message's bodyCRC"
        );
    }

    // Java decides by the header's `batch` field, not the code: SEND_MESSAGE (10) with batch=true is a batch, and
    // batch=1 (Apache's C++ client) is Boolean.parseBoolean("1") = false, so its body is stored as one message.
    let whole = batch_body(
        &inner
            .iter()
            .map(|(b, p, _)| (b.clone(), p.clone()))
            .collect::<Vec<_>>(),
    );
    let v1_batch = |batch: &str| {
        RemotingCommand::request(
            code::SEND_MESSAGE,
            ext([
                ("producerGroup", "batch_producer".to_owned()),
                ("topic", topic.clone()),
                ("defaultTopic", "TBW102".to_owned()),
                ("defaultTopicQueueNums", "4".to_owned()),
                ("queueId", "0".to_owned()),
                ("sysFlag", "0".to_owned()),
                ("bornTimestamp", now_ms().to_string()),
                ("flag", "0".to_owned()),
                (
                    "properties",
                    encode_properties([("UNIQ_KEY", uniq_key().as_str())]),
                ),
                ("batch", batch.to_owned()),
            ]),
        )
        .with_body(whole.clone())
    };
    let resp = c.request(v1_batch("true")).await.expect("v1 batch send");
    assert_eq!(resp.code, rc::SUCCESS, "v1 batch: {:?}", resp.remark);
    assert_eq!(resp.ext_fields["msgId"].split(',').count(), 3, "{resp:?}");
    assert_eq!(resp.ext_fields["queueOffset"], "5");
    let resp = c.request(v1_batch("1")).await.expect("v1 batch=1 send");
    assert_eq!(resp.code, rc::SUCCESS, "v1 batch=1: {:?}", resp.remark);
    assert_eq!(resp.ext_fields["queueOffset"], "8");
    let recs = c
        .pull_all("send_codes_reader_2", &topic, 0, 5)
        .await
        .expect("pull");
    assert_eq!(recs.len(), 4, "3 from the batch, 1 from batch=1");
    assert_eq!(recs[0].body, inner[0].0);
    assert_eq!(recs[3].body, whole, "batch=1 kept whole");
    broker.shutdown().await.expect("shutdown");
}

/// Checklist 6/11 and docs/protocol.md §2.3.3: a consumer group created after the messages were stored gets offset 0 from
/// QUERY_CONSUMER_OFFSET while the queue's min offset is 0, so it reads them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_group_starts_at_zero_while_min_offset_is_zero() {
    let broker = EmbeddedBroker::start().await.expect("start broker");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("LateGroup");
    for i in 0..5 {
        c.send(&OutMessage::new(&topic, format!("early {i}").as_bytes()))
            .await
            .expect("send")
            .ok()
            .expect("stored");
    }
    assert_eq!(
        c.queue_offset(false, &topic, 0).await.expect("min offset"),
        0
    );
    let group = unique("late_group");
    let hb = c
        .heartbeat(&format!("127.0.0.1@{}", unique("late")), &group, &topic)
        .await
        .expect("heartbeat");
    assert_eq!(hb.code, rc::SUCCESS, "{:?}", hb.remark);
    assert_eq!(
        c.query_consumer_offset(&group, &topic, 0)
            .await
            .expect("query"),
        (rc::SUCCESS, 0),
        "new group's offset while min offset is 0"
    );
    let recs = c.pull_all(&group, &topic, 0, 0).await.expect("pull");
    assert_eq!(recs.len(), 5);
    broker.shutdown().await.expect("shutdown");
}

/// Checklist 6/7: pull codes at the queue boundaries and broker-side tag filtering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_boundaries_and_tag_filter() {
    let broker = EmbeddedBroker::start().await.expect("start broker");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("PullBounds");
    let group = unique("bounds_group");
    for (i, tag) in ["TagA", "TagB", "TagA", "TagB", "TagB"].iter().enumerate() {
        c.send(&OutMessage::new(&topic, format!("{tag} {i}").as_bytes()).tags(Some(tag)))
            .await
            .expect("send")
            .ok()
            .expect("stored");
    }
    // Beyond the max: 21, and nextBeginOffset as Java's store computes it (min when min is 0, else max; the
    // notes' "= max" summary holds only for min > 0).
    let p = c
        .pull(&group, &topic, 0, 99, 32)
        .await
        .expect("pull beyond");
    assert_eq!(p.code, rc::PULL_OFFSET_MOVED, "{:?}", p.remark);
    assert_eq!((p.min_offset, p.max_offset), (0, 5));
    assert_eq!(
        p.next_begin_offset, 0,
        "OFFSET_OVERFLOW_BADLY with min offset 0"
    );
    // Tag filter: only TagA, and nextBeginOffset skips what was filtered out.
    let p = c
        .pull_with(&PullArgs::new(&group, &topic, 0, 0).subscription("TagA"))
        .await
        .expect("filtered pull");
    assert_eq!(p.code, rc::SUCCESS, "{:?}", p.remark);
    let tags: Vec<Option<String>> = p.records.iter().map(|r| r.tags()).collect();
    assert!(
        tags.iter().all(|t| t.as_deref() == Some("TagA")) && tags.len() == 2,
        "TagA pull returned tags {tags:?}"
    );
    assert!(
        p.next_begin_offset >= 3,
        "nextBeginOffset {}",
        p.next_begin_offset
    );
    let p = c
        .pull_with(&PullArgs::new(&group, &topic, 0, 3).subscription("TagA"))
        .await
        .expect("filtered pull at the TagB tail");
    assert!(
        matches!(p.code, rc::PULL_NOT_FOUND | rc::PULL_RETRY_IMMEDIATELY),
        "only TagB left: code {} {:?}",
        p.code,
        p.remark
    );
    // Multiple tags.
    let p = c
        .pull_with(&PullArgs::new(&group, &topic, 0, 0).subscription("TagA || TagB"))
        .await
        .expect("pull TagA || TagB");
    assert_eq!(p.records.len(), 5);
    // A queue the topic does not have: SYSTEM_ERROR naming it, as Java's PullMessageProcessor answers.
    let p = c
        .pull(&group, &topic, 99, 0, 32)
        .await
        .expect("pull an illegal queue");
    assert_eq!(p.code, rc::SYSTEM_ERROR, "{:?}", p.remark);
    assert!(
        p.remark
            .as_deref()
            .is_some_and(|r| r.contains("queueId[99] is illegal")),
        "{:?}",
        p.remark
    );
    broker.shutdown().await.expect("shutdown");
}

/// GET_CONSUMER_LIST_BY_GROUP (38), sorted; empty when the broker knows no consumer of the group.
async fn consumer_list(c: &RawClient, group: &str) -> anyhow::Result<Vec<String>> {
    let resp = c
        .request(RemotingCommand::request(
            code::GET_CONSUMER_LIST_BY_GROUP,
            ext([("consumerGroup", group.to_owned())]),
        ))
        .await?;
    if resp.code != rc::SUCCESS {
        return Ok(Vec::new());
    }
    let v: Value = serde_json::from_slice(&resp.body)?;
    let mut ids: Vec<String> = v["consumerIdList"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    Ok(ids)
}

/// Checklist 10 and 12: a new consumer in a group triggers NOTIFY_CONSUMER_IDS_CHANGED (oneway, code 40) to the
/// others on their own connections, and closing a consumer's connection unregisters it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_membership_follows_heartbeats_and_connections() {
    let broker = EmbeddedBroker::start().await.expect("start broker");
    let addr = broker.broker_addr();
    let topic = unique("Members");
    let group = unique("members_group");
    let c1 = RawClient::connect(&addr).await.expect("connect c1");
    c1.send(&OutMessage::new(&topic, b"x"))
        .await
        .expect("send")
        .ok()
        .expect("stored");

    let id1 = "127.0.0.1@member-1".to_owned();
    let id2 = "127.0.0.1@member-2".to_owned();
    assert_eq!(
        c1.heartbeat(&id1, &group, &topic).await.expect("hb1").code,
        rc::SUCCESS
    );
    assert_eq!(
        consumer_list(&c1, &group).await.expect("list"),
        vec![id1.clone()]
    );
    // Whatever c1's own registration caused has arrived by now (it precedes the list response on this
    // connection); forget it.
    while c1.next_server_request(Duration::ZERO).await.is_some() {}

    let c2 = RawClient::connect(&addr).await.expect("connect c2");
    assert_eq!(
        c2.heartbeat(&id2, &group, &topic).await.expect("hb2").code,
        rc::SUCCESS
    );
    let notice = c1
        .next_server_request(Duration::from_secs(5))
        .await
        .expect("c1 told that its group changed");
    assert_eq!(notice.code, code::NOTIFY_CONSUMER_IDS_CHANGED, "{notice:?}");
    assert!(
        notice.is_oneway(),
        "NOTIFY_CONSUMER_IDS_CHANGED must be oneway: {notice:?}"
    );
    assert_eq!(notice.ext_fields.get("consumerGroup"), Some(&group));
    assert_eq!(
        consumer_list(&c1, &group).await.expect("list"),
        vec![id1.clone(), id2.clone()]
    );

    drop(c2);
    eventually(
        Duration::from_secs(10),
        "closed consumer unregistered",
        || async { Ok((consumer_list(&c1, &group).await? == vec![id1.clone()]).then_some(())) },
    )
    .await
    .expect("c2 gone from the group after its connection closed");
    broker.shutdown().await.expect("shutdown");
}

/// Java's SubscriptionData initializes subVersion to the reader's clock, so a heartbeat without it (Apache's
/// older non-Java clients) registers "now": a pull carrying the subscription version the client took before its
/// heartbeat is served, not answered SUBSCRIPTION_NOT_LATEST (25).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_without_sub_version_registers_the_brokers_clock() {
    let broker = EmbeddedBroker::start().await.expect("start broker");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("NoSubVersion");
    c.send(&OutMessage::new(&topic, b"one"))
        .await
        .expect("send")
        .ok()
        .expect("stored");
    let group = unique("no_sub_version");
    let subscribed_at = now_ms();
    let body = serde_json::json!({
        "clientID": format!("127.0.0.1@{}", unique("nsv")),
        "consumerDataSet": [{
            "groupName": group,
            "consumeType": 1,
            "messageModel": 1,
            "consumeFromWhere": 4,
            "subscriptionDataSet": [{"topic": topic, "subString": "*", "tagsSet": [], "codeSet": []}],
        }],
    });
    let hb = c
        .request(
            RemotingCommand::request(code::HEART_BEAT, HashMap::new()).with_body(body.to_string()),
        )
        .await
        .expect("heartbeat");
    assert_eq!(hb.code, rc::SUCCESS, "{:?}", hb.remark);
    let mut args = PullArgs::new(&group, &topic, 0, 0);
    args.sys_flag = 0;
    let mut cmd = args.to_command();
    cmd.ext_fields
        .insert("subVersion".into(), subscribed_at.to_string());
    let resp = c.request(cmd).await.expect("pull");
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    broker.shutdown().await.expect("shutdown");
}
