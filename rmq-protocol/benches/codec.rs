//! Codec micro-benchmarks: what every send and pull costs in `rmq-protocol` before any I/O.
//!
//! - `frame`: a SEND_MESSAGE_V2 request (Java producer header, 1 KiB body) and its response, encoded and
//!   decoded as whole frames with JSON and ROCKETMQ-binary headers; the V2 header to/from `extFields`.
//! - `message`: one 1 KiB CommitLog record encoded, decoded to a `MessageExt` and viewed without copying; a
//!   pull body of 32 such records decoded; a SEND_BATCH_MESSAGE body of 32 × 1 KiB encoded and decoded.
//! - `properties`: the properties string of a stored message encoded, parsed, and searched for one key.
//!
//! Run: `cargo bench -p rmq-protocol --bench codec` (add a filter such as `-- frame/` to run a subset).

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rmq_protocol::codes::{request, response};
use rmq_protocol::frame::{self, DEFAULT_MAX_FRAME_LEN};
use rmq_protocol::headers::{CommandHeader, SendMessageRequestHeader, SendMessageResponseHeader};
use rmq_protocol::message::stored::{body_crc, parse_view};
use rmq_protocol::message::{
    decode_all, decode_batch, decode_stored, encode_batch, encode_stored, properties, BatchEntry,
    Properties, StoredRecord,
};
use rmq_protocol::{LanguageCode, RemotingCommand, SerializeType};

/// Body size of every message: the 1 KiB the issue asks for.
const BODY_LEN: usize = 1024;
/// Messages per pull and per batch send (the default pull batch size).
const BATCH: usize = 32;

/// A readable, non-constant 1 KiB body.
fn body(i: usize) -> Bytes {
    let mut b = format!("{{\"orderId\":{i},\"payload\":\"").into_bytes();
    b.resize(BODY_LEN - 2, b'a' + (i % 26) as u8);
    b.extend_from_slice(b"\"}");
    Bytes::from(b)
}

/// The properties a Java producer sends with a tagged, keyed message.
fn producer_properties(i: usize) -> String {
    properties::encode(&[
        (properties::KEYS, format!("order-{i:08}")),
        (
            properties::UNIQ_KEY,
            format!("7F00000100002A9F0000{i:012X}"),
        ),
        (properties::WAIT_STORE_MSG_OK, "true".to_owned()),
        (properties::TAGS, "TagA".to_owned()),
    ])
}

/// The properties a stored message carries after the broker stamped it, plus two user properties.
fn stored_properties(i: usize) -> String {
    let mut p = producer_properties(i);
    properties::encode_pair_into(&mut p, properties::CLUSTER, "DefaultCluster");
    properties::encode_pair_into(&mut p, "region", "eu-west");
    properties::encode_pair_into(&mut p, "amount", "129");
    p
}

/// A SEND_MESSAGE_V2 request as the Java producer sends it (`SendMessageRequestHeaderV2`, 1 KiB body).
fn send_request(serialize_type: SerializeType) -> RemotingCommand {
    let header = SendMessageRequestHeader {
        producer_group: "please_rename_unique_group_name".to_owned(),
        topic: "TopicTest".to_owned(),
        default_topic: "TBW102".to_owned(),
        default_topic_queue_nums: 4,
        queue_id: 3,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_123,
        flag: 0,
        properties: Some(producer_properties(7)),
        reconsume_times: Some(0),
        unit_mode: Some(false),
        max_reconsume_times: None,
        batch: Some(false),
        broker_name: Some("broker-a".to_owned()),
    };
    let mut cmd = header
        .to_command(request::SEND_MESSAGE_V2)
        .with_body(body(7));
    cmd.language = LanguageCode::Java;
    cmd.opaque = 4242;
    cmd.serialize_type = serialize_type;
    cmd
}

/// The broker's answer to [`send_request`], with the ext fields the broker adds.
fn send_response(req: &RemotingCommand, serialize_type: SerializeType) -> RemotingCommand {
    let header = SendMessageResponseHeader {
        recall_handle: None,
        msg_id: "7F00000100002A9F0000000000A3F1C0".to_owned(),
        queue_id: 3,
        queue_offset: 123_456,
        transaction_id: Some("7F00000100002A9F000000000007".to_owned()),
        batch_uniq_id: None,
    };
    let mut ext = header.to_ext();
    ext.insert(
        properties::MSG_REGION.to_owned(),
        "DefaultRegion".to_owned(),
    );
    ext.insert(properties::TRACE_SWITCH.to_owned(), "true".to_owned());
    let mut cmd = RemotingCommand::response_to(req, response::SUCCESS).with_ext(ext);
    cmd.serialize_type = serialize_type;
    cmd
}

fn encoded(cmd: &RemotingCommand) -> Bytes {
    let mut dst = BytesMut::new();
    frame::encode(cmd, &mut dst).expect("bench frame encodes");
    dst.freeze()
}

/// One stored record (as the CommitLog holds it and a pull body carries it) at queue offset `i`.
fn stored_record(i: usize) -> Bytes {
    let body = body(i);
    let props = stored_properties(i);
    let born: SocketAddr = "10.1.2.3:40000".parse().expect("literal address");
    let store: SocketAddr = "10.1.2.10:10911".parse().expect("literal address");
    let mut dst = BytesMut::new();
    encode_stored(
        &mut dst,
        &StoredRecord {
            body_crc: body_crc(&body),
            queue_id: 3,
            flag: 0,
            queue_offset: i as i64,
            commit_log_offset: (i * 1300) as i64,
            sys_flag: 0,
            born_timestamp: 1_700_000_000_000 + i as i64,
            born_host: born,
            store_timestamp: 1_700_000_000_005 + i as i64,
            store_host: store,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: &body,
            topic: "TopicTest",
            properties: &props,
        },
    )
    .expect("bench record encodes");
    dst.freeze()
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(40)
        .nresamples(20_000)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1500))
}

fn frame_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame");
    for (name, ty) in [
        ("json", SerializeType::Json),
        ("rocketmq", SerializeType::RocketMq),
    ] {
        let req = send_request(ty);
        let resp = send_response(&req, ty);
        for (what, cmd) in [("send_v2_request", &req), ("send_response", &resp)] {
            let wire = encoded(cmd);
            g.throughput(Throughput::ElementsAndBytes {
                elements: 1,
                bytes: wire.len() as u64,
            });
            let mut dst = BytesMut::with_capacity(wire.len() * 2);
            g.bench_function(format!("{what}/encode/{name}"), |b| {
                b.iter(|| {
                    dst.clear();
                    frame::encode(black_box(cmd), &mut dst).expect("encodes");
                    black_box(dst.len())
                })
            });
            g.bench_function(format!("{what}/decode/{name}"), |b| {
                b.iter_batched(
                    || BytesMut::from(&wire[..]),
                    |mut src| {
                        frame::decode(black_box(&mut src), DEFAULT_MAX_FRAME_LEN)
                            .expect("decodes")
                            .expect("whole frame")
                    },
                    BatchSize::SmallInput,
                )
            });
        }
    }
    // The typed header on both sides of a send: the producer writes `a`..`n`, the broker reads them back.
    let header = SendMessageRequestHeader::from_command(&send_request(SerializeType::Json))
        .expect("bench header parses");
    let req = send_request(SerializeType::Json);
    g.throughput(Throughput::Elements(1));
    g.bench_function("send_v2_header/to_command", |b| {
        b.iter(|| black_box(&header).to_command(request::SEND_MESSAGE_V2))
    });
    g.bench_function("send_v2_header/from_command", |b| {
        b.iter(|| SendMessageRequestHeader::from_command(black_box(&req)).expect("parses"))
    });
    g.finish();
}

fn message_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("message");

    let record = stored_record(0);
    g.throughput(Throughput::ElementsAndBytes {
        elements: 1,
        bytes: record.len() as u64,
    });
    let (ext, _) = decode_stored(&record, true).expect("bench record decodes");
    let mut dst = BytesMut::with_capacity(record.len() * 2);
    g.bench_function("stored/encode", |b| {
        b.iter(|| {
            dst.clear();
            black_box(&ext).encode(&mut dst).expect("encodes")
        })
    });
    g.bench_function("stored/decode", |b| {
        b.iter(|| decode_stored(black_box(&record), true).expect("decodes"))
    });
    g.bench_function("stored/view", |b| {
        b.iter(|| parse_view(black_box(&record)).expect("parses").tag_code())
    });

    let pull_body: Bytes = (0..BATCH)
        .flat_map(|i| stored_record(i).to_vec())
        .collect::<Vec<u8>>()
        .into();
    g.throughput(Throughput::ElementsAndBytes {
        elements: BATCH as u64,
        bytes: pull_body.len() as u64,
    });
    g.bench_function("pull_body_32/decode_all", |b| {
        b.iter(|| {
            let msgs = decode_all(black_box(&pull_body));
            debug_assert_eq!(msgs.len(), BATCH);
            msgs
        })
    });

    let entries: Vec<BatchEntry> = (0..BATCH)
        .map(|i| BatchEntry {
            flag: 0,
            body: body(i),
            properties: producer_properties(i),
        })
        .collect();
    let batch_body = encode_batch(&entries).expect("bench batch encodes");
    g.throughput(Throughput::ElementsAndBytes {
        elements: BATCH as u64,
        bytes: batch_body.len() as u64,
    });
    g.bench_function("batch_32/encode", |b| {
        b.iter(|| encode_batch(black_box(&entries)).expect("encodes"))
    });
    g.bench_function("batch_32/decode", |b| {
        b.iter(|| decode_batch(black_box(&batch_body)).expect("decodes"))
    });
    g.finish();
}

fn properties_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("properties");
    let encoded = stored_properties(42);
    let pairs = properties::decode(&encoded);
    g.throughput(Throughput::ElementsAndBytes {
        elements: 1,
        bytes: encoded.len() as u64,
    });
    g.bench_function("encode", |b| {
        b.iter(|| properties::encode(black_box(&pairs)))
    });
    g.bench_function("parse", |b| {
        b.iter(|| Properties::parse(black_box(&encoded)))
    });
    g.bench_function("find_uniq_key", |b| {
        b.iter(|| properties::find(black_box(&encoded), properties::UNIQ_KEY))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = frame_benches, message_benches, properties_benches
}
criterion_main!(benches);
