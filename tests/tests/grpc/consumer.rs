//! The consumer side: Apache's `rocketmq` 5.x SimpleConsumer receives over ReceiveMessage (POP), acks, sees an
//! unacked message again with attempt 2 once its invisible time is up, and a message that used up its
//! attempts goes to the group's dead-letter queue; two consumers of a group share the load.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use rmq_broker::embedded::EmbeddedBroker;
use rmq_protocol::codes::request;
use rmq_protocol::RemotingCommand;
use rmq_tests::{unique, RawClient};
use rocketmq::model::common::{FilterExpression, FilterType};
use rocketmq::model::message::MessageBuilder;
use rocketmq::SimpleConsumer;

use crate::{producer, routed_topic, QUEUES};

/// A gRPC broker that accepts invisible times from 1 s (Apache's proxy: 10 s).
async fn pop_broker() -> EmbeddedBroker {
    EmbeddedBroker::builder()
        .grpc_listen("127.0.0.1:0".parse().expect("addr"))
        .property("minInvisibleTimeMillsForRecv", "1000")
        .start()
        .await
        .expect("broker with gRPC")
}

async fn simple_consumer(broker: &EmbeddedBroker, group: &str, topic: &str) -> SimpleConsumer {
    crate::simple_consumer(
        &broker.grpc_addr().expect("gRPC on").to_string(),
        group,
        topic,
    )
    .await
}

async fn send_keyed(broker: &EmbeddedBroker, topic: &str, n: usize) {
    let p = producer(broker, vec![topic.to_owned()]).await;
    for i in 0..n {
        let msg = MessageBuilder::builder()
            .set_topic(topic.to_owned())
            .set_tag("TagA")
            .set_keys(vec![format!("key-{i}")])
            .set_body(format!("body {i}").into_bytes())
            .build()
            .expect("message");
        p.send(msg).await.expect("send");
    }
}

async fn topic(broker: &EmbeddedBroker) -> String {
    routed_topic(broker, "PopTopic", QUEUES).await
}

/// Sets the group's retryMaxTimes (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP).
async fn group_with_retries(broker: &EmbeddedBroker, group: &str, retry_max_times: i32) {
    group_config(broker, group, retry_max_times, false).await;
}

/// Creates or updates the group (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP).
async fn group_config(broker: &EmbeddedBroker, group: &str, retry_max_times: i32, orderly: bool) {
    let raw = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let body = serde_json::json!({
        "groupName": group, "consumeEnable": true, "consumeFromMinEnable": true,
        "consumeBroadcastEnable": true, "retryQueueNums": 1, "retryMaxTimes": retry_max_times,
        "brokerId": 0, "whichBrokerWhenConsumeSlowly": 1, "notifyConsumerIdsChangedEnable": true,
        "consumeMessageOrderly": orderly,
    });
    let cmd = RemotingCommand::request(
        request::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP,
        Default::default(),
    )
    .with_body(serde_json::to_vec(&body).expect("json"));
    let resp = raw.request(cmd).await.expect("update group");
    assert_eq!(resp.code, 0, "{:?}", resp.remark);
}

fn star() -> FilterExpression {
    FilterExpression::new(FilterType::Tag, "*")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simple_consumer_receives_acks_and_gets_an_unacked_message_again_with_attempt_2() {
    let broker = pop_broker().await;
    let topic = topic(&broker).await;
    let group = unique("pop_group");
    let c = simple_consumer(&broker, &group, &topic).await;
    send_keyed(&broker, &topic, 10).await;

    let mut first: BTreeMap<String, (i32, String)> = BTreeMap::new();
    let mut held = None;
    for _ in 0..20 {
        if first.len() == 10 {
            break;
        }
        for m in c
            .receive_with(&topic, &star(), 4, Duration::from_secs(3))
            .await
            .expect("receive")
        {
            let key = m.keys()[0].clone();
            assert!(
                first
                    .insert(
                        key.clone(),
                        (
                            m.delivery_attempt(),
                            String::from_utf8_lossy(m.body()).into()
                        )
                    )
                    .is_none(),
                "{key} delivered twice while out"
            );
            assert_eq!(m.tag(), Some("TagA"));
            if key == "key-3" {
                held = Some(m);
            } else {
                c.ack(&m).await.expect("ack");
            }
        }
    }
    assert_eq!(first.len(), 10, "every message once: {first:?}");
    for (k, (attempt, body)) in &first {
        assert_eq!(*attempt, 1, "{k}");
        assert_eq!(body, &format!("body {}", &k[4..]));
    }
    let held = held.expect("key-3 was received");

    // key-3 was not acked: it comes back after its 3 s, as attempt 2, and nothing else does.
    let mut again = Vec::new();
    for _ in 0..10 {
        again.extend(
            c.receive_with(&topic, &star(), 16, Duration::from_secs(3))
                .await
                .expect("receive again"),
        );
        if !again.is_empty() {
            break;
        }
    }
    assert_eq!(again.len(), 1, "only the unacked message comes back");
    assert_eq!(again[0].keys(), held.keys());
    assert_eq!(again[0].delivery_attempt(), 2);
    assert_eq!(again[0].message_id(), held.message_id());
    c.ack(&again[0]).await.expect("ack the redelivery");
    // The old handle is spent.
    assert!(c.ack(&held).await.is_err(), "an expired handle is refused");

    // Acked messages never come back: wait past the invisible time once more.
    let late = c
        .receive_with(&topic, &star(), 16, Duration::from_secs(3))
        .await
        .expect("receive");
    let late2 = c
        .receive_with(&topic, &star(), 16, Duration::from_secs(3))
        .await
        .expect("receive");
    assert!(
        late.is_empty() && late2.is_empty(),
        "acked messages came back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_never_acked_goes_to_the_dead_letter_queue_after_max_attempts() {
    let broker = pop_broker().await;
    let topic = topic(&broker).await;
    let group = unique("pop_dlq");
    group_with_retries(&broker, &group, 1).await;
    let c = simple_consumer(&broker, &group, &topic).await;
    send_keyed(&broker, &topic, 1).await;

    let mut attempts = Vec::new();
    for _ in 0..15 {
        for m in c
            .receive_with(&topic, &star(), 1, Duration::from_secs(1))
            .await
            .expect("receive")
        {
            attempts.push(m.delivery_attempt());
        }
        if attempts.len() >= 2 {
            break;
        }
    }
    assert_eq!(attempts, vec![1, 2], "retryMaxTimes 1 = two attempts");
    let dlq = format!("%DLQ%{group}");
    let raw = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    // The third pop finds it out of attempts and moves it instead of delivering it.
    let mut dead = Vec::new();
    for _ in 0..10 {
        let more = c
            .receive_with(&topic, &star(), 1, Duration::from_secs(1))
            .await
            .expect("receive");
        assert!(more.is_empty(), "delivered a third time");
        dead = raw
            .pull_all(&unique("dlq_reader"), &dlq, 0, 0)
            .await
            .expect("pull DLQ");
        if !dead.is_empty() {
            break;
        }
    }
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, b"body 0".to_vec());
    assert_eq!(dead[0].keys().as_deref(), Some("key-0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_simple_consumers_of_a_group_share_the_messages_and_none_is_delivered_twice() {
    let broker = pop_broker().await;
    let topic = topic(&broker).await;
    let group = unique("pop_shared");
    let a = Arc::new(simple_consumer(&broker, &group, &topic).await);
    let b = Arc::new(simple_consumer(&broker, &group, &topic).await);
    send_keyed(&broker, &topic, 60).await;

    let run = |c: Arc<SimpleConsumer>, topic: String| {
        tokio::spawn(async move {
            let mut got = Vec::new();
            let mut empty = 0;
            while empty < 2 {
                let ms = c
                    .receive_with(&topic, &star(), 8, Duration::from_secs(30))
                    .await
                    .expect("receive");
                if ms.is_empty() {
                    empty += 1;
                }
                for m in ms {
                    got.push(m.keys()[0].clone());
                    c.ack(&m).await.expect("ack");
                }
            }
            got
        })
    };
    let (ga, gb) = (run(a.clone(), topic.clone()), run(b.clone(), topic.clone()));
    let (ga, gb) = (ga.await.expect("a"), gb.await.expect("b"));
    let mut all: HashMap<String, usize> = HashMap::new();
    for k in ga.iter().chain(gb.iter()) {
        *all.entry(k.clone()).or_default() += 1;
    }
    let twice: HashSet<_> = all.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered twice: {twice:?}");
    assert_eq!(all.len(), 60, "every message once");
    assert!(
        !ga.is_empty() && !gb.is_empty(),
        "both consumers got some: {} / {}",
        ga.len(),
        gb.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_group_receives_a_message_group_in_order_one_batch_at_a_time() {
    let broker = pop_broker().await;
    let topic = topic(&broker).await;
    let group = unique("pop_fifo");
    group_config(&broker, &group, 16, true).await;
    let c = simple_consumer(&broker, &group, &topic).await;
    let p = producer(&broker, vec![topic.clone()]).await;
    for i in 0..9 {
        let msg = MessageBuilder::fifo_message_builder(
            topic.clone(),
            format!("f{i}").into_bytes(),
            "order-1".to_owned(),
        )
        .set_keys(vec![format!("f{i}")])
        .build()
        .expect("message");
        p.send(msg).await.expect("send");
    }
    let keys = |ms: &[rocketmq::model::message::MessageView]| -> Vec<String> {
        ms.iter().map(|m| m.keys()[0].clone()).collect()
    };
    // Out for 5 s: longer than the next receive's 2 s long poll, so that one must find the queue blocked.
    let first = c
        .receive_with(&topic, &star(), 3, Duration::from_secs(5))
        .await
        .expect("receive");
    assert_eq!(keys(&first), vec!["f0", "f1", "f2"]);
    // The queue is blocked while the batch is out.
    let blocked = c
        .receive_with(&topic, &star(), 3, Duration::from_secs(2))
        .await
        .expect("receive");
    assert!(
        blocked.is_empty(),
        "a second batch while the first is out: {:?}",
        keys(&blocked)
    );
    // Not acked: the same batch comes back, in order, as attempt 2.
    let mut again = Vec::new();
    for _ in 0..8 {
        again = c
            .receive_with(&topic, &star(), 3, Duration::from_secs(5))
            .await
            .expect("receive");
        if !again.is_empty() {
            break;
        }
    }
    assert_eq!(keys(&again), vec!["f0", "f1", "f2"]);
    assert!(again.iter().all(|m| m.delivery_attempt() == 2), "attempt 2");
    for m in &again {
        c.ack(m).await.expect("ack");
    }
    let mut rest = Vec::new();
    while rest.len() < 6 {
        let ms = c
            .receive_with(&topic, &star(), 3, Duration::from_secs(10))
            .await
            .expect("receive");
        assert!(!ms.is_empty(), "the rest arrives once acked");
        for m in &ms {
            c.ack(m).await.expect("ack");
        }
        rest.extend(keys(&ms));
    }
    assert_eq!(rest, vec!["f3", "f4", "f5", "f6", "f7", "f8"], "in order");
}
