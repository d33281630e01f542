//! `get_messages_filtered`: the record-level stage of a pull's filter (SQL92) with RocketMQ's semantics —
//! rejected records are scanned (nextBeginOffset moves past them), do not count against the caps, and a pull
//! that found only rejected records answers NoMatchedMessage.

mod store_util;

use rmq_broker::store::{FlushDiskType, GetMessageStatus, ReadFilter};
use rmq_protocol::message::properties;
use rmq_protocol::message::stored::parse_view;
use rmq_protocol::message::tag::tag_hash_code;
use store_util::*;

/// The `n` property of a raw record.
fn n_of(rec: &[u8]) -> i64 {
    parse_view(rec)
        .ok()
        .and_then(|v| v.property("n").and_then(|n| n.parse().ok()))
        .unwrap_or(-1)
}

#[tokio::test]
async fn record_stage_skips_and_counts_rejected_records() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(config(dir.path(), FlushDiskType::Async)).await;
    for i in 0..20 {
        let tag = if i % 2 == 0 { "even" } else { "odd" };
        let mut m = msg("S", 0, &body(i, 40), tag, "");
        let n = i.to_string();
        m.properties = properties::encode(&[(properties::TAGS, tag), ("n", n.as_str())]);
        store.put_message(m).await.unwrap();
    }
    let read = |offset: i64,
                max: i32,
                bytes: usize,
                tag: &dyn Fn(i64) -> bool,
                keep: &dyn Fn(&[u8]) -> bool| {
        store.get_messages_filtered(
            "S",
            0,
            offset,
            max,
            bytes,
            ReadFilter {
                tag_code: tag,
                record: keep,
            },
        )
    };
    let all = |_: i64| true;
    let third = |rec: &[u8]| n_of(rec) % 3 == 0;
    let ns = |r: &rmq_broker::store::GetMessageResult| {
        r.messages.iter().map(|m| n_of(m)).collect::<Vec<_>>()
    };

    let r = read(0, 32, 1 << 20, &all, &third);
    assert_eq!(r.status, GetMessageStatus::Found);
    assert_eq!(ns(&r), vec![0, 3, 6, 9, 12, 15, 18]);
    assert_eq!(r.next_begin_offset, 20);
    assert_eq!(
        r.buffer_total_size,
        r.messages.iter().map(|m| m.len()).sum::<usize>()
    );

    // Rejected records do not count against max_msgs; the scan stops right after the second match.
    let r = read(0, 2, 1 << 20, &all, &third);
    assert_eq!((ns(&r), r.next_begin_offset), (vec![0, 3], 4));
    let r = read(4, 2, 1 << 20, &all, &third);
    assert_eq!((ns(&r), r.next_begin_offset), (vec![6, 9], 10));
    // Nor against max_bytes: at least one match, then the cap.
    let r = read(1, 32, 1, &all, &third);
    assert_eq!((ns(&r), r.next_begin_offset), (vec![3], 4));

    // Nothing matches: NoMatchedMessage, and the whole scanned range is skipped.
    let r = read(0, 32, 1 << 20, &all, &|_| false);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetMessageStatus::NoMatchedMessage, 20)
    );
    assert!(r.messages.is_empty());
    let r = read(19, 32, 1 << 20, &all, &third);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetMessageStatus::NoMatchedMessage, 20)
    );

    // Both stages: tag code first, then the record.
    let even = tag_hash_code("even");
    let r = read(0, 32, 1 << 20, &|c| c == even, &third);
    assert_eq!((ns(&r), r.next_begin_offset), (vec![0, 6, 12, 18], 20));

    // The old entry point still behaves as before.
    let r = store.get_messages("S", 0, 0, 32, 1 << 20, &|c| c == even);
    assert_eq!((r.messages.len(), r.next_begin_offset), (10, 20));
    store.shutdown().await.unwrap();
}
