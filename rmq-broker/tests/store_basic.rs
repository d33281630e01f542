//! Store round trips: rollover, concurrency, SYNC/ASYNC, batches, restart, reads by offset and time.

mod store_util;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmq_broker::store::{FlushDiskType, GetMessageStatus, StoreError};
use rmq_protocol::message::tag_hash_code;
use store_util::*;

#[tokio::test]
async fn put_get_across_segment_rollover() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(config(dir.path(), FlushDiskType::Async)).await;
    let mut results = Vec::new();
    for i in 0..400 {
        let r = store
            .put_message(msg("T", i % 2, &body(i as usize, 700), "TagA", ""))
            .await
            .unwrap();
        assert_eq!(r.queue_offset, i64::from(i / 2));
        results.push(r);
    }
    // 400 × ~800 bytes over 64 KiB segments: several files, no record crosses one.
    assert!(store.stats().commit_log_files >= 4);
    for r in &results {
        let start = r.phys_offset as u64 % SEG;
        assert!(
            start + r.wrote_bytes as u64 + 8 <= SEG,
            "record crosses or eats the end-of-file reserve"
        );
    }
    for q in 0..2 {
        let all = pull_all(&store, "T", q, 0);
        assert_eq!(all.len(), 200);
        for (k, m) in all.iter().enumerate() {
            let i = k * 2 + q as usize;
            assert_eq!(&m.body[..], &body(i, 700)[..]);
            assert_eq!(m.tags(), Some("TagA"));
            assert_eq!(m.commit_log_offset, results[i].phys_offset);
            assert_eq!(m.offset_msg_id(), results[i].msg_id);
            assert_eq!(m.store_host, store.config().store_host);
        }
    }
    assert_eq!(store.max_offset_in_queue("T", 0), 200);
    assert_eq!(store.min_offset_in_queue("T", 0), 0);
    store.shutdown().await.unwrap();
    store.shutdown().await.unwrap(); // idempotent
    assert!(matches!(
        store.put_message(msg("T", 0, b"x", "", "")).await,
        Err(StoreError::ShuttingDown)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_puts_get_consecutive_offsets() {
    for flush in [FlushDiskType::Async, FlushDiskType::Sync] {
        let dir = tempfile::tempdir().unwrap();
        let store = open(config(dir.path(), flush)).await;
        let mut tasks = Vec::new();
        for t in 0..16 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                for i in 0..50 {
                    let r = store
                        .put_message(msg("C", t % 4, &body(t as usize * 1000 + i, 300), "", ""))
                        .await
                        .unwrap();
                    got.push((t % 4, r.queue_offset));
                }
                got
            }));
        }
        let mut per_queue: HashMap<i32, Vec<i64>> = HashMap::new();
        for t in tasks {
            for (q, o) in t.await.unwrap() {
                per_queue.entry(q).or_default().push(o);
            }
        }
        for (q, mut offs) in per_queue {
            offs.sort_unstable();
            assert_eq!(offs, (0..200).collect::<Vec<_>>(), "queue {q}");
            assert_eq!(pull_all(&store, "C", q, 0).len(), 200);
        }
        let stats = store.stats();
        assert_eq!(stats.put_message_count, 800);
        if flush == FlushDiskType::Sync {
            // Acknowledged means synced.
            assert_eq!(stats.flushed_offset, stats.commit_log_max_offset);
        }
        store.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn batch_put_is_consecutive_and_one_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(config(dir.path(), FlushDiskType::Sync)).await;
    store
        .put_message(msg("B", 0, b"first", "", ""))
        .await
        .unwrap();
    let batch: Vec<_> = (0..20)
        .map(|i| msg("B", 0, &body(i, 100), "", ""))
        .collect();
    let rs = store.put_messages(batch).await.unwrap();
    assert_eq!(
        rs.iter().map(|r| r.queue_offset).collect::<Vec<_>>(),
        (1..21).collect::<Vec<_>>()
    );
    for w in rs.windows(2) {
        assert_eq!(w[1].phys_offset, w[0].phys_offset + w[0].wrote_bytes as i64);
        assert_eq!(w[1].store_timestamp, w[0].store_timestamp);
    }
    assert!(store.put_messages(Vec::new()).await.unwrap().is_empty());
    // A batch with one invalid message is refused as a whole.
    let mut bad: Vec<_> = (0..3).map(|i| msg("B", 0, &body(i, 10), "", "")).collect();
    bad[1].body = vec![0u8; 20 * 1024].into();
    assert!(matches!(
        store.put_messages(bad).await,
        Err(StoreError::MessageTooLarge { .. })
    ));
    assert_eq!(store.max_offset_in_queue("B", 0), 21);
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn restart_after_clean_shutdown_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), FlushDiskType::Async);
    let store = open(cfg.clone()).await;
    for i in 0..300 {
        store
            .put_message(msg("R", (i % 3) as i32, &body(i, 500), "", ""))
            .await
            .unwrap();
    }
    let max_before = store.commit_log_max_offset();
    store.shutdown().await.unwrap();
    assert!(!dir.path().join("abort").exists());
    drop(store);

    let t0 = std::time::Instant::now();
    let store = open(cfg.clone()).await;
    assert!(t0.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(store.commit_log_max_offset(), max_before);
    assert!(dir.path().join("abort").exists());
    for q in 0..3 {
        assert_eq!(pull_all(&store, "R", q, 0).len(), 100);
    }
    // New writes continue the queues and the log.
    let r = store
        .put_message(msg("R", 0, b"after", "", ""))
        .await
        .unwrap();
    assert_eq!(r.queue_offset, 100);
    assert!(r.phys_offset >= max_before);
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn get_statuses_and_tag_filter() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(config(dir.path(), FlushDiskType::Async)).await;
    assert_eq!(
        store
            .get_messages("none", 0, 0, 32, 1 << 20, &|_| true)
            .status,
        GetMessageStatus::NoMatchedLogicQueue
    );
    for i in 0..10 {
        let tag = if i % 2 == 0 { "even" } else { "odd" };
        store
            .put_message(msg("F", 0, &body(i, 50), tag, ""))
            .await
            .unwrap();
    }
    let even = tag_hash_code("even");
    let r = store.get_messages("F", 0, 0, 32, 1 << 20, &|c| c == even);
    assert_eq!(r.status, GetMessageStatus::Found);
    assert_eq!(r.messages.len(), 5);
    assert_eq!(r.next_begin_offset, 10);
    assert_eq!((r.min_offset, r.max_offset), (0, 10));
    let r = store.get_messages("F", 0, 0, 32, 1 << 20, &|c| c == tag_hash_code("none"));
    assert_eq!(r.status, GetMessageStatus::NoMatchedMessage);
    assert_eq!(r.next_begin_offset, 10);
    let r = store.get_messages("F", 0, 0, 3, 1 << 20, &|_| true);
    assert_eq!((r.messages.len(), r.next_begin_offset), (3, 3));
    // Byte cap, but always at least one message.
    let r = store.get_messages("F", 0, 2, 32, 1, &|_| true);
    assert_eq!((r.messages.len(), r.next_begin_offset), (1, 3));
    assert_eq!(
        store
            .get_messages("F", 0, 10, 32, 1 << 20, &|_| true)
            .status,
        GetMessageStatus::OffsetOverflowOne
    );
    let r = store.get_messages("F", 0, 11, 32, 1 << 20, &|_| true);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetMessageStatus::OffsetOverflowBadly, 0)
    );
    store.shutdown().await.unwrap();
}

/// Records every dispatch the store reports.
#[derive(Default)]
struct Arrivals(Mutex<Vec<(String, i32, i64)>>);

impl rmq_broker::store::StoreObserver for Arrivals {
    fn on_dispatch(&self, topic: &str, queue_id: i32, max_offset: i64) {
        self.0
            .lock()
            .unwrap()
            .push((topic.to_owned(), queue_id, max_offset));
    }
}

#[tokio::test]
async fn message_at_offset_by_time_and_listener() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(config(dir.path(), FlushDiskType::Async)).await;
    let seen = Arc::new(Arrivals::default());
    store.observers().add(seen.clone());
    let mut rs = Vec::new();
    for i in 0..20 {
        rs.push(
            store
                .put_message(msg("V", 1, &body(i, 64), "", ""))
                .await
                .unwrap(),
        );
    }
    // The listener ran before each put completed.
    assert_eq!(
        seen.0.lock().unwrap().last().cloned(),
        Some(("V".to_owned(), 1, 20))
    );
    let rec = store.message_at(rs[5].phys_offset).unwrap();
    assert_eq!(decode(&rec).queue_offset, 5);
    assert!(store.message_at(rs[5].phys_offset + 1).is_none());
    assert!(store.message_at(-1).is_none());
    assert!(store.message_at(store.commit_log_max_offset()).is_none());

    let t5 = rs[5].store_timestamp;
    let first_at_or_after = store.offset_by_time("V", 1, t5, false);
    assert!(first_at_or_after <= 5 && rs[first_at_or_after as usize].store_timestamp == t5);
    let last_at_or_before = store.offset_by_time("V", 1, t5, true);
    assert!(last_at_or_before >= 5 && rs[last_at_or_before as usize].store_timestamp == t5);
    assert_eq!(store.offset_by_time("V", 1, 0, false), 0);
    assert_eq!(store.offset_by_time("V", 1, i64::MAX, false), 20);
    assert_eq!(store.offset_by_time("V", 1, i64::MAX, true), 19);
    assert_eq!(
        store.earliest_message_time("V", 1),
        Some(rs[0].store_timestamp)
    );
    assert_eq!(store.earliest_message_time("V", 9), None);

    store.delete_topic("V");
    assert_eq!(store.max_offset_in_queue("V", 1), 0);
    assert!(!dir.path().join("consumequeue").join("V").exists());
    let r = store
        .put_message(msg("V", 1, b"again", "", ""))
        .await
        .unwrap();
    assert_eq!(r.queue_offset, 0);
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn refuses_bad_input_and_second_open() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), FlushDiskType::Async);
    let store = open(cfg.clone()).await;
    let mut m = msg("T", 0, b"x", "", "");
    m.properties = "k\u{1}".to_owned() + &"v".repeat(40_000);
    assert!(matches!(
        store.put_message(m).await,
        Err(StoreError::PropertiesTooLarge { .. })
    ));
    assert!(matches!(
        store.put_message(msg("../x", 0, b"x", "", "")).await,
        Err(StoreError::InvalidTopic { .. })
    ));
    assert!(matches!(
        tokio::task::spawn_blocking(move || rmq_broker::store::MessageStore::open(cfg))
            .await
            .unwrap(),
        Err(StoreError::Locked(_))
    ));
    store.shutdown().await.unwrap();
}
