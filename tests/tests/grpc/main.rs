//! The RocketMQ 5 gRPC endpoint against Apache's own Rust 5.x client (`rocketmq` 5.0.0 from crates.io): its
//! producer finds the route over QueryRoute, exchanges settings over Telemetry and sends normal, FIFO and
//! delayed messages, which land in the store as a remoting producer's would.

mod producer;
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
