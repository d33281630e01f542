//! The RocketMQ 5 gRPC endpoint against Apache's own Rust 5.x client (`rocketmq` 5.0.0 from crates.io): its
//! producer finds the route over QueryRoute, exchanges settings over Telemetry and sends normal, FIFO and
//! delayed messages, which land in the store as a remoting producer's would.

mod consumer;
mod crash;
mod endpoint;
mod mixed;
mod producer;
mod stubs;
mod transaction;

use std::collections::BTreeMap;

use rmq_broker::embedded::EmbeddedBroker;
use rmq_tests::record::Record;
use rmq_tests::{unique, RawClient};
use rocketmq::conf::{ClientOption, ProducerOption};
use rocketmq::Producer;

/// Queues of every test topic.
pub const QUEUES: i32 = 4;

/// An embedded broker with its gRPC endpoint on an ephemeral port.
pub async fn grpc_broker() -> EmbeddedBroker {
    EmbeddedBroker::builder()
        .grpc_listen("127.0.0.1:0".parse().expect("addr"))
        .start()
        .await
        .expect("broker with gRPC")
}

/// A started `rocketmq` 5.x producer for `topics` on `broker`'s gRPC endpoint.
pub async fn producer(broker: &EmbeddedBroker, topics: Vec<String>) -> Producer {
    let mut po = ProducerOption::default();
    po.set_topics(topics);
    let mut co = ClientOption::default();
    co.set_access_url(broker.grpc_addr().expect("gRPC on").to_string());
    co.set_enable_tls(false);
    let mut p = Producer::new(po, co).expect("producer");
    p.start()
        .await
        .expect("the producer starts against rmq's gRPC endpoint");
    p
}

/// Every record of `topic`, per queue.
pub async fn stored(broker: &EmbeddedBroker, topic: &str) -> BTreeMap<i32, Vec<Record>> {
    let raw = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let mut out = BTreeMap::new();
    for q in 0..QUEUES {
        out.insert(
            q,
            raw.pull_all(&unique("grpc_reader"), topic, q, 0)
                .await
                .expect("pull"),
        );
    }
    out
}

/// Client options for the gRPC endpoint at `grpc` (plaintext, receive long polls of 2 s).
pub fn client_option(grpc: &str) -> ClientOption {
    let mut co = ClientOption::default();
    co.set_access_url(grpc.to_owned());
    co.set_enable_tls(false);
    co.set_long_polling_timeout(std::time::Duration::from_secs(2));
    co
}

/// A started `rocketmq` 5.x SimpleConsumer of `group` for `topic` on the gRPC endpoint at `grpc`.
pub async fn simple_consumer(grpc: &str, group: &str, topic: &str) -> rocketmq::SimpleConsumer {
    let mut o = rocketmq::conf::SimpleConsumerOption::default();
    o.set_consumer_group(group);
    o.set_topics(vec![topic]);
    let mut c = rocketmq::SimpleConsumer::new(o, client_option(grpc)).expect("consumer");
    c.start()
        .await
        .expect("the simple consumer starts against rmq's gRPC endpoint");
    c
}

/// A fresh topic named after `prefix` with `queues` queues on `broker`, once its name server routes it.
pub async fn routed_topic(broker: &EmbeddedBroker, prefix: &str, queues: i32) -> String {
    let topic = unique(prefix);
    rmq_tests::fixtures::create_routed_topic(
        &broker.broker_addr(),
        &broker.namesrv_addr(),
        &topic,
        queues,
    )
    .await
    .expect("topic");
    topic
}
