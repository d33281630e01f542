//! Power cuts, not just process kills: the broker's store runs on a [`LazyFs`], which keeps written but
//! unsynced bytes apart and throws them away when the power is cut (sometimes keeping a few pages, or the
//! first bytes of one: a torn write-back). A SIGKILL leaves the kernel's page cache intact, so it cannot tell
//! a synced write from one that is not; this can.
//!
//! - SYNC_FLUSH: every acknowledged send survives a cut at a random point under concurrent pipelined load,
//!   round after seeded round.
//! - ASYNC_FLUSH: the same load loses acknowledged sends (the test can fail, and does when syncs are not
//!   waited for), and recovery still yields, per queue, a gap-free prefix of CRC-checked records.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use rmq_broker::embedded::EmbeddedBroker;
use rmq_broker::store::fs::FsHandle;
use rmq_broker::store::lazy_fs::{LazyFs, Tear};
use rmq_tests::client::{rc, OutMessage};
use rmq_tests::record::Record;
use rmq_tests::{unique, RawClient};
use tokio::sync::Notify;

const SENDERS: i32 = 3;
const IN_FLIGHT: usize = 8;

/// A small deterministic generator (xorshift64*), so a failing round can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Debug, Clone)]
struct Acked {
    uniq: String,
    body: Vec<u8>,
    queue_id: i32,
    queue_offset: i64,
}

/// What one round saw.
#[derive(Debug)]
struct Round {
    acked: usize,
    recovered: usize,
    lost: Vec<Acked>,
}

async fn start(store: &Path, fs: LazyFs, sync: bool) -> EmbeddedBroker {
    EmbeddedBroker::builder()
        .store_dir(store)
        .fs(FsHandle::new(Arc::new(fs)))
        .flush_sync(sync)
        // ASYNC_FLUSH's background flush every 20 ms instead of 500, so a round's load spans several and the
        // cut leaves a synced prefix and an unsynced tail.
        .property("flushIntervalCommitLog", "20")
        .start()
        .await
        .expect("broker on the lazy file system")
}

/// The power cut. One round in `torn_one_in` tears: of its unsynced pages, one in `keep_one_in` reaches the
/// disk anyway (written back just before), another one in `keep_one_in` only partly; the rest are lost.
fn cut(fs: &LazyFs, rng: &mut Rng, torn_one_in: u64, keep_one_in: u64) -> LazyFs {
    let torn = rng.below(torn_one_in) == 0;
    let mut tear = Rng(rng.next() | 1);
    fs.power_cut(|_page| {
        if !torn {
            return Tear::Lose;
        }
        match tear.below(keep_one_in) {
            0 => Tear::Keep,
            1 => Tear::Prefix(tear.below(4096) as usize),
            _ => Tear::Lose,
        }
    })
}

/// Stops a broker whose file system was cut (its errors are expected) and drops it.
async fn stop_dead(broker: EmbeddedBroker) {
    let _ = tokio::time::timeout(Duration::from_secs(20), broker.shutdown()).await;
    drop(broker);
}

/// One round: load, cut after a seeded number of acks, restart on what survived, read everything back.
async fn round(seed: u64, sync: bool) -> Round {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let fs = LazyFs::new();
    let broker = start(&store, fs.clone(), sync).await;
    let topic = unique("PowerCutTopic");
    let admin = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let r = admin.create_topic(&topic, SENDERS).await.expect("create");
    assert_eq!(r.code, rc::SUCCESS, "create topic: {:?}", r.remark);

    let cut_after = 40 + rng.below(260) as usize;
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let mut tasks = Vec::new();
    for q in 0..SENDERS {
        let c = RawClient::connect(&broker.broker_addr())
            .await
            .expect("connect sender");
        let (topic, acked, count, enough) =
            (topic.clone(), acked.clone(), count.clone(), enough.clone());
        tasks.push(tokio::spawn(async move {
            let (c, topic) = (&c, &topic);
            let mut sends = futures::stream::iter(0usize..)
                .map(|i| async move {
                    // Bodies of 60..~1400 bytes, so records straddle page boundaries.
                    let body = format!("cut {seed} q{q} #{i} ")
                        .repeat(1 + i % 53)
                        .into_bytes();
                    let m = OutMessage::new(topic, &body).queue(q);
                    (c.send(&m).await, m)
                })
                .buffer_unordered(IN_FLIGHT);
            while let Some((result, m)) = sends.next().await {
                match result {
                    Ok(r) if r.code == rc::SUCCESS => {
                        acked.lock().expect("lock").push(Acked {
                            uniq: m.uniq_key().to_owned(),
                            body: m.body.clone(),
                            queue_id: r.queue_id,
                            queue_offset: r.queue_offset,
                        });
                        if count.fetch_add(1, Ordering::SeqCst) + 1 == cut_after {
                            enough.notify_one();
                        }
                    }
                    // Refused or failed after the cut: not acknowledged, not covered.
                    Ok(_) | Err(_) => return,
                }
            }
        }));
    }
    tokio::time::timeout(Duration::from_secs(60), enough.notified())
        .await
        .unwrap_or_else(|_| panic!("seed {seed}: fewer than {cut_after} acks before the cut"));
    // The cut: unsynced pages are lost, except that some rounds keep a few (written back just before) and
    // tear one.
    let survivor = cut(&fs, &mut rng, 3, 10);
    // The old broker runs on a dead file system now; stop it (its errors are expected) and its senders.
    stop_dead(broker).await;
    drop(admin);
    for t in tasks {
        t.abort();
        let _ = t.await;
    }
    let acked = acked.lock().expect("lock").clone();

    let after = start(&store, survivor, sync).await;
    let c = RawClient::connect(&after.broker_addr())
        .await
        .expect("connect after the cut");
    let mut stored: HashMap<String, Record> = HashMap::new();
    for q in 0..SENDERS {
        let recs = c
            .pull_all(&unique("cut_reader"), &topic, q, 0)
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: pull queue {q} after the cut: {e}"));
        for (i, r) in recs.into_iter().enumerate() {
            assert_eq!(
                r.queue_offset, i as i64,
                "seed {seed} queue {q}: hole or disorder after recovery"
            );
            assert!(
                r.body_crc_ok(),
                "seed {seed} queue {q} offset {i}: a record with a bad CRC was recovered"
            );
            let uniq = r
                .properties()
                .get("UNIQ_KEY")
                .cloned()
                .expect("UNIQ_KEY stored");
            stored.insert(uniq, r);
        }
    }
    let mut lost = Vec::new();
    for a in &acked {
        match stored.get(&a.uniq) {
            Some(r) => {
                assert_eq!(r.body, a.body, "seed {seed}: {} has another body", a.uniq);
                assert_eq!(
                    (r.queue_id, r.queue_offset),
                    (a.queue_id, a.queue_offset),
                    "seed {seed}: {} moved",
                    a.uniq
                );
            }
            None => lost.push(a.clone()),
        }
    }
    let _ = after.shutdown().await;
    Round {
        acked: acked.len(),
        recovered: stored.len(),
        lost,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_flush_loses_no_acknowledged_send_to_a_power_cut() {
    const ROUNDS: u64 = 12;
    let (mut acked, mut recovered) = (0, 0);
    for seed in 1..=ROUNDS {
        let r = round(seed, true).await;
        assert!(
            r.lost.is_empty(),
            "seed {seed}: {} of {} acknowledged sends lost by the power cut under SYNC_FLUSH, e.g. {:?}",
            r.lost.len(),
            r.acked,
            &r.lost[..r.lost.len().min(3)]
        );
        acked += r.acked;
        recovered += r.recovered;
    }
    eprintln!("power cut, SYNC_FLUSH: {ROUNDS} rounds, {acked} acknowledged sends, {recovered} recovered, none lost");
}

/// ASYNC_FLUSH: a first part of the load is synced by the background flush, then the CommitLog's syncs stall
/// (a device that stops answering) while the load goes on and is acknowledged, then the power goes. What
/// comes back is a gap-free, CRC-checked prefix holding every synced message; the acknowledged tail is lost
/// (wholly on a clean cut, partly when pages were written back or torn).
async fn async_round(seed: u64) -> (usize, usize, usize) {
    use rmq_broker::store::lazy_fs::Op;
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let fs = LazyFs::new();
    let broker = start(&store, fs.clone(), false).await;
    let topic = unique("AsyncCutTopic");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    assert_eq!(
        c.create_topic(&topic, 1).await.expect("create").code,
        rc::SUCCESS
    );
    let mut sent = Vec::new();
    let synced = 20 + rng.below(60) as usize;
    let tail = 20 + rng.below(60) as usize;
    for i in 0..synced + tail {
        if i == synced {
            // Everything so far reaches the disk (the background flush runs every 20 ms) ...
            rmq_tests::eventually(Duration::from_secs(20), "the background flush", || {
                let fs = fs.clone();
                async move { Ok((fs.unsynced_pages() == 0).then_some(())) }
            })
            .await
            .expect("synced");
            // ... and then nothing more does.
            fs.stall(Op::Sync, "commitlog");
        }
        let body = format!("async {seed} #{i} ")
            .repeat(1 + i % 37)
            .into_bytes();
        let m = OutMessage::new(&topic, &body).queue(0);
        let r = c.send(&m).await.expect("send");
        assert_eq!(
            r.code,
            rc::SUCCESS,
            "ASYNC_FLUSH acknowledges after the write: {:?}",
            r.remark
        );
        sent.push(m.uniq_key().to_owned());
    }
    let survivor = cut(&fs, &mut rng, 2, 4);
    stop_dead(broker).await;
    drop(c);
    let after = start(&store, survivor, false).await;
    let c = RawClient::connect(&after.broker_addr())
        .await
        .expect("connect after the cut");
    let recs = c
        .pull_all(&unique("async_reader"), &topic, 0, 0)
        .await
        .unwrap_or_else(|e| panic!("seed {seed}: pull after the cut: {e}"));
    let mut got = Vec::new();
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r.queue_offset, i as i64, "seed {seed}: hole after recovery");
        assert!(
            r.body_crc_ok(),
            "seed {seed}: offset {i} recovered with a bad CRC"
        );
        got.push(r.properties().get("UNIQ_KEY").cloned().expect("UNIQ_KEY"));
    }
    assert_eq!(
        got[..],
        sent[..got.len()],
        "seed {seed}: what came back is not a prefix of what was sent"
    );
    assert!(
        got.len() >= synced,
        "seed {seed}: {} of {synced} synced messages came back",
        got.len()
    );
    let _ = after.shutdown().await;
    (sent.len(), got.len(), sent.len() - got.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_flush_loses_acknowledged_sends_to_a_power_cut_but_recovers_a_clean_prefix() {
    const ROUNDS: u64 = 6;
    let (mut acked, mut recovered, mut lost) = (0, 0, 0);
    for seed in 100..100 + ROUNDS {
        let (a, r, l) = async_round(seed).await;
        acked += a;
        recovered += r;
        lost += l;
    }
    eprintln!("power cut, ASYNC_FLUSH: {ROUNDS} rounds, {acked} acknowledged, {recovered} recovered, {lost} lost");
    assert!(
        lost > 0,
        "ASYNC_FLUSH acknowledges before syncing, so a cut while syncs stall must lose the tail; \
         none lost means the test cannot see unsynced data"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_disk_refuses_sends_keeps_serving_reads_and_loses_nothing_acknowledged() {
    use rmq_broker::store::lazy_fs::{Fault, Op};
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let fs = LazyFs::new();
    let broker = start(&store, fs.clone(), true).await;
    let topic = unique("DiskFaultTopic");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let r = c.create_topic(&topic, 1).await.expect("create");
    assert_eq!(r.code, rc::SUCCESS, "create topic: {:?}", r.remark);
    let mut acked = Vec::new();
    for i in 0..20 {
        let m = OutMessage::new(&topic, format!("before {i}").as_bytes()).queue(0);
        let r = c.send(&m).await.expect("send");
        assert_eq!(r.code, rc::SUCCESS, "send before the fault: {:?}", r.remark);
        acked.push(m.uniq_key().to_owned());
    }
    // The disk fills: every fdatasync of the CommitLog fails with ENOSPC.
    fs.inject(Fault {
        op: Op::Sync,
        path_part: "commitlog".into(),
        kind: std::io::ErrorKind::StorageFull,
    });
    for i in 0..3 {
        let m = OutMessage::new(&topic, format!("during {i}").as_bytes()).queue(0);
        let r = c
            .send(&m)
            .await
            .expect("an answer, not a dropped connection");
        assert_eq!(
            r.code,
            rc::SERVICE_NOT_AVAILABLE,
            "a send the disk could not make durable is refused as Java refuses it: {:?}",
            r.remark
        );
        assert!(
            r.remark
                .as_deref()
                .unwrap_or_default()
                .contains("StorageFull"),
            "the remark names the disk error: {:?}",
            r.remark
        );
    }
    // Reads go on.
    let recs = c
        .pull_all(&unique("fault_reader"), &topic, 0, 0)
        .await
        .expect("pull while the disk fails");
    assert!(recs.len() >= 20, "only {} records readable", recs.len());
    // The machine goes down and comes back with a healthy disk: what was acknowledged is there, the store
    // takes writes again.
    let survivor = fs.power_cut(|_| Tear::Lose);
    stop_dead(broker).await;
    drop(c);
    let after = start(&store, survivor, true).await;
    let c = RawClient::connect(&after.broker_addr())
        .await
        .expect("connect after the repair");
    let m = OutMessage::new(&topic, b"after the repair").queue(0);
    let r = c.send(&m).await.expect("send after the repair");
    assert_eq!(r.code, rc::SUCCESS, "send after the repair: {:?}", r.remark);
    let recs = c
        .pull_all(&unique("repair_reader"), &topic, 0, 0)
        .await
        .expect("pull after the repair");
    let ids: Vec<String> = recs
        .iter()
        .filter_map(|r| r.properties().get("UNIQ_KEY").cloned())
        .collect();
    for a in &acked {
        assert!(ids.contains(a), "acknowledged {a} lost");
    }
    assert!(ids.contains(&m.uniq_key().to_owned()));
    let _ = after.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_slower_than_sync_flush_timeout_gives_the_producer_flush_disk_timeout() {
    use rmq_broker::store::lazy_fs::Op;
    use rmq_runtime::producer::{Producer, ProducerOptions, SendStatus};
    use rmq_runtime::Message;
    let tmp = tempfile::tempdir().expect("tempdir");
    let fs = LazyFs::new();
    let broker = EmbeddedBroker::builder()
        .store_dir(tmp.path().join("store"))
        .fs(FsHandle::new(Arc::new(fs.clone())))
        .flush_sync(true)
        .property("syncFlushTimeout", "200")
        .start()
        .await
        .expect("broker");
    let topic = unique("SlowDiskTopic");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    assert_eq!(
        c.create_topic(&topic, 1).await.expect("create").code,
        rc::SUCCESS
    );
    let producer = Producer::start(ProducerOptions::new(
        unique("slow_disk_producer"),
        broker.namesrv_addr(),
    ))
    .await
    .expect("producer");
    let ok = producer
        .send(Message::new(&topic, "fast disk"))
        .await
        .expect("send");
    assert_eq!(ok.status, SendStatus::SendOk);
    // The disk stops answering syncs; the send waits syncFlushTimeout (200 ms) and is answered.
    fs.stall(Op::Sync, "commitlog");
    let slow = producer
        .send(Message::new(&topic, "slow disk"))
        .await
        .expect("a FLUSH_DISK_TIMEOUT is a result, not an error, as in Java");
    assert_eq!(slow.status, SendStatus::FlushDiskTimeout);
    assert!(
        !slow.msg_id.is_empty() && slow.queue_offset == 1,
        "{slow:?}"
    );
    fs.heal();
    let again = producer
        .send(Message::new(&topic, "disk back"))
        .await
        .expect("send");
    assert_eq!(again.status, SendStatus::SendOk);
    producer.shutdown().await;
    let _ = broker.shutdown().await;
}

/// Topics are created one after another (each create rewrites topics.json) while the power goes at a
/// seeded point; the broker must come back (a torn topics.json would keep it down), with every topic whose
/// creation was answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_files_survive_a_cut_during_their_rewrite() {
    for seed in 1..=6u64 {
        let mut rng = Rng(seed | 1);
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = tmp.path().join("store");
        let fs = LazyFs::new();
        let broker = start(&store, fs.clone(), true).await;
        let addr = broker.broker_addr();
        let answered: Arc<Mutex<Vec<String>>> = Arc::default();
        let cut_after = 3 + rng.below(20) as usize;
        let enough = Arc::new(Notify::new());
        let creator = tokio::spawn({
            let (answered, enough) = (answered.clone(), enough.clone());
            async move {
                let c = RawClient::connect(&addr).await.expect("connect");
                for i in 0.. {
                    let topic = format!("StateCut{seed}_{i}");
                    match c.create_topic(&topic, 2).await {
                        Ok(r) if r.code == rc::SUCCESS => {
                            let mut a = answered.lock().expect("lock");
                            a.push(topic);
                            if a.len() == cut_after {
                                enough.notify_one();
                            }
                        }
                        _ => return,
                    }
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(30), enough.notified())
            .await
            .expect("topics created");
        let survivor = fs.power_cut(|_| Tear::Lose);
        creator.abort();
        let _ = creator.await;
        stop_dead(broker).await;
        let answered = answered.lock().expect("lock").clone();
        let after = start(&store, survivor, true).await;
        let ns = RawClient::connect(&after.namesrv_addr())
            .await
            .expect("connect name server");
        for t in &answered {
            assert!(
                ns.route_json(t).await.expect("route").is_some(),
                "seed {seed}: topic {t} was created and answered before the cut, and is gone"
            );
        }
        let _ = after.shutdown().await;
    }
}

/// SYNC_FLUSH: consumer offsets are committed for what was delivered and saved every 20 ms; after a cut the
/// saved offset is never ahead of what the consumer had, nor of the queue that recovery rebuilt (a restarted
/// consumer skips nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_are_never_ahead_of_the_recovered_queue() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let fs = LazyFs::new();
    let start_with_offsets = |fs: LazyFs| {
        EmbeddedBroker::builder()
            .store_dir(&store)
            .fs(FsHandle::new(Arc::new(fs)))
            .flush_sync(true)
            .property("flushConsumerOffsetInterval", "20")
            .start()
    };
    let broker = start_with_offsets(fs.clone()).await.expect("broker");
    let topic = unique("OffsetCutTopic");
    let group = unique("offset_cut_group");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    assert_eq!(
        c.create_topic(&topic, 1).await.expect("create").code,
        rc::SUCCESS
    );
    let mut delivered = 0i64;
    for round in 0..20 {
        for i in 0..10 {
            let m = OutMessage::new(&topic, format!("r{round} m{i}").as_bytes()).queue(0);
            assert_eq!(c.send(&m).await.expect("send").code, rc::SUCCESS);
        }
        let recs = c
            .pull_all(&group, &topic, 0, delivered)
            .await
            .expect("pull");
        delivered += recs.len() as i64;
        assert_eq!(
            c.update_consumer_offset(&group, &topic, 0, delivered)
                .await
                .expect("commit"),
            rc::SUCCESS
        );
    }
    let survivor = fs.power_cut(|_| Tear::Lose);
    stop_dead(broker).await;
    drop(c);
    let after = start_with_offsets(survivor).await.expect("restart");
    let c = RawClient::connect(&after.broker_addr())
        .await
        .expect("connect");
    let max = c.queue_offset(true, &topic, 0).await.expect("max offset");
    let (code, committed) = c
        .query_consumer_offset(&group, &topic, 0)
        .await
        .expect("query offset");
    assert_eq!(code, rc::SUCCESS);
    assert!(
        committed <= delivered,
        "committed {committed} > delivered {delivered}"
    );
    assert!(
        committed <= max,
        "the committed offset {committed} is ahead of the recovered queue (max {max}): a restarted \
         consumer would skip messages that were never redelivered"
    );
    let _ = after.shutdown().await;
}

/// The disk fills past `diskMaxUsedSpaceRatio`: sends are refused SERVICE_NOT_AVAILABLE while reads go on;
/// when space comes back the broker takes sends again, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_sends_until_space_comes_back() {
    use rmq_tests::eventually;
    let tmp = tempfile::tempdir().expect("tempdir");
    let fs = LazyFs::new();
    fs.set_used_ratio(0.10);
    // The disk is re-read every flush interval (here 20 ms).
    let broker = start(&tmp.path().join("store"), fs.clone(), true).await;
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("FullDiskTopic");
    assert_eq!(
        c.create_topic(&topic, 1).await.expect("create").code,
        rc::SUCCESS
    );
    let send = |body: &'static str| {
        let c = &c;
        let topic = &topic;
        async move {
            c.send(&OutMessage::new(topic, body.as_bytes()).queue(0))
                .await
        }
    };
    assert_eq!(send("room").await.expect("send").code, rc::SUCCESS);
    fs.set_used_ratio(0.99);
    let refused = eventually(
        Duration::from_secs(20),
        "sends refused on a full disk",
        || async {
            let r = send("no room").await?;
            Ok((r.code != rc::SUCCESS).then_some(r))
        },
    )
    .await
    .expect("refused");
    assert_eq!(
        refused.code,
        rc::SERVICE_NOT_AVAILABLE,
        "{:?}",
        refused.remark
    );
    let recs = c
        .pull_all(&unique("full_reader"), &topic, 0, 0)
        .await
        .expect("reads go on");
    assert!(recs.iter().any(|r| r.body == b"room"));
    fs.set_used_ratio(0.10);
    eventually(Duration::from_secs(20), "sends accepted again", || async {
        Ok((send("room again").await?.code == rc::SUCCESS).then_some(()))
    })
    .await
    .expect("accepted after space came back");
    let _ = broker.shutdown().await;
}
