//! POP over remoting, as a Java 5 remoting POP consumer speaks it: POP_MESSAGE (200050) with its header and
//! the stored records as body, ACK_MESSAGE (200051) with the client-built `POP_CK`, CHANGE_MESSAGE_INVISIBLETIME
//! (200053), BATCH_ACK_MESSAGE (200151) with a Java `BitSet`, NOTIFICATION (200054), and Java's refusals.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use rmq_broker::embedded::EmbeddedBroker;
use rmq_protocol::codes::{request, response};
use rmq_protocol::RemotingCommand;
use rmq_tests::client::OutMessage;
use rmq_tests::record::{decode_records, Record};
use rmq_tests::{unique, RawClient};

fn cmd(code: i32, pairs: &[(&str, String)]) -> RemotingCommand {
    let ext: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    RemotingCommand::request(code, ext)
}

fn now_ms() -> i64 {
    rmq_protocol::clock::system_now_ms()
}

async fn pop(
    c: &RawClient,
    group: &str,
    topic: &str,
    n: i32,
    invisible: i64,
    poll: i64,
) -> RemotingCommand {
    c.request_timeout(
        cmd(
            request::POP_MESSAGE,
            &[
                ("consumerGroup", group.into()),
                ("topic", topic.into()),
                ("queueId", "-1".into()),
                ("maxMsgNums", n.to_string()),
                ("invisibleTime", invisible.to_string()),
                ("pollTime", poll.to_string()),
                ("bornTime", now_ms().to_string()),
                ("initMode", "0".into()),
                ("expType", "TAG".into()),
                ("exp", "*".into()),
            ],
        ),
        Duration::from_millis(poll as u64 + 10_000),
    )
    .await
    .expect("pop")
}

/// The `POP_CK` a Java client builds for a popped record (ExtraInfoUtil with startOffsetInfo).
fn pop_ck(resp: &RemotingCommand, broker: &str, r: &Record, flag: &str) -> String {
    let e = &resp.ext_fields;
    let start = e["startOffsetInfo"]
        .split(';')
        .find_map(|entry| {
            let f: Vec<&str> = entry.split(' ').collect();
            (f[0] == flag && f[1] == r.queue_id.to_string()).then(|| f[2].to_owned())
        })
        .expect("a start offset for the record's queue");
    format!(
        "{start} {} {} {} {flag} {broker} {} {}",
        e["popTime"], e["invisibleTime"], e["reviveQid"], r.queue_id, r.queue_offset
    )
}

fn ack(group: &str, topic: &str, r: &Record, extra: &str) -> RemotingCommand {
    cmd(
        request::ACK_MESSAGE,
        &[
            ("consumerGroup", group.into()),
            ("topic", topic.into()),
            ("queueId", r.queue_id.to_string()),
            ("extraInfo", extra.into()),
            ("offset", r.queue_offset.to_string()),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remoting_pop_consumer_pops_acks_changes_invisible_time_and_sees_the_unacked_one_again() {
    let broker = EmbeddedBroker::start().await.expect("broker");
    let name = broker.broker().config().broker_name.clone();
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("PopRemoting");
    let group = unique("pop_remoting");
    c.create_topic(&topic, 2).await.expect("topic");
    for i in 0..6 {
        let m = OutMessage::new(&topic, format!("m{i}").as_bytes())
            .queue(i % 2)
            .keys(Some(&format!("k{i}")));
        c.send(&m).await.expect("send").ok().expect("stored");
    }

    let resp = pop(&c, &group, &topic, 32, 2000, 0).await;
    assert_eq!(resp.code, response::SUCCESS, "{:?}", resp.remark);
    assert_eq!(resp.remark.as_deref(), Some("FOUND"));
    let recs = decode_records(resp.body.as_ref()).expect("records");
    assert_eq!(recs.len(), 6);
    let mut infos: Vec<&str> = resp.ext_fields["msgOffsetInfo"].split(';').collect();
    infos.sort_unstable();
    assert_eq!(infos, vec!["0 0 0,1,2", "0 1 0,1,2"]);
    let qid: i32 = resp.ext_fields["reviveQid"].parse().expect("reviveQid");
    assert!((0..8).contains(&qid));
    assert_eq!(resp.ext_fields["invisibleTime"], "2000");

    // Nothing more while they are out.
    let empty = pop(&c, &group, &topic, 32, 2000, 0).await;
    assert_eq!(empty.code, response::POLLING_TIMEOUT, "{:?}", empty.remark);

    let (keep, rest) = recs.split_last().expect("six");
    let (change, acked) = rest.split_last().expect("five");
    for r in acked {
        let a = c
            .request(ack(&group, &topic, r, &pop_ck(&resp, &name, r, "0")))
            .await
            .expect("ack");
        assert_eq!(a.code, response::SUCCESS, "{:?}", a.remark);
    }
    let ch = c
        .request(cmd(
            request::CHANGE_MESSAGE_INVISIBLETIME,
            &[
                ("consumerGroup", group.clone()),
                ("topic", topic.clone()),
                ("queueId", change.queue_id.to_string()),
                ("extraInfo", pop_ck(&resp, &name, change, "0")),
                ("offset", change.queue_offset.to_string()),
                ("invisibleTime", "60000".into()),
            ],
        ))
        .await
        .expect("change");
    assert_eq!(ch.code, response::SUCCESS, "{:?}", ch.remark);
    assert_eq!(ch.ext_fields["invisibleTime"], "60000");

    // The one neither acked nor extended comes back from the retry topic, under its own topic name.
    let again = pop(&c, &group, &topic, 32, 2000, 10_000).await;
    assert_eq!(again.code, response::SUCCESS, "{:?}", again.remark);
    let back = decode_records(again.body.as_ref()).expect("records");
    assert_eq!(back.len(), 1, "only the unacked, unextended one");
    assert_eq!(back[0].body, keep.body);
    assert_eq!(back[0].topic, topic, "the client sees the original topic");
    assert_eq!(back[0].reconsume_times, 1);
    let props = back[0].properties();
    assert!(
        props.contains_key("POP_CK"),
        "retry copies carry POP_CK: {props:?}"
    );
    assert!(
        again.ext_fields["startOffsetInfo"].starts_with("1 0 "),
        "{:?}",
        again.ext_fields
    );
    let retry_topic = format!("%RETRY%{group}_{topic}");
    let a = c
        .request(ack(&group, &retry_topic, &back[0], &props["POP_CK"]))
        .await
        .expect("ack retry");
    assert_eq!(a.code, response::SUCCESS, "{:?}", a.remark);

    // Refusals, with Java's codes.
    let big = pop(&c, &group, &topic, 33, 2000, 0).await;
    assert_eq!(big.code, response::INVALID_PARAMETER, "{:?}", big.remark);
    let missing = pop(&c, &group, &unique("NoSuchTopic"), 1, 2000, 0).await;
    assert_eq!(
        missing.code,
        response::TOPIC_NOT_EXIST,
        "{:?}",
        missing.remark
    );
    let bad = c
        .request(ack(&group, &topic, &recs[0], "garbage"))
        .await
        .expect("ack");
    assert_eq!(bad.code, response::MESSAGE_ILLEGAL, "{:?}", bad.remark);
    let mut past = recs[0].clone();
    past.queue_offset = 999;
    let past_ck = pop_ck(&resp, &name, &recs[0], "0");
    let beyond = c
        .request(ack(&group, &topic, &past, &past_ck))
        .await
        .expect("ack");
    assert_eq!(beyond.code, response::NO_MESSAGE, "{:?}", beyond.remark);
    assert_eq!(
        broker.broker().services().pops.open_checkpoints(),
        1,
        "only the extended one is out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_ack_takes_a_java_bit_set_and_notification_waits_for_a_message() {
    let broker = EmbeddedBroker::start().await.expect("broker");
    let name = broker.broker().config().broker_name.clone();
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("PopBatch");
    let group = unique("pop_batch");
    c.create_topic(&topic, 1).await.expect("topic");
    for i in 0..3 {
        c.send(&OutMessage::new(&topic, format!("b{i}").as_bytes()))
            .await
            .expect("send");
    }
    let resp = pop(&c, &group, &topic, 32, 60_000, 0).await;
    let recs = decode_records(resp.body.as_ref()).expect("records");
    assert_eq!(recs.len(), 3);
    let e = &resp.ext_fields;
    // Java's BitSet{0, 2}.toByteArray() = [0b101]: the first and third messages.
    let body = serde_json::json!({
        "brokerName": name,
        "acks": [{
            "c": group, "t": topic, "r": "0", "so": 0, "q": 0,
            "rq": e["reviveQid"].parse::<i32>().expect("qid"),
            "pt": e["popTime"].parse::<i64>().expect("pt"),
            "it": 60000,
            "b": base64::engine::general_purpose::STANDARD.encode([0b101u8]),
        }],
    });
    let batch = c
        .request(
            cmd(request::BATCH_ACK_MESSAGE, &[])
                .with_body(serde_json::to_vec(&body).expect("json")),
        )
        .await
        .expect("batch ack");
    assert_eq!(batch.code, response::SUCCESS, "{:?}", batch.remark);
    let pops = &broker.broker().services().pops;
    assert_eq!(
        pops.open_checkpoints(),
        1,
        "the middle message is still out"
    );
    let a = c
        .request(ack(
            &group,
            &topic,
            &recs[1],
            &pop_ck(&resp, &name, &recs[1], "0"),
        ))
        .await
        .expect("ack");
    assert_eq!(a.code, response::SUCCESS);
    assert_eq!(pops.open_checkpoints(), 0, "all three acked");
    let empty_body = c
        .request(cmd(request::BATCH_ACK_MESSAGE, &[]))
        .await
        .expect("empty");
    assert_eq!(empty_body.code, response::NO_MESSAGE);

    // NOTIFICATION holds until a message arrives.
    let waiting = {
        let addr = broker.broker_addr();
        let (group, topic) = (group.clone(), topic.clone());
        tokio::spawn(async move {
            let c = RawClient::connect(&addr).await.expect("connect");
            c.request_timeout(
                cmd(
                    request::NOTIFICATION,
                    &[
                        ("consumerGroup", group),
                        ("topic", topic),
                        ("queueId", "-1".into()),
                        ("pollTime", "20000".into()),
                        ("bornTime", now_ms().to_string()),
                    ],
                ),
                Duration::from_secs(30),
            )
            .await
            .expect("notification")
        })
    };
    c.send(&OutMessage::new(&topic, b"wake"))
        .await
        .expect("send");
    let n = waiting.await.expect("joined");
    assert_eq!(n.code, response::SUCCESS, "{:?}", n.remark);
    assert_eq!(n.ext_fields["hasMsg"], "true");
}
