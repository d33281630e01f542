//! The producer side: normal, FIFO and delayed sends land in the store as a remoting producer's would.

use std::collections::HashMap;
use std::time::Duration;

use rmq_tests::fixtures::create_routed_topic_with;
use rmq_tests::record::Record;
use rmq_tests::{eventually, unique};
use rocketmq::model::message::MessageBuilder;

use crate::{grpc_broker, producer, routed_topic, stored, QUEUES};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rocketmq_5_producer_sends_normal_and_fifo_messages_over_grpc() {
    let broker = grpc_broker().await;
    let topic = routed_topic(&broker, "GrpcTopic", QUEUES).await;
    let p = producer(&broker, vec![topic.clone()]).await;

    let mut sent: HashMap<String, usize> = HashMap::new();
    for i in 0..20 {
        let msg = MessageBuilder::builder()
            .set_topic(topic.clone())
            .set_tag("TagA")
            .set_keys(vec![format!("key-{i}")])
            .set_properties(HashMap::from([("idx", i.to_string())]))
            .set_body(format!("normal {i}").into_bytes())
            .build()
            .expect("message");
        let receipt = p.send(msg).await.expect("send over gRPC");
        sent.insert(receipt.message_id().to_owned(), i);
    }
    for seq in 0..10 {
        let msg = MessageBuilder::fifo_message_builder(
            topic.clone(),
            format!("fifo {seq}").into_bytes(),
            "order-42",
        )
        .build()
        .expect("fifo message");
        p.send(msg).await.expect("fifo send");
    }

    let records = stored(&broker, &topic).await;
    let all: Vec<&Record> = records.values().flatten().collect();
    assert_eq!(all.len(), 30, "every message stored once");
    for r in all.iter().filter(|r| r.body.starts_with(b"normal")) {
        let props = r.properties();
        let uniq = props
            .get("UNIQ_KEY")
            .expect("the client's message id is the UNIQ_KEY");
        let i = sent[uniq.as_str()];
        assert_eq!(r.body, format!("normal {i}").into_bytes());
        assert_eq!(r.tags().as_deref(), Some("TagA"));
        assert_eq!(r.keys(), Some(format!("key-{i}")));
        assert_eq!(props.get("idx"), Some(&i.to_string()));
    }
    // A message group stays on one queue, in send order.
    let fifo_queues: Vec<(i32, Vec<String>)> = records
        .iter()
        .map(|(q, rs)| {
            (
                *q,
                rs.iter()
                    .filter(|r| r.body.starts_with(b"fifo"))
                    .map(|r| String::from_utf8_lossy(&r.body).into_owned())
                    .collect::<Vec<String>>(),
            )
        })
        .filter(|(_, bodies)| !bodies.is_empty())
        .collect();
    assert_eq!(
        fifo_queues.len(),
        1,
        "one queue for the group: {fifo_queues:?}"
    );
    assert_eq!(
        fifo_queues[0].1,
        (0..10).map(|s| format!("fifo {s}")).collect::<Vec<_>>()
    );
    let group = records[&fifo_queues[0].0]
        .iter()
        .find(|r| r.body.starts_with(b"fifo"))
        .map(|r| r.properties().get("__SHARDINGKEY").cloned());
    assert_eq!(group, Some(Some("order-42".to_owned())));
    p.shutdown().await.expect("shutdown");
    let _ = broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_message_is_stored_for_its_delivery_time_and_an_unknown_topic_is_refused() {
    let broker = grpc_broker().await;
    let topic = routed_topic(&broker, "GrpcDelayTopic", QUEUES).await;
    let p = producer(&broker, vec![topic.clone()]).await;
    // The client takes the delivery time in epoch seconds (it becomes a protobuf Timestamp's `seconds`).
    let at_secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
        + 2;
    let at = at_secs * 1000;
    let msg = MessageBuilder::delay_message_builder(topic.clone(), b"later".to_vec(), at_secs)
        .build()
        .expect("delay message");
    p.send(msg).await.expect("delay send");
    // Not in the topic before its time: the broker holds it on its timer.
    assert!(
        stored(&broker, &topic).await.values().all(Vec::is_empty),
        "a delayed message is not readable before its delivery time"
    );
    let delivered = eventually(Duration::from_secs(20), "delivered at its time", || {
        let broker = &broker;
        let topic = topic.clone();
        async move {
            let recs: Vec<Record> = stored(broker, &topic)
                .await
                .into_values()
                .flatten()
                .collect();
            Ok((!recs.is_empty()).then_some(recs))
        }
    })
    .await
    .expect("delivered");
    assert_eq!(delivered[0].body, b"later");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    assert!(now >= at, "not before its delivery time");

    let unknown = MessageBuilder::builder()
        .set_topic(unique("NoSuchGrpcTopic"))
        .set_body(b"x".to_vec())
        .build()
        .expect("message");
    let refused = p.send(unknown).await;
    assert!(refused.is_err(), "an unknown topic is refused: {refused:?}");
    p.shutdown().await.expect("shutdown");
    let _ = broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_send_stores_every_message_on_one_queue_with_its_own_receipt() {
    let broker = grpc_broker().await;
    let topic = routed_topic(&broker, "GrpcBatch", QUEUES).await;
    let p = producer(&broker, vec![topic.clone()]).await;
    let batch: Vec<_> = (0..16)
        .map(|i| {
            MessageBuilder::builder()
                .set_topic(topic.clone())
                .set_tag("Batch")
                .set_keys(vec![format!("b{i}")])
                .set_body(format!("batch {i}").into_bytes())
                .build()
                .expect("message")
        })
        .collect();
    let receipts = p.batch_send(batch).await.expect("batch send over gRPC");
    assert_eq!(receipts.len(), 16, "one receipt per message");
    let ids: std::collections::HashSet<_> =
        receipts.iter().map(|r| r.message_id().to_owned()).collect();
    assert_eq!(ids.len(), 16, "distinct message ids");
    let stored = stored(&broker, &topic).await;
    let used: Vec<_> = stored.iter().filter(|(_, recs)| !recs.is_empty()).collect();
    assert_eq!(used.len(), 1, "the batch went to one queue");
    let recs: &Vec<Record> = used[0].1;
    let bodies: Vec<String> = recs
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(
        bodies,
        (0..16).map(|i| format!("batch {i}")).collect::<Vec<_>>(),
        "in order"
    );
    assert!(recs.iter().all(|r| r.tags().as_deref() == Some("Batch")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_topic_refuses_a_normal_message_and_takes_a_fifo_one() {
    let broker = grpc_broker().await;
    let topic = unique("GrpcFifoOnly");
    create_routed_topic_with(
        &broker.broker_addr(),
        &broker.namesrv_addr(),
        &topic,
        QUEUES,
        "+message.type=FIFO",
    )
    .await
    .expect("FIFO topic");
    let p = producer(&broker, vec![topic.clone()]).await;

    let normal = MessageBuilder::builder()
        .set_topic(topic.clone())
        .set_body(b"plain".to_vec())
        .build()
        .expect("message");
    let refused = p
        .send(normal)
        .await
        .expect_err("a NORMAL message into a FIFO topic is refused");
    let why = refused.to_string();
    assert!(
        why.contains("MESSAGE_PROPERTY_CONFLICT_WITH_TYPE")
            && why.contains("expected type is FIFO, but actual type is NORMAL"),
        "{why}"
    );
    let fifo = MessageBuilder::fifo_message_builder(topic.clone(), b"in order".to_vec(), "g-1")
        .build()
        .expect("fifo message");
    p.send(fifo).await.expect("a FIFO message is accepted");
    let bodies: Vec<Vec<u8>> = stored(&broker, &topic)
        .await
        .into_values()
        .flatten()
        .map(|r| r.body)
        .collect();
    assert_eq!(
        bodies,
        vec![b"in order".to_vec()],
        "only the FIFO message stored"
    );

    // The attribute takes Java's type names only.
    let raw = rmq_tests::RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let bad = raw
        .create_topic_with(&unique("GrpcBadType"), QUEUES, 6, "+message.type=ORDERED")
        .await
        .expect("answered");
    assert_ne!(
        bad.code, 0,
        "an unknown message.type is refused: {:?}",
        bad.remark
    );
    p.shutdown().await.expect("shutdown");
    let _ = broker.shutdown().await;
}
