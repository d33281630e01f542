//! The name-server commands through the real binary: updateKvConfig, deleteKvConfig, getNamesrvConfig,
//! updateNamesrvConfig, updateOrderConf, wipeWritePerm and addWritePerm, each as text and `--json`, and one
//! failure each with the one-line error contract.

use crate::{admin, eventually, json, setup, unique};

/// An address nothing listens on (port 1 is never served on the test machines' loopback).
const DEAD_NAMESRV: &str = "127.0.0.1:1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_config_and_order_conf_are_put_read_and_deleted() {
    let f = setup().await;
    let topic = unique("OrderConf");

    // updateKvConfig into ORDER_TOPIC_CONFIG is what updateOrderConf get reads back.
    let text = admin(
        &f.ns,
        &[
            "updateKvConfig",
            "-s",
            "ORDER_TOPIC_CONFIG",
            "-k",
            &topic,
            "-v",
            "b:1",
        ],
    )
    .await
    .ok();
    assert_eq!(
        text.stdout,
        "create or update kv config to namespace success.\n"
    );
    let got = json(&f.ns, &["updateOrderConf", "-t", &topic, "-m", "get"]).await;
    assert_eq!(got["orderConf"], "b:1", "{got}");
    let put = json(
        &f.ns,
        &[
            "updateKvConfig",
            "-s",
            "ORDER_TOPIC_CONFIG",
            "-k",
            &topic,
            "-v",
            "b:2",
        ],
    )
    .await;
    assert_eq!(put["namespace"], "ORDER_TOPIC_CONFIG");
    assert_eq!(put["value"], "b:2");
    assert_eq!(put["namesrvs"], serde_json::json!([f.ns]));
    let text = admin(&f.ns, &["updateOrderConf", "-t", &topic, "-m", "get"])
        .await
        .ok();
    assert_eq!(
        text.stdout,
        format!("get orderConf success. topic=[{topic}], orderConf=[b:2]\n")
    );

    let text = admin(
        &f.ns,
        &["deleteKvConfig", "-s", "ORDER_TOPIC_CONFIG", "-k", &topic],
    )
    .await
    .ok();
    assert_eq!(text.stdout, "delete kv config from namespace success.\n");
    admin(&f.ns, &["updateOrderConf", "-t", &topic, "-m", "get"])
        .await
        .fails_with(&format!("topic {topic} has no orderConf"));
    let deleted = json(
        &f.ns,
        &["deleteKvConfig", "-s", "ORDER_TOPIC_CONFIG", "-k", &topic],
    )
    .await;
    assert_eq!(deleted["key"], topic.as_str());
    assert!(deleted.get("value").is_none(), "{deleted}");

    // updateOrderConf put / delete, and the route carries it once orderMessageEnable is on.
    let real = f.topic(2).await;
    let conf = format!("{}:1", f.broker_name);
    let text = admin(
        &f.ns,
        &["updateOrderConf", "-t", &real, "-m", "put", "-v", &conf],
    )
    .await
    .ok();
    assert_eq!(
        text.stdout,
        format!("update orderConf success. topic=[{real}], orderConf=[{conf}]\n")
    );
    let put = json(
        &f.ns,
        &["updateOrderConf", "-t", &real, "-m", "put", "-v", &conf],
    )
    .await;
    assert_eq!(
        (put["method"].as_str(), put["orderConf"].as_str()),
        (Some("put"), Some(conf.as_str()))
    );
    json(
        &f.ns,
        &[
            "updateNamesrvConfig",
            "-k",
            "orderMessageEnable",
            "-v",
            "true",
        ],
    )
    .await;
    let route = json(&f.ns, &["topicRoute", "-t", &real]).await;
    assert_eq!(route["orderTopicConf"], conf.as_str(), "{route}");
    let text = admin(&f.ns, &["updateOrderConf", "-t", &real, "-m", "delete"])
        .await
        .ok();
    assert_eq!(
        text.stdout,
        format!("delete orderConf success. topic=[{real}]\n")
    );
    let gone = json(&f.ns, &["updateOrderConf", "-t", &real, "-m", "delete"]).await;
    assert_eq!(gone["method"], "delete");
    let route = json(&f.ns, &["topicRoute", "-t", &real]).await;
    assert!(route["orderTopicConf"].is_null(), "{route}");

    // Failures: one line, exit 1.
    admin(&f.ns, &["updateKvConfig", "-s", "", "-k", "k", "-v", "v"])
        .await
        .fails_with("invalid namespace: must not be empty");
    admin(DEAD_NAMESRV, &["deleteKvConfig", "-s", "N", "-k", "k"])
        .await
        .fails_with("cannot reach name server 127.0.0.1:1");
    admin(&f.ns, &["updateOrderConf", "-t", &real, "-m", "put"])
        .await
        .fails_with("please set orderConf with option -v.");
    admin(
        &f.ns,
        &[
            "updateOrderConf",
            "-t",
            &real,
            "-m",
            "put",
            "-v",
            "nobroker",
        ],
    )
    .await
    .fails_with("invalid orderConf");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namesrv_config_is_printed_and_updated_per_name_server() {
    let f = setup().await;
    let text = admin(&f.ns, &["getNamesrvConfig"]).await.ok();
    assert!(
        text.stdout
            .starts_with(&format!("============{}============\n", f.ns)),
        "{}",
        text.stdout
    );
    let line = text
        .stdout
        .lines()
        .find(|l| l.starts_with("scanNotActiveBrokerInterval "))
        .unwrap_or_else(|| panic!("{}", text.stdout));
    assert!(line.ends_with("=  5000"), "{line:?}");
    assert_eq!(
        line.find('='),
        Some(50),
        "key padded to 50 as mqadmin: {line:?}"
    );

    let config = json(&f.ns, &["getNamesrvConfig"]).await;
    assert_eq!(config[&f.ns]["enableAllTopicList"], "true", "{config}");
    let port = f.ns.rsplit_once(':').expect("port").1;
    assert_eq!(config[&f.ns]["listenPort"], port);

    let text = admin(
        &f.ns,
        &[
            "updateNamesrvConfig",
            "-k",
            "scanNotActiveBrokerInterval",
            "-v",
            "2500",
        ],
    )
    .await
    .ok();
    assert_eq!(
        text.stdout,
        format!(
            "update name server config success!{}\nscanNotActiveBrokerInterval : 2500\n",
            f.ns
        )
    );
    let updated = json(
        &f.ns,
        &[
            "updateNamesrvConfig",
            "-k",
            "enableAllTopicList",
            "-v",
            "false",
        ],
    )
    .await;
    assert_eq!(updated["namesrvs"], serde_json::json!([f.ns]));
    assert_eq!(updated["key"], "enableAllTopicList");
    let config = json(&f.ns, &["getNamesrvConfig"]).await;
    assert_eq!(config[&f.ns]["scanNotActiveBrokerInterval"], "2500");
    assert_eq!(config[&f.ns]["enableAllTopicList"], "false");
    admin(&f.ns, &["topicList"]).await.fails_with("disable");

    admin(
        &f.ns,
        &["updateNamesrvConfig", "-k", "kvConfigPath", "-v", "/tmp/x"],
    )
    .await
    .fails_with("Can not update config in black list.");
    admin(
        &f.ns,
        &[
            "updateNamesrvConfig",
            "-k",
            "scanNotActiveBrokerInterval",
            "-v",
            "soon",
        ],
    )
    .await
    .fails_with("`scanNotActiveBrokerInterval`");
    admin(DEAD_NAMESRV, &["getNamesrvConfig"])
        .await
        .fails_with("cannot reach name server 127.0.0.1:1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_perm_is_wiped_and_added_on_each_name_server() {
    let f = setup().await;
    let topic = f.topic(2).await;
    let perm = |route: &serde_json::Value| route["queueDatas"][0]["perm"].clone();

    let text = admin(&f.ns, &["wipeWritePerm", "-b", &f.broker_name])
        .await
        .ok();
    let prefix = format!(
        "wipe write perm of broker[{}] in name server[{}] OK, ",
        f.broker_name, f.ns
    );
    let count: i64 = text
        .stdout
        .strip_prefix(&prefix)
        .and_then(|rest| rest.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("{:?}", text.stdout));
    assert!(count >= 1, "{count}");
    assert_eq!(perm(&json(&f.ns, &["topicRoute", "-t", &topic]).await), 4);

    let rows = json(&f.ns, &["addWritePerm", "-b", &f.broker_name]).await;
    assert_eq!(rows[0]["namesrv"], f.ns.as_str(), "{rows}");
    assert_eq!(rows[0]["brokerName"], f.broker_name.as_str());
    assert_eq!(rows[0]["topicCount"], count);
    assert_eq!(perm(&json(&f.ns, &["topicRoute", "-t", &topic]).await), 6);

    let rows = json(&f.ns, &["wipeWritePerm", "-b", &f.broker_name]).await;
    assert_eq!(rows[0]["topicCount"], count);
    let text = admin(&f.ns, &["addWritePerm", "-b", &f.broker_name])
        .await
        .ok();
    assert_eq!(
        text.stdout,
        format!(
            "add write perm of broker[{}] in name server[{}] OK, {count}\n",
            f.broker_name, f.ns
        )
    );
    eventually("route writable again", || async {
        let r = json(&f.ns, &["topicRoute", "-t", &topic]).await;
        Ok((perm(&r) == 6).then_some(()))
    })
    .await;

    admin(&f.ns, &["wipeWritePerm", "-b", " "])
        .await
        .fails_with("invalid brokerName: must not be empty");
    admin(DEAD_NAMESRV, &["addWritePerm", "-b", &f.broker_name])
        .await
        .fails_with("cannot reach name server 127.0.0.1:1");
}
