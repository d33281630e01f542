//! Acceptance test 1: a RocketMQ client nobody here wrote (`rocketmq-client-rust` 1.0.0 from crates.io) against an
//! embedded rmq broker: 1,000 messages with tags, keys and user properties, some sync and some oneway, consumed in
//! full by two push-consumer groups in clustering mode.
//!
//! Group A consumes from the first offset. Group B keeps the default CONSUME_FROM_LAST_OFFSET, yet is started
//! after the first messages were stored: it must still get them, because the broker answers QUERY_CONSUMER_OFFSET
//! for a new group with 0 while the queue's min offset is 0 (docs/protocol.md §2.3.3, §6).
//!
//! That client may send a message back for retry although the listener returned success (captures/README.md),
//! so deliveries are de-duplicated by key; every delivery (duplicates included) must carry the exact content.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use rmq_broker::embedded::EmbeddedBroker;
use rmq_tests::fixtures::ThirdPartyRuntime;
use rmq_tests::{eventually, unique, RawClient};
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

const TOTAL: usize = 1000;
/// Sent before the consumers start (all sync; the first one auto-creates the topic from TBW102).
const BEFORE_CONSUMERS: usize = 20;
/// How long consumers may take to receive everything once all messages were sent.
const CONSUME_TIMEOUT: Duration = Duration::from_secs(90);

/// What the producer sent for message `i`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    body: Vec<u8>,
    tags: String,
    keys: String,
    user: Vec<(String, String)>,
}

fn expected(i: usize) -> Expected {
    let mut body = format!("interop message {i} ").into_bytes();
    body.extend((0..(i % 200)).map(|b| (b % 251) as u8)); // varied lengths, non-UTF-8 bytes
    Expected {
        body,
        tags: format!("Tag{}", i % 3),
        keys: format!("key-{i} alt-{i}"),
        user: vec![
            ("idx".to_owned(), i.to_string()),
            (
                "colour".to_owned(),
                ["red", "green", "blue", "ünïcødé"][i % 4].to_owned(),
            ),
        ],
    }
}

fn message(topic: &str, e: &Expected) -> Message {
    let mut b = Message::builder()
        .topic(topic)
        .tags(e.tags.clone())
        .keys(e.keys.split(' ').map(str::to_owned).collect())
        .body(e.body.clone());
    for (k, v) in &e.user {
        b = b
            .raw_property(k.clone(), v.clone())
            .expect("user property accepted");
    }
    b.build_unchecked()
}

/// One delivery as the listener saw it.
#[derive(Debug)]
struct Delivery {
    group: &'static str,
    body: Vec<u8>,
    props: HashMap<String, String>,
}

struct Collector {
    group: &'static str,
    tx: mpsc::UnboundedSender<Delivery>,
}

impl MessageListenerConcurrently for Collector {
    fn consume_message(
        &self,
        msgs: &[&MessageExt],
        _context: &ConsumeConcurrentlyContext,
    ) -> rocketmq_client_rust::ClientResult<ConsumeConcurrentlyStatus> {
        for m in msgs {
            let props = m
                .properties()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let _ = self.tx.send(Delivery {
                group: self.group,
                body: m.body().map(|b| b.to_vec()).unwrap_or_default(),
                props,
            });
        }
        Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
    }
}

/// Checks one delivery against what was sent; returns the message index.
fn check_delivery(d: &Delivery) -> Result<usize, String> {
    let idx: usize = d
        .props
        .get("idx")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            format!(
                "[{}] delivery without a valid idx property: {:?}",
                d.group, d.props
            )
        })?;
    if idx >= TOTAL {
        return Err(format!("[{}] idx {idx} out of range", d.group));
    }
    let e = expected(idx);
    let mut problems = Vec::new();
    if d.body != e.body {
        problems.push(format!(
            "body {:?} != {:?}",
            String::from_utf8_lossy(&d.body),
            String::from_utf8_lossy(&e.body)
        ));
    }
    if d.props.get("TAGS") != Some(&e.tags) {
        problems.push(format!("TAGS {:?} != {:?}", d.props.get("TAGS"), e.tags));
    }
    if d.props.get("KEYS") != Some(&e.keys) {
        problems.push(format!("KEYS {:?} != {:?}", d.props.get("KEYS"), e.keys));
    }
    for (k, v) in &e.user {
        if d.props.get(k) != Some(v) {
            problems.push(format!("{k} {:?} != {v:?}", d.props.get(k)));
        }
    }
    if problems.is_empty() {
        Ok(idx)
    } else {
        Err(format!(
            "[{}] message {idx}: {}",
            d.group,
            problems.join("; ")
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocketmq_client_rust_round_trip_with_two_groups() {
    let broker = EmbeddedBroker::start()
        .await
        .expect("start embedded broker");
    let namesrv = broker.namesrv_addr();
    let topic = unique("InteropTopic");

    // The client owns its own runtime (it never uses the caller's); its futures are awaited from ours.
    let tp = ThirdPartyRuntime::start("interop-client");
    let client_runtime = tp.runtime.clone();

    let mut producer = DefaultMQProducer::builder(client_runtime.clone())
        .producer_group(unique("interop_producer"))
        .name_server_addr(namesrv.clone())
        .send_msg_timeout(10_000)
        .build();
    producer.start().await.expect("producer start");

    let send = |i: usize| {
        let msg = message(&topic, &expected(i));
        let producer = &producer;
        async move {
            if i >= BEFORE_CONSUMERS && i % 4 == 3 {
                producer
                    .send_oneway(msg)
                    .await
                    .map_err(|e| format!("oneway send {i}: {e}"))
            } else {
                match producer.send(msg).await {
                    Ok(Some(r)) if r.send_status == SendStatus::SendOk => Ok(()),
                    Ok(other) => Err(format!("sync send {i}: unexpected result {other:?}")),
                    Err(e) => Err(format!("sync send {i}: {e}")),
                }
            }
        }
    };

    for i in 0..BEFORE_CONSUMERS {
        send(i).await.expect("send before consumers");
    }

    // The consumers look the topic up once at start; the auto-created topic must be routable by now.
    let ns = RawClient::connect(&namesrv)
        .await
        .expect("connect name server");
    eventually(
        Duration::from_secs(10),
        "auto-created topic has a route",
        || async { Ok(ns.route_json(&topic).await?.map(|_| ())) },
    )
    .await
    .expect("route of the auto-created topic");

    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut consumers = Vec::new();
    for (group, from) in [
        ("A", ConsumeFromWhere::ConsumeFromFirstOffset),
        ("B", ConsumeFromWhere::ConsumeFromLastOffset),
    ] {
        let mut c = DefaultMQPushConsumer::builder(client_runtime.clone())
            .consumer_group(unique(&format!("interop_group_{group}")))
            .name_server_addr(namesrv.clone())
            .message_model(MessageModel::Clustering)
            .consume_from_where(from)
            .build();
        c.subscribe(&topic, "*").await.expect("subscribe");
        c.register_message_listener_concurrently(Collector {
            group,
            tx: tx.clone(),
        });
        c.start().await.expect("consumer start");
        consumers.push(c);
    }
    drop(tx);

    for i in BEFORE_CONSUMERS..TOTAL {
        send(i).await.expect("send while consuming");
    }

    let mut seen: HashMap<&'static str, HashSet<usize>> =
        HashMap::from([("A", HashSet::new()), ("B", HashSet::new())]);
    let mut deliveries = 0usize;
    let mut errors = Vec::new();
    let outcome = tokio::time::timeout(CONSUME_TIMEOUT, async {
        while seen.values().any(|s| s.len() < TOTAL) {
            let Some(d) = rx.recv().await else { break };
            deliveries += 1;
            match check_delivery(&d) {
                Ok(idx) => {
                    seen.get_mut(d.group).expect("known group").insert(idx);
                }
                Err(e) => errors.push(e),
            }
        }
    })
    .await;

    for c in &mut consumers {
        let _ = tokio::time::timeout(Duration::from_secs(20), c.shutdown()).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(20), producer.shutdown()).await;
    drop(client_runtime);
    tp.shutdown().await;

    eprintln!(
        "interop: {deliveries} deliveries; distinct per group: A {}, B {}",
        seen["A"].len(),
        seen["B"].len()
    );
    assert!(
        errors.is_empty(),
        "{} bad deliveries, first: {:#?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    for (group, s) in &seen {
        let missing: Vec<usize> = (0..TOTAL).filter(|i| !s.contains(i)).collect();
        assert!(
            missing.is_empty(),
            "group {group} received {} of {TOTAL} distinct messages ({deliveries} deliveries in all, timeout: {}); \
             first missing: {:?}",
            s.len(),
            outcome.is_err(),
            &missing[..missing.len().min(20)]
        );
    }
    broker.shutdown().await.expect("broker shutdown");
}
