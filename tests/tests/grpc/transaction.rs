//! Transactional messages over gRPC with the `rocketmq` 5.x transaction producer: a half message stays out of
//! sight, a commit makes it visible once, a rollback never, and a transaction the producer leaves open is
//! resolved by a check-back down its Telemetry stream.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmq_broker::embedded::{EmbeddedBroker, EmbeddedBrokerBuilder};
use rmq_tests::fixtures::create_routed_topic;
use rmq_tests::record::Record;
use rmq_tests::{eventually, unique};
use rocketmq::conf::{ClientOption, ProducerOption};
use rocketmq::model::message::MessageBuilder;
use rocketmq::model::transaction::{Transaction, TransactionResolution};
use rocketmq::Producer;

use crate::{stored, QUEUES};

/// Long enough for any check round these brokers run.
const WAIT: Duration = Duration::from_secs(20);

/// A gRPC broker whose check service never runs during a test.
fn no_checks() -> EmbeddedBrokerBuilder {
    EmbeddedBroker::builder()
        .grpc_listen("127.0.0.1:0".parse().expect("addr"))
        .property("transactionCheckInterval", "600000")
}

/// A gRPC broker that checks an open half message after 200 ms, in rounds every 100 ms.
fn fast_checks() -> EmbeddedBrokerBuilder {
    EmbeddedBroker::builder()
        .grpc_listen("127.0.0.1:0".parse().expect("addr"))
        .property("transactionTimeOut", "200")
        .property("transactionCheckInterval", "100")
}

/// What the producer's checker was asked: (transaction id, message id).
type Asked = Arc<Mutex<Vec<(String, String)>>>;

/// A started transaction producer for `topic` whose checker answers `answer` and records what it is asked.
async fn transaction_producer(
    broker: &EmbeddedBroker,
    topic: &str,
    answer: fn() -> TransactionResolution,
) -> (Producer, Asked) {
    let mut po = ProducerOption::default();
    po.set_topics(vec![topic.to_owned()]);
    let mut co = ClientOption::default();
    co.set_access_url(broker.grpc_addr().expect("gRPC on").to_string());
    co.set_enable_tls(false);
    let asked: Asked = Arc::default();
    let log = asked.clone();
    let checker = Box::new(
        move |tx_id: String, m: rocketmq::model::message::MessageView| {
            log.lock()
                .expect("checker log")
                .push((tx_id, m.message_id().to_owned()));
            answer()
        },
    );
    let mut p = Producer::new_transaction_producer(po, co, checker).expect("transaction producer");
    p.start().await.expect("the transaction producer starts");
    (p, asked)
}

async fn topic_on(broker: &EmbeddedBroker) -> String {
    let topic = unique("GrpcTxTopic");
    create_routed_topic(
        &broker.broker_addr(),
        &broker.namesrv_addr(),
        &topic,
        QUEUES,
    )
    .await
    .expect("topic");
    topic
}

async fn visible(broker: &EmbeddedBroker, topic: &str) -> Vec<Record> {
    stored(broker, topic)
        .await
        .into_values()
        .flatten()
        .collect()
}

fn tx_message(topic: &str, body: &str) -> impl rocketmq::model::message::Message {
    MessageBuilder::transaction_message_builder(topic, body.as_bytes().to_vec())
        .set_tag("TxTag")
        .build()
        .expect("transaction message")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_grpc_transaction_becomes_visible_once() {
    let broker = no_checks().start().await.expect("broker");
    let topic = topic_on(&broker).await;
    let (p, asked) = transaction_producer(&broker, &topic, || TransactionResolution::UNKNOWN).await;

    let tx = p
        .send_transaction_message(tx_message(&topic, "paid"))
        .await
        .expect("half message sent over gRPC");
    assert!(
        !tx.transaction_id().is_empty(),
        "a transaction id is returned"
    );
    let message_id = tx.message_id().to_owned();
    assert!(
        visible(&broker, &topic).await.is_empty(),
        "a half message is out of sight before its commit"
    );

    tx.commit().await.expect("commit over gRPC");
    let got = visible(&broker, &topic).await;
    assert_eq!(got.len(), 1, "the committed message is visible once");
    assert_eq!(got[0].body, b"paid");
    assert_eq!(got[0].tags().as_deref(), Some("TxTag"));
    assert_eq!(got[0].properties().get("UNIQ_KEY"), Some(&message_id));
    assert!(asked.lock().expect("log").is_empty(), "nothing was checked");
    p.shutdown().await.expect("shutdown");
    let _ = broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_grpc_transaction_is_never_visible_nor_checked() {
    // Checks run fast and would commit: a rollback must leave nothing for them to resurrect.
    let broker = fast_checks().start().await.expect("broker");
    let topic = topic_on(&broker).await;
    let (p, asked) = transaction_producer(&broker, &topic, || TransactionResolution::COMMIT).await;

    let tx = p
        .send_transaction_message(tx_message(&topic, "cancelled"))
        .await
        .expect("half message sent");
    tx.rollback().await.expect("rollback over gRPC");
    let txs = &broker.broker().services().transactions;
    assert_eq!(txs.open_count(), 0, "the rollback closed the transaction");
    // A later committed transaction on the same topic is checked and delivered; by then every round has
    // passed over the rolled-back one.
    let open = p
        .send_transaction_message(tx_message(&topic, "later"))
        .await
        .expect("second half message");
    let open_id = open.transaction_id().to_owned();
    drop(open);
    let got = eventually(
        WAIT,
        "the left-open transaction committed by its check",
        || {
            let (broker, topic) = (&broker, topic.clone());
            async move {
                let got = visible(broker, &topic).await;
                Ok((!got.is_empty()).then_some(got))
            }
        },
    )
    .await
    .expect("check-back");
    let bodies: Vec<&[u8]> = got.iter().map(|r| r.body.as_slice()).collect();
    assert_eq!(
        bodies,
        vec![b"later".as_slice()],
        "the rolled-back message never shows"
    );
    let asked = asked.lock().expect("log").clone();
    assert!(
        !asked.is_empty() && asked.iter().all(|(id, _)| *id == open_id),
        "only the open transaction was checked: {asked:?}"
    );
    p.shutdown().await.expect("shutdown");
    let _ = broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_grpc_transaction_is_committed_by_the_check_back_on_the_telemetry_stream() {
    let broker = fast_checks().start().await.expect("broker");
    let topic = topic_on(&broker).await;
    let (p, asked) = transaction_producer(&broker, &topic, || TransactionResolution::COMMIT).await;

    // The local transaction's outcome is unknown: the producer neither commits nor rolls back.
    let tx = p
        .send_transaction_message(tx_message(&topic, "unsure"))
        .await
        .expect("half message sent");
    let (tx_id, message_id) = (tx.transaction_id().to_owned(), tx.message_id().to_owned());
    drop(tx);

    let got = eventually(WAIT, "committed through the check-back", || {
        let (broker, topic) = (&broker, topic.clone());
        async move {
            let got = visible(broker, &topic).await;
            Ok((!got.is_empty()).then_some(got))
        }
    })
    .await
    .expect("check-back");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, b"unsure");
    assert_eq!(got[0].properties().get("UNIQ_KEY"), Some(&message_id));
    let asked = asked.lock().expect("log").clone();
    assert_eq!(
        asked.first(),
        Some(&(tx_id, message_id)),
        "the checker was asked about this transaction and message"
    );
    eventually(WAIT, "the transaction is closed", || async {
        Ok((broker.broker().services().transactions.open_count() == 0).then_some(()))
    })
    .await
    .expect("closed");
    p.shutdown().await.expect("shutdown");
    let _ = broker.shutdown().await;
}
