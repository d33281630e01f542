//! The operations commands through the real binary: consumerStatus and direct consumption, producer
//! connections, broker config and topic permission changes, offset cloning, stats, consume queues, the send
//! probes and the clean commands, each with --json and a failure.

use std::time::Duration;

use rmq_client::{ConsumeOutcome, Message, Producer, ProducerOptions};
use serde_json::Value;

use crate::{admin, eventually, json, push_consumer, setup, unique, Seen, CLUSTER};

/// The client id of the one online member of `group`.
async fn only_client(ns: &str, group: &str) -> String {
    let cc = json(ns, &["consumerConnection", "-g", group]).await;
    cc["connections"][0]["clientId"]
        .as_str()
        .expect("a client id")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_status_shows_running_info_and_a_message_is_handed_to_one_consumer() {
    let f = setup().await;
    let topic = f.topic(2).await;
    let group = unique("status_group");
    let seen = Seen::default();
    let consumer = push_consumer(&f.ns, &group, &topic, seen.clone(), |_| {
        ConsumeOutcome::Success
    })
    .await;
    let sent = f.send(&topic, 0, "first", &[]).await;
    f.send(&topic, 1, "second", &[]).await;
    eventually("both consumed", || async {
        Ok((seen.len() >= 2).then_some(()))
    })
    .await;

    let status = json(&f.ns, &["consumerStatus", "-g", &group]).await;
    assert_eq!(status["sameSubscription"], true, "{status}");
    let client = &status["clients"][0];
    let info = &client["runningInfo"];
    assert_eq!(
        info["properties"]["PROP_CONSUME_TYPE"], "CONSUME_PASSIVELY",
        "{status}"
    );
    assert_eq!(
        info["properties"]["consumerGroup"],
        group.as_str(),
        "{status}"
    );
    assert!(
        info["properties"]["PROP_CONSUMER_START_TIMESTAMP"]
            .as_str()
            .and_then(|t| t.parse::<i64>().ok())
            .is_some_and(|t| t > 0),
        "{status}"
    );
    let queues = info["queues"].as_array().expect("queues");
    assert!(
        queues
            .iter()
            .filter(|q| q["topic"] == topic.as_str())
            .count()
            == 2,
        "both queues of the topic are owned: {status}"
    );
    assert!(
        info["status"][topic.as_str()]["consumeOKTPS"]
            .as_f64()
            .is_some_and(|tps| tps > 0.0),
        "the topic's consume rate counts the two messages: {status}"
    );
    let text = admin(&f.ns, &["consumerStatus", "-g", &group]).await.ok();
    assert!(
        text.stdout
            .contains("Same subscription in the same group of consumer"),
        "{text:?}"
    );

    let cid = only_client(&f.ns, &group).await;
    let one = admin(&f.ns, &["consumerStatus", "-g", &group, "-i", &cid])
        .await
        .ok();
    for section in [
        "#Consumer Properties#",
        "#Consumer Subscription#",
        "#Consumer MQ Detail#",
        "#Consumer RT&TPS#",
    ] {
        assert!(one.stdout.contains(section), "{section} in {one:?}");
    }
    let dump = json(&f.ns, &["consumerStatus", "-g", &group, "-i", &cid, "-s"]).await;
    assert!(
        dump["jstack"].as_str().is_some_and(|j| j.contains(&group)),
        "-s asks for the task dump: {dump}"
    );

    // queryMsgByUniqueKey finds the message by the id the producer reported, and hands it to the consumer.
    let uniq = sent["msgId"].as_str().expect("msgId");
    let found = json(&f.ns, &["queryMsgByUniqueKey", "-i", uniq, "-t", &topic]).await;
    assert_eq!(found[0]["body"], "first", "{found}");
    let before = seen.count("first");
    let direct = json(
        &f.ns,
        &[
            "queryMsgByUniqueKey",
            "-i",
            uniq,
            "-t",
            &topic,
            "-g",
            &group,
            "-d",
            &cid,
        ],
    )
    .await;
    assert_eq!(direct["consumeResult"], "CR_SUCCESS", "{direct}");
    assert_eq!(direct["order"], false, "{direct}");
    assert_eq!(
        seen.count("first"),
        before + 1,
        "the listener ran on the message once more"
    );

    admin(&f.ns, &["consumerStatus", "-g", &unique("nobody")])
        .await
        .fails_with("has no consumer online");
    admin(
        &f.ns,
        &["consumerStatus", "-g", &group, "-i", "10.0.0.1@ghost"],
    )
    .await
    .fails_with("not online");
    consumer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_connection_lists_a_live_producer() {
    let f = setup().await;
    let topic = f.topic(1).await;
    let group = unique("conn_pg");
    let mut opts = ProducerOptions::new(group.clone(), f.ns.clone());
    opts.client.instance_name = unique("conn_producer");
    opts.client.heartbeat_interval = Duration::from_millis(200);
    let producer = Producer::start(opts).await.expect("producer");
    producer
        .send(Message::new(&topic, "hello"))
        .await
        .expect("send");
    let conns = eventually("the broker knows the producer", || async {
        let run = admin(
            &f.ns,
            &["--json", "producerConnection", "-g", &group, "-t", &topic],
        )
        .await;
        Ok((run.code == Some(0)).then(|| run.json()))
    })
    .await;
    assert_eq!(conns.as_array().map(Vec::len), Some(1), "{conns}");
    assert_eq!(conns[0]["language"], "RUST", "{conns}");
    assert!(
        conns[0]["clientId"]
            .as_str()
            .is_some_and(|c| c.contains('@')),
        "{conns}"
    );
    let text = admin(&f.ns, &["producerConnection", "-g", &group, "-t", &topic])
        .await
        .ok();
    assert!(
        text.stdout.contains("#ClientAddr") && text.stdout.contains("0001"),
        "{text:?}"
    );
    admin(
        &f.ns,
        &["producerConnection", "-g", &unique("no_pg"), "-t", &topic],
    )
    .await
    .fails_with("Not found the producer group connection");
    producer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_config_and_topic_permission_changes_take_effect() {
    let f = setup().await;
    let topic = f.topic(1).await;
    let addr = f.broker.broker_addr();
    let updated = json(
        &f.ns,
        &[
            "updateBrokerConfig",
            "-b",
            &addr,
            "-k",
            "brokerPermission",
            "-v",
            "4",
        ],
    )
    .await;
    assert!(
        updated[addr.as_str()]
            .as_str()
            .is_some_and(|r| r.contains("applied now: brokerPermission")),
        "{updated}"
    );
    let cfg = json(&f.ns, &["getBrokerConfig", "-b", &addr]).await;
    assert_eq!(cfg[addr.as_str()]["brokerPermission"], "4", "{cfg}");
    // Routes follow at once: the broker re-registers with every topic read-only.
    eventually("route read-only", || async {
        let route = json(&f.ns, &["topicRoute", "-t", &topic]).await;
        Ok((route["queueDatas"][0]["perm"] == 4).then_some(()))
    })
    .await;
    let refused = admin(
        &f.ns,
        &[
            "sendMessage",
            "-t",
            &topic,
            "-p",
            "x",
            "-b",
            &f.broker_name,
            "-i",
            "0",
        ],
    )
    .await;
    assert_eq!(
        refused.code,
        Some(1),
        "a read-only broker refuses sends: {refused:?}"
    );
    json(
        &f.ns,
        &[
            "updateBrokerConfig",
            "-c",
            CLUSTER,
            "-k",
            "brokerPermission",
            "-v",
            "6",
        ],
    )
    .await;
    f.send(&topic, 0, "writable again", &[]).await;

    // A key without a run-time effect is saved for the next start.
    let saved = json(
        &f.ns,
        &[
            "updateBrokerConfig",
            "-b",
            &addr,
            "-k",
            "maxMessageSize",
            "-v",
            "1048576",
        ],
    )
    .await;
    assert!(
        saved[addr.as_str()]
            .as_str()
            .is_some_and(|r| r.contains("saved for the next start: maxMessageSize")),
        "{saved}"
    );
    let file = f
        .broker
        .store_dir()
        .join("config")
        .join("broker.properties");
    let text = std::fs::read_to_string(&file).expect("the saved config");
    assert!(text.contains("maxMessageSize=1048576"), "{text}");
    assert!(text.contains("brokerPermission=6"), "{text}");

    admin(
        &f.ns,
        &[
            "updateBrokerConfig",
            "-b",
            &addr,
            "-k",
            "brokerConfigPath",
            "-v",
            "/tmp/x",
        ],
    )
    .await
    .fails_with("Can not update config in black list.");
    admin(
        &f.ns,
        &[
            "updateBrokerConfig",
            "-b",
            &addr,
            "-k",
            "maxMesageSize",
            "-v",
            "1",
        ],
    )
    .await
    .fails_with("unknown broker config key maxMesageSize (did you mean maxMessageSize?)");
    admin(
        &f.ns,
        &[
            "updateBrokerConfig",
            "-b",
            &addr,
            "-k",
            "brokerPermission",
            "-v",
            "9",
        ],
    )
    .await
    .fails_with("brokerPermission value: 9 is invalid.");

    let perm = json(
        &f.ns,
        &["updateTopicPerm", "-t", &topic, "-b", &addr, "-p", "2"],
    )
    .await;
    assert_eq!(
        (perm["oldPerm"].as_i64(), perm["newPerm"].as_i64()),
        (Some(6), Some(2)),
        "{perm}"
    );
    eventually("topic write-only", || async {
        let route = json(&f.ns, &["topicRoute", "-t", &topic]).await;
        Ok((route["queueDatas"][0]["perm"] == 2).then_some(()))
    })
    .await;
    admin(
        &f.ns,
        &["updateTopicPerm", "-t", &topic, "-b", &addr, "-p", "2"],
    )
    .await
    .fails_with("new perm equals to the old one!");
    admin(
        &f.ns,
        &[
            "updateTopicPerm",
            "-t",
            &topic,
            "-b",
            "127.0.0.1:1",
            "-p",
            "6",
        ],
    )
    .await
    .fails_with("broker is not master");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_stats_consume_queues_and_send_probes() {
    let f = setup().await;
    let topic = f.topic(1).await;
    let group = unique("ops_group");
    let seen = Seen::default();
    let consumer = push_consumer(&f.ns, &group, &topic, seen.clone(), |_| {
        ConsumeOutcome::Success
    })
    .await;
    for i in 0..5 {
        f.send(&topic, 0, &format!("m{i}"), &["-c", "TagA"]).await;
    }
    eventually("all consumed and committed", || async {
        let p = json(&f.ns, &["consumerProgress", "-g", &group, "-t", &topic]).await;
        Ok((seen.len() >= 5 && p["totalLag"] == 0).then_some(()))
    })
    .await;

    let dest = unique("ops_clone");
    json(
        &f.ns,
        &["cloneGroupOffset", "-s", &group, "-d", &dest, "-t", &topic],
    )
    .await;
    let cloned = json(&f.ns, &["consumerProgress", "-g", &dest, "-t", &topic]).await;
    assert_eq!(
        cloned["topics"][0]["queues"][0]["consumerOffset"], 5,
        "{cloned}"
    );

    let stats = json(
        &f.ns,
        &["brokerConsumeStats", "-b", &f.broker.broker_addr()],
    )
    .await;
    let rows = stats["rows"].as_array().expect("rows");
    assert!(
        rows.iter().any(|r| r["group"] == group.as_str()
            && r["topic"] == topic.as_str()
            && r["diff"] == 0),
        "{stats}"
    );
    let text = admin(
        &f.ns,
        &["brokerConsumeStats", "-b", &f.broker.broker_addr()],
    )
    .await
    .ok();
    assert!(text.stdout.contains("Diff Total: "), "{text:?}");

    let all = json(&f.ns, &["statsAll", "-t", &topic]).await;
    let row = all
        .as_array()
        .and_then(|r| r.iter().find(|r| r["group"] == group.as_str()))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(row["inMsg24Hour"], 5, "{all}");
    assert!(
        row["outMsg24Hour"].as_i64().is_some_and(|n| n >= 5),
        "{all}"
    );
    assert_eq!(row["accumulation"], 0, "{all}");

    let cq = json(
        &f.ns,
        &[
            "queryCq", "-t", &topic, "-q", "0", "-i", "1", "-c", "3", "-g", &group,
        ],
    )
    .await;
    let units = cq["queueData"].as_array().expect("units");
    assert_eq!(units.len(), 3, "{cq}");
    assert_eq!(cq["maxQueueIndex"], 5, "{cq}");
    assert!(
        units
            .windows(2)
            .all(|w| w[0]["physicOffset"].as_i64() < w[1]["physicOffset"].as_i64()),
        "{cq}"
    );
    assert!(units.iter().all(|u| u["eval"] == true), "{cq}");
    assert_eq!(cq["subscriptionData"]["topic"], topic.as_str(), "{cq}");
    admin(&f.ns, &["queryCq", "-t", &topic, "-q", "7", "-i", "0"])
        .await
        .fails_with(&format!("7@{topic} is not exist!"));

    let printed = json(
        &f.ns,
        &[
            "printMsgByQueue",
            "-t",
            &topic,
            "-a",
            &f.broker_name,
            "-i",
            "0",
            "-p",
            "true",
            "-f",
            "true",
        ],
    )
    .await;
    assert_eq!(
        printed["messages"].as_array().map(Vec::len),
        Some(5),
        "{printed}"
    );
    assert_eq!(printed["tagCounts"]["TagA"], 5, "{printed}");

    let split = json(
        &f.ns,
        &["allocateMQ", "-t", &topic, "-i", "10.0.0.1,10.0.0.2"],
    )
    .await;
    let owned: usize = split["result"]
        .as_object()
        .expect("per client")
        .values()
        .map(|v| v.as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(
        owned, 1,
        "the one queue goes to exactly one client: {split}"
    );

    let rt = json(
        &f.ns,
        &["checkMsgSendRT", "-t", &topic, "-a", "3", "-s", "16"],
    )
    .await;
    let sends = rt["sends"].as_array().expect("sends");
    assert_eq!(sends.len(), 3, "{rt}");
    assert!(sends.iter().all(|s| s["sendResult"] == true), "{rt}");
    let status = json(&f.ns, &["sendMsgStatus", "-b", &f.broker_name, "-c", "2"]).await;
    assert_eq!(status.as_array().map(Vec::len), Some(2), "{status}");
    assert!(
        status
            .as_array()
            .into_iter()
            .flatten()
            .all(|r| r["status"] == "SendOk"),
        "{status}"
    );
    let cluster_rt = json(&f.ns, &["clusterRT", "-a", "2", "--rounds", "1"]).await;
    assert_eq!(cluster_rt[0]["successCount"], 2, "{cluster_rt}");

    let more = json(&f.ns, &["clusterList", "-m"]).await;
    assert!(
        more[0]["inTotalToday"].as_i64().is_some_and(|n| n >= 5),
        "{more}"
    );
    let repeated = admin(&f.ns, &["clusterList", "-i", "0", "--rounds", "2"])
        .await
        .ok();
    assert_eq!(
        repeated.stdout.matches("#Cluster Name").count(),
        2,
        "{repeated:?}"
    );
    admin(&f.ns, &["clusterList", "-c", "NoSuchCluster"])
        .await
        .fails_with("cluster NoSuchCluster is not registered");
    let by_cluster = json(&f.ns, &["topicList", "-c"]).await;
    let entry = by_cluster
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["topic"] == topic.as_str()))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(entry["cluster"], CLUSTER, "{by_cluster}");
    assert!(
        entry["consumerGroups"]
            .as_array()
            .is_some_and(|g| g.iter().any(|x| x == group.as_str())),
        "{by_cluster}"
    );
    consumer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_commands_reach_one_broker_a_cluster_or_all() {
    let f = setup().await;
    let topic = f.topic(1).await;
    f.send(&topic, 0, "kept", &[]).await;
    let addr = f.broker.broker_addr();
    for cmd in ["cleanExpiredCQ", "cleanUnusedTopic"] {
        let one = json(&f.ns, &[cmd, "-b", &addr]).await;
        assert_eq!(one["brokers"], serde_json::json!([addr]), "{one}");
        assert_eq!(one["success"], true, "{one}");
        let cluster = json(&f.ns, &[cmd, "-c", CLUSTER]).await;
        assert_eq!(cluster["brokers"], serde_json::json!([addr]), "{cluster}");
        let text = admin(&f.ns, &[cmd]).await.ok();
        assert_eq!(text.stdout, "success\n", "{text:?}");
        admin(&f.ns, &[cmd, "-c", "NoSuchCluster"])
            .await
            .fails_with("cluster NoSuchCluster has no broker registered");
    }
    // A configured topic with live messages survives both.
    let status = json(&f.ns, &["topicStatus", "-t", &topic]).await;
    assert!(status.to_string().contains("\"maxOffset\":1"), "{status}");
}
