//! Transactional messages over TCP (docs/protocol.md §2.3.5, §4.5): half messages stay out of sight, a commit delivers
//! exactly once, a rollback never, an UNKNOWN outcome is checked back on the producer's own connection, and a
//! pending half message survives a broker restart (clean or crash) and is still checked.
//!
//! The raw-client tests speak the wire protocol by hand (`rmq_tests::transaction_support`); the last test uses
//! `rocketmq-client-rust`'s transactional producer against the same broker.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmq_broker::embedded::{EmbeddedBroker, EmbeddedBrokerBuilder};
use rmq_tests::client::{now_ms, rc, OutMessage};
use rmq_tests::record::Record;
use rmq_tests::transaction_support::{
    client_id, next_check, producer_heartbeat, send_half, EndTx, HalfSent, TxOutcome,
};
use rmq_tests::{eventually, unique, RawClient};

const HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
const OP_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
const CHECK_MAX_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
/// Long enough for any check round the broker is configured to run in these tests.
const WAIT: Duration = Duration::from_secs(15);

/// A broker whose check service runs fast: checks after `timeout_ms`, rounds every `interval_ms`.
fn fast_checks(timeout_ms: u64, interval_ms: u64) -> EmbeddedBrokerBuilder {
    EmbeddedBroker::builder()
        .property("transactionTimeOut", timeout_ms.to_string())
        .property("transactionCheckInterval", interval_ms.to_string())
}

/// A broker that will not check anything during a test.
fn no_checks() -> EmbeddedBrokerBuilder {
    EmbeddedBroker::builder().property("transactionCheckInterval", "600000")
}

/// Every message of `topic` queue 0, read by a fresh group from offset 0.
async fn delivered(c: &RawClient, topic: &str) -> Vec<Record> {
    c.pull_all(&unique("reader"), topic, 0, 0)
        .await
        .expect("pull real topic")
}

/// Waits until `topic` queue 0 holds `n` messages, then returns them.
async fn wait_delivered(c: &RawClient, topic: &str, n: usize) -> Vec<Record> {
    eventually(
        WAIT,
        &format!("{n} message(s) visible in {topic}"),
        || async {
            let got = delivered(c, topic).await;
            Ok((got.len() >= n).then_some(got))
        },
    )
    .await
    .expect("delivery")
}

/// The op records (half offsets they name) the broker wrote, read from its store.
fn op_offsets(broker: &EmbeddedBroker) -> Vec<i64> {
    let store = &broker.broker().store();
    let r = store.get_messages(OP_TOPIC, 0, 0, 32, usize::MAX, &|_| true);
    r.messages
        .iter()
        .flat_map(|raw| {
            let rec = rmq_tests::record::decode_record(raw).expect("op record").0;
            assert_eq!(rec.tags().as_deref(), Some("d"), "op record tag");
            String::from_utf8_lossy(&rec.body)
                .split(',')
                .filter_map(|s| s.parse().ok())
                .collect::<Vec<i64>>()
        })
        .collect()
}

fn tx_bits(sys_flag: i32) -> i32 {
    sys_flag & 0xC
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_makes_the_half_message_visible_exactly_once() {
    let broker = fast_checks(800, 200).start().await.expect("broker");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("TxCommit");
    let group = unique("tx_commit_pg");
    producer_heartbeat(&c, &client_id("p"), &group)
        .await
        .expect("heartbeat");

    let h = send_half(&c, &topic, &group, b"pay order 1", &[("KEYS", "order-1")])
        .await
        .expect("half message stored");
    assert!(h.outcome.ext.contains_key("transactionId"));

    // Out of sight: nothing in the real topic; the record sits in the half topic with the real destination.
    assert!(
        delivered(&c, &topic).await.is_empty(),
        "half message visible"
    );
    assert_eq!(c.queue_offset(true, &topic, 0).await.expect("max"), 0);
    let (resp, half) = c
        .view_message(h.commit_log_offset)
        .await
        .expect("view half");
    assert_eq!(resp.code, rc::SUCCESS);
    let half = half.expect("half record");
    let props = half.properties();
    assert_eq!(half.topic, HALF_TOPIC);
    assert_eq!(half.queue_id, 0);
    assert_eq!(
        tx_bits(half.sys_flag),
        0,
        "half record has transaction type NOT_TYPE"
    );
    assert_eq!(props.get("REAL_TOPIC"), Some(&topic));
    assert_eq!(props.get("REAL_QID").map(String::as_str), Some("0"));
    assert_eq!(props.get("__transactionId__"), Some(&h.uniq_key));
    assert_eq!(props.get("PGROUP"), Some(&group));

    EndTx::for_sent(&h, TxOutcome::Commit)
        .send_oneway(&c)
        .expect("commit");
    let got = wait_delivered(&c, &topic, 1).await;
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m.body, b"pay order 1");
    assert_eq!(m.topic, topic);
    assert_eq!(
        tx_bits(m.sys_flag),
        0x8,
        "committed message has type COMMIT"
    );
    assert_eq!(m.prepared_transaction_offset, h.commit_log_offset);
    let props = m.properties();
    assert_eq!(props.get("UNIQ_KEY"), Some(&h.uniq_key));
    assert_eq!(props.get("KEYS").map(String::as_str), Some("order-1"));
    for gone in ["TRAN_MSG", "REAL_TOPIC", "REAL_QID"] {
        assert!(
            !props.contains_key(gone),
            "{gone} left on the committed message"
        );
    }

    // Duplicates (a retried oneway, then one with a response) change nothing.
    EndTx::for_sent(&h, TxOutcome::Commit)
        .send_oneway(&c)
        .expect("second commit");
    let resp = EndTx::for_sent(&h, TxOutcome::Commit)
        .request(&c)
        .await
        .expect("third commit");
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    let resp = EndTx::for_sent(&h, TxOutcome::Rollback)
        .request(&c)
        .await
        .expect("late rollback");
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    assert_eq!(delivered(&c, &topic).await.len(), 1, "delivered twice");
    assert_eq!(op_offsets(&broker), vec![h.tran_state_table_offset()]);

    // Resolved, so never checked back (several check rounds pass after transactionTimeOut).
    assert!(next_check(&c, Duration::from_millis(2000))
        .await
        .expect("check")
        .is_none());
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_discards_the_half_message() {
    let broker = fast_checks(800, 200).start().await.expect("broker");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("TxRollback");
    let group = unique("tx_rollback_pg");
    producer_heartbeat(&c, &client_id("p"), &group)
        .await
        .expect("heartbeat");
    let h = send_half(&c, &topic, &group, b"cancelled", &[])
        .await
        .expect("half");
    let resp = EndTx::for_sent(&h, TxOutcome::Rollback)
        .request(&c)
        .await
        .expect("rollback");
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    // A commit after the rollback must not resurrect it.
    let resp = EndTx::for_sent(&h, TxOutcome::Commit)
        .request(&c)
        .await
        .expect("late commit");
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    assert!(next_check(&c, Duration::from_millis(2000))
        .await
        .expect("check")
        .is_none());
    assert!(
        delivered(&c, &topic).await.is_empty(),
        "rolled back message delivered"
    );
    assert_eq!(op_offsets(&broker), vec![h.tran_state_table_offset()]);
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_outcome_is_checked_back_and_committed_by_the_answer() {
    let timeout_ms = 600;
    let broker = fast_checks(timeout_ms, 200).start().await.expect("broker");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("TxCheck");
    let group = unique("tx_check_pg");
    producer_heartbeat(&c, &client_id("p"), &group)
        .await
        .expect("heartbeat");
    let h = send_half(&c, &topic, &group, b"maybe", &[("TAGS", "T1")])
        .await
        .expect("half");
    EndTx::for_sent(&h, TxOutcome::Unknown)
        .send_oneway(&c)
        .expect("unknown");

    let check = next_check(&c, WAIT)
        .await
        .expect("check request")
        .expect("a CHECK_TRANSACTION_STATE on the producer's heartbeat connection");
    let received = now_ms();
    assert!(check.command.is_oneway(), "check-backs are oneway");
    assert_eq!(check.tran_state_table_offset, h.tran_state_table_offset());
    assert_eq!(check.commit_log_offset, h.commit_log_offset);
    assert_eq!(check.msg_id.as_deref(), Some(h.uniq_key.as_str()));
    let rec = &check.record;
    assert_eq!(rec.topic, topic, "body carries the real topic");
    assert_eq!(rec.queue_id, 0, "body carries the real queue");
    assert_eq!(rec.physical_offset, h.commit_log_offset);
    assert_eq!(rec.body, b"maybe");
    assert!(rec.body_crc_ok());
    let props = rec.properties();
    assert_eq!(props.get("PGROUP"), Some(&group));
    assert_eq!(props.get("UNIQ_KEY"), Some(&h.uniq_key));
    assert_eq!(props.get("TAGS").map(String::as_str), Some("T1"));
    assert_eq!(
        props.get("TRANSACTION_CHECK_TIMES").map(String::as_str),
        Some("1")
    );
    assert!(
        received - rec.born_timestamp >= timeout_ms as i64,
        "checked {} ms after birth, before transactionTimeOut",
        received - rec.born_timestamp
    );
    assert!(
        delivered(&c, &topic).await.is_empty(),
        "visible before the answer"
    );

    EndTx::answer(&check, &group, TxOutcome::Commit)
        .send_oneway(&c)
        .expect("answer");
    let got = wait_delivered(&c, &topic, 1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, b"maybe");
    assert_eq!(got[0].tags().as_deref(), Some("T1"));
    assert!(
        next_check(&c, Duration::from_millis(1200))
            .await
            .expect("check")
            .is_none(),
        "checked again after the commit"
    );
    assert_eq!(delivered(&c, &topic).await.len(), 1);
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_immunity_time_delays_the_first_check() {
    let broker = fast_checks(100, 200).start().await.expect("broker");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("TxImmune");
    let group = unique("tx_immune_pg");
    producer_heartbeat(&c, &client_id("p"), &group)
        .await
        .expect("heartbeat");
    let h = send_half(
        &c,
        &topic,
        &group,
        b"slow",
        &[("CHECK_IMMUNITY_TIME_IN_SECONDS", "2")],
    )
    .await
    .expect("half");
    let check = next_check(&c, WAIT)
        .await
        .expect("check")
        .expect("checked eventually");
    let age = now_ms() - check.record.born_timestamp;
    assert!(
        age >= 2000,
        "checked after {age} ms, inside the immunity time"
    );
    assert_eq!(check.commit_log_offset, h.commit_log_offset);
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_checks_stop_at_transaction_check_max() {
    let broker = fast_checks(100, 200)
        .property("transactionCheckMax", "2")
        .start()
        .await
        .expect("broker");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("TxGiveUp");
    let group = unique("tx_giveup_pg");
    producer_heartbeat(&c, &client_id("p"), &group)
        .await
        .expect("heartbeat");
    let h = send_half(&c, &topic, &group, b"orphan", &[])
        .await
        .expect("half");
    for n in 1..=2 {
        let check = next_check(&c, WAIT)
            .await
            .expect("check")
            .unwrap_or_else(|| panic!("check {n} missing"));
        assert_eq!(check.commit_log_offset, h.commit_log_offset);
        let times = check
            .record
            .properties()
            .get("TRANSACTION_CHECK_TIMES")
            .cloned();
        assert_eq!(times, Some(n.to_string()));
        // The producer does not know yet.
        EndTx::answer(&check, &group, TxOutcome::Unknown)
            .send_oneway(&c)
            .expect("unknown");
    }
    assert!(
        next_check(&c, Duration::from_millis(1500))
            .await
            .expect("check")
            .is_none(),
        "checked more than transactionCheckMax times"
    );
    // Kept aside, not delivered.
    let kept = eventually(
        WAIT,
        "discarded message in TRANS_CHECK_MAX_TIME_TOPIC",
        || async {
            let got = c.pull_all(&unique("admin"), CHECK_MAX_TOPIC, 0, 0).await?;
            Ok((!got.is_empty()).then_some(got))
        },
    )
    .await
    .expect("discarded copy");
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].body, b"orphan");
    assert_eq!(kept[0].properties().get("REAL_TOPIC"), Some(&topic));
    // Too late: a commit now does nothing.
    let resp = EndTx::for_sent(&h, TxOutcome::Commit)
        .request(&c)
        .await
        .expect("late commit");
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    assert!(delivered(&c, &topic).await.is_empty());
    assert_eq!(op_offsets(&broker), vec![h.tran_state_table_offset()]);
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_transaction_checks_what_it_commits() {
    let broker = no_checks().start().await.expect("broker");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let topic = unique("TxBad");
    let group = unique("tx_bad_pg");
    let h = send_half(&c, &topic, &group, b"guarded", &[])
        .await
        .expect("half");
    let plain = c
        .send(&OutMessage::new(&unique("Plain"), b"plain"))
        .await
        .expect("plain send")
        .ok()
        .expect("plain stored");
    let plain_offset = rmq_tests::record::decode_offset_msg_id(&plain.msg_id)
        .expect("msgId")
        .offset;

    let refused = |mut e: EndTx, what: &'static str, f: fn(&mut EndTx)| {
        f(&mut e);
        let c = &c;
        async move {
            let resp = e.request(c).await.expect(what);
            assert_eq!(resp.code, rc::SYSTEM_ERROR, "{what}: {:?}", resp.remark);
            resp.remark.unwrap_or_default()
        }
    };
    let base = EndTx::for_sent(&h, TxOutcome::Commit);
    let r = refused(base.clone(), "wrong group", |e| {
        e.group = "someone_else".into()
    })
    .await;
    assert!(r.contains("producer group"), "{r}");
    let r = refused(base.clone(), "wrong queue offset", |e| {
        e.tran_state_table_offset += 1
    })
    .await;
    assert!(r.contains("state table offset"), "{r}");
    let r = refused(base.clone(), "no record", |e| e.commit_log_offset += 1).await;
    assert!(r.contains("commitLogOffset"), "{r}");
    let mut not_half = base.clone();
    not_half.commit_log_offset = plain_offset;
    let resp = not_half.request(&c).await.expect("not half");
    assert_eq!(resp.code, rc::SYSTEM_ERROR);
    assert!(resp
        .remark
        .unwrap_or_default()
        .contains("not a half message"));

    let mut odd = base.clone();
    odd.outcome = TxOutcome::Unknown;
    let resp = odd.request(&c).await.expect("unknown with response");
    assert_eq!(resp.code, rc::SUCCESS);
    let mut cmd = base.to_command();
    cmd.ext_fields.insert("commitOrRollback".into(), "5".into());
    let resp = c.request(cmd).await.expect("bad outcome");
    assert_eq!(resp.code, 29, "INVALID_PARAMETER for commitOrRollback 5");

    // None of that touched the transaction: the real commit still works, once.
    assert!(delivered(&c, &topic).await.is_empty());
    let resp = base.request(&c).await.expect("commit");
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    assert_eq!(delivered(&c, &topic).await.len(), 1);
    broker.shutdown().await.expect("shutdown");
}

/// The records of a system topic's queue, read from the broker's store (clients may not pull system topics).
fn parked(broker: &EmbeddedBroker, topic: &str, queue_id: i32) -> Vec<Record> {
    let store = &broker.broker().store();
    let r = store.get_messages(topic, queue_id, 0, 32, usize::MAX, &|_| true);
    r.messages
        .iter()
        .map(|raw| {
            rmq_tests::record::decode_record(raw)
                .expect("parked record")
                .0
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_message_with_a_delay_or_delivery_time_waits_until_due() {
    let broker = no_checks()
        .property("messageDelayLevel", "1s 2s")
        .start()
        .await
        .expect("broker");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let group = unique("tx_delay_pg");
    producer_heartbeat(&c, &client_id("p"), &group)
        .await
        .expect("heartbeat");

    // Delay level 2 (2 s).
    let topic = unique("TxDelayed");
    let h = send_half(&c, &topic, &group, b"later", &[("DELAY", "2")])
        .await
        .expect("half");
    let committed_at = now_ms();
    let resp = EndTx::for_sent(&h, TxOutcome::Commit)
        .request(&c)
        .await
        .expect("commit");
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    // The commit is applied (its response came), yet nothing is visible: the message waits on level 2's queue.
    assert!(
        delivered(&c, &topic).await.is_empty(),
        "a committed DELAY message was delivered at once"
    );
    let waiting: Vec<Record> = parked(&broker, "SCHEDULE_TOPIC_XXXX", 1)
        .into_iter()
        .filter(|r| r.properties().get("UNIQ_KEY") == Some(&h.uniq_key))
        .collect();
    assert_eq!(waiting.len(), 1, "parked on SCHEDULE_TOPIC_XXXX queue 1");
    assert_eq!(waiting[0].properties().get("REAL_TOPIC"), Some(&topic));
    assert_eq!(tx_bits(waiting[0].sys_flag), 0x8, "parked as COMMIT");
    let got = wait_delivered(&c, &topic, 1).await;
    assert_eq!(got[0].body, b"later");
    assert_eq!(tx_bits(got[0].sys_flag), 0x8);
    assert!(
        got[0].store_timestamp - committed_at >= 2000,
        "delivered {} ms after the commit, before the 2 s delay",
        got[0].store_timestamp - committed_at
    );

    // A delivery time 1.5 s ahead.
    let topic = unique("TxTimed");
    let deliver_at = now_ms() + 1500;
    let h = send_half(
        &c,
        &topic,
        &group,
        b"on time",
        &[("TIMER_DELIVER_MS", &deliver_at.to_string())],
    )
    .await
    .expect("half");
    let resp = EndTx::for_sent(&h, TxOutcome::Commit)
        .request(&c)
        .await
        .expect("commit");
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    assert!(
        delivered(&c, &topic).await.is_empty(),
        "a committed timer message was delivered at once"
    );
    assert!(
        parked(&broker, "rmq_sys_wheel_timer", 0)
            .iter()
            .any(|r| r.properties().get("UNIQ_KEY") == Some(&h.uniq_key)),
        "parked on the timer topic"
    );
    let got = wait_delivered(&c, &topic, 1).await;
    assert_eq!(got[0].body, b"on time");
    assert!(
        got[0].store_timestamp >= deliver_at,
        "delivered {} ms before its time",
        deliver_at - got[0].store_timestamp
    );
    broker.shutdown().await.expect("shutdown");
}

/// Three half messages before a restart: one left open, one committed, one rolled back.
async fn three_halves(c: &RawClient, topic: &str, group: &str) -> [HalfSent; 3] {
    let open = send_half(c, topic, group, b"open", &[])
        .await
        .expect("open");
    let committed = send_half(c, topic, group, b"committed", &[])
        .await
        .expect("committed");
    let rolled_back = send_half(c, topic, group, b"rolled back", &[])
        .await
        .expect("rolled back");
    for (h, o) in [
        (&committed, TxOutcome::Commit),
        (&rolled_back, TxOutcome::Rollback),
    ] {
        let resp = EndTx::for_sent(h, o).request(c).await.expect("end");
        assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    }
    assert_eq!(delivered(c, topic).await.len(), 1);
    [open, committed, rolled_back]
}

/// After a restart: only the open one is checked; answering commits it; the earlier commit is not repeated.
async fn only_the_open_one_is_checked(
    broker: &EmbeddedBroker,
    topic: &str,
    group: &str,
    open: &HalfSent,
) {
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect after restart");
    producer_heartbeat(&c, &client_id("p2"), group)
        .await
        .expect("heartbeat");
    let check = next_check(&c, WAIT)
        .await
        .expect("check")
        .expect("the pending half message is checked after the restart");
    assert_eq!(check.commit_log_offset, open.commit_log_offset);
    assert_eq!(check.record.body, b"open");
    EndTx::answer(&check, group, TxOutcome::Commit)
        .send_oneway(&c)
        .expect("answer");
    let got = wait_delivered(&c, topic, 2).await;
    let bodies: Vec<&[u8]> = got.iter().map(|r| r.body.as_slice()).collect();
    assert_eq!(bodies, vec![&b"committed"[..], &b"open"[..]]);
    assert!(
        next_check(&c, Duration::from_millis(1200))
            .await
            .expect("check")
            .is_none(),
        "a resolved half message was checked after the restart"
    );
    assert_eq!(delivered(&c, topic).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_half_message_is_checked_after_a_clean_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let topic = unique("TxRestart");
    let group = unique("tx_restart_pg");
    let broker = no_checks().store_dir(&store).start().await.expect("broker");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let [open, _, _] = three_halves(&c, &topic, &group).await;
    drop(c);
    broker.shutdown().await.expect("shutdown");
    assert!(
        store.join("config/transaction.json").exists(),
        "transaction state saved at shutdown"
    );

    let broker = fast_checks(100, 200)
        .store_dir(&store)
        .start()
        .await
        .expect("restart");
    only_the_open_one_is_checked(&broker, &topic, &group, &open).await;
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_half_message_is_checked_after_a_crash() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let topic = unique("TxCrash");
    let group = unique("tx_crash_pg");
    let broker = no_checks().store_dir(&store).start().await.expect("broker");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let [open, _, _] = three_halves(&c, &topic, &group).await;
    drop(c);
    // No shutdown: the store recovers as after a crash (its abort marker stays).
    drop(broker);

    let started = Instant::now();
    let broker = loop {
        match fast_checks(100, 200).store_dir(&store).start().await {
            Ok(b) => break b,
            Err(e) if started.elapsed() < WAIT => {
                eprintln!("store not released yet: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("restart after crash: {e}"),
        }
    };
    only_the_open_one_is_checked(&broker, &topic, &group, &open).await;
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_state_file_is_rebuilt_from_the_queues() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let topic = unique("TxRebuild");
    let group = unique("tx_rebuild_pg");
    let broker = no_checks().store_dir(&store).start().await.expect("broker");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let [open, _, _] = three_halves(&c, &topic, &group).await;
    drop(c);
    broker.shutdown().await.expect("shutdown");
    // Outcomes must then come from the op log alone.
    std::fs::write(store.join("config/transaction.json"), b"{ not json").expect("corrupt");

    let broker = fast_checks(100, 200)
        .store_dir(&store)
        .start()
        .await
        .expect("restart with an unreadable state file");
    only_the_open_one_is_checked(&broker, &topic, &group, &open).await;
    broker.shutdown().await.expect("shutdown");
}

mod interop {
    //! `rocketmq-client-rust` 1.0.0's `TransactionMQProducer`: one message committed by the local
    //! transaction, one left UNKNOWN and committed by the listener's answer to the broker's check-back.

    use super::*;
    use rmq_tests::fixtures::ThirdPartyRuntime;
    use rocketmq_client_rust::{LocalTransactionState, TransactionListener, TransactionMQProducer};
    use rocketmq_model::common::message::message_ext::MessageExt;
    use rocketmq_model::common::message::message_single::Message;
    use rocketmq_model::common::message::MessageTrait;

    /// Every message of `topic` in any of the 4 queues the client creates it with.
    async fn delivered_all_queues(c: &RawClient, topic: &str) -> Vec<Record> {
        let mut out = Vec::new();
        for q in 0..4 {
            out.extend(
                c.pull_all(&unique("reader"), topic, q, 0)
                    .await
                    .expect("pull real topic"),
            );
        }
        out
    }

    struct Listener {
        checks: Arc<AtomicUsize>,
    }

    impl TransactionListener for Listener {
        fn execute_local_transaction(
            &self,
            msg: &dyn MessageTrait,
            _arg: Option<&(dyn std::any::Any + Send + Sync)>,
        ) -> LocalTransactionState {
            match msg.get_body().map(|b| b.as_ref()) {
                Some(b"commit-now") => LocalTransactionState::CommitMessage,
                _ => LocalTransactionState::Unknown,
            }
        }

        fn check_local_transaction(&self, _msg: &MessageExt) -> LocalTransactionState {
            self.checks.fetch_add(1, Ordering::SeqCst);
            LocalTransactionState::CommitMessage
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rocketmq_client_rust_transactional_producer() {
        // Many cheap checks: the client registers with the broker by heartbeat, which may take a while.
        let broker = fast_checks(300, 300)
            .property("transactionCheckMax", "300")
            .start()
            .await
            .expect("broker");
        let topic = unique("InteropTx");
        let tp = ThirdPartyRuntime::start("interop-tx");
        let client_runtime = tp.runtime.clone();
        let checks = Arc::new(AtomicUsize::new(0));
        let mut producer: TransactionMQProducer =
            TransactionMQProducer::builder(client_runtime.clone())
                .producer_group(unique("interop_tx_pg"))
                .name_server_addr(broker.namesrv_addr())
                .send_msg_timeout(10_000)
                .transaction_listener(Listener {
                    checks: checks.clone(),
                })
                .build();
        producer.start().await.expect("producer start");

        for body in [&b"commit-now"[..], &b"ask-me-later"[..]] {
            let msg = Message::builder()
                .topic(topic.as_str())
                .tags("TX")
                .body(body.to_vec())
                .build_unchecked();
            let r = producer
                .send_message_in_transaction::<(), _>(msg, None)
                .await
                .expect("send in transaction");
            assert!(r.send_result.is_some(), "half message stored");
        }

        let c = RawClient::connect(&broker.broker_addr())
            .await
            .expect("connect");
        let got = eventually(
            Duration::from_secs(90),
            "both transactional messages visible",
            || async {
                let got = delivered_all_queues(&c, &topic).await;
                Ok((got.len() >= 2).then_some(got))
            },
        )
        .await;

        let _ = tokio::time::timeout(Duration::from_secs(20), producer.shutdown()).await;
        drop(client_runtime);
        tp.shutdown().await;

        let got = got.expect("deliveries");
        let mut bodies: Vec<&[u8]> = got.iter().map(|r| r.body.as_slice()).collect();
        bodies.sort();
        assert_eq!(bodies, vec![&b"ask-me-later"[..], &b"commit-now"[..]]);
        assert!(
            checks.load(Ordering::SeqCst) >= 1,
            "the UNKNOWN message was committed without a check-back"
        );
        assert_eq!(
            delivered_all_queues(&c, &topic).await.len(),
            2,
            "delivered twice"
        );
        broker.shutdown().await.expect("shutdown");
    }
}
