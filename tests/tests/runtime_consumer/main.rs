//! rmq-runtime's push consumer against the bundled broker over TCP: queue sharing in a group, rebalance on
//! join and on a crashed member, broadcasting, orderly per-key order, and retry → DLQ; the modules hold the
//! error paths (a refused send-back, flow control, orderly hand-over and takeover).

mod flow_control;
mod handover;
mod send_back;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use rmq_broker::embedded::EmbeddedBroker;
use rmq_runtime::consumer::dlq_topic;
use rmq_runtime::{
    ConsumeContext, ConsumeFromWhere, ConsumeOutcome, Message, MessageExt, MessageModel,
    MessageSelector, Producer, PushConsumer, PushConsumerOptions,
};
use rmq_tests::{eventually, unique, RawClient};
use tokio::sync::mpsc;

/// One delivery: which consumer got which body, with its reconsume count.
#[derive(Debug, Clone)]
struct Delivery {
    consumer: &'static str,
    body: String,
    reconsume_times: i32,
    queue_id: i32,
}

async fn producer(broker: &EmbeddedBroker) -> Producer {
    rmq_tests::fixtures::producer(&broker.namesrv_addr()).await
}

fn options(broker: &EmbeddedBroker, group: &str, topic: &str) -> PushConsumerOptions {
    let mut opts = PushConsumerOptions::new(group, broker.namesrv_addr())
        .subscribe(topic, MessageSelector::all());
    opts.consume_from_where = ConsumeFromWhere::FirstOffset;
    opts.client.instance_name = unique("c");
    opts.client.persist_offset_interval = Duration::from_millis(200);
    opts
}

async fn start(
    opts: PushConsumerOptions,
    name: &'static str,
    tx: mpsc::UnboundedSender<Delivery>,
    outcome: impl Fn(&MessageExt) -> ConsumeOutcome + Send + Sync + 'static,
) -> PushConsumer {
    let outcome = Arc::new(outcome);
    PushConsumer::start(opts, move |msgs: Vec<MessageExt>, ctx: ConsumeContext| {
        let tx = tx.clone();
        let outcome = outcome.clone();
        async move {
            let mut result = ConsumeOutcome::Success;
            for m in &msgs {
                let _ = tx.send(Delivery {
                    consumer: name,
                    body: String::from_utf8_lossy(&m.body).into_owned(),
                    reconsume_times: m.reconsume_times,
                    queue_id: ctx.queue.queue_id,
                });
                result = outcome(m);
            }
            result
        }
    })
    .await
    .expect("consumer starts")
}

/// Receives until `done` says so, failing after `limit`.
async fn collect_until(
    rx: &mut mpsc::UnboundedReceiver<Delivery>,
    limit: Duration,
    mut done: impl FnMut(&[Delivery]) -> bool,
) -> Vec<Delivery> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    while !done(&got) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(d)) => got.push(d),
            Ok(None) => break,
            Err(_) => panic!("timed out after {limit:?} with {} deliveries", got.len()),
        }
    }
    got
}

/// Queues of `topic` (not the retry topic) a member consumes.
fn owned(c: &PushConsumer, topic: &str) -> Vec<rmq_protocol::body::MessageQueue> {
    c.assigned_queues()
        .into_iter()
        .filter(|q| q.topic == topic)
        .collect()
}

fn distinct(d: &[Delivery]) -> HashSet<String> {
    d.iter().map(|d| d.body.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_split_the_queues_and_get_everything_once_then_a_third_joins() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let producer = producer(&broker).await;
    let topic = unique("Split");
    let group = unique("g");
    // Created empty, so no message can be consumed during the start-up window where both members briefly
    // hold the same queue (a rebalance moves a queue only after the new owner appeared).
    let raw = RawClient::connect(&broker.broker_addr()).await.unwrap();
    raw.create_topic(&topic, 4).await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let a = start(options(&broker, &group, &topic), "a", tx.clone(), |_| {
        ConsumeOutcome::Success
    })
    .await;
    let b = start(options(&broker, &group, &topic), "b", tx.clone(), |_| {
        ConsumeOutcome::Success
    })
    .await;
    // Both members must hold disjoint, complete shares before the real traffic.
    eventually(
        Duration::from_secs(20),
        "queues split between a and b",
        || {
            let (qa, qb) = (owned(&a, &topic), owned(&b, &topic));
            async move {
                let all: HashSet<_> = qa.iter().chain(qb.iter()).collect();
                Ok((qa.len() == 2 && qb.len() == 2 && all.len() == 4).then_some(()))
            }
        },
    )
    .await
    .unwrap();
    for i in 0..200 {
        producer
            .send(Message::new(&topic, format!("m{i}")))
            .await
            .unwrap();
    }
    let got = collect_until(&mut rx, Duration::from_secs(30), |d| {
        distinct(d).len() >= 200
    })
    .await;
    let per_body: HashMap<&str, usize> = got.iter().fold(HashMap::new(), |mut m, d| {
        *m.entry(d.body.as_str()).or_default() += 1;
        m
    });
    let twice: Vec<_> = per_body.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "nothing fails, so nothing is delivered twice: {twice:?} in {got:?}"
    );
    let by_a = got.iter().filter(|d| d.consumer == "a").count();
    assert!(
        by_a > 0 && by_a < got.len(),
        "both members consume ({by_a} of {})",
        got.len()
    );

    // A third member joins: queues are reallocated and nothing sent afterwards is lost.
    let c = start(options(&broker, &group, &topic), "c", tx.clone(), |_| {
        ConsumeOutcome::Success
    })
    .await;
    eventually(Duration::from_secs(20), "c gets a share", || {
        let n = owned(&c, &topic).len();
        async move { Ok((n > 0).then_some(())) }
    })
    .await
    .unwrap();
    for i in 200..400 {
        producer
            .send(Message::new(&topic, format!("m{i}")))
            .await
            .unwrap();
    }
    let got2 = collect_until(&mut rx, Duration::from_secs(30), |d| {
        (200..400).all(|i| d.iter().any(|x| x.body == format!("m{i}")))
    })
    .await;
    assert!(got2.iter().any(|d| d.consumer == "c"));
    for consumer in [&a, &b, &c] {
        consumer.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_dies_without_shutdown_loses_nothing() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let producer = producer(&broker).await;
    let topic = unique("Crash");
    let group = unique("g");
    producer
        .send(Message::new(&topic, "m-warmup"))
        .await
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let survivor = start(
        options(&broker, &group, &topic),
        "survivor",
        tx.clone(),
        |_| ConsumeOutcome::Success,
    )
    .await;

    // The victim runs on its own runtime; dropping that runtime kills it mid-flight: no offset commit, no
    // unregister, its connections just close.
    let victim_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let victim_opts = options(&broker, &group, &topic);
    let victim_tx = tx.clone();
    let victim = victim_rt
        .spawn(async move {
            let slow = start(victim_opts, "victim", victim_tx, |_| {
                ConsumeOutcome::Success
            })
            .await;
            // Keep it alive on this runtime.
            let q = slow.clone();
            std::mem::forget(slow);
            q
        })
        .await
        .unwrap();
    eventually(Duration::from_secs(20), "victim owns queues", || {
        let n = owned(&victim, &topic).len();
        async move { Ok((n == 2).then_some(())) }
    })
    .await
    .unwrap();
    for i in 0..100 {
        producer
            .send(Message::new(&topic, format!("m{i}")))
            .await
            .unwrap();
    }
    // Let the victim consume part of it, then kill it.
    let mut got = collect_until(&mut rx, Duration::from_secs(20), |d| {
        d.iter().filter(|x| x.consumer == "victim").count() >= 10
    })
    .await;
    std::thread::spawn(move || drop(victim_rt)).join().unwrap();
    for i in 100..200 {
        producer
            .send(Message::new(&topic, format!("m{i}")))
            .await
            .unwrap();
    }
    let before = got.clone();
    got.extend(
        collect_until(&mut rx, Duration::from_secs(40), |d| {
            (0..200).all(|i| {
                d.iter()
                    .chain(before.iter())
                    .any(|x| x.body == format!("m{i}"))
            })
        })
        .await,
    );
    assert!(got.iter().any(|d| d.consumer == "survivor"));
    eventually(Duration::from_secs(20), "survivor owns all queues", || {
        let n = owned(&survivor, &topic).len();
        async move { Ok((n == 4).then_some(())) }
    })
    .await
    .unwrap();
    survivor.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasting_delivers_everything_to_every_member() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let producer = producer(&broker).await;
    let topic = unique("Bcast");
    let group = unique("g");
    producer
        .send(Message::new(&topic, "b-first"))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut consumers = Vec::new();
    for name in ["x", "y"] {
        let mut opts = options(&broker, &group, &topic);
        opts.message_model = MessageModel::Broadcasting;
        opts.offsets_dir = dir.path().to_path_buf();
        consumers.push(start(opts, name, tx.clone(), |_| ConsumeOutcome::Success).await);
    }
    for i in 0..50 {
        producer
            .send(Message::new(&topic, format!("b{i}")))
            .await
            .unwrap();
    }
    let got = collect_until(&mut rx, Duration::from_secs(30), |d| {
        ["x", "y"].iter().all(|c| {
            d.iter()
                .filter(|x| x.consumer == *c)
                .map(|x| &x.body)
                .collect::<HashSet<_>>()
                .len()
                == 51
        })
    })
    .await;
    assert_eq!(got.len(), 102);
    for c in &consumers {
        c.shutdown().await;
    }
    // Each instance wrote its own offsets file.
    let files: Vec<_> = walk(dir.path());
    assert_eq!(
        files.iter().filter(|p| p.ends_with("offsets.json")).count(),
        2,
        "{files:?}"
    );
}

fn walk(p: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orderly_keeps_per_key_order_across_a_rebalance() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let producer = producer(&broker).await;
    let topic = unique("Orderly");
    let group = unique("g");
    producer
        .send_orderly(Message::new(&topic, "k0:warm"), "k0")
        .await
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut opts = options(&broker, &group, &topic);
    opts.orderly = true;
    let first = start(opts.clone(), "first", tx.clone(), |_| {
        ConsumeOutcome::Success
    })
    .await;
    let send_range = |from: usize, to: usize| {
        let producer = producer.clone();
        let topic = topic.clone();
        async move {
            for seq in from..to {
                for k in 0..10 {
                    let key = format!("k{k}");
                    producer
                        .send_orderly(Message::new(&topic, format!("{key}:{seq}")), &key)
                        .await
                        .unwrap();
                }
            }
        }
    };
    send_range(0, 50).await;
    opts.client.instance_name = unique("c");
    let second = start(opts, "second", tx.clone(), |_| ConsumeOutcome::Success).await;
    send_range(50, 100).await;
    let got = collect_until(&mut rx, Duration::from_secs(60), |d| {
        distinct(d).iter().filter(|b| !b.ends_with(":warm")).count() >= 1000
    })
    .await;
    // Per key, the first delivery of each sequence number comes in order (redelivery after a rebalance may
    // repeat a tail, never reorder).
    let mut seen: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for d in &got {
        let Some((key, seq)) = d.body.split_once(':') else {
            continue;
        };
        let Ok(seq) = seq.parse::<usize>() else {
            continue;
        };
        let list = seen.entry(key.to_string()).or_default();
        if !list.contains(&seq) {
            list.push(seq);
        }
    }
    let mut queue_of_key: BTreeMap<&str, HashSet<i32>> = BTreeMap::new();
    for d in &got {
        if let Some((key, _)) = d.body.split_once(':') {
            queue_of_key.entry(key).or_default().insert(d.queue_id);
        }
    }
    assert!(
        queue_of_key.values().all(|q| q.len() == 1),
        "one queue per key: {queue_of_key:?}"
    );
    for (key, seqs) in &seen {
        assert_eq!(seqs.len(), 100, "{key}");
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "{key} out of order: {seqs:?}"
        );
    }
    assert_eq!(
        owned(&second, &topic).len() + owned(&first, &topic).len(),
        4
    );
    first.shutdown().await;
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_then_dead_lettered() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let producer = producer(&broker).await;
    let topic = unique("Retry");
    let group = unique("g");
    producer
        .send(Message::new(&topic, "ok-first"))
        .await
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut opts = options(&broker, &group, &topic);
    opts.max_reconsume_times = 2;
    let consumer = start(opts, "c", tx, |m| {
        let body = String::from_utf8_lossy(&m.body).into_owned();
        if body == "always-fails" {
            ConsumeOutcome::Retry { delay_level: 1 }
        } else if body == "fails-once" && m.reconsume_times == 0 {
            panic!("a panicking handler counts as a failure")
        } else {
            ConsumeOutcome::Success
        }
    })
    .await;
    producer
        .send(Message::new(&topic, "fails-once"))
        .await
        .unwrap();
    producer
        .send(Message::new(&topic, "always-fails"))
        .await
        .unwrap();
    let got = collect_until(&mut rx, Duration::from_secs(40), |d| {
        d.iter().filter(|x| x.body == "always-fails").count() >= 3
            && d.iter()
                .any(|x| x.body == "fails-once" && x.reconsume_times == 1)
    })
    .await;
    let tries: Vec<i32> = got
        .iter()
        .filter(|d| d.body == "always-fails")
        .map(|d| d.reconsume_times)
        .collect();
    assert_eq!(
        tries,
        vec![0, 1, 2],
        "first delivery plus max_reconsume_times retries"
    );
    // After the last retry it lands in the group's DLQ.
    let raw = RawClient::connect(&broker.broker_addr()).await.unwrap();
    let dlq = dlq_topic(&group);
    let records = eventually(Duration::from_secs(20), "message in the DLQ", || {
        let raw = &raw;
        let dlq = dlq.clone();
        async move {
            let recs = raw
                .pull_all("dlq_reader", &dlq, 0, 0)
                .await
                .unwrap_or_default();
            Ok((!recs.is_empty()).then_some(recs))
        }
    })
    .await
    .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].body, b"always-fails");
    consumer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_reset_makes_a_running_group_consume_again() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let producer = producer(&broker).await;
    let topic = unique("Reset");
    let group = unique("g");
    let raw = RawClient::connect(&broker.broker_addr()).await.unwrap();
    raw.create_topic(&topic, 2).await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let consumer = start(options(&broker, &group, &topic), "c", tx, |_| {
        ConsumeOutcome::Success
    })
    .await;
    eventually(Duration::from_secs(10), "queues assigned", || {
        let n = owned(&consumer, &topic).len();
        async move { Ok((n == 2).then_some(())) }
    })
    .await
    .unwrap();
    for i in 0..20 {
        producer
            .send(Message::new(&topic, format!("r{i}")))
            .await
            .unwrap();
    }
    collect_until(&mut rx, Duration::from_secs(20), |d| {
        distinct(d).len() == 20
    })
    .await;
    consumer.persist_offsets().await;
    let admin =
        rmq_runtime::admin::Admin::start(rmq_runtime::ClientConfig::new(broker.namesrv_addr()))
            .await
            .unwrap();
    let offsets = admin
        .reset_offset_running(&group, &topic, 0, true)
        .await
        .unwrap();
    assert_eq!(offsets.len(), 2);
    assert!(offsets.values().all(|o| *o == 0), "{offsets:?}");
    let again = collect_until(&mut rx, Duration::from_secs(20), |d| {
        distinct(d).len() == 20
    })
    .await;
    assert_eq!(
        distinct(&again).len(),
        20,
        "every message is consumed again after the reset"
    );
    consumer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_drains_running_handlers_and_loses_nothing() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let producer = producer(&broker).await;
    let topic = unique("Drain");
    let group = unique("g");
    let raw = RawClient::connect(&broker.broker_addr()).await.unwrap();
    raw.create_topic(&topic, 2).await.unwrap();
    for i in 0..60 {
        producer
            .send(Message::new(&topic, format!("d{i}")))
            .await
            .unwrap();
    }
    let done = Arc::new(parking_lot::Mutex::new(Vec::<String>::new()));
    let begun = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let first_begun = begun.clone();
    let (started_tx, mut started_rx) = mpsc::unbounded_channel::<()>();
    let mut opts = options(&broker, &group, &topic);
    opts.consume_thread_max = 4;
    opts.await_termination = Duration::from_secs(10);
    let first_done = done.clone();
    let first = PushConsumer::start(opts, move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
        let done = first_done.clone();
        let started = started_tx.clone();
        let begun = first_begun.clone();
        async move {
            begun.fetch_add(msgs.len(), std::sync::atomic::Ordering::SeqCst);
            let _ = started.send(());
            // Real work takes time; shutdown must wait for it.
            tokio::time::sleep(Duration::from_millis(100)).await;
            done.lock().extend(
                msgs.iter()
                    .map(|m| String::from_utf8_lossy(&m.body).into_owned()),
            );
            ConsumeOutcome::Success
        }
    })
    .await
    .unwrap();
    for _ in 0..6 {
        started_rx.recv().await.unwrap();
    }
    first.shutdown().await;
    let finished_first: HashSet<String> = done.lock().iter().cloned().collect();
    assert_eq!(
        begun.load(std::sync::atomic::Ordering::SeqCst),
        finished_first.len(),
        "shutdown waited for every running handler"
    );
    assert!(
        finished_first.len() < 60,
        "shutdown stopped consumption early"
    );

    let (tx, mut rx) = mpsc::unbounded_channel();
    let second = start(options(&broker, &group, &topic), "second", tx, |_| {
        ConsumeOutcome::Success
    })
    .await;
    let rest: HashSet<String> = (0..60)
        .map(|i| format!("d{i}"))
        .filter(|b| !finished_first.contains(b))
        .collect();
    let got = collect_until(&mut rx, Duration::from_secs(20), |d| {
        rest.iter().all(|b| d.iter().any(|x| &x.body == b))
    })
    .await;
    // Offsets are committed up to the lowest unfinished message of each queue, so some finished work after a
    // not-yet-started message may be delivered again (at-least-once); nothing is lost.
    assert!(rest.iter().all(|b| got.iter().any(|d| &d.body == b)));
    second.shutdown().await;
}

/// A listener call longer than `consume_timeout` counts as failed: the message is sent back and delivered
/// again. The retry's 10 s back-off runs on a virtual clock shared by the broker and the consumer, so the
/// test does not wait it out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_slower_than_consume_timeout_is_retried() {
    let clock = rmq_protocol::clock::Clock::virtual_time();
    clock.set_auto_advance(true);
    let driver = tokio::spawn(clock.clone().drive());
    let broker = EmbeddedBroker::builder()
        .clock(clock.clone())
        .start()
        .await
        .expect("broker");
    let topic = unique("SlowListenerTopic");
    let group = unique("slow_listener_group");
    let mut opts = options(&broker, &group, &topic);
    opts.consume_timeout = Duration::from_millis(300);
    opts.clock = clock.clone();
    let (tx, mut rx) = mpsc::unbounded_channel::<Delivery>();
    let consumer = PushConsumer::start(opts, move |msgs: Vec<MessageExt>, ctx: ConsumeContext| {
        let tx = tx.clone();
        async move {
            for m in &msgs {
                let _ = tx.send(Delivery {
                    consumer: "slow",
                    body: String::from_utf8_lossy(&m.body).into_owned(),
                    reconsume_times: m.reconsume_times,
                    queue_id: ctx.queue.queue_id,
                });
                if m.reconsume_times == 0 {
                    // Far past consume_timeout (real time: the call itself is what is slow).
                    tokio::time::sleep(Duration::from_secs(3)).await;
                }
            }
            ConsumeOutcome::Success
        }
    })
    .await
    .expect("consumer");
    let p = producer(&broker).await;
    p.send(Message::new(&topic, "slow one"))
        .await
        .expect("send");
    let got = collect_until(&mut rx, Duration::from_secs(20), |d| {
        d.iter().any(|d| d.reconsume_times >= 1)
    })
    .await;
    assert_eq!(got[0].reconsume_times, 0);
    assert!(
        got.iter()
            .any(|d| d.body == "slow one" && d.reconsume_times == 1),
        "redelivered after the timeout: {got:?}"
    );
    consumer.shutdown().await;
    p.shutdown().await;
    driver.abort();
    let _ = broker.shutdown().await;
}

/// A committed offset beyond the queue (the broker lost its tail, or someone set it by hand) is answered
/// PULL_OFFSET_MOVED; the consumer moves to the broker's offset and goes on, instead of polling an offset
/// that will never exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offset_past_the_queue_is_moved_and_consumption_goes_on() {
    let broker = EmbeddedBroker::start().await.expect("broker");
    let topic = unique("MovedOffsetTopic");
    let group = unique("moved_offset_group");
    let raw = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    assert_eq!(raw.create_topic(&topic, 1).await.expect("create").code, 0);
    let p = producer(&broker).await;
    for i in 0..3 {
        p.send(Message::new(&topic, format!("old {i}")))
            .await
            .expect("send");
    }
    // The group's committed offset is far past the 3 stored messages.
    assert_eq!(
        raw.update_consumer_offset(&group, &topic, 0, 1_000)
            .await
            .expect("commit"),
        0
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    let consumer = start(options(&broker, &group, &topic), "c", tx, |_| {
        ConsumeOutcome::Success
    })
    .await;
    p.send(Message::new(&topic, "new")).await.expect("send");
    let got = collect_until(&mut rx, Duration::from_secs(20), |d| {
        d.iter().any(|d| d.body == "new")
            && d.iter().filter(|d| d.body.starts_with("old")).count() >= 3
    })
    .await;
    // Where the broker moves it follows Java 4.x's DefaultMessageStore: back to the start while the queue
    // still begins at offset 0 (nothing skipped; the old messages come again, once each), else to its end
    // (5.x always moves to the end).
    // CONCURRENTLY: listener calls run side by side, so the order of the deliveries is not promised.
    let mut bodies: Vec<&str> = got.iter().map(|d| d.body.as_str()).collect();
    bodies.sort_unstable();
    assert_eq!(bodies, ["new", "old 0", "old 1", "old 2"]);
    consumer.shutdown().await;
    p.shutdown().await;
    let _ = broker.shutdown().await;
}
