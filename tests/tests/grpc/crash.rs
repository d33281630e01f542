//! POP survives a broker kill -9: after the restart every message that was out and not acked is delivered
//! again (attempt 2), and no acked message ever is — the journal in the revive topic is read again and the pop
//! offsets are moved past what had been popped, whatever the offsets file missed (here: everything, as the
//! test keeps the broker from writing it before the kill).

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use rmq_tests::fixtures::create_routed_topic;
use rmq_tests::process::BrokerProcess;
use rmq_tests::unique;
use rocketmq::conf::ProducerOption;
use rocketmq::model::common::{FilterExpression, FilterType};
use rocketmq::model::message::MessageBuilder;
use rocketmq::Producer;

use crate::{client_option, simple_consumer};

const INVISIBLE: Duration = Duration::from_secs(6);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pop_survives_kill_9_unacked_messages_come_back_and_acked_ones_never_do() {
    let tmp = tempfile::tempdir().expect("tmp");
    let store = tmp.path().join("store");
    let conf = tmp.path().join("broker.conf");
    std::fs::write(
        &conf,
        "flushDiskType=SYNC_FLUSH\ngrpcListen=127.0.0.1:0\nminInvisibleTimeMillsForRecv=1000\nflushConsumerOffsetInterval=600000\n",
    )
    .expect("conf");
    let conf = conf.to_string_lossy().into_owned();
    let mut p = BrokerProcess::start(&store, &tmp.path().join("1.log"), &["-c", &conf])
        .await
        .expect("broker");
    let grpc = p.grpc_addr.clone().expect("READY names the gRPC endpoint");
    let topic = unique("PopCrash");
    let group = unique("pop_crash");
    create_routed_topic(&p.broker_addr, &p.namesrv_addr, &topic, 4)
        .await
        .expect("topic");

    let mut po = ProducerOption::default();
    po.set_topics(vec![topic.clone()]);
    let mut producer = Producer::new(po, client_option(&grpc)).expect("producer");
    producer.start().await.expect("producer starts");
    for i in 0..20 {
        let msg = MessageBuilder::builder()
            .set_topic(topic.clone())
            .set_keys(vec![format!("k{i:02}")])
            .set_body(format!("m{i}").into_bytes())
            .build()
            .expect("message");
        producer.send(msg).await.expect("send");
    }

    let c = simple_consumer(&grpc, &group, &topic).await;
    let star = FilterExpression::new(FilterType::Tag, "*");
    let (mut acked, mut unacked) = (BTreeSet::new(), BTreeSet::new());
    for _ in 0..20 {
        if acked.len() + unacked.len() == 20 {
            break;
        }
        for m in c
            .receive_with(&topic, &star, 8, INVISIBLE)
            .await
            .expect("receive")
        {
            let key = m.keys()[0].clone();
            let n: u32 = key[1..].parse().expect("number");
            if n.is_multiple_of(2) {
                c.ack(&m).await.expect("ack");
                acked.insert(key);
            } else {
                unacked.insert(key);
            }
        }
    }
    assert_eq!((acked.len(), unacked.len()), (10, 10), "all 20 popped once");
    p.kill().await.expect("kill -9");
    drop(c);

    let p2 = BrokerProcess::start(&store, &tmp.path().join("2.log"), &["-c", &conf])
        .await
        .expect("restart on the same store");
    let grpc2 = p2.grpc_addr.clone().expect("gRPC after restart");
    let c2 = simple_consumer(&grpc2, &group, &topic).await;
    let mut again: HashMap<String, i32> = HashMap::new();
    // The unacked ones are due INVISIBLE after their pop; give them that and a margin, polling all along.
    let deadline = tokio::time::Instant::now() + INVISIBLE + Duration::from_secs(20);
    while again.len() < unacked.len() && tokio::time::Instant::now() < deadline {
        for m in c2
            .receive_with(&topic, &star, 16, Duration::from_secs(30))
            .await
            .expect("receive")
        {
            let key = m.keys()[0].clone();
            assert!(
                !acked.contains(&key),
                "{key} was acked before the crash and came back"
            );
            assert!(
                again.insert(key.clone(), m.delivery_attempt()).is_none(),
                "{key} twice"
            );
            c2.ack(&m).await.expect("ack after restart");
        }
    }
    let keys: BTreeSet<String> = again.keys().cloned().collect();
    assert_eq!(keys, unacked, "every unacked message came back");
    assert!(
        again.values().all(|a| *a == 2),
        "redeliveries are attempt 2: {again:?}"
    );
    for _ in 0..2 {
        let late = c2
            .receive_with(&topic, &star, 16, Duration::from_secs(30))
            .await
            .expect("receive");
        assert!(
            late.is_empty(),
            "nothing else comes: {:?}",
            late.iter().map(|m| m.keys().to_vec()).collect::<Vec<_>>()
        );
    }
}
