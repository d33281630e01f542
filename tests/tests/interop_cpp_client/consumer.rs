//! The C++ consumers: push (clustering, broadcasting, orderly, tag filter, redelivery, dead-lettering) and
//! pull, fed by rmq-runtime's producer.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use futures::future::join_all;
use rmq_protocol::body::MessageQueue;
use rmq_runtime::admin::SubscriptionGroupConfig;
use rmq_runtime::{Admin, ClientConfig, Producer, SendResult, SendStatus};
use rmq_tests::cpp_client::{self, push_args, with, Driver, Event};
use rmq_tests::fixtures::producer;
use rmq_tests::unique;
use serde_json::Value;
use tokio::sync::mpsc;

use super::*;

/// How rmq-runtime's producer sends message `i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RtMode {
    Sync,
    Async,
    Oneway,
    Orderly,
    Batch,
}

fn rt_mode(i: usize) -> RtMode {
    [
        RtMode::Sync,
        RtMode::Async,
        RtMode::Oneway,
        RtMode::Orderly,
        RtMode::Batch,
    ][i % 5]
}

fn sent_ok(i: usize, r: rmq_runtime::Result<SendResult>) -> (usize, String) {
    match r {
        Ok(r) if r.status == SendStatus::SendOk => (i, r.msg_id),
        other => panic!("rmq-runtime send {i}: {other:?}"),
    }
}

/// Sends messages `range` of `topic` with rmq-runtime's producer, each in mode [`rt_mode`] (the batch ones
/// last, together; orderly by key `order-{i % 3}`); returns the message id of each send that reports one.
async fn send_all(
    producer: &Producer,
    topic: &str,
    range: std::ops::Range<usize>,
) -> HashMap<usize, String> {
    let mut ids = HashMap::new();
    let mut pending = Vec::new();
    let mut batch = Vec::new();
    for i in range {
        let msg = runtime_message(topic, i);
        match rt_mode(i) {
            RtMode::Sync => ids.extend([sent_ok(i, producer.send(msg).await)]),
            RtMode::Async => {
                let fut = producer.send_async(msg);
                pending.push(async move { sent_ok(i, fut.await) });
            }
            RtMode::Oneway => producer.send_oneway(msg).await.expect("oneway send"),
            RtMode::Orderly => {
                let key = format!("order-{}", i % 3);
                ids.extend([sent_ok(i, producer.send_orderly(msg, &key).await)]);
            }
            RtMode::Batch => batch.push((i, msg)),
        }
    }
    ids.extend(join_all(pending).await);
    if !batch.is_empty() {
        let (idx, msgs): (Vec<usize>, Vec<Message>) = batch.into_iter().unzip();
        let results = producer.send_batch(msgs).await.expect("batch send");
        assert_eq!(results.len(), idx.len(), "one result per batch message");
        ids.extend(idx.into_iter().zip(results.into_iter().map(|r| r.msg_id)));
    }
    ids
}

/// C++ consumer drivers whose events arrive on one channel.
struct Consumers {
    drivers: Vec<Driver>,
    tx: mpsc::UnboundedSender<Event>,
    rx: mpsc::UnboundedReceiver<Event>,
    /// Every delivery so far, in arrival order.
    log: Vec<Received>,
}

impl Consumers {
    fn new() -> Consumers {
        let (tx, rx) = mpsc::unbounded_channel();
        Consumers {
            drivers: Vec::new(),
            tx,
            rx,
            log: Vec::new(),
        }
    }

    /// Starts a `push` driver named `name` (also its `consumer` label) and waits until it is ready.
    async fn push(&mut self, name: &str, args: Value) {
        let args = with(args, "consumer", name);
        let d = Driver::start_shared(name, "push", &args, self.tx.clone())
            .await
            .unwrap_or_else(|e| panic!("C++ push consumer {name}: {e:#}"));
        self.drivers.push(d);
    }

    /// Records deliveries into `tally` (checked against what was sent to `topic`) until `done` holds or
    /// `timeout` passes; returns whether `done` held. A `fatal` event or garbage on stdout fails.
    async fn collect(
        &mut self,
        tally: &mut Tally,
        topic: &str,
        timeout: Duration,
        mut done: impl FnMut(&Tally, &[Received]) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while !done(tally, &self.log) {
            let Ok(Some(e)) = tokio::time::timeout_at(deadline, self.rx.recv()).await else {
                return false;
            };
            match e.kind.as_str() {
                "msg" => {
                    let r = e.msg().unwrap_or_else(|err| panic!("{err:#}"));
                    tally.record(&r.consumer, check_cpp(&r, topic));
                    self.log.push(r);
                }
                "fatal" | "garbage" => panic!("[{}] {}\n{}", e.driver, e.json, self.diagnostics()),
                _ => {}
            }
        }
        true
    }

    /// Every driver's diagnostics.
    fn diagnostics(&self) -> String {
        self.drivers
            .iter()
            .map(Driver::diagnostics)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Shuts every consumer down; each must exit cleanly.
    async fn stop(self) {
        for d in self.drivers {
            let name = d.name().to_owned();
            d.stop(Duration::from_secs(30))
                .await
                .unwrap_or_else(|e| panic!("stopping C++ consumer {name}: {e:#}"));
        }
    }
}

/// The id checks every C++ delivery of rmq-runtime's messages passes: the client's message id is the
/// producer's (UNIQ_KEY) where the producer reported one.
fn assert_ids(log: &[Received], ids: &HashMap<usize, String>) {
    let wrong: Vec<String> = log
        .iter()
        .filter_map(|r| {
            let i: usize = r.prop("idx")?.parse().ok()?;
            let want = ids.get(&i)?;
            (r.prop("UNIQ_KEY") != Some(want.as_str()) || r.id.as_deref() != Some(want.as_str()))
                .then(|| {
                    format!(
                        "message {i}: id {:?}, UNIQ_KEY {:?}, sent as {want:?}",
                        r.id,
                        r.prop("UNIQ_KEY")
                    )
                })
        })
        .collect();
    assert!(wrong.is_empty(), "message ids: {wrong:#?}");
}

/// rmq-runtime's producer (sync, async, oneway, orderly, batch) → one C++ push consumer, concurrent,
/// CLUSTERING, `*`: each of 100 messages delivered once with topic, tags, keys, user properties, body and
/// message id intact, and with the queue id, queue offset and store timestamp it was stored with. One
/// consumer that always succeeds: a duplicate would be a broker or client fault.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_producer_to_cpp_push_consumer() {
    if !cpp("runtime_producer_to_cpp_push_consumer") {
        return;
    }
    const N: usize = 100;
    let setup = Setup::start("RtToCpp").await;
    let topic = setup.topic.clone();
    let mut consumers = Consumers::new();
    consumers
        .push(
            "cpp-push",
            push_args(&setup.namesrv, &unique("cpp_push"), &topic, &PROPS),
        )
        .await;
    let producer = producer(&setup.namesrv).await;
    let ids = send_all(&producer, &topic, 0..N).await;
    let all: BTreeSet<usize> = (0..N).collect();
    let mut tally = Tally::default();
    let done = consumers
        .collect(&mut tally, &topic, CONSUME_TIMEOUT, |t, _| {
            t.count("cpp-push") >= N
        })
        .await;
    let context = format!(
        "rmq-runtime → C++ push (done: {done})\n{}",
        if done {
            String::new()
        } else {
            consumers.diagnostics()
        }
    );
    tally.assert_exactly("cpp-push", &all, &context);
    assert_eq!(tally.duplicates, 0, "{context}: duplicates");
    assert_ids(&consumers.log, &ids);
    // The rest of what the client reports: queue ids and offsets are exactly the stored ones, timestamps and
    // counts plausible.
    let stored = setup.stored(&topic).await;
    let stored_at: BTreeMap<usize, (i32, i64, i64)> = stored
        .values()
        .flatten()
        .map(|r| {
            let i = r.properties()["idx"].parse().expect("idx");
            (i, (r.queue_id, r.queue_offset, r.store_timestamp))
        })
        .collect();
    let mut problems = Vec::new();
    for r in &consumers.log {
        let i: usize = r.prop("idx").and_then(|v| v.parse().ok()).expect("idx");
        let (q, offset, store_ts) = stored_at[&i];
        if (r.queue_id, r.queue_offset, r.store_timestamp) != (q, offset, store_ts) {
            problems.push(format!(
                "message {i}: queue {} offset {} stored at {} != the stored queue {q} offset {offset} at {store_ts}",
                r.queue_id, r.queue_offset, r.store_timestamp
            ));
        }
        if r.born_timestamp > r.store_timestamp
            || r.store_timestamp > r.received_ms
            || r.reconsume_times != 0
            || r.delay_level != 0
            || r.body_len != expected(i).body.len()
        {
            problems.push(format!("message {i}: {r:?}"));
        }
    }
    assert!(problems.is_empty(), "{context}: {problems:#?}");
    consumers.stop().await;
    producer.shutdown().await;
    setup.shutdown().await;
}

/// Two C++ push consumers in one CLUSTERING group share the topic's queues: together they get each of 120
/// messages (sent after both joined), and each gets some. Duplicates are tolerated (at-least-once: a queue
/// can move between them while the second one joins) and reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpp_push_consumers_share_a_clustering_group() {
    if !cpp("cpp_push_consumers_share_a_clustering_group") {
        return;
    }
    const N: usize = 120;
    let setup = Setup::start("CppCluster").await;
    let topic = setup.topic.clone();
    let group = unique("cpp_cluster");
    let mut consumers = Consumers::new();
    for name in ["member-1", "member-2"] {
        let args = with(
            push_args(&setup.namesrv, &group, &topic, &PROPS),
            "instance_name",
            name,
        );
        consumers.push(name, args).await;
    }
    // The second member's arrival makes the broker tell the first (NOTIFY_CONSUMER_IDS_CHANGED), and the
    // client then rebalances; rebalancing also runs every 10 s. Wait until the admin view lists both.
    let admin = Admin::start(ClientConfig::new(setup.namesrv.clone()))
        .await
        .expect("admin");
    eventually(
        Duration::from_secs(20),
        "both members connected",
        || async {
            let c = admin.consumer_connections(&group).await?;
            Ok((c.connection_set.len() == 2).then_some(()))
        },
    )
    .await
    .expect("group membership");
    let producer = producer(&setup.namesrv).await;
    send_all(&producer, &topic, 0..N).await;
    let all: BTreeSet<usize> = (0..N).collect();
    let mut tally = Tally::default();
    let union = |t: &Tally| -> BTreeSet<usize> { t.distinct.values().flatten().copied().collect() };
    let done = consumers
        .collect(&mut tally, &topic, CONSUME_TIMEOUT, |t, _| {
            union(t).len() >= N
        })
        .await;
    let context = format!(
        "two C++ members (done: {done})\n{}",
        if done {
            String::new()
        } else {
            consumers.diagnostics()
        }
    );
    assert!(tally.errors.is_empty(), "{context}: {:#?}", tally.errors);
    assert_eq!(union(&tally), all, "{context}: the group got every message");
    eprintln!(
        "clustering: member-1 {} distinct, member-2 {} distinct, {} duplicates",
        tally.count("member-1"),
        tally.count("member-2"),
        tally.duplicates
    );
    assert!(
        tally.count("member-1") > 0 && tally.count("member-2") > 0,
        "{context}: both members consume (member-1 {}, member-2 {})",
        tally.count("member-1"),
        tally.count("member-2")
    );
    consumers.stop().await;
    producer.shutdown().await;
    setup.shutdown().await;
}

/// Two C++ push consumers of one BROADCASTING group each get every one of 60 messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpp_push_consumers_broadcasting_each_get_everything() {
    if !cpp("cpp_push_consumers_broadcasting_each_get_everything") {
        return;
    }
    const N: usize = 60;
    let setup = Setup::start("CppBroadcast").await;
    let topic = setup.topic.clone();
    let group = unique("cpp_broadcast");
    let mut consumers = Consumers::new();
    for name in ["listener-1", "listener-2"] {
        let args = with(
            with(
                push_args(&setup.namesrv, &group, &topic, &PROPS),
                "model",
                "BROADCASTING",
            ),
            "instance_name",
            name,
        );
        consumers.push(name, args).await;
    }
    let producer = producer(&setup.namesrv).await;
    send_all(&producer, &topic, 0..N).await;
    let all: BTreeSet<usize> = (0..N).collect();
    let mut tally = Tally::default();
    let done = consumers
        .collect(&mut tally, &topic, CONSUME_TIMEOUT, |t, _| {
            t.count("listener-1") >= N && t.count("listener-2") >= N
        })
        .await;
    let context = format!(
        "broadcasting (done: {done})\n{}",
        if done {
            String::new()
        } else {
            consumers.diagnostics()
        }
    );
    tally.assert_exactly("listener-1", &all, &context);
    tally.assert_exactly("listener-2", &all, &context);
    consumers.stop().await;
    producer.shutdown().await;
    setup.shutdown().await;
}

/// An orderly C++ push consumer (the binding's `orderly=True`: the client locks its queues on the broker with
/// LOCK_BATCH_MQ and consumes each queue on one thread at a time; 4 threads, batches of up to 8): 90 messages sent orderly by rmq-runtime
/// under three keys arrive with each key's messages from one queue, in send order, and each queue's
/// deliveries in offset order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpp_orderly_push_consumer_keeps_queue_order() {
    if !cpp("cpp_orderly_push_consumer_keeps_queue_order") {
        return;
    }
    const N: usize = 90;
    let setup = Setup::start("CppOrderly").await;
    let topic = setup.topic.clone();
    let mut consumers = Consumers::new();
    let args = with(
        with(
            with(
                push_args(&setup.namesrv, &unique("cpp_orderly"), &topic, &PROPS),
                "orderly",
                true,
            ),
            "thread_count",
            4,
        ),
        "batch_max_size",
        8,
    );
    consumers.push("orderly", args).await;
    let producer = producer(&setup.namesrv).await;
    for i in 0..N {
        let key = format!("order-{}", i % 3);
        sent_ok(
            i,
            producer
                .send_orderly(runtime_message(&topic, i), &key)
                .await,
        );
    }
    let all: BTreeSet<usize> = (0..N).collect();
    let mut tally = Tally::default();
    let done = consumers
        .collect(&mut tally, &topic, CONSUME_TIMEOUT, |t, _| {
            t.count("orderly") >= N
        })
        .await;
    let context = format!(
        "orderly (done: {done})\n{}",
        if done {
            String::new()
        } else {
            consumers.diagnostics()
        }
    );
    tally.assert_exactly("orderly", &all, &context);
    assert_eq!(tally.duplicates, 0, "{context}: duplicates");
    let mut per_key: BTreeMap<usize, Vec<(usize, i32)>> = BTreeMap::new();
    let mut per_queue: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for r in &consumers.log {
        let i: usize = r.prop("idx").and_then(|v| v.parse().ok()).expect("idx");
        per_key.entry(i % 3).or_default().push((i, r.queue_id));
        per_queue
            .entry(r.queue_id)
            .or_default()
            .push(r.queue_offset);
    }
    for (key, got) in &per_key {
        let queues: BTreeSet<i32> = got.iter().map(|g| g.1).collect();
        assert_eq!(
            queues.len(),
            1,
            "key order-{key} came from queues {queues:?}"
        );
        let order: Vec<usize> = got.iter().map(|g| g.0).collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "key order-{key} delivered as {order:?}"
        );
    }
    for (q, offsets) in &per_queue {
        assert!(
            offsets.windows(2).all(|w| w[0] < w[1]),
            "queue {q} delivered offsets {offsets:?}"
        );
    }
    consumers.stop().await;
    producer.shutdown().await;
    setup.shutdown().await;
}

/// A C++ push consumer subscribed with `TagA || TagB` gets exactly the TagA and TagB messages of 90 (the
/// broker filters by the tag hash codes in the client's heartbeat), and one with `TagC` exactly the others.
///
/// So that a wrongly delivered message cannot hide after the last wanted one, each queue ends with a TagA and
/// a TagC message (sent to that queue), both consumers run one listener thread, and the test waits for those
/// too: the client pulls a queue in order, so anything wrongly let through comes before them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpp_push_consumer_tag_filter() {
    if !cpp("cpp_push_consumer_tag_filter") {
        return;
    }
    const N: usize = 90;
    let setup = Setup::start("CppTags").await;
    let topic = setup.topic.clone();
    let mut consumers = Consumers::new();
    for (name, expr) in [("ab", "TagA || TagB"), ("c", "TagC")] {
        let args = with(
            with(
                push_args(&setup.namesrv, &unique("cpp_tags"), &topic, &PROPS),
                "expression",
                expr,
            ),
            "thread_count",
            1,
        );
        consumers.push(name, args).await;
    }
    let producer = producer(&setup.namesrv).await;
    send_all(&producer, &topic, 0..N).await;
    // Closing messages: index N + 3q is a TagA, N + 3q + 2 a TagC message (tags go by index % 3; N % 3 == 0).
    let broker_name = broker_name(&setup, &topic).await;
    let mut total = N;
    for q in 0..QUEUES {
        for i in [N + 3 * q as usize, N + 3 * q as usize + 2] {
            let mq = MessageQueue {
                topic: topic.clone(),
                broker_name: broker_name.clone(),
                queue_id: q,
            };
            sent_ok(
                i,
                producer
                    .send_to_queue(runtime_message(&topic, i), &mq)
                    .await,
            );
            total = total.max(i + 1);
        }
    }
    let sent = |i: usize| i < N || (i - N) % 3 != 1;
    let ab: BTreeSet<usize> = (0..total)
        .filter(|&i| sent(i) && expected(i).tags != "TagC")
        .collect();
    let c: BTreeSet<usize> = (0..total)
        .filter(|&i| sent(i) && expected(i).tags == "TagC")
        .collect();
    let mut tally = Tally::default();
    let done = consumers
        .collect(&mut tally, &topic, CONSUME_TIMEOUT, |t, _| {
            t.count("ab") >= ab.len() && t.count("c") >= c.len()
        })
        .await;
    let context = format!(
        "tag filter (done: {done})\n{}",
        if done {
            String::new()
        } else {
            consumers.diagnostics()
        }
    );
    tally.assert_exactly("ab", &ab, &context);
    tally.assert_exactly("c", &c, &context);
    consumers.stop().await;
    producer.shutdown().await;
    setup.shutdown().await;
}

/// The broker name the name server routes `topic` to.
async fn broker_name(setup: &Setup, topic: &str) -> String {
    let admin = Admin::start(ClientConfig::new(setup.namesrv.clone()))
        .await
        .expect("admin");
    let route = admin.topic_route(topic).await.expect("route");
    route.broker_datas[0].broker_name.clone()
}

/// (reconsume count, raised) of each delivery, per message index, in arrival order.
fn attempts(log: &[Received]) -> BTreeMap<usize, Vec<(i32, bool)>> {
    let mut m: BTreeMap<usize, Vec<(i32, bool)>> = BTreeMap::new();
    for r in log {
        if let Some(i) = r.prop("idx").and_then(|v| v.parse().ok()) {
            m.entry(i).or_default().push((r.reconsume_times, r.raised));
        }
    }
    m
}

/// What every redelivery test requires: per message, reconsume counts strictly increase in arrival order,
/// and a redelivered message (count > 0) carries RETRY_TOPIC = `topic`.
fn check_attempts(
    attempts: &BTreeMap<usize, Vec<(i32, bool)>>,
    topic: &str,
    log: &[Received],
) -> Vec<String> {
    let mut problems: Vec<String> = attempts
        .iter()
        .filter(|(_, v)| !v.windows(2).all(|w| w[0].0 < w[1].0))
        .map(|(i, v)| format!("message {i}: counts not increasing: {v:?}"))
        .collect();
    problems.extend(
        log.iter()
            .filter(|r| r.reconsume_times > 0 && r.prop("RETRY_TOPIC") != Some(topic))
            .map(|r| {
                format!(
                    "message {:?} (count {}): RETRY_TOPIC {:?}",
                    r.prop("idx"),
                    r.reconsume_times,
                    r.prop("RETRY_TOPIC")
                )
            }),
    );
    problems
}

/// A broker whose delay levels are all 1 s, so that redeliveries (level 3 + reconsume count, which the
/// broker picks because the C++ client sends its messages back with delay level 0) come after a second.
fn quick_retry_broker() -> EmbeddedBrokerBuilder {
    EmbeddedBroker::builder().property("messageDelayLevel", vec!["1s"; 18].join(" "))
}

/// The listener raises (the binding answers RECONSUME_LATER) while a message's reconsume count is below 2
/// (`fail_until=2`), for 10 messages: each comes back with a higher count each time (the broker stores the
/// send-back in `%RETRY%<group>` with RETRY_TOPIC = the topic; the client restores the topic), raised-for
/// deliveries all below 2, then one successful delivery at 2 or more, its content intact every time.
///
/// Not every count is seen by the listener: the C++ client (1.x) hands a concurrent listener everything one
/// pull returned (up to 32 messages, its batch size only applies to orderly consumers), the C binding stops at
/// the first message the listener refuses and answers RECONSUME_LATER for the whole call, so the messages
/// after it go back to the broker unseen with their count raised. Hence "strictly increasing" for each, and
/// "0, 1, 2" only for message 0, which is sent (and redelivered until it succeeds) alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpp_push_consumer_redelivers_after_the_listener_raises() {
    if !cpp("cpp_push_consumer_redelivers_after_the_listener_raises") {
        return;
    }
    const N: usize = 10;
    let setup = Setup::start_with(quick_retry_broker(), "CppRetry").await;
    let topic = setup.topic.clone();
    let mut consumers = Consumers::new();
    consumers
        .push(
            "retry",
            push_args(&setup.namesrv, &unique("cpp_retry"), &topic, &PROPS),
        )
        .await;
    let producer = producer(&setup.namesrv).await;
    let send = |i: usize| {
        let msg = runtime_message(&topic, i).with_property("fail_until", "2");
        let producer = &producer;
        async move { sent_ok(i, producer.send(msg).await) }
    };
    // Message 0 alone first, so that it is alone in its pulls and in the retry queue: the listener sees all
    // its counts. The others follow once it succeeded (sent earlier, their retries could share a pull with
    // message 0's and hide a count of it, as seen on a loaded machine).
    send(0).await;
    let mut tally = Tally::default();
    let first = consumers
        .collect(&mut tally, &topic, CONSUME_TIMEOUT, |_, log| {
            attempts(log)
                .get(&0)
                .is_some_and(|v| v.iter().any(|d| !d.1))
        })
        .await;
    for i in 1..N {
        send(i).await;
    }
    let done = first
        && consumers
            .collect(&mut tally, &topic, CONSUME_TIMEOUT, |_, log| {
                let a = attempts(log);
                a.len() == N && a.values().all(|v| v.iter().any(|d| !d.1))
            })
            .await;
    let context = format!(
        "redelivery (done: {done})\n{}",
        if done {
            String::new()
        } else {
            consumers.diagnostics()
        }
    );
    let all: BTreeSet<usize> = (0..N).collect();
    tally.assert_exactly("retry", &all, &context);
    let attempts = attempts(&consumers.log);
    let problems = check_attempts(&attempts, &topic, &consumers.log);
    assert!(
        problems.is_empty(),
        "{context}: {problems:#?}\n{attempts:?}"
    );
    for (i, seen) in &attempts {
        let (last, raised) = *seen.last().expect("a delivery");
        assert!(
            !raised && last >= 2 && seen[..seen.len() - 1].iter().all(|d| d.1 && d.0 < 2),
            "{context}: message {i} (fail_until=2): (reconsume count, raised) {seen:?}"
        );
    }
    assert_eq!(
        attempts[&0],
        [(0, true), (1, true), (2, false)],
        "{context}: message 0, alone in its pulls, seen with each count"
    );
    let complete = attempts
        .values()
        .filter(|v| v.iter().map(|d| d.0).collect::<Vec<_>>() == [0, 1, 2])
        .count();
    eprintln!("redelivery: {complete} of {N} messages seen with every count 0, 1, 2: {attempts:?}");
    consumers.stop().await;
    producer.shutdown().await;
    setup.shutdown().await;
}

/// The listener always raises for 5 messages, in a group whose `retryMaxTimes` is 2 (set with rmq-runtime's
/// Admin before the consumer starts): each is delivered with reconsume counts up to 2 (increasing, RETRY_TOPIC
/// set), then lands in `%DLQ%<group>` once, where rmq-runtime's Admin reads it back with its content, and it
/// is not delivered with a count above 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpp_push_consumer_dead_letters_after_max_reconsume_times() {
    if !cpp("cpp_push_consumer_dead_letters_after_max_reconsume_times") {
        return;
    }
    const N: usize = 5;
    let setup = Setup::start_with(quick_retry_broker(), "CppDlq").await;
    let topic = setup.topic.clone();
    let group = unique("cpp_dlq");
    let admin = Admin::start(ClientConfig::new(setup.namesrv.clone()))
        .await
        .expect("admin");
    let broker_addr = setup.broker.broker_addr();
    admin
        .create_subscription_group(
            &broker_addr,
            &SubscriptionGroupConfig {
                group_name: group.clone(),
                retry_max_times: 2,
                ..SubscriptionGroupConfig::default()
            },
        )
        .await
        .expect("create the consumer group");
    let mut consumers = Consumers::new();
    consumers
        .push("dlq", push_args(&setup.namesrv, &group, &topic, &PROPS))
        .await;
    let producer = producer(&setup.namesrv).await;
    for i in 0..N {
        let msg = runtime_message(&topic, i).with_property("fail_until", "1000");
        sent_ok(i, producer.send(msg).await);
    }

    // The dead-letter queue fills up while the consumer keeps running.
    let dlq = format!("%DLQ%{group}");
    let dead = eventually(CONSUME_TIMEOUT, "all messages dead-lettered", || async {
        match setup.raw.pull_all(&unique("dlq_reader"), &dlq, 0, 0).await {
            Ok(records) => Ok((records.len() >= N).then_some(records)),
            Err(_) => Ok(None), // no DLQ topic yet
        }
    })
    .await;
    // Drain what the consumer saw meanwhile (without waiting for more).
    let mut tally = Tally::default();
    consumers
        .collect(&mut tally, &topic, Duration::from_secs(2), |_, _| false)
        .await;
    let context = format!("dead-lettering\n{}", consumers.diagnostics());
    let dead = dead.unwrap_or_else(|e| panic!("{e:#}\n{context}"));
    let dead_idx: BTreeSet<usize> = dead
        .iter()
        .map(|r| r.properties()["idx"].parse().expect("idx"))
        .collect();
    let all: BTreeSet<usize> = (0..N).collect();
    assert_eq!(dead_idx, all, "dead-lettered messages");
    assert_eq!(dead.len(), N, "each message dead-lettered once");

    // Read back with rmq-runtime's Admin: content intact (body, tags, keys, properties).
    let broker_name = broker_name(&setup, &dlq).await;
    let pulled = admin
        .pull_messages(
            &group,
            &MessageQueue {
                topic: dlq.clone(),
                broker_name,
                queue_id: 0,
            },
            0,
            32,
        )
        .await
        .expect("Admin pulls the DLQ");
    let mut admin_tally = Tally::default();
    for m in pulled.messages {
        let d = RtDelivery {
            consumer: "dlq-admin",
            msg: m,
            received_ms: now_ms(),
        };
        // In the DLQ the topic is the DLQ's; the original one is kept in RETRY_TOPIC / REAL_TOPIC.
        admin_tally.record("dlq-admin", check_runtime(&d, &dlq));
    }
    admin_tally.assert_exactly("dlq-admin", &all, "Admin read of the DLQ");

    // Every delivery intact and one of ours; not every message need have been seen: the binding hands back a
    // whole pull unseen after the first refusal (see the redelivery test), so a message can reach the DLQ
    // without ever being first in a call (seen once on a loaded machine).
    assert!(
        tally.errors.is_empty(),
        "{context}: bad deliveries {:#?}",
        &tally.errors[..tally.errors.len().min(5)]
    );
    let seen = tally.distinct.get("dlq").cloned().unwrap_or_default();
    assert!(seen.is_subset(&all), "{context}: not ours: {seen:?}");
    assert!(!seen.is_empty(), "{context}: the listener saw nothing");
    // Counts 0..=2 only (nothing after the DLQ), strictly increasing; not each count is seen (see the
    // redelivery test).
    let attempts = attempts(&consumers.log);
    let mut problems = check_attempts(&attempts, &topic, &consumers.log);
    problems.extend(
        attempts
            .iter()
            .filter(|(_, v)| v.iter().any(|d| d.0 > 2 || !d.1))
            .map(|(i, v)| format!("message {i}: (count, raised) {v:?}")),
    );
    assert!(problems.is_empty(), "{context}: {problems:#?}");
    consumers.stop().await;
    producer.shutdown().await;
    setup.shutdown().await;
}

/// The C++ pull consumer (offsets kept by the binding, from 0) pulls all 90 messages of every queue, once,
/// intact, and with the expression `TagA || TagB` exactly those tags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpp_pull_consumer_pulls_everything_and_by_tag() {
    if !cpp("cpp_pull_consumer_pulls_everything_and_by_tag") {
        return;
    }
    const N: usize = 90;
    let setup = Setup::start("CppPull").await;
    let topic = setup.topic.clone();
    let producer = producer(&setup.namesrv).await;
    let ids = send_all(&producer, &topic, 0..N).await;
    for (label, expr, wanted) in [
        ("pull-all", "*", (0..N).collect::<BTreeSet<usize>>()),
        (
            "pull-ab",
            "TagA || TagB",
            (0..N).filter(|&i| expected(i).tags != "TagC").collect(),
        ),
    ] {
        let pulled = cpp_client::pull_all(
            label,
            &setup.namesrv,
            &unique("cpp_pull"),
            &topic,
            expr,
            &PROPS,
            Duration::from_secs(60),
        )
        .await
        .unwrap_or_else(|e| panic!("{label}: {e:#}"));
        let mut tally = Tally::default();
        for r in &pulled {
            tally.record(label, check_cpp(r, &topic));
        }
        tally.assert_exactly(label, &wanted, &format!("C++ pull with {expr:?}"));
        assert_eq!(tally.duplicates, 0, "{label}: pulled twice");
        assert_ids(&pulled, &ids);
    }
    producer.shutdown().await;
    setup.shutdown().await;
}
