//! Name-server operations over TCP, request by request with hand-written ext fields: the KV config and its
//! kvConfig.json, GET/UPDATE_NAMESRV_CONFIG and namesrv.properties, and WIPE/ADD_WRITE_PERM_OF_BROKER as seen in
//! GET_ROUTEINFO_BY_TOPIC (codes and names from docs/admin-requests-java.md §11–§13).

use std::collections::HashMap;
use std::time::Duration;

use rmq_broker::config::NamesrvConfig;
use rmq_broker::embedded::{EmbeddedBroker, EmbeddedNamesrv};
use rmq_protocol::RemotingCommand;
use rmq_tests::client::{parse_json_lenient, rc};
use rmq_tests::{eventually, unique, RawClient};
use serde_json::{json, Value};

const PUT_KV_CONFIG: i32 = 100;
const GET_KV_CONFIG: i32 = 101;
const DELETE_KV_CONFIG: i32 = 102;
const REGISTER_BROKER: i32 = 103;
const GET_BROKER_CLUSTER_INFO: i32 = 106;
const WIPE_WRITE_PERM_OF_BROKER: i32 = 205;
const GET_ALL_TOPIC_LIST_FROM_NAMESERVER: i32 = 206;
const GET_KVLIST_BY_NAMESPACE: i32 = 219;
const UPDATE_NAMESRV_CONFIG: i32 = 318;
const GET_NAMESRV_CONFIG: i32 = 319;
const ADD_WRITE_PERM_OF_BROKER: i32 = 327;
const NO_PERMISSION: i32 = 16;

/// How long a registration (at start, after a topic change) or a sweep may take to show.
const WAIT: Duration = Duration::from_secs(15);

fn ext(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn call(c: &RawClient, code: i32, pairs: &[(&str, &str)]) -> RemotingCommand {
    c.request(RemotingCommand::request(code, ext(pairs)))
        .await
        .expect("answered")
}

async fn put_kv(c: &RawClient, ns: &str, key: &str, value: &str) {
    let resp = call(
        c,
        PUT_KV_CONFIG,
        &[("namespace", ns), ("key", key), ("value", value)],
    )
    .await;
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
}

async fn get_kv(c: &RawClient, ns: &str, key: &str) -> Option<String> {
    let resp = call(c, GET_KV_CONFIG, &[("namespace", ns), ("key", key)]).await;
    match resp.code {
        rc::SUCCESS => Some(resp.ext_fields.get("value").cloned().expect("value")),
        rc::QUERY_NOT_FOUND => None,
        c => panic!("GET_KV_CONFIG: code {c} {:?}", resp.remark),
    }
}

/// GET_NAMESRV_CONFIG's `key=value` lines.
async fn namesrv_config(c: &RawClient) -> HashMap<String, String> {
    let resp = call(c, GET_NAMESRV_CONFIG, &[]).await;
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    assert!(resp.ext_fields.is_empty(), "no response header, as Java");
    String::from_utf8(resp.body.to_vec())
        .expect("utf-8")
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('=').expect("key=value line");
            (k.to_string(), v.to_string())
        })
        .collect()
}

async fn update_config(c: &RawClient, body: &str) -> RemotingCommand {
    c.request(
        RemotingCommand::request(UPDATE_NAMESRV_CONFIG, HashMap::new())
            .with_body(body.as_bytes().to_vec()),
    )
    .await
    .expect("answered")
}

fn addr() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().expect("addr")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_config_lists_a_namespace_and_keeps_an_emptied_one() {
    let ns = EmbeddedNamesrv::start().await.expect("name server");
    let c = RawClient::connect(&ns.addr()).await.expect("connect");
    let space = unique("Space");
    put_kv(&c, &space, "a", "1").await;
    put_kv(&c, &space, "b", "2").await;
    put_kv(&c, &space, "a", "3").await;
    assert_eq!(get_kv(&c, &space, "a").await.as_deref(), Some("3"));

    let resp = call(&c, GET_KVLIST_BY_NAMESPACE, &[("namespace", &space)]).await;
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    let body = parse_json_lenient(&resp.body).expect("json");
    assert_eq!(body, json!({"table": {"a": "3", "b": "2"}}));

    let missing = unique("Missing");
    let resp = call(&c, GET_KVLIST_BY_NAMESPACE, &[("namespace", &missing)]).await;
    assert_eq!(resp.code, rc::QUERY_NOT_FOUND);
    assert_eq!(
        resp.remark.as_deref(),
        Some(format!("No config item, Namespace: {missing}").as_str())
    );
    let resp = call(&c, GET_KVLIST_BY_NAMESPACE, &[]).await;
    assert_eq!(resp.code, rc::SYSTEM_ERROR, "namespace is required");
    assert!(resp.remark.unwrap_or_default().contains("namespace"));

    for key in ["a", "b", "never-there"] {
        let resp = call(&c, DELETE_KV_CONFIG, &[("namespace", &space), ("key", key)]).await;
        assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    }
    assert_eq!(get_kv(&c, &space, "a").await, None);
    let resp = call(&c, GET_KVLIST_BY_NAMESPACE, &[("namespace", &space)]).await;
    assert_eq!(
        resp.code,
        rc::SUCCESS,
        "an emptied namespace stays, as in Java"
    );
    assert_eq!(
        parse_json_lenient(&resp.body).expect("json"),
        json!({"table": {}})
    );
    ns.shutdown().await;
}

/// kvConfig.json and namesrv.properties hold what was changed and a name server started on the same
/// directory serves it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_config_and_config_updates_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ns = EmbeddedNamesrv::start_in(dir.path(), NamesrvConfig::default(), addr())
        .await
        .expect("name server");
    let c = RawClient::connect(&ns.addr()).await.expect("connect");
    put_kv(&c, "ORDER_TOPIC_CONFIG", "T1", "broker-a:4").await;
    put_kv(&c, "N", "k", "v").await;
    put_kv(&c, "N", "gone", "x").await;
    let resp = call(&c, DELETE_KV_CONFIG, &[("namespace", "N"), ("key", "gone")]).await;
    assert_eq!(resp.code, rc::SUCCESS);
    let resp = update_config(
        &c,
        "orderMessageEnable=true\nscanNotActiveBrokerInterval=1234\n",
    )
    .await;
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    drop(c);
    ns.shutdown().await;

    let on_disk: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("kvConfig.json")).expect("kvConfig.json written"),
    )
    .expect("kvConfig.json is JSON");
    assert_eq!(
        on_disk,
        json!({"configTable": {"ORDER_TOPIC_CONFIG": {"T1": "broker-a:4"}, "N": {"k": "v"}}})
    );
    let props = std::fs::read_to_string(dir.path().join("namesrv.properties"))
        .expect("namesrv.properties written");
    assert!(
        props.contains("scanNotActiveBrokerInterval=1234\n"),
        "{props}"
    );

    let again = EmbeddedNamesrv::start_in(dir.path(), NamesrvConfig::default(), addr())
        .await
        .expect("restarted name server");
    let c = RawClient::connect(&again.addr()).await.expect("connect");
    assert_eq!(get_kv(&c, "N", "k").await.as_deref(), Some("v"));
    assert_eq!(get_kv(&c, "N", "gone").await, None);
    assert_eq!(
        get_kv(&c, "ORDER_TOPIC_CONFIG", "T1").await.as_deref(),
        Some("broker-a:4")
    );
    let config = namesrv_config(&c).await;
    assert_eq!(config["orderMessageEnable"], "true");
    assert_eq!(config["scanNotActiveBrokerInterval"], "1234");
    again.shutdown().await;
}

/// A kvConfig.json that is not Java's JSON stops the start, naming the file, instead of serving an empty table
/// (and then overwriting the file with it); so does a bad value in namesrv.properties.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_kv_config_or_config_file_refuses_start_up_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kv = dir.path().join("kvConfig.json");
    std::fs::write(&kv, b"{\"configTable\":{\"N\":").expect("write");
    let err = EmbeddedNamesrv::start_in(dir.path(), NamesrvConfig::default(), addr())
        .await
        .expect_err("a corrupt kvConfig.json must not start")
        .to_string();
    assert!(err.contains(&kv.display().to_string()), "{err}");
    assert_eq!(
        std::fs::read(&kv).expect("still there"),
        b"{\"configTable\":{\"N\":",
        "the file is left as it was"
    );

    std::fs::remove_file(&kv).expect("remove");
    std::fs::write(
        dir.path().join("namesrv.properties"),
        "scanNotActiveBrokerInterval=soon\n",
    )
    .expect("write");
    let err = EmbeddedNamesrv::start_in(dir.path(), NamesrvConfig::default(), addr())
        .await
        .expect_err("a bad namesrv.properties must not start")
        .to_string();
    assert!(
        err.contains("namesrv.properties:1") && err.contains("scanNotActiveBrokerInterval"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namesrv_config_is_reported_under_javas_keys_and_refusals_name_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ns = EmbeddedNamesrv::start_in(dir.path(), NamesrvConfig::default(), addr())
        .await
        .expect("name server");
    let c = RawClient::connect(&ns.addr()).await.expect("connect");
    let config = namesrv_config(&c).await;
    let port = ns.addr().rsplit_once(':').expect("port").1.to_string();
    assert_eq!(config["listenPort"], port);
    assert_eq!(config["bindAddress"], "127.0.0.1");
    assert_eq!(
        config["kvConfigPath"],
        dir.path().join("kvConfig.json").display().to_string()
    );
    assert_eq!(
        config["configStorePath"],
        dir.path().join("namesrv.properties").display().to_string()
    );
    assert_eq!(
        config["configBlackList"],
        "configBlackList;configStorePath;kvConfigPath"
    );
    assert_eq!(config["orderMessageEnable"], "false");
    assert_eq!(config["returnOrderTopicConfigToBroker"], "true");
    assert_eq!(config["enableAllTopicList"], "true");
    assert_eq!(config["scanNotActiveBrokerInterval"], "5000");

    for key in [
        "kvConfigPath",
        "configStorePath",
        "configBlackList",
        "rocketmqHome",
    ] {
        let resp = update_config(&c, &format!("orderMessageEnable=true\n{key}=/tmp/x\n")).await;
        assert_eq!(resp.code, NO_PERMISSION, "{key}: {:?}", resp.remark);
        assert_eq!(
            resp.remark.as_deref(),
            Some("Can not update config in black list.")
        );
    }
    for (body, needle) in [
        (
            "scanNotActiveBrokerInterval=-5",
            "`scanNotActiveBrokerInterval`",
        ),
        ("enableAllTopicList=maybe", "`enableAllTopicList`"),
        ("listenPort=1", "`listenPort`"),
        (
            "serverWorkerThreads=4",
            "`serverWorkerThreads` has no effect",
        ),
        (
            "orderMessageEnabled=true",
            "did you mean `orderMessageEnable`",
        ),
    ] {
        let resp = update_config(&c, &format!("orderMessageEnable=true\n{body}\n")).await;
        assert_eq!(resp.code, rc::SYSTEM_ERROR, "{body}");
        let remark = resp.remark.unwrap_or_default();
        assert!(remark.contains(needle), "{body}: {remark}");
    }
    assert_eq!(update_config(&c, "").await.code, rc::SUCCESS, "empty body");
    assert_eq!(
        namesrv_config(&c).await["orderMessageEnable"],
        "false",
        "no refused update changed anything"
    );
    assert!(!dir.path().join("namesrv.properties").exists());

    let resp = update_config(&c, "enableAllTopicList=false").await;
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    let resp = call(&c, GET_ALL_TOPIC_LIST_FROM_NAMESERVER, &[]).await;
    assert_eq!(
        (resp.code, resp.remark.as_deref()),
        (rc::SYSTEM_ERROR, Some("disable"))
    );
    ns.shutdown().await;
}

/// `scanNotActiveBrokerInterval` applies at once: a registration that expired is swept only after the
/// update shortens the sweep from an hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_interval_update_applies_to_the_running_sweeper() {
    let config = NamesrvConfig {
        scan_interval: Duration::from_secs(3600),
        ..NamesrvConfig::default()
    };
    let ns = EmbeddedNamesrv::start_with(config, addr())
        .await
        .expect("name server");
    let c = RawClient::connect(&ns.addr()).await.expect("connect");
    let broker = unique("shortlived");
    let resp = call(
        &c,
        REGISTER_BROKER,
        &[
            ("brokerName", &broker),
            ("brokerAddr", "127.0.0.1:1"),
            ("clusterName", "C"),
            ("haServerAddr", "127.0.0.1:2"),
            ("brokerId", "0"),
            ("heartbeatTimeoutMillis", "100"),
        ],
    )
    .await;
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    let registered = |want: bool| {
        let (c, broker) = (&c, &broker);
        move || async move {
            let resp = call(c, GET_BROKER_CLUSTER_INFO, &[]).await;
            let info = parse_json_lenient(&resp.body)?;
            let has = info["brokerAddrTable"].get(broker).is_some();
            Ok((has == want).then_some(()))
        }
    };
    registered(true)()
        .await
        .expect("listed")
        .expect("registered");
    let resp = update_config(&c, "scanNotActiveBrokerInterval=100").await;
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    eventually(WAIT, "expired broker swept", registered(false))
        .await
        .expect("the new interval is used by the running sweeper");
    ns.shutdown().await;
}

/// Creates `topic` (2 queues) on the broker and waits for its route; returns a broker client, a name-server
/// client and the broker's name.
async fn routed_topic(broker: &EmbeddedBroker, topic: &str) -> (RawClient, RawClient, String) {
    let b = RawClient::connect(&broker.broker_addr())
        .await
        .expect("broker");
    assert_eq!(
        b.create_topic(topic, 2).await.expect("create").code,
        rc::SUCCESS
    );
    let c = RawClient::connect(&broker.namesrv_addr())
        .await
        .expect("name server");
    let route = eventually(WAIT, "topic routed", || async { c.route_json(topic).await })
        .await
        .expect("route");
    let name = route["queueDatas"][0]["brokerName"]
        .as_str()
        .expect("broker name")
        .to_string();
    (b, c, name)
}

/// Routes carry `orderTopicConf` only with `orderMessageEnable` (false by default, as Java).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_topic_conf_reaches_routes_only_when_order_messages_are_enabled() {
    let broker = EmbeddedBroker::start().await.expect("broker");
    let topic = unique("OrderConfTopic");
    let (_b, c, name) = routed_topic(&broker, &topic).await;
    put_kv(&c, "ORDER_TOPIC_CONFIG", &topic, &format!("{name}:1")).await;
    let route = c.route_json(&topic).await.expect("route").expect("routed");
    assert!(route["orderTopicConf"].is_null(), "{route}");
    assert_eq!(
        update_config(&c, "orderMessageEnable=true").await.code,
        rc::SUCCESS
    );
    let route = c.route_json(&topic).await.expect("route").expect("routed");
    assert_eq!(route["orderTopicConf"], format!("{name}:1"), "{route}");
    broker.shutdown().await.expect("stop");
}

/// Perms of `broker`'s queue data in `topic`'s route.
async fn perm_of(c: &RawClient, topic: &str, broker: &str) -> i64 {
    let route = c.route_json(topic).await.expect("route").expect("routed");
    route["queueDatas"]
        .as_array()
        .expect("queueDatas")
        .iter()
        .find(|q| q["brokerName"] == broker)
        .and_then(|q| q["perm"].as_i64())
        .unwrap_or_else(|| panic!("no queue data of {broker}: {route}"))
}

/// Wipe clears the write bit of every queue data of the broker, add sets 6, each answering how many it touched
/// (every topic of the only broker); the broker's next registration with a changed topic table restores it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_perm_is_wiped_and_added_in_routes_until_the_broker_re_registers() {
    let broker = EmbeddedBroker::start().await.expect("broker");
    let topic = unique("PermTopic");
    let (b, c, name) = routed_topic(&broker, &topic).await;
    assert_eq!(perm_of(&c, &topic, &name).await, 6);
    let resp = call(&c, GET_ALL_TOPIC_LIST_FROM_NAMESERVER, &[]).await;
    let topics = parse_json_lenient(&resp.body).expect("topic list")["topicList"]
        .as_array()
        .expect("topicList")
        .len();
    assert!(topics >= 2, "{topics}");

    let resp = call(&c, WIPE_WRITE_PERM_OF_BROKER, &[("brokerName", &name)]).await;
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    assert_eq!(resp.ext_fields["wipeTopicCount"], topics.to_string());
    assert_eq!(perm_of(&c, &topic, &name).await, 4, "write bit cleared");
    let resp = call(
        &c,
        WIPE_WRITE_PERM_OF_BROKER,
        &[("brokerName", "no-such-broker")],
    )
    .await;
    assert_eq!(resp.code, rc::SUCCESS);
    assert_eq!(resp.ext_fields["wipeTopicCount"], "0");

    let resp = call(&c, ADD_WRITE_PERM_OF_BROKER, &[("brokerName", &name)]).await;
    assert_eq!(resp.code, rc::SUCCESS, "{:?}", resp.remark);
    assert_eq!(resp.ext_fields["addTopicCount"], topics.to_string());
    assert_eq!(perm_of(&c, &topic, &name).await, 6);
    let resp = call(&c, ADD_WRITE_PERM_OF_BROKER, &[]).await;
    assert_eq!(resp.code, rc::SYSTEM_ERROR, "brokerName is required");

    // In memory only: a changed topic table makes the broker re-register and rewrite its queue data.
    call(&c, WIPE_WRITE_PERM_OF_BROKER, &[("brokerName", &name)]).await;
    assert_eq!(perm_of(&c, &topic, &name).await, 4);
    let other = unique("PermOther");
    assert_eq!(
        b.create_topic(&other, 1).await.expect("create").code,
        rc::SUCCESS
    );
    eventually(WAIT, "perm restored by re-registration", || async {
        Ok(
            (c.route_json(&other).await?.is_some() && perm_of(&c, &topic, &name).await == 6)
                .then_some(()),
        )
    })
    .await
    .expect("re-registration restores the broker's perm");
    broker.shutdown().await.expect("stop");
}
