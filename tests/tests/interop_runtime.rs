//! rmq-runtime against a RocketMQ client nobody here wrote (`rocketmq-client-rust` 1.0.0 from crates.io), through
//! an embedded rmq broker, in both directions:
//!
//! 1. `runtime_producer_to_third_party_push_consumer`: our `Producer` sends 300 messages in every send mode
//!    (sync, async, oneway, orderly, batch), with three tags, two keys each, user properties with non-ASCII
//!    values, binary bodies and bodies over 4 KiB that it zlib-compresses; a third-party push consumer must see
//!    each with the same topic, tags, keys, properties and decompressed body, and a second third-party group
//!    subscribed to `Tag1||Tag2` exactly those tags.
//! 2. `third_party_producer_to_runtime_push_consumer`: the same 300 messages the other way, sent with the
//!    third-party producer (sync, async with a callback, oneway, by selector, batch; it zlib-compresses bodies
//!    of 4 KiB and more), consumed by two of our push consumer groups (`*` and `Tag1 || Tag2`), which must
//!    deliver each once with identical content and the body decompressed.
//! 3. `third_party_transactions_reach_runtime_consumer_only_when_committed`: the third-party transactional
//!    producer commits, rolls back, and leaves two decisions to the broker's check-back; our consumer gets
//!    exactly the committed messages.
//!
//! Every message carries its index in the `idx` property, so a delivery is checked against what was sent for
//! that index, including the message id the producer reported where it reports one.
//!
//! What the third-party consumer does differently, as seen here: it decompresses bodies but leaves the
//! COMPRESSED bit in the sysFlag it hands to the listener. Its subscription `Tag1 || Tag2` (with spaces) gets
//! nothing, because it hashes the untrimmed tags into the heartbeat's codeSet, so its filtered group uses
//! `Tag1||Tag2`. And it runs each listener call on its runtime's
//! bounded MetadataIo blocking lane; a call the lane turns away (queue depth 8 per core by default, so 16
//! here) counts as a failed consume, and the message goes back to the group's retry topic without the listener
//! ever seeing it. With the default depth a few dozen of the 500 deliveries took that path in every run (back
//! after 10 s from the retry queue, reconsume count 1, original topic restored), and when the redelivery burst
//! overflowed the lane again the next try came 30 s later, past any sensible deadline. [`ThirdPartyRuntime`]
//! therefore deepens that queue. Deliveries are still de-duplicated by index, every delivery (duplicates
//! included) must carry the exact content, and the one-queue-per-orderly-key check skips redeliveries.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use rmq_broker::embedded::EmbeddedBroker;
use rmq_protocol::message::sysflag;
use rmq_tests::fixtures::ThirdPartyRuntime;
use rmq_tests::{eventually, unique, RawClient};
use rocketmq_client_rust::{
    ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus, DefaultMQPushConsumer, MQPushConsumer,
    MessageListenerConcurrently,
};
use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere as TpConsumeFromWhere;
use rocketmq_protocol::protocol::heartbeat::message_model::MessageModel as TpMessageModel;
use tokio::sync::mpsc;

/// Messages per direction.
const TOTAL: usize = 300;
/// Sent (sync) before the consumers start; the first one auto-creates the topic from TBW102.
const BEFORE_CONSUMERS: usize = 30;
/// Messages `BATCH_START..TOTAL` go as one batch, after everything else.
const BATCH_START: usize = 250;
/// A body over 4 KiB that zlib cannot shrink (random bytes).
const NOISY: usize = 111;
/// How long the consumers may take to receive everything once it was sent.
const CONSUME_TIMEOUT: Duration = Duration::from_secs(40);
const TAGS: [&str; 3] = ["Tag0", "Tag1", "Tag2"];
const COLOURS: [&str; 5] = ["red", "grün", "青い空", "ünïcødé 🚀", "a=b c:d"];

/// How message `i` is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Sync,
    Async,
    Oneway,
    Orderly,
    Batch,
}

fn mode(i: usize) -> Mode {
    if i < BEFORE_CONSUMERS {
        Mode::Sync
    } else if i >= BATCH_START {
        Mode::Batch
    } else {
        [
            Mode::Sync,
            Mode::Async,
            Mode::Oneway,
            Mode::Orderly,
            Mode::Sync,
        ][i % 5]
    }
}

/// Bodies over 4 KiB that compress well: 11 of them, in every single-message mode (never in the batch, whose
/// bodies producers do not compress).
fn is_big(i: usize) -> bool {
    i % 23 == 7 && i < BATCH_START
}

/// The hash key of an orderly send.
fn order_key(i: usize) -> String {
    format!("order-{}", i % 7)
}

/// What was sent as message `i`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    body: Vec<u8>,
    tags: &'static str,
    keys: [String; 2],
    user: Vec<(&'static str, String)>,
}

fn expected(i: usize) -> Expected {
    let mut body = format!("interop {i} ").into_bytes();
    if i == NOISY {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        body.extend((0..6000).map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        }));
    } else if is_big(i) {
        body.extend((0..4200 + i * 40).map(|j| ((j / 50 * 7 + i) % 256) as u8));
    } else {
        // Varied lengths and every byte value, including 0x00 and invalid UTF-8.
        body.extend((0..(i * 13) % 300).map(|j| ((j * 7 + i) % 256) as u8));
    }
    Expected {
        body,
        tags: TAGS[i % 3],
        keys: [format!("key-{i}"), format!("alt-{i}")],
        user: vec![
            ("idx", i.to_string()),
            ("colour", COLOURS[i % 5].to_owned()),
            ("mode", format!("{:?}", mode(i))),
        ],
    }
}

/// One delivery as a listener saw it (either client's message type, reduced to what is compared).
#[derive(Debug)]
struct Delivery {
    group: &'static str,
    topic: String,
    tags: Option<String>,
    keys: Option<String>,
    props: HashMap<String, String>,
    body: Vec<u8>,
    sys_flag: i32,
    queue_id: i32,
    reconsume_times: i32,
}

/// Checks one delivery against what was sent; returns the message index.
///
/// `ids` holds the message ids (UNIQ_KEY) the producer reported, where it reports one.
fn check_delivery(
    d: &Delivery,
    topic: &str,
    ids: &HashMap<usize, String>,
) -> Result<usize, String> {
    let idx: usize = d
        .props
        .get("idx")
        .and_then(|v| v.parse().ok())
        .filter(|i| *i < TOTAL)
        .ok_or_else(|| {
            format!(
                "[{}] delivery without a valid idx property: {:?}",
                d.group, d.props
            )
        })?;
    let e = expected(idx);
    let mut problems = Vec::new();
    if d.topic != topic {
        problems.push(format!("topic {:?} != {topic:?}", d.topic));
    }
    if d.body != e.body {
        problems.push(format!(
            "body of {} bytes (sysFlag {:#x}) != the {} bytes sent; starts {:?}",
            d.body.len(),
            d.sys_flag,
            e.body.len(),
            String::from_utf8_lossy(&d.body[..d.body.len().min(40)])
        ));
    }
    if d.tags.as_deref() != Some(e.tags) {
        problems.push(format!("tags {:?} != {:?}", d.tags, e.tags));
    }
    let keys = e.keys.join(" ");
    if d.keys.as_deref() != Some(keys.as_str()) {
        problems.push(format!("keys {:?} != {keys:?}", d.keys));
    }
    for (k, v) in &e.user {
        if d.props.get(*k) != Some(v) {
            problems.push(format!("property {k} {:?} != {v:?}", d.props.get(*k)));
        }
    }
    if let Some(id) = ids.get(&idx) {
        if d.props.get("UNIQ_KEY") != Some(id) {
            problems.push(format!(
                "UNIQ_KEY {:?} != the id the producer reported, {id:?}",
                d.props.get("UNIQ_KEY")
            ));
        }
    }
    if problems.is_empty() {
        Ok(idx)
    } else {
        Err(format!(
            "[{}] message {idx} ({:?}): {}",
            d.group,
            mode(idx),
            problems.join("; ")
        ))
    }
}

/// What the listeners of one test saw, per group.
#[derive(Default)]
struct Seen {
    distinct: HashMap<&'static str, HashSet<usize>>,
    deliveries: usize,
    duplicates: usize,
    errors: Vec<String>,
    /// Queue and index of each orderly message, by hash key.
    orderly_queues: HashMap<String, BTreeSet<(i32, usize)>>,
    /// Deliveries with a reconsume count (redeliveries from the group's retry topic): group, index, count,
    /// queue id.
    retried: Vec<(&'static str, usize, i32, i32)>,
    /// Indexes whose delivery still had the COMPRESSED sysFlag bit set.
    flagged_compressed: BTreeSet<usize>,
}

impl Seen {
    fn record(&mut self, d: &Delivery, topic: &str, ids: &HashMap<usize, String>) {
        self.deliveries += 1;
        match check_delivery(d, topic, ids) {
            Ok(idx) => {
                if !self.distinct.entry(d.group).or_default().insert(idx) {
                    self.duplicates += 1;
                }
                if d.reconsume_times > 0 {
                    self.retried
                        .push((d.group, idx, d.reconsume_times, d.queue_id));
                } else if mode(idx) == Mode::Orderly {
                    self.orderly_queues
                        .entry(order_key(idx))
                        .or_default()
                        .insert((d.queue_id, idx));
                }
                if d.sys_flag & sysflag::COMPRESSED_FLAG != 0 {
                    self.flagged_compressed.insert(idx);
                }
            }
            Err(e) => self.errors.push(e),
        }
    }

    fn count(&self, group: &str) -> usize {
        self.distinct.get(group).map_or(0, HashSet::len)
    }

    /// Fails when the orderly messages of one hash key came from more than one queue.
    fn assert_orderly_keys_kept_their_queue(&self) {
        for (key, placed) in &self.orderly_queues {
            let queues: BTreeSet<i32> = placed.iter().map(|(q, _)| *q).collect();
            assert_eq!(
                queues.len(),
                1,
                "orderly key {key} spread over queues: (queue, idx) {placed:?}"
            );
        }
    }

    /// Fails on bad deliveries, on a missing message, and on a message a group should not have had.
    fn assert_complete(&self, group: &str, wanted: impl Fn(usize) -> bool, timed_out: bool) {
        assert!(
            self.errors.is_empty(),
            "{} bad deliveries, first: {:#?}",
            self.errors.len(),
            &self.errors[..self.errors.len().min(5)]
        );
        let empty = HashSet::new();
        let got = self.distinct.get(group).unwrap_or(&empty);
        let missing: Vec<usize> = (0..TOTAL)
            .filter(|&i| wanted(i) && !got.contains(&i))
            .collect();
        let mut extra: Vec<usize> = got.iter().copied().filter(|&i| !wanted(i)).collect();
        extra.sort_unstable();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "group {group}: {} distinct messages ({} deliveries in all, timed out: {timed_out}); missing: {:?}; \
             not subscribed to but delivered: {:?}",
            got.len(),
            self.deliveries,
            &missing[..missing.len().min(20)],
            &extra[..extra.len().min(20)],
        );
    }
}

/// Which indexes the stored records of `topic` hold with the COMPRESSED sysFlag, and their compression types.
async fn stored_compressed(raw: &RawClient, topic: &str) -> (BTreeSet<usize>, BTreeSet<i32>) {
    let mut idx = BTreeSet::new();
    let mut types = BTreeSet::new();
    let mut stored = 0;
    for q in 0..4 {
        for r in raw
            .pull_all(&unique("reader"), topic, q, 0)
            .await
            .expect("pull stored records")
        {
            stored += 1;
            if r.sys_flag & sysflag::COMPRESSED_FLAG != 0 {
                let i = r.properties()["idx"].parse().expect("idx");
                idx.insert(i);
                types.insert(r.sys_flag & sysflag::COMPRESSION_TYPE_MASK);
            }
        }
    }
    assert_eq!(stored, TOTAL, "every message of {topic} stored once");
    (idx, types)
}

/// Waits until the name server routes `topic` (consumers look a topic up once at start).
async fn wait_for_route(namesrv: &str, topic: &str) {
    let ns = RawClient::connect(namesrv)
        .await
        .expect("connect name server");
    eventually(Duration::from_secs(10), "the topic has a route", || async {
        Ok(ns.route_json(topic).await?.map(|_| ()))
    })
    .await
    .expect("route of the auto-created topic");
}

// ---------------------------------------------------------------------------------------------------------------
// 1. rmq-runtime producer → rocketmq-client-rust push consumer
// ---------------------------------------------------------------------------------------------------------------

mod to_third_party {
    use super::*;
    use futures::future::join_all;
    use rmq_runtime::{Message, Producer, ProducerOptions, SendResult, SendStatus};
    use rocketmq_model::common::message::message_ext::MessageExt as TpMessageExt;

    fn message(topic: &str, i: usize) -> Message {
        let e = expected(i);
        let mut m = Message::new(topic, e.body)
            .with_tags(e.tags)
            .with_keys(&e.keys);
        for (k, v) in e.user {
            m = m.with_property(k, v);
        }
        m
    }

    struct Collector {
        group: &'static str,
        tx: mpsc::UnboundedSender<Delivery>,
    }

    impl MessageListenerConcurrently for Collector {
        fn consume_message(
            &self,
            msgs: &[&TpMessageExt],
            _context: &ConsumeConcurrentlyContext,
        ) -> rocketmq_client_rust::ClientResult<ConsumeConcurrentlyStatus> {
            for m in msgs {
                let props: HashMap<String, String> = m
                    .properties()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                let _ = self.tx.send(Delivery {
                    group: self.group,
                    topic: m.topic().to_string(),
                    tags: props.get("TAGS").cloned(),
                    keys: props.get("KEYS").cloned(),
                    body: m.body().map(|b| b.to_vec()).unwrap_or_default(),
                    sys_flag: m.sys_flag(),
                    queue_id: m.queue_id(),
                    reconsume_times: m.reconsume_times(),
                    props,
                });
            }
            Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
        }
    }

    fn sent_ok(i: usize, r: rmq_runtime::Result<SendResult>) -> (usize, String) {
        match r {
            Ok(r) if r.status == SendStatus::SendOk => (i, r.msg_id),
            other => panic!("send {i} ({:?}): {other:?}", mode(i)),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runtime_producer_to_third_party_push_consumer() {
        let broker = EmbeddedBroker::start().await.expect("broker starts");
        let namesrv = broker.namesrv_addr();
        let raw = RawClient::connect(&broker.broker_addr())
            .await
            .expect("raw client");
        let topic = unique("RtToTp");
        let mut opts = ProducerOptions::new(unique("rt_pg"), &namesrv);
        opts.client.instance_name = unique("rt_producer");
        let producer = Producer::start(opts).await.expect("producer starts");

        // The ids (UNIQ_KEY) the producer reported, by index; oneway sends report none.
        let mut ids: HashMap<usize, String> = HashMap::new();
        for i in 0..BEFORE_CONSUMERS {
            let (i, id) = sent_ok(i, producer.send(message(&topic, i)).await);
            ids.insert(i, id);
        }
        wait_for_route(&namesrv, &topic).await;

        let tp = ThirdPartyRuntime::start("tp-consumer");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut consumers = Vec::new();
        // Without spaces: rocketmq-client-rust hashes the untrimmed tags of `Tag1 || Tag2` ("Tag1 ", " Tag2")
        // into the heartbeat's codeSet, which the broker filters by (as Apache RocketMQ's does), so that
        // spelling gets nothing at all (rocketmq-protocol 1.0.0, `FilterAPI::build_subscription_data`).
        for (group, selector) in [("all", "*"), ("tag1or2", "Tag1||Tag2")] {
            let mut c = DefaultMQPushConsumer::builder(tp.runtime.clone())
                .consumer_group(unique(&format!("tp_{group}")))
                .name_server_addr(namesrv.clone())
                .message_model(TpMessageModel::Clustering)
                .consume_from_where(TpConsumeFromWhere::ConsumeFromFirstOffset)
                .build();
            c.subscribe(&topic, selector).await.expect("subscribe");
            c.register_message_listener_concurrently(Collector {
                group,
                tx: tx.clone(),
            });
            c.start().await.expect("third-party consumer starts");
            consumers.push(c);
        }
        drop(tx);

        let mut pending = Vec::new();
        for i in BEFORE_CONSUMERS..BATCH_START {
            let msg = message(&topic, i);
            match mode(i) {
                Mode::Sync => ids.extend([sent_ok(i, producer.send(msg).await)]),
                Mode::Async => {
                    let fut = producer.send_async(msg);
                    pending.push(async move { sent_ok(i, fut.await) });
                }
                Mode::Oneway => producer.send_oneway(msg).await.expect("oneway send"),
                Mode::Orderly => {
                    ids.extend([sent_ok(i, producer.send_orderly(msg, &order_key(i)).await)]);
                }
                Mode::Batch => unreachable!("batch messages go last"),
            }
        }
        ids.extend(join_all(pending).await);
        let batch: Vec<Message> = (BATCH_START..TOTAL).map(|i| message(&topic, i)).collect();
        let results = producer.send_batch(batch).await.expect("batch send");
        assert_eq!(results.len(), TOTAL - BATCH_START, "one result per message");
        ids.extend((BATCH_START..TOTAL).zip(results.into_iter().map(|r| r.msg_id)));

        let filtered = |i: usize| expected(i).tags != "Tag0";
        let filtered_total = (0..TOTAL).filter(|&i| filtered(i)).count();
        let mut seen = Seen::default();
        let outcome = tokio::time::timeout(CONSUME_TIMEOUT, async {
            while seen.count("all") < TOTAL || seen.count("tag1or2") < filtered_total {
                let Some(d) = rx.recv().await else { break };
                seen.record(&d, &topic, &ids);
            }
        })
        .await;

        for c in &mut consumers {
            let _ = tokio::time::timeout(Duration::from_secs(20), c.shutdown()).await;
        }
        tp.shutdown().await;
        producer.shutdown().await;

        eprintln!(
            "rmq-runtime → rocketmq-client-rust: {} deliveries ({} duplicates); distinct: all {}, tag1or2 {}; \
             delivered with the COMPRESSED flag still set: {:?}; redelivered from the retry topic: {:?}",
            seen.deliveries,
            seen.duplicates,
            seen.count("all"),
            seen.count("tag1or2"),
            seen.flagged_compressed,
            seen.retried
        );
        seen.assert_complete("all", |_| true, outcome.is_err());
        seen.assert_complete("tag1or2", filtered, outcome.is_err());
        seen.assert_orderly_keys_kept_their_queue();

        // The big bodies really travelled compressed (zlib); the one zlib cannot shrink went as is.
        let (compressed, types) = stored_compressed(&raw, &topic).await;
        let big: BTreeSet<usize> = (0..TOTAL).filter(|&i| is_big(i)).collect();
        assert!(big.len() >= 5);
        assert_eq!(compressed, big, "stored with the COMPRESSED sysFlag");
        assert_eq!(
            types,
            BTreeSet::from([sysflag::COMPRESSION_ZLIB_TYPE]),
            "compression type bits"
        );
        broker.shutdown().await.expect("broker shutdown");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// 2. rocketmq-client-rust producer → rmq-runtime push consumer; 3. its transactional producer → ours
// ---------------------------------------------------------------------------------------------------------------

mod from_third_party {
    use super::*;
    use rmq_runtime::consumer::{
        ConsumeContext, ConsumeFromWhere, ConsumeOutcome, MessageSelector, PushConsumer,
        PushConsumerOptions,
    };
    use rmq_runtime::MessageExt;
    use rocketmq_client_rust::{
        ClientError as TpClientError, DefaultMQProducer, LocalTransactionState, SendResult,
        TransactionListener, TransactionMQProducer,
    };
    use rocketmq_model::common::message::message_ext::MessageExt as TpMessageExt;
    use rocketmq_model::common::message::message_queue::MessageQueue as TpMessageQueue;
    use rocketmq_model::common::message::message_single::Message as TpMessage;
    use rocketmq_model::common::message::MessageTrait;
    use rocketmq_model::result::SendStatus as TpSendStatus;

    fn message(topic: &str, i: usize) -> TpMessage {
        message_with(topic, i, [])
    }

    /// Message `i` with extra user properties.
    fn message_with<const N: usize>(
        topic: &str,
        i: usize,
        extra: [(&'static str, &'static str); N],
    ) -> TpMessage {
        let e = expected(i);
        let mut b = TpMessage::builder()
            .topic(topic)
            .tags(e.tags)
            .keys(e.keys.to_vec())
            .body(e.body);
        let extra = extra.into_iter().map(|(k, v)| (k, v.to_owned()));
        for (k, v) in e.user.into_iter().chain(extra) {
            b = b.raw_property(k, v).expect("user property accepted");
        }
        b.build_unchecked()
    }

    fn delivery(group: &'static str, m: &MessageExt) -> Delivery {
        Delivery {
            group,
            topic: m.topic.clone(),
            tags: m.tags().map(str::to_owned),
            keys: (!m.keys().is_empty()).then(|| m.keys().join(" ")),
            props: m
                .properties
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            body: m.body.to_vec(),
            sys_flag: m.sys_flag,
            queue_id: m.queue_id,
            reconsume_times: m.reconsume_times,
        }
    }

    /// Starts one of our push consumers from the first offset, forwarding every message to `tx`.
    async fn start_consumer(
        namesrv: &str,
        topic: &str,
        group: &'static str,
        selector: &str,
        tx: mpsc::UnboundedSender<Delivery>,
    ) -> PushConsumer {
        let mut opts = PushConsumerOptions::new(unique(&format!("rt_{group}")), namesrv)
            .subscribe(topic, MessageSelector::Tag(selector.into()));
        opts.consume_from_where = ConsumeFromWhere::FirstOffset;
        opts.client.instance_name = unique("rt_consumer");
        PushConsumer::start(opts, move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
            let tx = tx.clone();
            async move {
                for m in &msgs {
                    let _ = tx.send(delivery(group, m));
                }
                ConsumeOutcome::Success
            }
        })
        .await
        .expect("rmq-runtime push consumer starts")
    }

    fn sent_ok(
        i: usize,
        r: rocketmq_client_rust::ClientResult<Option<SendResult>>,
    ) -> (usize, String) {
        match r {
            Ok(Some(r)) if r.send_status == TpSendStatus::SendOk => {
                (i, r.msg_id.expect("msg id of a sync send").to_string())
            }
            other => panic!("third-party send {i} ({:?}): {other:?}", mode(i)),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn third_party_producer_to_runtime_push_consumer() {
        let broker = EmbeddedBroker::start().await.expect("broker starts");
        let namesrv = broker.namesrv_addr();
        let raw = RawClient::connect(&broker.broker_addr())
            .await
            .expect("raw client");
        let topic = unique("TpToRt");
        let tp = ThirdPartyRuntime::start("tp-producer");
        let mut producer = DefaultMQProducer::builder(tp.runtime.clone())
            .producer_group(unique("tp_pg"))
            .name_server_addr(namesrv.clone())
            .send_msg_timeout(10_000)
            .build();
        producer.start().await.expect("third-party producer starts");

        let mut ids: HashMap<usize, String> = HashMap::new();
        for i in 0..BEFORE_CONSUMERS {
            let (i, id) = sent_ok(i, producer.send(message(&topic, i)).await);
            ids.insert(i, id);
        }
        wait_for_route(&namesrv, &topic).await;

        let (tx, mut rx) = mpsc::unbounded_channel();
        let consumers = [
            start_consumer(&namesrv, &topic, "all", "*", tx.clone()).await,
            start_consumer(&namesrv, &topic, "tag1or2", "Tag1 || Tag2", tx.clone()).await,
        ];
        drop(tx);

        // Async sends report through their callback.
        let (cb_tx, mut cb_rx) = mpsc::unbounded_channel::<(usize, Result<String, String>)>();
        let mut async_sent = 0;
        for i in BEFORE_CONSUMERS..BATCH_START {
            let msg = message(&topic, i);
            match mode(i) {
                Mode::Sync => ids.extend([sent_ok(i, producer.send(msg).await)]),
                Mode::Async => {
                    let cb_tx = cb_tx.clone();
                    producer
                        .send_with_callback(
                            msg,
                            move |r: Option<&SendResult>, e: Option<&TpClientError>| {
                                let outcome = match (r, e) {
                                    (Some(r), None) if r.send_status == TpSendStatus::SendOk => r
                                        .msg_id
                                        .as_ref()
                                        .map(|id| id.to_string())
                                        .ok_or_else(|| "no msg id".to_owned()),
                                    (r, e) => Err(format!("{r:?} {e:?}")),
                                };
                                let _ = cb_tx.send((i, outcome));
                            },
                        )
                        .await
                        .expect("async send accepted");
                    async_sent += 1;
                }
                Mode::Oneway => producer.send_oneway(msg).await.expect("oneway send"),
                Mode::Orderly => {
                    let r = producer
                        .send_with_selector(
                            msg,
                            |mqs: &[TpMessageQueue], _m: &TpMessage, k: &usize| {
                                mqs.get(k % mqs.len()).cloned()
                            },
                            i % 7,
                        )
                        .await;
                    ids.extend([sent_ok(i, r)]);
                }
                Mode::Batch => unreachable!("batch messages go last"),
            }
        }
        drop(cb_tx);
        tokio::time::timeout(Duration::from_secs(30), async {
            for _ in 0..async_sent {
                let (i, r) = cb_rx.recv().await.expect("every callback runs");
                ids.insert(i, r.unwrap_or_else(|e| panic!("async send {i}: {e}")));
            }
        })
        .await
        .expect("async send callbacks within 30 s");
        let batch: Vec<TpMessage> = (BATCH_START..TOTAL).map(|i| message(&topic, i)).collect();
        let r = producer.send_batch(batch).await.expect("batch send");
        assert_eq!(r.send_status, TpSendStatus::SendOk);
        // Java joins the ids of a batch with commas.
        let batch_ids: Vec<String> = r
            .msg_id
            .as_ref()
            .map(|ids| {
                ids.as_str()
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            batch_ids.len(),
            TOTAL - BATCH_START,
            "batch msg ids {:?}",
            r.msg_id
        );
        ids.extend((BATCH_START..TOTAL).zip(batch_ids));

        let filtered = |i: usize| expected(i).tags != "Tag0";
        let filtered_total = (0..TOTAL).filter(|&i| filtered(i)).count();
        let mut seen = Seen::default();
        let outcome = tokio::time::timeout(CONSUME_TIMEOUT, async {
            while seen.count("all") < TOTAL || seen.count("tag1or2") < filtered_total {
                let Some(d) = rx.recv().await else { break };
                seen.record(&d, &topic, &ids);
            }
        })
        .await;

        for c in &consumers {
            c.shutdown().await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), producer.shutdown()).await;
        tp.shutdown().await;

        eprintln!(
            "rocketmq-client-rust → rmq-runtime: {} deliveries ({} duplicates); distinct: all {}, tag1or2 {}",
            seen.deliveries,
            seen.duplicates,
            seen.count("all"),
            seen.count("tag1or2"),
        );
        seen.assert_complete("all", |_| true, outcome.is_err());
        seen.assert_complete("tag1or2", filtered, outcome.is_err());
        assert_eq!(
            seen.duplicates, 0,
            "one consumer per group, no failures: nothing is delivered twice"
        );
        assert!(
            seen.flagged_compressed.is_empty(),
            "rmq-runtime clears the COMPRESSED flag of what it decompressed: {:?}",
            seen.flagged_compressed
        );
        seen.assert_orderly_keys_kept_their_queue();

        let (compressed, types) = stored_compressed(&raw, &topic).await;
        let big: BTreeSet<usize> = (0..TOTAL).filter(|&i| is_big(i) || i == NOISY).collect();
        assert_eq!(compressed, big, "stored with the COMPRESSED sysFlag");
        assert_eq!(
            types,
            BTreeSet::from([sysflag::COMPRESSION_ZLIB_TYPE]),
            "compression type bits"
        );
        broker.shutdown().await.expect("broker shutdown");
    }

    /// Decides by the message's `decision` property: `commit`/`rollback` at once, `later-commit` and
    /// `later-rollback` as UNKNOWN first and then by the answer to the broker's check-back, which it reports.
    struct Decider {
        checked: mpsc::UnboundedSender<usize>,
    }

    fn prop(msg: &dyn MessageTrait, key: &str) -> String {
        msg.property(&key.into())
            .map(|v| v.to_string())
            .unwrap_or_default()
    }

    impl TransactionListener for Decider {
        fn execute_local_transaction(
            &self,
            msg: &dyn MessageTrait,
            _arg: Option<&(dyn std::any::Any + Send + Sync)>,
        ) -> LocalTransactionState {
            match prop(msg, "decision").as_str() {
                "commit" => LocalTransactionState::CommitMessage,
                "rollback" => LocalTransactionState::RollbackMessage,
                _ => LocalTransactionState::Unknown,
            }
        }

        fn check_local_transaction(&self, msg: &TpMessageExt) -> LocalTransactionState {
            if let Ok(i) = prop(msg, "idx").parse() {
                let _ = self.checked.send(i);
            }
            match prop(msg, "decision").as_str() {
                "commit" | "later-commit" => LocalTransactionState::CommitMessage,
                _ => LocalTransactionState::RollbackMessage,
            }
        }
    }

    const DECISIONS: [&str; 4] = ["commit", "rollback", "later-commit", "later-rollback"];

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn third_party_transactions_reach_runtime_consumer_only_when_committed() {
        // Check-backs soon after a half message was stored, in short rounds.
        let broker = EmbeddedBroker::builder()
            .property("transactionTimeOut", "300")
            .property("transactionCheckInterval", "300")
            .property("transactionCheckMax", "300")
            .start()
            .await
            .expect("broker starts");
        let namesrv = broker.namesrv_addr();
        let raw = RawClient::connect(&broker.broker_addr())
            .await
            .expect("raw client");
        let topic = unique("TpTx");
        let tp = ThirdPartyRuntime::start("tp-tx");
        let (checked_tx, mut checked_rx) = mpsc::unbounded_channel();
        let mut producer = TransactionMQProducer::builder(tp.runtime.clone())
            .producer_group(unique("tp_tx_pg"))
            .name_server_addr(namesrv.clone())
            .send_msg_timeout(10_000)
            .transaction_listener(Decider {
                checked: checked_tx,
            })
            .build();
        producer
            .start()
            .await
            .expect("transactional producer starts");

        // Eight messages, two per decision, with the content of the other tests' messages 0..8.
        let n = 2 * DECISIONS.len();
        let decision = |i: usize| DECISIONS[i % DECISIONS.len()];
        let committed = |i: usize| i < n && decision(i).ends_with("commit");
        let mut ids = HashMap::new();
        for i in 0..n {
            let msg = message_with(&topic, i, [("decision", decision(i))]);
            let r = producer
                .send_message_in_transaction::<(), _>(msg, None)
                .await
                .expect("send in transaction");
            let sent = r.send_result.expect("half message stored");
            assert_eq!(sent.send_status, TpSendStatus::SendOk);
            ids.insert(i, sent.msg_id.expect("msg id").to_string());
        }
        wait_for_route(&namesrv, &topic).await;

        let (tx, mut rx) = mpsc::unbounded_channel();
        let consumer = start_consumer(&namesrv, &topic, "tx", "*", tx).await;
        let mut seen = Seen::default();
        let mut checked = BTreeSet::new();
        let later: BTreeSet<usize> = (0..n)
            .filter(|&i| decision(i).starts_with("later"))
            .collect();
        let wanted = (0..n).filter(|&i| committed(i)).count();
        let outcome = tokio::time::timeout(CONSUME_TIMEOUT, async {
            while seen.count("tx") < wanted || !later.is_subset(&checked) {
                tokio::select! {
                    d = rx.recv() => match d {
                        Some(d) => seen.record(&d, &topic, &ids),
                        None => break,
                    },
                    Some(i) = checked_rx.recv() => {
                        checked.insert(i);
                    }
                }
            }
        })
        .await;
        consumer.shutdown().await;
        let _ = tokio::time::timeout(Duration::from_secs(20), producer.shutdown()).await;
        tp.shutdown().await;

        eprintln!(
            "transactions: {} deliveries; checked back: {checked:?}",
            seen.deliveries
        );
        assert!(
            later.is_subset(&checked),
            "UNKNOWN transactions checked back: {checked:?} of {later:?}"
        );
        seen.assert_complete("tx", committed, outcome.is_err());
        assert_eq!(seen.duplicates, 0, "a committed message delivered twice");
        // The broker holds exactly the committed messages in the real topic.
        let mut stored: Vec<usize> = Vec::new();
        for q in 0..4 {
            for r in raw
                .pull_all(&unique("reader"), &topic, q, 0)
                .await
                .expect("pull stored records")
            {
                stored.push(r.properties()["idx"].parse().expect("idx"));
            }
        }
        stored.sort_unstable();
        let want: Vec<usize> = (0..n).filter(|&i| committed(i)).collect();
        assert_eq!(stored, want, "committed messages in the topic");
        broker.shutdown().await.expect("broker shutdown");
    }
}
