//! Request-reply over TCP (RocketMQ 4.6+): a replier sends SEND_REPLY_MESSAGE(_V2) (324/325) to
//! `<cluster>_REPLY_TOPIC`; the broker pushes it with PUSH_REPLY_MESSAGE_TO_CLIENT (326) to the requester named
//! by `REPLY_TO_CLIENT` (found among producers by their heartbeat's client id), waits for the requester's
//! answer, stores the reply (storeReplyMessageEnable) and answers the replier.
//!
//! The requester is a raw client that sent a producer heartbeat and answers the broker's push itself.

use std::time::Duration;

use rmq_broker::embedded::EmbeddedBroker;
use rmq_protocol::RemotingCommand;
use rmq_tests::client::{code, now_ms, rc, OutMessage, SendOutcome};
use rmq_tests::record::{decode_offset_msg_id, decode_properties};
use rmq_tests::transaction_support::{client_id, producer_heartbeat};
use rmq_tests::{unique, RawClient};

const SEND_REPLY_MESSAGE: i32 = 324;
const SEND_REPLY_MESSAGE_V2: i32 = 325;
const PUSH_REPLY_MESSAGE_TO_CLIENT: i32 = 326;
/// How long the push may take to reach the requester.
const PUSH_WAIT: Duration = Duration::from_secs(10);

/// A reply as Java's `MessageUtil.createReplyMessage` builds it, sent with `reply_code` (324 long keys, 325
/// letters) to queue 0 of `topic`.
fn reply_command(
    topic: &str,
    requester: &str,
    correlation: &str,
    body: &[u8],
    reply_code: i32,
) -> RemotingCommand {
    let mut msg = OutMessage::new(topic, body).props(&[
        ("CORRELATION_ID", correlation),
        ("REPLY_TO_CLIENT", requester),
        ("TTL", "3000"),
        ("MSG_TYPE", "reply"),
    ]);
    msg.group = "replier_pg".to_owned();
    // OutMessage picks the key spelling from its send code; the reply codes use the same two spellings.
    msg.code = if reply_code == SEND_REPLY_MESSAGE {
        code::SEND_MESSAGE
    } else {
        code::SEND_MESSAGE_V2
    };
    let mut cmd = msg.to_command();
    cmd.code = reply_code;
    cmd
}

fn reply_topic(broker: &EmbeddedBroker) -> String {
    format!(
        "{}_REPLY_TOPIC",
        broker.broker().config().broker_cluster_name
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_is_pushed_to_the_requester_and_stored() {
    let broker = EmbeddedBroker::start().await.expect("broker");
    let topic = reply_topic(&broker);
    let requester = RawClient::connect(&broker.broker_addr())
        .await
        .expect("requester");
    let replier = RawClient::connect(&broker.broker_addr())
        .await
        .expect("replier");
    let rid = client_id("requester");
    producer_heartbeat(&requester, &rid, &unique("request_pg"))
        .await
        .expect("heartbeat");

    // The reply topic exists from the start and is routed, so a replier can find it.
    let ns = RawClient::connect(&broker.namesrv_addr())
        .await
        .expect("ns");
    assert!(
        ns.route_json(&topic).await.expect("route").is_some(),
        "{topic} has a route"
    );

    for reply_code in [SEND_REPLY_MESSAGE_V2, SEND_REPLY_MESSAGE] {
        let correlation = format!("corr-{reply_code}");
        let cmd = reply_command(&topic, &rid, &correlation, b"the answer", reply_code);
        let born = cmd
            .ext_fields
            .get("g")
            .or_else(|| cmd.ext_fields.get("bornTimestamp"))
            .cloned()
            .expect("bornTimestamp in the send header");
        let sent = {
            let replier = &replier;
            async move { replier.request(cmd).await }
        };
        let answer = async {
            let push = requester
                .next_server_request_with_code(PUSH_REPLY_MESSAGE_TO_CLIENT, PUSH_WAIT)
                .await
                .expect("PUSH_REPLY_MESSAGE_TO_CLIENT reached the requester");
            requester
                .respond(RemotingCommand::response_to(&push, rc::SUCCESS))
                .expect("answer the push");
            push
        };
        let before = now_ms();
        let (resp, push) = tokio::join!(sent, answer);
        let resp = resp.expect("reply response");

        // The push: the send header plus hosts and time, PUSH_REPLY_TIME added, the reply's body.
        assert!(!push.is_oneway(), "the broker waits for the requester");
        let e = &push.ext_fields;
        assert_eq!(e["producerGroup"], "replier_pg");
        assert_eq!(e["topic"], topic);
        assert_eq!(e["defaultTopic"], "TBW102");
        assert_eq!(e["defaultTopicQueueNums"], "4");
        assert_eq!(e["queueId"], "0");
        assert_eq!(e["sysFlag"], "0");
        assert_eq!(e["flag"], "0");
        assert_eq!(e["reconsumeTimes"], "0");
        assert_eq!(e["bornTimestamp"], born, "bornTimestamp passed on");
        assert!(
            e["bornHost"].starts_with("/127.0.0.1:"),
            "Java's InetSocketAddress form: {}",
            e["bornHost"]
        );
        assert_eq!(e["storeHost"], format!("/{}", broker.broker_addr()));
        let stored_at: i64 = e["storeTimestamp"].parse().expect("storeTimestamp");
        assert!(stored_at >= before - 1000, "storeTimestamp {stored_at}");
        let props = decode_properties(&e["properties"]);
        assert_eq!(props["CORRELATION_ID"], correlation);
        assert_eq!(props["REPLY_TO_CLIENT"], rid);
        assert_eq!(props["MSG_TYPE"], "reply");
        let pushed_at: i64 = props["PUSH_REPLY_TIME"].parse().expect("PUSH_REPLY_TIME");
        assert!(pushed_at >= before - 1000);
        assert_eq!(push.body.as_ref(), b"the answer");

        // The replier: SUCCESS with the stored message's id and offset.
        let out = SendOutcome::from_response(resp).expect("send response");
        assert_eq!(out.code, rc::SUCCESS, "{:?}", out.remark);
        assert_eq!(out.queue_id, 0);
        assert_eq!(out.ext["MSG_REGION"], "DefaultRegion");
        let id = decode_offset_msg_id(&out.msg_id).expect("an offset message id, so it was stored");
        let (view, rec) = replier.view_message(id.offset).await.expect("view");
        assert_eq!(view.code, rc::SUCCESS);
        let rec = rec.expect("stored reply");
        assert_eq!(rec.topic, topic);
        assert_eq!(rec.queue_offset, out.queue_offset);
        assert_eq!(rec.body, b"the answer");
        assert_eq!(rec.properties()["CORRELATION_ID"], correlation);
    }
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_for_an_absent_or_refusing_requester_fails_but_is_stored() {
    let broker = EmbeddedBroker::start().await.expect("broker");
    let topic = reply_topic(&broker);
    let replier = RawClient::connect(&broker.broker_addr())
        .await
        .expect("replier");

    // Nobody with that client id is connected.
    let ghost = client_id("ghost");
    let resp = replier
        .request(reply_command(
            &topic,
            &ghost,
            "c1",
            b"lost",
            SEND_REPLY_MESSAGE_V2,
        ))
        .await
        .expect("response");
    assert_eq!(resp.code, rc::SYSTEM_ERROR);
    assert_eq!(
        resp.remark.as_deref(),
        Some(format!("push reply message fail, channel of <{ghost}> not found.").as_str())
    );
    let stored = replier
        .pull_all(&unique("reader"), &topic, 0, 0)
        .await
        .expect("pull reply topic");
    assert_eq!(stored.len(), 1, "stored although nobody took it");
    assert_eq!(stored[0].body, b"lost");

    // No REPLY_TO_CLIENT at all.
    let mut bare = OutMessage::new(&topic, b"bare").to_command();
    bare.code = SEND_REPLY_MESSAGE_V2;
    let resp = replier.request(bare).await.expect("response");
    assert_eq!(resp.code, rc::SYSTEM_ERROR);
    assert_eq!(
        resp.remark.as_deref(),
        Some("reply message properties[REPLY_TO_CLIENT] is null")
    );

    // The requester is there but answers the push with an error.
    let requester = RawClient::connect(&broker.broker_addr())
        .await
        .expect("requester");
    let rid = client_id("grumpy");
    producer_heartbeat(&requester, &rid, &unique("request_pg"))
        .await
        .expect("heartbeat");
    let sent = replier.request(reply_command(
        &topic,
        &rid,
        "c2",
        b"no",
        SEND_REPLY_MESSAGE_V2,
    ));
    let refuse = async {
        let push = requester
            .next_server_request_with_code(PUSH_REPLY_MESSAGE_TO_CLIENT, PUSH_WAIT)
            .await
            .expect("push");
        requester
            .respond(RemotingCommand::response_to(&push, rc::SYSTEM_ERROR).with_remark("busy"))
            .expect("answer");
    };
    let (resp, ()) = tokio::join!(sent, refuse);
    let resp = resp.expect("response");
    assert_eq!(resp.code, rc::SYSTEM_ERROR);
    assert_eq!(
        resp.remark.as_deref(),
        Some(format!("push reply message to {rid}fail.").as_str())
    );
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_store_reply_disabled_the_reply_is_only_pushed() {
    let broker = EmbeddedBroker::builder()
        .property("storeReplyMessageEnable", "false")
        .start()
        .await
        .expect("broker");
    let topic = reply_topic(&broker);
    let requester = RawClient::connect(&broker.broker_addr())
        .await
        .expect("requester");
    let replier = RawClient::connect(&broker.broker_addr())
        .await
        .expect("replier");
    let rid = client_id("requester");
    producer_heartbeat(&requester, &rid, &unique("request_pg"))
        .await
        .expect("heartbeat");
    let sent = replier.request(reply_command(
        &topic,
        &rid,
        "c",
        b"ephemeral",
        SEND_REPLY_MESSAGE_V2,
    ));
    let answer = async {
        let push = requester
            .next_server_request_with_code(PUSH_REPLY_MESSAGE_TO_CLIENT, PUSH_WAIT)
            .await
            .expect("push");
        requester
            .respond(RemotingCommand::response_to(&push, rc::SUCCESS))
            .expect("answer");
        push
    };
    let (resp, push) = tokio::join!(sent, answer);
    assert_eq!(push.body.as_ref(), b"ephemeral");
    let out = SendOutcome::from_response(resp.expect("response")).expect("parse");
    assert_eq!(out.code, rc::SUCCESS, "{:?}", out.remark);
    assert_eq!((out.msg_id.as_str(), out.queue_offset), ("0", 0));
    assert_eq!(
        replier
            .queue_offset(true, &topic, 0)
            .await
            .expect("max offset"),
        0,
        "nothing stored"
    );
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requester_that_disconnects_instead_of_answering_fails_the_reply_at_once() {
    let broker = EmbeddedBroker::start().await.expect("broker");
    let topic = reply_topic(&broker);
    let replier = RawClient::connect(&broker.broker_addr())
        .await
        .expect("replier");
    let requester = RawClient::connect(&broker.broker_addr())
        .await
        .expect("requester");
    let rid = client_id("vanishing");
    producer_heartbeat(&requester, &rid, &unique("request_pg"))
        .await
        .expect("heartbeat");
    let started = std::time::Instant::now();
    let sent = replier.request(reply_command(
        &topic,
        &rid,
        "c",
        b"gone",
        SEND_REPLY_MESSAGE_V2,
    ));
    let vanish = async {
        requester
            .next_server_request_with_code(PUSH_REPLY_MESSAGE_TO_CLIENT, PUSH_WAIT)
            .await
            .expect("push");
        drop(requester);
    };
    let (resp, ()) = tokio::join!(sent, vanish);
    let resp = resp.expect("response");
    assert_eq!(resp.code, rc::SYSTEM_ERROR);
    assert_eq!(
        resp.remark.as_deref(),
        Some(format!("push reply message to {rid}fail.").as_str())
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the broker gave up when the connection closed, not after its 10 s timeout ({:?})",
        started.elapsed()
    );
    broker.shutdown().await.expect("shutdown");
}
