//! Both protocols on one broker: what a RocketMQ 5 client sends over gRPC is consumed by remoting push
//! consumers (rmq-runtime's and Apache's C++ client), and what a remoting producer sends is received by a
//! RocketMQ 5 SimpleConsumer, with tag, keys, properties and body intact both ways.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use rmq_runtime::consumer::{
    ConsumeContext, ConsumeFromWhere, ConsumeOutcome, MessageSelector, PushConsumer,
    PushConsumerOptions,
};
use rmq_runtime::{Message as RtMessage, MessageExt};
use rmq_tests::cpp_client::{self, push_args, Driver};
use rmq_tests::fixtures::producer as remoting_producer;
use rmq_tests::unique;
use rocketmq::model::common::{FilterExpression, FilterType};
use rocketmq::model::message::MessageBuilder;
use tokio::sync::mpsc;

use crate::{grpc_broker, producer, routed_topic, simple_consumer, QUEUES};

const N: usize = 30;

async fn send_over_grpc(broker: &rmq_broker::embedded::EmbeddedBroker, topic: &str) {
    let p = producer(broker, vec![topic.to_owned()]).await;
    for i in 0..N {
        let msg = MessageBuilder::builder()
            .set_topic(topic.to_owned())
            .set_tag(if i % 2 == 0 { "Even" } else { "Odd" })
            .set_keys(vec![format!("g{i}")])
            .set_properties(HashMap::from([("idx", i.to_string())]))
            .set_body(format!("from gRPC {i}").into_bytes())
            .build()
            .expect("message");
        p.send(msg).await.expect("gRPC send");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_sends_reach_rmq_runtimes_remoting_push_consumer() {
    let broker = grpc_broker().await;
    let topic = routed_topic(&broker, "MixedToPush", QUEUES).await;
    let (tx, mut rx) = mpsc::unbounded_channel::<MessageExt>();
    let mut opts = PushConsumerOptions::new(unique("mixed_push"), broker.namesrv_addr())
        .subscribe(&topic, MessageSelector::Tag("*".into()));
    opts.consume_from_where = ConsumeFromWhere::FirstOffset;
    let consumer = PushConsumer::start(opts, move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
        let tx = tx.clone();
        async move {
            for m in msgs {
                let _ = tx.send(m);
            }
            ConsumeOutcome::Success
        }
    })
    .await
    .expect("push consumer");
    send_over_grpc(&broker, &topic).await;
    let mut got: BTreeMap<String, MessageExt> = BTreeMap::new();
    while got.len() < N {
        let m = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("every gRPC message reaches the push consumer")
            .expect("open");
        got.insert(m.property("KEYS").unwrap_or_default().to_owned(), m);
    }
    for i in 0..N {
        let m = &got[&format!("g{i}")];
        assert_eq!(m.body.as_ref(), format!("from gRPC {i}").as_bytes());
        assert_eq!(
            m.property("TAGS"),
            Some(if i % 2 == 0 { "Even" } else { "Odd" })
        );
        assert_eq!(m.property("idx"), Some(i.to_string().as_str()));
        assert!(m.property("UNIQ_KEY").is_some_and(|k| !k.is_empty()));
    }
    consumer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_sends_reach_apaches_cpp_push_consumer() {
    let Some(_) = cpp_client::require("grpc_sends_reach_apaches_cpp_push_consumer") else {
        return;
    };
    let broker = grpc_broker().await;
    let topic = routed_topic(&broker, "MixedToCpp", QUEUES).await;
    let mut cpp = Driver::start(
        "cpp-push",
        "push",
        &push_args(
            &broker.namesrv_addr(),
            &unique("mixed_cpp"),
            &topic,
            &["idx"],
        ),
    )
    .await
    .expect("C++ push consumer");
    send_over_grpc(&broker, &topic).await;
    let mut got = BTreeMap::new();
    while got.len() < N {
        let e = cpp
            .wait_for("msg", Duration::from_secs(60))
            .await
            .expect("a message");
        let m = e.msg().expect("msg event");
        got.insert(m.keys.clone().unwrap_or_default(), m);
    }
    for i in 0..N {
        let m = &got[&format!("g{i}")];
        assert_eq!(m.body.as_deref(), Some(format!("from gRPC {i}").as_str()));
        assert_eq!(
            m.tags.as_deref(),
            Some(if i % 2 == 0 { "Even" } else { "Odd" })
        );
        assert_eq!(m.prop("idx"), Some(i.to_string().as_str()));
        assert_eq!(m.topic, topic);
    }
    cpp.stop(Duration::from_secs(20))
        .await
        .expect("C++ consumer stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remoting_sends_reach_a_rocketmq_5_simple_consumer() {
    let broker = grpc_broker().await;
    let topic = routed_topic(&broker, "MixedFromRemoting", QUEUES).await;
    let group = unique("mixed_simple");
    let c = simple_consumer(
        &broker.grpc_addr().expect("gRPC").to_string(),
        &group,
        &topic,
    )
    .await;

    let p = remoting_producer(&broker.namesrv_addr()).await;
    for i in 0..N {
        let msg = RtMessage::new(&topic, format!("from remoting {i}").into_bytes())
            .with_tags("Remote")
            .with_keys([format!("r{i}")])
            .with_property("idx", i.to_string());
        p.send(msg).await.expect("remoting send");
    }
    let star = FilterExpression::new(FilterType::Tag, "*");
    let mut got = BTreeMap::new();
    for _ in 0..30 {
        if got.len() == N {
            break;
        }
        for m in c
            .receive_with(&topic, &star, 16, Duration::from_secs(30))
            .await
            .expect("receive")
        {
            c.ack(&m).await.expect("ack");
            got.insert(
                m.keys()[0].clone(),
                (
                    m.tag().map(str::to_owned),
                    m.properties().clone(),
                    m.body().to_vec(),
                    m.delivery_attempt(),
                ),
            );
        }
    }
    assert_eq!(got.len(), N, "every remoting message over gRPC once");
    for i in 0..N {
        let (tag, props, body, attempt) = &got[&format!("r{i}")];
        assert_eq!(tag.as_deref(), Some("Remote"));
        assert_eq!(
            props.get("idx").map(String::as_str),
            Some(i.to_string().as_str())
        );
        assert!(
            !props.contains_key("TAGS") && !props.contains_key("UNIQ_KEY"),
            "system properties are not user properties: {props:?}"
        );
        assert_eq!(body, format!("from remoting {i}").as_bytes());
        assert_eq!(*attempt, 1);
    }
}
