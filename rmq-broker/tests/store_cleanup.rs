//! Expired-file cleanup and disk-full refusal (disk usage injected through the probe).

mod store_util;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rmq_broker::store::{DiskUsageProbe, FlushDiskType, GetMessageStatus, StoreError};
use store_util::*;

#[tokio::test]
async fn cleanup_deletes_old_segments_and_moves_min_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), FlushDiskType::Async);
    cfg.file_reserved_time_hours = 0; // everything not in use is expired
    cfg.delete_when = "99".into(); // never the scheduled hour
    let store = open(cfg.clone()).await;
    let mut rs = Vec::new();
    for i in 0..400usize {
        rs.push(
            store
                .put_message(msg("Old", 0, &body(i, 700), "", &format!("k{i}")))
                .await
                .unwrap(),
        );
    }
    let files = store.stats().commit_log_files;
    assert!(files >= 5);

    // Outside the deletion hour and with disk to spare, nothing happens.
    let report = store.run_cleanup(false);
    assert_eq!(report.deleted_commit_log_files, 0);

    let report = store.run_cleanup(true);
    assert_eq!(
        report.deleted_commit_log_files,
        files - 1,
        "all but the segment being written"
    );
    let min = store.commit_log_min_offset();
    assert_eq!(min, report.commit_log_min_offset);
    assert_eq!(min as u64 % SEG, 0);
    assert_eq!(store.stats().commit_log_files, 1);
    assert!(report.deleted_consume_queue_files > 0);

    // The queue's min offset moved to the first message still on disk.
    let first_kept = rs.iter().position(|r| r.phys_offset >= min).unwrap() as i64;
    assert_eq!(store.min_offset_in_queue("Old", 0), first_kept);
    let r = store.get_messages("Old", 0, 0, 32, 1 << 20, &|_| true);
    assert_eq!(
        (r.status, r.next_begin_offset),
        (GetMessageStatus::OffsetTooSmall, first_kept)
    );
    assert_eq!(
        pull_all(&store, "Old", 0, first_kept).len() as i64,
        400 - first_kept
    );
    assert!(store.message_at(rs[0].phys_offset).is_none());
    assert!(store
        .query_messages("Old", "k0", 4, 0, i64::MAX)
        .messages
        .is_empty());
    assert_eq!(
        store
            .query_messages("Old", "k399", 4, 0, i64::MAX)
            .messages
            .len(),
        1
    );

    // Writes go on, and a restart sees the same minimum.
    store
        .put_message(msg("Old", 0, b"after", "", ""))
        .await
        .unwrap();
    store.shutdown().await.unwrap();
    let store = open(cfg).await;
    assert_eq!(store.commit_log_min_offset(), min);
    assert_eq!(store.min_offset_in_queue("Old", 0), first_kept);
    assert_eq!(store.max_offset_in_queue("Old", 0), 401);
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn disk_full_refuses_writes_and_forces_cleanup() {
    let dir = tempfile::tempdir().unwrap();
    let ratio = Arc::new(AtomicU64::new(0.5f64.to_bits()));
    let probe = ratio.clone();
    let mut cfg = config(dir.path(), FlushDiskType::Async);
    cfg.delete_when = "99".into();
    cfg.disk_usage_probe = Some(DiskUsageProbe(Arc::new(move |_| {
        f64::from_bits(probe.load(Ordering::Relaxed))
    })));
    let store = open(cfg).await;
    for i in 0..300usize {
        store
            .put_message(msg("D", 0, &body(i, 700), "", ""))
            .await
            .unwrap();
    }
    let files = store.stats().commit_log_files;

    ratio.store(0.80f64.to_bits(), Ordering::Relaxed);
    assert_eq!(store.refresh_disk_usage(), 0.80);
    assert!(store.stats().disk_full);
    match store.put_message(msg("D", 0, b"refused", "", "")).await {
        Err(StoreError::DiskFull { ratio, max }) => {
            assert_eq!(ratio, 0.80);
            assert_eq!(max, 0.75);
        }
        other => panic!("expected DiskFull, got {other:?}"),
    }
    // Above 75 % expired files go at any hour; none is expired (72 h), so nothing is deleted yet.
    assert_eq!(store.run_cleanup(false).deleted_commit_log_files, 0);
    // Above 85 % the oldest go even if not expired.
    ratio.store(0.90f64.to_bits(), Ordering::Relaxed);
    let report = store.run_cleanup(false);
    assert_eq!(report.deleted_commit_log_files, (files - 1).min(10));

    ratio.store(0.10f64.to_bits(), Ordering::Relaxed);
    store.refresh_disk_usage();
    assert!(!store.stats().disk_full);
    store
        .put_message(msg("D", 0, b"accepted", "", ""))
        .await
        .unwrap();
    store.shutdown().await.unwrap();
}
