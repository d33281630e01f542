//! rmq-runtime's `TransactionProducer` against the bundled broker over TCP: a commit delivers, a rollback (or a
//! panicking local transaction) never does, an UNKNOWN outcome is checked back and the checker's answer is
//! applied, and two producer groups in one process each get their own check-backs.
//!
//! Delivery is read with the RawClient (an independent client); "never delivered" is asserted once the broker
//! has written the op record that resolves the half message, so nothing is left that could still deliver it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmq_broker::embedded::{EmbeddedBroker, EmbeddedBrokerBuilder};
use rmq_runtime::producer::{LocalTransactionState, TransactionProducer};
use rmq_runtime::{Message, MessageExt, ProducerOptions};
use rmq_tests::client::rc;
use rmq_tests::record::Record;
use rmq_tests::{eventually, unique, RawClient};

const OP_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
/// Where the broker keeps half messages it gave up on after `transactionCheckMax` unanswered checks.
const CHECK_MAX_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
const WAIT: Duration = Duration::from_secs(15);

/// A broker whose check service runs fast: first check 300 ms after the half message, rounds every 100 ms, and
/// enough checks (100, ~10 s) that a slow machine does not make it give up before the producer answers.
fn fast_checks() -> EmbeddedBrokerBuilder {
    EmbeddedBroker::builder()
        .property("transactionTimeOut", "300")
        .property("transactionCheckInterval", "100")
        .property("transactionCheckMax", "100")
}

/// A broker that will not check anything during a test.
fn no_checks() -> EmbeddedBrokerBuilder {
    EmbeddedBroker::builder().property("transactionCheckInterval", "600000")
}

struct Fixture {
    broker: EmbeddedBroker,
    raw: RawClient,
    topic: String,
}

/// A broker and a one-queue topic the name server already routes.
async fn setup(builder: EmbeddedBrokerBuilder) -> Fixture {
    let broker = builder.start().await.expect("broker starts");
    let raw = RawClient::connect(&broker.broker_addr())
        .await
        .expect("raw client");
    let topic = unique("TxTopic");
    assert_eq!(
        raw.create_topic(&topic, 1).await.expect("create").code,
        rc::SUCCESS
    );
    let namesrv = RawClient::connect(&broker.namesrv_addr())
        .await
        .expect("name server client");
    eventually(WAIT, "topic routed", || async {
        namesrv.route_json(&topic).await
    })
    .await
    .expect("route");
    Fixture { broker, raw, topic }
}

impl Fixture {
    fn options(&self, group: &str, instance: &str) -> ProducerOptions {
        let mut opts = ProducerOptions::new(group, self.broker.namesrv_addr());
        opts.client.instance_name = instance.to_string();
        opts
    }

    /// Every message of the topic, read by a fresh group.
    async fn delivered(&self) -> Vec<Record> {
        self.raw
            .pull_all(&unique("reader"), &self.topic, 0, 0)
            .await
            .expect("pull")
    }

    async fn wait_delivered(&self, n: usize) -> Vec<Record> {
        eventually(WAIT, &format!("{n} message(s) delivered"), || async {
            let got = self.delivered().await;
            Ok((got.len() >= n).then_some(got))
        })
        .await
        .expect("delivery")
    }

    /// Half-topic offsets the broker has resolved (commit or rollback), from its op records.
    fn resolved(&self) -> Vec<i64> {
        let store = &self.broker.broker().store();
        let r = store.get_messages(OP_TOPIC, 0, 0, 1024, usize::MAX, &|_| true);
        r.messages
            .iter()
            .flat_map(|raw| {
                let rec = rmq_tests::record::decode_record(raw).expect("op record").0;
                String::from_utf8_lossy(&rec.body)
                    .split(',')
                    .filter_map(|s| s.parse().ok())
                    .collect::<Vec<i64>>()
            })
            .collect()
    }

    /// Half messages the broker discarded because no check-back was answered.
    fn given_up(&self) -> usize {
        let store = &self.broker.broker().store();
        store
            .get_messages(CHECK_MAX_TOPIC, 0, 0, 1024, usize::MAX, &|_| true)
            .messages
            .len()
    }

    async fn wait_resolved(&self, half_offset: i64) {
        eventually(
            WAIT,
            &format!("half message {half_offset} resolved"),
            || async { Ok(self.resolved().contains(&half_offset).then_some(())) },
        )
        .await
        .expect("op record");
    }
}

/// A checker that records what it was asked and answers `answer`.
#[derive(Clone)]
struct Recorder {
    seen: Arc<Mutex<Vec<MessageExt>>>,
    calls: Arc<AtomicUsize>,
}

impl Recorder {
    fn new() -> Self {
        Recorder {
            seen: Arc::default(),
            calls: Arc::default(),
        }
    }

    fn checker(
        &self,
        answer: LocalTransactionState,
    ) -> impl Fn(MessageExt) -> futures::future::Ready<LocalTransactionState> + Send + Sync + 'static
    {
        let me = self.clone();
        move |msg| {
            me.calls.fetch_add(1, Ordering::SeqCst);
            me.seen.lock().expect("recorder lock").push(msg);
            futures::future::ready(answer)
        }
    }

    fn keys(&self) -> Vec<String> {
        self.seen
            .lock()
            .expect("recorder lock")
            .iter()
            .flat_map(|m| m.keys().into_iter().map(str::to_string).collect::<Vec<_>>())
            .collect()
    }
}

fn body_of(r: &Record) -> &str {
    std::str::from_utf8(&r.body).expect("utf-8 body")
}

#[tokio::test]
async fn a_committed_transaction_is_delivered_once() {
    let f = setup(no_checks()).await;
    let rec = Recorder::new();
    let p = TransactionProducer::start(
        f.options(&unique("tx_commit"), &unique("i")),
        rec.checker(LocalTransactionState::Unknown),
    )
    .await
    .expect("producer");
    let ran = Arc::new(AtomicUsize::new(0));
    let ran2 = ran.clone();
    let r = p
        .send_in_transaction(
            Message::new(&f.topic, "paid").with_key("order-1"),
            |send| async move {
                assert!(!send.msg_id.is_empty());
                ran2.fetch_add(1, Ordering::SeqCst);
                LocalTransactionState::Commit
            },
        )
        .await
        .expect("transaction");
    assert_eq!(r.state, LocalTransactionState::Commit);
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    let got = f.wait_delivered(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(body_of(&got[0]), "paid");
    let props = got[0].properties();
    assert_eq!(props.get("UNIQ_KEY"), Some(&r.send.msg_id));
    assert_eq!(props.get("KEYS").map(String::as_str), Some("order-1"));
    f.wait_resolved(r.send.queue_offset).await;
    assert_eq!(f.delivered().await.len(), 1, "delivered exactly once");
    assert_eq!(rec.calls.load(Ordering::SeqCst), 0, "no check-back needed");
    p.shutdown().await;
}

#[tokio::test]
async fn a_rolled_back_transaction_is_never_delivered() {
    let f = setup(no_checks()).await;
    let p = TransactionProducer::start(
        f.options(&unique("tx_rollback"), &unique("i")),
        Recorder::new().checker(LocalTransactionState::Unknown),
    )
    .await
    .expect("producer");
    let r = p
        .send_in_transaction(Message::new(&f.topic, "cancelled"), |_| async {
            LocalTransactionState::Rollback
        })
        .await
        .expect("transaction");
    assert_eq!(r.state, LocalTransactionState::Rollback);
    f.wait_resolved(r.send.queue_offset).await;
    // A later commit on the same queue is delivered; the rolled-back message is not.
    let c = p
        .send_in_transaction(Message::new(&f.topic, "kept"), |_| async {
            LocalTransactionState::Commit
        })
        .await
        .expect("transaction");
    f.wait_resolved(c.send.queue_offset).await;
    let got = f.wait_delivered(1).await;
    let bodies: Vec<&str> = got.iter().map(body_of).collect();
    assert_eq!(bodies, vec!["kept"]);
    p.shutdown().await;
}

#[tokio::test]
async fn an_unknown_transaction_is_checked_back_and_committed() {
    let f = setup(fast_checks()).await;
    let rec = Recorder::new();
    let group = unique("tx_check_commit");
    let p = TransactionProducer::start(
        f.options(&group, &unique("i")),
        rec.checker(LocalTransactionState::Commit),
    )
    .await
    .expect("producer");
    let r = p
        .send_in_transaction(
            Message::new(&f.topic, "decided later").with_key("late-1"),
            |_| async { LocalTransactionState::Unknown },
        )
        .await
        .expect("transaction");
    assert_eq!(r.state, LocalTransactionState::Unknown);
    let got = f.wait_delivered(1).await;
    assert_eq!(body_of(&got[0]), "decided later");
    assert!(rec.calls.load(Ordering::SeqCst) >= 1);
    let seen = rec.seen.lock().expect("recorder lock")[0].clone();
    assert_eq!(seen.keys(), ["late-1"]);
    assert_eq!(seen.msg_id(), r.send.msg_id);
    assert_eq!(seen.property("PGROUP"), Some(group.as_str()));
    f.wait_resolved(r.send.queue_offset).await;
    assert_eq!(f.delivered().await.len(), 1, "delivered exactly once");
    assert_eq!(f.given_up(), 0);
    p.shutdown().await;
}

#[tokio::test]
async fn a_checker_answering_rollback_discards_the_message() {
    let f = setup(fast_checks()).await;
    let rec = Recorder::new();
    let p = TransactionProducer::start(
        f.options(&unique("tx_check_rollback"), &unique("i")),
        rec.checker(LocalTransactionState::Rollback),
    )
    .await
    .expect("producer");
    let r = p
        .send_in_transaction(Message::new(&f.topic, "undecided"), |_| async {
            LocalTransactionState::Unknown
        })
        .await
        .expect("transaction");
    f.wait_resolved(r.send.queue_offset).await;
    assert!(rec.calls.load(Ordering::SeqCst) >= 1, "the checker decided");
    assert_eq!(
        f.given_up(),
        0,
        "resolved by the checker's answer, not by giving up"
    );
    assert!(f.delivered().await.is_empty());
    p.shutdown().await;
}

#[tokio::test]
async fn two_producer_groups_in_one_process_get_their_own_check_backs() {
    let f = setup(fast_checks()).await;
    // One client instance (same instance name) for both groups: one connection carries both groups' checks.
    let instance = unique("shared");
    let (rec_a, rec_b) = (Recorder::new(), Recorder::new());
    let a = TransactionProducer::start(
        f.options(&unique("tx_a"), &instance),
        rec_a.checker(LocalTransactionState::Commit),
    )
    .await
    .expect("producer a");
    let b = TransactionProducer::start(
        f.options(&unique("tx_b"), &instance),
        rec_b.checker(LocalTransactionState::Commit),
    )
    .await
    .expect("producer b");
    assert!(Arc::ptr_eq(
        a.producer().instance(),
        b.producer().instance()
    ));
    for i in 0..2 {
        for (p, name) in [(&a, "A"), (&b, "B")] {
            p.send_in_transaction(
                Message::new(&f.topic, format!("{name}{i}")).with_key(name),
                |_| async { LocalTransactionState::Unknown },
            )
            .await
            .expect("transaction");
        }
    }
    let got = f.wait_delivered(4).await;
    let mut bodies: Vec<&str> = got.iter().map(body_of).collect();
    bodies.sort_unstable();
    assert_eq!(bodies, vec!["A0", "A1", "B0", "B1"]);
    let (keys_a, keys_b) = (rec_a.keys(), rec_b.keys());
    assert!(
        keys_a.len() >= 2 && keys_a.iter().all(|k| k == "A"),
        "{keys_a:?}"
    );
    assert!(
        keys_b.len() >= 2 && keys_b.iter().all(|k| k == "B"),
        "{keys_b:?}"
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_panicking_local_transaction_rolls_back() {
    let f = setup(no_checks()).await;
    let p = TransactionProducer::start(
        f.options(&unique("tx_panic"), &unique("i")),
        Recorder::new().checker(LocalTransactionState::Commit),
    )
    .await
    .expect("producer");
    let r = p
        .send_in_transaction(Message::new(&f.topic, "boom"), |_| async {
            panic!("local transaction failed")
        })
        .await
        .expect("a panic is an outcome, not an error");
    assert_eq!(r.state, LocalTransactionState::Rollback);
    f.wait_resolved(r.send.queue_offset).await;

    // A closure that panics before it returns its future is caught too.
    #[allow(unreachable_code)]
    let r2 = p
        .send_in_transaction(Message::new(&f.topic, "boom early"), |_| {
            panic!("failed before the future");
            async { LocalTransactionState::Commit }
        })
        .await
        .expect("a panic is an outcome, not an error");
    assert_eq!(r2.state, LocalTransactionState::Rollback);
    f.wait_resolved(r2.send.queue_offset).await;

    assert!(f.delivered().await.is_empty());
    p.shutdown().await;
}
