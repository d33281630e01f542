//! Acceptance test 3: the `rmq-broker` binary with `--flush sync`, killed with SIGKILL mid-load, loses no
//! acknowledged message; and a torn commit-log tail is recovered to the last whole record.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use rmq_tests::client::{rc, OutMessage};
use rmq_tests::process::BrokerProcess;
use rmq_tests::record::{decode_offset_msg_id, Record};
use rmq_tests::{unique, RawClient};
use tokio::sync::Notify;

const SENDERS: i32 = 4;
/// Acknowledged sends to wait for before the kill.
const KILL_AFTER: usize = 600;
/// Unanswered sends each sender keeps on its connection.
const IN_FLIGHT: usize = 16;

#[derive(Debug, Clone)]
struct Acked {
    uniq: String,
    body: Vec<u8>,
    queue_id: i32,
    queue_offset: i64,
    phys: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_loses_no_acknowledged_message() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let log = tmp.path().join("broker.log");
    let topic = unique("CrashTopic");

    let mut p = BrokerProcess::start(&store, &log, &["--flush", "sync"])
        .await
        .expect("start rmq-broker");
    let admin = RawClient::connect(&p.broker_addr).await.expect("connect");
    let r = admin
        .create_topic(&topic, SENDERS)
        .await
        .expect("create topic");
    assert_eq!(r.code, rc::SUCCESS, "create topic: {:?}", r.remark);

    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let refused = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for q in 0..SENDERS {
        let c = RawClient::connect(&p.broker_addr)
            .await
            .expect("connect sender");
        let (topic, acked, count, enough, refused) = (
            topic.clone(),
            acked.clone(),
            count.clone(),
            enough.clone(),
            refused.clone(),
        );
        tasks.push(tokio::spawn(async move {
            // IN_FLIGHT pipelined sends per connection, so the kill lands amid many unanswered requests.
            let c = &c;
            let topic = &topic;
            let mut sends = futures::stream::iter(0usize..)
                .map(|i| async move {
                    let body = format!("crash q{q} #{i} ").repeat(1 + i % 7).into_bytes();
                    let m = OutMessage::new(topic, &body)
                        .keys(Some(&format!("ck-{q}-{i}")))
                        .queue(q);
                    (c.send(&m).await, m)
                })
                .buffer_unordered(IN_FLIGHT);
            while let Some((result, m)) = sends.next().await {
                match result {
                    Ok(r) if r.code == rc::SUCCESS => {
                        let phys = decode_offset_msg_id(&r.msg_id)
                            .expect("msgId of an ack")
                            .offset;
                        acked.lock().expect("lock").push(Acked {
                            uniq: m.uniq_key().to_owned(),
                            body: m.body.clone(),
                            queue_id: r.queue_id,
                            queue_offset: r.queue_offset,
                            phys,
                        });
                        if count.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER {
                            enough.notify_one();
                        }
                    }
                    Ok(r) => {
                        // Not acknowledged, so not covered by the guarantee; but a healthy broker refuses nothing.
                        eprintln!(
                            "send refused before the kill? code {} {:?}",
                            r.code, r.remark
                        );
                        refused.store(true, Ordering::SeqCst);
                    }
                    Err(_) => return, // the broker died under us
                }
            }
        }));
    }
    tokio::time::timeout(Duration::from_secs(120), enough.notified())
        .await
        .unwrap_or_else(|_| panic!("fewer than {KILL_AFTER} acks; log:\n{}", p.log_tail()));
    p.kill().await.expect("SIGKILL");
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(30), t)
            .await
            .expect("sender stops once the broker is gone")
            .expect("sender task");
    }
    drop(admin);
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() >= KILL_AFTER);

    let log2 = tmp.path().join("broker-restart.log");
    let p2 = BrokerProcess::start(&store, &log2, &["--flush", "sync"])
        .await
        .expect("restart rmq-broker on the crashed store");
    let c = RawClient::connect(&p2.broker_addr)
        .await
        .expect("connect after restart");

    // Every queue reads back as a gap-free sequence of intact records.
    let mut stored: HashMap<String, Record> = HashMap::new();
    for q in 0..SENDERS {
        let recs = c
            .pull_all(&unique("crash_reader"), &topic, q, 0)
            .await
            .expect("pull after crash");
        for (i, r) in recs.into_iter().enumerate() {
            assert_eq!(
                r.queue_offset, i as i64,
                "queue {q}: hole or disorder after recovery"
            );
            assert!(r.body_crc_ok(), "queue {q} offset {i}: bodyCRC mismatch");
            let uniq = r
                .properties()
                .get("UNIQ_KEY")
                .cloned()
                .expect("UNIQ_KEY stored");
            stored.insert(uniq, r);
        }
    }
    eprintln!(
        "crash: {} sends acknowledged before SIGKILL, {} messages recovered",
        acked.len(),
        stored.len()
    );
    let mut lost = Vec::new();
    for a in &acked {
        match stored.get(&a.uniq) {
            Some(r) => {
                assert_eq!(
                    r.body, a.body,
                    "acked message {} came back with another body",
                    a.uniq
                );
                assert_eq!(
                    (r.queue_id, r.queue_offset, r.physical_offset),
                    (a.queue_id, a.queue_offset, a.phys)
                );
            }
            None => lost.push(a),
        }
    }
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages lost by SIGKILL, e.g. {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(3)]
    );
    // And by id, through the commit-log offset of the send response.
    for a in acked.iter().step_by(37) {
        let (resp, rec) = c.view_message(a.phys).await.expect("view by id");
        assert_eq!(resp.code, rc::SUCCESS, "view {}: {:?}", a.phys, resp.remark);
        assert_eq!(rec.expect("record").body, a.body);
    }
    assert!(
        !refused.load(Ordering::SeqCst),
        "the broker refused sends before it was killed"
    );
}

/// The commit-log segment holding physical offset `phys`, and the position inside it.
fn segment_of(store: &Path, phys: i64) -> (PathBuf, u64) {
    let dir = store.join("commitlog");
    let mut segs: Vec<(u64, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| {
            let e = e.ok()?;
            let start = e.file_name().to_str()?.parse::<u64>().ok()?;
            Some((start, e.path()))
        })
        .collect();
    segs.sort();
    let (start, path) = segs
        .into_iter()
        .rev()
        .find(|(s, _)| *s <= phys as u64)
        .unwrap_or_else(|| {
            panic!(
                "no commit-log segment in {} holds offset {phys}",
                dir.display()
            )
        });
    (path, phys as u64 - start)
}

enum Damage {
    /// Cut the last record in half (truncate the file there, or zero its second half if the segment is
    /// preallocated).
    TornRecord,
    /// Garbage after the last whole record.
    TrailingGarbage,
}

async fn tail_recovery(damage: Damage) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let topic = unique("TornTopic");
    const N: usize = 20;

    let mut p = BrokerProcess::start(&store, &tmp.path().join("a.log"), &["--flush", "sync"])
        .await
        .expect("start rmq-broker");
    let c = RawClient::connect(&p.broker_addr).await.expect("connect");
    let mut sent = Vec::new();
    for i in 0..N {
        // Bodies without zero bytes, so zeroing part of one always changes its CRC.
        let body = format!("torn tail message {i} ").repeat(4).into_bytes();
        let m = OutMessage::new(&topic, &body).keys(Some(&format!("tk-{i}")));
        let r = c.send(&m).await.expect("send").ok().expect("stored");
        sent.push((m, decode_offset_msg_id(&r.msg_id).expect("msgId").offset));
    }
    let last_phys = sent[N - 1].1;
    let last_size = c
        .view_message(last_phys)
        .await
        .expect("view")
        .1
        .expect("last record")
        .total_size as u64;
    drop(c);
    p.kill().await.expect("SIGKILL");

    let (seg, pos) = segment_of(&store, last_phys);
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&seg)
        .expect("open segment");
    let len = f.metadata().expect("metadata").len();
    assert!(
        len >= pos + last_size,
        "segment {} shorter than its last record",
        seg.display()
    );
    eprintln!(
        "torn tail: segment {} of {len} bytes, last record at {pos} ({last_size} bytes)",
        seg.display()
    );
    match damage {
        Damage::TornRecord if len == pos + last_size => {
            f.set_len(pos + last_size / 2).expect("truncate")
        }
        Damage::TornRecord => {
            f.seek(SeekFrom::Start(pos + last_size / 2)).expect("seek");
            f.write_all(&vec![0u8; (last_size - last_size / 2) as usize])
                .expect("zero");
        }
        Damage::TrailingGarbage => {
            f.seek(SeekFrom::Start(pos + last_size)).expect("seek");
            f.write_all(&[0xAB; 100]).expect("garbage");
        }
    }
    f.sync_all().expect("sync");
    drop(f);

    let p = BrokerProcess::start(&store, &tmp.path().join("b.log"), &["--flush", "sync"])
        .await
        .expect("restart on the damaged store");
    let c = RawClient::connect(&p.broker_addr)
        .await
        .expect("connect after restart");
    let whole = match damage {
        Damage::TornRecord => N - 1,
        Damage::TrailingGarbage => N,
    };
    let got = c
        .pull_all(&unique("torn_reader"), &topic, 0, 0)
        .await
        .expect("pull after recovery");
    let bodies: Vec<&[u8]> = got.iter().map(|r| r.body.as_slice()).collect();
    let want: Vec<&[u8]> = sent[..whole]
        .iter()
        .map(|(m, _)| m.body.as_slice())
        .collect();
    assert_eq!(
        bodies,
        want,
        "messages after recovery (log:\n{})",
        p.log_tail()
    );
    assert_eq!(
        c.queue_offset(true, &topic, 0).await.expect("max offset"),
        whole as i64
    );
    if whole < N {
        let (resp, _) = c.view_message(last_phys).await.expect("view torn");
        assert_ne!(resp.code, rc::SUCCESS, "the torn record is still served");
        let (_, recs) = c
            .query_message(&topic, "tk-19", 8)
            .await
            .expect("query torn key");
        assert!(
            recs.is_empty(),
            "query by the torn record's key returned {recs:?}"
        );
    }
    // New writes continue right after the last whole record.
    let r = c
        .send(&OutMessage::new(&topic, b"after recovery"))
        .await
        .expect("send after recovery")
        .ok()
        .expect("stored");
    let next_phys = if whole < N {
        last_phys
    } else {
        last_phys + last_size as i64
    };
    assert_eq!(
        decode_offset_msg_id(&r.msg_id).expect("msgId").offset,
        next_phys
    );
    assert_eq!(r.queue_offset, whole as i64);
    let got = c
        .pull_all(&unique("torn_reader"), &topic, 0, 0)
        .await
        .expect("pull after new send");
    assert_eq!(got.len(), whole + 1);
    assert_eq!(got[whole].body, b"after recovery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_last_record_is_dropped_on_recovery() {
    tail_recovery(Damage::TornRecord).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_after_last_record_is_ignored_on_recovery() {
    tail_recovery(Damage::TrailingGarbage).await;
}
