//! Retry and dead letters over TCP (docs/protocol.md §2.3.5, §4.3): CONSUMER_SEND_MSG_BACK moves a failed message to
//! `%RETRY%group` after the next delay level, then to `%DLQ%group` once its reconsume count reaches the limit;
//! a plain send to `%RETRY%group` over the limit goes to the DLQ too; rmq's RMQ_RESEND_DLQ_MESSAGE (40001) puts
//! a dead letter back on its original topic.

use std::time::Duration;

use rmq_tests::client::{now_ms, rc, OutMessage};
use rmq_tests::record::Record;
use rmq_tests::schedule_support::{
    assert_quiet, await_message, broker_with_levels, expect_ok, rcode, resend_dlq, send_back,
    send_ok, send_with_reconsume, SendBack,
};
use rmq_tests::{unique, RawClient};

const ARRIVAL_TIMEOUT: Duration = Duration::from_secs(20);
const QUIET: Duration = Duration::from_millis(1500);

fn prop(r: &Record, key: &str) -> Option<String> {
    r.properties().remove(key)
}

/// A broker, a client, a topic holding one message and a consumer group that announced itself (which creates
/// `%RETRY%group`); returns the message as pulled.
async fn setup(
    levels: &str,
) -> (
    rmq_broker::embedded::EmbeddedBroker,
    RawClient,
    String,
    String,
    OutMessage,
    Record,
) {
    let broker = broker_with_levels(levels, None).await.expect("broker");
    let client = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("RetryTopic");
    let group = unique("retry_group");
    let hb = client
        .heartbeat(&unique("client"), &group, &topic)
        .await
        .expect("heartbeat");
    assert_eq!(hb.code, rc::SUCCESS);
    let msg = OutMessage::new(&topic, b"fails every time")
        .tags(Some("TagR"))
        .keys(Some("order-7"));
    send_ok(&client, &msg).await.expect("send");
    let first = await_message(&client, &group, &topic, 0, 0, ARRIVAL_TIMEOUT)
        .await
        .expect("pull the original");
    (broker, client, topic, group, msg, first.record)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nacked_three_times_with_max_two_ends_in_the_dlq() {
    let (broker, client, topic, group, msg, original) = setup("1s 1s 2s").await;
    let retry = format!("%RETRY%{group}");
    let dlq = format!("%DLQ%{group}");

    // Nack 1: delayLevel 0 lets the broker pick 3 + reconsumeTimes = level 3 (2 s here).
    let nacked_at = now_ms();
    let resp = send_back(
        &client,
        &SendBack::of(&original, &group, 0).max_reconsume(2),
    )
    .await
    .expect("send back 1");
    expect_ok(&resp, "send back 1").expect("accepted");
    let r1 = await_message(&client, &group, &retry, 0, 0, ARRIVAL_TIMEOUT)
        .await
        .expect("first retry");
    assert!(
        r1.at_ms - nacked_at >= 2000,
        "level 3 (2 s) retry came after {} ms",
        r1.at_ms - nacked_at
    );
    let rec = &r1.record;
    assert_eq!(rec.topic, retry);
    assert_eq!(rec.reconsume_times, 1);
    assert_eq!(rec.body, b"fails every time");
    assert_eq!(rec.tags().as_deref(), Some("TagR"));
    assert_eq!(rec.keys().as_deref(), Some("order-7"));
    assert_eq!(rec.born_timestamp, original.born_timestamp);
    assert_eq!(prop(rec, "RETRY_TOPIC").as_deref(), Some(topic.as_str()));
    assert_eq!(prop(rec, "UNIQ_KEY").as_deref(), Some(msg.uniq_key()));
    let origin_id = prop(rec, "ORIGIN_MESSAGE_ID").expect("ORIGIN_MESSAGE_ID set");
    assert_eq!(
        prop(rec, "DELAY"),
        None,
        "DELAY is cleared when the retry is delivered"
    );

    // Nack 2: the client asks for level 1 (1 s).
    let nacked_at = now_ms();
    let resp = send_back(
        &client,
        &SendBack::of(&r1.record, &group, 1).max_reconsume(2),
    )
    .await
    .expect("send back 2");
    expect_ok(&resp, "send back 2").expect("accepted");
    let r2 = await_message(&client, &group, &retry, 0, r1.next_offset, ARRIVAL_TIMEOUT)
        .await
        .expect("second retry");
    assert!(r2.at_ms - nacked_at >= 1000);
    assert_eq!(r2.record.reconsume_times, 2);
    assert_eq!(
        prop(&r2.record, "RETRY_TOPIC").as_deref(),
        Some(topic.as_str())
    );
    assert_eq!(
        prop(&r2.record, "ORIGIN_MESSAGE_ID").as_deref(),
        Some(origin_id.as_str()),
        "the origin id is kept across retries"
    );

    // Nack 3: reconsume count 2 reached the max of 2 → dead letter, at once.
    let resp = send_back(
        &client,
        &SendBack::of(&r2.record, &group, 1).max_reconsume(2),
    )
    .await
    .expect("send back 3");
    expect_ok(&resp, "send back 3").expect("accepted");
    let d = await_message(&client, &group, &dlq, 0, 0, Duration::from_secs(5))
        .await
        .expect("dead letter");
    let rec = &d.record;
    assert_eq!((rec.topic.as_str(), rec.queue_id), (dlq.as_str(), 0));
    assert_eq!(rec.reconsume_times, 3);
    assert_eq!(rec.body, b"fails every time");
    assert_eq!(prop(rec, "RETRY_TOPIC").as_deref(), Some(topic.as_str()));
    assert_eq!(
        prop(rec, "DLQ_ORIGIN_TOPIC").as_deref(),
        Some(topic.as_str())
    );
    assert_eq!(
        prop(rec, "DLQ_ORIGIN_MESSAGE_ID").as_deref(),
        Some(origin_id.as_str())
    );
    assert_eq!(prop(rec, "DELAY"), None);
    assert_quiet(&client, &group, &retry, 0, r2.next_offset, QUIET)
        .await
        .expect("no further retry once dead");
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_resend_puts_the_message_back_on_its_original_topic() {
    let (broker, client, topic, group, msg, original) = setup("1s").await;
    let dlq = format!("%DLQ%{group}");

    // delayLevel < 0: straight to the DLQ whatever the count.
    let resp = send_back(&client, &SendBack::of(&original, &group, -1))
        .await
        .expect("send back");
    expect_ok(&resp, "send back").expect("accepted");
    let d = await_message(&client, &group, &dlq, 0, 0, Duration::from_secs(5))
        .await
        .expect("dead letter");
    assert_eq!(
        prop(&d.record, "DLQ_ORIGIN_TOPIC").as_deref(),
        Some(topic.as_str())
    );

    // Not a dead letter, and nothing at all: refused.
    let resp = resend_dlq(&client, original.physical_offset, None)
        .await
        .expect("resend non-DLQ");
    assert_eq!(resp.code, rcode::INVALID_PARAMETER, "{:?}", resp.remark);
    let resp = resend_dlq(&client, d.record.physical_offset + 1, None)
        .await
        .expect("resend bad offset");
    assert_eq!(resp.code, rc::QUERY_NOT_FOUND, "{:?}", resp.remark);

    let resp = resend_dlq(&client, d.record.physical_offset, None)
        .await
        .expect("resend");
    expect_ok(&resp, "resend").expect("resent");
    let msg_id = resp
        .ext_fields
        .get("msgId")
        .cloned()
        .expect("msgId in the answer");
    let queue: i32 = resp.ext_fields["queueId"]
        .parse()
        .expect("queueId in the answer");
    let queue_offset: i64 = resp.ext_fields["queueOffset"]
        .parse()
        .expect("queueOffset in the answer");
    let back = await_message(
        &client,
        &group,
        &topic,
        queue,
        queue_offset,
        ARRIVAL_TIMEOUT,
    )
    .await
    .expect("back on the original topic");
    let rec = &back.record;
    assert_eq!(rec.topic, topic);
    assert_eq!(rec.body, b"fails every time");
    assert_eq!(rec.tags().as_deref(), Some("TagR"));
    assert_eq!(
        rec.reconsume_times, 0,
        "a resent message gets a fresh set of retries"
    );
    assert_eq!(prop(rec, "UNIQ_KEY").as_deref(), Some(msg.uniq_key()));
    assert_eq!(prop(rec, "RETRY_TOPIC"), None);
    assert_eq!(prop(rec, "DLQ_ORIGIN_TOPIC"), None);
    let id = rmq_tests::record::decode_offset_msg_id(&msg_id).expect("offset msg id");
    assert_eq!(id.offset, rec.physical_offset, "msgId names the new record");
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_send_to_the_retry_topic_over_the_limit_goes_to_the_dlq() {
    let (broker, client, topic, group, _msg, _original) = setup("1s").await;
    let retry = format!("%RETRY%{group}");
    let dlq = format!("%DLQ%{group}");

    // Within the limit: stays a retry message.
    let within = OutMessage::new(&retry, b"retry 2").props(&[("RETRY_TOPIC", topic.as_str())]);
    let out = send_with_reconsume(&client, &within, 2, 2)
        .await
        .expect("send within");
    assert_eq!(out.code, rc::SUCCESS, "{:?}", out.remark);
    let r = await_message(&client, &group, &retry, 0, 0, ARRIVAL_TIMEOUT)
        .await
        .expect("retry message");
    assert_eq!(
        (r.record.body.as_slice(), r.record.reconsume_times),
        (&b"retry 2"[..], 2)
    );

    // Over it: dead letter.
    let over = OutMessage::new(&retry, b"retry 3").props(&[("RETRY_TOPIC", topic.as_str())]);
    let out = send_with_reconsume(&client, &over, 3, 2)
        .await
        .expect("send over");
    assert_eq!(out.code, rc::SUCCESS, "{:?}", out.remark);
    let d = await_message(&client, &group, &dlq, 0, 0, Duration::from_secs(5))
        .await
        .expect("dead letter");
    assert_eq!(d.record.body, b"retry 3");
    assert_eq!(d.record.reconsume_times, 3);
    assert_eq!(
        prop(&d.record, "DLQ_ORIGIN_TOPIC").as_deref(),
        Some(topic.as_str())
    );
    assert_quiet(
        &client,
        &group,
        &retry,
        0,
        r.next_offset,
        Duration::from_millis(500),
    )
    .await
    .expect("not stored as a retry");
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_back_of_an_unknown_offset_is_refused() {
    let (broker, client, _topic, group, _msg, original) = setup("1s").await;
    let mut sb = SendBack::of(&original, &group, 0);
    sb.offset = original.physical_offset + 3;
    let resp = send_back(&client, &sb).await.expect("send back");
    assert_eq!(resp.code, rc::SYSTEM_ERROR, "{:?}", resp.remark);
    broker.shutdown().await.expect("shutdown");
}
