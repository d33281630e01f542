//! The operator requests of mqadmin and the dashboard, one raw request each over TCP against a real broker,
//! checked for Java's request and response shapes (docs/admin-requests-java.md): consumer running info and
//! direct consumption (forwarded to rmq-runtime's and rocketmq-client-rust's consumers), producer
//! connections, who consumes a topic, offset cloning, broker-wide consume stats, stats windows,
//! consume-queue inspection, the clean requests and UPDATE_BROKER_CONFIG.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rmq_broker::embedded::EmbeddedBroker;
use rmq_protocol::body::{ConsumeStatsList, ConsumerRunningInfo};
use rmq_protocol::codes::{request, response};
use rmq_protocol::RemotingCommand;
use rmq_runtime::{
    Admin, ClientConfig, ConsumeContext, ConsumeFromWhere, ConsumeOutcome, MessageExt,
    MessageSelector, PushConsumer, PushConsumerOptions,
};
use rmq_tests::client::{parse_json_lenient, OutMessage};
use rmq_tests::fixtures::{create_routed_topic, producer, ThirdPartyRuntime};
use rmq_tests::{eventually, unique, RawClient};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

fn req(code: i32, ext: &[(&str, &str)]) -> RemotingCommand {
    let ext: HashMap<String, String> = ext
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    RemotingCommand::request(code, ext)
}

async fn admin_of(broker: &EmbeddedBroker) -> Admin {
    let mut cfg = ClientConfig::new(broker.namesrv_addr());
    cfg.instance_name = unique("raw_admin");
    Admin::start(cfg).await.expect("admin")
}

/// A push consumer of rmq-runtime on `topic` that counts what it consumes.
async fn runtime_consumer(
    broker: &EmbeddedBroker,
    group: &str,
    topic: &str,
    consumed: Arc<std::sync::atomic::AtomicUsize>,
) -> PushConsumer {
    let mut opts = PushConsumerOptions::new(group, broker.namesrv_addr())
        .subscribe(topic, MessageSelector::all());
    opts.consume_from_where = ConsumeFromWhere::FirstOffset;
    opts.client.instance_name = unique("raw_consumer");
    opts.client.persist_offset_interval = Duration::from_millis(200);
    PushConsumer::start(opts, move |msgs: Vec<MessageExt>, _ctx: ConsumeContext| {
        let consumed = consumed.clone();
        async move {
            consumed.fetch_add(msgs.len(), std::sync::atomic::Ordering::SeqCst);
            ConsumeOutcome::Success
        }
    })
    .await
    .expect("consumer")
}

/// The one client id online in `group`.
async fn client_of(admin: &Admin, group: &str) -> String {
    eventually(WAIT, "the group is online", || async {
        Ok(admin
            .consumer_connections(group)
            .await
            .ok()
            .and_then(|c| c.connection_set.first().map(|c| c.client_id.clone())))
    })
    .await
    .expect("client id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_info_and_direct_consumption_reach_an_rmq_runtime_consumer() {
    let broker = EmbeddedBroker::start().await.expect("broker");
    let topic = unique("RunningInfoTopic");
    create_routed_topic(&broker.broker_addr(), &broker.namesrv_addr(), &topic, 2)
        .await
        .expect("topic");
    let group = unique("running_info_group");
    let consumed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let consumer = runtime_consumer(&broker, &group, &topic, consumed.clone()).await;
    let admin = admin_of(&broker).await;
    let client = client_of(&admin, &group).await;
    let raw = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let sent = raw
        .send(&OutMessage::new(&topic, b"direct").queue(0))
        .await
        .expect("send");
    eventually(WAIT, "consumed", || async {
        Ok((consumed.load(std::sync::atomic::Ordering::SeqCst) >= 1).then_some(()))
    })
    .await
    .expect("consumed");

    // The group's pulls count in GET_CONSUME_STATS's consumeTps (GROUP_GET_NUMS of topic@group).
    let stats = raw
        .request(req(
            request::GET_CONSUME_STATS,
            &[("consumerGroup", &group), ("topic", &topic)],
        ))
        .await
        .expect("consume stats");
    assert_eq!(stats.code, response::SUCCESS, "{:?}", stats.remark);
    let stats = rmq_protocol::body::ConsumeStats::from_json(&stats.body).expect("body");
    assert!(stats.consume_tps > 0.0, "{stats:?}");

    let resp = raw
        .request(req(
            request::GET_CONSUMER_RUNNING_INFO,
            &[
                ("consumerGroup", &group),
                ("clientId", &client),
                ("jstackEnable", "false"),
            ],
        ))
        .await
        .expect("running info");
    assert_eq!(resp.code, response::SUCCESS, "{:?}", resp.remark);
    let text = String::from_utf8_lossy(&resp.body).into_owned();
    assert!(
        text.starts_with(r#"{"mqTable":{{"brokerName":"#),
        "fastjson's object keys: {text}"
    );
    let info = ConsumerRunningInfo::from_json(&resp.body).expect("Java's body");
    assert!(info.is_push());
    assert_eq!(info.properties["consumerGroup"], group);
    assert_eq!(info.properties["PROP_CONSUMEORDERLY"], "false");
    assert!(info.subscription_set.iter().any(|s| s.topic == topic));
    assert_eq!(
        info.mq_table.keys().filter(|q| q.topic == topic).count(),
        2,
        "{text}"
    );
    assert!(info.jstack.is_none());

    let unknown = raw
        .request(req(
            request::GET_CONSUMER_RUNNING_INFO,
            &[("consumerGroup", &group), ("clientId", "10.9.9.9@ghost")],
        ))
        .await
        .expect("answer");
    assert_eq!(unknown.code, response::SYSTEM_ERROR);
    assert_eq!(
        unknown.remark.as_deref(),
        Some(format!("The Consumer <{group}> <10.9.9.9@ghost> not online").as_str())
    );

    let before = consumed.load(std::sync::atomic::Ordering::SeqCst);
    let direct = raw
        .request(req(
            request::CONSUME_MESSAGE_DIRECTLY,
            &[
                ("consumerGroup", &group),
                ("clientId", &client),
                ("msgId", &sent.msg_id),
            ],
        ))
        .await
        .expect("direct");
    assert_eq!(direct.code, response::SUCCESS, "{:?}", direct.remark);
    let result = parse_json_lenient(&direct.body).expect("result");
    assert_eq!(result["consumeResult"], "CR_SUCCESS", "{result}");
    assert_eq!(result["autoCommit"], true, "{result}");
    assert_eq!(
        consumed.load(std::sync::atomic::Ordering::SeqCst),
        before + 1,
        "the listener ran on the stored message"
    );
    let bad_id = raw
        .request(req(
            request::CONSUME_MESSAGE_DIRECTLY,
            &[
                ("consumerGroup", &group),
                ("clientId", &client),
                ("msgId", "nothex"),
            ],
        ))
        .await
        .expect("answer");
    assert_eq!(bad_id.code, response::SYSTEM_ERROR, "{:?}", bad_id.remark);
    consumer.shutdown().await;
    admin.shutdown();
    let _ = broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_info_reaches_a_rocketmq_client_rust_consumer() {
    use rocketmq_client_rust::{
        ConsumeConcurrentlyContext, ConsumeConcurrentlyStatus, DefaultMQPushConsumer,
        MQPushConsumer, MessageListenerConcurrently,
    };
    use rocketmq_model::common::consumer::consume_from_where::ConsumeFromWhere as TpFrom;
    use rocketmq_protocol::protocol::heartbeat::message_model::MessageModel as TpModel;

    struct Accept;
    impl MessageListenerConcurrently for Accept {
        fn consume_message(
            &self,
            _msgs: &[&rocketmq_model::common::message::message_ext::MessageExt],
            _context: &ConsumeConcurrentlyContext,
        ) -> rocketmq_client_rust::ClientResult<ConsumeConcurrentlyStatus> {
            Ok(ConsumeConcurrentlyStatus::ConsumeSuccess)
        }
    }

    let broker = EmbeddedBroker::start().await.expect("broker");
    let topic = unique("ThirdPartyInfoTopic");
    create_routed_topic(&broker.broker_addr(), &broker.namesrv_addr(), &topic, 2)
        .await
        .expect("topic");
    let group = unique("tp_info_group");
    let tp = ThirdPartyRuntime::start("tp-info");
    let mut c = DefaultMQPushConsumer::builder(tp.runtime.clone())
        .consumer_group(group.clone())
        .name_server_addr(broker.namesrv_addr())
        .message_model(TpModel::Clustering)
        .consume_from_where(TpFrom::ConsumeFromFirstOffset)
        .build();
    c.subscribe(&topic, "*").await.expect("subscribe");
    c.register_message_listener_concurrently(Accept);
    c.start().await.expect("start");
    let admin = admin_of(&broker).await;
    let client = client_of(&admin, &group).await;
    // What consumerStatus calls: the admin finds a broker the consumer is connected to.
    let info = eventually(WAIT, "running info from the third-party client", || async {
        Ok(admin
            .consumer_running_info(&group, &client, false)
            .await
            .ok())
    })
    .await
    .expect("running info");
    assert!(
        info.properties.contains_key("PROP_CONSUME_TYPE"),
        "{:?}",
        info.properties
    );
    assert!(
        info.subscription_set.iter().any(|s| s.topic == topic),
        "{:?}",
        info.subscription_set
    );
    // And what an operator sees: rmq-admin consumerStatus, the real binary.
    let status =
        rmq_tests::process::admin_json(&broker.namesrv_addr(), &["consumerStatus", "-g", &group])
            .await
            .expect("consumerStatus");
    assert_eq!(
        status["clients"][0]["clientId"],
        client.as_str(),
        "{status}"
    );
    assert!(
        status["clients"][0]["runningInfo"]["subscriptions"]
            .as_array()
            .is_some_and(|subs| subs.iter().any(|s| s["topic"] == topic.as_str())),
        "{status}"
    );
    let _ = tokio::time::timeout(WAIT, c.shutdown()).await;
    tp.shutdown().await;
    admin.shutdown();
    let _ = broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producers_consumers_offsets_and_stats_have_javas_shapes() {
    let broker = EmbeddedBroker::start().await.expect("broker");
    let topic = unique("OpsTopic");
    create_routed_topic(&broker.broker_addr(), &broker.namesrv_addr(), &topic, 1)
        .await
        .expect("topic");
    let raw = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let p = producer(&broker.namesrv_addr()).await;
    for i in 0..3 {
        p.send(rmq_runtime::Message::new(&topic, format!("m{i}")))
            .await
            .expect("send");
    }
    // GET_PRODUCER_CONNECTION_LIST: the producer is known from its heartbeat.
    let pc = raw
        .request(req(
            request::GET_PRODUCER_CONNECTION_LIST,
            &[("producerGroup", p.group())],
        ))
        .await
        .expect("answer");
    assert_eq!(pc.code, response::SUCCESS, "{:?}", pc.remark);
    let pc = parse_json_lenient(&pc.body).expect("json");
    assert_eq!(pc["connectionSet"][0]["language"], "RUST", "{pc}");
    assert!(
        pc["connectionSet"][0]["clientAddr"]
            .as_str()
            .is_some_and(|a| a.contains(':')),
        "{pc}"
    );
    let none = raw
        .request(req(
            request::GET_PRODUCER_CONNECTION_LIST,
            &[("producerGroup", "nobody_pg")],
        ))
        .await
        .expect("answer");
    assert_eq!(none.code, response::SYSTEM_ERROR);
    assert_eq!(
        none.remark.as_deref(),
        Some("the producer group[nobody_pg] not exist")
    );

    // Offsets of two groups, one of them only committed (never online).
    let (src, dest) = (unique("ops_src"), unique("ops_dest"));
    assert_eq!(
        raw.update_consumer_offset(&src, &topic, 0, 2)
            .await
            .expect("commit"),
        0
    );
    let by_who = raw
        .request(req(
            request::QUERY_TOPIC_CONSUME_BY_WHO,
            &[("topic", &topic)],
        ))
        .await
        .expect("answer");
    assert_eq!(by_who.code, response::SUCCESS);
    let by_who = parse_json_lenient(&by_who.body).expect("json");
    assert_eq!(by_who["groupList"], serde_json::json!([src]), "{by_who}");

    // CLONE_GROUP_OFFSET without a topic copies every topic of the source (Java's handler copies nothing then).
    let cloned = raw
        .request(req(
            request::CLONE_GROUP_OFFSET,
            &[
                ("srcGroup", &src),
                ("destGroup", &dest),
                ("offline", "true"),
            ],
        ))
        .await
        .expect("answer");
    assert_eq!(cloned.code, response::SUCCESS, "{:?}", cloned.remark);
    assert_eq!(
        raw.query_consumer_offset(&dest, &topic, 0)
            .await
            .expect("query"),
        (response::SUCCESS, 2)
    );

    // GET_BROKER_CONSUME_STATS: groups with a subscription config; auto-create made one for src.
    let stats = raw
        .request(req(
            request::GET_BROKER_CONSUME_STATS,
            &[("isOrder", "false")],
        ))
        .await
        .expect("answer");
    assert_eq!(stats.code, response::SUCCESS, "{:?}", stats.remark);
    let list = ConsumeStatsList::from_json(&stats.body).expect("Java's body");
    assert_eq!(list.broker_addr, broker.broker_addr());
    let src_stats = list
        .consume_stats_list
        .iter()
        .find(|(g, _)| *g == src)
        .map(|(_, s)| s.clone())
        .unwrap_or_default();
    let wrapper = src_stats
        .iter()
        .flat_map(|s| s.offset_table.iter())
        .find(|(q, _)| q.topic == topic)
        .map(|(_, w)| *w)
        .expect("the source group's queue");
    assert_eq!((wrapper.broker_offset, wrapper.consumer_offset), (3, 2));
    assert!(list.total_diff >= 1);

    // VIEW_BROKER_STATS_DATA: the three puts, under the topic and under the cluster.
    let view = |name: &'static str, key: String| {
        let raw = &raw;
        async move {
            raw.request(req(
                request::VIEW_BROKER_STATS_DATA,
                &[("statsName", name), ("statsKey", &key)],
            ))
            .await
            .expect("answer")
        }
    };
    let put = view("TOPIC_PUT_NUMS", topic.clone()).await;
    assert_eq!(put.code, response::SUCCESS, "{:?}", put.remark);
    let put = parse_json_lenient(&put.body).expect("json");
    assert_eq!(put["statsMinute"]["sum"], 3, "{put}");
    assert_eq!(put["statsDay"]["sum"], 3, "{put}");
    assert!(
        put["statsMinute"]["tps"].as_f64().is_some_and(|t| t > 0.0),
        "{put}"
    );
    let cluster = view("BROKER_PUT_NUMS", "DefaultCluster".to_owned()).await;
    assert_eq!(cluster.code, response::SUCCESS, "{:?}", cluster.remark);
    let missing = view("TOPIC_PUT_NUMS", "NoSuchTopic".to_owned()).await;
    assert_eq!(missing.code, response::SYSTEM_ERROR);
    assert_eq!(
        missing.remark.as_deref(),
        Some("The stats <TOPIC_PUT_NUMS> <NoSuchTopic> not exist")
    );

    // QUERY_CONSUME_QUEUE: units from index 1, the group not online.
    let cq = raw
        .request(req(
            request::QUERY_CONSUME_QUEUE,
            &[
                ("topic", &topic),
                ("queueId", "0"),
                ("index", "1"),
                ("count", "5"),
                ("consumerGroup", &src),
            ],
        ))
        .await
        .expect("answer");
    assert_eq!(cq.code, response::SUCCESS, "{:?}", cq.remark);
    let cq: Value = parse_json_lenient(&cq.body).expect("json");
    assert_eq!(cq["maxQueueIndex"], 3, "{cq}");
    assert_eq!(cq["minQueueIndex"], 0, "{cq}");
    assert_eq!(cq["queueData"].as_array().map(Vec::len), Some(2), "{cq}");
    assert_eq!(
        cq["filterData"],
        format!("{src}@{topic} is not online!"),
        "{cq}"
    );
    let no_queue = raw
        .request(req(
            request::QUERY_CONSUME_QUEUE,
            &[("topic", &topic), ("queueId", "5")],
        ))
        .await
        .expect("answer");
    assert_eq!(no_queue.code, response::SYSTEM_ERROR);
    assert_eq!(
        no_queue.remark.as_deref(),
        Some(format!("5@{topic} is not exist!").as_str())
    );
    p.shutdown().await;
    let _ = broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_broker_config_applies_saves_and_refuses_as_documented() {
    let broker = EmbeddedBroker::start().await.expect("broker");
    let topic = unique("ConfigTopic");
    let raw = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    assert_eq!(raw.create_topic(&topic, 1).await.expect("create").code, 0);
    let update = |body: &'static str| {
        let raw = &raw;
        async move {
            raw.request(
                RemotingCommand::request(request::UPDATE_BROKER_CONFIG, HashMap::new())
                    .with_body(body.as_bytes().to_vec()),
            )
            .await
            .expect("answer")
        }
    };
    let applied = update("brokerPermission=4\n").await;
    assert_eq!(applied.code, response::SUCCESS, "{:?}", applied.remark);
    assert!(applied
        .remark
        .as_deref()
        .is_some_and(|r| r.contains("applied now: brokerPermission")));
    let refused = raw
        .send(&OutMessage::new(&topic, b"x").queue(0))
        .await
        .expect("answer");
    assert_eq!(
        refused.code,
        response::NO_PERMISSION,
        "a read-only broker refuses sends"
    );
    assert_eq!(update("brokerPermission=6").await.code, response::SUCCESS);
    assert_eq!(
        raw.send(&OutMessage::new(&topic, b"y").queue(0))
            .await
            .expect("send")
            .code,
        response::SUCCESS
    );
    let black = update("brokerConfigPath=/tmp/elsewhere").await;
    assert_eq!(black.code, response::NO_PERMISSION);
    assert_eq!(
        black.remark.as_deref(),
        Some("Can not update config in black list.")
    );
    let bad = update("brokerPermission=6\nflushDiskType=SOMETIMES").await;
    assert_ne!(bad.code, response::SUCCESS);
    assert!(
        bad.remark
            .as_deref()
            .is_some_and(|r| r.contains("flushDiskType")),
        "{:?}",
        bad.remark
    );
    let cfg = raw
        .request(req(request::GET_BROKER_CONFIG, &[]))
        .await
        .expect("config");
    let text = String::from_utf8_lossy(&cfg.body);
    assert!(
        text.contains("brokerPermission=6"),
        "one bad key changes nothing: {text}"
    );
    let _ = broker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_unused_topic_drops_queues_of_topics_without_config() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let (kept, orphan) = (unique("KeptTopic"), unique("OrphanTopic"));
    {
        let broker = EmbeddedBroker::builder()
            .store_dir(&store)
            .start()
            .await
            .expect("broker");
        let raw = RawClient::connect(&broker.broker_addr())
            .await
            .expect("connect");
        for t in [&kept, &orphan] {
            assert_eq!(raw.create_topic(t, 1).await.expect("create").code, 0);
            let sent = raw
                .send(&OutMessage::new(t, b"m").queue(0))
                .await
                .expect("send");
            assert_eq!(sent.code, 0);
        }
        broker.shutdown().await.expect("stop");
    }
    // The orphan's config goes while the broker is down; its consume queue stays on disk.
    let topics_file = store.join("config").join("topics.json");
    let mut table: Value =
        serde_json::from_slice(&std::fs::read(&topics_file).expect("topics.json")).expect("json");
    table["topicConfigTable"]
        .as_object_mut()
        .expect("table")
        .remove(&orphan);
    std::fs::write(&topics_file, serde_json::to_vec(&table).expect("json")).expect("write");
    let broker = EmbeddedBroker::builder()
        .store_dir(&store)
        .start()
        .await
        .expect("restart");
    let raw = RawClient::connect(&broker.broker_addr())
        .await
        .expect("connect");
    let cq_dir = store.join("consumequeue");
    assert!(cq_dir.join(&orphan).exists());
    let expired = raw
        .request(req(request::CLEAN_EXPIRED_CONSUMEQUEUE, &[]))
        .await
        .expect("answer");
    assert_eq!(expired.code, response::SUCCESS);
    assert!(
        cq_dir.join(&kept).exists(),
        "a queue with live messages is not expired"
    );
    let unused = raw
        .request(req(request::CLEAN_UNUSED_TOPIC, &[]))
        .await
        .expect("answer");
    assert_eq!(unused.code, response::SUCCESS);
    assert!(
        !cq_dir.join(&orphan).exists(),
        "the orphan's consume queue is gone"
    );
    assert!(
        cq_dir.join(&kept).exists(),
        "a configured topic keeps its queue"
    );
    assert_eq!(raw.queue_offset(true, &kept, 0).await.expect("max"), 1);
    let _ = broker.shutdown().await;
}
