//! Acceptance test 2: a clean stop and a restart on the same store keep messages and committed consumer offsets,
//! and a consumer of the same group resumes right after its committed offset.

use std::time::Duration;

use rmq_broker::embedded::EmbeddedBroker;
use rmq_tests::client::{rc, OutMessage, SendOutcome};
use rmq_tests::process::BrokerProcess;
use rmq_tests::record::decode_offset_msg_id;
use rmq_tests::{unique, RawClient};

const PER_QUEUE: usize = 30;

fn body(queue: i32, i: usize) -> Vec<u8> {
    format!("persist q{queue} #{i} ")
        .repeat(1 + i % 5)
        .into_bytes()
}

/// Sends PER_QUEUE messages to each of queues 0 and 1; returns the outcomes per queue.
async fn send_two_queues(c: &RawClient, topic: &str) -> [Vec<(OutMessage, SendOutcome)>; 2] {
    let mut out = [Vec::new(), Vec::new()];
    for i in 0..PER_QUEUE {
        for q in 0..2 {
            let m = OutMessage::new(topic, &body(q, i))
                .tags(Some(&format!("T{q}")))
                .keys(Some(&format!("pk-{q}-{i}")))
                .props(&[("n", &i.to_string())])
                .queue(q);
            let r = c.send(&m).await.expect("send").ok().expect("send stored");
            assert_eq!(
                r.queue_id, q,
                "message sent to queue {q} stored in {}",
                r.queue_id
            );
            assert_eq!(
                r.queue_offset, i as i64,
                "queue offsets are consecutive from 0"
            );
            out[q as usize].push((m, r));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_and_offsets_survive_clean_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let topic = unique("PersistTopic");
    let group = unique("persist_group");
    let committed = 12i64;

    let broker = EmbeddedBroker::builder()
        .store_dir(store.clone())
        .start()
        .await
        .expect("start broker");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let sent = send_two_queues(&c, &topic).await;
    assert_eq!(
        c.update_consumer_offset(&group, &topic, 0, committed)
            .await
            .expect("commit"),
        rc::SUCCESS
    );
    assert_eq!(
        c.query_consumer_offset(&group, &topic, 0)
            .await
            .expect("query"),
        (rc::SUCCESS, committed)
    );
    drop(c);
    broker.shutdown().await.expect("clean shutdown");

    let broker = EmbeddedBroker::builder()
        .store_dir(store.clone())
        .start()
        .await
        .expect("restart broker on the same store");
    let c = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect after restart");

    // Messages: every one, in order, with its content, in both queues.
    for q in 0..2 {
        assert_eq!(
            c.queue_offset(true, &topic, q).await.expect("max offset"),
            PER_QUEUE as i64
        );
        let got = c
            .pull_all(&unique("reader"), &topic, q, 0)
            .await
            .expect("pull after restart");
        assert_eq!(got.len(), PER_QUEUE, "queue {q}: messages after restart");
        for (i, (rec, (m, r))) in got.iter().zip(&sent[q as usize]).enumerate() {
            assert_eq!(rec.queue_offset, i as i64);
            assert_eq!(rec.body, m.body, "queue {q} message {i} body");
            assert_eq!(rec.keys().as_deref(), Some(format!("pk-{q}-{i}").as_str()));
            assert_eq!(
                rec.properties().get("UNIQ_KEY").map(String::as_str),
                Some(m.uniq_key())
            );
            let id = decode_offset_msg_id(&r.msg_id).expect("msgId");
            assert_eq!(
                rec.physical_offset, id.offset,
                "commit-log offset unchanged by the restart"
            );
            assert!(rec.body_crc_ok(), "bodyCRC of queue {q} message {i}");
        }
    }

    // Offsets: the committed one survived, and a consumer of the group resumes right after it.
    let (code, offset) = c
        .query_consumer_offset(&group, &topic, 0)
        .await
        .expect("query after restart");
    assert_eq!(
        (code, offset),
        (rc::SUCCESS, committed),
        "committed offset after restart"
    );
    let p = c
        .pull(&group, &topic, 0, offset, 1)
        .await
        .expect("resume pull");
    assert_eq!(p.code, rc::SUCCESS, "resume pull: {:?}", p.remark);
    assert_eq!(p.records.len(), 1);
    assert_eq!(p.records[0].queue_offset, committed);
    assert_eq!(p.records[0].body, sent[0][committed as usize].0.body);

    // The store keeps appending where it stopped.
    let r = c
        .send(&OutMessage::new(&topic, b"after restart").queue(0))
        .await
        .expect("send after restart")
        .ok()
        .expect("stored");
    assert_eq!(r.queue_offset, PER_QUEUE as i64);
    let last_before = decode_offset_msg_id(&sent[1][PER_QUEUE - 1].1.msg_id)
        .expect("msgId")
        .offset;
    assert!(decode_offset_msg_id(&r.msg_id).expect("msgId").offset > last_before);

    drop(c);
    broker.shutdown().await.expect("shutdown");
}

/// Same guarantee through the binary: SIGTERM is a clean stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_sigterm_is_a_clean_stop() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let log = tmp.path().join("broker.log");
    let topic = unique("SigtermTopic");
    let group = unique("sigterm_group");

    let mut p = BrokerProcess::start(&store, &log, &[])
        .await
        .expect("start rmq-broker");
    let c = RawClient::connect(&p.broker_addr).await.expect("connect");
    let mut sent = Vec::new();
    for i in 0..10 {
        let m = OutMessage::new(&topic, format!("sigterm {i}").as_bytes());
        sent.push(m.clone());
        c.send(&m).await.expect("send").ok().expect("stored");
    }
    assert_eq!(
        c.update_consumer_offset(&group, &topic, 0, 4)
            .await
            .expect("commit"),
        rc::SUCCESS
    );
    drop(c);
    let status = p
        .terminate(Duration::from_secs(30))
        .await
        .expect("SIGTERM stop");
    assert!(
        status.success(),
        "rmq-broker exit status after SIGTERM: {status}; log:\n{}",
        p.log_tail()
    );

    let p = BrokerProcess::start(&store, &log, &[])
        .await
        .expect("restart rmq-broker");
    let c = RawClient::connect(&p.broker_addr)
        .await
        .expect("connect after restart");
    let got = c
        .pull_all(&unique("reader"), &topic, 0, 0)
        .await
        .expect("pull");
    let bodies: Vec<&[u8]> = got.iter().map(|r| r.body.as_slice()).collect();
    let want: Vec<&[u8]> = sent.iter().map(|m| m.body.as_slice()).collect();
    assert_eq!(bodies, want);
    assert_eq!(
        c.query_consumer_offset(&group, &topic, 0)
            .await
            .expect("query"),
        (rc::SUCCESS, 4)
    );
}

/// A state file that is not the JSON the broker wrote (truncated by a disk that lied, edited by hand) stops
/// the broker at start with an error naming the file; it is never read as empty, which would silently drop
/// topics, groups, offsets or delivery progress.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_state_file_stops_start_up_naming_it() {
    for (file, content) in [
        (
            "topics.json",
            &b"{\"topicConfigTable\":{\"T\":{\"topicName\":\"T\""[..],
        ),
        (
            "subscriptionGroup.json",
            &b"{\"subscriptionGroupTable\":"[..],
        ),
        ("consumerOffset.json", &b"\0\0\0\0"[..]),
        ("delayOffset.json", &b"{\"offsetTable\":{\"1\":"[..]),
    ] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = tmp.path().join("store");
        // A first start writes the files; then one is damaged.
        let b = EmbeddedBroker::builder()
            .store_dir(&store)
            .start()
            .await
            .expect("first start");
        b.shutdown().await.expect("clean stop");
        let path = store.join("config").join(file);
        std::fs::write(&path, content).expect("damage the file");
        let err = EmbeddedBroker::builder()
            .store_dir(&store)
            .start()
            .await
            .err()
            .unwrap_or_else(|| panic!("started with a corrupt {file}"))
            .to_string();
        assert!(err.contains(file), "the start-up error names {file}: {err}");
    }
}
