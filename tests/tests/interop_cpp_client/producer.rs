//! The C++ producer: every send mode of the binding, compression of large bodies, delay levels and the
//! client's own size limit. What it sent is read back from the store (raw pulls) and by rmq-runtime's push
//! consumers.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use rmq_protocol::message::sysflag;
use rmq_tests::cpp_client::{self, CppMessage, Produced, SendMode};
use rmq_tests::unique;
use serde_json::json;
use tokio::sync::mpsc;

use super::*;

/// Message `i` of the mixed-mode test as a C++ producer message.
fn cpp_message(topic: &str, i: usize) -> CppMessage {
    let e = expected(i);
    let mut m = CppMessage::new(topic, e.body).tags(e.tags).keys(&e.keys);
    for (k, v) in &e.props {
        m = m.prop(k, v);
    }
    m
}

/// Runs the C++ producer over `messages` (default options plus `extra`).
async fn produce(
    setup: &Setup,
    name: &str,
    messages: &[CppMessage],
    extra: serde_json::Value,
) -> Produced {
    cpp_client::produce(
        name,
        &setup.namesrv,
        &unique("cpp_pg"),
        messages,
        extra,
        Duration::from_secs(90),
    )
    .await
    .unwrap_or_else(|e| panic!("{name}: {e:#}"))
}

/// The mode of message `i` in the mixed-mode test.
fn mode(i: usize) -> SendMode {
    [
        SendMode::Sync,
        SendMode::Async,
        SendMode::Oneway,
        SendMode::Orderly,
        SendMode::OnewayOrderly,
    ][i % 5]
}

/// The binding's single-message send modes (sync, async, oneway, orderly, oneway orderly), 120 messages:
/// each is stored exactly once with its content, orderly sends of one shard land in one queue (`shard % 4`,
/// the binding's selector) and the sync ones in send order, the message id the client reported is the stored
/// UNIQ_KEY, and rmq-runtime's push consumers (`*` and `TagA || TagB`) get exactly the messages they
/// subscribed to, intact. (`send_batch` has its own test.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpp_producer_send_modes_reach_store_and_runtime_consumers() {
    if !cpp("cpp_producer_send_modes_reach_store_and_runtime_consumers") {
        return;
    }
    const N: usize = 120;
    let setup = Setup::start("CppModes").await;
    let topic = setup.topic.clone();
    let messages: Vec<CppMessage> = (0..N)
        .map(|i| {
            let mut m = cpp_message(&topic, i).mode(mode(i));
            m.shard = (i % 3) as i32;
            m
        })
        .collect();
    let produced = produce(&setup, "cpp-producer", &messages, json!({})).await;
    produced.assert_all_ok();
    let by_mode: BTreeMap<String, usize> =
        produced.reports.iter().fold(BTreeMap::new(), |mut m, r| {
            *m.entry(format!("{:?}", r.mode)).or_default() += 1;
            m
        });
    eprintln!("C++ sends by mode: {by_mode:?}");

    // The store: every index once, with its content; orderly shards in one queue, in order.
    let stored = setup.stored(&topic).await;
    let mut seen: HashMap<usize, (i32, i64)> = HashMap::new();
    let mut problems = Vec::new();
    for (q, records) in &stored {
        for r in records {
            let props = r.properties();
            let Some(i) = props.get("idx").and_then(|v| v.parse::<usize>().ok()) else {
                problems.push(format!("stored record without idx: {props:?}"));
                continue;
            };
            if seen.insert(i, (*q, r.queue_offset)).is_some() {
                problems.push(format!("message {i} stored twice"));
            }
            let e = expected(i);
            if r.body != e.body.as_bytes() {
                problems.push(format!(
                    "message {i}: stored body differs ({} bytes)",
                    r.body.len()
                ));
            }
            if r.tags().as_deref() != Some(e.tags) || r.keys().as_deref() != Some(e.keys.as_str()) {
                problems.push(format!(
                    "message {i}: tags {:?} keys {:?}",
                    r.tags(),
                    r.keys()
                ));
            }
            if props.get("colour") != Some(&e.props[1].1) {
                problems.push(format!("message {i}: colour {:?}", props.get("colour")));
            }
            let report = &produced.reports[i];
            if let Some(id) = &report.msg_id {
                let uniq = props.get("UNIQ_KEY").cloned().unwrap_or_default();
                if id != &uniq {
                    problems.push(format!(
                        "message {i} ({:?}): the client reported id {id:?}, stored UNIQ_KEY {uniq:?}",
                        report.mode
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "stored records: {problems:#?}");
    let missing: Vec<usize> = (0..N).filter(|i| !seen.contains_key(i)).collect();
    assert!(missing.is_empty(), "not stored: {missing:?}");
    for shard in 0..3 {
        let placed: Vec<(usize, i32, i64)> = (0..N)
            .filter(|&i| {
                matches!(mode(i), SendMode::Orderly | SendMode::OnewayOrderly) && i % 3 == shard
            })
            .map(|i| (i, seen[&i].0, seen[&i].1))
            .collect();
        let queues: BTreeSet<i32> = placed.iter().map(|p| p.1).collect();
        assert_eq!(
            queues,
            BTreeSet::from([shard as i32 % QUEUES]),
            "orderly shard {shard}: (idx, queue, offset) {placed:?}"
        );
        let sync_offsets: Vec<i64> = placed
            .iter()
            .filter(|p| mode(p.0) == SendMode::Orderly)
            .map(|p| p.2)
            .collect();
        assert!(
            sync_offsets.windows(2).all(|w| w[0] < w[1]),
            "orderly shard {shard}: sync orderly sends stored out of order: {placed:?}"
        );
    }

    // rmq-runtime's consumers.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let consumers = [
        runtime_consumer(&setup.namesrv, &topic, "all", "*", tx.clone()).await,
        runtime_consumer(&setup.namesrv, &topic, "ab", "TagA || TagB", tx).await,
    ];
    let all: BTreeSet<usize> = (0..N).collect();
    let ab: BTreeSet<usize> = (0..N).filter(|&i| expected(i).tags != "TagC").collect();
    let mut tally = Tally::default();
    let outcome = tokio::time::timeout(CONSUME_TIMEOUT, async {
        while tally.count("all") < all.len() || tally.count("ab") < ab.len() {
            let Some(d) = rx.recv().await else { break };
            tally.record(d.consumer, check_runtime(&d, &topic));
        }
    })
    .await;
    for c in &consumers {
        c.shutdown().await;
    }
    let context = format!(
        "C++ producer → rmq-runtime (timed out: {})",
        outcome.is_err()
    );
    tally.assert_exactly("all", &all, &context);
    tally.assert_exactly("ab", &ab, &context);
    assert_eq!(
        tally.duplicates, 0,
        "one consumer per group, no failures: no redelivery"
    );
    setup.shutdown().await;
}

/// `send_batch`: 3 batches of 4 messages, each stored as **one** message whose body is the encoded batch, as
/// Apache RocketMQ's broker stores them; the encoding itself is right (each entry decodes with its body, tags,
/// keys, user properties and its own UNIQ_KEY).
///
/// The client sends a batch as SEND_MESSAGE (10, not SEND_BATCH_MESSAGE 320) with `batch: "1"` in the header
/// and the entries in the body (apache/rocketmq-client-cpp#189). Java's broker picks the batch path by that
/// header field but reads it with `Boolean.parseBoolean`, so "1" is false and the whole encoded batch becomes
/// one message (apache/rocketmq-client-cpp#363); rmq reads headers the same way. Should rmq ever read "1" as
/// true here, this test says so by failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpp_producer_send_batch_is_stored_as_one_message_as_on_java_brokers() {
    if !cpp("cpp_producer_send_batch_is_stored_as_one_message_as_on_java_brokers") {
        return;
    }
    const N: usize = 12;
    const PER_BATCH: usize = 4;
    let setup = Setup::start("CppBatch").await;
    let topic = setup.topic.clone();
    let messages: Vec<CppMessage> = (0..N)
        .map(|i| {
            let mut m = cpp_message(&topic, i).mode(SendMode::Batch);
            m.batch = Some((i / PER_BATCH) as u32);
            m
        })
        .collect();
    let produced = produce(&setup, "cpp-batch", &messages, json!({})).await;
    produced.assert_all_ok();

    let stored = setup.stored(&topic).await;
    let records: Vec<&rmq_tests::record::Record> = stored.values().flatten().collect();
    assert_eq!(
        records.len(),
        N / PER_BATCH,
        "one stored message per batch; stored: {:#?}",
        records
            .iter()
            .map(|r| (r.queue_id, r.queue_offset, r.body.len(), r.properties()))
            .collect::<Vec<_>>()
    );
    let mut seen = BTreeSet::new();
    let mut uniq = BTreeSet::new();
    let mut problems = Vec::new();
    for r in &records {
        let entries = rmq_protocol::message::decode_batch(&bytes::Bytes::from(r.body.clone()))
            .unwrap_or_else(|e| {
                panic!(
                    "stored body of queue {} offset {} is not a batch: {e}",
                    r.queue_id, r.queue_offset
                )
            });
        assert_eq!(entries.len(), PER_BATCH, "entries of one stored batch");
        for entry in entries {
            let props = rmq_tests::record::decode_properties(&entry.properties);
            let Some(i) = props.get("idx").and_then(|v| v.parse::<usize>().ok()) else {
                problems.push(format!("batch entry without idx: {props:?}"));
                continue;
            };
            let e = expected(i);
            if entry.body.as_ref() != e.body.as_bytes() {
                problems.push(format!("entry {i}: body differs"));
            }
            for (k, v) in [
                ("TAGS", e.tags),
                ("KEYS", e.keys.as_str()),
                ("colour", e.props[1].1.as_str()),
            ] {
                if props.get(k).map(String::as_str) != Some(v) {
                    problems.push(format!("entry {i}: {k} {:?} != {v:?}", props.get(k)));
                }
            }
            seen.insert(i);
            uniq.insert(props.get("UNIQ_KEY").cloned().unwrap_or_default());
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(seen, (0..N).collect::<BTreeSet<_>>(), "batch entries");
    assert_eq!(uniq.len(), N, "one UNIQ_KEY per entry: {uniq:?}");
    setup.shutdown().await;
}

/// Bodies of 4 KiB and more are zlib-compressed by the C++ client (its `compressMsgBodyOverHowmuch`, level 9
/// here): stored with the COMPRESSED sysFlag (no type bits, i.e. zlib), as a zlib stream, smaller than sent, and both rmq-runtime's push
/// consumer and the C++ pull consumer get them back decompressed. A body just under the threshold goes as is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpp_producer_compresses_large_bodies() {
    if !cpp("cpp_producer_compresses_large_bodies") {
        return;
    }
    let setup = Setup::start("CppBig").await;
    let topic = setup.topic.clone();
    // (index, body length): one under the 4096-byte threshold, the rest over it, up to 120 KB (the client's
    // limit is 128 KiB).
    let sizes = [
        (0usize, 4095usize),
        (1, 4096),
        (2, 10_000),
        (3, 60_000),
        (4, 120_000),
    ];
    let body = |i: usize, len: usize| -> String {
        let mut b = format!("big {i} ünïcødé ");
        let mut k = 0usize;
        while b.len() < len {
            b.push_str(&format!("line {k} of message {i}; "));
            k += 1;
        }
        while b.len() > len {
            b.pop();
        }
        b
    };
    let messages: Vec<CppMessage> = sizes
        .iter()
        .map(|&(i, len)| {
            CppMessage::new(&topic, body(i, len))
                .tags("Big")
                .keys(&format!("big-{i}"))
                .prop("idx", &i.to_string())
                .mode(if i % 2 == 0 {
                    SendMode::Sync
                } else {
                    SendMode::Async
                })
        })
        .collect();
    let produced = produce(&setup, "cpp-big", &messages, json!({"compress_level": 9})).await;
    produced.assert_all_ok();

    let stored = setup.stored(&topic).await;
    let mut flags: BTreeMap<usize, (i32, usize)> = BTreeMap::new();
    let mut bodies: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
    for r in stored.values().flatten() {
        let i: usize = r.properties()["idx"].parse().expect("idx");
        flags.insert(i, (r.sys_flag, r.body.len()));
        bodies.insert(i, r.body.clone());
    }
    assert_eq!(
        flags.len(),
        sizes.len(),
        "every big message stored: {flags:?}"
    );
    for &(i, len) in &sizes {
        let (flag, stored_len) = flags[&i];
        if len >= 4096 {
            // The client sets only the COMPRESSED bit; type bits 0 are zlib for every reader (they predate
            // RocketMQ 5's type bits). The stored body is a zlib stream (0x78 header byte).
            assert_eq!(
                flag & (sysflag::COMPRESSED_FLAG | sysflag::COMPRESSION_TYPE_MASK),
                sysflag::COMPRESSED_FLAG,
                "message {i} ({len} bytes): sysFlag {flag:#x}"
            );
            assert_eq!(
                bodies[&i].first(),
                Some(&0x78),
                "message {i}: stored body is not zlib"
            );
            assert!(
                stored_len < len / 4,
                "message {i}: stored {stored_len} of {len} bytes"
            );
        } else {
            assert_eq!(
                flag & sysflag::COMPRESSED_FLAG,
                0,
                "message {i} ({len} bytes) compressed"
            );
            assert_eq!(stored_len, len);
        }
    }

    // rmq-runtime decompresses.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let consumer = runtime_consumer(&setup.namesrv, &topic, "big", "*", tx).await;
    let mut got: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
    let _ = tokio::time::timeout(CONSUME_TIMEOUT, async {
        while got.len() < sizes.len() {
            let Some(d) = rx.recv().await else { break };
            let i: usize = d
                .msg
                .property("idx")
                .and_then(|v| v.parse().ok())
                .expect("idx");
            got.insert(i, d.msg.body.to_vec());
        }
    })
    .await;
    consumer.shutdown().await;
    for &(i, len) in &sizes {
        assert_eq!(
            got.get(&i).map(Vec::as_slice),
            Some(body(i, len).as_bytes()),
            "rmq-runtime's delivery of message {i} ({len} bytes)"
        );
    }

    // So does the C++ pull consumer (C++ → C++).
    let pulled = cpp_client::pull_all(
        "cpp-pull-big",
        &setup.namesrv,
        &unique("cpp_pull_big"),
        &topic,
        "*",
        &["idx"],
        Duration::from_secs(60),
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let pulled: BTreeMap<usize, String> = pulled
        .iter()
        .map(|r| {
            (
                r.prop("idx").and_then(|v| v.parse().ok()).expect("idx"),
                r.body.clone().unwrap_or_default(),
            )
        })
        .collect();
    for &(i, len) in &sizes {
        assert_eq!(
            pulled.get(&i).map(String::as_str),
            Some(body(i, len).as_str()),
            "the C++ pull consumer's copy of message {i} ({len} bytes)"
        );
    }
    setup.shutdown().await;
}

/// Delay levels set by the C++ producer: rmq's default table (`messageDelayLevel`, level 1 = 1 s, level 2 =
/// 5 s). Each delayed message reaches rmq-runtime's consumer no earlier than its level's delay after the
/// client built it, intact and in its own topic; an undelayed one sent alongside comes at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpp_producer_delay_levels() {
    if !cpp("cpp_producer_delay_levels") {
        return;
    }
    let setup = Setup::start("CppDelay").await;
    let topic = setup.topic.clone();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let consumer = runtime_consumer(&setup.namesrv, &topic, "delay", "*", tx).await;
    // (index, delay level, delay in ms)
    let plan = [(0usize, 0, 0i64), (1, 1, 1000), (2, 2, 5000), (3, 1, 1000)];
    let messages: Vec<CppMessage> = plan
        .iter()
        .map(|&(i, level, _)| {
            let mut m = cpp_message(&topic, i);
            m.delay_level = level;
            m
        })
        .collect();
    let produced = produce(&setup, "cpp-delay", &messages, json!({})).await;
    produced.assert_all_ok();

    let mut tally = Tally::default();
    let mut arrival: BTreeMap<usize, (i64, i64)> = BTreeMap::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), async {
        while arrival.len() < plan.len() {
            let Some(d) = rx.recv().await else { break };
            if let Some(i) = tally.record("delay", check_runtime(&d, &topic)) {
                arrival
                    .entry(i)
                    .or_insert((d.msg.born_timestamp, d.received_ms));
            }
        }
    })
    .await;
    consumer.shutdown().await;
    tally.assert_exactly("delay", &(0..plan.len()).collect(), "delayed C++ messages");
    for &(i, level, delay) in &plan {
        let (born, received) = arrival[&i];
        let waited = received - born;
        if level == 0 {
            assert!(waited < 1000, "undelayed message {i} took {waited} ms");
        } else {
            assert!(
                waited >= delay,
                "message {i} (delay level {level} = {delay} ms) arrived after {waited} ms"
            );
            assert!(
                waited < delay + 5000,
                "message {i} (level {level}) took {waited} ms"
            );
        }
    }
    setup.shutdown().await;
}

/// The binding's `max_message_size` (here 2 KiB; 128 KiB by default): larger bodies are refused by the
/// client in every send mode that checks it, nothing of them reaches the broker, smaller ones go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpp_producer_refuses_bodies_over_max_message_size() {
    if !cpp("cpp_producer_refuses_bodies_over_max_message_size") {
        return;
    }
    let setup = Setup::start("CppMax").await;
    let topic = setup.topic.clone();
    let plan = [
        (0usize, 2000usize, SendMode::Sync, true),
        (1, 3000, SendMode::Sync, false),
        (2, 3000, SendMode::Oneway, false),
        (3, 3000, SendMode::Orderly, false),
        (4, 3000, SendMode::Async, false),
        (5, 1000, SendMode::Async, true),
    ];
    let messages: Vec<CppMessage> = plan
        .iter()
        .map(|&(i, len, mode, _)| {
            CppMessage::new(&topic, "m".repeat(len))
                .prop("idx", &i.to_string())
                .mode(mode)
        })
        .collect();
    let produced = produce(
        &setup,
        "cpp-max",
        &messages,
        json!({"max_message_size": 2048}),
    )
    .await;
    for &(i, len, mode, ok) in &plan {
        let r = &produced.reports[i];
        assert_eq!(
            r.ok(),
            ok,
            "message {i} ({len} bytes, {mode:?}) with max_message_size 2048: {r:?}\n{}",
            produced.diagnostics
        );
    }
    // Oneway sends report nothing, so wait for the broker to have stored what it will: the last send (5) was
    // answered, and the connection keeps order.
    let stored: BTreeSet<usize> = setup
        .stored(&topic)
        .await
        .values()
        .flatten()
        .map(|r| r.properties()["idx"].parse().expect("idx"))
        .collect();
    let want: BTreeSet<usize> = plan.iter().filter(|p| p.3).map(|p| p.0).collect();
    assert_eq!(stored, want, "stored messages");
    setup.shutdown().await;
}

/// What the `#[rocketmq_listener]` below hands over (a bean of its application).
struct ListenerSink(mpsc::UnboundedSender<RtDelivery>);

#[rmq_runtime::rocketmq_listener(
    topic = "${cpp.topic}",
    consumer_group = "${cpp.group}",
    selector_expression = "TagA || TagB",
    consume_thread_max = 2
)]
async fn on_cpp_message(msg: MessageExt, sink: rmq_runtime::Bean<ListenerSink>) {
    let ListenerSink(tx) = &*sink;
    let _ = tx.send(RtDelivery {
        consumer: "listener",
        msg,
        received_ms: now_ms(),
    });
}

/// The C++ producer (sync, async, oneway, orderly) → a `#[rocketmq_listener]` of an rmq-runtime application
/// pointed at the test's broker, selector `TagA || TagB`: it handles exactly those of 60 messages, intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpp_producer_to_runtime_listener() {
    if !cpp("cpp_producer_to_runtime_listener") {
        return;
    }
    const N: usize = 60;
    let setup = Setup::start("CppToListener").await;
    let topic = setup.topic.clone();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let app = rmq_runtime::Application::builder()
        .set("rocketmq.name-server", setup.namesrv.clone())
        .set("cpp.topic", topic.clone())
        .set("cpp.group", unique("rt_listener"))
        .bean(ListenerSink(tx))
        .only_listeners(["on_cpp_message"])
        .start()
        .await
        .expect("application starts");
    let messages: Vec<CppMessage> = (0..N)
        .map(|i| {
            let mut m = cpp_message(&topic, i).mode(mode(i % 5));
            m.shard = (i % 3) as i32;
            m
        })
        .collect();
    produce(&setup, "cpp-to-listener", &messages, json!({}))
        .await
        .assert_all_ok();
    let ab: BTreeSet<usize> = (0..N).filter(|&i| expected(i).tags != "TagC").collect();
    let mut tally = Tally::default();
    let outcome = tokio::time::timeout(CONSUME_TIMEOUT, async {
        while tally.count("listener") < ab.len() {
            let Some(d) = rx.recv().await else { break };
            tally.record(d.consumer, check_runtime(&d, &topic));
        }
    })
    .await;
    app.shutdown().await;
    tally.assert_exactly(
        "listener",
        &ab,
        &format!(
            "C++ producer → #[rocketmq_listener] (timed out: {})",
            outcome.is_err()
        ),
    );
    setup.shutdown().await;
}
