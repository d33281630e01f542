//! rmq-runtime's producer against the bundled broker over TCP: every send mode lands on disk with the
//! properties, flags and bodies the producer was given (checked with the independent RawClient decoder).

use std::collections::HashMap;
use std::time::Duration;

use rmq_broker::embedded::EmbeddedBroker;
use rmq_protocol::message::sysflag;
use rmq_runtime::{ClientError, Message, Producer, ProducerOptions, SendStatus};
use rmq_tests::record::Record;
use rmq_tests::{unique, RawClient};

async fn setup() -> (EmbeddedBroker, RawClient, Producer) {
    let broker = EmbeddedBroker::start().await.expect("broker starts");
    let raw = RawClient::connect(&broker.broker_addr())
        .await
        .expect("raw client");
    let mut opts = ProducerOptions::new(unique("pg"), broker.namesrv_addr());
    opts.client.instance_name = unique("producer");
    let producer = Producer::start(opts).await.expect("producer starts");
    (broker, raw, producer)
}

async fn all_records(raw: &RawClient, topic: &str) -> Vec<Record> {
    let mut out = Vec::new();
    for q in 0..4 {
        out.extend(
            raw.pull_all("check_group", topic, q, 0)
                .await
                .expect("pull"),
        );
    }
    out
}

fn props(r: &Record) -> HashMap<String, String> {
    r.properties()
}

#[tokio::test]
async fn sync_async_and_oneway_sends_land_with_their_properties() {
    let (_broker, raw, producer) = setup().await;
    let topic = unique("Send");
    let r = producer
        .send(
            Message::new(&topic, "sync")
                .with_tags("TagA")
                .with_keys(["k1", "k2"])
                .with_property("user", "v"),
        )
        .await
        .expect("sync send");
    assert_eq!(r.status, SendStatus::SendOk);
    assert_eq!(r.queue.topic, topic);
    let fut = producer.send_async(Message::new(&topic, "async").with_tags("TagB"));
    let a = fut.await.expect("async send");
    producer
        .send_oneway(Message::new(&topic, "oneway").with_tags("TagC"))
        .await
        .expect("oneway send");
    // The oneway send has no result; a sync send after it on the same connection proves it was written first.
    producer
        .send(Message::new(&topic, "after"))
        .await
        .expect("sync send");

    let records = all_records(&raw, &topic).await;
    let by_body: HashMap<Vec<u8>, &Record> = records.iter().map(|r| (r.body.clone(), r)).collect();
    assert_eq!(records.len(), 4, "every send stored once");
    let sync = by_body[b"sync".as_slice()];
    let p = props(sync);
    assert_eq!(p["TAGS"], "TagA");
    assert_eq!(p["KEYS"], "k1 k2");
    assert_eq!(p["user"], "v");
    assert_eq!(p["UNIQ_KEY"], r.msg_id);
    assert_eq!(sync.queue_offset, r.queue_offset);
    assert_eq!(sync.queue_id, r.queue.queue_id);
    assert_eq!(props(by_body[b"async".as_slice()])["UNIQ_KEY"], a.msg_id);
    assert_eq!(props(by_body[b"oneway".as_slice()])["TAGS"], "TagC");
}

#[tokio::test]
async fn round_robin_spreads_and_orderly_keys_stick_to_one_queue() {
    let (_broker, raw, producer) = setup().await;
    let topic = unique("Order");
    let mut queues = std::collections::BTreeSet::new();
    for i in 0..8 {
        let r = producer
            .send(Message::new(&topic, format!("rr{i}")))
            .await
            .expect("send");
        queues.insert(r.queue.queue_id);
    }
    assert_eq!(queues.len(), 4, "round robin uses every queue");
    let mut per_key: HashMap<String, std::collections::BTreeSet<i32>> = HashMap::new();
    for i in 0..40 {
        let key = format!("order-{}", i % 5);
        let r = producer
            .send_orderly(Message::new(&topic, format!("{key}:{i}")), &key)
            .await
            .expect("orderly send");
        per_key.entry(key).or_default().insert(r.queue.queue_id);
    }
    for (key, qs) in &per_key {
        assert_eq!(qs.len(), 1, "{key} went to {qs:?}");
    }
    // Within a key, queue order is send order.
    let records = all_records(&raw, &topic).await;
    for i in 0..5 {
        let prefix = format!("order-{i}:");
        let seq: Vec<usize> = records
            .iter()
            .filter_map(|r| {
                std::str::from_utf8(&r.body)
                    .ok()?
                    .strip_prefix(&prefix)?
                    .parse()
                    .ok()
            })
            .collect();
        let mut sorted = seq.clone();
        sorted.sort_unstable();
        assert_eq!(seq, sorted);
        assert_eq!(seq.len(), 8);
    }
}

#[tokio::test]
async fn batches_split_and_large_bodies_are_compressed() {
    let (_broker, raw, producer) = setup().await;
    let topic = unique("Batch");
    // 1,100 bodies of 8 KiB = 8.6 MiB: three requests of at most 4 MiB.
    let msgs: Vec<Message> = (0..1100)
        .map(|i| {
            Message::new(&topic, vec![b'a' + (i % 26) as u8; 8 * 1024]).with_key(format!("b{i}"))
        })
        .collect();
    let results = producer.send_batch(msgs).await.expect("batch send");
    assert_eq!(results.len(), 1100);
    let distinct_ids: std::collections::HashSet<&str> =
        results.iter().map(|r| r.msg_id.as_str()).collect();
    assert_eq!(distinct_ids.len(), 1100);
    let records = all_records(&raw, &topic).await;
    assert_eq!(records.len(), 1100);
    assert!(
        records
            .iter()
            .all(|r| r.sys_flag & sysflag::COMPRESSED_FLAG == 0),
        "batch bodies are not compressed"
    );

    let big = "compress me ".repeat(1000);
    let r = producer
        .send(Message::new(&topic, big.clone()).with_tags("big"))
        .await
        .expect("send big");
    let stored = raw
        .pull_all("check_group", &topic, r.queue.queue_id, r.queue_offset)
        .await
        .expect("pull");
    let rec = &stored[0];
    assert_ne!(
        rec.sys_flag & sysflag::COMPRESSED_FLAG,
        0,
        "bodies over 4 KiB are compressed"
    );
    assert!(rec.body.len() < big.len() / 5);
}

#[tokio::test]
async fn bad_input_is_refused_before_sending_naming_the_field() {
    let (_broker, _raw, producer) = setup().await;
    let err = producer
        .send(Message::new("bad topic", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::InvalidArgument { field: "topic", .. }),
        "{err}"
    );
    let err = producer.send(Message::new("t", "")).await.unwrap_err();
    assert!(
        matches!(err, ClientError::InvalidArgument { field: "body", .. }),
        "{err}"
    );
    let err = producer
        .send(Message::new("t", vec![0u8; 4 * 1024 * 1024 + 1]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::InvalidArgument { field: "body", .. }),
        "{err}"
    );
    producer.shutdown().await;
    let err = producer.send(Message::new("t", "x")).await.unwrap_err();
    assert!(matches!(err, ClientError::Shutdown(_)), "{err}");
}

#[tokio::test]
async fn a_dead_name_server_in_the_list_is_skipped() {
    let broker = EmbeddedBroker::start().await.expect("broker");
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut opts = ProducerOptions::new(unique("pg"), format!("{dead};{}", broker.namesrv_addr()));
    opts.client.instance_name = unique("failover");
    let producer = Producer::start(opts).await.expect("producer");
    let r = tokio::time::timeout(
        Duration::from_secs(10),
        producer.send(Message::new(unique("Fo"), "x")),
    )
    .await
    .expect("not stuck")
    .expect("send via the second name server");
    assert_eq!(r.status, SendStatus::SendOk);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_reply_round_trips_through_a_consumer_that_answers() {
    use rmq_runtime::PushConsumerOptions;
    use rmq_runtime::{
        ConsumeContext, ConsumeFromWhere, ConsumeOutcome, MessageExt, MessageSelector, PushConsumer,
    };

    let (broker, _raw, requester) = setup().await;
    let topic = unique("Rpc");
    let raw = RawClient::connect(&broker.broker_addr())
        .await
        .expect("raw");
    raw.create_topic(&topic, 4).await.expect("create topic");
    let mut replier_opts = ProducerOptions::new(unique("replier"), broker.namesrv_addr());
    replier_opts.client.instance_name = unique("replier");
    let replier = Producer::start(replier_opts).await.expect("replier");
    let mut opts = PushConsumerOptions::new(unique("server"), broker.namesrv_addr())
        .subscribe(&topic, MessageSelector::all());
    opts.consume_from_where = ConsumeFromWhere::FirstOffset;
    opts.client.instance_name = unique("server");
    let server = PushConsumer::start(opts, move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
        let replier = replier.clone();
        async move {
            for m in msgs {
                let answer = format!("echo:{}", String::from_utf8_lossy(&m.body));
                if replier.reply(&m, answer).await.is_err() {
                    return ConsumeOutcome::RETRY_LATER;
                }
            }
            ConsumeOutcome::Success
        }
    })
    .await
    .expect("server");
    for i in 0..3 {
        let reply = requester
            .request(
                Message::new(&topic, format!("ping{i}")),
                Duration::from_secs(10),
            )
            .await
            .expect("reply arrives");
        assert_eq!(&reply.body[..], format!("echo:ping{i}").as_bytes());
    }
    // Nobody answers on a topic without a consumer: an error naming the topic and saying no reply came, not
    // a hang.
    let lonely = unique("NoServer");
    let err = requester
        .request(Message::new(&lonely, "anyone?"), Duration::from_millis(500))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::NoReply { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&lonely) && text.contains("no listener answered"),
        "{text}"
    );
    server.shutdown().await;
}

/// Two brokers under one name server; one dies mid-load. Every send still succeeds within its timeout: the
/// default producer isolates the failed broker and sends to the live one; a producer without latency fault
/// tolerance (Java's default) retries a failed attempt on the other broker. When the dead broker comes back
/// on its address, the producer reconnects and sends to it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_fail_over_to_the_live_broker_and_return_after_a_restart() {
    let a = EmbeddedBroker::start().await.expect("broker a");
    let store_b = tempfile::tempdir().expect("tempdir");
    let start_b = |listen: Option<std::net::SocketAddr>| {
        let mut b = EmbeddedBroker::builder()
            .namesrv_addrs(a.namesrv_addr())
            .store_dir(store_b.path())
            .property("brokerName", "broker-b");
        if let Some(addr) = listen {
            b = b.listen(addr);
        }
        b.start()
    };
    let b = start_b(None).await.expect("broker b");
    let b_addr: std::net::SocketAddr = b.broker_addr().parse().expect("addr");
    let topic = unique("FailoverTopic");
    for addr in [a.broker_addr(), b.broker_addr()] {
        let raw = RawClient::connect(&addr).await.expect("connect");
        assert_eq!(raw.create_topic(&topic, 2).await.expect("create").code, 0);
    }
    let producer_with = |fault_tolerance: bool| {
        let mut opts = ProducerOptions::new(unique("failover_pg"), a.namesrv_addr());
        opts.client.instance_name = unique("failover");
        opts.send_timeout = Duration::from_secs(5);
        opts.send_latency_fault_enable = fault_tolerance;
        // Routes are re-read every second (30 s by default), so the restarted broker is seen soon.
        opts.client.poll_name_server_interval = Duration::from_secs(1);
        Producer::start(opts)
    };
    let isolating = producer_with(true).await.expect("producer");
    let retrying = producer_with(false).await.expect("producer");
    for p in [&isolating, &retrying] {
        let mut on = HashMap::<String, usize>::new();
        for i in 0..20 {
            let r = p
                .send(Message::new(&topic, format!("before {i}")))
                .await
                .expect("send with both brokers up");
            *on.entry(r.queue.broker_name.clone()).or_default() += 1;
        }
        assert_eq!(on.len(), 2, "round robin uses both brokers: {on:?}");
    }

    b.shutdown().await.expect("b stops");
    drop(b);
    for p in [&isolating, &retrying] {
        for i in 0..20 {
            let started = std::time::Instant::now();
            let r = p
                .send(Message::new(&topic, format!("during {i}")))
                .await
                .unwrap_or_else(|e| panic!("send {i} with broker b down: {e}"));
            assert_eq!(
                r.queue.broker_name, "broker-a",
                "send {i} went to the dead broker"
            );
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "send {i} took {:?}",
                started.elapsed()
            );
        }
    }

    // Broker b returns on the same address and store; the producer finds it again.
    let b = start_b(Some(b_addr)).await.expect("broker b restarts");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let r = retrying
            .send(Message::new(&topic, "after"))
            .await
            .expect("send after the restart");
        if r.queue.broker_name == "broker-b" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the producer never sent to the restarted broker"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    isolating.shutdown().await;
    retrying.shutdown().await;
    let _ = b.shutdown().await;
    // Stopped, not just dropped: a dropped embedded broker leaves its temp store behind.
    let _ = a.shutdown().await;
}

/// A name server that accepts connections and never answers (a hung process) is given up on within the
/// request timeout, and the next one in the list serves the route.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_server_that_never_answers_is_given_up_on() {
    let broker = EmbeddedBroker::start().await.expect("broker");
    let hung = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hung_addr = hung.local_addr().expect("addr");
    let held = tokio::spawn(async move {
        // Accept and hold every connection, reading nothing, answering nothing.
        let mut conns = Vec::new();
        while let Ok((s, _)) = hung.accept().await {
            conns.push(s);
        }
    });
    let mut opts = ProducerOptions::new(
        unique("pg"),
        format!("{hung_addr};{}", broker.namesrv_addr()),
    );
    opts.client.instance_name = unique("hung_ns");
    opts.client.request_timeout = Duration::from_secs(1);
    let producer = Producer::start(opts).await.expect("producer");
    let started = std::time::Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(15),
        producer.send(Message::new(unique("HungNs"), "x")),
    )
    .await
    .expect("not stuck behind the hung name server")
    .expect("send via the answering name server");
    assert_eq!(r.status, SendStatus::SendOk);
    eprintln!("send past a hung name server took {:?}", started.elapsed());
    producer.shutdown().await;
    held.abort();
    let _ = broker.shutdown().await;
}
