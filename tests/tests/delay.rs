//! Delay levels and delivery times over TCP (docs/protocol.md §4.4): a message is parked and reaches its real topic when
//! due, not before, also across a broker restart, and exactly once.
//!
//! Every wait is a long-polling pull that returns when the message is stored; arrival times are measured
//! against the time just before the send. Delay tables are shortened through `messageDelayLevel`.

use std::time::Duration;

use rmq_tests::client::{now_ms, OutMessage};
use rmq_tests::schedule_support::{
    assert_quiet, await_message, broker_with_levels, rcode, send_ok,
};
use rmq_tests::{unique, RawClient};

/// How late a delivery-time message may arrive here. The broker delivers to the millisecond (the printed
/// figures show it on a quiet machine); the bound leaves room for a loaded 2-core CI machine, where a wake-up
/// can come late, while the lower bounds (never early) stay exact.
const PRECISION_MS: i64 = 1_500;
/// Generous bound for "it did arrive".
const ARRIVAL_TIMEOUT: Duration = Duration::from_secs(20);
/// How long we listen for a duplicate after a delivery.
const QUIET: Duration = Duration::from_millis(1500);

fn prop(r: &rmq_tests::record::Record, key: &str) -> Option<String> {
    r.properties().remove(key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn level_message_arrives_after_its_delay_and_not_before() {
    let broker = broker_with_levels("1s 2s 3s", None).await.expect("broker");
    let client = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("DelayTopic");
    let group = unique("delay_group");

    let msg = OutMessage::new(&topic, b"level two")
        .tags(Some("TagD"))
        .keys(Some("k-delay"))
        .props(&[("DELAY", "2"), ("colour", "red")]);
    let sent_at = now_ms();
    let sent = send_ok(&client, &msg).await.expect("send");
    assert_eq!(sent.queue_id, 0, "the response names the requested queue");

    let a = await_message(&client, &group, &topic, 0, 0, ARRIVAL_TIMEOUT)
        .await
        .expect("delivered");
    let waited = a.at_ms - sent_at;
    eprintln!("level 2 (2 s): arrived {waited} ms after the send");
    assert!(
        waited >= 2000,
        "arrived after {waited} ms, before the 2 s delay"
    );
    assert!(
        waited < 2000 + 1000,
        "arrived {waited} ms after the send; far too late"
    );
    let r = &a.record;
    assert_eq!(
        (r.topic.as_str(), r.queue_id, r.queue_offset),
        (topic.as_str(), 0, 0)
    );
    assert!(
        r.store_timestamp - sent_at >= 2000,
        "stored on the real topic before it was due"
    );
    assert_eq!(r.body, b"level two");
    assert_eq!(r.tags().as_deref(), Some("TagD"));
    assert_eq!(r.keys().as_deref(), Some("k-delay"));
    assert_eq!(prop(r, "colour").as_deref(), Some("red"));
    assert_eq!(prop(r, "UNIQ_KEY").as_deref(), Some(msg.uniq_key()));
    assert_eq!(prop(r, "DELAY"), None, "DELAY is cleared on delivery");
    assert_eq!(prop(r, "REAL_TOPIC").as_deref(), Some(topic.as_str()));
    assert_eq!(prop(r, "REAL_QID").as_deref(), Some("0"));
    assert!(r.body_crc_ok());
    assert_quiet(&client, &group, &topic, 0, a.next_offset, QUIET)
        .await
        .expect("delivered exactly once");
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn levels_above_the_table_use_its_last_level() {
    let broker = broker_with_levels("1s 2s", None).await.expect("broker");
    let client = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("ClampTopic");
    let group = unique("clamp_group");
    let sent_at = now_ms();
    send_ok(
        &client,
        &OutMessage::new(&topic, b"level 18").props(&[("DELAY", "18")]),
    )
    .await
    .expect("send");
    let a = await_message(&client, &group, &topic, 0, 0, ARRIVAL_TIMEOUT)
        .await
        .expect("delivered");
    let waited = a.at_ms - sent_at;
    assert!(
        (2000..3000).contains(&waited),
        "level 18 clamps to 2 s; waited {waited} ms"
    );
    assert_eq!(prop(&a.record, "DELAY"), None);
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_progress_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = unique("DelayRestart");
    let group = unique("delay_restart_group");

    // Delivered before the restart: must not come again after it.
    let broker = broker_with_levels("1s 2s", Some(dir.path()))
        .await
        .expect("broker");
    let client = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let first = OutMessage::new(&topic, b"before").props(&[("DELAY", "1")]);
    send_ok(&client, &first).await.expect("send first");
    let a = await_message(&client, &group, &topic, 0, 0, ARRIVAL_TIMEOUT)
        .await
        .expect("first delivered");
    assert_eq!(
        prop(&a.record, "UNIQ_KEY").as_deref(),
        Some(first.uniq_key())
    );
    // Pending across the restart.
    let second = OutMessage::new(&topic, b"across").props(&[("DELAY", "2")]);
    let sent_at = now_ms();
    send_ok(&client, &second).await.expect("send second");
    drop(client);
    broker.shutdown().await.expect("shutdown");
    drop(broker);
    let saved = std::fs::read_to_string(dir.path().join("config/delayOffset.json"))
        .expect("delayOffset.json written");
    let saved: serde_json::Value = serde_json::from_str(&saved).expect("json");
    assert_eq!(
        saved["offsetTable"]["1"], 1,
        "level 1 delivered its one message: {saved}"
    );

    let broker = broker_with_levels("1s 2s", Some(dir.path()))
        .await
        .expect("restart");
    let client = RawClient::connect(&broker.broker_addr())
        .await
        .expect("reconnect");
    let b = await_message(&client, &group, &topic, 0, a.next_offset, ARRIVAL_TIMEOUT)
        .await
        .expect("second delivered after the restart");
    assert_eq!(
        prop(&b.record, "UNIQ_KEY").as_deref(),
        Some(second.uniq_key()),
        "the first message was delivered again"
    );
    assert!(
        b.at_ms - sent_at >= 2000,
        "arrived {} ms after the send",
        b.at_ms - sent_at
    );
    assert_quiet(&client, &group, &topic, 0, b.next_offset, QUIET)
        .await
        .expect("nothing delivered twice");
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_time_message_arrives_on_time() {
    let broker = broker_with_levels("1s 2s", None).await.expect("broker");
    let client = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("TimerTopic");
    let group = unique("timer_group");
    let deliver_at = now_ms() + 1500;
    let at = deliver_at.to_string();
    let msg = OutMessage::new(&topic, b"at a time")
        .tags(Some("TagT"))
        .props(&[("TIMER_DELIVER_MS", at.as_str())]);
    send_ok(&client, &msg).await.expect("send");
    let a = await_message(&client, &group, &topic, 0, 0, ARRIVAL_TIMEOUT)
        .await
        .expect("delivered");
    let off = a.at_ms - deliver_at;
    eprintln!("delivery time: arrived {off} ms after it");
    assert!(
        (0..=PRECISION_MS).contains(&off),
        "arrived {off} ms from its delivery time"
    );
    let r = &a.record;
    assert_eq!(r.topic, topic);
    assert_eq!(r.body, b"at a time");
    assert_eq!(r.tags().as_deref(), Some("TagT"));
    assert_eq!(prop(r, "TIMER_OUT_MS").as_deref(), Some(at.as_str()));
    assert_eq!(prop(r, "UNIQ_KEY").as_deref(), Some(msg.uniq_key()));
    assert_quiet(&client, &group, &topic, 0, a.next_offset, QUIET)
        .await
        .expect("delivered exactly once");
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_time_survives_a_restart_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = unique("TimerRestart");
    let group = unique("timer_restart_group");

    let broker = broker_with_levels("1s", Some(dir.path()))
        .await
        .expect("broker");
    let client = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    // Delivered before the restart: must not come again.
    let early = (now_ms() + 300).to_string();
    let first = OutMessage::new(&topic, b"early").props(&[("TIMER_DELIVER_MS", early.as_str())]);
    send_ok(&client, &first).await.expect("send first");
    let a = await_message(&client, &group, &topic, 0, 0, ARRIVAL_TIMEOUT)
        .await
        .expect("first delivered");
    assert_eq!(
        prop(&a.record, "UNIQ_KEY").as_deref(),
        Some(first.uniq_key())
    );
    // Pending across the restart.
    let deliver_at = now_ms() + 3000;
    let at = deliver_at.to_string();
    let second = OutMessage::new(&topic, b"late").props(&[("TIMER_DELIVER_MS", at.as_str())]);
    send_ok(&client, &second).await.expect("send second");
    drop(client);
    broker.shutdown().await.expect("shutdown");
    drop(broker);
    assert!(dir.path().join("config/timerCheckpoint.json").exists());

    let broker = broker_with_levels("1s", Some(dir.path()))
        .await
        .expect("restart");
    let client = RawClient::connect(&broker.broker_addr())
        .await
        .expect("reconnect");
    assert!(
        now_ms() < deliver_at - 500,
        "the restart took too long for this test to mean anything"
    );
    let b = await_message(&client, &group, &topic, 0, a.next_offset, ARRIVAL_TIMEOUT)
        .await
        .expect("second delivered after the restart");
    assert_eq!(
        prop(&b.record, "UNIQ_KEY").as_deref(),
        Some(second.uniq_key()),
        "the first message was delivered again"
    );
    let off = b.at_ms - deliver_at;
    eprintln!("delivery time across a restart: arrived {off} ms after it");
    assert!(
        (0..=PRECISION_MS).contains(&off),
        "arrived {off} ms from its delivery time after a restart"
    );
    assert_quiet(&client, &group, &topic, 0, b.next_offset, QUIET)
        .await
        .expect("nothing delivered twice");
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_earlier_delivery_time_overtakes_a_later_one() {
    let broker = broker_with_levels("1s", None).await.expect("broker");
    let client = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("TimerOrder");
    let group = unique("timer_order_group");
    let late_at = now_ms() + 4000;
    let late = late_at.to_string();
    send_ok(
        &client,
        &OutMessage::new(&topic, b"late").props(&[("TIMER_DELIVER_MS", late.as_str())]),
    )
    .await
    .expect("send late");
    // The timer now sleeps until `late_at`; this one must wake it.
    let early_at = now_ms() + 800;
    let early = early_at.to_string();
    send_ok(
        &client,
        &OutMessage::new(&topic, b"early").props(&[("TIMER_DELIVER_MS", early.as_str())]),
    )
    .await
    .expect("send early");
    let a = await_message(&client, &group, &topic, 0, 0, ARRIVAL_TIMEOUT)
        .await
        .expect("early delivered");
    assert_eq!(a.record.body, b"early");
    let off = a.at_ms - early_at;
    eprintln!("earlier delivery time sent second: arrived {off} ms after it");
    assert!(
        (0..=PRECISION_MS).contains(&off),
        "early arrived {off} ms from its time"
    );
    let b = await_message(&client, &group, &topic, 0, a.next_offset, ARRIVAL_TIMEOUT)
        .await
        .expect("late delivered");
    assert_eq!(b.record.body, b"late");
    let off = b.at_ms - late_at;
    assert!(
        (0..=PRECISION_MS).contains(&off),
        "late arrived {off} ms from its time"
    );
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relative_timer_properties_limits_and_delay_precedence() {
    let broker = broker_with_levels("1s 2s", None).await.expect("broker");
    let client = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let group = unique("timer_rel_group");

    // TIMER_DELAY_MS: relative to the broker's clock at the put.
    let topic = unique("TimerRel");
    let sent_at = now_ms();
    send_ok(
        &client,
        &OutMessage::new(&topic, b"rel").props(&[("TIMER_DELAY_MS", "700")]),
    )
    .await
    .expect("send relative");
    let a = await_message(&client, &group, &topic, 0, 0, ARRIVAL_TIMEOUT)
        .await
        .expect("relative delivered");
    let waited = a.at_ms - sent_at;
    assert!(
        (700..=700 + 2 * PRECISION_MS).contains(&waited),
        "waited {waited} ms for a 700 ms delay"
    );

    // More than 3 days ahead (timerMaxDelaySec) is refused; so is a non-number.
    for props in [
        [("TIMER_DELAY_SEC", "259201")],
        [("TIMER_DELIVER_MS", "tomorrow")],
    ] {
        let out = client
            .send(&OutMessage::new(&topic, b"refused").props(&props))
            .await
            .expect("send");
        assert_eq!(
            out.code,
            rcode::MESSAGE_ILLEGAL,
            "{props:?}: {:?}",
            out.remark
        );
    }

    // DELAY and TIMER_* together: DELAY wins, TIMER_* are dropped.
    let topic = unique("DelayWins");
    let sent_at = now_ms();
    let at = (sent_at + 100).to_string();
    send_ok(
        &client,
        &OutMessage::new(&topic, b"both")
            .props(&[("DELAY", "1"), ("TIMER_DELIVER_MS", at.as_str())]),
    )
    .await
    .expect("send both");
    let b = await_message(&client, &group, &topic, 0, 0, ARRIVAL_TIMEOUT)
        .await
        .expect("delivered");
    assert!(
        b.at_ms - sent_at >= 1000,
        "delivered at the timer's time, not the level's"
    );
    assert_eq!(prop(&b.record, "TIMER_DELIVER_MS"), None);
    assert_eq!(prop(&b.record, "TIMER_OUT_MS"), None);
    broker.shutdown().await.expect("shutdown");
}

/// Acceptance interop: `rocketmq-client-rust` 1.0.0 sets a delay level and a delivery time on its messages
/// (`Message::builder().delay_level(..)` / `.deliver_time_ms(..)`); its push consumer receives each when due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocketmq_client_rust_delay_level_and_delivery_time() {
    use rmq_tests::fixtures::ThirdPartyRuntime;
    use rocketmq_client_rust::{
        ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus, DefaultMQProducer,
        DefaultMQPushConsumer, MQPushConsumer, MessageListenerConcurrently,
    };
    use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere;
    use rocketmq_model::common::message::message_ext::MessageExt;
    use rocketmq_model::common::message::message_single::Message;
    use rocketmq_model::result::SendStatus;
    use rocketmq_protocol::protocol::heartbeat::message_model::MessageModel;
    use tokio::sync::mpsc;

    struct Collector(mpsc::UnboundedSender<(String, i64)>);
    impl MessageListenerConcurrently for Collector {
        fn consume_message(
            &self,
            msgs: &[&MessageExt],
            _context: &ConsumeConcurrentlyContext,
        ) -> rocketmq_client_rust::ClientResult<ConsumeConcurrentlyStatus> {
            let at = now_ms();
            for m in msgs {
                let body = m.body().map(|b| b.to_vec()).unwrap_or_default();
                let body = String::from_utf8_lossy(&body).into_owned();
                let _ = self.0.send((body, at));
            }
            Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
        }
    }

    let broker = broker_with_levels("1s 2s 3s", None).await.expect("broker");
    let namesrv = broker.namesrv_addr();
    let topic = unique("InteropDelay");
    let raw = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    raw.create_topic(&topic, 1).await.expect("create topic");
    let ns = RawClient::connect(&namesrv)
        .await
        .expect("connect name server");
    rmq_tests::eventually(Duration::from_secs(15), "topic routable", || async {
        Ok(ns.route_json(&topic).await?.map(|_| ()))
    })
    .await
    .expect("route");

    let tp = ThirdPartyRuntime::start("interop-delay");
    let rt = tp.runtime.clone();

    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut consumer = DefaultMQPushConsumer::builder(rt.clone())
        .consumer_group(unique("interop_delay_group"))
        .name_server_addr(namesrv.clone())
        .message_model(MessageModel::Clustering)
        .consume_from_where(ConsumeFromWhere::ConsumeFromFirstOffset)
        .build();
    consumer.subscribe(&topic, "*").await.expect("subscribe");
    consumer.register_message_listener_concurrently(Collector(tx));
    consumer.start().await.expect("consumer start");

    let mut producer = DefaultMQProducer::builder(rt.clone())
        .producer_group(unique("interop_delay_producer"))
        .name_server_addr(namesrv.clone())
        .send_msg_timeout(10_000)
        .build();
    producer.start().await.expect("producer start");

    let level_sent = now_ms();
    let level_msg = Message::builder()
        .topic(topic.as_str())
        .body(b"by level".to_vec())
        .delay_level(2)
        .build_unchecked();
    let deliver_at = now_ms() + 2500;
    let timed_msg = Message::builder()
        .topic(topic.as_str())
        .body(b"by time".to_vec())
        .deliver_time_ms(deliver_at as u64)
        .build_unchecked();
    for m in [level_msg, timed_msg] {
        match producer.send(m).await {
            Ok(Some(r)) if r.send_status == SendStatus::SendOk => {}
            other => panic!("send: {other:?}"),
        }
    }

    let mut got = std::collections::HashMap::new();
    let outcome = tokio::time::timeout(Duration::from_secs(60), async {
        while got.len() < 2 {
            let Some((body, at)) = rx.recv().await else {
                break;
            };
            got.entry(body).or_insert(at);
        }
    })
    .await;

    let _ = tokio::time::timeout(Duration::from_secs(20), consumer.shutdown()).await;
    let _ = tokio::time::timeout(Duration::from_secs(20), producer.shutdown()).await;
    drop(rt);
    tp.shutdown().await;
    broker.shutdown().await.expect("shutdown");

    assert!(outcome.is_ok(), "consumer got {got:?} only");
    let level_at = got["by level"];
    assert!(
        level_at - level_sent >= 2000,
        "level 2 delivered after {} ms",
        level_at - level_sent
    );
    let timed_at = got["by time"];
    // The consumer's own pull and dispatch add latency beyond the broker's precision; it must not be early.
    assert!(
        timed_at >= deliver_at,
        "delivery-time message consumed {} ms early",
        deliver_at - timed_at
    );
    assert!(
        timed_at - deliver_at < 2000,
        "delivery-time message consumed {} ms late",
        timed_at - deliver_at
    );
}

/// A crash can leave the saved progress behind what was delivered. Rewinding the progress files while the broker
/// is down simulates that: messages delivered before must not come again (they are found in the destination's
/// index), while a message still pending is delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_progress_after_a_crash_does_not_redeliver() {
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = unique("StaleProgress");
    let group = unique("stale_group");
    let broker = broker_with_levels("1s 2s", Some(dir.path()))
        .await
        .expect("broker");
    let client = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let at = (now_ms() + 200).to_string();
    send_ok(
        &client,
        &OutMessage::new(&topic, b"timer once").props(&[("TIMER_DELIVER_MS", at.as_str())]),
    )
    .await
    .expect("send timer");
    send_ok(
        &client,
        &OutMessage::new(&topic, b"level once").props(&[("DELAY", "1")]),
    )
    .await
    .expect("send level");
    let a = await_message(&client, &group, &topic, 0, 0, ARRIVAL_TIMEOUT)
        .await
        .expect("first delivery");
    let b = await_message(&client, &group, &topic, 0, a.next_offset, ARRIVAL_TIMEOUT)
        .await
        .expect("second delivery");
    let mut bodies = vec![a.record.body.clone(), b.record.body.clone()];
    bodies.sort();
    assert_eq!(bodies, vec![b"level once".to_vec(), b"timer once".to_vec()]);
    // Still pending when the broker goes down.
    let pending = OutMessage::new(&topic, b"pending").props(&[("DELAY", "2")]);
    let sent_at = now_ms();
    send_ok(&client, &pending).await.expect("send pending");
    drop(client);
    broker.shutdown().await.expect("shutdown");
    drop(broker);

    // As if the broker had died before saving any progress.
    std::fs::remove_file(dir.path().join("config/delayOffset.json")).expect("rewind levels");
    std::fs::remove_file(dir.path().join("config/timerCheckpoint.json")).expect("rewind timer");

    let broker = broker_with_levels("1s 2s", Some(dir.path()))
        .await
        .expect("restart");
    let client = RawClient::connect(&broker.broker_addr())
        .await
        .expect("reconnect");
    let c = await_message(&client, &group, &topic, 0, b.next_offset, ARRIVAL_TIMEOUT)
        .await
        .expect("pending delivered after the restart");
    assert_eq!(
        c.record.body, b"pending",
        "a message delivered before the crash came again"
    );
    assert_eq!(
        prop(&c.record, "UNIQ_KEY").as_deref(),
        Some(pending.uniq_key())
    );
    assert!(c.at_ms - sent_at >= 2000);
    assert_quiet(&client, &group, &topic, 0, c.next_offset, QUIET)
        .await
        .expect("nothing delivered twice");
    broker.shutdown().await.expect("shutdown");
}
