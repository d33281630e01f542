//! Crash recovery: the store is dropped without shutdown (the `abort` marker stays), its files are damaged
//! the way a crash damages them, and reopening must recover to the last whole valid record.

mod store_util;

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use rmq_broker::store::{FlushDiskType, PutResult};
use store_util::*;

const QUEUES: i32 = 3;

/// Writes `n` messages over several segments, then "crashes" (drop without shutdown).
async fn write_then_crash(root: &Path, flush: FlushDiskType, n: usize) -> Vec<PutResult> {
    let store = open(config(root, flush)).await;
    let mut rs = Vec::new();
    for i in 0..n {
        let key = format!("key-{i}");
        rs.push(
            store
                .put_message(msg("Crash", i as i32 % QUEUES, &body(i, 600), "TagC", &key))
                .await
                .unwrap(),
        );
    }
    drop(store);
    assert!(
        root.join("abort").exists(),
        "a crash leaves the abort marker"
    );
    rs
}

/// Reopens and checks that exactly `expect` of `rs` survive, consistently in every queue, and that new
/// writes continue right after them.
async fn reopen_and_check(root: &Path, rs: &[PutResult], expect: usize) {
    let store = open(config(root, FlushDiskType::Async)).await;
    let end = rs[expect - 1].phys_offset + rs[expect - 1].wrote_bytes as i64;
    assert_eq!(store.commit_log_max_offset(), end);
    let mut total = 0;
    for q in 0..QUEUES {
        let all = pull_all(&store, "Crash", q, 0);
        for m in &all {
            let i: usize = std::str::from_utf8(&m.body[4..10])
                .unwrap()
                .parse()
                .unwrap();
            assert!(i < expect);
            assert_eq!(&m.body[..], &body(i, 600)[..]);
            assert_eq!(m.commit_log_offset, rs[i].phys_offset);
        }
        total += all.len();
        assert_eq!(store.max_offset_in_queue("Crash", q), all.len() as i64);
    }
    assert_eq!(total, expect);
    // The next message goes exactly where the lost one was (same segment) or after the blank.
    let lost_q = expect as i32 % QUEUES;
    let r = store
        .put_message(msg("Crash", lost_q, b"after-recovery", "", ""))
        .await
        .unwrap();
    assert_eq!(
        r.queue_offset,
        (expect as i64 + i64::from(QUEUES) - 1 - i64::from(lost_q)) / i64::from(QUEUES)
    );
    if expect < rs.len() {
        assert_eq!(r.phys_offset, rs[expect].phys_offset);
    } else {
        assert!(r.phys_offset >= end);
    }
    let again = pull_all(&store, "Crash", lost_q, 0);
    assert_eq!(&again.last().unwrap().body[..], b"after-recovery");
    store.shutdown().await.unwrap();
    // And a clean restart after that agrees.
    let store = open(config(root, FlushDiskType::Async)).await;
    assert_eq!(pull_all(&store, "Crash", lost_q, 0).len(), again.len());
    store.shutdown().await.unwrap();
}

#[tokio::test]
async fn crash_without_damage_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let rs = write_then_crash(dir.path(), FlushDiskType::Async, 200).await;
    reopen_and_check(dir.path(), &rs, 200).await;
}

#[tokio::test]
async fn torn_last_record_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let rs = write_then_crash(dir.path(), FlushDiskType::Sync, 200).await;
    let l = last(&rs);
    let seg = segment_path(dir.path(), l.phys_offset);
    let f = OpenOptions::new().write(true).open(&seg).unwrap();
    // Cut mid-record: keep half of the last record, lose the rest of the file.
    f.set_len(l.phys_offset as u64 % SEG + l.wrote_bytes as u64 / 2)
        .unwrap();
    drop(f);
    reopen_and_check(dir.path(), &rs, 199).await;
}

#[tokio::test]
async fn zeroed_tail_of_last_record_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let rs = write_then_crash(dir.path(), FlushDiskType::Async, 150).await;
    let l = last(&rs);
    let seg = segment_path(dir.path(), l.phys_offset);
    let f = OpenOptions::new().write(true).open(&seg).unwrap();
    // Power loss may leave the size updated but the data unwritten: zeroes inside the record.
    f.write_all_at(&vec![0u8; 300], l.phys_offset as u64 % SEG + 100)
        .unwrap();
    reopen_and_check(dir.path(), &rs, 149).await;
}

#[tokio::test]
async fn garbage_after_last_record_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let rs = write_then_crash(dir.path(), FlushDiskType::Async, 200).await;
    let l = last(&rs);
    let seg = segment_path(dir.path(), l.phys_offset);
    let f = OpenOptions::new().write(true).open(&seg).unwrap();
    let garbage: Vec<u8> = (0..500u32).map(|i| (i * 7 + 13) as u8 | 1).collect();
    f.write_all_at(
        &garbage,
        (l.phys_offset as u64 + l.wrote_bytes as u64) % SEG,
    )
    .unwrap();
    drop(f);
    reopen_and_check(dir.path(), &rs, 200).await;
    // The garbage is gone from the file: it now reads as the new record or zeroes.
}

#[tokio::test]
async fn flipped_byte_in_last_body_fails_crc() {
    let dir = tempfile::tempdir().unwrap();
    let rs = write_then_crash(dir.path(), FlushDiskType::Async, 120).await;
    let l = last(&rs);
    let seg = segment_path(dir.path(), l.phys_offset);
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&seg)
        .unwrap();
    let at = l.phys_offset as u64 % SEG + 84 + 4 + 20; // inside the body (IPv4 hosts)
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, at).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&[b[0] ^ 0x40]).unwrap();
    drop(f);
    reopen_and_check(dir.path(), &rs, 119).await;
}

#[tokio::test]
async fn lost_consume_queues_and_checkpoint_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let rs = write_then_crash(dir.path(), FlushDiskType::Async, 180).await;
    std::fs::remove_dir_all(dir.path().join("consumequeue")).unwrap();
    std::fs::remove_file(dir.path().join("checkpoint")).unwrap();
    reopen_and_check(dir.path(), &rs, 180).await;
}

#[tokio::test]
async fn consume_queue_entries_past_the_end_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let rs = write_then_crash(dir.path(), FlushDiskType::Async, 90).await;
    // Lose the last 10 records from the commit log (as if never written) but keep their queue entries.
    let cut = &rs[80];
    let seg = segment_path(dir.path(), cut.phys_offset);
    let f = OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(cut.phys_offset as u64 % SEG).unwrap();
    drop(f);
    for r in &rs[80..] {
        let other = segment_path(dir.path(), r.phys_offset);
        if other != seg {
            let _ = std::fs::remove_file(other);
        }
    }
    reopen_and_check(dir.path(), &rs, 80).await;
}

/// Writes past the middle of the first segment and waits until the flush thread has created the next one.
async fn fill_half_and_wait_for_next_segment(
    root: &Path,
) -> (
    std::sync::Arc<rmq_broker::store::MessageStore>,
    Vec<PutResult>,
) {
    let store = open(config(root, FlushDiskType::Async)).await;
    let mut rs = Vec::new();
    let mut i = 0;
    while rs
        .last()
        .is_none_or(|r: &PutResult| (r.phys_offset as u64) < SEG / 2 + 1)
    {
        rs.push(
            store
                .put_message(msg("Ahead", 0, &body(i, 600), "TagA", ""))
                .await
                .unwrap(),
        );
        i += 1;
    }
    let next = root.join("commitlog").join(format!("{SEG:020}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !next.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the flush thread did not create the next segment ahead"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    (store, rs)
}

#[tokio::test]
async fn a_segment_created_ahead_is_part_of_a_clean_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (store, rs) = fill_half_and_wait_for_next_segment(dir.path()).await;
    let end = last(&rs).phys_offset + last(&rs).wrote_bytes as i64;
    store.shutdown().await.unwrap();
    drop(store);
    let store = open(config(dir.path(), FlushDiskType::Async)).await;
    assert_eq!(store.commit_log_max_offset(), end);
    // The clean path keeps the blank segment (the crash path would have removed it).
    assert!(dir
        .path()
        .join("commitlog")
        .join(format!("{SEG:020}"))
        .exists());
    // Writing on crosses into it, and everything reads back in order.
    let mut more = Vec::new();
    for i in rs.len()..rs.len() + 120 {
        more.push(
            store
                .put_message(msg("Ahead", 0, &body(i, 600), "TagA", ""))
                .await
                .unwrap(),
        );
    }
    assert!(
        last(&more).phys_offset as u64 > SEG,
        "crossed into the segment made ahead"
    );
    let all = pull_all(&store, "Ahead", 0, 0);
    assert_eq!(all.len(), rs.len() + more.len());
    for (i, m) in all.iter().enumerate() {
        assert_eq!(&m.body[..], &body(i, 600)[..]);
    }
}

#[tokio::test]
async fn a_crash_with_a_segment_created_ahead_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (store, rs) = fill_half_and_wait_for_next_segment(dir.path()).await;
    drop(store);
    let store = open(config(dir.path(), FlushDiskType::Async)).await;
    let end = last(&rs).phys_offset + last(&rs).wrote_bytes as i64;
    assert_eq!(store.commit_log_max_offset(), end);
    assert_eq!(pull_all(&store, "Ahead", 0, 0).len(), rs.len());
    let r = store
        .put_message(msg("Ahead", 0, &body(rs.len(), 600), "TagA", ""))
        .await
        .unwrap();
    assert_eq!(
        r.phys_offset, end,
        "the next record goes right after the recovered end"
    );
}
