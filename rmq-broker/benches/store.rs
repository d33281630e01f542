//! Message store micro-benchmarks: the CommitLog append and the ConsumeQueue read behind every send and pull.
//!
//! - `put/one`: one 1 KiB message per `put_message`, one in flight (a single synchronous producer's latency).
//! - `put/concurrent_32`: 32 `put_message` calls in flight at once (many producers; group commit).
//! - `put/batch_32`: one `put_messages` of 32 (a SEND_BATCH_MESSAGE).
//! - `get/32`: `get_messages` of 32 from a pre-filled queue, every message wanted (a plain pull).
//! - `get/32_tag`: the same with a tag subscription that keeps every other message (ConsumeQueue stage only).
//! - `get/32_sql92`: the same with a SQL92 subscription that keeps every other message (records are read and
//!   their properties evaluated, through the broker's own `MessageFilter`).
//!
//! Stores are opened as the broker opens them (default sizes, ASYNC_FLUSH, background flush every 500 ms)
//! in temporary directories removed at the end. Throughput counts messages and CommitLog record bytes (a
//! 1 KiB body plus header, topic and properties).
//!
//! Run: `cargo bench -p rmq-broker --bench store`.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rmq_broker::broker::filter::MessageFilter;
use rmq_broker::store::{
    FlushDiskType, GetMessageStatus, MessageStore, MessageToStore, ReadFilter, StoreConfig,
};
use rmq_filter::Selector;
use rmq_protocol::message::{properties, tag_hash_code};
use tokio::runtime::Runtime;

/// Body size of every message.
const BODY_LEN: usize = 1024;
/// Messages per pull and per batch put (the default pull batch size).
const BATCH: usize = 32;
/// Messages in the queue the read benches pull from.
const PREFILL: usize = 20_000;
/// Queue the read benches pull from.
const READ_TOPIC: &str = "BenchRead";
/// Queues the put benches spread over (as a producer's round robin would).
const PUT_QUEUES: i32 = 8;

/// A message as the broker hands it to the store after stamping: KEYS, UNIQ_KEY, WAIT, TAGS, CLUSTER and
/// two user properties. Even `seq` are TagA with amount 150, odd ones TagB with amount 50.
fn message(topic: &str, queue_id: i32, seq: u64) -> MessageToStore {
    let mut body = format!("{{\"orderId\":{seq},\"payload\":\"").into_bytes();
    body.resize(BODY_LEN - 2, b'a' + (seq % 26) as u8);
    body.extend_from_slice(b"\"}");
    let even = seq.is_multiple_of(2);
    let props = properties::encode(&[
        (properties::KEYS, format!("order-{seq:010}")),
        (
            properties::UNIQ_KEY,
            format!("7F00000100002A9F0000{seq:012X}"),
        ),
        (properties::WAIT_STORE_MSG_OK, "true".to_owned()),
        (
            properties::TAGS,
            if even { "TagA" } else { "TagB" }.to_owned(),
        ),
        (properties::CLUSTER, "DefaultCluster".to_owned()),
        ("region", "eu-west".to_owned()),
        ("amount", if even { "150" } else { "50" }.to_owned()),
    ]);
    MessageToStore {
        topic: topic.to_owned(),
        queue_id,
        flag: 0,
        body: Bytes::from(body),
        properties: props,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000 + seq as i64,
        born_host: SocketAddr::from(([10, 1, 2, 3], 40000)),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
    }
}

/// A store with the broker's defaults (ASYNC_FLUSH) in a fresh temporary directory.
fn open_store() -> (tempfile::TempDir, Arc<MessageStore>) {
    let dir = tempfile::tempdir().expect("temp dir for the bench store");
    let cfg = StoreConfig {
        flush_disk_type: FlushDiskType::Async,
        ..StoreConfig::with_root(dir.path())
    };
    let store = MessageStore::open(cfg).expect("bench store opens");
    (dir, store)
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .nresamples(20_000)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

fn put_benches(c: &mut Criterion) {
    let rt = runtime();
    let (_dir, store) = open_store();
    let seq = AtomicU64::new(0);
    let next = |topic: &str| {
        let n = seq.fetch_add(1, Ordering::Relaxed);
        message(topic, (n % PUT_QUEUES as u64) as i32, n)
    };
    let record_len = rt
        .block_on(store.put_message(next("BenchPut")))
        .expect("first put")
        .wrote_bytes as u64;

    let mut g = c.benchmark_group("put");
    g.throughput(Throughput::ElementsAndBytes {
        elements: 1,
        bytes: record_len,
    });
    g.bench_function("one", |b| {
        b.iter_batched(
            || next("BenchPut"),
            |m| rt.block_on(store.put_message(m)).expect("put"),
            BatchSize::SmallInput,
        )
    });

    g.throughput(Throughput::ElementsAndBytes {
        elements: BATCH as u64,
        bytes: record_len * BATCH as u64,
    });
    g.bench_function("concurrent_32", |b| {
        b.iter_batched(
            || (0..BATCH).map(|_| next("BenchPut")).collect::<Vec<_>>(),
            |msgs| {
                rt.block_on(futures::future::join_all(
                    msgs.into_iter().map(|m| store.put_message(m)),
                ))
                .into_iter()
                .map(|r| r.expect("put").queue_offset)
                .sum::<i64>()
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("batch_32", |b| {
        b.iter_batched(
            || {
                // A batch goes to one queue, as SEND_BATCH_MESSAGE does.
                let n = seq.fetch_add(BATCH as u64, Ordering::Relaxed);
                (0..BATCH as u64)
                    .map(|i| message("BenchBatch", (n % PUT_QUEUES as u64) as i32, n + i))
                    .collect::<Vec<_>>()
            },
            |msgs| rt.block_on(store.put_messages(msgs)).expect("batch put"),
            BatchSize::SmallInput,
        )
    });
    g.finish();
    rt.block_on(store.shutdown()).expect("store shuts down");
}

fn get_benches(c: &mut Criterion) {
    let rt = runtime();
    let (_dir, store) = open_store();
    let mut record_len = 0;
    for start in (0..PREFILL as u64).step_by(BATCH) {
        let msgs = (start..start + BATCH as u64)
            .map(|s| message(READ_TOPIC, 0, s))
            .collect();
        let put = rt.block_on(store.put_messages(msgs)).expect("prefill");
        record_len = put.last().map_or(0, |p| p.wrote_bytes as u64);
    }
    assert_eq!(store.max_offset_in_queue(READ_TOPIC, 0), PREFILL as i64);

    // Pull offsets walk the queue, leaving room for a filtered pull that scans twice as many entries.
    let span = (PREFILL - 2 * BATCH) as i64;
    let mut offset = 0i64;
    let mut next_offset = || {
        offset = (offset + BATCH as i64) % span;
        offset
    };

    let mut g = c.benchmark_group("get");
    g.throughput(Throughput::ElementsAndBytes {
        elements: BATCH as u64,
        bytes: record_len * BATCH as u64,
    });
    g.bench_function("32", |b| {
        b.iter(|| {
            let r = store.get_messages(
                READ_TOPIC,
                0,
                next_offset(),
                BATCH as i32,
                usize::MAX,
                &|_| true,
            );
            debug_assert_eq!(r.messages.len(), BATCH);
            r
        })
    });

    let tag_a = tag_hash_code("TagA");
    g.bench_function("32_tag", |b| {
        b.iter(|| {
            let r = store.get_messages(
                READ_TOPIC,
                0,
                next_offset(),
                BATCH as i32,
                usize::MAX,
                &|code| code == black_box(tag_a),
            );
            debug_assert_eq!(r.messages.len(), BATCH);
            r
        })
    });

    let filter = MessageFilter::sql92(
        Selector::parse("region = 'eu-west' AND amount > 100").expect("bench selector parses"),
    );
    let check = store.get_messages_filtered(
        READ_TOPIC,
        0,
        0,
        BATCH as i32,
        usize::MAX,
        ReadFilter {
            tag_code: &|code| filter.accepts_tag_code(code),
            record: &|rec| filter.accepts_record(rec),
        },
    );
    assert_eq!(check.status, GetMessageStatus::Found);
    assert_eq!(check.messages.len(), BATCH, "half the records match");
    g.bench_function("32_sql92", |b| {
        b.iter(|| {
            store.get_messages_filtered(
                READ_TOPIC,
                0,
                next_offset(),
                BATCH as i32,
                usize::MAX,
                ReadFilter {
                    tag_code: &|code| filter.accepts_tag_code(code),
                    record: &|rec| filter.accepts_record(rec),
                },
            )
        })
    });
    g.finish();
    rt.block_on(store.shutdown()).expect("store shuts down");
}

criterion_group! {
    name = benches;
    config = config();
    targets = put_benches, get_benches
}
criterion_main!(benches);
