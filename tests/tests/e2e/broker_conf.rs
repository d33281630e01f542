//! A Java-style broker.conf that moves the store's parts out of `storePathRootDir` (storePathCommitLog,
//! storePathConsumeQueue, storePathIndex, storeCheckpoint, abortFile): the `rmq-broker` binary writes each
//! where it is told, recovers from them after a SIGKILL, and never falls back to the default places.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rmq_tests::client::{rc, OutMessage};
use rmq_tests::process::BrokerProcess;
use rmq_tests::{unique, RawClient};

const MESSAGES: usize = 20;

fn body(i: usize) -> Vec<u8> {
    format!("relocated #{i}").into_bytes()
}

/// Files directly in `dir` (empty when it does not exist).
fn files_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

/// The log without its colour escapes (`ESC [ ... m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_path_keys_relocate_the_store_and_recover_after_sigkill() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("store");
    let elsewhere = tmp.path().join("elsewhere");
    let commit_log = elsewhere.join("commitlog");
    let cq = elsewhere.join("cq");
    let index = elsewhere.join("idx");
    let checkpoint = elsewhere.join("meta").join("checkpoint");
    let abort = elsewhere.join("meta").join("abort");
    let conf = tmp.path().join("broker.conf");
    std::fs::write(
        &conf,
        format!(
            "brokerClusterName=DefaultCluster\nbrokerName=broker-a\nbrokerId=0\nbrokerRole=ASYNC_MASTER\n\
             flushDiskType=SYNC_FLUSH\nstorePathCommitLog={}\nstorePathConsumeQueue={}\nstorePathIndex={}\n\
             storeCheckpoint={}\nabortFile={}\n",
            commit_log.display(),
            cq.display(),
            index.display(),
            checkpoint.display(),
            abort.display()
        ),
    )
    .expect("write broker.conf");
    let conf_arg = conf.to_str().expect("utf-8 path");
    let defaults_absent = |when: &str| {
        for name in ["commitlog", "consumequeue", "index", "checkpoint", "abort"] {
            assert!(
                !root.join(name).exists(),
                "{when}: {name} was created under storePathRootDir despite its key"
            );
        }
    };
    let topic = unique("RelocatedTopic");

    let log1 = tmp.path().join("broker-1.log");
    let mut p = BrokerProcess::start(&root, &log1, &["-c", conf_arg])
        .await
        .expect("start rmq-broker");
    let c = RawClient::connect(&p.broker_addr).await.expect("connect");
    let r = c.create_topic(&topic, 1).await.expect("create topic");
    assert_eq!(r.code, rc::SUCCESS, "create topic: {:?}", r.remark);
    for i in 0..MESSAGES {
        let m = OutMessage::new(&topic, &body(i))
            .keys(Some(&format!("rk-{i}")))
            .queue(0);
        c.send(&m).await.expect("send").ok().expect("stored");
    }
    assert!(abort.is_file(), "abortFile marks the running store");
    assert!(checkpoint.is_file(), "storeCheckpoint written at open");
    assert!(!files_in(&commit_log).is_empty(), "commit log segments");
    assert!(
        !files_in(&cq.join(&topic).join("0")).is_empty(),
        "consume queue of {topic} under storePathConsumeQueue"
    );
    assert!(
        !files_in(&index).is_empty(),
        "index files under storePathIndex"
    );
    defaults_absent("first run");
    drop(c);
    p.kill().await.expect("SIGKILL");
    assert!(
        abort.is_file(),
        "a crash leaves the abort marker where it was"
    );

    let log2 = tmp.path().join("broker-2.log");
    let mut p = BrokerProcess::start(&root, &log2, &["-c", conf_arg])
        .await
        .expect("restart rmq-broker");
    let log = strip_ansi(&std::fs::read_to_string(&log2).expect("read log"));
    assert!(
        log.lines()
            .any(|l| l.contains("message store open") && l.contains("recovered_from_crash=true")),
        "the restart found the relocated abort marker and recovered as after a crash:\n{}",
        p.log_tail()
    );
    let c = RawClient::connect(&p.broker_addr).await.expect("connect");
    assert_eq!(
        c.queue_offset(true, &topic, 0).await.expect("max offset"),
        MESSAGES as i64
    );
    let got = c
        .pull_all(&unique("reader"), &topic, 0, 0)
        .await
        .expect("pull after restart");
    assert_eq!(got.len(), MESSAGES, "every message after the restart");
    for (i, rec) in got.iter().enumerate() {
        assert_eq!(rec.body, body(i), "message {i}");
    }
    let (resp, found) = c
        .query_message(&topic, "rk-7", 4)
        .await
        .expect("query by key");
    assert_eq!(resp.code, rc::SUCCESS, "query by key: {:?}", resp.remark);
    assert_eq!(
        found.first().map(|r| r.body.clone()),
        Some(body(7)),
        "the relocated index answers by key"
    );
    drop(c);
    let status = p
        .terminate(Duration::from_secs(30))
        .await
        .expect("clean stop");
    assert!(status.success(), "clean exit: {status}");
    assert!(
        !abort.exists(),
        "a clean stop removes the relocated abort marker"
    );
    defaults_absent("after recovery and a clean stop");
}
