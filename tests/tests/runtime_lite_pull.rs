//! rmq-runtime's lite pull consumer against the bundled broker over TCP: subscribe and poll, commit and resume
//! in a new member, assign and seek, queue sharing in a group, the poll timeout on an empty topic, tag
//! filtering, and pause/resume.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use rmq_broker::embedded::EmbeddedBroker;
use rmq_runtime::{
    ClientError, ConsumeFromWhere, LitePullConsumer, LitePullConsumerOptions, Message, MessageExt,
    MessageSelector, Producer,
};
use rmq_tests::fixtures::create_routed_topic;
use rmq_tests::{eventually, unique};

async fn producer(broker: &EmbeddedBroker) -> Producer {
    rmq_tests::fixtures::producer(&broker.namesrv_addr()).await
}

/// Creates `topic` with `queues` queues and waits until the name server routes all of them, so a consumer's
/// first rebalance sees the whole topic.
async fn create_topic(broker: &EmbeddedBroker, topic: &str, queues: usize) {
    let queues = i32::try_from(queues).expect("queue count");
    create_routed_topic(&broker.broker_addr(), &broker.namesrv_addr(), topic, queues)
        .await
        .expect("routed topic");
}

fn options(broker: &EmbeddedBroker, group: &str) -> LitePullConsumerOptions {
    let mut opts = LitePullConsumerOptions::new(group, broker.namesrv_addr());
    opts.consume_from_where = ConsumeFromWhere::FirstOffset;
    opts.client.instance_name = unique("c");
    opts.client.persist_offset_interval = Duration::from_millis(200);
    opts
}

async fn subscribed(
    broker: &EmbeddedBroker,
    group: &str,
    topic: &str,
    selector: MessageSelector,
    auto_commit: bool,
) -> LitePullConsumer {
    let mut opts = options(broker, group);
    opts.auto_commit = auto_commit;
    let c = LitePullConsumer::start(opts)
        .await
        .expect("consumer starts");
    c.subscribe(topic, selector).await.expect("subscribe");
    c
}

fn body(m: &MessageExt) -> String {
    String::from_utf8_lossy(&m.body).into_owned()
}

/// Polls until `n` messages came, failing after `limit`; returns them in poll order.
async fn poll_n(c: &LitePullConsumer, n: usize, limit: Duration) -> Vec<MessageExt> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut got = Vec::new();
    while got.len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} with {} of {n} messages: {:?}",
            got.len(),
            got.iter().map(body).collect::<Vec<_>>()
        );
        got.extend(c.poll(Duration::from_millis(500)).await.expect("poll"));
    }
    got
}

/// Polls for `d` and returns whatever came (expected: nothing).
async fn poll_for(c: &LitePullConsumer, d: Duration) -> Vec<MessageExt> {
    let deadline = tokio::time::Instant::now() + d;
    let mut got = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return got;
        }
        got.extend(c.poll(left).await.expect("poll"));
    }
}

fn assert_once(got: &[MessageExt], expected: impl IntoIterator<Item = String>) {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for m in got {
        *counts.entry(body(m)).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    let expected: HashSet<String> = expected.into_iter().collect();
    let got: HashSet<String> = counts.into_keys().collect();
    assert_eq!(got, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_and_poll_get_every_message_exactly_once() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let producer = producer(&broker).await;
    let topic = unique("LiteAll");
    create_topic(&broker, &topic, 4).await;
    let c = subscribed(&broker, &unique("g"), &topic, MessageSelector::all(), true).await;
    assert_eq!(c.assignment().len(), 4, "a lone member owns every queue");
    for i in 0..100 {
        producer
            .send(Message::new(&topic, format!("m{i}")))
            .await
            .unwrap();
    }
    let got = poll_n(&c, 100, Duration::from_secs(30)).await;
    assert!(got.iter().all(|m| m.topic == topic));
    assert_once(&got, (0..100).map(|i| format!("m{i}")));
    let extra = poll_for(&c, Duration::from_millis(800)).await;
    assert!(
        extra.is_empty(),
        "nothing more: {:?}",
        extra.iter().map(body).collect::<Vec<_>>()
    );
    c.shutdown().await;
    assert!(matches!(
        c.poll(Duration::from_millis(10)).await,
        Err(ClientError::Shutdown(_))
    ));
    producer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_member_resumes_after_the_committed_offset() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let producer = producer(&broker).await;
    let topic = unique("LiteCommit");
    let group = unique("g");
    create_topic(&broker, &topic, 2).await;

    // A commits the first 20 by hand, then polls 10 more without committing them.
    let a = subscribed(&broker, &group, &topic, MessageSelector::all(), false).await;
    for i in 0..20 {
        producer
            .send(Message::new(&topic, format!("m{i}")))
            .await
            .unwrap();
    }
    let first = poll_n(&a, 20, Duration::from_secs(30)).await;
    assert_once(&first, (0..20).map(|i| format!("m{i}")));
    a.commit_sync().await.unwrap();
    let mut committed = 0;
    for mq in a.assignment() {
        committed += a.committed(&mq).await.unwrap().unwrap_or(0);
    }
    assert_eq!(
        committed, 20,
        "the committed offsets cover the 20 polled messages"
    );
    for i in 0..10 {
        producer
            .send(Message::new(&topic, format!("n{i}")))
            .await
            .unwrap();
    }
    let uncommitted = poll_n(&a, 10, Duration::from_secs(30)).await;
    assert_once(&uncommitted, (0..10).map(|i| format!("n{i}")));
    a.shutdown().await;

    // B gets exactly what A polled but never committed: nothing before the commit, nothing lost after it.
    let b = subscribed(&broker, &group, &topic, MessageSelector::all(), true).await;
    let again = poll_n(&b, 10, Duration::from_secs(30)).await;
    assert_once(&again, (0..10).map(|i| format!("n{i}")));
    let extra = poll_for(&b, Duration::from_millis(800)).await;
    assert!(
        extra.is_empty(),
        "nothing before the commit comes back: {:?}",
        extra.iter().map(body).collect::<Vec<_>>()
    );
    // B auto-commits on shutdown, so C starts after everything.
    b.shutdown().await;
    let c = subscribed(&broker, &group, &topic, MessageSelector::all(), true).await;
    let after = poll_for(&c, Duration::from_millis(1500)).await;
    assert!(
        after.is_empty(),
        "auto-commit on shutdown: {:?}",
        after.iter().map(body).collect::<Vec<_>>()
    );
    c.shutdown().await;
    producer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assign_and_seek_reread_from_an_offset() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let producer = producer(&broker).await;
    let topic = unique("LiteSeek");
    create_topic(&broker, &topic, 1).await;
    for i in 0..10 {
        producer
            .send(Message::new(&topic, format!("m{i}")))
            .await
            .unwrap();
    }
    let c = LitePullConsumer::start(options(&broker, &unique("g")))
        .await
        .unwrap();
    let mqs = c.fetch_message_queues(&topic).await.unwrap();
    assert_eq!(mqs.len(), 1);
    let mq = mqs[0].clone();
    c.assign(mqs.clone()).await.unwrap();
    assert_eq!(c.assignment(), mqs);
    let bodies = |v: Vec<MessageExt>| v.iter().map(body).collect::<Vec<_>>();
    let in_order = |r: std::ops::Range<i32>| r.map(|i| format!("m{i}")).collect::<Vec<_>>();

    let got = poll_n(&c, 10, Duration::from_secs(20)).await;
    assert_eq!(bodies(got), in_order(0..10), "one queue reads in order");
    c.seek(&mq, 3).await.unwrap();
    assert_eq!(
        bodies(poll_n(&c, 7, Duration::from_secs(20)).await),
        in_order(3..10)
    );
    c.seek_to_begin(&mq).await.unwrap();
    assert_eq!(
        bodies(poll_n(&c, 10, Duration::from_secs(20)).await),
        in_order(0..10)
    );
    c.seek_to_end(&mq).await.unwrap();
    assert!(poll_for(&c, Duration::from_millis(800)).await.is_empty());
    assert!(matches!(
        c.seek(&mq, 11).await,
        Err(ClientError::InvalidArgument {
            field: "offset",
            ..
        })
    ));
    assert!(
        c.subscribe(&topic, MessageSelector::all()).await.is_err(),
        "subscribe and assign are mutually exclusive"
    );
    c.shutdown().await;
    producer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_of_a_group_split_the_queues() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let producer = producer(&broker).await;
    let topic = unique("LiteSplit");
    let group = unique("g");
    // Created empty, so nothing can be polled while both members briefly hold the same queue.
    create_topic(&broker, &topic, 4).await;
    let a = subscribed(&broker, &group, &topic, MessageSelector::all(), true).await;
    let b = subscribed(&broker, &group, &topic, MessageSelector::all(), true).await;
    eventually(
        Duration::from_secs(20),
        "queues split between a and b",
        || {
            let (qa, qb) = (a.assignment(), b.assignment());
            async move {
                let all: HashSet<_> = qa.iter().chain(qb.iter()).collect();
                Ok((qa.len() == 2 && qb.len() == 2 && all.len() == 4).then_some(()))
            }
        },
    )
    .await
    .unwrap();
    for i in 0..100 {
        producer
            .send(Message::new(&topic, format!("m{i}")))
            .await
            .unwrap();
    }
    let mut got_a = Vec::new();
    let mut got_b = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got_a.len() + got_b.len() < 100 {
        assert!(tokio::time::Instant::now() < deadline, "timed out");
        let (ra, rb) = tokio::join!(
            a.poll(Duration::from_millis(300)),
            b.poll(Duration::from_millis(300))
        );
        got_a.extend(ra.unwrap());
        got_b.extend(rb.unwrap());
    }
    assert!(
        !got_a.is_empty() && !got_b.is_empty(),
        "both members consume"
    );
    let qa: HashSet<i32> = got_a.iter().map(|m| m.queue_id).collect();
    let qb: HashSet<i32> = got_b.iter().map(|m| m.queue_id).collect();
    assert!(
        qa.is_disjoint(&qb),
        "each queue goes to one member: {qa:?} {qb:?}"
    );
    let all: Vec<MessageExt> = got_a.into_iter().chain(got_b).collect();
    assert_once(&all, (0..100).map(|i| format!("m{i}")));
    a.shutdown().await;
    b.shutdown().await;
    producer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_on_an_empty_topic_returns_nothing_after_the_timeout() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let topic = unique("LiteEmpty");
    create_topic(&broker, &topic, 2).await;
    let c = subscribed(&broker, &unique("g"), &topic, MessageSelector::all(), true).await;
    let timeout = Duration::from_millis(1500);
    let started = tokio::time::Instant::now();
    let got = tokio::time::timeout(timeout + Duration::from_secs(5), c.poll(timeout))
        .await
        .expect("poll returns by itself")
        .unwrap();
    let waited = started.elapsed();
    assert!(got.is_empty());
    // It waits the whole timeout (the broker's 20 s long polls do not make it return early or late).
    assert!(waited >= timeout, "returned after {waited:?}");
    assert!(
        // Not the broker's 20 s hold; room for a loaded machine.
        waited < timeout + Duration::from_secs(5),
        "returned after {waited:?}"
    );
    let started = tokio::time::Instant::now();
    assert!(c.poll(Duration::ZERO).await.unwrap().is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a zero timeout does not wait"
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_selector_delivers_only_matching_messages() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let producer = producer(&broker).await;
    let topic = unique("LiteTags");
    create_topic(&broker, &topic, 2).await;
    let c = subscribed(
        &broker,
        &unique("g"),
        &topic,
        MessageSelector::Tag("TagA || TagC".into()),
        true,
    )
    .await;
    let mut expected = Vec::new();
    for i in 0..30 {
        let tag = ["TagA", "TagB", "TagC"][i % 3];
        producer
            .send(Message::new(&topic, format!("{tag}-{i}")).with_tags(tag))
            .await
            .unwrap();
        if tag != "TagB" {
            expected.push(format!("{tag}-{i}"));
        }
    }
    let got = poll_n(&c, expected.len(), Duration::from_secs(30)).await;
    assert!(got
        .iter()
        .all(|m| matches!(m.tags(), Some("TagA" | "TagC"))));
    assert_once(&got, expected);
    assert!(poll_for(&c, Duration::from_millis(800)).await.is_empty());
    c.shutdown().await;
    producer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_queue_is_not_pulled_until_resumed() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let producer = producer(&broker).await;
    let topic = unique("LitePause");
    create_topic(&broker, &topic, 1).await;
    let c = LitePullConsumer::start(options(&broker, &unique("g")))
        .await
        .unwrap();
    let mqs = c.fetch_message_queues(&topic).await.unwrap();
    c.assign(mqs.clone()).await.unwrap();
    assert!(poll_for(&c, Duration::from_millis(300)).await.is_empty());
    c.pause(&mqs);
    for i in 0..5 {
        producer
            .send(Message::new(&topic, format!("m{i}")))
            .await
            .unwrap();
    }
    assert!(
        poll_for(&c, Duration::from_millis(1000)).await.is_empty(),
        "a paused queue is not pulled"
    );
    c.resume(&mqs);
    let got = poll_n(&c, 5, Duration::from_secs(20)).await;
    assert_once(&got, (0..5).map(|i| format!("m{i}")));
    c.shutdown().await;
    producer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasting_members_each_get_everything_and_resume_from_their_file() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let producer = producer(&broker).await;
    let topic = unique("LiteBroadcast");
    let group = unique("g");
    create_topic(&broker, &topic, 2).await;
    let dir = tempfile::tempdir().unwrap();
    let member = |instance_name: &str| {
        let mut opts = options(&broker, &group).subscribe(&topic, MessageSelector::all());
        opts.message_model = rmq_runtime::MessageModel::Broadcasting;
        opts.offsets_dir = dir.path().to_path_buf();
        opts.client.instance_name = instance_name.to_string();
        LitePullConsumer::start(opts)
    };
    let (name_a, name_b) = (unique("a"), unique("b"));
    let a = member(&name_a).await.unwrap();
    let b = member(&name_b).await.unwrap();
    assert_eq!(
        a.assignment().len(),
        2,
        "broadcasting: every member owns every queue"
    );
    assert_eq!(b.assignment().len(), 2);
    for i in 0..20 {
        producer
            .send(Message::new(&topic, format!("m{i}")))
            .await
            .unwrap();
    }
    let (got_a, got_b) = tokio::join!(
        poll_n(&a, 20, Duration::from_secs(30)),
        poll_n(&b, 20, Duration::from_secs(30))
    );
    assert_once(&got_a, (0..20).map(|i| format!("m{i}")));
    assert_once(&got_b, (0..20).map(|i| format!("m{i}")));
    // a's offsets go to its own file on shutdown; restarted under the same name it resumes after them.
    a.shutdown().await;
    for i in 0..5 {
        producer
            .send(Message::new(&topic, format!("n{i}")))
            .await
            .unwrap();
    }
    let a2 = member(&name_a).await.unwrap();
    let again = poll_n(&a2, 5, Duration::from_secs(30)).await;
    assert_once(&again, (0..5).map(|i| format!("n{i}")));
    assert!(poll_for(&a2, Duration::from_millis(800)).await.is_empty());
    a2.shutdown().await;
    b.shutdown().await;
    producer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_created_after_subscribing_is_picked_up() {
    let broker = EmbeddedBroker::start().await.unwrap();
    let producer = producer(&broker).await;
    let topic = unique("LiteLate");
    let c = subscribed(&broker, &unique("g"), &topic, MessageSelector::all(), true).await;
    assert!(c.assignment().is_empty(), "no route, no queues yet");
    // The first send auto-creates the topic; the consumer finds its route within about a second.
    producer.send(Message::new(&topic, "first")).await.unwrap();
    let got = poll_n(&c, 1, Duration::from_secs(15)).await;
    assert_once(&got, ["first".to_string()]);
    c.shutdown().await;
    producer.shutdown().await;
}
