//! Acceptance test 4: bad input gets a clean error response or a closed connection — never a hang, never a dead
//! broker — and another client is served normally while one connection is being abused.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rmq_broker::embedded::EmbeddedBroker;
use rmq_protocol::RemotingCommand;
use rmq_tests::client::{code, rc, OutMessage};
use rmq_tests::wire::{self, JsonStyle};
use rmq_tests::{unique, RawClient};

/// How long the broker may take to react to garbage.
const REACT: Duration = Duration::from_secs(5);

/// Deterministic pseudo-random bytes (xorshift), so a failure is reproducible.
fn noise(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

/// Sends `bytes` on a fresh connection; passes if the broker closes it or answers with an error code.
async fn expect_rejected(addr: &str, what: &str, bytes: Vec<u8>, opaque: i32) {
    let c = RawClient::connect(addr).await.expect("connect abuser");
    let rx = c.expect_response(opaque);
    c.send_raw(bytes).expect("write garbage");
    tokio::select! {
        resp = rx => {
            // Err: the connection closed and the pending request was dropped; also fine.
            if let Ok(resp) = resp {
                assert_ne!(resp.code, rc::SUCCESS, "{what}: the broker accepted it: {resp:?}");
            }
        }
        closed = c.wait_closed(REACT) => {
            assert!(closed, "{what}: neither an error response nor a close within {REACT:?}");
        }
    }
}

/// A client doing send + pull in a loop until told to stop; returns the number of completed rounds.
fn healthy_client(
    addr: String,
    stop: Arc<AtomicBool>,
    rounds: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let c = RawClient::connect(&addr)
            .await
            .expect("connect healthy client");
        let topic = unique("HealthyTopic");
        let mut i = 0i64;
        while !stop.load(Ordering::SeqCst) || i == 0 {
            let body = format!("healthy {i}");
            let r = c
                .send(&OutMessage::new(&topic, body.as_bytes()))
                .await
                .expect("healthy send")
                .ok()
                .expect("healthy send stored");
            assert_eq!(r.queue_offset, i);
            let p = c
                .pull("healthy_group", &topic, 0, i, 1)
                .await
                .expect("healthy pull");
            assert_eq!(p.code, rc::SUCCESS, "healthy pull: {:?}", p.remark);
            assert_eq!(p.records[0].body, body.as_bytes());
            i += 1;
            rounds.fetch_add(1, Ordering::SeqCst);
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_rejected_while_others_are_served() {
    let broker = EmbeddedBroker::start().await.expect("start broker");
    let addr = broker.broker_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicUsize::new(0));
    let healthy = healthy_client(addr.clone(), stop.clone(), rounds.clone());

    // A frame that starts and never finishes is legal to wait for; it must not stall anyone else.
    let slow = RawClient::connect(&addr)
        .await
        .expect("connect slow client");
    slow.send_raw(vec![0, 0, 1, 0, 0, 0]).expect("half a frame");

    // Random bytes: an HTTP request (length prefix 0x47455420 ≈ 1.2 GB > 16 MiB) ...
    expect_rejected(
        &addr,
        "HTTP request",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        0,
    )
    .await;
    // ... a negative length prefix followed by noise ...
    let mut neg = noise(256, 7);
    neg[0] |= 0x80;
    expect_rejected(&addr, "negative length prefix + noise", neg, 0).await;
    // ... and a complete frame whose header is noise with an unknown serialize type.
    let mut junk_header = noise(60, 11);
    junk_header[0] = 0x7E;
    expect_rejected(
        &addr,
        "unknown serialize type",
        wire::frame(0x7E, &junk_header[1..], b""),
        0,
    )
    .await;
    // Noise inside a frame announced as binary (remark length forced negative, so it cannot decode).
    let mut bin_noise = noise(60, 13);
    bin_noise[13] |= 0x80;
    expect_rejected(
        &addr,
        "binary header of noise",
        wire::frame(1, &bin_noise, b""),
        0,
    )
    .await;

    // An oversized length prefix with a valid start: rejected at once, not after 2 GB.
    let mut big = 0x7FFF_FFF0_i32.to_be_bytes().to_vec();
    big.extend_from_slice(&[0, 0, 0, 20]);
    big.extend_from_slice(&[b'{'; 100]);
    expect_rejected(&addr, "2 GB length prefix", big, 0).await;
    // Just over the 16 MiB limit.
    let mut over = (16 * 1024 * 1024 + 1_i32).to_be_bytes().to_vec();
    over.extend_from_slice(&[0, 0, 0, 2, b'{', b'}']);
    expect_rejected(&addr, "16 MiB + 1 length prefix", over, 0).await;

    // Bad JSON headers.
    expect_rejected(
        &addr,
        "JSON header not JSON",
        wire::frame(0, b"{\"code\":10,\"opaque\":5,", b""),
        5,
    )
    .await;
    expect_rejected(
        &addr,
        "JSON header not an object",
        wire::frame(0, b"[1,2,3]", b""),
        0,
    )
    .await;
    expect_rejected(
        &addr,
        "JSON header with a string code",
        wire::frame(
            0,
            br#"{"code":"ten","flag":0,"language":"JAVA","opaque":6,"version":479}"#,
            b"",
        ),
        6,
    )
    .await;
    // Header length larger than the frame.
    let mut liar = 12_i32.to_be_bytes().to_vec();
    liar.extend_from_slice(&1000_u32.to_be_bytes());
    liar.extend_from_slice(b"{\"code\":10}");
    liar.push(b' ');
    expect_rejected(&addr, "header length > frame length", liar, 0).await;

    // A SEND missing its required fields is refused with an error, and the connection keeps working.
    let c = RawClient::connect(&addr).await.expect("connect");
    let resp = c
        .request(RemotingCommand::request(code::SEND_MESSAGE_V2, HashMap::new()).with_body("x"))
        .await
        .expect("response to a header-less send");
    assert_eq!(
        resp.code,
        rc::SYSTEM_ERROR,
        "send without header fields: Java's header decoding refuses it with SYSTEM_ERROR: {resp:?}"
    );
    assert!(
        resp.remark
            .as_deref()
            .unwrap_or_default()
            .contains("is null"),
        "the remark names the missing field as Java's does: {:?}",
        resp.remark
    );
    // The same connection keeps working.
    let topic = unique("AfterBadSendTopic");
    assert_eq!(
        c.create_topic(&topic, 1).await.expect("create").code,
        rc::SUCCESS
    );
    let ok = c
        .send(&rmq_tests::client::OutMessage::new(&topic, b"fine").queue(0))
        .await
        .expect("send after the refusal");
    assert_eq!(ok.code, rc::SUCCESS, "{:?}", ok.remark);

    drop(slow);
    stop.store(true, Ordering::SeqCst);
    tokio::time::timeout(Duration::from_secs(30), healthy)
        .await
        .expect("healthy client finishes")
        .expect("healthy client never failed");
    assert!(rounds.load(Ordering::SeqCst) >= 1);

    // The broker still serves new connections.
    let c = RawClient::connect(&addr)
        .await
        .expect("connect after abuse");
    c.send(&OutMessage::new(&unique("AfterAbuse"), b"still alive"))
        .await
        .expect("send after abuse")
        .ok()
        .expect("stored after abuse");
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_request_code_gets_code_3_and_connection_survives() {
    let broker = EmbeddedBroker::start().await.expect("start broker");
    for (role, addr) in [
        ("broker", broker.broker_addr()),
        ("name server", broker.namesrv_addr()),
    ] {
        let c = RawClient::connect(&addr).await.expect("connect");
        for unknown in [9999, 0, -5, 200_999] {
            let resp = c
                .request(RemotingCommand::request(unknown, HashMap::new()))
                .await
                .unwrap_or_else(|e| panic!("{role}: no response to unknown code {unknown}: {e:#}"));
            assert_eq!(
                resp.code,
                rc::REQUEST_CODE_NOT_SUPPORTED,
                "{role}: unknown code {unknown} answered {resp:?}"
            );
            assert!(resp.is_response());
        }
        // Also in the binary header encoding, and as a oneway (which must get no answer at all).
        let mut bin = RemotingCommand::request(4242, HashMap::new());
        bin.serialize_type = rmq_protocol::SerializeType::RocketMq;
        let resp = c.request(bin).await.expect("binary unknown code");
        assert_eq!(resp.code, rc::REQUEST_CODE_NOT_SUPPORTED);
        c.oneway(RemotingCommand::request(4243, HashMap::new()))
            .expect("oneway unknown");
        // The same connection still does real work, and nothing stray arrived in between.
        if role == "broker" {
            let r = c
                .send(&OutMessage::new(&unique("AfterUnknown"), b"x"))
                .await
                .expect("send after unknown codes");
            assert_eq!(r.code, rc::SUCCESS, "{r:?}");
        } else {
            let resp = c
                .get_route("TBW102")
                .await
                .expect("route after unknown codes");
            assert_eq!(resp.code, rc::SUCCESS, "{resp:?}");
        }
        assert!(!c.is_closed());
        // A Go-style JSON header (no serializeTypeCurrentRPC, remark "") with an unknown code, by hand.
        let raw = RawClient::connect(&addr).await.expect("connect raw");
        let mut cmd = RemotingCommand::request(7777, HashMap::new());
        cmd.opaque = 77;
        let rx = raw.expect_response(77);
        raw.send_raw(wire::encode_json(&cmd, JsonStyle::GO))
            .expect("write");
        let resp = tokio::time::timeout(REACT, rx)
            .await
            .expect("answer to a Go-style header")
            .expect("connection open");
        assert_eq!(resp.code, rc::REQUEST_CODE_NOT_SUPPORTED);
    }
    broker.shutdown().await.expect("shutdown");
}

/// Sends the broker refuses, each with the code and remark Java's SendMessageProcessor gives, over a
/// connection that keeps serving afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_refusals_carry_javas_codes() {
    use rmq_protocol::codes::response as java;
    let broker = EmbeddedBroker::builder()
        .property("maxMessageSize", "1024")
        .start()
        .await
        .expect("broker");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("RefusalTopic");
    assert_eq!(
        c.create_topic(&topic, 1).await.expect("create").code,
        rc::SUCCESS
    );
    let read_only = unique("ReadOnlyTopic");
    let r = c
        .request(RemotingCommand::request(
            code::UPDATE_AND_CREATE_TOPIC,
            HashMap::from([
                ("topic".to_owned(), read_only.clone()),
                ("defaultTopic".to_owned(), "TBW102".to_owned()),
                ("readQueueNums".to_owned(), "1".to_owned()),
                ("writeQueueNums".to_owned(), "1".to_owned()),
                ("perm".to_owned(), "4".to_owned()),
                ("topicFilterType".to_owned(), "SINGLE_TAG".to_owned()),
                ("topicSysFlag".to_owned(), "0".to_owned()),
                ("order".to_owned(), "false".to_owned()),
            ]),
        ))
        .await
        .expect("create read-only topic");
    assert_eq!(r.code, rc::SUCCESS, "{:?}", r.remark);
    let cases: Vec<(&str, OutMessage, i32, &str)> = vec![
        (
            "a topic without write permission",
            OutMessage::new(&read_only, b"x").queue(0),
            java::NO_PERMISSION,
            "sending message is forbidden",
        ),
        (
            "a system topic",
            OutMessage::new("SCHEDULE_TOPIC_XXXX", b"x").queue(0),
            java::NO_PERMISSION,
            "is forbidden",
        ),
        (
            "a queue id past the topic's write queues",
            OutMessage::new(&topic, b"x").queue(99),
            java::SYSTEM_ERROR,
            "queueId[99] is illegal",
        ),
        (
            "a body over maxMessageSize",
            OutMessage::new(&topic, &[7u8; 2000]).queue(0),
            java::MESSAGE_ILLEGAL,
            "",
        ),
    ];
    for (what, m, want, remark) in cases {
        let r = c.send(&m).await.expect("an answer");
        assert_eq!(r.code, want, "{what}: {:?}", r.remark);
        assert!(
            r.remark.as_deref().unwrap_or_default().contains(remark),
            "{what}: remark {:?} lacks {remark:?}",
            r.remark
        );
    }
    let ok = c
        .send(&OutMessage::new(&topic, b"fine").queue(0))
        .await
        .expect("send");
    assert_eq!(
        ok.code,
        rc::SUCCESS,
        "the connection still serves: {:?}",
        ok.remark
    );

    // A broker that is not writable (brokerPermission 4: read only) and one that creates no topics.
    let read_only_broker = EmbeddedBroker::builder()
        .property("brokerPermission", "4")
        .property("autoCreateTopicEnable", "false")
        .start()
        .await
        .expect("broker");
    let c = RawClient::connect(&read_only_broker.broker_addr())
        .await
        .expect("connect");
    let r = c
        .send(&OutMessage::new(&unique("Anything"), b"x").queue(0))
        .await
        .expect("answer");
    assert_eq!(r.code, java::NO_PERMISSION, "{:?}", r.remark);
    let creating = EmbeddedBroker::builder()
        .property("autoCreateTopicEnable", "false")
        .start()
        .await
        .expect("broker");
    let c = RawClient::connect(&creating.broker_addr())
        .await
        .expect("connect");
    let r = c
        .send(&OutMessage::new(&unique("NoSuchTopic"), b"x").queue(0))
        .await
        .expect("answer");
    assert_eq!(r.code, java::TOPIC_NOT_EXIST, "{:?}", r.remark);
    for b in [broker, read_only_broker, creating] {
        let _ = b.shutdown().await;
    }
}

/// A pull that relies on the group's registered subscription (no SUBSCRIPTION flag, as a push consumer's)
/// is refused with Java's codes when there is none, or when the puller's is newer than the registered one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_without_a_registered_subscription_are_refused() {
    use rmq_tests::client::PullArgs;
    let broker = EmbeddedBroker::start().await.expect("broker");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("SubTopic");
    assert_eq!(
        c.create_topic(&topic, 1).await.expect("create").code,
        rc::SUCCESS
    );
    let group = unique("sub_group");
    let never = c
        .pull_with(&PullArgs::new(&group, &topic, 0, 0).registered_subscription(0))
        .await
        .expect("pull");
    assert_eq!(never.code, rc::SUBSCRIPTION_NOT_EXIST, "{:?}", never.remark);
    let before = rmq_tests::client::now_ms();
    let hb = c
        .heartbeat(&unique("client"), &group, &topic)
        .await
        .expect("heartbeat");
    assert_eq!(hb.code, rc::SUCCESS);
    // A topic that exists but that the group did not subscribe to.
    let other_topic = unique("OtherTopic");
    assert_eq!(
        c.create_topic(&other_topic, 1).await.expect("create").code,
        rc::SUCCESS
    );
    let other = c
        .pull_with(&PullArgs::new(&group, &other_topic, 0, 0).registered_subscription(0))
        .await
        .expect("pull");
    assert_eq!(other.code, rc::SUBSCRIPTION_NOT_EXIST, "{:?}", other.remark);
    let newer = c
        .pull_with(&PullArgs::new(&group, &topic, 0, 0).registered_subscription(before + 3_600_000))
        .await
        .expect("pull");
    assert_eq!(
        newer.code,
        rc::SUBSCRIPTION_NOT_LATEST,
        "{:?}",
        newer.remark
    );
    let current = c
        .pull_with(&PullArgs::new(&group, &topic, 0, 0).registered_subscription(0))
        .await
        .expect("pull");
    assert_eq!(
        current.code,
        rc::PULL_NOT_FOUND,
        "the registered subscription serves: {:?}",
        current.remark
    );
    let _ = broker.shutdown().await;
}

/// Every batch the broker refuses, refused as Java refuses it: MESSAGE_ILLEGAL, nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_refusals_carry_javas_code_and_store_nothing() {
    use rmq_protocol::codes::response as java;
    use rmq_tests::client::now_ms;
    use rmq_tests::record::encode_properties;
    let broker = EmbeddedBroker::start().await.expect("broker");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("BatchRefusalTopic");
    assert_eq!(
        c.create_topic(&topic, 1).await.expect("create").code,
        rc::SUCCESS
    );
    let batch = |topic: &str, entry_props: &str, sys_flag: i32| {
        let body = crate::checklist::batch_body(&[
            (b"one".to_vec(), entry_props.to_owned()),
            (b"two".to_vec(), entry_props.to_owned()),
        ]);
        RemotingCommand::request(
            code::SEND_BATCH_MESSAGE,
            HashMap::from([
                ("a".to_owned(), "batch_refusal_pg".to_owned()),
                ("b".to_owned(), topic.to_owned()),
                ("c".to_owned(), "TBW102".to_owned()),
                ("d".to_owned(), "4".to_owned()),
                ("e".to_owned(), "0".to_owned()),
                ("f".to_owned(), sys_flag.to_string()),
                ("g".to_owned(), now_ms().to_string()),
                ("h".to_owned(), "0".to_owned()),
                ("i".to_owned(), String::new()),
                ("j".to_owned(), "0".to_owned()),
                ("m".to_owned(), "true".to_owned()),
            ]),
        )
        .with_body(body)
    };
    let cases = [
        ("a retry topic", batch("%RETRY%some_group", "", 0)),
        (
            "a delay level",
            batch(&topic, &encode_properties([("DELAY", "3")]), 0),
        ),
        (
            "a delivery time",
            batch(
                &topic,
                &encode_properties([(
                    "TIMER_DELIVER_MS",
                    (now_ms() + 60_000).to_string().as_str(),
                )]),
                0,
            ),
        ),
        (
            "a half message",
            batch(&topic, &encode_properties([("TRAN_MSG", "true")]), 4),
        ),
        (
            "an empty body",
            RemotingCommand::request(
                code::SEND_BATCH_MESSAGE,
                HashMap::from([
                    ("a".to_owned(), "batch_refusal_pg".to_owned()),
                    ("b".to_owned(), topic.clone()),
                    ("c".to_owned(), "TBW102".to_owned()),
                    ("d".to_owned(), "4".to_owned()),
                    ("e".to_owned(), "0".to_owned()),
                    ("f".to_owned(), "0".to_owned()),
                    ("g".to_owned(), now_ms().to_string()),
                    ("h".to_owned(), "0".to_owned()),
                    ("j".to_owned(), "0".to_owned()),
                    ("m".to_owned(), "true".to_owned()),
                ]),
            ),
        ),
    ];
    for (what, cmd) in cases {
        let r = c.request(cmd).await.expect("an answer");
        assert_eq!(
            r.code,
            java::MESSAGE_ILLEGAL,
            "a batch with {what}: {:?}",
            r.remark
        );
    }
    assert!(
        c.pull_all(&unique("refusal_reader"), &topic, 0, 0)
            .await
            .expect("pull")
            .is_empty(),
        "a refused batch stored something"
    );
    let _ = broker.shutdown().await;
}
